//! `forge-sim fake-node`: a stand-in cardano-node, as a real process, for end-to-end tests of the
//! production `Node` and `Fs` adapters and of the sidecar binary (docs/architecture.md, "How
//! cardano-node behaves").
//!
//! It behaves like cardano-node where the sidecar can tell the difference:
//!
//! - it calls itself `cardano-node` (process name) so `ProcNode::find` finds it;
//! - at start it checks the three credential files (present, readable, a text envelope of the right
//!   type with hex `cborHex`, the VRF key not readable by "other") and exits with code 1 otherwise;
//! - it always starts **non-producing** (credentials checked, not loaded for forging), whether or
//!   not `--non-producing` is given: the flag is accepted for command-line parity only;
//! - during `--startup` SIGHUP has its default action (the process dies) and the socket does not
//!   accept; afterwards the SIGHUP handler is installed first, then the socket is bound;
//! - on SIGHUP, after `--sighup-delay`, it re-reads the files: all valid → forging with them; any
//!   missing → not forging; any present but invalid (including a VRF key readable by "other") →
//!   an error is logged and the state is kept;
//! - it serves `/metrics` in both naming schemes, with a leadership-check counter that rises at
//!   each slot start (every whole Unix second, as on the known networks) while forging, and once
//!   at once for the slot in progress when a SIGHUP loads valid keys (a real node's new forging
//!   threads check the current slot immediately: docs/adapters.md), and `/state` as JSON, with
//!   the Unix millisecond at which forging last changed and the slots last checked;
//! - it exits cleanly (code 0) on SIGTERM or SIGINT.

mod credentials;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use forge_manager::credentials::CredentialPaths;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};

pub use credentials::{Check, check};

/// The name the process gives itself, as the real node's executable is called.
pub const PROCESS_NAME: &str = "cardano-node";

/// Command line of `forge-sim fake-node`.
#[derive(Clone, Debug, clap::Args)]
pub struct FakeNodeArgs {
    /// Unix socket to listen on once startup is over.
    #[arg(long)]
    pub socket_path: PathBuf,
    /// Address of the Prometheus (`/metrics`) and `/state` endpoint.
    #[arg(long, default_value = "127.0.0.1:12798")]
    pub metrics_listen: SocketAddr,
    /// KES signing key file.
    #[arg(long)]
    pub kes: PathBuf,
    /// VRF signing key file.
    #[arg(long)]
    pub vrf: PathBuf,
    /// Operational certificate file.
    #[arg(long)]
    pub opcert: PathBuf,
    /// How long startup (ledger replay) lasts: SIGHUP kills, the socket does not accept.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub startup: Duration,
    /// How long after a SIGHUP the files are re-read.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub sighup_delay: Duration,
    /// Accepted for parity with cardano-node; the fake node always starts non-producing.
    #[arg(long)]
    pub non_producing: bool,
}

/// What the fake node is doing, as `/state` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeState {
    /// Credentials loaded for forging.
    pub forging: bool,
    /// Fingerprint of the loaded operational certificate (`None` when not forging).
    pub credentials: Option<String>,
    /// This process's id.
    pub pid: u32,
    /// SIGHUPs handled (after startup).
    pub sighups: u64,
    /// Leadership checks run: one at each slot start while forging. Slots are 1 s long and start
    /// on whole Unix seconds, as on every known network (genesis `systemStart` is a whole second).
    pub leader_checks: u64,
    /// Unix milliseconds of the last change of `forging` (0: never changed): what an end-to-end
    /// test compares with the slot clock to count the slots a handover missed.
    pub forging_changed_ms: i64,
    /// Startup is over: the socket accepts.
    pub ready: bool,
    /// The slot (Unix second) of the last leadership check.
    #[serde(default)]
    pub last_check_slot: Option<i64>,
    /// The slot checked at once when a SIGHUP last enabled forging (or reloaded its keys).
    #[serde(default)]
    pub enable_check_slot: Option<i64>,
}

/// The state shared by the signal loop, the ticker and the HTTP server.
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<Mutex<NodeState>>);

impl Shared {
    /// Locks the state (a poisoned lock still holds a consistent state: every update is one
    /// assignment, so the data is taken as is).
    pub fn lock(&self) -> MutexGuard<'_, NodeState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The project's one duration grammar (`300ms`, `5s`, `1m30s`), as clap's value parser.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    forge_manager::config::duration::parse_duration(s).map_err(|e| format!("expected {e}"))
}

