//! Faults on demand: what the next requests meet instead of (or on top of) normal handling.

use std::collections::VecDeque;
use std::time::Duration;

use swas_open_core::ErrorCode;

/// The services one emulator plays, on one port. Faults are queued per service, and the
/// counters in [`Stats`](crate::Stats) are kept per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Service {
    /// Simple Application Server: `DeleteCustomImage` (and every request no other service
    /// claims).
    Swas,
    /// STS: `AssumeRole` and `AssumeRoleWithOIDC` with `Version=2015-04-01`.
    Sts,
    /// The ECS instance metadata service: everything under `/latest/`.
    Imds,
    /// The credentials URI route (see
    /// [`EmulatorBuilder::credentials_uri`](crate::EmulatorBuilder::credentials_uri)).
    CredentialsUri,
}

impl Service {
    pub(crate) fn index(self) -> usize {
        match self {
            Service::Swas => 0,
            Service::Sts => 1,
            Service::Imds => 2,
            Service::CredentialsUri => 3,
        }
    }
}

/// A fault to inject into the next request(s), built with the constructors below and queued
/// with [`Emulator::inject`](crate::Emulator::inject).
///
/// A fault targets one [`Service`] (SWAS unless [`Fault::on`] says otherwise) and waits in that
/// service's queue. Each request takes at most one fault from the front of its service's
/// queue (admin routes take none). [`Fault::error`], [`Fault::throttling`], [`Fault::html`]
/// and [`Fault::delay`] act before authentication; [`Fault::drop_after_commit`] and
/// [`Fault::truncated`] let the request be handled in full first; [`Fault::expires_in`]
/// waits at the front of its queue (holding back the faults behind it) for the next request
/// that issues credentials.
///
/// ```
/// use std::time::Duration;
/// use swas_open::ErrorCode;
/// use swas_open::emulator::{Fault, FaultKind, Service};
/// let f = Fault::error(503, ErrorCode::ServiceUnavailable).times(2);
/// assert_eq!(f.remaining(), 2);
/// assert!(matches!(f.kind(), FaultKind::Error { status: 503, .. }));
/// let _ = Fault::delay(Duration::from_millis(50)).on(Service::Imds);
/// let f = Fault::error(500, ErrorCode::from("Sts.Custom")).on(Service::Sts);
/// assert_eq!(f.service(), Service::Sts);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    kind: FaultKind,
    times: usize,
    service: Service,
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer this status and code with the service's error body (SWAS and STS: the JSON
    /// error body; IMDS: the code as plain text; credentials URI: `{"Code","Message"}`). A
    /// status outside 200..=599 is answered as 500.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error code, e.g. [`ErrorCode::ServiceUnavailable`].
        code: ErrorCode,
    },
    /// Answer 400 `Throttling` with the header `x-acs-retry-after: <ms>` (IMDS and the
    /// credentials URI: 429).
    Throttling {
        /// The retry hint, in milliseconds.
        retry_after_ms: u64,
    },
    /// Sleep, then handle the request normally.
    Delay(Duration),
    /// Handle the request (a delete happens, credentials are issued), then close the
    /// connection without answering.
    DropAfterCommit,
    /// Answer an HTML page with this status, as a proxy would. A status outside 200..=599 is
    /// answered as 502.
    Html {
        /// The HTTP status.
        status: u16,
    },
    /// Handle the request, then answer 200 with the first half of the body only.
    Truncated,
    /// The credentials issued by the next request that issues any (an STS success, an IMDS
    /// credentials read, a credentials URI read) expire this long after issue (rounded up to
    /// whole seconds; zero issues credentials that are already expired).
    ExpiresIn(Duration),
}

impl Fault {
    fn once(kind: FaultKind) -> Self {
        Self {
            kind,
            times: 1,
            service: Service::Swas,
        }
    }

    /// Answer `status` and `code` with the service's error body. A code the core does not
    /// know is passed as `ErrorCode::from("Some.Code")`.
    pub fn error(status: u16, code: impl Into<ErrorCode>) -> Fault {
        Self::once(FaultKind::Error {
            status,
            code: code.into(),
        })
    }

    /// Answer 400 `Throttling` with `x-acs-retry-after: <retry_after_ms>`.
    pub fn throttling(retry_after_ms: u64) -> Fault {
        Self::once(FaultKind::Throttling { retry_after_ms })
    }

