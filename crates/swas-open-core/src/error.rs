use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::credentials_error::CredentialsError;
use crate::encode::{all_unreserved, percent_encode};
use crate::endpoint::EndpointError;
use crate::input::{ClientToken, InputError};
use crate::response::{
    AnswerError, ErrorCode, ParseError, ParseErrorKind, ServiceError, LOCATION_CHARS, SNIPPET_CHARS,
};
use crate::transport::{BoxError, TimeoutKind, TransportFailure};

/// What went wrong. Match on it through [`Error::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input broke a documented rule: fix the input.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// The endpoint URL is unusable: fix the configuration.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// No usable credentials, so nothing was sent. Either configuration to fix (nothing
    /// configured, a bad file or value) or a refusal by a credentials service (a wrong key,
    /// an unknown role, a bad token), or a credentials service that gave no usable answer
    /// (unreachable, a 5xx, throttling, credentials arriving expired), worth trying again
    /// later: [`CredentialsError::is_transient`] tells them apart.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Client configuration that cannot work (e.g. a user agent that is not a header value).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The service answered with an error; every field it sent is kept (boxed: it is the
    /// largest variant by far).
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The answer could not be understood (HTML from a proxy, truncated, too large, a
    /// redirect, a compressed body): the outcome is unknown.
    #[error(transparent)]
    Parse(ParseError),
    /// A time bound was hit.
    #[error("timed out ({kind:?} timeout of {limit:?})")]
    Timeout {
        /// Which bound.
        kind: TimeoutKind,
        /// Its value.
        limit: Duration,
    },
    /// The request got no answer: DNS, connect, reset, TLS, I/O. The cause is the
    /// [`source`](std::error::Error::source), not part of this message, so error-chain
    /// printers show it once.
    #[error("transport error ({kind:?})")]
    Transport {
        /// The failure class, which decides whether a retry is safe.
        kind: TransportFailure,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// The error every client (blocking or async) returns, so switching transports changes no
/// error handling. Its [`ErrorKind`] says what went wrong and what to do next; a call's
/// error also says how many attempts were made and which `ClientToken` they carried, so the
/// caller can repeat the call safely. None of it carries a secret.
///
/// Why a DeleteCustomImage call (or building a client) failed.
///
/// ```
/// use swas_open::sans_io::http;
/// use swas_open::{Error, ErrorCode, ErrorKind, ServiceError};
/// # let e = Error::from(ErrorKind::Service(Box::new(ServiceError::new(
/// #     http::StatusCode::BAD_REQUEST, ErrorCode::CustomImageInShare, "shared"))));
/// match e.kind() {
///     ErrorKind::Service(s) if s.code == ErrorCode::CustomImageInShare => {
///         println!("unshare the image first: {}", s.message)
///     }
///     _ if e.outcome_unknown() => println!(
///         "unknown outcome; repeat with ClientToken {:?} to be safe",
///         e.client_token().map(|t| t.as_str())
///     ),
///     _ => println!("failed: {e}"),
/// }
/// ```
pub struct Error {
    kind: ErrorKind,
    call: Option<Box<CallContext>>,
}

/// What a call had done when it failed.
#[derive(Debug, Clone)]
struct CallContext {
    attempts: u32,
    client_token: ClientToken,
    stopped: Option<Stopped>,
}

/// Why a call that could have retried did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The client's retry budget could not pay for the retry.
    BudgetExhausted,
    /// The service asked for a wait longer than the retry policy's longest delay.
    HintTooLong {
        /// The wait asked for.
        hint: Duration,
        /// The policy's longest delay.
        max: Duration,
    },
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The kind, by value.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// How many attempts the call made (0 when it failed before sending anything).
    pub fn attempts(&self) -> u32 {
        self.call.as_ref().map_or(0, |c| c.attempts)
    }

    /// The `ClientToken` every attempt carried (the caller's or one made for the call):
    /// repeating the call with it cannot act twice. `None` when nothing was sent.
    pub fn client_token(&self) -> Option<&ClientToken> {
        self.call.as_ref().map(|c| &c.client_token)
    }

    /// Whether a retry was due but the client's retry budget could not pay for it (the
    /// service is failing for many calls at once).
    pub fn retry_budget_exhausted(&self) -> bool {
        self.call
            .as_ref()
            .is_some_and(|c| c.stopped == Some(Stopped::BudgetExhausted))
    }

    /// The service error, if the service answered with one.
    pub(crate) fn service_error(&self) -> Option<&ServiceError> {
        match &self.kind {
            ErrorKind::Service(e) => Some(e),
            _ => None,
        }
    }

    /// The service's error code, if any.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.service_error().map(|e| &e.code)
    }

    /// Whether the call may have deleted the image although it failed: no answer came (a
    /// timeout, a transport failure) or the answer could not be read (a proxy's page, a body
    /// cut short). Repeat the call with [`client_token`](Self::client_token) to learn the
    /// outcome without deleting twice. A failure before anything was sent (a refused
    /// connection) counts too: an earlier attempt of the same call may have been acted on.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout { .. } | ErrorKind::Transport { .. } | ErrorKind::Parse(_)
        )
    }

    /// An attempt that got no answer.
    pub fn transport(kind: TransportFailure, source: impl Into<BoxError>) -> Self {
        ErrorKind::Transport {
            kind,
            source: source.into(),
        }
        .into()
    }

    /// An attempt (or call) that hit a time bound.
    pub fn timeout(kind: TimeoutKind, limit: Duration) -> Self {
        ErrorKind::Timeout { kind, limit }.into()
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        ErrorKind::Config(message.into()).into()
    }

    /// Cuts every secret of `redactions` from every string the error keeps from an answer:
    /// the service error's fields, and an unreadable answer's snippet, `Location` and encoding.
    pub(crate) fn redact(&mut self, redactions: &Redactions) {
        match &mut self.kind {
            ErrorKind::Service(e) => {
                redactions.apply(&mut e.message);
                let optional = [&mut e.request_id, &mut e.host_id, &mut e.recommend];
                for text in optional.into_iter().flatten() {
                    redactions.apply(text);
                }
                if let Some(detail) = &mut e.access_denied_detail {
                    redactions.apply_json(detail);
                }
                if let ErrorCode::Other(code) = &mut e.code {
                    redactions.apply(code);
                }
            }
            ErrorKind::Parse(e) => {
                redactions.apply_cut(&mut e.snippet, SNIPPET_CHARS);
                match &mut e.kind {
                    ParseErrorKind::Redirect(Some(to)) => redactions.apply_cut(to, LOCATION_CHARS),
                    ParseErrorKind::Compressed(encoding) => {
                        redactions.apply_cut(encoding, SNIPPET_CHARS)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Records what the call had done.
    pub(crate) fn with_call(
        mut self,
        attempts: u32,
        client_token: &ClientToken,
        stopped: Option<Stopped>,
    ) -> Self {
        self.call = Some(Box::new(CallContext {
            attempts,
            client_token: client_token.clone(),
            stopped,
        }));
        self
    }

    /// The transport failure class, for the retry policy (`None` for a passed deadline,
    /// which ends the call, and for answers).
    pub(crate) fn transport_failure(&self) -> Option<TransportFailure> {
        match &self.kind {
            ErrorKind::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => Some(TransportFailure::Connect),
            ErrorKind::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            } => None,
            ErrorKind::Timeout { .. } => Some(TransportFailure::Timeout),
            ErrorKind::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// What kind of failure `error` is, in a word: the service's code, or the failure class.
pub(crate) fn error_type(error: &Error) -> &str {
    match error.kind() {
        ErrorKind::Service(e) => e.code.as_str(),
        ErrorKind::Parse(_) => "parse",
        ErrorKind::Timeout { .. } => "timeout",
        ErrorKind::Transport { .. } => "transport",
        _ => "client",
    }
}

/// Known secret values, in every form a server or proxy may echo them (raw, percent-encoded
/// once and twice as a string to sign holds them, Base64 of proxy Basic credentials), to cut
/// from text that came from outside. Each is replaced by `***`, the longest first. A
/// signer's are built with it ([`Signer::redactions`](crate::Signer)), the proxies' on a
/// call's failure path only.
#[derive(Default)]
pub(crate) struct Redactions<'a> {
    forms: Vec<Cow<'a, str>>,
}

/// Never the secrets: only how many forms there are.
impl fmt::Debug for Redactions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactions")
            .field("forms", &self.forms.len())
            .finish()
    }
}

impl<'a> Redactions<'a> {
    /// Adds a secret value and its percent-encoded forms.
    pub(crate) fn secret(&mut self, value: impl Into<Cow<'a, str>>) {
        let value = value.into();
        if value.is_empty() {
            return;
        }
        if !all_unreserved(value.as_bytes()) {
            let once = percent_encode(&value);
            let twice = percent_encode(&once);
            self.forms.extend([Cow::Owned(once), Cow::Owned(twice)]);
        }
        self.forms.push(value);
    }

    /// Adds the password of a proxy URL's `user:password@` part, as written and decoded,
    /// and the Base64 of the `user:password` pair sent as Basic `Proxy-Authorization`.
    pub(crate) fn proxy_url(&mut self, url: &'a str) {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let Some((userinfo, _)) = authority.rsplit_once('@') else {
            return;
        };
        let Some((user, password)) = userinfo.split_once(':') else {
            return;
        };
        let decode = |s: &'a str| percent_decode_str(s).decode_utf8_lossy();
        let decoded = decode(password);
        self.secret(STANDARD.encode(userinfo));
        self.secret(STANDARD.encode(format!("{}:{decoded}", decode(user))));
        self.secret(password);
        self.secret(decoded);
    }

    /// Whether there is nothing to cut.
    pub(crate) fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Adds the forms of `other` (borrowed).
    pub(crate) fn extend(&mut self, other: &'a Redactions<'_>) {
        (self.forms).extend(other.forms.iter().map(|form| Cow::Borrowed(&**form)));
    }

    /// Ready to apply: the longest forms first, so that none is cut inside a longer one.
    pub(crate) fn longest_first(mut self) -> Self {
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        self
    }

    /// Replaces every secret in `text`.
    pub(crate) fn apply(&self, text: &mut String) {
        for form in &self.forms {
            if contains(text, form) {
                *text = text.replace(&**form, "***");
            }
        }
    }

    /// [`apply`](Self::apply) to a text kept to at most `limit` characters, and when it is
    /// that long (it may have been cut inside a secret), a secret's beginning at its end too.
    pub(crate) fn apply_cut(&self, snippet: &mut String, limit: usize) {
        let cut_short = snippet.chars().count() >= limit;
        self.apply(snippet);
        if !cut_short {
            return;
        }
        let cut = self.forms.iter().find_map(|form| {
            let longest = form.len().min(snippet.len());
            (1..=longest).rev().find_map(|k| {
                let start = snippet.len() - k;
                let prefix = form.get(..k)?;
                (snippet.get(start..)? == prefix).then_some(start)
            })
        });
        if let Some(start) = cut {
            snippet.truncate(start);
            snippet.push_str("***");
        }
    }

    /// [`apply`](Self::apply) to every string of a JSON value, keys included.
    pub(crate) fn apply_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => self.apply(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.apply_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (mut key, mut v) in entries {
                    self.apply(&mut key);
                    self.apply_json(&mut v);
                    map.insert(key, v);
                }
            }
            _ => {}
        }
    }
}

