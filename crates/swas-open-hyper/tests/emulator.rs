//! The async client against the emulator: outcomes, retries, timeouts and bad answers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use swas_open_core::response::{ErrorCode, ParseErrorKind};
use swas_open_core::TransportFailure;
use swas_open_emulator::Fault;
use swas_open_hyper::{
    Client, ClientBuilder, Credentials, Error, ErrorKind, SignatureVersion, TimeoutKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn service_code(e: &Error) -> &ErrorCode {
    e.code()
        .unwrap_or_else(|| panic!("expected a service error, got {e:?}"))
}

/// Asserts that `e` is a transport failure of class `kind`.
#[track_caller]
fn assert_transport(e: &Error, kind: TransportFailure) {
    assert!(
        matches!(e.kind(), ErrorKind::Transport { kind: k, .. } if *k == kind),
        "expected a {kind:?} transport failure, got {e:?}"
    );
}

/// Asserts that `e` is a timeout of `kind`, and returns the limit it hit.
#[track_caller]
fn expect_timeout(e: &Error, kind: TimeoutKind) -> Duration {
    match e.kind() {
        ErrorKind::Timeout { kind: k, limit } if *k == kind => *limit,
        _ => panic!("expected a {kind:?} timeout, got {e:?}"),
    }
}

#[tokio::test]
async fn deletes_an_image() {
    let emu = emulator(&["m-1"]).await;
    let out = delete(&client(&emu), "m-1").await.unwrap();
    assert!(!out.request_id.is_empty());
    assert_eq!(out.attempts, 1);
    assert!(!emu.has_image(REGION, "m-1"));
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn caller_client_token_is_kept() {
    let emu = emulator(&["m-1"]).await;
    let op = input("m-1").with_client_token("caller-token-1").unwrap();
    let out = client(&emu).delete_custom_image(&op).await.unwrap();
    assert_eq!(out.client_token.as_str(), "caller-token-1");
    // The same token again: the service replays the first answer.
    let again = client(&emu).delete_custom_image(&op).await.unwrap();
    assert_eq!(again.request_id, out.request_id);
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn missing_image_is_not_found() {
    let emu = emulator(&[]).await;
    let e = delete(&client(&emu), "m-absent").await.unwrap_err();
    assert_eq!(service_code(&e), &ErrorCode::InvalidImageIdNotFound);
    let service = e.service_error().unwrap();
    assert_eq!(service.status, 404);
    assert!(service.request_id.is_some());
    assert_eq!(emu.stats().requests, 1, "a 404 is not retried");
}

#[tokio::test]
async fn shared_image_is_refused() {
    let emu = emulator(&[]).await;
    let e = delete(&client(&emu), "m-shared").await.unwrap_err();
    assert_eq!(service_code(&e), &ErrorCode::CustomImageInShare);
    assert!(emu.has_image(REGION, "m-shared"));
}

#[tokio::test]
async fn wrong_secret_is_signature_mismatch() {
    let emu = emulator(&["m-1"]).await;
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let client = builder(&emu)
            .credentials(Credentials::new(ID, "not-the-secret").unwrap())
            .signature_version(version)
            .build()
            .unwrap();
        let e = delete(&client, "m-1").await.unwrap_err();
        assert_eq!(
            service_code(&e),
            &ErrorCode::SignatureDoesNotMatch,
            "{version:?}"
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("not-the-secret"), "{shown}");
    }
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn signs_v1_and_v3() {
    let emu = emulator(&["m-1", "m-3"]).await;
    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-3")] {
        let client = builder(&emu).signature_version(version).build().unwrap();
        client.delete_custom_image(&input(image)).await.unwrap();
        assert!(!emu.has_image(REGION, image), "{version:?}");
    }
    assert_eq!(emu.stats().deletes, 2);
}

#[tokio::test]
async fn sts_credentials() {
    let emu = emulator(&["m-1", "m-3"]).await;
    let sts = temporary_credentials();
    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-3")] {
        let client = builder(&emu)
            .credentials(sts.clone())
            .signature_version(version)
            .build()
            .unwrap();
        client.delete_custom_image(&input(image)).await.unwrap();
    }
    assert_eq!(emu.stats().deletes, 2);
}

#[tokio::test]
async fn retries_503_then_succeeds() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::error(503, "ServiceUnavailable").times(2));
    let out = delete(&client(&emu), "m-1").await.unwrap();
    assert_eq!(out.attempts, 3);
    let stats = emu.stats();
    assert_eq!((stats.requests, stats.deletes), (3, 1));
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::error(500, "InternalError").times(5));
    let e = delete(&client(&emu), "m-1").await.unwrap_err();
    assert_eq!(service_code(&e), &ErrorCode::InternalError);
    assert_eq!(emu.stats().requests, 3);
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn throttling_waits_at_least_the_hint() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::throttling(300));
    let started = Instant::now();
    let out = delete(&client(&emu), "m-1").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.attempts, 2);
}

