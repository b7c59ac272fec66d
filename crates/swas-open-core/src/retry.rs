use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::response::{ErrorCode, ServiceError};
use crate::transport::{TimeoutKind, TransportFailure};

/// A pure retry policy for `DeleteCustomImage`.
///
/// The policy looks at how an attempt ended and answers "retry after this delay" or "stop".
/// It reads no clock and draws no random number: the call that applies it draws the jitter
/// from its seed and tells its transport how long to wait.
///
/// # Why every retry carries the same `ClientToken`
///
/// `DeleteCustomImage` changes state. When an attempt times out, or the connection is
/// reset, or the server answers `InternalError`, the request may already have deleted the
/// image: sending it again would then act a second time, or report an error (the image no
/// longer exists) for a call that in fact succeeded. A `ClientToken` makes the request
/// idempotent: the service recognises the same token and answers the first result instead
/// of acting again. So a call always carries one (the caller's, or one it makes) and sends
/// **the same token on every attempt**; a `SignatureNonceUsed` retry is signed again with a
/// new nonce.
///
/// # Full jitter
///
/// The delay before attempt `n + 1` is drawn uniformly between zero and an exponential
/// ceiling, `min(max_delay, base_delay * 2^(n-1))`: this is "full jitter". Clients that
/// failed together (say, all throttled in the same second) then spread their retries over
/// the whole window instead of coming back in lockstep.
///
/// # Hints from the service are bounded
///
/// When the service sends a rate-limit hint (`x-acs-retry-after` in milliseconds, or
/// `Retry-After` in seconds), the delay is at least that hint, but never more than
/// [`max_delay`](Self::max_delay): a hint beyond it ends the call at once with the
/// throttling error, whose message says the service asked for a longer wait. A server
/// cannot put a client to sleep for longer than its own policy allows.
///
/// # The retry budget
///
/// Retries help with a blip and hurt in an outage: when the service is down, every caller
/// that retries multiplies its load. So each client holds a budget of retry tokens, shared
/// by all its calls, as AWS's "standard" retry mode does: [`RetryBudget::default`] starts
/// with 500 tokens; a retry costs 5 (10 after a timeout); each successful call puts 1 back
/// (up to the capacity). A retry the budget cannot pay for is not made: the call returns its
/// last error, and [`Error::retry_budget_exhausted`](crate::Error::retry_budget_exhausted)
/// says why. First attempts never need tokens. With the defaults, a client facing a full
/// outage makes at most 100 retries (500 / 5) in all before failing fast.
///
/// ```
/// use std::time::Duration;
/// use swas_open::{RetryBudget, RetryPolicy};
///
/// let mut policy = RetryPolicy::new(5);
/// policy.base_delay = Duration::from_millis(50);
/// let mut budget = RetryBudget::default();
/// budget.capacity = 100;
/// policy.budget = Some(budget);
/// policy.adaptive = true;
/// assert_eq!(policy.max_attempts, 5);
///
/// let mut unbounded = RetryPolicy::default();
/// unbounded.budget = None; // no budget: every retry allowed
/// # drop(unbounded);
/// ```
///
/// How many attempts to make, how long to wait between them, and the client's retry
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The total number of attempts, the first included (0 is treated as 1).
    pub max_attempts: u32,
    /// The backoff ceiling after the first attempt; it doubles with each attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling, and the longest wait a service's hint may ask for.
    pub max_delay: Duration,
    /// The retry budget shared by all calls of a client; `None` for no budget.
    pub budget: Option<RetryBudget>,
    /// Adaptive mode (off by default): after a throttling answer the client lowers its own
    /// send rate (a client-side token bucket on a CUBIC-style curve, as AWS's adaptive mode
    /// does) and raises it again with successes; calls wait for a send token instead of
    /// adding to the throttling.
    pub adaptive: bool,
}

/// The token bucket that bounds a client's retries (see [`RetryPolicy`]). Start from
/// [`RetryBudget::default`] and set the fields to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryBudget {
    /// Tokens in a full bucket, and at the start. Default 500.
    pub capacity: u32,
    /// What a retry costs. Default 5.
    pub retry_cost: u32,
    /// What a retry after a timeout costs. Default 10.
    pub timeout_retry_cost: u32,
    /// What a successful call puts back. Default 1.
    pub success_refund: u32,
}

impl Default for RetryBudget {
    /// 500 tokens; a retry costs 5, or 10 after a timeout; a success puts 1 back.
    fn default() -> Self {
        Self {
            capacity: 500,
            retry_cost: 5,
            timeout_retry_cost: 10,
            success_refund: 1,
        }
    }
}

