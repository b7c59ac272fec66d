//! The scenarios: each a function of a [`Driver`], run against real sockets.
//!
//! Every scenario is a private function named in [`list`]; helpers are private too.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use swas_open_core::{
    ClientBuilder, Credentials, DeleteCustomImage, Error, ErrorCode, ErrorKind, RetryPolicy,
    ServiceError, SignatureVersion, TimeoutKind, TransportFailure,
};
use swas_open_core::{ParseError, ParseErrorKind};
use swas_open_emulator::{Emulator, Fault};

use crate::server::closed_port;
use crate::storm::{throttling_storm, STORM_CALLS};
use crate::{
    builder, builder_for, capture, clear_faults, emulator, emulator_builder, emulator_with,
    image_ids, input, quick_retries, quick_retries_without_budget, temporary_credentials,
    CallResult, CannedServer, Driver, ID, REGION, SECRET, SHARED_IMAGE, STS_ID, STS_SECRET,
    STS_TOKEN,
};

/// The scenarios of this module.
pub(crate) fn list<D: Driver>() -> Vec<crate::Scenario<D>> {
    crate::scenario_list![
        success_with_v1_and_v3,
        a_given_client_token_is_used,
        outcomes_in_sequence,
        not_found_is_a_service_error_with_every_field,
        shared_image_is_refused,
        wrong_secret_does_not_match,
        sts_credentials,
        unavailable_twice_then_success,
        retries_stop_at_max_attempts,
        gives_up_after_max_attempts,
        throttling_waits_for_the_hint,
        commit_then_drop_replays_the_first_answer,
        commit_then_drop_without_retries_is_a_reset,
        read_timeout_fires,
        deadline_bounds_the_call,
        a_retry_that_would_pass_the_deadline_is_not_made,
        html_page_is_a_parse_error_with_its_status,
        truncated_body_is_a_parse_error_when_no_retry_is_left,
        truncated_body_is_retried_with_the_token,
        one_connection_for_many_calls,
        a_deadline_keeps_the_pool,
        calls_from_many_threads_or_tasks,
        faults_among_concurrent_calls_are_retried,
        dropped_connections_under_load,
        oversized_body_is_capped,
        oversized_chunked_body_is_capped,
        redirects_are_not_followed,
        connection_refused_is_a_connect_failure,
        unknown_host_is_a_dns_failure,
        connect_timeout_fires,
        https_endpoint_speaks_tls,
        failed_tls_handshake_is_a_tls_failure,
        builder_rejects_bad_configuration,
        region_fixes_the_endpoint_unless_one_is_given,
        no_secret_in_any_error_or_debug_output,
        no_secret_with_temporary_credentials,
        one_span_per_call_and_one_event_per_attempt,
        garbled_answers_under_load_all_succeed,
        clock_skew_is_corrected_once_and_remembered,
        expired_timestamp_without_a_usable_date_is_left_alone,
        outage_is_bounded_by_the_retry_budget,
        outage_without_a_budget_triples_the_load,
        adaptive_mode_rides_out_a_throttling_storm,
        an_expired_token_answer_drops_the_cached_credentials,
    ]
}

const VERSIONS: [SignatureVersion; 2] = [SignatureVersion::V1, SignatureVersion::V3];

fn build<D: Driver>(builder: ClientBuilder<D::Client>) -> D::Client {
    builder.build().expect("client builds")
}

fn client<D: Driver>(emu: &Emulator) -> D::Client {
    build::<D>(builder(emu))
}

fn delete<D: Driver>(d: &D, client: &D::Client, image: &str) -> CallResult {
    d.delete(client, &input(image))
}

fn inputs(ids: &[String]) -> Vec<DeleteCustomImage> {
    ids.iter().map(|id| input(id)).collect()
}

fn unavailable() -> Fault {
    Fault::error(503, ErrorCode::ServiceUnavailable)
}

/// The error of a call that must have failed with the service error `code`; `context` says
/// which case of a scenario it was.
#[track_caller]
fn refused_with(result: CallResult, code: ErrorCode, context: impl fmt::Debug) -> Error {
    let e = match result {
        Err(e) => e,
        Ok(out) => panic!("{context:?}: expected {code:?}, got {out:?}"),
    };
    assert_eq!(e.code(), Some(&code), "{context:?}: {e:?}");
    e
}

/// The service error a call failed with.
#[track_caller]
fn service_error(e: &Error) -> &ServiceError {
    match e.kind() {
        ErrorKind::Service(service) => service,
        _ => panic!("expected a service error: {e:?}"),
    }
}

