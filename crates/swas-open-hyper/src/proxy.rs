//! Proxies for the async client, with what hyper-util ships: its [`Matcher`] decides (curl's
//! `NO_PROXY` rules, fed the settings the core resolved, as in the blocking client), its
//! [`Tunnel`] connector opens `CONNECT` tunnels for HTTPS, and plain HTTP goes to the proxy
//! in absolute form (a connection marked as proxied makes hyper-util's client write the
//! full URL).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use swas_open_core::BoxError;
use tokio::net::TcpStream;

/// hyper-util's matcher for the resolved settings, `None` when no request can go through a
/// proxy.
pub(crate) fn matcher(settings: &swas_open_core::Proxies) -> Option<Arc<Matcher>> {
    if settings.http.is_none() && settings.https.is_none() {
        return None;
    }
    let mut m = Matcher::builder();
    if let Some(url) = &settings.http {
        m = m.http(url.as_str());
    }
    if let Some(url) = &settings.https {
        m = m.https(url.as_str());
    }
    if let Some(list) = &settings.no_proxy {
        m = m.no(list.as_str());
    }
    Some(Arc::new(m.build()))
}

/// The proxy a plain-HTTP request to `uri` goes to in absolute form, when it goes through
/// one: its host and port (to name it), and the `Proxy-Authorization` value of its
/// credentials, if it has any. `None` for HTTPS (a tunnel sends its own credentials with
/// the `CONNECT`) and for hosts reached directly.
pub(crate) fn absolute_form(matcher: &Matcher, uri: &Uri) -> Option<(String, Option<HeaderValue>)> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let intercept = matcher.intercept(uri)?;
    Some((authority(intercept.uri()), intercept.basic_auth().cloned()))
}

/// A proxy's host and port: never its credentials.
fn authority(proxy: &Uri) -> String {
    proxy
        .authority()
        .map_or_else(String::new, ToString::to_string)
}

/// Why a proxy did not carry the request. Names the proxy by host and port only: its
/// credentials never appear.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The proxy answered 407.
    #[error("the proxy {0} requires authentication (407 Proxy Authentication Required)")]
    AuthRequired(String),
    /// The proxy answered the `CONNECT` with a status other than 200 and 407 (403, 502...).
    #[error("the proxy {0} refused the CONNECT tunnel")]
    Refused(String),
    /// Anything else: the proxy could not be reached, closed the connection...
    #[error("the proxy {proxy}: {source}")]
    Failed {
        /// The proxy's host and port.
        proxy: String,
        /// hyper-util's error.
        source: BoxError,
    },
}

/// Names a failed tunnel. hyper-util's tunnel error type is private; its message is the
/// only marker of a refusal.
fn tunnel_error(proxy: String, e: impl std::error::Error + Send + Sync + 'static) -> ProxyError {
    let message = e.to_string();
    if message.ends_with("proxy authorization required") {
        ProxyError::AuthRequired(proxy)
    } else if message.ends_with("unsuccessful") {
        ProxyError::Refused(proxy)
    } else {
        ProxyError::Failed {
            proxy,
            source: Box::new(e),
        }
    }
}

/// A connection made by [`ProxyConnector`]: TCP, to the service or to a proxy, the latter
/// marked as proxied when requests go to it in absolute form.
pub(crate) struct ProxyStream {
    io: TokioIo<TcpStream>,
    absolute_form: bool,
}

impl Connection for ProxyStream {
    #[inline]
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.absolute_form)
    }
}

impl Read for ProxyStream {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// The TCP connector under the TLS one: straight to the service, through a `CONNECT`
/// tunnel for HTTPS, or to the proxy for plain HTTP, as the matcher says.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    pub(crate) http: HttpConnector,
    pub(crate) matcher: Option<Arc<Matcher>>,
}

type Connecting = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // HttpConnector is always ready; the tunnel is made per connection below.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let Some(intercept) = intercept else {
            let connecting = self.http.call(dst);
            return Box::pin(async move {
                let io = connecting.await?;
                Ok(ProxyStream {
                    io,
                    absolute_form: false,
                })
            });
        };
        let proxy = authority(intercept.uri());
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(intercept.uri().clone(), self.http.clone());
            if let Some(auth) = intercept.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let connecting = tunnel.call(dst);
            Box::pin(async move {
                let io = connecting
                    .await
                    .map_err(|e| -> BoxError { Box::new(tunnel_error(proxy, e)) })?;
                Ok(ProxyStream {
                    io,
                    absolute_form: false,
                })
            })
        } else {
            let connecting = self.http.call(intercept.uri().clone());
            Box::pin(async move {
                let io = connecting.await.map_err(|e| -> BoxError {
                    Box::new(ProxyError::Failed {
                        proxy,
                        source: Box::new(e),
                    })
                })?;
                Ok(ProxyStream {
                    io,
                    absolute_form: true,
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_requests_carry_the_credentials() {
        let mut settings = swas_open_core::Proxies::default();
        settings.http = Some("http://user:pw@proxy:3128".into());
        settings.https = settings.http.clone();
        settings.no_proxy = Some("direct.example".into());
        let m = matcher(&settings).unwrap();
        let auth = |uri: &str| absolute_form(&m, &uri.parse().unwrap()).and_then(|(_, a)| a);
        assert_eq!(
            auth("http://swas.example/").unwrap(),
            HeaderValue::from_static("Basic dXNlcjpwdw==")
        );
        assert!(auth("http://swas.example/").unwrap().is_sensitive());
        assert_eq!(auth("https://swas.example/"), None);
        assert_eq!(auth("http://direct.example/"), None);
        let proxy = absolute_form(&m, &"http://swas.example/".parse().unwrap()).map(|(p, _)| p);
        assert_eq!(proxy.as_deref(), Some("proxy:3128"));
        assert!(matcher(&swas_open_core::Proxies::default()).is_none());
    }

    #[test]
    fn errors_name_the_proxy_without_credentials() {
        let e = ProxyError::AuthRequired("proxy:3128".into()).to_string();
        assert!(e.contains("proxy:3128") && e.contains("407"), "{e}");
        let e = ProxyError::Refused("proxy:3128".into()).to_string();
        assert!(e.contains("refused"), "{e}");
    }
}
