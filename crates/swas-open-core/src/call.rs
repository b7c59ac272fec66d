//! One DeleteCustomImage call with retries, as a state machine with no I/O.
//!
//! A transport drives it: ask for the attempt's request ([`Call::request`], signed with a
//! fresh timestamp and nonce), send it, hand back the answer ([`Call::on_response`]) or the
//! failure ([`Call::on_error`]), and follow the [`Step`]: done, sleep and retry, or fail.
//! All protocol decisions live here, so the blocking and async clients behave identically.
//!
//! The call always carries a `ClientToken` (the caller's, or a UUID made from the random
//! bytes the transport passes in) and keeps it across attempts: a retried delete whose first
//! attempt did succeed returns the original answer instead of `InvalidImageId.NotFound`.
//!
//! ```
//! use swas_open_core::call::{Call, Step};
//! use swas_open_core::{Credentials, DeleteCustomImage, Endpoint, Nonce, RetryPolicy, Signer,
//!     SigningContext, Timestamp};
//!
//! let signer = Signer::new(Credentials::new("id", "secret")?);
//! let op = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
//! let mut call = Call::new(&signer, &op, Endpoint::for_region(op.region_id()),
//!     RetryPolicy::default(), [7; 16]);
//! let ctx = SigningContext::new(Timestamp::from_unix(1_700_000_000)?, Nonce::new("n1")?);
//! let request = call.request(&ctx);
//! assert!(request.uri().query().unwrap().contains("ClientToken="));
//!
//! let busy = http::Response::builder().status(503)
//!     .body(r#"{"Code":"ServiceUnavailable","Message":"busy"}"#)?;
//! assert!(matches!(call.on_response(&busy, 0.5), Step::Retry { .. }));
//!
//! let ok = http::Response::builder().status(200).body(r#"{"RequestId":"R1"}"#)?;
//! match call.on_response(&ok, 0.5) {
//!     Step::Done(out) => assert_eq!(out.request_id, "R1"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant, SystemTime};

use crate::encode::percent_encode;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::error::TimeoutKind;
use crate::input::{ClientToken, DeleteCustomImage};
use crate::response::parse_delete_custom_image;
use crate::retry::{Decision, Outcome, RetryPolicy};
use crate::sign::{Nonce, Signer, SigningContext};
use crate::time::Timestamp;
use crate::ACTION;

/// The result of a successful call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteOutput {
    /// The service's `RequestId`.
    pub request_id: String,
    /// The `ClientToken` the call sent (given or generated); reuse it to repeat the call safely.
    pub client_token: ClientToken,
    /// How many attempts it took.
    pub attempts: u32,
}

/// What the transport does next.
#[derive(Debug)]
pub enum Step {
    /// The call succeeded.
    Done(DeleteOutput),
    /// Wait `after`, then make another attempt. `error` is what this attempt failed with:
    /// return it if the wait would overrun a deadline.
    Retry {
        /// The delay before the next attempt.
        after: Duration,
        /// The failure of the attempt that just ended.
        error: Error,
    },
    /// The call failed for good.
    Fail(Error),
}

/// What the transport's loop does after an attempt.
#[derive(Debug)]
pub enum Next {
    /// Return this from the call.
    Return(Result<DeleteOutput, Error>),
    /// Sleep this long, then make the next attempt.
    Sleep(Duration),
}

impl Step {
    /// Turns the step into the loop's next move: a retry whose wait would not end before
    /// the deadline returns the attempt's error instead.
    pub fn next(self, deadline: Option<&Deadline>, now: Instant) -> Next {
        match self {
            Step::Done(output) => Next::Return(Ok(output)),
            Step::Fail(error) => Next::Return(Err(error)),
            Step::Retry { after, error } => {
                if deadline.is_some_and(|d| !d.admits_wait(now, after)) {
                    Next::Return(Err(error))
                } else {
                    Next::Sleep(after)
                }
            }
        }
    }
}

/// One call in progress.
#[derive(Debug)]
pub struct Call<'a> {
    signer: &'a Signer,
    op: DeleteCustomImage,
    endpoint: Endpoint,
    policy: RetryPolicy,
    attempts: u32,
}

