//! In-memory fakes of the four ports, for the library's own tests (`cfg(test)` only).
//!
//! They are single-threaded (`Rc<RefCell<_>>`), deterministic, and failure-injecting: an API that
//! goes down or answers 500, a node whose metrics hang, a file system that refuses writes. The fake
//! node follows the facts of docs/architecture.md ("How cardano-node behaves") closely enough for
//! unit tests; the simulator (`forge-sim`) has the faithful one.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::core::lease::LeaseRecord;
use crate::core::time::MonoTime;
use crate::crd::{CardanoForgeCluster, CardanoLeaderStatus};
use crate::credentials::{CredentialPaths, CredentialSet, fingerprint};
use crate::ports::{
    Clock, FileMeta, Fs, FsError, Kube, KubeError, KubeErrorKind, LeaseWrite, Node, NodeError,
    NodeMetrics, NodeProcess, ServerClockSample,
};

/// A clock that moves only when told to; `sleep` advances it.
#[derive(Clone, Debug, Default)]
pub struct FakeClock {
    mono_ms: Rc<Cell<u64>>,
    /// Wall clock = mono + this offset (ms since the Unix epoch at mono 0).
    wall_offset_ms: Rc<Cell<i64>>,
}

impl FakeClock {
    /// A clock at mono 0 and wall 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        let c = FakeClock::default();
        c.wall_offset_ms.set(1_767_225_600_000);
        c
    }

    /// Moves time forward.
    pub fn advance(&self, d: Duration) {
        self.mono_ms
            .set(self.mono_ms.get() + crate::core::time::duration_ms(d));
    }

    /// Jumps the wall clock (skew); the monotonic clock is untouched.
    pub fn skew_wall(&self, by_ms: i64) {
        self.wall_offset_ms.set(self.wall_offset_ms.get() + by_ms);
    }
}

impl Clock for FakeClock {
    fn now_mono(&self) -> MonoTime {
        MonoTime(self.mono_ms.get())
    }

    fn now_wall(&self) -> jiff::Timestamp {
        let ms = i64::try_from(self.mono_ms.get())
            .unwrap_or(i64::MAX)
            .saturating_add(self.wall_offset_ms.get());
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    async fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}

#[derive(Debug, Default)]
struct ApiState {
    leases: BTreeMap<String, LeaseRecord>,
    next_rv: u64,
    down: bool,
    fail_next: u32,
    requests: u64,
    leader_status: BTreeMap<String, CardanoLeaderStatus>,
    hung: bool,
    forge_clusters: Vec<CardanoForgeCluster>,
    /// Every accepted CardanoForgeCluster status patch, oldest first.
    cluster_status_patches: Vec<(String, serde_json::Value)>,
}

/// One fake API server, shared by the pods that talk to it.
#[derive(Clone, Debug, Default)]
pub struct FakeApi {
    state: Rc<RefCell<ApiState>>,
}

impl FakeApi {
    /// An empty server.
    pub fn new() -> Self {
        FakeApi::default()
    }

    /// A client for one pod.
    pub fn client(&self) -> FakeKube {
        FakeKube { api: self.clone() }
    }

    /// Refuses every request (true) or answers again (false).
    pub fn set_down(&self, down: bool) {
        self.state.borrow_mut().down = down;
    }

    /// Answers the next `n` requests with 500.
    pub fn fail_next(&self, n: u32) {
        self.state.borrow_mut().fail_next = n;
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.state.borrow().requests
    }

    /// The stored lease, if any.
    pub fn lease(&self, name: &str) -> Option<LeaseRecord> {
        self.state.borrow().leases.get(name).cloned()
    }

    /// Releases a lease as its holder would (no holder, a new version): a write landing while
    /// a test holds the loop mid-round.
    pub fn release_lease(&self, name: &str) {
        let mut s = self.state.borrow_mut();
        s.next_rv += 1;
        let rv = s.next_rv.to_string();
        if let Some(l) = s.leases.get_mut(name) {
            l.holder = None;
            l.resource_version = rv;
        }
    }