#[tokio::test]
async fn dropped_after_commit_is_replayed_once() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::drop_after_commit());
    let out = delete(&client(&emu), "m-1").await.unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn dropped_connection_without_retries_is_a_reset() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::drop_after_commit());
    let client = builder(&emu).max_attempts(1).build().unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_transport(&e, TransportFailure::Reset);
}

#[tokio::test]
async fn read_timeout_fires() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = builder(&emu)
        .read_timeout(Duration::from_millis(200))
        .max_attempts(1)
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_eq!(
        expect_timeout(&e, TimeoutKind::Read),
        Duration::from_millis(200)
    );
}

#[tokio::test]
async fn deadline_cuts_an_attempt_short() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = builder(&emu)
        .deadline(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    expect_timeout(&e, TimeoutKind::Deadline);
    assert_eq!(emu.stats().requests, 1);
}

#[tokio::test]
async fn no_retry_past_the_deadline() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::throttling(60_000));
    let client = builder(&emu)
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_eq!(service_code(&e), &ErrorCode::Throttling);
    assert_eq!(emu.stats().requests, 1);
}

#[tokio::test]
async fn html_page_is_a_parse_error_with_status() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::html(502).times(3));
    let e = delete(&client(&emu), "m-1").await.unwrap_err();
    let ErrorKind::Parse(p) = e.kind() else {
        panic!("{e:?}")
    };
    assert_eq!(p.status, 502);
    assert_eq!(p.kind, ParseErrorKind::NotJson);
    assert!(p.snippet.contains("<"), "{p:?}");
    assert_eq!(emu.stats().requests, 3, "a proxy's 5xx page is retried");
}

#[tokio::test]
async fn truncated_body_is_retried_with_the_token() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::truncated());
    let out = delete(&client(&emu), "m-1").await.unwrap();
    assert_eq!(out.attempts, 2, "the garbled answer is asked again");
    assert_eq!(emu.stats().deletes, 1);
}

#[tokio::test]
async fn truncated_body_is_a_parse_error_when_no_retry_is_left() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::truncated());
    let client = builder(&emu).max_attempts(1).build().unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    let ErrorKind::Parse(p) = e.kind() else {
        panic!("{e:?}")
    };
    assert_eq!(p.status, 200);
    assert_eq!(p.kind, ParseErrorKind::NotJson);
    assert!(e.client_token().is_some());
}

/// A one-shot server answering every connection with `answer`.
async fn canned_server(answer: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn oversized_body_is_capped() {
    let body = vec![b'x'; 2 * 1024 * 1024];
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let url = canned_server(answer).await;
    let client = builder_for(&url).max_attempts(1).build().unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    let ErrorKind::Parse(p) = e.kind() else {
        panic!("{e:?}")
    };
    assert_eq!(p.status, 200);
    assert_eq!(p.kind, ParseErrorKind::TooLarge);
    assert!(p.snippet.starts_with("xxxx"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let answer =
        b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n";
    let url = canned_server(answer.to_vec()).await;
    let client = builder_for(&url).build().unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Parse(p) if p.status == 302),
        "{e:?}"
    );
}

#[tokio::test]
async fn refused_connection_is_a_connect_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = builder_for(&format!("http://{addr}"))
        .retry_policy(quick_retries(2))
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_transport(&e, TransportFailure::Connect);
}

#[tokio::test]
async fn sequential_calls_reuse_one_connection() {
    let images: Vec<String> = (0..10).map(|i| format!("m-{i}")).collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let emu = emulator(&refs).await;
    let client = client(&emu);
    for image in &images {
        client.delete_custom_image(&input(image)).await.unwrap();
    }
    // Errors keep the connection too.
    client
        .delete_custom_image(&input("m-absent"))
        .await
        .unwrap_err();
    let stats = emu.stats();
    assert_eq!((stats.deletes, stats.requests), (10, 11));
    assert_eq!(stats.connections, 1);
}

