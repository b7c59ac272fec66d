//! The ureq side: the agent's configuration, one exchange, and the mapping of ureq's errors
//! onto the core's [`Error`].

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use swas_open_core::client::ClientConfig;
use swas_open_core::response::{ParseError, ParseErrorKind, MAX_RESPONSE_BODY};
use swas_open_core::{Error, TimeoutKind, TransportFailure};
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
use ureq::{Agent, Timeout};

/// The time bounds of a client, kept to name the one that was hit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    pub(crate) read: Duration,
    pub(crate) deadline: Option<Duration>,
}

impl Limits {
    /// The bounds a client was configured with.
    pub(crate) fn of(config: &ClientConfig) -> Self {
        Self {
            connect: config.connect_timeout,
            read: config.read_timeout,
            deadline: config.deadline,
        }
    }
}

/// An agent that returns error statuses as answers, follows no redirect and speaks TLS
/// through rustls with the ring provider.
///
/// The DNS lookup gets no timeout of its own: ureq looks the host up before every request,
/// pooled connection or not, and a lookup with a timeout runs on a new thread, which cost
/// 15 times the rest of a call on loopback. The system resolver's own timeouts and the
/// call's deadline bound it.
pub(crate) fn agent(limits: &Limits) -> Agent {
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::WebPki)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(limits.connect))
        .timeout_send_request(Some(limits.read))
        .timeout_recv_response(Some(limits.read))
        .timeout_recv_body(Some(limits.read))
        .build()
        .new_agent()
}

/// Sends `request` and reads the whole answer, at most [`MAX_RESPONSE_BODY`] bytes of it.
/// `remaining` is what is left of the call's deadline.
pub(crate) fn send(
    agent: &Agent,
    limits: &Limits,
    request: http::Request<Vec<u8>>,
    remaining: Option<Duration>,
) -> Result<http::Response<Vec<u8>>, Error> {
    let request = match remaining {
        // The per-request override copies the agent's configuration, so it is only paid
        // for when a deadline is set.
        Some(left) => agent
            .configure_request(request)
            .timeout_global(Some(left))
            .build(),
        None => request,
    };
    let response = agent.run(request).map_err(|e| map_error(e, limits))?;
    let (parts, body) = response.into_parts();
    let capacity = body
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_RESPONSE_BODY);
    let mut bytes = Vec::with_capacity(capacity);
    let read = body
        .into_with_config()
        .limit(MAX_RESPONSE_BODY as u64)
        .reader()
        .read_to_end(&mut bytes);
    match read.map_err(ureq::Error::from) {
        Ok(_) => Ok(http::Response::from_parts(parts, bytes)),
        Err(ureq::Error::BodyExceedsLimit(_)) => Err(Error::Parse(ParseError::new(
            parts.status,
            ParseErrorKind::TooLarge,
            &bytes,
        ))),
        Err(e) => Err(map_error(e, limits)),
    }
}

/// The core's error for a ureq failure.
///
/// Timeouts name the bound that was hit; every other failure keeps ureq's error as its
/// source and is classed by whether the request can have reached the service.
pub(crate) fn map_error(error: ureq::Error, limits: &Limits) -> Error {
    let kind = match &error {
        ureq::Error::Timeout(t) => return timeout(*t, limits),
        ureq::Error::Io(e) => io_failure(e),
        ureq::Error::HostNotFound => TransportFailure::Dns,
        ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::TlsRequired => TransportFailure::Connect,
        _ => TransportFailure::Other,
    };
    let source: swas_open_core::BoxError = match error {
        ureq::Error::Io(e) => Box::new(e),
        other => Box::new(other),
    };
    Error::Transport { kind, source }
}

fn timeout(t: Timeout, limits: &Limits) -> Error {
    let (kind, limit) = match t {
        Timeout::Resolve | Timeout::Connect => (TimeoutKind::Connect, limits.connect),
        Timeout::Global | Timeout::PerCall => (
            TimeoutKind::Deadline,
            limits.deadline.unwrap_or(Duration::ZERO),
        ),
        _ => (TimeoutKind::Read, limits.read),
    };
    Error::Timeout { kind, limit }
}

