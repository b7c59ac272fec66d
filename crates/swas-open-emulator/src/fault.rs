//! Faults on demand: what the next requests meet instead of (or on top of) normal handling.

use std::collections::VecDeque;
use std::time::Duration;

/// A fault to inject into the next request(s), built with the constructors below and queued
/// with [`Emulator::inject`](crate::Emulator::inject).
///
/// Faults are consumed in arrival order: each API request takes at most one fault from the
/// front of the queue (admin routes take none). [`Fault::error`], [`Fault::throttling`],
/// [`Fault::html`] and [`Fault::delay`] act before authentication; [`Fault::drop_after_commit`]
/// and [`Fault::truncated`] let the request be handled in full first.
///
/// ```
/// use std::time::Duration;
/// use swas_open_emulator::{Fault, FaultKind};
/// let f = Fault::error(503, "ServiceUnavailable").times(2);
/// assert_eq!(f.remaining(), 2);
/// assert!(matches!(f.kind(), FaultKind::Error { status: 503, .. }));
/// let _ = Fault::delay(Duration::from_millis(50));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    kind: FaultKind,
    times: usize,
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer this status and code with a JSON error body. A status outside 200..=599 is
    /// answered as 500.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error code, e.g. `ServiceUnavailable`.
        code: String,
    },
    /// Answer 400 `Throttling` with the header `x-acs-retry-after: <ms>`.
    Throttling {
        /// The retry hint, in milliseconds.
        retry_after_ms: u64,
    },
    /// Sleep, then handle the request normally.
    Delay(Duration),
    /// Handle the request (a delete happens), then close the connection without answering.
    DropAfterCommit,
    /// Answer an HTML page with this status, as a proxy would. A status outside 200..=599 is
    /// answered as 502.
    Html {
        /// The HTTP status.
        status: u16,
    },
    /// Handle the request, then answer 200 with the first half of the JSON body only.
    Truncated,
}

impl Fault {
    fn once(kind: FaultKind) -> Self {
        Self { kind, times: 1 }
    }

    /// Answer `status` and `code` with a proper JSON error body.
    pub fn error(status: u16, code: &str) -> Fault {
        Self::once(FaultKind::Error {
            status,
            code: code.to_owned(),
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

    /// Perform the request, then answer 200 with a truncated JSON body (e.g. `{"RequestId":"AB`).
    pub fn truncated() -> Fault {
        Self::once(FaultKind::Truncated)
    }

    /// Applies to the next `n` requests instead of one (`0` makes the fault a no-op).
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
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
}

/// The queue of pending faults.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: VecDeque<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.queue.push_back(fault);
        }
    }

    /// The fault for the request arriving now, if any.
    pub(crate) fn take(&mut self) -> Option<FaultKind> {
        let front = self.queue.front_mut()?;
        front.times -= 1;
        if front.times == 0 {
            self.queue.pop_front().map(|f| f.kind)
        } else {
            Some(front.kind.clone())
        }
    }

    /// Requests still to be affected, counting repeats.
    pub(crate) fn pending(&self) -> usize {
        self.queue.iter().map(|f| f.times).sum()
    }

    /// Drops every pending fault; returns how many requests they would have affected.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.pending();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_with_counts() {
        let mut q = FaultQueue::default();
        q.push(Fault::error(503, "ServiceUnavailable").times(2));
        q.push(Fault::truncated().times(0));
        q.push(Fault::html(502));
        assert_eq!(q.pending(), 3);
        assert!(matches!(
            q.take(),
            Some(FaultKind::Error { status: 503, .. })
        ));
        assert!(matches!(
            q.take(),
            Some(FaultKind::Error { status: 503, .. })
        ));
        assert_eq!(q.take(), Some(FaultKind::Html { status: 502 }));
        assert_eq!(q.take(), None);
        q.push(Fault::truncated());
        assert_eq!(q.clear(), 1);
        assert_eq!(q.take(), None);
    }
}
