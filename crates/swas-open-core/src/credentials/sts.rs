//! STS: `AssumeRole` (signed with the V1 signer, with the source credentials) and
//! `AssumeRoleWithOIDC` (unsigned, with the token of a file read on every fetch).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use serde::Deserialize;

use super::machine::{spent, Ctx, Machine, Next, ProviderSpec};
use super::read::{read_bounded, ReadFn, MAX_TOKEN_FILE};
use super::service::{
    base_uri, credentials_of, failed_status, json, received, request, Document, Fetched, Reply,
};
use super::{Credentials, CredentialsError, RoleOptions};
use crate::encode::encode_pairs;
use crate::error::Redactions;
use crate::sign::{v1, Nonce};
use crate::time::Timestamp;
use crate::transport::Outgoing;

const STS_TIMEOUTS: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(10));
const STS_VERSION: &str = "2015-04-01";
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
const MIN_DURATION: Duration = Duration::from_secs(900);

/// What `AssumeRole` and `AssumeRoleWithOIDC` share: the role to assume, the request's
/// options, STS's base URL, and where the provider was configured (for its label).
pub(crate) struct StsRole {
    pub(crate) role_arn: String,
    pub(crate) options: RoleOptions,
    /// STS's base URL.
    pub(crate) sts: String,
    pub(crate) label: String,
}

impl StsRole {
    /// A role given to the client in code: STS from `options`, else the environment.
    pub(crate) fn given(role_arn: &str, options: RoleOptions) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        Self {
            role_arn: role_arn.to_owned(),
            sts: super::chain::sts_endpoint(options.sts_endpoint.as_deref(), &env),
            options,
            label: "given to the client".into(),
        }
    }

    /// The label of the provider that calls `action` for this role.
    fn label_for(&self, action: &str) -> String {
        format!("RAM role {} ({action}, {})", self.role_arn, self.label)
    }
}

/// `AssumeRole` with the credentials of `source`.
pub(crate) struct RoleSpec {
    pub(crate) source: ProviderSpec,
    pub(crate) role: StsRole,
}

impl RoleSpec {
    pub(crate) fn label(&self) -> String {
        self.role.label_for("AssumeRole")
    }
}

/// `AssumeRoleWithOIDC` with the token in `token_file` (read on every fetch).
pub(crate) struct OidcSpec {
    pub(crate) role: StsRole,
    pub(crate) provider_arn: String,
    pub(crate) token_file: PathBuf,
    pub(crate) read: ReadFn,
}

impl OidcSpec {
    pub(crate) fn label(&self) -> String {
        self.role.label_for("AssumeRoleWithOIDC")
    }
}

/// Where an STS fetch stands.
enum Stage {
    /// Getting what the request needs: `AssumeRole`'s source credentials (their own
    /// fetch), or nothing.
    Prepare(Option<Box<Machine>>),
    Sent,
    Answered(Reply),
    Over,
}

/// One `AssumeRole` or `AssumeRoleWithOIDC`.
pub(crate) struct StsFetch {
    action: Action,
    stage: Stage,
    /// What the request was signed with or carried (the source's secret and token, the OIDC
    /// token): STS may echo any of it in an error, which must never print it.
    secrets: Vec<String>,
}

enum Action {
    Role(Arc<RoleSpec>),
    Oidc(Arc<OidcSpec>),
}

impl StsFetch {
    pub(crate) fn role(spec: &Arc<RoleSpec>) -> Self {
        Self {
            stage: Stage::Prepare(Some(Box::new(spec.source.machine()))),
            action: Action::Role(spec.clone()),
            secrets: Vec::new(),
        }
    }

    pub(crate) fn oidc(spec: &Arc<OidcSpec>) -> Self {
        Self {
            stage: Stage::Prepare(None),
            action: Action::Oidc(spec.clone()),
            secrets: Vec::new(),
        }
    }

    fn label(&self) -> String {
        match &self.action {
            Action::Role(spec) => spec.label(),
            Action::Oidc(spec) => spec.label(),
        }
    }