fn io_failure(e: &io::Error) -> TransportFailure {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | HostUnreachable | NetworkUnreachable | NetworkDown
        | AddrNotAvailable => TransportFailure::Connect,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
            TransportFailure::Reset
        }
        // The standard library reports a failed lookup with this message and no
        // dedicated kind.
        _ if e.to_string().contains("failed to lookup address") => TransportFailure::Dns,
        _ => TransportFailure::Other,
    }
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Config(format!("the system random source failed: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    const LIMITS: Limits = Limits {
        connect: Duration::from_secs(5),
        read: Duration::from_secs(10),
        deadline: Some(Duration::from_secs(30)),
    };

    fn kind_of(e: ureq::Error) -> Option<TransportFailure> {
        match map_error(e, &LIMITS) {
            Error::Transport { kind, .. } => Some(kind),
            _ => None,
        }
    }

    fn timeout_of(t: Timeout) -> (TimeoutKind, Duration) {
        match map_error(ureq::Error::Timeout(t), &LIMITS) {
            Error::Timeout { kind, limit } => (kind, limit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timeouts_name_their_bound() {
        let s = Duration::from_secs;
        assert_eq!(timeout_of(Timeout::Resolve), (TimeoutKind::Connect, s(5)));
        assert_eq!(timeout_of(Timeout::Connect), (TimeoutKind::Connect, s(5)));
        for t in [
            Timeout::SendRequest,
            Timeout::SendBody,
            Timeout::RecvResponse,
            Timeout::RecvBody,
            Timeout::PerRead,
            Timeout::PerWrite,
        ] {
            assert_eq!(timeout_of(t), (TimeoutKind::Read, s(10)), "{t:?}");
        }
        assert_eq!(timeout_of(Timeout::Global), (TimeoutKind::Deadline, s(30)));
        assert_eq!(timeout_of(Timeout::PerCall), (TimeoutKind::Deadline, s(30)));
    }

    #[test]
    fn failures_are_classed_by_what_was_sent() {
        use io::ErrorKind as K;
        let io = |k: K| ureq::Error::Io(io::Error::new(k, "x"));
        assert_eq!(
            kind_of(ureq::Error::HostNotFound),
            Some(TransportFailure::Dns)
        );
        assert_eq!(
            kind_of(ureq::Error::Io(io::Error::other(
                "failed to lookup address information: Name or service not known"
            ))),
            Some(TransportFailure::Dns)
        );
        for k in [
            K::ConnectionRefused,
            K::HostUnreachable,
            K::NetworkUnreachable,
        ] {
            assert_eq!(kind_of(io(k)), Some(TransportFailure::Connect), "{k:?}");
        }
        for k in [
            K::ConnectionReset,
            K::ConnectionAborted,
            K::BrokenPipe,
            K::UnexpectedEof,
        ] {
            assert_eq!(kind_of(io(k)), Some(TransportFailure::Reset), "{k:?}");
        }
        assert_eq!(kind_of(io(K::Other)), Some(TransportFailure::Other));
        assert_eq!(
            kind_of(ureq::Error::ConnectionFailed),
            Some(TransportFailure::Connect)
        );
        assert_eq!(
            kind_of(ureq::Error::Tls("bad cert")),
            Some(TransportFailure::Connect)
        );
        assert_eq!(
            kind_of(ureq::Error::BadUri("x".into())),
            Some(TransportFailure::Other)
        );
    }

    #[test]
    fn transport_errors_keep_their_source() {
        let e = map_error(
            ureq::Error::Io(io::Error::new(io::ErrorKind::ConnectionReset, "peer reset")),
            &LIMITS,
        );
        assert!(e.to_string().contains("peer reset"), "{e}");
        let source = e.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("peer reset"));
        assert!(e.is_no_answer());
    }
}