/// Whether `needle` occurs in `text`. Every failed attempt searches each of its error's texts
/// for each secret, and the texts are short: for a needle of up to 32 bytes (an AccessKey
/// secret, a password), the places where its first byte occurs are found eight bytes at a
/// time, the last eight overlapping the ones before, with no searcher to set up
/// (`str::contains` sets one up for a text under 16 bytes longer than the needle, and checks
/// its candidates with `memcmp` calls). A longer needle (an STS token) goes to
/// `str::contains`, whose searcher bounds the work by the lengths' sum.
fn contains(text: &str, needle: &str) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    if needle.len() > 32 {
        return text.contains(needle);
    }
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    let Some(&first) = needle.first() else {
        return true;
    };
    let Some(last) = text.len().checked_sub(needle.len()) else {
        return false;
    };
    let at = |i: usize| text[i..i + needle.len()] == *needle;
    let starts = &text[..=last];
    // A high bit for each byte of `word` that is `first` (and maybe for a byte after one):
    // every one of them is checked in full.
    let pattern = ONES * u64::from(first);
    let candidates = |word: &[u8; 8]| {
        let x = u64::from_le_bytes(*word) ^ pattern;
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let found = |base: usize, mut bits: u64| {
        while bits != 0 {
            if at(base + bits.trailing_zeros() as usize / 8) {
                return true;
            }
            bits &= bits - 1;
        }
        false
    };
    let (words, rest) = starts.as_chunks::<8>();
    if (words.iter().enumerate()).any(|(w, word)| found(w * 8, candidates(word))) {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    // The last eight starts, of which the first `8 - rest.len()` were checked above.
    match starts.len().checked_sub(8) {
        Some(tail) => {
            let word = starts[tail..]
                .first_chunk::<8>()
                .copied()
                .unwrap_or_default();
            found(tail, candidates(&word) & (!0u64 << (8 * (8 - rest.len()))))
        }
        None => (rest.iter().enumerate()).any(|(i, &b)| b == first && at(i)),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(call) = &self.call {
            d.field("attempts", &call.attempts)
                .field("client_token", &call.client_token)
                .field("stopped", &call.stopped);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)?;
        match &self.call {
            Some(c) => match c.stopped {
                Some(Stopped::BudgetExhausted) => write!(
                    f,
                    " (after {} attempt(s); no retry: the client's retry budget is exhausted)",
                    c.attempts
                ),
                Some(Stopped::HintTooLong { hint, max }) => write!(
                    f,
                    " (after {} attempt(s); no retry: the service asked to wait {hint:?}, \
                     longer than the retry policy's longest delay of {max:?})",
                    c.attempts
                ),
                None if c.attempts > 1 => write!(f, " (after {} attempts)", c.attempts),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The kind's own source: its message is already this error's message.
        std::error::Error::source(&self.kind)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self { kind, call: None }
    }
}

macro_rules! from_kind {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                ErrorKind::from(e).into()
            }
        }
    )*};
}
from_kind!(InputError, EndpointError, CredentialsError);

