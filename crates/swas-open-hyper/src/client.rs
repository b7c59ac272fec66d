//! The client, its builder and the loop that drives one call.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use swas_open_core::call::{Call, Step};
use swas_open_core::chain::default_chain_from_process;
use swas_open_core::{
    Credentials, DeleteCustomImage, DeleteOutput, Endpoint, EndpointKind, Error, Nonce, RegionId,
    RetryPolicy, SignatureVersion, Signer, SigningContext, Timestamp, ACTION,
};
use tokio::time::Instant;
use tracing::Instrument;

use crate::transport::{Deadline, Transport};

/// The default bound on setting up a connection: 5 s, as the official SDKs.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default bound on waiting for and reading an answer: 10 s, as the official SDKs.
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// An async DeleteCustomImage client.
///
/// Build it once and share it: it is cheap to clone (an [`Arc`] inside), `Send + Sync`, and
/// every clone uses the same pool of keep-alive connections. Its futures are `Send`, so calls
/// can run on any task of a multi-threaded runtime; dropping a call's future cancels the call
/// and leaves the client usable.
///
/// ```no_run
/// use swas_open_hyper::{Client, Credentials, DeleteCustomImage};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder()
///     .credentials(Credentials::new("LTAI5t...", "secret")?)
///     .build()?;
/// let output = client
///     .delete_custom_image(&DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?)
///     .await?;
/// println!("RequestId {}", output.request_id);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    signer: Signer,
    endpoint: EndpointChoice,
    policy: RetryPolicy,
    deadline: Option<Duration>,
    transport: Transport,
}

/// Where calls go.
enum EndpointChoice {
    /// An explicit endpoint.
    Explicit(Endpoint),
    /// The builder's region's endpoint (the region is kept to warn when it is unlisted).
    Region(RegionId, EndpointKind, Endpoint),
    /// The endpoint of each input's region, of this kind.
    PerInput(EndpointKind),
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut d = f.debug_struct("Client");
        match &inner.endpoint {
            EndpointChoice::Explicit(e) | EndpointChoice::Region(_, _, e) => d.field("endpoint", e),
            EndpointChoice::PerInput(kind) => d.field("endpoint_kind", kind),
        };
        d.field("signer", &inner.signer)
            .field("policy", &inner.policy)
            .field("deadline", &inner.deadline)
            .field("transport", &inner.transport)
            .finish()
    }
}

