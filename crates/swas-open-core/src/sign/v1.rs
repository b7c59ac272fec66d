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

use http::uri::PathAndQuery;

use super::{assemble, v1_headers, Signer, Unsigned};
use crate::buf::{Sink, StackBuf};
use crate::encode::{all_unreserved, encode_into, is_unreserved, percent_encode_into_sink};
use crate::keys::Credentials;
use crate::time::Timestamp;
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

/// The canonicalized query string of `params`, skipping any `Signature`; see
/// `super::canonical_query`.
pub(crate) fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    super::canonical_query(params.into_iter().filter(|(name, _)| *name != "Signature"))
}

/// `METHOD&%2F&percentEncode(canonical_query)`.
pub(crate) fn string_to_sign(method: &str, canonical_query: &str) -> String {
    let mut out = String::with_capacity(method.len() + 4 + canonical_query.len() * 5 / 4);
    out.push_str(method);
    out.push_str("&%2F&");
    crate::encode::percent_encode_into(&mut out, canonical_query);
    out
}

/// `Base64(HMAC-SHA1(secret + "&", string_to_sign))`: the generic form, which signs
/// STS's AssumeRole (DeleteCustomImage has its own fast path).
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
        let segment = |build: &dyn Fn(&mut Owned)| {
            let mut d = DualQuery::continuing(Vec::new(), Vec::new());
            build(&mut d);
            Segment {
                query: d.query.into(),
                string_to_sign: d.string_to_sign.into(),
            }
        };
        // Names in byte order: the query is canonical as written.
        let mut head = DualQuery::whole(Vec::new(), Vec::new());
        head.param("AccessKeyId", credentials.access_key_id());
        head.param("Action", ACTION);
        let mut mac = keyed_mac(credentials.secret().expose());
        mac.update(&head.string_to_sign);
        Self {
            head: head.query.into(),
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
/// building the query and the string to sign side by side, both on the stack.
pub(super) fn sign(signer: &Signer, what: Unsigned<'_>) -> http::Request<Vec<u8>> {
    let t = &signer.v1;
    // On the stack: an ordinary request's query and string to sign fit.
    let mut query = StackBuf::<512>::new();
    let mut sts = StackBuf::<1024>::new();
    query.put(&t.head);
    let mut d = DualQuery::continuing(&mut query, &mut sts);
    if let Some(token) = what.token {
        d.segment(&t.client_token);
        d.value(token.as_bytes());
    }
    d.segment(&t.format_image);
    d.value(what.op.image_id().as_str().as_bytes());
    d.segment(&t.region);
    d.value(what.op.region_id().as_str().as_bytes());
    if let Some(token) = &t.security_token {
        d.segment(token);
    }
    d.segment(&t.method_nonce);
    d.value(what.ctx.nonce.as_bytes());
    d.segment(&t.version_timestamp);
    d.timestamp(&what.ctx.timestamp);
    d.segment(&t.api_version);

    let mut mac = t.mac.clone();
    mac.update(sts.as_slice());
    let mut b64 = [0u8; 28];
    let n = STANDARD
        .encode_slice(mac.finalize().into_bytes(), &mut b64)
        .expect("20 bytes encode to 28");
    query.put(b"&Signature=");
    percent_encode_into_sink(&mut query, &b64[..n]);
    // An exact-size buffer becomes the URI's bytes without another allocation. Every byte
    // of the query is percent-encoded or unreserved, so it always parses.
    let q = PathAndQuery::try_from(query.as_slice().to_vec()).expect("encoded query is valid");
    assemble(what.endpoint, q, v1_headers(signer, what.endpoint))
}

/// A [`DualQuery`] building the template's stretches.
type Owned = DualQuery<Vec<u8>, Vec<u8>>;

/// Builds the canonical query (`/?`-prefixed, as the request carries it) and the V1 string to
/// sign side by side, in one pass over each value: the string to sign is the query
/// percent-encoded once more, so `&` is `%26`, `=` is `%3D` and an escape `%XY` is `%25XY`.
struct DualQuery<Q, S> {
    query: Q,
    string_to_sign: S,
    /// Whether the next parameter is the query's first (no `&` before it).
    first: bool,
}

impl<Q: Sink, S: Sink> DualQuery<Q, S> {
    /// A whole query: `/?` and `POST&%2F&` written first.
    fn whole(mut query: Q, mut string_to_sign: S) -> Self {
        query.put(b"/?");
        string_to_sign.put(b"POST&%2F&");
        Self {
            query,
            string_to_sign,
            first: true,
        }
    }

    /// A stretch of the middle of a query: every parameter gets its `&`.
    fn continuing(query: Q, string_to_sign: S) -> Self {
        Self {
            query,
            string_to_sign,
            first: false,
        }
    }

    /// Appends `name=value`; `name` must be unreserved (the fixed names are).
    fn param(&mut self, name: &str, value: &str) {
        self.name(name);
        self.value(value.as_bytes());
    }

    /// Appends `name=` (after `&` unless first); `name` must be unreserved.
    fn name(&mut self, name: &str) {
        debug_assert!(name.bytes().all(is_unreserved));
        if !std::mem::take(&mut self.first) {
            self.query.put(b"&");
            self.string_to_sign.put(b"%26");
        }
        self.query.put(name.as_bytes());
        self.query.put(b"=");
        self.string_to_sign.put(name.as_bytes());
        self.string_to_sign.put(b"%3D");
    }

    /// Appends a prepared stretch.
    fn segment(&mut self, segment: &Segment) {
        self.query.put(&segment.query);
        self.string_to_sign.put(&segment.string_to_sign);
    }

    /// Appends a timestamp, `YYYY-MM-DDThh:mm:ssZ` (digits and `-`, `T`, `:`, `Z` only):
    /// its two colons, at 13 and 16, are the only bytes to escape, so both encodings are
    /// built with fixed-size copies.
    fn timestamp(&mut self, timestamp: &Timestamp) {
        /// The timestamp with each colon written as `colon`.
        fn escaped<const N: usize>(t: &[u8; 20], colon: &[u8]) -> [u8; N] {
            let mut out = [0; N];
            let mut at = 0;
            for part in [&t[..13], colon, &t[14..16], colon, &t[17..]] {
                out[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            out
        }
        let t = timestamp.as_bytes();
        self.query.put(&escaped::<24>(t, b"%3A"));
        self.string_to_sign.put(&escaped::<28>(t, b"%253A"));
    }

    /// Appends a value, encoded once in the query and twice in the string to sign.
    fn value(&mut self, value: &[u8]) {
        if all_unreserved(value) {
            self.query.put(value);
            self.string_to_sign.put(value);
            return;
        }
        self.query
            .write_with(3 * value.len(), |out| encode_into(value, out, b"%"));
        self.string_to_sign
            .write_with(5 * value.len(), |out| encode_into(value, out, b"%25"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_query_matches_the_generic_construction() {
        let params = [("A", "x y*é"), ("B", ""), ("C", "2016-02-23T12:46:24Z")];
        let mut d = DualQuery::whole(Vec::new(), Vec::new());
        for (n, v) in params {
            d.param(n, v);
        }
        let generic = canonical_query(params);
        assert_eq!(&d.query[2..], generic.as_bytes());
        assert_eq!(
            d.string_to_sign,
            string_to_sign("POST", &generic).into_bytes()
        );
    }
}
