//! ACS3-HMAC-SHA256 (V3): `hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))))`.
//!
//! CanonicalRequest = `METHOD\nCanonicalURI\nCanonicalQueryString\nCanonicalHeaders\nSignedHeaders\nHashedPayload`.
//! The canonical headers are the headers the signer chose to sign, names lowercased, values
//! trimmed, sorted by name; a repeated name's values are sorted and joined with `,`.
//! `SignedHeaders` lists the same names joined with `;`. Which headers are signed is the
//! signer's choice: this crate signs `host` and every `x-acs-*` header it sends, the official
//! SDKs also `accept` and `user-agent`; a verifier takes the client's `SignedHeaders` as
//! given.

use std::ops::Range;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{HeaderName, AUTHORIZATION, CONTENT_LENGTH, HOST, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::{assemble, header_name, Signer, Unsigned, X_ACS_ACTION, X_ACS_VERSION};
use crate::buf::{Sink, StackBuf};
use crate::encode::{hex_lower_into, percent_encode_into_sink};
use crate::keys::Credentials;
use crate::{ACTION, API_VERSION};

/// The algorithm name, first in `Authorization` and in the string to sign.
pub(crate) const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Hex SHA-256 of the empty body.
pub(crate) const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `x-acs-date`.
pub(crate) const X_ACS_DATE: &str = "x-acs-date";
/// `x-acs-signature-nonce`.
pub(crate) const X_ACS_SIGNATURE_NONCE: &str = "x-acs-signature-nonce";
/// `x-acs-content-sha256`.
pub(crate) const X_ACS_CONTENT_SHA256: &str = "x-acs-content-sha256";
/// `x-acs-security-token`.
pub(crate) const X_ACS_SECURITY_TOKEN: &str = "x-acs-security-token";
/// `x-acs-accesskey-id`.
pub(crate) const X_ACS_ACCESSKEY_ID: &str = "x-acs-accesskey-id";

#[cfg(any(test, feature = "verify"))]
/// Canonical headers and the matching `SignedHeaders` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanonicalHeaders {
    /// `name:value\n` lines.
    pub(crate) canonical: String,
    /// Names joined with `;`.
    pub(crate) signed: String,
}

#[cfg(any(test, feature = "verify"))]
/// Canonicalizes every header given (any name casing, any order, names repeated or not):
/// the caller has already chosen which headers are signed.
pub(crate) fn canonical_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> CanonicalHeaders {
    let mut kept: Vec<(String, &str)> = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    kept.sort_unstable();
    let mut out = CanonicalHeaders {
        canonical: String::new(),
        signed: String::new(),
    };
    for (i, (name, value)) in kept.iter().enumerate() {
        let first_of_name = i == 0 || kept[i - 1].0 != *name;
        if first_of_name {
            if i > 0 {
                out.canonical.push('\n');
                out.signed.push(';');
            }
            out.signed.push_str(name);
            out.canonical.push_str(name);
            out.canonical.push(':');
        } else {
            out.canonical.push(',');
        }
        out.canonical.push_str(value);
    }
    if !kept.is_empty() {
        out.canonical.push('\n');
    }
    out
}

#[cfg(any(test, feature = "verify"))]
/// The canonical request.
pub(crate) fn canonical_request(
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

#[cfg(any(test, feature = "verify"))]
/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(any(test, feature = "verify"))]
/// `ACS3-HMAC-SHA256\n<hashed canonical request>`.
pub(crate) fn string_to_sign(hashed_canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{hashed_canonical_request}")
}

