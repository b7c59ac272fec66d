//! A local Simple Application Server for `DeleteCustomImage` that really checks signatures.
//!
//! The emulator is an HTTP/1.1 server holding custom images in memory. It accepts requests
//! exactly as the official Alibaba Cloud SDKs send them (RPC signature V1 in the query or a
//! form body, by `GET` or `POST` on `/`; ACS3-HMAC-SHA256 (V3) with an `Authorization`
//! header; any header casing; percent-encoded queries; lowercase `Format=json`; the old SDKs'
//! empty `SignatureType=`), verifies them with the same core the clients sign with, and
//! answers with the service's status codes and JSON error bodies (`RequestId`, `HostId`,
//! `Code`, `Message`, `Recommend`). Faults can be injected on demand, and the images and
//! counters inspected, to test how a client copes.
//!
//! # Start it from blocking code
//! ```
//! use std::io::{Read, Write};
//! use swas_open_core::{Credentials, DeleteCustomImage, Endpoint, Nonce, Signer,
//!     SigningContext, Timestamp};
//! use swas_open_emulator::Emulator;
//!
//! let emulator = Emulator::builder()
//!     .access_key("my-access-key-id", "my-access-key-secret")
//!     .image("cn-hangzhou", "m-1")
//!     .start_blocking()?;
//!
//! // Point any client at `emulator.url()`; here, a request signed with the core and sent by hand.
//! let signer = Signer::new(Credentials::new("my-access-key-id", "my-access-key-secret")?);
//! let op = DeleteCustomImage::new("cn-hangzhou", "m-1")?;
//! let now = Timestamp::try_from(std::time::SystemTime::now())?;
//! let ctx = SigningContext::new(now, Nonce::new("doc-example-nonce")?);
//! let request = signer.sign(&op, &Endpoint::parse(&emulator.url())?, &ctx);
//!
//! let mut stream = std::net::TcpStream::connect(emulator.addr())?;
//! write!(
//!     stream,
//!     "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
//!     request.uri().path_and_query().map_or("/", |p| p.as_str()),
//!     emulator.addr(),
//! )?;
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
//!
//! assert!(!emulator.has_image("cn-hangzhou", "m-1"));
//! assert_eq!(emulator.stats().deletes, 1);
//! emulator.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//! In async code, `Emulator::builder()...start().await` runs it on the current tokio runtime.
//!
//! # What a request goes through
//! 1. Size: request line, headers and body together over [`EmulatorBuilder::max_request_bytes`]
//!    (64 KiB by default) -> 413 `RequestEntityTooLarge`. A body up to 1 MiB (or four times
//!    the limit) is read and discarded so the connection can carry the next request; a
//!    larger one is not read, and the connection is closed after the answer. A request
//!    target over 65,534 bytes gets a bare 414, a head too large even for the read buffer
//!    (400 KiB or the limit plus 16 KiB) a bare 431, and malformed HTTP a bare 400, each
//!    with the connection closed.
//! 2. A queued [`Fault`] of the kinds that act before authentication.
//! 3. Route: any path but `/`, or a method other than `GET` and `POST` -> 404
//!    `InvalidAction.NotFound`.
//! 4. Authentication, in this order: missing signature parts -> `MissingParameter` or
//!    `IncompleteSignature`; unknown AccessKey -> `InvalidAccessKeyId.NotFound`; bad
//!    signature -> `SignatureDoesNotMatch` (for V1 the message ends with
//!    `server string to sign is:<StringToSign>`); timestamp more than 15 minutes from the
//!    emulator's clock -> `InvalidTimeStamp.Expired`; nonce already used by that AccessKey
//!    -> `SignatureNonceUsed`; STS token other than the one registered with the key (or one
//!    sent with a plain key) -> `InvalidSecurityToken.MismatchWithAccessKey`.
//! 5. The operation: `Action` other than `DeleteCustomImage` -> 404 `InvalidAction.NotFound`;
//!    `Version` other than `2020-06-01` -> 400 `InvalidVersion`; an invalid `ClientToken` ->
//!    `InvalidParameter` (an empty one counts as absent); missing `RegionId` or `ImageId` ->
//!    `MissingParameter`; no such image in that region -> 404 `InvalidImageId.NotFound`; a
//!    shared image -> 400 `CustomImageInShare`; else the image is deleted: 200
//!    `{"RequestId":"..."}`.
//!
//! A `ClientToken` makes the call idempotent, per AccessKey id: sent again with the same
//! operation parameters, the first answer (same status, body and `RequestId`, errors
//! included) comes back and nothing is done again; with other parameters, 400
//! `IdempotentParameterMismatch`. The last 100,000 tokens are remembered.
//!
//! Nonces are remembered until their request's timestamp leaves the 15-minute window, so a
//! replay is always caught; at most 200,000 at once.
//!
//! `HostId` is the `Host` header received (else `swas.<region>.aliyuncs.com`); `Recommend` is
//! `https://api.alibabacloud.com/troubleshoot?q=<Code>&product=swas-open`; request ids are
//! uppercase UUID v4s, also sent as the `x-acs-request-id` header.
//!
//! # Faults
//! [`Emulator::inject`] queues a [`Fault`]; each API request takes at most one from the front
//! of the queue. [`Fault::error`], [`Fault::throttling`], [`Fault::html`] and
//! [`Fault::delay`] act before authentication (the first three answer at once; a delay then
//! handles the request normally); [`Fault::drop_after_commit`] and [`Fault::truncated`]
//! handle the request in full first (the delete happens), then close the connection without
//! an answer, or answer 200 with the first half of the JSON body. [`Fault::times`] repeats a
//! fault for the next `n` requests.
//!
//! # Admin routes
//! Under `/__emulator/`, JSON in and out, no authentication (the emulator is a local test
//! tool). Admin requests are not counted in [`Stats::requests`], take no fault and are not
//! logged; their connections are counted in [`Stats::connections`].
//! - `GET /__emulator/state`: `{"images":{"cn-hangzhou":[{"image_id":"m-1","shared":false}]},
//!   "stats":{"requests":0,"connections":1,"deletes":0},"pending_faults":0}`.
//! - `POST /__emulator/faults`: one fault object or an array of them; answers
//!   `{"queued":N,"pending_faults":M}`. Objects: `{"kind":"error","status":503,
//!   "code":"ServiceUnavailable"}`, `{"kind":"throttling","retry_after_ms":1000}`,
//!   `{"kind":"delay","ms":200}`, `{"kind":"drop_after_commit"}`,
//!   `{"kind":"html","status":502}` (status optional), `{"kind":"truncated"}`; each may add
//!   `"times":N`.
//! - `DELETE /__emulator/faults`: drops the pending faults; answers `{"cleared":N}`.
//! - `POST /__emulator/images`: `{"region":"cn-hangzhou","image_id":"m-2","shared":false}`
//!   adds an image.
//!
//! A bad admin body is answered 400 `{"error":"..."}`.
//!
//! # Counters
//! [`Stats::requests`] counts API requests received (whatever their outcome, faults
//! included), [`Stats::connections`] the TCP connections accepted, [`Stats::deletes`] the
//! images actually removed.
//!
//! # Log
//! With [`EmulatorBuilder::log_requests`], one line per API request on stderr:
//! `<METHOD> <action or -> <code or OK> <status> <latency ms>ms`, e.g.
//! `POST DeleteCustomImage InvalidImageId.NotFound 404 1ms`. Faults show as `Html`,
//! `Truncated`, or `Dropped -` for a connection closed without an answer. Nothing else of a
//! request is logged, so no secret or token ever is.
//!
//! # Binary
//! `swas-emulator --listen 127.0.0.1:0 --access-key ID:SECRET[:STS_TOKEN] --image
//! REGION:IMAGE_ID[:shared]` (both repeatable) prints `listening on http://HOST:PORT`, logs
//! requests to stderr and runs until killed. [`parse_access_key_spec`] and
//! [`parse_image_spec`] read those specs for any front end.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod auth;
mod emulator;
mod fault;
mod idempotency;
mod log;
mod nonce;
mod operation;
mod reply;
mod request;
mod server;
mod spec;
mod state;

pub use emulator::{Emulator, EmulatorBuilder, DEFAULT_MAX_REQUEST_BYTES};
pub use fault::{Fault, FaultKind};
pub use spec::{parse_access_key_spec, parse_image_spec};

/// What the emulator has seen so far; see [`Emulator::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// API requests received, whatever their outcome (admin routes excluded; bytes that never
    /// parse as an HTTP request are not a request).
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Images actually deleted.
    pub deletes: u64,
}
