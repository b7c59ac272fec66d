//! The default credential chain, as the official SDKs and the aliyun CLI resolve it:
//!
//! 1. environment: `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, optional
//!    `ALIBABA_CLOUD_SECURITY_TOKEN`;
//! 2. the aliyun CLI's config file (`ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`),
//!    profile `ALIBABA_CLOUD_PROFILE`, else the file's `current`; modes `AK` and `StsToken`
//!    (any other mode is a clear "not supported" error).
//!
//! An explicitly named profile skips the environment. The chain reads nothing itself: the
//! environment and the file system come in as functions, so it is tested without touching
//! either, and the transports pass `std::env::var` and `std::fs::read_to_string`.
//!
//! ```
//! use swas_open_core::chain::{default_chain, CredentialSource};
//! let env = |k: &str| match k {
//!     "HOME" => Some("/home/me".to_string()),
//!     _ => None,
//! };
//! let file = |_: &std::path::Path| Ok(r#"{"current":"dev","profiles":[{"name":"dev",
//!     "mode":"AK","access_key_id":"id1","access_key_secret":"s1","region_id":"cn-beijing"}]}"#
//!     .to_string());
//! let found = default_chain(None, env, file)?;
//! assert_eq!(found.credentials.access_key_id(), "id1");
//! assert_eq!(found.region.as_deref(), Some("cn-beijing"));
//! assert!(matches!(found.source, CredentialSource::ConfigFile { ref profile, .. } if profile == "dev"));
//! # Ok::<(), swas_open_core::chain::CredentialsError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::credentials::Credentials;
use crate::input::InputError;

/// `ALIBABA_CLOUD_ACCESS_KEY_ID`.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// `ALIBABA_CLOUD_SECURITY_TOKEN`.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// `ALIBABA_CLOUD_CONFIG_FILE`.
pub const ENV_CONFIG_FILE: &str = "ALIBABA_CLOUD_CONFIG_FILE";
/// `ALIBABA_CLOUD_PROFILE`.
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
/// `ALIBABA_CLOUD_REGION_ID`.
pub const ENV_REGION_ID: &str = "ALIBABA_CLOUD_REGION_ID";

/// Where credentials were found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The `ALIBABA_CLOUD_*` environment variables.
    Environment,
    /// A profile of the aliyun CLI's config file.
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The profile name.
        profile: String,
    },
}

/// Credentials found by the chain, with where they came from and the region configured
/// beside them (`ALIBABA_CLOUD_REGION_ID`, or the profile's `region_id`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// The credentials.
    pub credentials: Credentials,
    /// Their source.
    pub source: CredentialSource,
    /// The region configured with them, if any.
    pub region: Option<String>,
}

/// Why the chain found no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Nothing configured anywhere.
    #[error("no credentials found: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, or configure a profile in {}", .config_path.display())]
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
    /// The config file cannot be read or parsed.
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
    #[error(
        "profile {profile:?}: credential mode {mode:?} is not supported (supported: AK, StsToken)"
    )]
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
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// Credentials from the `ALIBABA_CLOUD_*` variables, `Ok(None)` when neither id nor secret
/// is set.
pub fn from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Resolved>, CredentialsError> {
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
    Ok(Some(Resolved {
        credentials,
        source: CredentialSource::Environment,
        region: non_empty(env(ENV_REGION_ID)),
    }))
}

/// Credentials from the aliyun CLI config file's text; `profile` `None` means the file's
/// `current`.
pub fn from_cli_config(
    path: &Path,
    text: &str,
    profile: Option<&str>,
) -> Result<Resolved, CredentialsError> {
    let file: ConfigFile =
        serde_json::from_str(text).map_err(|e| CredentialsError::ConfigFile {
            path: path.to_owned(),
            reason: format!("not valid JSON: {e}"),
        })?;
    let wanted = profile.unwrap_or(&file.current);
    let wanted = if wanted.is_empty() { "default" } else { wanted };
    let p = file
        .profiles
        .into_iter()
        .find(|p| p.name == wanted)
        .ok_or_else(|| CredentialsError::ProfileNotFound {
            path: path.to_owned(),
            profile: wanted.to_owned(),
        })?;
    let invalid = |error| CredentialsError::Invalid {
        origin: format!("profile {:?}", p.name),
        error,
    };
    let credentials = match p.mode.as_str() {
        "AK" | "" => Credentials::new(&*p.access_key_id, &*p.access_key_secret).map_err(invalid)?,
        "StsToken" => Credentials::new(&*p.access_key_id, &*p.access_key_secret)
            .and_then(|c| c.with_security_token(&*p.sts_token))
            .map_err(invalid)?,
        other => {
            return Err(CredentialsError::UnsupportedMode {
                profile: p.name,
                mode: other.to_owned(),
            })
        }
    };
    Ok(Resolved {
        credentials,
        region: non_empty(Some(p.region_id)),
        source: CredentialSource::ConfigFile {
            path: path.to_owned(),
            profile: p.name,
        },
    })
}

