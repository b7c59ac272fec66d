//! The sans-IO core of `swas-open`: Alibaba Cloud Simple Application Server
//! (`swas-open`, API version `2020-06-01`) **DeleteCustomImage**, exact on the wire.
//!
//! This crate turns validated inputs into signed [`http::Request`] values and parses
//! [`http::Response`] values into typed results. It opens no socket, reads no clock and
//! draws no random number: the timestamp and nonce of a request come in as values
//! ([`SigningContext`]), so every function here is pure and testable byte for byte.
//! Transports (blocking, async) and the local emulator are thin layers on top of it.
//!
//! # One call, step by step
//! ```
//! use swas_open::sans_io::{
//!     http, parse_delete_custom_image, Nonce, Signer, SigningContext, Timestamp,
//! };
//! use swas_open::{Credentials, DeleteCustomImage, Endpoint, EndpointKind};
//!
//! // 1. Validated input: errors name the field and the rule.
//! let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?
//!     .with_client_token("123e4567-e89b-12d3-a456-426655440000")?;
//!
//! // 2. Sign: time and nonce are inputs, so this is a pure function.
//! let signer = Signer::new(Credentials::new("testid", "testsecret")?);
//! let endpoint = Endpoint::for_region(input.region_id(), EndpointKind::Public);
//! let ctx = SigningContext::new(
//!     "2016-02-23T12:46:24Z".parse::<Timestamp>()?,
//!     Nonce::new("3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf")?,
//! );
//! let request = signer.sign(&input, &endpoint, &ctx);
//! assert_eq!(request.method(), http::Method::POST);
//! assert!(request.uri().query().unwrap().ends_with("&Signature=pHkmGF6UsUWmR2zuoI4pomnKg9Q%3D"));
//!
//! // 3. A transport sends it; 4. the core parses the answer.
//! let response = http::Response::builder()
//!     .status(200)
//!     .body(r#"{"RequestId":"30637AD6-D977-4833-A54C-CC89483E****"}"#)?;
//! let request_id = parse_delete_custom_image(&response)?;
//! assert_eq!(request_id, "30637AD6-D977-4833-A54C-CC89483E****");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is here
//! - Inputs: [`DeleteCustomImage`] and its validated parts ([`RegionId`], [`ImageId`],
//!   [`ClientToken`]); errors name the field and the rule.
//! - [`Credentials`], whose secret and token never print, and the [`CredentialsProvider`]s
//!   that obtain them (the default chain, STS roles, the ECS RAM role, a credentials URI),
//!   cached and refreshed.
//! - [`Endpoint`]: region to endpoint, or an explicit URL.
//! - [`Signer`] and [`SigningContext`]: RPC signature V1 (HMAC-SHA1) and ACS3-HMAC-SHA256 (V3).
//! - [`parse_delete_custom_image`]: the answer's `RequestId`, or its [`ServiceError`] or
//!   [`ParseError`] ([`AnswerError`]).
//! - [`RetryPolicy`] and the client's [`RetryBudget`]; [`CallOptions`] for one call's own
//!   deadline and `ClientToken`.
//! - [`ClientBuilder`]: the options every client shares, whatever its transport, resolved
//!   into a [`Config`] for the client named by [`FromConfig`].
//! - [`Error`]: the one error every client returns; its [`ErrorKind`] names a
//!   [`TransportFailure`] or a [`TimeoutKind`] when no answer came.
//!
//! # Features
//! - `transport`: the transport kit, what only a transport calls; both clients of
//!   `swas-open` enable it. `Call`, one call with retries, and `Fetch`, one refresh of a
//!   client's credentials, are `Exchange`s that a transport drives step by step (`Step`,
//!   from `Readings` of its clocks and randomness), sending each `Outgoing` request;
//!   `CurrentSigner` signs alone (a dry run); `Config` then opens its time bounds, its
//!   `Proxies`, its credentials hooks and its clock offset; `TransportFailure::from_io`
//!   classes an I/O error. A program that signs and parses, or builds a client of
//!   `swas-open`, names none of these.
//! - `tls`: the roots both clients trust (`extra_root_certificates`) and their rustls
//!   crypto provider (`crypto_provider`); implies `transport`.
//! - `verify`: `verify_request`, the server's half, used by the emulator.
//! - `metrics`: counters and histograms through the `metrics` facade, recorded by calls.
//!
//! Feature `workspace-internals` is no part of the API: it serves this workspace's
//! emulator, CLI and test kit, is not covered by semver, and its items are hidden.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The transport kit (feature `transport`) is what runs a call. Its own modules (the call, the
// exchange contract, the metrics of a call, the credentials' access and fetch) are compiled
// only with it. The machinery it shares with the rest stays compiled without it but is never
// called: the providers' fetch machines beside the configuration their constructors build,
// the retry and clock state a resolved `Config` holds, the signing and redaction helpers of
// its requests. Hence this allowance, as tokio makes for the building blocks of its features.
// It hides nothing: features only add uses, so an item unused in a build with `transport`
// (CI lints the core with the kit alone, and with every feature) is reported there.
#![cfg_attr(not(feature = "transport"), allow(dead_code))]

