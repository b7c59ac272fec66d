//! The handle and its builder: configure, start (async or on its own thread), inspect, stop.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::Secret;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fault::Fault;
use crate::server::Scope;
use crate::state::{Clock, Config, Key, OidcProviderConfig, RateClock, RoleConfig, Shared};
use crate::tls::{self, Tls};
use crate::{admin, images_file, imds, server, sts, Stats};

/// The default request size limit: 64 KiB.
const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A RAM role that STS lets callers assume, registered with [`EmulatorBuilder::role`].
///
/// ```
/// use std::time::Duration;
/// use swas_open::emulator::Role;
/// let role = Role::new("acs:ram::1234567890123456:role/deployer")
///     .external_id("abcd1234")
///     .max_session_duration(Duration::from_secs(7200));
/// # let _ = role;
/// ```
#[derive(Clone)]
#[must_use = "a role does nothing until registered with EmulatorBuilder::role"]
pub struct Role {
    arn: String,
    external_id: Option<String>,
    max_duration_secs: u64,
    trusted_accounts: Vec<String>,
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Role")
            .field("arn", &self.arn)
            .field("external_id", &self.external_id.as_ref().map(|_| "***"))
            .field("max_duration_secs", &self.max_duration_secs)
            .field("trusted_accounts", &self.trusted_accounts)
            .finish()
    }
}

impl Role {
    /// The role `acs:ram::<account>:role/<name>`: no `ExternalId` needed, sessions of up to
    /// an hour.
    pub fn new(arn: &str) -> Self {
        Self {
            arn: arn.to_owned(),
            external_id: None,
            max_duration_secs: sts::DEFAULT_DURATION_SECS,
            trusted_accounts: Vec::new(),
        }
    }

    /// `AssumeRole` must send exactly this `ExternalId` (else 403 `NoPermission`).
    pub fn external_id(mut self, external_id: &str) -> Self {
        self.external_id = Some(external_id.to_owned());
        self
    }

    /// The largest `DurationSeconds` accepted (whole seconds, at least 900; default 3600).
    pub fn max_session_duration(mut self, max: Duration) -> Self {
        self.max_duration_secs = max.as_secs();
        self
    }

    /// Lets principals of `account` (digits) assume the role too, as a trust policy naming
    /// another account does (repeatable). Without it, `AssumeRole` by a caller of a known
    /// account other than the role's is refused with 403 `NoPermission`.
    pub fn trust_account(mut self, account: &str) -> Self {
        self.trusted_accounts.push(account.to_owned());
        self
    }
}

/// Configures an [`Emulator`]; see [`Emulator::builder`].
#[must_use = "a builder does nothing until started"]
pub struct EmulatorBuilder {
    keys: Vec<(String, String, Option<String>)>,
    key_accounts: Vec<(String, String)>,
    account: Option<String>,
    images: Vec<(String, String, bool)>,
    image_specs: Vec<String>,
    images_from: Vec<PathBuf>,
    roles: Vec<Role>,
    oidc_tokens: Vec<(String, String, String)>,
    oidc_providers: Vec<(String, Option<String>, Vec<String>)>,
    imds_listen: Option<SocketAddr>,
    instance_role: Option<String>,
    imds_v2_only: bool,
    credentials_uri: Option<String>,
    credential_lifetime: Option<Duration>,
    clock: Option<Clock>,
    clock_skew: i64,
    listen: SocketAddr,
    max_request_bytes: usize,
    log_requests: bool,
    rate_limit: Option<u32>,
    rate_clock: Option<RateClock>,
    tls: bool,
    tls_names: Vec<String>,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids only: secrets and tokens never print.
        let ids: Vec<&str> = self.keys.iter().map(|(id, _, _)| id.as_str()).collect();
        let oidc: Vec<(&str, &str)> = self
            .oidc_tokens
            .iter()
            .map(|(role, provider, _)| (role.as_str(), provider.as_str()))
            .collect();
        f.debug_struct("EmulatorBuilder")
            .field("access_key_ids", &ids)
            .field("key_accounts", &self.key_accounts)
            .field("account", &self.account)
            .field("images", &self.images)
            .field("image_specs", &self.image_specs)
            .field("images_from", &self.images_from)
            .field("roles", &self.roles)
            .field("oidc_tokens", &oidc)
            .field("oidc_providers", &self.oidc_providers)
            .field("imds_listen", &self.imds_listen)
            .field("instance_role", &self.instance_role)
            .field("imds_v2_only", &self.imds_v2_only)
            .field("credentials_uri", &self.credentials_uri)
            .field("credential_lifetime", &self.credential_lifetime)
            .field("clock_skew", &self.clock_skew)
            .field("listen", &self.listen)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("log_requests", &self.log_requests)
            .field("rate_limit", &self.rate_limit)
            .field("tls", &self.tls)
            .field("tls_names", &self.tls_names)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            key_accounts: Vec::new(),
            account: None,
            images: Vec::new(),
            image_specs: Vec::new(),
            images_from: Vec::new(),
            roles: Vec::new(),
            oidc_tokens: Vec::new(),
            oidc_providers: Vec::new(),
            imds_listen: None,
            instance_role: None,
            imds_v2_only: false,
            credentials_uri: None,
            credential_lifetime: None,
            clock: None,
            clock_skew: 0,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            log_requests: false,
            rate_limit: None,
            rate_clock: None,
            tls: false,
            tls_names: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// Accepts requests signed with this AccessKey (and no STS token).
    pub fn access_key(mut self, id: &str, secret: &str) -> Self {
        self.keys.push((id.to_owned(), secret.to_owned(), None));
        self
    }

