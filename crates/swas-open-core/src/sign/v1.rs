//! RPC signature V1: `Base64(HMAC-SHA1(secret + "&", StringToSign))`.
//!
//! - CanonicalizedQueryString: every parameter but `Signature`, sorted by raw name (byte
//!   order), `percentEncode(name)=percentEncode(value)` joined with `&`; an empty value stays
//!   `Name=`.
//! - StringToSign: `METHOD&%2F&percentEncode(CanonicalizedQueryString)`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use smallvec::SmallVec;

use http::uri::PathAndQuery;

use super::{assemble, base_headers, Signer, SigningContext};
use crate::credentials::Credentials;
use crate::encode::{hex_upper, is_unreserved, percent_encode_bytes, QueryBuf};
use crate::endpoint::Endpoint;
use crate::input::DeleteCustomImage;
use crate::{ACTION, API_VERSION};

/// `SignatureMethod`.
pub(crate) const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// `SignatureVersion`.
pub(crate) const SIGNATURE_VERSION: &str = "1.0";
/// `Format` sent by this crate.
pub(crate) const FORMAT: &str = "JSON";

/// The HMAC state keyed with `secret + "&"`.
pub(crate) fn keyed_mac(secret: &str) -> Hmac<Sha1> {
    let mut key = Vec::with_capacity(secret.len() + 1);
    key.extend_from_slice(secret.as_bytes());
    key.push(b'&');
    Hmac::new_from_slice(&key).expect("HMAC takes keys of any size")
}

#[cfg(any(test, feature = "verify"))]
/// The canonicalized query string of `params`, skipping any `Signature`; see
/// `super::canonical_query`.
pub(crate) fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    super::canonical_query(params.into_iter().filter(|(name, _)| *name != "Signature"))
}

#[cfg(any(test, feature = "verify"))]
/// `METHOD&%2F&percentEncode(canonical_query)`.
pub(crate) fn string_to_sign(method: &str, canonical_query: &str) -> String {
    let mut out = String::with_capacity(method.len() + 4 + canonical_query.len() * 5 / 4);
    out.push_str(method);
    out.push_str("&%2F&");
    crate::encode::percent_encode_into(&mut out, canonical_query);
    out
}

/// `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
#[cfg(test)]
pub(crate) fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a received `Signature` in constant time.
#[cfg(feature = "verify")]
pub(crate) fn verify(secret: &str, string_to_sign: &str, received: &str) -> bool {
    let Ok(received) = STANDARD.decode(received) else {
        return false;
    };
    let mut mac = keyed_mac(secret);
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&received).is_ok()
}

/// What stays the same from one V1 request to the next for a signer, prepared once: the
/// query's first parameters (`AccessKeyId`, `Action`) with the HMAC state that has already
/// absorbed their encoding, and every fixed stretch of the query with its encoding.
/// Signing then copies these stretches and encodes only the values that change.
#[derive(Clone)]
pub(crate) struct Template {
    head: Box<[u8]>,
    mac: Hmac<Sha1>,
    client_token: Segment,
    format_image: Segment,
    region: Segment,
    security_token: Option<Segment>,
    method_nonce: Segment,
    version_timestamp: Segment,
    api_version: Segment,
}

/// A fixed stretch of the query and its encoding in the string to sign.
#[derive(Clone)]
struct Segment {
    query: Box<[u8]>,
    string_to_sign: Box<[u8]>,
}

impl Template {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        let segment = |build: &dyn Fn(&mut DualQuery)| {
            let mut d = DualQuery::default();
            build(&mut d);
            Segment {
                query: d.query.as_slice().into(),
                string_to_sign: d.string_to_sign.as_slice().into(),
            }
        };
        // Names in byte order: the query is canonical as written.
        let mut head = DualQuery::whole();
        head.param("AccessKeyId", credentials.access_key_id());
        head.param("Action", ACTION);
        let mut mac = keyed_mac(credentials.secret().expose());
        mac.update(&head.string_to_sign);
        Self {
            head: head.query.as_slice().into(),
            mac,
            client_token: segment(&|d| d.name("ClientToken")),
            format_image: segment(&|d| {
                d.param("Format", FORMAT);
                d.name("ImageId");
            }),
            region: segment(&|d| d.name("RegionId")),
            security_token: credentials
                .security_token()
                .map(|t| segment(&|d| d.param("SecurityToken", t.expose()))),
            method_nonce: segment(&|d| {
                d.param("SignatureMethod", SIGNATURE_METHOD);
                d.name("SignatureNonce");
            }),
            version_timestamp: segment(&|d| {
                d.param("SignatureVersion", SIGNATURE_VERSION);
                d.name("Timestamp");
            }),
            api_version: segment(&|d| d.param("Version", API_VERSION)),
        }
    }
}

