//! The roots the blocking client trusts: the built-in webpki roots, the PEM bundles of the
//! builder and `SSL_CERT_FILE`, and, when asked, the operating system's store.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use swas_open_core::{Config, Error, ErrorKind};
use ureq::tls::{Certificate, RootCerts};

fn config_error(message: String) -> Error {
    ErrorKind::Config(message).into()
}

/// The certificates to trust besides the built-in roots. A bundle with a PEM block that
/// does not decode, or without a single certificate rustls can take as a root, is a
/// configuration error; other certificates rustls cannot take (a system bundle may hold a
/// few) are skipped with a warning. So is the operating system's store, which is an error
/// only when it yields nothing but errors.
pub(crate) fn extra_roots(config: &Config) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut roots = Vec::new();
    let mut check = RootCertStore::empty();
    for (i, pem) in config.root_certificates.iter().enumerate() {
        let n = i + 1;
        let mut problem = None;
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert
                .map_err(|e| config_error(format!("root certificate bundle {n}: bad PEM: {e}")))?;
            match check.add(cert.clone()) {
                Ok(()) => roots.push(cert),
                Err(e) => {
                    tracing::warn!(bundle = n, error = %e, "skipping an unusable root certificate");
                    problem.get_or_insert(e);
                }
            }
        }
        if roots.len() == before {
            return Err(config_error(match problem {
                Some(e) => format!("root certificate bundle {n}: no usable certificate ({e})"),
                None => format!("root certificate bundle {n}: no PEM CERTIFICATE block"),
            }));
        }
    }
    if config.native_roots {
        let native = rustls_native_certs::load_native_certs();
        if native.certs.is_empty() {
            if let Some(e) = native.errors.first() {
                return Err(config_error(format!(
                    "the operating system's certificate store cannot be read: {e}"
                )));
            }
        }
        let (added, skipped) = check.add_parsable_certificates(native.certs.iter().cloned());
        tracing::debug!(added, skipped, "operating system roots");
        roots.extend(native.certs);
    }
    Ok(roots)
}

/// ureq's roots for `config`: its built-in webpki roots when nothing is added, else the
/// same webpki roots (as certificates) followed by the added ones.
pub(crate) fn root_certs(config: &Config) -> Result<RootCerts, Error> {
    let extra = extra_roots(config)?;
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
            let e = extra_roots(&config_with(pem)).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
            assert!(m.contains("bundle 1") && m.contains(why), "{m}");
        }
    }

    #[test]
    fn webpki_roots_stay_when_roots_are_added() {
        let der = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        let pem = pem_of(der);
        // `SSL_CERT_FILE`, when set, adds its own.
        let extra = extra_roots(&config_with(pem.as_bytes())).unwrap();
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
