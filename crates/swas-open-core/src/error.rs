use std::fmt;
use std::time::Duration;

use crate::credentials::CredentialsError;
use crate::endpoint::EndpointError;
use crate::input::{ClientToken, InputError};
use crate::response::{ErrorCode, ParseError, ServiceError};
use crate::retry::TransportFailure;

/// A boxed transport error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which bound a timeout hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Establishing the connection took too long (nothing was sent).
    Connect,
    /// Waiting for (or reading) the answer took too long (the request may have been acted on).
    Read,
    /// The overall deadline of the call ran out.
    Deadline,
}

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
    /// No usable credentials: configure them.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Client configuration that cannot work (e.g. a user agent that is not a header value).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The service answered with an error; every field it sent is kept (boxed: it is the
    /// largest variant by far).
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The answer could not be understood (HTML from a proxy, truncated, too large).
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
/// use swas_open_core::{Error, ErrorCode, ErrorKind, ServiceError};
/// # let e = Error::from(ErrorKind::Service(Box::new(ServiceError::new(
/// #     http::StatusCode::BAD_REQUEST, ErrorCode::CustomImageInShare, "shared"))));
/// match e.kind() {
///     ErrorKind::Service(s) if s.code == ErrorCode::CustomImageInShare => {
///         println!("unshare the image first: {}", s.message)
///     }
///     _ if e.is_no_answer() => println!(
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
    budget_exhausted: bool,
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
        self.call.as_ref().is_some_and(|c| c.budget_exhausted)
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

    /// Whether no answer came at all (transport failure or timeout): the outcome is unknown.
    pub fn is_no_answer(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout { .. } | ErrorKind::Transport { .. }
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

    pub(crate) fn service_mut(&mut self) -> Option<&mut ServiceError> {
        match &mut self.kind {
            ErrorKind::Service(e) => Some(e),
            _ => None,
        }
    }

    /// Records what the call had done.
    pub(crate) fn with_call(
        mut self,
        attempts: u32,
        client_token: &ClientToken,
        budget_exhausted: bool,
    ) -> Self {
        self.call = Some(Box::new(CallContext {
            attempts,
            client_token: client_token.clone(),
            budget_exhausted,
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

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(call) = &self.call {
            d.field("attempts", &call.attempts)
                .field("client_token", &call.client_token)
                .field("retry_budget_exhausted", &call.budget_exhausted);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)?;
        match &self.call {
            Some(c) if c.budget_exhausted => write!(
                f,
                " (after {} attempt(s); no retry: the client's retry budget is exhausted)",
                c.attempts
            ),
            Some(c) if c.attempts > 1 => write!(f, " (after {} attempts)", c.attempts),
            _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn transport_cause_is_the_source_not_the_message() {
        let e = Error::transport(
            TransportFailure::Reset,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer reset"),
        );
        assert_eq!(e.to_string(), "transport error (Reset)");
        assert_eq!(e.source().unwrap().to_string(), "peer reset");
        assert!(e.is_no_answer());
    }

    #[test]
    fn call_context_is_reported() {
        let token = ClientToken::new("tok-1").unwrap();
        let e =
            Error::timeout(TimeoutKind::Read, Duration::from_secs(1)).with_call(3, &token, false);
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.client_token(), Some(&token));
        assert!(e.to_string().ends_with("(after 3 attempts)"), "{e}");
        let e =
            Error::timeout(TimeoutKind::Read, Duration::from_secs(1)).with_call(1, &token, true);
        assert!(e.retry_budget_exhausted());
        assert!(e.to_string().contains("retry budget"), "{e}");
        assert_eq!(Error::config("x").attempts(), 0);
    }
}
