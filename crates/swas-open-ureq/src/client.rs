//! [`Client`] and its builder.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use swas_open_core::{
    Action, Call, CallOptions, Config, CredentialsStep, DeleteCustomImage, DeleteCustomImageOutput,
    Error, Exchange, FromConfig, Signer,
};

use crate::transport;

/// Options of a [`Client`]: the builder every client of this SDK shares, with its defaults
/// (see [`swas_open_core::ClientBuilder`]).
///
/// ```
/// use std::time::Duration;
/// use swas_open_ureq::{Client, Credentials, RetryPolicy, SignatureVersion};
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
    agent: transport::Agent,
    config: Config,
    /// Wakes the callers waiting for a credentials refresh when it ends.
    refreshed: (Mutex<()>, Condvar),
}

/// How long a caller waits for another's refresh before looking again.
const REFRESH_POLL: Duration = Duration::from_secs(1);

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FromConfig for Client {
    fn from_config(config: Config) -> Result<Self, Error> {
        Ok(Client {
            inner: Arc::new(Inner {
                agent: transport::Agent::new(&config)?,
                config,
                refreshed: (Mutex::new(()), Condvar::new()),
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
    /// use swas_open_ureq::{Client, Credentials};
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
    /// ```no_run
    /// use swas_open_ureq::{Client, DeleteCustomImage, ErrorCode};
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
        let config = &self.inner.config;
        // Fixed credentials need no cache: no lock, no clock reading.
        let fetched;
        let signer = match config.signer() {
            Some(fixed) => fixed,
            None => {
                fetched = self.signer()?;
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
        let _entered = call.span().entered();
        self.drive(call)
    }

    /// The signer of the client's current credentials: cached ones while they have over 3
    /// minutes left, else fetched now (one thread fetches, the others wait for it). From 15
    /// minutes before they expire, the first caller starts a refresh on a background thread
    /// and goes on with the cached ones. Every call does this first.
    pub fn signer(&self) -> Result<Arc<Signer>, Error> {
        let config = &self.inner.config;
        let (lock, woken) = &self.inner.refreshed;
        let mut seen = None;
        loop {
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let step =
                config.credentials_step(Instant::now(), SystemTime::now(), &mut seen, rand::random);
            match step {
                CredentialsStep::Sign(signer) => return Ok(signer),
                CredentialsStep::Failed(error) => return Err(error),
                CredentialsStep::Wait => {
                    // The fetcher notifies under this lock, after storing its result, so the
                    // wake-up cannot fall between the step and the wait.
                    let _ = woken.wait_timeout(guard, REFRESH_POLL);
                }
                CredentialsStep::Fetch { fetch, meanwhile } => {
                    drop(guard);
                    match meanwhile {
                        Some(signer) => {
                            let client = self.clone();
                            thread::spawn(move || client.refresh(fetch));
                            return Ok(signer);
                        }
                        None => self.refresh(fetch),
                    }
                }
            }
        }
    }

    /// Runs a credentials fetch, then wakes whoever waits for it.
    fn refresh(&self, fetch: swas_open_core::Fetch) {
        self.drive(fetch);
        let (lock, woken) = &self.inner.refreshed;
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        woken.notify_all();
    }

    /// How far the service's clock is ahead of this machine's, in seconds (negative:
    /// behind), as learnt from a refused timestamp; every call signs with the corrected time.
    pub fn clock_offset(&self) -> i64 {
        self.inner.config.clock_offset()
    }

    /// Runs an exchange to its end: the one loop every request of this client goes through.
    fn drive<X: Exchange>(&self, mut exchange: X) -> X::Output {
        loop {
            match exchange.next(Instant::now()) {
                Action::Send(outgoing) => {
                    let outcome = transport::send(&self.inner.agent, outgoing);
                    exchange.receive(Instant::now(), outcome);
                }
                Action::Wait(until) => {
                    thread::sleep(until.saturating_duration_since(Instant::now()))
                }
                Action::Done(output) => return output,
            }
        }
    }
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
