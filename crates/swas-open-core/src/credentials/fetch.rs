//! The providers' fetches as sans-IO state machines: STS `AssumeRole` (signed with the V1
//! signer) and `AssumeRoleWithOIDC` (unsigned), the ECS metadata service (IMDSv2 token, role
//! discovery, v1 fallback), a credentials URI, and the default chain over them.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode};
use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::chain::{ChainSpec, CredentialsError, Link, ReadFn};
use super::{Credentials, ProvideCredentials, RoleOptions};
use crate::encode::percent_encode;
use crate::exchange::Outgoing;
use crate::sign::{default_user_agent, v1, Nonce};
use crate::time::Timestamp;

const STS_CONNECT: Duration = Duration::from_secs(5);
const STS_READ: Duration = Duration::from_secs(10);
const IMDS_TIMEOUT: Duration = Duration::from_secs(1);
const STS_VERSION: &str = "2015-04-01";
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
const MIN_DURATION: Duration = Duration::from_secs(900);
/// The largest answer a credential service may send.
const MAX_BODY: usize = 64 * 1024;

/// A provider, configured.
#[derive(Clone)]
pub(crate) enum Kind {
    /// Credentials known in advance, with where they came from.
    Fixed(Credentials, String),
    Custom(Arc<dyn ProvideCredentials>),
    Role(Arc<RoleSpec>),
    Oidc(Arc<OidcSpec>),
    Ecs(Arc<EcsSpec>),
    Uri(Arc<str>),
    Chain(Arc<ChainSpec>),
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl Kind {
    /// What the provider is, for messages (never a secret).
    pub(crate) fn label(&self) -> String {
        match self {
            Kind::Fixed(_, label) => label.clone(),
            Kind::Custom(_) => "custom provider".into(),
            Kind::Role(r) => format!(
                "RAM role {} (AssumeRole, {})",
                r.role.role_arn, r.role.label
            ),
            Kind::Oidc(o) => format!(
                "RAM role {} (AssumeRoleWithOIDC, {})",
                o.role.role_arn, o.role.label
            ),
            Kind::Ecs(e) => e.label.clone(),
            Kind::Uri(_) => "credentials URI".into(),
            Kind::Chain(c) => match &c.profile {
                Some(p) => format!("aliyun CLI profile {p:?}"),
                None => "default credential chain".into(),
            },
        }
    }

    pub(crate) fn machine(&self) -> Machine {
        match self {
            Kind::Fixed(c, label) => Machine::Ready(Some(Ok(Fetched {
                credentials: c.clone(),
                expiration: None,
                source: label.clone(),
            }))),
            Kind::Custom(p) => Machine::Custom(Some(p.clone())),
            Kind::Role(spec) => Machine::Role {
                spec: spec.clone(),
                source: Box::new(spec.source.machine()),
                sent: false,
                reply: None,
            },
            Kind::Oidc(spec) => Machine::Oidc {
                spec: spec.clone(),
                sent: false,
                reply: None,
            },
            Kind::Ecs(spec) => Machine::Ecs(EcsMachine {
                spec: spec.clone(),
                token: None,
                role: spec.role.clone(),
                stage: EcsStage::Token,
                reply: None,
            }),
            Kind::Uri(uri) => Machine::Uri {
                uri: uri.clone(),
                sent: false,
                reply: None,
            },
            Kind::Chain(spec) => {
                let pinned = spec
                    .pinned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                match pinned {
                    Some(kind) => kind.machine(),
                    None => Machine::Chain(Box::new(ChainMachine {
                        spec: spec.clone(),
                        links: Link::ORDER
                            .iter()
                            .copied()
                            .filter(|l| spec.profile.is_none() || *l == Link::CliProfile)
                            .collect(),
                        current: None,
                        tried: Vec::new(),
                    })),
                }
            }
        }
    }
}

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
}

/// `AssumeRole` with the credentials of `source`.
pub(crate) struct RoleSpec {
    pub(crate) source: Kind,
    pub(crate) role: StsRole,
}

/// `AssumeRoleWithOIDC` with the token in `token_file` (read on every fetch).
pub(crate) struct OidcSpec {
    pub(crate) role: StsRole,
    pub(crate) provider_arn: String,
    pub(crate) token_file: PathBuf,
    pub(crate) read: ReadFn,
}

