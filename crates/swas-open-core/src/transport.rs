//! The transport's facts: what a transport is asked to send ([`Outgoing`]) and how an
//! attempt can fail to get an answer ([`TransportFailure`], [`TimeoutKind`]).

use std::time::{Duration, Instant};

/// A boxed transport error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request to send, with the time bounds of this one attempt.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outgoing {
    /// The request, complete: method, absolute URI, headers, body.
    pub request: http::Request<Vec<u8>>,
    /// The bound on setting up a connection for it.
    pub connect_timeout: Duration,
    /// The bound on waiting for the answer's head, and on reading its body.
    pub read_timeout: Duration,
    /// The instant past which the attempt must be abandoned, whatever the other bounds say.
    /// Report a hit as a timeout of any kind: the exchange names it.
    pub deadline: Option<Instant>,
    /// The request must go straight to its host, never through a proxy, whatever the
    /// client's proxy settings: the instance metadata service (link-local by design; the
    /// credentials it answers must not cross a proxy).
    pub direct: bool,
}

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

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The host name did not resolve: nothing was sent, so a retry is always safe.
    Dns,
    /// The connection could not be established: nothing was sent, so a retry is always safe.
    Connect,
    /// The TLS handshake failed: the server's certificate is not trusted (unknown CA,
    /// expired) or not valid for the host name, or the peers share no protocol. Nothing was
    /// sent, and the call is not retried: the next handshake would fail the same way. The
    /// [`source`](std::error::Error::source) chain names the certificate problem.
    Tls,
    /// The attempt timed out: the request may have reached the server.
    Timeout,
    /// The connection was reset: the request may have reached the server.
    Reset,
    /// Any other failure: the request may have reached the server.
    Other,
}

impl TransportFailure {
    /// The class of an I/O failure, for transports: refused or unreachable is `Connect`
    /// (nothing was sent); reset, aborted, broken or closed is `Reset`; a failed name
    /// lookup (which the standard library reports with a message, not a kind) is `Dns`;
    /// anything else is `Other`.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub fn from_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused | HostUnreachable | NetworkUnreachable | NetworkDown
            | AddrNotAvailable => TransportFailure::Connect,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
                TransportFailure::Reset
            }
            _ if e.to_string().contains("failed to lookup address") => TransportFailure::Dns,
            _ => TransportFailure::Other,
        }
    }
}