    /// Deletes a lease, as an operator would.
    pub fn delete_lease(&self, name: &str) {
        self.state.borrow_mut().leases.remove(name);
    }

    /// The last CardanoLeader status written under `name`.
    pub fn leader_status(&self, name: &str) -> Option<CardanoLeaderStatus> {
        self.state.borrow().leader_status.get(name).cloned()
    }

    /// Makes every request hang (no answer, no error) until cleared: a black-holed API server.
    pub fn set_hung(&self, hung: bool) {
        self.state.borrow_mut().hung = hung;
    }

    /// Every accepted CardanoForgeCluster status patch (object name, merge patch), oldest first.
    pub fn cluster_status_patches(&self) -> Vec<(String, serde_json::Value)> {
        self.state.borrow().cluster_status_patches.clone()
    }

    /// Adds or replaces a CardanoForgeCluster (listed and read back as stored; status patches are
    /// recorded, not applied).
    pub fn put_forge_cluster(&self, cluster: CardanoForgeCluster) {
        let mut s = self.state.borrow_mut();
        s.forge_clusters
            .retain(|c| c.metadata.name != cluster.metadata.name);
        s.forge_clusters.push(cluster);
    }

    /// Admits a request: hangs forever while hung, fails while down or injected to.
    async fn enter(&self) -> Result<(), KubeError> {
        if self.state.borrow().hung {
            std::future::pending::<()>().await;
        }
        self.admit()
    }

    fn admit(&self) -> Result<(), KubeError> {
        let mut s = self.state.borrow_mut();
        if s.down {
            return Err(KubeError::new(
                KubeErrorKind::Unreachable,
                "connection refused",
            ));
        }
        s.requests += 1;
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(KubeError::new(KubeErrorKind::Server, "500 injected"));
        }
        Ok(())
    }

    fn store(&self, w: &LeaseWrite) -> LeaseRecord {
        let mut s = self.state.borrow_mut();
        s.next_rv += 1;
        let r = LeaseRecord {
            name: w.name.clone(),
            holder: w.holder.clone(),
            lease_duration_seconds: Some(w.lease_duration_seconds),
            acquire_time: w.acquire_time.map(|t| t.to_string()),
            renew_time: w.renew_time.map(|t| t.to_string()),
            lease_transitions: w.lease_transitions,
            resource_version: s.next_rv.to_string(),
            terminating: false,
            finalizers: w.finalizers.clone(),
        };
        s.leases.insert(w.name.clone(), r.clone());
        r
    }
}

/// One pod's client of a [`FakeApi`].
#[derive(Clone, Debug)]
pub struct FakeKube {
    api: FakeApi,
}

fn not_found(name: &str) -> KubeError {
    KubeError::new(
        KubeErrorKind::NotFound,
        format!("leases \"{name}\" not found"),
    )
}

impl Kube for FakeKube {
    async fn get_lease(&self, name: &str) -> Result<LeaseRecord, KubeError> {
        self.api.enter().await?;
        self.api.lease(name).ok_or_else(|| not_found(name))
    }

