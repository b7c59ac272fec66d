use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::credentials::read::{read_regular, MAX_FILE};
use crate::credentials::{CredentialsCache, CredentialsProvider};
use crate::endpoint::{Endpoint, EndpointKind};
use crate::error::Error;
use crate::input::{ClientToken, DeleteCustomImage, RegionId};
use crate::network::{self, Proxies, ProxyChoice};
use crate::retry::RetryPolicy;
use crate::shared::SharedState;
use crate::sign::SignatureVersion;
#[cfg(feature = "transport")]
use crate::{credentials::access::CurrentSigner, exchange::Readings};

/// The default bound on setting up a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default bound on waiting for, and on reading, an answer.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a client `C` from what a transport needs, once the options are resolved.
///
/// Both clients of `swas-open` implement it (and [`Config`] itself does), so a bound
/// `C: FromConfig` builds either with the same options. A transport of your own implements
/// it too, with feature `transport`, which opens the resolved [`Config`] to it.
pub trait FromConfig: Sized {
    /// Makes the client (its connection pool, TLS configuration, ...).
    fn from_config(config: Config) -> Result<Self, Error>;
}

/// What every client shares, whatever its transport: the builder with its defaults, and
/// their resolution into a signer, an endpoint choice, time bounds and a retry policy.
///
/// A transport implements [`FromConfig`] for its client and names
/// `ClientBuilder<ItsClient>` as its builder, so the blocking and async clients take the
/// same options, with the same defaults and the same errors. The resolved [`Config`] also
/// holds what the calls of one client share: the clock offset learnt from the service and
/// the retry budget.
///
/// ```
/// use std::time::Duration;
/// use swas_open::sans_io::{ClientBuilder, Config, FromConfig};
/// use swas_open::{Credentials, Error, ErrorKind, SignatureVersion};
///
/// /// A client that keeps its configuration and sends nothing.
/// #[derive(Debug)]
/// struct Probe(Config);
/// impl FromConfig for Probe {
///     fn from_config(config: Config) -> Result<Self, Error> {
///         Ok(Probe(config))
///     }
/// }
///
/// let builder = ClientBuilder::<Probe>::default()
///     .credentials(Credentials::new("id", "secret")?)
///     .signature_version(SignatureVersion::V3)
///     .read_timeout(Duration::from_secs(3));
/// let probe = builder.clone().build()?;
/// assert!(format!("{:?}", probe.0).contains("read_timeout: 3s"));
/// // The options are checked when the client is built.
/// let bad = builder.region("Bad_Region").build().unwrap_err();
/// assert!(matches!(bad.kind(), ErrorKind::InvalidInput(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The options of a client; every one has a default, so `builder().build()` works once
/// credentials can be found.
///
/// Defaults: credentials from the default chain ([`CredentialsProvider::default`]), the public endpoint of
/// each input's region, signature V1, connect timeout 5 s, read timeout 10 s, no deadline,
/// [`RetryPolicy::default`] (3 attempts), the built-in (webpki) roots plus `SSL_CERT_FILE`,
/// and the proxies of the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`).
#[must_use]
pub struct ClientBuilder<C> {
    credentials: Option<CredentialsProvider>,
    profile: Option<String>,
    region: Option<String>,
    endpoint_kind: EndpointKind,
    endpoint: Option<String>,
    signature_version: SignatureVersion,
    connect_timeout: Duration,
    read_timeout: Duration,
    deadline: Option<Duration>,
    retry_policy: RetryPolicy,
    user_agent_suffix: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    root_certificate_files: Vec<std::path::PathBuf>,
    native_roots: bool,
    proxy: ProxyChoice,
    no_proxy: Option<String>,
    client: PhantomData<fn() -> C>,
}

