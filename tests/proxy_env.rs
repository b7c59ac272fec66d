//! The proxy and root variables of the environment, read when a client is built. This
//! binary changes its own process environment, so it holds a single test that runs its
//! cases one after the other and restores every variable it touched: nothing can leak into
//! another test.

mod support;

use std::collections::HashMap;

use support::proxy::{Policy, Proxy};
use support::{tls_emulator, Client, Opts, KINDS};

const VARS: [&str; 10] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUEST_METHOD",
];

/// Runs `f` with exactly `vars` set among [`VARS`], then restores them.
fn with_env(vars: &[(&str, &str)], f: impl FnOnce()) {
    let saved: HashMap<&str, Option<String>> =
        VARS.iter().map(|v| (*v, std::env::var(v).ok())).collect();
    for v in VARS {
        std::env::remove_var(v);
    }
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    f();
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}

#[test]
fn environment_variables() {
    proxy_variables();
    ssl_cert_file();
}

fn proxy_variables() {
    let emulator = tls_emulator(20);
    let mut image = 0;
    let mut next = || {
        image += 1;
        format!("m-{image}")
    };
    let proxy = Proxy::start(Policy::Open);
    let opts = Opts::for_emulator(&emulator);
    let tunnels = |p: &Proxy| p.seen().tunnels.len();

    for kind in KINDS {
        let other = Proxy::start(Policy::Open);
        let call = |opts: &Opts, image: &str| {
            Client::build(kind, opts)
                .unwrap()
                .delete("cn-hangzhou", image)
                .unwrap();
        };
        // HTTPS_PROXY, and the lowercase name before the uppercase one.
        let before = tunnels(&proxy);
        with_env(&[("HTTPS_PROXY", &proxy.url())], || call(&opts, &next()));
        assert_eq!(tunnels(&proxy), before + 1, "{kind:?}");
        with_env(
            &[("HTTPS_PROXY", &other.url()), ("https_proxy", &proxy.url())],
            || call(&opts, &next()),
        );
        assert_eq!(tunnels(&proxy), before + 2, "{kind:?}");
        assert_eq!(tunnels(&other), 0, "{kind:?}");

        // ALL_PROXY when HTTPS_PROXY is unset; HTTP_PROXY is not for HTTPS.
        with_env(
            &[("ALL_PROXY", &proxy.url()), ("HTTP_PROXY", &other.url())],
            || call(&opts, &next()),
        );
        assert_eq!(tunnels(&proxy), before + 3, "{kind:?}");
        assert_eq!(other.seen().connections, 0, "{kind:?}");

        // NO_PROXY bypasses it; the builder's proxy and no_proxy("*") override it.
        let direct = [
            ("HTTPS_PROXY", proxy.url()),
            ("NO_PROXY", "localhost,127.0.0.1".into()),
        ];
        let direct: Vec<(&str, &str)> = direct.iter().map(|(k, v)| (*k, v.as_str())).collect();
        with_env(&direct, || call(&opts, &next()));
        with_env(&[("HTTPS_PROXY", &proxy.url())], || {
            let off = Opts {
                no_proxies: true,
                ..opts.clone()
            };
            call(&off, &next());
            let mine = Opts {
                proxy: Some(other.url()),
                ..opts.clone()
            };
            call(&mine, &next());
        });
        assert_eq!(tunnels(&proxy), before + 3, "{kind:?}");
        assert_eq!(tunnels(&other), 1, "{kind:?}");
        let again = Opts {
            no_proxy: Some("example.com".into()),
            ..opts.clone()
        };
        with_env(&direct, || call(&again, &next()));
        assert_eq!(
            tunnels(&proxy),
            before + 4,
            "{kind:?}: the builder's list wins"
        );
    }
    let deleted = 2 * 7; // seven calls per client
    assert_eq!(emulator.stats().deletes, deleted);
}

fn ssl_cert_file() {
    let emulator = tls_emulator(2);
    let dir = std::env::temp_dir().join(format!("swas-open-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem().unwrap()).unwrap();
    let opts = Opts {
        ca_pem: None,
        ..Opts::for_emulator(&emulator)
    };
    for (i, kind) in KINDS.into_iter().enumerate() {
        with_env(&[("SSL_CERT_FILE", ca.to_str().unwrap())], || {
            let c = Client::build(kind, &opts).unwrap();
            c.delete("cn-hangzhou", &format!("m-{}", i + 1)).unwrap();
        });
        with_env(&[("SSL_CERT_FILE", "/nonexistent/ca.pem")], || {
            let e = Client::build(kind, &opts).err().unwrap();
            assert!(e.to_string().contains("SSL_CERT_FILE"), "{kind:?}: {e}");
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}
