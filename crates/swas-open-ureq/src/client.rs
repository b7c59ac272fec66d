//! [`Client`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::call::{Call, Step};
use swas_open_core::chain;
use swas_open_core::{
    Credentials, DeleteCustomImage, DeleteOutput, Endpoint, EndpointKind, Error, Nonce, RegionId,
    RetryPolicy, SignatureVersion, Signer, SigningContext, Timestamp, ACTION,
};
use tracing::{debug, info_span, warn};

use crate::transport::{self, Limits};

/// A blocking DeleteCustomImage client.
///
/// Cheap to clone (an [`Arc`] inside); clones share one connection pool, so build one client
/// and reuse it. `Send` and `Sync`.
///
/// ```
/// use swas_open_ureq::{Client, Credentials};
/// let client = Client::builder()
///     .credentials(Credentials::new("id", "secret")?)
///     .endpoint("http://127.0.0.1:8080")
///     .build()?;
/// let for_another_thread = client.clone();
/// # drop(for_another_thread);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    signer: Signer,
    /// The explicit endpoint, or the builder's region's; `None`: the input's region's.
    endpoint: Option<Endpoint>,
    /// The builder's region when `endpoint` is its endpoint (it may be unlisted).
    region: Option<RegionId>,
    endpoint_kind: EndpointKind,
    policy: RetryPolicy,
    limits: Limits,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Client")
            .field("signer", &inner.signer)
            .field("endpoint", &inner.endpoint)
            .field("endpoint_kind", &inner.endpoint_kind)
            .field("policy", &inner.policy)
            .field("limits", &inner.limits)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the defaults: credentials from the default chain, the endpoint of each
    /// input's region, signature V1, connect timeout 5 s, read timeout 10 s, no deadline,
    /// [`RetryPolicy::default`] (3 attempts).
    ///
    /// ```
    /// use swas_open_ureq::{Client, Credentials};
    /// let client = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
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
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            deadline: None,
            retry_policy: RetryPolicy::default(),
            user_agent_suffix: None,
        }
    }

    /// Deletes a custom image, retrying as the [`RetryPolicy`] allows.
    ///
    /// Every attempt carries the same `ClientToken` (the input's, or a UUID v4 made for this
    /// call, returned in [`DeleteOutput::client_token`]) and is signed with a fresh
    /// timestamp and nonce. On failure, the error is the last attempt's.
    ///
    /// ```no_run
    /// use swas_open_ureq::{Client, DeleteCustomImage, Error};
    /// let client = Client::builder().build()?; // credentials from the environment or profile
    /// let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
    /// match client.delete_custom_image(&input) {
    ///     Ok(out) => println!("deleted: {}", out.request_id),
    ///     Err(Error::Service(e)) if e.code.as_str() == "CustomImageInShare" => {
    ///         eprintln!("unshare the image first: {}", e.message)
    ///     }
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_custom_image(&self, input: &DeleteCustomImage) -> Result<DeleteOutput, Error> {
        let inner = &*self.inner;
        let span = info_span!(
            "delete_custom_image",
            action = ACTION,
            region = input.region_id().as_str(),
            image_id = input.image_id().as_str(),
        );
        let _entered = span.enter();
        let started = Instant::now();
        // A deadline too far away to represent is no deadline.
        let deadline = inner.limits.deadline.and_then(|d| started.checked_add(d));

        let endpoint = inner.endpoint_for(input);
        // Randomness, one read of the system source per attempt: the ClientToken (first
        // attempt only), then the nonce and the backoff jitter.
        let first: [u8; 40] = transport::random()?;
        let mut call = Call::new(
            &inner.signer,
            input,
            endpoint,
            inner.policy,
            std::array::from_fn(|i| first[i]),
        );
        let mut next: Option<[u8; 24]> = Some(std::array::from_fn(|i| first[16 + i]));
        loop {
            let remaining = match deadline {
                Some(end) => match end.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(inner.deadline_error()),
                },
                None => None,
            };
            let random = match next.take() {
                Some(random) => random,
                None => transport::random()?,
            };
            let request = call.request(&signing_context(std::array::from_fn(|i| random[i]))?);
            let jitter = transport::unit_interval(std::array::from_fn(|i| random[16 + i]));
            let (status, step) =
                match transport::send(&inner.agent, &inner.limits, request, remaining) {
                    Ok(response) => (
                        Some(response.status().as_u16()),
                        call.on_response(&response, jitter),
                    ),
                    Err(e) => (None, call.on_error(e, jitter)),
                };
            trace_attempt(call.attempts(), status, &step);
            match step {
                Step::Done(output) => return Ok(output),
                Step::Fail(error) => return Err(error),
                Step::Retry { after, error } => {
                    let wake = Instant::now().checked_add(after);
                    if deadline.is_some_and(|end| wake.is_none_or(|wake| wake >= end)) {
                        return Err(error);
                    }
                    thread::sleep(after);
                }
                // `Step` may grow; an unknown step ends the call rather than loop.
                _ => return Err(Error::Config("unknown call step".into())),
            }
        }
    }
}

