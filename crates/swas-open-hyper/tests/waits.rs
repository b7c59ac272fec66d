//! The two waits of an attempt, against a scripted loopback server: the answer's head and
//! its body each get the read bound, the body's counted from the head's arrival.

use std::time::Duration;

use swas_open_hyper::{Client, ErrorKind, RetryPolicy, TimeoutKind};
use swas_open_testkit::{builder_for, input};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BODY: &str = r#"{"RequestId":"R-waits"}"#;

/// A server that answers one request with a 200 whose head comes after `head_after` and
/// whose body comes `body_after` later, its first byte sent with the head. Returns its URL.
async fn scripted(head_after: Duration, body_after: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut chunk = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&chunk[..n]);
        }
        // socket: the stalls are the scripted server's; each test says why its bound holds.
        tokio::time::sleep(head_after).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            BODY.len(),
            &BODY[..1]
        );
        socket.write_all(head.as_bytes()).await.expect("head");
        tokio::time::sleep(body_after).await;
        // The client may have given up and closed the connection by now.
        let _ = socket.write_all(&BODY.as_bytes()[1..]).await;
        // Held open until the client closes it.
        let _ = socket.read(&mut chunk).await;
    });
    url
}

fn client(url: &str, read: Duration) -> Client {
    builder_for::<Client>(url)
        .read_timeout(read)
        .retry_policy(RetryPolicy::new(1))
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn a_body_that_stalls_after_the_head_is_a_read_timeout() {
    // socket: a real server's stall, a hundred times the bound.
    let read = Duration::from_millis(300);
    let url = scripted(Duration::ZERO, Duration::from_secs(30)).await;
    let result = client(&url, read).delete_custom_image(&input("m-1")).await;
    match result.as_ref().map_err(swas_open_hyper::Error::kind) {
        Err(ErrorKind::Timeout {
            kind: TimeoutKind::Read,
            limit,
        }) => assert_eq!(*limit, read),
        other => panic!("expected a read timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn the_head_and_the_body_each_get_the_read_bound() {
    // socket: the waits are a real server's. Each takes two thirds of the bound: together
    // they outlast it, each alone leaves a second to spare.
    let read = Duration::from_secs(3);
    let wait = Duration::from_secs(2);
    let url = scripted(wait, wait).await;
    let output = client(&url, read)
        .delete_custom_image(&input("m-1"))
        .await
        .expect("each wait within the bound");
    assert_eq!(output.request_id, "R-waits");
}
