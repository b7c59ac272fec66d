//! A pure retry policy for `DeleteCustomImage`.
//!
//! [`RetryPolicy::decide`] looks at how an attempt ended and answers [`Decision::Retry`]
//! (with a delay) or [`Decision::Stop`]. It reads no clock and draws no random number: the
//! jitter comes in as an argument, so the transport that owns the clock and the random
//! source also owns the sleeping.
//!
//! # Why a delete is retried only with a `ClientToken`
//!
//! `DeleteCustomImage` changes state. When an attempt times out, or the connection is
//! reset, or the server answers `InternalError`, the request may already have deleted the
//! image: sending it again would then act a second time, or report an error (the image no
//! longer exists) for a call that in fact succeeded. A `ClientToken` makes the request
//! idempotent: the service recognises the same token and answers the first result instead
//! of acting again. So the caller passes `idempotent = true` only when the request carries
//! a `ClientToken`, and reuses **the same token on every attempt**.
//!
//! Without a token, only failures that prove the server did not act are retried: DNS and
//! connect errors (nothing was sent), throttling and `SignatureNonceUsed` (rejected by the
//! gateway before the operation ran) and `ServiceUnavailable` with HTTP 503. A
//! `SignatureNonceUsed` retry must be signed again with a new nonce.
//!
//! # Full jitter
//!
//! The delay before attempt `n + 1` is drawn uniformly between zero and an exponential
//! ceiling, `min(max_delay, base_delay * 2^(n-1))`: this is "full jitter". Clients that
//! failed together (say, all throttled in the same second) then spread their retries over
//! the whole window instead of coming back in lockstep. When the service sends a
//! rate-limit hint (`x-acs-retry-after`), the delay is at least that hint.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use swas_open_core::response::{ErrorCode, ServiceError};
//! use swas_open_core::retry::{Decision, Outcome, RetryPolicy, TransportFailure};
//!
//! let policy = RetryPolicy::default(); // 3 attempts, 100 ms base, 20 s cap
//!
//! // Throttled on attempt 1: retry, after a jittered delay below 100 ms.
//! let throttled = ServiceError::new(http::StatusCode::BAD_REQUEST, ErrorCode::Throttling, "slow down");
//! let jitter = 0.5; // from the caller's random source, in [0, 1]
//! assert_eq!(
//!     policy.decide(1, &Outcome::Service(&throttled), false, jitter),
//!     Decision::Retry { after: Duration::from_millis(50) },
//! );
//!
//! // A timeout may have reached the server: retried only with a ClientToken.
//! let timeout = Outcome::Transport(TransportFailure::Timeout);
//! assert_eq!(policy.decide(1, &timeout, false, jitter), Decision::Stop);
//! assert_eq!(
//!     policy.decide(2, &timeout, true, jitter),
//!     Decision::Retry { after: Duration::from_millis(100) },
//! );
//!
//! // The last attempt is never followed by another.
//! assert_eq!(policy.decide(3, &timeout, true, jitter), Decision::Stop);
//! ```

use std::time::Duration;

use crate::response::{ErrorCode, ParseError, ServiceError};

/// How many attempts to make and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The total number of attempts, the first included (0 is treated as 1).
    pub max_attempts: u32,
    /// The backoff ceiling after the first attempt; it doubles with each attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms base delay, 20 s cap.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The service answered with an error.
    Service(&'a ServiceError),
    /// The answer could not be understood.
    Parse(&'a ParseError),
    /// The request did not get an answer.
    Transport(TransportFailure),
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The host name did not resolve: nothing was sent, so a retry is always safe.
    Dns,
    /// The connection could not be established: nothing was sent, so a retry is always safe.
    Connect,
    /// The attempt timed out: the request may have reached the server.
    Timeout,
    /// The connection was reset: the request may have reached the server.
    Reset,
    /// Any other failure: the request may have reached the server.
    Other,
}

impl TransportFailure {
    /// Whether the request certainly never reached the server.
    pub fn nothing_sent(self) -> bool {
        matches!(self, TransportFailure::Dns | TransportFailure::Connect)
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Make another attempt after this delay.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Give up and report the outcome.
    Stop,
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts (0 is treated as 1) with the default delays.
    pub fn new(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..Self::default()
        }
    }

    /// Sets the base delay.
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Sets the delay cap.
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// A policy of a single attempt.
    pub fn no_retries() -> Self {
        Self::new(1)
    }

    /// Decides what follows attempt number `attempt` (1-based) that ended with `outcome`.
    ///
    /// `idempotent` says whether the request carries a `ClientToken` (the same on every
    /// attempt); `jitter` is a random number in `[0, 1]` (out-of-range values are clamped,
    /// NaN counts as 1). Stops once `attempt >= max_attempts`.
    pub fn decide(
        &self,
        attempt: u32,
        outcome: &Outcome<'_>,
        idempotent: bool,
        jitter: f64,
    ) -> Decision {
        if attempt >= self.max_attempts.max(1) || !retryable(outcome, idempotent) {
            return Decision::Stop;
        }
        let backoff = self.backoff(attempt, jitter);
        let after = match outcome {
            Outcome::Service(ServiceError {
                retry_after: Some(hint),
                ..
            }) => backoff.max(*hint),
            _ => backoff,
        };
        Decision::Retry { after }
    }

    /// The full-jitter delay after attempt `attempt` (1-based):
    /// `jitter * min(max_delay, base_delay * 2^(attempt-1))`. Never overflows, and never
    /// exceeds `max_delay`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1);
        let ceiling = 1u32
            .checked_shl(exponent)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        scale(ceiling, clamp_jitter(jitter))
    }
}