    /// Sleep `d` before handling the request normally.
    pub fn delay(d: Duration) -> Fault {
        Self::once(FaultKind::Delay(d))
    }

    /// Perform the request (the delete happens), then close the connection without answering.
    pub fn drop_after_commit() -> Fault {
        Self::once(FaultKind::DropAfterCommit)
    }

    /// Answer an HTML page with `status`, like a proxy in between.
    pub fn html(status: u16) -> Fault {
        Self::once(FaultKind::Html { status })
    }

    /// Perform the request, then answer 200 with a truncated body (e.g. `{"RequestId":"AB`).
    pub fn truncated() -> Fault {
        Self::once(FaultKind::Truncated)
    }

    /// The next credentials issued expire `d` after issue. Targets STS unless [`Fault::on`]
    /// says otherwise (a SWAS request never issues credentials, so on SWAS it never applies).
    pub fn expires_in(d: Duration) -> Fault {
        Self::once(FaultKind::ExpiresIn(d)).on(Service::Sts)
    }

    /// Applies to the next `n` requests instead of one (`0` makes the fault a no-op).
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    /// Targets `service`'s requests instead of SWAS's.
    pub fn on(mut self, service: Service) -> Fault {
        self.service = service;
        self
    }

    /// What the fault does.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    /// How many more requests it applies to.
    pub fn remaining(&self) -> usize {
        self.times
    }

    /// The service whose requests it applies to.
    pub fn service(&self) -> Service {
        self.service
    }
}

/// The most faults queued at once, over every service.
pub(crate) const MAX_QUEUED: usize = 10_000;
/// The most bytes queued faults may take at once (a fixed cost each, plus their codes).
pub(crate) const MAX_QUEUED_BYTES: usize = 1 << 20;

/// What one queued fault costs, roughly.
fn cost(fault: &Fault) -> usize {
    let code = match &fault.kind {
        FaultKind::Error { code, .. } => code.as_str().len(),
        _ => 0,
    };
    64 + code
}

/// The queue is full: in entries ([`MAX_QUEUED`]) or bytes ([`MAX_QUEUED_BYTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the fault queue is full ({MAX_QUEUED} faults or {MAX_QUEUED_BYTES} bytes); \
     let requests take some or clear it first"
)]
pub(crate) struct QueueFull;

/// The queues of pending faults, one per service, bounded in entries and bytes.
#[derive(Debug, Default)]
pub(crate) struct FaultQueues {
    queues: [VecDeque<Fault>; 4],
    bytes: usize,
}

impl FaultQueues {
    /// Queues every fault of `faults`, or none of them when they would not all fit.
    pub(crate) fn push_all(&mut self, faults: Vec<Fault>) -> Result<(), QueueFull> {
        let faults: Vec<Fault> = faults.into_iter().filter(|f| f.times > 0).collect();
        let entries = self.queues.iter().map(VecDeque::len).sum::<usize>() + faults.len();
        let bytes = faults
            .iter()
            .map(cost)
            .fold(self.bytes, usize::saturating_add);
        if entries > MAX_QUEUED || bytes > MAX_QUEUED_BYTES {
            return Err(QueueFull);
        }
        self.bytes = bytes;
        for fault in faults {
            self.queues[fault.service.index()].push_back(fault);
        }
        Ok(())
    }

    /// Queues `fault`, unless the queue is full.
    #[cfg(test)]
    pub(crate) fn push(&mut self, fault: Fault) -> Result<(), QueueFull> {
        self.push_all(vec![fault])
    }

    /// The fault for a request of `service` arriving now, if any: an `expires_in` fault at the
    /// front waits for [`FaultQueues::take_expiry`] instead.
    pub(crate) fn take(&mut self, service: Service) -> Option<FaultKind> {
        self.take_if(service, |k| !matches!(k, FaultKind::ExpiresIn(_)))
    }

    /// The lifetime an `expires_in` fault at the front of `service`'s queue sets for the
    /// credentials being issued now, if there is one.
    pub(crate) fn take_expiry(&mut self, service: Service) -> Option<Duration> {
        match self.take_if(service, |k| matches!(k, FaultKind::ExpiresIn(_)))? {
            FaultKind::ExpiresIn(d) => Some(d),
            _ => None,
        }
    }

