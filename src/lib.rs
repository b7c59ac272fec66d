//! **swas-open**: Alibaba Cloud Simple Application Server `DeleteCustomImage`, exact on the
//! wire, in sync and async Rust.
//!
//! One dependency for users; the parts live in their own crates:
//! - [`core`] (always): the sans-IO signer and parser, no sockets, clock or randomness.
//! - [`blocking`] (feature `blocking`, default): a client on `ureq`.
//! - [`asynchronous`] (feature `async`): a client on `hyper` + `tokio`.
//! - [`emulator`] (feature `emulator`): a local service that verifies signatures, for tests.
//!
//! ```
//! use swas_open::core::DeleteCustomImage;
//! let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
//! assert_eq!(input.image_id().as_str(), "m-2zehv38jjmwva1ee****");
//! # Ok::<(), swas_open::core::InputError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use swas_open_core as core;
pub use swas_open_core::{
    ClientToken, Credentials, DeleteCustomImage, DeleteOutput, Error, RetryPolicy, SignatureVersion,
};

/// The blocking client on `ureq`.
#[cfg(feature = "blocking")]
pub use swas_open_ureq as blocking;

/// The async client on `hyper` and `tokio`.
#[cfg(feature = "async")]
pub use swas_open_hyper as asynchronous;

/// The local emulator.
#[cfg(feature = "emulator")]
pub use swas_open_emulator as emulator;