#[tokio::test]
async fn secrets_never_show_in_errors() {
    let emu = emulator(&[]).await;
    let mut errors = Vec::new();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        // A bad secret with a real token, and good credentials meeting every kind of failure.
        let bad = Credentials::new(STS_ID, "wrong-sts-secret-77")
            .unwrap()
            .with_security_token(STS_TOKEN)
            .unwrap();
        let client = builder(&emu)
            .credentials(bad)
            .signature_version(version)
            .build()
            .unwrap();
        errors.push(delete(&client, "m-1").await.unwrap_err());
        let client = builder(&emu)
            .credentials(temporary_credentials())
            .signature_version(version)
            .read_timeout(Duration::from_millis(100))
            .max_attempts(1)
            .build()
            .unwrap();
        errors.push(delete(&client, "m-1").await.unwrap_err());
        emu.inject(Fault::html(502));
        errors.push(delete(&client, "m-1").await.unwrap_err());
        emu.inject(Fault::delay(Duration::from_secs(1)));
        errors.push(delete(&client, "m-1").await.unwrap_err());
        emu.inject(Fault::drop_after_commit());
        errors.push(delete(&client, "m-1").await.unwrap_err());
    }
    for e in &errors {
        let shown = format!("{e} | {e:?} | {:?}", std::error::Error::source(e));
        for secret in [SECRET, STS_SECRET, "wrong-sts-secret-77"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // The service's SignatureDoesNotMatch message quotes its V1 string to sign, which
        // holds the SecurityToken parameter; errors keep the service's message as sent.
        // Apart from that echo, the token shows nowhere.
        let shown = match e.kind() {
            ErrorKind::Service(s) if s.code == ErrorCode::SignatureDoesNotMatch => {
                let mut s = s.clone();
                s.message.clear();
                format!("{s} | {s:?}")
            }
            _ => shown,
        };
        assert!(!shown.contains(STS_TOKEN), "token in {shown}");
    }
}

#[tokio::test]
async fn build_errors_name_the_problem() {
    let build = |b: ClientBuilder| {
        b.credentials(Credentials::new(ID, SECRET).unwrap())
            .build()
            .unwrap_err()
    };
    let e = build(Client::builder().endpoint("ftp://example.com"));
    assert!(matches!(e.kind(), ErrorKind::Endpoint(_)), "{e:?}");
    let e = build(Client::builder().region("Not A Region"));
    assert!(matches!(e.kind(), ErrorKind::InvalidInput(_)), "{e:?}");
    let e = build(Client::builder().user_agent_suffix("bad\nvalue"));
    assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
}

#[tokio::test]
async fn unresolvable_host_is_a_dns_failure() {
    // `.invalid` never resolves; a resolver that does not answer in time shows as a
    // connect timeout instead.
    let client = builder_for("http://swas-open-test.invalid:8080")
        .connect_timeout(Duration::from_secs(3))
        .max_attempts(1)
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Transport {
                kind: TransportFailure::Dns,
                ..
            } | ErrorKind::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn connect_timeout_fires() {
    // A listener with a full accept queue: the kernel drops further connection attempts,
    // so they hang until the client gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        fillers.push(tokio::spawn(tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(addr),
        )));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = builder_for(&format!("http://{addr}"))
        .connect_timeout(Duration::from_millis(300))
        .read_timeout(Duration::from_secs(5))
        .max_attempts(1)
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_eq!(
        expect_timeout(&e, TimeoutKind::Connect),
        Duration::from_millis(300)
    );
    drop(listener);
}

#[tokio::test]
async fn failed_tls_handshake_is_a_tls_failure() {
    // The emulator speaks plain HTTP, so a TLS client hello gets no TLS answer.
    let emu = emulator(&["m-1"]).await;
    let https = emu.url().replace("http://", "https://");
    let client = builder(&emu)
        .endpoint(&https)
        .max_attempts(1)
        .build()
        .unwrap();
    let e = delete(&client, "m-1").await.unwrap_err();
    assert_transport(&e, TransportFailure::Tls);
    assert!(emu.has_image(REGION, "m-1"));
}
