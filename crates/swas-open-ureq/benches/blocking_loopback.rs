//! Sequential calls per second on loopback against the emulator: the client beside a bare
//! ureq agent sending requests signed ahead of time, in the same run.
//!
//! Both sides make the server do the same work per request: verify a V1 signature, record
//! the nonce and the `ClientToken`, and answer. Two scenarios:
//! - `delete`: each request deletes a fresh image (200, `{"RequestId":...}`); the images are
//!   added before the timed loop, on both sides.
//! - `not_found`: each request names an absent image (404 with a full JSON error body). The
//!   client also parses that body into a `ServiceError`, which is part of its cost.
//!
//! A third line runs a bare agent configured as the client configures its own (connect
//! and read timeouts, no redirects), to tell ureq's cost of enforcing timeouts from the
//! client's own.
//!
//! The bare agent's requests are signed before timing starts (each with its own nonce and
//! token, as the emulator rejects a replayed nonce), so the difference between the two is
//! what the client adds per call: signing, randomness, the call driver, body capping and
//! parsing. At the end of each scenario the ratio of the mean per-call times is printed.
//!
//! # CPU time per call
//! Wall time on loopback measures the machine as much as the client (a round trip is either
//! short or long depending on where the scheduler puts the emulator). The calling thread's
//! CPU time does not wait for a core: the client and both bare agents run entirely on the
//! calling thread (ureq is blocking), the emulator on threads of its own. Each scenario
//! therefore also runs interleaved rounds measuring, on the calling thread:
//! - `client`, `bare`, `bare+timeouts`: CPU time per call of each side;
//! - `sign+parse`: the core's signing of the same request (`Signer::sign`) and parsing of the
//!   same answer (`parse_delete_custom_image`), the work the client must do that the bare
//!   agents' pre-signed requests skip.
//!
//! It prints min/median/max over the rounds of each figure, of the per-round ratio
//! client/bare, and of what the client adds beyond signing and parsing: `client - bare -
//! sign+parse` (and the same against the bare agent with the client's timeouts).
//!
//! # Instructions per call
//! CPU time still carries the machine's load. Instruction counts do not: with
//! `SWAS_BENCH_SIDE` set (`client`, `bare`, `bare_timeouts` or `sign_parse`), the bench runs
//! `SWAS_BENCH_CALLS` calls (default 200) of that side in `SWAS_BENCH_SCENARIO` (`delete` or
//! `not_found`, the default) inside one function, `measured`, and exits. Run under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*'`, the
//! count covers those calls on the calling thread only (the emulator's threads never enter
//! `measured`); two runs with different call counts give instructions per call without the
//! set-up. BENCHMARKS.md has the commands and the figures.

use std::cell::Cell;
use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use swas_open_core::MAX_RESPONSE_BODY;
use swas_open_core::{
    parse_delete_custom_image, ClientToken, Credentials, DeleteCustomImage, Endpoint, Nonce,
    Signer, SigningContext, Timestamp,
};
use swas_open_emulator::Emulator;
use swas_open_testkit::figures::Figures;
use swas_open_ureq::{Client, RetryPolicy};

const REGION: &str = "cn-hangzhou";
const ID: &str = "bench-id";
const SECRET: &str = "bench-secret";

/// Time and iterations spent by one side, for the ratio.
#[derive(Default)]
struct Tally {
    time: Cell<Duration>,
    iters: Cell<u64>,
}

impl Tally {
    fn add(&self, time: Duration, iters: u64) {
        self.time.set(self.time.get() + time);
        self.iters.set(self.iters.get() + iters);
    }

    fn per_call(&self) -> f64 {
        self.time.get().as_secs_f64() / self.iters.get().max(1) as f64
    }
}

struct Setup {
    emu: Emulator,
    endpoint: Endpoint,
    signer: Signer,
    client: Client,
    bare: ureq::Agent,
    /// A bare agent configured as the client configures its own (timeouts, no redirects).
    bare_configured: ureq::Agent,
    next_id: Cell<u64>,
}

