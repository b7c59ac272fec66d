//! HTTPS with the certificate generated at start, and the `Date` header and clock skew.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use support::*;
use swas_open_core::{ErrorCode, Timestamp};
use swas_open_emulator::{Emulator, Fault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A client trusting `ca_pem` only (or nothing).
fn connector(ca_pem: Option<&str>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.expect("PEM")).expect("a CA certificate");
        }
    }
    #[allow(deprecated)] // *ring*, as the clients use; see `swas_open_core::crypto_provider`.
    let provider = Arc::new(ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Sends `raw` over TLS to the emulator, checking the certificate against `name`, and reads
/// the whole answer (the request must ask for `Connection: close`).
async fn exchange_tls(
    emu: &Emulator,
    connector: &TlsConnector,
    name: &str,
    raw: &[u8],
) -> std::io::Result<String> {
    let tcp = TcpStream::connect(emu.addr()).await?;
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    // socket: guards against a hang only (see `GUARD`), here and below.
    let mut tls = tokio::time::timeout(GUARD, connector.connect(name, tcp))
        .await
        .expect("handshake in time")?;
    tls.write_all(raw).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, tls.read_to_end(&mut answer))
        .await
        .expect("answer in time")?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn closing(request: &http::Request<Vec<u8>>) -> Vec<u8> {
    let mut request = request.clone();
    request
        .headers_mut()
        .insert("connection", http::HeaderValue::from_static("close"));
    raw(&request)
}

#[tokio::test]
async fn https_with_the_generated_ca() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .shared_image(REGION, "m-s")
        .tls_name("swas.test")
        .start()
        .await
        .unwrap();
    assert!(emu.url().starts_with("https://127.0.0.1:"), "{}", emu.url());
    let ca = emu.ca_pem().expect("a CA when serving TLS");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let trusted = connector(Some(ca));

    // The certificate covers localhost, 127.0.0.1 and the extra name.
    let ok = exchange_tls(
        &emu,
        &trusted,
        "127.0.0.1",
        &closing(&signed(&emu, &v1(), "m-1", None)),
    )
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    for name in ["localhost", "swas.test"] {
        let answer = exchange_tls(
            &emu,
            &trusted,
            name,
            &closing(&signed(&emu, &v3(), "m-s", None)),
        )
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("CustomImageInShare"), "{answer}");
    }
    assert!(!emu.has_image(REGION, "m-1"));

    // Another name, or a client that does not trust the CA, fails the handshake.
    let request = closing(&signed(&emu, &v1(), "m-s", None));
    let wrong = exchange_tls(&emu, &trusted, "other.test", &request).await;
    assert!(wrong.is_err(), "{wrong:?}");
    let untrusted = exchange_tls(&emu, &connector(None), "localhost", &request).await;
    assert!(untrusted.is_err(), "{untrusted:?}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = send(emu.addr(), &request).await;
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(emu.stats().requests, 3);
}

#[test]
fn https_from_blocking_code_and_plain_http_has_no_ca() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .tls()
        .start_blocking()
        .unwrap();
    assert!(emu.url().starts_with("https://"));
    assert!(emu.ca_pem().is_some());
    let plain = Emulator::builder().start_blocking().unwrap();
    assert!(plain.url().starts_with("http://"));
    assert_eq!(plain.ca_pem(), None);
    assert!(Emulator::builder()
        .tls_name("not a name")
        .start_blocking()
        .is_err());
}

const FIXED: u64 = 1_700_000_000;

fn fixed() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED)
}