impl<C> Clone for ClientBuilder<C> {
    fn clone(&self) -> Self {
        Self {
            credentials: self.credentials.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_kind: self.endpoint_kind,
            endpoint: self.endpoint.clone(),
            signature_version: self.signature_version,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            deadline: self.deadline,
            retry_policy: self.retry_policy,
            user_agent_suffix: self.user_agent_suffix.clone(),
            root_certificates: self.root_certificates.clone(),
            root_certificate_files: self.root_certificate_files.clone(),
            native_roots: self.native_roots,
            proxy: self.proxy.clone(),
            no_proxy: self.no_proxy.clone(),
            client: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("credentials", &self.credentials)
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("endpoint_kind", &self.endpoint_kind)
            .field("endpoint", &self.endpoint)
            .field("signature_version", &self.signature_version)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("deadline", &self.deadline)
            .field("retry_policy", &self.retry_policy)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("root_certificates", &self.root_certificates.len())
            .field("root_certificate_files", &self.root_certificate_files)
            .field("native_roots", &self.native_roots)
            .field("proxy", &self.proxy)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// A builder with the defaults (see the type's documentation).
impl<C> Default for ClientBuilder<C> {
    fn default() -> Self {
        Self {
            credentials: None,
            profile: None,
            region: None,
            endpoint_kind: EndpointKind::default(),
            endpoint: None,
            signature_version: SignatureVersion::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            deadline: None,
            retry_policy: RetryPolicy::default(),
            user_agent_suffix: None,
            root_certificates: Vec::new(),
            root_certificate_files: Vec::new(),
            native_roots: false,
            proxy: ProxyChoice::Environment,
            no_proxy: None,
            client: PhantomData,
        }
    }
}

impl<C> ClientBuilder<C> {
    /// Where the credentials come from: fixed [`Credentials`](crate::Credentials) (an
    /// AccessKey pair, optionally with an STS token), or a [`CredentialsProvider`] (an STS role, OIDC, the ECS RAM role,
    /// a credentials URI, the default chain, or your own), whose credentials are fetched at
    /// the first call, cached, and refreshed before they expire. Without this, the client
    /// uses the default credential chain.
    pub fn credentials(mut self, source: impl Into<CredentialsProvider>) -> Self {
        self.credentials = Some(source.into());
        self
    }

    /// Takes the credentials from this profile of the aliyun CLI's config file
    /// (`ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`), whatever its mode,
    /// skipping the rest of the chain. Ignored when credentials or a provider are given.
    /// Read at the first call.
    pub fn profile(mut self, name: &str) -> Self {
        self.profile = Some(name.to_owned());
        self
    }

    /// Sends every call to this region's endpoint (of the [`EndpointKind`] chosen), whatever
    /// the input's region. Without it, each call goes to its input's region's endpoint.
    /// Validated by [`build`](Self::build).
    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }

    /// Public (the default) or VPC regional endpoints.
    pub fn endpoint_kind(mut self, kind: EndpointKind) -> Self {
        self.endpoint_kind = kind;
        self
    }

    /// Sends every call to this endpoint: `https://host[:port]`, `http://host[:port]` (plain
    /// text, e.g. a local emulator) or a bare `host[:port]` (HTTPS). Wins over any region.
    /// Parsed by [`build`](Self::build).
    pub fn endpoint(mut self, url: &str) -> Self {
        self.endpoint = Some(url.to_owned());
        self
    }

    /// The signature scheme: [`SignatureVersion::V1`] (the default) or `V3`.
    pub fn signature_version(mut self, version: SignatureVersion) -> Self {
        self.signature_version = version;
        self
    }

    /// The bound on setting up a new connection. Default 5 s. What exactly it covers
    /// depends on the transport: see its crate docs.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The bound on waiting for an answer, and on reading it. Default 10 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The bound on a whole call: all attempts and the waits between them. Default none. A
    /// retry whose wait would end past the deadline is not made; the last attempt's error is
    /// returned instead.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy. Default [`RetryPolicy::default`]: 3 attempts, full-jitter
    /// exponential backoff from 100 ms, capped at 20 s.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Appends ` <suffix>` to the `user-agent` header (e.g. `my-app/1.0`).
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.user_agent_suffix = Some(suffix.to_owned());
        self
    }

    /// Trusts the certificates of this PEM bundle (one or more `CERTIFICATE` blocks) as
    /// roots, besides the built-in ones: for a service behind a TLS-inspecting proxy, or a
    /// local emulator's CA. May be called more than once. The client's
    /// [`build`](Self::build) fails with [`ErrorKind::Config`](crate::ErrorKind::Config)
    /// when the bundle holds no certificate or an unparsable one. The file named by
    /// `SSL_CERT_FILE`, when set, is added the same way.
    ///
    /// Host names are always verified; there is no switch to turn verification off.
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// Also trusts the certificates of the PEM file at `path`, read when the client is built:
    /// only a regular file (a FIFO or a device is refused before it is opened), at most
    /// 1 MiB; otherwise [`build`](Self::build) fails with
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the file. May be called more
    /// than once.
    pub fn add_root_certificate_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.root_certificate_files.push(path.into());
        self
    }

