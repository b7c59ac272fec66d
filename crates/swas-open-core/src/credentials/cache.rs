//! Cached credentials and when to refresh them: pure timing rules, and the one refresh that
//! concurrent callers share.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::chain::CredentialsError;
use super::fetch::{Ctx, Fetched, Kind, Machine, Next};
use crate::error::Error;
use crate::exchange::{Action, Exchange};
use crate::sign::{SignatureVersion, Signer};

/// A call never signs with credentials this close to their expiration.
const MIN_LEFT: Duration = Duration::from_secs(3 * 60);
/// A refresh starts this long before expiration (or half-way through a shorter lifetime).
const AHEAD: Duration = Duration::from_secs(15 * 60);
/// After a failed refresh, while the cached credentials are still usable, the next try waits
/// this long.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Whether credentials expiring at `expires` may sign at `now`.
fn usable(now: Instant, expires: Instant, min_left: Duration) -> bool {
    expires.checked_duration_since(now).unwrap_or_default() >= min_left && expires > now
}

/// When to start refreshing credentials fetched at `fetched` that expire at `expires`: 15
/// minutes before expiry, or half-way through a lifetime under 30 minutes, and in any case
/// before they stop being usable.
fn refresh_at(fetched: Instant, expires: Instant) -> Instant {
    let lifetime = expires.saturating_duration_since(fetched);
    let ahead = expires.checked_sub(AHEAD).unwrap_or(fetched);
    let half = fetched + lifetime / 2;
    let latest = expires
        .checked_sub(MIN_LEFT)
        .unwrap_or(fetched)
        .max(fetched);
    ahead.max(half).min(latest)
}

/// What a caller does with the cache as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
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
/// (`None`: they never expire), when to refresh them, and how much life they must have left.
fn decide(
    now: Instant,
    cached: Option<(Option<Instant>, Instant, Duration)>,
    in_flight: bool,
    retry_at: Option<Instant>,
) -> Decision {
    match cached {
        Some((None, _, _)) => Decision::Use,
        Some((Some(expires), refresh, min_left)) if usable(now, expires, min_left) => {
            if now >= refresh && !in_flight && retry_at.is_none_or(|r| now >= r) {
                Decision::UseAndRefresh
            } else {
                Decision::Use
            }
        }
        _ if in_flight => Decision::Wait,
        _ => Decision::Refresh,
    }
}

/// What the cache tells a caller who wants a signer.
// A step lives for one call of `Access::step` and is moved once; the fetch is not boxed
// because it is taken only when a refresh starts.
#[allow(clippy::large_enum_variant)]
enum CredentialsStep {
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

/// What a call does before it signs an attempt.
#[derive(Debug)]
// Moved once, straight into an `Action`; a fetch is rare beside the signs.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Gate {
    /// Sign with [`Access::signer`].
    Sign,
    /// Have this fetch run apart, then ask again.
    Detach(Fetch),
    /// Wait for the refresh under way to end (the client is woken then), at the latest
    /// until this instant.
    Wait(Instant),
}

/// The longest a call waits for a refresh without being woken: a bound in case a driver
/// loses a fetch without dropping it, not a poll (a refresh that ends wakes its waiters).
const WAIT_BOUND: Duration = Duration::from_secs(60);

/// One call's side of its client's credentials: the refresh it waited for, and the signer
/// of its last attempt. Each attempt asks again, so a retry after the credentials were
/// refreshed (or dropped) signs with the new ones, under the same `ClientToken`.
#[derive(Debug, Default)]
pub(crate) struct Access {
    /// The cache's generation when this call started or joined a refresh.
    seen: Option<u64>,
    /// Credentials still usable while a refresh ahead of time runs.
    meanwhile: Option<Arc<Signer>>,
    signer: Option<Arc<Signer>>,
}

