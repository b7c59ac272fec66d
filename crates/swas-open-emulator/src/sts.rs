//! STS: `AssumeRole` (V1- or V3-signed by a known key) and `AssumeRoleWithOIDC` (unsigned),
//! both issuing temporary credentials that the SWAS half then accepts.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Serialize;
use swas_open_core::ErrorCode;

use crate::auth;
use crate::fault::Service;
use crate::issued::Issued;
use crate::reply::{Answer, Ctx};
use crate::state::{RoleConfig, Shared};

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
}

impl StsError {
    #[cfg(test)]
    fn code(&self) -> &'static str {
        self.row().1
    }

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
    let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
    (valid_name && valid_account).then_some((account, name))
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

/// Answers an STS request whose parameters (query and form body) are `params`.
pub(crate) fn handle(
    shared: &Shared,
    ctx: &Ctx,
    action: Action,
    request: &Request<Bytes>,
    params: &[(String, String)],
) -> Answer {
    if action == Action::AssumeRole {
        if let Err(answer) = auth::authenticate(shared, ctx, request) {
            return answer;
        }
    }
    match assume(shared, action, params) {
        Ok((role, session, account, duration)) => {
            let issued = shared.issue(Service::Sts, Duration::from_secs(duration));
            Answer::json(ctx, &success(ctx, &issued, role, session, account))
        }
        Err(e) => e.answer(ctx),
    }
}

/// Checks the parameters; the role name, session name, account and duration granted.
fn assume<'a>(
    shared: &Shared,
    action: Action,
    params: &'a [(String, String)],
) -> Result<(&'a str, &'a str, &'a str, u64), StsError> {
    // An empty parameter counts as absent.
    let given = |name: &str| param(params, name).filter(|v| !v.is_empty());
    let arn = given("RoleArn").ok_or(StsError::Missing("RoleArn"))?;
    let (account, role_name) = parse_role_arn(arn).ok_or(StsError::RoleArn)?;
    let session = match (given("RoleSessionName"), action) {
        (Some(s), _) if valid_session_name(s) => s,
        (Some(_), _) => return Err(StsError::RoleSessionName),
        (None, Action::AssumeRole) => return Err(StsError::Missing("RoleSessionName")),
        (None, Action::AssumeRoleWithOidc) => "oidc-session",
    };
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
            Some(role)
        }
    };
    let role = role.ok_or_else(|| StsError::RoleNotFound(arn.to_owned()))?;
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
        ];
        let mut codes: Vec<&str> = errors.iter().map(StsError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
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
