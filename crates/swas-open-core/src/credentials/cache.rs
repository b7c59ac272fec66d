//! Cached credentials and when to refresh them: pure timing rules, and the one refresh that
//! concurrent callers share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
#[cfg(feature = "transport")]
use std::time::SystemTime;
use std::time::{Duration, Instant};

use super::machine::ProviderSpec;
use super::CredentialsError;
#[cfg(feature = "transport")]
use super::{
    fetch::{lifetime, Fetch},
    service::Fetched,
};
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::shared::SharedState;
use crate::sign::{SignatureVersion, Signer};

/// A call never signs with credentials this close to their expiration, and a fetch that
/// gives credentials with less life left has failed.
pub(crate) const NEVER_SIGN_WITHIN: Duration = Duration::from_secs(3 * 60);
/// A refresh starts this long before expiration (or half-way through a shorter lifetime).
const AHEAD: Duration = Duration::from_secs(15 * 60);
/// After a failed fetch, the next one waits this long: while the cached credentials are
/// still usable, they are used; while none are, calls get the failure.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Whether credentials expiring at `expires` may sign at `now`: at least
/// [`NEVER_SIGN_WITHIN`] left.
fn usable(now: Instant, expires: Instant) -> bool {
    expires
        .checked_duration_since(now)
        .is_some_and(|left| left >= NEVER_SIGN_WITHIN)
}

/// When to start refreshing credentials fetched at `fetched` that expire at `expires`: 15
/// minutes before expiry, or half-way through a lifetime under 30 minutes, and in any case
/// before they stop being usable.
fn refresh_at(fetched: Instant, expires: Instant) -> Instant {
    let lifetime = expires.saturating_duration_since(fetched);
    let ahead = expires.checked_sub(AHEAD).unwrap_or(fetched);
    let half = fetched + lifetime / 2;
    let latest = expires
        .checked_sub(NEVER_SIGN_WITHIN)
        .unwrap_or(fetched)
        .max(fetched);
    ahead.max(half).min(latest)
}

/// What a caller does with the cache as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheDecision {
    /// Sign with the cached credentials.
    Use,
    /// Sign with them, and start the refresh ahead of time.
    UseAndRefresh,
    /// Nothing usable: fetch, then sign.
    Refresh,
    /// Nothing usable and a fetch is under way: wait for it.
    Wait,
}

/// The timing rules as one pure function. `cached`: the cached credentials' expiration
/// (`None`: they never expire) and when to refresh them.
fn decide(
    now: Instant,
    cached: Option<(Option<Instant>, Instant)>,
    in_flight: bool,
    retry_at: Option<Instant>,
) -> CacheDecision {
    match cached {
        Some((None, _)) => CacheDecision::Use,
        Some((Some(expires), refresh)) if usable(now, expires) => {
            if now >= refresh && !in_flight && retry_at.is_none_or(|r| now >= r) {
                CacheDecision::UseAndRefresh
            } else {
                CacheDecision::Use
            }
        }
        _ if in_flight => CacheDecision::Wait,
        _ => CacheDecision::Refresh,
    }
}

/// What the cache tells a caller who wants a signer.
// A step lives for one call of `Access::step` and is moved once; the fetch is not boxed
// because it is taken only when a refresh starts.
#[cfg(feature = "transport")]
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum CredentialsStep {
    /// Sign the call with this.
    Sign(Arc<Signer>),
    /// This caller starts the refresh. `meanwhile` is a signer still usable for the call in
    /// hand when the refresh starts ahead of time.
    Fetch {
        fetch: Fetch,
        meanwhile: Option<Arc<Signer>>,
    },
    /// Another caller's refresh is under way and nothing usable is cached.
    Wait,
    /// The refresh this caller waited for (or started) failed, and nothing usable is cached.
    Failed(Error),
}

/// The signer of the credentials last fetched, and when they expire and are due again.
struct CachedSigner {
    signer: Arc<Signer>,
    expires: Option<Instant>,
    refresh_at: Instant,
    source: String,
}

/// What the cache holds under its lock.
#[derive(Default)]
struct CacheState {
    entry: Option<CachedSigner>,
    in_flight: bool,
    /// How many fetches have ended.
    generation: u64,
    /// The last fetch's error, with the generation it ended.
    failure: Option<(u64, CredentialsError)>,
    retry_at: Option<Instant>,
}