/// The instance RAM role over the metadata service.
pub(crate) struct EcsSpec {
    pub(crate) role: Option<String>,
    /// The metadata service's base URL.
    pub(crate) endpoint: String,
    pub(crate) v1_disabled: bool,
    pub(crate) label: String,
}

/// Credentials obtained, with their expiration (none: they do not expire) and source.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) credentials: Credentials,
    pub(crate) expiration: Option<SystemTime>,
    pub(crate) source: String,
}

/// An answer (status and body), or why none came.
pub(crate) type Reply = Result<(StatusCode, Vec<u8>), String>;

/// What a machine asks for.
pub(crate) enum Next {
    Send(Outgoing),
    Done(Result<Fetched, CredentialsError>),
}

/// What a machine needs to make a request: the time and randomness.
pub(crate) struct Ctx<'a> {
    pub(crate) wall: SystemTime,
    pub(crate) rng: &'a mut ChaCha8Rng,
}

pub(crate) enum Machine {
    Ready(Option<Result<Fetched, CredentialsError>>),
    /// A user's provider, called when the fetch runs (never under a lock).
    Custom(Option<Arc<dyn ProvideCredentials>>),
    Role {
        spec: Arc<RoleSpec>,
        source: Box<Machine>,
        sent: bool,
        reply: Option<Reply>,
    },
    Oidc {
        spec: Arc<OidcSpec>,
        sent: bool,
        reply: Option<Reply>,
    },
    Ecs(EcsMachine),
    Uri {
        uri: Arc<str>,
        sent: bool,
        reply: Option<Reply>,
    },
    Chain(Box<ChainMachine>),
}

fn spent() -> Result<Fetched, CredentialsError> {
    Err(CredentialsError::provider(
        "credentials",
        "the fetch is already over",
    ))
}

impl Machine {
    pub(crate) fn next(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match self {
            Machine::Ready(result) => Next::Done(result.take().unwrap_or_else(spent)),
            Machine::Custom(provider) => Next::Done(match provider.take() {
                Some(p) => p
                    .provide()
                    .map(|(credentials, expiration)| Fetched {
                        credentials,
                        expiration,
                        source: "custom provider".into(),
                    })
                    .map_err(|e| CredentialsError::provider("custom provider", e.to_string())),
                None => spent(),
            }),
            Machine::Role {
                spec,
                source,
                sent,
                reply,
            } => {
                if !*sent {
                    return match source.next(ctx) {
                        Next::Send(o) => Next::Send(o),
                        Next::Done(Err(e)) => Next::Done(Err(CredentialsError::provider(
                            Kind::Role(spec.clone()).label(),
                            format!("its source credentials: {e}"),
                        ))),
                        Next::Done(Ok(source)) => {
                            *sent = true;
                            Next::Send(assume_role(spec, &source.credentials, ctx))
                        }
                    };
                }
                let label = Kind::Role(spec.clone()).label();
                Next::Done(match reply.take() {
                    Some(r) => parse_sts(&label, r),
                    None => spent(),
                })
            }
            Machine::Oidc { spec, sent, reply } => {
                let label = Kind::Oidc(spec.clone()).label();
                if !*sent {
                    *sent = true;
                    return match (spec.read)(&spec.token_file) {
                        Ok(token) if !token.trim().is_empty() => {
                            Next::Send(assume_role_with_oidc(spec, token.trim(), ctx))
                        }
                        Ok(_) => Next::Done(Err(CredentialsError::provider(
                            label,
                            format!("OIDC token file {} is empty", spec.token_file.display()),
                        ))),
                        Err(e) => Next::Done(Err(CredentialsError::provider(
                            label,
                            format!(
                                "cannot read OIDC token file {}: {e}",
                                spec.token_file.display()
                            ),
                        ))),
                    };
                }
                Next::Done(match reply.take() {
                    Some(r) => parse_sts(&label, r),
                    None => spent(),
                })
            }
            Machine::Ecs(m) => m.next(),
            Machine::Uri { uri, sent, reply } => {
                if !*sent {
                    *sent = true;
                    return match get(uri) {
                        Ok(request) => Next::Send(Outgoing {
                            request,
                            connect_timeout: STS_CONNECT,
                            read_timeout: STS_READ,
                            deadline: None,
                        }),
                        Err(e) => Next::Done(Err(CredentialsError::provider("credentials URI", e))),
                    };
                }
                Next::Done(match reply.take() {
                    Some(r) => parse_flat("credentials URI", r, false),
                    None => spent(),
                })
            }
            Machine::Chain(m) => m.next(ctx),
        }
    }

