//! The service-side rate limit: a token bucket that SWAS requests draw from (see
//! [`EmulatorBuilder::rate_limit`](crate::EmulatorBuilder::rate_limit)).

use std::time::Instant;

/// A token bucket holding at most `per_second` tokens, full at the start, refilled at
/// `per_second` tokens a second. Times are passed in, so the rules are pure.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// A full bucket of `per_second` tokens (at least 1).
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            tokens: per_second,
            last: None,
        }
    }

    /// Takes a token at `now`; `false` when the bucket is empty (the request is throttled).
    /// An instant earlier than one seen before adds nothing.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        }
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
        // A hair of slack so that requests spaced exactly 1/rate apart are not throttled by
        // rounding.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn a_full_second_then_the_refill_rate() {
        let start = Instant::now();
        let mut limit = RateLimit::new(10);
        let burst = (0..20).filter(|_| limit.take(start)).count();
        assert_eq!(burst, 10, "the bucket starts full");
        assert!(!limit.take(start + Duration::from_millis(50)));
        assert!(limit.take(start + Duration::from_millis(100)));
        assert!(!limit.take(start + Duration::from_millis(100)));
        // A long pause refills no more than the capacity.
        let later = start + Duration::from_secs(60);
        assert_eq!((0..30).filter(|_| limit.take(later)).count(), 10);
    }

    #[test]
    fn zero_is_one_a_second() {
        let start = Instant::now();
        let mut limit = RateLimit::new(0);
        assert!(limit.take(start));
        assert!(!limit.take(start + Duration::from_millis(500)));
        assert!(limit.take(start + Duration::from_secs(1)));
    }

    proptest! {
        /// Over any span, at most the capacity plus the refill of that span gets through,
        /// whatever the order of the instants.
        #[test]
        fn never_more_than_the_rate_allows(
            per_second in 1u32..500,
            offsets in prop::collection::vec(0u64..3_000, 1..400),
        ) {
            let start = Instant::now();
            let mut limit = RateLimit::new(per_second);
            let mut passed = 0u64;
            let mut latest = 0u64;
            for ms in offsets {
                latest = latest.max(ms);
                if limit.take(start + Duration::from_millis(ms)) {
                    passed += 1;
                }
            }
            let allowed = f64::from(per_second) * (1.0 + latest as f64 / 1000.0);
            prop_assert!(passed as f64 <= allowed + 1e-9, "{passed} > {allowed}");
        }

        /// Requests spaced by at least 1/rate all get through.
        #[test]
        fn requests_at_the_rate_all_pass(per_second in 1u32..200, n in 1usize..300) {
            let start = Instant::now();
            let mut limit = RateLimit::new(per_second);
            let step = Duration::from_secs_f64(1.0 / f64::from(per_second));
            for i in 0..n {
                let at = start + step * u32::try_from(i).unwrap_or(u32::MAX);
                prop_assert!(limit.take(at), "request {i} throttled");
            }
        }
    }
}