impl From<AnswerError> for Error {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::Service(e) => ErrorKind::Service(e).into(),
            AnswerError::Parse(e) => ErrorKind::Parse(e).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_secret_search_finds_what_str_contains_finds() {
        let long = "CAIS".repeat(12);
        let needles = [
            "s3cr3t",
            "a",
            "ab",
            "\u{1}\u{0}",
            "bench-access-key-secret",
            "é*é",
            &long,
        ];
        for needle in needles {
            for len in 0..60 {
                for at in 0..=len {
                    // Bytes next to the needle's first that trip the eight-byte check: the
                    // byte before it, and 0x01 above a match of it.
                    let filler = [needle.as_bytes()[0].wrapping_sub(1), 1, b'x'];
                    let mut text: Vec<u8> = (0..len).map(|i| filler[i % 3]).collect();
                    if at + needle.len() <= len {
                        text[at..at + needle.len()].copy_from_slice(needle.as_bytes());
                    }
                    let text = String::from_utf8_lossy(&text);
                    assert_eq!(
                        contains(&text, needle),
                        text.contains(needle),
                        "{needle:?} in {text:?}"
                    );
                }
            }
        }
        assert!(contains("", ""));
        assert!(!contains("abc", "abcd"));
    }

    #[test]
    fn transport_cause_is_the_source_not_the_message() {
        let e = Error::transport(
            TransportFailure::Reset,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer reset"),
        );
        assert_eq!(e.to_string(), "transport error (Reset)");
        assert_eq!(e.source().unwrap().to_string(), "peer reset");
        assert!(e.outcome_unknown());
        assert!(e.is_retryable());
    }

