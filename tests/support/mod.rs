//! What the network tests share: either client built from the same options (the testkit's
//! [`Kind`], [`Opts`] and [`Client`]), and a small loopback proxy that counts what goes
//! through it.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod proxy;

use proxy::{Policy, Proxy};
use std::error::Error as _;

use swas_open::emulator::Emulator;
use swas_open::sans_io::{ErrorKind, TransportFailure};
use swas_open::Error;
pub use swas_open_testkit::clients::{Client, Kind, Opts, KINDS};

/// The client of `kind` built from `opts`.
pub fn client(kind: Kind, opts: &Opts) -> Client {
    Client::build(kind, opts).unwrap()
}

/// Starts a proxy for an emulator: the proxy, and the options that reach the emulator through it.
pub type MakeProxy = fn(&Emulator) -> (Proxy, Opts);

/// Runs `f` against each client kind, with a fresh HTTPS emulator holding `images` images
/// and the proxy and options that `proxy` makes for it.
pub fn through_each_client(
    images: usize,
    proxy: MakeProxy,
    f: impl Fn(Kind, &Emulator, &Proxy, Opts),
) {
    through_each(|| tls_emulator(images), proxy, f);
}

/// [`through_each_client`] with a plain-HTTP emulator holding one image.
pub fn through_each_plain_client(proxy: MakeProxy, f: impl Fn(Kind, &Emulator, &Proxy, Opts)) {
    through_each(|| plain_emulator(1), proxy, f);
}

fn through_each(
    emulator: impl Fn() -> Emulator,
    proxy: MakeProxy,
    f: impl Fn(Kind, &Emulator, &Proxy, Opts),
) {
    for kind in KINDS {
        let emulator = emulator();
        let (proxy, opts) = proxy(&emulator);
        f(kind, &emulator, &proxy, opts);
    }
}

/// Builds the client of `kind` from `opts` and deletes `image` of `cn-hangzhou`, which
/// must fail; returns the error and [`shown`] of it.
pub fn failure(kind: Kind, opts: &Opts, image: &str) -> (Error, String) {
    let e = client(kind, opts).delete("cn-hangzhou", image).unwrap_err();
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
