//! The default credential chain, as the official SDKs resolve it, and the configuration it
//! reads (environment, the aliyun CLI's config file, the ini file).
//!
//! Order: environment, OIDC (when `ALIBABA_CLOUD_OIDC_TOKEN_FILE`,
//! `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` and `ALIBABA_CLOUD_ROLE_ARN` are all set), the aliyun
//! CLI config file, the ini file, the ECS instance RAM role (IMDS), the credentials URI. A
//! provider that is not configured is skipped; one that is configured and fails is recorded
//! and the next one tried; the first that succeeds is pinned. Nothing here reads the
//! process: the environment and the files come in as functions.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::fetch::{EcsSpec, Kind, OidcSpec, RoleSpec, StsRole};
use super::{Credentials, RoleOptions};
use crate::input::InputError;

pub(crate) const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub(crate) const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
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
/// Reads a file.
pub(crate) type ReadFn = Arc<dyn Fn(&Path) -> io::Result<String> + Send + Sync>;

/// Why no usable credentials could be had. No variant ever shows a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// A provider that is configured could not supply credentials: its service refused, gave
    /// an unusable answer, or could not be reached.
    #[error("{provider}: {reason}")]
    Provider {
        /// The provider (e.g. `ECS RAM role (IMDS)`).
        provider: String,
        /// Why it failed.
        reason: String,
    },
    /// Every provider of the default chain that is configured failed: each one, and why.
    #[error("no provider of the default credential chain supplied credentials: {}", .tried.join("; "))]
    Chain {
        /// `provider: reason`, in the order tried.
        tried: Vec<String>,
    },
}

impl CredentialsError {
    pub(crate) fn provider(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        CredentialsError::Provider {
            provider: provider.into(),
            reason: reason.into(),
        }
    }
}

/// What the chain reads, and whom it pinned.
pub(crate) struct ChainSpec {
    /// A profile named by the caller: only the CLI config file, with that profile.
    pub(crate) profile: Option<String>,
    pub(crate) env: EnvFn,
    pub(crate) read: ReadFn,
    pub(crate) pinned: Mutex<Option<Kind>>,
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
    pub(crate) fn build(self, spec: &ChainSpec) -> Result<Option<Kind>, CredentialsError> {
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
                Ok(Some(Kind::Ecs(Arc::new(ecs_spec(
                    non_empty(env(ENV_ECS_METADATA)),
                    env,
                )))))
            }
            Link::Uri => Ok(non_empty(env(ENV_CREDENTIALS_URI)).map(|u| Kind::Uri(u.into()))),
        }
    }
}

pub(crate) fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn is_true(v: Option<String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
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
) -> Result<Option<Kind>, CredentialsError> {
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
    Ok(Some(Kind::Fixed(credentials, "environment".into())))
}