    /// Also trusts the operating system's certificate store (default: off, only the
    /// built-in webpki roots and those added). The store is read when the client is built;
    /// certificates it cannot parse are skipped, and a store that cannot be read at all
    /// fails the build with [`ErrorKind::Config`](crate::ErrorKind::Config).
    pub fn native_roots(mut self, on: bool) -> Self {
        self.native_roots = on;
        self
    }

    /// Sends every call through this proxy, instead of those of `HTTPS_PROXY`, `HTTP_PROXY`
    /// and `ALL_PROXY`: `http://[user:password@]host[:port]` (a URL without a scheme is
    /// taken as `http://`). HTTPS goes through a `CONNECT` tunnel, plain HTTP in absolute
    /// form; credentials are sent as Basic `Proxy-Authorization` and never shown in `Debug`
    /// output or errors. Hosts matching the no-proxy list are still reached directly.
    /// Validated by [`build`](Self::build) ([`ErrorKind::Config`](crate::ErrorKind::Config)).
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxyChoice::Url(url.to_owned());
        self
    }

    /// Reaches these hosts directly, instead of those of `NO_PROXY`: curl's syntax, a
    /// comma-separated list of host names (each also matching its subdomains), IP
    /// addresses, CIDR blocks, or `*` for all. An empty list bypasses nothing.
    /// `no_proxy("*")` turns proxies off whatever the environment says (the proxy
    /// variables are then not read at all) and undoes [`proxy`](Self::proxy).
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = Some(list.to_owned());
        self
    }

    /// Validates the options and sets up the credentials: what [`build`](Self::build) does
    /// before handing the result to the transport.
    pub(crate) fn resolve(self) -> Result<Config, Error> {
        self.resolve_in(&|name| std::env::var(name).ok(), &|path| {
            read_regular(path, MAX_FILE)
        })
    }

    /// [`resolve`](Self::resolve) with this environment and file reader for the network
    /// settings (the credential chain reads the process's own).
    pub(crate) fn resolve_in(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        read: &dyn Fn(&std::path::Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<Config, Error> {
        let proxies = Proxies::resolve(&self.proxy, self.no_proxy.as_deref(), env)?;
        let root_certificates = network::root_certificates(
            &self.root_certificates,
            &self.root_certificate_files,
            env,
            read,
        )?;
        let region = self.region.as_deref().map(RegionId::new).transpose()?;
        let endpoints = match (&self.endpoint, region) {
            (Some(url), _) => EndpointChoice::Explicit(url.parse::<Endpoint>()?),
            (None, Some(region)) => EndpointChoice::Region {
                endpoint: Endpoint::for_region(&region, self.endpoint_kind),
                region,
                kind: self.endpoint_kind,
            },
            (None, None) => EndpointChoice::PerInput(self.endpoint_kind),
        };
        let provider = match (self.credentials, &self.profile) {
            (Some(provider), _) => provider,
            (None, Some(profile)) => CredentialsProvider::profile(profile),
            (None, None) => CredentialsProvider::default(),
        };
        let state = Arc::new(SharedState::new(&self.retry_policy));
        let credentials = CredentialsCache::new(
            provider.spec,
            self.signature_version,
            self.user_agent_suffix,
            (self.retry_policy, state.clone()),
        )?;
        Ok(Config {
            credentials: Arc::new(credentials),
            endpoints,
            retry_policy: self.retry_policy,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            deadline: self.deadline,
            state,
            root_certificates,
            native_roots: self.native_roots,
            proxies,
        })
    }
}

impl<C: FromConfig> ClientBuilder<C> {
    /// Builds the client: validates the options, sets up the credentials (fetched at the first
    /// call, unless they are fixed), then calls the transport's [`FromConfig::from_config`].
    /// `ClientBuilder::<Config>::default()...build()` gives the resolved [`Config`] itself,
    /// for a transport of your own.
    ///
    /// Fails with [`ErrorKind::Endpoint`](crate::ErrorKind::Endpoint) for an unusable endpoint URL, [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an
    /// invalid region, and [`ErrorKind::Config`](crate::ErrorKind::Config) for a user-agent suffix that is not a valid
    /// header value, an unusable proxy URL (given or from the environment) or an unreadable
    /// `SSL_CERT_FILE`.
    pub fn build(self) -> Result<C, Error> {
        C::from_config(self.resolve()?)
    }
}

/// Limits and options of one call, besides the client's: give them to a client's
/// `delete_custom_image_with` (or to `Call::new`, feature `transport`) instead of building
/// a second client.
///
/// ```
/// use std::time::Duration;
/// use swas_open::{CallOptions, ClientToken};
///
/// let options = CallOptions::new()
///     .deadline(Duration::from_secs(5))
///     .client_token(ClientToken::new("order-4711-delete")?);
/// # drop(options);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    pub(crate) deadline: Option<Duration>,
    pub(crate) client_token: Option<ClientToken>,
}

