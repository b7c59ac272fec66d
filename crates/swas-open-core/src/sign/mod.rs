//! Request signing: RPC signature V1 (HMAC-SHA1, the default) and ACS3-HMAC-SHA256 (V3).
//!
//! [`Signer`] holds everything that stays the same from one request to the next (credentials,
//! keyed HMAC states, user agent); [`SigningContext`] holds what changes every attempt
//! (timestamp and nonce). [`Signer::sign`] is a pure function of the two plus the input and
//! endpoint.
//!
//! The modules `v1` and `v3` also hold the schemes' generic building blocks (canonical
//! query, string to sign, signature) over arbitrary parameters: the published known-answer
//! vectors test them stage by stage, the verifier uses them, and property tests check that
//! the fast DeleteCustomImage paths agree with them byte for byte.

pub(crate) mod v1;
pub(crate) mod v3;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use http::header::{InvalidHeaderValue, CONTENT_LENGTH, HOST, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};

use crate::endpoint::Endpoint;
use crate::error::Redactions;
use crate::input::{
    validated_string, ClientToken, DeleteCustomImage, Field, InputError, Rule, Short,
};
use crate::keys::Credentials;

use crate::time::Timestamp;
use crate::{ACTION, API_VERSION};

/// `x-acs-action`.
pub(crate) const X_ACS_ACTION: &str = "x-acs-action";
/// `x-acs-version`.
pub(crate) const X_ACS_VERSION: &str = "x-acs-version";

/// The header named by one of the name constants, built at compile time.
macro_rules! header_name {
    ($name:expr) => {
        const { ::http::header::HeaderName::from_static($name) }
    };
}
pub(crate) use header_name;

validated_string!(
    /// `SignatureNonce`: unique per request, 1 to 64 characters of `A-Z a-z 0-9 - _ . ~`
    /// (a UUID or 32 hex characters).
    Nonce,
    Rule {
        field: Field::SignatureNonce,
        text: "A-Z a-z 0-9 - _ . ~, 1 to 64 characters",
        max_chars: 64,
        allowed: |c| c.is_ascii() && crate::encode::is_unreserved(c as u8),
    },
    Short
);

impl Nonce {
    /// [`as_str`](Self::as_str)'s bytes, without its UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// 32 lowercase hex characters from 16 random bytes the caller supplies.
    ///
    /// ```
    /// use swas_open::sans_io::Nonce;
    /// let n = Nonce::from_random_bytes([0x1f; 16]);
    /// assert_eq!(n.as_str(), "1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f");
    /// let bytes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xff];
    /// assert_eq!(Nonce::from_random_bytes(bytes).as_str(), "000102030405060708090a0b0c0d0eff");
    /// ```
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        // The 32 lowercase hex digits of the bytes, in order.
        Self(Short::hex(&bytes))
    }
}

/// Which signature scheme to use.
///
/// Parses from and prints as `v1` / `v3`:
/// ```
/// use swas_open::SignatureVersion;
/// assert_eq!("V3".parse::<SignatureVersion>(), Ok(SignatureVersion::V3));
/// assert_eq!(SignatureVersion::V1.to_string(), "v1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SignatureVersion {
    /// RPC signature V1: HMAC-SHA1, everything in the query. The default.
    #[default]
    V1,
    /// ACS3-HMAC-SHA256: the API parameters in the query, the rest in `x-acs-*` headers and
    /// `Authorization`.
    V3,
}

impl std::str::FromStr for SignatureVersion {
    type Err = String;
    /// Accepts `v1`/`1`/`1.0` and `v3`/`3`/`ACS3-HMAC-SHA256`, any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" | "1.0" => Ok(SignatureVersion::V1),
            "v3" | "3" | "acs3-hmac-sha256" => Ok(SignatureVersion::V3),
            _ => Err(format!(
                "unknown signature version {s:?}: expected v1 or v3"
            )),
        }
    }
}

