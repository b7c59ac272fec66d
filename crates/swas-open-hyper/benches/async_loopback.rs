//! Requests per second and latency on loopback against the emulator: the SDK's client beside
//! bare hyper-util sending requests signed in advance, at several concurrencies, in one run.
//!
//! `cargo bench -p swas-open-hyper --bench async_loopback` prints a table: requests per second,
//! latency percentiles and connections opened during the measured slices, per side and
//! concurrency. `ratio` is the SDK's throughput over bare hyper's over the whole run;
//! `min`, `median` and `max` are taken over that ratio for pairs of slices run back to back;
//! the median is the figure a burst of load elsewhere on the machine moves least. The target
//! is a median of at least 0.95 at every concurrency.
//!
//! # Equal work on both sides
//! - Both send the same request: `POST /?<V1-signed query>` with an empty body, the same
//!   headers, a distinct `SignatureNonce` and `ClientToken` each, so the emulator verifies a
//!   signature, records a nonce and a token, and looks up an image for every request.
//! - Both target absent images, so every answer is the same 404 `InvalidImageId.NotFound`
//!   body and the image table never changes between runs. (Deleting would need a fresh image
//!   per request on both sides; the server work would be the same, with more set-up.)
//! - Bare hyper uses a pooled client built exactly as the SDK's (same connector options,
//!   same pool) and reads the whole body; the requests are signed before the clock starts.
//!   The SDK side signs, sends, reads, parses into a typed error and runs the retry policy's
//!   decision (404 is final) on the clock: that difference is what the ratio measures.
//! - Each side has its own emulator, started alike and sent the same sequence of requests,
//!   so the emulators' nonce and token tables grow, and pause to resize, at the same points
//!   of both runs. The emulators run on runtimes and threads of their own; the clients share
//!   another runtime.
//!   Each configuration warms up both sides first; then the sides take turns in short
//!   slices, so a burst of load elsewhere on the machine falls on both.
//!
//! # CPU time per request
//! Throughput at c=1 measures the machine as much as the client: each request waits for the
//! emulator's threads to be scheduled. A second table holds still: the CPU time each side
//! spends per request. The clients run on a current-thread runtime on the bench's main
//! thread (connection tasks, timers and I/O included), the emulators on threads of their
//! own, so that thread's CPU time is the client side's alone. Sides alternate in rounds;
//! each round also times, on the same thread, the core's signing of the same request and
//! parsing of the same 404 answer (`sign+parse`, the work the pre-signed bare side skips),
//! and a third side, `bare+timeouts`: bare hyper-util with the two bounds the client puts
//! around every request (answer head, body), as two `tokio::time::timeout`s (the client
//! sets one timer for both). Printed: min/median/max over
//! the rounds of each side's CPU µs per request, of the ratio sdk/bare, and of what the
//! client adds beyond signing and parsing, `sdk - bare - sign+parse`.
//!
//! # Instructions per request
//! With `SWAS_BENCH_SIDE` set (`sdk`, `bare`, `bare_timeouts` or `sign_parse`), the bench
//! runs `SWAS_BENCH_CALLS` requests (default 200) of that side at concurrency
//! `SWAS_BENCH_CONCURRENCY` (default 1) on the current-thread runtime, inside one function,
//! `measured`, and exits. Under `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*measured*'` the count covers the client side only (the emulators run on
//! threads of their own); two runs with different request counts give instructions per
//! request without the set-up. BENCHMARKS.md has the commands and the figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use swas_open_core::{
    parse_delete_custom_image, ClientToken, Credentials, DeleteCustomImage, Endpoint, Nonce,
    Signer, SigningContext, Timestamp,
};
use swas_open_emulator::Emulator;
use swas_open_hyper::{Client, ErrorKind};
use swas_open_testkit::figures::{spread, Figures};

const ID: &str = "bench-access-key-id";
const SECRET: &str = "bench-access-key-secret";
const REGION: &str = "cn-hangzhou";
const CONCURRENCIES: [usize; 3] = [1, 16, 128];
/// Requests per side and concurrency, measured.
const REQUESTS: usize = 10_000;
/// The measured requests are sent in this many slices, alternating sides.
const SLICES: usize = 20;
const WARM_UP: usize = 500;

