//! STS: `AssumeRole` (V1- or V3-signed by a known key) and `AssumeRoleWithOIDC` (unsigned),
//! both issuing temporary credentials that the SWAS half then accepts.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Serialize;
use swas_open_core::{ErrorCode, Timestamp};

use crate::auth;
use crate::fault::Service;
use crate::issued::Issued;
use crate::reply::{Answer, Ctx};
use crate::state::{unix_secs, within_window, OidcProviderConfig, RoleConfig, Shared};

/// The STS API version requests must name to be routed here.
pub(crate) const VERSION: &str = "2015-04-01";
/// The shortest session STS grants, in seconds.
pub(crate) const MIN_DURATION_SECS: u64 = 900;
/// The session length when `DurationSeconds` is absent, and a role's default maximum.
pub(crate) const DEFAULT_DURATION_SECS: u64 = 3600;

/// The two STS actions served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    AssumeRole,
    AssumeRoleWithOidc,
}

impl Action {
    /// The STS action a request names (parameter `Action` or header `x-acs-action`, with
    /// version `2015-04-01` the same way), if any.
    pub(crate) fn of(headers: &http::HeaderMap, params: &[(String, String)]) -> Option<Self> {
        let named = |name: &str, header: &str| {
            param(params, name).or_else(|| headers.get(header).and_then(|v| v.to_str().ok()))
        };
        if named("Version", "x-acs-version") != Some(VERSION) {
            return None;
        }
        match named("Action", "x-acs-action")? {
            "AssumeRole" => Some(Action::AssumeRole),
            "AssumeRoleWithOIDC" => Some(Action::AssumeRoleWithOidc),
            _ => None,
        }
    }

    /// The log's action column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::AssumeRole => "AssumeRole",
            Action::AssumeRoleWithOidc => "AssumeRoleWithOIDC",
        }
    }
}

/// STS's own errors: every code, status and message in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StsError {
    /// A required parameter is absent or empty.
    Missing(&'static str),
    /// `RoleArn` is not `acs:ram::<account>:role/<name>`.
    RoleArn,
    /// `RoleSessionName` is not 2 to 64 of `[A-Za-z0-9.@_-]`.
    RoleSessionName,
    /// `DurationSeconds` is not an integer in 900..=the role's maximum.
    DurationSeconds { max: u64 },
    /// `Policy` is not JSON.
    PolicyGrammar,
    /// No such role registered.
    RoleNotFound(String),
    /// The role demands an `ExternalId` that was not sent, or another one was.
    ExternalId,
    /// `OIDCProviderArn` is not `acs:ram::<account>:oidc-provider/<name>`.
    OidcProviderArn,
    /// No OIDC provider registered for this role under that ARN.
    OidcProviderNotFound,
    /// The OIDC token is not the one registered.
    OidcToken,
    /// The OIDC token is a JWT whose `exp` has passed.
    OidcTokenExpired,
    /// The OIDC token is a JWT whose `iss` is not the provider's registered issuer.
    OidcIssuer,
    /// The OIDC token is a JWT whose `aud` names none of the provider's registered audiences.
    OidcAudience,
    /// The caller's account is neither the role's nor one the role trusts.
    CrossAccount,
    /// `Timestamp` is not `YYYY-MM-DDThh:mm:ssZ`.
    TimestampFormat,
    /// `Timestamp` is outside the window around the emulator's clock.
    TimestampExpired,
}