impl Access {
    /// What to do before the next attempt at `now` (`wall`: the system clock then); `rng`
    /// seeds a fetch that starts.
    pub(crate) fn step(
        &mut self,
        cache: &Arc<CredentialsCache>,
        now: Instant,
        wall: SystemTime,
        rng: &mut ChaCha8Rng,
    ) -> Result<Gate, Error> {
        if let Some(fixed) = &cache.fixed {
            if self.signer.is_none() {
                self.signer = Some(fixed.clone());
            }
            return Ok(Gate::Sign);
        }
        if let Some(signer) = self.meanwhile.take() {
            self.signer = Some(signer);
            return Ok(Gate::Sign);
        }
        let seed = || {
            let mut seed = [0; 32];
            rng.fill_bytes(&mut seed);
            seed
        };
        match cache.step(now, wall, &mut self.seen, seed) {
            CredentialsStep::Sign(signer) => {
                self.signer = Some(signer);
                Ok(Gate::Sign)
            }
            CredentialsStep::Fetch { fetch, meanwhile } => {
                self.meanwhile = meanwhile;
                Ok(Gate::Detach(fetch))
            }
            CredentialsStep::Wait => Ok(Gate::Wait(now + WAIT_BOUND)),
            CredentialsStep::Failed(error) => Err(error),
        }
    }

    /// The signer the last [`Gate::Sign`] was for.
    pub(crate) fn signer(&self) -> &Signer {
        self.signer
            .as_deref()
            .expect("a call signs only after Gate::Sign")
    }
}

/// The signer of a client's current credentials, as an [`Exchange`]: what a call does before
/// each attempt, alone (for a dry run that signs without sending, or to fetch credentials
/// ahead of the first call). Built by [`Config::current_signer`](crate::Config::current_signer).
#[derive(Debug)]
pub struct CurrentSigner<'a> {
    cache: &'a Arc<CredentialsCache>,
    access: Access,
    rng: ChaCha8Rng,
    start: (Instant, SystemTime),
}

impl<'a> CurrentSigner<'a> {
    pub(crate) fn new(
        cache: &'a Arc<CredentialsCache>,
        seed: [u8; 32],
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        Self {
            cache,
            access: Access::default(),
            rng: ChaCha8Rng::from_seed(seed),
            start: (now, wall),
        }
    }
}

impl Exchange for CurrentSigner<'_> {
    type Output = Result<Arc<Signer>, Error>;

    fn next(&mut self, now: Instant) -> Action<Self::Output> {
        let wall = self.start.1 + now.saturating_duration_since(self.start.0);
        match self.access.step(self.cache, now, wall, &mut self.rng) {
            Ok(Gate::Sign) => Action::Done(self.access.signer.clone().ok_or_else(spent)),
            Ok(Gate::Detach(fetch)) => Action::Detach(fetch),
            Ok(Gate::Wait(until)) => Action::Wait(until),
            Err(error) => Action::Done(Err(error)),
        }
    }

    /// Never called: the exchange sends nothing itself.
    fn receive<B: AsRef<[u8]>>(&mut self, _: Instant, _: Result<http::Response<B>, Error>) {}
}

fn spent() -> Error {
    Error::config("the exchange is over")
}

struct Entry {
    signer: Arc<Signer>,
    expires: Option<Instant>,
    refresh_at: Instant,
    min_left: Duration,
    source: String,
}

#[derive(Default)]
struct State {
    entry: Option<Entry>,
    in_flight: bool,
    /// How many fetches have ended.
    generation: u64,
    /// The last fetch's error, with the generation it ended.
    failure: Option<(u64, CredentialsError)>,
    retry_at: Option<Instant>,
    /// Fetches in a row that gave credentials already too close to expiry.
    short_streak: u32,
}

/// One client's credentials: its provider, the signer options, and what is cached.
pub(crate) struct CredentialsCache {
    kind: Kind,
    version: SignatureVersion,
    suffix: Option<String>,
    /// The signer of credentials that never change: no lock, no clock.
    fixed: Option<Arc<Signer>>,
    state: Mutex<State>,
    /// Called when a fetch ends or is abandoned: the client wakes the calls waiting.
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsCache")
            .field("provider", &self.kind)
            .field("source", &self.source())
            .finish_non_exhaustive()
    }
}