type Bare = PooledClient<HttpConnector, Full<Bytes>>;

/// The bare client, configured as the SDK configures its own.
fn bare_client() -> Bare {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.set_keepalive(Some(Duration::from_secs(30)));
    PooledClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(128)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(http)
}

fn absent(i: usize) -> DeleteCustomImage {
    DeleteCustomImage::new(REGION, format!("m-absent-{i}")).expect("valid input")
}

/// `n` V1-signed requests for absent images, each with its own nonce and ClientToken.
fn presign(
    signer: &Signer,
    endpoint: &Endpoint,
    n: usize,
    seq: &AtomicUsize,
) -> Vec<http::Request<Full<Bytes>>> {
    let now = Timestamp::try_from(SystemTime::now()).expect("clock after 1970");
    (0..n)
        .map(|_| {
            let i = seq.fetch_add(1, Ordering::Relaxed);
            let op = absent(i)
                .with_client_token(ClientToken::random())
                .expect("a ClientToken is valid");
            let ctx = SigningContext::new(now, Nonce::from_random_bytes(rand::random()));
            let (parts, body) = signer.sign(&op, endpoint, &ctx).into_parts();
            http::Request::from_parts(parts, Full::new(Bytes::from(body)))
        })
        .collect()
}

/// One measured round: wall time and every request's latency.
struct Round {
    wall: Duration,
    latencies: Vec<Duration>,
    /// Connections the emulator accepted meanwhile.
    connections: u64,
}

