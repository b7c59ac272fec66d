//! Credentials, and the providers that obtain them.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::keys::Credentials;
use crate::transport::BoxError;

#[cfg(feature = "transport")]
pub(crate) mod access;
mod cache;
mod chain;
#[cfg(feature = "transport")]
pub(crate) mod fetch;
mod files;
#[cfg(test)]
mod fuzz;
mod imds;
mod ini;
mod machine;
pub(crate) mod read;
mod service;
mod sts;
mod uri;

use crate::credentials_error::CredentialsError;
#[cfg(feature = "transport")]
pub(crate) use access::{Access, Gate};
pub(crate) use cache::CredentialsCache;
use chain::{ChainSpec, EnvFn};
use machine::ProviderSpec;
use read::{process_files, ReadFn};
use sts::{OidcSpec, RoleSpec, StsRole};

/// Options of the role providers (`AssumeRole`, `AssumeRoleWithOIDC`); every one has a
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleOptions {
    /// `RoleSessionName`; default `swas-open-<unix seconds>`.
    pub session_name: Option<String>,
    /// `ExternalId`, when the role's trust policy demands one.
    pub external_id: Option<String>,
    /// `Policy`: a JSON policy that narrows the role's permissions.
    pub policy: Option<String>,
    /// `DurationSeconds`; default 3600, at least 900.
    pub duration: Option<Duration>,
    /// STS: a bare host (HTTPS) or a URL (`http://127.0.0.1:8080`). Default
    /// `ALIBABA_CLOUD_STS_ENDPOINT`, else `sts[-vpc].<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com`,
    /// else `sts.aliyuncs.com`.
    pub sts_endpoint: Option<String>,
}

/// A source of credentials of your own: called on every refresh (never under a lock), it
/// returns the credentials and when they expire (`None`: never).
///
/// ```
/// use std::time::SystemTime;
/// use swas_open::{BoxError, Credentials, CredentialsProvider, ProvideCredentials};
///
/// struct Vault;
/// impl ProvideCredentials for Vault {
///     fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError> {
///         Ok((Credentials::new("id-from-vault", "secret-from-vault")?, None))
///     }
/// }
/// let provider = CredentialsProvider::custom(Vault);
/// # drop(provider);
/// ```
pub trait ProvideCredentials: Send + Sync {
    /// The current credentials and their expiration.
    fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError>;
}

/// Where a client's credentials come from: fixed ones, the default chain (the official
/// SDKs' order: environment, OIDC, the aliyun CLI config file, the ini file, the ECS
/// instance RAM role, a credentials URI), or one provider chosen explicitly (`AssumeRole`,
/// `AssumeRoleWithOIDC`, the ECS RAM role, a credentials URI, your own
/// [`ProvideCredentials`]). Give one to
/// [`ClientBuilder::credentials`](crate::ClientBuilder::credentials); without one, a client
/// uses the default chain ([`CredentialsProvider::default`]).
///
/// The client runs each fetch (feature `transport`: a sans-IO `Fetch` exchange that a call
/// hands its client to run, `Step::Detach`); temporary credentials are cached, never used
/// with under 3 minutes left, and refreshed from 15 minutes before they expire, one refresh
/// for all the calls that need it.
///
/// ```
/// use std::time::Duration;
/// use swas_open::{Credentials, CredentialsProvider, RoleOptions};
///
/// let mut options = RoleOptions::default();
/// options.external_id = Some("abcd1234".into());
/// options.duration = Some(Duration::from_secs(900));
/// options.sts_endpoint = Some("sts.cn-hangzhou.aliyuncs.com".into());
/// let provider = CredentialsProvider::ram_role_arn(
///     Credentials::new("LTAI-id", "secret")?,
///     "acs:ram::123456789012:role/deleter",
///     options,
/// );
/// assert!(format!("{provider:?}").contains("role/deleter"));
/// # Ok::<(), swas_open::InputError>(())
/// ```
#[derive(Clone)]
pub struct CredentialsProvider {
    pub(crate) spec: ProviderSpec,
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CredentialsProvider")
            .field(&self.spec.label())
            .finish()
    }
}