/// The parse error a call failed with.
#[track_caller]
fn parse_error(result: CallResult) -> ParseError {
    match result.map_err(Error::into_kind) {
        Err(ErrorKind::Parse(e)) => e,
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// Asserts that a call failed with a timeout of `kind` at `limit`.
#[track_caller]
fn assert_timeout(result: &CallResult, kind: TimeoutKind, limit: Duration) {
    match result.as_ref().map_err(Error::kind) {
        Err(ErrorKind::Timeout {
            kind: k,
            limit: hit,
        }) if *k == kind => assert_eq!(*hit, limit),
        other => panic!("expected a {kind:?} timeout, got {other:?}"),
    }
}

/// Asserts that a call failed without an answer, of class `kind`.
#[track_caller]
fn assert_transport(result: &CallResult, kind: TransportFailure) {
    assert!(
        matches!(result, Err(e) if matches!(e.kind(), ErrorKind::Transport { kind: k, .. } if *k == kind)),
        "expected a {kind:?} transport failure, got {result:?}"
    );
}

/// Asserts that every call succeeded, listing the errors if not.
#[track_caller]
fn assert_no_failures(results: &[CallResult]) {
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
}

/// Retries made by successful calls.
fn retries(results: &[CallResult]) -> u32 {
    results
        .iter()
        .map(|r| r.as_ref().map_or(0, |o| o.attempts - 1))
        .sum()
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

fn success_with_v1_and_v3<D: Driver>(d: &D) {
    let emu = emulator(&["m-1", "m-2"]);
    for (version, image) in VERSIONS.into_iter().zip(["m-1", "m-2"]) {
        let client = build::<D>(builder(&emu).signature_version(version));
        let out = delete(d, &client, image).unwrap();
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

fn a_given_client_token_is_used<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    let client = client::<D>(&emu);
    let op = input("m-1").with_client_token("my-token-1").unwrap();
    let out = d.delete(&client, &op).unwrap();
    assert_eq!(out.client_token.as_str(), "my-token-1");
    // The same token again, from another client: the service replays the first answer.
    let again = d.delete(&self::client::<D>(&emu), &op).unwrap();
    assert_eq!(again.request_id, out.request_id);
    assert_eq!(emu.stats().deletes, 1);
}

/// What a call came to, comparable across calls.
#[derive(Debug, PartialEq)]
enum Outcome {
    Deleted { attempts: u32 },
    Failed(ErrorCode),
}

fn outcome(result: CallResult) -> Outcome {
    match result {
        Ok(out) => Outcome::Deleted {
            attempts: out.attempts,
        },
        Err(e) => Outcome::Failed(e.code().cloned().unwrap_or_else(|| panic!("{e}"))),
    }
}

fn outcomes_in_sequence<D: Driver>(d: &D) {
    for version in VERSIONS {
        let emu = emulator(&["m-1", "m-2"]);
        let call = |secret: &str, image: &str| {
            let client = build::<D>(
                builder(&emu)
                    .credentials(Credentials::new(ID, secret).unwrap())
                    .signature_version(version),
            );
            outcome(delete(d, &client, image))
        };
        let mut outcomes = vec![
            call(SECRET, "m-1"),
            call(SECRET, "m-1"),
            call(SECRET, SHARED_IMAGE),
            call("wrong", "m-2"),
        ];
        emu.inject(unavailable().times(2));
        outcomes.push(call(SECRET, "m-2"));
        assert_eq!(
            outcomes,
            [
                Outcome::Deleted { attempts: 1 },
                Outcome::Failed(ErrorCode::InvalidImageIdNotFound),
                Outcome::Failed(ErrorCode::CustomImageInShare),
                Outcome::Failed(ErrorCode::SignatureDoesNotMatch),
                Outcome::Deleted { attempts: 3 },
            ],
            "{version:?}"
        );
        assert_eq!(emu.stats().deletes, 2);
    }
}

fn not_found_is_a_service_error_with_every_field<D: Driver>(d: &D) {
    let emu = emulator(&[]);
    for version in VERSIONS {
        let client = build::<D>(builder(&emu).signature_version(version));
        let result = delete(d, &client, "m-absent");
        let e = refused_with(result, ErrorCode::InvalidImageIdNotFound, version);
        let service = service_error(&e);
        assert_eq!(service.status, 404);
        assert!(service.request_id.is_some());
        assert!(service.host_id.is_some());
        assert!(service.recommend.is_some());
        assert!(!service.message.is_empty());
        assert_eq!(e.attempts(), 1);
    }
    // Not retryable: one request per call.
    assert_eq!(emu.stats().requests, 2);
}

fn shared_image_is_refused<D: Driver>(d: &D) {
    let emu = emulator(&[]);
    let result = delete(d, &client::<D>(&emu), SHARED_IMAGE);
    refused_with(result, ErrorCode::CustomImageInShare, SHARED_IMAGE);
    assert!(emu.has_image(REGION, SHARED_IMAGE));
    assert_eq!(emu.stats().requests, 1);
}

fn wrong_secret_does_not_match<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    for version in VERSIONS {
        let client = build::<D>(
            builder(&emu)
                .credentials(Credentials::new(ID, "not-the-secret").unwrap())
                .signature_version(version),
        );
        let result = delete(d, &client, "m-1");
        let e = refused_with(result, ErrorCode::SignatureDoesNotMatch, version);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("not-the-secret"), "{shown}");
    }
    assert!(emu.has_image(REGION, "m-1"));
}

fn sts_credentials<D: Driver>(d: &D) {
    let emu = emulator(&["m-1", "m-2"]);
    for (version, image) in VERSIONS.into_iter().zip(["m-1", "m-2"]) {
        let client = build::<D>(
            builder(&emu)
                .credentials(temporary_credentials())
                .signature_version(version),
        );
        delete(d, &client, image).unwrap();
    }
    // Without the token, the same key is refused.
    emu.add_image(REGION, "m-3", false);
    let client =
        build::<D>(builder(&emu).credentials(Credentials::new(STS_ID, STS_SECRET).unwrap()));
    let result = delete(d, &client, "m-3");
    assert!(
        matches!(&result, Err(e) if matches!(e.kind(), ErrorKind::Service(_))),
        "{result:?}"
    );
    assert_eq!(emu.stats().deletes, 2);
}

fn unavailable_twice_then_success<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(unavailable().times(2));
    let out = delete(d, &client::<D>(&emu), "m-1").unwrap();
    assert_eq!(out.attempts, 3);
    let stats = emu.stats();
    assert_eq!((stats.requests, stats.deletes), (3, 1));
}

fn retries_stop_at_max_attempts<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(unavailable().times(5));
    let client = build::<D>(builder(&emu).retry_policy(RetryPolicy::new(2)));
    let result = delete(d, &client, "m-1");
    let e = refused_with(result, ErrorCode::ServiceUnavailable, "two attempts");
    assert_eq!(e.attempts(), 2);
    assert!(!e.retry_budget_exhausted());
    assert_eq!(emu.stats().requests, 2);
}

