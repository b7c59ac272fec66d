//! The error every client (blocking or async) returns, so switching transports changes no
//! error handling. Each variant says what to do next; none carries a secret.

use std::time::Duration;

use crate::chain::CredentialsError;
use crate::endpoint::EndpointError;
use crate::input::InputError;
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

/// Why a DeleteCustomImage call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// largest variant by far, and keeping it inline would make every `Result` carry it).
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
    /// The request got no answer: DNS, connect, reset, TLS, I/O.
    #[error("transport error ({kind:?}): {source}")]
    Transport {
        /// The failure class, which decides whether a retry is safe.
        kind: TransportFailure,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// The service error, if the service answered with one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(e) => Some(e),
            _ => None,
        }
    }

    /// The service's error code, if any.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.service_error().map(|e| &e.code)
    }

    /// Whether no answer came at all (transport failure or timeout).
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::Transport { .. })
    }

    /// The transport failure class, for the retry policy (`None` for a passed deadline,
    /// which ends the call).
    pub fn transport_failure(&self) -> Option<TransportFailure> {
        match self {
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => Some(TransportFailure::Connect),
            // The call's time is up: nothing may follow, so it is no retryable failure.
            Error::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            } => None,
            Error::Timeout { .. } => Some(TransportFailure::Timeout),
            Error::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
