//! One scenario suite for every client of this workspace.
//!
//! Each scenario is written once, as a function generic over a [`Driver`]: the one thing
//! that differs between the blocking and the async client is how a call is made and waited
//! for. A client's test crate implements [`Driver`] and instantiates the whole suite with
//! [`suite!`], so every client runs every scenario with the same assertions: parity by
//! construction. What only one transport has (a dropped future, a pool size) stays in that
//! client's own tests.
//!
//! ```text
//! struct Blocking;
//! impl swas_open_testkit::Driver for Blocking { /* ... */ }
//! swas_open_testkit::suite!(Blocking);
//! ```
#![forbid(unsafe_code)]

use std::fmt;
use std::thread;
use std::time::Duration;

use swas_open_core::{
    ClientBuilder, Credentials, DeleteCustomImage, DeleteCustomImageOutput, Error, FromConfig,
    RetryPolicy,
};
use swas_open_emulator::{Emulator, EmulatorBuilder};

pub mod creds;
pub mod figures;
pub mod scenarios;
pub mod seams;
mod server;
mod trace;

pub use server::{clear_faults, CannedServer, Loopback};
pub use trace::{capture, Entry};

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
    fn delete(
        &self,
        client: &Self::Client,
        input: &DeleteCustomImage,
    ) -> Result<DeleteCustomImageOutput, Error>;

    /// Deletes every input with `client`, at most `concurrency` calls in flight at once, each
    /// on its own thread or task; the results come back in the order of `inputs`.
    fn delete_all(
        &self,
        client: &Self::Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<Result<DeleteCustomImageOutput, Error>>;

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

/// Instantiates every scenario of [`scenarios`] as a `#[test]` for the driver `$driver`
/// (an expression, evaluated afresh in each test).
///
/// A client that is known to fail a scenario names it after `ignore`, with the reason; the
/// test is still built, and runs with `cargo test -- --ignored`:
///
/// ```text
/// swas_open_testkit::suite!(Blocking; ignore {
///     some_scenario: "what is wrong, and where the fix goes",
/// });
/// ```
///
/// The list below is the suite; a unit test of this crate checks it names every public
/// function of [`scenarios`], so a scenario cannot be written and left out.
#[macro_export]
macro_rules! suite {
    ($driver:expr $(; ignore { $($ignored:ident : $reason:literal),* $(,)? })? $(;)?) => {
        $crate::__suite! { ($) $driver; [$($($ignored : $reason),*)?] }
    };
}

/// The body of [`suite!`]: a local macro that writes one scenario's test, ignored or not,
/// and the list of scenarios. (`$d` is a `$`, for the local macro's own variables.)
#[doc(hidden)]
#[macro_export]
macro_rules! __suite {
    (($d:tt) $driver:expr; [$($ignored:ident : $reason:literal),*]) => {
        macro_rules! __scenario {
            $(
                ($ignored) => {
                    #[test]
                    #[ignore = $reason]
                    fn $ignored() {
                        $crate::scenarios::$ignored(&$driver);
                    }
                };
            )*
            ($d name:ident) => {
                #[test]
                fn $d name() {
                    $crate::scenarios::$d name(&$driver);
                }
            };
        }
        __scenario!(success_with_v1_and_v3);
        __scenario!(a_given_client_token_is_used);
        __scenario!(outcomes_in_sequence);
        __scenario!(not_found_is_a_service_error_with_every_field);
        __scenario!(shared_image_is_refused);
        __scenario!(wrong_secret_does_not_match);
        __scenario!(sts_credentials);
        __scenario!(unavailable_twice_then_success);
        __scenario!(retries_stop_at_max_attempts);
        __scenario!(gives_up_after_max_attempts);
        __scenario!(throttling_waits_for_the_hint);
        __scenario!(commit_then_drop_replays_the_first_answer);
        __scenario!(commit_then_drop_without_retries_is_a_reset);
        __scenario!(read_timeout_fires);
        __scenario!(deadline_bounds_the_call);
        __scenario!(a_retry_that_would_pass_the_deadline_is_not_made);
        __scenario!(html_page_is_a_parse_error_with_its_status);
        __scenario!(truncated_body_is_a_parse_error_when_no_retry_is_left);
        __scenario!(truncated_body_is_retried_with_the_token);
        __scenario!(one_connection_for_many_calls);
        __scenario!(a_deadline_keeps_the_pool);
        __scenario!(calls_from_many_threads_or_tasks);
        __scenario!(faults_among_concurrent_calls_are_retried);
        __scenario!(dropped_connections_under_load);
        __scenario!(oversized_body_is_capped);
        __scenario!(oversized_chunked_body_is_capped);
        __scenario!(redirects_are_not_followed);
        __scenario!(connection_refused_is_a_connect_failure);
        __scenario!(unknown_host_is_a_dns_failure);
        __scenario!(connect_timeout_fires);
        __scenario!(https_endpoint_speaks_tls);
        __scenario!(failed_tls_handshake_is_a_tls_failure);
        __scenario!(builder_rejects_bad_configuration);
        __scenario!(region_fixes_the_endpoint_unless_one_is_given);
        __scenario!(no_secret_in_any_error_or_debug_output);
        __scenario!(no_secret_with_temporary_credentials);
        __scenario!(one_span_per_call_and_one_event_per_attempt);
        __scenario!(garbled_answers_under_load_all_succeed);
        __scenario!(clock_skew_is_corrected_once_and_remembered);
        __scenario!(expired_timestamp_without_a_usable_date_is_left_alone);
        __scenario!(outage_is_bounded_by_the_retry_budget);
        __scenario!(outage_without_a_budget_triples_the_load);
        __scenario!(adaptive_mode_calms_a_throttling_storm);
        __scenario!(an_expired_token_answer_drops_the_cached_credentials);
        __scenario!(every_config_file_mode_end_to_end);
        __scenario!(explicit_providers_and_ini_file);
        __scenario!(chain_order_pinning_and_errors);
        __scenario!(imds_v2_only_and_v1_fallback);
        __scenario!(short_credentials_are_refreshed);
        __scenario!(expired_on_arrival_is_a_failed_fetch);
        __scenario!(sts_outage_is_retried_and_a_refusal_is_not);
        __scenario!(metadata_is_never_proxied_and_a_dead_proxy_is_named);
        __scenario!(local_files_are_read_only_if_regular_and_bounded);
        __scenario!(expirations_are_judged_by_the_service_clock);
    };
}

#[cfg(test)]
mod tests {
    /// Every public scenario (of `scenarios.rs`, and the credential ones of `creds.rs`) is in
    /// the list of [`suite!`], and the list names nothing else.
    #[test]
    fn the_suite_lists_every_scenario() {
        let files = [
            include_str!("scenarios.rs"),
            include_str!("creds.rs"),
            include_str!("seams.rs"),
        ];
        let scenarios: Vec<&str> = files
            .iter()
            .flat_map(|file| file.lines())
            .filter_map(|l| l.strip_prefix("pub fn "))
            .filter(|l| l.ends_with(": &D) {"))
            .map(|l| l.split(['<', '(']).next().unwrap_or_default())
            .collect();
        let listed: Vec<&str> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("__scenario!("))
            .filter_map(|l| l.strip_suffix(");"))
            .collect();
        assert!(scenarios.len() > 30, "{scenarios:?}");
        let mut a = scenarios.clone();
        let mut b = listed.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "scenarios.rs and the suite! list differ");
    }

    #[test]
    fn on_threads_keeps_the_order_and_runs_everything() {
        let out = super::on_threads((0..100).collect(), 7, |i: u32| i * 2);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::on_threads(Vec::<u8>::new(), 4, |i| i).is_empty());
    }
}
