//! The rustls configuration of the async client: the ring provider, chosen here rather than
//! taken from a process default, and the roots it trusts: the built-in webpki roots, the PEM
//! bundles of the builder and `SSL_CERT_FILE`, and, when asked, the operating system's
//! store. The blocking client trusts the same set, by the same rules.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use swas_open_core::{Config, Error, ErrorKind};

fn config_error(message: String) -> Error {
    ErrorKind::Config(message).into()
}

/// The client configuration for `config`: TLS 1.2 and 1.3 with the ring provider, host
/// names always verified (the connector sets ALPN to HTTP/1.1).
pub(crate) fn client_config(config: &Config) -> Result<ClientConfig, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    roots.add_parsable_certificates(swas_open_core::extra_root_certificates(config)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use swas_open_core::{ClientBuilder, Credentials, FromConfig};

    struct Probe(Config);
    impl FromConfig for Probe {
        fn from_config(config: Config) -> Result<Self, Error> {
            Ok(Probe(config))
        }
    }

    fn config_with(pem: &[u8]) -> Config {
        ClientBuilder::<Probe>::new()
            .credentials(Credentials::new("id", "secret").unwrap())
            .add_root_certificate(pem)
            .build()
            .unwrap()
            .0
    }

    #[test]
    fn garbage_is_refused_with_its_bundle_number() {
        for (pem, why) in [
            (&b"not a certificate"[..], "no PEM CERTIFICATE block"),
            (
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                "bad PEM",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "no usable certificate",
            ),
        ] {
            let e = client_config(&config_with(pem)).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
            assert!(m.contains("bundle 1") && m.contains(why), "{m}");
        }
    }
}