fn process_env() -> EnvFn {
    Arc::new(|k: &str| std::env::var(k).ok())
}

impl CredentialsProvider {
    /// These credentials, always.
    pub(crate) fn fixed(credentials: Credentials) -> Self {
        Self {
            spec: ProviderSpec::Fixed(credentials, "credentials given to the client".into()),
        }
    }

    /// The default chain (`profile` `None`) or one profile of the aliyun CLI config file,
    /// reading variables with `env` and files with `read_file` instead of the process's: a
    /// chain resolved against a scrubbed environment. (Feature `workspace-internals`: for
    /// this workspace's tests, not covered by semver; a program uses
    /// [`from_variables`](Self::from_variables) or [`cli_profile`](Self::cli_profile).)
    #[cfg(feature = "workspace-internals")]
    #[doc(hidden)]
    pub fn from_environment(
        profile: Option<&str>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        read_file: impl Fn(&std::path::Path) -> std::io::Result<String> + Send + Sync + 'static,
    ) -> Self {
        Self::chain_with(profile, Arc::new(env), Arc::new(read_file))
    }

    /// The default chain (`profile` `None`) or one profile of the aliyun CLI config file,
    /// reading variables with `env` instead of the process's, and the files it names (only
    /// regular files, at most 1 MiB) from this machine.
    ///
    /// ```
    /// use swas_open::CredentialsProvider;
    /// let provider = CredentialsProvider::from_variables(None, |name| match name {
    ///     "ALIBABA_CLOUD_CREDENTIALS_URI" => Some("http://127.0.0.1:8080/creds".into()),
    ///     "ALIBABA_CLOUD_ECS_METADATA_DISABLED" => Some("true".into()),
    ///     _ => None,
    /// });
    /// # drop(provider);
    /// ```
    pub fn from_variables(
        profile: Option<&str>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self::chain_with(profile, Arc::new(env), process_files())
    }

    pub(crate) fn chain_with(profile: Option<&str>, env: EnvFn, read: ReadFn) -> Self {
        Self {
            spec: ProviderSpec::Chain(Arc::new(ChainSpec {
                profile: profile.map(str::to_owned),
                env,
                read,
                pinned: Mutex::new(None),
            })),
        }
    }

    /// One profile of the process's aliyun CLI config file (`ALIBABA_CLOUD_CONFIG_FILE`, else
    /// `~/.aliyun/config.json`), the rest of the chain skipped.
    pub(crate) fn profile(name: &str) -> Self {
        Self::chain_with(Some(name), process_env(), process_files())
    }

    /// Profile `profile` of the aliyun CLI config file `file`, without reading the process's
    /// environment: the profile says everything (an STS or metadata endpoint it does not
    /// name takes its default). The file is read at the first fetch, only if it is a regular
    /// file of at most 1 MiB.
    ///
    /// ```
    /// use swas_open::CredentialsProvider;
    /// let provider = CredentialsProvider::cli_profile("/etc/my-app/aliyun.json", "deployer");
    /// assert!(format!("{provider:?}").contains("deployer"));
    /// ```
    pub fn cli_profile(file: impl Into<PathBuf>, profile: &str) -> Self {
        let file = file.into().to_string_lossy().into_owned();
        let env = move |name: &str| (name == chain::ENV_CONFIG_FILE).then(|| file.clone());
        Self::chain_with(Some(profile), Arc::new(env), process_files())
    }

    /// `AssumeRole` of `role_arn`, signed with `source` (a long-term key, or STS credentials
    /// with their token).
    pub fn ram_role_arn(source: Credentials, role_arn: &str, options: RoleOptions) -> Self {
        Self {
            spec: ProviderSpec::Role(Arc::new(RoleSpec {
                source: ProviderSpec::Fixed(source, "source credentials".into()),
                role: StsRole::given(role_arn, options),
            })),
        }
    }

