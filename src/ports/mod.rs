//! The five ports: the only ways the core and the runtime touch the world.
//!
//! Production binds them to tokio, the `kube` client, the file system and `/proc` (`crate::adapters`);
//! the simulator binds them to a simulated world; `crate::testing` has in-memory fakes. Each port is
//! small on purpose: what is not here cannot be faked wrongly.
//!
//! The traits use `async fn` without `Send` bounds: the sidecar runs its control loop on one
//! current-thread runtime, and turmoil hosts are single-threaded too.
#![allow(async_fn_in_trait)]

use std::path::Path;
use std::time::Duration;

use crate::core::lease::LeaseRecord;
use crate::core::time::MonoTime;
use crate::crd::{CardanoForgeCluster, CardanoLeaderStatus};

/// Time: a monotonic clock for every safety judgement, a wall clock for informational fields only.
pub trait Clock {
    /// Now on this pod's monotonic clock.
    fn now_mono(&self) -> MonoTime;
    /// Now on this pod's wall clock (may be skewed; never used to judge expiry).
    fn now_wall(&self) -> jiff::Timestamp;
    /// Sleeps for `d` of this clock's time.
    async fn sleep(&self, d: Duration);
}

pub use crate::core::lease::ApiFailure as KubeErrorKind;

/// The cause of a port error, kept for `Error::source` chains (shared, so errors stay `Clone`).
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// A failed API call, classified for the core, with the detail kept for logs and status and the
/// client's own error kept as the source.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct KubeError {
    /// The class the core decides on.
    pub kind: KubeErrorKind,
    /// What the server or the transport said.
    pub message: String,
    /// The client's error, when there was one (not for a timeout the adapter measured itself).
    #[source]
    pub source: Option<Cause>,
}

impl KubeError {
    /// Builds an error of `kind` without a lower-level cause.
    pub fn new(kind: KubeErrorKind, message: impl Into<String>) -> Self {
        KubeError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Builds an error of `kind` caused by `source` (its text is the message).
    pub fn caused_by(
        kind: KubeErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        KubeError {
            kind,
            message: source.to_string(),
            source: Some(std::sync::Arc::new(source)),
        }
    }
}

/// Two errors are equal when the core would treat them alike and say the same: the cause is
/// detail, not identity.
impl PartialEq for KubeError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for KubeError {}

/// A lease as the sidecar wants it written: holder, duration, times (RFC 3339) and transitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseWrite {
    /// Object name.
    pub name: String,
    /// New holder; `None` releases the lease.
    pub holder: Option<String>,
    /// `spec.leaseDurationSeconds`.
    pub lease_duration_seconds: i32,
    /// `spec.acquireTime`.
    pub acquire_time: Option<jiff::Timestamp>,
    /// `spec.renewTime`.
    pub renew_time: Option<jiff::Timestamp>,
    /// `spec.leaseTransitions`.
    pub lease_transitions: i32,
    /// The version this write is based on: the server refuses it with 409 if the object changed.
    /// Empty for a create.
    pub resource_version: String,
    /// `metadata.finalizers` (an update replaces the list).
    pub finalizers: Vec<String>,
}

/// A sample of the API server's own clock: the `Date` header of a response and when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerClockSample {
    /// The server's wall time (second resolution).
    pub server_time: jiff::Timestamp,
    /// When the response arrived, on our monotonic clock.
    pub received_at: MonoTime,
}

