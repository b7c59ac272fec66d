//! Moving bytes: the pooled hyper client, per-attempt time bounds, the capped body read and
//! the mapping of hyper's failures onto [`Error`]. No protocol knowledge lives here.

use std::error::Error as StdError;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use swas_open_core::MAX_RESPONSE_BODY;
use swas_open_core::{BoxError, Config, Error, Outgoing, TimeoutKind, TransportFailure};
use tokio::time::Sleep;

use crate::proxy::{self, ProxyConnector, ProxyError, ProxyStream};
use crate::tls;

/// How long an idle connection stays in the pool. Kept under the idle timeouts of common
/// load balancers (15 s and up) so the client, not the server, closes an idle connection,
/// which avoids sending a request on a connection the server is closing.
pub(crate) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most idle connections kept per host. Every connection in use returns to the pool
/// while there is room, so as long as at most this many calls run at once, calls reuse
/// connections rather than opening new ones. On a multi-thread runtime a call that starts
/// right after another ended can still open a second connection: hyper-util hands the
/// finished one back to the pool on its connection task, which may not have run yet.
pub(crate) const POOL_MAX_IDLE_PER_HOST: usize = 128;

/// The pooled HTTP(S) client, with its connect bound and its proxies (and a direct pool).
#[derive(Clone)]
pub(crate) struct Transport {
    client: PooledClient<TimedConnector, Full<Bytes>>,
    /// For the requests that must never go through a proxy, when the client has proxies.
    direct: Option<PooledClient<TimedConnector, Full<Bytes>>>,
    /// The client's connect bound: a request with another one is bounded here as a whole.
    connect_timeout: Duration,
    /// Which requests go through a proxy, when any can.
    proxies: Option<Arc<Matcher>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("connect_timeout", &self.connect_timeout)
            .field("proxied", &self.proxies.is_some())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A pooled client: HTTP/1.1 with keep-alive, rustls with the ring provider (chosen
    /// here, never the process-wide default) and the roots of `config` ([`tls`]), the
    /// proxies of `config` ([`proxy`]), with a second, unproxied pool for the requests that
    /// must go direct (the metadata service) when there are proxies; redirects are never
    /// followed (hyper-util's client has no redirect logic).
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let proxies = proxy::matcher(&config.proxies);
        // Built once for both pools: the roots (the system's too, when asked for) are read
        // and parsed once.
        let tls = tls::client_config(config)?;
        let direct = proxies.is_some().then(|| pooled(config, tls.clone(), None));
        Ok(Self {
            client: pooled(config, tls, proxies.clone()),
            direct,
            connect_timeout: config.connect_timeout,
            proxies,
        })
    }

    /// Sends one attempt and reads its answer, at most one byte past [`MAX_RESPONSE_BODY`].
    ///
    /// Waiting for the status and headers (a pooled or new connection included) and reading
    /// the body each get the attempt's read budget, cut short by its deadline. A connect
    /// bound other than the client's (a credential fetch's) bounds the whole exchange
    /// together with the read bound.
    pub(crate) async fn send(&self, outgoing: Outgoing) -> Result<Response<Bytes>, Error> {
        let bounds = Bounds {
            read: outgoing.read_timeout,
            deadline: outgoing.deadline,
            whole: (outgoing.connect_timeout != self.connect_timeout).then(|| {
                let limit = outgoing
                    .connect_timeout
                    .saturating_add(outgoing.read_timeout);
                (Instant::now().checked_add(limit), outgoing.connect_timeout)
            }),
        };
        let (mut parts, body) = outgoing.request.into_parts();
        // One look at the proxy list: for a plain-HTTP request sent to a proxy, its name (for
        // a refusal) and its credentials.
        let (client, proxies) = match &self.direct {
            Some(direct) if outgoing.direct => (direct, None),
            _ => (&self.client, self.proxies.as_deref()),
        };
        let proxied = proxies.and_then(|m| proxy::absolute_form(m, &parts.uri));
        let via_proxy = proxied.map(|(proxy, auth)| {
            if let Some(auth) = auth {
                parts
                    .headers
                    .insert(http::header::PROXY_AUTHORIZATION, auth);
            }
            proxy
        });
        let request = Request::from_parts(parts, Full::new(Bytes::from(body)));
        // One timer for both waits, made when a wait first finds nothing ready.
        let mut timer = pin!(None);
        let response = bounds
            .wait(client.request(request), timer.as_mut())
            .await?
            .map_err(|e| map_client_error(e, self.connect_timeout))?;
        if let Some(proxy) = via_proxy {
            // A plain-HTTP request goes to the proxy itself, which answers a refusal.
            if response.status() == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
                return Err(Error::transport(
                    TransportFailure::Connect,
                    ProxyError::AuthRequired(proxy),
                ));
            }
        }
        let (parts, body) = response.into_parts();
        let body = bounds.wait(read_capped(body), timer).await??;
        Ok(Response::from_parts(parts, body))
    }
}