    /// `AssumeRoleWithOIDC` of `role_arn` with the OIDC token in `token_file`, read again on
    /// every refresh (as in an ACK pod with RRSA).
    pub fn oidc(
        role_arn: &str,
        provider_arn: &str,
        token_file: impl Into<PathBuf>,
        options: RoleOptions,
    ) -> Self {
        Self {
            spec: ProviderSpec::Oidc(Arc::new(OidcSpec {
                role: StsRole::given(role_arn, options),
                provider_arn: provider_arn.to_owned(),
                token_file: token_file.into(),
                read: process_files(),
            })),
        }
    }

    /// The RAM role of this ECS or Simple Application Server instance, from the metadata
    /// service (`role` `None`: the one attached, discovered). The service is
    /// `ALIBABA_CLOUD_IMDS_ENDPOINT` if set when this is called, else the instance's own
    /// `http://100.100.100.200`; IMDSv2 first, v1 unless `ALIBABA_CLOUD_IMDSV1_DISABLED=true`.
    /// To name the service in code, see [`ecs_ram_role_at`](Self::ecs_ram_role_at).
    pub fn ecs_ram_role(role: Option<&str>) -> Self {
        let env = process_env();
        Self {
            spec: ProviderSpec::Ecs(Arc::new(chain::ecs_spec(role.map(str::to_owned), &*env))),
        }
    }

    /// The RAM role of this instance from the metadata service at `endpoint` (a URL, or a
    /// bare `host[:port]` for `http://`), whatever the environment says; IMDSv2 first, then
    /// v1. The service is always reached directly, never through a proxy.
    ///
    /// ```
    /// use swas_open::CredentialsProvider;
    /// let provider = CredentialsProvider::ecs_ram_role_at(Some("web-role"), "http://127.0.0.1:8080");
    /// # drop(provider);
    /// ```
    pub fn ecs_ram_role_at(role: Option<&str>, endpoint: &str) -> Self {
        Self {
            spec: ProviderSpec::Ecs(Arc::new(imds::EcsSpec {
                role: role.map(str::to_owned),
                endpoint: chain::base_url(endpoint, "http"),
                v1_disabled: false,
                label: "ECS RAM role (IMDS)".into(),
            })),
        }
    }

    /// Credentials from `GET uri` (`{"AccessKeyId", "AccessKeySecret", "SecurityToken",
    /// "Expiration"}`).
    pub fn credentials_uri(uri: &str) -> Self {
        Self {
            spec: ProviderSpec::Uri(uri.into()),
        }
    }

    /// Your own source of credentials.
    pub fn custom(provider: impl ProvideCredentials + 'static) -> Self {
        Self {
            spec: ProviderSpec::Custom(Arc::new(provider)),
        }
    }
}

/// The default chain over this process's environment and files: environment variables,
/// OIDC, the aliyun CLI config file, the ini file, the ECS instance RAM role, the
/// credentials URI (see the crate's README for each). The first provider that supplies
/// credentials is kept for the client's life.
impl Default for CredentialsProvider {
    fn default() -> Self {
        Self::chain_with(None, process_env(), process_files())
    }
}

impl From<Credentials> for CredentialsProvider {
    fn from(credentials: Credentials) -> Self {
        Self::fixed(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Field;
    use crate::keys::Secret;

    #[test]
    fn secret_errors_do_not_show_the_secret() {
        let e = Credentials::new("id", "abc\u{7f}").unwrap_err();
        assert_eq!(e.field, Field::AccessKeySecret);
        assert!(!format!("{e} {e:?}").contains("abc"));
        let e = Credentials::new("id", "s")
            .unwrap()
            .with_security_token("tok\nen")
            .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("tok"));
    }

    #[test]
    fn a_secret_is_exposed_only_on_request() {
        let s = Secret::access_key_secret("hunter2").unwrap();
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn access_key_id_rule() {
        assert!(Credentials::new("a,b", "s").is_err());
        assert!(Credentials::new("", "s").is_err());
        assert!(Credentials::new("STS.NUx1", "s").is_ok());
    }
}