    async fn create_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        self.api.enter().await?;
        if self.api.lease(&lease.name).is_some() {
            return Err(KubeError::new(KubeErrorKind::Conflict, "already exists"));
        }
        Ok(self.api.store(lease))
    }

    async fn replace_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        self.api.enter().await?;
        match self.api.lease(&lease.name) {
            None => Err(not_found(&lease.name)),
            Some(cur) if cur.resource_version != lease.resource_version => Err(KubeError::new(
                KubeErrorKind::Conflict,
                "the object has been modified",
            )),
            Some(_) => Ok(self.api.store(lease)),
        }
    }

    async fn watch_lease(
        &self,
        name: &str,
        resource_version: &str,
        _timeout: Duration,
    ) -> Result<Option<LeaseRecord>, KubeError> {
        // No waiting in a fake: report the current state if it differs, else time out at once.
        self.api.enter().await?;
        match self.api.lease(name) {
            None => Ok(None),
            Some(r) if r.resource_version != resource_version => Ok(Some(r)),
            Some(_) => Err(KubeError::new(
                KubeErrorKind::Unreachable,
                "watch timed out",
            )),
        }
    }

    async fn get_forge_cluster(&self, name: &str) -> Result<CardanoForgeCluster, KubeError> {
        self.api.enter().await?;
        self.api
            .state
            .borrow()
            .forge_clusters
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .cloned()
            .ok_or_else(|| KubeError::new(KubeErrorKind::NotFound, format!("{name} not found")))
    }

    async fn list_forge_clusters(
        &self,
        _label_selector: &str,
    ) -> Result<Vec<CardanoForgeCluster>, KubeError> {
        self.api.enter().await?;
        Ok(self.api.state.borrow().forge_clusters.clone())
    }

    async fn patch_forge_cluster_status(
        &self,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<(), KubeError> {
        self.api.enter().await?;
        let mut s = self.api.state.borrow_mut();
        if s.forge_clusters
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(name))
        {
            s.cluster_status_patches
                .push((name.to_owned(), status.clone()));
            Ok(())
        } else {
            Err(KubeError::new(
                KubeErrorKind::NotFound,
                format!("{name} not found"),
            ))
        }
    }

    async fn patch_leader_status(
        &self,
        name: &str,
        status: &CardanoLeaderStatus,
    ) -> Result<(), KubeError> {
        self.api.enter().await?;
        self.api
            .state
            .borrow_mut()
            .leader_status
            .insert(name.to_owned(), status.clone());
        Ok(())
    }

    fn server_clock(&self) -> Option<ServerClockSample> {
        None
    }
}

/// Files of a [`FakeFs`]: path → (bytes, mode).
type Files = BTreeMap<PathBuf, (Vec<u8>, u32)>;

/// One pod's file system.
#[derive(Clone, Debug, Default)]
pub struct FakeFs {
    files: Rc<RefCell<Files>>,
    refuse_writes: Rc<Cell<bool>>,
}

impl FakeFs {
    /// An empty file system.
    pub fn new() -> Self {
        FakeFs::default()
    }

    /// Puts a file in place directly (a mounted secret, say).
    pub fn put(&self, path: &Path, bytes: &[u8], mode: u32) {
        self.files
            .borrow_mut()
            .insert(path.to_owned(), (bytes.to_vec(), mode));
    }

    /// Reads a file directly.
    pub fn get(&self, path: &Path) -> Option<(Vec<u8>, u32)> {
        self.files.borrow().get(path).cloned()
    }

    /// Makes every write fail (disk full).
    pub fn refuse_writes(&self, refuse: bool) {
        self.refuse_writes.set(refuse);
    }
}

impl Fs for FakeFs {
    async fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        if self.refuse_writes.get() {
            return Err(FsError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other("no space left on device"),
            });
        }
        self.put(path, bytes, mode);
        Ok(())
    }

    async fn remove(&self, path: &Path) -> Result<bool, FsError> {
        Ok(self.files.borrow_mut().remove(path).is_some())
    }

    async fn read(&self, path: &Path) -> Result<Vec<u8>, FsError> {
        self.get(path)
            .map(|(b, _)| b)
            .ok_or_else(|| FsError::NotFound(path.display().to_string()))
    }

    async fn metadata(&self, path: &Path) -> Result<FileMeta, FsError> {
        self.get(path)
            .map(|(b, mode)| FileMeta {
                len: b.len() as u64,
                mode,
            })
            .ok_or_else(|| FsError::NotFound(path.display().to_string()))
    }
}

