//! [`ProcNode`]: the `Node` port on the real cardano-node in the pod's shared process namespace.
//!
//! It owns four narrow ways of touching the node, each bounded and each stricter than the old
//! sidecar's (docs/compatibility.md §7, items 4, 7 and 8):
//!
//! - **finding** the process by its name (comm, executable, argv[0]) or, as the old sidecar did,
//!   by an argument containing the name; tied to `NODE_SOCKET` by its `--socket-path`, so another
//!   node in a shared process namespace is never taken for ours. A process found only through an
//!   argument is taken only when its own `--socket-path` names our socket, so wrapper shells and
//!   `tail .../cardano-node.log` are never mistaken for the node and never make it ambiguous; a
//!   node naming no socket is taken only by its name, and only when no other could be it;
//! - **readiness** by a real `connect()` to its socket, never by the socket file's existence (a
//!   stale file survives a crash);
//! - **SIGHUP** only to the exact process that was found (pid and start time), identified again
//!   just before the signal, and a failure to deliver it is an error, never a silent success;
//! - **metrics** with a hard deadline and a size cap, in either naming scheme.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::http_get::{self, Target};
use super::prom;
use crate::ports::{MetricsError, Node, NodeError, NodeMetrics, NodeProcess};

/// The old sidecar's default `CARDANO_NODE_PROCESS_NAME`.
pub const DEFAULT_PROCESS_NAME: &str = "cardano-node";
/// cardano-node's default Prometheus endpoint.
pub const DEFAULT_METRICS_URL: &str = "http://127.0.0.1:12798/metrics";
/// Longest wait for the node's socket to accept a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for a whole metrics scrape: a hanging endpoint must not stall the loop.
pub const DEFAULT_METRICS_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest metrics body accepted (a node's exposition is a few tens of KiB).
pub const MAX_METRICS_BYTES: usize = 4 * 1024 * 1024;
/// The kernel keeps at most this many bytes of a process name in `comm`.
const COMM_MAX: usize = 15;
/// Most `/proc` entries looked at in one scan (a pod has a handful of processes; a host thousands).
const MAX_PROC_ENTRIES: usize = 65_536;

/// The metrics URL could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid node metrics URL: {0}")]
pub struct InvalidMetricsUrl(String);

/// The real cardano-node, seen through `/proc`, its Unix socket and its metrics endpoint.
#[derive(Clone, Debug)]
pub struct ProcNode {
    /// Where the process table is mounted (`/proc`; a fake tree in tests).
    proc_root: PathBuf,
    /// The node's process name (`CARDANO_NODE_PROCESS_NAME`).
    process_name: String,
    /// The node's socket (`NODE_SOCKET`): a process is our node only when tied to it.
    socket_path: PathBuf,
    /// The metrics URL as configured, for messages.
    metrics_url: String,
    /// The parsed metrics URL.
    metrics_target: Target,
    /// Longest wait for the socket to accept.
    connect_timeout: Duration,
    /// Longest wait for a whole scrape.
    metrics_timeout: Duration,
    /// Why the last scan took no process, so each new reason is logged once, not every round.
    last_not_found: Arc<Mutex<Option<NotFound>>>,
}

/// Why no process was taken for the node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum NotFound {
    /// Nothing answers to the node's name (not started yet, or exited).
    #[error("no live process answers to the node's name")]
    NoProcess,
    /// Only nodes whose `--socket-path` is not `NODE_SOCKET`: other nodes sharing the process
    /// namespace, ours not started yet.
    #[error("only cardano-node processes serving other sockets (pids {0:?}), none on NODE_SOCKET")]
    OtherSockets(Vec<u32>),
    /// Several processes could be ours and none names `NODE_SOCKET`: none is taken or signalled.
    #[error(
        "cannot tell which process is our cardano-node (pids {0:?} name no socket, or a relative \
         one in an unreadable working directory): none is taken or signalled; give the node \
         `--socket-path NODE_SOCKET` on its command line"
    )]
    Ambiguous(Vec<u32>),
}

