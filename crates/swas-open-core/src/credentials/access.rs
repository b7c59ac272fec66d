//! A call's side of its client's credentials: before each attempt, sign with the cached
//! ones, have a fetch run, or wait for the one under way. [`CurrentSigner`] is the same step
//! alone, as an exchange.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::cache::{CredentialsCache, CredentialsStep};
use super::fetch::Fetch;
use crate::error::Error;
use crate::exchange::{local_wall, Exchange, Step};
use crate::rng::Rng;
use crate::sign::Signer;

/// What a call does before it signs an attempt.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Sign with [`Access::signer`].
    Sign,
    /// Have this fetch run apart, then ask again.
    Detach(Box<Fetch>),
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
    /// What to do before the next attempt at `now` (`wall`: the system clock then, read only
    /// when the credentials are not fixed); `rng`
    /// seeds a fetch that starts.
    pub(crate) fn step(
        &mut self,
        cache: &Arc<CredentialsCache>,
        now: Instant,
        wall: impl FnOnce() -> SystemTime,
        rng: &mut Rng,
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
        let seed = || rng.bytes();
        match cache.step(now, wall(), &mut self.seen, seed) {
            CredentialsStep::Sign(signer) => {
                self.signer = Some(signer);
                Ok(Gate::Sign)
            }
            CredentialsStep::Fetch { fetch, meanwhile } => {
                self.meanwhile = meanwhile;
                Ok(Gate::Detach(Box::new(fetch)))
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
    rng: Rng,
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
            rng: Rng::from_seed(seed),
            start: (now, wall),
        }
    }
}

impl Exchange for CurrentSigner<'_> {
    type Output = Result<Arc<Signer>, Error>;
    type Detached = Fetch;

    fn next(&mut self, now: Instant) -> Step<Self::Output, Self::Detached> {
        let wall = || local_wall(self.start, now);
        match self.access.step(self.cache, now, wall, &mut self.rng) {
            Ok(Gate::Sign) => Step::Done(self.access.signer.clone().ok_or_else(spent)),
            Ok(Gate::Detach(fetch)) => Step::Detach(fetch),
            Ok(Gate::Wait(until)) => Step::Wait(until),
            Err(error) => Step::Done(Err(error)),
        }
    }

    /// Never called: the exchange sends nothing itself.
    fn receive<B: AsRef<[u8]>>(&mut self, _: Instant, _: Result<http::Response<B>, Error>) {}
}

fn spent() -> Error {
    Error::config("the exchange is over")
}
