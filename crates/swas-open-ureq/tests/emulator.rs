//! The client against the emulator, over real sockets.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use swas_open_core::response::{ErrorCode, ParseError, ParseErrorKind};
use swas_open_core::TransportFailure;
use swas_open_emulator::{Emulator, Fault};
use swas_open_ureq::{
    Client, ClientBuilder, Credentials, DeleteCustomImage, DeleteOutput, Error, ErrorKind,
    RetryPolicy, SignatureVersion, TimeoutKind,
};

const REGION: &str = "cn-hangzhou";
const ID: &str = "test-access-key-id";
const SECRET: &str = "Sup3r-S3cret-Value-0042";
const STS_ID: &str = "STS.test-key";
const STS_SECRET: &str = "Sts-S3cret-Value-0077";
const STS_TOKEN: &str = "Sts-Token-Value-0099";

fn emulator() -> Emulator {
    Emulator::builder()
        .access_key(ID, SECRET)
        .sts_access_key(STS_ID, STS_SECRET, STS_TOKEN)
        .image(REGION, "m-1")
        .shared_image(REGION, "m-shared")
        .start_blocking()
        .expect("emulator starts")
}

/// A builder aimed at `endpoint` with the plain test key and the default retry policy.
fn builder_for(endpoint: &str) -> ClientBuilder {
    Client::builder()
        .credentials(Credentials::new(ID, SECRET).unwrap())
        .endpoint(endpoint)
}

/// A client for `emu` with fast retries, so retry tests stay short.
fn builder(emu: &Emulator) -> ClientBuilder {
    builder_for(&emu.url())
        .retry_policy(RetryPolicy::new(3).with_base_delay(Duration::from_millis(10)))
}

/// The temporary key the emulator knows: [`STS_ID`] with its secret and token.
fn temporary_credentials() -> Credentials {
    Credentials::new(STS_ID, STS_SECRET)
        .unwrap()
        .with_security_token(STS_TOKEN)
        .unwrap()
}

fn delete(client: &Client, image: &str) -> Result<DeleteOutput, Error> {
    client.delete_custom_image(&DeleteCustomImage::new(REGION, image).unwrap())
}

#[track_caller]
fn service_code(result: Result<DeleteOutput, Error>) -> ErrorCode {
    match result.map_err(Error::into_kind) {
        Err(ErrorKind::Service(e)) => e.code,
        other => panic!("expected a service error, got {other:?}"),
    }
}