impl Round {
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// Runs `work` over `items` with its own clone of `client` each, on `concurrency` tasks (task
/// `t` takes items `t`, `t + c`, ...), and counts the connections `emu` accepted meanwhile.
async fn run<C, T, F, Fut>(
    emu: &Emulator,
    client: &C,
    items: Vec<T>,
    concurrency: usize,
    work: F,
) -> Round
where
    C: Clone + Send + 'static,
    T: Send + 'static,
    F: Fn(C, T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let before = emu.stats().connections;
    let mut lanes: Vec<Vec<T>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        lanes[i % concurrency].push(item);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes {
        let (work, client) = (work.clone(), client.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(lane.len());
            for item in lane {
                let t = Instant::now();
                work(client.clone(), item).await;
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(lane) = tasks.join_next().await {
        latencies.extend(lane.expect("bench task"));
    }
    Round {
        wall: started.elapsed(),
        latencies,
        connections: emu.stats().connections - before,
    }
}

async fn bare_round(
    emu: &Emulator,
    client: &Bare,
    requests: Vec<http::Request<Full<Bytes>>>,
    c: usize,
) -> Round {
    run(
        emu,
        client,
        requests,
        c,
        |client: Bare, request| async move {
            let response = client.request(request).await.expect("bare request");
            assert_eq!(response.status(), 404);
            let body = response.into_body().collect().await.expect("bare body");
            std::hint::black_box(body.to_bytes());
        },
    )
    .await
}

/// Bare hyper-util with the bounds the client puts around each request, as a
/// `tokio::time::timeout` on the answer's head and one on its body.
async fn bare_timeouts_round(
    emu: &Emulator,
    client: &Bare,
    requests: Vec<http::Request<Full<Bytes>>>,
    c: usize,
) -> Round {
    const READ: Duration = Duration::from_secs(10);
    run(
        emu,
        client,
        requests,
        c,
        |client: Bare, request| async move {
            let response = tokio::time::timeout(READ, client.request(request))
                .await
                .expect("in time")
                .expect("bare request");
            assert_eq!(response.status(), 404);
            let body = tokio::time::timeout(READ, response.into_body().collect())
                .await
                .expect("in time")
                .expect("bare body");
            std::hint::black_box(body.to_bytes());
        },
    )
    .await
}

async fn sdk_round(
    emu: &Emulator,
    client: &Client,
    inputs: Vec<DeleteCustomImage>,
    c: usize,
) -> Round {
    run(emu, client, inputs, c, |client: Client, input| async move {
        match client
            .delete_custom_image(&input)
            .await
            .map_err(swas_open_hyper::Error::into_kind)
        {
            Err(ErrorKind::Service(e)) if e.status == 404 => {}
            other => panic!("unexpected outcome: {other:?}"),
        }
    })
    .await
}

/// The slices of one side as one round: their wall times added, their latencies pooled.
fn total(slices: Vec<Round>) -> Round {
    slices.into_iter().fold(
        Round {
            wall: Duration::ZERO,
            latencies: Vec::new(),
            connections: 0,
        },
        |mut acc, r| {
            acc.wall += r.wall;
            acc.latencies.extend(r.latencies);
            acc.connections += r.connections;
            acc
        },
    )
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn emulator() -> Emulator {
    Emulator::builder()
        .access_key(ID, SECRET)
        .start_blocking()
        .expect("emulator starts")
}

/// Thread CPU time of `f`, in microseconds per request over `n`.
fn cpu_us<T>(n: usize, f: impl FnOnce() -> T) -> f64 {
    let start = cpu_time::ThreadTime::now();
    std::hint::black_box(f());
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// What the CPU-time rounds share.
struct CpuBench<'a> {
    bare_emu: &'a Emulator,
    sdk_emu: &'a Emulator,
    signer: &'a Signer,
    endpoint: &'a Endpoint,
    bare_seq: &'a AtomicUsize,
    sdk_seq: &'a AtomicUsize,
}

impl CpuBench<'_> {
    fn signed(&self, n: usize) -> Vec<http::Request<Full<Bytes>>> {
        presign(self.signer, self.endpoint, n, self.bare_seq)
    }

    fn inputs(&self, n: usize) -> Vec<DeleteCustomImage> {
        (0..n)
            .map(|_| absent(self.sdk_seq.fetch_add(1, Ordering::Relaxed)))
            .collect()
    }

    /// `n` signs of a request like the client's and parses of the emulator's 404 answer.
    fn sign_parse(&self, n: usize, answer: &http::Response<Vec<u8>>) -> f64 {
        let op = absent(0)
            .with_client_token(ClientToken::random())
            .expect("a ClientToken is valid");
        let ctx = SigningContext::new(
            Timestamp::try_from(SystemTime::now()).expect("clock after 1970"),
            Nonce::from_random_bytes(rand::random()),
        );
        cpu_us(n, || {
            measured(|| {
                for _ in 0..n {
                    std::hint::black_box(self.signer.sign(
                        std::hint::black_box(&op),
                        self.endpoint,
                        &ctx,
                    ));
                    let parsed = parse_delete_custom_image(std::hint::black_box(answer));
                    assert!(parsed.is_err());
                    std::hint::black_box(parsed.err());
                }
            })
        })
    }

    /// One side's requests inside [`measured`], for callgrind (see the crate docs).
    fn instructions(&self, side: &str, calls: usize, c: usize) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (bare, sdk) = runtime.block_on(async {
            let sdk = Client::builder()
                .credentials(Credentials::new(ID, SECRET).expect("credentials"))
                .endpoint(&self.sdk_emu.url())
                .build()
                .expect("client");
            (bare_client(), sdk)
        });
        // Warm both sides (connections, lazy statics) outside the count.
        runtime.block_on(bare_round(self.bare_emu, &bare, self.signed(c), c));
        runtime.block_on(bare_timeouts_round(self.bare_emu, &bare, self.signed(c), c));
        runtime.block_on(sdk_round(self.sdk_emu, &sdk, self.inputs(c), c));
        match side {
            "bare" => {
                let requests = self.signed(calls);
                measured(|| runtime.block_on(bare_round(self.bare_emu, &bare, requests, c)));
            }
            "bare_timeouts" => {
                let requests = self.signed(calls);
                measured(|| {
                    runtime.block_on(bare_timeouts_round(self.bare_emu, &bare, requests, c))
                });
            }
            "sdk" => {
                let ops = self.inputs(calls);
                measured(|| runtime.block_on(sdk_round(self.sdk_emu, &sdk, ops, c)));
            }
            "sign_parse" => {
                let answer = runtime.block_on(async {
                    let request = self.signed(1).pop().expect("one request");
                    let (parts, body) = bare.request(request).await.expect("answer").into_parts();
                    let body = body.collect().await.expect("body").to_bytes().to_vec();
                    http::Response::from_parts(parts, body)
                });
                let _ = self.sign_parse(calls, &answer);
            }
            other => panic!("unknown side {other:?}"),
        }
        println!("{side}: {calls} requests at concurrency {c}");
    }

    /// Interleaved rounds at each concurrency on a current-thread runtime; prints the table.
    fn run(&self, quick: bool) {
        let (rounds, per_round) = if quick { (2, 50) } else { (15, 1_000) };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        println!(
            "thread CPU time per request, client side only (current-thread runtime), {rounds} interleaved rounds of {per_round}; min / median / max"
        );
        println!(
            "{:>11} | {:<30} | {:>8} | {:>8} | {:>8}",
            "concurrency", "figure", "min", "median", "max"
        );
        for c in CONCURRENCIES {
            // Fresh clients per concurrency, built in the runtime they run on.
            let (bare, bare_t, sdk) = runtime.block_on(async {
                let sdk = Client::builder()
                    .credentials(Credentials::new(ID, SECRET).expect("credentials"))
                    .endpoint(&self.sdk_emu.url())
                    .build()
                    .expect("client");
                (bare_client(), bare_client(), sdk)
            });
            let warm = 200.max(c);
            runtime.block_on(bare_round(self.bare_emu, &bare, self.signed(warm), c));
            runtime.block_on(bare_timeouts_round(
                self.bare_emu,
                &bare_t,
                self.signed(warm),
                c,
            ));
            runtime.block_on(sdk_round(self.sdk_emu, &sdk, self.inputs(warm), c));
            let answer = runtime.block_on(async {
                let request = self.signed(1).pop().expect("one request");
                let (parts, body) = bare.request(request).await.expect("answer").into_parts();
                let body = body.collect().await.expect("body").to_bytes().to_vec();
                http::Response::from_parts(parts, body)
            });

            let mut figures = Figures::new([
                "sdk (us)",
                "bare (us)",
                "bare+timeouts (us)",
                "sign+parse (us)",
                "sdk / bare",
                "sdk - bare - sign+parse (us)",
                "sdk - bare+timeouts - s+p (us)",
            ]);
            for round in 0..rounds {
                let mut plain = Some(self.signed(per_round));
                let mut timed = Some(self.signed(per_round));
                let mut ops = Some(self.inputs(per_round));
                let mut cpu = [0.0; 4];
                // Rotate which side goes first.
                for k in 0..4 {
                    let side = (round + k) % 4;
                    cpu[side] = match side {
                        0 => {
                            let requests = plain.take().expect("once");
                            cpu_us(per_round, || {
                                runtime.block_on(bare_round(self.bare_emu, &bare, requests, c))
                            })
                        }
                        1 => {
                            let requests = timed.take().expect("once");
                            cpu_us(per_round, || {
                                runtime.block_on(bare_timeouts_round(
                                    self.bare_emu,
                                    &bare_t,
                                    requests,
                                    c,
                                ))
                            })
                        }
                        2 => {
                            let ops = ops.take().expect("once");
                            cpu_us(per_round, || {
                                runtime.block_on(sdk_round(self.sdk_emu, &sdk, ops, c))
                            })
                        }
                        _ => self.sign_parse(per_round, &answer),
                    };
                }
                let [bare, timeouts, sdk, sign_parse] = cpu;
                figures.push([
                    sdk,
                    bare,
                    timeouts,
                    sign_parse,
                    sdk / bare,
                    sdk - bare - sign_parse,
                    sdk - timeouts - sign_parse,
                ]);
            }
            for (label, (min, median, max)) in figures.spreads() {
                println!("{c:>11} | {label:<30} | {min:>8.3} | {median:>8.3} | {max:>8.3}");
            }
        }
    }
}

/// The requests whose instructions callgrind counts: never inlined, so that
/// `--toggle-collect='*measured*'` finds it.
#[inline(never)]
fn measured<T>(f: impl FnOnce() -> T) -> T {
    f()
}

fn main() {
    // One emulator per side, both receiving the same sequence of requests: their nonce and
    // token tables grow (and pause to resize) at the same points of each side's run.
    let (bare_emu, sdk_emu) = (emulator(), emulator());
    let endpoint = bare_emu.url().parse::<Endpoint>().expect("emulator url");
    let signer = Signer::new(Credentials::new(ID, SECRET).expect("credentials"));
    let (bare_seq, sdk_seq) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let cpu = CpuBench {
        bare_emu: &bare_emu,
        sdk_emu: &sdk_emu,
        signer: &signer,
        endpoint: &endpoint,
        bare_seq: &bare_seq,
        sdk_seq: &sdk_seq,
    };
    if let Ok(side) = std::env::var("SWAS_BENCH_SIDE") {
        let var = |name: &str, default: usize| {
            std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
        };
        let (calls, c) = (
            var("SWAS_BENCH_CALLS", 200),
            var("SWAS_BENCH_CONCURRENCY", 1),
        );
        cpu.instructions(&side, calls, c);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then run a smoke pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (requests, slices, warm_up) = if quick {
        (200, 2, 20)
    } else {
        (REQUESTS, SLICES, WARM_UP)
    };
    let per_slice = requests / slices;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "loopback: {} requests per side and concurrency, in {slices} alternating slices; sdk: swas-open-hyper Client (V1 signing per call); bare: hyper-util, pre-signed requests",
        per_slice * slices
    );
    println!(
        "{:>11} | {:>4} | {:>10} | {:>8} | {:>8} | {:>11} | {:>6} | {:>6} | {:>6} | {:>6}",
        "concurrency",
        "side",
        "req/s",
        "p50 ms",
        "p99 ms",
        "connections",
        "ratio",
        "min",
        "median",
        "max"
    );
    runtime.block_on(async {
        for c in CONCURRENCIES {
            // Fresh clients per configuration, so each starts from an empty pool.
            let bare = bare_client();
            let sdk = Client::builder()
                .credentials(Credentials::new(ID, SECRET).expect("credentials"))
                .endpoint(&sdk_emu.url())
                .build()
                .expect("client");
            let signed = |n: usize| presign(&signer, &endpoint, n, &bare_seq);
            let inputs = |n: usize| -> Vec<DeleteCustomImage> {
                (0..n)
                    .map(|_| absent(sdk_seq.fetch_add(1, Ordering::Relaxed)))
                    .collect()
            };
            let warm = warm_up.max(c);
            bare_round(&bare_emu, &bare, signed(warm), c).await;
            sdk_round(&sdk_emu, &sdk, inputs(warm), c).await;

            // Short slices, alternating which side goes first, so both meet the same
            // conditions on the machine.
            let (mut bare_slices, mut sdk_slices) = (Vec::new(), Vec::new());
            for slice in 0..slices {
                let (requests, ops) = (signed(per_slice), inputs(per_slice));
                if slice % 2 == 0 {
                    bare_slices.push(bare_round(&bare_emu, &bare, requests, c).await);
                    sdk_slices.push(sdk_round(&sdk_emu, &sdk, ops, c).await);
                } else {
                    sdk_slices.push(sdk_round(&sdk_emu, &sdk, ops, c).await);
                    bare_slices.push(bare_round(&bare_emu, &bare, requests, c).await);
                }
            }
            let mut pair_ratios: Vec<f64> = bare_slices
                .iter()
                .zip(&sdk_slices)
                .map(|(b, s)| s.rps() / b.rps())
                .collect();
            let (min, median, max) = spread(&mut pair_ratios);
            let (b, s) = (&total(bare_slices), &total(sdk_slices));
            for (side, r) in [("bare", b), ("sdk", s)] {
                let (ratio, min, median, max) = if side == "sdk" {
                    (
                        format!("{:.3}", s.rps() / b.rps()),
                        format!("{min:.3}"),
                        format!("{median:.3}"),
                        format!("{max:.3}"),
                    )
                } else {
                    Default::default()
                };
                println!(
                    "{c:>11} | {side:>4} | {:>10.0} | {:>8} | {:>8} | {:>11} | {ratio:>6} | {min:>6} | {median:>6} | {max:>6}",
                    r.rps(),
                    ms(r.percentile(0.50)),
                    ms(r.percentile(0.99)),
                    r.connections,
                );
            }
        }
    });
    cpu.run(quick);
    for (side, emu) in [("bare", &bare_emu), ("sdk", &sdk_emu)] {
        let stats = emu.stats();
        println!(
            "{side} emulator: {} requests on {} connections",
            stats.requests, stats.connections
        );
        emu.shutdown();
    }
}
