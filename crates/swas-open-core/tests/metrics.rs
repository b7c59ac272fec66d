//! The metrics a call records, seen by a test recorder: names, labels and values, and
//! nothing secret in them.
#![cfg(feature = "metrics")]

use std::sync::LazyLock;
use std::time::{Instant, SystemTime};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use swas_open_core::{
    Call, CallOptions, ClientBuilder, Config, Credentials, DeleteCustomImage, Exchange, Readings,
    Step,
};

fn answer(status: u16, body: &str) -> swas_open_core::http::Response<String> {
    swas_open_core::http::Response::builder()
        .status(status)
        .body(body.to_owned())
        .unwrap()
}

/// The input of every call here (a call borrows its input, and outlives the helper that
/// starts it).
static INPUT: LazyLock<DeleteCustomImage> =
    LazyLock::new(|| DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap());

/// A call of `m-1` by `config`'s client, drawing from `seed`, started at `now`.
fn start<'a>(config: &'a Config, seed: u8, now: Instant) -> Call<'a> {
    let readings = Readings::new([seed; 32], now, SystemTime::now());
    Call::new(config, &INPUT, CallOptions::new(), readings)
}

/// Runs one call whose attempts get `answers` in turn.
fn run(config: &Config, answers: &[(u16, &str)]) {
    // The start of virtual time: later instants are this one plus made-up durations.
    let mut now = Instant::now();
    let mut call = start(config, 1, now);
    let mut answers = answers.iter();
    loop {
        match call.next(now) {
            Step::Send(_) => {
                let (status, body) = answers.next().expect("an answer per attempt");
                call.receive(now, Ok(answer(*status, body)));
            }
            Step::Wait(until) => now = until,
            Step::Detach(_) => unreachable!("credentials given to the builder are fixed"),
            Step::Done(_) => return,
        }
    }
}

#[test]
fn calls_attempts_retries_and_latencies_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let config = ClientBuilder::<Config>::default()
        .credentials(
            Credentials::new("id", "top-secret-value")
                .unwrap()
                .with_security_token("sts-token-value")
                .unwrap(),
        )
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        run(
            &config,
            &[
                (503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#),
                (200, r#"{"RequestId":"R1"}"#),
            ],
        );
        run(
            &config,
            &[(
                404,
                r#"{"Code":"InvalidImageId.NotFound","Message":"gone"}"#,
            )],
        );
    });

    let snapshot = snapshotter.snapshot().into_vec();
    let shown = format!("{snapshot:?}");
    assert!(!shown.contains("top-secret-value") && !shown.contains("sts-token-value"));
    let value = |name: &str, labels: &[(&str, &str)]| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                let k = key.key();
                k.name() == name
                    && labels
                        .iter()
                        .all(|(l, v)| k.labels().any(|x| x.key() == *l && x.value() == *v))
            })
            .map(|(key, _, _, value)| match value {
                DebugValue::Counter(n) => (key.kind(), *n as usize),
                DebugValue::Histogram(samples) => (key.kind(), samples.len()),
                DebugValue::Gauge(_) => (key.kind(), usize::MAX),
            })
    };
    let (counter, histogram) = (MetricKind::Counter, MetricKind::Histogram);
    let not_found = [
        ("outcome", "error"),
        ("error_type", "InvalidImageId.NotFound"),
    ];
    let expected: [(&str, &[(&str, &str)], _); 6] = [
        ("swas_open_attempts_total", &[], (counter, 3)),
        ("swas_open_retries_total", &[], (counter, 1)),
        ("swas_open_calls_total", &[("outcome", "ok")], (counter, 1)),
        ("swas_open_calls_total", &not_found, (counter, 1)),
        ("swas_open_attempt_duration_seconds", &[], (histogram, 3)),
        (
            "swas_open_call_duration_seconds",
            &[("outcome", "ok")],
            (histogram, 1),
        ),
    ];
    for (name, labels, recorded) in expected {
        assert_eq!(value(name, labels), Some(recorded), "{name} {labels:?}");
    }
    assert_eq!(value("swas_open_retry_budget_refusals_total", &[]), None);
}

#[test]
fn a_call_dropped_before_its_end_is_counted_as_cancelled() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let config = ClientBuilder::<Config>::default()
        .credentials(Credentials::new("id", "secret-value").unwrap())
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        // One clock reading, the start of virtual time: nothing here waits.
        let now = Instant::now();
        // Dropped with its request in flight, and dropped before it started.
        let mut call = start(&config, 2, now);
        assert!(matches!(call.next(now), Step::Send(_)));
        drop(call);
        drop(start(&config, 3, now));
        // A finished call is not.
        let mut done = start(&config, 4, now);
        assert!(matches!(done.next(now), Step::Send(_)));
        done.receive(now, Ok(answer(200, r#"{"RequestId":"R"}"#)));
        assert!(matches!(done.next(now), Step::Done(Ok(_))));
    });
    let counts: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "swas_open_calls_total")
        .filter_map(|(key, _, _, value)| {
            let outcome = key
                .key()
                .labels()
                .find(|l| l.key() == "outcome")?
                .value()
                .to_owned();
            match value {
                DebugValue::Counter(n) => Some((outcome, n)),
                _ => None,
            }
        })
        .collect();
    assert!(counts.contains(&("cancelled".to_owned(), 2)), "{counts:?}");
    assert!(counts.contains(&("ok".to_owned(), 1)), "{counts:?}");
}