/// The Kubernetes API, reduced to what the sidecar does with it. One instance talks to one API server
/// and one namespace (the local one, or the coordination API for the global lease and policy).
pub trait Kube {
    /// Reads a lease; `NotFound` if it does not exist.
    async fn get_lease(&self, name: &str) -> Result<LeaseRecord, KubeError>;
    /// Creates a lease; `Conflict` if it exists already.
    async fn create_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError>;
    /// Replaces a lease if its resourceVersion is still `lease.resource_version`, else `Conflict`.
    async fn replace_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError>;
    /// Waits until the lease's resourceVersion differs from `resource_version` (or it is deleted),
    /// at most `timeout`. Returns the new record, `None` when deleted, `Err` on timeout or failure.
    async fn watch_lease(
        &self,
        name: &str,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<Option<LeaseRecord>, KubeError>;
    /// Reads one CardanoForgeCluster.
    async fn get_forge_cluster(&self, name: &str) -> Result<CardanoForgeCluster, KubeError>;
    /// Lists the CardanoForgeClusters matching a label selector (empty: all in the namespace).
    async fn list_forge_clusters(
        &self,
        label_selector: &str,
    ) -> Result<Vec<CardanoForgeCluster>, KubeError>;
    /// Merge-patches the status subresource of a CardanoForgeCluster.
    async fn patch_forge_cluster_status(
        &self,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<(), KubeError>;
    /// Merge-patches the status subresource of a CardanoLeader.
    async fn patch_leader_status(
        &self,
        name: &str,
        status: &CardanoLeaderStatus,
    ) -> Result<(), KubeError>;
    /// The most recent sample of this API server's clock, if any response carried a `Date` header.
    fn server_clock(&self) -> Option<ServerClockSample>;
}

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The file does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other I/O failure (permission, disk full, ...).
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Metadata of a file, for change detection and the VRF-mode check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub len: u64,
    /// Unix permission bits.
    pub mode: u32,
}

/// The credential directory shared with cardano-node, and the mounted secret sources.
pub trait Fs {
    /// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename,
    /// fsync the directory) with permission bits `mode`: a reader sees the old file or the new one.
    async fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError>;
    /// Removes `path`; `Ok(false)` if it did not exist.
    async fn remove(&self, path: &Path) -> Result<bool, FsError>;
    /// Reads a whole file (credential files are a few hundred bytes).
    async fn read(&self, path: &Path) -> Result<Vec<u8>, FsError>;
    /// Size and mode of a file; `NotFound` if absent.
    async fn metadata(&self, path: &Path) -> Result<FileMeta, FsError>;
}

/// A running cardano-node process as found in the shared process namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeProcess {
    /// Process id.
    pub pid: u32,
    /// Process start time in clock ticks since boot (`/proc/PID/stat` field 22): with the pid it
    /// identifies one process even across pid reuse.
    pub start_ticks: u64,
}

/// What the node's Prometheus endpoint said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeMetrics {
    /// `forging_enabled`: credentials loaded (`None` if the series is absent).
    pub forging_enabled: Option<bool>,
    /// The per-slot leadership-check counter (`Forge_about_to_lead`, either naming scheme).
    pub leader_checks: Option<u64>,
}

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The process is gone (exited, or its pid now belongs to another process).
    #[error("cardano-node process not found")]
    NotRunning,
    /// The signal could not be delivered.
    #[error("signal failed: {message}")]
    Signal {
        /// What was refused, and what to change.
        message: String,
        /// The system's error (`EPERM`, ...), when there was one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The metrics endpoint did not answer in time, or answered garbage.
    #[error("metrics unavailable: {0}")]
    Metrics(#[from] MetricsError),
}

impl NodeError {
    /// A signal failure without a system error (a refusal of the adapter's own).
    pub fn signal(message: impl Into<String>) -> Self {
        NodeError::Signal {
            message: message.into(),
            source: None,
        }
    }
}

/// Why the node's metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// No complete answer: refused, reset, timed out, too large, or not HTTP.
    #[error("{url}: {source}")]
    Transport {
        /// The metrics URL.
        url: String,
        /// The transport's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An answer other than 200.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The metrics URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// A body that is not text, or not the Prometheus exposition format.
    #[error("{url}: {reason}")]
    Body {
        /// The metrics URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing listens (the simulated node's metrics when it is down).
    #[error("connection refused")]
    Refused,
}

/// Why a health probe failed; any failure counts against the region's health.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The endpoint is not one the prober can use (e.g. `https://` with the built-in client).
    #[error("{0}")]
    Endpoint(String),
    /// An answer other than 200.
    #[error("HTTP {0}")]
    Status(u16),
    /// No answer: refused, reset, timed out, or not HTTP.
    #[error("{0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The cardano-node next to us.
pub trait Node {
    /// Finds the cardano-node process; `None` if it is not running.
    async fn find(&self) -> Option<NodeProcess>;
    /// Whether the node's socket accepts a connection now (not merely whether the file exists).
    async fn socket_accepts(&self) -> bool;
    /// Sends SIGHUP to exactly this process (checked against pid reuse).
    async fn sighup(&self, process: NodeProcess) -> Result<(), NodeError>;
    /// Scrapes the node's forging metrics.
    async fn metrics(&self) -> Result<NodeMetrics, NodeError>;
}

/// The region's health endpoint (an operator-run HTTP service; the design began with four ports,
/// `Clock`, `Kube`, `Fs` and `Node` (docs/architecture.md); this is a fifth, small one: the
/// endpoint is outside the pod, and the simulator must control its answer).
pub trait HealthProbe {
    /// One probe: `Ok` for HTTP 200 within `timeout`, else why not (a hung endpoint is a failure).
    async fn probe(&self, endpoint: &str, timeout: Duration) -> Result<(), ProbeError>;
}