impl StsError {
    /// (status, code, message).
    fn row(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        match self {
            StsError::Missing(name) => (
                S::BAD_REQUEST,
                "MissingParameter",
                format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
            ),
            StsError::RoleArn => (
                S::BAD_REQUEST,
                "InvalidParameter.RoleArn",
                "The parameter RoleArn is wrongly formed.".to_owned(),
            ),
            StsError::RoleSessionName => (
                S::BAD_REQUEST,
                "InvalidParameter.RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.".to_owned(),
            ),
            StsError::DurationSeconds { max } => (
                S::BAD_REQUEST,
                "InvalidParameter.DurationSeconds",
                format!("The Min/Max value of DurationSeconds is {MIN_DURATION_SECS}s/{max}s."),
            ),
            StsError::PolicyGrammar => (
                S::BAD_REQUEST,
                "InvalidParameter.PolicyGrammar",
                "The parameter Policy has not passed grammar check.".to_owned(),
            ),
            StsError::RoleNotFound(arn) => (
                S::NOT_FOUND,
                "EntityNotExist.Role",
                format!("The role not exists: {arn}."),
            ),
            StsError::ExternalId => (
                S::FORBIDDEN,
                "NoPermission",
                "No permission perform sts:AssumeRole on this Role. Maybe you should check the role's trust policy and ExternalId.".to_owned(),
            ),
            StsError::OidcProviderArn => (
                S::BAD_REQUEST,
                "InvalidParameter.OIDCProviderArn",
                "The parameter OIDCProviderArn is wrongly formed.".to_owned(),
            ),
            StsError::OidcProviderNotFound => (
                S::UNAUTHORIZED,
                "AuthenticationFail.NoPermission",
                "No such OIDC Provider registered.".to_owned(),
            ),
            StsError::OidcToken => (
                S::UNAUTHORIZED,
                "AuthenticationFail.OIDCToken.Invalid",
                "The OIDCToken is invalid.".to_owned(),
            ),
            StsError::OidcTokenExpired => (
                S::UNAUTHORIZED,
                "AuthenticationFail.OIDCToken.Expired",
                "This JsonWebToken is expired.".to_owned(),
            ),
            // STS documents no code of its own for a wrong issuer.
            StsError::OidcIssuer => (
                S::UNAUTHORIZED,
                "AuthenticationFail.OIDCToken.Invalid",
                "The issuer of the OIDCToken does not match the OIDC provider.".to_owned(),
            ),
            StsError::OidcAudience => (
                S::UNAUTHORIZED,
                "AuthenticationFail.OIDCToken.AudienceNotMatch",
                "Invalid audience.".to_owned(),
            ),
            StsError::CrossAccount => (
                S::FORBIDDEN,
                "NoPermission",
                "You are not authorized to assume a role of another account. Maybe you should check the role's trust policy.".to_owned(),
            ),
            StsError::TimestampFormat => (
                S::BAD_REQUEST,
                "IllegalTimestamp",
                "Specified time stamp or date value is not well formatted.".to_owned(),
            ),
            StsError::TimestampExpired => (
                S::BAD_REQUEST,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.".to_owned(),
            ),
        }
    }

    fn answer(&self, ctx: &Ctx) -> Answer {
        let (status, code, message) = self.row();
        Answer::error(ctx, status, ErrorCode::from(code), &message)
    }
}

/// The account and name of a role ARN, `acs:ram::<account>:role/<name>`.
pub(crate) fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    parse_arn(arn, "role/")
}

/// Whether `arn` is an OIDC provider ARN, `acs:ram::<account>:oidc-provider/<name>`.
pub(crate) fn is_oidc_provider_arn(arn: &str) -> bool {
    parse_arn(arn, "oidc-provider/").is_some()
}

fn parse_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let (account, resource) = arn.strip_prefix("acs:ram::")?.split_once(':')?;
    let name = resource.strip_prefix(kind)?;
    let valid_name = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'));
    (valid_name && valid_account(account)).then_some((account, name))
}

/// Whether `account` is an account id: 1 to 32 digits.
pub(crate) fn valid_account(account: &str) -> bool {
    (1..=32).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit())
}

/// The first value of parameter `name`.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'))
}

/// Answers an STS request whose parameters (query and form body) are `params`: in JSON, or
/// in XML when `Format=XML` (any case).
pub(crate) fn handle(
    shared: &Shared,
    ctx: &Ctx,
    action: Action,
    request: &Request<Bytes>,
    params: &[(String, String)],
) -> Answer {
    let answer = 'answer: {
        // Whose request it is: a key's account for AssumeRole (`None`: the unnamed default
        // account, trusted by every role); OIDC callers are the token's, checked against the
        // role.
        let caller = match action {
            Action::AssumeRole => match auth::authenticate(shared, ctx, request) {
                Ok(authenticated) => authenticated.account,
                Err(answer) => break 'answer answer,
            },
            Action::AssumeRoleWithOidc => {
                if let Err(e) = check_timestamp(shared, params) {
                    break 'answer e.answer(ctx);
                }
                None
            }
        };
        match assume(shared, action, params, caller.as_deref()) {
            Ok((role, session, account, duration)) => {
                let lifetime = Duration::from_secs(duration);
                let issued = shared.issue(Service::Sts, lifetime, Some(account));
                Answer::json(ctx, &success(ctx, &issued, role, session, account))
            }
            Err(e) => e.answer(ctx),
        }
    };
    if !wants_xml(params) {
        return answer;
    }
    let root = match (answer.code.is_some(), action) {
        (true, _) => "Error",
        (false, Action::AssumeRole) => "AssumeRoleResponse",
        (false, Action::AssumeRoleWithOidc) => "AssumeRoleWithOIDCResponse",
    };
    answer.into_xml(root)
}

