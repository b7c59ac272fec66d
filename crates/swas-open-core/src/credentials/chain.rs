//! The default credential chain, as the official SDKs resolve it, and what it reads from
//! the environment.
//!
//! Order: environment, OIDC (when `ALIBABA_CLOUD_OIDC_TOKEN_FILE`,
//! `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` and `ALIBABA_CLOUD_ROLE_ARN` are all set), the aliyun
//! CLI config file, the ini file (both in `files`), the ECS instance RAM role (IMDS), the
//! credentials URI. A provider that is not configured is skipped; one that is configured
//! and fails is recorded and the next one tried; the first that succeeds is pinned. Nothing
//! here reads the process: the environment and the files come in as functions.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::files::cli_profile;
use super::imds::EcsSpec;
use super::ini::ini_profile;
use super::machine::{Ctx, Machine, Next, ProviderSpec};
use super::read::ReadFn;
use super::service::Reply;
use super::sts::{OidcSpec, StsRole};
use super::{Credentials, CredentialsError, RoleOptions};

pub(crate) use crate::credentials_error::{ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET};
pub(crate) const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
pub(crate) const ENV_CONFIG_FILE: &str = "ALIBABA_CLOUD_CONFIG_FILE";
pub(crate) const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
pub(crate) const ENV_CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
pub(crate) const ENV_CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
pub(crate) const ENV_OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
pub(crate) const ENV_OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
pub(crate) const ENV_ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
pub(crate) const ENV_ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
pub(crate) const ENV_STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
pub(crate) const ENV_STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
pub(crate) const ENV_VPC_ENDPOINT_ENABLED: &str = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED";
pub(crate) const ENV_ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
pub(crate) const ENV_ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
pub(crate) const ENV_IMDSV1_DISABLED: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";
pub(crate) const ENV_IMDS_ENDPOINT: &str = "ALIBABA_CLOUD_IMDS_ENDPOINT";
pub(crate) const ENV_CREDENTIALS_URI: &str = "ALIBABA_CLOUD_CREDENTIALS_URI";

/// The instance metadata service's address.
pub(crate) const DEFAULT_IMDS: &str = "http://100.100.100.200";

/// Reads an environment variable.
pub(crate) type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the chain reads, and whom it pinned.
pub(crate) struct ChainSpec {
    /// A profile named by the caller: only the CLI config file, with that profile.
    pub(crate) profile: Option<String>,
    pub(crate) env: EnvFn,
    pub(crate) read: ReadFn,
    pub(crate) pinned: Mutex<Option<ProviderSpec>>,
}

impl ChainSpec {
    pub(crate) fn label(&self) -> String {
        match &self.profile {
            Some(p) => format!("aliyun CLI profile {p:?}"),
            None => "default credential chain".into(),
        }
    }

    /// The provider pinned by an earlier success, if any.
    pub(crate) fn pinned(&self) -> Option<ProviderSpec> {
        self.pinned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// One link of the chain, not yet looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    Env,
    Oidc,
    CliProfile,
    Ini,
    Ecs,
    Uri,
}

impl Link {
    pub(crate) const ORDER: [Link; 6] = [
        Link::Env,
        Link::Oidc,
        Link::CliProfile,
        Link::Ini,
        Link::Ecs,
        Link::Uri,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Link::Env => "environment",
            Link::Oidc => "OIDC (environment)",
            Link::CliProfile => "aliyun CLI profile",
            Link::Ini => "credentials ini file",
            Link::Ecs => "ECS RAM role (IMDS)",
            Link::Uri => "credentials URI",
        }
    }

    /// The provider this link configures: `Ok(None)` when it is not configured.
    pub(crate) fn build(self, spec: &ChainSpec) -> Result<Option<ProviderSpec>, CredentialsError> {
        let env = &*spec.env;
        match self {
            Link::Env => from_env(env),
            Link::Oidc => oidc_from_env(env, &spec.read),
            Link::CliProfile => {
                if spec.profile.is_none() && is_true(env(ENV_CLI_PROFILE_DISABLED)) {
                    return Ok(None);
                }
                cli_profile(spec.profile.as_deref(), env, &spec.read)
            }
            Link::Ini => ini_profile(env, &spec.read),
            Link::Ecs => {
                if is_true(env(ENV_ECS_METADATA_DISABLED)) {
                    return Ok(None);
                }
                Ok(Some(ProviderSpec::Ecs(Arc::new(ecs_spec(
                    non_empty(env(ENV_ECS_METADATA)),
                    env,
                )))))
            }
            Link::Uri => {
                Ok(non_empty(env(ENV_CREDENTIALS_URI)).map(|u| ProviderSpec::Uri(u.into())))
            }
        }
    }
}