impl<'a> Call<'a> {
    /// Starts a call. `fresh_token` (16 random bytes) becomes the `ClientToken` when `op` has
    /// none.
    pub fn new(
        signer: &'a Signer,
        op: &DeleteCustomImage,
        endpoint: Endpoint,
        policy: RetryPolicy,
        fresh_token: [u8; 16],
    ) -> Self {
        let mut op = op.clone();
        if op.client_token().is_none() {
            op = op.with_token(ClientToken::from_random_bytes(fresh_token));
        }
        Self {
            signer,
            op,
            endpoint,
            policy,
            attempts: 0,
        }
    }

    /// The `ClientToken` every attempt carries.
    pub fn client_token(&self) -> &ClientToken {
        self.op
            .client_token()
            .expect("Call::new always sets a client token")
    }

    /// The input as sent, with its `ClientToken`.
    pub fn input(&self) -> &DeleteCustomImage {
        &self.op
    }

    /// Where the call goes.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How many attempts have been started.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next attempt's request, signed with `ctx` (fresh timestamp and nonce each time).
    pub fn request(&mut self, ctx: &SigningContext) -> http::Request<Vec<u8>> {
        self.attempts += 1;
        self.signer.sign(&self.op, &self.endpoint, ctx)
    }

    /// The next attempt's request, signed at wall-clock time `now` with a nonce made of the
    /// first 16 of `random`'s bytes, and the jitter (from the last 8) for the wait that may
    /// follow it. The transport reads the clock and the random source; the call only
    /// turns them into values.
    pub fn attempt(
        &mut self,
        now: SystemTime,
        random: [u8; 24],
    ) -> Result<(http::Request<Vec<u8>>, f64), Error> {
        let timestamp = Timestamp::try_from(now)
            .map_err(|e| Error::Config(format!("the system clock is unusable: {e}")))?;
        let (nonce, jitter) = random.split_at(16);
        let nonce = Nonce::from_random_bytes(nonce.try_into().expect("16 bytes"));
        let jitter = unit_interval(jitter.try_into().expect("8 bytes"));
        Ok((self.request(&SigningContext::new(timestamp, nonce)), jitter))
    }

    /// Handles the answer to the latest attempt. `jitter` is a random number in `[0, 1]`.
    pub fn on_response<B: AsRef<[u8]>>(&self, response: &http::Response<B>, jitter: f64) -> Step {
        match parse_delete_custom_image(response) {
            Ok(out) => Step::Done(DeleteOutput {
                request_id: out.request_id,
                client_token: self.client_token().clone(),
                attempts: self.attempts,
            }),
            Err(e) => self.on_error(e.into(), jitter),
        }
    }

    /// Handles a failed attempt (no answer, or an answer already turned into an [`Error`]).
    pub fn on_error(&self, mut error: Error, jitter: f64) -> Step {
        if let (Error::Service(e), Some(token)) =
            (&mut error, self.signer.credentials().security_token())
        {
            scrub(&mut e.message, token.expose());
        }
        let outcome = match &error {
            Error::Service(e) => Outcome::Service(e),
            Error::Parse(e) => Outcome::Parse(e),
            other => match other.transport_failure() {
                Some(failure) => Outcome::Transport(failure),
                None => return Step::Fail(error),
            },
        };
        // The call always carries a ClientToken, so every attempt is idempotent.
        match self.policy.decide(self.attempts, &outcome, true, jitter) {
            Decision::Retry { after } => Step::Retry { after, error },
            Decision::Stop => Step::Fail(error),
        }
    }
}

/// Replaces an STS token in a service message with `***`: `SignatureDoesNotMatch` quotes
/// the server's string to sign, which holds the token (percent-encoded twice in V1).
fn scrub(message: &mut String, token: &str) {
    let once = percent_encode(token);
    for form in [percent_encode(&once), once, token.to_owned()] {
        if message.contains(&form) {
            *message = message.replace(&form, "***");
        }
    }
}