/// One client's credentials: its provider, the signer options, and what is cached.
pub(crate) struct CredentialsCache {
    pub(crate) spec: ProviderSpec,
    /// The client's retry policy and budget, which a fetch's retries follow.
    pub(crate) retry: RetryPolicy,
    pub(crate) shared: Arc<SharedState>,
    version: SignatureVersion,
    suffix: Option<String>,
    /// The signer of credentials that never change: no lock, no clock.
    pub(crate) fixed: Option<Arc<Signer>>,
    state: Mutex<CacheState>,
    /// Called when a fetch ends or is abandoned: the client wakes the calls waiting.
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// How many fetches have ended or been abandoned, counted before the waker is called.
    changes: AtomicU64,
}

impl std::fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsCache")
            .field("provider", &self.spec)
            .field("source", &self.source())
            .finish_non_exhaustive()
    }
}

impl CredentialsCache {
    /// Fails on a user-agent suffix that is not a valid header value, whatever the provider:
    /// checked on the fixed credentials, or on throwaway ones when they are fetched later.
    pub(crate) fn new(
        spec: ProviderSpec,
        version: SignatureVersion,
        suffix: Option<String>,
        retry: (RetryPolicy, Arc<SharedState>),
    ) -> Result<Self, Error> {
        let mut cache = Self {
            spec,
            retry: retry.0,
            shared: retry.1,
            version,
            suffix,
            fixed: None,
            state: Mutex::new(CacheState::default()),
            waker: OnceLock::new(),
            changes: AtomicU64::new(0),
        };
        match &cache.spec {
            ProviderSpec::Fixed(credentials, _) => {
                cache.fixed = Some(Arc::new(cache.signer_of(credentials.clone())?));
            }
            _ if cache.suffix.is_some() => {
                cache.signer_of(super::Credentials::new("id", "secret")?)?;
            }
            _ => {}
        }
        Ok(cache)
    }

    fn signer_of(&self, credentials: super::Credentials) -> Result<Signer, Error> {
        let mut signer = Signer::new(credentials).with_signature_version(self.version);
        if let Some(suffix) = &self.suffix {
            signer = signer.with_user_agent_suffix(suffix).map_err(|_| {
                Error::config(format!(
                    "user agent suffix {suffix:?} is not a valid header value"
                ))
            })?;
        }
        Ok(signer)
    }

    #[cfg(any(test, feature = "workspace-internals"))]
    pub(crate) fn fixed(&self) -> Option<&Signer> {
        self.fixed.as_deref()
    }