/// Runs the fake node until SIGTERM/SIGINT; exit code 1 on bad credentials or a setup failure.
/// Synchronous on purpose: the process name is set on the calling (main) thread before any runtime
/// thread exists, and the node runs on its own current-thread runtime.
pub fn main(args: FakeNodeArgs) -> ExitCode {
    let pid = std::process::id();
    if let Err(e) = become_cardano_node() {
        eprintln!("fake-node: cannot set the process name: {e}");
        return ExitCode::from(1);
    }
    println!("fake-node: pid {pid}");
    let paths = CredentialPaths {
        kes: args.kes.clone(),
        vrf: args.vrf.clone(),
        opcert: args.opcert.clone(),
    };
    match check(&paths) {
        Check::Valid { .. } => {}
        Check::Missing(files) => {
            eprintln!(
                "fake-node: missing credential file(s): {}",
                files.join(", ")
            );
            return ExitCode::from(1);
        }
        Check::Invalid(problem) => {
            eprintln!("fake-node: invalid credentials: {problem}");
            return ExitCode::from(1);
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-node: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args, paths, pid)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-node: {e}");
            ExitCode::from(1)
        }
    }
}

/// Names the process `cardano-node` and gives SIGHUP its default action (terminate) and unblocks
/// it, whatever the parent left us (e.g. `nohup`), so an early SIGHUP kills us like the real node.
fn become_cardano_node() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
    let name = c"cardano-node";
    nix::sys::prctl::set_name(name)?;
    // SAFETY: installing SIG_DFL runs no code of ours in signal context; no other thread exists yet.
    unsafe { nix::sys::signal::signal(Signal::SIGHUP, SigHandler::SigDfl) }?;
    let mut set = SigSet::empty();
    set.add(Signal::SIGHUP);
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None)
}

async fn run(args: FakeNodeArgs, paths: CredentialPaths, pid: u32) -> Result<(), String> {
    let shared = Shared::default();
    shared.lock().pid = pid;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let http = tokio::net::TcpListener::bind(args.metrics_listen)
        .await
        .map_err(|e| format!("binding {}: {e}", args.metrics_listen))?;
    tokio::spawn(server::serve(http, shared.clone()));
    eprintln!(
        "fake-node: starting (non-producing), startup {:?}, metrics on {}",
        args.startup, args.metrics_listen
    );

    // Startup: no SIGHUP handler (a SIGHUP kills us), no socket.
    tokio::select! {
        _ = tokio::time::sleep(args.startup) => {}
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    }
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP handler: {e}"))?;
    let listener = bind_socket(&args.socket_path)?;
    shared.lock().ready = true;
    eprintln!(
        "fake-node: startup over, socket {}",
        args.socket_path.display()
    );

    // The leadership check runs at each slot start: the next whole Unix second, then every second.
    let into_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let first = tokio::time::Instant::now()
        + (Duration::from_secs(1) - Duration::from_nanos(u64::from(into_second)));
    let mut ticker = tokio::time::interval_at(first, Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let result = loop {
        tokio::select! {
            _ = hup.recv() => {
                tokio::time::sleep(args.sighup_delay).await;
                reload(&paths, &shared);
            }
            _ = ticker.tick() => {
                let mut s = shared.lock();
                if s.forging {
                    s.leader_checks += 1;
                    s.last_check_slot = Some(unix_ms().div_euclid(1000));
                }
            }
            accepted = listener.accept() => {
                // Accept and close: a connection only proves the node is up.
                if let Err(e) = accepted {
                    eprintln!("fake-node: accept failed: {e}");
                }
            }
            _ = term.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
        }
    };
    let _ = std::fs::remove_file(&args.socket_path);
    eprintln!("fake-node: stopped");
    result
}

/// Binds the node socket, removing a stale socket file left by an earlier run first.
fn bind_socket(path: &std::path::Path) -> Result<UnixListener, String> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing stale {}: {e}", path.display())),
    }
    UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))
}

/// The SIGHUP rule: all valid → forge with them; any missing → stop; any invalid → keep.
fn reload(paths: &CredentialPaths, shared: &Shared) {
    let outcome = check(paths);
    let mut s = shared.lock();
    let was = s.forging;
    let loads = matches!(outcome, Check::Valid { .. });
    s.sighups += 1;
    apply(&mut s, outcome);
    let now = unix_ms();
    if s.forging != was {
        s.forging_changed_ms = now;
    }
    if loads {
        // New forging threads: the slot in progress is checked at once.
        let slot = now.div_euclid(1000);
        s.leader_checks += 1;
        s.last_check_slot = Some(slot);
        s.enable_check_slot = Some(slot);
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn apply(s: &mut NodeState, outcome: Check) {
    match outcome {
        Check::Valid { fingerprint } => {
            eprintln!("fake-node: SIGHUP: forging enabled with {fingerprint}");
            s.forging = true;
            s.credentials = Some(fingerprint);
        }
        Check::Missing(files) => {
            eprintln!(
                "fake-node: SIGHUP: {} missing, forging disabled",
                files.join(", ")
            );
            s.forging = false;
            s.credentials = None;
        }
        Check::Invalid(problem) => {
            eprintln!(
                "fake-node: SIGHUP: error: invalid credentials ({problem}); keeping forging={}",
                s.forging
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_the_one_duration_grammar() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["7", "1.5s", "ms", "5x"] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.starts_with("expected "), "{bad}: {err}");
        }
    }
}