/// The live bucket of a [`RetryBudget`]: shared by the calls of one client.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    budget: RetryBudget,
    tokens: AtomicU32,
}

impl TokenBucket {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        Self {
            tokens: AtomicU32::new(budget.capacity),
            budget,
        }
    }

    /// Takes the cost of a retry, if the bucket holds it.
    pub(crate) fn try_spend(&self, after_timeout: bool) -> bool {
        let cost = if after_timeout {
            self.budget.timeout_retry_cost
        } else {
            self.budget.retry_cost
        };
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Puts a success's refund back, up to the capacity.
    pub(crate) fn refund(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                (t < self.budget.capacity).then(|| {
                    t.saturating_add(self.budget.success_refund)
                        .min(self.budget.capacity)
                })
            });
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms base delay, 20 s cap, the default [`RetryBudget`].
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
            budget: Some(RetryBudget::default()),
            adaptive: false,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// The service answered with an error.
    Service(&'a ServiceError),
    /// The answer could not be understood.
    Parse,
    /// The request did not get an answer.
    Transport(TransportFailure),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryDecision {
    /// Make another attempt after this delay.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Give up and report the outcome.
    Stop,
    /// Give up: the service asked for a wait (`hint`) longer than the policy's
    /// [`max_delay`](RetryPolicy::max_delay).
    HintTooLong {
        /// The wait the service asked for.
        hint: Duration,
    },
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts (0 is treated as 1) with the default delays.
    pub fn new(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..Self::default()
        }
    }

    /// Decides what follows attempt number `attempt` (1-based) that ended with `outcome`.
    ///
    /// Every attempt carries the call's `ClientToken`, so every outcome that may be
    /// transient is retried (see [`Error::is_retryable`](crate::Error::is_retryable)).
    /// `jitter` is a random number in `[0, 1]` (out-of-range values are clamped, NaN counts
    /// as 1). Stops once `attempt >= max_attempts`.
    pub(crate) fn decide(&self, attempt: u32, outcome: &Outcome<'_>, jitter: f64) -> RetryDecision {
        if attempt >= self.max_attempts.max(1) || !outcome.is_retryable() {
            return RetryDecision::Stop;
        }
        let backoff = self.backoff(attempt, jitter);
        match outcome {
            Outcome::Service(ServiceError {
                retry_after: Some(hint),
                ..
            }) if *hint > self.max_delay => RetryDecision::HintTooLong { hint: *hint },
            Outcome::Service(ServiceError {
                retry_after: Some(hint),
                ..
            }) => RetryDecision::Retry {
                after: backoff.max(*hint),
            },
            _ => RetryDecision::Retry { after: backoff },
        }
    }

    /// The full-jitter delay after attempt `attempt` (1-based):
    /// `jitter * min(max_delay, base_delay * 2^(attempt-1))`. Never overflows, and never
    /// exceeds `max_delay`.
    pub(crate) fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1);
        let ceiling = 1u32
            .checked_shl(exponent)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        scale(ceiling, clamp_jitter(jitter))
    }
}

// Beside the rule it states, so that `error` stays below `retry` in the module layers.
impl Error {
    /// Whether a new attempt may succeed: a transient service error (throttling, a used
    /// nonce, a server-side failure, any 5xx), an unreadable answer, a timeout or a
    /// transport failure other than TLS. The rule the call's own retries follow; repeat
    /// with the same `ClientToken` so a retry never deletes twice.
    pub fn is_retryable(&self) -> bool {
        Outcome::of(self).is_some_and(|o| o.is_retryable())
    }
}

impl<'a> Outcome<'a> {
    /// How the attempt that failed with `error` ended; `None` for failures that are not an
    /// attempt's (input, configuration, credentials). A passed deadline is a timeout.
    pub(crate) fn of(error: &'a Error) -> Option<Self> {
        match error.kind() {
            ErrorKind::Service(e) => Some(Outcome::Service(e)),
            ErrorKind::Parse(_) => Some(Outcome::Parse),
            ErrorKind::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            } => Some(Outcome::Transport(TransportFailure::Timeout)),
            _ => error.transport_failure().map(Outcome::Transport),
        }
    }

    /// Whether an attempt that ended so may be retried with the same `ClientToken`: a
    /// transient service error, an unreadable answer (a proxy's page, a body cut short,
    /// which the token makes safe to ask again), or a transport failure other than TLS (an
    /// untrusted certificate stays untrusted).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Outcome::Service(e) => e.is_retryable(),
            Outcome::Parse => true,
            Outcome::Transport(failure) => *failure != TransportFailure::Tls,
        }
    }
}

