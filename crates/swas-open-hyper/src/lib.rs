//! An async client for Alibaba Cloud Simple Application Server **DeleteCustomImage**
//! (`swas-open`, API version `2020-06-01`), on hyper 1, hyper-util's pooled client and
//! rustls, for tokio.
//!
//! All protocol work (validation, signing, parsing, the retry policy) happens in the
//! [sans-IO core](swas_open_core); this crate only moves bytes: it sends each signed request, reads the
//! answer (at most one byte past [`MAX_RESPONSE_BODY`]) and hands it back to the core's call driver.
//! Its API is the blocking client's (`swas-open-ureq`) with `.await` added: builder options,
//! errors, retries and credentials are the same, so switching is a one-line change.
//!
//! ```no_run
//! use swas_open::asynchronous::Client;
//! use swas_open::{Credentials, DeleteCustomImage};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Build once and share: a `Client` is cheap to clone and keeps its connections alive.
//!     let client = Client::builder()
//!         .credentials(Credentials::new("LTAI5t...", "secret")?)
//!         .build()?;
//!
//!     let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
//!     let output = client.delete_custom_image(&input).await?;
//!     println!("deleted, RequestId {}, ClientToken {}", output.request_id, output.client_token);
//!     Ok(())
//! }
//! ```
//!
//! # Credentials
//! Static credentials or any provider ([`ClientBuilder::credentials`]: an STS role,
//! OIDC/RRSA, the instance's RAM role, a credentials URI, or your own), a named profile of the aliyun CLI's config file
//! ([`ClientBuilder::profile`], every mode the README lists), or by default the official
//! chain: environment variables, OIDC, the aliyun CLI's config file, the
//! `~/.alibabacloud/credentials` ini file, the ECS instance RAM role, a credentials URI.
//! Fetched credentials are cached and refreshed ahead of their expiry, one fetch however
//! many calls wait for it; a failure is an [`ErrorKind::Credentials`] from the first call
//! that names every provider tried and why it failed, never a secret.
//!
//! # Endpoints
//! An explicit [`endpoint`](ClientBuilder::endpoint) always wins; else the
//! [`region`](ClientBuilder::region) given to the builder; else the region of each input.
//! Regional endpoints are public or VPC ([`EndpointKind`]); a region missing from the
//! published table still resolves by the pattern, with a `warn` event.
//!
//! # Retries are safe
//! Every call carries a `ClientToken`: the caller's, or a random UUID v4 made for the call.
//! The same token goes with every attempt of the call, while each attempt is signed afresh
//! (new timestamp and nonce). So a retried delete whose first attempt did reach the service
//! gets the service's idempotent replay of the first answer, never
//! `InvalidImageId.NotFound`. The retry policy ([`RetryPolicy`], 3 attempts by default)
//! retries throttling (at least as long as an `x-acs-retry-after` hint says), server errors,
//! proxies' 5xx pages, timeouts and connection failures; it never retries a client error.
//! Waits between attempts sleep on tokio's timer and never block a runtime thread.
//!
//! # Sharing and cancelling
//! [`Client`] is `Clone + Send + Sync`; clones share one connection pool, and the futures of
//! [`Client::delete_custom_image`] are `Send`, so calls can run concurrently on any tasks.
//! Dropping a call's future (a `select!`, a `tokio::time::timeout`) cancels it: a connection
//! with a request in flight is closed, never handed to another call, and the client stays
//! usable. The cancelled request may still have reached the service; repeating the call with
//! the same `ClientToken` ([`DeleteCustomImageOutput::client_token`] is only known on success, so set
//! one on the input when that matters) is safe.
//!
//! # HTTP
//! - HTTPS through rustls with the *ring* crypto provider, chosen explicitly (never the
//!   process-wide default), and the Mozilla (webpki) root certificates, plus those of
//!   [`add_root_certificate`](ClientBuilder::add_root_certificate), of `SSL_CERT_FILE`, and
//!   of the operating system with [`native_roots`](ClientBuilder::native_roots); host names
//!   are always verified; HTTP/1.1. Plain `http` is used only when an endpoint URL given to
//!   [`ClientBuilder::endpoint`] says `http://`.
//! - Connections are kept alive in a bounded pool: at most 128 idle connections per host,
//!   each closed after 10 s idle, under the idle timeouts of common load balancers, so the
//!   client rather than the server ends an idle connection.
//! - Error statuses come back as answers (their body holds the service error); redirects
//!   are never followed (a 3xx is [`ParseErrorKind::Redirect`], with its `Location`);
//!   bodies longer than [`MAX_RESPONSE_BODY`] are refused with [`ParseErrorKind::TooLarge`]
//!   after reading at most one byte more.
//! - Proxies: [`proxy`](ClientBuilder::proxy) and [`no_proxy`](ClientBuilder::no_proxy)
//!   (`"*"` turns proxies off), else `HTTPS_PROXY`, `HTTP_PROXY`,
//!   `ALL_PROXY` and `NO_PROXY` as curl reads them ([`Proxies`](swas_open_core::Proxies)).
//!   hyper-util's matcher decides, its tunnel connector carries HTTPS through `CONNECT`,
//!   and plain HTTP goes to the proxy in absolute form. Basic credentials from the proxy
//!   URL are sent as `Proxy-Authorization` and never shown. The connect timeout covers the
//!   tunnel too.
//!
//! # Timeouts and failures
//! hyper has no request timeout of its own: these bounds are tokio timers around each step.
//!
//! | Bound | Default | Covers | Error |
//! |---|---|---|---|
//! | [`connect_timeout`](ClientBuilder::connect_timeout) | 5 s | setting up a new connection: DNS lookup, TCP connect and TLS handshake (one budget) | [`ErrorKind::Timeout`] `{ kind: Connect }` |
//! | [`read_timeout`](ClientBuilder::read_timeout) | 10 s | getting a connection, sending the request and waiting for the status and headers; then reading the body (one budget each) | [`ErrorKind::Timeout`] `{ kind: Read }` |
//! | [`deadline`](ClientBuilder::deadline) | none | the whole call, attempts and waits between them | [`ErrorKind::Timeout`] `{ kind: Deadline }` |
//!
//! hyper-util's pool does not say when a request has got its connection, so the first
//! read budget also runs while a new connection is being set up: keep `read_timeout` above
//! `connect_timeout` (as the defaults are), or a slow connection set-up shows as a read
//! timeout. The retry policy treats both alike, since every attempt carries the call's
//! `ClientToken`. A retry whose wait would end past the deadline is not made: the call
//! returns the last attempt's error.
//!
//! A failure without an answer is an [`ErrorKind::Transport`] whose
//! [`kind`](swas_open_core::TransportFailure) says whether the request can have reached the
//! service:
//! - `Dns`: the host name did not resolve (recognised by hyper-util's "dns error" message,
//!   so best effort: it may show as `Connect`);
//! - `Connect`: refused, unreachable, or a proxy that refused (407, 403) or could not be
//!   reached: nothing was sent;
//! - `Tls`: the certificate was refused (unknown CA, wrong host name, expired): nothing
//!   was sent, and it is not retried; the source chain names the problem;
//! - `Reset`: the connection closed or broke before the whole answer arrived (including an
//!   answer cut off mid-body);
//! - `Other`: anything else (e.g. an answer that is not HTTP).
//!
//! The underlying error is the `source`.
//!
//! # Tracing and metrics
//! Each call runs in an `info` span `delete_custom_image` with OpenTelemetry-style fields
//! (`rpc.system` = `alibaba_cloud`, `rpc.service` = `swas-open`, `rpc.method` =
//! `DeleteCustomImage`, `cloud.region`, `server.address`, `server.port`, `swas.image_id`), so
//! a `tracing-opentelemetry` layer exports it without mapping. Each attempt ends with a
//! `debug` event `attempt finished` (fields `attempt`, `http.response.status_code`,
//! `alibaba_cloud.request_id`, `error.type`, `error`, `retry.delay_ms`, and `outcome`: `done`,
//! `retry`, `correct clock` or `fail`). A region missing from the published endpoint table
//! is a `warn` event. No secret, token or signature is ever recorded. With the core's
//! `metrics` feature, calls, attempts, retries, retry-budget refusals and latencies are
//! recorded through the `metrics` facade (names in the README's "In production" section).
//!
//! [`MAX_RESPONSE_BODY`]: swas_open_core::MAX_RESPONSE_BODY
//! [`ParseErrorKind::TooLarge`]: swas_open_core::ParseErrorKind::TooLarge
//! [`ParseErrorKind::Redirect`]: swas_open_core::ParseErrorKind::Redirect
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod proxy;
mod tls;
mod transport;

pub use client::{Client, ClientBuilder};
pub use swas_open_core::{
    CallOptions, ClientToken, Credentials, DeleteCustomImage, DeleteCustomImageOutput,
    EndpointKind, Error, ErrorCode, ErrorKind, RetryBudget, RetryPolicy, ServiceError,
    SignatureVersion, TimeoutKind, TransportFailure,
};