fn oidc_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<Kind>, CredentialsError> {
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
    Ok(Some(Kind::Oidc(Arc::new(OidcSpec {
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

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct Profile {
    name: String,
    mode: String,
    access_key_id: String,
    access_key_secret: String,
    sts_token: String,
    sts_region: String,
    sts_endpoint: String,
    ram_role_name: String,
    ram_role_arn: String,
    ram_session_name: String,
    role_session_name: String,
    external_id: String,
    source_profile: String,
    expired_seconds: u64,
    oidc_provider_arn: String,
    oidc_token_file: String,
    credentials_uri: String,
    policy: String,
}

/// The provider of a profile of the aliyun CLI config file; `profile` `None` means
/// `ALIBABA_CLOUD_PROFILE`, else the file's `current`. `Ok(None)` when the file is absent
/// and nothing named it.
fn cli_profile(
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<Kind>, CredentialsError> {
    let explicit_file = non_empty(env(ENV_CONFIG_FILE)).is_some();
    let path = config_path(env);
    let text = match read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit_file && profile.is_none() => {
            return Ok(None)
        }
        Err(e) => {
            return Err(CredentialsError::ConfigFile {
                path,
                reason: e.to_string(),
            })
        }
    };
    let env_profile = non_empty(env(ENV_PROFILE));
    from_cli_config(&path, &text, profile.or(env_profile.as_deref()), env, read).map(Some)
}

/// The provider of a profile of the config file's `text`.
pub(crate) fn from_cli_config(
    path: &Path,
    text: &str,
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Kind, CredentialsError> {
    let file: ConfigFile =
        serde_json::from_str(text).map_err(|e| CredentialsError::ConfigFile {
            path: path.to_owned(),
            reason: format!("not valid JSON: {e}"),
        })?;
    let wanted = profile.unwrap_or(&file.current);
    let wanted = if wanted.is_empty() { "default" } else { wanted };
    let mut seen = HashSet::new();
    profile_kind(path, &file, wanted, env, read, &mut seen)
}

fn profile_kind(
    path: &Path,
    file: &ConfigFile,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
    seen: &mut HashSet<String>,
) -> Result<Kind, CredentialsError> {
    if !seen.insert(name.to_owned()) {
        return Err(CredentialsError::ConfigFile {
            path: path.to_owned(),
            reason: format!("profile {name:?}: source_profile chain loops back to it"),
        });
    }
    let p = file
        .profiles
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| CredentialsError::ProfileNotFound {
            path: path.to_owned(),
            profile: name.to_owned(),
        })?;
    let label = format!("profile {:?} ({}) of {}", p.name, p.mode, path.display());
    let invalid = |error| CredentialsError::Invalid {
        origin: format!("profile {:?}", p.name),
        error,
    };
    let missing = |field: &str| CredentialsError::ConfigFile {
        path: path.to_owned(),
        reason: format!("profile {:?} (mode {}): {field} is empty", p.name, p.mode),
    };
    let ak = || Credentials::new(&*p.access_key_id, &*p.access_key_secret).map_err(invalid);
    let role_options = || RoleOptions {
        session_name: non_empty(Some(p.ram_session_name.clone()))
            .or_else(|| non_empty(Some(p.role_session_name.clone()))),
        external_id: non_empty(Some(p.external_id.clone())),
        policy: non_empty(Some(p.policy.clone())),
        duration: (p.expired_seconds > 0)
            .then(|| std::time::Duration::from_secs(p.expired_seconds)),
        sts_endpoint: None,
    };
    let sts = || {
        let explicit = non_empty(Some(p.sts_endpoint.clone()));
        match (explicit, non_empty(Some(p.sts_region.clone()))) {
            (Some(e), _) => base_url(&e, "https"),
            (None, Some(region)) => sts_endpoint(None, &|k: &str| match k {
                ENV_STS_REGION => Some(region.clone()),
                ENV_STS_ENDPOINT => None,
                other => env(other),
            }),
            (None, None) => sts_endpoint(None, env),
        }
    };
    let role = |source: Kind| -> Result<Kind, CredentialsError> {
        if p.ram_role_arn.is_empty() {
            return Err(missing("ram_role_arn"));
        }
        Ok(Kind::Role(Arc::new(RoleSpec {
            source,
            role: StsRole {
                role_arn: p.ram_role_arn.clone(),
                options: role_options(),
                sts: sts(),
                label: label.clone(),
            },
        })))
    };
    match p.mode.as_str() {
        "AK" | "" => Ok(Kind::Fixed(ak()?, label)),
        "StsToken" => Ok(Kind::Fixed(
            ak()?.with_security_token(&*p.sts_token).map_err(invalid)?,
            label,
        )),
        "RamRoleArn" => role(Kind::Fixed(ak()?, label.clone())),
        "ChainableRamRoleArn" => {
            if p.source_profile.is_empty() {
                return Err(missing("source_profile"));
            }
            let source = profile_kind(path, file, &p.source_profile, env, read, seen)?;
            role(source)
        }
        "EcsRamRole" => {
            let mut spec = ecs_spec(non_empty(Some(p.ram_role_name.clone())), env);
            spec.label = label;
            Ok(Kind::Ecs(Arc::new(spec)))
        }
        "OIDC" => {
            for (field, value) in [
                ("oidc_token_file", &p.oidc_token_file),
                ("oidc_provider_arn", &p.oidc_provider_arn),
                ("ram_role_arn", &p.ram_role_arn),
            ] {
                if value.is_empty() {
                    return Err(missing(field));
                }
            }
            Ok(Kind::Oidc(Arc::new(OidcSpec {
                role: StsRole {
                    role_arn: p.ram_role_arn.clone(),
                    options: role_options(),
                    sts: sts(),
                    label,
                },
                provider_arn: p.oidc_provider_arn.clone(),
                token_file: PathBuf::from(&p.oidc_token_file),
                read: read.clone(),
            })))
        }
        "CredentialsURI" => {
            if p.credentials_uri.is_empty() {
                return Err(missing("credentials_uri"));
            }
            Ok(Kind::Uri(p.credentials_uri.as_str().into()))
        }
        other => Err(CredentialsError::UnsupportedMode {
            profile: p.name.clone(),
            mode: other.to_owned(),
        }),
    }
}

/// The ini file's path: `ALIBABA_CLOUD_CREDENTIALS_FILE`, else the first of
/// `~/.alibabacloud/credentials.ini` and `~/.alibabacloud/credentials` that can be read.
fn ini_profile(
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<Kind>, CredentialsError> {
    let (path, text) = match non_empty(env(ENV_CREDENTIALS_FILE)) {
        Some(p) => {
            let path = PathBuf::from(p);
            match read(&path) {
                Ok(text) => (path, text),
                Err(e) => {
                    return Err(CredentialsError::ConfigFile {
                        path,
                        reason: e.to_string(),
                    })
                }
            }
        }
        None => {
            let dir = home(env).join(".alibabacloud");
            let mut found = None;
            for name in ["credentials.ini", "credentials"] {
                let path = dir.join(name);
                match read(&path) {
                    Ok(text) => {
                        found = Some((path, text));
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(CredentialsError::ConfigFile {
                            path,
                            reason: e.to_string(),
                        })
                    }
                }
            }
            match found {
                Some(found) => found,
                None => return Ok(None),
            }
        }
    };
    let section = non_empty(env(ENV_PROFILE)).unwrap_or_else(|| "default".to_owned());
    let Some(fields) = ini_section(&text, &section) else {
        return Ok(None);
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let label = format!("section [{section}] of {}", path.display());
    let config_error = |reason: String| CredentialsError::ConfigFile {
        path: path.clone(),
        reason: format!("[{section}]: {reason}"),
    };
    let require = |k: &str| {
        let v = get(k);
        if v.is_empty() {
            Err(config_error(format!("{k} is empty")))
        } else {
            Ok(v)
        }
    };
    let invalid = |error| CredentialsError::Invalid {
        origin: format!("[{section}] of {}", path.display()),
        error,
    };
    let options = || RoleOptions {
        session_name: non_empty(Some(get("role_session_name"))),
        policy: non_empty(Some(get("policy"))),
        ..RoleOptions::default()
    };
    let kind = match get("type").as_str() {
        "access_key" => Kind::Fixed(
            Credentials::new(require("access_key_id")?, require("access_key_secret")?)
                .map_err(invalid)?,
            label,
        ),
        "ecs_ram_role" => {
            let mut spec = ecs_spec(non_empty(Some(get("role_name"))), env);
            spec.label = label;
            Kind::Ecs(Arc::new(spec))
        }
        "ram_role_arn" => {
            let source = Credentials::new(require("access_key_id")?, require("access_key_secret")?)
                .map_err(invalid)?;
            Kind::Role(Arc::new(RoleSpec {
                source: Kind::Fixed(source, label.clone()),
                role: StsRole {
                    role_arn: require("role_arn")?,
                    options: options(),
                    sts: sts_endpoint(None, env),
                    label,
                },
            }))
        }
        "oidc_role_arn" => Kind::Oidc(Arc::new(OidcSpec {
            role: StsRole {
                role_arn: require("role_arn")?,
                options: options(),
                sts: sts_endpoint(None, env),
                label,
            },
            provider_arn: require("oidc_provider_arn")?,
            token_file: PathBuf::from(require("oidc_token_file_path")?),
            read: read.clone(),
        })),
        other => {
            return Err(config_error(format!(
                "type {other:?} is not supported (supported: access_key, ecs_ram_role, ram_role_arn, oidc_role_arn)"
            )))
        }
    };
    Ok(Some(kind))
}

/// The `key = value` pairs of `[section]`, `None` if there is no such section.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found = false;
    let mut fields = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            found |= inside;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"');
                fields.push((k.trim().to_owned(), v.to_owned()));
            }
        }
    }
    found.then_some(fields)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn files(pairs: &[(&str, &str)]) -> ReadFn {
        let map: HashMap<PathBuf, String> = pairs
            .iter()
            .map(|(k, v)| (PathBuf::from(k), v.to_string()))
            .collect();
        Arc::new(move |p: &Path| map.get(p).cloned().ok_or(io::ErrorKind::NotFound.into()))
    }

    const CONFIG: &str = r#"{"current":"default","profiles":[
        {"name":"default","mode":"AK","access_key_id":"ak","access_key_secret":"sk","region_id":"cn-hangzhou"},
        {"name":"sts","mode":"StsToken","access_key_id":"STS.x","access_key_secret":"sk2","sts_token":"tok"},
        {"name":"role","mode":"RamRoleArn","access_key_id":"a","access_key_secret":"b","ram_role_arn":"acs:ram::1:role/r","sts_endpoint":"http://127.0.0.1:9","external_id":"ext"},
        {"name":"chained","mode":"ChainableRamRoleArn","source_profile":"role","ram_role_arn":"acs:ram::1:role/r2"},
        {"name":"loop1","mode":"ChainableRamRoleArn","source_profile":"loop2","ram_role_arn":"acs:ram::1:role/r"},
        {"name":"loop2","mode":"ChainableRamRoleArn","source_profile":"loop1","ram_role_arn":"acs:ram::1:role/r"},
        {"name":"ecs","mode":"EcsRamRole","ram_role_name":"web"},
        {"name":"uri","mode":"CredentialsURI","credentials_uri":"http://127.0.0.1:9/creds"},
        {"name":"oidc","mode":"OIDC","oidc_token_file":"/t","oidc_provider_arn":"acs:ram::1:oidc-provider/p","ram_role_arn":"acs:ram::1:role/o","sts_region":"cn-beijing"},
        {"name":"sso","mode":"CloudSSO"}]}"#;

    fn kind_of(profile: &str) -> Result<Kind, CredentialsError> {
        let env = env_of(&[(ENV_IMDS_ENDPOINT, "127.0.0.1:9")]);
        from_cli_config(
            Path::new("c.json"),
            CONFIG,
            Some(profile),
            &env,
            &files(&[]),
        )
    }

    #[test]
    fn every_profile_mode_maps_to_its_provider() {
        assert!(matches!(kind_of("default"), Ok(Kind::Fixed(c, _)) if c.access_key_id() == "ak"));
        assert!(matches!(kind_of("sts"), Ok(Kind::Fixed(c, _)) if c.security_token().is_some()));
        let Ok(Kind::Role(role)) = kind_of("role") else {
            panic!()
        };
        assert_eq!(role.role.sts, "http://127.0.0.1:9");
        assert_eq!(role.role.options.external_id.as_deref(), Some("ext"));
        let Ok(Kind::Role(chained)) = kind_of("chained") else {
            panic!()
        };
        assert!(matches!(chained.source, Kind::Role(_)));
        let e = kind_of("loop1").unwrap_err();
        assert!(e.to_string().contains("loops back"), "{e}");
        let Ok(Kind::Ecs(ecs)) = kind_of("ecs") else {
            panic!()
        };
        assert_eq!(
            (ecs.role.as_deref(), ecs.endpoint.as_str()),
            (Some("web"), "http://127.0.0.1:9")
        );
        assert!(matches!(kind_of("uri"), Ok(Kind::Uri(_))));
        let Ok(Kind::Oidc(oidc)) = kind_of("oidc") else {
            panic!()
        };
        assert_eq!(oidc.role.sts, "https://sts.cn-beijing.aliyuncs.com");
        assert!(matches!(
            kind_of("sso"),
            Err(CredentialsError::UnsupportedMode { .. })
        ));
        assert!(matches!(
            kind_of("nope"),
            Err(CredentialsError::ProfileNotFound { .. })
        ));
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
    fn ini_file_types_and_paths() {
        let ini = "# comment\n[default]\ntype = access_key\naccess_key_id = id1\naccess_key_secret = s1\n\n[ecs]\ntype=ecs_ram_role\nrole_name=web\n[bad]\ntype=rsa_key_pair\n";
        let env = env_of(&[("HOME", "/h"), (ENV_ECS_METADATA_DISABLED, "true")]);
        let read = files(&[("/h/.alibabacloud/credentials", ini)]);
        let k = ini_profile(&env, &read).unwrap().unwrap();
        assert!(matches!(k, Kind::Fixed(c, _) if c.access_key_id() == "id1"));
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "ecs")]);
        assert!(matches!(ini_profile(&env, &read), Ok(Some(Kind::Ecs(_)))));
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "bad")]);
        let e = ini_profile(&env, &read).unwrap_err();
        assert!(e.to_string().contains("rsa_key_pair"), "{e}");
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "absent")]);
        assert!(ini_profile(&env, &read).unwrap().is_none());
        let env = env_of(&[(ENV_CREDENTIALS_FILE, "/missing.ini")]);
        assert!(ini_profile(&env, &read).is_err());
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