fn gives_up_after_max_attempts<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::error(500, ErrorCode::InternalError).times(5));
    let result = delete(d, &client::<D>(&emu), "m-1");
    let e = refused_with(result, ErrorCode::InternalError, "three attempts");
    assert_eq!(e.attempts(), 3);
    assert_eq!(emu.stats().requests, 3);
    assert!(emu.has_image(REGION, "m-1"));
}

fn throttling_waits_for_the_hint<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::throttling(300));
    // A cap above the hint: a hint past the cap ends the call instead (see `hostile`).
    let mut policy = quick_retries(3);
    policy.max_delay = Duration::from_secs(1);
    let client = build::<D>(builder(&emu).retry_policy(policy));
    // socket: that the transport really sleeps the hint before the retry. A lower
    // bound, which load cannot break; the wait's rules are checked in virtual time.
    let started = Instant::now();
    let out = delete(d, &client, "m-1").unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.attempts, 2);
}

fn commit_then_drop_replays_the_first_answer<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::drop_after_commit());
    let out = delete(d, &client::<D>(&emu), "m-1").unwrap();
    assert_eq!(out.attempts, 2);
    assert_eq!(emu.stats().requests, 2);
    assert_eq!(emu.stats().deletes, 1);
    assert!(!emu.has_image(REGION, "m-1"));
}

fn commit_then_drop_without_retries_is_a_reset<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::drop_after_commit());
    let client = build::<D>(builder(&emu).retry_policy(RetryPolicy::new(1)));
    let result = delete(d, &client, "m-1");
    assert_transport(&result, TransportFailure::Reset);
    let e = result.unwrap_err();
    assert!(e.outcome_unknown());
    assert!(
        e.client_token().is_some(),
        "the caller can repeat it safely"
    );
}

fn read_timeout_fires<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    // socket: a server that stalls; it holds the answer 2 s, ten times the read bound.
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = build::<D>(
        builder(&emu)
            .read_timeout(Duration::from_millis(200))
            .retry_policy(RetryPolicy::new(1)),
    );
    let result = delete(d, &client, "m-1");
    assert_timeout(&result, TimeoutKind::Read, Duration::from_millis(200));
}

fn deadline_bounds_the_call<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    // socket: a server that stalls; it holds the answer 2 s, ten times the deadline.
    emu.inject(Fault::delay(Duration::from_secs(2)));
    let client = build::<D>(builder(&emu).deadline(Duration::from_millis(200)));
    let result = delete(d, &client, "m-1");
    assert_timeout(&result, TimeoutKind::Deadline, Duration::from_millis(200));
    assert_eq!(emu.stats().requests, 1);
}

fn a_retry_that_would_pass_the_deadline_is_not_made<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::throttling(60_000));
    // A cap above the hint, so that the deadline is what refuses the wait.
    let mut policy = quick_retries(3);
    policy.max_delay = Duration::from_secs(120);
    let client = build::<D>(
        builder(&emu)
            .deadline(Duration::from_secs(2))
            .retry_policy(policy),
    );
    // socket: the call returns at once instead of sleeping until its deadline (one
    // loopback request against a 2 s bound); the rule itself is checked in virtual time.
    let started = Instant::now();
    let result = delete(d, &client, "m-1");
    refused_with(result, ErrorCode::Throttling, "a hint past the deadline");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(emu.stats().requests, 1);
}

fn html_page_is_a_parse_error_with_its_status<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::html(502));
    let once = build::<D>(builder(&emu).retry_policy(RetryPolicy::new(1)));
    let e = parse_error(delete(d, &once, "m-1"));
    assert_eq!(e.status, 502);
    assert_eq!(e.kind, ParseErrorKind::NotJson);
    assert!(e.snippet.contains('<'), "{e:?}");
    assert_eq!(emu.stats().requests, 1);
    // A proxy's 5xx page is retried when retries are allowed, up to the last attempt...
    emu.inject(Fault::html(502).times(3));
    let result = delete(d, &client::<D>(&emu), "m-1");
    assert_eq!(result.as_ref().map_err(Error::attempts).unwrap_err(), 3);
    assert_eq!(parse_error(result).status, 502);
    assert_eq!(emu.stats().requests, 4);
    // ...and the next answer is the service's.
    emu.inject(Fault::html(502));
    let out = delete(d, &client::<D>(&emu), "m-1").unwrap();
    assert_eq!(out.attempts, 2);
}

fn truncated_body_is_a_parse_error_when_no_retry_is_left<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::truncated());
    let client = build::<D>(builder(&emu).retry_policy(RetryPolicy::new(1)));
    let result = delete(d, &client, "m-1");
    let token = result.as_ref().unwrap_err().client_token().cloned();
    assert!(token.is_some());
    let e = parse_error(result);
    assert_eq!(e.status, 200);
    assert_eq!(e.kind, ParseErrorKind::NotJson);
    assert_eq!(emu.stats().deletes, 1);
    // The token the error carries repeats the call safely: the first answer comes back.
    let op = input("m-1")
        .with_client_token(token.unwrap().as_str())
        .unwrap();
    let out = d.delete(&client, &op).unwrap();
    assert_eq!(out.attempts, 1);
    assert_eq!(emu.stats().deletes, 1);
}

fn truncated_body_is_retried_with_the_token<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    emu.inject(Fault::truncated());
    let out = delete(d, &client::<D>(&emu), "m-1").unwrap();
    assert_eq!(out.attempts, 2, "the garbled answer is asked again");
    assert_eq!(emu.stats().deletes, 1);
}

