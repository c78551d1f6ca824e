//! Watch caches: the objects the sidecar reads over and over (its region's lease, the global and
//! presence leases, the pool's CardanoForgeClusters), each kept current by one watch that stays
//! open across events, as client-go's informers keep theirs. A read is answered from the cache
//! while its watch is in sync, and by the API server otherwise; a wait for a lease to change is a
//! wait on the cache. A standby thus costs the API server its open watches and nothing else.
//!
//! Why a cached read never leads to forging (docs/safety.md, "Reads from watch caches"): a cache
//! can only lag. Entitlement comes from our own accepted writes (the renew deadline counts from
//! a write's send), never from a read; a lagging cache shows a lease unchanged for longer, so an
//! observed expiry comes later, not sooner; and every takeover is an update conditional on the
//! resourceVersion read, which the API server refuses if the cache was behind. A refused write
//! drops the cache out of sync (the next read asks the API server) and makes its watch start over.
//!
//! Leases are read by name (GET, then WATCH from its resourceVersion with a `metadata.name` field
//! selector) rather than listed: least-privilege RBAC grants `get` and `watch` on named leases
//! and no `list` (docs/deployment.md). kube-runtime's watcher starts with a LIST, so it is not
//! used here; the custom resources are listed by label, as before.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::Resource;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde::de::DeserializeOwned;

/// What one cache holds: one named object, or the objects matching a label selector.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One object by name (`get` and `watch` only).
    Named(String),
    /// Every object matching a label selector (empty: all in the namespace).
    Labelled(String),
}

/// Shortest and longest wait before a failed watch or read is tried again.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A watch asks the server to end it after 5 to 10 minutes (client-go's reflector spreads its
/// watches the same way).
const WATCH_MIN_S: u32 = 300;

/// A watch that has said nothing (no event, no bookmark) for this long is opened again from the
/// version it reached: a server sends a bookmark about every minute to a watch that asked for them,
/// so silence this long means a connection lost without a word (a NAT or a partition that dropped
/// it). Leases that someone renews every retry period are given a much shorter limit
/// ([`WatchSettings::quiet_limit`]).
pub const DEFAULT_QUIET_LIMIT: Duration = Duration::from_secs(150);

/// Called when a watch fails (a read or an opening unanswered, a stream broken): the adapter's other
/// watches share its connection to the API server and may be dead without a word, so they start
/// over too.
pub type Trouble = Arc<dyn Fn() + Send + Sync>;

/// How a cache's watch runs.
#[derive(Clone, Copy, Debug)]
pub struct WatchSettings {
    /// Bounds each read and each watch's opening.
    pub request_timeout: Duration,
    /// The longest the watch may stay silent before it is opened again from where it was.
    pub quiet_limit: Duration,
    /// Varies how long each watch asks the server to keep it open (client-go spreads its watches
    /// too).
    pub spread: u64,
}

/// A write of ours that the watch has not delivered this long after it was accepted (checked at
/// our next write, a retry period later) shows the watch lagging or dead: the caches start over.
const CONFIRM_WITHIN: Duration = Duration::from_secs(1);

/// The objects one watch keeps, with whether they are in sync with the API server.
#[derive(Debug)]
struct State<K> {
    /// False until the first read, after a failed watch, and after a refused write of ours.
    synced: bool,
    objects: BTreeMap<String, K>,
    /// The resourceVersion the next watch resumes from.
    resource_version: String,
    /// Our last accepted write (name, version, when) until the watch delivers it.
    unconfirmed: Option<(String, String, tokio::time::Instant)>,
}

impl<K> State<K> {
    /// The watch delivered version `rv` of `name`: if that is our last write, it came through.
    fn confirm(&mut self, name: &str, rv: Option<&str>) {
        if self
            .unconfirmed
            .as_ref()
            .is_some_and(|(n, v, _)| n == name && Some(v.as_str()) == rv)
        {
            self.unconfirmed = None;
        }
    }
}

/// One cache, shared by the adapter (reads) and its watch task (writes).
#[derive(Debug)]
pub struct WatchCache<K> {
    state: Mutex<State<K>>,
    /// Bumped whenever what a read would return changes.
    changed: tokio::sync::watch::Sender<u64>,
    /// Asks the watch task to start over from a fresh read.
    resync: tokio::sync::Notify,
}

fn name_of<K: Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

fn version_of<K: Resource>(o: &K) -> Option<&str> {
    o.meta().resource_version.as_deref()
}