impl fmt::Display for SignatureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureVersion::V1 => "v1",
            SignatureVersion::V3 => "v3",
        })
    }
}

/// The per-attempt inputs of a signature: when, and a value never used before.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningContext {
    /// `Timestamp` (V1) or `x-acs-date` (V3).
    pub timestamp: Timestamp,
    /// `SignatureNonce` (V1) or `x-acs-signature-nonce` (V3).
    pub nonce: Nonce,
}

impl SigningContext {
    /// Pairs a timestamp with a nonce.
    pub fn new(timestamp: Timestamp, nonce: Nonce) -> Self {
        Self { timestamp, nonce }
    }
}

/// The user agent sent when none is configured:
/// `AlibabaCloud (<os>; <arch>) Rust swas-open/<version> TeaDSL/2`.
pub(crate) fn default_user_agent() -> String {
    DEFAULT_USER_AGENT.to_owned()
}

/// [`default_user_agent`], built at compile time: as a static header value it is sent
/// without touching a reference count.
const DEFAULT_USER_AGENT: &str = {
    const PARTS: [&str; 7] = [
        "AlibabaCloud (",
        std::env::consts::OS,
        "; ",
        std::env::consts::ARCH,
        ") Rust swas-open/",
        env!("CARGO_PKG_VERSION"),
        " TeaDSL/2",
    ];
    const LEN: usize = {
        let (mut len, mut i) = (0, 0);
        while i < PARTS.len() {
            len += PARTS[i].len();
            i += 1;
        }
        len
    };
    const BYTES: [u8; LEN] = {
        let mut out = [0; LEN];
        let (mut at, mut i) = (0, 0);
        while i < PARTS.len() {
            let part = PARTS[i].as_bytes();
            let mut j = 0;
            while j < part.len() {
                out[at] = part[j];
                at += 1;
                j += 1;
            }
            i += 1;
        }
        out
    };
    match std::str::from_utf8(&BYTES) {
        Ok(ua) => ua,
        Err(_) => panic!("the user agent is ASCII"),
    }
};