/// Whether the caller asked for XML (`Format=XML`, any case).
pub(crate) fn wants_xml(params: &[(String, String)]) -> bool {
    param(params, "Format").is_some_and(|f| f.eq_ignore_ascii_case("xml"))
}

/// `Timestamp` present, well formed and within the window: the unsigned
/// `AssumeRoleWithOIDC` is held to the common parameters as a signed call is by
/// authentication.
fn check_timestamp(shared: &Shared, params: &[(String, String)]) -> Result<(), StsError> {
    let text = param(params, "Timestamp")
        .filter(|t| !t.is_empty())
        .ok_or(StsError::Missing("Timestamp"))?;
    let at = text
        .parse::<Timestamp>()
        .map_err(|_| StsError::TimestampFormat)?;
    if !within_window(unix_secs(at), shared.now_unix()) {
        return Err(StsError::TimestampExpired);
    }
    Ok(())
}

/// The claims of a JWT-shaped token: three non-empty `.`-separated parts whose middle one is
/// base64url JSON object.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if header.is_empty() || signature.is_empty() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The checks a registered token still goes through, as STS checks a signed one: a
/// JWT-shaped token's `exp`, and the provider's issuer and audiences when registered (which
/// then require a JWT-shaped token).
fn check_claims(
    token: &str,
    provider: Option<&OidcProviderConfig>,
    now: u64,
) -> Result<(), StsError> {
    let wants_claims = provider.is_some_and(|p| p.issuer.is_some() || !p.audiences.is_empty());
    let Some(claims) = jwt_claims(token) else {
        return if wants_claims {
            Err(StsError::OidcToken)
        } else {
            Ok(())
        };
    };
    if claims
        .get("exp")
        .and_then(serde_json::Value::as_f64)
        .is_some_and(|exp| exp <= now as f64)
    {
        return Err(StsError::OidcTokenExpired);
    }
    let Some(provider) = provider else {
        return Ok(());
    };
    if let Some(issuer) = &provider.issuer {
        if claims.get("iss").and_then(serde_json::Value::as_str) != Some(issuer.as_str()) {
            return Err(StsError::OidcIssuer);
        }
    }
    if !provider.audiences.is_empty() {
        let named = |aud: &serde_json::Value| {
            aud.as_str()
                .is_some_and(|a| provider.audiences.iter().any(|known| known == a))
        };
        let matches = match claims.get("aud") {
            Some(serde_json::Value::Array(auds)) => auds.iter().any(named),
            Some(aud) => named(aud),
            None => false,
        };
        if !matches {
            return Err(StsError::OidcAudience);
        }
    }
    Ok(())
}