/// The time bounds of one attempt's two waits: for the answer's head, and for its body.
#[derive(Clone, Copy)]
struct Bounds {
    /// The read bound of each wait.
    read: Duration,
    /// The attempt's deadline.
    deadline: Option<Instant>,
    /// A connect bound other than the client's, as the instant the whole exchange must end
    /// by (none: too far to represent), and that bound.
    whole: Option<(Option<Instant>, Duration)>,
}

impl Bounds {
    /// Waits for `fut` until the nearest bound, counted from the first time it is found
    /// not ready: a read timeout (the call turns one past its deadline into the
    /// deadline's), or a connect timeout when the whole exchange's bound is the nearest.
    ///
    /// `timer` is the attempt's one timer: made at the first wait that needs it, set again
    /// by the next (a later end moves it without touching the timer wheel), never made
    /// when every wait finds its answer ready, nor when no bound can be represented.
    fn wait<'a, F: Future + Unpin + 'a>(
        &'a self,
        mut fut: F,
        mut timer: Pin<&'a mut Option<Sleep>>,
    ) -> impl Future<Output = Result<F::Output, Error>> + 'a {
        // A plain function over an `Unpin` future: an `async fn` would hold `fut` twice, and
        // its future would be moved once more when awaited.
        let mut hit = None;
        poll_fn(move |cx| {
            if let Poll::Ready(output) = Pin::new(&mut fut).poll(cx) {
                return Poll::Ready(Ok(output));
            }
            if hit.is_none() {
                let (end, bound) = self.end(Instant::now());
                hit = Some(bound);
                match (end, timer.as_mut().as_pin_mut()) {
                    (None, Some(_)) => timer.set(None),
                    (None, None) => {}
                    (Some(end), Some(sleep)) => sleep.reset(end.into()),
                    (Some(end), None) => timer.set(Some(tokio::time::sleep_until(end.into()))),
                }
            }
            match (timer.as_mut().as_pin_mut(), hit) {
                (Some(sleep), Some(Hit(kind, bound))) => {
                    sleep.poll(cx).map(|()| Err(Error::timeout(kind, bound)))
                }
                _ => Poll::Pending,
            }
        })
    }

    /// The end of a wait starting at `now` (none: too far to represent), and what reaching
    /// it reports.
    fn end(&self, now: Instant) -> (Option<Instant>, Hit) {
        let mut end = now.checked_add(self.read);
        if let Some(deadline) = self.deadline {
            end = Some(end.map_or(deadline, |end| end.min(deadline)));
        }
        if let Some((Some(whole), connect)) = self.whole {
            if end.is_none_or(|end| whole < end) {
                return (Some(whole), Hit(TimeoutKind::Connect, connect));
            }
        }
        (end, Hit(TimeoutKind::Read, self.read))
    }
}

/// What a wait that outlasted its bound reports: which bound, and how long it was.
#[derive(Clone, Copy)]
struct Hit(TimeoutKind, Duration);

/// A pooled client for `config` speaking `tls`, through the proxies of `matcher` (none:
/// direct).
fn pooled(
    config: &Config,
    tls: rustls::ClientConfig,
    matcher: Option<Arc<Matcher>>,
) -> PooledClient<TimedConnector, Full<Bytes>> {
    let connect_timeout = config.connect_timeout;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    // hyper-util spreads this over the resolved addresses, so an unreachable first address
    // leaves time for the next; the wrapper below bounds the whole set-up.
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(30)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(ProxyConnector { http, matcher });
    let connector = TimedConnector(Arc::new(Connector {
        inner: https,
        limit: connect_timeout,
    }));
    PooledClient::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

/// Reads the body, stopping one byte past [`MAX_RESPONSE_BODY`]: that is enough for the core
/// to refuse it as too large, and the rest is never read (the connection is dropped rather
/// than drained). A plain function, so that the future holds `body` once (an `async fn`
/// holds its arguments apart from its locals) and is `Unpin`.
fn read_capped(mut body: Incoming) -> impl Future<Output = Result<Bytes, Error>> + Unpin {
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    poll_fn(move |cx| loop {
        let Some(frame) = ready!(Pin::new(&mut body).poll_frame(cx)) else {
            return Poll::Ready(Ok(first
                .take()
                .unwrap_or_else(|| std::mem::take(&mut buf).freeze())));
        };
        let Ok(data) = frame.map_err(map_body_error)?.into_data() else {
            continue; // trailers carry nothing the parser reads
        };
        let held = first.as_ref().map_or(0, Bytes::len) + buf.len();
        if held + data.len() > MAX_RESPONSE_BODY {
            let mut head = BytesMut::with_capacity(MAX_RESPONSE_BODY + 1);
            head.extend_from_slice(first.as_deref().unwrap_or_default());
            head.extend_from_slice(&buf);
            head.extend_from_slice(&data[..=MAX_RESPONSE_BODY - held]);
            return Poll::Ready(Ok(head.freeze()));
        }
        // Most answers arrive in one frame: keep it without copying.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            Some(earlier) => {
                buf.extend_from_slice(&earlier);
                buf.extend_from_slice(&data);
            }
            None => buf.extend_from_slice(&data),
        }
    })
}

