//! What a call pays for its credentials when they are cached, beside a static key.
//!
//! - `core/static`, `core/cached`: `Config::current_signer` at the current time (both clocks
//!   read, as a call does), stepped once, for a client built with a fixed key, and for one
//!   whose provider issued credentials expiring in an hour, fetched once before timing.
//! - `blocking/static`, `blocking/cached`: the blocking client's `signer()`, what each
//!   attempt of a call does first (the same step, driven by the client's loop).
//! - `async/static`, `async/cached` (feature `async`): the async client's `signer()`, polled
//!   once by hand (it completes at once when the credentials are cached).
//!
//! The figure asked for is `cached - static`: the price of a provider over a key given to the
//! client, on a call that finds the credentials cached (target: under 100 ns). The round trips
//! a busy client pays for refreshes are counted by a unit test of the core's cache
//! (`busy_client`), over a simulated hour.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use swas_open::sans_io::{
    BoxError, ClientBuilder, Config, Credentials, CredentialsProvider, Exchange, FromConfig,
    ProvideCredentials, Readings, Signer, Step,
};

/// A provider whose credentials expire an hour after each fetch.
struct HourLong;

impl ProvideCredentials for HourLong {
    fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError> {
        let credentials = Credentials::new("STS.bench", "bench-secret")?
            .with_security_token("bench-security-token")?;
        Ok((
            credentials,
            Some(SystemTime::now() + Duration::from_secs(3600)),
        ))
    }
}

/// Two clients (or configurations) of type `C`: one with a fixed key, one with the
/// [`HourLong`] provider, which has not fetched yet.
fn static_and_provided<C: FromConfig>() -> (C, C) {
    let builder = || ClientBuilder::<C>::default().endpoint("http://127.0.0.1:9");
    let fixed = Credentials::new("bench-id", "bench-secret").unwrap();
    let provider = CredentialsProvider::custom(HourLong);
    (
        builder().credentials(fixed).build().unwrap(),
        builder().credentials(provider).build().unwrap(),
    )
}

/// The configuration's provider fetches once: its credentials are then cached.
fn prime(config: &Config) {
    let now = Instant::now();
    let mut signer = config.current_signer(Readings::new([0; 32], now, SystemTime::now()));
    match signer.next(now) {
        Step::Detach(mut fetch) => assert!(matches!(fetch.next(now), Step::Done(()))),
        other => panic!("expected the first fetch, got {other:?}"),
    }
    step(config);
}

fn step(config: &Config) -> std::sync::Arc<Signer> {
    let now = Instant::now();
    match config
        .current_signer(Readings::new([0; 32], now, SystemTime::now()))
        .next(now)
    {
        Step::Done(signer) => signer.unwrap(),
        other => panic!("no refresh while cached, got {other:?}"),
    }
}

fn core(c: &mut Criterion) {
    let (fixed, cached) = static_and_provided::<Config>();
    prime(&cached);
    let mut g = c.benchmark_group("credentials/core");
    short(&mut g);
    g.bench_function("static", |b| b.iter(|| step(black_box(&fixed))));
    g.bench_function("cached", |b| b.iter(|| step(black_box(&cached))));
    g.finish();
}

fn blocking(c: &mut Criterion) {
    use swas_open::blocking::Client;
    let (fixed, cached) = static_and_provided::<Client>();
    cached.signer().unwrap();
    let mut g = c.benchmark_group("credentials/blocking");
    short(&mut g);
    g.bench_function("static", |b| b.iter(|| black_box(&fixed).signer().unwrap()));
    g.bench_function("cached", |b| {
        b.iter(|| black_box(&cached).signer().unwrap())
    });
    g.finish();
}

#[cfg(feature = "async")]
fn asynchronous(c: &mut Criterion) {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use swas_open::asynchronous::Client;

    // The clients are built and primed in a runtime (a fetch runs in a task); the timed
    // polls need none, as a cached signer is ready at the first poll.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (fixed, cached) = runtime.block_on(async {
        let (fixed, cached) = static_and_provided::<Client>();
        cached.signer().await.unwrap();
        (fixed, cached)
    });
    let once = |client: &Client| {
        let mut cx = Context::from_waker(Waker::noop());
        match pin!(client.signer()).poll(&mut cx) {
            Poll::Ready(signer) => signer.unwrap(),
            Poll::Pending => panic!("a cached signer is ready at once"),
        }
    };
    let _entered = runtime.enter();
    let mut g = c.benchmark_group("credentials/async");
    short(&mut g);
    g.bench_function("static", |b| b.iter(|| once(black_box(&fixed))));
    g.bench_function("cached", |b| b.iter(|| once(black_box(&cached))));
    g.finish();
}

#[cfg(not(feature = "async"))]
fn asynchronous(_: &mut Criterion) {}

fn short<M: criterion::measurement::Measurement>(g: &mut criterion::BenchmarkGroup<'_, M>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
}

criterion_group!(benches, core, blocking, asynchronous);
criterion_main!(benches);
