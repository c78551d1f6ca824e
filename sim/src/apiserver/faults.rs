//! Fault hooks: a cloneable handle the tests and the simulator hold to make the API server
//! misbehave (refuse connections, slow down, fail requests) and to count the requests it served.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Cloneable fault controls; all clones act on the same server.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// New connections are dropped and open ones fail while set.
    refusing: AtomicBool,
    /// Delay added before every request, in milliseconds.
    latency_ms: AtomicU64,
    /// Requests still to be failed with 500.
    fail_next: AtomicU64,
    /// Requests that reached the handler (including failed and delayed ones).
    served: AtomicU64,
}

impl Faults {
    /// New handle with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, accepted connections are closed at once and reads on open connections fail,
    /// so clients see the server as down.
    pub fn refuse_connections(&self, refuse: bool) {
        self.inner.refusing.store(refuse, Ordering::SeqCst);
    }

    /// Whether connections are being refused.
    pub fn is_refusing(&self) -> bool {
        self.inner.refusing.load(Ordering::SeqCst)
    }

    /// Adds `latency` before every request is handled (zero to stop).
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.inner.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// The latency currently added.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.inner.latency_ms.load(Ordering::SeqCst))
    }

    /// Makes the next `n` requests fail with a 500 `InternalError` Status.
    pub fn fail_next_requests(&self, n: u64) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Number of requests handled so far.
    pub fn requests_served(&self) -> u64 {
        self.inner.served.load(Ordering::SeqCst)
    }

    /// Counts a request; returns whether it must fail (consuming one of `fail_next`).
    pub(crate) fn on_request(&self) -> bool {
        self.inner.served.fetch_add(1, Ordering::SeqCst);
        self.inner
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}