impl<K: Resource + Clone> WatchCache<K> {
    fn new() -> Self {
        WatchCache {
            state: Mutex::new(State {
                synced: false,
                objects: BTreeMap::new(),
                resource_version: String::new(),
                unconfirmed: None,
            }),
            changed: tokio::sync::watch::channel(0).0,
            resync: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// The named object as the cache knows it (`Some(None)`: absent), or `None` when the cache is
    /// not in sync and the API server must be asked.
    pub fn get(&self, name: &str) -> Option<Option<K>> {
        let st = self.lock();
        st.synced.then(|| st.objects.get(name).cloned())
    }

    /// Every object, in name order (the order of a LIST), or `None` when not in sync.
    pub fn list(&self) -> Option<Vec<K>> {
        let st = self.lock();
        st.synced.then(|| st.objects.values().cloned().collect())
    }

    /// A receiver told of every change of what reads return.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A write of ours was accepted: if the cache stood at the version it replaced (`None`: a
    /// create, and the object absent), the write is the object's next version, so it is taken at
    /// once; the watch delivers it again later, which changes nothing. A cache at any other version
    /// is left to its watch (taking the write then could move it backwards for a moment).
    ///
    /// Returns whether the watch is shown behind: our previous write, accepted more than
    /// [`CONFIRM_WITHIN`] ago, has not come through it.
    #[must_use]
    pub fn wrote(&self, base: Option<&str>, object: &K) -> bool {
        let name = name_of(object);
        let now = tokio::time::Instant::now();
        let mut st = self.lock();
        let behind = st.synced
            && st
                .unconfirmed
                .as_ref()
                .is_some_and(|(_, _, at)| now.duration_since(*at) >= CONFIRM_WITHIN);
        let version = version_of(object).unwrap_or_default().to_owned();
        let current = st
            .objects
            .get(&name)
            .and_then(version_of)
            .map(str::to_owned);
        let current = current.as_deref();
        // The watch may deliver our write before its answer reaches us.
        st.unconfirmed = (current != Some(version.as_str())).then(|| (name.clone(), version, now));
        if behind || !st.synced || current != base {
            return behind;
        }
        st.objects.insert(name, object.clone());
        drop(st);
        self.bump();
        false
    }

    /// A write of ours was refused as stale (409) or met a deleted object (404): the cache is
    /// behind. Reads go to the API server until the watch has started over.
    pub fn invalidate(&self) {
        self.unsync();
        self.resync.notify_one();
    }

    fn unsync(&self) {
        let mut st = self.lock();
        if st.synced {
            st.synced = false;
            drop(st);
            self.bump();
        }
    }

    fn replace(&self, objects: Vec<K>, resource_version: String) {
        let mut st = self.lock();
        st.objects = objects.into_iter().map(|o| (name_of(&o), o)).collect();
        st.resource_version = resource_version;
        st.synced = true;
        // The read covers any write of ours before it.
        st.unconfirmed = None;
        drop(st);
        self.bump();
    }

    /// Applies one watch event; whether the watch may go on.
    fn apply(&self, event: WatchEvent<K>) -> bool {
        let mut st = self.lock();
        let moved = match event {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                if let Some(rv) = version_of(&o) {
                    st.resource_version = rv.to_owned();
                }
                let name = name_of(&o);
                st.confirm(&name, version_of(&o));
                let same = st.objects.get(&name).and_then(version_of) == version_of(&o);
                st.objects.insert(name, o);
                !same
            }
            WatchEvent::Deleted(o) => {
                if let Some(rv) = version_of(&o) {
                    st.resource_version = rv.to_owned();
                }
                st.confirm(&name_of(&o), version_of(&o));
                st.objects.remove(&name_of(&o)).is_some()
            }
            WatchEvent::Bookmark(b) => {
                st.resource_version = b.metadata.resource_version;
                false
            }
            // 410 Gone (our version was compacted away): start over from a read, serving what we
            // have meanwhile, as an informer does. Any other error: out of sync until then.
            WatchEvent::Error(e) => {
                drop(st);
                if e.code != 410 {
                    self.unsync();
                }
                return false;
            }
        };
        drop(st);
        if moved {
            self.bump();
        }
        true
    }

    fn resource_version(&self) -> String {
        self.lock().resource_version.clone()
    }
}

/// The caches of one adapter, and their watch tasks (stopped when the last adapter clone goes).
#[derive(Debug)]
pub struct Caches<K> {
    caches: Mutex<BTreeMap<Scope, Running<K>>>,
}

/// A cache and the handle that stops its watch task.
type Running<K> = (Arc<WatchCache<K>>, tokio::task::AbortHandle);

impl<K> Default for Caches<K> {
    fn default() -> Self {
        Caches {
            caches: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K> Drop for Caches<K> {
    fn drop(&mut self) {
        let caches = self
            .caches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, task) in caches.values() {
            task.abort();
        }
    }
}

impl<K> Caches<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    /// The cache for `scope`, its watch started on first use (inside a tokio runtime).
    pub fn get(
        &self,
        api: &Api<K>,
        scope: &Scope,
        settings: WatchSettings,
        trouble: &Trouble,
    ) -> Arc<WatchCache<K>> {
        let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = caches.entry(scope.clone()).or_insert_with(|| {
            let cache = Arc::new(WatchCache::new());
            let mut h = DefaultHasher::new();
            (scope, settings.spread).hash(&mut h);
            let watch_s =
                WATCH_MIN_S + u32::try_from(h.finish() % u64::from(WATCH_MIN_S)).unwrap_or(0);
            let task = tokio::spawn(reflect(
                api.clone(),
                scope.clone(),
                Arc::clone(&cache),
                settings,
                watch_s,
                Arc::clone(trouble),
            ));
            (cache, task.abort_handle())
        });
        Arc::clone(&entry.0)
    }

    /// Every cache starts over from a read, and is out of sync until then: the connection their
    /// watches share with our other requests is in doubt (a request got no answer, or a write of
    /// ours never came through a watch).
    pub fn restart_all(&self) {
        let caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        for (cache, _) in caches.values() {
            cache.invalidate();
        }
    }

    /// The cache for `scope` if one was started.
    pub fn existing(&self, scope: &Scope) -> Option<Arc<WatchCache<K>>> {
        let caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        caches.get(scope).map(|(c, _)| Arc::clone(c))
    }
}

/// Waits between failed attempts, doubling from [`MIN_BACKOFF`] to [`MAX_BACKOFF`].
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(MIN_BACKOFF)
    }
}

