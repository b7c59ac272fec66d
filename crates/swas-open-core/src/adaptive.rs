//! Adaptive send rate: a client-side token bucket whose refill rate follows a CUBIC-style
//! curve, as AWS's "adaptive" retry mode does. A throttling answer cuts the rate to 70% of
//! what the client was measured sending; successes grow it back along a cubic curve that
//! returns to the old maximum and probes beyond it. Calls wait for a send token instead of
//! adding to the throttling.
//!
//! Two departures from AWS's algorithm, both measured in the throttling-storm scenario: the
//! calls in flight at a cut come back throttled together and only the first of them cuts
//! (without this, ten concurrent calls cut the rate by 0.7^10, to the floor); and a throttle
//! before the first measurement uses what was sent so far rather than zero.
//!
//! Everything here is a pure function of the times passed in (seconds on the caller's
//! monotonic clock); the call turns a wait into [`Step::Wait`](crate::Step::Wait).

use std::time::Duration;

/// CUBIC's scaling constant.
const C: f64 = 0.4;
/// The multiplicative decrease on throttling.
const BETA: f64 = 0.7;
/// The weight of the newest sample in the measured send rate.
const SMOOTH: f64 = 0.8;
/// The measured rate is sampled in buckets of this many seconds.
const BUCKET: f64 = 0.5;
/// The slowest the bucket refills, in tokens per second.
const MIN_FILL_RATE: f64 = 0.5;

/// The limiter's state; one per client.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    /// Whether a throttling answer has been seen: until then sends are not limited.
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    current_capacity: f64,
    last_refill: Option<f64>,
    measured_rate: f64,
    last_max_rate: f64,
    last_throttle: f64,
    time_window: f64,
    rate_bucket: f64,
    request_count: u64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            enabled: false,
            fill_rate: MIN_FILL_RATE,
            max_capacity: 1.0,
            current_capacity: 0.0,
            last_refill: None,
            measured_rate: 0.0,
            last_max_rate: 0.0,
            last_throttle: 0.0,
            time_window: 0.0,
            rate_bucket: 0.0,
            request_count: 0,
        }
    }
}

