//! The client, its builder and the loop that drives one call.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::{
    Action, Call, CallOptions, Config, CredentialsStep, DeleteCustomImage, DeleteCustomImageOutput,
    Error, Exchange, Fetch, FromConfig, Signer,
};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::transport::Transport;

/// Options of a [`Client`]: the builder every client of this SDK shares, with its defaults
/// (see [`swas_open_core::ClientBuilder`]).
///
/// ```
/// use swas_open_hyper::{Client, Credentials, EndpointKind};
///
/// // The VPC endpoint of cn-hangzhou, and an application name in the user agent.
/// let client = Client::builder()
///     .credentials(Credentials::new("id", "secret")?)
///     .region("cn-hangzhou")
///     .endpoint_kind(EndpointKind::Vpc)
///     .user_agent_suffix("cleanup-job/1.2")
///     .build()?;
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ClientBuilder = swas_open_core::ClientBuilder<Client>;

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
    config: Config,
    transport: Transport,
    /// Wakes the callers waiting for a credentials refresh when it ends.
    refreshed: Notify,
}

/// How long a caller waits for a refresh before looking again.
const REFRESH_POLL: Duration = Duration::from_secs(1);

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl FromConfig for Client {
    /// Builds the pooled client. It needs no runtime; its calls need a tokio runtime with
    /// I/O and timers enabled.
    fn from_config(config: Config) -> Result<Self, Error> {
        let transport = Transport::new(&config)?;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                refreshed: Notify::new(),
            }),
        })
    }
}

impl Client {
    /// A builder with the defaults: credentials from the default chain, V1 signatures, the
    /// public endpoint of each input's region, 5 s connect and 10 s read timeouts, no
    /// overall deadline, three attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use swas_open_hyper::{Client, Credentials, RetryPolicy, SignatureVersion};
    ///
    /// let client = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
    ///     .endpoint("http://127.0.0.1:8080")
    ///     .signature_version(SignatureVersion::V3)
    ///     .read_timeout(Duration::from_secs(3))
    ///     .retry_policy(RetryPolicy::new(5))
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Deletes a custom image, retrying as the [`RetryPolicy`](swas_open_core::RetryPolicy)
    /// allows.
    ///
    /// Every attempt is signed afresh (new timestamp and nonce) and carries the same
    /// `ClientToken` (the input's, or one made for the call), so a retry never deletes twice
    /// and never turns a success into `InvalidImageId.NotFound`; the token is returned in
    /// [`DeleteCustomImageOutput::client_token`]. Waits between attempts sleep on tokio's timer, never
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
    ) -> Result<DeleteCustomImageOutput, Error> {
        self.delete_custom_image_with(input, CallOptions::new())
            .await
    }

    /// [`delete_custom_image`](Self::delete_custom_image) with options of this call only: a
    /// deadline in place of the client's, a `ClientToken` in place of the input's.
    pub async fn delete_custom_image_with(
        &self,
        input: &DeleteCustomImage,
        options: CallOptions,
    ) -> Result<DeleteCustomImageOutput, Error> {
        let config = &self.inner.config;
        // Fixed credentials need no cache: no lock, no clock reading.
        let fetched;
        let signer = match config.signer() {
            Some(fixed) => fixed,
            None => {
                fetched = self.signer().await?;
                &*fetched
            }
        };
        // One bulk draw: `rand::random::<[u8; 32]>()` would draw the bytes one at a time.
        let mut seed = [0; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
        let mut call = Call::new(
            config,
            signer,
            input,
            seed,
            Instant::now(),
            SystemTime::now(),
        );
        call.set_options(options);
        let span = call.span();
        self.drive(call).instrument(span).await
    }

    /// The signer of the client's current credentials: cached ones while they have over 3
    /// minutes left, else fetched now. The fetch runs in a task of its own that every
    /// waiting caller awaits, so dropping a waiting future cancels nothing for the others.
    /// From 15 minutes before expiry, the first caller starts that task and goes on with the
    /// cached credentials. Every call does this first.
    pub async fn signer(&self) -> Result<Arc<Signer>, Error> {
        let config = &self.inner.config;
        let mut seen = None;
        loop {
            // Registered before looking, so a refresh that ends in between still wakes us.
            let notified = self.inner.refreshed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let step =
                config.credentials_step(Instant::now(), SystemTime::now(), &mut seen, rand::random);
            match step {
                CredentialsStep::Sign(signer) => return Ok(signer),
                CredentialsStep::Failed(error) => return Err(error),
                CredentialsStep::Fetch { fetch, meanwhile } => {
                    self.spawn_refresh(fetch);
                    if let Some(signer) = meanwhile {
                        return Ok(signer);
                    }
                    let _ = tokio::time::timeout(REFRESH_POLL, notified).await;
                }
                CredentialsStep::Wait => {
                    let _ = tokio::time::timeout(REFRESH_POLL, notified).await;
                }
            }
        }
    }

    /// Runs a credentials fetch in a task of its own, then wakes whoever waits for it.
    fn spawn_refresh(&self, fetch: Fetch) {
        let client = self.clone();
        tokio::spawn(async move {
            client.drive(fetch).await;
            client.inner.refreshed.notify_waiters();
        });
    }

    /// How far the service's clock is ahead of this machine's, in seconds (negative:
    /// behind), as learnt from a refused timestamp; every call signs with the corrected time.
    pub fn clock_offset(&self) -> i64 {
        self.inner.config.clock_offset()
    }

    /// Runs an exchange to its end: the one loop every request of this client goes through.
    async fn drive<X: Exchange>(&self, mut exchange: X) -> X::Output {
        loop {
            match exchange.next(Instant::now()) {
                Action::Send(outgoing) => {
                    let outcome = self.inner.transport.send(outgoing).await;
                    exchange.receive(Instant::now(), outcome);
                }
                Action::Wait(until) => tokio::time::sleep_until(until.into()).await,
                Action::Done(output) => return output,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swas_open_core::{Credentials, SignatureVersion};

    #[test]
    fn builder_options_reach_the_client() {
        let client = Client::builder()
            .credentials(Credentials::new("id", "s3cr3t-value").unwrap())
            .signature_version(SignatureVersion::V3)
            .build()
            .unwrap();
        assert_eq!(
            client.inner.config.signer().unwrap().signature_version(),
            SignatureVersion::V3
        );
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }
}