fn one_connection_for_many_calls<D: Driver>(d: &D) {
    let ids: Vec<String> = (0..26).map(|i| format!("m-reuse-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let emu = emulator(&refs);
    let client = client::<D>(&emu);
    let clone = client.clone();
    for (i, id) in ids[..20].iter().enumerate() {
        let c = if i % 2 == 0 { &client } else { &clone };
        delete(d, c, id).unwrap();
    }
    // Error answers keep the connection too.
    for _ in 0..5 {
        delete(d, &client, "m-absent").unwrap_err();
    }
    // So do calls through a clone on other threads or tasks, one after the other.
    for id in &ids[20..] {
        assert_no_failures(&d.delete_all(&clone, vec![input(id)], 1));
    }
    let stats = emu.stats();
    assert_eq!((stats.deletes, stats.requests), (26, 31));
    assert_eq!(stats.connections, 1);
}

fn a_deadline_keeps_the_pool<D: Driver>(d: &D) {
    // A deadline is applied per request; the connection is still reused.
    let emu = emulator(&["m-1"]);
    let client = build::<D>(builder(&emu).deadline(Duration::from_secs(30)));
    for _ in 0..10 {
        delete(d, &client, "m-absent").unwrap_err();
    }
    delete(d, &client, "m-1").unwrap();
    assert_eq!(emu.stats().requests, 11);
    assert_eq!(emu.stats().connections, 1);
}

fn calls_from_many_threads_or_tasks<D: Driver>(d: &D) {
    let ids = image_ids(8);
    let emu = emulator_with(8);
    let results = d.delete_all(&client::<D>(&emu), inputs(&ids), 8);
    assert_no_failures(&results);
    assert_eq!(emu.stats().deletes, 8);
}

/// A hundred calls, `concurrency` at once, through one client of `attempts` attempts, while
/// `fault` is pending for the first `faults` requests: every call succeeds, each fault costs
/// exactly one retry, and every image is deleted once.
fn concurrent_calls_outlast<D: Driver>(
    d: &D,
    fault: Fault,
    faults: u32,
    attempts: u32,
    concurrency: usize,
) {
    let ids = image_ids(100);
    let emu = emulator_with(100);
    emu.inject(fault.times(faults as usize));
    let client = build::<D>(builder(&emu).retry_policy(quick_retries(attempts)));
    let results = d.delete_all(&client, inputs(&ids), concurrency);
    assert_no_failures(&results);
    assert_eq!(retries(&results), faults);
    let stats = emu.stats();
    assert_eq!(
        (stats.deletes, stats.requests),
        (100, 100 + u64::from(faults))
    );
}

fn faults_among_concurrent_calls_are_retried<D: Driver>(d: &D) {
    // Any one call may meet every fault: with 11 attempts it still ends with a success.
    concurrent_calls_outlast(d, unavailable(), 10, 11, 100);
}

fn dropped_connections_under_load<D: Driver>(d: &D) {
    // Each committed-then-dropped delete is replayed by its ClientToken, never repeated.
    concurrent_calls_outlast(d, Fault::drop_after_commit(), 5, 6, 32);
}

/// A 200 answer whose body is `len` bytes of `x`.
fn oversized_answer(len: usize) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
    .into_bytes();
    answer.resize(answer.len() + len, b'x');
    answer
}

fn oversized_body_is_capped<D: Driver>(d: &D) {
    let server = CannedServer::start(oversized_answer(2 * 1024 * 1024));
    let client = build::<D>(builder_for(&server.url()).retry_policy(RetryPolicy::new(1)));
    let e = parse_error(delete(d, &client, "m-1"));
    assert_eq!(e.status, 200);
    assert_eq!(e.kind, ParseErrorKind::TooLarge);
    assert!(e.snippet.starts_with("xxxx"), "{}", e.snippet);
    assert!(e.to_string().contains("larger than"), "{e}");
}

fn oversized_chunked_body_is_capped<D: Driver>(d: &D) {
    let chunk = vec![b'y'; 64 * 1024];
    let mut answer =
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..32 {
        answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        answer.extend_from_slice(&chunk);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    let server = CannedServer::start(answer);
    let client = build::<D>(builder_for(&server.url()).retry_policy(RetryPolicy::new(1)));
    let e = parse_error(delete(d, &client, "m-1"));
    assert_eq!(e.status, 500);
    assert_eq!(e.kind, ParseErrorKind::TooLarge);
}

fn redirects_are_not_followed<D: Driver>(d: &D) {
    let answer = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let server = CannedServer::start(answer);
    let once = build::<D>(builder_for(&server.url()).retry_policy(RetryPolicy::new(1)));
    assert_eq!(parse_error(delete(d, &once, "m-1")).status, 302);
    assert_eq!(server.requests(), 1);
    // An answer that is not the service's is asked again (the ClientToken makes it safe),
    // and never followed.
    let client = build::<D>(builder_for(&server.url()).retry_policy(quick_retries(3)));
    let result = delete(d, &client, "m-1");
    assert_eq!(result.as_ref().map_err(Error::attempts).unwrap_err(), 3);
    assert_eq!(parse_error(result).status, 302);
    assert_eq!(server.requests(), 4);
}

fn connection_refused_is_a_connect_failure<D: Driver>(d: &D) {
    let client = build::<D>(
        builder_for(&format!("http://{}", closed_port())).retry_policy(quick_retries(2)),
    );
    let result = delete(d, &client, "m-1");
    assert_transport(&result, TransportFailure::Connect);
    let e = result.unwrap_err();
    assert_eq!(e.attempts(), 2, "nothing was sent: a retry is safe");
    assert!(std::error::Error::source(&e).is_some());
}

fn unknown_host_is_a_dns_failure<D: Driver>(d: &D) {
    // A label over 63 bytes is no DNS name: the system resolver refuses it before sending a
    // query, so the test fails to resolve without leaving the machine (and `.invalid` never
    // resolves anyway, RFC 6761). A resolver that cannot answer at all runs into the connect
    // timeout instead.
    let host = format!("{}.invalid", "x".repeat(64));
    let client = build::<D>(
        builder_for(&format!("http://{host}:8080"))
            // socket: bounds only a resolver that hangs; either outcome passes.
            .connect_timeout(Duration::from_secs(3))
            .retry_policy(RetryPolicy::new(1)),
    );
    let result = delete(d, &client, "m-1");
    assert!(
        matches!(
            result.as_ref().map_err(Error::kind),
            Err(ErrorKind::Transport {
                kind: TransportFailure::Dns,
                ..
            } | ErrorKind::Timeout {
                kind: TimeoutKind::Connect,
                ..
            })
        ),
        "{result:?}"
    );
}

fn connect_timeout_fires<D: Driver>(d: &D) {
    // A listener with a full accept queue: the kernel drops further connection attempts,
    // so they hang until the client gives up.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(1).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // socket: the fillers' own connects hang too; their 5 s outlasts the client's 300 ms.
    let fillers: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || TcpStream::connect_timeout(&addr, Duration::from_secs(5))))
        .collect();
    // socket: gives the fillers time to take the backlog, so the client's connect
    // is the one the kernel leaves hanging (should one arrive late, it hangs just the same).
    thread::sleep(Duration::from_millis(100));
    let client = build::<D>(
        builder_for(&format!("http://{addr}"))
            // socket: a connect that hangs: nothing ever answers it, so the bound cannot be
            // beaten, only reached late.
            .connect_timeout(Duration::from_millis(300))
            .read_timeout(Duration::from_secs(5))
            .retry_policy(RetryPolicy::new(1)),
    );
    let result = delete(d, &client, "m-1");
    assert_timeout(&result, TimeoutKind::Connect, Duration::from_millis(300));
    drop(socket);
    for filler in fillers {
        let _ = filler.join();
    }
}

