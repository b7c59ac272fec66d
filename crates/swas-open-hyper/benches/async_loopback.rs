//! Requests per second and latency on loopback against the emulator: the SDK's client beside
//! bare hyper-util sending requests signed in advance, at several concurrencies, in one run.
//!
//! `cargo bench -p swas-open-hyper --bench async_loopback` prints a table: requests per second,
//! latency percentiles and connections opened during the measured slices, per side and
//! concurrency. `ratio` is the SDK's throughput over bare hyper's over the whole run;
//! `median` is the median of that ratio over pairs of slices run back to back, which a burst
//! of load elsewhere on the machine moves less. The target is at least 0.90 at every
//! concurrency.
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use swas_open_core::{
    ClientToken, Credentials, DeleteCustomImage, Endpoint, Nonce, Signer, SigningContext, Timestamp,
};
use swas_open_emulator::Emulator;
use swas_open_hyper::{Client, ErrorKind};

const ID: &str = "bench-access-key-id";
const SECRET: &str = "bench-access-key-secret";
const REGION: &str = "cn-hangzhou";
const CONCURRENCIES: [usize; 3] = [1, 16, 128];
/// Requests per side and concurrency, measured.
const REQUESTS: usize = 5_000;
/// The measured requests are sent in this many slices, alternating sides.
const SLICES: usize = 10;
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
            let bytes: [u8; 16] = rand::random();
            let op = absent(i)
                .with_client_token(ClientToken::from_random_bytes(bytes))
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

/// Runs `work` over `items` on `concurrency` tasks (task `t` takes items `t`, `t + c`, ...).
async fn run<T, F, Fut>(items: Vec<T>, concurrency: usize, work: F) -> Round
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut lanes: Vec<Vec<T>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        lanes[i % concurrency].push(item);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes {
        let work = work.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(lane.len());
            for item in lane {
                let t = Instant::now();
                work(item).await;
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
        connections: 0,
    }
}

async fn bare_round(
    emu: &Emulator,
    client: &Bare,
    requests: Vec<http::Request<Full<Bytes>>>,
    c: usize,
) -> Round {
    let client = client.clone();
    let before = emu.stats().connections;
    let mut round = run(requests, c, move |request| {
        let client = client.clone();
        async move {
            let response = client.request(request).await.expect("bare request");
            assert_eq!(response.status(), 404);
            let body = response.into_body().collect().await.expect("bare body");
            std::hint::black_box(body.to_bytes());
        }
    })
    .await;
    round.connections = emu.stats().connections - before;
    round
}

async fn sdk_round(
    emu: &Emulator,
    client: &Client,
    inputs: Vec<DeleteCustomImage>,
    c: usize,
) -> Round {
    let client = client.clone();
    let before = emu.stats().connections;
    let mut round = run(inputs, c, move |input| {
        let client = client.clone();
        async move {
            match client
                .delete_custom_image(&input)
                .await
                .map_err(swas_open_hyper::Error::into_kind)
            {
                Err(ErrorKind::Service(e)) if e.status == 404 => {}
                other => panic!("unexpected outcome: {other:?}"),
            }
        }
    })
    .await;
    round.connections = emu.stats().connections - before;
    round
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

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then run a smoke pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (requests, slices, warm_up) = if quick {
        (200, 2, 20)
    } else {
        (REQUESTS, SLICES, WARM_UP)
    };
    let per_slice = requests / slices;

    // One emulator per side, both receiving the same sequence of requests: their nonce and
    // token tables grow (and pause to resize) at the same points of each side's run.
    let (bare_emu, sdk_emu) = (emulator(), emulator());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = Endpoint::parse(&bare_emu.url()).expect("emulator url");
    let signer = Signer::new(Credentials::new(ID, SECRET).expect("credentials"));
    let (bare_seq, sdk_seq) = (AtomicUsize::new(0), AtomicUsize::new(0));

    println!(
        "loopback: {} requests per side and concurrency, in {slices} alternating slices; sdk: swas-open-hyper Client (V1 signing per call); bare: hyper-util, pre-signed requests",
        per_slice * slices
    );
    println!(
        "{:>11} | {:>4} | {:>10} | {:>8} | {:>8} | {:>11} | {:>6} | {:>6}",
        "concurrency", "side", "req/s", "p50 ms", "p99 ms", "connections", "ratio", "median"
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
            pair_ratios.sort_by(f64::total_cmp);
            let median = pair_ratios[pair_ratios.len() / 2];
            let (b, s) = (&total(bare_slices), &total(sdk_slices));
            for (side, r) in [("bare", b), ("sdk", s)] {
                let (ratio, median) = if side == "sdk" {
                    (format!("{:.3}", s.rps() / b.rps()), format!("{median:.3}"))
                } else {
                    (String::new(), String::new())
                };
                println!(
                    "{c:>11} | {side:>4} | {:>10.0} | {:>8} | {:>8} | {:>11} | {ratio:>6} | {median:>6}",
                    r.rps(),
                    ms(r.percentile(0.50)),
                    ms(r.percentile(0.99)),
                    r.connections,
                );
            }
        }
    });
    for (side, emu) in [("bare", &bare_emu), ("sdk", &sdk_emu)] {
        let stats = emu.stats();
        println!(
            "{side} emulator: {} requests on {} connections",
            stats.requests, stats.connections
        );
        emu.shutdown();
    }
}
