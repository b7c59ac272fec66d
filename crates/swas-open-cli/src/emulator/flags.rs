//! The values of `swas emulator`'s flags that carry several fields (keys, images, roles,
//! OIDC tokens), parsed after clap so that an error message never echoes a secret.

use std::time::Duration;

use swas_open_core::{ImageId, RegionId, Secret};
use swas_open_emulator::Role;

/// Parses `ID:SECRET[:STS_TOKEN]` into the id, the secret and the optional STS token.
///
/// The token is everything after the second `:`, so it may itself contain `:`. Error messages
/// never repeat the secret or the token.
pub(crate) fn parse_access_key_spec(s: &str) -> Result<(String, String, Option<String>), String> {
    const FORM: &str = "expected ID:SECRET or ID:SECRET:STS_TOKEN";
    let mut parts = s.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let secret = parts
        .next()
        .ok_or_else(|| format!("access key {id:?}: {FORM}"))?;
    let token = parts.next();
    if id.is_empty() {
        return Err(format!("access key: empty id ({FORM})"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='))
    {
        return Err(format!(
            "access key {id:?}: the id must be printable ASCII without , ; ="
        ));
    }
    Secret::access_key_secret(secret).map_err(|e| format!("access key {id:?}: {e}"))?;
    if let Some(token) = token {
        Secret::security_token(token).map_err(|e| format!("access key {id:?}: {e}"))?;
    }
    Ok((id.to_owned(), secret.to_owned(), token.map(str::to_owned)))
}

/// Parses `REGION:IMAGE_ID[:shared]` into the region, the image id and whether the image is
/// shared (a shared image cannot be deleted).
pub(crate) fn parse_image_spec(s: &str) -> Result<(String, String, bool), String> {
    const FORM: &str = "expected REGION:IMAGE_ID or REGION:IMAGE_ID:shared";
    let mut parts = s.split(':');
    let (Some(region), Some(image)) = (parts.next(), parts.next()) else {
        return Err(format!("image {s:?}: {FORM}"));
    };
    let shared = match (parts.next(), parts.next()) {
        (None, _) => false,
        (Some("shared"), None) => true,
        _ => return Err(format!("image {s:?}: {FORM}")),
    };
    RegionId::new(region).map_err(|e| format!("image {s:?}: {e}"))?;
    ImageId::new(image).map_err(|e| format!("image {s:?}: {e}"))?;
    Ok((region.to_owned(), image.to_owned(), shared))
}

/// Parses `ARN[,external-id=ID][,max-duration=SECS]` into a role.
///
/// An ARN holds no `,`, so the options follow it after commas. The ARN itself is checked when
/// the emulator starts.
pub(crate) fn parse_role_spec(s: &str) -> Result<Role, String> {
    const FORM: &str = "expected ARN[,external-id=ID][,max-duration=SECS]";
    let mut parts = s.split(',');
    let arn = parts.next().unwrap_or_default();
    if arn.is_empty() {
        return Err(format!("role: empty ARN ({FORM})"));
    }
    let mut role = Role::new(arn);
    for option in parts {
        role = match option.split_once('=') {
            Some(("external-id", id)) if !id.is_empty() => role.external_id(id),
            Some(("max-duration", secs)) => {
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| format!("role {arn:?}: max-duration must be whole seconds"))?;
                role.max_session_duration(Duration::from_secs(secs))
            }
            // The option may hold a secret-like ExternalId: name the option, not its value.
            _ => {
                let name = option.split_once('=').map_or(option, |(n, _)| n);
                return Err(format!(
                    "role {arn:?}: unknown or empty option {name:?} ({FORM})"
                ));
            }
        };
    }
    Ok(role)
}

/// Parses `ROLE_ARN,PROVIDER_ARN,TOKEN` into its three parts; the token is everything after
/// the second `,`. Error messages never repeat the token.
pub(crate) fn parse_oidc_spec(s: &str) -> Result<(String, String, String), String> {
    const FORM: &str = "expected ROLE_ARN,PROVIDER_ARN,TOKEN";
    let mut parts = s.splitn(3, ',');
    let role = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (Some(provider), Some(token)) if !role.is_empty() && !provider.is_empty() => {
            Secret::security_token(token).map_err(|e| format!("OIDC token for {role:?}: {e}"))?;
            Ok((role.to_owned(), provider.to_owned(), token.to_owned()))
        }
        _ => Err(format!("OIDC token for {role:?}: {FORM}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse` refuses every spec of `bad`, and its refusal of `leaky` does not show `secret`.
    #[track_caller]
    fn refuses<T: std::fmt::Debug>(
        parse: fn(&str) -> Result<T, String>,
        bad: &[&str],
        (leaky, secret): (&str, &str),
    ) {
        for bad in bad {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let err = parse(leaky).unwrap_err();
        assert!(!err.contains(secret), "{err}");
    }

    #[test]
    fn access_key_specs() {
        assert_eq!(
            parse_access_key_spec("id:se:cr:et").unwrap(),
            ("id".into(), "se".into(), Some("cr:et".into()))
        );
        let bad = [
            "",
            "id",
            ":secret",
            "id:",
            "id:sec ret",
            "id:secret:",
            "i d:s",
        ];
        refuses(parse_access_key_spec, &bad, ("id:top secret", "top"));
    }

    #[test]
    fn doc_examples() {
        assert_eq!(
            parse_access_key_spec("ak:sk").unwrap(),
            ("ak".to_owned(), "sk".to_owned(), None)
        );
        assert_eq!(
            parse_access_key_spec("STS.ak:sk:tok").unwrap().2.as_deref(),
            Some("tok")
        );
        assert_eq!(
            parse_image_spec("cn-hangzhou:m-1").unwrap(),
            ("cn-hangzhou".to_owned(), "m-1".to_owned(), false)
        );
        assert!(parse_image_spec("cn-hangzhou:m-2:shared").unwrap().2);
        assert!(parse_image_spec("cn-hangzhou:m-3:public").is_err());
    }

    #[test]
    fn role_specs() {
        let role =
            parse_role_spec("acs:ram::1:role/r,external-id=top-secret-ext,max-duration=7200")
                .unwrap();
        let shown = format!("{role:?}");
        assert!(
            shown.contains("acs:ram::1:role/r") && shown.contains("7200"),
            "{shown}"
        );
        assert!(!shown.contains("top-secret-ext"), "{shown}");
        assert!(parse_role_spec("acs:ram::1:role/r").is_ok());
        let bad = [
            "",
            ",external-id=x",
            "acs:ram::1:role/r,external-id=",
            "acs:ram::1:role/r,max-duration=soon",
            "acs:ram::1:role/r,colour=blue",
        ];
        let leaky = ("acs:ram::1:role/r,typo=hidden-value", "hidden-value");
        refuses(parse_role_spec, &bad, leaky);
    }

    #[test]
    fn oidc_specs() {
        let (role, provider, token) =
            parse_oidc_spec("acs:ram::1:role/r,acs:ram::1:oidc-provider/p,eyJ.a,b").unwrap();
        assert_eq!(
            (role.as_str(), provider.as_str(), token.as_str()),
            ("acs:ram::1:role/r", "acs:ram::1:oidc-provider/p", "eyJ.a,b")
        );
        let bad = ["", "r", "r,p", ",p,t", "r,,t", "r,p,"];
        refuses(parse_oidc_spec, &bad, ("r,p,bad\ttoken-hidden", "hidden"));
    }

    #[test]
    fn image_specs() {
        for bad in [
            "",
            "cn-hangzhou",
            "cn-hangzhou:",
            "CN:m-1",
            "r:m 1",
            "r:m:shared:x",
        ] {
            assert!(parse_image_spec(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever is wrong with a key spec, its error never shows the secret or token.
        #[test]
        fn key_spec_errors_never_show_the_secret(
            id in "[a-z0-9 :.,;=]{0,8}",
            secret in "S3CR[ -~\t]{0,8}",
            token in proptest::option::of("T0KN[ -~\t]{0,8}"),
        ) {
            let spec = match &token {
                Some(t) => format!("{id}:{secret}:{t}"),
                None => format!("{id}:{secret}"),
            };
            if let Err(e) = parse_access_key_spec(&spec) {
                proptest::prop_assert!(!e.contains("S3CR"), "{}", e);
                proptest::prop_assert!(!e.contains("T0KN"), "{}", e);
            }
        }

        /// Nor does an OIDC spec's error show the token, nor a role spec's an ExternalId.
        #[test]
        fn oidc_and_role_errors_never_show_tokens(
            role in "[a-z0-9:/ ._-]{0,12}",
            provider in "[a-z0-9:/ ._-]{0,12}",
            token in "T0KN[ -~\t\n]{0,8}",
            option in "[a-z-]{0,12}",
        ) {
            if let Err(e) = parse_oidc_spec(&format!("{role},{provider},{token}")) {
                proptest::prop_assert!(!e.contains("T0KN"), "{}", e);
            }
            let spec = format!("{role},{option}=T0KN-external");
            if let Err(e) = parse_role_spec(&spec) {
                proptest::prop_assert!(!e.contains("T0KN"), "{}", e);
            }
        }
    }
}