impl Inner {
    /// The explicit endpoint, else the builder's region's, else the input's region's; warns
    /// when the region is not in the published table.
    fn endpoint_for(&self, input: &DeleteCustomImage) -> Endpoint {
        let region = self.region.as_ref().unwrap_or(input.region_id());
        if (self.endpoint.is_none() || self.region.is_some())
            && !self.endpoint_kind.is_listed(region)
        {
            warn!(
                region = region.as_str(),
                kind = ?self.endpoint_kind,
                "region is not in the published endpoint table; using the endpoint pattern"
            );
        }
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => Endpoint::for_region_kind(input.region_id(), self.endpoint_kind),
        }
    }

    fn deadline_error(&self) -> Error {
        Error::Timeout {
            kind: swas_open_core::TimeoutKind::Deadline,
            limit: self.limits.deadline.unwrap_or_default(),
        }
    }
}

/// The current time and a nonce made of 16 random bytes, for one attempt.
fn signing_context(random: [u8; 16]) -> Result<SigningContext, Error> {
    let timestamp = Timestamp::from_system_time(SystemTime::now())
        .map_err(|e| Error::Config(format!("the system clock is unusable: {e}")))?;
    Ok(SigningContext::new(
        timestamp,
        Nonce::from_random_bytes(random),
    ))
}

fn trace_attempt(attempt: u32, status: Option<u16>, step: &Step) {
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
    debug!(
        attempt,
        status,
        request_id,
        code,
        error = error.map(tracing::field::display),
        outcome,
        "attempt finished"
    );
}

