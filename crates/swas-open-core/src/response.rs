//! Typed results and service errors of `DeleteCustomImage`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::input::ClientToken;

/// The largest response body, in bytes, the parser accepts; transports cap bodies at this
/// size. A longer body is rejected with [`ParseErrorKind::TooLarge`] without being parsed.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// The response header carrying a rate-limit hint, in milliseconds.
pub(crate) const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";

/// The most characters of a redirect's `Location` kept in [`ParseErrorKind::Redirect`].
pub(crate) const LOCATION_CHARS: usize = 256;

/// The most characters of a body kept in [`ParseError::snippet`].
pub(crate) const SNIPPET_CHARS: usize = 128;

/// One row of the error-code table: the single source of the wire spelling, the usual
/// HTTP status and the retryability of every known code.
struct CodeRow {
    code: ErrorCode,
    wire: &'static str,
    /// Read by [`ErrorCode::status`], for the emulator.
    #[cfg_attr(not(any(test, feature = "workspace-internals")), allow(dead_code))]
    status: StatusCode,
    retryable: bool,
}

/// Declares [`ErrorCode`] and its table from one list, so the two cannot drift apart.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $wire:literal, $status:ident, $retryable:literal; )+) => {
        /// An error code sent by the service or its API gateway, matched exactly
        /// (case-sensitively) on its wire spelling.
        ///
        /// Codes this crate does not know are kept verbatim in [`ErrorCode::Other`].
        #[non_exhaustive]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ $variant, )+
            /// A code not listed above, with its wire spelling.
            Other(String),
        }

        /// Every known code, its wire spelling, usual status and retryability.
        static TABLE: &[CodeRow] = &[
            $( CodeRow {
                code: ErrorCode::$variant,
                wire: $wire,
                status: StatusCode::$status,
                retryable: $retryable,
            }, )+
        ];
    };
}

error_codes! {
    /// `CustomImageInShare` (400): the image is shared and cannot be deleted.
    CustomImageInShare = "CustomImageInShare", BAD_REQUEST, false;
    /// `InvalidImageId.NotFound` (404): the specified ImageId does not exist.
    InvalidImageIdNotFound = "InvalidImageId.NotFound", NOT_FOUND, false;
    /// `InternalError` (500): the service failed; retryable.
    InternalError = "InternalError", INTERNAL_SERVER_ERROR, true;
    /// `MissingParameter` (400): a required parameter is missing.
    MissingParameter = "MissingParameter", BAD_REQUEST, false;
    /// `InvalidParameter` (400): a parameter is invalid.
    InvalidParameter = "InvalidParameter", BAD_REQUEST, false;
    /// `IncompleteSignature` (400): the signature is incomplete.
    IncompleteSignature = "IncompleteSignature", BAD_REQUEST, false;
    /// `SignatureDoesNotMatch` (400): the signature does not match.
    SignatureDoesNotMatch = "SignatureDoesNotMatch", BAD_REQUEST, false;
    /// `InvalidAccessKeyId.NotFound` (404): the AccessKey ID does not exist.
    InvalidAccessKeyIdNotFound = "InvalidAccessKeyId.NotFound", NOT_FOUND, false;
    /// `InvalidAccessKeyId.Inactive` (400): the AccessKey is disabled.
    InvalidAccessKeyIdInactive = "InvalidAccessKeyId.Inactive", BAD_REQUEST, false;
    /// `InvalidTimeStamp.Expired` (400): the request timestamp is too far from the server's clock.
    InvalidTimeStampExpired = "InvalidTimeStamp.Expired", BAD_REQUEST, false;
    /// `IllegalTimestamp` (400): the timestamp is malformed.
    IllegalTimestamp = "IllegalTimestamp", BAD_REQUEST, false;
    /// `SignatureNonceUsed` (400): the nonce was already used; retryable with a new nonce.
    SignatureNonceUsed = "SignatureNonceUsed", BAD_REQUEST, true;
    /// `InvalidSecurityToken.Expired` (400): the STS token has expired.
    InvalidSecurityTokenExpired = "InvalidSecurityToken.Expired", BAD_REQUEST, false;
    /// `InvalidSecurityToken.Malformed` (400): the STS token is malformed.
    InvalidSecurityTokenMalformed = "InvalidSecurityToken.Malformed", BAD_REQUEST, false;
    /// `InvalidSecurityToken.MismatchWithAccessKey` (400): the STS token does not belong to the AccessKey.
    InvalidSecurityTokenMismatchWithAccessKey = "InvalidSecurityToken.MismatchWithAccessKey", BAD_REQUEST, false;
    /// `Forbidden.RAM` (403): the RAM user is not authorized.
    ForbiddenRam = "Forbidden.RAM", FORBIDDEN, false;
    /// `Forbidden` (403): the caller is not authorized.
    Forbidden = "Forbidden", FORBIDDEN, false;
    /// `Forbidden.RiskControl` (403): the request was blocked by risk control.
    ForbiddenRiskControl = "Forbidden.RiskControl", FORBIDDEN, false;
    /// `Throttling` (400): the request was throttled; retryable.
    Throttling = "Throttling", BAD_REQUEST, true;
    /// `Throttling.User` (400): the caller's quota was exceeded; retryable.
    ThrottlingUser = "Throttling.User", BAD_REQUEST, true;
    /// `Throttling.Api` (400): the API's quota was exceeded; retryable.
    ThrottlingApi = "Throttling.Api", BAD_REQUEST, true;
    /// `UnknownError` (500): an unknown server error; retryable.
    UnknownError = "UnknownError", INTERNAL_SERVER_ERROR, true;
    /// `ServiceUnavailable` (503): the service is temporarily unavailable; retryable.
    ServiceUnavailable = "ServiceUnavailable", SERVICE_UNAVAILABLE, true;
    /// `InvalidAction.NotFound` (404): the action does not exist.
    InvalidActionNotFound = "InvalidAction.NotFound", NOT_FOUND, false;
    /// `InvalidVersion` (400): the API version is wrong.
    InvalidVersion = "InvalidVersion", BAD_REQUEST, false;
    /// `IdempotentParameterMismatch` (400): a ClientToken was reused with other parameters.
    IdempotentParameterMismatch = "IdempotentParameterMismatch", BAD_REQUEST, false;
    /// `RequestEntityTooLarge` (413): the request is too large.
    RequestEntityTooLarge = "RequestEntityTooLarge", PAYLOAD_TOO_LARGE, false;
}

