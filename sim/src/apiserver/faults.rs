//! Fault hooks: a cloneable handle the tests and the simulator hold to make the API server
//! misbehave (refuse connections, slow down, fail requests) and to count the requests it served.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::task::AtomicWaker;

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
    /// Open connections by peer address, for [`Faults::reset_connections_from`].
    connections: Mutex<Vec<(IpAddr, Weak<Reset>)>>,
}

/// The reset switch of one open connection: set, and its task woken, to make it fail.
#[derive(Debug, Default)]
pub struct Reset {
    reset: AtomicBool,
    waker: AtomicWaker,
}

impl Reset {
    /// Whether the connection was reset; registers the task to wake when it is.
    pub(crate) fn poll_reset(&self, cx: &std::task::Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.reset.load(Ordering::SeqCst)
    }
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

    /// Registers an accepted connection from `peer`; its [`Reset`] is set by
    /// [`Faults::reset_connections_from`].
    pub(crate) fn register_connection(&self, peer: IpAddr) -> Arc<Reset> {
        let reset = Arc::new(Reset::default());
        let mut connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        connections.retain(|(_, c)| c.strong_count() > 0);
        connections.push((peer, Arc::downgrade(&reset)));
        reset
    }

    /// Resets every open connection from `peer` (its next read or write fails, and an idle one is
    /// woken to fail), as a server whose peer vanished eventually does; returns how many.
    ///
    /// Why: a client's FIN lost in a partition leaves the server's end of that connection open
    /// for good in turmoil 0.7.2, and when the client host's ephemeral ports wrap around, a new
    /// connection from the same port makes turmoil panic ("SocketPair ... is already connected").
    /// The simulated world resets them when a partition heals (`World::apply_to`).
    pub fn reset_connections_from(&self, peer: IpAddr) -> usize {
        let mut connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut count = 0;
        connections.retain(|(ip, c)| {
            let Some(c) = c.upgrade() else {
                return false;
            };
            if *ip != peer {
                return true;
            }
            c.reset.store(true, Ordering::SeqCst);
            c.waker.wake();
            count += 1;
            false
        });
        count
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