pub(crate) fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn is_true(v: Option<String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(crate) fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    PathBuf::from(
        non_empty(env("HOME"))
            .or_else(|| non_empty(env("USERPROFILE")))
            .unwrap_or_default(),
    )
}

/// The aliyun CLI config file's path: `ALIBABA_CLOUD_CONFIG_FILE`, else
/// `$HOME/.aliyun/config.json`.
pub(crate) fn config_path(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match non_empty(env(ENV_CONFIG_FILE)) {
        Some(p) => PathBuf::from(p),
        None => home(env).join(".aliyun").join("config.json"),
    }
}

/// The ECS provider's settings from the environment: `ALIBABA_CLOUD_IMDS_ENDPOINT`,
/// `ALIBABA_CLOUD_IMDSV1_DISABLED`.
pub(crate) fn ecs_spec(role: Option<String>, env: &dyn Fn(&str) -> Option<String>) -> EcsSpec {
    EcsSpec {
        role,
        endpoint: non_empty(env(ENV_IMDS_ENDPOINT))
            .map(|e| base_url(&e, "http"))
            .unwrap_or_else(|| DEFAULT_IMDS.to_owned()),
        v1_disabled: is_true(env(ENV_IMDSV1_DISABLED)),
        label: "ECS RAM role (IMDS)".into(),
    }
}

/// `scheme://host[:port]` of an endpoint given as a bare host (`default_scheme`) or a URL.
pub(crate) fn base_url(value: &str, default_scheme: &str) -> String {
    let value = value.trim().trim_end_matches('/');
    if value.starts_with("http://") || value.starts_with("https://") {
        value.to_owned()
    } else {
        format!("{default_scheme}://{value}")
    }
}

/// STS's base URL: the explicit endpoint (bare host = HTTPS), else
/// `ALIBABA_CLOUD_STS_ENDPOINT`, else `sts[-vpc].<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com`,
/// else `sts.aliyuncs.com`.
pub(crate) fn sts_endpoint(explicit: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(e) = explicit
        .map(str::to_owned)
        .or_else(|| non_empty(env(ENV_STS_ENDPOINT)))
        .filter(|e| !e.trim().is_empty())
    {
        return base_url(&e, "https");
    }
    match non_empty(env(ENV_STS_REGION)) {
        Some(region) => {
            let vpc = if is_true(env(ENV_VPC_ENDPOINT_ENABLED)) {
                "-vpc"
            } else {
                ""
            };
            format!("https://sts{vpc}.{}.aliyuncs.com", region.trim())
        }
        None => "https://sts.aliyuncs.com".to_owned(),
    }
}

/// Credentials from the `ALIBABA_CLOUD_*` variables, `Ok(None)` when neither id nor secret
/// is set.
pub(crate) fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProviderSpec>, CredentialsError> {
    let id = non_empty(env(ENV_ACCESS_KEY_ID));
    let secret = non_empty(env(ENV_ACCESS_KEY_SECRET));
    let (id, secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(CredentialsError::IncompleteEnvironment {
                set: ENV_ACCESS_KEY_ID,
                missing: ENV_ACCESS_KEY_SECRET,
            })
        }
        (None, Some(_)) => {
            return Err(CredentialsError::IncompleteEnvironment {
                set: ENV_ACCESS_KEY_SECRET,
                missing: ENV_ACCESS_KEY_ID,
            })
        }
        (Some(id), Some(secret)) => (id, secret),
    };
    let invalid = |error| CredentialsError::Invalid {
        origin: "environment".into(),
        error,
    };
    let mut credentials = Credentials::new(id, secret).map_err(invalid)?;
    if let Some(token) = non_empty(env(ENV_SECURITY_TOKEN)) {
        credentials = credentials.with_security_token(token).map_err(invalid)?;
    }
    Ok(Some(ProviderSpec::Fixed(credentials, "environment".into())))
}