    /// Accepts requests signed with this STS AccessKey; they must carry exactly
    /// `security_token`, else 400 `InvalidSecurityToken.MismatchWithAccessKey` (also when the
    /// token is missing).
    pub fn sts_access_key(mut self, id: &str, secret: &str, security_token: &str) -> Self {
        self.keys.push((
            id.to_owned(),
            secret.to_owned(),
            Some(security_token.to_owned()),
        ));
        self
    }

    /// Puts the key `id` (registered with [`EmulatorBuilder::access_key`] or
    /// [`EmulatorBuilder::sts_access_key`]) in `account` (digits) instead of the default
    /// account: its `AssumeRole` calls may assume only that account's roles (and those that
    /// [trust](Role::trust_account) it), and its `ClientToken`s are remembered apart from
    /// other accounts'.
    pub fn key_account(mut self, id: &str, account: &str) -> Self {
        self.key_accounts.push((id.to_owned(), account.to_owned()));
        self
    }

    /// The default account (digits): of every key that names none, and of the instance,
    /// whose IMDS and credentials URI credentials belong to it. Unset, the default account
    /// is unnamed: one account for idempotency, and trusted by every role (as before
    /// accounts were checked).
    pub fn account(mut self, account: &str) -> Self {
        self.account = Some(account.to_owned());
        self
    }

    /// Adds a custom image that can be deleted.
    pub fn image(mut self, region: &str, image_id: &str) -> Self {
        self.images
            .push((region.to_owned(), image_id.to_owned(), false));
        self
    }

    /// Adds a shared custom image: deleting it answers 400 `CustomImageInShare`.
    pub fn shared_image(mut self, region: &str, image_id: &str) -> Self {
        self.images
            .push((region.to_owned(), image_id.to_owned(), true));
        self
    }

    /// Adds the image `spec` describes, `REGION:IMAGE_ID` or `REGION:IMAGE_ID:shared` (the
    /// form of `swas emulator --image` and of [`EmulatorBuilder::images_from`]'s lines);
    /// starting fails if it is malformed.
    pub fn image_spec(mut self, spec: &str) -> Self {
        self.image_specs.push(spec.to_owned());
        self
    }

    /// Adds the images listed in the file at `path`, read when the emulator starts: one
    /// `REGION:IMAGE_ID` or `REGION:IMAGE_ID:shared` a line (blank lines and lines starting
    /// with `#` are skipped). The file must be a regular file of at most 64 MiB, with lines
    /// of at most 1,024 bytes; starting fails with the line number of the first bad line.
    pub fn images_from(mut self, path: impl Into<PathBuf>) -> Self {
        self.images_from.push(path.into());
        self
    }

    /// Lets STS's `AssumeRole` (signed by a key of the role's account, or of an account it
    /// [trusts](Role::trust_account)) and `AssumeRoleWithOIDC` (with a registered token)
    /// assume this role.
    pub fn role(mut self, role: Role) -> Self {
        self.roles.push(role);
        self
    }

    /// Lets `AssumeRoleWithOIDC` assume `role_arn` with `token` from the OIDC provider
    /// `provider_arn` (repeatable: each registered token is accepted). The role needs no
    /// [`EmulatorBuilder::role`] of its own unless it should allow sessions over an hour.
    pub fn oidc_token(mut self, role_arn: &str, provider_arn: &str, token: &str) -> Self {
        self.oidc_tokens.push((
            role_arn.to_owned(),
            provider_arn.to_owned(),
            token.to_owned(),
        ));
        self
    }