/// A uniform number in `[0, 1)` from 8 random bytes.
pub fn unit_interval(bytes: [u8; 8]) -> f64 {
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The end of a call's time budget. Instants come in as values: the transport reads its
/// clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from `start`; `None` when that instant cannot be represented (no deadline).
    pub fn after(start: Instant, limit: Duration) -> Option<Self> {
        Some(Self {
            at: start.checked_add(limit)?,
            limit,
        })
    }

    /// The time left at `now`, or the deadline's timeout error once none is left.
    pub fn remaining(&self, now: Instant) -> Result<Duration, Error> {
        match self.at.checked_duration_since(now) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(self.error()),
        }
    }

    /// Whether a wait of `wait` from `now` ends before the deadline.
    pub fn admits_wait(&self, now: Instant, wait: Duration) -> bool {
        now.checked_add(wait).is_some_and(|end| end < self.at)
    }

    /// The error of a call whose deadline passed.
    pub fn error(&self) -> Error {
        Error::Timeout {
            kind: TimeoutKind::Deadline,
            limit: self.limit,
        }
    }
}

/// The `info` span a call runs in: `delete_custom_image` with `action`, `region` and
/// `image_id`.
pub fn span(input: &DeleteCustomImage) -> tracing::Span {
    tracing::info_span!(
        "delete_custom_image",
        action = ACTION,
        region = input.region_id().as_str(),
        image_id = input.image_id().as_str(),
    )
}

/// The `debug` event `attempt finished` after each attempt: `attempt`, `status`,
/// `request_id`, `code`, `error` and `outcome` (`done`, `retry` or `fail`). Never a secret:
/// errors print none.
pub fn trace_attempt(attempt: u32, status: Option<http::StatusCode>, step: &Step) {
    let (request_id, code, error, outcome) = match step {
        Step::Done(out) => (Some(out.request_id.as_str()), None, None, "done"),
        Step::Retry { error, .. } | Step::Fail(error) => {
            let service = error.service_error();
            let outcome = if matches!(step, Step::Retry { .. }) {
                "retry"
            } else {
                "fail"
            };
            (
                service.and_then(|e| e.request_id.as_deref()),
                service.map(|e| e.code.as_str()),
                Some(error),
                outcome,
            )
        }
    };
    tracing::debug!(
        attempt,
        status = status.map(|s| s.as_u16()),
        request_id,
        code,
        error = error.map(tracing::field::display),
        outcome,
        "attempt finished"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_arithmetic() {
        let start = Instant::now();
        let d = Deadline::after(start, Duration::from_secs(10)).unwrap();
        assert_eq!(d.remaining(start).unwrap(), Duration::from_secs(10));
        assert!(d.admits_wait(start, Duration::from_secs(9)));
        assert!(!d.admits_wait(start, Duration::from_secs(10)));
        let late = start + Duration::from_secs(10);
        assert!(matches!(
            d.remaining(late),
            Err(Error::Timeout { kind: TimeoutKind::Deadline, limit }) if limit == Duration::from_secs(10)
        ));
        assert!(Deadline::after(start, Duration::MAX).is_none());
    }

    #[test]
    fn sts_tokens_are_scrubbed_from_service_messages() {
        let creds = crate::Credentials::new("id", "secret")
            .unwrap()
            .with_security_token("tok en/+=")
            .unwrap();
        let signer = Signer::new(creds);
        let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let call = Call::new(
            &signer,
            &op,
            Endpoint::for_region(op.region_id()),
            RetryPolicy::no_retries(),
            [0; 16],
        );
        let twice = percent_encode(&percent_encode("tok en/+="));
        let body = format!(
            r#"{{"Code":"SignatureDoesNotMatch","Message":"server string to sign is:POST&%2F&SecurityToken%3D{twice}%26X"}}"#
        );
        let response = http::Response::builder().status(400).body(body).unwrap();
        let Step::Fail(Error::Service(e)) = call.on_response(&response, 0.0) else {
            panic!("expected a service error");
        };
        assert_eq!(
            e.message,
            "server string to sign is:POST&%2F&SecurityToken%3D***%26X"
        );
    }

    #[test]
    fn unit_interval_is_half_open() {
        assert_eq!(unit_interval([0; 8]), 0.0);
        assert!(unit_interval([0xff; 8]) < 1.0);
    }
}
