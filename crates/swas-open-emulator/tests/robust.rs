//! Robustness: garbage bytes, oversized requests, many concurrent connections and shutdown.

mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use swas_open_emulator::{Emulator, Fault};
use tokio::sync::Semaphore;

/// A valid request still gets its answer.
async fn still_serves(emu: &Emulator, image: &str) {
    emu.add_image(REGION, image, false);
    send_signed(emu, &v1(), image, None).await.assert_ok();
}

#[tokio::test]
async fn garbage_bytes_never_bring_it_down() {
    let emu = emulator(&[]).await;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut inputs: Vec<Vec<u8>> = vec![
        b"\x00\xff\xfe\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"POST /?Action=%ZZ&%%%=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 \xff\xfe\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=zz\r\nx-acs-date: 2024-01-01T00:00:00Z\r\nx-acs-signature-nonce: n\r\nx-acs-content-sha256: 00\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\n\r\n\xff\xfe%G".to_vec(),
        b"POST /__emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n\xff\x00[".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000)).into_bytes(),
    ];
    for n in [1, 16, 512, 4096] {
        inputs.push(random(n));
        let mut prefixed = b"POST /?".to_vec();
        prefixed.extend(random(n));
        inputs.push(prefixed);
    }
    for input in &inputs {
        let mut conn = Conn::open(emu.addr()).await;
        // Write errors are fine: the server may close before reading everything.
        let _ = conn.write(input).await;
        // Whatever comes back (an error status, or a close) is an error.
        // socket: some inputs get no answer (a body that never comes); the wait for one is
        // bounded, and an answer later than that only skips this check.
        if let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_millis(500), conn.read()).await {
            assert!(
                resp.status >= 400,
                "{resp:?} for {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
    still_serves(&emu, "m-after-garbage").await;
}

#[tokio::test]
async fn oversized_body_is_413_and_the_connection_stays_usable() {
    let emu = emulator(&["m-1"]).await;
    let body = vec![b'a'; 100 * 1024];
    let mut conn = Conn::open(emu.addr()).await;
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        emu.addr(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let resp = conn.exchange(&request).await.unwrap();
    resp.assert_error(413, "RequestEntityTooLarge");
    assert_eq!(resp.json()["HostId"], emu.addr().to_string());
    // The body was drained: the same connection carries the next request.
    conn.exchange(&raw(&signed(&emu, &v1(), "m-1", None)))
        .await
        .unwrap()
        .assert_ok();
}

#[tokio::test]
async fn huge_declared_body_is_413_and_closed() {
    let emu = emulator(&[]).await;
    let mut conn = Conn::open(emu.addr()).await;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        emu.addr(),
        50 * 1024 * 1024
    );
    let resp = conn.exchange(head.as_bytes()).await.unwrap();
    resp.assert_error(413, "RequestEntityTooLarge");
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(conn.is_closed().await);
    still_serves(&emu, "m-after-huge").await;
}

#[tokio::test]
async fn oversized_chunked_body_and_query() {
    let emu = emulator(&[]).await;
    // Chunked, no length declared: counted as it arrives.
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        emu.addr()
    )
    .into_bytes();
    for _ in 0..20 {
        request.extend_from_slice(format!("{:x}\r\n{}\r\n", 8192, "b".repeat(8192)).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    refused(&emu, &request, 413, "RequestEntityTooLarge").await;
    // Headers over the limit (a request target over 65,534 bytes gets hyper's bare 414).
    let request = String::from_utf8(raw(&signed(&emu, &v1(), "m-1", None))).unwrap();
    let padded = request.replacen(
        "\r\n",
        &format!("\r\nx-padding: {}\r\n", "p".repeat(70 * 1024)),
        1,
    );
    refused(&emu, padded.as_bytes(), 413, "RequestEntityTooLarge").await;
    still_serves(&emu, "m-after-big").await;
}

#[tokio::test]
async fn configured_request_limit() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .max_request_bytes(2048)
        .start()
        .await
        .unwrap();
    let mut p = v1_delete("m-1");
    set(&mut p, "Padding", &"p".repeat(3000));
    let resp = post_v1(&emu, &p).await;
    resp.assert_error(413, "RequestEntityTooLarge");
    assert!(resp.json()["Message"].as_str().unwrap().contains("2048"));
    send_v1(&emu, "m-1").await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_deletes() {
    const N: usize = 1000;
    let images: Vec<String> = (0..N).map(|i| format!("m-{i:04}")).collect();
    let emu = images
        .iter()
        .fold(Emulator::builder().access_key(AK, SECRET), |b, i| {
            b.image(REGION, i)
        })
        .start()
        .await
        .unwrap();
    let permits = Arc::new(Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, image) in images.into_iter().enumerate() {
        let emu = emu.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let signer = if i % 2 == 0 { v1() } else { v3() };
            send_signed(&emu, &signer, &image, None).await.assert_ok();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task finished");
    }
    let stats = emu.stats();
    assert_eq!(
        (stats.deletes, stats.requests, stats.connections),
        (N as u64, N as u64, N as u64)
    );
    assert!(emu.images(REGION).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_client_token_delete_once() {
    let emu = emulator(&["m-1"]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let emu = emu.clone();
        tasks.spawn(async move {
            let signer = if i % 2 == 0 { v1() } else { v3() };
            send_signed(&emu, &signer, "m-1", Some("same-token")).await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(resp) = tasks.join_next().await {
        let resp = resp.unwrap();
        resp.assert_ok();
        ids.insert(resp.request_id());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(emu.stats().deletes, 1);
}

#[test]
fn graceful_shutdown_lets_in_flight_requests_finish() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .start_blocking()
        .unwrap();
    // socket: holds the request in flight while the shutdown starts; should load let it
    // finish first, every assertion below still holds.
    emu.inject(Fault::delay(Duration::from_millis(400)));
    let request = raw(&signed(&emu, &v1(), "m-1", None));
    let addr = emu.addr();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // socket: a guard against a hang only (see `GUARD`).
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the whole JSON arrived or the server closed.
        while !answer.ends_with(b"}") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    // Wait until the request is in flight (it sleeps in the delay fault).
    // socket: only the emulator's request count tells; polled up to 15 s, far past any load.
    for _ in 0..3000 {
        if emu.stats().requests == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(emu.stats().requests, 1);
    emu.shutdown();
    emu.shutdown(); // idempotent
    let answer = client.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(!emu.has_image(REGION, "m-1"));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn dropping_the_last_handle_stops_the_server() {
    let emu = Emulator::builder().start_blocking().unwrap();
    let addr = emu.addr();
    let clone = emu.clone();
    drop(emu);
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "a clone keeps it running"
    );
    drop(clone);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn async_shutdown_and_wait_stopped() {
    let emu = emulator(&["m-1"]).await;
    let mut idle = Conn::open(emu.addr()).await;
    idle.exchange(&raw(&signed(&emu, &v1(), "m-1", None)))
        .await
        .unwrap()
        .assert_ok();
    emu.shutdown();
    // socket: a guard against a hang only (see `GUARD`).
    tokio::time::timeout(GUARD, emu.wait_stopped())
        .await
        .expect("stops in time");
    assert!(
        idle.is_closed().await,
        "idle keep-alive connections are closed"
    );
    assert!(tokio::net::TcpStream::connect(emu.addr()).await.is_err());
}
