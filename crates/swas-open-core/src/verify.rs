//! The server's half of signing: check a received request, as the service (and the local
//! emulator) does.
//!
//! V1 is verified over exactly the parameters received, query and form body together,
//! including ones this crate never sends (such as the old SDKs' empty `SignatureType=`). V3 is
//! verified over exactly the headers the client listed in `SignedHeaders`, whichever they are
//! (the official SDKs also sign `accept` and `user-agent`); the list must name `host` and
//! every `x-acs-*` header present. Signatures are compared in constant time.
//!
//! What needs state or a clock (the 15-minute window, nonce replay, STS token ownership) is the
//! caller's: [`Verified`] carries the timestamp, nonce and token for it.
//!
//! ```
//! use swas_open::sans_io::{
//!     verify_request, Nonce, Secret, Signer, SigningContext, Timestamp, VerifyError,
//! };
//! use swas_open::{Credentials, DeleteCustomImage, Endpoint, EndpointKind};
//! let signer = Signer::new(Credentials::new("testid", "testsecret")?);
//! let op = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
//! let ctx = SigningContext::new("2023-11-14T22:13:20Z".parse::<Timestamp>()?, Nonce::new("n1")?);
//! let request = signer.sign(&op, &Endpoint::for_region(op.region_id(), EndpointKind::Public), &ctx);
//!
//! let ok = verify_request(&request, |id| (id == "testid").then(|| Secret::access_key_secret("testsecret").unwrap()))?;
//! assert_eq!(ok.param("ImageId"), Some("m-1"));
//!
//! let err = verify_request(&request, |_| Some(Secret::access_key_secret("wrong").unwrap())).unwrap_err();
//! assert!(matches!(err, VerifyError::SignatureMismatch { .. }));
//! assert!(err.to_string().contains("server string to sign is:POST&%2F&AccessKeyId"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Request};

use crate::encode::form_decode;
use crate::keys::Secret;
use crate::response::ErrorCode;
use crate::sign::v3::{
    X_ACS_CONTENT_SHA256, X_ACS_DATE, X_ACS_SECURITY_TOKEN, X_ACS_SIGNATURE_NONCE,
};
use crate::sign::{canonical_query, v1, v3, SignatureVersion, X_ACS_ACTION, X_ACS_VERSION};
use crate::time::Timestamp;

/// What a verified request says, for the caller's checks and for the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The scheme the request was signed with.
    pub version: SignatureVersion,
    /// The AccessKey id that signed it.
    pub access_key_id: String,
    /// The STS token it carried (`SecurityToken` or `x-acs-security-token`).
    pub security_token: Option<String>,
    /// `Timestamp` (V1) or `x-acs-date` (V3).
    pub timestamp: Timestamp,
    /// `SignatureNonce` (V1) or `x-acs-signature-nonce` (V3).
    pub nonce: String,
    /// `Action` (V1) or `x-acs-action` (V3).
    pub action: Option<String>,
    /// `Version` (V1) or `x-acs-version` (V3).
    pub api_version: Option<String>,
    /// Every parameter received, query then form body, decoded, in the order received.
    pub params: Vec<(String, String)>,
    /// The server-side string to sign.
    pub string_to_sign: String,
}

impl Verified {
    /// The first value of the parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        find(&self.params, name)
    }
}

/// Why a request failed verification. `Display` is the service's message; [`VerifyError::code`]
/// the service's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required signing parameter or header is absent.
    #[error("The input parameter \"{0}\" that is mandatory for processing this request is not supplied.")]
    MissingParameter(&'static str),
    /// The signature parts are malformed or unsupported (method, version, `Authorization`).
    #[error("The request signature does not conform to Aliyun standards: {0}")]
    IncompleteSignature(String),
    /// The query or body cannot be decoded.
    #[error("The request is malformed: {0}")]
    Malformed(String),
    /// `Timestamp` / `x-acs-date` is not `YYYY-MM-DDThh:mm:ssZ`.
    #[error("Specified time stamp or date value is not well formatted.")]
    IllegalTimestamp,
    /// No secret is known for this AccessKey id.
    #[error("Specified access key is not found.")]
    UnknownAccessKey,
    /// `x-acs-content-sha256` is not the hash of the body received.
    #[error("The x-acs-content-sha256 header does not match the request body.")]
    ContentHashMismatch,
    /// The signature does not match; carries the server's string to sign.
    #[error("{}", mismatch_message(*.version, .string_to_sign))]
    SignatureMismatch {
        /// The scheme checked.
        version: SignatureVersion,
        /// The string the server signed.
        string_to_sign: String,
    },
}

