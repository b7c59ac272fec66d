//! The ureq side: the agent's configuration, one exchange, and the mapping of ureq's errors
//! onto the core's [`Error`].

use std::io::Read;
use std::time::{Duration, Instant};

use swas_open_core::MAX_RESPONSE_BODY;
use swas_open_core::{Config, Error, ErrorKind, Outgoing, TimeoutKind, TransportFailure};
use ureq::tls::{TlsConfig, TlsProvider};
use ureq::Timeout;

use crate::proxy::Proxies;
use crate::tls;

/// The time bounds of one attempt, kept to name the one that was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    connect: Duration,
    read: Duration,
}

impl Limits {
    fn of(outgoing: &Outgoing) -> Self {
        Self {
            connect: outgoing.connect_timeout,
            read: outgoing.read_timeout,
        }
    }
}

/// The ureq agent of a client, its own time bounds, and the proxies its requests may go
/// through.
pub(crate) struct Agent {
    agent: ureq::Agent,
    /// The client's bounds, which the agent applies to every request it is not told
    /// otherwise about.
    defaults: Limits,
    proxies: Option<Proxies>,
}

impl Agent {
    /// An agent that returns error statuses as answers, follows no redirect, speaks TLS
    /// through rustls with the ring provider and trusts the roots of `config` (see
    /// [`tls::root_certs`]). ureq's own reading of the proxy variables is off: the core
    /// resolved them, and [`Proxies`] picks one per request.
    ///
    /// The DNS lookup gets no timeout of its own: ureq looks the host up before every
    /// request, pooled connection or not, and a lookup with a timeout runs on a new thread,
    /// which cost 15 times the rest of a call on loopback. The system resolver's own
    /// timeouts and the call's deadline bound it.
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let limits = Limits {
            connect: config.connect_timeout,
            read: config.read_timeout,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(tls::root_certs(config)?)
            .unversioned_rustls_crypto_provider(swas_open_core::crypto_provider())
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(limits.connect))
            .timeout_send_request(Some(limits.read))
            .timeout_recv_response(Some(limits.read))
            .timeout_recv_body(Some(limits.read))
            .build()
            .new_agent();
        Ok(Self {
            agent,
            defaults: limits,
            proxies: Proxies::new(&config.proxies)?,
        })
    }
}

/// Sends one attempt and reads the whole answer, at most one byte past
/// [`MAX_RESPONSE_BODY`] of it. Bounds other than the agent's own, a deadline or a proxy
/// are set on the request (which copies the agent's configuration, so it is only paid for
/// then).
pub(crate) fn send(agent: &Agent, outgoing: Outgoing) -> Result<http::Response<Vec<u8>>, Error> {
    let limits = Limits::of(&outgoing);
    let left = outgoing
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()));
    let proxy = (agent.proxies.as_ref())
        .filter(|_| !outgoing.direct)
        .and_then(|p| p.for_uri(outgoing.request.uri()));
    let request = if limits != agent.defaults || left.is_some() || proxy.is_some() {
        agent
            .agent
            .configure_request(outgoing.request)
            .timeout_connect(Some(limits.connect))
            .timeout_send_request(Some(limits.read))
            .timeout_recv_response(Some(limits.read))
            .timeout_recv_body(Some(limits.read))
            .timeout_global(left)
            .proxy(proxy.cloned())
            .build()
    } else {
        outgoing.request
    };
    let response = agent.agent.run(request).map_err(|e| {
        let error = map_error(e, limits);
        match proxy {
            Some(proxy) => named_proxy(error, proxy),
            None => error,
        }
    })?;
    let (parts, body) = response.into_parts();
    let capacity = body
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_RESPONSE_BODY);
    let mut bytes = Vec::with_capacity(capacity);
    // One byte past the cap is enough for the core to refuse the body as too large; the
    // rest is never read (the connection is closed rather than drained).
    let cap = MAX_RESPONSE_BODY as u64 + 1;
    let read = body
        .into_with_config()
        .limit(cap)
        .reader()
        .take(cap)
        .read_to_end(&mut bytes);
    match read.map_err(ureq::Error::from) {
        Ok(_) => Ok(http::Response::from_parts(parts, bytes)),
        Err(e) => Err(map_error(e, limits)),
    }
}