impl ErrorCode {
    /// The table row of a known code; `None` for [`ErrorCode::Other`].
    fn row(&self) -> Option<&'static CodeRow> {
        match self {
            ErrorCode::Other(_) => None,
            known => TABLE.iter().find(|e| e.code == *known),
        }
    }

    /// The wire spelling, e.g. `"InvalidImageId.NotFound"`; `Other(s)` gives `s`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Other(s) => s,
            known => known.row().map_or("", |e| e.wire),
        }
    }

    /// Parses a wire spelling: an exact, case-sensitive match of a known code, else
    /// [`ErrorCode::Other`]. Callers use `ErrorCode::from`.
    pub(crate) fn parse(s: &str) -> ErrorCode {
        TABLE
            .iter()
            .find(|e| e.wire == s)
            .map_or_else(|| ErrorCode::Other(s.to_owned()), |e| e.code.clone())
    }

    /// The HTTP status the service usually sends with this code (`Other` gives 400).
    /// (Feature `workspace-internals`: for the emulator, not covered by semver.)
    #[cfg(any(test, feature = "workspace-internals"))]
    #[doc(hidden)]
    pub fn status(&self) -> StatusCode {
        self.row().map_or(StatusCode::BAD_REQUEST, |e| e.status)
    }

    /// Whether the code denotes a transient condition worth retrying (throttling, a used
    /// nonce, a server-side failure). `Other` codes are not retryable.
    pub(crate) fn is_retryable(&self) -> bool {
        self.row().is_some_and(|e| e.retryable)
    }

    /// Every known code (all variants but [`ErrorCode::Other`]), in table order.
    #[cfg(test)]
    pub(crate) fn known() -> impl Iterator<Item = &'static ErrorCode> {
        TABLE.iter().map(|e| &e.code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact, case-sensitive match of a known code's wire spelling, else
/// [`ErrorCode::Other`]: `ErrorCode::from("Throttling.User")`.
impl From<&str> for ErrorCode {
    fn from(s: &str) -> Self {
        ErrorCode::parse(s)
    }
}

impl From<String> for ErrorCode {
    fn from(s: String) -> Self {
        match ErrorCode::parse(&s) {
            ErrorCode::Other(_) => ErrorCode::Other(s),
            known => known,
        }
    }
}

/// The result of a successful `DeleteCustomImage` call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteCustomImageOutput {
    /// The request ID the service assigned.
    pub request_id: String,
    /// The `ClientToken` the call sent (given or generated): sending the same input with it
    /// again never deletes twice.
    pub client_token: ClientToken,
    /// How many attempts the call took (1 when the first attempt succeeded).
    pub attempts: u32,
}

impl DeleteCustomImageOutput {
    /// The output of a call that sent `client_token` and took `attempts` attempts.
    pub(crate) fn new(request_id: String, client_token: ClientToken, attempts: u32) -> Self {
        Self {
            request_id,
            client_token,
            attempts,
        }
    }
}

/// An error answered by the service or its API gateway.
///
/// Its fields are public, so a test double builds one with [`ServiceError::new`] and sets
/// the optional fields it needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The error code; match on this rather than on the status.
    pub code: ErrorCode,
    /// The human-readable message (empty when the body had none).
    pub message: String,
    /// The request ID, for support tickets.
    pub request_id: Option<String>,
    /// The host that answered.
    pub host_id: Option<String>,
    /// A troubleshooting link.
    pub recommend: Option<String>,
    /// Details of an access denial, as sent (an object or a string).
    pub access_denied_detail: Option<Value>,
    /// The rate-limit hint from the `x-acs-retry-after` header (milliseconds on the wire),
    /// else from a standard `Retry-After` header in whole seconds (its HTTP-date form is
    /// ignored); `None` when absent or invalid. A call never waits longer than its retry
    /// policy's `max_delay`, whatever the hint says.
    pub retry_after: Option<Duration>,
}

/// The wire form of an error body, PascalCase, absent optional fields omitted.
#[cfg(any(test, feature = "workspace-internals"))]
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireError<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_id: Option<&'a str>,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommend: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_denied_detail: Option<&'a Value>,
}

