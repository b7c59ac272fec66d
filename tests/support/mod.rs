//! What the network tests share: one way to build and call either client from the same
//! options, and a small loopback proxy that counts what goes through it.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod proxy;

use proxy::{Policy, Proxy};
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use swas_open::emulator::Emulator;
use swas_open::sans_io::{ClientBuilder, ErrorKind, TransportFailure};
use swas_open::{Credentials, DeleteCustomImage, DeleteCustomImageOutput, Error};

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blocking,
    Async,
}

/// Both clients: every scenario runs against each.
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

    fn apply<C>(&self, mut b: ClientBuilder<C>) -> ClientBuilder<C> {
        b = b
            .credentials(Credentials::new("id", "secret").unwrap())
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
            b = b.retry_policy(swas_open::sans_io::RetryPolicy::new(n));
        }
        b
    }
}

/// Either client, called the same way.
pub enum Client {
    Blocking(swas_open::blocking::Client),
    Async(
        swas_open::asynchronous::Client,
        Arc<tokio::runtime::Runtime>,
    ),
}

impl Client {
    pub fn build(kind: Kind, opts: &Opts) -> Result<Client, Error> {
        Ok(match kind {
            Kind::Blocking => {
                Client::Blocking(opts.apply(swas_open::blocking::Client::builder()).build()?)
            }
            Kind::Async => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let client = opts
                    .apply(swas_open::asynchronous::Client::builder())
                    .build()?;
                Client::Async(client, Arc::new(runtime))
            }
        })
    }

    pub fn delete(&self, region: &str, image: &str) -> Result<DeleteCustomImageOutput, Error> {
        let input = DeleteCustomImage::new(region, image).unwrap();
        match self {
            Client::Blocking(c) => c.delete_custom_image(&input),
            Client::Async(c, runtime) => runtime.block_on(c.delete_custom_image(&input)),
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

/// Builds the client of `kind` from `opts` and deletes `image` of `cn-hangzhou`, which
/// must fail; returns the error and [`shown`] of it.
pub fn failure(kind: Kind, opts: &Opts, image: &str) -> (Error, String) {
    let e = Client::build(kind, opts)
        .unwrap()
        .delete("cn-hangzhou", image)
        .unwrap_err();
    let text = shown(&e);
    (e, text)
}

/// An open proxy, and the options for `emulator` through it.
pub fn open_proxy(emulator: &Emulator) -> (Proxy, Opts) {
    let proxy = Proxy::start(Policy::Open);
    let opts = Opts::for_emulator(emulator).via(proxy.url());
    (proxy, opts)
}

/// `emulator` served exactly `deletes` deletes, all over one connection.
pub fn assert_one_connection(emulator: &Emulator, deletes: u64, kind: Kind) {
    let stats = emulator.stats();
    let seen = (stats.deletes, stats.connections);
    assert_eq!(seen, (deletes, 1), "{kind:?}: (deletes, connections)");
}

/// The transport failure `e` is, if it is one.
pub fn transport_kind(e: &Error) -> Option<TransportFailure> {
    match e.kind() {
        ErrorKind::Transport { kind, .. } => Some(*kind),
        _ => None,
    }
}

/// An error as a user sees it: its message, every source's, and its `Debug` form.
pub fn shown(e: &Error) -> String {
    let mut out = format!("{e} / {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(" / {s}"));
        source = s.source();
    }
    out
}

/// An HTTPS emulator that knows `id`/`secret` and holds the images `m-1` to `m-n` of
/// `cn-hangzhou` plus the shared image `m-shared`.
pub fn tls_emulator(n: usize) -> Emulator {
    emulator(n, true)
}

/// The same over plain HTTP.
pub fn plain_emulator(n: usize) -> Emulator {
    emulator(n, false)
}

fn emulator(n: usize, tls: bool) -> Emulator {
    let mut b = Emulator::builder()
        .access_key("id", "secret")
        .shared_image("cn-hangzhou", "m-shared");
    for i in 1..=n {
        b = b.image("cn-hangzhou", &format!("m-{i}"));
    }
    if tls {
        b = b.tls();
    }
    b.start_blocking().unwrap()
}
