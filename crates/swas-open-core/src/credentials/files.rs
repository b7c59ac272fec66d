//! The aliyun CLI's `config.json`: every profile mode, `source_profile` chains bounded in
//! depth. Read with the bounded reader ([`ReadFn`]), never past
//! [`MAX_FILE`](super::read::MAX_FILE).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::chain::{
    base_url, config_path, ecs_spec, non_empty, sts_endpoint, ENV_CONFIG_FILE, ENV_PROFILE,
    ENV_STS_ENDPOINT, ENV_STS_REGION,
};
use super::machine::ProviderSpec;
use super::read::ReadFn;
use super::sts::{OidcSpec, RoleSpec, StsRole};
use super::{Credentials, CredentialsError, RoleOptions};

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
pub(crate) fn cli_profile(
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<ProviderSpec>, CredentialsError> {
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
) -> Result<ProviderSpec, CredentialsError> {
    // serde's message may quote a value, and a secret may sit in the wrong field: only
    // the place is shown.
    let file: ConfigFile =
        serde_json::from_str(text).map_err(|e| CredentialsError::ConfigFile {
            path: path.to_owned(),
            reason: format!(
                "not the aliyun CLI's JSON ({} at line {} column {})",
                match e.classify() {
                    serde_json::error::Category::Data => "a field has the wrong type",
                    serde_json::error::Category::Eof => "it ends too soon",
                    _ => "a syntax error",
                },
                e.line(),
                e.column()
            ),
        })?;
    let wanted = profile.unwrap_or(&file.current);
    let wanted = if wanted.is_empty() { "default" } else { wanted };
    profile_kind(path, &file, wanted, env, read)
}

/// The deepest `source_profile` chain followed (AWS's profile chains stop there too).
const MAX_SOURCE_DEPTH: usize = 32;

/// The provider of profile `name`: a `ChainableRamRoleArn` profile's `source_profile`
/// chain is followed without recursion, up to [`MAX_SOURCE_DEPTH`] profiles, then each
/// role is assumed with the credentials of the one below it.
fn profile_kind(
    path: &Path,
    file: &ConfigFile,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<ProviderSpec, CredentialsError> {
    let config_error = |reason: String| CredentialsError::ConfigFile {
        path: path.to_owned(),
        reason,
    };
    let mut chain: Vec<&Profile> = Vec::new();
    let mut next = name;
    loop {
        if chain.iter().any(|p| p.name == next) {
            return Err(config_error(format!(
                "profile {:?}: source_profile chain loops back to {}",
                short_name(name),
                short_name(next)
            )));
        }
        if chain.len() == MAX_SOURCE_DEPTH {
            return Err(config_error(format!(
                "profile {:?}: source_profile chain is deeper than {MAX_SOURCE_DEPTH} profiles",
                short_name(name)
            )));
        }
        let p = file
            .profiles
            .iter()
            .find(|p| p.name == next)
            .ok_or_else(|| CredentialsError::ProfileNotFound {
                path: path.to_owned(),
                profile: short_name(next),
            })?;
        chain.push(p);
        if p.mode != "ChainableRamRoleArn" {
            break;
        }
        if p.source_profile.is_empty() {
            return Err(missing(path, p, "source_profile"));
        }
        next = &p.source_profile;
    }
    let base = chain.pop().expect("the chain has a profile");
    let mut kind = single_profile(path, base, env, read)?;
    for p in chain.into_iter().rev() {
        kind = role_of(path, p, env, kind)?;
    }
    Ok(kind)
}

/// At most 64 characters of a profile's name, for messages.
fn short_name(name: &str) -> String {
    name.chars().take(64).collect()
}

fn missing(path: &Path, p: &Profile, field: &str) -> CredentialsError {
    CredentialsError::ConfigFile {
        path: path.to_owned(),
        reason: format!("profile {:?} (mode {}): {field} is empty", p.name, p.mode),
    }
}

fn label_of(path: &Path, p: &Profile) -> String {
    format!("profile {:?} ({}) of {}", p.name, p.mode, path.display())
}

fn role_options(p: &Profile) -> RoleOptions {
    RoleOptions {
        session_name: non_empty(Some(p.ram_session_name.clone()))
            .or_else(|| non_empty(Some(p.role_session_name.clone()))),
        external_id: non_empty(Some(p.external_id.clone())),
        policy: non_empty(Some(p.policy.clone())),
        duration: (p.expired_seconds > 0)
            .then(|| std::time::Duration::from_secs(p.expired_seconds)),
        sts_endpoint: None,
    }
}

/// The profile's STS: its `sts_endpoint`, else its `sts_region`, else the environment's.
fn sts_of(p: &Profile, env: &dyn Fn(&str) -> Option<String>) -> String {
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
}

/// `AssumeRole` of the profile's role with the credentials of `source`.
fn role_of(
    path: &Path,
    p: &Profile,
    env: &dyn Fn(&str) -> Option<String>,
    source: ProviderSpec,
) -> Result<ProviderSpec, CredentialsError> {
    if p.ram_role_arn.is_empty() {
        return Err(missing(path, p, "ram_role_arn"));
    }
    Ok(ProviderSpec::Role(Arc::new(RoleSpec {
        source,
        role: sts_role(path, p, env),
    })))
}

/// The role profile `p` assumes, with its options, its STS and its label.
fn sts_role(path: &Path, p: &Profile, env: &dyn Fn(&str) -> Option<String>) -> StsRole {
    StsRole {
        role_arn: p.ram_role_arn.clone(),
        options: role_options(p),
        sts: sts_of(p, env),
        label: label_of(path, p),
    }
}

/// The provider of a profile that is not a `ChainableRamRoleArn`.
fn single_profile(
    path: &Path,
    p: &Profile,
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<ProviderSpec, CredentialsError> {
    let label = label_of(path, p);
    let invalid = |error| CredentialsError::Invalid {
        origin: format!("profile {:?}", p.name),
        error,
    };
    let ak = || Credentials::new(&*p.access_key_id, &*p.access_key_secret).map_err(invalid);
    match p.mode.as_str() {
        "AK" | "" => Ok(ProviderSpec::Fixed(ak()?, label)),
        "StsToken" => Ok(ProviderSpec::Fixed(
            ak()?.with_security_token(&*p.sts_token).map_err(invalid)?,
            label,
        )),
        "RamRoleArn" => role_of(path, p, env, ProviderSpec::Fixed(ak()?, label.clone())),
        "EcsRamRole" => {
            let mut spec = ecs_spec(non_empty(Some(p.ram_role_name.clone())), env);
            spec.label = label;
            Ok(ProviderSpec::Ecs(Arc::new(spec)))
        }
        "OIDC" => {
            for (field, value) in [
                ("oidc_token_file", &p.oidc_token_file),
                ("oidc_provider_arn", &p.oidc_provider_arn),
                ("ram_role_arn", &p.ram_role_arn),
            ] {
                if value.is_empty() {
                    return Err(missing(path, p, field));
                }
            }
            Ok(ProviderSpec::Oidc(Arc::new(OidcSpec {
                role: sts_role(path, p, env),
                provider_arn: p.oidc_provider_arn.clone(),
                token_file: PathBuf::from(&p.oidc_token_file),
                read: read.clone(),
            })))
        }
        "CredentialsURI" => {
            if p.credentials_uri.is_empty() {
                return Err(missing(path, p, "credentials_uri"));
            }
            Ok(ProviderSpec::Uri(p.credentials_uri.as_str().into()))
        }
        other => Err(CredentialsError::UnsupportedMode {
            profile: p.name.clone(),
            mode: short_name(other),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::credentials::chain::tests::env_of;
    use crate::credentials::chain::ENV_IMDS_ENDPOINT;
    use std::collections::HashMap;

    pub(crate) fn files(pairs: &[(&str, &str)]) -> ReadFn {
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

    fn kind_of(profile: &str) -> Result<ProviderSpec, CredentialsError> {
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
        assert!(
            matches!(kind_of("default"), Ok(ProviderSpec::Fixed(c, _)) if c.access_key_id() == "ak")
        );
        assert!(
            matches!(kind_of("sts"), Ok(ProviderSpec::Fixed(c, _)) if c.security_token().is_some())
        );
        let Ok(ProviderSpec::Role(role)) = kind_of("role") else {
            panic!()
        };
        assert_eq!(role.role.sts, "http://127.0.0.1:9");
        assert_eq!(role.role.options.external_id.as_deref(), Some("ext"));
        let Ok(ProviderSpec::Role(chained)) = kind_of("chained") else {
            panic!()
        };
        assert!(matches!(chained.source, ProviderSpec::Role(_)));
        let e = kind_of("loop1").unwrap_err();
        assert!(e.to_string().contains("loops back"), "{e}");
        let Ok(ProviderSpec::Ecs(ecs)) = kind_of("ecs") else {
            panic!()
        };
        assert_eq!(
            (ecs.role.as_deref(), ecs.endpoint.as_str()),
            (Some("web"), "http://127.0.0.1:9")
        );
        assert!(matches!(kind_of("uri"), Ok(ProviderSpec::Uri(_))));
        let Ok(ProviderSpec::Oidc(oidc)) = kind_of("oidc") else {
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
    fn a_deep_source_profile_chain_fails_short() {
        let mut profiles = vec![
            r#"{"name":"p0","mode":"AK","access_key_id":"a","access_key_secret":"b"}"#.to_owned(),
        ];
        for i in 1..10_000 {
            profiles.push(format!(
                r#"{{"name":"p{i}","mode":"ChainableRamRoleArn","source_profile":"p{}","ram_role_arn":"acs:ram::1:role/r"}}"#,
                i - 1
            ));
        }
        let text = format!(r#"{{"profiles":[{}]}}"#, profiles.join(","));
        let env = env_of(&[]);
        let e = from_cli_config(Path::new("c.json"), &text, Some("p9999"), &env, &files(&[]))
            .unwrap_err();
        let message = e.to_string();
        assert!(message.contains("deeper than 32"), "{message}");
        assert!(message.len() < 200, "{message}");
        // 32 deep is followed.
        let k = from_cli_config(Path::new("c.json"), &text, Some("p31"), &env, &files(&[]));
        assert!(matches!(k, Ok(ProviderSpec::Role(_))), "{k:?}");
    }

    #[test]
    fn a_misplaced_secret_is_not_quoted() {
        let text = r#"{"profiles":[{"name":"p","mode":"AK","access_key_id":"a","expired_seconds":"hunter2-secret"}]}"#;
        let env = env_of(&[]);
        let e =
            from_cli_config(Path::new("c.json"), text, Some("p"), &env, &files(&[])).unwrap_err();
        let message = format!("{e} {e:?}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("wrong type"), "{message}");
    }
}