    /// Registers what the OIDC provider `provider_arn`'s tokens must carry: `issuer` as
    /// `iss` (if given) and one of `audiences` in `aud` (if any). Tokens for it must then
    /// be JWT-shaped; a wrong issuer is refused with 401
    /// `AuthenticationFail.OIDCToken.Invalid`, a wrong audience with 401
    /// `AuthenticationFail.OIDCToken.AudienceNotMatch`.
    pub fn oidc_provider(
        mut self,
        provider_arn: &str,
        issuer: Option<&str>,
        audiences: &[&str],
    ) -> Self {
        self.oidc_providers.push((
            provider_arn.to_owned(),
            issuer.map(str::to_owned),
            audiences.iter().map(|a| (*a).to_owned()).collect(),
        ));
        self
    }

    /// Also listens on `addr` for the instance metadata service alone, in plain HTTP
    /// whatever [`EmulatorBuilder::tls`] says, as the real one is reached at
    /// `http://100.100.100.200`; it shares everything else (credentials it issues are
    /// accepted on the main listener). Anything but `/latest/...` is answered 404 there.
    /// See [`Emulator::imds_url`].
    pub fn imds_listen(mut self, addr: SocketAddr) -> Self {
        self.imds_listen = Some(addr);
        self
    }

    /// Serves this RAM role's credentials over IMDS, at
    /// `/latest/meta-data/ram/security-credentials/<name>`.
    pub fn instance_role(mut self, name: &str) -> Self {
        self.instance_role = Some(name.to_owned());
        self
    }

    /// IMDS in security hardening mode: reads without a session token are refused with 403
    /// (default off: they are served, as IMDSv1).
    pub fn imds_v2_only(mut self, on: bool) -> Self {
        self.imds_v2_only = on;
        self
    }

    /// Serves temporary credentials to `GET path` (e.g. `/credentials`), as a credentials
    /// URI does; see [`Emulator::credentials_uri`]. The path must start with `/` and must not
    /// be `/` or lie under `/latest/` or `/__emulator/`.
    pub fn credentials_uri(mut self, path: &str) -> Self {
        self.credentials_uri = Some(path.to_owned());
        self
    }

    /// How long every credential issued lasts (STS's `DurationSeconds` is still checked but
    /// no longer sets it). Default: STS sessions last `DurationSeconds`, IMDS and credentials
    /// URI credentials six hours. A one-off lifetime is a [`Fault::expires_in`].
    pub fn credential_lifetime(mut self, lifetime: Duration) -> Self {
        self.credential_lifetime = Some(lifetime);
        self
    }

    /// The clock request timestamps are checked against, `Date` headers are written from and
    /// credentials expire by (default: the system clock), so tests can skew it.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Runs the clock this many seconds ahead (negative: behind) of the system clock, or of
    /// the [`EmulatorBuilder::clock`] given.
    pub fn clock_skew(mut self, seconds: i64) -> Self {
        self.clock_skew = seconds;
        self
    }

    /// Where to listen (default `127.0.0.1:0`, a free port; see [`Emulator::addr`]).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The largest request accepted, request line, headers and body together (default 64 KiB);
    /// larger ones are answered 413 `RequestEntityTooLarge`.
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Writes one line per request to stderr:
    /// `<METHOD> <action or -> <code or OK> <status> <latency ms>ms` (default off).
    pub fn log_requests(mut self, on: bool) -> Self {
        self.log_requests = on;
        self
    }