fn mismatch_message(version: SignatureVersion, sts: &str) -> String {
    match version {
        SignatureVersion::V1 => format!(
            "Specified signature is not matched with our calculation. server string to sign is:{sts}"
        ),
        _ => "Specified signature does not match our calculation.".to_owned(),
    }
}

impl VerifyError {
    /// The service's error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            VerifyError::MissingParameter(_) => ErrorCode::MissingParameter,
            VerifyError::IncompleteSignature(_) => ErrorCode::IncompleteSignature,
            VerifyError::Malformed(_) => ErrorCode::InvalidParameter,
            VerifyError::IllegalTimestamp => ErrorCode::IllegalTimestamp,
            VerifyError::UnknownAccessKey => ErrorCode::InvalidAccessKeyIdNotFound,
            VerifyError::ContentHashMismatch | VerifyError::SignatureMismatch { .. } => {
                ErrorCode::SignatureDoesNotMatch
            }
        }
    }
}

/// Verifies `request`'s V1 or V3 signature, looking the secret up by AccessKey id.
pub fn verify_request<B: AsRef<[u8]>>(
    request: &Request<B>,
    secret_for: impl FnOnce(&str) -> Option<Secret>,
) -> Result<Verified, VerifyError> {
    let mut params = parse_pairs(request.uri().query().unwrap_or(""))?;
    let query_len = params.len();
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body = request.body().as_ref();
    if is_form && !body.is_empty() {
        let body = std::str::from_utf8(body)
            .map_err(|_| VerifyError::Malformed("form body is not UTF-8".into()))?;
        params.extend(parse_pairs(body)?);
    }
    match request.headers().get(AUTHORIZATION) {
        Some(auth) => verify_v3(request, auth.as_bytes(), params, query_len, secret_for),
        None => verify_v1(request.method().as_str(), params, secret_for),
    }
}

fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, VerifyError> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |x: &str| {
                form_decode(x)
                    .map_err(|e| VerifyError::Malformed(format!("parameter encoding: {e}")))
            };
            Ok((decode(n)?, decode(v)?))
        })
        .collect()
}

fn find<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn verify_v1(
    method: &str,
    params: Vec<(String, String)>,
    secret_for: impl FnOnce(&str) -> Option<Secret>,
) -> Result<Verified, VerifyError> {
    let required = |name: &'static str| {
        find(&params, name)
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingParameter(name))
    };
    let access_key_id = required("AccessKeyId")?;
    let signature = required("Signature")?;
    let method_param = required("SignatureMethod")?;
    let nonce = required("SignatureNonce")?;
    let sig_version = required("SignatureVersion")?;
    let timestamp = required("Timestamp")?;
    if method_param != v1::SIGNATURE_METHOD {
        return Err(VerifyError::IncompleteSignature(format!(
            "SignatureMethod must be {}",
            v1::SIGNATURE_METHOD
        )));
    }
    if sig_version != v1::SIGNATURE_VERSION {
        return Err(VerifyError::IncompleteSignature(format!(
            "SignatureVersion must be {}",
            v1::SIGNATURE_VERSION
        )));
    }
    let timestamp = timestamp
        .parse::<Timestamp>()
        .map_err(|_| VerifyError::IllegalTimestamp)?;
    let secret = secret_for(access_key_id).ok_or(VerifyError::UnknownAccessKey)?;
    let query = v1::canonical_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let string_to_sign = v1::string_to_sign(method, &query);
    if !v1::verify(secret.expose(), &string_to_sign, signature) {
        return Err(VerifyError::SignatureMismatch {
            version: SignatureVersion::V1,
            string_to_sign,
        });
    }
    Ok(Verified {
        version: SignatureVersion::V1,
        access_key_id: access_key_id.to_owned(),
        security_token: find(&params, "SecurityToken").map(str::to_owned),
        timestamp,
        nonce: nonce.to_owned(),
        action: find(&params, "Action").map(str::to_owned),
        api_version: find(&params, "Version").map(str::to_owned),
        string_to_sign,
        params,
    })
}

