//! The HTTP/1.1 server: accept loop, connections, graceful shutdown, and the path of one API
//! request through size limits, faults, authentication and the operation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use swas_open_core::{ErrorCode, RegionId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fault::FaultKind;
use crate::reply::{message_for, Answer, Ctx};
use crate::request::{self, Body};
use crate::state::Shared;
use crate::{admin, auth, log, operation};

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

/// Accepts connections until shutdown, then lets them finish (within [`GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
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
                    connections.spawn(connection(stream, shared.clone(), shutdown.clone()));
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

async fn connection(stream: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let limit = shared.config.max_request_bytes;
    let service = service_fn(move |request| handle(shared.clone(), request));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        // Heads past the request limit still fit the buffer, so they get the JSON 413 rather
        // than hyper's bare 431, up to this much.
        .max_buf_size(limit.saturating_add(16 * 1024).max(400 * 1024));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopping(&mut shutdown) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

async fn handle(
    shared: Arc<Shared>,
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
        let mut response = admin::handle(&shared, &parts.method, parts.uri.path(), bytes);
        if body.must_close() {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        return Ok(response);
    }

    let started = Instant::now();
    shared.count_request();
    let fault = shared.take_fault();
    let log = shared.config.log_requests.then(|| {
        (
            parts.method.as_str().to_owned(),
            request::claimed_action(&parts),
        )
    });
    let write_log = |outcome: &str, status: &str| {
        if let Some((method, action)) = &log {
            log::line(method, action, outcome, status, started.elapsed());
        }
    };

    let Ok(body) = request::read_body(body, keep, drain_cap).await else {
        write_log("Aborted", "-");
        return Err(Dropped);
    };
    let region =
        request::query_param(&parts.uri, "RegionId").filter(|r| RegionId::new(r.as_str()).is_ok());
    let ctx = Ctx::new(&parts.headers, region.as_deref());

    let mut after = None;
    let early = match fault {
        Some(FaultKind::Error { status, code }) => {
            let code = ErrorCode::from(code);
            let message = message_for(&code);
            Some(Answer::error(
                &ctx,
                status_or(status, StatusCode::INTERNAL_SERVER_ERROR),
                code,
                message,
            ))
        }
        Some(FaultKind::Throttling { retry_after_ms }) => {
            let mut answer = Answer::coded(&ctx, ErrorCode::Throttling);
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
    let mut answer = match early {
        Some(answer) => answer,
        None => api(&shared, &ctx, parts, body),
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

/// Normal handling: size, route, authentication, then the operation.
fn api(shared: &Shared, ctx: &Ctx, parts: http::request::Parts, body: Body) -> Answer {
    let limit = shared.config.max_request_bytes;
    let body = match body {
        Body::Complete(b) if request::head_size(&parts) <= limit => b,
        _ => {
            return Answer::error(
                ctx,
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::RequestEntityTooLarge,
                format!("The request is larger than {limit} bytes."),
            )
        }
    };
    if parts.uri.path() != "/" || !(parts.method == Method::POST || parts.method == Method::GET) {
        return Answer::coded(ctx, ErrorCode::InvalidActionNotFound);
    }
    let request = Request::from_parts(parts, body);
    match auth::authenticate(shared, ctx, &request) {
        Ok(verified) => operation::handle(shared, ctx, &verified),
        Err(answer) => answer,
    }
}

/// `status` if it is a final status a client can be sent, else `fallback`.
fn status_or(status: u16, fallback: StatusCode) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(fallback)
}
