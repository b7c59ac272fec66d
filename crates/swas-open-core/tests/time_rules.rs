//! The time rules of a call, driven through the public [`Call`] machine in virtual time:
//! instants are made up, nothing sleeps and nothing is measured, so every run takes the same
//! steps and these tests cannot flake on a busy machine.
//!
//! - the backoff: every wait is under its exponential ceiling and under `max_delay`;
//! - the retry budget: retries spend it, successes refill it, an empty one ends the call;
//! - adaptive mode in a throttling storm: many calls against a service that takes a fixed
//!   rate, with and without adaptive mode, compared request by request.

use std::collections::VecDeque;
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::http::Response;
use swas_open_core::{
    Call, CallOptions, ClientBuilder, Config, Credentials, DeleteCustomImage,
    DeleteCustomImageOutput, Error, Exchange, Readings, RetryBudget, RetryPolicy, Step,
};

const MS: fn(u64) -> Duration = Duration::from_millis;
const BUSY: (u16, &str) = (503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#);
const THROTTLED: (u16, &str) = (400, r#"{"Code":"Throttling.User","Message":"slow down"}"#);
const OK: (u16, &str) = (200, r#"{"RequestId":"R-1"}"#);

/// The start of virtual time: an `Instant` can only be had from the clock, but no duration is
/// ever measured from it; every later instant is this one plus a made-up duration.
fn epoch() -> Instant {
    Instant::now()
}

/// A wall-clock reading to sign with (nothing checks the signatures here).
fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

fn config(policy: RetryPolicy) -> Config {
    ClientBuilder::<Config>::default()
        .credentials(Credentials::new("id", "secret").expect("valid credentials"))
        .retry_policy(policy)
        .build()
        .expect("valid configuration")
}

/// `attempts` attempts, waits from `base` doubling up to `max`, every retry allowed.
fn unbudgeted(attempts: u32, base: Duration, max: Duration) -> RetryPolicy {
    let mut policy = RetryPolicy::new(attempts);
    policy.base_delay = base;
    policy.max_delay = max;
    policy.budget = None;
    policy
}

fn answer((status, body): (u16, &str)) -> Response<String> {
    Response::builder()
        .status(status)
        .body(body.to_owned())
        .expect("a valid response")
}

/// The input of every call here (a call borrows its input, and outlives the helper that
/// starts it).
static INPUT: LazyLock<DeleteCustomImage> =
    LazyLock::new(|| DeleteCustomImage::new("cn-hangzhou", "m-1").expect("valid input"));

fn call<'a>(config: &'a Config, seed: u32, now: Instant) -> Call<'a> {
    let mut bytes = [0; 32];
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    Call::new(
        config,
        &INPUT,
        CallOptions::new(),
        Readings::new(bytes, now, wall()),
    )
}

/// Runs one call to its end at virtual time from `now`, answering its attempts in turn from
/// `answers` and waiting exactly as long as it asks; returns the result, the waits it asked
/// for, and the instant it ended.
fn run(
    config: &Config,
    seed: u32,
    mut now: Instant,
    answers: &[(u16, &str)],
) -> (
    Result<DeleteCustomImageOutput, Error>,
    Vec<Duration>,
    Instant,
) {
    let mut call = call(config, seed, now);
    let mut answers = answers.iter();
    let mut waits = Vec::new();
    loop {
        match call.next(now) {
            Step::Send(_) => {
                let next = *answers.next().expect("an answer for every attempt");
                call.receive(now, Ok(answer(next)));
            }
            Step::Wait(until) => {
                waits.push(until - now);
                now = until;
            }
            Step::Done(result) => return (result, waits, now),
            Step::Detach(_) => panic!("fixed credentials are never fetched"),
        }
    }
}

#[test]
fn backoff_waits_stay_under_their_ceiling_and_the_cap() {
    let config = config(unbudgeted(8, MS(100), MS(400)));
    let busy = [BUSY; 8];
    // The ceilings after attempts 1 to 7: 100, 200, 400 ms, then the cap.
    let ceilings = [100, 200, 400, 400, 400, 400, 400].map(MS);
    let mut longest = [Duration::ZERO; 7];
    for seed in 0..200 {
        let (result, waits, _) = run(&config, seed, epoch(), &busy);
        let e = result.expect_err("every attempt is refused");
        assert_eq!(e.attempts(), 8);
        assert_eq!(waits.len(), 7, "a wait before each retry");
        for (i, wait) in waits.iter().enumerate() {
            assert!(*wait <= ceilings[i], "seed {seed}, wait {i}: {wait:?}");
            longest[i] = longest[i].max(*wait);
        }
    }
    // Full jitter spreads the waits over the whole window: over 200 seeds the longest wait
    // after each attempt comes within a tenth of its ceiling. (Fixed seeds: fixed waits.)
    for (i, (most, ceiling)) in longest.iter().zip(ceilings).enumerate() {
        assert!(*most * 10 >= ceiling * 9, "wait {i}: at most {most:?}");
    }
}

#[test]
fn a_cap_below_the_base_delay_bounds_every_wait() {
    let config = config(unbudgeted(4, MS(1_000), MS(30)));
    for seed in 0..50 {
        let (_, waits, _) = run(&config, seed, epoch(), &[BUSY; 4]);
        assert_eq!(waits.len(), 3);
        assert!(waits.iter().all(|w| *w <= MS(30)), "{waits:?}");
    }
}

#[test]
fn the_retry_budget_is_spent_by_retries_and_refilled_by_successes() {
    let mut policy = RetryPolicy::new(5);
    policy.base_delay = MS(10);
    let mut budget = RetryBudget::default();
    budget.capacity = 10;
    budget.retry_cost = 5;
    budget.timeout_retry_cost = 10;
    budget.success_refund = 1;
    policy.budget = Some(budget);
    let config = config(policy);
    let mut now = epoch();
    // 10 tokens pay for two retries; the third is refused and the call ends at once.
    let (result, waits, at) = run(&config, 1, now, &[BUSY; 3]);
    let e = result.expect_err("the outage outlasts the budget");
    assert!(e.retry_budget_exhausted(), "{e}");
    assert_eq!((e.attempts(), waits.len()), (3, 2));
    now = at;
    // Empty: a failed first attempt is not retried.
    let (result, waits, at) = run(&config, 2, now, &[BUSY]);
    let e = result.expect_err("no token for a retry");
    assert!(e.retry_budget_exhausted() && waits.is_empty(), "{e}");
    now = at;
    // Four successes put back four tokens: still one short of a retry.
    for seed in 3..7 {
        let (result, _, at) = run(&config, seed, now, &[OK]);
        assert_eq!(result.expect("a success").attempts, 1);
        now = at;
    }
    let (result, _, at) = run(&config, 7, now, &[BUSY]);
    assert!(result.expect_err("still short").retry_budget_exhausted());
    now = at;
    // The fifth success pays for exactly one retry.
    let (result, _, at) = run(&config, 8, now, &[OK]);
    assert!(result.is_ok());
    now = at;
    let (result, waits, _) = run(&config, 9, now, &[BUSY, OK]);
    assert_eq!(result.expect("one retry paid for").attempts, 2);
    assert_eq!(waits.len(), 1);
    // A first attempt never needs a token: with the budget empty again, calls still go out.
    let (result, _, _) = run(&config, 10, now, &[OK]);
    assert!(result.is_ok());
}

/// The throttling storm: [`STORM_CALLS`] deletes, [`STORM_CONCURRENCY`] at a time, against a
/// service that takes [`STORM_RATE`] requests a second (a token bucket that starts full, as the
/// emulator's), each attempt answered [`LATENCY`] after it is sent.
const STORM_CALLS: u32 = 40;
const STORM_CONCURRENCY: usize = 10;
const STORM_RATE: f64 = 20.0;
const LATENCY: Duration = Duration::from_millis(2);

/// The service side: a bucket of `STORM_RATE` tokens refilled at `STORM_RATE` a second.
struct Service {
    tokens: f64,
    last: Instant,
}

impl Service {
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * STORM_RATE).min(STORM_RATE);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// What the service saw of one storm.
#[derive(Debug)]
struct Storm {
    /// When each request arrived, in order, and whether it was throttled.
    requests: Vec<(Duration, bool)>,
    /// The most attempts any call made.
    most_attempts: u32,
}

impl Storm {
    fn throttled(&self) -> usize {
        self.requests.iter().filter(|(_, t)| *t).count()
    }

    /// Requests a second from the first throttled one to the last request.
    fn throttled_phase_rate(&self) -> f64 {
        let first = self
            .requests
            .iter()
            .position(|(_, t)| *t)
            .expect("throttled");
        let from = self.requests[first].0;
        let to = self.requests.last().expect("requests").0;
        (self.requests.len() - first) as f64 / (to - from).as_secs_f64()
    }

    /// Requests in each half second.
    fn per_half_second(&self) -> Vec<u32> {
        let mut counts = Vec::new();
        for (at, _) in &self.requests {
            let slot = (at.as_millis() / 500) as usize;
            counts.resize(counts.len().max(slot + 1), 0);
            counts[slot] += 1;
        }
        counts
    }
}

/// Where a worker of the storm is: a call ready at an instant, or an attempt whose answer
/// arrives at an instant.
struct Worker<'a> {
    call: Call<'a>,
    at: Instant,
    answer: Option<(u16, &'static str)>,
}

/// Runs the storm in virtual time, with or without adaptive mode; every call must succeed.
fn storm(adaptive: bool) -> Storm {
    // As the socket scenario: enough attempts that no call gives up, short full-jitter waits
    // (5 ms doubling up to 50 ms), no retry budget.
    let mut policy = unbudgeted(500, MS(5), MS(50));
    policy.adaptive = adaptive;
    let config = config(policy);
    let start = epoch();
    let mut service = Service {
        tokens: STORM_RATE,
        last: start,
    };
    let mut queue: VecDeque<u32> = (0..STORM_CALLS).collect();
    let mut workers: Vec<Worker<'_>> = (0..STORM_CONCURRENCY)
        .filter_map(|_| queue.pop_front())
        .map(|seed| Worker {
            call: call(&config, seed, start),
            at: start,
            answer: None,
        })
        .collect();
    let mut storm = Storm {
        requests: Vec::new(),
        most_attempts: 0,
    };
    let mut done = 0;
    while let Some(i) = (0..workers.len()).min_by_key(|&i| (workers[i].at, i)) {
        let worker = &mut workers[i];
        let now = worker.at;
        if let Some(answered) = worker.answer.take() {
            worker.call.receive(now, Ok(answer(answered)));
        }
        match worker.call.next(now) {
            Step::Send(_) => {
                let taken = service.take(now);
                storm.requests.push((now - start, !taken));
                worker.answer = Some(if taken { OK } else { THROTTLED });
                worker.at = now + LATENCY;
            }
            Step::Wait(until) => {
                assert!(
                    until > now,
                    "adaptive {adaptive}: a wait for nothing at {:?} ({until:?} {now:?})",
                    now - start
                );
                worker.at = until;
            }
            Step::Detach(_) => panic!("fixed credentials are never fetched"),
            Step::Done(result) => {
                let out = result.unwrap_or_else(|e| panic!("adaptive {adaptive}: {e}"));
                storm.most_attempts = storm.most_attempts.max(out.attempts);
                done += 1;
                match queue.pop_front() {
                    Some(seed) => worker.call = call(&config, seed, now),
                    None => {
                        workers.swap_remove(i);
                    }
                }
            }
        }
    }
    assert_eq!(done, STORM_CALLS);
    let taken = storm.requests.len() - storm.throttled();
    assert_eq!(taken, STORM_CALLS as usize, "one accepted request a call");
    storm
}

/// Adaptive mode in a throttling storm, in virtual time: the client lowers its own send rate
/// to about what the service accepts, every call still succeeds, and far fewer requests are
/// throttled than by the same run without adaptive mode.
#[test]
fn adaptive_mode_calms_a_throttling_storm() {
    let plain = storm(false);
    let adaptive = storm(true);
    let describe = |s: &Storm| {
        format!(
            "{} requests, {} throttled, {:.0} requests/s while throttled, at most {} attempts \
             a call, per half second {:?}",
            s.requests.len(),
            s.throttled(),
            s.throttled_phase_rate(),
            s.most_attempts,
            s.per_half_second()
        )
    };
    let both = format!(
        "without adaptive mode: {}; with: {}",
        describe(&plain),
        describe(&adaptive)
    );
    eprintln!("throttling storm in virtual time, {both}");
    // Far fewer throttled answers: a quarter at most.
    assert!(adaptive.throttled() * 4 < plain.throttled(), "{both}");
    // While throttled, the adaptive client sends at about the service's rate; the plain one
    // keeps retrying many times faster.
    assert!(
        adaptive.throttled_phase_rate() * 3.0 < plain.throttled_phase_rate(),
        "{both}"
    );
    assert!(adaptive.throttled_phase_rate() < 2.0 * STORM_RATE, "{both}");
    // Past the first half second (where nothing limits a client that has not been throttled
    // yet), no half second carries more than the service's rate for a second.
    let later = adaptive.per_half_second().into_iter().skip(1).max();
    assert!(later.unwrap_or(0) <= STORM_RATE as u32, "{both}");
    // And fewer attempts a call.
    assert!(adaptive.most_attempts < plain.most_attempts, "{both}");
}

/// The storm is a pure function of its seeds: two runs see the same requests at the same
/// instants.
#[test]
fn the_storm_in_virtual_time_is_the_same_every_run() {
    for adaptive in [false, true] {
        let (a, b) = (storm(adaptive), storm(adaptive));
        assert_eq!(a.requests, b.requests, "adaptive {adaptive}");
    }
}