fn oidc_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<ProviderSpec>, CredentialsError> {
    let (Some(file), Some(provider), Some(role)) = (
        non_empty(env(ENV_OIDC_TOKEN_FILE)),
        non_empty(env(ENV_OIDC_PROVIDER_ARN)),
        non_empty(env(ENV_ROLE_ARN)),
    ) else {
        return Ok(None);
    };
    let options = RoleOptions {
        session_name: non_empty(env(ENV_ROLE_SESSION_NAME)),
        ..RoleOptions::default()
    };
    Ok(Some(ProviderSpec::Oidc(Arc::new(OidcSpec {
        role: StsRole {
            role_arn: role,
            options,
            sts: sts_endpoint(None, env),
            label: "OIDC (environment)".into(),
        },
        provider_arn: provider,
        token_file: PathBuf::from(file),
        read: read.clone(),
    }))))
}

/// The default chain: each configured link in turn until one supplies credentials.
pub(crate) struct ChainFetch {
    spec: Arc<ChainSpec>,
    links: VecDeque<Link>,
    current: Option<(Link, ProviderSpec, Box<Machine>)>,
    tried: Vec<String>,
    /// Whether a provider tried failed for want of an answer rather than for its settings.
    transient: bool,
}

impl ChainFetch {
    pub(crate) fn new(spec: &Arc<ChainSpec>) -> Self {
        Self {
            spec: spec.clone(),
            links: Link::ORDER
                .iter()
                .copied()
                .filter(|l| spec.profile.is_none() || *l == Link::CliProfile)
                .collect(),
            current: None,
            tried: Vec::new(),
            transient: false,
        }
    }

    /// Whether the coming step may block: the next link reads its files, or the current
    /// provider's step may block.
    pub(crate) fn may_block(&self) -> bool {
        match &self.current {
            Some((_, _, machine)) => machine.may_block(),
            None => true,
        }
    }

    pub(crate) fn receive(&mut self, reply: Reply) {
        if let Some((_, _, machine)) = &mut self.current {
            machine.receive(reply);
        }
    }

    pub(crate) fn next(&mut self, ctx: &mut Ctx<'_>) -> Next {
        loop {
            if let Some((link, kind, machine)) = &mut self.current {
                match machine.next(ctx) {
                    Next::Send(o) => return Next::Send(o),
                    Next::Done(Ok(fetched)) => {
                        *self.spec.pinned.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(kind.clone());
                        return Next::Done(Ok(fetched));
                    }
                    Next::Done(Err(e)) => {
                        if self.spec.profile.is_some() {
                            return Next::Done(Err(e));
                        }
                        self.transient |= e.is_transient();
                        self.tried.push(match e.provider_name() {
                            // Already named after its provider.
                            Some(_) => e.to_string(),
                            None => format!("{}: {e}", link.name()),
                        });
                        self.current = None;
                    }
                }
                continue;
            }
            let Some(link) = self.links.pop_front() else {
                let env = &*self.spec.env;
                return Next::Done(Err(if self.tried.is_empty() {
                    CredentialsError::NotFound {
                        config_path: config_path(env),
                    }
                } else {
                    CredentialsError::Chain {
                        tried: std::mem::take(&mut self.tried),
                        transient: self.transient,
                    }
                }));
            };
            match link.build(&self.spec) {
                Ok(None) => {}
                Ok(Some(kind)) => {
                    let machine = Box::new(kind.machine());
                    self.current = Some((link, kind, machine));
                }
                Err(e) if self.spec.profile.is_some() => return Next::Done(Err(e)),
                Err(e) => self.tried.push(format!("{}: {e}", link.name())),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::credentials::machine::run_with;
    use crate::credentials::service::test_replies::{ok, status};
    use crate::credentials::service::NoAnswer;
    use std::collections::HashMap;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn wall() -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    const FLAT: &str = r#"{"Code":"Success","AccessKeyId":"STS.imds","AccessKeySecret":"imds-secret","SecurityToken":"imds-token","Expiration":"2033-05-18T03:33:20Z","LastUpdated":"2023-01-01T00:00:00Z"}"#;

    fn chain(env: &[(&str, &str)]) -> ProviderSpec {
        let env = env_of(env);
        let read: ReadFn = Arc::new(|_: &Path| Err(std::io::ErrorKind::NotFound.into()));
        super::super::CredentialsProvider::chain_with(None, Arc::new(env), read).spec
    }

    #[test]
    fn chain_records_failures_then_pins_the_first_success() {
        let kind = chain(&[
            (ENV_ACCESS_KEY_ID, "half"),
            (ENV_IMDS_ENDPOINT, "http://127.0.0.1:9"),
            (ENV_CREDENTIALS_URI, "http://127.0.0.1:9/creds"),
        ]);
        let (r, sent) = run_with(&kind, wall(), |o| match o.request.uri().path() {
            "/creds" => ok(FLAT),
            _ => status(404, ""),
        });
        assert_eq!(r.unwrap().source, "credentials URI");
        assert_eq!(sent.len(), 3, "IMDS token, IMDS role, then the URI");
        // Pinned: the next fetch goes straight to the URI, and its failure is not masked.
        let (r, sent) = run_with(&kind, wall(), |_| Err(NoAnswer::text("refused")));
        assert_eq!(sent.len(), 1);
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("credentials URI: refused"));
    }

    #[test]
    fn chain_error_names_every_provider_tried() {
        let kind = chain(&[
            (ENV_ACCESS_KEY_ID, "half"),
            (ENV_IMDS_ENDPOINT, "127.0.0.1:9"),
        ]);
        let (r, _) = run_with(&kind, wall(), |_| Err(NoAnswer::text("connection refused")));
        let e = r.unwrap_err();
        let CredentialsError::Chain { tried, transient } = &e else {
            panic!("{e}")
        };
        assert_eq!(tried.len(), 2, "{e}");
        assert!(tried[0].starts_with("environment: ALIBABA_CLOUD_ACCESS_KEY_ID is set"));
        assert!(tried[1].starts_with("ECS RAM role (IMDS): "), "{e}");
        // The metadata service gave no answer: trying later may succeed.
        assert!(*transient && e.is_transient(), "{e}");
        let (r, _) = run_with(
            &chain(&[
                (ENV_ACCESS_KEY_ID, "half"),
                (ENV_ECS_METADATA_DISABLED, "true"),
            ]),
            wall(),
            |_| unreachable!(),
        );
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                CredentialsError::Chain {
                    transient: false,
                    ..
                }
            ) && !e.is_transient(),
            "only settings failed: {e}"
        );
        let (r, sent) = run_with(
            &chain(&[(ENV_ECS_METADATA_DISABLED, "true")]),
            wall(),
            |_| unreachable!(),
        );
        assert!(matches!(r, Err(CredentialsError::NotFound { .. })));
        assert!(sent.is_empty());
    }

