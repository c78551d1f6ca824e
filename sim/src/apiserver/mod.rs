//! A Kubernetes-protocol test API server: enough of kube-apiserver for kubectl, kube-rs and the
//! forge-manager sidecar, in one process, deterministic, with fault hooks.
//!
//! It owns: the object store ([`store`]), the served resource types ([`resources`]: leases, CRDs
//! and every resource a stored CRD defines), CRD schema checks ([`schema`]), Table answers
//! ([`table`]), discovery and OpenAPI documents ([`discovery`]), the HTTP handlers ([`handlers`]),
//! watch streams ([`watch`]), protobuf request bodies of built-in kinds as kubectl sends them
//! ([`protobuf`]), fault injection ([`faults`]) and the listeners ([`listener`]).
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use forge_sim::apiserver::{ApiServer, Options};
//! let server = ApiServer::new(Options::default())?;
//! let faults = server.faults();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! tokio::spawn(server.serve(listener));
//! faults.fail_next_requests(2);
//! # Ok(()) }
//! ```
//!
//! Over turmoil, inside a host: `server.serve(TurmoilListener::bind(("0.0.0.0", 6443)).await?)`.

pub mod discovery;
pub mod faults;
pub mod handlers;
pub mod listener;
pub mod paging;
pub mod protobuf;
mod request;
mod resources;
pub mod schema;
pub mod status;
pub mod store;
pub mod table;
pub mod watch;
pub mod workloads;

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::serve::Listener;

pub use faults::Faults;
pub use listener::{FaultyListener, PeerIp, TurmoilListener};
pub use store::StoreError;

/// The wall clock the server stamps objects and `Date` headers with.
pub type ClockFn = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Most watch events kept for watches that resume from a resourceVersion.
pub const DEFAULT_HISTORY_LIMIT: usize = 1000;

/// Capacity of the live event channel; a watcher lagging further behind is disconnected.
const EVENT_CHANNEL_CAPACITY: usize = 1024;

/// How to build an [`ApiServer`].
#[derive(Clone)]
pub struct Options {
    /// Persist every change to this JSON file (written atomically) and load it at start.
    pub state_file: Option<PathBuf>,
    /// Wall clock for `creationTimestamp` and the `Date` header (default: system time).
    pub clock: ClockFn,
    /// Watch history length.
    pub history_limit: usize,
    /// Fault controls (pass a handle to share it before the server exists).
    pub faults: Faults,
    /// Keep a log of every accepted Lease change for [`ApiServer::take_lease_changes`] (the
    /// simulator's oracle judges lease coverage by it).
    pub record_lease_changes: bool,
    /// How often a watch that allows bookmarks (`allowWatchBookmarks=true`) gets a `BOOKMARK`
    /// event carrying the current resourceVersion (Kubernetes sends about one a minute).
    pub bookmark_interval: Duration,
}

/// [`Options::bookmark_interval`] by default.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

impl Default for Options {
    fn default() -> Self {
        Self {
            state_file: None,
            clock: Arc::new(jiff::Timestamp::now),
            history_limit: DEFAULT_HISTORY_LIMIT,
            faults: Faults::new(),
            record_lease_changes: false,
            bookmark_interval: DEFAULT_BOOKMARK_INTERVAL,
        }
    }
}

impl Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("state_file", &self.state_file)
            .field("history_limit", &self.history_limit)
            .finish_non_exhaustive()
    }
}

/// The API server: a cheap, cloneable handle to shared state.
#[derive(Clone)]
pub struct ApiServer {
    shared: Arc<Shared>,
}

/// The served resource types and the CRD generation they were built at.
type TypesCache = Option<(u64, Arc<Vec<resources::ResourceType>>)>;

struct Shared {
    store: Mutex<store::Store>,
    types: Mutex<TypesCache>,
    events: tokio::sync::broadcast::Sender<store::Event>,
    faults: Faults,
    clock: ClockFn,
    /// Accepted Lease changes not yet taken (`None`: not recording).
    lease_changes: Option<Mutex<Vec<LeaseChange>>>,
    /// See [`Options::bookmark_interval`].
    bookmark_interval: Duration,
}

/// A Lease change the server accepted (a create, an update, or a delete), stamped by its clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseChange {
    /// When, on the server's clock.
    pub at: jiff::Timestamp,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// `None` for a delete; else the record as written.
    pub written: Option<LeaseSpec>,
}

