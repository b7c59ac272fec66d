//! One scenario suite for every client of this workspace.
//!
//! Each scenario is written once, as a function generic over a [`Driver`]: the one thing
//! that differs between the blocking and the async client is how a call is made and waited
//! for. The testkit holds both clients' drivers ([`clients::Blocking`], [`clients::Async`]);
//! each client's `tests/suite.rs` (a `harness = false` target) runs the whole suite with
//! [`run_suite`], so every client runs every scenario with the same assertions: parity by
//! construction. What only one transport has (a dropped future, a pool size) stays in that
//! client's own tests.
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     swas_open_testkit::run_suite(|| swas_open_testkit::clients::Blocking, &[])
//! }
//! ```
//!
//! # Adding a scenario, or a module of them
//!
//! A scenario is a private `fn name<D: Driver>(d: &D)` in a scenario module, named in that
//! module's `list`:
//!
//! ```text
//! pub(crate) fn list<D: Driver>() -> Vec<crate::Scenario<D>> {
//!     crate::scenario_list![first_scenario, second_scenario]
//! }
//! ```
//!
//! A new module is declared here (`mod seams;`) and its `list()` added to the array in
//! `all()`. The crate denies dead code, so a scenario left out of its module's list, or a
//! module's list left out of `all()`, does not compile.
#![forbid(unsafe_code)]
// A scenario missing from its module's list is dead code: see [`all`].
#![deny(dead_code)]

use std::fmt;
use std::thread;
use std::time::Duration;

use swas_open_core::{
    ClientBuilder, Credentials, DeleteCustomImage, DeleteCustomImageOutput, Error, FromConfig,
    RetryPolicy,
};
use swas_open_emulator::{Emulator, EmulatorBuilder};

pub mod clients;
pub mod creds;
pub mod figures;
mod hostile;
mod scenarios;
mod seams;
mod server;
pub mod storm;
mod trace;

pub use server::{clear_faults, CannedServer, Loopback};
pub use trace::{capture, Entry};

/// What one delete ends in, from either client.
pub type CallResult = Result<DeleteCustomImageOutput, Error>;

/// The plain AccessKey id the emulator knows.
pub const ID: &str = "test-access-key-id";
/// Its secret.
pub const SECRET: &str = "Sup3r-S3cret-Value-0042";
/// The temporary (STS) AccessKey id the emulator knows.
pub const STS_ID: &str = "STS.test-temporary-id";
/// Its secret.
pub const STS_SECRET: &str = "Sts-S3cret-Value-0077";
/// The security token that must come with it.
pub const STS_TOKEN: &str = "test-security-token-CAIS8gF1q6Ft5B2yfSjIr5bSEsnD2rVM";
/// The region every scenario deletes in.
pub const REGION: &str = "cn-hangzhou";
/// A shared image every emulator of the fixture holds: deleting it is refused.
pub const SHARED_IMAGE: &str = "m-shared";

/// How a client is called: the one thing the scenarios leave to each transport.
///
/// `delete` makes one call and waits for it; `delete_all` runs many calls through one
/// client at once (threads for a blocking client, tasks for an async one).
pub trait Driver {
    /// The client under test; built by [`ClientBuilder`] like every client of the SDK.
    type Client: FromConfig + Clone + fmt::Debug + Send + Sync + 'static;

    /// Deletes `input` with `client` and waits for the result.
    fn delete(&self, client: &Self::Client, input: &DeleteCustomImage) -> CallResult;

    /// Deletes every input with `client`, at most `concurrency` calls in flight at once, each
    /// on its own thread or task; the results come back in the order of `inputs`.
    fn delete_all(
        &self,
        client: &Self::Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<CallResult>;

    /// The client's clock offset (`Client::clock_offset`).
    fn clock_offset(&self, client: &Self::Client) -> i64;
}

/// An emulator builder knowing [`ID`] and [`STS_ID`], holding [`SHARED_IMAGE`] and `images`
/// in [`REGION`].
pub fn emulator_builder(images: &[&str]) -> EmulatorBuilder {
    let mut builder = Emulator::builder()
        .access_key(ID, SECRET)
        .sts_access_key(STS_ID, STS_SECRET, STS_TOKEN)
        .shared_image(REGION, SHARED_IMAGE);
    for image in images {
        builder = builder.image(REGION, image);
    }
    builder
}

/// [`emulator_builder`], started on a thread of its own.
pub fn emulator(images: &[&str]) -> Emulator {
    emulator_builder(images)
        .start_blocking()
        .expect("emulator starts")
}

/// `n` image ids, `m-0000` and up.
pub fn image_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m-{i:04}")).collect()
}

