//! Both clients through a loopback proxy, configured by the builder (the environment's
//! variables are tested in `proxy_env.rs`, a test binary of their own).

mod support;

use support::proxy::{Policy, Proxy};
use support::{
    assert_one_connection, client, failure, open_proxy, shown, through_each_client,
    through_each_plain_client, tls_emulator, transport_kind, Client, Kind, Opts, KINDS,
};
use swas_open::emulator::Emulator;
use swas_open::sans_io::{ErrorKind, TransportFailure};

const PASSWORD: &str = "pr0xy-s3cret-pw";

#[test]
fn https_goes_through_a_connect_tunnel_and_reuses_it() {
    through_each_client(2, open_proxy, |kind, emulator, proxy, opts| {
        let c = client(kind, &opts);
        c.delete("cn-hangzhou", "m-1").unwrap();
        c.delete("cn-hangzhou", "m-2").unwrap();
        let seen = proxy.seen();
        let target = format!("127.0.0.1:{}", emulator.addr().port());
        assert_eq!(seen.tunnels, vec![target], "{kind:?}");
        assert_eq!(seen.connections, 1, "{kind:?}");
        assert!(seen.absolute.is_empty(), "{kind:?}");
        assert_one_connection(emulator, 2, kind);
    });
}

#[test]
fn plain_http_goes_through_the_proxy() {
    through_each_plain_client(open_proxy, |kind, emulator, proxy, opts| {
        client(kind, &opts).delete("cn-hangzhou", "m-1").unwrap();
        let seen = proxy.seen();
        let authority = format!("127.0.0.1:{}", emulator.addr().port());
        match kind {
            // hyper-util's client writes the absolute form on a connection marked proxied.
            Kind::Async => {
                assert_eq!(seen.absolute.len(), 1, "{seen:?}");
                assert!(seen.absolute[0].starts_with(&format!("http://{authority}/")));
                assert!(seen.tunnels.is_empty(), "{seen:?}");
            }
            // ureq has no absolute form: it tunnels plain HTTP too.
            Kind::Blocking => {
                assert_eq!(seen.tunnels, vec![authority], "{seen:?}");
                assert!(seen.absolute.is_empty(), "{seen:?}");
            }
        }
        assert_eq!(emulator.stats().deletes, 1, "{kind:?}");
    });
}

#[test]
fn no_proxy_reaches_the_host_directly() {
    for kind in KINDS {
        let emulator = tls_emulator(3);
        let proxy = Proxy::start(Policy::Open);
        let lists = ["127.0.0.1", "example.com, 127.0.0.0/8", "*"];
        for (i, list) in lists.into_iter().enumerate() {
            let opts = Opts {
                no_proxy: Some(list.into()),
                ..Opts::for_emulator(&emulator).via(proxy.url())
            };
            let image = format!("m-{}", i + 1);
            client(kind, &opts).delete("cn-hangzhou", &image).unwrap();
        }
        assert_eq!(proxy.seen().connections, 0, "{kind:?}");
        assert_eq!(emulator.stats().deletes, 3, "{kind:?}");

        // A list that names other hosts leaves this one proxied.
        let emulator = tls_emulator(1);
        let opts = Opts {
            no_proxy: Some("example.com, 10.0.0.0/8".into()),
            ..Opts::for_emulator(&emulator).via(proxy.url())
        };
        client(kind, &opts).delete("cn-hangzhou", "m-1").unwrap();
        assert_eq!(proxy.seen().tunnels.len(), 1, "{kind:?}");
    }
}

/// A proxy that asks for alice's Basic credentials, and options that send them to it.
fn alice_proxy(emulator: &Emulator) -> (Proxy, Opts) {
    let proxy = Proxy::start(Policy::Basic {
        user: "alice".into(),
        password: PASSWORD.into(),
    });
    let opts = Opts::for_emulator(emulator).via(proxy.url_with("alice", PASSWORD));
    (proxy, opts)
}