#[tokio::test]
async fn every_answer_carries_a_date_from_the_emulator_clock() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .instance_role("r")
        .clock(fixed)
        .start()
        .await
        .unwrap();
    let expected = "Tue, 14 Nov 2023 22:13:20 GMT";
    let at = |image: &str| {
        delete_at(
            &emu,
            &v1(),
            image,
            Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(FIXED))
                .unwrap(),
        )
    };
    let ok = send(emu.addr(), &at("m-1")).await.unwrap();
    ok.assert_ok();
    assert_eq!(ok.header("date"), Some(expected));
    let error = send(emu.addr(), &at("m-none")).await.unwrap();
    assert_eq!(error.header("date"), Some(expected));
    emu.inject(Fault::error(503, ErrorCode::ServiceUnavailable));
    let fault = send(emu.addr(), &at("m-none")).await.unwrap();
    assert_eq!(fault.header("date"), Some(expected));
    for path in [
        "/latest/meta-data/ram/security-credentials/",
        "/__emulator/state",
    ] {
        assert_eq!(
            get(&emu, path, &[]).await.header("date"),
            Some(expected),
            "{path}"
        );
    }
    // Exactly one Date header.
    let count = ok
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("date"))
        .count();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn clock_skew_moves_the_window_and_the_date() {
    for skew in [-1200i64, 1200] {
        let emu = Emulator::builder()
            .access_key(AK, SECRET)
            .image(REGION, "m-1")
            .clock(fixed)
            .clock_skew(skew)
            .start()
            .await
            .unwrap();
        let emulator_time = FIXED.checked_add_signed(skew).unwrap();
        // A client on the unskewed clock is 20 minutes off: refused, with the emulator's Date.
        let request = delete_at(
            &emu,
            &v1(),
            "m-1",
            Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(FIXED))
                .unwrap(),
        );
        let refused = send(emu.addr(), &request).await.unwrap();
        refused.assert_error(400, "InvalidTimeStamp.Expired");
        let date = httpdate::parse_http_date(refused.header("date").unwrap()).unwrap();
        assert_eq!(
            date,
            SystemTime::UNIX_EPOCH + Duration::from_secs(emulator_time),
            "skew {skew}"
        );
        // Signed with the time the Date header told, it succeeds.
        let request = delete_at(&emu, &v1(), "m-1", Timestamp::try_from(date).unwrap());
        send(emu.addr(), &request).await.unwrap().assert_ok();
    }
}

#[test]
fn skew_applies_to_the_system_clock_too() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .clock_skew(-3600)
        .start_blocking()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resp = runtime.block_on(get(&emu, "/__emulator/state", &[]));
    let date = httpdate::parse_http_date(resp.header("date").unwrap()).unwrap();
    // socket: a real server's Date against this machine's clock. About an hour behind; the
    // minute of slack only absorbs the time the request took.
    let behind = SystemTime::now().duration_since(date).unwrap();
    assert!(
        behind >= Duration::from_secs(3599) && behind <= Duration::from_secs(3600 + 60),
        "{behind:?}"
    );
}

/// Official clients reach STS and SWAS over HTTPS but the metadata service over plain HTTP:
/// one emulator serves both, sharing the credentials it issues.
#[tokio::test]
async fn a_plain_metadata_listener_beside_https() {
    let emu = Emulator::builder()
        .access_key(AK, SECRET)
        .image(REGION, "m-1")
        .instance_role("EcsRole")
        .tls()
        .imds_listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    assert!(emu.url().starts_with("https://"));
    let imds = emu.imds_addr().expect("a metadata listener");
    assert_ne!(imds, emu.addr());
    assert_eq!(emu.imds_url(), Some(format!("http://{imds}")));

    let plain = |raw: String| async move { send(imds, raw.as_bytes()).await.expect("an answer") };
    let token = plain(format!(
        "PUT /latest/api/token HTTP/1.1\r\nHost: {imds}\r\n\
         X-aliyun-ecs-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\n\r\n"
    ))
    .await;
    assert_eq!(token.status, 200);
    let creds = plain(format!(
        "GET /latest/meta-data/ram/security-credentials/EcsRole HTTP/1.1\r\nHost: {imds}\r\n\
         X-aliyun-ecs-metadata-token: {}\r\n\r\n",
        token.text()
    ))
    .await;
    assert_eq!(creds.status, 200, "{}", creds.text());
    let creds = TempCreds::from_json(&creds.json());

    // The temporary key works on the HTTPS listener.
    let ca = emu.ca_pem().unwrap();
    let request = signed(
        &emu,
        &creds.signer(swas_open_core::SignatureVersion::V3),
        "m-1",
        None,
    );
    let answer = exchange_tls(&emu, &connector(Some(ca)), "localhost", &closing(&request))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(!emu.has_image(REGION, "m-1"));

    // The metadata listener serves nothing else, and speaks no TLS.
    for path in ["/", "/__emulator/state", "/?Action=DeleteCustomImage"] {
        let resp = plain(format!("GET {path} HTTP/1.1\r\nHost: {imds}\r\n\r\n")).await;
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
    }
    assert_eq!(emu.stats().imds_requests, 2);
    emu.shutdown();
    emu.wait_stopped().await;
    assert!(tokio::net::TcpStream::connect(imds).await.is_err());
}
