//! The throttling storm on loopback, with and without adaptive mode: what the service saw
//! (requests, throttled answers, the request rate while throttled, requests per half second).
//!
//! These are rates of real requests, so they carry the machine's load: they are printed, not
//! asserted. The rules behind them are tested exactly in virtual time (the core's
//! `tests/time_rules.rs`); the suite's socket scenario checks only the storm's counts.
//!
//! `cargo bench -p swas-open-ureq --bench throttling_storm`; `SWAS_STORM_ROUNDS` rounds of
//! each mode (default 3).

use swas_open_testkit::clients::Blocking;
use swas_open_testkit::figures::Figures;
use swas_open_testkit::storm::{throttling_storm, STORM_CALLS, STORM_CONCURRENCY, STORM_RATE};

fn main() {
    // `cargo test --benches` runs benches once in test mode: one round is enough there.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        std::env::var("SWAS_STORM_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3)
    } else {
        1
    };
    println!(
        "throttling storm: {STORM_CALLS} calls at concurrency {STORM_CONCURRENCY} against \
         {STORM_RATE} requests/s, {rounds} rounds a mode"
    );
    for adaptive in [false, true] {
        let mut figures = Figures::new([
            "requests",
            "throttled",
            "requests/s while throttled",
            "most attempts a call",
            "busiest later half second",
            "seconds",
        ]);
        for _ in 0..rounds {
            let s = throttling_storm(&Blocking, adaptive);
            let busiest_later = s.per_half_second.iter().skip(1).max().copied();
            figures.push([
                s.requests as f64,
                s.throttled as f64,
                s.throttled_phase_rate,
                f64::from(s.most_attempts),
                busiest_later.unwrap_or(0) as f64,
                s.elapsed.as_secs_f64(),
            ]);
        }
        let mode = if adaptive { "on" } else { "off" };
        println!("adaptive {mode} (min / median / max):");
        for (label, (min, median, max)) in figures.spreads() {
            println!("  {label:<28} {min:>8.1} / {median:>8.1} / {max:>8.1}");
        }
    }
}