impl ServiceError {
    /// An error with the given status, code and message, and no optional field.
    ///
    /// ```
    /// use swas_open::sans_io::http;
    /// use swas_open::{ErrorCode, ServiceError};
    /// let mut e = ServiceError::new(http::StatusCode::NOT_FOUND, ErrorCode::InvalidImageIdNotFound, "gone");
    /// e.request_id = Some("R1".into());
    /// assert_eq!(e.code, ErrorCode::InvalidImageIdNotFound);
    /// assert_eq!(e.to_string(), "InvalidImageId.NotFound (HTTP 404): gone [RequestId: R1]");
    /// ```
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            request_id: None,
            host_id: None,
            recommend: None,
            access_denied_detail: None,
            retry_after: None,
        }
    }

    /// Sets the rate-limit hint.
    #[cfg(test)]
    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The JSON body the service sends for this error: PascalCase `RequestId`, `HostId`,
    /// `Code`, `Message`, `Recommend` and `AccessDeniedDetail`, absent optional fields
    /// omitted. [`ServiceError::retry_after`] travels in a header, not in the body.
    /// (Feature `workspace-internals`: for the emulator, not covered by semver.)
    #[cfg(any(test, feature = "workspace-internals"))]
    #[doc(hidden)]
    pub fn to_json_body(&self) -> Vec<u8> {
        let wire = WireError {
            request_id: self.request_id.as_deref(),
            host_id: self.host_id.as_deref(),
            code: self.code.as_str(),
            message: &self.message,
            recommend: self.recommend.as_deref(),
            access_denied_detail: self.access_denied_detail.as_ref(),
        };
        // Serializing strings and a `Value` into memory cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Whether the error is transient: a retryable code (throttling, a used nonce, a
    /// server-side failure), or any 5xx status.
    pub(crate) fn is_retryable(&self) -> bool {
        self.code.is_retryable() || self.status.is_server_error()
    }
}

/// The most characters of a service message a [`ServiceError`]'s `Display` shows.
const MESSAGE_CHARS: usize = 1000;

/// `code (HTTP status): message [RequestId: id]`, for people: a message longer than 1,000
/// characters is cut there and its length given (the field keeps it whole).
impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): ", self.code, self.status.as_u16())?;
        match self.message.char_indices().nth(MESSAGE_CHARS) {
            Some((cut, _)) => write!(
                f,
                "{}... (cut; {} characters in all)",
                &self.message[..cut],
                self.message.chars().count()
            )?,
            None => f.write_str(&self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " [RequestId: {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// Why a response could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The body was empty (or only whitespace).
    EmptyBody,
    /// The body was not JSON (an HTML page, truncated JSON, ...).
    NotJson,
    /// The JSON lacked a required field: `RequestId` on success, `Code` on error.
    MissingField(&'static str),
    /// The body was longer than [`MAX_RESPONSE_BODY`].
    TooLarge,
    /// A redirect (HTTP 3xx), which a client never follows: the service does not redirect,
    /// so something between (a proxy, a captive portal, a wrong endpoint) answered. Holds
    /// the `Location` header (at most 256 characters, control characters replaced by `?`),
    /// if any.
    Redirect(Option<String>),
    /// A compressed body (a `Content-Encoding` other than `identity`, or gzip's magic
    /// bytes), which a client never asks for: holds the encoding.
    Compressed(String),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::EmptyBody => f.write_str("empty body"),
            ParseErrorKind::NotJson => f.write_str("body is not JSON"),
            ParseErrorKind::MissingField(field) => write!(f, "missing field `{field}`"),
            ParseErrorKind::TooLarge => {
                write!(f, "body larger than {MAX_RESPONSE_BODY} bytes")
            }
            ParseErrorKind::Redirect(Some(to)) => {
                write!(f, "a redirect to {to:?}, which is not followed")
            }
            ParseErrorKind::Redirect(None) => {
                f.write_str("a redirect without a Location, which is not followed")
            }
            ParseErrorKind::Compressed(encoding) => write!(
                f,
                "body is compressed ({encoding:?}), which this client neither asks for nor decodes"
            ),
        }
    }
}

/// A response that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable response (HTTP {}): {kind}; body starts with {snippet:?}", .status.as_u16())]
#[non_exhaustive]
pub struct ParseError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// At most 128 characters of the body, lossily decoded, control characters replaced
    /// by `?`.
    pub snippet: String,
}

impl ParseError {
    /// A parse error for `body`, keeping a log-safe snippet of it.
    pub(crate) fn new(status: StatusCode, kind: ParseErrorKind, body: &[u8]) -> Self {
        Self {
            status,
            kind,
            snippet: snippet(body),
        }
    }
}

/// At most [`SNIPPET_CHARS`] characters of `body`, control characters replaced by `?`.
fn snippet(body: &[u8]) -> String {
    printable(body, SNIPPET_CHARS)
}

/// At most `max_chars` characters of `bytes` (invalid UTF-8 replaced), control characters
/// replaced by `?`: log-safe text of untrusted bytes.
fn printable(bytes: &[u8], max_chars: usize) -> String {
    // A char is at most 4 bytes, so this prefix holds enough characters; a character
    // cut at its end can only fall after the first `max_chars`.
    let head = &bytes[..bytes.len().min(max_chars.saturating_mul(4))];
    String::from_utf8_lossy(head)
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What an answer that is not a success says: the service's error, or why the answer could
/// not be understood. A call turns it into its [`Error`](crate::Error) (`From`), whose
/// [`ErrorKind`](crate::ErrorKind) has the same two cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The service answered with an error; every field it sent is kept (boxed: it is by far
    /// the larger case).
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The answer could not be understood: the outcome is unknown.
    #[error(transparent)]
    Parse(ParseError),
}