/// Checks the parameters; the role name, session name, account and duration granted.
/// `caller` is the signing key's account, if named.
fn assume<'a>(
    shared: &Shared,
    action: Action,
    params: &'a [(String, String)],
    caller: Option<&str>,
) -> Result<(&'a str, &'a str, &'a str, u64), StsError> {
    // An empty parameter counts as absent.
    let given = |name: &str| param(params, name).filter(|v| !v.is_empty());
    let arn = given("RoleArn").ok_or(StsError::Missing("RoleArn"))?;
    let (account, role_name) = parse_role_arn(arn).ok_or(StsError::RoleArn)?;
    let session = given("RoleSessionName").ok_or(StsError::Missing("RoleSessionName"))?;
    if !valid_session_name(session) {
        return Err(StsError::RoleSessionName);
    }
    if given("Policy").is_some_and(|p| serde_json::from_str::<serde_json::Value>(p).is_err()) {
        return Err(StsError::PolicyGrammar);
    }
    let config = &shared.config;
    let role = match action {
        Action::AssumeRole => config.roles.get(arn).cloned(),
        Action::AssumeRoleWithOidc => {
            let provider = given("OIDCProviderArn").ok_or(StsError::Missing("OIDCProviderArn"))?;
            let token = given("OIDCToken").ok_or(StsError::Missing("OIDCToken"))?;
            if !is_oidc_provider_arn(provider) {
                return Err(StsError::OidcProviderArn);
            }
            let known_role = config.roles.get(arn).cloned().or_else(|| {
                config
                    .oidc_tokens
                    .keys()
                    .any(|(r, _)| r == arn)
                    .then_some(RoleConfig {
                        external_id: None,
                        max_duration_secs: DEFAULT_DURATION_SECS,
                        trusted_accounts: Vec::new(),
                    })
            });
            let Some(role) = known_role else {
                return Err(StsError::RoleNotFound(arn.to_owned()));
            };
            let tokens = config
                .oidc_tokens
                .get(&(arn.to_owned(), provider.to_owned()))
                .ok_or(StsError::OidcProviderNotFound)?;
            if !tokens.iter().any(|t| t == token) {
                return Err(StsError::OidcToken);
            }
            check_claims(
                token,
                config.oidc_providers.get(provider),
                shared.now_unix(),
            )?;
            Some(role)
        }
    };
    let role = role.ok_or_else(|| StsError::RoleNotFound(arn.to_owned()))?;
    if caller.is_some_and(|c| c != account && !role.trusted_accounts.iter().any(|t| t == c)) {
        return Err(StsError::CrossAccount);
    }
    let max = role.max_duration_secs;
    let duration = match given("DurationSeconds") {
        None => DEFAULT_DURATION_SECS,
        Some(d) => d
            .parse::<u64>()
            .map_err(|_| StsError::DurationSeconds { max })?,
    };
    if !(MIN_DURATION_SECS..=max).contains(&duration) {
        return Err(StsError::DurationSeconds { max });
    }
    if action == Action::AssumeRole {
        if let Some(expected) = &role.external_id {
            if given("ExternalId") != Some(expected.as_str()) {
                return Err(StsError::ExternalId);
            }
        }
    }
    Ok((role_name, session, account, duration))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse<'a> {
    request_id: &'a str,
    assumed_role_user: AssumedRoleUser,
    credentials: &'a Issued,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    arn: String,
    assumed_role_id: String,
}