impl ProcNode {
    /// A node named `process_name` (e.g. [`DEFAULT_PROCESS_NAME`]) listening on `socket_path`,
    /// exposing metrics at `metrics_url` (plain `http://host:port/path`, e.g.
    /// [`DEFAULT_METRICS_URL`]); `/proc` and the default timeouts.
    pub fn new(
        process_name: impl Into<String>,
        socket_path: impl Into<PathBuf>,
        metrics_url: &str,
    ) -> Result<Self, InvalidMetricsUrl> {
        let metrics_target = Target::parse(metrics_url).map_err(InvalidMetricsUrl)?;
        Ok(ProcNode {
            proc_root: PathBuf::from("/proc"),
            process_name: process_name.into(),
            socket_path: socket_path.into(),
            metrics_url: metrics_url.to_string(),
            metrics_target,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            metrics_timeout: DEFAULT_METRICS_TIMEOUT,
            last_not_found: Arc::new(Mutex::new(None)),
        })
    }

    /// Reads the process table from `root` instead of `/proc` (tests).
    pub fn with_proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    /// Overrides the socket connect timeout and the whole-scrape metrics timeout.
    pub fn with_timeouts(mut self, connect: Duration, metrics: Duration) -> Self {
        self.connect_timeout = connect;
        self.metrics_timeout = metrics;
        self
    }

    /// The socket path this node is judged by.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }
}

impl Node for ProcNode {
    async fn find(&self) -> Option<NodeProcess> {
        let (root, name, socket) = (
            self.proc_root.clone(),
            self.process_name.clone(),
            self.socket_path.clone(),
        );
        // Reading another process's cmdline can block while its memory map is locked, so the scan
        // runs on the blocking pool rather than on the loop's thread.
        let found = tokio::task::spawn_blocking(move || scan(&root, &name, &socket))
            .await
            .ok()?;
        let why = found.as_ref().err().cloned();
        let mut last = self
            .last_not_found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last != why {
            match &why {
                Some(NotFound::NoProcess) | None => {}
                Some(reason) => tracing::warn!(
                    socket = %self.socket_path.display(),
                    "cardano-node not found: {reason}"
                ),
            }
            *last = why;
        }
        found.ok()
    }

    async fn socket_accepts(&self) -> bool {
        let connect = tokio::net::UnixStream::connect(&self.socket_path);
        // The stream is dropped (closed) at once: the connection only proves the node listens.
        matches!(
            tokio::time::timeout(self.connect_timeout, connect).await,
            Ok(Ok(_))
        )
    }

    async fn sighup(&self, process: NodeProcess) -> Result<(), NodeError> {
        let (root, name, socket) = (
            self.proc_root.clone(),
            self.process_name.clone(),
            self.socket_path.clone(),
        );
        tokio::task::spawn_blocking(move || {
            // Identify the node again right before the signal: the pid, its start time and its
            // command line must still make it the one process tied to NODE_SOCKET.
            match scan(&root, &name, &socket) {
                Ok(p) if p == process => {}
                Err(e @ NotFound::Ambiguous(_)) => {
                    return Err(NodeError::signal(format!(
                        "refusing to send SIGHUP to pid {}: {e}",
                        process.pid
                    )));
                }
                _ => return Err(NodeError::NotRunning),
            }
            signal_exact(&root, process, Signal::SIGHUP)
        })
        .await
        .map_err(|e| NodeError::Signal {
            message: format!("signal task failed: {e}"),
            source: Some(std::io::Error::other(e)),
        })?
    }