impl CallOptions {
    /// No option: the client's settings and the input's token (or a generated one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the call after `limit`, waits and retries included, in place of the client's
    /// deadline (longer or shorter).
    pub fn deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some(limit);
        self
    }

    /// Sends this `ClientToken` on every attempt, in place of the input's (for example an
    /// application's own idempotency key, saved before the call).
    pub fn client_token(mut self, token: ClientToken) -> Self {
        self.client_token = Some(token);
        self
    }
}

/// The resolved options a transport builds its client from, and the state its calls share.
///
/// Opaque without feature `transport`; with it, a transport reads its time bounds and
/// proxies here and starts its calls from it.
#[non_exhaustive]
pub struct Config {
    pub(crate) credentials: Arc<CredentialsCache>,
    pub(crate) endpoints: EndpointChoice,
    pub(crate) retry_policy: RetryPolicy,
    /// The bound on setting up a connection.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub connect_timeout: Duration,
    #[cfg(not(feature = "transport"))]
    pub(crate) connect_timeout: Duration,
    /// The bound on waiting for an answer, and on reading it.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub read_timeout: Duration,
    #[cfg(not(feature = "transport"))]
    pub(crate) read_timeout: Duration,
    pub(crate) deadline: Option<Duration>,
    pub(crate) state: Arc<SharedState>,
    /// PEM bundles to trust besides the built-in roots: those of
    /// [`ClientBuilder::add_root_certificate`], then `SSL_CERT_FILE`'s. A transport gets
    /// them parsed from [`extra_root_certificates`](crate::extra_root_certificates).
    pub(crate) root_certificates: Vec<Vec<u8>>,
    /// Whether to trust the operating system's store as well ([`ClientBuilder::native_roots`]).
    pub(crate) native_roots: bool,
    /// The proxies, resolved from the builder and the environment.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub proxies: Proxies,
    #[cfg(not(feature = "transport"))]
    pub(crate) proxies: Proxies,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("credentials", &self.credentials)
            .field("endpoints", &self.endpoints)
            .field("retry_policy", &self.retry_policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("deadline", &self.deadline)
            .field("state", &self.state)
            .field("root_certificates", &self.root_certificates.len())
            .field("native_roots", &self.native_roots)
            .field("proxies", &self.proxies)
            .finish()
    }
}

/// A transport of your own (feature `transport`) builds the configuration itself and drives
/// its `Call`s: `ClientBuilder::<Config>::default()...build()`.
impl FromConfig for Config {
    fn from_config(config: Config) -> Result<Self, Error> {
        Ok(config)
    }
}

impl Config {
    /// The signer of the client's credentials when they are fixed (given to the builder with
    /// [`ClientBuilder::credentials`]); `None` when a provider fetches them. (Feature
    /// `workspace-internals`: for the CLI's dry run, not covered by semver.)
    #[cfg(any(test, feature = "workspace-internals"))]
    #[doc(hidden)]
    pub fn signer(&self) -> Option<&crate::Signer> {
        self.credentials.fixed()
    }