impl CredentialsCache {
    /// Fails on a user-agent suffix that is not a valid header value, whatever the provider:
    /// checked on the fixed credentials, or on throwaway ones when they are fetched later.
    pub(crate) fn new(
        kind: Kind,
        version: SignatureVersion,
        suffix: Option<String>,
    ) -> Result<Self, Error> {
        let mut cache = Self {
            kind,
            version,
            suffix,
            fixed: None,
            state: Mutex::new(State::default()),
            waker: OnceLock::new(),
        };
        match &cache.kind {
            Kind::Fixed(credentials, _) => {
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

    pub(crate) fn fixed(&self) -> Option<&Signer> {
        self.fixed.as_deref()
    }

    /// Sets what to call when a fetch ends (the first waker set stays).
    pub(crate) fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(waker);
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.get() {
            waker();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the credentials in use came from, once obtained.
    fn source(&self) -> Option<String> {
        match &self.kind {
            Kind::Fixed(_, label) => Some(label.clone()),
            _ => self.lock().entry.as_ref().map(|e| e.source.clone()),
        }
    }

    fn step(
        self: &Arc<Self>,
        now: Instant,
        wall: SystemTime,
        seen: &mut Option<u64>,
        seed: impl FnOnce() -> [u8; 32],
    ) -> CredentialsStep {
        let mut state = self.lock();
        let cached = state
            .entry
            .as_ref()
            .map(|e| (e.expires, e.refresh_at, e.min_left));
        let decision = decide(now, cached, state.in_flight, state.retry_at);
        if matches!(decision, Decision::Refresh | Decision::Wait) {
            if let (Some(waited), Some((ended, error))) = (*seen, &state.failure) {
                if *ended > waited {
                    return CredentialsStep::Failed(error.clone().into());
                }
            }
        }
        let signer = || state.entry.as_ref().map(|e| e.signer.clone());
        match decision {
            Decision::Use => CredentialsStep::Sign(signer().expect("Use implies an entry")),
            Decision::Wait => {
                *seen = Some(state.generation);
                CredentialsStep::Wait
            }
            Decision::Refresh | Decision::UseAndRefresh => {
                let meanwhile = match decision {
                    Decision::UseAndRefresh => signer(),
                    _ => None,
                };
                state.in_flight = true;
                *seen = Some(state.generation);
                drop(state);
                CredentialsStep::Fetch {
                    fetch: Fetch {
                        cache: self.clone(),
                        machine: self.kind.machine(),
                        rng: ChaCha8Rng::from_seed(seed()),
                        start: (now, wall),
                        done: false,
                    },
                    meanwhile,
                }
            }
        }
    }

    fn complete(&self, now: Instant, wall: SystemTime, result: Result<Fetched, CredentialsError>) {
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
                let expires = fetched
                    .expiration
                    .map(|e| now + e.duration_since(wall).unwrap_or_default());
                let lifetime = expires.map(|e| e.saturating_duration_since(now));
                let mut min_left = MIN_LEFT;
                if lifetime.is_some_and(|l| l < MIN_LEFT) {
                    state.short_streak += 1;
                    if state.short_streak >= 2 {
                        // The provider only ever issues short-lived credentials: use them for
                        // half their life rather than fetch on every call.
                        min_left = lifetime.unwrap_or_default() / 2;
                    }
                } else {
                    state.short_streak = 0;
                }
                tracing::info!(
                    provider = %fetched.source,
                    expires_in_s = lifetime.map(|l| l.as_secs()),
                    "credentials obtained"
                );
                state.entry = Some(Entry {
                    signer: Arc::new(signer),
                    refresh_at: expires.map_or(now, |e| refresh_at(now, e)),
                    expires,
                    min_left,
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

    fn abandon(&self) {
        let mut state = self.lock();
        state.in_flight = false;
        state.generation += 1;
        drop(state);
        self.wake();
    }
}

/// One refresh of a client's credentials, as an [`Exchange`]: the provider's requests (STS,
/// the metadata service, a credentials URI, or none), ending with the result stored in the
/// client's cache. Dropped before its end, it lets another caller start a new one.
pub struct Fetch {
    cache: Arc<CredentialsCache>,
    machine: Machine,
    rng: ChaCha8Rng,
    start: (Instant, SystemTime),
    done: bool,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetch")
            .field("provider", &self.cache.kind)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Exchange for Fetch {
    type Output = ();

    fn next(&mut self, now: Instant) -> Action<()> {
        if self.done {
            return Action::Done(());
        }
        let wall = self.start.1 + now.saturating_duration_since(self.start.0);
        let mut ctx = Ctx {
            wall,
            rng: &mut self.rng,
        };
        match self.machine.next(&mut ctx) {
            Next::Send(outgoing) => Action::Send(outgoing),
            Next::Done(result) => {
                self.done = true;
                self.cache.complete(now, wall, result);
                Action::Done(())
            }
        }
    }

    fn receive<B: AsRef<[u8]>>(
        &mut self,
        _now: Instant,
        outcome: Result<http::Response<B>, Error>,
    ) {
        let reply = match outcome {
            Ok(response) => Ok((response.status(), response.body().as_ref().to_vec())),
            Err(e) => Err(describe(&e)),
        };
        self.machine.receive(reply);
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if !self.done {
            self.cache.abandon();
        }
    }
}

/// An error and its sources on one line.
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
            if lifetime >= MIN_LEFT.as_secs() {
                prop_assert!(r + MIN_LEFT <= expires);
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
            let d = decide(now, Some((Some(expires), refresh, MIN_LEFT)), in_flight, None);
            let signs = matches!(d, Decision::Use | Decision::UseAndRefresh);
            prop_assert_eq!(signs, left >= MIN_LEFT.as_secs());
            if !signs {
                prop_assert_eq!(d, if in_flight { Decision::Wait } else { Decision::Refresh });
            }
            // Only one refresh at a time.
            if in_flight {
                prop_assert!(d != Decision::UseAndRefresh && d != Decision::Refresh);
            }
        }

        #[test]
        fn a_failed_refresh_keeps_usable_credentials(left in 180u64..100_000, since_failure in 0u64..20) {
            let now = Instant::now();
            let retry_at = (now + RETRY_AFTER_FAILURE).checked_sub(Duration::from_secs(since_failure));
            let d = decide(now, Some((Some(at(now, left)), now, MIN_LEFT)), false, retry_at);
            let retry_due = since_failure >= RETRY_AFTER_FAILURE.as_secs();
            prop_assert_eq!(d, if retry_due { Decision::UseAndRefresh } else { Decision::Use });
        }
    }

    #[test]
    fn no_cache_and_static_credentials() {
        let now = Instant::now();
        assert_eq!(decide(now, None, false, None), Decision::Refresh);
        assert_eq!(decide(now, None, true, None), Decision::Wait);
        assert_eq!(
            decide(now, Some((None, now, MIN_LEFT)), false, None),
            Decision::Use
        );
    }
}

/// The round trips a busy client pays for credentials, counted over a simulated hour from the
/// cache's own rules: the clock is simulated, so the counts are exact and do not depend on
/// the machine.
#[cfg(test)]
mod busy_client {
    use super::*;
    use crate::credentials::{Credentials, CredentialsProvider, ProvideCredentials};
    use crate::BoxError;
    use std::collections::VecDeque;

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
    /// at least `MIN_LEFT` to go.
    fn simulate(rate: u64, lifetime: Duration) -> Tally {
        let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let base = Instant::now();
        let wall = Arc::new(Mutex::new(wall0));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let provider = CredentialsProvider::custom(Sts {
            wall: wall.clone(),
            lifetime,
            issued: issued.clone(),
        });
        let cache =
            Arc::new(CredentialsCache::new(provider.kind, SignatureVersion::V1, None).unwrap());
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
            assert!(left >= MIN_LEFT, "signed with {left:?} left");
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
                assert!(matches!(fetch.next(at), Action::Done(())));
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
}