impl Setup {
    fn new() -> Self {
        let emu = Emulator::builder()
            .access_key(ID, SECRET)
            .start_blocking()
            .expect("emulator starts");
        let client = Client::builder()
            .credentials(Credentials::new(ID, SECRET).unwrap())
            .endpoint(&emu.url())
            .retry_policy(RetryPolicy::new(1))
            .build()
            .unwrap();
        let bare = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let bare_configured = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_send_request(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(10)))
            .timeout_recv_body(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Self {
            bare_configured,
            endpoint: emu.url().parse::<Endpoint>().unwrap(),
            signer: Signer::new(Credentials::new(ID, SECRET).unwrap()),
            emu,
            client,
            bare,
            next_id: Cell::new(0),
        }
    }

    /// `n` image ids, added to the emulator when `present`.
    fn images(&self, n: u64, present: bool) -> Vec<DeleteCustomImage> {
        (0..n)
            .map(|_| {
                let id = self.next_id.get();
                self.next_id.set(id + 1);
                let image = format!("m-bench-{id}");
                if present {
                    self.emu.add_image(REGION, &image, false);
                }
                DeleteCustomImage::new(REGION, &image).unwrap()
            })
            .collect()
    }

    /// Requests for `inputs`, each signed now with its own nonce and ClientToken.
    fn presign(&self, inputs: &[DeleteCustomImage]) -> Vec<http::Request<Vec<u8>>> {
        let now = Timestamp::try_from(SystemTime::now()).unwrap();
        inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let input = input
                    .clone()
                    .with_client_token(ClientToken::random())
                    .unwrap();
                let nonce = Nonce::new(format!("bare-{}-{i}", self.next_id.get())).unwrap();
                let ctx = SigningContext::new(now, nonce);
                self.signer.sign(&input, &self.endpoint, &ctx)
            })
            .collect()
    }

    fn bare_send(&self, agent: &ureq::Agent, request: http::Request<Vec<u8>>) -> u16 {
        let response = self.bare_response(agent, request);
        black_box(response.body());
        response.status().as_u16()
    }

    fn bare_response(
        &self,
        agent: &ureq::Agent,
        request: http::Request<Vec<u8>>,
    ) -> http::Response<Vec<u8>> {
        let (parts, body) = agent.run(request).unwrap().into_parts();
        let mut bytes = Vec::new();
        body.into_with_config()
            .limit(MAX_RESPONSE_BODY as u64)
            .reader()
            .read_to_end(&mut bytes)
            .unwrap();
        http::Response::from_parts(parts, bytes)
    }
}

/// `iters` client calls, timed; images are added first when `present`.
fn time_client(setup: &Setup, iters: u64, present: bool) -> Duration {
    let inputs = setup.images(iters, present);
    let start = Instant::now();
    for input in &inputs {
        let result = setup.client.delete_custom_image(input);
        assert_eq!(result.is_ok(), present, "{result:?}");
        black_box(result.ok());
    }
    start.elapsed()
}

/// `iters` requests signed ahead of time and sent by the bare agent, timed.
fn time_bare(setup: &Setup, agent: &ureq::Agent, iters: u64, present: bool) -> Duration {
    let expected = if present { 200 } else { 404 };
    let requests = setup.presign(&setup.images(iters, present));
    let start = Instant::now();
    for request in requests {
        assert_eq!(setup.bare_send(agent, request), expected);
    }
    start.elapsed()
}

