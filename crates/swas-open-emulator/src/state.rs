//! Everything the server shares between connections: keys, images, roles, caches, faults,
//! counters and the clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use swas_open_core::Secret;

use crate::fault::{Fault, FaultKind, FaultQueues, QueueFull, Service};
use crate::idempotency::TokenStore;
use crate::issued::{ImdsTokens, Issued, TemporaryKeys};
use crate::nonce::{Fresh, NonceCache};
use crate::rate::RateLimit;
use crate::Stats;

/// The clock requests' timestamps are checked against and `Date` headers come from.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The monotonic clock the rate limit's bucket refills by.
pub(crate) type RateClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// How far a request's timestamp may be from the emulator's clock, in seconds.
const WINDOW_SECS: u64 = 15 * 60;

/// `at` in Unix seconds (0 before the epoch): the emulator's clock and the timestamps of
/// requests, compared against [`WINDOW_SECS`].
pub(crate) fn unix_secs(at: impl Into<SystemTime>) -> u64 {
    at.into()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a request signed at `signed_at` is inside the window around `now` (both Unix
/// seconds): the one timestamp rule of signed SWAS and STS calls and of the unsigned
/// `AssumeRoleWithOIDC`.
pub(crate) fn within_window(signed_at: u64, now: u64) -> bool {
    signed_at.abs_diff(now) <= WINDOW_SECS
}

/// The most nonces remembered at once (as 32-byte digests, about 150 bytes each with their
/// indexes): past it, new signed requests are refused until older nonces leave the window.
pub(crate) const NONCE_CAPACITY: usize = 500_000;
/// The most ClientTokens remembered at once.
pub(crate) const TOKEN_CAPACITY: usize = 100_000;
/// The most bytes of remembered answers (tokens, accounts and bodies) at once.
pub(crate) const TOKEN_BYTES: usize = 64 << 20;
/// How long IMDS and the credentials URI's credentials last unless configured otherwise.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// A long-term AccessKey (or an STS key registered with its token).
pub(crate) struct Key {
    pub(crate) secret: Secret,
    /// The STS token requests signed with this key must carry.
    pub(crate) security_token: Option<String>,
    /// The account the key belongs to; `None`: the default account.
    pub(crate) account: Option<String>,
}

/// A RAM role that `AssumeRole` and `AssumeRoleWithOIDC` may assume.
#[derive(Debug, Clone)]
pub(crate) struct RoleConfig {
    /// The `ExternalId` the caller must send, if any.
    pub(crate) external_id: Option<String>,
    /// The largest `DurationSeconds` accepted.
    pub(crate) max_duration_secs: u64,
    /// Accounts other than the role's own whose principals may assume it.
    pub(crate) trusted_accounts: Vec<String>,
}

/// What a test registered of an OIDC provider: the claims its tokens must carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct OidcProviderConfig {
    /// The `iss` required, if any.
    pub(crate) issuer: Option<String>,
    /// The `aud` values accepted (one must match), if any.
    pub(crate) audiences: Vec<String>,
}

/// Fixed at start.
pub(crate) struct Config {
    pub(crate) keys: HashMap<String, Key>,
    /// Role ARN -> role.
    pub(crate) roles: HashMap<String, RoleConfig>,
    /// (role ARN, OIDC provider ARN) -> the tokens accepted.
    pub(crate) oidc_tokens: HashMap<(String, String), Vec<String>>,
    /// OIDC provider ARN -> the claims its tokens must carry.
    pub(crate) oidc_providers: HashMap<String, OidcProviderConfig>,
    pub(crate) instance_role: Option<String>,
    pub(crate) imds_v2_only: bool,
    /// The default account: of keys that name none, and of the instance (IMDS and
    /// credentials URI credentials). `None`: unnamed, and trusted by every role.
    pub(crate) account: Option<String>,
    /// The credentials URI route's path, if served.
    pub(crate) credentials_uri: Option<String>,
    /// Overrides the lifetime of every credential issued.
    pub(crate) credential_lifetime: Option<Duration>,
    pub(crate) clock: Clock,
    pub(crate) max_request_bytes: usize,
    pub(crate) log_requests: bool,
    /// SWAS requests accepted per second; `None` for no limit.
    pub(crate) rate_limit: Option<u32>,
    pub(crate) rate_clock: RateClock,
}

/// Images (region -> image id -> shared) and the answers remembered per ClientToken: locked
/// together, so a token's lookup, the delete and the record happen as one step.
pub(crate) struct Store {
    pub(crate) images: BTreeMap<String, BTreeMap<String, bool>>,
    pub(crate) tokens: TokenStore,
}

/// Counters, one per [`Stats`] field.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
    deletes: AtomicU64,
    sts_requests: AtomicU64,
    imds_requests: AtomicU64,
    credentials_uri_requests: AtomicU64,
    credentials_issued: AtomicU64,
    throttled: AtomicU64,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    store: Mutex<Store>,
    nonces: Mutex<NonceCache>,
    faults: Mutex<FaultQueues>,
    temporary: Mutex<TemporaryKeys>,
    imds_tokens: Mutex<ImdsTokens>,
    rate_limit: Option<Mutex<RateLimit>>,
    counters: Counters,
}

/// A poisoned lock only means another request panicked mid-update; the data stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a key lookup found: the secret, the token requests must carry, for temporary
/// credentials their expiry (Unix seconds), and the account the key belongs to (`None`: the
/// unnamed default account).
pub(crate) struct KnownKey {
    pub(crate) secret: Secret,
    pub(crate) security_token: Option<String>,
    pub(crate) expires_at: Option<u64>,
    pub(crate) account: Option<String>,
}

