//! The HTTP/1.1 server (plain or TLS): accept loop, connections, graceful shutdown, routing to
//! the services, and the path of one request through size limits, faults, authentication and
//! the operation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::DATE;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use swas_open_core::{ErrorCode, RegionId};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::fault::{FaultKind, Service};
use crate::reply::{message_for, Answer, Ctx};
use crate::request::{self, Body};
use crate::state::Shared;
use crate::{admin, auth, imds, log, operation, sts};

/// How long in-flight requests may run on after shutdown before they are cut off.
const GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection closed without an answer")]
struct Dropped;

/// Resolves once shutdown is requested (or the handle that could request it is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every service and the admin routes.
    All,
    /// The instance metadata service alone (`/latest/...`); anything else is 404.
    Metadata,
}

/// Accepts connections until shutdown, then lets them finish (within [`GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    scope: Scope,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = stopping(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.count_connection();
                    let _ = stream.set_nodelay(true);
                    let (shared, shutdown) = (shared.clone(), shutdown.clone());
                    match tls.clone() {
                        None => connections.spawn(connection(TokioIo::new(stream), shared, scope, shutdown)),
                        Some(acceptor) => connections.spawn(async move {
                            // A handshake that fails or stalls ends the connection, nothing else.
                            let handshake = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream));
                            if let Ok(Ok(stream)) = handshake.await {
                                connection(TokioIo::new(stream), shared, scope, shutdown).await;
                            }
                        }),
                    };
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drained).await.is_err() {
        connections.shutdown().await;
    }
}