/// Parses the answer to one DeleteCustomImage request: the `RequestId` of a success. Never
/// panics.
///
/// It turns an [`http::Response`] into either the `RequestId` the service assigned or an
/// [`AnswerError`]:
///
/// - a 2xx answer whose JSON object carries a non-empty `RequestId` is a success;
/// - any other answer whose JSON object carries a `Code` is a [`ServiceError`]
///   ([`AnswerError::Service`], its `retry_after` read from the `x-acs-retry-after` header),
///   matched on its [`ErrorCode`] rather than on its HTTP status;
/// - everything else (an empty body, a proxy's HTML page, truncated JSON, a body over
///   [`MAX_RESPONSE_BODY`], JSON without the expected field) is a [`ParseError`]
///   ([`AnswerError::Parse`]) that keeps the status and a short, log-safe snippet of the body.
///
/// Field names are accepted in PascalCase (`RequestId`, `Code`, ...) and in lower camel case
/// (`requestId`, `code`, ...); when both are present, PascalCase wins. A value of the wrong
/// JSON type is treated as absent, and a key repeated within the object keeps its last value.
///
/// ```
/// use swas_open::sans_io::{http, parse_delete_custom_image, AnswerError};
/// use swas_open::ErrorCode;
///
/// let response = http::Response::builder()
///     .status(404)
///     .body(r#"{"RequestId":"R1","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist."}"#)?;
/// match parse_delete_custom_image(&response) {
///     Err(AnswerError::Service(e)) => {
///         assert_eq!(e.code, ErrorCode::InvalidImageIdNotFound);
///         assert_eq!(e.request_id.as_deref(), Some("R1"));
///     }
///     other => panic!("unexpected: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_delete_custom_image<B: AsRef<[u8]>>(
    response: &http::Response<B>,
) -> Result<String, AnswerError> {
    let status = response.status();
    let body = response.body().as_ref();
    let fail = |kind| Err(AnswerError::Parse(ParseError::new(status, kind, body)));

    if body.len() > MAX_RESPONSE_BODY {
        return fail(ParseErrorKind::TooLarge);
    }
    if status.is_redirection() {
        return fail(ParseErrorKind::Redirect(location(response.headers())));
    }
    // Compressed bodies, told apart only once they fail to parse: no cost to a success.
    let fail = |kind| match (kind, compressed(response.headers(), body)) {
        (ParseErrorKind::EmptyBody | ParseErrorKind::NotJson, Some(encoding)) => {
            fail(ParseErrorKind::Compressed(encoding))
        }
        (kind, _) => fail(kind),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return fail(ParseErrorKind::EmptyBody);
    }
    // Empty until a body repeats a key (see `object`).
    let mut deduped = Vec::new();
    if status.is_success() {
        let wire: Success<'_> = match object(body, &mut deduped) {
            Ok(wire) => wire.unwrap_or_default(),
            Err(NotJson) => return fail(ParseErrorKind::NotJson),
        };
        return match text(wire.request_id, wire.request_id_camel) {
            Some(id) if !id.is_empty() => Ok(id.into_owned()),
            _ => fail(ParseErrorKind::MissingField("RequestId")),
        };
    }
    let wire: Failure<'_> = match object(body, &mut deduped) {
        Ok(wire) => wire.unwrap_or_default(),
        Err(NotJson) => return fail(ParseErrorKind::NotJson),
    };
    let code = match text(wire.code, wire.code_camel) {
        Some(code) if !code.is_empty() => ErrorCode::parse(&code),
        _ => return fail(ParseErrorKind::MissingField("Code")),
    };
    let owned = |pascal, camel| text(pascal, camel).map(Cow::into_owned);
    Err(AnswerError::Service(Box::new(ServiceError {
        status,
        code,
        message: owned(wire.message, wire.message_camel).unwrap_or_default(),
        request_id: owned(wire.request_id, wire.request_id_camel),
        host_id: owned(wire.host_id, wire.host_id_camel),
        recommend: owned(wire.recommend, wire.recommend_camel),
        access_denied_detail: wire
            .access_denied_detail
            .or(wire.access_denied_detail_camel),
        retry_after: retry_after(response.headers()),
    })))
}

/// The `x-acs-retry-after` header (milliseconds), else `Retry-After` (seconds), as a
/// duration; `None` when absent or not a whole number.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let number = |name| -> Option<u64> {
        let value = headers.get(name)?.to_str().ok()?.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    };
    number(RETRY_AFTER_HEADER)
        .map(Duration::from_millis)
        .or_else(|| number(http::header::RETRY_AFTER.as_str()).map(Duration::from_secs))
}

/// A redirect's `Location`, bounded and with control characters replaced.
fn location(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::LOCATION)?;
    Some(printable(value.as_bytes(), LOCATION_CHARS))
}

/// The encoding of a compressed body: its `Content-Encoding` (unless `identity`), else
/// `gzip` when it starts with gzip's magic bytes.
fn compressed(headers: &http::HeaderMap, body: &[u8]) -> Option<String> {
    let declared = headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("identity"));
    match declared {
        Some(encoding) => Some(snippet(encoding.as_bytes())),
        None => body.starts_with(&[0x1f, 0x8b]).then(|| "gzip".to_owned()),
    }
}

/// The body is not JSON.
struct NotJson;

/// A string value, or any other JSON value (which counts as absent, as `null` does).
#[derive(Deserialize)]
#[serde(untagged)]
enum Text<'a> {
    Str(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

// Each casing below is its own field rather than an alias: a body carrying both is then no
// duplicate, and PascalCase wins. A success and an error have their own shapes, which keeps
// the success path small.

/// The fields of a success.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Success<'a> {
    #[serde(borrow, rename = "RequestId")]
    request_id: Option<Text<'a>>,
    #[serde(borrow, rename = "requestId")]
    request_id_camel: Option<Text<'a>>,
}