/// Whether the service refused the request for its rate.
pub(crate) fn is_throttling(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Throttling | ErrorCode::ThrottlingUser | ErrorCode::ThrottlingApi
    )
}

/// A uniform number in `[0, 1)` from 64 random bits.
pub(crate) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `jitter` clamped to `[0, 1]`; NaN becomes 1 (the plain exponential delay).
fn clamp_jitter(jitter: f64) -> f64 {
    if jitter.is_nan() {
        1.0
    } else {
        jitter.clamp(0.0, 1.0)
    }
}

/// `d * factor` for `factor` in `[0, 1]`, never above `d`: float rounding near
/// `Duration::MAX` can land past it, where `mul_f64` would panic.
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).map_or(d, |scaled| scaled.min(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn err(status: u16, code: ErrorCode) -> ServiceError {
        ServiceError::new(StatusCode::from_u16(status).unwrap(), code, "m")
    }

    fn retries(outcome: &Outcome<'_>) -> bool {
        matches!(
            RetryPolicy::default().decide(1, outcome, 1.0),
            RetryDecision::Retry { .. }
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
        assert_eq!(RetryPolicy::new(1).max_attempts, 1);
        assert_eq!(
            RetryPolicy::new(4).max_delay,
            RetryPolicy::default().max_delay
        );
    }

    #[test]
    fn retryable_service_errors() {
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
            assert!(retries(&Outcome::Service(&e)), "{code}");
        }
        let odd = err(502, ErrorCode::Other("Odd".into()));
        assert!(retries(&Outcome::Service(&odd)), "any 5xx");
    }

    #[test]
    fn client_errors_never_retry() {
        for code in ErrorCode::known().filter(|c| !c.is_retryable()) {
            let e = err(code.status().as_u16(), code.clone());
            assert!(!retries(&Outcome::Service(&e)), "{code}");
        }
        let other = err(409, ErrorCode::Other("Conflict".into()));
        assert!(!retries(&Outcome::Service(&other)));
    }

    #[test]
    fn parse_errors() {
        // A garbled answer is retried whatever its status: a 200 cut short may hide a
        // delete that did happen, and the call's ClientToken replays its answer.
        assert!(retries(&Outcome::Parse));
    }

    #[test]
    fn transport_failures() {
        use TransportFailure::*;
        for f in [Dns, Connect, Timeout, Reset, Other] {
            assert!(retries(&Outcome::Transport(f)), "{f:?}");
        }
        // An untrusted certificate stays untrusted: asking again cannot help.
        assert!(!retries(&Outcome::Transport(Tls)));
    }

    #[cfg(feature = "transport")]
    #[test]
    fn io_failures_are_classed_by_what_was_sent() {
        use std::io::{Error as Io, ErrorKind as K};
        for k in [
            K::ConnectionRefused,
            K::HostUnreachable,
            K::NetworkUnreachable,
        ] {
            assert_eq!(
                TransportFailure::from_io(&Io::new(k, "x")),
                TransportFailure::Connect
            );
        }
        for k in [
            K::ConnectionReset,
            K::ConnectionAborted,
            K::BrokenPipe,
            K::UnexpectedEof,
            K::NotConnected,
        ] {
            assert_eq!(
                TransportFailure::from_io(&Io::new(k, "x")),
                TransportFailure::Reset
            );
        }
        let dns = Io::other("failed to lookup address information: Name or service not known");
        assert_eq!(TransportFailure::from_io(&dns), TransportFailure::Dns);
        assert_eq!(
            TransportFailure::from_io(&Io::other("x")),
            TransportFailure::Other
        );
    }

    #[test]
    fn stops_at_max_attempts() {
        let dns = Outcome::Transport(TransportFailure::Dns);
        let p = RetryPolicy::new(3);
        assert!(matches!(
            p.decide(0, &dns, 0.5),
            RetryDecision::Retry { .. }
        ));
        assert!(matches!(
            p.decide(2, &dns, 0.5),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(p.decide(3, &dns, 0.5), RetryDecision::Stop);
        assert_eq!(p.decide(u32::MAX, &dns, 0.5), RetryDecision::Stop);
        assert_eq!(
            RetryPolicy::new(1).decide(1, &dns, 0.5),
            RetryDecision::Stop
        );
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.decide(1, &dns, 0.5), RetryDecision::Stop);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            base_delay: MS(100),
            max_delay: MS(1000),
            ..RetryPolicy::new(100)
        };
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
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..RetryPolicy::new(2)
        };
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
    fn budget_pays_for_retries_and_refills_on_success() {
        let bucket = TokenBucket::new(RetryBudget {
            capacity: 20,
            ..RetryBudget::default()
        });
        assert!(bucket.try_spend(false));
        assert!(bucket.try_spend(true));
        assert_eq!(bucket.tokens(), 5);
        assert!(!bucket.try_spend(true), "10 > 5");
        assert!(bucket.try_spend(false));
        assert!(!bucket.try_spend(false));
        bucket.refund();
        assert_eq!(bucket.tokens(), 1);
        for _ in 0..100 {
            bucket.refund();
        }
        assert_eq!(bucket.tokens(), 20, "capped");
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let e = err(400, ErrorCode::Throttling).with_retry_after(MS(1500));
        assert_eq!(
            p.decide(1, &Outcome::Service(&e), 1.0),
            RetryDecision::Retry { after: MS(1500) }
        );
        // A hint shorter than the backoff does not shorten it.
        let e = err(400, ErrorCode::Throttling).with_retry_after(MS(1));
        assert_eq!(
            p.decide(2, &Outcome::Service(&e), 1.0),
            RetryDecision::Retry { after: MS(200) }
        );
        // A hint of exactly the cap is waited for; one past it ends the call.
        let e = err(400, ErrorCode::Throttling).with_retry_after(p.max_delay);
        assert_eq!(
            p.decide(1, &Outcome::Service(&e), 0.0),
            RetryDecision::Retry { after: p.max_delay }
        );
        for hint in [
            p.max_delay + MS(1),
            Duration::from_secs(3600),
            Duration::MAX,
        ] {
            let e = err(400, ErrorCode::Throttling).with_retry_after(hint);
            assert_eq!(
                p.decide(1, &Outcome::Service(&e), 0.0),
                RetryDecision::HintTooLong { hint }
            );
        }
        // A hint does not make a non-retryable error retryable.
        let e = err(404, ErrorCode::InvalidImageIdNotFound).with_retry_after(MS(10));
        assert_eq!(p.decide(1, &Outcome::Service(&e), 1.0), RetryDecision::Stop);
    }

    fn code() -> impl proptest::strategy::Strategy<Value = ErrorCode> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::sample::select(ErrorCode::known().cloned().collect::<Vec<_>>()),
            "[A-Za-z.]{1,20}".prop_map(|s| ErrorCode::parse(&s)),
        ]
    }

    proptest::proptest! {
    #[test]
    fn backoff_is_capped(
        attempt in proptest::prelude::any::<u32>(),
        jitter in proptest::prop_oneof![proptest::prelude::any::<f64>(), 0.0f64..=1.0],
        base_ms in proptest::prelude::any::<u64>(),
        max_ms in proptest::prelude::any::<u64>(),
    ) {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            ..RetryPolicy::new(5)
        };
        proptest::prop_assert!(policy.backoff(attempt, jitter) <= policy.max_delay);
    }

    #[test]
    fn never_retries_past_max_attempts(
        max_attempts in 0u32..10,
        extra in 0u32..1000,
        (status, code, retry_after, kind) in (400u16..=599, code(), proptest::option::of(0u64..100_000), 0u8..7),
        jitter in proptest::prelude::any::<f64>(),
    ) {
        let policy = RetryPolicy::new(max_attempts);
        let attempt = policy.max_attempts.saturating_add(extra);
        let mut service = ServiceError::new(
            http::StatusCode::from_u16(status).expect("valid status"),
            code,
            "m",
        );
        if let Some(ms) = retry_after {
            service = service.with_retry_after(Duration::from_millis(ms));
        }
        let outcome = match kind {
            0 => Outcome::Service(&service),
            1 => Outcome::Transport(TransportFailure::Dns),
            2 => Outcome::Transport(TransportFailure::Connect),
            3 => Outcome::Transport(TransportFailure::Timeout),
            4 => Outcome::Transport(TransportFailure::Reset),
            5 => Outcome::Transport(TransportFailure::Tls),
            _ => Outcome::Transport(TransportFailure::Other),
        };
        proptest::prop_assert_eq!(policy.decide(attempt, &outcome, jitter), RetryDecision::Stop);
        // Before the last attempt, a retry's delay never passes the cap, whatever the hint.
        if let RetryDecision::Retry { after } = policy.decide(1.min(attempt), &outcome, jitter) {
            proptest::prop_assert!(after <= policy.max_delay);
        }
    }
    }
}