/// Lowercase hex `HMAC-SHA256(secret, string_to_sign)`.
#[cfg(test)]
pub(crate) fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<list>,Signature=<hex>`.
#[cfg(test)]
pub(crate) fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
}

/// Checks a received hex signature in constant time.
#[cfg(feature = "verify")]
pub(crate) fn verify(secret: &str, string_to_sign: &str, received_hex: &str) -> bool {
    let Ok(received) = hex::decode(received_hex) else {
        return false;
    };
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&received).is_ok()
}

fn keyed_mac(secret: &str) -> Hmac<Sha256> {
    hmac::KeyInit::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size")
}

/// A signed header's value, as [`signed_headers`] names it.
enum Signed {
    /// The endpoint's host.
    Host,
    /// The access key id (sent with an STS token only).
    AccessKeyId,
    /// The same for every request (built at compile time).
    Fixed(HeaderValue),
    /// The attempt's timestamp.
    Date,
    /// The STS token, if any.
    SecurityToken,
    /// The attempt's nonce.
    Nonce,
}

/// The headers this crate signs, sorted by name (this order is the canonical one): the one
/// list that the canonical headers, `SignedHeaders` and the request's headers all derive
/// from. `visit` sees each header in turn, with what its value is.
#[inline(always)]
fn signed_headers(mut visit: impl FnMut(HeaderName, Signed)) {
    macro_rules! fixed {
        ($text:expr) => {
            Signed::Fixed(const { HeaderValue::from_static($text) })
        };
    }
    visit(HOST, Signed::Host);
    visit(header_name!(X_ACS_ACCESSKEY_ID), Signed::AccessKeyId);
    visit(header_name!(X_ACS_ACTION), fixed!(ACTION));
    visit(
        header_name!(X_ACS_CONTENT_SHA256),
        fixed!(EMPTY_PAYLOAD_SHA256),
    );
    visit(header_name!(X_ACS_DATE), Signed::Date);
    visit(header_name!(X_ACS_SECURITY_TOKEN), Signed::SecurityToken);
    visit(header_name!(X_ACS_SIGNATURE_NONCE), Signed::Nonce);
    visit(header_name!(X_ACS_VERSION), fixed!(API_VERSION));
}

/// What stays the same from one V3 request to the next for a signer, prepared once from
/// [`signed_headers`]: every stretch of the canonical request between the values that
/// change, `SignedHeaders`, the head of `Authorization`, the STS headers' values, and the
/// HMAC state keyed with the secret that has already absorbed the string to sign's first
/// line.
#[derive(Clone)]
pub(crate) struct Template {
    mac: Hmac<Sha256>,
    /// `x-acs-accesskey-id` and `x-acs-security-token`, with an STS token only.
    sts: Option<(HeaderValue, HeaderValue)>,
    /// How many headers are signed.
    signed: usize,
    /// `\nhost:` (the canonical request's headers start with `host`).
    before_host: Box<[u8]>,
    /// From after the host to `x-acs-date:`.
    before_date: Box<[u8]>,
    /// From after the date to `x-acs-signature-nonce:`.
    before_nonce: Box<[u8]>,
    /// From after the nonce to the end: the last headers, `SignedHeaders` and the hashed
    /// payload.
    tail: Box<[u8]>,
    /// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<list>,Signature=`.
    authorization_head: Box<[u8]>,
}

impl Template {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        let id = credentials.access_key_id();
        let token = credentials.security_token().map(|t| t.expose());
        let mut signed: Vec<(HeaderName, Signed)> = Vec::new();
        signed_headers(|name, v| match v {
            Signed::AccessKeyId | Signed::SecurityToken if token.is_none() => {}
            v => signed.push((name, v)),
        });
        debug_assert!(signed.windows(2).all(|w| w[0].0.as_str() < w[1].0.as_str()));

        let list = signed
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(";");
        // The canonical headers, cut where a value changes from one request to the next.
        let mut stretches: Vec<Vec<u8>> = vec![Vec::new()];
        for (name, v) in &signed {
            let current = stretches.last_mut().expect("never empty");
            current.push(b'\n');
            current.extend_from_slice(name.as_str().as_bytes());
            current.push(b':');
            match v {
                Signed::Fixed(value) => current.extend_from_slice(value.as_bytes()),
                Signed::AccessKeyId => current.extend_from_slice(id.as_bytes()),
                Signed::SecurityToken => {
                    current.extend_from_slice(token.unwrap_or_default().as_bytes())
                }
                Signed::Host | Signed::Date | Signed::Nonce => stretches.push(Vec::new()),
            }
        }
        let tail = stretches.last_mut().expect("never empty");
        tail.extend_from_slice(b"\n\n");
        tail.extend_from_slice(list.as_bytes());
        tail.push(b'\n');
        tail.extend_from_slice(EMPTY_PAYLOAD_SHA256.as_bytes());
        let [before_host, before_date, before_nonce, tail]: [Vec<u8>; 4] = stretches
            .try_into()
            .expect("host, date and nonce cut the headers in four");

