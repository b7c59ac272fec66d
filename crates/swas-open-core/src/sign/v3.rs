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
use hmac::Mac;
use http::header::{HeaderName, AUTHORIZATION, CONTENT_LENGTH, HOST, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::buf::{Sink, StackBuf};
use super::{assemble, header_name, Signer, SigningContext, X_ACS_ACTION, X_ACS_VERSION};
use crate::encode::{hex_lower_into, percent_encode_into_sink, QueryBuf};
use crate::endpoint::Endpoint;
use crate::input::DeleteCustomImage;
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

#[cfg(any(test, feature = "verify"))]
fn keyed_mac(secret: &str) -> hmac::Hmac<Sha256> {
    hmac::KeyInit::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size")
}

/// The fast path. The headers it signs are listed once, in canonical order; the canonical
/// headers, `SignedHeaders` and the request's headers are all derived from that list. The
/// query and the changing header values share one buffer, and the canonical request is
/// written on the stack and hashed in one piece.
pub(super) fn sign_delete_custom_image(
    signer: &Signer,
    op: &DeleteCustomImage,
    endpoint: &Endpoint,
    ctx: &SigningContext,
) -> http::Request<Vec<u8>> {
    let creds = &signer.credentials;
    let id = creds.access_key_id();
    let token = creds.security_token().map(|t| t.expose());

    let mut buf = QueryBuf::new();
    buf.put(b"/?");
    for (i, (name, value)) in op.params().enumerate() {
        // The parameter names are unreserved; only values need encoding.
        if i > 0 {
            buf.put(b"&");
        }
        buf.put(name.as_bytes());
        buf.put(b"=");
        percent_encode_into_sink(&mut buf, value.as_bytes());
    }
    let query_end = buf.len();
    let mut put = |value: &str| {
        let start = buf.len();
        buf.put(value.as_bytes());
        start..buf.len()
    };
    let date = put(ctx.timestamp.as_str());
    let nonce = put(ctx.nonce.as_str());
    let sts = token.map(|t| (put(id), put(t)));
    let shared = Bytes::from(buf.as_slice().to_vec());
    // Timestamps and nonces are validated ASCII; ids and tokens validated printable ASCII.
    let value = |r: Range<usize>| {
        HeaderValue::from_maybe_shared(shared.slice(r)).expect("validated header value")
    };
    let (id_value, token_value) = match sts {
        Some((i, t)) => {
            let mut t = value(t);
            t.set_sensitive(true);
            (Some(value(i)), Some(t))
        }
        None => (None, None),
    };
    // Sorted by name: this order is the canonical one.
    let signed: [(HeaderName, Option<HeaderValue>); 8] = [
        (HOST, Some(endpoint.host_header().clone())),
        (header_name!(X_ACS_ACCESSKEY_ID), id_value),
        (
            header_name!(X_ACS_ACTION),
            Some(HeaderValue::from_static(ACTION)),
        ),
        (
            header_name!(X_ACS_CONTENT_SHA256),
            Some(HeaderValue::from_static(EMPTY_PAYLOAD_SHA256)),
        ),
        (header_name!(X_ACS_DATE), Some(value(date))),
        (header_name!(X_ACS_SECURITY_TOKEN), token_value),
        (header_name!(X_ACS_SIGNATURE_NONCE), Some(value(nonce))),
        (
            header_name!(X_ACS_VERSION),
            Some(HeaderValue::from_static(API_VERSION)),
        ),
    ];
    let present = || signed.iter().filter_map(|(n, v)| Some((n, v.as_ref()?)));

    let (count, names_len) = present().fold((0, 0), |(c, l), (n, _)| (c + 1, l + n.as_str().len()));
    let list_len = names_len + count - 1;
    let mut auth = String::with_capacity(ALGORITHM.len() + 38 + id.len() + list_len + 64);
    auth.push_str(ALGORITHM);
    auth.push_str(" Credential=");
    auth.push_str(id);
    auth.push_str(",SignedHeaders=");
    let list_start = auth.len();
    for (i, (name, _)) in present().enumerate() {
        if i > 0 {
            auth.push(';');
        }
        auth.push_str(name.as_str());
    }

    let mut cr = StackBuf::<1024>::new();
    cr.put(b"POST\n/\n");
    cr.put(&shared[2..query_end]);
    cr.put(b"\n");
    for (name, value) in present() {
        cr.put(name.as_str().as_bytes());
        cr.put(b":");
        cr.put(value.as_bytes());
        cr.put(b"\n");
    }
    cr.put(b"\n");
    cr.put(&auth.as_bytes()[list_start..]);
    cr.put(b"\n");
    cr.put(EMPTY_PAYLOAD_SHA256.as_bytes());

    let mut sts = [0u8; ALGORITHM.len() + 1 + 64];
    sts[..ALGORITHM.len()].copy_from_slice(ALGORITHM.as_bytes());
    sts[ALGORITHM.len()] = b'\n';
    hex_lower_into(
        &Sha256::digest(cr.as_slice()),
        &mut sts[ALGORITHM.len() + 1..],
    );
    let mut mac = signer.v3_mac.clone();
    mac.update(&sts);
    let mut sig = [0u8; 64];
    hex_lower_into(&mac.finalize().into_bytes(), &mut sig);
    auth.push_str(",Signature=");
    auth.push_str(std::str::from_utf8(&sig).expect("hex is ASCII"));
    debug_assert_eq!(auth.len(), auth.capacity());

    let mut headers = HeaderMap::with_capacity(count + 3);
    for (name, value) in signed {
        if let Some(value) = value {
            headers.insert(name, value);
        }
    }
    headers.insert(USER_AGENT, signer.user_agent.clone());
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    let mut auth = HeaderValue::try_from(auth).expect("validated header value");
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    let q =
        PathAndQuery::from_maybe_shared(shared.slice(..query_end)).expect("encoded query is valid");
    assemble(endpoint, q, headers)
}
