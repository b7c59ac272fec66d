//! Faults on demand, through the library and the admin routes.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use swas_open_core::Signer;
use swas_open_emulator::{Emulator, Fault};

/// An emulator holding `m-1` with `fault` pending, and its answer to the delete of `m-1`
/// signed by `signer`, with `token` as its ClientToken.
async fn first_answer(fault: Fault, signer: &Signer, token: Option<&str>) -> (Emulator, Resp) {
    let emu = emulator(&["m-1"]).await;
    emu.inject(fault);
    let resp = send_signed(&emu, signer, "m-1", token).await;
    (emu, resp)
}

#[tokio::test]
async fn error_fault_for_the_next_n_requests_before_authentication() {
    let fault = Fault::error(503, "ServiceUnavailable").times(2);
    let (emu, resp) = first_answer(fault, &v1(), None).await;
    resp.assert_error(503, "ServiceUnavailable");
    let body = resp.json();
    assert_eq!(
        body["Message"],
        "The request has failed due to a temporary failure of the server."
    );
    assert_eq!(body["HostId"], emu.addr().to_string());
    assert!(body["Recommend"]
        .as_str()
        .unwrap()
        .contains("q=ServiceUnavailable"));
    // Acts before authentication: even a request with an unknown key gets it.
    let s = signer("nobody", "x", None, swas_open_core::SignatureVersion::V3);
    send_signed(&emu, &s, "m-1", None)
        .await
        .assert_error(503, "ServiceUnavailable");
    send_v1(&emu, "m-1").await.assert_ok();
    assert_eq!(emu.stats().requests, 3);
}

#[tokio::test]
async fn faults_apply_in_order() {
    let emu = emulator(&["m-1"]).await;
    emu.inject(Fault::error(500, "InternalError"));
    emu.inject(Fault::error(418, "Teapot.Custom"));
    emu.inject(Fault::html(504));
    // The same delete each time, freshly signed.
    let request = || raw(&signed(&emu, &v1(), "m-1", None));
    let mut conn = Conn::open(emu.addr()).await;
    let r = conn.exchange(&request()).await.unwrap();
    r.assert_error(500, "InternalError");
    assert_eq!(
        r.json()["Message"],
        "An error occurred while processing your request."
    );
    let r = conn.exchange(&request()).await.unwrap();
    r.assert_error(418, "Teapot.Custom");
    assert!(!r.json()["Message"].as_str().unwrap().is_empty());
    let r = conn.exchange(&request()).await.unwrap();
    assert_eq!(r.status, 504);
    conn.exchange(&request()).await.unwrap().assert_ok();
    assert_eq!(emu.stats().connections, 1);
}

#[tokio::test]
async fn throttling_carries_retry_after() {
    let (emu, resp) = first_answer(Fault::throttling(1500), &v3(), None).await;
    resp.assert_error(400, "Throttling");
    assert_eq!(resp.header("x-acs-retry-after"), Some("1500"));
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn delay_then_normal_handling() {
    let emu = emulator(&["m-1"]).await;
    let delay = Duration::from_millis(300);
    emu.inject(Fault::delay(delay));
    // socket: the delay fault holds a real connection. A lower bound only: the
    // emulator sleeps at least this long.
    let started = Instant::now();
    send_v1(&emu, "m-1").await.assert_ok();
    assert!(started.elapsed() >= delay);
}

#[tokio::test]
async fn drop_after_commit_deletes_then_closes_without_answer() {
    let emu = emulator(&["m-1", "m-2"]).await;
    emu.inject(Fault::drop_after_commit());
    let mut conn = Conn::open(emu.addr()).await;
    let result = conn
        .exchange(&raw(&signed(&emu, &v1(), "m-1", Some("tok-drop"))))
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(!emu.has_image(REGION, "m-1"));
    assert_eq!(emu.stats().deletes, 1);
    // The client retries with the same token: the first answer, no second delete.
    let retry = send_signed(&emu, &v1(), "m-1", Some("tok-drop")).await;
    retry.assert_ok();
    // Without a token, the retry meets the missing image, as with the real service.
    emu.inject(Fault::drop_after_commit());
    assert!(send(emu.addr(), &raw(&signed(&emu, &v3(), "m-2", None)))
        .await
        .is_err());
    send_signed(&emu, &v3(), "m-2", None)
        .await
        .assert_error(404, "InvalidImageId.NotFound");
    assert_eq!(emu.stats().deletes, 2);
}

#[tokio::test]
async fn html_page_like_a_proxy() {
    let (emu, resp) = first_answer(Fault::html(502), &v1(), None).await;
    assert_eq!(resp.status, 502);
    assert_eq!(resp.header("content-type"), Some("text/html"));
    let body = String::from_utf8(resp.body.clone()).unwrap();
    assert!(
        body.starts_with("<!DOCTYPE html>") && body.contains("502 Bad Gateway"),
        "{body}"
    );
    assert!(emu.has_image(REGION, "m-1"));
}

#[tokio::test]
async fn truncated_body_after_commit() {
    let (emu, resp) = first_answer(Fault::truncated(), &v1(), Some("tok-trunc")).await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.body.starts_with(b"{\"RequestId\":\""),
        "{:?}",
        resp.body
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_err());
    assert!(!emu.has_image(REGION, "m-1"));
    // The idempotent replay gets the whole, real answer.
    let again = send_signed(&emu, &v1(), "m-1", Some("tok-trunc")).await;
    again.assert_ok();
    assert!(again.body.starts_with(&resp.body));
    assert_eq!(emu.stats().deletes, 1);
}

