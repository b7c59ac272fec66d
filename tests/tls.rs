//! Both clients over HTTPS against the emulator's generated certificate: the path every real
//! call takes (rustls, ring, SNI, host-name checks), with the scenarios of the plain-HTTP
//! suite and the failures only TLS has.

mod support;

use std::time::Duration;

use support::{
    assert_one_connection, client, failure, open_proxy, through_each_client, tls_emulator,
    transport_kind, Client, Kind, Opts, KINDS,
};
use swas_open::emulator::{Emulator, Fault};
use swas_open::sans_io::{ErrorCode, ErrorKind, TimeoutKind, TransportFailure};

/// Runs `f` against each client, built with the default options for a fresh HTTPS
/// emulator holding `images` images.
fn each_client(images: usize, f: impl Fn(Kind, &Emulator, &Client)) {
    for kind in KINDS {
        let emulator = tls_emulator(images);
        f(
            kind,
            &emulator,
            &client(kind, &Opts::for_emulator(&emulator)),
        );
    }
}

#[test]
fn success_and_service_error_over_tls() {
    each_client(1, |kind, emulator, c| {
        assert!(emulator.url().starts_with("https://"));
        let out = c.delete("cn-hangzhou", "m-1").unwrap();
        assert_eq!(out.attempts, 1, "{kind:?}");
        assert!(!emulator.has_image("cn-hangzhou", "m-1"));
        let e = c.delete("cn-hangzhou", "m-shared").unwrap_err();
        let code = e.code();
        assert_eq!(code, Some(&ErrorCode::CustomImageInShare), "{kind:?}: {e}");
    });
}

#[test]
fn retry_after_commit_then_drop_over_tls() {
    each_client(1, |kind, emulator, c| {
        emulator.inject(Fault::drop_after_commit());
        let out = c.delete("cn-hangzhou", "m-1").unwrap();
        assert_eq!(out.attempts, 2, "{kind:?}");
        assert_eq!(emulator.stats().deletes, 1, "{kind:?}");
    });
}

#[test]
fn read_timeout_over_tls() {
    for kind in KINDS {
        let emulator = tls_emulator(1);
        let opts = Opts {
            read_timeout: Some(Duration::from_millis(200)),
            ..Opts::for_emulator(&emulator).attempts(1)
        };
        let c = client(kind, &opts);
        // socket: a server that stalls 1.5 s, over seven times the 200 ms read bound.
        emulator.inject(Fault::delay(Duration::from_millis(1500)));
        let e = c.delete("cn-hangzhou", "m-1").unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Timeout {
                    kind: TimeoutKind::Read,
                    ..
                }
            ),
            "{kind:?}: {e:?}"
        );
    }
}

#[test]
fn one_connection_serves_sequential_calls() {
    each_client(3, |kind, emulator, c| {
        for i in 1..=3 {
            c.delete("cn-hangzhou", &format!("m-{i}")).unwrap();
        }
        assert_one_connection(emulator, 3, kind);
    });
}

#[test]
fn unknown_ca_is_a_tls_failure_and_not_retried() {
    for kind in KINDS {
        let emulator = tls_emulator(1);
        let other = tls_emulator(0);
        // No root for it at all, then another emulator's CA: its name matches, its
        // signature does not.
        let cases = [
            (None, "UnknownIssuer"),
            (other.ca_pem().map(str::to_owned), "BadSignature"),
        ];
        for (ca_pem, problem) in cases {
            let opts = Opts {
                ca_pem,
                ..Opts::for_emulator(&emulator)
            };
            let (e, text) = failure(kind, &opts, "m-1");
            let failed = transport_kind(&e);
            assert_eq!(failed, Some(TransportFailure::Tls), "{kind:?}: {e:?}");
            assert_eq!(e.attempts(), 1, "{kind:?}");
            assert!(text.contains("Tls"), "{kind:?}: {text}");
            assert!(
                text.contains("invalid peer certificate"),
                "{kind:?}: {text}"
            );
            assert!(text.contains(problem), "{kind:?}: {text}");
        }
        assert_eq!(emulator.stats().requests, 0);
        assert!(emulator.has_image("cn-hangzhou", "m-1"));
    }
}

#[test]
fn wrong_host_name_is_a_tls_failure() {
    // The proxy connects any name to the emulator on loopback, so the client meets a
    // certificate its CA signed, for other names than the one it asked for: as behind a
    // hijacked DNS entry.
    through_each_client(1, open_proxy, |kind, emulator, proxy, opts| {
        let opts = Opts {
            endpoint: format!("https://swas.wrong-name.test:{}", emulator.addr().port()),
            ..opts
        };
        let (e, text) = failure(kind, &opts, "m-1");
        let failed = transport_kind(&e);
        assert_eq!(failed, Some(TransportFailure::Tls), "{kind:?}: {e:?}");
        assert!(text.contains("NotValidForName"), "{kind:?}: {text}");
        assert_eq!(proxy.seen().tunnels.len(), 1, "{kind:?}");
        assert_eq!(emulator.stats().requests, 0);
    });
}

#[test]
fn garbage_roots_fail_the_build() {
    for kind in KINDS {
        let opts = Opts {
            endpoint: "https://127.0.0.1:1".into(),
            ca_pem: Some("not a certificate".into()),
            ..Opts::default()
        };
        let e = Client::build(kind, &opts).err().unwrap();
        assert!(matches!(e.kind(), ErrorKind::Config(_)), "{kind:?}: {e:?}");
        assert!(e.to_string().contains("root certificate"), "{kind:?}: {e}");
    }
}