/// The core's error for a ureq failure.
///
/// Timeouts name the bound that was hit (the call turns one past its deadline into the
/// deadline's); every other failure keeps ureq's error as its source and is classed by
/// whether the request can have reached the service.
fn map_error(error: ureq::Error, limits: Limits) -> Error {
    let kind = match &error {
        ureq::Error::Timeout(t) => return timeout(*t, limits),
        ureq::Error::Io(e) if is_rustls(e) => TransportFailure::Tls,
        ureq::Error::Io(e) => TransportFailure::from_io(e),
        ureq::Error::HostNotFound => TransportFailure::Dns,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => TransportFailure::Tls,
        ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::TlsRequired => TransportFailure::Connect,
        _ => TransportFailure::Other,
    };
    let source: swas_open_core::BoxError = match error {
        ureq::Error::Io(e) => Box::new(e),
        other => Box::new(other),
    };
    Error::transport(kind, source)
}

/// A failure to reach `proxy`, named after it: the error's source says `the proxy
/// host:port: ...`. Other failures are the service's, and left alone. Its name is written
/// only then, never for an attempt that reached the proxy.
fn named_proxy(error: Error, proxy: &ureq::Proxy) -> Error {
    match error.into_kind() {
        ErrorKind::Transport {
            kind: kind @ (TransportFailure::Connect | TransportFailure::Dns),
            source,
        } => Error::transport(
            kind,
            ProxyFailed {
                proxy: format!("{}:{}", proxy.host(), proxy.port()),
                source,
            },
        ),
        other => other.into(),
    }
}

/// The proxy named, and why it could not be used (it never holds the proxy's password).
#[derive(Debug)]
struct ProxyFailed {
    proxy: String,
    source: swas_open_core::BoxError,
}

impl std::fmt::Display for ProxyFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the proxy {}: {}", self.proxy, self.source)
    }
}

impl std::error::Error for ProxyFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Whether an I/O error carries a TLS failure: rustls reports a refused certificate inside
/// the I/O error of the handshake, possibly wrapped again; `source` skips an I/O error's
/// payload, so the payloads are followed instead.
fn is_rustls(e: &std::io::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = cause {
        if e.is::<rustls::Error>() {
            return true;
        }
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

fn timeout(t: Timeout, limits: Limits) -> Error {
    match t {
        Timeout::Resolve | Timeout::Connect => Error::timeout(TimeoutKind::Connect, limits.connect),
        // The global bound is the call's deadline: the call names it.
        _ => Error::timeout(TimeoutKind::Read, limits.read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::io;
    use swas_open_core::ErrorKind;

    const LIMITS: Limits = Limits {
        connect: Duration::from_secs(5),
        read: Duration::from_secs(10),
    };

    fn kind_of(e: ureq::Error) -> Option<TransportFailure> {
        match map_error(e, LIMITS).into_kind() {
            ErrorKind::Transport { kind, .. } => Some(kind),
            _ => None,
        }
    }

    fn timeout_of(t: Timeout) -> (TimeoutKind, Duration) {
        match map_error(ureq::Error::Timeout(t), LIMITS).into_kind() {
            ErrorKind::Timeout { kind, limit } => (kind, limit),
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
            Timeout::Global,
            Timeout::PerCall,
        ] {
            assert_eq!(timeout_of(t), (TimeoutKind::Read, s(10)), "{t:?}");
        }
    }

    #[test]
    fn failures_are_classed_by_what_was_sent() {
        assert_eq!(
            kind_of(ureq::Error::HostNotFound),
            Some(TransportFailure::Dns)
        );
        assert_eq!(
            kind_of(ureq::Error::Io(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "x"
            ))),
            Some(TransportFailure::Reset)
        );
        assert_eq!(
            kind_of(ureq::Error::ConnectionFailed),
            Some(TransportFailure::Connect)
        );
        assert_eq!(
            kind_of(ureq::Error::Tls("bad cert")),
            Some(TransportFailure::Tls)
        );
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert_eq!(
            kind_of(ureq::Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                refused
            ))),
            Some(TransportFailure::Tls)
        );
        assert_eq!(
            kind_of(ureq::Error::ConnectProxyFailed("407".into())),
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
            LIMITS,
        );
        let source = e.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("peer reset"));
        assert!(e.outcome_unknown());
    }
}