    /// Sets what to call when a fetch ends (the first waker set stays).
    pub(crate) fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(waker);
    }

    /// See [`Config::credentials_changes`](crate::Config::credentials_changes).
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    fn wake(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if let Some(waker) = self.waker.get() {
            waker();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the credentials in use came from, once obtained.
    fn source(&self) -> Option<String> {
        match &self.spec {
            ProviderSpec::Fixed(_, label) => Some(label.clone()),
            _ => self.lock().entry.as_ref().map(|e| e.source.clone()),
        }
    }

    #[cfg(feature = "transport")]
    pub(crate) fn step(
        self: &Arc<Self>,
        now: Instant,
        wall: SystemTime,
        seen: &mut Option<u64>,
        seed: impl FnOnce() -> [u8; 32],
    ) -> CredentialsStep {
        let mut state = self.lock();
        let cached = state.entry.as_ref().map(|e| (e.expires, e.refresh_at));
        let decision = decide(now, cached, state.in_flight, state.retry_at);
        if matches!(decision, CacheDecision::Refresh | CacheDecision::Wait) {
            if let (Some(waited), Some((ended, error))) = (*seen, &state.failure) {
                if *ended > waited {
                    return CredentialsStep::Failed(error.clone().into());
                }
            }
        }
        if decision == CacheDecision::Refresh {
            // Nothing usable, and the last fetch failed (after its own retries) a moment
            // ago: its error, rather than a new fetch for every call.
            if let (Some(at), Some((_, error))) = (state.retry_at, &state.failure) {
                if now < at {
                    return CredentialsStep::Failed(error.clone().into());
                }
            }
        }
        let signer = || state.entry.as_ref().map(|e| e.signer.clone());
        match decision {
            CacheDecision::Use => CredentialsStep::Sign(signer().expect("Use implies an entry")),
            CacheDecision::Wait => {
                *seen = Some(state.generation);
                CredentialsStep::Wait
            }
            CacheDecision::Refresh | CacheDecision::UseAndRefresh => {
                let meanwhile = match decision {
                    CacheDecision::UseAndRefresh => signer(),
                    _ => None,
                };
                state.in_flight = true;
                *seen = Some(state.generation);
                drop(state);
                CredentialsStep::Fetch {
                    fetch: Fetch::new(self.clone(), seed(), now, wall),
                    meanwhile,
                }
            }
        }
    }

    #[cfg(feature = "transport")]
    pub(crate) fn complete(
        &self,
        now: Instant,
        wall: SystemTime,
        result: Result<Fetched, CredentialsError>,
    ) {
        let result = result.and_then(|f| {
            let signer = self
                .signer_of(f.credentials.clone())
                .map_err(|e| CredentialsError::provider(&f.source, e.to_string()))?;
            Ok((f, signer))
        });
        let mut state = self.lock();
        state.in_flight = false;
        state.generation += 1;
        match result {
            Ok((fetched, signer)) => {
                let lifetime = lifetime(&fetched, wall);
                let expires = lifetime.map(|l| now + l);
                tracing::info!(
                    provider = %fetched.source,
                    expires_in_s = lifetime.map(|l| l.as_secs()),
                    "credentials obtained"
                );
                state.entry = Some(CachedSigner {
                    signer: Arc::new(signer),
                    refresh_at: expires.map_or(now, |e| refresh_at(now, e)),
                    expires,
                    source: fetched.source,
                });
                state.failure = None;
                state.retry_at = None;
            }
            Err(error) => {
                tracing::warn!(error = %error, "credentials refresh failed");
                state.retry_at = now.checked_add(RETRY_AFTER_FAILURE);
                state.failure = Some((state.generation, error));
            }
        }
        drop(state);
        self.wake();
    }

    /// Drops the cached credentials if they are `signer`'s: the service answered
    /// `InvalidSecurityToken.Expired` to them, so the next call fetches anew. Credentials
    /// refreshed since are kept; fixed ones are not cached, so there is nothing to drop.
    pub(crate) fn forget(&self, signer: &Signer) {
        let mut state = self.lock();
        if state
            .entry
            .as_ref()
            .is_some_and(|e| e.signer.credentials() == signer.credentials())
        {
            state.entry = None;
        }
    }

    pub(crate) fn abandon(&self) {
        let mut state = self.lock();
        state.in_flight = false;
        state.generation += 1;
        drop(state);
        self.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    proptest! {
        #[test]
        fn refresh_starts_in_time(lifetime in 0u64..200_000, start in 0u64..1_000_000) {
            let base = Instant::now();
            let fetched = at(base, start);
            let expires = at(base, start + lifetime);
            let r = refresh_at(fetched, expires);
            prop_assert!(r >= fetched);
            prop_assert!(r <= expires);
            // Refreshing starts no later than the moment the credentials stop being usable.
            if lifetime >= NEVER_SIGN_WITHIN.as_secs() {
                prop_assert!(r + NEVER_SIGN_WITHIN <= expires);
            }
            // Never earlier than 15 minutes before expiry, nor before half the lifetime.
            if lifetime >= 2 * AHEAD.as_secs() {
                prop_assert_eq!(r + AHEAD, expires);
            }
        }

        #[test]
        fn never_signs_with_under_three_minutes_left(
            left in 0u64..100_000,
            in_flight: bool,
            refresh_in in 0u64..100_000,
        ) {
            let now = Instant::now();
            let expires = at(now, left);
            let refresh = at(now, refresh_in);
            let d = decide(now, Some((Some(expires), refresh)), in_flight, None);
            let signs = matches!(d, CacheDecision::Use | CacheDecision::UseAndRefresh);
            prop_assert_eq!(signs, left >= NEVER_SIGN_WITHIN.as_secs());
            if !signs {
                prop_assert_eq!(d, if in_flight { CacheDecision::Wait } else { CacheDecision::Refresh });
            }
            // Only one refresh at a time.
            if in_flight {
                prop_assert!(d != CacheDecision::UseAndRefresh && d != CacheDecision::Refresh);
            }
        }

        #[test]
        fn a_failed_refresh_keeps_usable_credentials(left in 180u64..100_000, since_failure in 0u64..20) {
            let now = Instant::now();
            let retry_at = (now + RETRY_AFTER_FAILURE).checked_sub(Duration::from_secs(since_failure));
            let d = decide(now, Some((Some(at(now, left)), now)), false, retry_at);
            let retry_due = since_failure >= RETRY_AFTER_FAILURE.as_secs();
            prop_assert_eq!(d, if retry_due { CacheDecision::UseAndRefresh } else { CacheDecision::Use });
        }
    }

    #[test]
    fn no_cache_and_static_credentials() {
        let now = Instant::now();
        assert_eq!(decide(now, None, false, None), CacheDecision::Refresh);
        assert_eq!(decide(now, None, true, None), CacheDecision::Wait);
        assert_eq!(
            decide(now, Some((None, now)), false, None),
            CacheDecision::Use
        );
    }
}

/// The round trips a busy client pays for credentials, counted over a simulated hour from the
/// cache's own rules: the clock is simulated, so the counts are exact and do not depend on
/// the machine.
#[cfg(all(test, feature = "transport"))]
mod busy_client {
    use super::*;
    use crate::credentials::{Credentials, CredentialsProvider, ProvideCredentials};
    use crate::exchange::{Exchange, Step};
    use crate::BoxError;
    use std::collections::VecDeque;

    fn new_cache(spec: ProviderSpec) -> CredentialsCache {
        let policy = RetryPolicy::default();
        let shared = Arc::new(SharedState::new(&policy));
        CredentialsCache::new(spec, SignatureVersion::V1, None, (policy, shared)).unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3600);
    /// How long a fetch (one STS or metadata round trip) takes in the simulation.
    const LATENCY: Duration = Duration::from_millis(50);

    /// Issues credentials living `lifetime` from the simulated wall clock, and remembers
    /// each set's expiration (the access key id is the set's index).
    struct Sts {
        wall: Arc<Mutex<SystemTime>>,
        lifetime: Duration,
        issued: Arc<Mutex<Vec<SystemTime>>>,
    }

    impl ProvideCredentials for Sts {
        fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError> {
            let expires = *self.wall.lock().unwrap() + self.lifetime;
            let mut issued = self.issued.lock().unwrap();
            let id = format!("STS.{}", issued.len());
            issued.push(expires);
            let credentials = Credentials::new(id, "secret")?.with_security_token("token")?;
            Ok((credentials, Some(expires)))
        }
    }

    /// A cache over an [`Sts`] issuing credentials living `lifetime`, its simulated wall
    /// clock (at its start), and the expirations it issued.
    #[allow(clippy::type_complexity)]
    fn sts_cache(
        lifetime: Duration,
    ) -> (
        Arc<CredentialsCache>,
        Arc<Mutex<SystemTime>>,
        Arc<Mutex<Vec<SystemTime>>>,
    ) {
        let wall = Arc::new(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        ));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let provider = CredentialsProvider::custom(Sts {
            wall: wall.clone(),
            lifetime,
            issued: issued.clone(),
        });
        (Arc::new(new_cache(provider.spec)), wall, issued)
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Tally {
        /// Fetches (round trips to the provider) started in the hour.
        fetches: usize,
        /// Calls that had to wait for a fetch before signing.
        waited: u64,
        calls: u64,
    }

    /// `rate` calls per second for an hour against credentials living `lifetime`. Every call
    /// steps the cache as a client does; a fetch ends `LATENCY` after it starts, and the calls
    /// waiting for it step again then. Each signature is checked to have used credentials with
    /// at least `NEVER_SIGN_WITHIN` to go.
    fn simulate(rate: u64, lifetime: Duration) -> Tally {
        let (cache, wall, issued) = sts_cache(lifetime);
        let (wall0, base) = (*wall.lock().unwrap(), Instant::now());
        let mut fetches = 0;
        // Fetches under way (when they end), and the calls waiting for one.
        let mut pending: VecDeque<(Instant, Fetch)> = VecDeque::new();
        let mut waiting: u64 = 0;
        let mut tally = Tally {
            fetches: 0,
            waited: 0,
            calls: 0,
        };
        let signs = |signer: &Signer, now: Instant| {
            let id = signer.credentials().access_key_id();
            let set: usize = id["STS.".len()..].parse().unwrap();
            let expires = issued.lock().unwrap()[set];
            let left = expires
                .duration_since(wall0 + (now - base))
                .unwrap_or_default();
            assert!(left >= NEVER_SIGN_WITHIN, "signed with {left:?} left");
        };
        // One caller's steps at `now`: true when it signed, false when it waits.
        let mut step = |now: Instant, pending: &mut VecDeque<(Instant, Fetch)>| -> bool {
            let mut seen = None;
            match cache.step(now, wall0 + (now - base), &mut seen, || [7; 32]) {
                CredentialsStep::Sign(signer) => {
                    signs(&signer, now);
                    true
                }
                CredentialsStep::Fetch { fetch, meanwhile } => {
                    fetches += 1;
                    pending.push_back((now + LATENCY, fetch));
                    meanwhile.inspect(|s| signs(s, now)).is_some()
                }
                CredentialsStep::Wait => false,
                CredentialsStep::Failed(e) => panic!("{e}"),
            }
        };
        let interval = Duration::from_secs(1) / rate as u32;
        let mut now = base;
        while now < base + HOUR {
            while let Some((at, _)) = pending.front() {
                if *at > now {
                    break;
                }
                let (at, mut fetch) = pending.pop_front().unwrap();
                *wall.lock().unwrap() = wall0 + (at - base);
                assert!(matches!(fetch.next(at), Step::Done(())));
                for _ in 0..std::mem::take(&mut waiting) {
                    assert!(
                        step(at, &mut pending),
                        "a waiting call signs once the fetch ends"
                    );
                }
            }
            tally.calls += 1;
            if !step(now, &mut pending) {
                waiting += 1;
                tally.waited += 1;
            }
            now += interval;
        }
        tally.fetches = fetches;
        tally
    }

    #[test]
    fn one_fetch_per_credential_set_whatever_the_call_rate() {
        // One-hour credentials (AssumeRole's default): refreshed 15 minutes before expiry, so
        // the initial fetch and one refresh at 45 minutes; only the calls of the first fetch's
        // 50 ms wait.
        let hour = simulate(1_000, Duration::from_secs(3600));
        assert_eq!(
            hour,
            Tally {
                fetches: 2,
                waited: 50,
                calls: 3_600_000
            }
        );
        // 15-minute credentials (STS's minimum): refreshed half-way through their life, every
        // 7.5 minutes: 8 fetches in the hour.
        let quarter = simulate(1_000, Duration::from_secs(15 * 60));
        assert_eq!(quarter.fetches, 8);
        assert_eq!(quarter.waited, 50);
        // The count does not depend on the call rate.
        for rate in [1, 100] {
            assert_eq!(simulate(rate, Duration::from_secs(3600)).fetches, 2);
            assert_eq!(simulate(rate, Duration::from_secs(15 * 60)).fetches, 8);
        }
    }

    /// Credentials that arrive expired, or inside the never-sign window, are a failed fetch:
    /// over 20 s of 1,000 calls a second, the provider sees a handful of fetches (each one
    /// retried with backoff, then its failure served for 10 s), and no call signs.
    #[test]
    fn expired_on_arrival_is_a_failed_fetch_not_a_flood() {
        for lifetime in [Duration::ZERO, Duration::from_secs(60)] {
            let (cache, wall, issued) = sts_cache(lifetime);
            let (wall0, base) = (*wall.lock().unwrap(), Instant::now());
            let mut pending: Option<(Instant, Fetch)> = None;
            let (mut failed, mut waited) = (0u32, 0u32);
            let mut now = base;
            while now < base + Duration::from_secs(20) {
                if let Some((at, mut fetch)) = pending.take() {
                    if at <= now {
                        *wall.lock().unwrap() = wall0 + (at - base);
                        match fetch.next(at) {
                            Step::Done(()) => {}
                            Step::Wait(until) => pending = Some((until, fetch)),
                            other => panic!("{other:?}"),
                        }
                    } else {
                        pending = Some((at, fetch));
                    }
                }
                let mut seen = None;
                match cache.step(now, wall0 + (now - base), &mut seen, || [5; 32]) {
                    CredentialsStep::Sign(_) => panic!("signed with expired credentials"),
                    CredentialsStep::Fetch { fetch, meanwhile } => {
                        assert!(meanwhile.is_none());
                        pending = Some((now + LATENCY, fetch));
                    }
                    CredentialsStep::Wait => waited += 1,
                    CredentialsStep::Failed(e) => {
                        assert!(e.to_string().contains("check this machine's clock"), "{e}");
                        failed += 1;
                    }
                }
                now += Duration::from_millis(1);
            }
            let fetches = issued.lock().unwrap().len();
            assert!(
                (2..=9).contains(&fetches),
                "{lifetime:?}: {fetches} fetches"
            );
            assert!(failed > 15_000 && waited > 0, "{failed} {waited}");
        }
    }

    /// Moved here from the socket scenarios, where it relied on using short-lived credentials
    /// for half their life (they are now a failed fetch): a refresh ahead of time that fails
    /// while the cached credentials are usable costs no call, and is tried again only 10 s
    /// later.
    #[test]
    fn a_failed_refresh_keeps_usable_credentials() {
        struct FailsAfterFirst(Mutex<u32>);
        impl ProvideCredentials for FailsAfterFirst {
            fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError> {
                let mut n = self.0.lock().unwrap();
                *n += 1;
                if *n > 1 {
                    return Err("the service is unavailable".into());
                }
                let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + 1800);
                Ok((
                    Credentials::new("STS.a", "s")?.with_security_token("t")?,
                    Some(expires),
                ))
            }
        }
        let provider = Arc::new(FailsAfterFirst(Mutex::new(0)));
        struct Shared(Arc<FailsAfterFirst>);
        impl ProvideCredentials for Shared {
            fn provide(&self) -> Result<(Credentials, Option<SystemTime>), BoxError> {
                self.0.provide()
            }
        }
        let spec = CredentialsProvider::custom(Shared(provider.clone())).spec;
        let calls = |p: &FailsAfterFirst| *p.0.lock().unwrap();
        let cache = Arc::new(new_cache(spec));
        let base = Instant::now();
        let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s: u64| {
            (
                base + Duration::from_secs(s),
                wall0 + Duration::from_secs(s),
            )
        };
        let run = |fetch: &mut Fetch, now: Instant| {
            assert!(matches!(fetch.next(now), Step::Done(())));
        };
        let (now, wall) = at(0);
        let CredentialsStep::Fetch {
            mut fetch,
            meanwhile: None,
        } = cache.step(now, wall, &mut None, || [1; 32])
        else {
            panic!("the first call fetches")
        };
        run(&mut fetch, now);
        // 30 minutes of life: the refresh starts at 15 minutes, in the background.
        let (now, wall) = at(15 * 60);
        let CredentialsStep::Fetch {
            mut fetch,
            meanwhile: Some(signer),
        } = cache.step(now, wall, &mut None, || [1; 32])
        else {
            panic!("a refresh ahead of time, with the cached credentials meanwhile")
        };
        assert_eq!(signer.credentials().access_key_id(), "STS.a");
        run(&mut fetch, now);
        // The refresh failed: calls sign with the cached credentials, no refresh for 10 s.
        for s in [15 * 60, 15 * 60 + 9] {
            let (now, wall) = at(s);
            match cache.step(now, wall, &mut None, || [1; 32]) {
                CredentialsStep::Sign(s) => assert_eq!(s.credentials().access_key_id(), "STS.a"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(calls(&provider), 2);
        let (now, wall) = at(15 * 60 + 10);
        assert!(matches!(
            cache.step(now, wall, &mut None, || [1; 32]),
            CredentialsStep::Fetch {
                meanwhile: Some(_),
                ..
            }
        ));
    }
}