    fn take_if(
        &mut self,
        service: Service,
        wanted: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let queue = &mut self.queues[service.index()];
        let front = queue.front_mut()?;
        if !wanted(&front.kind) {
            return None;
        }
        front.times = front.times.saturating_sub(1);
        if front.times == 0 {
            let fault = queue.pop_front()?;
            self.bytes = self.bytes.saturating_sub(cost(&fault));
            Some(fault.kind)
        } else {
            Some(front.kind.clone())
        }
    }

    /// Requests still to be affected, counting repeats, over every service (at most
    /// `usize::MAX`: `times` may be anything).
    pub(crate) fn pending(&self) -> usize {
        self.queues
            .iter()
            .flatten()
            .map(|f| f.times)
            .fold(0, usize::saturating_add)
    }

    /// Drops every pending fault; returns how many requests they would have affected.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.pending();
        self.queues.iter_mut().for_each(VecDeque::clear);
        self.bytes = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_with_counts() {
        let mut q = FaultQueues::default();
        q.push(Fault::error(503, ErrorCode::ServiceUnavailable).times(2))
            .unwrap();
        q.push(Fault::truncated().times(0)).unwrap();
        q.push(Fault::html(502)).unwrap();
        assert_eq!(q.pending(), 3);
        for _ in 0..2 {
            assert!(matches!(
                q.take(Service::Swas),
                Some(FaultKind::Error { status: 503, .. })
            ));
        }
        assert_eq!(q.take(Service::Swas), Some(FaultKind::Html { status: 502 }));
        assert_eq!(q.take(Service::Swas), None);
        q.push(Fault::truncated()).unwrap();
        assert_eq!(q.clear(), 1);
        assert_eq!(q.take(Service::Swas), None);
    }

    #[test]
    fn queues_are_per_service_and_expiry_waits_for_an_issuing_request() {
        let mut q = FaultQueues::default();
        q.push(Fault::expires_in(Duration::from_secs(5)).on(Service::Imds))
            .unwrap();
        q.push(Fault::html(500).on(Service::Imds)).unwrap();
        q.push(Fault::truncated().on(Service::Sts)).unwrap();
        assert_eq!(q.take(Service::Swas), None);
        // A request that issues nothing leaves the expiry fault at the front.
        assert_eq!(q.take(Service::Imds), None);
        assert_eq!(q.take_expiry(Service::Sts), None);
        assert_eq!(q.take_expiry(Service::Imds), Some(Duration::from_secs(5)));
        assert_eq!(q.take(Service::Imds), Some(FaultKind::Html { status: 500 }));
        assert_eq!(q.take_expiry(Service::Sts), None);
        assert_eq!(q.take(Service::Sts), Some(FaultKind::Truncated));
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn counts_never_overflow() {
        let mut q = FaultQueues::default();
        q.push(Fault::truncated().times(usize::MAX)).unwrap();
        q.push(Fault::html(502).times(usize::MAX)).unwrap();
        assert_eq!(q.pending(), usize::MAX);
        assert_eq!(q.take(Service::Swas), Some(FaultKind::Truncated));
        assert_eq!(q.clear(), usize::MAX);
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let mut q = FaultQueues::default();
        for _ in 0..MAX_QUEUED {
            q.push(Fault::truncated()).unwrap();
        }
        assert_eq!(q.push(Fault::truncated()), Err(QueueFull));
        q.clear();
        let big = ErrorCode::from("X".repeat(60 * 1024).as_str());
        let mut queued = 0;
        while q.push(Fault::error(500, big.clone())).is_ok() {
            queued += 1;
        }
        assert!(
            queued * 60 * 1024 <= MAX_QUEUED_BYTES && queued > 10,
            "{queued}"
        );
        // All or nothing: a batch that does not fit queues none of its faults.
        q.clear();
        let batch = vec![Fault::truncated(); MAX_QUEUED + 1];
        assert_eq!(q.push_all(batch), Err(QueueFull));
        assert_eq!(q.pending(), 0);
        // Taking a fault frees its room.
        q.push(Fault::error(500, big.clone())).unwrap();
        assert!(q.take(Service::Swas).is_some());
        assert_eq!(q.bytes, 0);
    }
}
