//! The rustls configuration of the async client: the ring provider, chosen here rather than
//! taken from a process default, and the roots it trusts: the built-in webpki roots, the PEM
//! bundles of the builder and `SSL_CERT_FILE`, and, when asked, the operating system's
//! store. The blocking client trusts the same set, by the same rules.

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
    let provider = swas_open_core::crypto_provider();
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
