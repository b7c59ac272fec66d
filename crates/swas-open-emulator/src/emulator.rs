//! The handle and its builder: configure, start (async or on its own thread), inspect, stop.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use swas_open_core::credentials::Secret;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fault::Fault;
use crate::state::{Clock, Config, Key, Shared};
use crate::{server, Stats};

/// The default request size limit: 64 KiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Configures an [`Emulator`]; see [`Emulator::builder`].
#[must_use = "a builder does nothing until started"]
pub struct EmulatorBuilder {
    keys: Vec<(String, String, Option<String>)>,
    images: Vec<(String, String, bool)>,
    clock: Option<Clock>,
    listen: SocketAddr,
    max_request_bytes: usize,
    log_requests: bool,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids only: secrets and tokens never print.
        let ids: Vec<&str> = self.keys.iter().map(|(id, _, _)| id.as_str()).collect();
        f.debug_struct("EmulatorBuilder")
            .field("access_key_ids", &ids)
            .field("images", &self.images)
            .field("listen", &self.listen)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("log_requests", &self.log_requests)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            images: Vec::new(),
            clock: None,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            log_requests: false,
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

    /// The clock request timestamps are checked against (default: the system clock), so tests
    /// can skew it.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Where to listen (default `127.0.0.1:0`, a free port; see [`Emulator::addr`]).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The largest request accepted, request line, headers and body together (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]); larger ones are answered 413 `RequestEntityTooLarge`.
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Writes one line per API request to stderr:
    /// `<METHOD> <action or -> <code or OK> <status> <latency ms>ms` (default off).
    pub fn log_requests(mut self, on: bool) -> Self {
        self.log_requests = on;
        self
    }

    /// Starts the emulator on the current tokio runtime (which needs its IO and time drivers
    /// enabled, as `#[tokio::test]` and `#[tokio::main]` do).
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when a secret or token is not valid, or with
    /// the error of binding the address.
    pub async fn start(self) -> io::Result<Emulator> {
        let listen = self.listen;
        let shared = Arc::new(self.into_shared()?);
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let server_shared = shared.clone();
        tokio::spawn(async move {
            server::serve(listener, server_shared, stop_rx).await;
            let _ = done_tx.send(true);
        });
        Ok(Emulator::new(shared, addr, stop_tx, done_rx, None))
    }

    /// Starts the emulator on a runtime of its own, on a thread of its own: for blocking code
    /// and plain `#[test]`s. Returns once it is listening.
    pub fn start_blocking(self) -> io::Result<Emulator> {
        let listen = self.listen;
        let shared = Arc::new(self.into_shared()?);
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("swas-emulator-worker")
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("swas-emulator".to_owned())
            .spawn(move || {
                runtime.block_on(server::serve(listener, server_shared, stop_rx));
                drop(runtime);
                let _ = done_tx.send(true);
            })?;
        Ok(Emulator::new(shared, addr, stop_tx, done_rx, Some(thread)))
    }

    fn into_shared(self) -> io::Result<Shared> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        let mut keys = HashMap::new();
        for (id, secret, token) in self.keys {
            let secret = Secret::access_key_secret(secret)
                .map_err(|e| invalid(format!("access key {id:?}: {e}")))?;
            if let Some(token) = &token {
                Secret::security_token(token.as_str())
                    .map_err(|e| invalid(format!("access key {id:?}: {e}")))?;
            }
            keys.insert(
                id,
                Key {
                    secret,
                    security_token: token,
                },
            );
        }
        let mut images: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
        for (region, image, shared) in self.images {
            images.entry(region).or_default().insert(image, shared);
        }
        let config = Config {
            keys,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
            max_request_bytes: self.max_request_bytes,
            log_requests: self.log_requests,
        };
        Ok(Shared::new(config, images))
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
    fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        done: watch::Receiver<bool>,
        thread: Option<std::thread::JoinHandle<()>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                addr,
                stop,
                done,
                thread: Mutex::new(thread),
            }),
        }
    }

    /// A builder with no keys, no images, the system clock, `127.0.0.1:0` and a 64 KiB limit.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on (with the actual port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://HOST:PORT`, the endpoint to point clients at.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Queues a fault for the next request(s); see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.inner.shared.inject(fault);
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
        let builder = Emulator::builder().sts_access_key("ak", "hidden-secret", "hidden-token");
        let shown = format!("{builder:?}");
        assert!(
            shown.contains("\"ak\"") && !shown.contains("hidden"),
            "{shown}"
        );
    }
}