/// The parts of a written Lease's spec that coverage is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSpec {
    /// `spec.holderIdentity` (empty when absent).
    pub holder: String,
    /// `spec.leaseDurationSeconds` (0 when absent or negative).
    pub duration_s: u64,
}

impl ApiServer {
    /// A server with the given options; loads `state_file` if it exists.
    pub fn new(options: Options) -> Result<Self, StoreError> {
        let store = store::Store::open(options.state_file, options.history_limit)?;
        let (events, _) = tokio::sync::broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Ok(Self {
            shared: Arc::new(Shared {
                store: Mutex::new(store),
                types: Mutex::new(None),
                events,
                faults: options.faults,
                clock: options.clock,
                lease_changes: options.record_lease_changes.then(|| Mutex::new(Vec::new())),
                bookmark_interval: options.bookmark_interval,
            }),
        })
    }

    /// The fault controls of this server.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// How often a watch that allows bookmarks gets one.
    pub(crate) fn bookmark_interval(&self) -> Duration {
        self.shared.bookmark_interval
    }

    /// The current time on the server's clock.
    pub fn now(&self) -> jiff::Timestamp {
        (self.shared.clock)()
    }

    /// The axum router serving the whole API.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handlers::dispatch)
            .with_state(self.clone())
    }

    /// Serves on `listener` (tokio `TcpListener`, [`TurmoilListener`], ...) until the task is
    /// dropped; connections go through [`FaultyListener`].
    pub async fn serve<L>(self, listener: L) -> std::io::Result<()>
    where
        L: Listener,
        L::Addr: Debug + PeerIp,
    {
        let faulty = FaultyListener::new(listener, self.faults());
        axum::serve(faulty, self.router()).await
    }

    /// The holder of a Lease, read directly from the store (for the simulator's oracle and its
    /// `leader:REGION` targets; not a request, so it is not counted).
    pub fn lease_holder(&self, namespace: &str, name: &str) -> Option<String> {
        let key = (
            "coordination.k8s.io".to_owned(),
            "leases".to_owned(),
            namespace.to_owned(),
            name.to_owned(),
        );
        let store = self.store();
        let holder = store.get(&key)?["spec"]["holderIdentity"]
            .as_str()?
            .to_owned();
        (!holder.is_empty()).then_some(holder)
    }

    /// Every stored object of a resource (`group` "" for the core group), read directly from the
    /// store like [`ApiServer::lease_holder`]: for tests that check what the clients created.
    pub fn objects(
        &self,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Vec<serde_json::Value> {
        self.store().list(group, plural, namespace)
    }

    /// The served-types cache (see `handlers::served_types`); locked after the store, never before.
    pub(crate) fn types_cache(&self) -> MutexGuard<'_, TypesCache> {
        self.shared
            .types
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, store::Store> {
        // A poisoned lock means a handler panicked mid-change; the store is still consistent per
        // object (each change is one insert), so keep serving.
        self.shared
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The Lease changes accepted since the last call, in the order they were committed (empty
    /// unless [`Options::record_lease_changes`]).
    pub fn take_lease_changes(&self) -> Vec<LeaseChange> {
        self.shared
            .lease_changes
            .as_ref()
            .map(|log| {
                std::mem::take(
                    &mut *log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                )
            })
            .unwrap_or_default()
    }

    /// Sends a change the server made itself (a deletion mark) to the watchers without logging
    /// it as a Lease write: nobody wrote the lease, and its holder did not renew it.
    pub(crate) fn publish_unlogged(&self, event: store::Event) {
        // No receivers is fine: nobody is watching.
        let _ = self.shared.events.send(event);
    }

    /// Sends a committed change to the watchers, and logs it if it is a Lease change. Every
    /// accepted write of a Lease is a change: a renewal always moves `renewTime`.
    pub(crate) fn publish(&self, event: store::Event) {
        if let Some(log) = &self.shared.lease_changes
            && event.group == "coordination.k8s.io"
            && event.plural == "leases"
        {
            let object = &event.object;
            let written = (event.type_ != store::EventType::Deleted).then(|| LeaseSpec {
                holder: object["spec"]["holderIdentity"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                duration_s: object["spec"]["leaseDurationSeconds"].as_u64().unwrap_or(0),
            });
            let change = LeaseChange {
                at: self.now(),
                namespace: event.namespace.clone(),
                name: object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                written,
            };
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(change);
        }
        self.publish_unlogged(event);
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<store::Event> {
        self.shared.events.subscribe()
    }
}