    pub(crate) fn next(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Prepare(Some(mut source)) => match source.next(ctx) {
                Next::Send(o) => {
                    self.stage = Stage::Prepare(Some(source));
                    Next::Send(o)
                }
                // The source's error names the source.
                Next::Done(Err(e)) => Next::Done(Err(e)),
                Next::Done(Ok(source)) => self.send(Some(&source.credentials), ctx),
            },
            Stage::Prepare(None) => self.send(None, ctx),
            Stage::Answered(reply) => {
                Next::Done(parse(&self.label(), reply).map_err(|e| self.redacted(e)))
            }
            Stage::Sent | Stage::Over => Next::Done(Err(spent())),
        }
    }

    /// Whether the coming step reads the OIDC token file, or runs a source that may block.
    pub(crate) fn may_block(&self) -> bool {
        match (&self.stage, &self.action) {
            (Stage::Prepare(None), Action::Oidc(_)) => true,
            (Stage::Prepare(Some(source)), _) => source.may_block(),
            _ => false,
        }
    }

    pub(crate) fn receive(&mut self, reply: Reply) {
        match &mut self.stage {
            Stage::Prepare(Some(source)) => source.receive(reply),
            Stage::Sent => self.stage = Stage::Answered(reply),
            _ => {}
        }
    }

    /// `error` without any of the secrets the request was made with.
    fn redacted(&self, mut error: CredentialsError) -> CredentialsError {
        let mut redactions = Redactions::default();
        for secret in &self.secrets {
            redactions.secret(secret.as_str());
        }
        let redactions = redactions.longest_first();
        match &mut error {
            CredentialsError::Refused { refusal, .. } => {
                for text in [
                    &mut refusal.code,
                    &mut refusal.message,
                    &mut refusal.request_id,
                ]
                .into_iter()
                .flatten()
                {
                    redactions.apply(text);
                }
            }
            CredentialsError::Unavailable { reason, .. }
            | CredentialsError::Provider { reason, .. } => redactions.apply(reason),
            _ => {}
        }
        error
    }

    fn send(&mut self, source: Option<&Credentials>, ctx: &mut Ctx<'_>) -> Next {
        let outgoing = match (&self.action, source) {
            (Action::Role(spec), Some(source)) => {
                self.secrets.push(source.secret().expose().to_owned());
                self.secrets
                    .extend(source.security_token().map(|t| t.expose().to_owned()));
                assume_role(spec, source, ctx)
            }
            (Action::Oidc(spec), _) => assume_role_with_oidc(spec, ctx, &mut self.secrets),
            (Action::Role(_), None) => Err(spent()),
        };
        match outgoing {
            Ok(o) => {
                self.stage = Stage::Sent;
                Next::Send(o)
            }
            Err(e) => Next::Done(Err(e)),
        }
    }
}

/// The parameters every STS call has.
fn common<'a>(
    action: &'a str,
    role: &'a StsRole,
    timestamp: &'a str,
    session: &'a str,
    duration: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("Action", action),
        ("Version", STS_VERSION),
        ("Format", v1::FORMAT),
        ("Timestamp", timestamp),
        ("RoleArn", &role.role_arn),
        ("RoleSessionName", session),
        ("DurationSeconds", duration),
    ];
    if let Some(policy) = &role.options.policy {
        params.push(("Policy", policy));
    }
    params
}

/// The session name (default `swas-open-<unix seconds>`) and duration of `role` at `wall`.
fn session(role: &StsRole, wall: &Timestamp) -> (String, String) {
    let name =
        (role.options.session_name.clone()).unwrap_or_else(|| format!("swas-open-{}", wall.unix()));
    let duration = (role.options.duration.unwrap_or(DEFAULT_DURATION))
        .max(MIN_DURATION)
        .as_secs()
        .to_string();
    (name, duration)
}

fn timestamp(wall: SystemTime) -> Timestamp {
    Timestamp::try_from(wall).unwrap_or_else(|_| {
        Timestamp::try_from(std::time::UNIX_EPOCH).expect("the epoch is a valid timestamp")
    })
}

/// A POST of `params` as a form to STS at `role.sts`.
fn post(
    provider: &str,
    role: &StsRole,
    params: &[(&str, &str)],
) -> Result<Outgoing, CredentialsError> {
    let base = base_uri(provider, &role.sts)?;
    let body = encode_pairs(params);
    let mut outgoing = request(Method::POST, &base, "/", STS_TIMEOUTS)
        .map_err(|e| CredentialsError::provider(provider, e))?;
    outgoing.request.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    *outgoing.request.body_mut() = body.into_bytes();
    Ok(outgoing)
}

/// `AssumeRole`, signed with the V1 signer: POST with every parameter in the form body.
fn assume_role(
    spec: &RoleSpec,
    source: &Credentials,
    ctx: &mut Ctx<'_>,
) -> Result<Outgoing, CredentialsError> {
    let role = &spec.role;
    let ts = timestamp(ctx.wall);
    let (session, duration) = session(role, &ts);
    let nonce = Nonce::from_random_bytes(ctx.rng.bytes());
    let mut params = common("AssumeRole", role, ts.as_str(), &session, &duration);
    if let Some(external) = &role.options.external_id {
        params.push(("ExternalId", external));
    }
    params.push(("AccessKeyId", source.access_key_id()));
    params.push(("SignatureMethod", v1::SIGNATURE_METHOD));
    params.push(("SignatureVersion", v1::SIGNATURE_VERSION));
    params.push(("SignatureNonce", nonce.as_str()));
    if let Some(token) = source.security_token() {
        params.push(("SecurityToken", token.expose()));
    }
    let string_to_sign = v1::string_to_sign("POST", &v1::canonical_query(params.iter().copied()));
    let signature = v1::signature(source.secret().expose(), &string_to_sign);
    params.push(("Signature", &signature));
    post(&spec.label(), role, &params)
}