        let mut mac = keyed_mac(credentials.secret().expose());
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        // Key ids and tokens are validated printable ASCII.
        let sts = token.map(|token| {
            let mut token = HeaderValue::try_from(token).expect("validated header value");
            token.set_sensitive(true);
            let id = HeaderValue::try_from(id).expect("validated header value");
            (id, token)
        });
        Self {
            mac,
            sts,
            signed: signed.len(),
            before_host: before_host.into(),
            before_date: before_date.into(),
            before_nonce: before_nonce.into(),
            tail: tail.into(),
            authorization_head: format!(
                "{ALGORITHM} Credential={id},SignedHeaders={list},Signature="
            )
            .into_bytes()
            .into(),
        }
    }
}

/// The fast path: fills the signer's [`Template`] in one buffer, which holds, in order,
/// `POST\n` and the URI's `/?query`, the rest of the canonical request (whose date and
/// nonce are the header values), then `Authorization`. The canonical request is hashed in
/// place (its `/?` read as `/\n`), and the URI and the three changing header values are
/// slices of the one buffer.
pub(super) fn sign(signer: &Signer, what: Unsigned<'_>) -> http::Request<Vec<u8>> {
    let t = &signer.v3;
    let mut buf = StackBuf::<1024>::new();
    buf.put(b"POST\n/?");
    for (i, (name, value)) in what.op.params(what.token).enumerate() {
        // The parameter names are unreserved; only values need encoding.
        if i > 0 {
            buf.put(b"&");
        }
        buf.put(name.as_bytes());
        buf.put(b"=");
        percent_encode_into_sink(&mut buf, value.as_bytes());
    }
    let query_end = buf.len();
    let mut put_value = |before: &[u8], value: &[u8]| {
        buf.put(before);
        let start = buf.len();
        buf.put(value);
        start..buf.len()
    };
    put_value(&t.before_host, what.endpoint.host_header().as_bytes());
    let date = put_value(&t.before_date, what.ctx.timestamp.as_str().as_bytes());
    let nonce = put_value(&t.before_nonce, what.ctx.nonce.as_bytes());
    buf.put(&t.tail);

    let mut hasher = Sha256::new();
    hasher.update(b"POST\n/\n");
    hasher.update(&buf.as_slice()[PATH_AT + 2..]);
    let mut hashed = [0u8; 64];
    hex_lower_into(&hasher.finalize(), &mut hashed);
    let mut mac = t.mac.clone();
    mac.update(&hashed);
    let auth_start = buf.len();
    buf.put(&t.authorization_head);
    buf.write_with(64, |out| {
        hex_lower_into(&mac.finalize().into_bytes(), &mut out[..64]);
        64
    });

    let shared = Bytes::from(buf.as_slice().to_vec());
    // Timestamps and nonces are validated ASCII; `Authorization` is ASCII by construction.
    let value = |r: Range<usize>| {
        HeaderValue::from_maybe_shared(shared.slice(r)).expect("validated header value")
    };
    let mut headers = HeaderMap::with_capacity(t.signed + 3);
    signed_headers(|name, v| {
        let value = match v {
            Signed::Host => what.endpoint.host_header().clone(),
            Signed::Fixed(value) => value,
            Signed::Date => value(date.clone()),
            Signed::Nonce => value(nonce.clone()),
            Signed::AccessKeyId => match &t.sts {
                Some((id, _)) => id.clone(),
                None => return,
            },
            Signed::SecurityToken => match &t.sts {
                Some((_, token)) => token.clone(),
                None => return,
            },
        };
        headers.insert(name, value);
    });
    headers.insert(USER_AGENT, signer.user_agent.clone());
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    let mut auth = value(auth_start..shared.len());
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    let q = PathAndQuery::from_maybe_shared(shared.slice(PATH_AT..query_end))
        .expect("encoded query is valid");
    assemble(what.endpoint, q, headers)
}

/// Where `/?` starts in the fast path's buffer, after `POST\n`.
const PATH_AT: usize = 5;