impl Backoff {
    /// A failure: the cache is out of sync (reads go to the API server) until the next success.
    async fn fail<K: Resource + Clone>(&mut self, cache: &WatchCache<K>, trouble: &Trouble) {
        cache.unsync();
        trouble();
        let wait = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        tokio::time::sleep(wait).await;
    }
}

/// The first read of a watch: the objects and the version to watch from.
async fn initial<K>(api: &Api<K>, scope: &Scope) -> Result<(Vec<K>, String), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match scope {
        Scope::Named(name) => match api.get_opt(name).await? {
            Some(o) => {
                let rv = version_of(&o).unwrap_or_default().to_owned();
                Ok((vec![o], rv))
            }
            // Absent: a watch without a version starts from now and announces a creation.
            None => Ok((Vec::new(), String::new())),
        },
        Scope::Labelled(labels) => {
            let list = api.list(&ListParams::default().labels(labels)).await?;
            let rv = list.metadata.resource_version.clone().unwrap_or_default();
            Ok((list.items, rv))
        }
    }
}

/// A watch of `scope`: by name with a `metadata.name` field selector (the only form RBAC's
/// `resourceNames` authorises), or by label selector.
pub(crate) fn watch_params(scope: &Scope, timeout_s: u32) -> WatchParams {
    let params = WatchParams::default().timeout(timeout_s);
    match scope {
        Scope::Named(name) => params.fields(&format!("metadata.name={name}")),
        Scope::Labelled(labels) if labels.is_empty() => params,
        Scope::Labelled(labels) => params.labels(labels),
    }
}

/// The watch task: read, then watch from that version for as long as the server keeps the watch
/// open, and again from where it ended; start over from a read after a failure, a 410 or a
/// refused write of ours. Runs until aborted.
async fn reflect<K>(
    api: Api<K>,
    scope: Scope,
    cache: Arc<WatchCache<K>>,
    settings: WatchSettings,
    watch_s: u32,
    trouble: Trouble,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let mut backoff = Backoff::default();
    loop {
        // A request to start over made before this read is answered by it.
        let _ = std::pin::pin!(cache.resync.notified()).now_or_never();
        match tokio::time::timeout(settings.request_timeout, initial(&api, &scope)).await {
            Ok(Ok((objects, rv))) => cache.replace(objects, rv),
            _ => {
                backoff.fail(&cache, &trouble).await;
                continue;
            }
        }
        // Watch until something needs a fresh read.
        loop {
            let rv = cache.resource_version();
            let params = watch_params(&scope, watch_s);
            let opened =
                tokio::time::timeout(settings.request_timeout, api.watch(&params, &rv)).await;
            let Ok(Ok(stream)) = opened else {
                backoff.fail(&cache, &trouble).await;
                break;
            };
            let mut stream = std::pin::pin!(stream);
            let quiet = tokio::time::sleep(settings.quiet_limit);
            let mut quiet = std::pin::pin!(quiet);
            let go_on = loop {
                tokio::select! {
                    event = stream.next() => match event {
                        Some(Ok(e)) => {
                            quiet.as_mut().reset(tokio::time::Instant::now() + settings.quiet_limit);
                            if !cache.apply(e) {
                                break false;
                            }
                        }
                        Some(Err(_)) => {
                            backoff.fail(&cache, &trouble).await;
                            break false;
                        }
                        // The server ended the watch (its timeout): resume from the version seen.
                        None => break true,
                    },
                    // Silent past any bookmark: the connection is gone; resume from the version
                    // seen (the server replays what we missed, or answers 410).
                    () = &mut quiet => break true,
                    () = cache.resync.notified() => break false,
                }
            };
            if !go_on {
                break;
            }
            backoff = Backoff::default();
        }
    }
}