/// The parse error a call failed with.
#[track_caller]
fn parse_error(result: Result<DeleteOutput, Error>) -> ParseError {
    match result.map_err(Error::into_kind) {
        Err(ErrorKind::Parse(e)) => e,
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// Asserts that a call failed with a timeout of `kind` at `limit`.
#[track_caller]
fn assert_timeout(result: Result<DeleteOutput, Error>, kind: TimeoutKind, limit: Duration) {
    match result.map_err(Error::into_kind) {
        Err(ErrorKind::Timeout { kind: k, limit: l }) => {
            assert_eq!(k, kind);
            assert_eq!(l, limit);
        }
        other => panic!("expected a {kind:?} timeout, got {other:?}"),
    }
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && s.chars()
            .filter(|&c| c != '-')
            .all(|c| c.is_ascii_hexdigit())
}

#[test]
fn success_with_v1_and_v3() {
    let emu = emulator();
    emu.add_image(REGION, "m-2", false);
    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-2")] {
        let client = builder(&emu).signature_version(version).build().unwrap();
        let out = delete(&client, image).unwrap();
        assert!(!out.request_id.is_empty(), "{version:?}");
        assert_eq!(out.attempts, 1);
        assert!(
            is_uuid_v4(out.client_token.as_str()),
            "{}",
            out.client_token
        );
        assert!(!emu.has_image(REGION, image), "{version:?}");
    }
    assert_eq!(emu.stats().deletes, 2);
    assert_eq!(emu.stats().requests, 2);
}

#[test]
fn a_given_client_token_is_used() {
    let emu = emulator();
    let client = builder(&emu).build().unwrap();
    let input = DeleteCustomImage::new(REGION, "m-1")
        .unwrap()
        .with_client_token("my-token-1")
        .unwrap();
    let out = client.delete_custom_image(&input).unwrap();
    assert_eq!(out.client_token.as_str(), "my-token-1");
    // The same token again: the service replays the first answer.
    let again = client.delete_custom_image(&input).unwrap();
    assert_eq!(again.request_id, out.request_id);
    assert_eq!(emu.stats().deletes, 1);
}

#[test]
fn not_found_is_a_service_error_with_every_field() {
    let emu = emulator();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let client = builder(&emu).signature_version(version).build().unwrap();
        match delete(&client, "m-absent").map_err(Error::into_kind) {
            Err(ErrorKind::Service(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidImageIdNotFound);
                assert_eq!(e.status, 404);
                assert!(e.request_id.is_some());
                assert!(e.host_id.is_some());
                assert!(e.recommend.is_some());
                assert!(!e.message.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
    // Not retryable: one request per call.
    assert_eq!(emu.stats().requests, 2);
}

#[test]
fn shared_image_is_refused() {
    let emu = emulator();
    let client = builder(&emu).build().unwrap();
    assert_eq!(
        service_code(delete(&client, "m-shared")),
        ErrorCode::CustomImageInShare
    );
    assert!(emu.has_image(REGION, "m-shared"));
    assert_eq!(emu.stats().requests, 1);
}

#[test]
fn wrong_secret_does_not_match() {
    let emu = emulator();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        let client = builder(&emu)
            .credentials(Credentials::new(ID, "not-the-secret").unwrap())
            .signature_version(version)
            .build()
            .unwrap();
        assert_eq!(
            service_code(delete(&client, "m-1")),
            ErrorCode::SignatureDoesNotMatch,
            "{version:?}"
        );
    }
    assert!(emu.has_image(REGION, "m-1"));
}

#[test]
fn sts_credentials() {
    let emu = emulator();
    emu.add_image(REGION, "m-2", false);
    for (version, image) in [(SignatureVersion::V1, "m-1"), (SignatureVersion::V3, "m-2")] {
        let client = builder(&emu)
            .credentials(temporary_credentials())
            .signature_version(version)
            .build()
            .unwrap();
        delete(&client, image).unwrap();
    }
    // Without the token, the same key is refused.
    let client = builder(&emu)
        .credentials(Credentials::new(STS_ID, STS_SECRET).unwrap())
        .build()
        .unwrap();
    assert!(matches!(
        delete(&client, "m-1").map_err(Error::into_kind),
        Err(ErrorKind::Service(_))
    ));
    assert_eq!(emu.stats().deletes, 2);
}

#[test]
fn unavailable_twice_then_success() {
    let emu = emulator();
    emu.inject(Fault::error(503, "ServiceUnavailable").times(2));
    let client = builder(&emu).build().unwrap();
    let out = delete(&client, "m-1").unwrap();
    assert_eq!(out.attempts, 3);
    assert_eq!(emu.stats().requests, 3);
    assert_eq!(emu.stats().deletes, 1);
}

#[test]
fn retries_stop_at_max_attempts() {
    let emu = emulator();
    emu.inject(Fault::error(503, "ServiceUnavailable").times(5));
    let client = builder(&emu).max_attempts(2).build().unwrap();
    assert_eq!(
        service_code(delete(&client, "m-1")),
        ErrorCode::ServiceUnavailable
    );
    assert_eq!(emu.stats().requests, 2);
}

#[test]
fn throttling_waits_for_the_hint() {
    let emu = emulator();
    emu.inject(Fault::throttling(300));
    let client = builder(&emu).build().unwrap();
    let started = Instant::now();
    let out = delete(&client, "m-1").unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.attempts, 2);
}

#[test]
fn commit_then_drop_replays_the_first_answer() {
    let emu = emulator();
    emu.inject(Fault::drop_after_commit());
    let client = builder(&emu).build().unwrap();
    let out = delete(&client, "m-1").unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(emu.stats().requests, 2);
    assert_eq!(emu.stats().deletes, 1);
    assert!(!emu.has_image(REGION, "m-1"));
}

#[test]
fn commit_then_drop_without_retries_is_a_reset() {
    let emu = emulator();
    emu.inject(Fault::drop_after_commit());
    let client = builder(&emu).max_attempts(1).build().unwrap();
    match delete(&client, "m-1").map_err(Error::into_kind) {
        Err(ErrorKind::Transport { kind, .. }) => {
            assert!(matches!(kind, TransportFailure::Reset), "{kind:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn read_timeout_fires() {
    let emu = emulator();
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = builder(&emu)
        .read_timeout(Duration::from_millis(200))
        .max_attempts(1)
        .build()
        .unwrap();
    assert_timeout(
        delete(&client, "m-1"),
        TimeoutKind::Read,
        Duration::from_millis(200),
    );
}

#[test]
fn deadline_bounds_the_call() {
    let emu = emulator();
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = builder(&emu)
        .deadline(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_timeout(
        delete(&client, "m-1"),
        TimeoutKind::Deadline,
        Duration::from_millis(200),
    );
}

#[test]
fn a_retry_that_would_pass_the_deadline_is_not_made() {
    let emu = emulator();
    emu.inject(Fault::throttling(5_000));
    let client = builder(&emu)
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(service_code(delete(&client, "m-1")), ErrorCode::Throttling);
    assert_eq!(emu.stats().requests, 1);
}

#[test]
fn html_page_is_a_parse_error_with_its_status() {
    let emu = emulator();
    emu.inject(Fault::html(502));
    let client = builder(&emu).max_attempts(1).build().unwrap();
    let e = parse_error(delete(&client, "m-1"));
    assert_eq!(e.status, 502);
    assert_eq!(e.kind, ParseErrorKind::NotJson);
    assert!(!e.snippet.is_empty());
    // A proxy's 5xx page is retried when retries are allowed.
    emu.inject(Fault::html(502));
    let out = delete(&builder(&emu).build().unwrap(), "m-1").unwrap();
    assert_eq!(out.attempts, 2);
}

#[test]
fn truncated_body_is_a_parse_error_when_no_retry_is_left() {
    let emu = emulator();
    emu.inject(Fault::truncated());
    let client = builder(&emu).max_attempts(1).build().unwrap();
    let e = parse_error(delete(&client, "m-1"));
    assert_eq!(e.status, 200);
    assert_eq!(e.kind, ParseErrorKind::NotJson);
    assert_eq!(emu.stats().deletes, 1);
}

#[test]
fn truncated_body_is_retried_with_the_token() {
    let emu = emulator();
    emu.inject(Fault::truncated());
    let client = builder(&emu).build().unwrap();
    let out = delete(&client, "m-1").unwrap();
    assert_eq!(out.attempts, 2, "the garbled answer is asked again");
    assert_eq!(emu.stats().deletes, 1);
}

#[test]
fn one_connection_for_many_calls() {
    let emu = emulator();
    for i in 0..20 {
        emu.add_image(REGION, &format!("m-reuse-{i}"), false);
    }
    let client = builder(&emu).build().unwrap();
    let clone = client.clone();
    for i in 0..20 {
        let c = if i % 2 == 0 { &client } else { &clone };
        delete(c, &format!("m-reuse-{i}")).unwrap();
    }
    // Error answers keep the connection too.
    for _ in 0..5 {
        assert!(delete(&client, "m-absent").is_err());
    }
    assert_eq!(emu.stats().requests, 25);
    assert_eq!(emu.stats().connections, 1);
}

#[test]
fn a_deadline_keeps_the_pool() {
    // A deadline is applied per request; the connection is still reused.
    let emu = emulator();
    let client = builder(&emu)
        .deadline(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..10 {
        assert!(delete(&client, "m-absent").is_err());
    }
    delete(&client, "m-1").unwrap();
    assert_eq!(emu.stats().requests, 11);
    assert_eq!(emu.stats().connections, 1);
}

#[test]
fn calls_from_many_threads() {
    let emu = emulator();
    for i in 0..8 {
        emu.add_image(REGION, &format!("m-thread-{i}"), false);
    }
    let client = builder(&emu).build().unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            thread::spawn(move || delete(&client, &format!("m-thread-{i}")).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(emu.stats().deletes, 8);
}

/// A one-shot HTTP server: reads one request head, writes `answer`, closes.
fn serve_once(answer: Vec<u8>) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        // The client stops reading at the cap and closes: a failed write is expected.
        let _ = stream.write_all(&answer);
        let _ = stream.flush();
    });
    (url, handle)
}

fn client_for(url: &str) -> Client {
    builder_for(url).max_attempts(1).build().unwrap()
}

#[test]
fn oversized_body_is_capped() {
    let body = vec![b'x'; 2 * 1024 * 1024];
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let (url, server) = serve_once(answer);
    let e = parse_error(delete(&client_for(&url), "m-1"));
    assert_eq!(e.status, 200);
    assert_eq!(e.kind, ParseErrorKind::TooLarge);
    assert!(e.snippet.starts_with("xxxx"), "{}", e.snippet);
    assert!(e.to_string().contains("larger than"), "{e}");
    server.join().unwrap();
}

#[test]
fn oversized_chunked_body_is_capped() {
    let chunk = vec![b'y'; 64 * 1024];
    let mut answer =
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..32 {
        answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        answer.extend_from_slice(&chunk);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    let (url, server) = serve_once(answer);
    let e = parse_error(delete(&client_for(&url), "m-1"));
    assert_eq!(e.status, 500);
    assert_eq!(e.kind, ParseErrorKind::TooLarge);
    server.join().unwrap();
}

#[test]
fn redirects_are_not_followed() {
    let answer = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (url, server) = serve_once(answer.as_bytes().to_vec());
    assert_eq!(parse_error(delete(&client_for(&url), "m-1")).status, 302);
    server.join().unwrap();
}

#[test]
fn connection_refused_is_a_connect_failure() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = builder_for(&format!("http://127.0.0.1:{port}"))
        .retry_policy(RetryPolicy::new(2).with_base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();
    match delete(&client, "m-1") {
        Err(e) if matches!(e.kind(), ErrorKind::Transport { .. }) => {
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Transport {
                        kind: TransportFailure::Connect,
                        ..
                    }
                ),
                "{e:?}"
            );
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_host_is_a_dns_failure() {
    // `.invalid` never resolves (RFC 6761); a resolver that cannot answer at all runs into
    // the connect timeout instead.
    let client = builder_for("http://swas.does-not-exist.invalid")
        .connect_timeout(Duration::from_secs(2))
        .max_attempts(1)
        .build()
        .unwrap();
    match delete(&client, "m-1").map_err(Error::into_kind) {
        Err(ErrorKind::Transport {
            kind: TransportFailure::Dns,
            ..
        })
        | Err(ErrorKind::Timeout {
            kind: TimeoutKind::Connect,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn https_endpoint_speaks_tls() {
    // A plain-text server behind an https URL: the TLS handshake fails (it does not panic
    // for want of a crypto provider), and nothing reaches the service.
    let emu = emulator();
    let client = builder(&emu)
        .endpoint(&emu.url().replace("http://", "https://"))
        .max_attempts(1)
        .build()
        .unwrap();
    assert!(matches!(
        delete(&client, "m-1").map_err(Error::into_kind),
        Err(ErrorKind::Transport { .. })
    ));
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn builder_rejects_bad_configuration() {
    let build = |b: ClientBuilder| {
        b.credentials(Credentials::new(ID, SECRET).unwrap())
            .build()
            .unwrap_err()
    };
    let err = build(Client::builder().endpoint("ftp://example.com"));
    assert!(matches!(err.kind(), ErrorKind::Endpoint(_)), "{err:?}");
    let err = build(Client::builder().region("CN Hangzhou"));
    assert!(matches!(err.kind(), ErrorKind::InvalidInput(_)), "{err:?}");
    let err = build(Client::builder().user_agent_suffix("bad\nvalue"));
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
}

#[test]
fn region_fixes_the_endpoint_unless_one_is_given() {
    // An explicit endpoint wins over the builder's region.
    let emu = emulator();
    let client = builder(&emu).region("cn-beijing").build().unwrap();
    delete(&client, "m-1").unwrap();
    assert!(format!("{client:?}").contains(&emu.url()));
    let client = Client::builder()
        .credentials(Credentials::new(ID, SECRET).unwrap())
        .region("cn-beijing")
        .build()
        .unwrap();
    assert!(format!("{client:?}").contains("https://swas.cn-beijing.aliyuncs.com"));
}

#[test]
fn no_secret_in_any_error_or_debug_output() {
    let emu = emulator();
    let mut outputs = Vec::new();
    fn record(outputs: &mut Vec<String>, r: Result<DeleteOutput, Error>) {
        match r {
            Ok(out) => outputs.push(format!("{out:?}")),
            Err(e) => {
                outputs.push(format!("{e}"));
                outputs.push(format!("{e:?}"));
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    outputs.push(format!("{s} {s:?}"));
                    source = s.source();
                }
            }
        }
    }
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        // A secret the service does not know, and a token it does not expect.
        let wrong = builder(&emu)
            .credentials(Credentials::new(ID, "Wrong-S3cret-Value-0055").unwrap())
            .signature_version(version)
            .build()
            .unwrap();
        outputs.push(format!("{wrong:?}"));
        record(&mut outputs, delete(&wrong, "m-1"));
        let token_mismatch = builder(&emu)
            .credentials(
                Credentials::new(ID, SECRET)
                    .unwrap()
                    .with_security_token(STS_TOKEN)
                    .unwrap(),
            )
            .signature_version(version)
            .build()
            .unwrap();
        record(&mut outputs, delete(&token_mismatch, "m-1"));
        let client = builder(&emu)
            .credentials(temporary_credentials())
            .signature_version(version)
            .build()
            .unwrap();
        outputs.push(format!("{client:?}"));
        record(&mut outputs, delete(&client, "m-absent"));
    }
    emu.inject(Fault::html(502));
    record(
        &mut outputs,
        delete(&builder(&emu).max_attempts(1).build().unwrap(), "m-1"),
    );
    emu.inject(Fault::delay(Duration::from_secs(1)));
    record(
        &mut outputs,
        delete(
            &builder(&emu)
                .credentials(temporary_credentials())
                .read_timeout(Duration::from_millis(100))
                .max_attempts(1)
                .build()
                .unwrap(),
            "m-1",
        ),
    );
    outputs.push(format!(
        "{:?}",
        builder(&emu).credentials(temporary_credentials())
    ));
    assert!(outputs.len() > 10);
    for text in &outputs {
        for secret in [SECRET, STS_SECRET, STS_TOKEN, "Wrong-S3cret-Value-0055"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}
