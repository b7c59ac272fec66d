//! What the calls of one client share: the estimate of the server's clock, the retry
//! budget and the adaptive send rate.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::adaptive::RateLimiter;
use crate::retry::{RetryPolicy, TokenBucket};

/// The farthest this machine's clock may be from a service's for the service's clock (an
/// answer's `Date`) to be believed: 3 days. A `Date` farther off is taken for a wrong
/// answer, not for the time: it neither corrects a refused timestamp nor judges how long
/// credentials have left.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(3 * 24 * 3600);

/// What the calls of one client share.
#[derive(Debug)]
pub(crate) struct SharedState {
    clock_offset: AtomicI64,
    budget: Option<TokenBucket>,
    /// The adaptive send rate, with the instant its clock counts from.
    limiter: Option<Mutex<(Option<Instant>, RateLimiter)>>,
}

impl SharedState {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        Self {
            clock_offset: AtomicI64::new(0),
            budget: policy.budget.map(TokenBucket::new),
            limiter: policy
                .adaptive
                .then(|| Mutex::new((None, RateLimiter::default()))),
        }
    }

    /// Runs `f` on the adaptive limiter with a reading of its clock (seconds since its
    /// first use).
    fn with_limiter<T>(
        &self,
        now: Instant,
        f: impl FnOnce(&mut RateLimiter, &dyn Fn(Instant) -> f64) -> T,
    ) -> Option<T> {
        let mut guard = self
            .limiter
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (base, limiter) = &mut *guard;
        let base = *base.get_or_insert(now);
        let clock = move |at: Instant| at.saturating_duration_since(base).as_secs_f64();
        Some(f(limiter, &clock))
    }

    /// A send token at `now`, or how long to wait for one (adaptive mode only).
    pub(crate) fn acquire_send(&self, now: Instant) -> Result<(), Duration> {
        self.with_limiter(now, |l, clock| l.acquire(clock(now)))
            .unwrap_or(Ok(()))
    }

    /// Tells the adaptive limiter about the answer, at `now`, to a request sent at `sent`.
    pub(crate) fn record_answer(&self, now: Instant, sent: Instant, throttled: bool) {
        self.with_limiter(now, |l, clock| l.update(throttled, clock(now), clock(sent)));
    }

    pub(crate) fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// `wall` (this machine's clock) shifted by the clock offset: the service's clock, as
    /// estimated. `wall` itself when the shift does not fit.
    pub(crate) fn corrected(&self, wall: SystemTime) -> SystemTime {
        let offset = self.clock_offset();
        let shift = Duration::from_secs(offset.unsigned_abs());
        let shifted = match offset >= 0 {
            true => wall.checked_add(shift),
            false => wall.checked_sub(shift),
        };
        shifted.unwrap_or(wall)
    }

    pub(crate) fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::Relaxed);
    }

    /// Pays for a retry from the budget; always true without one.
    pub(crate) fn try_spend_retry(&self, after_timeout: bool) -> bool {
        self.budget
            .as_ref()
            .is_none_or(|b| b.try_spend(after_timeout))
    }

    pub(crate) fn refund_success(&self) {
        if let Some(b) = &self.budget {
            b.refund();
        }
    }
}