impl RateLimiter {
    /// Takes a send token at `now`, or says how long to wait for one.
    pub(crate) fn acquire(&mut self, now: f64) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        self.refill(now);
        if self.current_capacity >= 1.0 {
            self.current_capacity -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.current_capacity) / self.fill_rate;
        // Whole nanoseconds, rounded up, at least one: a wait that rounded down to nothing
        // would have the caller ask again at the same instant, for ever in virtual time.
        let nanos = (wait.clamp(0.0, 60.0) * 1e9).ceil().max(1.0);
        Err(Duration::from_nanos(nanos as u64))
    }

    /// Records an answer at `now`, throttled or not, to a request sent at `sent`. A throttle
    /// answering a request sent before the last cut says nothing about the cut rate (the
    /// calls in flight at a cut come back throttled together), so it does not cut again: one
    /// decrease per throttling event, as TCP's congestion control makes one per window.
    pub(crate) fn update(&mut self, throttled: bool, now: f64, sent: f64) {
        self.measure(now);
        if throttled && self.enabled && sent < self.last_throttle {
            return;
        }
        let measured = self.send_rate(now);
        let calculated = if throttled {
            let rate = if self.enabled {
                measured.min(self.fill_rate)
            } else {
                measured
            };
            self.last_max_rate = rate;
            self.time_window = (self.last_max_rate * (1.0 - BETA) / C).cbrt();
            self.last_throttle = now;
            self.enabled = true;
            rate * BETA
        } else {
            let t = now - self.last_throttle - self.time_window;
            C * t * t * t + self.last_max_rate
        };
        let new_rate = calculated.min(2.0 * measured);
        self.refill(now);
        self.fill_rate = new_rate.max(MIN_FILL_RATE);
        self.max_capacity = self.fill_rate.max(1.0);
        self.current_capacity = self.current_capacity.min(self.max_capacity);
    }

    /// The measured send rate; before the first bucket closes, the answers of the open one
    /// over at least a bucket's time. (AWS's algorithm reads 0 there, so a throttle in the
    /// first half second dropped the rate to the floor, far below what the service takes.)
    fn send_rate(&self, now: f64) -> f64 {
        if self.measured_rate > 0.0 {
            self.measured_rate
        } else {
            self.request_count as f64 / (now - self.rate_bucket).max(BUCKET)
        }
    }

    /// The current refill rate, in sends per second.
    #[cfg(test)]
    pub(crate) fn fill_rate(&self) -> f64 {
        self.fill_rate
    }

    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_refill {
            let added = (now - last).max(0.0) * self.fill_rate;
            self.current_capacity = (self.current_capacity + added).min(self.max_capacity);
        }
        self.last_refill = Some(now);
    }

    fn measure(&mut self, now: f64) {
        self.request_count += 1;
        let bucket = (now / BUCKET).floor() * BUCKET;
        if bucket > self.rate_bucket {
            let rate = self.request_count as f64 / (bucket - self.rate_bucket);
            self.measured_rate = rate * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.request_count = 0;
            self.rate_bucket = bucket;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client sending `per_second` answers per second for `seconds`, throttled or not.
    fn run(l: &mut RateLimiter, from: f64, seconds: f64, per_second: f64, throttled: bool) -> f64 {
        let step = 1.0 / per_second;
        let mut t = from;
        while t < from + seconds {
            l.update(throttled, t, t);
            t += step;
        }
        t
    }

    /// A fresh limiter after `seconds` of unthrottled answers at 100 a second, then one
    /// throttle: the limiter, the time, and the rate after the cut.
    fn throttled_after(seconds: f64) -> (RateLimiter, f64, f64) {
        let mut l = RateLimiter::default();
        let t = run(&mut l, 0.0, seconds, 100.0, false);
        l.update(true, t, t);
        let cut = l.fill_rate();
        (l, t, cut)
    }

    #[test]
    fn unlimited_until_throttled() {
        let mut l = RateLimiter::default();
        for i in 0..1000 {
            assert_eq!(l.acquire(f64::from(i) * 0.001), Ok(()));
        }
        let t = run(&mut l, 0.0, 2.0, 100.0, false);
        assert_eq!(l.acquire(t), Ok(()), "successes alone never limit");
    }

    #[test]
    fn throttling_cuts_the_rate_and_success_restores_it() {
        let (mut l, t, cut) = throttled_after(3.0);
        assert!(cut < 100.0 * BETA + 1.0, "{cut}");
        assert!(cut > 10.0, "{cut}");
        // Calls now wait for tokens.
        let mut waited = false;
        for _ in 0..200 {
            if l.acquire(t).is_err() {
                waited = true;
                break;
            }
        }
        assert!(waited);
        // Steady successes bring the rate back up past the cut.
        let t = run(&mut l, t, 10.0, cut, false);
        assert!(l.fill_rate() > cut, "{} <= {cut}", l.fill_rate());
        let _ = t;
    }

    #[test]
    fn an_early_throttle_keeps_the_rate_near_what_was_sent() {
        // 30 answers in the first 0.3 s, before any bucket closes, then a throttle.
        let (_, _, cut) = throttled_after(0.3);
        assert!(cut > 30.0 && cut <= 100.0 * BETA, "{cut}");
    }

    #[test]
    fn throttles_in_flight_at_a_cut_do_not_cut_again() {
        let mut l = RateLimiter::default();
        let t = run(&mut l, 0.0, 2.0, 100.0, false);
        l.update(true, t, t - 0.01);
        let cut = l.fill_rate();
        // Nine more throttled answers to requests sent before the cut.
        for i in 1..10 {
            l.update(true, t + 0.001 * f64::from(i), t - 0.01);
        }
        assert_eq!(l.fill_rate(), cut);
        // A throttle of a request sent after the cut cuts again.
        l.update(true, t + 0.5, t + 0.2);
        assert!(l.fill_rate() < cut);
    }

    #[test]
    fn repeated_throttling_keeps_lowering_the_rate() {
        let mut l = RateLimiter::default();
        let mut t = run(&mut l, 0.0, 2.0, 50.0, false);
        let mut last = f64::INFINITY;
        for _ in 0..5 {
            t = run(&mut l, t, 1.0, 50.0, true);
            assert!(l.fill_rate() <= last, "{} > {last}", l.fill_rate());
            last = l.fill_rate();
        }
        assert!(last < 10.0, "{last}");
        assert!(last >= MIN_FILL_RATE);
    }

    /// `n` answers at 64 a second from `from`, at exact binary instants (`k / 64` s).
    fn steady(l: &mut RateLimiter, from: u32, n: u32, throttled: bool) -> u32 {
        for k in from..from + n {
            let t = f64::from(k) / 64.0;
            l.update(throttled, t, t);
        }
        from + n
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_throttle_cuts_to_seventy_percent_of_the_measured_rate() {
        let mut l = RateLimiter::default();
        // 128 answers at 64 a second (t = 0 to 127/64 s), then a throttle at t = 2 s. The
        // half-second buckets closing at 0.5, 1, 1.5 and 2 s counted 33, 32, 32 and 32
        // answers: 66, then 64 a second; smoothed 52.8, 61.76, 63.552, 63.9104.
        let k = steady(&mut l, 0, 128, false);
        assert_eq!(l.acquire(2.0), Ok(()), "not limited before a throttle");
        l.update(true, f64::from(k) / 64.0, 2.0);
        assert!(close(l.fill_rate(), 63.9104 * BETA), "{}", l.fill_rate());
    }

    #[test]
    fn a_throttle_in_the_first_bucket_uses_what_was_sent_so_far() {
        // 20 answers in the first 0.3 s, and the throttle: 21 in an open bucket, counted over
        // half a second, 42 a second; cut to 29.4.
        let mut l = RateLimiter::default();
        let k = steady(&mut l, 0, 20, false);
        l.update(true, f64::from(k) / 64.0, f64::from(k) / 64.0);
        assert!(close(l.fill_rate(), 42.0 * BETA), "{}", l.fill_rate());
    }

    #[test]
    fn after_a_cut_sends_are_spaced_by_the_fill_rate() {
        let mut l = RateLimiter::default();
        let k = steady(&mut l, 0, 128, false);
        let t = f64::from(k) / 64.0;
        l.update(true, t, t);
        let rate = l.fill_rate();
        // Drain what the bucket holds; then the wait for the next token, and exactly half of
        // it half-way there.
        let mut sent = 0;
        let wait = loop {
            match l.acquire(t) {
                Ok(()) => sent += 1,
                Err(wait) => break wait.as_secs_f64(),
            }
            assert!(sent <= 64, "the bucket holds at most a second's tokens");
        };
        assert!(wait > 0.0 && wait <= 1.0 / rate + 1e-9, "{wait}");
        let half = l
            .acquire(t + wait / 2.0)
            .expect_err("half-way")
            .as_secs_f64();
        assert!((half - wait / 2.0).abs() < 2e-9, "{half} vs {wait}");
        // The token is there when the wait ends (or a nanosecond later, for rounding), and
        // the next one a full 1/rate after that.
        let at = t + wait + 1e-9;
        assert_eq!(l.acquire(at), Ok(()));
        let next = l.acquire(at).expect_err("spent").as_secs_f64();
        assert!((next - 1.0 / rate).abs() < 2e-9, "{next} vs {}", 1.0 / rate);
    }

    #[test]
    fn no_wait_is_shorter_than_a_nanosecond() {
        let mut l = RateLimiter::default();
        l.update(true, 0.0, 0.0);
        // Just short of a token: the deficit is far below a nanosecond's refill.
        l.current_capacity = 1.0 - 1e-15;
        l.last_refill = Some(1.0);
        assert_eq!(l.acquire(1.0), Err(Duration::from_nanos(1)));
        assert_eq!(l.acquire(1.0 + 1e-9), Ok(()));
    }

    #[test]
    fn success_brings_the_rate_back_to_the_old_maximum_on_a_cubic() {
        let mut l = RateLimiter::default();
        let mut k = steady(&mut l, 0, 128, false);
        let cut_at = f64::from(k) / 64.0;
        l.update(true, cut_at, cut_at);
        let max = 63.9104;
        // The cubic returns to the old maximum `window` seconds after the cut; successes
        // keep coming at 64 a second, so twice the measured rate never caps it.
        let window = (max * (1.0 - BETA) / C).cbrt();
        let cubic = |t: f64| C * (t - cut_at - window).powi(3) + max;
        for at in [
            cut_at + window / 2.0,
            cut_at + window,
            cut_at + window + 0.5,
        ] {
            while f64::from(k + 1) / 64.0 < at {
                k = steady(&mut l, k + 1, 1, false) - 1;
            }
            l.update(false, at, at);
            assert!(
                close(l.fill_rate(), cubic(at)),
                "{} vs {}",
                l.fill_rate(),
                cubic(at)
            );
        }
        // Half-way there the rate is below the old maximum, back on it at `window`, and past
        // it after: the probe beyond the old maximum.
        assert!(cubic(cut_at + window / 2.0) < max);
        assert!(close(cubic(cut_at + window), max));
        assert!(l.fill_rate() > max);
    }

    proptest! {
        #[test]
        fn rate_and_waits_stay_bounded(
            events in prop::collection::vec((any::<bool>(), 0.0f64..2.0), 1..300),
        ) {
            let mut l = RateLimiter::default();
            let mut t = 0.0;
            for (throttled, dt) in events {
                t += dt;
                l.update(throttled, t, t);
                prop_assert!(l.fill_rate().is_finite());
                prop_assert!(l.fill_rate() >= MIN_FILL_RATE);
                match l.acquire(t) {
                    Ok(()) => {}
                    Err(wait) => prop_assert!(wait <= Duration::from_secs(60)),
                }
            }
        }

        #[test]
        fn a_throttle_never_raises_the_rate(
            warmup in 1usize..200,
            per_second in 1.0f64..500.0,
        ) {
            let mut l = RateLimiter::default();
            let t = run(&mut l, 0.0, warmup as f64 / per_second, per_second, false);
            l.update(true, t, t);
            let after_first = l.fill_rate();
            l.update(true, t + 0.001, t + 0.001);
            prop_assert!(l.fill_rate() <= after_first.max(MIN_FILL_RATE) + 1e-9);
        }
    }
}