    /// The signer of the client's current credentials, as an exchange a client drives like
    /// a call (fetching them first if need be), at the moment of `readings`, whose seed
    /// seeds a fetch.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub fn current_signer(&self, readings: Readings) -> CurrentSigner<'_> {
        let Readings { seed, now, wall } = readings;
        CurrentSigner::new(&self.credentials, seed, now, wall)
    }

    /// How many credentials fetches of this client have ended (or been dropped before their
    /// end). A driver reads it before asking an exchange what to do; if it changed by the
    /// time the driver would sleep in [`Step::Wait`](crate::Step::Wait), a fetch ended
    /// in between and the driver asks again instead. It is counted before the
    /// [`on_credentials_change`](Self::on_credentials_change) callback is called.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub fn credentials_changes(&self) -> u64 {
        self.credentials.changes()
    }

    /// Has `wake` called whenever a credentials fetch of this client ends (or is dropped
    /// before its end), on the thread that ran it: the driver then wakes the calls waiting
    /// in [`Step::Wait`](crate::Step::Wait), which ask again. A client sets it once, when
    /// it is built; later calls are ignored.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub fn on_credentials_change(&self, wake: impl Fn() + Send + Sync + 'static) {
        self.credentials.set_waker(Box::new(wake));
    }

    /// Where a call of `input` goes. (Feature `workspace-internals`: for the CLI, not covered
    /// by semver.)
    #[cfg(feature = "workspace-internals")]
    #[doc(hidden)]
    pub fn endpoint_for(&self, input: &DeleteCustomImage) -> Endpoint {
        self.endpoints.for_input(input).into_owned()
    }

    /// How far the service's clock is ahead of this machine's (negative: behind), in
    /// seconds, as learnt from an `InvalidTimeStamp.Expired` answer; 0 until then. Every
    /// call of the client signs with the corrected time.
    #[cfg(feature = "transport")]
    #[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
    pub fn clock_offset(&self) -> i64 {
        self.state.clock_offset()
    }
}

/// The certificates a client trusts besides the built-in webpki roots (feature `tls`):
/// those of [`ClientBuilder::add_root_certificate`](crate::ClientBuilder::add_root_certificate)
/// and `SSL_CERT_FILE`, then, with [`native_roots`](crate::ClientBuilder::native_roots), the
/// operating system's store. Both clients build their roots from this list.
/// A bundle with a PEM block that
/// does not decode, or without a single certificate rustls can take as a root, is a
/// configuration error; other certificates rustls cannot take (a system bundle may hold a
/// few) are skipped with a warning. So is the operating system's store, which is an error
/// only when it yields nothing but errors.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn extra_root_certificates(
    config: &Config,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, Error> {
    network::trusted_roots(&config.root_certificates, config.native_roots)
}

/// Where a client's calls go.
#[derive(Debug, Clone)]
pub(crate) enum EndpointChoice {
    /// The endpoint URL given.
    Explicit(Endpoint),
    /// The builder's region's endpoint.
    Region {
        /// The region (kept to warn when it is not in the published table).
        region: RegionId,
        /// Its endpoint.
        endpoint: Endpoint,
        /// Public or VPC.
        kind: EndpointKind,
    },
    /// The endpoint of each input's region, of this kind.
    PerInput(EndpointKind),
}

impl EndpointChoice {
    /// The endpoint of a call: the client's own, or one made for the input's region. A
    /// region missing from the published endpoint table still resolves by the pattern, with
    /// a `tracing` warning.
    pub(crate) fn for_input(&self, input: &DeleteCustomImage) -> Cow<'_, Endpoint> {
        match self {
            EndpointChoice::Explicit(endpoint) => Cow::Borrowed(endpoint),
            EndpointChoice::Region {
                region,
                endpoint,
                kind,
            } => {
                warn_if_unlisted(region, *kind);
                Cow::Borrowed(endpoint)
            }
            EndpointChoice::PerInput(kind) => {
                warn_if_unlisted(input.region_id(), *kind);
                Cow::Owned(Endpoint::for_region(input.region_id(), *kind))
            }
        }
    }
}