    #[test]
    fn one_rule_for_unknown_outcomes_and_one_for_retries() {
        use crate::response::{ParseErrorKind, ServiceError};
        let service = |code: ErrorCode, status: u16| {
            Error::from(ErrorKind::Service(Box::new(ServiceError::new(
                http::StatusCode::from_u16(status).unwrap(),
                code,
                "m",
            ))))
        };
        let parse = Error::from(ErrorKind::Parse(ParseError::new(
            http::StatusCode::OK,
            ParseErrorKind::NotJson,
            b"{",
        )));
        let timeout = |kind| Error::timeout(kind, Duration::from_secs(1));
        let transport = |kind| Error::transport(kind, std::io::Error::other("x"));
        // (error, outcome unknown, retryable)
        let cases = [
            (parse, true, true),
            (timeout(TimeoutKind::Read), true, true),
            (timeout(TimeoutKind::Connect), true, true),
            (timeout(TimeoutKind::Deadline), true, true),
            (transport(TransportFailure::Reset), true, true),
            (transport(TransportFailure::Connect), true, true),
            (transport(TransportFailure::Tls), true, false),
            (service(ErrorCode::ThrottlingUser, 400), false, true),
            (service(ErrorCode::Other("Odd".into()), 502), false, true),
            (
                service(ErrorCode::InvalidImageIdNotFound, 404),
                false,
                false,
            ),
            (Error::config("x"), false, false),
        ];
        for (e, unknown, retryable) in cases {
            assert_eq!(e.outcome_unknown(), unknown, "{e:?}");
            assert_eq!(e.is_retryable(), retryable, "{e:?}");
        }
    }

    #[test]
    fn call_context_is_reported() {
        let token = ClientToken::new("tok-1").unwrap();
        let e =
            Error::timeout(TimeoutKind::Read, Duration::from_secs(1)).with_call(3, &token, None);
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.client_token(), Some(&token));
        assert!(e.to_string().ends_with("(after 3 attempts)"), "{e}");
        let e = Error::timeout(TimeoutKind::Read, Duration::from_secs(1)).with_call(
            1,
            &token,
            Some(Stopped::BudgetExhausted),
        );
        assert!(e.retry_budget_exhausted());
        assert!(e.to_string().contains("retry budget"), "{e}");
        assert_eq!(Error::config("x").attempts(), 0);
    }
}
