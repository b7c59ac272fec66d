//! One contract for every provider's fetch: a configured provider ([`ProviderSpec`]) makes a
//! [`Machine`] per fetch, which asks for requests ([`Next::Send`]), takes their replies, and
//! ends with credentials or a [`CredentialsError`]. Each provider's own stages live in its
//! module.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::chain::{ChainFetch, ChainSpec};
use super::imds::{EcsSpec, ImdsFetch};
use super::service::{Fetched, Reply};
use super::sts::{OidcSpec, RoleSpec, StsFetch};
use super::uri::UriFetch;
use super::{Credentials, CredentialsError, ProvideCredentials};
use crate::rng::Rng;
use crate::transport::Outgoing;

/// The label of a provider of your own ([`ProvideCredentials`]).
const CUSTOM: &str = "custom provider";

/// A provider, configured.
#[derive(Clone)]
pub(crate) enum ProviderSpec {
    /// Credentials known in advance, with where they came from.
    Fixed(Credentials, String),
    Custom(Arc<dyn ProvideCredentials>),
    Role(Arc<RoleSpec>),
    Oidc(Arc<OidcSpec>),
    Ecs(Arc<EcsSpec>),
    Uri(Arc<str>),
    Chain(Arc<ChainSpec>),
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl ProviderSpec {
    /// What the provider is, for messages (never a secret).
    pub(crate) fn label(&self) -> String {
        match self {
            ProviderSpec::Fixed(_, label) => label.clone(),
            ProviderSpec::Custom(_) => CUSTOM.into(),
            ProviderSpec::Role(r) => r.label(),
            ProviderSpec::Oidc(o) => o.label(),
            ProviderSpec::Ecs(e) => e.label.clone(),
            ProviderSpec::Uri(_) => super::uri::LABEL.into(),
            ProviderSpec::Chain(c) => c.label(),
        }
    }

    /// A fetch of this provider's credentials.
    pub(crate) fn machine(&self) -> Machine {
        match self {
            ProviderSpec::Fixed(c, label) => Machine::Ready(Some(Ok(Fetched {
                credentials: c.clone(),
                expiration: None,
                date: None,
                source: label.clone(),
            }))),
            ProviderSpec::Custom(p) => Machine::Custom(Some(p.clone())),
            ProviderSpec::Role(spec) => Machine::Sts(StsFetch::role(spec)),
            ProviderSpec::Oidc(spec) => Machine::Sts(StsFetch::oidc(spec)),
            ProviderSpec::Ecs(spec) => Machine::Imds(ImdsFetch::new(spec)),
            ProviderSpec::Uri(uri) => Machine::Uri(UriFetch::new(uri)),
            ProviderSpec::Chain(spec) => match spec.pinned() {
                Some(kind) => kind.machine(),
                None => Machine::Chain(Box::new(ChainFetch::new(spec))),
            },
        }
    }
}

/// What a machine asks for.
pub(crate) enum Next {
    Send(Outgoing),
    Done(Result<Fetched, CredentialsError>),
}

/// What a machine needs to make a request: the time and randomness.
pub(crate) struct Ctx<'a> {
    pub(crate) wall: SystemTime,
    pub(crate) rng: &'a mut Rng,
}

/// One fetch of a provider.
pub(crate) enum Machine {
    Ready(Option<Result<Fetched, CredentialsError>>),
    /// A user's provider, called when the fetch runs (never under a lock).
    Custom(Option<Arc<dyn ProvideCredentials>>),
    Sts(StsFetch),
    Imds(ImdsFetch),
    Uri(UriFetch),
    Chain(Box<ChainFetch>),
}

/// The error of a fetch asked to go on after its end.
pub(crate) fn spent() -> CredentialsError {
    CredentialsError::provider("credentials", "the fetch is already over")
}

impl Machine {
    pub(crate) fn next(&mut self, ctx: &mut Ctx<'_>) -> Next {
        match self {
            Machine::Ready(result) => Next::Done(result.take().unwrap_or_else(|| Err(spent()))),
            Machine::Custom(provider) => Next::Done(match provider.take() {
                Some(p) => p
                    .provide()
                    .map(|(credentials, expiration)| Fetched {
                        credentials,
                        expiration,
                        date: None,
                        source: CUSTOM.into(),
                    })
                    .map_err(|e| CredentialsError::provider(CUSTOM, e.to_string())),
                None => Err(spent()),
            }),
            Machine::Sts(m) => m.next(ctx),
            Machine::Imds(m) => m.next(),
            Machine::Uri(m) => m.next(),
            Machine::Chain(m) => m.next(ctx),
        }
    }

    /// Whether the coming step may block: it reads a file or calls a user's provider.
    pub(crate) fn may_block(&self) -> bool {
        match self {
            Machine::Custom(p) => p.is_some(),
            Machine::Sts(m) => m.may_block(),
            Machine::Chain(m) => m.may_block(),
            Machine::Ready(_) | Machine::Imds(_) | Machine::Uri(_) => false,
        }
    }

    pub(crate) fn receive(&mut self, reply: Reply) {
        match self {
            Machine::Ready(_) | Machine::Custom(_) => {}
            Machine::Sts(m) => m.receive(reply),
            Machine::Imds(m) => m.receive(reply),
            Machine::Uri(m) => m.receive(reply),
            Machine::Chain(m) => m.receive(reply),
        }
    }
}

/// Runs `kind` to its end at `wall` against canned answers, for tests; at most `limit`
/// requests.
#[cfg(test)]
pub(crate) fn run_with(
    kind: &ProviderSpec,
    wall: SystemTime,
    mut answer: impl FnMut(&Outgoing) -> Reply,
) -> (Result<Fetched, CredentialsError>, Vec<Outgoing>) {
    let mut rng = Rng::from_seed([3; 32]);
    let mut machine = kind.machine();
    let mut sent = Vec::new();
    loop {
        let mut ctx = Ctx {
            wall,
            rng: &mut rng,
        };
        match machine.next(&mut ctx) {
            Next::Send(o) => {
                let r = answer(&o);
                sent.push(o);
                machine.receive(r);
            }
            Next::Done(r) => return (r, sent),
        }
    }
}
