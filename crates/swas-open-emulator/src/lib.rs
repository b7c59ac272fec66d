//! A local Simple Application Server for `DeleteCustomImage` that really checks signatures,
//! with the services credentials come from: STS, the ECS instance metadata service and a
//! credentials URI.
//!
//! The emulator is an HTTP/1.1 server (plain, or HTTPS with a certificate it generates)
//! holding custom images in memory. It accepts requests
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
//! use swas_open::sans_io::{Nonce, Signer, SigningContext, Timestamp};
//! use swas_open::{Credentials, DeleteCustomImage, Endpoint};
//! use swas_open::emulator::Emulator;
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
//! let request = signer.sign(&op, &emulator.url().parse::<Endpoint>()?, &ctx);
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
//! From the shell, `swas emulator` runs it (see `swas emulator --help`).
//!
//! # What a request goes through
//! 1. Size: request line, headers and body together over [`EmulatorBuilder::max_request_bytes`]
//!    (64 KiB by default) -> 413 `RequestEntityTooLarge`. A body up to 1 MiB (or four times
//!    the limit) is read and discarded so the connection can carry the next request; a
//!    larger one is not read, and the connection is closed after the answer. A request
//!    target over 65,534 bytes gets a bare 414, a head too large even for the read buffer
//!    (400 KiB or the limit plus 16 KiB) a bare 431, and malformed HTTP a bare 400, each
//!    with the connection closed.
//! 2. Route: `/latest/...` is IMDS, the credentials URI path (if configured) the credentials
//!    URI, `/` with `Action` `AssumeRole` or `AssumeRoleWithOIDC` and `Version=2015-04-01`
//!    (in the query, the form body, or `x-acs-action`/`x-acs-version`) STS; everything else
//!    SWAS's. The rest of this list is SWAS's path; the other services are described below.
//! 3. Over the [`EmulatorBuilder::rate_limit`] -> 400 `Throttling.User` (no fault is taken).
//!    Else a queued [`Fault`] of the kinds that act before authentication.
//! 4. Any path but `/`, or a method other than `GET` and `POST` -> 404
//!    `InvalidAction.NotFound`.
//! 5. Authentication, in this order: missing signature parts -> `MissingParameter` or
//!    `IncompleteSignature`; unknown AccessKey -> `InvalidAccessKeyId.NotFound`; bad
//!    signature -> `SignatureDoesNotMatch` (for V1 the message ends with
//!    `server string to sign is:<StringToSign>`); timestamp more than 15 minutes from the
//!    emulator's clock -> `InvalidTimeStamp.Expired`; nonce already used by that AccessKey
//!    -> `SignatureNonceUsed`; STS token other than the one registered with the key (or one
//!    sent with a plain key) -> `InvalidSecurityToken.MismatchWithAccessKey`; temporary
//!    credentials the emulator issued, past their expiration -> `InvalidSecurityToken.Expired`.
//! 6. The operation: `Action` other than `DeleteCustomImage` -> 404 `InvalidAction.NotFound`;
//!    `Version` other than `2020-06-01` -> 400 `InvalidVersion`; an invalid `ClientToken` ->
//!    `InvalidParameter` (an empty one counts as absent); missing `RegionId` or `ImageId` ->
//!    `MissingParameter`; no such image in that region -> 404 `InvalidImageId.NotFound`; a
//!    shared image -> 400 `CustomImageInShare`; else the image is deleted: 200
//!    `{"RequestId":"..."}`.
//!
//! A `ClientToken` makes the call idempotent, per account (not per AccessKey id: temporary
//! credentials get a new id at every refresh): sent again with the same operation
//! parameters, the first answer (same status, body and `RequestId`, errors included) comes
//! back and nothing is done again; with other parameters, 400 `IdempotentParameterMismatch`.
//! The last 100,000 tokens (or 64 MiB of them) are remembered. A long-term key belongs to
//! [`EmulatorBuilder::account`] unless [`EmulatorBuilder::key_account`] names another;
//! STS credentials to the assumed role's account; IMDS and credentials URI credentials to
//! [`EmulatorBuilder::account`]. Unset, the default account is one unnamed account.
//!
//! Nonces are remembered (as 32-byte digests) until their request's timestamp leaves the
//! 15-minute window, so a replay is always caught; at most 500,000 at once, past which new
//! signed requests get 503 `ServiceUnavailable` until older ones leave the window.
//!
//! `HostId` is the `Host` header received (else `swas.<region>.aliyuncs.com`); `Recommend` is
//! `https://api.alibabacloud.com/troubleshoot?q=<Code>&product=swas-open`; request ids are
//! uppercase UUID v4s, also sent as the `x-acs-request-id` header. Every answer the emulator
//! writes carries a `Date` header (IMF-fixdate) from its own clock, the one timestamps are
//! checked against: [`EmulatorBuilder::clock`], shifted by [`EmulatorBuilder::clock_skew`].
//!
//! # STS
//! `AssumeRole` is authenticated like a SWAS request (V1 in the query or a form body, `GET` or
//! `POST`, or V3), by a long-term key or by temporary credentials the emulator issued; then,
//! in this order (codes, statuses and messages in one table in the source):
//! `RoleArn` missing -> 400 `MissingParameter`, malformed -> 400 `InvalidParameter.RoleArn`;
//! `RoleSessionName` missing -> `MissingParameter`, not 2 to 64 of `[A-Za-z0-9.@_-]` -> 400
//! `InvalidParameter.RoleSessionName`; `Policy` not JSON -> 400
//! `InvalidParameter.PolicyGrammar`; a role not registered with [`EmulatorBuilder::role`] ->
//! 404 `EntityNotExist.Role`; a caller of a named account other than the role's, which the
//! role does not [trust](Role::trust_account) -> 403 `NoPermission`; `DurationSeconds`
//! (default 3600) outside 900..=the role's maximum -> 400 `InvalidParameter.DurationSeconds`;
//! the role's `ExternalId` not sent exactly -> 403 `NoPermission`.
//!
//! `AssumeRoleWithOIDC` is unsigned, but its `Timestamp` is checked as a signed call's:
//! missing -> 400 `MissingParameter`, malformed -> 400 `IllegalTimestamp`, more than 15
//! minutes from the emulator's clock -> 400 `InvalidTimeStamp.Expired`. Then `RoleArn`,
//! `RoleSessionName` as above; `OIDCProviderArn` and `OIDCToken` missing ->
//! `MissingParameter`; a malformed provider ARN -> 400 `InvalidParameter.OIDCProviderArn`; a
//! role with neither a registered token nor a [`Role`] -> 404 `EntityNotExist.Role`; no token
//! registered for that role and provider -> 401 `AuthenticationFail.NoPermission`; another
//! token -> 401 `AuthenticationFail.OIDCToken.Invalid`; a JWT-shaped token (three
//! base64url parts, a JSON object in the middle) whose `exp` has passed -> 401
//! `AuthenticationFail.OIDCToken.Expired`; for a provider registered with
//! [`EmulatorBuilder::oidc_provider`], a token that is not JWT-shaped or whose `iss` differs
//! -> 401 `AuthenticationFail.OIDCToken.Invalid`, whose `aud` names none of the audiences ->
//! 401 `AuthenticationFail.OIDCToken.AudienceNotMatch`; then `DurationSeconds` as above.
//!
//! With `Format=XML` (any case), both answer in XML (`text/xml`), errors included: the JSON
//! fields below as elements, under `AssumeRoleResponse`, `AssumeRoleWithOIDCResponse` or
//! `Error`. Both answer 200 `{"RequestId","AssumedRoleUser":{"Arn","AssumedRoleId"},"Credentials":
//! {"AccessKeyId":"STS.…","AccessKeySecret","SecurityToken","Expiration":
//! "YYYY-MM-DDThh:mm:ssZ"}}`. Errors have SWAS's body with `product=Sts` in `Recommend`.
//!
//! # IMDS
//! - `PUT /latest/api/token` with `X-aliyun-ecs-metadata-token-ttl-seconds` in 1..=21600:
//!   200 and a session token as plain text; else 400.
//! - `GET /latest/meta-data/ram/security-credentials/`: the [`EmulatorBuilder::instance_role`]
//!   name, as plain text.
//! - `GET /latest/meta-data/ram/security-credentials/<ROLE>`: 200 `{"AccessKeyId",
//!   "AccessKeySecret","SecurityToken","Expiration","LastUpdated","Code":"Success"}`, fresh
//!   credentials on every read (six hours unless configured otherwise).
//!
//! A read with an `X-aliyun-ecs-metadata-token` that is unknown or expired -> 401; without
//! one, in [`EmulatorBuilder::imds_v2_only`] mode -> 403. No instance role, another role name
//! or another path -> 404; another method -> 405.
//!
//! [`EmulatorBuilder::imds_listen`] adds a second listener, always plain HTTP, serving these
//! routes alone (anything else is 404 there), for clients that reach the metadata service
//! over HTTP and everything else over HTTPS; its credentials are accepted on the main
//! listener.
//!
//! # The credential services, from blocking code
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use swas_open::emulator::{Emulator, Role};
//!
//! let emulator = Emulator::builder()
//!     .access_key("long-term-id", "long-term-secret")
//!     // AssumeRole signed by that key may assume this role, for up to two hours.
//!     .role(Role::new("acs:ram::1234567890123456:role/deployer")
//!         .max_session_duration(Duration::from_secs(7200)))
//!     // AssumeRoleWithOIDC may assume another with this token.
//!     .oidc_token(
//!         "acs:ram::1234567890123456:role/pod",
//!         "acs:ram::1234567890123456:oidc-provider/ack-rrsa",
//!         "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
//!     )
//!     .instance_role("EcsRole")
//!     .credentials_uri("/credentials")
//!     .start_blocking()?;
//! // This project's clients: ALIBABA_CLOUD_STS_ENDPOINT and ALIBABA_CLOUD_IMDS_ENDPOINT:
//! // emulator.url();
//! // ALIBABA_CLOUD_CREDENTIALS_URI: the route below.
//! assert_eq!(
//!     emulator.credentials_uri().as_deref(),
//!     Some(format!("{}/credentials", emulator.url()).as_str())
//! );
//! let mut stream = std::net::TcpStream::connect(emulator.addr())?;
//! write!(stream, "GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer)?;
//! assert!(answer.contains(r#""Code":"Success""#), "{answer}");
//! assert_eq!(emulator.stats().credentials_issued, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Credentials URI
//! `GET` on the [`EmulatorBuilder::credentials_uri`] path: 200 `{"Code":"Success",
//! "AccessKeyId","AccessKeySecret","SecurityToken","Expiration"}`, fresh credentials each time
//! (six hours unless configured otherwise); another method -> 405.
//!
//! Every credential issued (STS, IMDS, URI) is accepted by SWAS and by `AssumeRole` until it
//! expires, with its own token only.
//!
//! # Faults
//! [`Emulator::inject`] queues a [`Fault`] for one [`Service`] (SWAS unless [`Fault::on`] says
//! otherwise); each request takes at most one from the front of its service's queue.
//! [`Fault::error`], [`Fault::throttling`], [`Fault::html`] and [`Fault::delay`] act before
//! authentication (the first three answer at once; a delay then handles the request
//! normally); [`Fault::drop_after_commit`] and [`Fault::truncated`] handle the request in full
//! first (the delete happens, credentials are issued), then close the connection without an
//! answer, or answer 200 with the first half of the body; [`Fault::expires_in`] waits for the
//! next request of its service that issues credentials and makes them expire that soon.
//! [`Fault::times`] repeats a fault for the next `n` requests.
//!
//! # Admin routes
//! Under `/__emulator/`, JSON in and out, no authentication (the emulator is a local test
//! tool). Admin requests are not counted in [`Stats`], take no fault and are not logged;
//! their connections are counted in [`Stats::connections`].
//! - `GET /__emulator/state`: `{"images":{"cn-hangzhou":[{"image_id":"m-1","shared":false}]},
//!   "stats":{"requests":0,"connections":1,"deletes":0,"sts_requests":0,"imds_requests":0,
//!   "credentials_uri_requests":0,"credentials_issued":0,"throttled":0},"pending_faults":0}`.
//! - `POST /__emulator/faults`: one fault object or an array of them; answers
//!   `{"queued":N,"pending_faults":M}`, or 429 when they would not all fit the queue (10,000
//!   faults or 1 MiB; then none is queued). Objects: `{"kind":"error","status":503,
//!   "code":"ServiceUnavailable"}`, `{"kind":"throttling","retry_after_ms":1000}`,
//!   `{"kind":"delay","ms":200}`, `{"kind":"drop_after_commit"}`,
//!   `{"kind":"html","status":502}` (status optional), `{"kind":"truncated"}`,
//!   `{"kind":"expires_in","secs":5,"service":"sts"}`; each may add `"times":N` and
//!   `"service"`: `"swas"` (the default), `"sts"`, `"imds"` or `"credentials_uri"`.
//! - `DELETE /__emulator/faults`: drops the pending faults; answers `{"cleared":N}`.
//! - `POST /__emulator/images`: `{"region":"cn-hangzhou","image_id":"m-2","shared":false}`
//!   adds an image.
//!
//! A bad admin body is answered 400 `{"error":"..."}`.
//!
//! # Counters
//! [`Stats::requests`] counts SWAS requests received (whatever their outcome, faults
//! included), [`Stats::sts_requests`], [`Stats::imds_requests`] and
//! [`Stats::credentials_uri_requests`] those of the other services the same way,
//! [`Stats::credentials_issued`] the temporary credentials handed out, [`Stats::connections`]
//! the TCP connections accepted, [`Stats::deletes`] the images actually removed,
//! [`Stats::throttled`] the SWAS requests answered with a throttling error.
//!
//! # Rate limit
//! [`EmulatorBuilder::rate_limit`] makes SWAS answer like a service over its quota: beyond a
//! token bucket of `per_second` tokens refilled at `per_second` a second, requests get 400
//! `Throttling.User` at once, before faults and authentication, so a test can watch how a
//! client behaves in a throttling storm. [`EmulatorBuilder::rate_clock`] steps the bucket's
//! clock by hand.
//!
//! # Log
//! With [`EmulatorBuilder::log_requests`], one line per request on stderr:
//! `<METHOD> <action or -> <code or OK> <status> <latency ms>ms`, e.g.
//! `POST DeleteCustomImage InvalidImageId.NotFound 404 1ms`; the action of STS requests is
//! theirs, of IMDS requests `ImdsToken`, `ImdsRoleName` or `ImdsCredentials`, of the
//! credentials URI `CredentialsUri`. Faults show as `Html`, `Truncated`, or `Dropped -` for a
//! connection closed without an answer. Nothing else of a request is logged, so no secret or
//! token ever is.
//!
//! # HTTPS
//! With [`EmulatorBuilder::tls`], the emulator generates a CA and a server certificate at
//! start (for `localhost`, `127.0.0.1`, `::1`, the listening address and every
//! [`EmulatorBuilder::tls_name`]), serves TLS 1.2 and 1.3 with rustls on the ring provider,
//! and [`Emulator::ca_pem`] gives the CA a client must trust.
//!
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod auth;
mod emulator;
mod fault;
mod idempotency;
mod images_file;
mod imds;
mod issued;
mod log;
mod nonce;
mod operation;
mod rate;
mod reply;
mod request;
mod server;
mod state;
mod sts;
mod tls;

pub use emulator::{Emulator, EmulatorBuilder, Role};
pub use fault::{Fault, FaultKind, Service};

/// The SHA-256 of `parts`, each length-prefixed so that no two lists of parts collide: what
/// the emulator remembers of a nonce or of a request's parameters, 32 bytes whatever they
/// held.
pub(crate) fn digest<'a>(parts: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// What the emulator has seen so far; see [`Emulator::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// SWAS requests received, whatever their outcome (admin routes excluded; bytes that
    /// never parse as an HTTP request are not a request).
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Images actually deleted.
    pub deletes: u64,
    /// STS requests (`AssumeRole`, `AssumeRoleWithOIDC`) received, whatever their outcome.
    pub sts_requests: u64,
    /// IMDS requests (under `/latest/`, token requests included) received.
    pub imds_requests: u64,
    /// Credentials URI requests received.
    pub credentials_uri_requests: u64,
    /// Temporary credentials issued, by STS, IMDS and the credentials URI together.
    pub credentials_issued: u64,
    /// SWAS requests answered with a throttling error: over the
    /// [`EmulatorBuilder::rate_limit`], or by a [`Fault::throttling`].
    pub throttled: u64,
}