mod adaptive;
mod buf;
#[cfg(feature = "transport")]
mod call;
mod config;
mod credentials;
mod credentials_error;
mod encode;
mod endpoint;
mod error;
#[cfg(feature = "transport")]
mod exchange;
mod input;
mod keys;
#[cfg(feature = "transport")]
mod metrics;
mod network;
mod response;
mod retry;
mod rng;
mod shared;
mod sign;
mod time;
mod transport;
#[cfg(feature = "verify")]
mod verify;

// The transport kit (feature `transport`): what only a transport names.
pub use config::{CallOptions, ClientBuilder, Config, FromConfig};
pub use credentials::{CredentialsProvider, ProvideCredentials, RoleOptions};
pub use credentials_error::{CredentialsError, Refusal};
pub use endpoint::{Endpoint, EndpointError, EndpointKind};
pub use error::{Error, ErrorKind};
pub use http;
pub use input::{ClientToken, DeleteCustomImage, ImageId, InputError, RegionId};
pub use keys::Credentials;
#[cfg(feature = "transport")]
#[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
pub use {
    call::Call,
    credentials::{access::CurrentSigner, fetch::Fetch},
    exchange::{Exchange, Readings, Step},
    network::Proxies,
    transport::Outgoing,
};
// The roots both clients trust, as rustls values (feature `tls`).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use {config::extra_root_certificates, network::crypto_provider};
// What `verify_request`'s key lookup returns (feature `verify`); otherwise only for this
// workspace's emulator and CLI (feature `workspace-internals`, hidden, not covered by semver).
#[cfg(any(feature = "verify", feature = "workspace-internals"))]
#[cfg_attr(not(feature = "verify"), doc(hidden))]
pub use keys::Secret;
pub use response::{
    parse_delete_custom_image, AnswerError, DeleteCustomImageOutput, ErrorCode, ParseError,
    ParseErrorKind, ServiceError, MAX_RESPONSE_BODY,
};
pub use retry::{RetryBudget, RetryPolicy};
/// The JSON crate of [`ServiceError::access_denied_detail`]'s value.
pub use serde_json;
pub use sign::{Nonce, SignatureVersion, Signer, SigningContext};
pub use time::{Timestamp, TimestampError};
pub use transport::{BoxError, TimeoutKind, TransportFailure};
#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub use verify::{verify_request, Verified, VerifyError};

/// The product code of Simple Application Server.
pub const PRODUCT: &str = "swas-open";
/// The API version this crate speaks.
pub const API_VERSION: &str = "2020-06-01";
/// The one action this crate speaks.
pub const ACTION: &str = "DeleteCustomImage";