    #[test]
    fn the_default_metadata_address_is_used_only_when_none_is_configured() {
        let (_, sent) = run_with(&chain(&[]), wall(), |_| Err(NoAnswer::text("unreachable")));
        assert!(sent
            .iter()
            .all(|o| o.request.uri().host() == Some("100.100.100.200")));
        let (_, sent) = run_with(
            &chain(&[(ENV_IMDS_ENDPOINT, "127.0.0.1:9")]),
            wall(),
            |_| Err(NoAnswer::text("unreachable")),
        );
        assert!(sent
            .iter()
            .all(|o| o.request.uri().host() == Some("127.0.0.1")));
    }

    #[test]
    fn sts_endpoint_rules() {
        let none = env_of(&[]);
        assert_eq!(sts_endpoint(None, &none), "https://sts.aliyuncs.com");
        assert_eq!(
            sts_endpoint(Some("sts.example.com"), &none),
            "https://sts.example.com"
        );
        assert_eq!(
            sts_endpoint(Some("http://127.0.0.1:8080/"), &none),
            "http://127.0.0.1:8080"
        );
        let region = env_of(&[
            (ENV_STS_REGION, "cn-shanghai"),
            (ENV_VPC_ENDPOINT_ENABLED, "true"),
        ]);
        assert_eq!(
            sts_endpoint(None, &region),
            "https://sts-vpc.cn-shanghai.aliyuncs.com"
        );
        let explicit = env_of(&[(ENV_STS_ENDPOINT, "sts.x"), (ENV_STS_REGION, "cn-shanghai")]);
        assert_eq!(sts_endpoint(None, &explicit), "https://sts.x");
    }

    #[test]
    fn environment_rules() {
        let env = env_of(&[(ENV_ACCESS_KEY_ID, "id")]);
        assert!(matches!(
            from_env(&env),
            Err(CredentialsError::IncompleteEnvironment { .. })
        ));
        assert!(from_env(&env_of(&[])).unwrap().is_none());
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "bad secret"),
        ]);
        let e = from_env(&env).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("bad secret"));
    }
}