fn https_endpoint_speaks_tls<D: Driver>(d: &D) {
    // A plain-text server behind an https URL: the TLS handshake fails (it does not panic
    // for want of a crypto provider), and nothing reaches the service.
    let emu = emulator(&["m-1"]);
    let client = build::<D>(
        builder(&emu)
            .endpoint(&emu.url().replace("http://", "https://"))
            .retry_policy(RetryPolicy::new(1)),
    );
    let result = delete(d, &client, "m-1");
    assert!(
        matches!(&result, Err(e) if matches!(e.kind(), ErrorKind::Transport { .. })),
        "{result:?}"
    );
    assert_eq!(emu.stats().requests, 0);
    assert!(emu.has_image(REGION, "m-1"));
}

fn failed_tls_handshake_is_a_tls_failure<D: Driver>(d: &D) {
    // Nothing was sent, but a handshake that failed once fails again: `Tls`, not retried.
    let emu = emulator(&["m-1"]);
    let client = build::<D>(
        builder(&emu)
            .endpoint(&emu.url().replace("http://", "https://"))
            .retry_policy(quick_retries(2)),
    );
    let result = delete(d, &client, "m-1");
    assert_transport(&result, TransportFailure::Tls);
    assert_eq!(result.unwrap_err().attempts(), 1);
    assert_eq!(emu.stats().requests, 0);
}

fn builder_rejects_bad_configuration<D: Driver>(_: &D) {
    let build = |b: ClientBuilder<D::Client>| {
        b.credentials(Credentials::new(ID, SECRET).unwrap())
            .build()
            .unwrap_err()
    };
    let err = build(ClientBuilder::default().endpoint("ftp://example.com"));
    assert!(matches!(err.kind(), ErrorKind::Endpoint(_)), "{err:?}");
    let err = build(ClientBuilder::default().region("CN Hangzhou"));
    assert!(matches!(err.kind(), ErrorKind::InvalidInput(_)), "{err:?}");
    let err = build(ClientBuilder::default().user_agent_suffix("bad\nvalue"));
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
}

fn region_fixes_the_endpoint_unless_one_is_given<D: Driver>(d: &D) {
    // An explicit endpoint wins over the builder's region.
    let emu = emulator(&["m-1"]);
    let client = build::<D>(builder(&emu).region("cn-beijing"));
    delete(d, &client, "m-1").unwrap();
    assert!(format!("{client:?}").contains(&emu.url()));
    let client = build::<D>(
        ClientBuilder::default()
            .credentials(Credentials::new(ID, SECRET).unwrap())
            .region("cn-beijing"),
    );
    assert!(format!("{client:?}").contains("https://swas.cn-beijing.aliyuncs.com"));
}