    async fn metrics(&self) -> Result<NodeMetrics, NodeError> {
        let url = || self.metrics_url.clone();
        let (status, body) = http_get::get(
            &self.metrics_target,
            self.metrics_timeout,
            MAX_METRICS_BYTES,
        )
        .await
        .map_err(|e| MetricsError::Transport {
            url: url(),
            source: Box::new(e),
        })?;
        if status != 200 {
            return Err(MetricsError::Status { url: url(), status }.into());
        }
        let text = std::str::from_utf8(&body).map_err(|_| MetricsError::Body {
            url: url(),
            reason: "body is not UTF-8 text".into(),
        })?;
        prom::parse(text).map_err(|e| {
            MetricsError::Body {
                url: url(),
                reason: e.to_string(),
            }
            .into()
        })
    }
}

/// What `/proc/PID/stat` says that matters here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    /// Field 3: R, S, D, Z, ...
    state: char,
    /// Field 22: start time in clock ticks since boot.
    start_ticks: u64,
}

impl Stat {
    fn is_dead(self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `/proc/PID/stat`. The second field is the process name in parentheses and may itself
/// contain spaces and parentheses, so fields are counted from the **last** `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // `fields` now starts at field 4; field 22 is 18 further.
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_ticks })
}

fn read_stat(root: &Path, pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(root.join(pid.to_string()).join("stat")).ok()?;
    parse_stat(&text)
}

/// What a process's command line says of the socket it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Serves {
    /// `--socket-path` is `NODE_SOCKET`: the same path, or the same file seen through the
    /// process's own root (its container may mount the directory elsewhere).
    Ours,
    /// `--socket-path` is another path, not proven to be the same file: never our node.
    Other,
    /// No `--socket-path` (the node's config file may name it): ours only if nothing else can be.
    Unnamed,
    /// A relative `--socket-path` in a working directory we cannot read: could be ours, so it
    /// makes a nameless node ambiguous, but is never taken itself.
    Unknown,
}

/// One process that answers to the node's name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    pid: u32,
    start_ticks: u64,
    /// Which socket its command line names.
    serves: Serves,
    /// Whether its executable is called like the node (`None`: the link is unreadable).
    exe_match: Option<bool>,
    /// Whether it answers to the node's name (comm, executable or argv[0]), rather than only
    /// through an argument containing it.
    named: bool,
}

/// Scans `root` for our node. A process answering to the node's name, or with an argument
/// containing it, is ours when its `--socket-path` is `socket` (among several, the real binary
/// before a wrapper script named like the node, then one found by its name before one found by an
/// argument, then the oldest); never when it names another socket. A process naming no socket is
/// ours only when it answers to the name and is the only one that could be ours (a wrapper script
/// whose executable is a shell does not count beside the real binary); two or more are ambiguous
/// and none is taken. One found only by an argument and naming no socket never counts: a log tail
/// or a shell running the node by name says nothing about which process serves our socket.
fn scan(root: &Path, name: &str, socket: &Path) -> Result<NodeProcess, NotFound> {
    let entries = std::fs::read_dir(root).map_err(|_| NotFound::NoProcess)?;
    let mut all: Vec<Candidate> = entries
        .take(MAX_PROC_ENTRIES)
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| candidate(root, pid, name, socket))
        .collect();
    all.sort_by_key(|c| c.pid);
    let process = |c: &Candidate| NodeProcess {
        pid: c.pid,
        start_ticks: c.start_ticks,
    };
    if let Some(best) = all
        .iter()
        .filter(|c| c.serves == Serves::Ours)
        .min_by_key(|c| (c.exe_match != Some(true), !c.named, c.start_ticks, c.pid))
    {
        return Ok(process(best));
    }
    let mut maybe: Vec<&Candidate> = all
        .iter()
        .filter(|c| c.named && matches!(c.serves, Serves::Unnamed | Serves::Unknown))
        .collect();
    if maybe.iter().any(|c| c.exe_match == Some(true)) {
        maybe.retain(|c| c.exe_match != Some(false));
    }
    match maybe.as_slice() {
        [only] if only.serves == Serves::Unnamed => Ok(process(only)),
        [] if all.iter().all(|c| c.serves != Serves::Other) => Err(NotFound::NoProcess),
        [] => Err(NotFound::OtherSockets(
            all.iter()
                .filter(|c| c.serves == Serves::Other)
                .map(|c| c.pid)
                .collect(),
        )),
        several => Err(NotFound::Ambiguous(several.iter().map(|c| c.pid).collect())),
    }
}