/// The aliyun CLI config file's path: `ALIBABA_CLOUD_CONFIG_FILE`, else
/// `$HOME/.aliyun/config.json` (`USERPROFILE` on Windows).
pub fn config_path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(p) = non_empty(env(ENV_CONFIG_FILE)) {
        return PathBuf::from(p);
    }
    let home = non_empty(env("HOME"))
        .or_else(|| non_empty(env("USERPROFILE")))
        .unwrap_or_default();
    Path::new(&home).join(".aliyun").join("config.json")
}

/// Runs the chain. `profile` names a profile explicitly (skipping the environment); `env`
/// reads a variable; `read_file` reads a file.
pub fn default_chain(
    profile: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    read_file: impl Fn(&Path) -> io::Result<String>,
) -> Result<Resolved, CredentialsError> {
    if profile.is_none() {
        if let Some(found) = from_env(&env)? {
            return Ok(found);
        }
    }
    let explicit_file = non_empty(env(ENV_CONFIG_FILE)).is_some();
    let path = config_path(&env);
    let text = match read_file(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit_file && profile.is_none() => {
            return Err(CredentialsError::NotFound { config_path: path })
        }
        Err(e) => {
            return Err(CredentialsError::ConfigFile {
                path,
                reason: e.to_string(),
            })
        }
    };
    let env_profile = non_empty(env(ENV_PROFILE));
    from_cli_config(&path, &text, profile.or(env_profile.as_deref()))
}

/// [`default_chain`] over this process's environment and file system.
pub fn default_chain_from_process(profile: Option<&str>) -> Result<Resolved, CredentialsError> {
    default_chain(
        profile,
        |k| std::env::var(k).ok(),
        |p| std::fs::read_to_string(p),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn no_file(_: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    const CONFIG: &str = r#"{"current":"default","profiles":[
        {"name":"default","mode":"AK","access_key_id":"ak","access_key_secret":"sk","region_id":"cn-hangzhou"},
        {"name":"sts","mode":"StsToken","access_key_id":"STS.x","access_key_secret":"sk2","sts_token":"tok"},
        {"name":"role","mode":"RamRoleArn","access_key_id":"a","access_key_secret":"b"}]}"#;

    #[test]
    fn env_first_with_token_and_region() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "secret"),
            (ENV_SECURITY_TOKEN, "tok"),
            (ENV_REGION_ID, "cn-beijing"),
        ]);
        let r = default_chain(None, env, |_| Ok(CONFIG.into())).unwrap();
        assert_eq!(r.source, CredentialSource::Environment);
        assert_eq!(r.credentials.security_token().unwrap().expose(), "tok");
        assert_eq!(r.region.as_deref(), Some("cn-beijing"));
    }

    #[test]
    fn half_set_environment_is_an_error() {
        let env = env_of(&[(ENV_ACCESS_KEY_ID, "id")]);
        assert!(matches!(
            default_chain(None, env, no_file),
            Err(CredentialsError::IncompleteEnvironment { .. })
        ));
    }

    #[test]
    fn profiles_modes_and_errors() {
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "sts")]);
        let r = default_chain(None, &env, |_| Ok(CONFIG.into())).unwrap();
        assert_eq!(r.credentials.access_key_id(), "STS.x");
        assert!(r.credentials.security_token().is_some());
        let r = default_chain(Some("default"), &env, |_| Ok(CONFIG.into())).unwrap();
        assert_eq!(r.credentials.access_key_id(), "ak");
        let e = default_chain(Some("role"), &env, |_| Ok(CONFIG.into())).unwrap_err();
        assert!(
            e.to_string().contains("\"RamRoleArn\" is not supported"),
            "{e}"
        );
        let e = default_chain(Some("nope"), &env, |_| Ok(CONFIG.into())).unwrap_err();
        assert!(matches!(e, CredentialsError::ProfileNotFound { .. }));
        let e = default_chain(None, &env, |_| Ok("{oops".into())).unwrap_err();
        assert!(matches!(e, CredentialsError::ConfigFile { .. }));
    }

    #[test]
    fn nothing_found_names_the_path() {
        let e = default_chain(None, env_of(&[("HOME", "/h")]), no_file).unwrap_err();
        assert_eq!(
            e,
            CredentialsError::NotFound {
                config_path: PathBuf::from("/h/.aliyun/config.json")
            }
        );
        let explicit = env_of(&[(ENV_CONFIG_FILE, "/x.json")]);
        assert!(matches!(
            default_chain(None, explicit, no_file),
            Err(CredentialsError::ConfigFile { .. })
        ));
    }

    #[test]
    fn invalid_secret_never_shows() {
        let text = r#"{"current":"d","profiles":[{"name":"d","mode":"AK","access_key_id":"id","access_key_secret":"bad secret"}]}"#;
        let e = from_cli_config(Path::new("c.json"), text, None).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("bad secret"));
    }
}
