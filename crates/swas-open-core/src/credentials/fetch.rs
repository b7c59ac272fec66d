//! One refresh of a client's credentials, as an [`Exchange`]: the provider's machine run to
//! its end, tried again with backoff when the service gave no usable answer (or credentials
//! already expired), under the client's retry policy and budget; the result goes to the
//! client's cache.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::cache::{CredentialsCache, NEVER_SIGN_WITHIN};
use super::machine::{Ctx, Machine, Next};
use super::service::{Answer, Fetched, NoAnswer};
use super::CredentialsError;
use crate::error::Error;
use crate::exchange::{local_wall, Exchange, Step};
use crate::response::ErrorCode;
use crate::rng::Rng;
use crate::shared::MAX_CLOCK_SKEW;

/// How long credentials have left, judged by the clock of the service that issued them
/// when its answer had a plausible `Date` (so a wrong local clock does not make fresh
/// credentials look expired, nor expired ones fresh), else by `wall`. `None`: they never
/// expire.
pub(crate) fn lifetime(fetched: &Fetched, wall: SystemTime) -> Option<Duration> {
    let issued = fetched.date.filter(|d| plausible(d, wall)).unwrap_or(wall);
    let expiration = fetched.expiration?;
    Some(expiration.duration_since(issued).unwrap_or_default())
}

/// Whether a service's clock reading is close enough to `wall` to be believed.
fn plausible(date: &SystemTime, wall: SystemTime) -> bool {
    let skew = date.duration_since(wall).unwrap_or_else(|e| e.duration());
    skew <= MAX_CLOCK_SKEW
}

/// One refresh of a client's credentials, as an [`Exchange`]: the provider's requests (STS,
/// the metadata service, a credentials URI, or none), retried with backoff when the service
/// gave no usable answer, ending with the result stored in the client's cache. Dropped
/// before its end, it lets another caller start a new one.
pub struct Fetch {
    cache: Arc<CredentialsCache>,
    machine: Machine,
    rng: Rng,
    start: (Instant, SystemTime),
    attempts: u32,
    /// Whether the client's clock was corrected from a refused timestamp (once a fetch).
    skew_corrected: bool,
    /// Backing off until then before the next attempt.
    backoff: Option<Instant>,
    done: bool,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetch")
            .field("provider", &self.cache.spec)
            .field("attempts", &self.attempts)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Fetch {
    pub(crate) fn new(
        cache: Arc<CredentialsCache>,
        seed: [u8; 32],
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        Self {
            machine: cache.spec.machine(),
            cache,
            rng: Rng::from_seed(seed),
            start: (now, wall),
            attempts: 1,
            skew_corrected: false,
            backoff: None,
            done: false,
        }
    }

    /// The client's clock offset learnt from `error`, when STS refused the request's
    /// timestamp and its answer said (with a plausible `Date`) what its own clock read; once
    /// a fetch, as a call does.
    fn skew_offset(&mut self, error: &CredentialsError, wall: SystemTime) -> Option<i64> {
        let CredentialsError::Refused { refusal, .. } = error else {
            return None;
        };
        let expired = ErrorCode::InvalidTimeStampExpired.as_str();
        if self.skew_corrected || refusal.code.as_deref() != Some(expired) {
            return None;
        }
        let date = refusal.date.filter(|d| plausible(d, wall))?;
        let ahead = |a: SystemTime, b: SystemTime| match a.duration_since(b) {
            Ok(d) => i64::try_from(d.as_secs()).ok(),
            Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
        };
        self.skew_corrected = true;
        let sent = self.cache.shared.corrected(wall);
        Some(self.cache.shared.clock_offset() + ahead(date, sent)?)
    }

    /// Whether to try again after `error`, and when.
    fn retry_after(&mut self, error: &CredentialsError) -> Option<Duration> {
        if !error.is_transient() || self.attempts >= self.cache.retry.max_attempts.max(1) {
            return None;
        }
        let jitter = crate::retry::unit_interval(self.rng.next_u64());
        let after = self.cache.retry.backoff(self.attempts, jitter);
        self.cache.shared.try_spend_retry(false).then_some(after)
    }
}

/// Credentials with under [`NEVER_SIGN_WITHIN`] left are a failed fetch.
fn judged(
    result: Result<Fetched, CredentialsError>,
    wall: SystemTime,
) -> Result<Fetched, CredentialsError> {
    let fetched = result?;
    match lifetime(&fetched, wall) {
        Some(left) if left < NEVER_SIGN_WITHIN => Err(CredentialsError::ExpiredOnArrival {
            provider: fetched.source,
            left,
        }),
        _ => Ok(fetched),
    }
}

impl Exchange for Fetch {
    type Output = ();
    /// A fetch never asks for another: this names the one type a client's loop runs.
    type Detached = Fetch;

    fn next(&mut self, now: Instant) -> Step<Self::Output, Self::Detached> {
        if self.done {
            return Step::Done(());
        }
        if let Some(until) = self.backoff {
            if now < until {
                return Step::Wait(until);
            }
            self.backoff = None;
            self.attempts += 1;
            self.machine = self.cache.spec.machine();
        }
        let local = local_wall(self.start, now);
        // Requests are stamped, and expirations judged, by the client's corrected clock.
        let wall = self.cache.shared.corrected(local);
        let mut ctx = Ctx {
            wall,
            rng: &mut self.rng,
        };
        let result = match self.machine.next(&mut ctx) {
            Next::Send(outgoing) => return Step::Send(outgoing),
            Next::Done(result) => judged(result, wall),
        };
        if let Err(error) = &result {
            if let Some(offset) = self.skew_offset(error, local) {
                tracing::info!(
                    offset_s = offset,
                    "STS refused the timestamp: clock corrected"
                );
                self.cache.shared.set_clock_offset(offset);
                self.machine = self.cache.spec.machine();
                return self.next(now);
            }
            if let Some(after) = self.retry_after(error) {
                tracing::debug!(error = %error, attempt = self.attempts, "credentials fetch failed; retrying");
                let until = now.checked_add(after).unwrap_or(now);
                self.backoff = Some(until);
                return Step::Wait(until);
            }
        }
        self.done = true;
        self.cache.complete(now, wall, result);
        Step::Done(())
    }

    fn next_may_block(&self) -> bool {
        !self.done && self.backoff.is_none() && self.machine.may_block()
    }

    fn receive<B: AsRef<[u8]>>(
        &mut self,
        _now: Instant,
        outcome: Result<http::Response<B>, Error>,
    ) {
        let reply = match outcome {
            Ok(response) => Ok(Answer {
                status: response.status(),
                date: (response.headers().get(http::header::DATE))
                    .and_then(|d| httpdate::parse_http_date(d.to_str().ok()?).ok()),
                body: response.body().as_ref().to_vec(),
            }),
            Err(e) => Err(NoAnswer::new(e)),
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