fn scenario(c: &mut Criterion, setup: &Setup, name: &str, present: bool, profiling: bool) {
    let (client_tally, bare_tally, configured_tally) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("client", |b| {
        b.iter_custom(|iters| {
            let elapsed = time_client(setup, iters, present);
            client_tally.add(elapsed, iters);
            elapsed
        })
    });
    group.bench_function("bare_ureq", |b| {
        b.iter_custom(|iters| {
            let elapsed = time_bare(setup, &setup.bare, iters, present);
            bare_tally.add(elapsed, iters);
            elapsed
        })
    });
    group.bench_function("bare_ureq_client_config", |b| {
        b.iter_custom(|iters| {
            let elapsed = time_bare(setup, &setup.bare_configured, iters, present);
            configured_tally.add(elapsed, iters);
            elapsed
        })
    });
    group.finish();
    if profiling {
        return;
    }
    let (client, bare, configured) = (
        client_tally.per_call(),
        bare_tally.per_call(),
        configured_tally.per_call(),
    );
    println!(
        "{name}: client {:.1} us/call ({:.0} calls/s), bare ureq {:.1} us/call ({:.0} calls/s), \
         bare ureq with the client's config {:.1} us/call; client/bare time ratio {:.3}",
        client * 1e6,
        1.0 / client,
        bare * 1e6,
        1.0 / bare,
        configured * 1e6,
        client / bare
    );

    // The two measurements above run one after the other, so a burst of background load can
    // tilt them. Alternating short batches exposes both sides to the same conditions; the
    // median of the per-round ratios is the robust figure.
    const ROUNDS: usize = 21;
    const BATCH: u64 = 300;
    let mut vs_bare = Vec::with_capacity(ROUNDS);
    let mut vs_configured = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let client = time_client(setup, BATCH, present).as_secs_f64();
        let bare = time_bare(setup, &setup.bare, BATCH, present).as_secs_f64();
        let configured = time_bare(setup, &setup.bare_configured, BATCH, present).as_secs_f64();
        vs_bare.push(client / bare);
        vs_configured.push(client / configured);
    }
    for (against, ratios) in [
        ("bare", &mut vs_bare),
        ("bare with the client's config", &mut vs_configured),
    ] {
        ratios.sort_by(f64::total_cmp);
        println!(
            "{name}: interleaved client/{against} time ratio, median of {ROUNDS} rounds of \
             {BATCH} calls: {:.3} (min {:.3}, max {:.3})",
            ratios[ROUNDS / 2],
            ratios[0],
            ratios[ROUNDS - 1]
        );
    }
}

/// Thread CPU time of `f`, per call over `calls`, in microseconds.
fn cpu_per_call(calls: u64, f: impl FnOnce()) -> f64 {
    let start = cpu_time::ThreadTime::now();
    f();
    start.elapsed().as_secs_f64() * 1e6 / calls as f64
}

/// `calls` signs of the scenario's request and parses of its answer: the work a bare agent
/// sending pre-signed requests skips.
fn time_sign_parse(setup: &Setup, calls: u64, present: bool) -> f64 {
    let input = setup
        .images(1, false)
        .pop()
        .unwrap()
        .with_client_token(ClientToken::random())
        .unwrap();
    // The answer the emulator gives this scenario's requests, taken from the emulator.
    let request = setup.presign(&setup.images(1, present)).pop().unwrap();
    let answer = setup.bare_response(&setup.bare, request);
    let ctx = SigningContext::new(
        Timestamp::try_from(SystemTime::now()).unwrap(),
        Nonce::from_random_bytes(rand::random()),
    );
    cpu_per_call(calls, || {
        measured(|| {
            for _ in 0..calls {
                black_box(setup.signer.sign(black_box(&input), &setup.endpoint, &ctx));
                let parsed = parse_delete_custom_image(black_box(&answer));
                assert_eq!(parsed.is_ok(), present);
                black_box(parsed.ok());
            }
        })
    })
}

