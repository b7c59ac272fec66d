//! A blocking client for Alibaba Cloud Simple Application Server **DeleteCustomImage**
//! (`swas-open`, API version `2020-06-01`), on [`ureq`](https://docs.rs/ureq/3) 3 with rustls.
//!
//! All protocol work (validation, signing, parsing, the retry policy) happens in the
//! [sans-IO core](swas_open_core); this crate only moves bytes: it sends each signed request, reads the
//! answer (at most one byte past [`MAX_RESPONSE_BODY`]) and hands it back to the core's call driver.
//!
//! ```no_run
//! use swas_open::blocking::Client;
//! use swas_open::{Credentials, DeleteCustomImage};
//!
//! // Build once and share: a `Client` is cheap to clone and keeps its connections alive.
//! let client = Client::builder()
//!     .credentials(Credentials::new("LTAI5t...", "secret")?)
//!     .build()?;
//!
//! let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
//! let output = client.delete_custom_image(&input)?;
//! println!("deleted, RequestId {}, ClientToken {}", output.request_id, output.client_token);
//! # Ok::<(), Box<dyn std::error::Error>>(())
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
//! # Retries are safe
//! Every call carries a `ClientToken`: the caller's, or a random UUID v4 made for the call.
//! The same token goes with every attempt of the call, while each attempt is signed afresh
//! (new timestamp and nonce). So a retried delete whose first attempt did reach the service
//! gets the service's idempotent replay of the first answer, never
//! `InvalidImageId.NotFound`. The retry policy ([`RetryPolicy`], 3 attempts by default)
//! retries throttling (at least as long as an `x-acs-retry-after` hint says), server errors,
//! proxies' 5xx pages, timeouts and connection failures; it never retries a client error.
//!
//! # HTTP
//! - HTTPS through rustls with the *ring* crypto provider, chosen explicitly, and the
//!   Mozilla (webpki) root certificates, plus those of
//!   [`add_root_certificate`](ClientBuilder::add_root_certificate), of `SSL_CERT_FILE`, and
//!   of the operating system with [`native_roots`](ClientBuilder::native_roots). Host names
//!   are always verified. Plain `http` is used only when an endpoint URL given to
//!   [`ClientBuilder::endpoint`] says `http://`.
//! - Error statuses come back as answers (their body holds the service error); redirects
//!   are never followed (a 3xx is [`ParseErrorKind::Redirect`], with its `Location`);
//!   bodies longer than [`MAX_RESPONSE_BODY`] are refused with [`ParseErrorKind::TooLarge`]
//!   after reading at most one byte more.
//! - Proxies: [`proxy`](ClientBuilder::proxy) and [`no_proxy`](ClientBuilder::no_proxy)
//!   (`"*"` turns proxies off), else `HTTPS_PROXY`, `HTTP_PROXY`,
//!   `ALL_PROXY` and `NO_PROXY` as curl reads them ([`Proxies`](swas_open_core::Proxies)), with the
//!   same decisions as the async client (hyper-util's matcher). ureq's own reading of the
//!   variables is off. Requests go through `CONNECT` tunnels, plain HTTP ones too (ureq
//!   writes no absolute-form request); Basic credentials from the proxy URL are sent as
//!   `Proxy-Authorization` and never shown.
//!
//! # Timeouts and failures
//! | Bound | Default | Covers | Error |
//! |---|---|---|---|
//! | [`connect_timeout`](ClientBuilder::connect_timeout) | 5 s | TCP connect and TLS handshake, together | [`ErrorKind::Timeout`] `{ kind: Connect }` |
//! | [`read_timeout`](ClientBuilder::read_timeout) | 10 s | sending the request; waiting for the status and headers; reading the body (one budget each) | [`ErrorKind::Timeout`] `{ kind: Read }` |
//! | [`deadline`](ClientBuilder::deadline) | none | the whole call, attempts and waits between them | [`ErrorKind::Timeout`] `{ kind: Deadline }` |
//!
//! The DNS lookup is bounded by the system resolver's own timeouts and by the deadline, not
//! by the connect timeout: ureq looks the host up before every request, even on a pooled
//! connection, and a lookup under a timeout of its own runs on a new thread, which costs
//! more than the rest of a call on a fast network.
//!
//! A failure without an answer is an [`ErrorKind::Transport`] whose
//! [`kind`](swas_open_core::TransportFailure) says whether the request can have reached the
//! service: `Dns` (the name did not resolve; detected from the system resolver's message,
//! so best effort: it may show as `Other`), `Connect` (refused, unreachable, or a proxy
//! that refused the tunnel: nothing was sent), `Tls` (the certificate was refused: unknown
//! CA, wrong host name, expired; nothing was sent, and it is not retried), `Reset` (the connection broke, possibly mid-answer), or
//! `Other` (e.g. an answer that is not HTTP). The underlying error is the `source`.
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
