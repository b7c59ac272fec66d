//! The credentials ini file (`~/.alibabacloud/credentials.ini`): one section's provider.
//! Read with the bounded reader ([`ReadFn`]).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::chain::{ecs_spec, home, non_empty, sts_endpoint, ENV_CREDENTIALS_FILE, ENV_PROFILE};
use super::machine::ProviderSpec;
use super::read::ReadFn;
use super::sts::{OidcSpec, RoleSpec, StsRole};
use super::{Credentials, CredentialsError, RoleOptions};

/// The ini file's path: `ALIBABA_CLOUD_CREDENTIALS_FILE`, else the first of
/// `~/.alibabacloud/credentials.ini` and `~/.alibabacloud/credentials` that can be read.
pub(crate) fn ini_profile(
    env: &dyn Fn(&str) -> Option<String>,
    read: &ReadFn,
) -> Result<Option<ProviderSpec>, CredentialsError> {
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
    // The role a role type assumes, labelled `label`.
    let role = |label| -> Result<StsRole, CredentialsError> {
        Ok(StsRole {
            role_arn: require("role_arn")?,
            options: RoleOptions {
                session_name: non_empty(Some(get("role_session_name"))),
                policy: non_empty(Some(get("policy"))),
                ..RoleOptions::default()
            },
            sts: sts_endpoint(None, env),
            label,
        })
    };
    let kind = match get("type").as_str() {
        "access_key" => ProviderSpec::Fixed(
            Credentials::new(require("access_key_id")?, require("access_key_secret")?)
                .map_err(invalid)?,
            label,
        ),
        "ecs_ram_role" => {
            let mut spec = ecs_spec(non_empty(Some(get("role_name"))), env);
            spec.label = label;
            ProviderSpec::Ecs(Arc::new(spec))
        }
        "ram_role_arn" => {
            let source = Credentials::new(require("access_key_id")?, require("access_key_secret")?)
                .map_err(invalid)?;
            ProviderSpec::Role(Arc::new(RoleSpec {
                source: ProviderSpec::Fixed(source, label.clone()),
                role: role(label)?,
            }))
        }
        "oidc_role_arn" => ProviderSpec::Oidc(Arc::new(OidcSpec {
            role: role(label)?,
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
mod tests {
    use super::*;
    use crate::credentials::chain::tests::env_of;
    use crate::credentials::chain::ENV_ECS_METADATA_DISABLED;
    use crate::credentials::files::tests::files;

    #[test]
    fn ini_file_types_and_paths() {
        let ini = "# comment\n[default]\ntype = access_key\naccess_key_id = id1\naccess_key_secret = s1\n\n[ecs]\ntype=ecs_ram_role\nrole_name=web\n[bad]\ntype=rsa_key_pair\n";
        let env = env_of(&[("HOME", "/h"), (ENV_ECS_METADATA_DISABLED, "true")]);
        let read = files(&[("/h/.alibabacloud/credentials", ini)]);
        let k = ini_profile(&env, &read).unwrap().unwrap();
        assert!(matches!(k, ProviderSpec::Fixed(c, _) if c.access_key_id() == "id1"));
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "ecs")]);
        assert!(matches!(
            ini_profile(&env, &read),
            Ok(Some(ProviderSpec::Ecs(_)))
        ));
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "bad")]);
        let e = ini_profile(&env, &read).unwrap_err();
        assert!(e.to_string().contains("rsa_key_pair"), "{e}");
        let env = env_of(&[("HOME", "/h"), (ENV_PROFILE, "absent")]);
        assert!(ini_profile(&env, &read).unwrap().is_none());
        let env = env_of(&[(ENV_CREDENTIALS_FILE, "/missing.ini")]);
        assert!(ini_profile(&env, &read).is_err());
    }
}
