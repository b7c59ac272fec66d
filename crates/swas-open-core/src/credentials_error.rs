//! Why no usable credentials could be had, as a type: what the user must fix, what a service
//! refused, and what a service could not answer (worth trying again).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::input::InputError;
use crate::transport::BoxError;

/// The variable of the environment's AccessKey id, read by the default chain.
pub(crate) const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// The variable of the environment's AccessKey secret, read by the default chain.
pub(crate) const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";

/// Why no usable credentials could be had. No variant ever shows a secret or a token.
///
/// The kinds: nothing configured ([`NotFound`](Self::NotFound)); configuration the user must
/// fix (`IncompleteEnvironment`, `ConfigFile`, `ProfileNotFound`, `UnsupportedMode`,
/// `Invalid`, `Provider`); refused by a credentials service ([`Refused`](Self::Refused):
/// not worth a retry); a service that gave no usable answer
/// ([`Unavailable`](Self::Unavailable)) or credentials already expired
/// ([`ExpiredOnArrival`](Self::ExpiredOnArrival)), both retried with backoff first
/// ([`is_transient`](Self::is_transient)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Nothing configured anywhere.
    #[error("no credentials found: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, configure a profile in {}, or run where a RAM role is attached", .config_path.display())]
    NotFound {
        /// The config file looked for.
        config_path: PathBuf,
    },
    /// One of the id/secret variables is set without the other.
    #[error("{set} is set but {missing} is not")]
    IncompleteEnvironment {
        /// The variable that is set.
        set: &'static str,
        /// The one missing.
        missing: &'static str,
    },
    /// A config file cannot be read or parsed.
    #[error("config file {}: {reason}", .path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The requested profile is not in the file.
    #[error("config file {}: no profile named {profile:?}", .path.display())]
    ProfileNotFound {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
    },
    /// The profile uses a mode this SDK does not implement.
    #[error("profile {profile:?}: credential mode {mode:?} is not supported (supported: AK, StsToken, RamRoleArn, EcsRamRole, OIDC, ChainableRamRoleArn, CredentialsURI)")]
    UnsupportedMode {
        /// The profile.
        profile: String,
        /// Its mode.
        mode: String,
    },
    /// A value found is invalid (the message never shows a secret).
    #[error("{origin}: {error}")]
    Invalid {
        /// Where the value came from.
        origin: String,
        /// The rule it broke.
        error: InputError,
    },
    /// A provider is configured in a way that cannot work (a URL that is not one, an empty
    /// token file): nothing was sent.
    #[error("{provider}: {reason}")]
    Provider {
        /// The provider (e.g. `ECS RAM role (IMDS)`).
        provider: String,
        /// What is wrong.
        reason: String,
    },
    /// The credentials service refused: a wrong key, an unknown role, a bad token, any
    /// 4xx. Not retried.
    #[error("{provider}: {what} answered {refusal}")]
    Refused {
        /// The provider.
        provider: String,
        /// The service or the request refused (`STS`, `role discovery`...).
        what: &'static str,
        /// What the service answered.
        refusal: Box<Refusal>,
    },
    /// The credentials service gave no usable answer: no connection, a timeout, a 5xx or
    /// throttling, an answer that cannot be read. Retried with backoff before it is
    /// returned.
    #[error("{provider}: {reason}")]
    Unavailable {
        /// The provider.
        provider: String,
        /// The answer's status, when one came.
        status: Option<u16>,
        /// What went wrong.
        reason: String,
        /// The transport's error, when no answer came.
        #[source]
        source: Option<Arc<BoxError>>,
    },
    /// The credentials arrived already expired, or with less than the 3 minutes left that a
    /// call needs: the local clock or the service's is likely wrong.
    #[error("{provider}: the credentials arrived with {} s left (a call needs 180 s): check this machine's clock", .left.as_secs())]
    ExpiredOnArrival {
        /// The provider.
        provider: String,
        /// The life they had left on arrival (zero: already expired).
        left: Duration,
    },
    /// Every provider of the default chain that is configured failed: each one, and why.
    #[error("no provider of the default credential chain supplied credentials: {}", .tried.join("; "))]
    Chain {
        /// `provider: reason`, in the order tried.
        tried: Vec<String>,
        /// Whether one of them failed for want of an answer (an outage of its service, or
        /// credentials that arrived expired), so that trying again later may succeed.
        transient: bool,
    },
}

/// A credentials service's refusal: its status, and the code, message and RequestId of its
/// answer when it gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The answer's status.
    pub status: u16,
    /// The service's error code.
    pub code: Option<String>,
    /// The service's message (at most 200 characters, one line), or what the refusal means.
    pub message: Option<String>,
    /// The service's RequestId.
    pub request_id: Option<String>,
    /// The service's clock (the answer's `Date`), when it said.
    pub date: Option<std::time::SystemTime>,
}

/// `HTTP 403 NoPermission: message (RequestId r)`.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (RequestId {id})")?;
        }
        Ok(())
    }
}

impl CredentialsError {
    pub(crate) fn provider(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        CredentialsError::Provider {
            provider: provider.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unavailable(
        provider: &str,
        status: Option<u16>,
        reason: impl Into<String>,
    ) -> Self {
        CredentialsError::Unavailable {
            provider: provider.to_owned(),
            status,
            reason: reason.into(),
            source: None,
        }
    }

    /// Whether a later fetch may well succeed: the service gave no usable answer, or
    /// credentials that were already expired.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CredentialsError::Unavailable { .. }
                | CredentialsError::ExpiredOnArrival { .. }
                | CredentialsError::Chain {
                    transient: true,
                    ..
                }
        )
    }

    /// The provider named in the error, if one is.
    pub(crate) fn provider_name(&self) -> Option<&str> {
        match self {
            CredentialsError::Provider { provider, .. }
            | CredentialsError::Refused { provider, .. }
            | CredentialsError::Unavailable { provider, .. }
            | CredentialsError::ExpiredOnArrival { provider, .. } => Some(provider),
            _ => None,
        }
    }
}