/// Whether `outcome` may be retried, given whether the request is idempotent.
fn retryable(outcome: &Outcome<'_>, idempotent: bool) -> bool {
    match outcome {
        Outcome::Service(e) if idempotent => e.is_retryable(),
        // Without a ClientToken, only rejections that prove the operation did not run.
        Outcome::Service(e) => match e.code {
            ErrorCode::Throttling
            | ErrorCode::ThrottlingUser
            | ErrorCode::ThrottlingApi
            | ErrorCode::SignatureNonceUsed => true,
            ErrorCode::ServiceUnavailable => e.status == http::StatusCode::SERVICE_UNAVAILABLE,
            _ => false,
        },
        // A proxy's 5xx page: the request may have reached the service.
        Outcome::Parse(e) => idempotent && e.status.is_server_error(),
        Outcome::Transport(failure) => failure.nothing_sent() || idempotent,
    }
}

/// `jitter` clamped to `[0, 1]`; NaN becomes 1 (the plain exponential delay).
fn clamp_jitter(jitter: f64) -> f64 {
    if jitter.is_nan() {
        1.0
    } else {
        jitter.clamp(0.0, 1.0)
    }
}

/// `d * factor` for `factor` in `[0, 1]`, in integer nanoseconds so it cannot overflow
/// or round above `d`.
fn scale(d: Duration, factor: f64) -> Duration {
    const ONE: f64 = (1u64 << 32) as f64;
    // `factor` is in [0, 1], so this is in [0, 2^32]; `as` saturates anyway.
    let fixed = (factor * ONE) as u64;
    let nanos = d.as_nanos().saturating_mul(u128::from(fixed)) >> 32;
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 10^9 and fits in u32.
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, subsec).min(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ParseErrorKind;
    use http::StatusCode;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn err(status: u16, code: ErrorCode) -> ServiceError {
        ServiceError::new(StatusCode::from_u16(status).unwrap(), code, "m")
    }

    fn parse_err(status: u16) -> ParseError {
        ParseError::new(
            StatusCode::from_u16(status).unwrap(),
            ParseErrorKind::NotJson,
            b"<html>",
        )
    }

    fn retries(outcome: &Outcome<'_>, idempotent: bool) -> bool {
        matches!(
            RetryPolicy::default().decide(1, outcome, idempotent, 1.0),
            Decision::Retry { .. }
        )
    }

    #[test]
    fn defaults_and_constructors() {
        let p = RetryPolicy::default();
        assert_eq!(
            (p.max_attempts, p.base_delay, p.max_delay),
            (3, MS(100), MS(20_000))
        );
        assert_eq!(RetryPolicy::new(0).max_attempts, 1);
        assert_eq!(RetryPolicy::new(5).max_attempts, 5);
        assert_eq!(RetryPolicy::new(5).base_delay, MS(100));
        assert_eq!(RetryPolicy::no_retries().max_attempts, 1);
        let p = RetryPolicy::new(4)
            .with_base_delay(MS(10))
            .with_max_delay(MS(50));
        assert_eq!((p.base_delay, p.max_delay), (MS(10), MS(50)));
    }

    #[test]
    fn retryable_service_errors_with_token() {
        for code in [
            ErrorCode::Throttling,
            ErrorCode::ThrottlingUser,
            ErrorCode::ThrottlingApi,
            ErrorCode::SignatureNonceUsed,
            ErrorCode::InternalError,
            ErrorCode::UnknownError,
            ErrorCode::ServiceUnavailable,
        ] {
            let e = err(code.status().as_u16(), code.clone());
            assert!(retries(&Outcome::Service(&e), true), "{code}");
        }
        let odd = err(502, ErrorCode::Other("Odd".into()));
        assert!(retries(&Outcome::Service(&odd), true), "any 5xx");
    }

    #[test]
    fn client_errors_never_retry() {
        for code in ErrorCode::known().filter(|c| !c.is_retryable()) {
            let e = err(code.status().as_u16(), code.clone());
            assert!(!retries(&Outcome::Service(&e), true), "{code}");
            assert!(!retries(&Outcome::Service(&e), false), "{code}");
        }
        let other = err(409, ErrorCode::Other("Conflict".into()));
        assert!(!retries(&Outcome::Service(&other), true));
    }

    #[test]
    fn without_token_only_proven_rejections_retry() {
        for code in [
            ErrorCode::Throttling,
            ErrorCode::ThrottlingUser,
            ErrorCode::ThrottlingApi,
            ErrorCode::SignatureNonceUsed,
        ] {
            let e = err(400, code.clone());
            assert!(retries(&Outcome::Service(&e), false), "{code}");
        }
        assert!(retries(
            &Outcome::Service(&err(503, ErrorCode::ServiceUnavailable)),
            false
        ));
        assert!(!retries(
            &Outcome::Service(&err(500, ErrorCode::ServiceUnavailable)),
            false
        ));
        for e in [
            err(500, ErrorCode::InternalError),
            err(500, ErrorCode::UnknownError),
            err(502, ErrorCode::Other("BadGateway".into())),
        ] {
            assert!(!retries(&Outcome::Service(&e), false), "{e}");
        }
    }

    #[test]
    fn parse_errors() {
        for status in [502, 503, 504, 500] {
            let p = parse_err(status);
            assert!(retries(&Outcome::Parse(&p), true), "{status}");
            assert!(!retries(&Outcome::Parse(&p), false), "{status}");
        }
        for status in [200, 400, 404, 429] {
            let p = parse_err(status);
            assert!(!retries(&Outcome::Parse(&p), true), "{status}");
        }
    }

    #[test]
    fn transport_failures() {
        use TransportFailure::*;
        for f in [Dns, Connect] {
            assert!(retries(&Outcome::Transport(f), false), "{f:?}");
            assert!(retries(&Outcome::Transport(f), true), "{f:?}");
        }
        for f in [Timeout, Reset, Other] {
            assert!(!retries(&Outcome::Transport(f), false), "{f:?}");
            assert!(retries(&Outcome::Transport(f), true), "{f:?}");
        }
    }

    #[test]
    fn stops_at_max_attempts() {
        let dns = Outcome::Transport(TransportFailure::Dns);
        let p = RetryPolicy::new(3);
        assert!(matches!(
            p.decide(0, &dns, true, 0.5),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            p.decide(2, &dns, true, 0.5),
            Decision::Retry { .. }
        ));
        assert_eq!(p.decide(3, &dns, true, 0.5), Decision::Stop);
        assert_eq!(p.decide(u32::MAX, &dns, true, 0.5), Decision::Stop);
        assert_eq!(
            RetryPolicy::no_retries().decide(1, &dns, true, 0.5),
            Decision::Stop
        );
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.decide(1, &dns, true, 0.5), Decision::Stop);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::new(100)
            .with_base_delay(MS(100))
            .with_max_delay(MS(1000));
        assert_eq!(p.backoff(1, 1.0), MS(100));
        assert_eq!(p.backoff(2, 1.0), MS(200));
        assert_eq!(p.backoff(3, 1.0), MS(400));
        assert_eq!(p.backoff(4, 1.0), MS(800));
        assert_eq!(p.backoff(5, 1.0), MS(1000));
        assert_eq!(p.backoff(0, 1.0), MS(100));
        assert_eq!(p.backoff(3, 0.5), MS(200));
        assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn backoff_never_overflows() {
        let p = RetryPolicy::default();
        for attempt in [31, 32, 33, 64, 1000, u32::MAX] {
            assert_eq!(p.backoff(attempt, 1.0), p.max_delay, "{attempt}");
        }
        let huge = RetryPolicy::new(2)
            .with_base_delay(Duration::MAX)
            .with_max_delay(Duration::MAX);
        assert_eq!(huge.backoff(1000, 1.0), Duration::MAX);
        assert!(huge.backoff(1000, 0.999_999) <= Duration::MAX);
        assert_eq!(huge.backoff(1, 0.0), Duration::ZERO);
    }

    #[test]
    fn jitter_is_clamped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 2.0), MS(100));
        assert_eq!(p.backoff(1, f64::INFINITY), MS(100));
        assert_eq!(p.backoff(1, -1.0), Duration::ZERO);
        assert_eq!(p.backoff(1, f64::NEG_INFINITY), Duration::ZERO);
        assert_eq!(p.backoff(1, f64::NAN), MS(100));
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let e = err(400, ErrorCode::Throttling).with_retry_after(MS(1500));
        assert_eq!(
            p.decide(1, &Outcome::Service(&e), false, 1.0),
            Decision::Retry { after: MS(1500) }
        );
        // A hint shorter than the backoff does not shorten it.
        let e = err(400, ErrorCode::Throttling).with_retry_after(MS(1));
        assert_eq!(
            p.decide(2, &Outcome::Service(&e), false, 1.0),
            Decision::Retry { after: MS(200) }
        );
        // A hint does not make a non-retryable error retryable.
        let e = err(404, ErrorCode::InvalidImageIdNotFound).with_retry_after(MS(10));
        assert_eq!(
            p.decide(1, &Outcome::Service(&e), true, 1.0),
            Decision::Stop
        );
    }
}
