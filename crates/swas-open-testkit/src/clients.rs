//! The two clients of the workspace, for every test that runs against both: each as a
//! [`Driver`] (the scenario suite, the benches), and either one picked at run time by
//! [`Kind`] and configured from [`Opts`] (the network tests that loop over [`KINDS`]).

use std::sync::Arc;
use std::time::Duration;

use swas_open_core::{ClientBuilder, Credentials, DeleteCustomImage, Error, RetryPolicy};
use swas_open_emulator::Emulator;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{on_threads, CallResult, Driver};

/// The blocking client: calls run on the caller's thread, concurrent calls on scoped
/// threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

impl Driver for Blocking {
    type Client = swas_open_ureq::Client;

    fn delete(&self, client: &Self::Client, input: &DeleteCustomImage) -> CallResult {
        client.delete_custom_image(input)
    }

    fn delete_all(
        &self,
        client: &Self::Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<CallResult> {
        on_threads(inputs, concurrency, |input| {
            client.delete_custom_image(&input)
        })
    }

    fn clock_offset(&self, client: &Self::Client) -> i64 {
        client.clock_offset()
    }
}

/// The async client driven from plain tests: each call runs to its end on a current-thread
/// runtime, and concurrent calls are tasks on it.
///
/// Current-thread, because on a multi-threaded runtime a call that starts while hyper-util
/// is still handing the previous call's connection back to its pool (from a background task)
/// opens another connection, which makes connection counts vary from run to run; the pool's
/// behaviour on a multi-threaded runtime is tested on its own in the async client's
/// `concurrency.rs`.
#[derive(Debug)]
pub struct Async {
    runtime: Runtime,
}

impl Async {
    /// A driver with a runtime of its own.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime starts");
        Self { runtime }
    }
}

impl Default for Async {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver for Async {
    type Client = swas_open_hyper::Client;

    fn delete(&self, client: &Self::Client, input: &DeleteCustomImage) -> CallResult {
        self.runtime.block_on(client.delete_custom_image(input))
    }

    fn delete_all(
        &self,
        client: &Self::Client,
        inputs: Vec<DeleteCustomImage>,
        concurrency: usize,
    ) -> Vec<CallResult> {
        self.runtime
            .block_on(delete_all(client, inputs, concurrency))
    }

    fn clock_offset(&self, client: &Self::Client) -> i64 {
        client.clock_offset()
    }
}

/// Runs one delete per input with the async client, at most `limit` at a time, each on its
/// own task of the current runtime; the results come back in the order of `inputs`.
pub async fn delete_all(
    client: &swas_open_hyper::Client,
    inputs: Vec<DeleteCustomImage>,
    limit: usize,
) -> Vec<CallResult> {
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = JoinSet::new();
    for (i, op) in inputs.into_iter().enumerate() {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            (i, client.delete_custom_image(&op).await)
        });
    }
    let mut results = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.expect("task does not panic"));
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blocking,
    Async,
}

/// Both clients: a test looping over these runs against each.
pub const KINDS: [Kind; 2] = [Kind::Blocking, Kind::Async];

/// The options a test sets, applied the same way to either client's builder.
#[derive(Clone, Default)]
pub struct Opts {
    pub endpoint: String,
    pub ca_pem: Option<String>,
    pub proxy: Option<String>,
    pub no_proxy: Option<String>,
    pub no_proxies: bool,
    pub read_timeout: Option<Duration>,
    pub max_attempts: Option<u32>,
}

impl Opts {
    /// The emulator's endpoint, trusting its CA when it serves HTTPS.
    pub fn for_emulator(emulator: &Emulator) -> Self {
        Opts {
            endpoint: emulator.url(),
            ca_pem: emulator.ca_pem().map(str::to_owned),
            ..Opts::default()
        }
    }

    /// These options, through the proxy at `url`.
    pub fn via(self, url: impl Into<String>) -> Self {
        Opts {
            proxy: Some(url.into()),
            ..self
        }
    }

    /// These options, with at most `n` attempts.
    pub fn attempts(self, n: u32) -> Self {
        Opts {
            max_attempts: Some(n),
            ..self
        }
    }

    /// `builder` with these options and the key `id` / `secret`.
    pub fn apply<C>(&self, mut b: ClientBuilder<C>) -> ClientBuilder<C> {
        b = b
            .credentials(Credentials::new("id", "secret").expect("valid credentials"))
            .endpoint(&self.endpoint);
        if let Some(pem) = &self.ca_pem {
            b = b.add_root_certificate(pem);
        }
        if let Some(url) = &self.proxy {
            b = b.proxy(url);
        }
        if let Some(list) = &self.no_proxy {
            b = b.no_proxy(list);
        }
        if self.no_proxies {
            b = b.no_proxy("*");
        }
        if let Some(t) = self.read_timeout {
            b = b.read_timeout(t);
        }
        if let Some(n) = self.max_attempts {
            b = b.retry_policy(RetryPolicy::new(n));
        }
        b
    }
}

/// Either client, called the same way through its [`Driver`].
#[derive(Debug)]
pub enum Client {
    Blocking(swas_open_ureq::Client),
    Async(swas_open_hyper::Client, Arc<Async>),
}

impl Client {
    /// The client of `kind`, built from `opts`.
    pub fn build(kind: Kind, opts: &Opts) -> Result<Client, Error> {
        Ok(match kind {
            Kind::Blocking => Client::Blocking(opts.apply(ClientBuilder::default()).build()?),
            Kind::Async => Client::Async(
                opts.apply(ClientBuilder::default()).build()?,
                Arc::new(Async::new()),
            ),
        })
    }

    /// Deletes `image` of `region` and waits for the result.
    pub fn delete(&self, region: &str, image: &str) -> CallResult {
        let input = DeleteCustomImage::new(region, image).expect("valid input");
        match self {
            Client::Blocking(c) => Blocking.delete(c, &input),
            Client::Async(c, driver) => driver.delete(c, &input),
        }
    }

    /// The client's `Debug` form.
    pub fn debug(&self) -> String {
        match self {
            Client::Blocking(c) => format!("{c:?}"),
            Client::Async(c, _) => format!("{c:?}"),
        }
    }
}
