//! The roots the blocking client trusts: the built-in webpki roots, the PEM bundles of the
//! builder and `SSL_CERT_FILE`, and, when asked, the operating system's store, as the core's
//! [`extra_root_certificates`](swas_open_core::extra_root_certificates) lists them.

use std::sync::Arc;

use swas_open_core::{Config, Error};
use ureq::tls::{Certificate, RootCerts};

/// ureq's roots for `config`: its built-in webpki roots when nothing is added, else the
/// same webpki roots (as certificates) followed by the added ones.
pub(crate) fn root_certs(config: &Config) -> Result<RootCerts, Error> {
    let extra = swas_open_core::extra_root_certificates(config)?;
    if extra.is_empty() {
        return Ok(RootCerts::WebPki);
    }
    let all = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .chain(&extra)
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    Ok(RootCerts::Specific(Arc::new(all)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use swas_open_core::{ClientBuilder, Credentials};

    fn config_with(pem: &[u8]) -> Config {
        ClientBuilder::<Config>::default()
            .credentials(Credentials::new("id", "secret").unwrap())
            .add_root_certificate(pem)
            .build()
            .unwrap()
    }

    #[test]
    fn webpki_roots_stay_when_roots_are_added() {
        let der = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        let pem = pem_of(der);
        // `SSL_CERT_FILE`, when set, adds its own.
        let extra = swas_open_core::extra_root_certificates(&config_with(pem.as_bytes())).unwrap();
        assert_eq!(extra[0].as_ref(), der);
        match root_certs(&config_with(pem.as_bytes())).unwrap() {
            RootCerts::Specific(all) => {
                let webpki = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
                assert_eq!(all.len(), webpki + extra.len());
                assert_eq!(all[webpki].der(), der);
            }
            other => panic!("{other:?}"),
        }
    }

    fn pem_of(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }
}