/// `AssumeRoleWithOIDC`: unsigned, with the token file's content.
fn assume_role_with_oidc(
    spec: &OidcSpec,
    ctx: &mut Ctx<'_>,
    secrets: &mut Vec<String>,
) -> Result<Outgoing, CredentialsError> {
    let label = spec.label();
    let token = read_bounded(&spec.read, &spec.token_file, MAX_TOKEN_FILE).map_err(|e| {
        let file = spec.token_file.display();
        CredentialsError::provider(&label, format!("cannot read OIDC token file {file}: {e}"))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(CredentialsError::provider(
            label,
            format!("OIDC token file {} is empty", spec.token_file.display()),
        ));
    }
    let role = &spec.role;
    let ts = timestamp(ctx.wall);
    let (session, duration) = session(role, &ts);
    let mut params = common("AssumeRoleWithOIDC", role, ts.as_str(), &session, &duration);
    params.push(("OIDCProviderArn", &spec.provider_arn));
    params.push(("OIDCToken", token));
    secrets.push(token.to_owned());
    post(&label, role, &params)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StsAnswer {
    credentials: Option<Document>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

fn parse(label: &str, reply: Reply) -> Result<Fetched, CredentialsError> {
    let answer = received(label, reply)?;
    let status = answer.status;
    if !status.is_success() {
        // A refusal's body is read for its code, if it can be: a proxy's or a balancer's
        // error page is not JSON.
        let refusal: StsAnswer = serde_json::from_slice(&answer.body).unwrap_or_default();
        return Err(failed_status(
            label,
            "STS",
            &answer,
            refusal.code,
            refusal.message,
            refusal.request_id,
        ));
    }
    let parsed: StsAnswer = json(label, status, "STS", &answer.body)?;
    match parsed.credentials {
        Some(document) => credentials_of(label, document, answer.date),
        None => Err(CredentialsError::unavailable(
            label,
            Some(status.as_u16()),
            "STS answered without Credentials",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::machine::{run_with, ProviderSpec};
    use crate::credentials::service::test_replies::{ok, status};
    use std::time::{Duration, SystemTime};

    const WALL: u64 = 1_700_000_000;

    fn wall() -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(WALL)
    }

    use crate::credentials::service::NoAnswer;
    use http::Method;
    use std::path::Path;
    use std::sync::Mutex;

    fn form(o: &Outgoing) -> Vec<(String, String)> {
        std::str::from_utf8(o.request.body())
            .unwrap()
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (
                    crate::encode::form_decode(k).unwrap(),
                    crate::encode::form_decode(v).unwrap(),
                )
            })
            .collect()
    }

    const STS_OK: &str = r#"{"RequestId":"r","Credentials":{"AccessKeyId":"STS.role","AccessKeySecret":"role-secret","SecurityToken":"role-token","Expiration":"2033-05-18T03:33:20Z"}}"#;

    #[test]
    fn assume_role_is_v1_signed_with_the_source_key() {
        let source = Credentials::new("src-id", "src-secret")
            .unwrap()
            .with_security_token("src-token")
            .unwrap();
        let options = RoleOptions {
            external_id: Some("ext".into()),
            policy: Some(r#"{"Statement":[]}"#.into()),
            duration: Some(Duration::from_secs(100)),
            ..RoleOptions::default()
        };
        let kind = ProviderSpec::Role(Arc::new(RoleSpec {
            source: ProviderSpec::Fixed(source, "s".into()),
            role: StsRole {
                role_arn: "acs:ram::1:role/r".into(),
                options,
                sts: "http://127.0.0.1:9".into(),
                label: "t".into(),
            },
        }));
        let (r, sent) = run_with(&kind, wall(), |_| ok(STS_OK));
        assert_eq!(r.unwrap().credentials.access_key_id(), "STS.role");
        let o = &sent[0];
        assert_eq!(o.request.method(), Method::POST);
        assert_eq!(o.request.uri().to_string(), "http://127.0.0.1:9/");
        let params = form(o);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Action"), Some("AssumeRole"));
        assert_eq!(get("DurationSeconds"), Some("900"));
        assert_eq!(get("ExternalId"), Some("ext"));
        assert_eq!(get("SecurityToken"), Some("src-token"));
        assert_eq!(get("RoleSessionName"), Some(&*format!("swas-open-{WALL}")));
        let canonical = v1::canonical_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let expected = v1::signature("src-secret", &v1::string_to_sign("POST", &canonical));
        assert_eq!(get("Signature"), Some(expected.as_str()));
        // An STS refusal names the code, never a secret.
        let (r, _) = run_with(&kind, wall(), |_| {
            status(
                403,
                r#"{"Code":"NoPermission","Message":"You are not authorized","RequestId":"R-1"}"#,
            )
        });
        let e = r.unwrap_err().to_string();
        assert!(e.contains("403 NoPermission"), "{e}");
        assert!(!e.contains("src-secret") && !e.contains("src-token"), "{e}");
        // Nor when STS echoes them, in any field, refused or unavailable.
        for code in [403, 503] {
            let (r, _) = run_with(&kind, wall(), |_| {
                status(
                    code,
                    r#"{"Code":"src-token","Message":"bad src-secret or src-token","RequestId":"src-secret"}"#,
                )
            });
            let e = r.unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(shown.contains("***"), "{shown}");
            assert!(
                !shown.contains("src-secret") && !shown.contains("src-token"),
                "{shown}"
            );
        }
    }

    #[test]
    fn oidc_rereads_the_token_file_and_is_unsigned() {
        let token = Arc::new(Mutex::new("jwt-1".to_owned()));
        let shared = token.clone();
        let kind = ProviderSpec::Oidc(Arc::new(OidcSpec {
            role: StsRole {
                role_arn: "acs:ram::1:role/o".into(),
                options: RoleOptions::default(),
                sts: "http://127.0.0.1:9".into(),
                label: "t".into(),
            },
            provider_arn: "acs:ram::1:oidc-provider/p".into(),
            token_file: "/var/run/token".into(),
            read: Arc::new(move |_: &Path| Ok(shared.lock().unwrap().clone())),
        }));
        for expected in ["jwt-1", "jwt-2"] {
            *token.lock().unwrap() = expected.into();
            let (r, sent) = run_with(&kind, wall(), |_| ok(STS_OK));
            assert!(r.is_ok());
            let params = form(&sent[0]);
            assert!(params.contains(&("OIDCToken".into(), expected.into())));
            assert!(!params
                .iter()
                .any(|(k, _)| k == "Signature" || k == "AccessKeyId"));
        }
        // STS echoing the token in a refusal: it never prints.
        let (r, _) = run_with(&kind, wall(), |_| {
            status(
                400,
                r#"{"Code":"InvalidParameter.OIDCToken","Message":"bad token jwt-2"}"#,
            )
        });
        let e = r.unwrap_err();
        assert!(!format!("{e} {e:?}").contains("jwt-2"), "{e}");
    }

    fn role(sts: &str) -> ProviderSpec {
        let source = Credentials::new("src-id", "src-secret").unwrap();
        ProviderSpec::Role(Arc::new(RoleSpec {
            source: ProviderSpec::Fixed(source, "s".into()),
            role: StsRole {
                role_arn: "acs:ram::1:role/r".into(),
                options: RoleOptions::default(),
                sts: sts.into(),
                label: "t".into(),
            },
        }))
    }

    #[test]
    fn a_bad_sts_url_fails_before_anything_is_sent() {
        let (r, sent) = run_with(&role("ftp://sts"), wall(), |_| unreachable!());
        assert!(sent.is_empty());
        assert!(matches!(r, Err(CredentialsError::Provider { .. })), "{r:?}");
    }

    #[test]
    fn what_sts_refuses_is_final_and_what_it_cannot_answer_is_transient() {
        let kind = role("http://127.0.0.1:9");
        for (reply, transient) in [
            (status(503, "busy"), true),
            (status(400, r#"{"Code":"Throttling.User"}"#), true),
            (Err(NoAnswer::text("connection refused")), true),
            (ok(r#"{"Credentials":{"AccessKeyId":["x"]}}"#), true),
            (
                status(404, r#"{"Code":"EntityNotExist.Role","RequestId":"R-9"}"#),
                false,
            ),
        ] {
            let mut reply = Some(reply);
            let (r, _) = run_with(&kind, wall(), |_| reply.take().unwrap());
            let e = r.unwrap_err();
            assert_eq!(e.is_transient(), transient, "{e:?}");
            if !transient {
                assert!(e.to_string().contains("acs:ram::1:role/r"), "{e}");
                assert!(e.to_string().contains("RequestId R-9"), "{e}");
            }
        }
    }
}