fn candidate(root: &Path, pid: u32, name: &str, socket: &Path) -> Option<Candidate> {
    let dir = root.join(pid.to_string());
    let stat = read_stat(root, pid)?;
    if stat.is_dead() {
        return None;
    }
    let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // Unreadable for another user's process without ptrace rights: then comm and argv[0] decide.
    let exe_match = std::fs::read_link(dir.join("exe")).ok().map(|p| {
        let s = p.to_string_lossy();
        basename(s.strip_suffix(" (deleted)").unwrap_or(&s)) == name
    });
    let comm_match = comm.trim_end_matches('\n') == truncated(name);
    let argv0_match = args.first().is_some_and(|a| basename(a) == name);
    let named = comm_match || exe_match == Some(true) || argv0_match;
    if !named && !mentions(&args, name) {
        return None;
    }
    let serves = match socket_arg(&args).map(Path::new) {
        None => Serves::Unnamed,
        Some(p) => {
            // The path as the process means it (a relative one in its working directory), and the
            // same file reached through its own root and working directory: the node's container
            // may mount the socket's directory elsewhere than ours.
            let (named, through_proc) = match p.strip_prefix("/") {
                Ok(rel) => (Some(p.to_path_buf()), dir.join("root").join(rel)),
                Err(_) => (
                    std::fs::read_link(dir.join("cwd"))
                        .ok()
                        .map(|cwd| cwd.join(p)),
                    dir.join("cwd").join(p),
                ),
            };
            if named.as_deref() == Some(socket) || same_file(&through_proc, socket) {
                Serves::Ours
            } else if named.is_some() {
                Serves::Other
            } else {
                Serves::Unknown
            }
        }
    };
    Some(Candidate {
        pid,
        start_ticks: stat.start_ticks,
        serves,
        exe_match,
        named,
    })
}

/// Whether both paths exist and are one file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The name as the kernel stores it in comm (at most 15 bytes).
fn truncated(name: &str) -> &str {
    let mut end = name.len().min(COMM_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Whether an argument other than the `--socket-path` value contains `name`: a client such as
/// `cardano-cli query tip --socket-path /ipc/cardano-node.socket` is not the node.
fn mentions(args: &[String], name: &str) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--socket-path" {
            it.next();
        } else if !a.starts_with("--socket-path=") && a.contains(name) {
            return true;
        }
    }
    false
}

/// The value of `--socket-path X` or `--socket-path=X`.
fn socket_arg(args: &[String]) -> Option<&str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--socket-path" {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix("--socket-path=") {
            return Some(v);
        }
    }
    None
}

/// Sends `signal` to `process` if that pid still belongs to the same process (same start time).
/// A pid reused between this check and `kill` would need the node to exit and the pid counter to
/// wrap in microseconds; a pidfd would close even that window, at the cost of raw syscalls.
fn signal_exact(root: &Path, process: NodeProcess, signal: Signal) -> Result<(), NodeError> {
    match read_stat(root, process.pid) {
        Some(s) if s.start_ticks == process.start_ticks && !s.is_dead() => {}
        _ => return Err(NodeError::NotRunning),
    }
    let pid = i32::try_from(process.pid).map_err(|_| NodeError::NotRunning)?;
    match kill(Pid::from_raw(pid), signal) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => Err(NodeError::NotRunning),
        Err(Errno::EPERM) => Err(NodeError::Signal {
            message: format!(
                "not permitted to send {signal} to pid {pid}: the sidecar must run as \
                 cardano-node's user (or with CAP_KILL) in a pod with shareProcessNamespace: true"
            ),
            source: Some(Errno::EPERM.into()),
        }),
        Err(e) => Err(NodeError::Signal {
            message: format!("{signal} to pid {pid}: {e}"),
            source: Some(e.into()),
        }),
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