/// The fields of an error.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Failure<'a> {
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow, rename = "requestId")]
    request_id_camel: Option<Text<'a>>,
    #[serde(borrow)]
    host_id: Option<Text<'a>>,
    #[serde(borrow, rename = "hostId")]
    host_id_camel: Option<Text<'a>>,
    #[serde(borrow)]
    code: Option<Text<'a>>,
    #[serde(borrow, rename = "code")]
    code_camel: Option<Text<'a>>,
    #[serde(borrow)]
    message: Option<Text<'a>>,
    #[serde(borrow, rename = "message")]
    message_camel: Option<Text<'a>>,
    #[serde(borrow)]
    recommend: Option<Text<'a>>,
    #[serde(borrow, rename = "recommend")]
    recommend_camel: Option<Text<'a>>,
    access_denied_detail: Option<Value>,
    #[serde(rename = "accessDeniedDetail")]
    access_denied_detail_camel: Option<Value>,
}

/// The string of the PascalCase field, else of the lower-camel one.
fn text<'a>(pascal: Option<Text<'a>>, camel: Option<Text<'a>>) -> Option<Cow<'a, str>> {
    let string = |t| match t {
        Some(Text::Str(s)) => Some(s),
        _ => None,
    };
    string(pascal).or_else(|| string(camel))
}