impl Client {
    /// A builder with the defaults: credentials from the default chain, V1 signatures, the
    /// public endpoint of each input's region, 5 s connect and 10 s read timeouts, no
    /// overall deadline, three attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials, SignatureVersion};
    ///
    /// let client = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
    ///     .endpoint("http://127.0.0.1:8080")
    ///     .signature_version(SignatureVersion::V3)
    ///     .read_timeout(Duration::from_secs(3))
    ///     .max_attempts(5)
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
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
        }
    }

    /// Deletes a custom image, retrying as the [`RetryPolicy`] allows.
    ///
    /// Every attempt is signed afresh (new timestamp and nonce) and carries the same
    /// `ClientToken` (the input's, or one made for the call), so a retry never deletes twice
    /// and never turns a success into `InvalidImageId.NotFound`; the token is returned in
    /// [`DeleteOutput::client_token`]. Waits between attempts sleep on tokio's timer, never
    /// blocking a runtime thread. On failure, the error is the last attempt's.
    ///
    /// ```no_run
    /// use swas_open_hyper::{Client, DeleteCustomImage, Error};
    ///
    /// # async fn run(client: Client) -> Result<(), Error> {
    /// let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?
    ///     .with_client_token("7f3c9a2e-delete-once")?;
    /// match client.delete_custom_image(&input).await {
    ///     Ok(out) => println!("deleted in {} attempt(s)", out.attempts),
    ///     Err(e) if e.code().is_some_and(|c| c.as_str() == "InvalidImageId.NotFound") => {
    ///         println!("already gone")
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_custom_image(
        &self,
        input: &DeleteCustomImage,
    ) -> Result<DeleteOutput, Error> {
        let span = tracing::info_span!(
            "delete_custom_image",
            action = ACTION,
            region = input.region_id().as_str(),
            image_id = input.image_id().as_str(),
        );
        self.run(input).instrument(span).await
    }

    async fn run(&self, input: &DeleteCustomImage) -> Result<DeleteOutput, Error> {
        let inner = &*self.inner;
        let deadline = inner.deadline.and_then(|limit| {
            let at = Instant::now().checked_add(limit)?;
            Some(Deadline { at, limit })
        });
        let endpoint = inner.endpoint_for(input);
        // One draw from the system's random source per attempt: the call's ClientToken (first
        // attempt only), the attempt's nonce, and the jitter of the wait that may follow it.
        let mut random = [0u8; 40];
        fill_random(&mut random)?;
        let mut call = Call::new(&inner.signer, input, endpoint, inner.policy, bytes(&random));
        loop {
            if call.attempts() > 0 {
                fill_random(&mut random[16..])?;
            }
            let nonce = Nonce::from_random_bytes(bytes(&random[16..]));
            let jitter = jitter(bytes(&random[32..]));
            let ctx = SigningContext::new(now()?, nonce);
            let request = call.request(&ctx);
            let (status, step) = match inner.transport.send(request, deadline).await {
                Ok(response) => (Some(response.status()), call.on_response(&response, jitter)),
                // The call's time is up: no retry can follow.
                Err(e) if is_deadline(&e) => (None, Step::Fail(e)),
                Err(e) => (None, call.on_error(e, jitter)),
            };
            log_attempt(call.attempts(), status, &step);
            match step {
                Step::Done(output) => return Ok(output),
                Step::Fail(error) => return Err(error),
                Step::Retry { after, error } => {
                    if let Some(d) = deadline {
                        if Instant::now().checked_add(after).is_none_or(|t| t >= d.at) {
                            return Err(error);
                        }
                    }
                    tokio::time::sleep(after).await;
                }
                // `Step` may grow; an unknown step ends the call rather than loop.
                _ => return Err(Error::Config("unknown call step".into())),
            }
        }
    }
}

impl Inner {
    fn endpoint_for(&self, input: &DeleteCustomImage) -> Endpoint {
        match &self.endpoint {
            EndpointChoice::Explicit(e) => e.clone(),
            EndpointChoice::Region(region, kind, e) => {
                warn_if_unlisted(region, *kind);
                e.clone()
            }
            EndpointChoice::PerInput(kind) => {
                let region = input.region_id();
                warn_if_unlisted(region, *kind);
                Endpoint::for_region_kind(region, *kind)
            }
        }
    }
}

fn warn_if_unlisted(region: &RegionId, kind: EndpointKind) {
    if !kind.is_listed(region) {
        tracing::warn!(
            region = region.as_str(),
            ?kind,
            "region is not in the published endpoint table; using the endpoint pattern"
        );
    }
}

fn is_deadline(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout {
            kind: swas_open_core::TimeoutKind::Deadline,
            ..
        }
    )
}

/// One `debug` event per attempt: its number, the HTTP status, the request id or error
/// code, and the outcome. Never a secret: errors print none.
fn log_attempt(attempt: u32, status: Option<http::StatusCode>, step: &Step) {
    let status = status.map(|s| s.as_u16());
    let (request_id, code, error) = match step {
        Step::Done(out) => (Some(out.request_id.as_str()), None, None),
        Step::Retry { error, .. } | Step::Fail(error) => {
            let service = error.service_error();
            (
                service.and_then(|e| e.request_id.as_deref()),
                service.map(|e| e.code.as_str()),
                Some(error),
            )
        }
        _ => (None, None, None),
    };
    let outcome = match step {
        Step::Done(_) => "done",
        Step::Retry { .. } => "retry",
        _ => "fail",
    };
    tracing::debug!(
        attempt,
        status,
        request_id,
        code,
        error = error.map(tracing::field::display),
        outcome,
        "attempt finished"
    );
}

/// The current time as a request timestamp.
fn now() -> Result<Timestamp, Error> {
    Timestamp::from_system_time(SystemTime::now())
        .map_err(|e| Error::Config(format!("the system clock is unusable: {e}")))
}

/// Fills `buf` from the operating system's random source.
fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Config(format!("the system random source failed: {e}")))
}

/// The first `N` bytes of `from` (zero-padded if shorter).
fn bytes<const N: usize>(from: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(from) {
        *o = *b;
    }
    out
}