#[test]
fn basic_credentials_are_sent_and_never_shown() {
    through_each_client(1, alice_proxy, |kind, emulator, proxy, opts| {
        let c = client(kind, &opts);
        assert!(!c.debug().contains(PASSWORD), "{kind:?}: {}", c.debug());
        c.delete("cn-hangzhou", "m-1").unwrap();
        let seen = proxy.seen();
        assert_eq!(seen.refused, 0, "{kind:?}: {seen:?}");
        assert_eq!(seen.authorizations.len(), 1, "{kind:?}");
        assert!(seen.authorizations[0].starts_with("Basic "), "{kind:?}");

        // The wrong password: a clear refusal that names neither password.
        let opts = Opts::for_emulator(emulator)
            .via(proxy.url_with("alice", "wrong-pw-123"))
            .attempts(1);
        let c = client(kind, &opts);
        let e = c.delete("cn-hangzhou", "m-1").unwrap_err();
        let text = shown(&e);
        let failed = transport_kind(&e);
        assert_eq!(failed, Some(TransportFailure::Connect), "{kind:?}: {text}");
        assert!(text.contains("407"), "{kind:?}: {text}");
        assert!(
            !text.contains(PASSWORD) && !text.contains("wrong-pw-123"),
            "{text}"
        );
        assert!(
            !c.debug().contains("wrong-pw-123"),
            "{kind:?}: {}",
            c.debug()
        );
    });
}

#[test]
fn plain_http_credentials_reach_the_proxy_only() {
    through_each_plain_client(alice_proxy, |kind, emulator, proxy, opts| {
        client(kind, &opts).delete("cn-hangzhou", "m-1").unwrap();
        assert_eq!(proxy.seen().refused, 0, "{kind:?}");

        let opts = Opts::for_emulator(emulator).via(proxy.url()).attempts(1);
        let (e, text) = failure(kind, &opts, "m-2");
        assert!(
            e.outcome_unknown() && text.contains("407"),
            "{kind:?}: {text}"
        );
    });
}

#[test]
fn a_refusing_proxy_gives_a_clear_error() {
    for kind in KINDS {
        let emulator = tls_emulator(1);
        let proxy = Proxy::start(Policy::Deny);
        let opts = Opts::for_emulator(&emulator).via(proxy.url()).attempts(1);
        let (e, text) = failure(kind, &opts, "m-1");
        let failed = transport_kind(&e);
        assert_eq!(failed, Some(TransportFailure::Connect), "{kind:?}: {text}");
        assert!(text.contains("proxy"), "{kind:?}: {text}");
        match kind {
            Kind::Async => assert!(text.contains("refused the CONNECT tunnel"), "{text}"),
            Kind::Blocking => assert!(text.contains("403"), "{text}"),
        }
        assert_eq!(proxy.seen().refused, 1, "{kind:?}");
        assert_eq!(emulator.stats().requests, 0, "{kind:?}");
    }
}

#[test]
fn an_unreachable_proxy_is_a_connect_failure() {
    for kind in KINDS {
        let emulator = tls_emulator(1);
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let opts = Opts::for_emulator(&emulator)
            .via(format!("http://u:{PASSWORD}@127.0.0.1:{closed}"))
            .attempts(2);
        let (e, text) = failure(kind, &opts, "m-1");
        let failed = transport_kind(&e);
        assert_eq!(failed, Some(TransportFailure::Connect), "{kind:?}: {text}");
        assert_eq!(
            e.attempts(),
            2,
            "{kind:?}: nothing was sent, so it is retried"
        );
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[test]
fn no_proxies_and_bad_urls() {
    through_each_client(1, open_proxy, |kind, emulator, proxy, opts| {
        let opts = Opts {
            no_proxies: true,
            ..opts
        };
        client(kind, &opts).delete("cn-hangzhou", "m-1").unwrap();
        assert_eq!(proxy.seen().connections, 0, "{kind:?}");

        for url in [
            format!("socks5://u:{PASSWORD}@127.0.0.1:1080"),
            "http://".to_owned(),
        ] {
            let opts = Opts::for_emulator(emulator).via(url);
            let e = Client::build(kind, &opts).err().unwrap();
            assert!(matches!(e.kind(), ErrorKind::Config(_)), "{kind:?}: {e:?}");
            assert!(!shown(&e).contains(PASSWORD), "{}", shown(&e));
        }
    });
}
