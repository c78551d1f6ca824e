//! Fault hooks: a cloneable handle the tests and the simulator hold to make the API server
//! misbehave (refuse connections, slow down, fail or throttle requests, cut answers off) and to
//! count the requests it served.

use std::collections::BTreeMap;
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
    /// Requests still to be refused with 429 Too Many Requests.
    throttle_next: AtomicU64,
    /// The `Retry-After` of those refusals, in seconds.
    retry_after_s: AtomicU64,
    /// Responses (other than watches) still to be cut off in the middle of their body.
    cut_next: AtomicU64,
    /// Requests that reached the handler (including failed and delayed ones).
    served: AtomicU64,
    /// The same requests by route (`verb resource[/subresource]`, see `handlers::route_key`).
    by_route: Mutex<BTreeMap<String, u64>>,
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

    /// Makes the next `n` requests fail with 429 `TooManyRequests` and `Retry-After:
    /// retry_after` (whole seconds), as API priority and fairness rejects a request.
    pub fn throttle_next_requests(&self, n: u64, retry_after: Duration) {
        self.inner
            .retry_after_s
            .store(retry_after.as_secs(), Ordering::SeqCst);
        self.inner.throttle_next.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` answers other than watches break off in the middle of their body: the
    /// status line, the headers and half the body are sent, then the connection is reset.
    pub fn cut_next_responses(&self, n: u64) {
        self.inner.cut_next.store(n, Ordering::SeqCst);
    }

    /// Number of requests handled so far.
    pub fn requests_served(&self) -> u64 {
        self.inner.served.load(Ordering::SeqCst)
    }

    /// Requests handled so far, by route (`get leases/NAME`, `watch leases/NAME`,
    /// `list cardanoforgeclusters`, `patch cardanoleaders/status`...): where an API's load comes
    /// from (`forge-sim bench`).
    pub fn requests_by_route(&self) -> BTreeMap<String, u64> {
        self.inner
            .by_route
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn count_route(&self, route: String) {
        *self
            .inner
            .by_route
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(route)
            .or_insert(0) += 1;
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

    /// Counts a request; returns what to do to it (consuming one of the counts that applies:
    /// a 500 first, then a 429).
    pub(crate) fn on_request(&self) -> Injected {
        self.inner.served.fetch_add(1, Ordering::SeqCst);
        let take = |count: &AtomicU64| {
            count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        if take(&self.inner.fail_next) {
            Injected::Fail
        } else if take(&self.inner.throttle_next) {
            Injected::Throttle {
                retry_after_s: self.inner.retry_after_s.load(Ordering::SeqCst),
            }
        } else {
            Injected::Nothing
        }
    }

    /// Whether this (non-watch) answer must be cut off (consuming one of `cut_next`).
    pub(crate) fn take_cut(&self) -> bool {
        self.inner
            .cut_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// What [`Faults::on_request`] makes of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Serve it.
    Nothing,
    /// Answer 500.
    Fail,
    /// Answer 429 with this `Retry-After`.
    Throttle {
        /// Seconds.
        retry_after_s: u64,
    },
}