async fn connection<I>(
    io: I,
    shared: Arc<Shared>,
    scope: Scope,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let limit = shared.config.max_request_bytes;
    let service = service_fn(move |request| handle(shared.clone(), scope, request));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        // The `Date` header comes from the emulator's own clock.
        .auto_date_header(false)
        // Heads past the request limit still fit the buffer, so they get the JSON 413 rather
        // than hyper's bare 431, up to this much.
        .max_buf_size(limit.saturating_add(16 * 1024).max(400 * 1024));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopping(&mut shutdown) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Answers one request, with a `Date` from the emulator's clock.
async fn handle(
    shared: Arc<Shared>,
    scope: Scope,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let mut response =
        if scope == Scope::Metadata && !request.uri().path().starts_with(imds::PREFIX) {
            let mut response = imds::not_found().into_response();
            // The body is left unread.
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            response
        } else {
            answer(&shared, request).await?
        };
    response.headers_mut().insert(DATE, shared.http_date());
    Ok(response)
}

/// Which service a request is for.
enum Route {
    Swas,
    Sts(sts::Action, Vec<(String, String)>),
    Imds(imds::Route),
    CredentialsUri,
}

impl Route {
    /// Routes by path, then (on `/`) by STS's action and version; everything else is SWAS's.
    fn of(shared: &Shared, parts: &Parts, body: Option<&[u8]>) -> Route {
        let path = parts.uri.path();
        if path.starts_with(imds::PREFIX) {
            return Route::Imds(imds::Route::of(&parts.method, path));
        }
        if shared.config.credentials_uri.as_deref() == Some(path) {
            return Route::CredentialsUri;
        }
        // Cheap first: STS requests name its version, which no encoder escapes.
        let names_version = |b: &[u8]| b.windows(4).any(|w| w == b"2015");
        let maybe_sts = parts.headers.contains_key("x-acs-version")
            || names_version(parts.uri.query().unwrap_or("").as_bytes())
            || body.is_some_and(names_version);
        if path == "/" && maybe_sts {
            let params = request::params(parts, body);
            if let Some(action) = sts::Action::of(&parts.headers, &params) {
                return Route::Sts(action, params);
            }
        }
        Route::Swas
    }

    fn service(&self) -> Service {
        match self {
            Route::Swas => Service::Swas,
            Route::Sts(..) => Service::Sts,
            Route::Imds(_) => Service::Imds,
            Route::CredentialsUri => Service::CredentialsUri,
        }
    }

    /// The log's action column.
    fn action(&self, parts: &Parts) -> String {
        match self {
            Route::Swas => request::claimed_action(parts),
            Route::Sts(action, _) => action.name().to_owned(),
            Route::Imds(route) => route.name().to_owned(),
            Route::CredentialsUri => "CredentialsUri".to_owned(),
        }
    }
}

async fn answer(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let limit = shared.config.max_request_bytes;
    let drain_cap = limit.saturating_mul(4).max(1 << 20);
    let keep = limit.saturating_sub(request::head_size(&parts));

    if admin::is_admin(parts.uri.path()) {
        let body = request::read_body(body, keep, drain_cap)
            .await
            .map_err(|_| Dropped)?;
        let bytes = match &body {
            Body::Complete(b) => Some(&b[..]),
            Body::TooLarge { .. } => None,
        };
        let mut response = admin::handle(shared, &parts.method, parts.uri.path(), bytes);
        if body.must_close() {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        return Ok(response);
    }

    let started = Instant::now();
    let arrived = shared.rate_now();
    let body = request::read_body(body, keep, drain_cap).await;
    let complete = match &body {
        Ok(Body::Complete(b)) => Some(&b[..]),
        _ => None,
    };
    let route = Route::of(shared, &parts, complete);
    let service = route.service();
    shared.count_request(service);
    let limited = service == Service::Swas && shared.over_rate_limit(arrived);
    let fault = if limited {
        None
    } else {
        shared.take_fault(service)
    };
    let log = shared
        .config
        .log_requests
        .then(|| (parts.method.as_str().to_owned(), route.action(&parts)));
    let write_log = |outcome: &str, status: &str| {
        if let Some((method, action)) = &log {
            log::line(method, action, outcome, status, started.elapsed());
        }
    };
    let Ok(body) = body else {
        write_log("Aborted", "-");
        return Err(Dropped);
    };
    let ctx = match &route {
        Route::Swas => {
            let region =
                request::query_param(&parts.uri, "RegionId").and_then(|r| RegionId::new(r).ok());
            Ctx::new(&parts.headers, region.as_ref())
        }
        Route::Sts(..) => Ctx::sts(&parts.headers),
        Route::Imds(_) | Route::CredentialsUri => Ctx::new(&parts.headers, None),
    };

    if service == Service::Swas && (limited || matches!(fault, Some(FaultKind::Throttling { .. })))
    {
        shared.count_throttled();
    }
    let mut after = None;
    let early = match fault {
        _ if limited => Some(Answer::coded(&ctx, ErrorCode::ThrottlingUser)),
        Some(FaultKind::Error { status, code }) => Some(error_answer(
            service,
            &ctx,
            status_or(status, StatusCode::INTERNAL_SERVER_ERROR),
            code,
        )),
        Some(FaultKind::Throttling { retry_after_ms }) => {
            let mut answer = match service {
                Service::Swas | Service::Sts => Answer::coded(&ctx, ErrorCode::Throttling),
                _ => error_answer(
                    service,
                    &ctx,
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::Throttling,
                ),
            };
            answer.retry_after_ms = Some(retry_after_ms);
            Some(answer)
        }
        Some(FaultKind::Html { status }) => {
            Some(Answer::html(status_or(status, StatusCode::BAD_GATEWAY)))
        }
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            None
        }
        other => {
            after = other;
            None
        }
    };
    let must_close = body.must_close();
    let mut answer = match (early, &route) {
        // An injected error is written as the caller asked, as STS's own errors are.
        (Some(answer), Route::Sts(_, params)) if sts::wants_xml(params) => answer.into_xml("Error"),
        (Some(answer), _) => answer,
        (None, _) => dispatch(shared, &ctx, parts, body, route),
    };
    answer.close |= must_close;
    match after {
        Some(FaultKind::DropAfterCommit) => {
            write_log("Dropped", "-");
            return Err(Dropped);
        }
        Some(FaultKind::Truncated) => answer = answer.truncated(),
        _ => {}
    }
    write_log(answer.outcome(), answer.status.as_str());
    Ok(answer.into_response())
}

/// An injected error, in the form `service` answers errors.
fn error_answer(service: Service, ctx: &Ctx, status: StatusCode, code: ErrorCode) -> Answer {
    match service {
        Service::Imds => imds::error(status, code.as_str(), false),
        Service::CredentialsUri => imds::error(status, code.as_str(), true),
        _ => {
            let message = message_for(&code);
            Answer::error(ctx, status, code, message)
        }
    }
}

/// Normal handling: size, then the service's own checks.
fn dispatch(shared: &Shared, ctx: &Ctx, parts: Parts, body: Body, route: Route) -> Answer {
    let limit = shared.config.max_request_bytes;
    let body = match body {
        Body::Complete(b) if request::head_size(&parts) <= limit => b,
        _ => {
            return Answer::error(
                ctx,
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::RequestEntityTooLarge,
                &format!("The request is larger than {limit} bytes."),
            )
        }
    };
    let rpc_method = parts.method == Method::POST || parts.method == Method::GET;
    match route {
        Route::Imds(route) => imds::handle(shared, ctx, &route, &parts.headers),
        Route::CredentialsUri => imds::credentials_uri(shared, ctx, &parts.method),
        Route::Sts(..) | Route::Swas if !rpc_method => {
            Answer::coded(ctx, ErrorCode::InvalidActionNotFound)
        }
        Route::Sts(action, params) => {
            let request = Request::from_parts(parts, body);
            sts::handle(shared, ctx, action, &request, &params)
        }
        Route::Swas => {
            if parts.uri.path() != "/" {
                return Answer::coded(ctx, ErrorCode::InvalidActionNotFound);
            }
            let request = Request::from_parts(parts, body);
            match auth::authenticate(shared, ctx, &request) {
                Ok(authenticated) => operation::handle(shared, ctx, &authenticated),
                Err(answer) => answer,
            }
        }
    }
}

/// `status` if it is a final status a client can be sent, else `fallback`.
fn status_or(status: u16, fallback: StatusCode) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(fallback)
}