async fn admin(emu: &swas_open_emulator::Emulator, method: &str, path: &str, body: &str) -> Resp {
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        emu.addr(),
        body.len()
    );
    send(emu.addr(), raw.as_bytes()).await.unwrap()
}

#[tokio::test]
async fn admin_routes_inject_and_inspect() {
    let emu = emulator(&["m-1", "m-2"]).await;
    let r = admin(
        &emu,
        "POST",
        "/__emulator/faults",
        r#"[{"kind":"error","status":500,"code":"InternalError","times":2},{"kind":"throttling","retry_after_ms":50}]"#,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["queued"], 2);
    assert_eq!(r.json()["pending_faults"], 3);

    send_v1(&emu, "m-1")
        .await
        .assert_error(500, "InternalError");

    let state = admin(&emu, "GET", "/__emulator/state", "").await.json();
    assert_eq!(state["pending_faults"], 2);
    assert_eq!(
        state["stats"]["requests"], 1,
        "admin requests are not counted"
    );
    assert_eq!(state["stats"]["deletes"], 0);
    assert_eq!(
        state["images"][REGION],
        serde_json::json!([{"image_id":"m-1","shared":false},{"image_id":"m-2","shared":false}])
    );

    let r = admin(&emu, "DELETE", "/__emulator/faults", "").await;
    assert_eq!(r.json()["cleared"], 2);
    send_v1(&emu, "m-1").await.assert_ok();

    let r = admin(
        &emu,
        "POST",
        "/__emulator/images",
        r#"{"region":"cn-beijing","image_id":"m-b","shared":true}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(emu.images("cn-beijing"), ["m-b"]);
    let state = admin(&emu, "GET", "/__emulator/state", "").await.json();
    assert_eq!(state["images"]["cn-beijing"][0]["shared"], true);
    assert_eq!(state["stats"]["deletes"], 1);
    assert_eq!(state["stats"]["requests"], 2);
    assert_eq!(emu.stats().requests, 2);
}

#[tokio::test]
async fn admin_fault_kinds_and_bad_bodies() {
    let emu = emulator(&["m-1"]).await;
    for body in [
        r#"{"kind":"html"}"#,
        r#"{"kind":"delay","ms":1}"#,
        r#"{"kind":"truncated"}"#,
        r#"{"kind":"drop_after_commit"}"#,
    ] {
        assert_eq!(
            admin(&emu, "POST", "/__emulator/faults", body).await.status,
            200
        );
    }
    let r = send_v1(&emu, "m-x").await;
    assert_eq!(r.status, 502);
    send_v1(&emu, "m-x")
        .await
        .assert_error(404, "InvalidImageId.NotFound");
    let r = send_v1(&emu, "m-x").await;
    assert_eq!(r.status, 200);
    assert!(send(emu.addr(), &raw(&signed(&emu, &v1(), "m-1", None)))
        .await
        .is_err());
    assert!(!emu.has_image(REGION, "m-1"));

    for body in [
        "{",
        r#"{"kind":"error"}"#,
        r#"{"kind":"nope"}"#,
        r#"{"kind":"html","status":42}"#,
    ] {
        let r = admin(&emu, "POST", "/__emulator/faults", body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(
        admin(&emu, "GET", "/__emulator/nothing", "").await.status,
        404
    );
    assert_eq!(
        admin(&emu, "PUT", "/__emulator/state", "").await.status,
        405
    );
    assert_eq!(
        admin(&emu, "POST", "/__emulator/images", r#"{"region":"r"}"#)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn rate_limit_throttles_beyond_the_bucket_and_counts() {
    // One token a second: the first request passes, the next ones (within that second) are
    // throttled before authentication, and nothing is deleted by them. The bucket's clock is
    // the test's: it stands still until stepped, so no refill is waited for.
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = Arc::clone(&now);
    let step = |by: Duration| *now.lock().unwrap() += by;
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .image(REGION, "m-2")
        .rate_limit(1)
        .rate_clock(move || *clock.lock().unwrap())
        .start()
        .await
        .expect("emulator starts");
    emu.inject(Fault::error(503, "ServiceUnavailable"));
    send_v1(&emu, "m-1")
        .await
        .assert_error(503, "ServiceUnavailable");
    let throttled = send_v1(&emu, "m-2").await;
    throttled.assert_error(400, "Throttling.User");
    assert_eq!(
        throttled.json()["Message"],
        "Request was denied due to request throttling."
    );
    assert_eq!(throttled.header("x-acs-retry-after"), None);
    // Even an unknown key is throttled: the limit comes first, and takes no fault.
    emu.inject(Fault::error(500, "InternalError"));
    let s = signer("nobody", "x", None, swas_open_core::SignatureVersion::V3);
    send_signed(&emu, &s, "m-2", None)
        .await
        .assert_error(400, "Throttling.User");
    let state = get(&emu, "/__emulator/state", &[]).await.json();
    assert_eq!(state["pending_faults"], 1);
    assert!(emu.has_image(REGION, "m-2"));
    let stats = emu.stats();
    assert_eq!((stats.requests, stats.throttled, stats.deletes), (3, 2, 0));
    // A second later the bucket has a token again: the queued fault, then a delete.
    step(Duration::from_secs(1));
    send_v1(&emu, "m-2")
        .await
        .assert_error(500, "InternalError");
    step(Duration::from_secs(1));
    send_v1(&emu, "m-2").await.assert_ok();
    assert!(!emu.has_image(REGION, "m-2"));
    // Injected throttling counts too (here it takes the place of the limit, a second on);
    // the admin state shows the counter.
    step(Duration::from_secs(1));
    emu.inject(Fault::throttling(10));
    send_v1(&emu, "m-1").await.assert_error(400, "Throttling");
    assert_eq!(emu.stats().throttled, 3);
    let state = get(&emu, "/__emulator/state", &[]).await.json();
    assert_eq!(state["stats"]["throttled"], 3);
}

#[tokio::test]
async fn without_a_rate_limit_nothing_is_throttled() {
    let emu = emulator(&[]).await;
    for _ in 0..30 {
        send_v1(&emu, "m-none")
            .await
            .assert_error(404, "InvalidImageId.NotFound");
    }
    emu.inject(Fault::throttling(10));
    send_v1(&emu, "m-none")
        .await
        .assert_error(400, "Throttling");
    assert_eq!(emu.stats().throttled, 1);
}

#[tokio::test]
async fn fault_counts_never_overflow_and_the_queue_is_bounded() {
    let emu = emulator(&["m-1"]).await;
    let huge = format!(r#"{{"kind":"truncated","times":{}}}"#, usize::MAX);
    for _ in 0..2 {
        let r = admin(&emu, "POST", "/__emulator/faults", &huge).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let state = admin(&emu, "GET", "/__emulator/state", "").await.json();
    assert_eq!(state["pending_faults"], usize::MAX as u64);
    admin(&emu, "DELETE", "/__emulator/faults", "").await;

    // 10,000 faults at most: a batch past that queues nothing and says why.
    let batch = format!("[{}]", vec![r#"{"kind":"truncated"}"#; 2_000].join(","));
    for _ in 0..5 {
        let r = admin(&emu, "POST", "/__emulator/faults", &batch).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = admin(
        &emu,
        "POST",
        "/__emulator/faults",
        r#"{"kind":"truncated"}"#,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("fault queue is full"), "{}", r.text());
    assert!(!emu.inject(Fault::truncated()));
    let state = admin(&emu, "GET", "/__emulator/state", "").await.json();
    assert_eq!(state["pending_faults"], 10_000);
}