/// Every text a caller may print of `result`: `Display`, `Debug` and the source chain.
fn printed(outputs: &mut Vec<String>, result: CallResult) {
    match result {
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

fn no_secret_in_any_error_or_debug_output<D: Driver>(d: &D) {
    let emu = emulator(&[]);
    let mut outputs = Vec::new();
    for version in VERSIONS {
        // A secret the service does not know, and a token it does not expect.
        let wrong = build::<D>(
            builder(&emu)
                .credentials(Credentials::new(ID, "Wrong-S3cret-Value-0055").unwrap())
                .signature_version(version),
        );
        outputs.push(format!("{wrong:?}"));
        printed(&mut outputs, delete(d, &wrong, "m-1"));
        let token_mismatch = build::<D>(
            builder(&emu)
                .credentials(
                    Credentials::new(ID, SECRET)
                        .unwrap()
                        .with_security_token(STS_TOKEN)
                        .unwrap(),
                )
                .signature_version(version),
        );
        printed(&mut outputs, delete(d, &token_mismatch, "m-1"));
        let client = build::<D>(
            builder(&emu)
                .credentials(temporary_credentials())
                .signature_version(version),
        );
        outputs.push(format!("{client:?}"));
        printed(&mut outputs, delete(d, &client, "m-absent"));
    }
    emu.inject(Fault::html(502));
    let once = build::<D>(builder(&emu).retry_policy(RetryPolicy::new(1)));
    printed(&mut outputs, delete(d, &once, "m-1"));
    // socket: a stall of a second, ten times the read bound below; whatever the outcome,
    // only its printout is checked.
    emu.inject(Fault::delay(Duration::from_secs(1)));
    let impatient = build::<D>(
        builder(&emu)
            .credentials(temporary_credentials())
            .read_timeout(Duration::from_millis(100))
            .retry_policy(RetryPolicy::new(1)),
    );
    printed(&mut outputs, delete(d, &impatient, "m-1"));
    outputs.push(format!(
        "{:?}",
        builder::<D::Client>(&emu).credentials(temporary_credentials())
    ));
    assert!(outputs.len() > 10);
    for text in &outputs {
        for secret in [SECRET, STS_SECRET, STS_TOKEN, "Wrong-S3cret-Value-0055"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

fn no_secret_with_temporary_credentials<D: Driver>(d: &D) {
    let emu = emulator(&[]);
    let mut errors = Vec::new();
    for version in VERSIONS {
        // A bad secret with a real token, and good credentials meeting every kind of failure.
        let bad = Credentials::new(STS_ID, "wrong-sts-secret-77")
            .unwrap()
            .with_security_token(STS_TOKEN)
            .unwrap();
        let client = build::<D>(builder(&emu).credentials(bad).signature_version(version));
        errors.push(delete(d, &client, "m-1").unwrap_err());
        let client = build::<D>(
            builder(&emu)
                .credentials(temporary_credentials())
                .signature_version(version)
                // socket: ten times shorter than the stall below; every outcome here is an
                // error, and only its printout is checked.
                .read_timeout(Duration::from_millis(100))
                .retry_policy(RetryPolicy::new(1)),
        );
        errors.push(delete(d, &client, "m-1").unwrap_err());
        emu.inject(Fault::html(502));
        errors.push(delete(d, &client, "m-1").unwrap_err());
        emu.inject(Fault::delay(Duration::from_secs(1)));
        errors.push(delete(d, &client, "m-1").unwrap_err());
        emu.inject(Fault::drop_after_commit());
        errors.push(delete(d, &client, "m-1").unwrap_err());
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

fn one_span_per_call_and_one_event_per_attempt<D: Driver>(d: &D) {
    let emu = emulator(&["m-1"]);
    let client = build::<D>(builder(&emu).credentials(temporary_credentials()));
    emu.inject(unavailable().times(2));
    let ((found, absent), entries) =
        capture(|| (delete(d, &client, "m-1"), delete(d, &client, "m-absent")));
    let out = found.unwrap();
    absent.unwrap_err();

    let spans: Vec<_> = entries.iter().filter(|e| e.kind == "span").collect();
    assert_eq!(spans.len(), 2, "{entries:#?}");
    assert!(spans.iter().all(|s| s.name == "delete_custom_image"));
    for (span, image) in spans.iter().zip(["\"m-1\"", "\"m-absent\""]) {
        assert_eq!(span.field("rpc.system"), Some("\"alibaba_cloud\""));
        assert_eq!(span.field("rpc.service"), Some("\"swas-open\""));
        assert_eq!(span.field("rpc.method"), Some("\"DeleteCustomImage\""));
        assert_eq!(span.field("cloud.region"), Some("\"cn-hangzhou\""));
        assert_eq!(span.field("server.address"), Some("\"127.0.0.1\""));
        assert_eq!(span.field("swas.image_id"), Some(image));
    }

    let attempts: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "event" && e.name == "attempt finished")
        .collect();
    assert_eq!(attempts.len(), 4, "{entries:#?}");
    let field =
        |name: &str| -> Vec<Option<&str>> { attempts.iter().map(|e| e.field(name)).collect() };
    assert_eq!(
        field("attempt"),
        [Some("1"), Some("2"), Some("3"), Some("1")]
    );
    assert_eq!(
        field("http.response.status_code"),
        [Some("503"), Some("503"), Some("200"), Some("404")]
    );
    assert_eq!(
        field("outcome"),
        [
            Some("\"retry\""),
            Some("\"retry\""),
            Some("\"done\""),
            Some("\"fail\"")
        ]
    );
    assert_eq!(
        attempts[0].field("error.type"),
        Some("\"ServiceUnavailable\"")
    );
    assert_eq!(
        attempts[1].field("error.type"),
        Some("\"ServiceUnavailable\"")
    );
    assert!(
        attempts[0].field("retry.delay_ms").is_some(),
        "{entries:#?}"
    );
    assert_eq!(
        attempts[2].field("alibaba_cloud.request_id"),
        Some(format!("{:?}", out.request_id).as_str())
    );
    assert_eq!(
        attempts[3].field("error.type"),
        Some("\"InvalidImageId.NotFound\"")
    );

    let everything = format!("{entries:?}");
    for secret in [STS_SECRET, STS_TOKEN] {
        assert!(!everything.contains(secret), "{secret} recorded");
    }
}

/// Deletes in the garbled-answers run, at this many at once.
const GARBLED_CALLS: usize = 2_000;
const GARBLED_CONCURRENCY: usize = 128;
/// One request in this many meets a fault; the others pass (a zero delay takes their place
/// in the emulator's queue, so the faults are spread over the whole run).
const FAULT_EVERY: usize = 25;

fn garbled_answers_under_load_all_succeed<D: Driver>(d: &D) {
    let ids = image_ids(GARBLED_CALLS);
    let emu = emulator_with(GARBLED_CALLS);
    let kinds = [
        Fault::drop_after_commit(),
        unavailable(),
        Fault::throttling(20),
        Fault::truncated(),
        Fault::html(502),
    ];
    let pass = || Fault::delay(Duration::ZERO).times(FAULT_EVERY / 2);
    let blocks = GARBLED_CALLS / FAULT_EVERY;
    for i in 0..blocks {
        emu.inject(pass());
        emu.inject(kinds[i % kinds.len()].clone());
        emu.inject(pass());
    }
    // Every fault costs one retry: 80 retries, 400 of the budget's 500 tokens, so the budget
    // never refuses. A call fails only if it meets a fault on each of its ten attempts.
    let client = build::<D>(builder(&emu).retry_policy(quick_retries(10)));
    // socket: measured for the printout only, nothing is asserted on it.
    let started = Instant::now();
    let results = d.delete_all(&client, inputs(&ids), GARBLED_CONCURRENCY);
    let elapsed = started.elapsed();
    assert_no_failures(&results);
    let stats = emu.stats();
    eprintln!(
        "garbled answers: {GARBLED_CALLS} deletes at concurrency {GARBLED_CONCURRENCY}, \
         {blocks} faults: {} requests, {} connections, {elapsed:?}",
        stats.requests, stats.connections
    );
    assert_eq!(results.len(), GARBLED_CALLS);
    assert_eq!(
        stats.deletes, GARBLED_CALLS as u64,
        "each image deleted once"
    );
    assert_eq!(emu.images(REGION), [SHARED_IMAGE], "no image left");
    // Each fault was met once and cost its call exactly one retry.
    assert_eq!(retries(&results), blocks as u32);
    assert_eq!(stats.requests, (GARBLED_CALLS + blocks) as u64);
}

/// The service's clock this far ahead of the client's (negative: behind): 20 minutes.
const SKEW_SECONDS: i64 = 20 * 60;

fn clock_skew_is_corrected_once_and_remembered<D: Driver>(d: &D) {
    for skew in [SKEW_SECONDS, -SKEW_SECONDS] {
        for version in VERSIONS {
            let emu = emulator_builder(&["m-1", "m-2", "m-3"])
                .clock_skew(skew)
                .start_blocking()
                .expect("emulator starts");
            let client = build::<D>(builder(&emu).signature_version(version));
            assert_eq!(d.clock_offset(&client), 0);
            let first = delete(d, &client, "m-1").unwrap();
            assert_eq!(first.attempts, 2, "{skew} {version:?}");
            let offset = d.clock_offset(&client);
            // The Date header has whole seconds, and a second may turn between the two reads.
            assert!(
                (offset - skew).abs() <= 2,
                "offset {offset}, skew {skew}, {version:?}"
            );
            let next = delete(d, &client, "m-2").unwrap();
            assert_eq!(next.attempts, 1, "{skew} {version:?}");
            assert_eq!(d.clock_offset(&client), offset);
            // The correction is not a retry: a client of one attempt makes it too.
            let single = build::<D>(
                builder(&emu)
                    .signature_version(version)
                    .retry_policy(quick_retries(1)),
            );
            assert_eq!(delete(d, &single, "m-3").unwrap().attempts, 2);
            let stats = emu.stats();
            assert_eq!(
                (stats.requests, stats.deletes),
                (5, 3),
                "{skew} {version:?}"
            );
        }
    }
}

fn expired_timestamp_without_a_usable_date_is_left_alone<D: Driver>(d: &D) {
    let body = r#"{"RequestId":"SKEW-REQUEST-1","HostId":"swas.cn-hangzhou.aliyuncs.com","Code":"InvalidTimeStamp.Expired","Message":"Specified time stamp or date header is expired."}"#;
    for date in [None, Some("garbage"), Some("Tue, 31 Feb 2026 25:61:00 GMT")] {
        let date_line = date.map_or(String::new(), |v| format!("Date: {v}\r\n"));
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n{date_line}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        for version in VERSIONS {
            let server = CannedServer::start(answer.clone());
            let client = build::<D>(
                builder_for(&server.url())
                    .signature_version(version)
                    .retry_policy(quick_retries(3)),
            );
            let result = delete(d, &client, "m-1");
            let e = refused_with(result, ErrorCode::InvalidTimeStampExpired, date);
            let service = service_error(&e);
            assert_eq!(service.status, 400);
            assert_eq!(
                service.message,
                "Specified time stamp or date header is expired."
            );
            assert_eq!(service.request_id.as_deref(), Some("SKEW-REQUEST-1"));
            assert_eq!(e.attempts(), 1, "{date:?} {version:?}");
            assert_eq!(server.requests(), 1, "{date:?} {version:?}");
            assert_eq!(d.clock_offset(&client), 0);
        }
    }
}

/// Calls in the outage runs, at this many at once.
const OUTAGE_CALLS: usize = 1_000;
const OUTAGE_CONCURRENCY: usize = 100;

/// Runs [`OUTAGE_CALLS`] deletes through one client while every request is answered 503,
/// and reports how many requests that took, and how long, for the outage `what`; returns the
/// errors and the requests the emulator counted.
fn outage<D: Driver>(d: &D, emu: &Emulator, client: &D::Client, what: &str) -> (Vec<Error>, u64) {
    emu.inject(unavailable().times(1_000_000));
    let ids = image_ids(OUTAGE_CALLS);
    // socket: measured for the printout only, nothing is asserted on it.
    let started = Instant::now();
    let results = d.delete_all(client, inputs(&ids), OUTAGE_CONCURRENCY);
    let elapsed = started.elapsed();
    let errors: Vec<Error> = results
        .into_iter()
        .map(|r| r.expect_err("no call succeeds in an outage"))
        .collect();
    for e in &errors {
        assert_eq!(e.code(), Some(&ErrorCode::ServiceUnavailable), "{e:?}");
        assert!(e.client_token().is_some(), "{e:?}");
    }
    let stats = emu.stats();
    assert_eq!(stats.deletes, 0);
    assert_eq!(
        errors.iter().map(|e| u64::from(e.attempts())).sum::<u64>(),
        stats.requests,
        "every request was an attempt of one call"
    );
    eprintln!(
        "outage {what}: {} requests for {OUTAGE_CALLS} calls at concurrency \
         {OUTAGE_CONCURRENCY}, {elapsed:?}",
        stats.requests
    );
    (errors, stats.requests)
}

fn outage_is_bounded_by_the_retry_budget<D: Driver>(d: &D) {
    let emu = emulator_with(OUTAGE_CALLS);
    // Three quick attempts and the default budget: 500 tokens, 5 a retry, 1 back a success.
    let client = client::<D>(&emu);
    let (errors, requests) = outage(d, &emu, &client, "with the retry budget");
    assert!(requests <= 1_100, "{requests} requests");
    let mut refused = 0;
    for e in &errors {
        if e.retry_budget_exhausted() {
            refused += 1;
            assert!(e.attempts() < 3, "{e:?}");
            assert!(
                e.to_string().contains("retry budget is exhausted"),
                "not a clear error: {e}"
            );
        } else {
            assert_eq!(e.attempts(), 3, "{e:?}");
        }
    }
    // 100 retries at most, so at most 50 calls made all three attempts.
    assert!(refused >= OUTAGE_CALLS - 50, "{refused} refused");

    // Recovery: the bucket is empty, and a failure puts nothing back.
    assert!(clear_faults(&emu) > 0);
    emu.inject(unavailable());
    let e = delete(d, &client, "m-0000").unwrap_err();
    assert!(e.retry_budget_exhausted(), "{e:?}");
    assert_eq!(e.attempts(), 1);
    // Five successes put back the five tokens of one retry...
    for id in &image_ids(6)[1..] {
        assert_eq!(delete(d, &client, id).unwrap().attempts, 1);
    }
    // ...so retries resume, one at a time.
    emu.inject(unavailable());
    assert_eq!(delete(d, &client, "m-0006").unwrap().attempts, 2);
    emu.inject(unavailable());
    let e = delete(d, &client, "m-0007").unwrap_err();
    assert!(e.retry_budget_exhausted(), "{e:?}");
    assert_eq!(emu.stats().deletes, 6);
}

fn outage_without_a_budget_triples_the_load<D: Driver>(d: &D) {
    let emu = emulator_with(OUTAGE_CALLS);
    let client = build::<D>(builder(&emu).retry_policy(quick_retries_without_budget(3)));
    let (errors, requests) = outage(d, &emu, &client, "without a retry budget");
    assert_eq!(requests, 3 * OUTAGE_CALLS as u64);
    for e in &errors {
        assert!(!e.retry_budget_exhausted(), "{e:?}");
        assert_eq!(e.attempts(), 3, "{e:?}");
    }
}

/// Adaptive mode over sockets in a throttling storm: every call succeeds while the client
/// waits for its send tokens (the sleeps only a transport takes), and the throttled answers
/// stay a small multiple of the calls (in practice a quarter of them; without adaptive mode,
/// seven times as many). Only counts are checked here: how far adaptive mode calms the storm
/// and at what rate it sends is checked exactly in virtual time (the core's
/// `tests/time_rules.rs`) and measured by the blocking client's `throttling_storm` bench.
fn adaptive_mode_rides_out_a_throttling_storm<D: Driver>(d: &D) {
    let storm = throttling_storm(d, true);
    assert!(
        storm.throttled <= 3 * STORM_CALLS as u64,
        "{} throttled answers for {STORM_CALLS} calls",
        storm.throttled
    );
}

/// A role the refresh scenarios assume with the plain test key.
const REFRESH_ROLE: &str = "acs:ram::123456789012:role/refresh";

/// An emulator whose STS lets the plain key assume [`REFRESH_ROLE`], issuing credentials
/// for `lifetime`, holding `images`; and a client of `D` that gets its credentials from that
/// role, one attempt a call.
fn role_client<D: Driver>(images: &[&str], lifetime: Duration) -> (Emulator, D::Client) {
    let emu = emulator_builder(images)
        .role(swas_open_emulator::Role::new(REFRESH_ROLE))
        .credential_lifetime(lifetime)
        .start_blocking()
        .expect("emulator starts");
    let provider = swas_open_core::CredentialsProvider::ram_role_arn(
        Credentials::new(ID, SECRET).expect("valid credentials"),
        REFRESH_ROLE,
        crate::creds::role_options(&emu),
    );
    let client = build::<D>(
        ClientBuilder::default()
            .credentials(provider)
            .endpoint(&emu.url())
            .retry_policy(quick_retries(1)),
    );
    (emu, client)
}

/// When the service answers `InvalidSecurityToken.Expired` to credentials the client still
/// deems valid (its clock and the service's disagree, or they were revoked), that call
/// fails, and the next one fetches new credentials instead of failing the same way.
fn an_expired_token_answer_drops_the_cached_credentials<D: Driver>(d: &D) {
    let (emu, client) = role_client::<D>(&["m-1", "m-2", "m-3"], Duration::from_secs(3600));
    delete(d, &client, "m-1").expect("first call");
    assert_eq!(emu.stats().sts_requests, 1);
    emu.inject(Fault::error(400, "InvalidSecurityToken.Expired"));
    let result = delete(d, &client, "m-2");
    let e = refused_with(result, ErrorCode::InvalidSecurityTokenExpired, "m-2");
    assert_eq!(e.attempts(), 1);
    assert_eq!(
        emu.stats().sts_requests,
        1,
        "the failed call fetches nothing"
    );
    delete(d, &client, "m-2").expect("signed with new credentials");
    delete(d, &client, "m-3").expect("and those are cached");
    let stats = emu.stats();
    assert_eq!((stats.sts_requests, stats.credentials_issued), (2, 2));
    assert_eq!(stats.deletes, 3);
}
