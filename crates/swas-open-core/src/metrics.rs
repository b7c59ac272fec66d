//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`): the
//! application installs whatever recorder (exporter) it runs; without one, or without the
//! feature, these are no-ops.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `swas_open_calls_total` | counter | `outcome` (`ok`, `error`, `cancelled`), `error_type` | calls that ended, and calls dropped before their end (`cancelled`); `error_type` is the service's code or `parse`, `timeout`, `transport`, `client` |
//! | `swas_open_attempts_total` | counter | | requests sent |
//! | `swas_open_retries_total` | counter | | retries made |
//! | `swas_open_retry_budget_refusals_total` | counter | | retries not made because the retry budget was empty |
//! | `swas_open_call_duration_seconds` | histogram | `outcome` | whole calls, waits included |
//! | `swas_open_attempt_duration_seconds` | histogram | | one request to its answer or failure |
//! | `swas_open_throttle_wait_seconds` | histogram | | waits for a send token in adaptive mode |

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::response::DeleteCustomImageOutput as DeleteOutput;

#[cfg(feature = "metrics")]
mod on {
    use super::*;

    pub(crate) fn attempt() {
        metrics::counter!("swas_open_attempts_total").increment(1);
    }

    pub(crate) fn retry() {
        metrics::counter!("swas_open_retries_total").increment(1);
    }

    pub(crate) fn budget_refusal() {
        metrics::counter!("swas_open_retry_budget_refusals_total").increment(1);
    }

    pub(crate) fn attempt_duration(sent: Instant, now: Instant) {
        let d = now.saturating_duration_since(sent);
        metrics::histogram!("swas_open_attempt_duration_seconds").record(d.as_secs_f64());
    }

    pub(crate) fn throttle_wait(d: Duration) {
        metrics::histogram!("swas_open_throttle_wait_seconds").record(d.as_secs_f64());
    }

    pub(crate) fn cancelled() {
        metrics::counter!("swas_open_calls_total", "outcome" => "cancelled", "error_type" => "")
            .increment(1);
    }

    pub(crate) fn call(start: Instant, now: Instant, result: &Result<DeleteOutput, Error>) {
        let d = now.saturating_duration_since(start);
        let (outcome, error_type) = match result {
            Ok(_) => ("ok", String::new()),
            Err(e) => ("error", crate::error::error_type(e).to_owned()),
        };
        metrics::counter!("swas_open_calls_total", "outcome" => outcome, "error_type" => error_type)
            .increment(1);
        metrics::histogram!("swas_open_call_duration_seconds", "outcome" => outcome)
            .record(d.as_secs_f64());
    }
}

// Durations are taken from their instants here, so that without the feature no clock
// arithmetic is left on a call's path.
#[cfg(not(feature = "metrics"))]
mod on {
    use super::*;

    pub(crate) fn attempt() {}
    pub(crate) fn retry() {}
    pub(crate) fn budget_refusal() {}
    pub(crate) fn attempt_duration(_: Instant, _: Instant) {}
    pub(crate) fn throttle_wait(_: Duration) {}
    pub(crate) fn cancelled() {}
    pub(crate) fn call(_: Instant, _: Instant, _: &Result<DeleteOutput, Error>) {}
}

pub(crate) use on::*;