    pub(crate) fn receive(&mut self, outcome: Reply) {
        match self {
            Machine::Ready(_) | Machine::Custom(_) => {}
            Machine::Role {
                source,
                sent,
                reply,
                ..
            } => {
                if *sent {
                    *reply = Some(outcome);
                } else {
                    source.receive(outcome);
                }
            }
            Machine::Oidc { reply, .. } | Machine::Uri { reply, .. } => *reply = Some(outcome),
            Machine::Ecs(m) => m.reply = Some(outcome),
            Machine::Chain(m) => {
                if let Some((_, _, machine)) = &mut m.current {
                    machine.receive(outcome);
                }
            }
        }
    }
}

/// The default chain: each configured link in turn until one supplies credentials.
pub(crate) struct ChainMachine {
    spec: Arc<ChainSpec>,
    links: VecDeque<Link>,
    current: Option<(Link, Kind, Box<Machine>)>,
    tried: Vec<String>,
}

impl ChainMachine {
    fn next(&mut self, ctx: &mut Ctx<'_>) -> Next {
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
                        self.tried.push(match e {
                            // Already named after its provider.
                            CredentialsError::Provider { .. } => e.to_string(),
                            _ => format!("{}: {e}", link.name()),
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
                        config_path: super::chain::config_path(env),
                    }
                } else {
                    CredentialsError::Chain {
                        tried: std::mem::take(&mut self.tried),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EcsStage {
    Token,
    TokenSent,
    RoleSent,
    CredentialsSent,
}

pub(crate) struct EcsMachine {
    spec: Arc<EcsSpec>,
    token: Option<String>,
    role: Option<String>,
    stage: EcsStage,
    reply: Option<Reply>,
}

impl EcsMachine {
    fn fail(&self, reason: impl Into<String>) -> Next {
        Next::Done(Err(CredentialsError::provider(&self.spec.label, reason)))
    }

    fn request(&self, method: Method, path: &str) -> Result<Outgoing, String> {
        guard_metadata_address(&self.spec.endpoint);
        let url = format!("{}{path}", self.spec.endpoint);
        let mut request = match method {
            Method::PUT => {
                let mut r = get(&url)?;
                *r.method_mut() = Method::PUT;
                r.headers_mut().insert(
                    "x-aliyun-ecs-metadata-token-ttl-seconds",
                    HeaderValue::from_static("21600"),
                );
                r
            }
            _ => get(&url)?,
        };
        if let Some(token) = &self.token {
            let value = HeaderValue::try_from(token.as_str())
                .map_err(|_| "the metadata token is not a header value".to_owned())?;
            request
                .headers_mut()
                .insert("x-aliyun-ecs-metadata-token", value);
        }
        Ok(Outgoing {
            request,
            connect_timeout: IMDS_TIMEOUT,
            read_timeout: IMDS_TIMEOUT,
            deadline: None,
        })
    }

    fn after_token(&mut self) -> Next {
        let (stage, path) = match &self.role {
            Some(role) => (
                EcsStage::CredentialsSent,
                format!("/latest/meta-data/ram/security-credentials/{role}"),
            ),
            None => (
                EcsStage::RoleSent,
                "/latest/meta-data/ram/security-credentials/".to_owned(),
            ),
        };
        self.stage = stage;
        match self.request(Method::GET, &path) {
            Ok(o) => Next::Send(o),
            Err(e) => self.fail(e),
        }
    }

    /// After a read with the token failed: the same read once more without it (IMDSv1),
    /// unless v1 is disabled; the official Python SDK does the same, for metadata services
    /// that hand out tokens they then refuse.
    fn retry_without_token(&mut self, reply: &Option<Reply>) -> Option<Next> {
        let failed = !matches!(reply, Some(Ok((status, _))) if *status == StatusCode::OK);
        if !failed || self.spec.v1_disabled || self.token.is_none() {
            return None;
        }
        tracing::debug!("a metadata read with the IMDSv2 token failed; retrying with IMDSv1");
        self.token = None;
        Some(self.after_token())
    }

    fn next(&mut self) -> Next {
        let reply = self.reply.take();
        if matches!(self.stage, EcsStage::RoleSent | EcsStage::CredentialsSent) {
            if let Some(retry) = self.retry_without_token(&reply) {
                return retry;
            }
        }
        match self.stage {
            EcsStage::Token => {
                self.stage = EcsStage::TokenSent;
                match self.request(Method::PUT, "/latest/api/token") {
                    Ok(o) => Next::Send(o),
                    Err(e) => self.fail(e),
                }
            }
            EcsStage::TokenSent => {
                match reply {
                    Some(Ok((status, body))) if status == StatusCode::OK => {
                        let token = String::from_utf8_lossy(&body).trim().to_owned();
                        if token.is_empty() {
                            return self.fail("the metadata token is empty");
                        }
                        self.token = Some(token);
                    }
                    other => {
                        let why = match other {
                            Some(Ok((status, _))) => format!("HTTP {}", status.as_u16()),
                            Some(Err(e)) => e,
                            None => "no answer".into(),
                        };
                        if self.spec.v1_disabled {
                            return self
                                .fail(format!("no IMDSv2 token ({why}) and IMDSv1 is disabled"));
                        }
                        tracing::debug!(reason = %why, "no IMDSv2 token; falling back to IMDSv1");
                    }
                }
                self.after_token()
            }
            EcsStage::RoleSent => match reply {
                Some(Ok((status, body))) if status == StatusCode::OK => {
                    let role = String::from_utf8_lossy(&body).trim().to_owned();
                    if role.is_empty() || role.contains(['/', '?', '#', ' ']) {
                        return self.fail("the instance has no usable RAM role name");
                    }
                    self.role = Some(role);
                    self.after_token()
                }
                Some(Ok((status, _))) => self.fail(format!(
                    "role discovery answered HTTP {} (is a RAM role attached to the instance?)",
                    status.as_u16()
                )),
                Some(Err(e)) => self.fail(e),
                None => self.fail("no answer"),
            },
            EcsStage::CredentialsSent => match reply {
                Some(r) => Next::Done(parse_flat(&self.spec.label, r, true)),
                None => Next::Done(spent()),
            },
        }
    }
}

/// Refuses, in this crate's own tests, to talk to the real metadata service.
fn guard_metadata_address(endpoint: &str) {
    if cfg!(test) && endpoint.contains("100.100.100.200") {
        panic!("a test tried to reach the real instance metadata service");
    }
}

fn get(url: &str) -> Result<Request<Vec<u8>>, String> {
    let uri: http::Uri = url.parse().map_err(|_| "the URL is not valid".to_owned())?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| "the URL has no host".to_owned())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("the URL is neither http:// nor https://".into());
    }
    Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(HOST, host)
        .header(USER_AGENT, default_user_agent())
        .body(Vec::new())
        .map_err(|e| e.to_string())
}

/// The parameters every STS call has.
fn sts_common<'a>(
    action: &'a str,
    role_arn: &'a str,
    options: &'a RoleOptions,
    timestamp: &'a str,
    session: &'a str,
    duration: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("Action", action),
        ("Version", STS_VERSION),
        ("Format", v1::FORMAT),
        ("Timestamp", timestamp),
        ("RoleArn", role_arn),
        ("RoleSessionName", session),
        ("DurationSeconds", duration),
    ];
    if let Some(policy) = &options.policy {
        params.push(("Policy", policy));
    }
    params
}