/// The three parts of `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
fn parse_authorization(auth: &[u8]) -> Result<(&str, &str, &str), VerifyError> {
    let bad = |why: &str| VerifyError::IncompleteSignature(format!("Authorization header: {why}"));
    let auth = std::str::from_utf8(auth).map_err(|_| bad("not ASCII"))?;
    let rest = auth
        .strip_prefix(v3::ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| bad("algorithm must be ACS3-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(bad("unexpected part")),
        }
    }
    match (credential, signed, signature) {
        (Some(c), Some(h), Some(s)) if !c.is_empty() && !h.is_empty() && !s.is_empty() => {
            Ok((c, h, s))
        }
        _ => Err(bad(
            "Credential, SignedHeaders and Signature are all required",
        )),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::MissingParameter(name))?
        .to_str()
        .map_err(|_| VerifyError::Malformed(format!("header {name} is not visible ASCII")))
}

fn verify_v3<B: AsRef<[u8]>>(
    request: &Request<B>,
    auth: &[u8],
    params: Vec<(String, String)>,
    query_len: usize,
    secret_for: impl FnOnce(&str) -> Option<Secret>,
) -> Result<Verified, VerifyError> {
    let (access_key_id, signed_headers, signature) = parse_authorization(auth)?;
    let headers = request.headers();
    let date = header(headers, X_ACS_DATE)?;
    let nonce = header(headers, X_ACS_SIGNATURE_NONCE)?;
    let content_sha256 = header(headers, X_ACS_CONTENT_SHA256)?;

    // The names as the client listed them, lowercased, each once.
    let mut signed: Vec<String> = signed_headers
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect();
    signed.sort_unstable();
    signed.dedup();
    if !signed.iter().any(|n| n == "host") {
        return Err(VerifyError::IncompleteSignature(
            "SignedHeaders must include host".into(),
        ));
    }
    if let Some(unsigned) = headers.keys().map(HeaderName::as_str).find(|n| {
        n.starts_with("x-acs-") && signed.binary_search_by(|s| s.as_str().cmp(n)).is_err()
    }) {
        return Err(VerifyError::IncompleteSignature(format!(
            "header {unsigned} is not in SignedHeaders"
        )));
    }
    // Every header named, and only those; a repeated header contributes every value.
    let mut pairs = Vec::with_capacity(signed.len());
    for name in &signed {
        let values = HeaderName::try_from(name.as_str())
            .ok()
            .map(|n| headers.get_all(n).into_iter().collect::<Vec<_>>())
            .unwrap_or_default();
        if values.is_empty() {
            // HTTP/2 and absolute-form requests may carry the host only in the URI.
            match (name.as_str(), request.uri().authority()) {
                ("host", Some(authority)) => pairs.push(("host", authority.as_str())),
                _ => {
                    return Err(VerifyError::IncompleteSignature(format!(
                        "signed header {name} is absent"
                    )))
                }
            }
        }
        for value in values {
            let value = value
                .to_str()
                .map_err(|_| VerifyError::Malformed(format!("header {name} is not ASCII")))?;
            pairs.push((name.as_str(), value));
        }
    }

    let timestamp = date
        .parse::<Timestamp>()
        .map_err(|_| VerifyError::IllegalTimestamp)?;
    if !content_sha256.eq_ignore_ascii_case(&v3::sha256_hex(request.body().as_ref())) {
        return Err(VerifyError::ContentHashMismatch);
    }
    let secret = secret_for(access_key_id).ok_or(VerifyError::UnknownAccessKey)?;

    let query = canonical_query(
        params[..query_len]
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let canonical = v3::canonical_headers(pairs);
    let path = request.uri().path();
    let canonical_request = v3::canonical_request(
        request.method().as_str(),
        if path.is_empty() { "/" } else { path },
        &query,
        &canonical,
        content_sha256,
    );
    let string_to_sign = v3::string_to_sign(&v3::sha256_hex(canonical_request.as_bytes()));
    if !v3::verify(secret.expose(), &string_to_sign, signature) {
        return Err(VerifyError::SignatureMismatch {
            version: SignatureVersion::V3,
            string_to_sign,
        });
    }
    let optional = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(Verified {
        version: SignatureVersion::V3,
        access_key_id: access_key_id.to_owned(),
        security_token: optional(X_ACS_SECURITY_TOKEN),
        timestamp,
        nonce: nonce.to_owned(),
        action: optional(X_ACS_ACTION),
        api_version: optional(X_ACS_VERSION),
        string_to_sign,
        params,
    })
}
