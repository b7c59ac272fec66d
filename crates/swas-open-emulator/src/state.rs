//! Everything the server shares between connections: keys, images, caches, faults, counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use swas_open_core::credentials::Secret;

use crate::fault::{Fault, FaultKind, FaultQueue};
use crate::idempotency::TokenStore;
use crate::nonce::NonceCache;
use crate::Stats;

/// The clock requests' timestamps are checked against.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How far a request's timestamp may be from the emulator's clock, in seconds.
pub(crate) const WINDOW_SECS: u64 = 15 * 60;
/// The most nonces remembered at once.
pub(crate) const NONCE_CAPACITY: usize = 200_000;
/// The most ClientTokens remembered at once.
pub(crate) const TOKEN_CAPACITY: usize = 100_000;

/// A known AccessKey.
pub(crate) struct Key {
    pub(crate) secret: Secret,
    /// The STS token requests signed with this key must carry.
    pub(crate) security_token: Option<String>,
}

/// Fixed at start.
pub(crate) struct Config {
    pub(crate) keys: HashMap<String, Key>,
    pub(crate) clock: Clock,
    pub(crate) max_request_bytes: usize,
    pub(crate) log_requests: bool,
}

/// Images (region -> image id -> shared) and the answers remembered per ClientToken: locked
/// together, so a token's lookup, the delete and the record happen as one step.
pub(crate) struct Store {
    pub(crate) images: BTreeMap<String, BTreeMap<String, bool>>,
    pub(crate) tokens: TokenStore,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    store: Mutex<Store>,
    nonces: Mutex<NonceCache>,
    faults: Mutex<FaultQueue>,
    requests: AtomicU64,
    connections: AtomicU64,
    deletes: AtomicU64,
}

/// A poisoned lock only means another request panicked mid-update; the data stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: Config, images: BTreeMap<String, BTreeMap<String, bool>>) -> Self {
        Self {
            config,
            store: Mutex::new(Store {
                images,
                tokens: TokenStore::new(TOKEN_CAPACITY),
            }),
            nonces: Mutex::new(NonceCache::new(NONCE_CAPACITY)),
            faults: Mutex::new(FaultQueue::default()),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
        }
    }

    /// The emulator's clock, in Unix seconds (0 before the epoch).
    pub(crate) fn now_unix(&self) -> u64 {
        (self.config.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Records a nonce; `false` when it was used already.
    pub(crate) fn fresh_nonce(&self, access_key_id: &str, nonce: &str, timestamp: u64) -> bool {
        let now = self.now_unix();
        lock(&self.nonces).insert(
            access_key_id,
            nonce,
            timestamp.saturating_add(WINDOW_SECS),
            now,
        )
    }

    pub(crate) fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    pub(crate) fn take_fault(&self) -> Option<FaultKind> {
        lock(&self.faults).take()
    }

    pub(crate) fn pending_faults(&self) -> usize {
        lock(&self.faults).pending()
    }

    pub(crate) fn clear_faults(&self) -> usize {
        lock(&self.faults).clear()
    }

    pub(crate) fn add_image(&self, region: &str, image_id: &str, shared: bool) {
        self.store()
            .images
            .entry(region.to_owned())
            .or_default()
            .insert(image_id.to_owned(), shared);
    }

    pub(crate) fn has_image(&self, region: &str, image_id: &str) -> bool {
        self.store()
            .images
            .get(region)
            .is_some_and(|m| m.contains_key(image_id))
    }

    pub(crate) fn images(&self, region: &str) -> Vec<String> {
        self.store()
            .images
            .get(region)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every region's images with their shared flag, sorted.
    pub(crate) fn all_images(&self) -> BTreeMap<String, BTreeMap<String, bool>> {
        self.store().images.clone()
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_delete(&self) {
        self.deletes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
        }
    }
}