/// An emulator holding [`image_ids`]`(n)`.
pub fn emulator_with(n: usize) -> Emulator {
    let emu = emulator(&[]);
    for id in image_ids(n) {
        emu.add_image(REGION, &id, false);
    }
    emu
}

/// A retry policy of `max_attempts` with short waits (the default budget), so tests that
/// retry stay quick.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    let mut policy = RetryPolicy::new(max_attempts);
    policy.base_delay = Duration::from_millis(5);
    policy.max_delay = Duration::from_millis(50);
    policy
}

/// [`quick_retries`] with no retry budget: every retry allowed.
pub fn quick_retries_without_budget(max_attempts: u32) -> RetryPolicy {
    let mut policy = quick_retries(max_attempts);
    policy.budget = None;
    policy
}

/// A builder for client `C` aimed at `endpoint` with the plain test key and the default
/// retry policy.
pub fn builder_for<C>(endpoint: &str) -> ClientBuilder<C> {
    ClientBuilder::default()
        .credentials(Credentials::new(ID, SECRET).expect("valid credentials"))
        .endpoint(endpoint)
}

/// A builder aimed at `emu` with the plain test key and three quick attempts.
pub fn builder<C>(emu: &Emulator) -> ClientBuilder<C> {
    builder_for(&emu.url()).retry_policy(quick_retries(3))
}

/// The temporary key the emulator knows: [`STS_ID`] with its secret and token.
pub fn temporary_credentials() -> Credentials {
    Credentials::new(STS_ID, STS_SECRET)
        .expect("valid credentials")
        .with_security_token(STS_TOKEN)
        .expect("valid token")
}

/// The delete of `image` in [`REGION`].
pub fn input(image: &str) -> DeleteCustomImage {
    DeleteCustomImage::new(REGION, image).expect("valid input")
}

/// Runs `f` on every item, on at most `concurrency` scoped threads; the results come back
/// in the order of `items`. The blocking driver's `delete_all`.
pub fn on_threads<T: Send, R: Send>(
    items: Vec<T>,
    concurrency: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let count = items.len();
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    let results = std::sync::Mutex::new(Vec::with_capacity(count));
    thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, count.max(1)) {
            scope.spawn(|| loop {
                let next = queue.lock().expect("queue lock").next();
                let Some((i, item)) = next else { break };
                let result = f(item);
                results.lock().expect("results lock").push((i, result));
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// One scenario: a test every client runs, by name.
pub struct Scenario<D> {
    name: &'static str,
    run: fn(&D),
}

/// The [`Scenario`]s of the scenario functions named, in a module's `list`.
macro_rules! scenario_list {
    ($($name:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: stringify!($name), run: $name }),*]
    };
}
pub(crate) use scenario_list;

/// Every scenario of the kit: each scenario module's `list`.
///
/// The scenario functions of a module are private and its `list` is `pub(crate)`, so a
/// scenario left out of its module's list, or a module left out of here, is dead code, which
/// this crate refuses (`deny(dead_code)`); a name listed but not written does not resolve.
fn all<D: Driver>() -> Vec<Scenario<D>> {
    [
        scenarios::list(),
        creds::list(),
        hostile::list(),
        seams::list(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Runs every scenario of the kit as a test of its own, each with a driver made afresh by
/// `driver`: the `main` of a client's `harness = false` test target. It takes the arguments
/// `cargo test` passes (a name filter, `--ignored`, `--list`, `--test-threads`, ...).
///
/// A client that is known to fail a scenario names it in `ignored`, with the reason; the test
/// is still built, and runs with `cargo test -- --ignored`. A name there that is no scenario
/// stops the run.
///
/// ```text
/// fn main() -> std::process::ExitCode {
///     swas_open_testkit::run_suite(|| Blocking, &[
///         ("some_scenario", "what is wrong, and where the fix goes"),
///     ])
/// }
/// ```
pub fn run_suite<D: Driver + 'static>(
    driver: fn() -> D,
    ignored: &[(&str, &str)],
) -> std::process::ExitCode {
    let scenarios = all::<D>();
    for (name, reason) in ignored {
        assert!(
            scenarios.iter().any(|s| s.name == *name),
            "{name} is ignored ({reason}) but is no scenario"
        );
    }
    let trials = scenarios
        .into_iter()
        .map(|Scenario { name, run }| {
            libtest_mimic::Trial::test(name, move || {
                run(&driver());
                Ok(())
            })
            .with_ignored_flag(ignored.iter().any(|(n, _)| *n == name))
        })
        .collect();
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit_code()
}

#[cfg(test)]
mod tests {
    #[test]
    fn on_threads_keeps_the_order_and_runs_everything() {
        let out = super::on_threads((0..100).collect(), 7, |i: u32| i * 2);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::on_threads(Vec::<u8>::new(), 4, |i| i).is_empty());
    }
}