/// The fast path: fills the signer's [`Template`] with the input, nonce and timestamp,
/// building the query and the string to sign side by side.
pub(super) fn sign_delete_custom_image(
    signer: &Signer,
    op: &DeleteCustomImage,
    endpoint: &Endpoint,
    ctx: &SigningContext,
) -> http::Request<Vec<u8>> {
    let t = &signer.v1;
    let mut d = DualQuery::default();
    d.query.extend_from_slice(&t.head);
    if let Some(token) = op.client_token() {
        d.segment(&t.client_token);
        d.value(token.as_str());
    }
    d.segment(&t.format_image);
    d.value(op.image_id().as_str());
    d.segment(&t.region);
    d.value(op.region_id().as_str());
    if let Some(token) = &t.security_token {
        d.segment(token);
    }
    d.segment(&t.method_nonce);
    d.value(ctx.nonce.as_str());
    d.segment(&t.version_timestamp);
    d.value(ctx.timestamp.as_str());
    d.segment(&t.api_version);

    let mut mac = t.mac.clone();
    mac.update(&d.string_to_sign);
    let mut b64 = [0u8; 28];
    let n = STANDARD
        .encode_slice(mac.finalize().into_bytes(), &mut b64)
        .expect("20 bytes encode to 28");
    let mut q = d.query;
    q.extend_from_slice(b"&Signature=");
    percent_encode_bytes(&mut q, &b64[..n]);
    // An exact-size buffer becomes the URI's bytes without another allocation. Every byte
    // of the query is percent-encoded or unreserved, so it always parses.
    let q = PathAndQuery::try_from(q.to_vec()).expect("encoded query is valid");
    assemble(endpoint, q, base_headers(signer, endpoint, 0))
}

/// Builds the canonical query (`/?`-prefixed, as the request carries it) and the V1 string to
/// sign side by side, in one pass over each value: the string to sign is the query
/// percent-encoded once more, so `&` is `%26`, `=` is `%3D` and an escape `%XY` is `%25XY`.
#[derive(Default)]
struct DualQuery {
    /// On the stack: an ordinary request's query and string to sign fit, so signing
    /// allocates neither.
    query: QueryBuf,
    string_to_sign: SmallVec<[u8; 1024]>,
    /// Whether the next parameter is the query's first (no `&` before it).
    first: bool,
}

impl DualQuery {
    /// A whole query: `/?` and `POST&%2F&` already written.
    fn whole() -> Self {
        let mut d = Self {
            first: true,
            ..Self::default()
        };
        d.query.extend_from_slice(b"/?");
        d.string_to_sign.extend_from_slice(b"POST&%2F&");
        d
    }

    /// Appends `name=value`; `name` must be unreserved (the fixed names are).
    fn param(&mut self, name: &str, value: &str) {
        self.name(name);
        self.value(value);
    }

    /// Appends `name=` (after `&` unless first); `name` must be unreserved.
    fn name(&mut self, name: &str) {
        debug_assert!(name.bytes().all(is_unreserved));
        if !std::mem::take(&mut self.first) {
            self.query.push(b'&');
            self.string_to_sign.extend_from_slice(b"%26");
        }
        self.query.extend_from_slice(name.as_bytes());
        self.query.push(b'=');
        self.string_to_sign.extend_from_slice(name.as_bytes());
        self.string_to_sign.extend_from_slice(b"%3D");
    }

    /// Appends a prepared stretch.
    fn segment(&mut self, segment: &Segment) {
        self.query.extend_from_slice(&segment.query);
        self.string_to_sign
            .extend_from_slice(&segment.string_to_sign);
    }

    /// Appends a value, encoded once in the query and twice in the string to sign.
    fn value(&mut self, value: &str) {
        let value = value.as_bytes();
        let mut run = 0;
        for (i, &b) in value.iter().enumerate() {
            if is_unreserved(b) {
                continue;
            }
            let [hi, lo] = hex_upper(b);
            self.query.extend_from_slice(&value[run..i]);
            self.query.extend_from_slice(&[b'%', hi, lo]);
            self.string_to_sign.extend_from_slice(&value[run..i]);
            self.string_to_sign
                .extend_from_slice(&[b'%', b'2', b'5', hi, lo]);
            run = i + 1;
        }
        self.query.extend_from_slice(&value[run..]);
        self.string_to_sign.extend_from_slice(&value[run..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_query_matches_the_generic_construction() {
        let params = [("A", "x y*é"), ("B", ""), ("C", "2016-02-23T12:46:24Z")];
        let mut d = DualQuery::whole();
        for (n, v) in params {
            d.param(n, v);
        }
        let generic = canonical_query(params);
        assert_eq!(&d.query[2..], generic.as_bytes());
        assert_eq!(
            d.string_to_sign.as_slice(),
            string_to_sign("POST", &generic).as_bytes()
        );
    }
}
