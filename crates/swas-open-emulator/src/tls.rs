//! HTTPS: a certificate authority and a server certificate generated at start, served with
//! rustls on the ring provider (chosen here, not taken from a process default).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor and the PEM of the CA that signed its certificate.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
}

/// The names every certificate covers, besides the configured ones.
const ALWAYS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Generates a CA and a server certificate for `localhost`, `127.0.0.1`, `::1`, `listen_ip`
/// (unless unspecified) and `names`.
pub(crate) fn generate(names: &[String], listen_ip: IpAddr) -> io::Result<Tls> {
    let invalid = |e: rcgen::Error| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let mut sans: Vec<String> = ALWAYS.iter().map(|s| (*s).to_owned()).collect();
    if !listen_ip.is_unspecified() {
        sans.push(listen_ip.to_string());
    }
    for name in names {
        let dns = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*'));
        if !dns && name.parse::<IpAddr>().is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TLS name {name:?} is neither a DNS name nor an IP address"),
            ));
        }
        sans.push(name.to_owned());
    }
    sans.sort_unstable();
    sans.dedup();

    let ca_key = KeyPair::generate().map_err(invalid)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(invalid)?;
    ca.distinguished_name
        .push(DnType::CommonName, "swas-open emulator CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(invalid)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(invalid)?;
    let mut leaf = CertificateParams::new(sans).map_err(invalid)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "swas-open emulator");
    let leaf_cert = leaf.signed_by(&key, &issuer).map_err(invalid)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // *ring*, as the clients use (see `swas_open_core::crypto_provider`); the emulator does
    // not take the core's `tls` feature for this one line.
    #[allow(deprecated)]
    let provider = Arc::new(ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| io::Error::other(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn generates_a_ca_pem() {
        let tls = generate(&["swas.test".to_owned()], IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(generate(&[" ".to_owned()], IpAddr::V4(Ipv4Addr::UNSPECIFIED)).is_err());
        assert!(generate(&["bad name!".to_owned()], IpAddr::V4(Ipv4Addr::LOCALHOST)).is_err());
    }
}