/// A uniform number in `[0, 1)` from 8 random bytes.
fn jitter(bytes: [u8; 8]) -> f64 {
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Configures a [`Client`]; every setting has a default, so `Client::builder().build()` works
/// once credentials can be found.
///
/// ```
/// use swas_open_hyper::{Client, EndpointKind};
///
/// // The VPC endpoint of cn-hangzhou, credentials from the aliyun CLI's "ops" profile.
/// let builder = Client::builder()
///     .region("cn-hangzhou")
///     .endpoint_kind(EndpointKind::Vpc)
///     .profile("ops")
///     .user_agent_suffix("cleanup-job/1.2");
/// # drop(builder);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    credentials: Option<Credentials>,
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
}

impl ClientBuilder {
    /// Signs with these credentials (an AccessKey pair, optionally with an STS token).
    /// Without them, [`build`](Self::build) runs the default credential chain.
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials};
    /// let sts = Credentials::new("STS.id", "secret")?.with_security_token("token")?;
    /// let client = Client::builder().credentials(sts).build()?;
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Takes the credentials from this profile of the aliyun CLI's config file
    /// (`ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`), skipping the
    /// environment variables. Ignored when [`credentials`](Self::credentials) are given.
    /// Read by [`build`](Self::build).
    ///
    /// ```no_run
    /// use swas_open_hyper::Client;
    /// // Reads the profile "prod" of ~/.aliyun/config.json.
    /// let client = Client::builder().profile("prod").build()?;
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn profile(mut self, name: &str) -> Self {
        self.profile = Some(name.to_owned());
        self
    }

    /// Sends every call to this region's endpoint (of the [`EndpointKind`] chosen), whatever
    /// the input's region. Without it, each call goes to its input's region's endpoint.
    /// Validated by [`build`](Self::build).
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .region("cn-shanghai");
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }

    /// Public (the default) or VPC regional endpoints.
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials, EndpointKind};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .endpoint_kind(EndpointKind::Vpc); // swas-vpc.<region>.aliyuncs.com
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn endpoint_kind(mut self, kind: EndpointKind) -> Self {
        self.endpoint_kind = kind;
        self
    }

    /// Sends every call to this endpoint: `https://host[:port]`, `http://host[:port]` (plain
    /// text, e.g. a local emulator) or a bare `host[:port]` (HTTPS). Wins over any region.
    /// Parsed by [`build`](Self::build).
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .endpoint("http://127.0.0.1:8080");
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn endpoint(mut self, url: &str) -> Self {
        self.endpoint = Some(url.to_owned());
        self
    }

    /// The signature scheme: [`SignatureVersion::V1`] (the default) or `V3`.
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials, SignatureVersion};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .signature_version(SignatureVersion::V3);
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signature_version(mut self, version: SignatureVersion) -> Self {
        self.signature_version = version;
        self
    }

    /// The bound on setting up a new connection: DNS lookup, TCP connect and TLS handshake,
    /// together. Default 5 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .connect_timeout(Duration::from_secs(2));
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The bound on sending the request and waiting for the answer's headers (getting a
    /// connection included: see the crate docs), and separately on reading its body.
    /// Default 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .read_timeout(Duration::from_secs(30));
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The bound on a whole call: all attempts and the waits between them. Default none.
    /// A retry whose wait would end past the deadline is not made; the last attempt's
    /// error is returned instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .deadline(Duration::from_secs(60));
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy. Default [`RetryPolicy::default`]: 3 attempts, full-jitter
    /// exponential backoff from 100 ms, capped at 20 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials, RetryPolicy};
    /// let policy = RetryPolicy::new(5).with_base_delay(Duration::from_millis(200));
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .retry_policy(policy);
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Sets the policy's number of attempts, the first included (0 counts as 1).
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .max_attempts(1); // no retries
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry_policy.max_attempts = attempts.max(1);
        self
    }

    /// Appends ` <suffix>` to the `user-agent` header (e.g. `my-app/1.0`).
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .user_agent_suffix("my-app/1.0");
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.user_agent_suffix = Some(suffix.to_owned());
        self
    }

    /// Builds the client. It needs no runtime; its calls need a tokio runtime with I/O and
    /// timers enabled.
    ///
    /// Fails with [`Error::Credentials`] when no usable credentials are found,
    /// [`Error::Endpoint`] for an unusable endpoint URL, [`Error::InvalidInput`] for an
    /// invalid region, and [`Error::Config`] for a user-agent suffix that is not a valid
    /// header value.
    ///
    /// ```
    /// use swas_open_hyper::{Client, Credentials, Error};
    /// let err = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
    ///     .endpoint("ftp://example.com")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Endpoint(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let region = self.region.as_deref().map(RegionId::new).transpose()?;
        let endpoint = match (&self.endpoint, region) {
            (Some(url), _) => EndpointChoice::Explicit(Endpoint::parse(url)?),
            (None, Some(region)) => {
                let endpoint = Endpoint::for_region_kind(&region, self.endpoint_kind);
                EndpointChoice::Region(region, self.endpoint_kind, endpoint)
            }
            (None, None) => EndpointChoice::PerInput(self.endpoint_kind),
        };
        let credentials = match self.credentials {
            Some(c) => c,
            None => default_chain_from_process(self.profile.as_deref())?.credentials,
        };
        let mut signer = Signer::new(credentials).with_signature_version(self.signature_version);
        if let Some(suffix) = &self.user_agent_suffix {
            signer = signer.with_user_agent_suffix(suffix).map_err(|_| {
                Error::Config(format!(
                    "user agent suffix {suffix:?} is not a valid header value"
                ))
            })?;
        }
        let transport = Transport::new(self.connect_timeout, self.read_timeout)?;
        Ok(Client {
            inner: Arc::new(Inner {
                signer,
                endpoint,
                policy: self.retry_policy,
                deadline: self.deadline,
                transport,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ClientBuilder {
        Client::builder().credentials(Credentials::new("id", "s3cr3t-value").unwrap())
    }

    fn endpoint(client: &Client, region: &str) -> String {
        let input = DeleteCustomImage::new(region, "m-1").unwrap();
        client.inner.endpoint_for(&input).to_string()
    }

    #[test]
    fn endpoint_precedence() {
        let per_input = builder().build().unwrap();
        assert_eq!(
            endpoint(&per_input, "cn-beijing"),
            "https://swas.cn-beijing.aliyuncs.com"
        );
        let vpc = builder().endpoint_kind(EndpointKind::Vpc).build().unwrap();
        assert_eq!(
            endpoint(&vpc, "cn-beijing"),
            "https://swas-vpc.cn-beijing.aliyuncs.com"
        );
        let fixed = builder()
            .region("cn-hangzhou")
            .endpoint_kind(EndpointKind::Vpc)
            .build()
            .unwrap();
        assert_eq!(
            endpoint(&fixed, "cn-beijing"),
            "https://swas-vpc.cn-hangzhou.aliyuncs.com"
        );
        let explicit = builder()
            .region("cn-hangzhou")
            .endpoint("http://127.0.0.1:9000/")
            .build()
            .unwrap();
        assert_eq!(endpoint(&explicit, "cn-beijing"), "http://127.0.0.1:9000");
        // Unlisted regions resolve by the pattern.
        assert_eq!(
            endpoint(&per_input, "xx-new-9"),
            "https://swas.xx-new-9.aliyuncs.com"
        );
    }

    #[test]
    fn builder_options_reach_the_client() {
        let client = builder()
            .max_attempts(0)
            .deadline(Duration::from_secs(30))
            .signature_version(SignatureVersion::V3)
            .user_agent_suffix("app/1.0")
            .build()
            .unwrap();
        assert_eq!(client.inner.policy.max_attempts, 1);
        assert_eq!(client.inner.deadline, Some(Duration::from_secs(30)));
        assert_eq!(
            client.inner.signer.signature_version(),
            SignatureVersion::V3
        );
        assert!(client
            .inner
            .signer
            .user_agent()
            .to_str()
            .unwrap()
            .ends_with(" app/1.0"));
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn jitter_is_in_range() {
        assert_eq!(jitter([0; 8]), 0.0);
        assert!(jitter([0xff; 8]) < 1.0);
        let mut buf = [0u8; 8];
        for _ in 0..100 {
            fill_random(&mut buf).unwrap();
            assert!((0.0..1.0).contains(&jitter(buf)));
        }
    }
}
