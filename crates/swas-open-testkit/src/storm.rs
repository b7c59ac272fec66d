//! The throttling storm over sockets: many calls through one client against an emulator
//! that takes a fixed rate, sampled as it runs. The adaptive-mode scenario checks its counts;
//! the blocking client's `throttling_storm` bench prints its rates.
//!
//! The sampler sleeps and reads the clock: rates of real requests are what this measures.

use std::thread;
use std::time::{Duration, Instant};

use crate::{
    builder, emulator_builder, image_ids, input, quick_retries_without_budget, Driver, REGION,
};

/// The throttling storm: the emulator accepts [`STORM_RATE`] SWAS requests a second (a
/// bucket of one second's worth, full at the start) and answers the rest `Throttling.User`;
/// [`STORM_CALLS`] deletes run through one client, [`STORM_CONCURRENCY`] at once.
pub const STORM_RATE: u32 = 20;
pub const STORM_CALLS: usize = 40;
pub const STORM_CONCURRENCY: usize = 10;
/// How often the emulator's counters are sampled during a storm.
const STORM_SAMPLE: Duration = Duration::from_millis(50);

/// The storm's retry policy, the same with and without adaptive mode: enough attempts that
/// no call gives up (without adaptive mode a call's attempt succeeds about one time in
/// twenty, so 500 attempts leave a chance of about 1e-11 per call), short full-jitter waits
/// (5 ms doubling up to 50 ms), and no retry budget, which would otherwise end the storm by
/// failing calls (a throttled retry costs 5 tokens of 500).
fn storm_policy(adaptive: bool) -> swas_open_core::RetryPolicy {
    let mut policy = quick_retries_without_budget(500);
    policy.adaptive = adaptive;
    policy
}

/// What the emulator saw of one storm.
#[derive(Debug, Clone)]
pub struct Storm {
    /// SWAS requests, throttled ones included.
    pub requests: u64,
    /// Requests answered `Throttling.User`.
    pub throttled: u64,
    /// Requests a second from the first throttled answer to the end (the sampling interval
    /// in which throttling began included).
    pub throttled_phase_rate: f64,
    /// The highest attempt count of any call.
    pub most_attempts: u32,
    /// How long the storm took.
    pub elapsed: Duration,
    /// Requests in each half second of the run.
    pub per_half_second: Vec<u64>,
}

/// Runs the storm with or without adaptive mode; every call must succeed.
pub fn throttling_storm<D: Driver>(d: &D, adaptive: bool) -> Storm {
    let emu = emulator_builder(&[])
        .rate_limit(STORM_RATE)
        .start_blocking()
        .expect("emulator starts");
    let ids = image_ids(STORM_CALLS);
    for id in &ids {
        emu.add_image(REGION, id, false);
    }
    let client: D::Client = builder(&emu)
        .retry_policy(storm_policy(adaptive))
        .build()
        .expect("client builds");
    let inputs = ids.iter().map(|id| input(id)).collect();
    // socket: rates of real requests are what this measures, for the bench's printout;
    // the scenario that runs it asserts only counts.
    let started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (results, mut samples) = thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut samples = vec![(Duration::ZERO, emu.stats())];
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                // socket: samples the emulator's counters of real requests, for the bench.
                thread::sleep(STORM_SAMPLE);
                samples.push((started.elapsed(), emu.stats()));
            }
            samples
        });
        let results = d.delete_all(&client, inputs, STORM_CONCURRENCY);
        done.store(true, std::sync::atomic::Ordering::Release);
        (results, sampler.join().expect("sampler"))
    });
    let elapsed = started.elapsed();
    let stats = emu.stats();
    samples.push((elapsed, stats));
    let mode = if adaptive { "on" } else { "off" };
    let mut most_attempts = 0;
    for r in &results {
        match r {
            Ok(out) => most_attempts = most_attempts.max(out.attempts),
            Err(e) => panic!("a call failed in the storm (adaptive {mode}): {e:?}"),
        }
    }
    assert_eq!(stats.deletes, STORM_CALLS as u64, "adaptive {mode}");
    assert_eq!(
        stats.requests,
        stats.deletes + stats.throttled,
        "adaptive {mode}"
    );

    // The sample before the first one that shows throttling: the phase starts there.
    let first = samples
        .iter()
        .position(|(_, s)| s.throttled > 0)
        .expect("the storm throttled");
    let (from, at) = samples[first.saturating_sub(1)];
    let span = elapsed.saturating_sub(from).as_secs_f64().max(1e-3);
    let throttled_phase_rate = (stats.requests - at.requests) as f64 / span;
    let mut per_half_second = Vec::new();
    let mut last = 0;
    for step in 1.. {
        let edge = Duration::from_millis(500 * step);
        let upto = samples
            .iter()
            .take_while(|(t, _)| *t <= edge)
            .last()
            .map_or(0, |(_, s)| s.requests);
        per_half_second.push(upto - last);
        last = upto;
        if edge >= elapsed {
            break;
        }
    }
    Storm {
        requests: stats.requests,
        throttled: stats.throttled,
        throttled_phase_rate,
        most_attempts,
        elapsed,
        per_half_second,
    }
}