/// Interleaved rounds of thread CPU time per call: client, bare agents, sign+parse.
fn cpu_rounds(setup: &Setup, name: &str, present: bool) {
    const ROUNDS: usize = 21;
    const BATCH: u64 = 400;
    let mut figures = Figures::new([
        "client (us)",
        "bare ureq (us)",
        "bare ureq with the client's timeouts (us)",
        "sign+parse (us)",
        "client / bare",
        "client / bare with timeouts",
        "client - bare - sign+parse (us)",
        "client - bare with timeouts - sign+parse (us)",
    ]);
    for _ in 0..ROUNDS {
        let inputs = setup.images(BATCH, present);
        let bare = setup.presign(&setup.images(BATCH, present));
        let configured = setup.presign(&setup.images(BATCH, present));
        let client = cpu_per_call(BATCH, || {
            for input in &inputs {
                let result = setup.client.delete_custom_image(input);
                assert_eq!(result.is_ok(), present, "{result:?}");
                black_box(result.ok());
            }
        });
        let bare = cpu_per_call(BATCH, || {
            for request in bare {
                black_box(setup.bare_send(&setup.bare, request));
            }
        });
        let configured = cpu_per_call(BATCH, || {
            for request in configured {
                black_box(setup.bare_send(&setup.bare_configured, request));
            }
        });
        let sign_parse = time_sign_parse(setup, BATCH, present);
        figures.push([
            client,
            bare,
            configured,
            sign_parse,
            client / bare,
            client / configured,
            client - bare - sign_parse,
            client - configured - sign_parse,
        ]);
    }
    println!("{name}: thread CPU time per call, {ROUNDS} interleaved rounds of {BATCH} calls (min / median / max):");
    for (label, (min, median, max)) in figures.spreads() {
        println!("{name}:   {label:<46} {min:>7.3} / {median:>7.3} / {max:>7.3}");
    }
}

/// The calls whose instructions callgrind counts (see the crate docs): never inlined, so
/// that `--toggle-collect='*measured*'` finds it.
#[inline(never)]
fn measured(f: impl FnOnce()) {
    f()
}

/// Runs one side's calls inside [`measured`], when `SWAS_BENCH_SIDE` asks for it.
fn instructions(setup: &Setup, side: &str) {
    let var = |name: &str| std::env::var(name).ok();
    let calls = var("SWAS_BENCH_CALLS").map_or(200, |n| n.parse().expect("a number of calls"));
    let present = match var("SWAS_BENCH_SCENARIO").as_deref() {
        Some("delete") => true,
        Some("not_found") | None => false,
        Some(other) => panic!("unknown scenario {other:?}"),
    };
    // A first call of each kind outside the count: connections, lazy statics.
    time_client(setup, 1, present);
    time_bare(setup, &setup.bare, 1, present);
    time_bare(setup, &setup.bare_configured, 1, present);
    match side {
        "client" => {
            let inputs = setup.images(calls, present);
            measured(|| {
                for input in &inputs {
                    black_box(setup.client.delete_custom_image(input).ok());
                }
            });
        }
        "bare" | "bare_timeouts" => {
            let agent = if side == "bare" {
                &setup.bare
            } else {
                &setup.bare_configured
            };
            let requests = setup.presign(&setup.images(calls, present));
            measured(|| {
                for request in requests {
                    black_box(setup.bare_send(agent, request));
                }
            });
        }
        "sign_parse" => {
            // `time_sign_parse` prepares outside the count and measures inside.
            let _ = time_sign_parse(setup, calls, present);
        }
        other => panic!("unknown side {other:?}"),
    }
    println!(
        "{side}: {calls} calls ({}), {} emulator requests in all",
        if present { "delete" } else { "not_found" },
        setup.emu.stats().requests
    );
}

fn loopback(c: &mut Criterion) {
    let setup = Setup::new();
    if let Ok(side) = std::env::var("SWAS_BENCH_SIDE") {
        instructions(&setup, &side);
        setup.emu.shutdown();
        std::process::exit(0);
    }
    // Under `--profile-time` criterion runs only the selected function, and so do we, so
    // that a profiler sees one side.
    let profiling = std::env::args().any(|a| a == "--profile-time");
    for (name, present) in [("delete", true), ("not_found", false)] {
        scenario(c, &setup, name, present, profiling);
        if !profiling {
            cpu_rounds(&setup, name, present);
        }
    }
    if profiling {
        // To turn a profile's samples into time per call.
        println!("emulator requests: {}", setup.emu.stats().requests);
    }
    setup.emu.shutdown();
}

criterion_group!(benches, loopback);
criterion_main!(benches);