fn warn_if_unlisted(region: &RegionId, kind: EndpointKind) {
    if !kind.lists(region) {
        tracing::warn!(
            region = region.as_str(),
            ?kind,
            "region is not in the published endpoint table; using the endpoint pattern"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::keys::Credentials;

    fn builder() -> ClientBuilder<Config> {
        ClientBuilder::default().credentials(Credentials::new("id", "secret").unwrap())
    }

    fn endpoint_of(b: ClientBuilder<Config>, region: &str) -> String {
        let input = DeleteCustomImage::new(region, "m-1").unwrap();
        b.build().unwrap().endpoints.for_input(&input).to_string()
    }

    #[test]
    fn endpoint_choice() {
        let b = builder;
        assert_eq!(
            endpoint_of(b(), "cn-beijing"),
            "https://swas.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            endpoint_of(b().endpoint_kind(EndpointKind::Vpc), "cn-beijing"),
            "https://swas-vpc.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            endpoint_of(b().region("cn-shanghai"), "cn-beijing"),
            "https://swas.cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            endpoint_of(
                b().region("cn-shanghai").endpoint("http://127.0.0.1:1"),
                "cn-beijing"
            ),
            "http://127.0.0.1:1"
        );
        assert_eq!(
            endpoint_of(b().endpoint("swas.example.com:8443"), "cn-beijing"),
            "https://swas.example.com:8443"
        );
        assert_eq!(
            endpoint_of(b(), "xx-new-1"),
            "https://swas.xx-new-1.aliyuncs.com"
        );
    }

    #[test]
    fn defaults_and_errors() {
        let c = builder().build().unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.read_timeout, Duration::from_secs(10));
        assert_eq!(c.deadline, None);
        assert_eq!(c.retry_policy, RetryPolicy::default());
        assert_eq!(
            c.signer().unwrap().signature_version(),
            SignatureVersion::V1
        );
        let c = builder().retry_policy(RetryPolicy::new(0)).build().unwrap();
        assert_eq!(c.retry_policy.max_attempts, 1);
        let kind = |b: ClientBuilder<Config>| b.build().err().map(Error::into_kind);
        assert!(matches!(
            kind(builder().endpoint("ftp://x")),
            Some(ErrorKind::Endpoint(_))
        ));
        assert!(matches!(
            kind(builder().region("Bad_Region")),
            Some(ErrorKind::InvalidInput(_))
        ));
        assert!(matches!(
            kind(builder().user_agent_suffix("a\nb")),
            Some(ErrorKind::Config(_))
        ));
    }

    #[test]
    fn a_certificate_file_that_is_not_a_regular_file_fails_at_once() {
        // The reader `resolve` uses: only a regular file, up to 1 MiB.
        let read = |p: &std::path::Path| read_regular(p, MAX_FILE);
        let env = |name: &str| (name == "SSL_CERT_FILE").then(|| "/dev/zero".to_owned());
        let e = builder().resolve_in(&env, &read).unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
        let none = |_: &str| None;
        let b = builder().add_root_certificate_file("/dev/zero");
        let e = b.resolve_in(&none, &read).unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn network_settings_reach_the_config() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://env-proxy:3128".to_owned()),
            "SSL_CERT_FILE" => Some("/etc/extra.pem".to_owned()),
            _ => None,
        };
        let read = |_: &std::path::Path| Ok(b"FILE".to_vec());
        let c = builder().resolve_in(&env, &read).unwrap();
        assert_eq!(c.proxies.https.as_deref(), Some("http://env-proxy:3128"));
        assert_eq!(c.root_certificates, vec![b"FILE".to_vec()]);
        assert!(!c.native_roots);

        let b = builder()
            .add_root_certificate("PEM")
            .native_roots(true)
            .proxy("http://user:hunter2@mine:8080")
            .no_proxy("internal.example");
        let shown = format!("{b:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let c = b.clone().resolve_in(&env, &read).unwrap();
        assert_eq!(c.root_certificates, vec![b"PEM".to_vec(), b"FILE".to_vec()]);
        assert!(c.native_roots);
        assert_eq!(
            c.proxies.https.as_deref(),
            Some("http://user:hunter2@mine:8080")
        );
        assert_eq!(c.proxies.no_proxy.as_deref(), Some("internal.example"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("http://***@mine:8080"), "{shown}");

        let c = b.no_proxy("*").resolve_in(&env, &read).unwrap();
        assert_eq!((c.proxies.http, c.proxies.https), (None, None));
        // With every host bypassed, the proxy variables are not read, so a bad one is moot.
        let bad_env = |name: &str| (name == "HTTPS_PROXY").then(|| "ftp://x".to_owned());
        let c = builder().no_proxy("*").resolve_in(&bad_env, &read).unwrap();
        assert_eq!(c.proxies.https, None);
        assert!(builder().resolve_in(&bad_env, &read).is_err());
        let bad = builder()
            .proxy("ftp://x")
            .resolve_in(&env, &read)
            .unwrap_err();
        assert!(matches!(bad.kind(), ErrorKind::Config(_)), "{bad:?}");
    }
}
