//! [`Client`] and its builder.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Instant, SystemTime};

use swas_open_core::{
    Call, CallOptions, Config, DeleteCustomImage, DeleteCustomImageOutput, Error, Exchange, Fetch,
    FromConfig, Readings, Step,
};

use crate::transport;

/// Options of a [`Client`]: the builder every client of this SDK shares, with its defaults
/// (see [`ClientBuilder`](swas_open_core::ClientBuilder)).
///
/// ```
/// use std::time::Duration;
/// use swas_open::blocking::Client;
/// use swas_open::{Credentials, RetryPolicy, SignatureVersion};
/// let client = Client::builder()
///     .credentials(Credentials::new("id", "secret")?)
///     .region("cn-hangzhou")
///     .signature_version(SignatureVersion::V3)
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(5))
///     .deadline(Duration::from_secs(30))
///     .retry_policy(RetryPolicy::new(5))
///     .user_agent_suffix("my-app/1.0")
///     .build()?;
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ClientBuilder = swas_open_core::ClientBuilder<Client>;

/// A blocking DeleteCustomImage client.
///
/// Cheap to clone (an [`Arc`] inside); clones share one connection pool, so build one client
/// and reuse it. `Send` and `Sync`.
///
/// ```
/// use swas_open::blocking::Client;
/// use swas_open::Credentials;
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
    agent: transport::Agent,
    config: Config,
    wake: Arc<Wake>,
}

/// The one way a waiting call wakes: its time is up, or a credentials fetch ended (the
/// core counts them: [`Config::credentials_changes`]).
#[derive(Default)]
struct Wake {
    lock: Mutex<()>,
    changed: Condvar,
}

impl Wake {
    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.notify_all();
    }

    /// Sleeps until `until`, or until `config`'s count of credentials changes is no longer
    /// `seen`. The count is read under the lock the notifier takes, so no change is missed.
    fn sleep(&self, config: &Config, seen: u64, until: Instant) {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if config.credentials_changes() != seen || left.is_zero() {
                return;
            }
            guard = match self.changed.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FromConfig for Client {
    fn from_config(config: Config) -> Result<Self, Error> {
        let wake = Arc::new(Wake::default());
        let notify = wake.clone();
        config.on_credentials_change(move || notify.notify());
        Ok(Client {
            inner: Arc::new(Inner {
                agent: transport::Agent::new(&config)?,
                config,
                wake,
            }),
        })
    }
}

impl Client {
    /// A builder with the defaults: credentials from the default chain, the endpoint of each
    /// input's region, signature V1, connect timeout 5 s, read timeout 10 s, no deadline,
    /// [`RetryPolicy::default`](swas_open_core::RetryPolicy::default) (3 attempts).
    ///
    /// ```
    /// use swas_open::blocking::Client;
    /// use swas_open::Credentials;
    /// let client = Client::builder()
    ///     .credentials(Credentials::new("id", "secret")?)
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
    /// Every attempt carries the same `ClientToken` (the input's, or a UUID v4 made for this
    /// call, returned in [`DeleteCustomImageOutput::client_token`]) and is signed with a fresh
    /// timestamp and nonce. On failure, the error is the last attempt's.
    ///
    /// Credentials a provider fetches are cached and used while they have over 3 minutes
    /// left; otherwise the call waits for a fetch, which runs on a thread of its own, one for
    /// all the calls that need it. From 15 minutes before they expire, the first call starts
    /// a refresh in the background and goes on with the cached ones.
    ///
    /// ```no_run
    /// use swas_open::blocking::Client;
    /// use swas_open::{DeleteCustomImage, ErrorCode};
    /// let client = Client::builder().build()?; // credentials from the environment or profile
    /// let input = DeleteCustomImage::new("cn-hangzhou", "m-2zehv38jjmwva1ee****")?;
    /// match client.delete_custom_image(&input) {
    ///     Ok(out) => println!("deleted: {}", out.request_id),
    ///     Err(e) if e.code() == Some(&ErrorCode::CustomImageInShare) => {
    ///         eprintln!("unshare the image first: {e}")
    ///     }
    ///     Err(e) if e.outcome_unknown() => eprintln!(
    ///         "outcome unknown after {} attempt(s): repeat with ClientToken {:?}",
    ///         e.attempts(),
    ///         e.client_token().map(|t| t.as_str()),
    ///     ),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_custom_image(
        &self,
        input: &DeleteCustomImage,
    ) -> Result<DeleteCustomImageOutput, Error> {
        self.delete_custom_image_with(input, CallOptions::new())
    }

    /// [`delete_custom_image`](Self::delete_custom_image) with options of this call only: a
    /// deadline in place of the client's, a `ClientToken` in place of the input's.
    pub fn delete_custom_image_with(
        &self,
        input: &DeleteCustomImage,
        options: CallOptions,
    ) -> Result<DeleteCustomImageOutput, Error> {
        let call = Call::new(&self.inner.config, input, options, readings());
        let _entered = call.span().entered();
        self.drive(call)
    }

    /// The signer of the client's current credentials, fetched first if need be, as a call
    /// gets it before each attempt. (Feature `workspace-internals`: for the CLI's dry run,
    /// not covered by semver.)
    #[cfg(feature = "workspace-internals")]
    #[doc(hidden)]
    pub fn signer(&self) -> Result<Arc<swas_open_core::Signer>, Error> {
        self.drive(self.inner.config.current_signer(readings()))
    }

    /// How far the service's clock is ahead of this machine's, in seconds (negative:
    /// behind), as learnt from a refused timestamp; every call signs with the corrected time.
    pub fn clock_offset(&self) -> i64 {
        self.inner.config.clock_offset()
    }

    /// Runs an exchange to its end: the one loop every request of this client goes through.
    fn drive<X: Exchange<Detached = Fetch>>(&self, mut exchange: X) -> X::Output {
        loop {
            let seen = self.inner.config.credentials_changes();
            match exchange.next(Instant::now()) {
                Step::Send(outgoing) => {
                    let outcome = transport::send(&self.inner.agent, outgoing);
                    exchange.receive(Instant::now(), outcome);
                }
                Step::Wait(until) => self.inner.wake.sleep(&self.inner.config, seen, until),
                Step::Detach(fetch) => self.detach(*fetch),
                Step::Done(output) => return output,
            }
        }
    }

    /// Runs a credentials fetch on a thread of its own; its end wakes the calls waiting.
    fn detach(&self, fetch: Fetch) {
        let client = self.clone();
        thread::spawn(move || client.drive(fetch));
    }
}

/// What a call or a signer step starts from, which the core never reads itself: 32 random
/// bytes drawn at once (`rand::random::<[u8; 32]>()` would draw them one at a time) and both
/// clocks.
fn readings() -> Readings {
    let mut seed = [0; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    Readings::new(seed, Instant::now(), SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use swas_open_core::Credentials;

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