    /// Throttles SWAS like a service over its quota: a token bucket holding `per_second`
    /// tokens (full at start) and refilled at `per_second` tokens a second; a SWAS request
    /// that finds it empty is answered 400 `Throttling.User` at once, before faults and
    /// authentication (it takes no fault and deletes nothing), and counted in
    /// [`Stats::throttled`](crate::Stats::throttled). `0` counts as 1. Default: no limit.
    /// STS, IMDS and the credentials URI are never limited.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// The monotonic clock the [`EmulatorBuilder::rate_limit`] bucket refills by (default:
    /// [`Instant::now`]), so a test can step it instead of waiting for the refill.
    pub fn rate_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.rate_clock = Some(Arc::new(clock));
        self
    }

    /// Serves HTTPS instead of HTTP, with a certificate generated at start for `localhost`,
    /// `127.0.0.1`, `::1`, the listening address and every [`EmulatorBuilder::tls_name`],
    /// signed by a CA generated with it (see [`Emulator::ca_pem`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Adds a DNS name or IP address to the certificate (repeatable); implies
    /// [`EmulatorBuilder::tls`].
    pub fn tls_name(mut self, name: &str) -> Self {
        self.tls = true;
        self.tls_names.push(name.to_owned());
        self
    }

    /// Starts the emulator on the current tokio runtime (which needs its IO and time drivers
    /// enabled, as `#[tokio::test]` and `#[tokio::main]` do).
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when a secret, token, role ARN, OIDC
    /// provider ARN, credentials URI path or TLS name is not valid, or with the error of
    /// binding the address.
    pub async fn start(self) -> io::Result<Emulator> {
        let (listen, imds_listen) = (self.listen, self.imds_listen);
        let (shared, tls) = self.into_parts()?;
        let listener = TcpListener::bind(listen).await?;
        let imds = match imds_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Emulator::launch(shared, tls, listener, imds, |serve, done| {
            tokio::spawn(async move {
                serve.await;
                let _ = done.send(true);
            });
            Ok(None)
        })
    }

    /// Starts the emulator on a runtime of its own, on a thread of its own: for blocking code
    /// and plain `#[test]`s. Returns once it is listening.
    pub fn start_blocking(self) -> io::Result<Emulator> {
        let (listen, imds_listen) = (self.listen, self.imds_listen);
        let (shared, tls) = self.into_parts()?;
        let bind = |addr: SocketAddr| {
            let listener = std::net::TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            Ok::<_, io::Error>(listener)
        };
        let listener = bind(listen)?;
        let imds = imds_listen.map(bind).transpose()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("swas-emulator-worker")
            .enable_all()
            .build()?;
        let (listener, imds) = {
            let _context = runtime.enter();
            (
                TcpListener::from_std(listener)?,
                imds.map(TcpListener::from_std).transpose()?,
            )
        };
        Emulator::launch(shared, tls, listener, imds, |serve, done| {
            let thread = std::thread::Builder::new()
                .name("swas-emulator".to_owned())
                .spawn(move || {
                    runtime.block_on(serve);
                    drop(runtime);
                    let _ = done.send(true);
                })?;
            Ok(Some(thread))
        })
    }

    fn into_parts(self) -> io::Result<(Arc<Shared>, Option<Tls>)> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        let account = |what: &str, account: &str| {
            if sts::valid_account(account) {
                Ok(account.to_owned())
            } else {
                Err(invalid(format!(
                    "{what}: account {account:?}: expected digits"
                )))
            }
        };
        let default_account = match &self.account {
            Some(a) => Some(account("default account", a)?),
            None => None,
        };
        let mut key_accounts: HashMap<String, String> = HashMap::new();
        for (id, a) in &self.key_accounts {
            if !self.keys.iter().any(|(known, _, _)| known == id) {
                return Err(invalid(format!(
                    "account of access key {id:?}: no such access key"
                )));
            }
            key_accounts.insert(id.clone(), account(&format!("access key {id:?}"), a)?);
        }
        let mut keys = HashMap::new();
        for (id, secret, token) in self.keys {
            let secret = Secret::access_key_secret(secret)
                .map_err(|e| invalid(format!("access key {id:?}: {e}")))?;
            if let Some(token) = &token {
                Secret::security_token(token.as_str())
                    .map_err(|e| invalid(format!("access key {id:?}: {e}")))?;
            }
            let account = key_accounts.remove(&id);
            keys.insert(
                id,
                Key {
                    secret,
                    security_token: token,
                    account,
                },
            );
        }
        // Added one by one, then by spec, then from files: a later one decides whether an
        // image is shared.
        let mut listed = self.images;
        for spec in &self.image_specs {
            listed.push(
                images_file::parse_line(spec)
                    .map_err(|e| invalid(format!("image {spec:?}: {e}")))?,
            );
        }
        for path in &self.images_from {
            listed.extend(images_file::read(path)?);
        }
        let mut images: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
        for (region, image, shared) in listed {
            images.entry(region).or_default().insert(image, shared);
        }
        let mut roles = HashMap::new();
        for role in self.roles {
            if sts::parse_role_arn(&role.arn).is_none() {
                return Err(invalid(format!(
                    "role {:?}: expected acs:ram::<account>:role/<name>",
                    role.arn
                )));
            }
            if role.max_duration_secs < sts::MIN_DURATION_SECS {
                return Err(invalid(format!(
                    "role {:?}: the maximum session duration must be at least {} seconds",
                    role.arn,
                    sts::MIN_DURATION_SECS
                )));
            }
            for trusted in &role.trusted_accounts {
                account(&format!("role {:?}", role.arn), trusted)?;
            }
            roles.insert(
                role.arn,
                RoleConfig {
                    external_id: role.external_id,
                    max_duration_secs: role.max_duration_secs,
                    trusted_accounts: role.trusted_accounts,
                },
            );
        }
        let mut oidc_tokens: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (role, provider, token) in self.oidc_tokens {
            if sts::parse_role_arn(&role).is_none() {
                return Err(invalid(format!(
                    "OIDC role {role:?}: expected acs:ram::<account>:role/<name>"
                )));
            }
            if !sts::is_oidc_provider_arn(&provider) {
                return Err(invalid(format!(
                    "OIDC provider {provider:?}: expected acs:ram::<account>:oidc-provider/<name>"
                )));
            }
            Secret::security_token(token.as_str())
                .map_err(|e| invalid(format!("OIDC token for {role:?}: {e}")))?;
            oidc_tokens.entry((role, provider)).or_default().push(token);
        }
        let mut oidc_providers = HashMap::new();
        for (provider, issuer, audiences) in self.oidc_providers {
            if !sts::is_oidc_provider_arn(&provider) {
                return Err(invalid(format!(
                    "OIDC provider {provider:?}: expected acs:ram::<account>:oidc-provider/<name>"
                )));
            }
            oidc_providers.insert(provider, OidcProviderConfig { issuer, audiences });
        }
        if let Some(name) = &self.instance_role {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !valid {
                return Err(invalid(format!(
                    "instance role {name:?}: expected letters, digits, '.', '_' or '-'"
                )));
            }
        }
        if let Some(path) = &self.credentials_uri {
            let reserved = path == "/"
                || path.starts_with(imds::PREFIX)
                || path.starts_with(admin::PREFIX)
                || !path.starts_with('/')
                || path.contains(['?', '#']);
            if reserved || http::uri::PathAndQuery::try_from(path.as_str()).is_err() {
                return Err(invalid(format!(
                    "credentials URI path {path:?}: expected an absolute path other than /, \
                     outside /latest/ and /__emulator/"
                )));
            }
        }
        let tls = if self.tls {
            Some(tls::generate(&self.tls_names, self.listen.ip())?)
        } else {
            None
        };
        let base = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
        let clock: Clock = match self.clock_skew {
            0 => base,
            skew => {
                let by = Duration::from_secs(skew.unsigned_abs());
                Arc::new(move || {
                    let now = base();
                    if skew > 0 {
                        now.checked_add(by).unwrap_or(now)
                    } else {
                        now.checked_sub(by).unwrap_or(now)
                    }
                })
            }
        };
        let config = Config {
            keys,
            roles,
            oidc_tokens,
            oidc_providers,
            account: default_account,
            instance_role: self.instance_role,
            imds_v2_only: self.imds_v2_only,
            credentials_uri: self.credentials_uri,
            credential_lifetime: self.credential_lifetime,
            clock,
            max_request_bytes: self.max_request_bytes,
            log_requests: self.log_requests,
            rate_limit: self.rate_limit,
            rate_clock: self.rate_clock.unwrap_or_else(|| Arc::new(Instant::now)),
        };
        Ok((Arc::new(Shared::new(config, images)), tls))
    }
}

