//! Test support: a minimal HTTP/1.1 client over raw TCP, requests signed by the core's
//! `Signer`, and an independent hand-written V1/V3 signer, written from the published
//! algorithm rather than from the core, for requests the core would never build.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Digest as _;
use swas_open_core::{
    Credentials, DeleteCustomImage, Endpoint, Nonce, SignatureVersion, Signer, SigningContext,
    Timestamp,
};
use swas_open_emulator::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const AK: &str = "test-ak";
pub const SECRET: &str = "test-secret";
pub const REGION: &str = "cn-hangzhou";

/// How long any single exchange may take before the test fails (not a timing assertion:
/// only a guard against hanging forever).
pub const GUARD: Duration = Duration::from_secs(30);

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} (status {})",
                String::from_utf8_lossy(&self.body),
                self.status
            )
        })
    }

    pub fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or("").to_owned()
    }

    pub fn request_id(&self) -> String {
        self.json()["RequestId"].as_str().unwrap_or("").to_owned()
    }

    /// Asserts the status and the error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let id = self.request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id, id.to_ascii_uppercase());
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        // socket: a guard against a hang only (see `GUARD`).
        let stream = tokio::time::timeout(GUARD, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn write(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(raw).await
    }

    /// Sends `raw` and reads one response; `Err` when the server closes without one.
    pub async fn exchange(&mut self, raw: &[u8]) -> std::io::Result<Resp> {
        self.write(raw).await?;
        self.read().await
    }

    pub async fn read(&mut self) -> std::io::Result<Resp> {
        // socket: a guard against a hang only (see `GUARD`).
        tokio::time::timeout(GUARD, self.read_inner())
            .await
            .expect("response in time")
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_inner(&mut self) -> std::io::Result<Resp> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while self.buf.len() < len {
            self.fill().await?;
        }
        let body = self.buf.drain(..len).collect();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (reads EOF or a reset).
    pub async fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        // socket: a guard against a hang only (see `GUARD`).
        matches!(
            tokio::time::timeout(GUARD, self.stream.read(&mut b)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// Sends one request on a new connection.
pub async fn send(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Resp> {
    Conn::open(addr).await.exchange(raw).await
}

/// Sends `raw` to `emulator`, which must refuse it with `status` and `code`; returns the
/// answer.
pub async fn refused(emulator: &Emulator, raw: &[u8], status: u16, code: &str) -> Resp {
    let resp = send(emulator.addr(), raw).await.expect("an answer");
    resp.assert_error(status, code);
    resp
}

/// Sends a DeleteCustomImage of `image` signed by `signer` (with ClientToken `token`) on a
/// new connection, and reads the answer.
pub async fn send_signed(
    emulator: &Emulator,
    signer: &Signer,
    image: &str,
    token: Option<&str>,
) -> Resp {
    send(
        emulator.addr(),
        &raw(&signed(emulator, signer, image, token)),
    )
    .await
    .unwrap_or_else(|e| panic!("no answer to the delete of {image}: {e}"))
}

/// [`send_signed`] of `image` by the test key ([`v1`]), without a ClientToken.
pub async fn send_v1(emulator: &Emulator, image: &str) -> Resp {
    send_signed(emulator, &v1(), image, None).await
}

/// Sends `params` signed as V1 with [`SECRET`], all in the query of a POST, on a new
/// connection, and reads the answer.
pub async fn post_v1(emulator: &Emulator, params: &[(String, String)]) -> Resp {
    send(emulator.addr(), &v1_raw(emulator, "POST", params, SECRET))
        .await
        .unwrap_or_else(|e| panic!("no answer to the V1 POST of {params:?}: {e}"))
}

/// Serializes a request as HTTP/1.1 bytes, headers as given (plus `content-length`).
pub fn raw(request: &http::Request<Vec<u8>>) -> Vec<u8> {
    raw_with(request, |name| name.to_owned())
}

/// Like [`raw`], writing each header name through `case`.
pub fn raw_with(request: &http::Request<Vec<u8>>, case: impl Fn(&str) -> String) -> Vec<u8> {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method(), target).into_bytes();
    for (name, value) in request.headers() {
        out.extend_from_slice(case(name.as_str()).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !request.headers().contains_key("content-length") {
        out.extend_from_slice(format!("content-length: {}\r\n", request.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(request.body());
    out
}

/// `X-Acs-Date` style names.
pub fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub fn now() -> Timestamp {
    Timestamp::try_from(SystemTime::now()).expect("clock after 1970")
}

/// A nonce never used before in this process.
pub fn nonce() -> Nonce {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    Nonce::new(format!("{}-{n}", uuid::Uuid::new_v4().simple())).expect("valid nonce")
}

pub fn endpoint(emulator: &Emulator) -> Endpoint {
    emulator.url().parse::<Endpoint>().expect("emulator url")
}

/// A signer for `id`/`secret` (and an STS token).
pub fn signer(id: &str, secret: &str, token: Option<&str>, version: SignatureVersion) -> Signer {
    let mut creds = Credentials::new(id, secret).expect("credentials");
    if let Some(t) = token {
        creds = creds.with_security_token(t).expect("token");
    }
    Signer::new(creds).with_signature_version(version)
}

/// A DeleteCustomImage request signed by the core's `Signer`.
pub fn signed(
    emulator: &Emulator,
    signer: &Signer,
    image: &str,
    token: Option<&str>,
) -> http::Request<Vec<u8>> {
    signed_at(emulator, signer, REGION, image, token, now(), nonce())
}

pub fn signed_at(
    emulator: &Emulator,
    signer: &Signer,
    region: &str,
    image: &str,
    token: Option<&str>,
    timestamp: Timestamp,
    nonce: Nonce,
) -> http::Request<Vec<u8>> {
    let mut op = DeleteCustomImage::new(region, image).expect("valid input");
    if let Some(t) = token {
        op = op.with_client_token(t).expect("valid token");
    }
    signer.sign(
        &op,
        &endpoint(emulator),
        &SigningContext::new(timestamp, nonce),
    )
}

/// The raw delete of `image` in [`REGION`], signed by `signer` at `timestamp` with a fresh
/// nonce and no ClientToken.
pub fn delete_at(
    emulator: &Emulator,
    signer: &Signer,
    image: &str,
    timestamp: Timestamp,
) -> Vec<u8> {
    raw(&signed_at(
        emulator,
        signer,
        REGION,
        image,
        None,
        timestamp,
        nonce(),
    ))
}

pub fn v1() -> Signer {
    signer(AK, SECRET, None, SignatureVersion::V1)
}

pub fn v3() -> Signer {
    signer(AK, SECRET, None, SignatureVersion::V3)
}

/// The common V1 parameters of a request signed now, for hand-built requests.
pub fn v1_common(action: &str) -> Vec<(String, String)> {
    [
        ("AccessKeyId", AK),
        ("Action", action),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Version", "2020-06-01"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .chain([
        ("SignatureNonce".to_owned(), nonce().as_str().to_owned()),
        ("Timestamp".to_owned(), now().to_string()),
    ])
    .collect()
}

/// The V1 parameters of a DeleteCustomImage of `image` in [`REGION`], signed now.
pub fn v1_delete(image: &str) -> Vec<(String, String)> {
    let mut params = v1_common("DeleteCustomImage");
    set(&mut params, "RegionId", REGION);
    set(&mut params, "ImageId", image);
    params
}

/// Sets `name` to `value` (replacing any earlier value).
pub fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(n, _)| n != name);
    params.push((name.to_owned(), value.to_owned()));
}

/// RFC 3986 percent-encoding: unreserved characters kept, everything else `%XX`.
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name=value` pairs, encoded, sorted, joined with `&`.
pub fn canonical_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> =
        pairs.into_iter().map(|(n, v)| (pct(n), pct(v))).collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Base64 `HMAC-SHA1(secret + "&", string_to_sign)`.
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lowercase hex of SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// `params` and their V1 `Signature` for `method` and `secret`, as a canonical query.
pub fn v1_signed_query(method: &str, params: &[(String, String)], secret: &str) -> String {
    let signature = v1_signature(secret, &v1_string_to_sign(method, params));
    canonical_query(
        params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain([("Signature", signature.as_str())]),
    )
}

/// A V1 request signed by hand: `params` signed with `secret`, sent with `method`, all in the
/// query.
pub fn v1_raw(
    emulator: &Emulator,
    method: &str,
    params: &[(String, String)],
    secret: &str,
) -> Vec<u8> {
    let full = v1_signed_query(method, params, secret);
    format!(
        "{method} /?{full} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
        emulator.addr()
    )
    .into_bytes()
}

/// A V1 request with every parameter in a form-encoded POST body.
pub fn v1_form(emulator: &Emulator, params: &[(String, String)], secret: &str) -> Vec<u8> {
    let body = v1_signed_query("POST", params, secret);
    format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        emulator.addr(),
        body.len()
    )
    .into_bytes()
}

/// The V1 string to sign the server computes for `params` (minus `Signature`).
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let query = canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    format!("{method}&%2F&{}", pct(&query))
}

/// The V3 `Authorization` for hand-built V3 requests: every header in `headers` is signed.
pub fn v3_authorization(
    method: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
    secret: &str,
) -> String {
    let mut sorted: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    sorted.sort();
    let canonical: String = sorted.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = sorted
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let request = format!(
        "{method}\n/\n{}\n{canonical}\n{signed}\n{}",
        canonical_query(query.iter().copied()),
        sha256_hex(body)
    );
    let string_to_sign = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(request.as_bytes()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={signed},Signature={signature}")
}

/// A started emulator with the test key and `images` in [`REGION`].
pub async fn emulator(images: &[&str]) -> Emulator {
    images
        .iter()
        .fold(Emulator::builder().access_key(AK, SECRET), |b, image| {
            b.image(REGION, image)
        })
        .start()
        .await
        .expect("emulator starts")
}

/// A clock the test moves by hand, and the emulator reads.
#[derive(Clone)]
pub struct TestClock(std::sync::Arc<AtomicU64>);

impl TestClock {
    pub fn at(unix: u64) -> Self {
        TestClock(std::sync::Arc::new(AtomicU64::new(unix)))
    }

    pub fn unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn timestamp(&self) -> Timestamp {
        Timestamp::try_from(self.source()()).expect("valid time")
    }

    /// The closure for `EmulatorBuilder::clock`.
    pub fn source(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let me = self.clone();
        move || SystemTime::UNIX_EPOCH + Duration::from_secs(me.unix())
    }
}

/// The common V1 parameters of an STS call signed by `id` at `timestamp`.
pub fn sts_common(action: &str, id: &str, timestamp: &Timestamp) -> Vec<(String, String)> {
    [
        ("AccessKeyId", id),
        ("Action", action),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Version", "2015-04-01"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .chain([
        ("Timestamp".to_owned(), timestamp.to_string()),
        ("SignatureNonce".to_owned(), nonce().as_str().to_owned()),
    ])
    .collect()
}

/// Temporary credentials as STS, IMDS and credentials URIs return them.
#[derive(Debug, Clone)]
pub struct TempCreds {
    pub id: String,
    pub secret: String,
    pub token: String,
    pub expiration: String,
}

impl TempCreds {
    /// From a JSON object with `AccessKeyId`, `AccessKeySecret`, `SecurityToken`, `Expiration`.
    pub fn from_json(v: &serde_json::Value) -> TempCreds {
        let field = |name: &str| {
            v[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {v}"))
                .to_owned()
        };
        TempCreds {
            id: field("AccessKeyId"),
            secret: field("AccessKeySecret"),
            token: field("SecurityToken"),
            expiration: field("Expiration"),
        }
    }

    pub fn signer(&self, version: SignatureVersion) -> Signer {
        signer(&self.id, &self.secret, Some(&self.token), version)
    }
}

/// `GET path` with `headers`, on a new connection.
pub async fn get(emulator: &Emulator, path: &str, headers: &[(&str, &str)]) -> Resp {
    request(emulator, "GET", path, headers, b"").await
}

/// `method path` with `headers` and `body`, on a new connection.
pub async fn request(
    emulator: &Emulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", emulator.addr());
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    send(emulator.addr(), &raw)
        .await
        .unwrap_or_else(|e| panic!("no answer to {method} {path}: {e}"))
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
