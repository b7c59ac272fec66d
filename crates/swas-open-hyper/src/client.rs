//! The client, its builder and the loop that drives one call.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use swas_open_core::{
    Call, CallOptions, Config, DeleteCustomImage, DeleteCustomImageOutput, Error, Exchange, Fetch,
    FromConfig, Readings, Step,
};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::transport::Transport;

/// Options of a [`Client`]: the builder every client of this SDK shares, with its defaults
/// (see [`ClientBuilder`](swas_open_core::ClientBuilder)).
///
/// ```
/// use swas_open::asynchronous::Client;
/// use swas_open::{Credentials, EndpointKind};
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
/// use swas_open::asynchronous::Client;
/// use swas_open::{Credentials, DeleteCustomImage};
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
    /// The one way a waiting call wakes, beside its time being up: a credentials fetch
    /// ended (the core counts them: [`Config::credentials_changes`]).
    fetch_ended: Arc<Notify>,
}

/// What a call or a signer step starts from, which the core never reads itself: 32 random
/// bytes drawn at once (`rand::random::<[u8; 32]>()` would draw them one at a time) and both
/// clocks.
fn readings() -> Readings {
    let mut seed = [0; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    Readings::new(seed, Instant::now(), SystemTime::now())
}

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
        let fetch_ended = Arc::new(Notify::new());
        let notify = fetch_ended.clone();
        config.on_credentials_change(move || notify.notify_waiters());
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                fetch_ended,
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
    /// use swas_open::asynchronous::Client;
    /// use swas_open::{Credentials, RetryPolicy, SignatureVersion};
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
    /// Credentials a provider fetches are cached and used while they have over 3 minutes
    /// left; otherwise the call waits for a fetch, which runs in a task of its own, one for
    /// all the calls that need it, so dropping a waiting call's future cancels nothing for
    /// the others. From 15 minutes before they expire, the first call starts a refresh in
    /// the background and goes on with the cached ones.
    ///
    /// ```no_run
    /// use swas_open::asynchronous::Client;
    /// use swas_open::{DeleteCustomImage, Error, ErrorCode};
    ///
    /// # async fn run(client: Client) -> Result<(), Error> {
    /// let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?
    ///     .with_client_token("7f3c9a2e-delete-once")?;
    /// match client.delete_custom_image(&input).await {
    ///     Ok(out) => println!("deleted in {} attempt(s)", out.attempts),
    ///     Err(e) if e.code() == Some(&ErrorCode::InvalidImageIdNotFound) => {
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
        // The call stays where it is built, in this future's state: the loop borrows it, so
        // the futures nested around the loop (span, timeouts) never move it.
        let mut call = Call::new(&self.inner.config, input, options, readings());
        let span = call.span();
        self.drive(&mut call).instrument(span).await
    }

    /// The signer of the client's current credentials, fetched first if need be, as a call
    /// gets it before each attempt. (Feature `workspace-internals`: not covered by semver.)
    #[cfg(feature = "workspace-internals")]
    #[doc(hidden)]
    pub async fn signer(&self) -> Result<Arc<swas_open_core::Signer>, Error> {
        let mut step = self.inner.config.current_signer(readings());
        self.drive(&mut step).await
    }

    /// How far the service's clock is ahead of this machine's, in seconds (negative:
    /// behind), as learnt from a refused timestamp; every call signs with the corrected time.
    pub fn clock_offset(&self) -> i64 {
        self.inner.config.clock_offset()
    }

    /// Runs an exchange to its end: the one loop every request of this client goes through.
    async fn drive<X: Exchange<Detached = Fetch>>(&self, exchange: &mut X) -> X::Output {
        loop {
            let seen = self.inner.config.credentials_changes();
            let action = if exchange.next_may_block() {
                off_the_runtime(|| exchange.next(Instant::now()))
            } else {
                exchange.next(Instant::now())
            };
            match action {
                Step::Send(outgoing) => {
                    let outcome = self.inner.transport.send(outgoing).await;
                    exchange.receive(Instant::now(), outcome);
                }
                Step::Wait(until) => self.sleep(seen, until).await,
                Step::Detach(fetch) => self.detach(*fetch),
                Step::Done(output) => return output,
            }
        }
    }

    /// Sleeps until `until`, or until the count of credentials changes is no longer `seen`.
    async fn sleep(&self, seen: u64, until: Instant) {
        // Made before looking: it receives every `notify_waiters` from now on.
        let fetch_ended = self.inner.fetch_ended.notified();
        if self.inner.config.credentials_changes() != seen {
            return;
        }
        tokio::select! {
            () = fetch_ended => {}
            () = tokio::time::sleep_until(until.into()) => {}
        }
    }

    /// Runs a credentials fetch in a task of its own; its end wakes the calls waiting.
    fn detach(&self, mut fetch: Fetch) {
        let client = self.clone();
        tokio::spawn(async move { client.drive(&mut fetch).await });
    }
}

/// Runs `step`, which may block its thread (a fetch reading a local file), without holding up
/// the runtime's other tasks: tokio's `block_in_place` on a multi-thread runtime; in place on
/// a current-thread one, whose only thread is the caller's anyway.
fn off_the_runtime<T>(step: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(step),
        _ => step(),
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
