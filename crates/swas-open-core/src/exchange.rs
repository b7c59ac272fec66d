use std::time::{Instant, SystemTime};

use crate::error::Error;
use crate::transport::Outgoing;

/// What an exchange asks its driver to do next: one step of the driver's loop. `T` is what
/// the exchange ends with ([`Exchange::Output`]), `D` what it may hand its driver to run
/// apart ([`Exchange::Detached`]).
#[derive(Debug)]
#[must_use]
// A step lives for one turn of a loop and is moved once; boxing the request would add an
// allocation to every attempt for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Step<T, D> {
    /// Send this request, then hand the outcome to [`Exchange::receive`].
    Send(Outgoing),
    /// Nothing to do before this instant: sleep until then and ask again. A driver may ask
    /// again earlier: when the client's credentials change (see
    /// [`Config::on_credentials_change`](crate::Config::on_credentials_change)), a call
    /// waiting for them is woken that way.
    Wait(Instant),
    /// Run this exchange (a credentials [`Fetch`](crate::Fetch)) to its end, apart from the
    /// exchange that asked for it (on a thread or a task of its own: the fetch outlives a call
    /// that is dropped while it waits), then ask the exchange again at once. A call asks for
    /// one when it needs new credentials, and then waits for them, or when its credentials
    /// are due for a refresh ahead of time, and then goes on with them.
    /// (Boxed: a fetch is rare, and a step is moved at every turn.)
    Detach(Box<D>),
    /// The exchange is over.
    Done(T),
}

/// The shape every sans-IO exchange in this crate has: a DeleteCustomImage call, and each
/// credential provider's fetch.
///
/// An exchange owns its time rules and its randomness (it is built with a seed); a driver
/// owns the sockets and the clock. The driver asks [`Exchange::next`] what to do at `now`
/// and does it: send a request (and hand the answer, or the failure, to
/// [`Exchange::receive`]), wait until an instant, or return the result. A driver is a few
/// lines and the same for every exchange, which is how both clients run DeleteCustomImage
/// and the credential fetches through one code path:
///
/// ```
/// use std::time::Instant;
/// use swas_open::sans_io::{http, Exchange, Fetch, Outgoing, Step};
/// use swas_open::Error;
///
/// fn drive<X: Exchange<Detached = Fetch>>(
///     mut exchange: X,
///     send: &impl Fn(Outgoing) -> Result<http::Response<Vec<u8>>, Error>,
/// ) -> X::Output {
///     loop {
///         match exchange.next(Instant::now()) {
///             Step::Send(outgoing) => {
///                 let answer = send(outgoing);
///                 exchange.receive(Instant::now(), answer);
///             }
///             Step::Wait(until) => std::thread::sleep(until - Instant::now()),
///             // A blocking driver with nothing else to run may run a fetch in place.
///             Step::Detach(fetch) => drive(*fetch, &send),
///             Step::Done(output) => return output,
///         }
///     }
/// }
/// ```
/// (A real driver sleeps with `until.saturating_duration_since(now)`.)
///
/// A sans-IO exchange of requests and answers: a [`Call`](crate::Call), and each credentials
/// [`Fetch`](crate::Fetch).
pub trait Exchange {
    /// What the exchange ends with.
    type Output;

    /// What it may hand its driver to run apart ([`Step::Detach`]): a credentials
    /// [`Fetch`](crate::Fetch) for every exchange of this crate (a fetch itself never asks).
    type Detached;

    /// What to do at `now`. After [`Step::Done`] the exchange is spent: asking again
    /// returns an error output rather than panicking.
    fn next(&mut self, now: Instant) -> Step<Self::Output, Self::Detached>;

    /// Whether the coming [`next`](Self::next) may block its thread a while: it reads a local
    /// file (a config file, an OIDC token) or calls a provider of your own. An async driver
    /// runs such a step where it holds up no other task (tokio's `block_in_place`). A call
    /// never blocks; a credentials fetch may, at its start.
    fn next_may_block(&self) -> bool {
        false
    }

    /// The outcome of the last [`Step::Send`], at `now`: the answer (any status), or the
    /// failure to get one ([`Error::transport`] or [`Error::timeout`]).
    fn receive<B: AsRef<[u8]>>(&mut self, now: Instant, outcome: Result<http::Response<B>, Error>);
}

/// What an exchange starts from that the core never reads itself: 32 random bytes (the seed
/// of its nonces, retry jitter and generated tokens) and the monotonic and system clocks read
/// at the same moment. A transport takes one for each call.
///
/// ```
/// use std::time::{Instant, SystemTime};
/// use swas_open::sans_io::Readings;
///
/// let seed = [7; 32]; // from a random source, e.g. `rand::random()`
/// let readings = Readings::new(seed, Instant::now(), SystemTime::now());
/// # drop(readings);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Readings {
    pub(crate) seed: [u8; 32],
    pub(crate) now: Instant,
    pub(crate) wall: SystemTime,
}

impl Readings {
    /// 32 random bytes, and the monotonic clock and the system clock at one moment.
    pub fn new(seed: [u8; 32], now: Instant, wall: SystemTime) -> Self {
        Self { seed, now, wall }
    }
}

/// This machine's system clock at `now`, derived from a monotonic and a system reading taken
/// at one moment (`start`): an exchange reads no clock.
pub(crate) fn local_wall(start: (Instant, SystemTime), now: Instant) -> SystemTime {
    start.1 + now.saturating_duration_since(start.0)
}