/// Options of a [`Client`]; see [`Client::builder`] for the defaults.
///
/// ```
/// use std::time::Duration;
/// use swas_open_ureq::{Client, Credentials, SignatureVersion};
/// let client = Client::builder()
///     .credentials(Credentials::new("id", "secret")?)
///     .region("cn-hangzhou")
///     .signature_version(SignatureVersion::V3)
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(5))
///     .deadline(Duration::from_secs(30))
///     .max_attempts(5)
///     .user_agent_suffix("my-app/1.0")
///     .build()?;
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// use swas_open_ureq::{Client, Credentials};
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
    ///
    /// ```no_run
    /// use swas_open_ureq::Client;
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
    /// use swas_open_ureq::{Client, Credentials};
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
    /// use swas_open_ureq::{Client, Credentials, EndpointKind};
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
    /// use swas_open_ureq::{Client, Credentials};
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
    /// use swas_open_ureq::{Client, Credentials, SignatureVersion};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .signature_version(SignatureVersion::V3);
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signature_version(mut self, version: SignatureVersion) -> Self {
        self.signature_version = version;
        self
    }

    /// The bound on establishing a connection: TCP connect and TLS handshake together (the
    /// DNS lookup before it is bounded by the resolver and the [`deadline`](Self::deadline)).
    /// Default 5 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_ureq::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .connect_timeout(Duration::from_secs(2));
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The bound on sending the request, on waiting for the answer's headers, and separately
    /// on reading its body. Default 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_ureq::{Client, Credentials};
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
    /// The deadline also bounds DNS lookups, which ureq then runs on a thread of their own:
    /// some tens of microseconds more per call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_ureq::{Client, Credentials};
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
    /// use swas_open_ureq::{Client, Credentials, RetryPolicy};
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
    /// use swas_open_ureq::{Client, Credentials};
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
    /// use swas_open_ureq::{Client, Credentials};
    /// let builder = Client::builder().credentials(Credentials::new("id", "secret")?)
    ///     .user_agent_suffix("my-app/1.0");
    /// # drop(builder.build()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.user_agent_suffix = Some(suffix.to_owned());
        self
    }

    /// Builds the client.
    ///
    /// Fails with [`Error::Credentials`] when no usable credentials are found,
    /// [`Error::Endpoint`] for an unusable endpoint URL, [`Error::InvalidInput`] for an
    /// invalid region, and [`Error::Config`] for a user-agent suffix that is not a valid
    /// header value.
    ///
    /// ```
    /// use swas_open_ureq::{Client, Credentials, Error};
    /// let err = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
    ///     .endpoint("ftp://example.com")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Endpoint(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let region = self.region.map(RegionId::new).transpose()?;
        let (endpoint, region) = match (self.endpoint, region) {
            (Some(url), _) => (Some(Endpoint::parse(&url)?), None),
            (None, Some(region)) => (
                Some(Endpoint::for_region_kind(&region, self.endpoint_kind)),
                Some(region),
            ),
            (None, None) => (None, None),
        };
        let credentials = match self.credentials {
            Some(credentials) => credentials,
            None => chain::default_chain_from_process(self.profile.as_deref())?.credentials,
        };
        let mut signer = Signer::new(credentials).with_signature_version(self.signature_version);
        if let Some(suffix) = &self.user_agent_suffix {
            signer = signer.with_user_agent_suffix(suffix).map_err(|_| {
                Error::Config(format!(
                    "user agent suffix {suffix:?} is not a valid header value"
                ))
            })?;
        }
        let limits = Limits {
            connect: self.connect_timeout,
            read: self.read_timeout,
            deadline: self.deadline,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                agent: transport::agent(&limits),
                signer,
                region,
                endpoint,
                endpoint_kind: self.endpoint_kind,
                policy: self.retry_policy,
                limits,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_of(builder: ClientBuilder, region: &str) -> String {
        let client = builder
            .credentials(Credentials::new("id", "secret").unwrap())
            .build()
            .unwrap();
        let input = DeleteCustomImage::new(region, "m-1").unwrap();
        client.inner.endpoint_for(&input).to_string()
    }

    #[test]
    fn endpoint_choice() {
        let b = Client::builder;
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
        // Unlisted regions resolve by the pattern.
        assert_eq!(
            endpoint_of(b(), "xx-new-1"),
            "https://swas.xx-new-1.aliyuncs.com"
        );
    }

    #[test]
    fn defaults() {
        let b = Client::builder();
        assert_eq!(b.connect_timeout, Duration::from_secs(5));
        assert_eq!(b.read_timeout, Duration::from_secs(10));
        assert_eq!(b.deadline, None);
        assert_eq!(b.retry_policy, RetryPolicy::default());
        assert_eq!(b.retry_policy.max_attempts, 3);
        assert_eq!(b.signature_version, SignatureVersion::V1);
        assert_eq!(b.max_attempts(0).retry_policy.max_attempts, 1);
    }

    #[test]
    fn client_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Client>();
        let client = Client::builder()
            .credentials(Credentials::new("id", "secret").unwrap())
            .build()
            .unwrap();
        let clone = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &clone.inner));
    }
}