/// Signs DeleteCustomImage requests for one set of credentials.
///
/// Cheap to clone; build it once per client. The HMAC key schedules are computed once here,
/// not on every request.
///
/// ```
/// use swas_open::sans_io::{Nonce, Signer, SigningContext, Timestamp};
/// use swas_open::{Credentials, DeleteCustomImage, Endpoint, EndpointKind, SignatureVersion};
/// let signer = Signer::new(Credentials::new("testid", "testsecret")?)
///     .with_signature_version(SignatureVersion::V3);
/// let op = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
/// let ctx = SigningContext::new(Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_698_315_752))?, Nonce::new("n-1")?);
/// let req = signer.sign(&op, &Endpoint::for_region(op.region_id(), EndpointKind::Public), &ctx);
/// let auth = req.headers()["authorization"].to_str()?;
/// assert!(auth.starts_with("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    version: SignatureVersion,
    user_agent: HeaderValue,
    v1: v1::Template,
    v3: v3::Template,
    /// The secret and the token in every form a server may echo them, built once for every
    /// failed attempt signed with these credentials.
    redactions: Arc<Redactions<'static>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .field("version", &self.version)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A V1 signer with the default user agent.
    pub fn new(credentials: Credentials) -> Self {
        let mut redactions = Redactions::default();
        redactions.secret(credentials.secret().expose().to_owned());
        if let Some(token) = credentials.security_token() {
            redactions.secret(token.expose().to_owned());
        }
        Self {
            v1: v1::Template::new(&credentials),
            v3: v3::Template::new(&credentials),
            redactions: Arc::new(redactions.longest_first()),
            credentials,
            version: SignatureVersion::V1,
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        }
    }

    /// Chooses the signature scheme.
    pub fn with_signature_version(mut self, version: SignatureVersion) -> Self {
        self.version = version;
        self
    }

    /// Appends ` <suffix>` to the user agent (e.g. an application name and version).
    pub(crate) fn with_user_agent_suffix(
        mut self,
        suffix: &str,
    ) -> Result<Self, InvalidHeaderValue> {
        if !suffix.is_empty() {
            let ua = format!("{DEFAULT_USER_AGENT} {suffix}");
            self.user_agent = HeaderValue::try_from(ua)?;
        }
        Ok(self)
    }

    /// The credentials this signer signs with.
    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Its credentials' secret and token, to cut from what a server echoes.
    pub(crate) fn redactions(&self) -> &Redactions<'static> {
        &self.redactions
    }

    /// The signature scheme in use.
    pub fn signature_version(&self) -> SignatureVersion {
        self.version
    }

    /// Builds and signs the request: `POST` to `endpoint` with an empty body.
    ///
    /// The request is complete: an absolute URI (scheme, authority, and the path `/` with
    /// the signed query), the headers `host`, `user-agent`, `x-acs-action`, `x-acs-version`
    /// and `content-length: 0`, and for V3 the signed `x-acs-*` headers and `Authorization`.
    /// A client built on `http` (hyper, ureq) sends it as it is; a sender writing HTTP/1.1 by
    /// hand writes `POST`, `uri().path_and_query()` as the request target, and every header
    /// as it is.
    pub fn sign(
        &self,
        op: &DeleteCustomImage,
        endpoint: &Endpoint,
        ctx: &SigningContext,
    ) -> Request<Vec<u8>> {
        self.sign_with_token(op, op.client_token(), endpoint, ctx)
    }

    /// [`sign`](Self::sign) with `token` in place of the input's own (a call keeps its
    /// token apart from the input it borrows).
    pub(crate) fn sign_with_token(
        &self,
        op: &DeleteCustomImage,
        token: Option<&ClientToken>,
        endpoint: &Endpoint,
        ctx: &SigningContext,
    ) -> Request<Vec<u8>> {
        let what = Unsigned {
            op,
            token,
            endpoint,
            ctx,
        };
        match self.version {
            SignatureVersion::V1 => v1::sign(self, what),
            SignatureVersion::V3 => v3::sign(self, what),
        }
    }
}

/// What one signature covers: the input, the `ClientToken` it carries (a call's own, kept
/// apart from the input it borrows), where it goes and when.
#[derive(Clone, Copy)]
struct Unsigned<'a> {
    op: &'a DeleteCustomImage,
    token: Option<&'a ClientToken>,
    endpoint: &'a Endpoint,
    ctx: &'a SigningContext,
}

/// Assembles the request from its `/?query` and headers.
fn assemble(
    endpoint: &Endpoint,
    path_and_query: PathAndQuery,
    headers: HeaderMap,
) -> Request<Vec<u8>> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(endpoint.uri_scheme());
    parts.authority = Some(endpoint.uri_authority().clone());
    parts.path_and_query = Some(path_and_query);
    let uri = Uri::from_parts(parts).expect("scheme, authority and path are all set");
    let mut request = Request::new(Vec::new());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// The headers of a V1 request.
fn v1_headers(signer: &Signer, endpoint: &Endpoint) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(5);
    headers.insert(HOST, endpoint.host_header().clone());
    headers.insert(USER_AGENT, signer.user_agent.clone());
    headers.insert(header_name!(X_ACS_ACTION), HeaderValue::from_static(ACTION));
    headers.insert(
        header_name!(X_ACS_VERSION),
        HeaderValue::from_static(API_VERSION),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers
}

/// The canonical query of both schemes: parameters sorted by raw name (byte order, then by
/// value), `percentEncode(name)=percentEncode(value)` joined with `&`; an empty value stays
/// `name=`.
pub(crate) fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<(&str, &str)> = params.into_iter().collect();
    sorted.sort_unstable();
    crate::encode::encode_pairs(&sorted)
}