fn success<'a>(
    ctx: &'a Ctx,
    issued: &'a Issued,
    role: &str,
    session: &str,
    account: &str,
) -> AssumeRoleResponse<'a> {
    // A role id is 18 digits.
    let id = uuid::Uuid::new_v4().as_u64_pair().0 % 10u64.pow(17);
    AssumeRoleResponse {
        request_id: &ctx.request_id,
        assumed_role_user: AssumedRoleUser {
            arn: format!("acs:ram::{account}:assumed-role/{role}/{session}"),
            assumed_role_id: format!("3{id:017}:{session}"),
        },
        credentials: issued,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(
            parse_role_arn("acs:ram::1234567890123456:role/test-role"),
            Some(("1234567890123456", "test-role"))
        );
        for bad in [
            "",
            "acs:ram::12:role/",
            "acs:ram::12:user/x",
            "acs:ram::abc:role/x",
            "acs:ram:::role/x",
            "arn:aws:iam::12:role/x",
            "acs:ram::12:role/a b",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
        assert!(is_oidc_provider_arn("acs:ram::12:oidc-provider/ack-rrsa"));
        assert!(!is_oidc_provider_arn("acs:ram::12:role/ack-rrsa"));
    }

    #[test]
    fn session_names() {
        assert!(valid_session_name("alice@example.com"));
        assert!(!valid_session_name("a"));
        assert!(!valid_session_name("a*b"));
        assert!(!valid_session_name(&"x".repeat(65)));
    }

    #[test]
    fn routing_needs_the_sts_version() {
        let h = http::HeaderMap::new();
        let p = |a: &str, v: &str| vec![("Action".into(), a.into()), ("Version".into(), v.into())];
        assert_eq!(
            Action::of(&h, &p("AssumeRole", VERSION)),
            Some(Action::AssumeRole)
        );
        assert_eq!(
            Action::of(&h, &p("AssumeRoleWithOIDC", VERSION)),
            Some(Action::AssumeRoleWithOidc)
        );
        assert_eq!(Action::of(&h, &p("AssumeRole", "2020-06-01")), None);
        assert_eq!(Action::of(&h, &p("DeleteCustomImage", VERSION)), None);
        let mut h = http::HeaderMap::new();
        h.insert("x-acs-action", "AssumeRole".parse().unwrap());
        h.insert("x-acs-version", VERSION.parse().unwrap());
        assert_eq!(Action::of(&h, &[]), Some(Action::AssumeRole));
    }

    #[test]
    fn every_error_has_a_distinct_row() {
        let errors = [
            StsError::Missing("RoleArn"),
            StsError::RoleArn,
            StsError::RoleSessionName,
            StsError::DurationSeconds { max: 3600 },
            StsError::PolicyGrammar,
            StsError::RoleNotFound("x".into()),
            StsError::ExternalId,
            StsError::OidcProviderArn,
            StsError::OidcProviderNotFound,
            StsError::OidcToken,
            StsError::OidcTokenExpired,
            StsError::OidcIssuer,
            StsError::OidcAudience,
            StsError::CrossAccount,
            StsError::TimestampFormat,
            StsError::TimestampExpired,
        ];
        let mut rows: Vec<(&str, String)> = errors
            .iter()
            .map(|e| {
                let (_, code, message) = e.row();
                (code, message)
            })
            .collect();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(rows.len(), errors.len());
    }

    fn jwt(claims: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn jwt_claims_are_read_from_jwt_shaped_tokens_only() {
        assert!(jwt_claims(&jwt(r#"{"exp":5}"#)).is_some());
        for not_jwt in [
            "oidc-token",
            "a.b",
            ".e30.c2ln",
            "eyJ.e30.",
            "a.b.c.d",
            "eyJ.!!!.c2ln",
            &jwt("[1]"),
            &jwt("not json"),
        ] {
            assert!(jwt_claims(not_jwt).is_none(), "{not_jwt}");
        }
    }

    #[test]
    fn claims_checks() {
        let provider = OidcProviderConfig {
            issuer: Some("https://oidc.example".into()),
            audiences: vec!["sts.aliyuncs.com".into(), "other".into()],
        };
        let good = jwt(r#"{"iss":"https://oidc.example","aud":"sts.aliyuncs.com","exp":100}"#);
        assert_eq!(check_claims(&good, Some(&provider), 99), Ok(()));
        assert_eq!(
            check_claims(&good, Some(&provider), 100),
            Err(StsError::OidcTokenExpired)
        );
        let list = jwt(r#"{"iss":"https://oidc.example","aud":["x","other"]}"#);
        assert_eq!(check_claims(&list, Some(&provider), 0), Ok(()));
        let issuer = jwt(r#"{"iss":"https://evil.example","aud":"other"}"#);
        assert_eq!(
            check_claims(&issuer, Some(&provider), 0),
            Err(StsError::OidcIssuer)
        );
        for aud in [r#""x""#, r#"["x"]"#, "1"] {
            let token = jwt(&format!(r#"{{"iss":"https://oidc.example","aud":{aud}}}"#));
            assert_eq!(
                check_claims(&token, Some(&provider), 0),
                Err(StsError::OidcAudience),
                "{aud}"
            );
        }
        let no_aud = jwt(r#"{"iss":"https://oidc.example"}"#);
        assert_eq!(
            check_claims(&no_aud, Some(&provider), 0),
            Err(StsError::OidcAudience)
        );
        // Registered claims demand a JWT; without them, any registered token passes.
        assert_eq!(
            check_claims("plain", Some(&provider), 0),
            Err(StsError::OidcToken)
        );
        assert_eq!(check_claims("plain", None, 0), Ok(()));
        assert_eq!(check_claims(&jwt("{}"), None, u64::MAX), Ok(()));
        assert_eq!(
            check_claims(&jwt(r#"{"exp":1.5}"#), None, 2),
            Err(StsError::OidcTokenExpired)
        );
    }

    proptest::proptest! {
        #[test]
        fn role_arns_parse_back_to_themselves(arn in "\\PC{0,60}") {
            if let Some((account, name)) = parse_role_arn(&arn) {
                proptest::prop_assert_eq!(format!("acs:ram::{account}:role/{name}"), arn);
            }
        }

        #[test]
        fn well_formed_role_arns_parse(account in "[0-9]{1,16}", name in "[A-Za-z0-9.@_-]{1,64}") {
            let arn = format!("acs:ram::{account}:role/{name}");
            proptest::prop_assert_eq!(parse_role_arn(&arn), Some((account.as_str(), name.as_str())));
        }

        #[test]
        fn routing_never_panics(
            action in "\\PC{0,20}",
            version in "\\PC{0,12}",
            header in "[ -~]{0,20}",
        ) {
            let mut h = http::HeaderMap::new();
            if let Ok(v) = header.parse() {
                h.insert("x-acs-version", v);
            }
            let params = vec![("Action".to_owned(), action), ("Version".to_owned(), version)];
            let _ = Action::of(&h, &params);
        }
    }
}