fn session_name(options: &RoleOptions, wall: &Timestamp) -> String {
    options
        .session_name
        .clone()
        .unwrap_or_else(|| format!("swas-open-{}", wall.unix()))
}

fn duration_text(options: &RoleOptions) -> String {
    options
        .duration
        .unwrap_or(DEFAULT_DURATION)
        .max(MIN_DURATION)
        .as_secs()
        .to_string()
}

fn timestamp(wall: SystemTime) -> Timestamp {
    Timestamp::try_from(wall).unwrap_or_else(|_| {
        Timestamp::try_from(std::time::UNIX_EPOCH).expect("the epoch is a valid timestamp")
    })
}

/// A POST of `params` as a form to STS.
fn sts_post(base: &str, params: &[(&str, &str)]) -> Outgoing {
    let mut body = String::new();
    for (k, v) in params {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(&percent_encode(k));
        body.push('=');
        body.push_str(&percent_encode(v));
    }
    let request = get(&format!("{base}/"))
        .map(|mut r| {
            *r.method_mut() = Method::POST;
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            *r.body_mut() = body.into_bytes();
            r
        })
        .unwrap_or_else(|_| {
            // An unusable endpoint: a request that fails at once with a clear error.
            Request::new(Vec::new())
        });
    Outgoing {
        request,
        connect_timeout: STS_CONNECT,
        read_timeout: STS_READ,
        deadline: None,
    }
}

