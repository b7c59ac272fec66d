//! ACS3-HMAC-SHA256 (V3): `hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))))`.
//!
//! CanonicalRequest = `METHOD\nCanonicalURI\nCanonicalQueryString\nCanonicalHeaders\nSignedHeaders\nHashedPayload`,
//! where the canonical headers are those named `host`, `content-type` or `x-acs-*`, names
//! lowercased, values trimmed, sorted by name; a repeated name's values are sorted and joined
//! with `,`.
//!
//! ```
//! use swas_open_core::sign::{canonical_query, v3};
//! let headers = v3::canonical_headers([("x-acs-test", "http"), ("x-acs-TEST", "https")]);
//! assert_eq!(headers.canonical, "x-acs-test:http,https\n");
//! let query = canonical_query([("test", "ok"), ("empty", "")]);
//! let hashed = "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23";
//! let request = v3::canonical_request("GET", "/", &query, &headers, hashed);
//! let sts = v3::string_to_sign(&v3::sha256_hex(request.as_bytes()));
//! let sig = v3::signature("secret", &sts);
//! assert_eq!(
//!     v3::authorization("acesskey", &headers.signed, &sig),
//!     "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,\
//!      Signature=d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
//! );
//! ```

use hmac::{Hmac, KeyInit, Mac};
use http::header::{HeaderName, AUTHORIZATION};
use http::HeaderValue;
use sha2::{Digest, Sha256};

use super::{assemble, push_param_bytes, Signer, SigningContext};
use crate::encode::{hex_decode, hex_lower_into};
use crate::endpoint::Endpoint;
use crate::input::DeleteCustomImage;
use crate::{ACTION, API_VERSION};

/// The algorithm name, first in `Authorization` and in the string to sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Hex SHA-256 of the empty body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `x-acs-date`.
pub const X_ACS_DATE: HeaderName = HeaderName::from_static("x-acs-date");
/// `x-acs-signature-nonce`.
pub const X_ACS_SIGNATURE_NONCE: HeaderName = HeaderName::from_static("x-acs-signature-nonce");
/// `x-acs-content-sha256`.
pub const X_ACS_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-acs-content-sha256");
/// `x-acs-security-token`.
pub const X_ACS_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-acs-security-token");
/// `x-acs-accesskey-id`.
pub const X_ACS_ACCESSKEY_ID: HeaderName = HeaderName::from_static("x-acs-accesskey-id");

/// Whether a header takes part in the V3 signature.
pub fn is_signed_header(lowercase_name: &str) -> bool {
    lowercase_name == "host"
        || lowercase_name == "content-type"
        || lowercase_name.starts_with("x-acs-")
}

/// Canonical headers and the matching `SignedHeaders` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHeaders {
    /// `name:value\n` lines.
    pub canonical: String,
    /// Names joined with `;`.
    pub signed: String,
}

/// Canonicalizes the signed subset of `headers` (any name casing, any order).
pub fn canonical_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> CanonicalHeaders {
    let mut kept: Vec<(String, &str)> = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .filter(|(n, _)| is_signed_header(n))
        .collect();
    kept.sort_unstable();
    let mut out = CanonicalHeaders {
        canonical: String::new(),
        signed: String::new(),
    };
    let mut i = 0;
    while i < kept.len() {
        let name = &kept[i].0;
        if !out.signed.is_empty() {
            out.signed.push(';');
        }
        out.signed.push_str(name);
        out.canonical.push_str(name);
        out.canonical.push(':');
        let mut first = true;
        while i < kept.len() && kept[i].0 == *name {
            if !first {
                out.canonical.push(',');
            }
            out.canonical.push_str(kept[i].1);
            first = false;
            i += 1;
        }
        out.canonical.push('\n');
    }
    out
}

/// The canonical request.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &CanonicalHeaders,
    hashed_payload: &str,
) -> String {
    [
        method,
        canonical_uri,
        canonical_query,
        &headers.canonical,
        &headers.signed,
        hashed_payload,
    ]
    .join("\n")
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `ACS3-HMAC-SHA256\n<hashed canonical request>`.
pub fn string_to_sign(hashed_canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{hashed_canonical_request}")
}

/// Lowercase hex `HMAC-SHA256(secret, string_to_sign)`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<list>,Signature=<hex>`.
pub fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
}

/// Checks a received hex signature in constant time.
pub(crate) fn verify(secret: &str, string_to_sign: &str, received_hex: &str) -> bool {
    let Some(received) = hex_decode(received_hex) else {
        return false;
    };
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&received).is_ok()
}

pub(crate) fn keyed_mac(secret: &str) -> Hmac<Sha256> {
    Hmac::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size")
}

fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_lower_into(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

/// The fast path: writes the canonical request in one buffer, with the header list fixed and
/// pre-sorted at compile time.
pub(super) fn sign_delete_custom_image(
    signer: &Signer,
    op: &DeleteCustomImage,
    endpoint: &Endpoint,
    ctx: &SigningContext,
) -> http::Request<Vec<u8>> {
    let creds = &signer.credentials;
    let token = creds.security_token().map(|t| t.expose());
    let mut q = Vec::with_capacity(
        48 + op.image_id().as_str().len() * 3
            + op.client_token().map_or(0, |t| t.as_str().len() * 3),
    );
    q.extend_from_slice(b"/?");
    for (name, value) in op.params() {
        push_param_bytes(&mut q, name, value);
    }

    let id = creds.access_key_id();
    let (ts, nonce) = (ctx.timestamp.as_str(), ctx.nonce.as_str());
    // The canonical request, hashed in one piece: one contiguous update is cheaper than
    // twenty small ones.
    let mut h = Vec::with_capacity(
        q.len() + 450 + endpoint.authority().len() + token.map_or(0, |t| t.len() + 64),
    );
    h.extend_from_slice(b"POST\n/\n");
    h.extend_from_slice(&q[2..]);
    h.extend_from_slice(b"\nhost:");
    h.extend_from_slice(endpoint.authority().as_bytes());
    if token.is_some() {
        h.extend_from_slice(b"\nx-acs-accesskey-id:");
        h.extend_from_slice(id.as_bytes());
    }
    h.extend_from_slice(b"\nx-acs-action:");
    h.extend_from_slice(ACTION.as_bytes());
    h.extend_from_slice(b"\nx-acs-content-sha256:");
    h.extend_from_slice(EMPTY_PAYLOAD_SHA256.as_bytes());
    h.extend_from_slice(b"\nx-acs-date:");
    h.extend_from_slice(ts.as_bytes());
    if let Some(t) = token {
        h.extend_from_slice(b"\nx-acs-security-token:");
        h.extend_from_slice(t.as_bytes());
    }
    h.extend_from_slice(b"\nx-acs-signature-nonce:");
    h.extend_from_slice(nonce.as_bytes());
    h.extend_from_slice(b"\nx-acs-version:");
    h.extend_from_slice(API_VERSION.as_bytes());
    let signed = if token.is_some() {
        SIGNED_HEADERS_STS
    } else {
        SIGNED_HEADERS
    };
    h.extend_from_slice(b"\n\n");
    h.extend_from_slice(signed.as_bytes());
    h.extend_from_slice(b"\n");
    h.extend_from_slice(EMPTY_PAYLOAD_SHA256.as_bytes());

    let mut sts = [0u8; ALGORITHM.len() + 1 + 64];
    sts[..ALGORITHM.len()].copy_from_slice(ALGORITHM.as_bytes());
    sts[ALGORITHM.len()] = b'\n';
    hex_lower_into(&Sha256::digest(&h), &mut sts[ALGORITHM.len() + 1..]);
    let mut mac = signer.v3_mac.clone();
    mac.update(&sts);
    let mut sig = [0u8; 64];
    hex_lower_into(&mac.finalize().into_bytes(), &mut sig);

    let mut auth = String::with_capacity(ALGORITHM.len() + 40 + id.len() + signed.len() + 64);
    auth.push_str(ALGORITHM);
    auth.push_str(" Credential=");
    auth.push_str(id);
    auth.push_str(",SignedHeaders=");
    auth.push_str(signed);
    auth.push_str(",Signature=");
    auth.extend(sig.iter().map(|&b| char::from(b)));

    let mut headers = signer.base_headers(endpoint, if token.is_some() { 6 } else { 4 });
    // Timestamps and nonces are validated ASCII; ids and tokens are validated printable ASCII.
    let value = |s: &str| HeaderValue::from_str(s).expect("validated header value");
    headers.insert(X_ACS_DATE, value(ts));
    headers.insert(X_ACS_SIGNATURE_NONCE, value(nonce));
    headers.insert(
        X_ACS_CONTENT_SHA256,
        HeaderValue::from_static(EMPTY_PAYLOAD_SHA256),
    );
    if let Some(t) = token {
        headers.insert(X_ACS_ACCESSKEY_ID, value(id));
        let mut token = value(t);
        token.set_sensitive(true);
        headers.insert(X_ACS_SECURITY_TOKEN, token);
    }
    let mut auth = HeaderValue::try_from(auth).expect("validated header value");
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    assemble(endpoint, q, headers)
}

const SIGNED_HEADERS: &str =
    "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
const SIGNED_HEADERS_STS: &str = "host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version";
