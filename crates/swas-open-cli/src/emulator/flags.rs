//! The values of `swas emulator`'s flags that carry several fields (keys, key accounts,
//! roles, OIDC tokens and providers), parsed after clap so that an error message never
//! echoes a secret. Images (`--image`) are parsed by the emulator's builder.

use std::time::Duration;

use swas_open_core::Secret;
use swas_open_emulator::Role;

/// Parses `ID:SECRET[:STS_TOKEN]` into the id, the secret and the optional STS token.
///
/// The token is everything after the second `:`, so it may itself contain `:`. Error messages
/// never repeat the secret or the token.
pub(crate) fn parse_access_key_spec(s: &str) -> Result<(String, String, Option<String>), String> {
    const FORM: &str = "expected ID:SECRET or ID:SECRET:STS_TOKEN";
    let mut parts = s.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    // The id is shown only once it is known to be one: a mistyped separator (a space, `=`)
    // would otherwise show the secret glued to it.
    if id.is_empty() {
        return Err(format!("access key: empty id ({FORM})"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='))
    {
        return Err(format!(
            "access key: the id must be printable ASCII without spaces , ; = ({FORM}; the \
             value is not shown)"
        ));
    }
    let secret = parts
        .next()
        .ok_or_else(|| format!("access key {id:?}: {FORM}"))?;
    let token = parts.next();
    Secret::access_key_secret(secret).map_err(|e| format!("access key {id:?}: {e}"))?;
    if let Some(token) = token {
        Secret::security_token(token).map_err(|e| format!("access key {id:?}: {e}"))?;
    }
    Ok((id.to_owned(), secret.to_owned(), token.map(str::to_owned)))
}

/// Parses `ARN[,external-id=ID][,max-duration=SECS][,trust-account=ACCOUNT]...` into a role.
///
/// An ARN holds no `,`, so the options follow it after commas. The ARN itself is checked when
/// the emulator starts.
pub(crate) fn parse_role_spec(s: &str) -> Result<Role, String> {
    const FORM: &str = "expected ARN[,external-id=ID][,max-duration=SECS][,trust-account=ACCOUNT]";
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
            Some(("trust-account", account)) if !account.is_empty() => role.trust_account(account),
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
        // Without its three parts, the first may hold the token: show none of it.
        _ => Err(format!("OIDC token: {FORM} (the value is not shown)")),
    }
}

/// Parses `ID=ACCOUNT`: the access key `ID` belongs to `ACCOUNT`.
pub(crate) fn parse_key_account_spec(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((id, account)) if !id.is_empty() && !account.is_empty() => {
            Ok((id.to_owned(), account.to_owned()))
        }
        _ => Err("key account: expected ID=ACCOUNT".to_owned()),
    }
}

/// Parses `PROVIDER_ARN[,issuer=URL][,audience=ID]...` into the provider, its issuer and
/// its audiences.
pub(crate) fn parse_oidc_provider_spec(
    s: &str,
) -> Result<(String, Option<String>, Vec<String>), String> {
    const FORM: &str = "expected PROVIDER_ARN[,issuer=URL][,audience=ID]...";
    let mut parts = s.split(',');
    let provider = parts.next().unwrap_or_default();
    if provider.is_empty() {
        return Err(format!("OIDC provider: empty ARN ({FORM})"));
    }
    let (mut issuer, mut audiences) = (None, Vec::new());
    for option in parts {
        match option.split_once('=') {
            Some(("issuer", url)) if !url.is_empty() && issuer.is_none() => {
                issuer = Some(url.to_owned());
            }
            Some(("audience", id)) if !id.is_empty() => audiences.push(id.to_owned()),
            _ => {
                let name = option.split_once('=').map_or(option, |(n, _)| n);
                return Err(format!(
                    "OIDC provider {provider:?}: unknown, empty or repeated option {name:?} ({FORM})"
                ));
            }
        }
    }
    Ok((provider.to_owned(), issuer, audiences))
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
        // A space (or `=`) for the colon: the whole value is refused, none of it shown.
        for typo in ["ID S3CR3T", "ID=S3CR3T", "ID S3CR3T:TOKEN", "ID\tS3CR3T"] {
            let e = parse_access_key_spec(typo).unwrap_err();
            assert!(!e.contains("S3CR3T"), "{e}");
        }
    }

    #[test]
    fn key_account_and_oidc_provider_specs() {
        assert_eq!(
            parse_key_account_spec("ak=123").unwrap(),
            ("ak".to_owned(), "123".to_owned())
        );
        for bad in ["", "ak", "=1", "ak="] {
            assert!(parse_key_account_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_oidc_provider_spec(
                "acs:ram::1:oidc-provider/p,issuer=https://i.example,audience=a,audience=b"
            )
            .unwrap(),
            (
                "acs:ram::1:oidc-provider/p".to_owned(),
                Some("https://i.example".to_owned()),
                vec!["a".to_owned(), "b".to_owned()]
            )
        );
        assert_eq!(parse_oidc_provider_spec("p").unwrap().2.len(), 0);
        for bad in [
            "",
            ",issuer=x",
            "p,issuer=",
            "p,issuer=a,issuer=b",
            "p,colour=x",
        ] {
            assert!(parse_oidc_provider_spec(bad).is_err(), "{bad}");
        }
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
            "acs:ram::1:role/r,trust-account=",
        ];
        let trusting =
            parse_role_spec("acs:ram::1:role/r,trust-account=2,trust-account=3").unwrap();
        assert!(format!("{trusting:?}").contains(r#"["2", "3"]"#));
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
        // Spaces for commas: nothing of the value is shown.
        let e =
            parse_oidc_spec("acs:ram::1:role/r acs:ram::1:oidc-provider/p hidden-jwt").unwrap_err();
        assert!(!e.contains("hidden"), "{e}");
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