/// The fake node's state, inspectable by tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeNodeState {
    /// The process, if running.
    pub process: Option<NodeProcess>,
    /// Its socket accepts connections (startup over).
    pub ready: bool,
    /// Forging enabled, and the fingerprint of the opcert it loaded.
    pub loaded: Option<String>,
    /// SIGHUPs received.
    pub sighups: u32,
    /// Times a SIGHUP arrived before the handler was installed (it killed the node).
    pub killed_early: u32,
    /// The metrics endpoint answers.
    pub metrics_up: bool,
}

/// A cardano-node stand-in reading its credentials from a [`FakeFs`] on SIGHUP.
#[derive(Clone, Debug)]
pub struct FakeNode {
    fs: FakeFs,
    target: CredentialPaths,
    state: Rc<RefCell<FakeNodeState>>,
    next_pid: Rc<Cell<u32>>,
}

impl FakeNode {
    /// A node that is not running yet, reading `target` in `fs`.
    pub fn new(fs: FakeFs, target: CredentialPaths) -> Self {
        FakeNode {
            fs,
            target,
            state: Rc::new(RefCell::new(FakeNodeState {
                metrics_up: true,
                ..FakeNodeState::default()
            })),
            next_pid: Rc::new(Cell::new(100)),
        }
    }

    /// Starts (or restarts) the process, non-producing; `ready` says whether startup is over.
    pub fn start(&self, ready: bool) {
        let pid = self.next_pid.get();
        self.next_pid.set(pid + 1);
        let mut s = self.state.borrow_mut();
        s.process = Some(NodeProcess {
            pid,
            start_ticks: u64::from(pid) * 10,
        });
        s.ready = ready;
        s.loaded = None;
    }

    /// Ends startup: the socket accepts connections.
    pub fn finish_startup(&self) {
        self.state.borrow_mut().ready = true;
    }

    /// Stops the process.
    pub fn stop(&self) {
        let mut s = self.state.borrow_mut();
        s.process = None;
        s.ready = false;
        s.loaded = None;
    }

    /// Makes the metrics endpoint answer (true) or fail (false).
    pub fn set_metrics_up(&self, up: bool) {
        self.state.borrow_mut().metrics_up = up;
    }

    /// A snapshot of the node's state.
    pub fn state(&self) -> FakeNodeState {
        self.state.borrow().clone()
    }

    /// Whether the node forges with exactly `set`.
    pub fn forges_with(&self, set: &CredentialSet) -> bool {
        self.state.borrow().loaded.as_deref() == Some(set.fingerprint().as_str())
    }
}

impl Node for FakeNode {
    async fn find(&self) -> Option<NodeProcess> {
        self.state.borrow().process
    }

    async fn socket_accepts(&self) -> bool {
        let s = self.state.borrow();
        s.process.is_some() && s.ready
    }

    async fn sighup(&self, process: NodeProcess) -> Result<(), NodeError> {
        let mut s = self.state.borrow_mut();
        if s.process != Some(process) {
            return Err(NodeError::NotRunning);
        }
        s.sighups += 1;
        if !s.ready {
            // Before the handler is installed, SIGHUP's default action ends the process.
            s.killed_early += 1;
            s.process = None;
            s.loaded = None;
            return Ok(());
        }
        let files: Vec<_> = crate::credentials::CredentialFile::ALL
            .iter()
            .map(|f| self.fs.get(self.target.get(*f)))
            .collect();
        if files.iter().any(Option::is_none) {
            s.loaded = None;
        } else if let Some(Some((opcert, _))) = files.last() {
            s.loaded = Some(fingerprint(opcert));
        }
        Ok(())
    }

    async fn metrics(&self) -> Result<NodeMetrics, NodeError> {
        let s = self.state.borrow();
        if !s.metrics_up || s.process.is_none() {
            return Err(crate::ports::MetricsError::Refused.into());
        }
        Ok(NodeMetrics {
            forging_enabled: Some(s.loaded.is_some()),
            leader_checks: None,
        })
    }
}