/// A running emulator. Cheap to clone; every clone drives the same server.
///
/// The server stops on [`Emulator::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    imds_addr: Option<SocketAddr>,
    ca_pem: Option<String>,
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Inner {
    fn stop(&self) {
        self.stop.send_replace(true);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.inner.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Serves `listener` (and `imds`, metadata only, in plain HTTP) until stopped: `spawn`
    /// runs the server future (on a task, or on a thread of its own whose handle it returns)
    /// and sends `true` on the sender once it has ended.
    fn launch(
        shared: Arc<Shared>,
        tls: Option<Tls>,
        listener: TcpListener,
        imds: Option<TcpListener>,
        spawn: impl FnOnce(
            Pin<Box<dyn Future<Output = ()> + Send>>,
            watch::Sender<bool>,
        ) -> io::Result<Option<std::thread::JoinHandle<()>>>,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let imds_addr = imds.as_ref().map(TcpListener::local_addr).transpose()?;
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let (acceptor, ca_pem) = match tls {
            Some(tls) => (Some(tls.acceptor), Some(tls.ca_pem)),
            None => (None, None),
        };
        let main = server::serve(
            listener,
            shared.clone(),
            acceptor,
            Scope::All,
            stop_rx.clone(),
        );
        let metadata =
            imds.map(|l| server::serve(l, shared.clone(), None, Scope::Metadata, stop_rx));
        let serve = async move {
            match metadata {
                Some(metadata) => {
                    tokio::join!(main, metadata);
                }
                None => main.await,
            }
        };
        let thread = spawn(Box::pin(serve), done_tx)?;
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                addr,
                imds_addr,
                ca_pem,
                stop,
                done,
                thread: Mutex::new(thread),
            }),
        })
    }

    /// A builder with no keys, no images, no roles, the system clock, plain HTTP on
    /// `127.0.0.1:0` and a 64 KiB limit.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on (with the actual port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://HOST:PORT` (`https://` with [`EmulatorBuilder::tls`]), the endpoint to point
    /// clients at: SWAS, STS and IMDS alike (for this project's clients,
    /// `ALIBABA_CLOUD_STS_ENDPOINT` and `ALIBABA_CLOUD_IMDS_ENDPOINT`; see
    /// [`Emulator::imds_url`] for clients that need the metadata service over plain HTTP).
    pub fn url(&self) -> String {
        let scheme = if self.inner.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.inner.addr)
    }

    /// The address of the metadata-only listener, when started with
    /// [`EmulatorBuilder::imds_listen`] (with the actual port when started on port 0).
    pub fn imds_addr(&self) -> Option<SocketAddr> {
        self.inner.imds_addr
    }

    /// `http://HOST:PORT` of the metadata-only listener (always plain HTTP), when started with
    /// [`EmulatorBuilder::imds_listen`]: the value for `ALIBABA_CLOUD_IMDS_ENDPOINT`.
    pub fn imds_url(&self) -> Option<String> {
        self.inner.imds_addr.map(|addr| format!("http://{addr}"))
    }

    /// The PEM of the CA that signed the server certificate, when serving HTTPS: the root a
    /// client must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.inner.ca_pem.as_deref()
    }

    /// The full URL of the credentials URI route, when one was configured.
    pub fn credentials_uri(&self) -> Option<String> {
        let path = self.inner.shared.config.credentials_uri.as_deref()?;
        Some(format!("{}{path}", self.url()))
    }

    /// Queues a fault for the next request(s); see [`Fault`]. Returns `false`, queuing
    /// nothing, when the queue is full: 10,000 faults, or 1 MiB of them (error codes
    /// included), over every service.
    pub fn inject(&self, fault: Fault) -> bool {
        self.inner.shared.inject(vec![fault]).is_ok()
    }

    /// Adds an image (or changes whether it is shared).
    pub fn add_image(&self, region: &str, image_id: &str, shared: bool) {
        self.inner.shared.add_image(region, image_id, shared);
    }

    /// Whether `region` holds `image_id`.
    pub fn has_image(&self, region: &str, image_id: &str) -> bool {
        self.inner.shared.has_image(region, image_id)
    }

    /// The image ids of `region`, sorted.
    pub fn images(&self, region: &str) -> Vec<String> {
        self.inner.shared.images(region)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.shared.stats()
    }

    /// Stops gracefully: no new connections, in-flight requests finish (cut off after a few
    /// seconds), idle connections close. Idempotent. When started with
    /// [`EmulatorBuilder::start_blocking`], returns once the server thread has ended; when
    /// started with [`EmulatorBuilder::start`], returns at once (await
    /// [`Emulator::wait_stopped`] to know it has ended).
    pub fn shutdown(&self) {
        self.inner.stop();
    }

    /// Resolves once the server has stopped after [`Emulator::shutdown`].
    pub async fn wait_stopped(&self) {
        let mut done = self.inner.done.clone();
        let _ = done.wait_for(|done| *done).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_send_sync_and_debug_hides_secrets() {
        fn send_sync<T: Send + Sync + Clone + 'static>() {}
        send_sync::<Emulator>();
        let builder = Emulator::builder()
            .sts_access_key("ak", "hidden-secret", "hidden-token")
            .role(Role::new("acs:ram::1:role/r").external_id("hidden-external"))
            .oidc_token(
                "acs:ram::1:role/r",
                "acs:ram::1:oidc-provider/p",
                "hidden-jwt",
            );
        let shown = format!("{builder:?}");
        assert!(
            shown.contains("\"ak\"") && !shown.contains("hidden"),
            "{shown}"
        );
    }
}