/// `AssumeRole`, signed with the V1 signer: POST with every parameter in the form body.
fn assume_role(spec: &RoleSpec, source: &Credentials, ctx: &mut Ctx<'_>) -> Outgoing {
    let role = &spec.role;
    let ts = timestamp(ctx.wall);
    let session = session_name(&role.options, &ts);
    let duration = duration_text(&role.options);
    let mut bytes = [0; 16];
    ctx.rng.fill_bytes(&mut bytes);
    let nonce = Nonce::from_random_bytes(bytes);
    let mut params = sts_common(
        "AssumeRole",
        &role.role_arn,
        &role.options,
        ts.as_str(),
        &session,
        &duration,
    );
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
    sts_post(&role.sts, &params)
}

/// `AssumeRoleWithOIDC`: unsigned.
fn assume_role_with_oidc(spec: &OidcSpec, token: &str, ctx: &mut Ctx<'_>) -> Outgoing {
    let role = &spec.role;
    let ts = timestamp(ctx.wall);
    let session = session_name(&role.options, &ts);
    let duration = duration_text(&role.options);
    let mut params = sts_common(
        "AssumeRoleWithOIDC",
        &role.role_arn,
        &role.options,
        ts.as_str(),
        &session,
        &duration,
    );
    params.push(("OIDCProviderArn", &spec.provider_arn));
    params.push(("OIDCToken", token));
    sts_post(&role.sts, &params)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Flat {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    access_key_secret: Option<String>,
    #[serde(default)]
    security_token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    #[serde(default)]
    credentials: Option<Flat>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// At most 200 characters of a service's message, on one line.
fn short(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

fn answer(label: &str, reply: Reply) -> Result<(StatusCode, Vec<u8>), CredentialsError> {
    let (status, body) = reply.map_err(|e| CredentialsError::provider(label, e))?;
    if body.len() > MAX_BODY {
        return Err(CredentialsError::provider(label, "the answer is too large"));
    }
    Ok((status, body))
}

fn parse_sts(label: &str, reply: Reply) -> Result<Fetched, CredentialsError> {
    let (status, body) = answer(label, reply)?;
    let parsed: Option<StsAnswer> = serde_json::from_slice(&body).ok();
    match parsed {
        Some(StsAnswer {
            credentials: Some(c),
            ..
        }) if status.is_success() => credentials_of(label, c),
        Some(StsAnswer { code, message, .. }) => Err(CredentialsError::provider(
            label,
            format!(
                "STS answered HTTP {} {}: {}",
                status.as_u16(),
                code.unwrap_or_default(),
                short(&message.unwrap_or_default())
            ),
        )),
        None => Err(CredentialsError::provider(
            label,
            format!("STS answered HTTP {} without JSON", status.as_u16()),
        )),
    }
}

/// The metadata service's and a credentials URI's answer: the fields at the top level.
fn parse_flat(label: &str, reply: Reply, require_code: bool) -> Result<Fetched, CredentialsError> {
    let (status, body) = answer(label, reply)?;
    if status != StatusCode::OK {
        return Err(CredentialsError::provider(
            label,
            format!("HTTP {}", status.as_u16()),
        ));
    }
    let flat: Flat = serde_json::from_slice(&body)
        .map_err(|_| CredentialsError::provider(label, "the answer is not the expected JSON"))?;
    match flat.code.as_deref() {
        Some("Success") => {}
        None if !require_code => {}
        other => {
            return Err(CredentialsError::provider(
                label,
                format!(
                    "Code is {:?}, not \"Success\": {}",
                    other.unwrap_or(""),
                    short(flat.message.as_deref().unwrap_or(""))
                ),
            ))
        }
    }
    credentials_of(label, flat)
}

/// The credentials of an answer, which must have every field: the services that answer
/// this way only ever issue temporary credentials.
fn credentials_of(label: &str, c: Flat) -> Result<Fetched, CredentialsError> {
    let field = |v: Option<String>, name: &str| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| CredentialsError::provider(label, format!("the answer has no {name}")))
    };
    let id = field(c.access_key_id, "AccessKeyId")?;
    let secret = field(c.access_key_secret, "AccessKeySecret")?;
    let token = field(c.security_token, "SecurityToken")?;
    let invalid = |error| CredentialsError::Invalid {
        origin: label.to_owned(),
        error,
    };
    let credentials = Credentials::new(id, secret)
        .and_then(|c| c.with_security_token(token))
        .map_err(invalid)?;
    let expiration = c
        .expiration
        .ok_or_else(|| CredentialsError::provider(label, "the answer has no Expiration"))?;
    let expiration = expiration.parse::<Timestamp>().map_err(|_| {
        CredentialsError::provider(label, format!("Expiration {expiration:?} is not a time"))
    })?;
    Ok(Fetched {
        credentials,
        expiration: Some(SystemTime::from(expiration)),
        source: label.to_owned(),
    })
}

/// Runs `kind` to its end at `wall` against canned answers, for tests.
#[cfg(test)]
pub(crate) fn run_with(
    kind: &Kind,
    wall: SystemTime,
    mut answer: impl FnMut(&Outgoing) -> Reply,
) -> (Result<Fetched, CredentialsError>, Vec<Outgoing>) {
    use rand_chacha::rand_core::SeedableRng;
    let mut rng = ChaCha8Rng::from_seed([3; 32]);
    let mut machine = kind.machine();
    let mut sent = Vec::new();
    loop {
        let mut ctx = Ctx {
            wall,
            rng: &mut rng,
        };
        match machine.next(&mut ctx) {
            Next::Send(o) => {
                let r = answer(&o);
                sent.push(o);
                machine.receive(r);
            }
            Next::Done(r) => return (r, sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::chain::tests::env_of;
    use super::super::chain::*;
    use super::*;
    use std::path::Path;
    use std::sync::Mutex;

    const WALL: u64 = 1_700_000_000;

    fn wall() -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(WALL)
    }

    fn ok(body: &str) -> Reply {
        Ok((StatusCode::OK, body.as_bytes().to_vec()))
    }

    const FLAT: &str = r#"{"Code":"Success","AccessKeyId":"STS.imds","AccessKeySecret":"imds-secret","SecurityToken":"imds-token","Expiration":"2033-05-18T03:33:20Z","LastUpdated":"2023-01-01T00:00:00Z"}"#;

    fn ecs(v1_disabled: bool, role: Option<&str>) -> Kind {
        Kind::Ecs(Arc::new(EcsSpec {
            role: role.map(str::to_owned),
            endpoint: "http://127.0.0.1:9".into(),
            v1_disabled,
            label: "ECS RAM role (IMDS)".into(),
        }))
    }

    #[test]
    fn imds_v2_discovers_the_role_then_reads_it() {
        let (r, sent) = run_with(&ecs(true, None), wall(), |o| {
            match (o.request.method().as_str(), o.request.uri().path()) {
                ("PUT", "/latest/api/token") => ok("tok-1"),
                ("GET", "/latest/meta-data/ram/security-credentials/") => ok("web\n"),
                ("GET", "/latest/meta-data/ram/security-credentials/web") => ok(FLAT),
                other => panic!("{other:?}"),
            }
        });
        let f = r.unwrap();
        assert_eq!(f.credentials.access_key_id(), "STS.imds");
        assert_eq!(
            f.expiration,
            Some(std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
        );
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[0].request.headers()["x-aliyun-ecs-metadata-token-ttl-seconds"],
            "21600"
        );
        for o in &sent[1..] {
            assert_eq!(o.request.headers()["x-aliyun-ecs-metadata-token"], "tok-1");
            assert_eq!(o.connect_timeout, Duration::from_secs(1));
        }
    }

    #[test]
    fn imds_v1_fallback_unless_disabled() {
        let answer = |o: &Outgoing| match o.request.method().as_str() {
            "PUT" => Ok((StatusCode::FORBIDDEN, Vec::new())),
            _ => {
                assert!(!o
                    .request
                    .headers()
                    .contains_key("x-aliyun-ecs-metadata-token"));
                ok(FLAT)
            }
        };
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), answer);
        assert!(r.is_ok());
        assert_eq!(sent.len(), 2);
        let (r, sent) = run_with(&ecs(true, Some("web")), wall(), answer);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("IMDSv1 is disabled"), "{e}");
        assert_eq!(sent.len(), 1);
        let (r, _) = run_with(&ecs(false, Some("web")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("t"),
                _ => ok(&FLAT.replace("Success", "Failed")),
            }
        });
        assert!(r.unwrap_err().to_string().contains("not \"Success\""));
    }

    #[test]
    fn imds_read_refused_with_the_token_is_retried_without_it() {
        let answer = |o: &Outgoing| match (
            o.request.method().as_str(),
            o.request
                .headers()
                .contains_key("x-aliyun-ecs-metadata-token"),
        ) {
            ("PUT", _) => ok("tok-1"),
            ("GET", true) => Ok((StatusCode::UNAUTHORIZED, Vec::new())),
            ("GET", false) => ok(FLAT),
            other => panic!("{other:?}"),
        };
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), answer);
        assert_eq!(r.unwrap().credentials.access_key_id(), "STS.imds");
        assert_eq!(sent.len(), 3, "token, read with it, read without it");
        // Only once, and never with v1 disabled.
        let (r, sent) = run_with(&ecs(true, Some("web")), wall(), answer);
        assert!(r.is_err());
        assert_eq!(sent.len(), 2);
        let (r, sent) = run_with(&ecs(false, Some("web")), wall(), |o| {
            match o.request.method().as_str() {
                "PUT" => ok("tok-1"),
                _ => Ok((StatusCode::NOT_FOUND, Vec::new())),
            }
        });
        assert!(r.is_err());
        assert_eq!(sent.len(), 3);
    }

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
        let kind = Kind::Role(Arc::new(RoleSpec {
            source: Kind::Fixed(source, "s".into()),
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
            Ok((
                StatusCode::FORBIDDEN,
                br#"{"Code":"NoPermission","Message":"You are not authorized"}"#.to_vec(),
            ))
        });
        let e = r.unwrap_err().to_string();
        assert!(e.contains("403 NoPermission"), "{e}");
        assert!(!e.contains("src-secret") && !e.contains("src-token"), "{e}");
    }

    #[test]
    fn oidc_rereads_the_token_file_and_is_unsigned() {
        let token = Arc::new(Mutex::new("jwt-1".to_owned()));
        let shared = token.clone();
        let kind = Kind::Oidc(Arc::new(OidcSpec {
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
    }

    fn chain(env: &[(&str, &str)]) -> Kind {
        let env = env_of(env);
        let read: ReadFn = Arc::new(|_: &Path| Err(std::io::ErrorKind::NotFound.into()));
        super::super::CredentialsProvider::chain_with(None, Arc::new(env), read).kind
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
            _ => Ok((StatusCode::NOT_FOUND, Vec::new())),
        });
        assert_eq!(r.unwrap().source, "credentials URI");
        assert_eq!(sent.len(), 3, "IMDS token, IMDS role, then the URI");
        // Pinned: the next fetch goes straight to the URI, and its failure is not masked.
        let (r, sent) = run_with(&kind, wall(), |_| Err("refused".into()));
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
        let (r, _) = run_with(&kind, wall(), |_| Err("connection refused".into()));
        let e = r.unwrap_err();
        let CredentialsError::Chain { tried } = &e else {
            panic!("{e}")
        };
        assert_eq!(tried.len(), 2, "{e}");
        assert!(tried[0].starts_with("environment: ALIBABA_CLOUD_ACCESS_KEY_ID is set"));
        assert!(tried[1].starts_with("ECS RAM role (IMDS): "), "{e}");
        let (r, sent) = run_with(
            &chain(&[(ENV_ECS_METADATA_DISABLED, "true")]),
            wall(),
            |_| unreachable!(),
        );
        assert!(matches!(r, Err(CredentialsError::NotFound { .. })));
        assert!(sent.is_empty());
    }

    #[test]
    #[should_panic(expected = "real instance metadata service")]
    fn tests_cannot_reach_the_real_metadata_service() {
        let _ = run_with(&chain(&[]), wall(), |_| Err("unreachable".into()));
    }
}
