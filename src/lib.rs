//! **swas-open**: Alibaba Cloud Simple Application Server `DeleteCustomImage`, exact on the
//! wire, in sync and async Rust.
//!
//! One dependency for users; the parts live in their own crates:
//! - [`sans_io`] (always): the signer, the parser and the client builder; no sockets,
//!   clock or randomness inside. Its everyday types are re-exported here. With feature
//!   `transport` (which both clients enable), also its transport kit: the call state
//!   machine and what drives it, for a transport of your own.
//! - [`blocking`] (feature `blocking`, default): a client on `ureq`.
//! - [`asynchronous`] (feature `async`): a client on `hyper` + `tokio`.
//! - [`emulator`] (feature `emulator`): a local service that verifies signatures, for tests.
//! - feature `metrics`: counters and histograms through the `metrics` facade.
//!
//! ```
//! use swas_open::{DeleteCustomImage, ErrorCode, ErrorKind, InputError};
//!
//! let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
//! assert_eq!(input.image_id().as_str(), "m-2zehv38jjmwva1ee****");
//!
//! // Errors carry what the service said: match on the code, not the status.
//! # let e = swas_open::Error::from(ErrorKind::Service(Box::new(swas_open::ServiceError::new(
//! #     swas_open::sans_io::http::StatusCode::BAD_REQUEST, ErrorCode::CustomImageInShare, "shared"))));
//! match e.kind() {
//!     ErrorKind::Service(s) if s.code == ErrorCode::CustomImageInShare => { /* unshare first */ }
//!     _ => {}
//! }
//! # Ok::<(), InputError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The sans-IO core: signing, parsing, the shared client builder, and (feature `transport`)
/// the call state machine.
/// (Named so that it does not shadow the standard `::core`.)
#[doc(inline)]
pub use swas_open_core as sans_io;
pub use swas_open_core::{
    BoxError, CallOptions, ClientToken, Credentials, CredentialsError, CredentialsProvider,
    DeleteCustomImage, DeleteCustomImageOutput, Endpoint, EndpointError, EndpointKind, Error,
    ErrorCode, ErrorKind, InputError, ProvideCredentials, RetryBudget, RetryPolicy, RoleOptions,
    ServiceError, SignatureVersion, TimeoutKind, TransportFailure,
};

/// The blocking client on `ureq`.
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
#[doc(inline)]
pub use swas_open_ureq as blocking;

/// The async client on `hyper` and `tokio`.
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
#[doc(inline)]
pub use swas_open_hyper as asynchronous;

/// The local emulator.
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
#[doc(inline)]
pub use swas_open_emulator as emulator;