/// A failure while reading the body: the answer was cut off.
fn map_body_error(e: hyper::Error) -> Error {
    let kind = classify(&e);
    Error::transport(kind, e)
}

/// Maps a failure of hyper-util's client:
///
/// - the connection set-up (DNS, TCP, TLS) outlasted `connect_timeout` ->
///   `Timeout { kind: Connect }`;
/// - the host name did not resolve (hyper-util's "dns error") -> `Dns`;
/// - the TLS handshake failed in rustls (a certificate refused) -> `Tls`: nothing was sent;
/// - any other failure to establish the connection (refused, unreachable, a proxy that
///   refused the tunnel) -> `Connect`: nothing was sent;
/// - the connection closed or was reset before the whole answer arrived -> `Reset`;
/// - anything else -> `Other`.
fn map_client_error(e: hyper_util::client::legacy::Error, connect_timeout: Duration) -> Error {
    if let Some(t) = find::<ConnectTimedOut>(&e) {
        return Error::timeout(TimeoutKind::Connect, t.0);
    }
    if e.is_connect() {
        if is_tls(&e) {
            return Error::transport(TransportFailure::Tls, e);
        }
        // hyper-util's own (per-address) connect timeout, or the system's.
        if find::<io::Error>(&e).is_some_and(|io| io.kind() == io::ErrorKind::TimedOut) {
            return Error::timeout(TimeoutKind::Connect, connect_timeout);
        }
        // hyper-util's connect error type is private; its message is the only marker.
        let dns = chain(&e).any(|s| s.to_string() == "dns error");
        let kind = if dns {
            TransportFailure::Dns
        } else {
            TransportFailure::Connect
        };
        return Error::transport(kind, e);
    }
    let kind = chain(&e)
        .find_map(|s| {
            if let Some(h) = s.downcast_ref::<hyper::Error>() {
                Some(classify(h))
            } else {
                s.downcast_ref::<io::Error>().map(TransportFailure::from_io)
            }
        })
        .unwrap_or(TransportFailure::Other);
    Error::transport(kind, e)
}

/// Whether the handshake failed in rustls: a certificate refused (unknown issuer, wrong
/// host name, expired) or no protocol in common. rustls's error travels inside I/O errors
/// (nested, through hyper-rustls), whose `source` skips their payload, so an I/O error is
/// looked into by its payload instead.
fn is_tls(e: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<rustls::Error>() {
            return true;
        }
        cause = match e.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

fn classify(e: &hyper::Error) -> TransportFailure {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return TransportFailure::Reset;
    }
    chain(e)
        .find_map(|s| s.downcast_ref::<io::Error>().map(TransportFailure::from_io))
        .unwrap_or(TransportFailure::Other)
}

/// `e` and its sources.
fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(e).find_map(|s| s.downcast_ref::<T>())
}

/// Setting up a connection (DNS, TCP and TLS together) took longer than the limit.
#[derive(Debug, thiserror::Error)]
#[error("connection set-up timed out after {0:?}")]
struct ConnectTimedOut(Duration);

/// The HTTPS connector with one time bound over the whole connection set-up, proxy tunnel
/// and TLS handshake included (hyper-util's own bound covers only TCP). Shared: hyper-util
/// clones its connector for every request, into the connect future it races against the
/// pool's checkout, so a clone here is one reference count and that future stays small.
#[derive(Clone)]
struct TimedConnector(Arc<Connector>);

struct Connector {
    inner: HttpsConnector<ProxyConnector>,
    limit: Duration,
}

type Connection = MaybeHttpsStream<ProxyStream>;

impl tower_service::Service<Uri> for TimedConnector {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The TCP connector under the TLS one is always ready (see `ProxyConnector`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        // Only a new connection gets here: its own copy of the connector is cheap beside it.
        let connecting = self.0.inner.clone().call(dst);
        let limit = self.0.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimedOut(limit)) as BoxError),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_are_found_inside_nested_io_errors() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, refused));
        let boxed: BoxError = Box::new(ProxyError::Failed {
            proxy: "p:1".into(),
            source: Box::new(nested),
        });
        assert!(is_tls(&*boxed));
        let plain = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_tls(&plain));
    }
}