/// Deserializes a JSON object body: `Ok(None)` for JSON that is not an object.
///
/// serde's derive refuses a key that appears twice. Such a body (rare, but legal JSON) is
/// rewritten into `deduped` through a map, which keeps the last value of a repeated key,
/// and parsed from there.
fn object<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    deduped: &'a mut Vec<u8>,
) -> Result<Option<T>, NotJson> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => Ok(None),
            Err(_) => Err(NotJson),
        };
    }
    match serde_json::from_slice(body) {
        Ok(wire) => Ok(Some(wire)),
        Err(e) if e.is_data() => {
            let map: serde_json::Map<String, Value> =
                serde_json::from_slice(body).map_err(|_| NotJson)?;
            *deduped = serde_json::to_vec(&map).map_err(|_| NotJson)?;
            let deduped: &'a Vec<u8> = deduped;
            serde_json::from_slice(deduped)
                .map(Some)
                .map_err(|_| NotJson)
        }
        Err(_) => Err(NotJson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, body: impl Into<Vec<u8>>) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.into())
            .unwrap()
    }

    fn parse(status: u16, body: impl Into<Vec<u8>>) -> Result<String, AnswerError> {
        parse_delete_custom_image(&response(status, body))
    }

    fn service(status: u16, body: impl Into<Vec<u8>>) -> ServiceError {
        match parse(status, body) {
            Err(AnswerError::Service(e)) => *e,
            other => panic!("expected a service error, got {other:?}"),
        }
    }

    fn parse_err(status: u16, body: impl Into<Vec<u8>>) -> ParseError {
        match parse(status, body) {
            Err(AnswerError::Parse(e)) => e,
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn every_code_round_trips() {
        let mut count = 0;
        for code in ErrorCode::known() {
            assert_eq!(&ErrorCode::parse(code.as_str()), code);
            assert_eq!(&ErrorCode::from(code.as_str()), code);
            assert_eq!(&ErrorCode::from(code.as_str().to_owned()), code);
            assert_eq!(code.to_string(), code.as_str());
            assert!(!code.as_str().is_empty());
            count += 1;
        }
        assert_eq!(count, 27);
        let other = ErrorCode::parse("Some.New.Code");
        assert_eq!(other, ErrorCode::Other("Some.New.Code".into()));
        assert_eq!(other.as_str(), "Some.New.Code");
        assert_eq!(other.status(), StatusCode::BAD_REQUEST);
        assert!(!other.is_retryable());
    }

    #[test]
    fn wire_spellings_and_table_values() {
        use ErrorCode::*;
        #[rustfmt::skip]
        let cases: &[(ErrorCode, &str, u16, bool)] = &[
            (CustomImageInShare, "CustomImageInShare", 400, false),
            (InvalidImageIdNotFound, "InvalidImageId.NotFound", 404, false),
            (InternalError, "InternalError", 500, true),
            (MissingParameter, "MissingParameter", 400, false),
            (InvalidParameter, "InvalidParameter", 400, false),
            (IncompleteSignature, "IncompleteSignature", 400, false),
            (SignatureDoesNotMatch, "SignatureDoesNotMatch", 400, false),
            (InvalidAccessKeyIdNotFound, "InvalidAccessKeyId.NotFound", 404, false),
            (InvalidAccessKeyIdInactive, "InvalidAccessKeyId.Inactive", 400, false),
            (InvalidTimeStampExpired, "InvalidTimeStamp.Expired", 400, false),
            (IllegalTimestamp, "IllegalTimestamp", 400, false),
            (SignatureNonceUsed, "SignatureNonceUsed", 400, true),
            (InvalidSecurityTokenExpired, "InvalidSecurityToken.Expired", 400, false),
            (InvalidSecurityTokenMalformed, "InvalidSecurityToken.Malformed", 400, false),
            (InvalidSecurityTokenMismatchWithAccessKey, "InvalidSecurityToken.MismatchWithAccessKey", 400, false),
            (ForbiddenRam, "Forbidden.RAM", 403, false),
            (Forbidden, "Forbidden", 403, false),
            (ForbiddenRiskControl, "Forbidden.RiskControl", 403, false),
            (Throttling, "Throttling", 400, true),
            (ThrottlingUser, "Throttling.User", 400, true),
            (ThrottlingApi, "Throttling.Api", 400, true),
            (UnknownError, "UnknownError", 500, true),
            (ServiceUnavailable, "ServiceUnavailable", 503, true),
            (InvalidActionNotFound, "InvalidAction.NotFound", 404, false),
            (InvalidVersion, "InvalidVersion", 400, false),
            (IdempotentParameterMismatch, "IdempotentParameterMismatch", 400, false),
            (RequestEntityTooLarge, "RequestEntityTooLarge", 413, false),
        ];
        assert_eq!(cases.len(), ErrorCode::known().count());
        for (code, wire, status, retryable) in cases {
            assert_eq!(code.as_str(), *wire);
            assert_eq!(code.status().as_u16(), *status, "{wire}");
            assert_eq!(code.is_retryable(), *retryable, "{wire}");
        }
    }

    #[test]
    fn parse_is_case_sensitive() {
        assert_eq!(
            ErrorCode::parse("throttling"),
            ErrorCode::Other("throttling".into())
        );
        assert_eq!(
            ErrorCode::parse("Forbidden.Ram"),
            ErrorCode::Other("Forbidden.Ram".into())
        );
    }

    #[test]
    fn success_with_request_id() {
        let out = parse(
            200,
            r#"{"RequestId":"30637AD6-D977-4833-A54C-CC89483E****"}"#,
        )
        .unwrap();
        assert_eq!(out, "30637AD6-D977-4833-A54C-CC89483E****");
        let out = parse(200, r#" {"requestId":"abc","Other":[1,{"x":null}]} "#).unwrap();
        assert_eq!(out, "abc");
        let out = parse(200, r#"{"RequestId":"a\"b\u0041"}"#).unwrap();
        assert_eq!(out, "a\"bA");
        let out = parse(204, r#"{"requestId":"camel","RequestId":"pascal"}"#).unwrap();
        assert_eq!(out, "pascal");
    }

    #[test]
    fn success_without_request_id() {
        for body in [
            r#"{}"#,
            r#"{"RequestId":""}"#,
            r#"{"RequestId":42}"#,
            r#"{"RequestId":null}"#,
            r#"{"RequestId":{"a":1}}"#,
            r#"[1,2]"#,
            r#""RequestId""#,
            r#"null"#,
        ] {
            let e = parse_err(200, body);
            assert_eq!(e.kind, ParseErrorKind::MissingField("RequestId"), "{body}");
            assert_eq!(e.status, StatusCode::OK);
        }
        // A non-string PascalCase value does not hide a valid camel one.
        let out = parse(200, r#"{"RequestId":7,"requestId":"x"}"#).unwrap();
        assert_eq!(out, "x");
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let out = parse(200, r#"{"RequestId":"first","RequestId":"last"}"#).unwrap();
        assert_eq!(out, "last");
        assert_eq!(
            parse_err(200, r#"{"RequestId":"a","RequestId":5}"#).kind,
            ParseErrorKind::MissingField("RequestId")
        );
        let e = service(
            400,
            r#"{"Code":"Throttling","Message":"m","Code":"Forbidden","requestId":"x","requestId":"y","RequestId":7}"#,
        );
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(e.message, "m");
        assert_eq!(e.request_id.as_deref(), Some("y"));
        // Repeated keys inside an ignored value are no concern of the parser.
        let out = parse(
            200,
            r#"{"Other":{"k":1,"k":[2]},"RequestId":{"a":1,"a":2},"requestId":"r"}"#,
        );
        assert_eq!(out.unwrap(), "r");
        // A repeated key does not hide a syntax error.
        for body in [
            r#"{"RequestId":"a","RequestId":"b""#,
            r#"{"RequestId":"a","RequestId":"b"} x"#,
        ] {
            assert_eq!(parse_err(200, body).kind, ParseErrorKind::NotJson, "{body}");
        }
    }

    #[test]
    fn documented_error_body() {
        let body = r#"{"RequestId":"7E1A3B5C","HostId":"swas.cn-hangzhou.aliyuncs.com","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","Recommend":"https://api.alibabacloud.com/troubleshoot?q=InvalidImageId.NotFound"}"#;
        let e = service(404, body);
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.code, ErrorCode::InvalidImageIdNotFound);
        assert_eq!(e.message, "The specified ImageId does not exist.");
        assert_eq!(e.request_id.as_deref(), Some("7E1A3B5C"));
        assert_eq!(e.host_id.as_deref(), Some("swas.cn-hangzhou.aliyuncs.com"));
        assert_eq!(
            e.recommend.as_deref(),
            Some("https://api.alibabacloud.com/troubleshoot?q=InvalidImageId.NotFound")
        );
        assert_eq!(e.access_denied_detail, None);
        assert_eq!(e.retry_after, None);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "InvalidImageId.NotFound (HTTP 404): The specified ImageId does not exist. [RequestId: 7E1A3B5C]"
        );
    }

    #[test]
    fn lower_camel_error_body() {
        let body = r#"{"requestId":"r","hostId":"h","code":"CustomImageInShare","message":"m","recommend":"rec","accessDeniedDetail":"denied"}"#;
        let e = service(400, body);
        assert_eq!(e.code, ErrorCode::CustomImageInShare);
        assert_eq!(e.message, "m");
        assert_eq!(e.request_id.as_deref(), Some("r"));
        assert_eq!(e.host_id.as_deref(), Some("h"));
        assert_eq!(e.recommend.as_deref(), Some("rec"));
        assert_eq!(e.access_denied_detail, Some(json!("denied")));
    }

    #[test]
    fn both_casings_pascal_wins() {
        let body = r#"{"code":"Throttling","Code":"Forbidden.RAM","message":"lower","Message":"upper","requestId":"r1","RequestId":"R1","hostId":"h","HostId":"H","recommend":"x","Recommend":"X","accessDeniedDetail":"lower","AccessDeniedDetail":{"k":"upper"}}"#;
        let e = service(403, body);
        assert_eq!(e.code, ErrorCode::ForbiddenRam);
        assert_eq!(e.message, "upper");
        assert_eq!(e.request_id.as_deref(), Some("R1"));
        assert_eq!(e.host_id.as_deref(), Some("H"));
        assert_eq!(e.recommend.as_deref(), Some("X"));
        assert_eq!(e.access_denied_detail, Some(json!({"k": "upper"})));
    }

    #[test]
    fn access_denied_detail_object() {
        let body = r#"{"RequestId":"R","Code":"Forbidden.RAM","Message":"no","AccessDeniedDetail":{"PolicyType":"AccountLevelIdentityBasedPolicy","AuthPrincipalType":"SubUser","EncodedDiagnosticMessage":"AQEAAAA=","NoPermissionType":"ImplicitDeny","AuthAction":"swas-open:DeleteCustomImage"}}"#;
        let e = service(403, body);
        let detail = e.access_denied_detail.clone().unwrap();
        assert_eq!(detail["AuthAction"], "swas-open:DeleteCustomImage");
        assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
        assert!(!e.is_retryable());
        // And it survives a trip through the wire form.
        let back = service(403, e.to_json_body());
        assert_eq!(back, e);
    }

    #[test]
    fn missing_message_and_non_string_values() {
        let e = service(
            500,
            r#"{"Code":"InternalError","Message":12,"RequestId":[],"HostId":{}}"#,
        );
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(e.message, "");
        assert_eq!(e.request_id, None);
        assert_eq!(e.host_id, None);
        assert!(e.is_retryable());
        assert_eq!(e.to_string(), "InternalError (HTTP 500): ");
    }

    #[test]
    fn unknown_code_is_kept() {
        let e = service(502, r#"{"Code":"Gateway.Odd","Message":"m"}"#);
        assert_eq!(e.code, ErrorCode::Other("Gateway.Odd".into()));
        assert!(e.is_retryable(), "5xx is retryable");
        let e = service(409, r#"{"Code":"Gateway.Odd"}"#);
        assert!(!e.is_retryable());
    }

    #[test]
    fn error_without_code() {
        for body in [
            r#"{"Message":"m"}"#,
            r#"{"Code":""}"#,
            r#"{"Code":5}"#,
            r#"[]"#,
            r#"true"#,
        ] {
            assert_eq!(
                parse_err(400, body).kind,
                ParseErrorKind::MissingField("Code"),
                "{body}"
            );
        }
    }

    #[test]
    fn error_code_wins_over_status() {
        // An error answer is matched on its code, not on its status.
        let e = service(400, r#"{"Code":"ServiceUnavailable"}"#);
        assert_eq!(e.code, ErrorCode::ServiceUnavailable);
        assert!(e.is_retryable());
    }

    #[test]
    fn html_502() {
        let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
        let e = parse_err(502, html);
        assert_eq!(e.kind, ParseErrorKind::NotJson);
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        assert!(e
            .snippet
            .starts_with("<html>??<head><title>502 Bad Gateway"));
        assert!(!e.snippet.chars().any(char::is_control));
        let text = e.to_string();
        assert!(text.contains("502"), "{text}");
        assert!(text.contains("not JSON"), "{text}");
        assert!(text.contains("<html>"), "{text}");
    }

    #[test]
    fn truncated_json() {
        for body in [
            r#"{"RequestId":"30637AD6-D977"#,
            r#"{"RequestId":"x""#,
            r#"{"RequestId":"x"} trailing"#,
            r#"[1,2"#,
        ] {
            assert_eq!(parse_err(200, body).kind, ParseErrorKind::NotJson, "{body}");
            assert_eq!(parse_err(400, body).kind, ParseErrorKind::NotJson, "{body}");
        }
    }

    #[test]
    fn empty_body() {
        for body in ["", "  \r\n\t"] {
            let e = parse_err(200, body);
            assert_eq!(e.kind, ParseErrorKind::EmptyBody);
            let e = parse_err(503, body);
            assert_eq!(e.kind, ParseErrorKind::EmptyBody);
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        }
    }

    #[test]
    fn huge_body() {
        let mut body = br#"{"RequestId":"x","Pad":""#.to_vec();
        body.resize(MAX_RESPONSE_BODY + 1, b'a');
        let e = parse_err(200, body.clone());
        assert_eq!(e.kind, ParseErrorKind::TooLarge);
        assert_eq!(e.snippet.chars().count(), SNIPPET_CHARS);
        // At exactly the limit the body is parsed.
        body.truncate(MAX_RESPONSE_BODY - 2);
        body.extend_from_slice(b"\"}");
        assert_eq!(parse(200, body).unwrap(), "x");
    }

    #[test]
    fn snippet_is_bounded_and_sanitised() {
        let s = snippet(&[0xff, b'a', 0, b'\n', 0x1b]);
        assert_eq!(s, "\u{fffd}a???");
        let long = "é".repeat(500);
        assert_eq!(snippet(long.as_bytes()).chars().count(), SNIPPET_CHARS);
        let wide = "😀".repeat(200);
        let s = snippet(wide.as_bytes());
        assert_eq!(s, "😀".repeat(SNIPPET_CHARS));
    }

    #[test]
    fn retry_after_header() {
        let make = |value: &str| {
            http::Response::builder()
                .status(400)
                .header(RETRY_AFTER_HEADER, value)
                .body(r#"{"Code":"Throttling.User","Message":"slow down"}"#)
                .unwrap()
        };
        let get = |value: &str| match parse_delete_custom_image(&make(value)) {
            Err(AnswerError::Service(e)) => e.retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(get("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(get(" 20 "), Some(Duration::from_millis(20)));
        assert_eq!(get("soon"), None);
        assert_eq!(get("-5"), None);
        assert_eq!(get("+5"), None);
        assert_eq!(get("1.5"), None);
        assert_eq!(get(""), None);
        assert_eq!(get("99999999999999999999999"), None);
    }

    #[test]
    fn a_redirect_says_so_and_where_to() {
        let redirect = |status: u16, location: Option<&str>, body: &str| {
            let mut r = http::Response::builder().status(status);
            if let Some(to) = location {
                r = r.header("location", to);
            }
            match parse_delete_custom_image(&r.body(body.to_owned()).unwrap()) {
                Err(AnswerError::Parse(e)) => e,
                other => panic!("{other:?}"),
            }
        };
        let e = redirect(302, Some("https://login.example/portal"), "");
        assert_eq!(
            e.kind,
            ParseErrorKind::Redirect(Some("https://login.example/portal".into()))
        );
        let text = e.to_string();
        assert!(
            text.contains("HTTP 302")
                && text.contains("redirect to \"https://login.example/portal\""),
            "{text}"
        );
        assert!(!text.contains("empty body"), "{text}");
        // Whatever the body, bounded, control characters replaced.
        let long = format!("https://x.example/\t{}", "a".repeat(1000));
        let e = redirect(301, Some(&long), r#"{"RequestId":"R"}"#);
        let ParseErrorKind::Redirect(Some(to)) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(to.chars().count(), LOCATION_CHARS);
        assert!(!to.chars().any(char::is_control));
        assert_eq!(redirect(307, None, "").kind, ParseErrorKind::Redirect(None));
        assert!(redirect(307, None, "")
            .to_string()
            .contains("without a Location"));
    }

    #[test]
    fn a_compressed_body_says_so() {
        let gzip = [0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00];
        let e = parse_err(200, gzip.to_vec());
        assert_eq!(e.kind, ParseErrorKind::Compressed("gzip".into()));
        assert!(e.to_string().contains("compressed (\"gzip\")"), "{e}");
        let encoded = |status: u16, encoding: &str, body: &[u8]| {
            let answer = http::Response::builder()
                .status(status)
                .header("content-encoding", encoding)
                .body(body.to_vec())
                .unwrap();
            match parse_delete_custom_image(&answer) {
                Err(AnswerError::Parse(e)) => e.kind,
                other => panic!("{other:?}"),
            }
        };
        let declared = encoded(503, "br", b"\x8b\x02\x80");
        assert_eq!(declared, ParseErrorKind::Compressed("br".into()));
        // A readable body is read, whatever the header says.
        assert_eq!(encoded(200, "identity", b""), ParseErrorKind::EmptyBody);
    }

    #[test]
    fn long_messages_are_cut_for_display_only() {
        let mut e = ServiceError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParameter,
            "é".repeat(MESSAGE_CHARS),
        );
        assert_eq!(
            e.to_string(),
            format!("InvalidParameter (HTTP 400): {}", e.message)
        );
        e.message.push_str(&"x".repeat(900_000));
        let text = e.to_string();
        assert!(text.len() < 2 * MESSAGE_CHARS + 100, "{}", text.len());
        assert!(
            text.ends_with(&format!(
                "{}... (cut; 901000 characters in all)",
                "é".repeat(MESSAGE_CHARS)
            )),
            "{}",
            &text[text.len() - 100..]
        );
        assert_eq!(e.message.chars().count(), 901_000);
    }

    #[test]
    fn to_json_body_shape() {
        let mut e = ServiceError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::InvalidImageIdNotFound,
            "gone",
        );
        e.request_id = Some("R".into());
        e.host_id = Some("H".into());
        e.recommend = Some("https://example.invalid/t".into());
        let v: Value = serde_json::from_slice(&e.to_json_body()).unwrap();
        assert_eq!(
            v,
            json!({"RequestId":"R","HostId":"H","Code":"InvalidImageId.NotFound","Message":"gone","Recommend":"https://example.invalid/t"})
        );
        let bare = ServiceError::new(StatusCode::BAD_REQUEST, ErrorCode::Throttling, "");
        assert_eq!(
            bare.to_json_body(),
            br#"{"Code":"Throttling","Message":""}"#.to_vec()
        );
        assert_eq!(bare.to_string(), "Throttling (HTTP 400): ");
    }

    #[test]
    fn error_display() {
        let e = parse(
            404,
            r#"{"Code":"InvalidImageId.NotFound","Message":"m","RequestId":"R"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "InvalidImageId.NotFound (HTTP 404): m [RequestId: R]"
        );
        let e = parse_err(504, "");
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
        assert!(e.to_string().contains("empty body"));
    }

    #[test]
    fn body_types() {
        let r = http::Response::builder()
            .status(200)
            .body(&br#"{"RequestId":"s"}"#[..])
            .unwrap();
        assert_eq!(parse_delete_custom_image(&r).unwrap(), "s");
        let r = http::Response::builder()
            .status(200)
            .body(String::from(r#"{"RequestId":"t"}"#))
            .unwrap();
        assert_eq!(parse_delete_custom_image(&r).unwrap(), "t");
    }
}