impl Shared {
    pub(crate) fn new(config: Config, images: BTreeMap<String, BTreeMap<String, bool>>) -> Self {
        Self {
            rate_limit: config.rate_limit.map(|n| Mutex::new(RateLimit::new(n))),
            config,
            store: Mutex::new(Store {
                images,
                tokens: TokenStore::new(TOKEN_CAPACITY, TOKEN_BYTES),
            }),
            nonces: Mutex::new(NonceCache::new(NONCE_CAPACITY)),
            faults: Mutex::new(FaultQueues::default()),
            temporary: Mutex::new(TemporaryKeys::default()),
            imds_tokens: Mutex::new(ImdsTokens::default()),
            counters: Counters::default(),
        }
    }

    /// The emulator's clock.
    pub(crate) fn now(&self) -> SystemTime {
        (self.config.clock)()
    }

    /// The emulator's clock, in Unix seconds (0 before the epoch).
    pub(crate) fn now_unix(&self) -> u64 {
        unix_secs(self.now())
    }

    /// The emulator's clock as an HTTP `Date` value (IMF-fixdate).
    pub(crate) fn http_date(&self) -> HeaderValue {
        let date = httpdate::fmt_http_date(self.now().max(UNIX_EPOCH));
        HeaderValue::try_from(date).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The secret and token of a long-term or temporary AccessKey.
    pub(crate) fn key(&self, access_key_id: &str) -> Option<KnownKey> {
        if let Some(k) = self.config.keys.get(access_key_id) {
            return Some(KnownKey {
                secret: k.secret.clone(),
                security_token: k.security_token.clone(),
                expires_at: None,
                account: k.account.clone().or_else(|| self.config.account.clone()),
            });
        }
        let temporary = lock(&self.temporary);
        let t = temporary.get(access_key_id)?;
        Some(KnownKey {
            secret: t.secret.clone(),
            security_token: Some(t.security_token.clone()),
            expires_at: Some(t.expires_at),
            account: t.account.clone(),
        })
    }

    /// Issues temporary credentials of `account` for `service` that SWAS (and STS) accept
    /// until they expire: after `lifetime`, unless an `expires_in` fault or the emulator's
    /// configured lifetime says otherwise.
    pub(crate) fn issue(
        &self,
        service: Service,
        lifetime: Duration,
        account: Option<&str>,
    ) -> Issued {
        let lifetime = lock(&self.faults)
            .take_expiry(service)
            .or(self.config.credential_lifetime)
            .unwrap_or(lifetime);
        let now = self.now_unix();
        let secs = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
        let issued = Issued::new(now.saturating_add(secs));
        lock(&self.temporary).insert(&issued, account, now);
        self.counters
            .credentials_issued
            .fetch_add(1, Ordering::Relaxed);
        issued
    }

    /// Records a new IMDS session token valid for `ttl_secs`.
    pub(crate) fn new_imds_token(&self, ttl_secs: u64) -> String {
        let now = self.now_unix();
        lock(&self.imds_tokens).issue(now.saturating_add(ttl_secs), now)
    }

    /// Whether `token` is an IMDS session token still valid.
    pub(crate) fn imds_token_valid(&self, token: &str) -> bool {
        lock(&self.imds_tokens).is_valid(token, self.now_unix())
    }

    /// Records a nonce, unless it was used already or too many are remembered.
    pub(crate) fn fresh_nonce(&self, access_key_id: &str, nonce: &str, timestamp: u64) -> Fresh {
        let now = self.now_unix();
        lock(&self.nonces).insert(
            access_key_id,
            nonce,
            timestamp.saturating_add(WINDOW_SECS),
            now,
        )
    }

    /// Queues every fault of `faults`, or none when they would not all fit.
    pub(crate) fn inject(&self, faults: Vec<Fault>) -> Result<(), QueueFull> {
        lock(&self.faults).push_all(faults)
    }

    pub(crate) fn take_fault(&self, service: Service) -> Option<FaultKind> {
        lock(&self.faults).take(service)
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

    /// Counts a request of `service`.
    pub(crate) fn count_request(&self, service: Service) {
        let counter = match service {
            Service::Swas => &self.counters.requests,
            Service::Sts => &self.counters.sts_requests,
            Service::Imds => &self.counters.imds_requests,
            Service::CredentialsUri => &self.counters.credentials_uri_requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The rate limit's clock: when a request arrives, by the clock the bucket refills by.
    pub(crate) fn rate_now(&self) -> Instant {
        (self.config.rate_clock)()
    }

    /// Whether a SWAS request arriving at `now` (by [`Shared::rate_now`]) is over the rate
    /// limit (always `false` without one).
    pub(crate) fn over_rate_limit(&self, now: Instant) -> bool {
        self.rate_limit
            .as_ref()
            .is_some_and(|limit| !lock(limit).take(now))
    }

    /// Counts a SWAS request answered with a throttling error.
    pub(crate) fn count_throttled(&self) {
        self.counters.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_connection(&self) {
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_delete(&self) {
        self.counters.deletes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: get(&c.requests),
            connections: get(&c.connections),
            deletes: get(&c.deletes),
            sts_requests: get(&c.sts_requests),
            imds_requests: get(&c.imds_requests),
            credentials_uri_requests: get(&c.credentials_uri_requests),
            credentials_issued: get(&c.credentials_issued),
            throttled: get(&c.throttled),
        }
    }
}
