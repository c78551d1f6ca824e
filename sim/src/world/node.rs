//! The simulated cardano-node, following every fact of docs/architecture.md, "How cardano-node
//! behaves":
//!
//! - at start it reads the three credential files; a missing or invalid file, or a VRF key readable
//!   by "other", makes it exit (the pod restarts it with a crash-loop back-off; counted);
//! - it starts non-producing; for `startup` it replays the ledger: no socket, and a SIGHUP kills it
//!   (its handler is not installed yet);
//! - after startup its socket accepts connections; a SIGHUP takes `sighup_delay`, then re-reads
//!   the files: all valid → forging with them; one missing → not forging; one present but invalid
//!   → an error and the previous state is kept;
//! - its metrics report `forging_enabled` (credentials loaded: decoys count too);
//! - it **forges** (the oracle's definition) while it has the pool's real credentials loaded, its
//!   consensus runs, and its pod is not frozen. Decoy credentials load but never forge;
//! - a frozen pod's node makes no progress: a replay or a SIGHUP being handled when the freeze
//!   begins needs the same remaining time after the thaw (a stopped process does no work).
//!
//! Leadership checks follow a real cardano-node (docs/adapters.md, "What the node does at a slot
//! start and on SIGHUP", read in cardano-node 8.7.2–11.0.1 `Cardano.Node.Run.updateBlockForging`
//! and ouroboros-consensus `Ouroboros.Consensus.NodeKernel.forkBlockForging`): a forging node checks
//! just after each slot start, and once at once for the slot in progress when a SIGHUP enables
//! forging part-way through it (or its pod thaws in a later slot than it froze in). The oracle
//! derives the checks from the forging intervals this model produces
//! (`oracle::timeline::leadership_checks`). Unlike a real node, slots start on the world's clock,
//! not on each pod's skewed or drifting one.

use std::time::Duration;

use forge_manager::credentials::{
    CredentialFile, CredentialPaths, CredentialSet, fingerprint, validate,
};

use super::fs::PodFiles;

/// A running node process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProc {
    /// Process id.
    pub pid: u32,
    /// Simulated instant it started.
    pub started: Duration,
    /// When its replay ends (socket accepts, SIGHUP handler installed).
    pub ready_at: Duration,
    /// Fingerprint of the operational certificate it forges with, if forging is enabled.
    pub loaded: Option<String>,
    /// A SIGHUP being handled: its files are re-read at this instant.
    pub sighup_due: Option<Duration>,
}

/// Why the node process is not running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Down {
    /// The pod is gone (crashed, shut down); nothing restarts the node until the pod is back.
    PodGone,
    /// Waiting for the sidecar's startup status before the first start (native-sidecar order).
    WaitingForSidecar,
    /// Exited; the kubelet starts it again at this instant.
    RestartAt(Duration),
}

/// One pod's node, as the world drives it.
#[derive(Clone, Debug)]
pub struct NodeModel {
    /// The process, if one runs.
    pub process: Option<NodeProc>,
    /// Why none runs.
    pub down: Down,
    /// Credential-file exits at start (the oracle's `node_exits`).
    pub exits: u32,
    /// Consecutive failed starts (back-off).
    failures: u32,
    next_pid: u32,
    startup: Duration,
    /// The `[node]` default SIGHUP handling time.
    default_sighup_delay: Duration,
    /// The current one: the default, or a `node-slow` fault's (kept across node and pod
    /// restarts, like a `drift`: it belongs to the pod slot, see scenarios/README.md).
    sighup_delay: Duration,
    target: CredentialPaths,
}

/// What a start or a SIGHUP did, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// The node exited at start; the reason.
    Exited(String),
    /// A SIGHUP reached it during startup and killed it.
    KilledBySighup,
}

impl NodeModel {
    /// A node that waits for its sidecar.
    pub fn new(
        startup: Duration,
        sighup_delay: Duration,
        target: CredentialPaths,
        pid_base: u32,
    ) -> Self {
        NodeModel {
            process: None,
            down: Down::WaitingForSidecar,
            exits: 0,
            failures: 0,
            next_pid: pid_base,
            startup,
            default_sighup_delay: sighup_delay,
            sighup_delay,
            target,
        }
    }

    /// From now on a SIGHUP takes `delay` to apply (`node-slow`); zero restores the default. A
    /// SIGHUP already being handled keeps its instant.
    pub fn set_sighup_delay(&mut self, delay: Duration) {
        self.sighup_delay = if delay.is_zero() {
            self.default_sighup_delay
        } else {
            delay
        };
    }

    /// The SIGHUP handling time now in force.
    pub fn sighup_delay(&self) -> Duration {
        self.sighup_delay
    }

    /// Starts a process reading `files`; `Err` with the reason if it exits at once.
    pub fn start(&mut self, now: Duration, files: &PodFiles) -> Result<(), NodeEvent> {
        self.process = None;
        if let Err(reason) = self.check_files(files) {
            self.exits += 1;
            self.failures += 1;
            // The kubelet's crash-loop back-off: 10 s doubling, at most 5 min.
            let backoff = Duration::from_secs(10u64 << self.failures.saturating_sub(1).min(5))
                .min(Duration::from_secs(300));
            self.down = Down::RestartAt(now + backoff);
            return Err(NodeEvent::Exited(reason));
        }
        self.next_pid += 1;
        self.process = Some(NodeProc {
            pid: self.next_pid,
            started: now,
            ready_at: now + self.startup,
            loaded: None,
            sighup_due: None,
        });
        Ok(())
    }

    /// The pod is gone: no process, nothing restarts it.
    pub fn pod_gone(&mut self) {
        self.process = None;
        self.down = Down::PodGone;
        self.failures = 0;
    }

    /// A new pod: the node waits for the new sidecar.
    pub fn pod_new(&mut self) {
        self.process = None;
        self.down = Down::WaitingForSidecar;
        self.failures = 0;
    }

    /// Handles a SIGHUP to `pid` at `now`.
    pub fn sighup(&mut self, pid: u32, now: Duration) -> Result<(), Option<NodeEvent>> {
        let Some(p) = self.process.as_mut().filter(|p| p.pid == pid) else {
            return Err(None);
        };
        if now < p.ready_at {
            self.process = None;
            self.down = Down::RestartAt(now + Duration::from_secs(10));
            return Err(Some(NodeEvent::KilledBySighup));
        }
        // Several SIGHUPs while one is handled coalesce into one re-read.
        if p.sighup_due.is_none() {
            p.sighup_due = Some(now + self.sighup_delay);
        }
        Ok(())
    }

    /// The pod is frozen from `now` for `extra` more time: the replay and a SIGHUP being handled
    /// are postponed by as much, because a stopped process does no work. (The kubelet's restart
    /// back-off runs outside the pod and is not held.)
    pub fn hold(&mut self, now: Duration, extra: Duration) {
        if let Some(p) = self.process.as_mut() {
            if p.ready_at > now {
                p.ready_at += extra;
            }
            if let Some(due) = p.sighup_due.as_mut() {
                *due += extra;
            }
        }
    }

    /// Advances to `now`: restarts after a back-off, due SIGHUP re-reads.
    pub fn advance(&mut self, now: Duration, files: &PodFiles) -> Option<NodeEvent> {
        if let Down::RestartAt(at) = self.down
            && self.process.is_none()
            && now >= at
        {
            return self.start(now, files).err();
        }
        // Files are read (and validated: two signature checks) only when a SIGHUP is due, never
        // on every tick: that read was 80% of the simulator's time.
        let due = self
            .process
            .as_ref()
            .is_some_and(|p| p.sighup_due.is_some_and(|due| now >= due));
        let sets = if due {
            Some(self.read_sets(files))
        } else {
            None
        };
        if let Some(sets) = sets
            && let Some(p) = self.process.as_mut()
        {
            p.sighup_due = None;
            match sets {
                Reread::Valid(fp) => p.loaded = Some(fp),
                Reread::Missing => p.loaded = None,
                // Present but invalid: an error is logged, the previous state kept.
                Reread::Invalid => {}
            }
        }
        if self.process.as_ref().is_some_and(|p| now >= p.ready_at) {
            self.failures = 0;
        }
        None
    }

    /// Whether the socket accepts connections at `now`.
    pub fn ready(&self, now: Duration) -> bool {
        self.process.as_ref().is_some_and(|p| now >= p.ready_at)
    }

    /// The fingerprint it forges with, if its consensus runs and forging is enabled.
    pub fn forging_with(&self, now: Duration) -> Option<&str> {
        self.process
            .as_ref()
            .filter(|p| now >= p.ready_at)
            .and_then(|p| p.loaded.as_deref())
    }

    /// A node restart (new pid, non-producing), as the `node-restart` fault does.
    pub fn restart(&mut self, now: Duration, files: &PodFiles) -> Result<(), NodeEvent> {
        self.start(now, files)
    }

    fn check_files(&self, files: &PodFiles) -> Result<(), String> {
        let mut parts = Vec::with_capacity(3);
        for f in CredentialFile::ALL {
            match files.get(self.target.get(f)) {
                None => return Err(format!("{} missing", f.label())),
                Some((bytes, mode)) => {
                    if f == CredentialFile::Vrf && mode & 0o004 != 0 {
                        return Err("VRF key readable by others".into());
                    }
                    parts.push(bytes);
                }
            }
        }
        let set = set_of(parts);
        validate(&set).map_err(|e| format!("invalid credentials: {e}"))
    }

    fn read_sets(&self, files: &PodFiles) -> Reread {
        let mut parts = Vec::with_capacity(3);
        for f in CredentialFile::ALL {
            match files.get(self.target.get(f)) {
                None => return Reread::Missing,
                Some((bytes, _)) => parts.push(bytes),
            }
        }
        let set = set_of(parts);
        match validate(&set) {
            Ok(()) => Reread::Valid(fingerprint(&set.opcert)),
            Err(_) => Reread::Invalid,
        }
    }
}

enum Reread {
    Valid(String),
    Missing,
    Invalid,
}

fn set_of(parts: Vec<Vec<u8>>) -> CredentialSet {
    let mut it = parts.into_iter();
    CredentialSet {
        kes: it.next().unwrap_or_default(),
        vrf: it.next().unwrap_or_default(),
        opcert: it.next().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use forge_manager::credentials::sample_set;

    use super::*;

    fn setup() -> (NodeModel, PodFiles, CredentialPaths) {
        let target = CredentialPaths::in_dir(Path::new("/opt/cardano/secrets"));
        let node = NodeModel::new(
            Duration::from_secs(5),
            Duration::from_millis(50),
            target.clone(),
            100,
        );
        (node, PodFiles::default(), target)
    }

    fn put(files: &PodFiles, paths: &CredentialPaths, set: &CredentialSet) {
        for f in CredentialFile::ALL {
            files.put(paths.get(f), set.get(f), 0o600);
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// A node started at 0 s with the real set in place (not yet forging: no SIGHUP), and its pid.
    fn started_with_real_keys() -> (NodeModel, PodFiles, CredentialPaths, CredentialSet, u32) {
        let (mut n, files, t) = setup();
        let real = sample_set("real");
        put(&files, &t, &real);
        n.start(S(0), &files).ok();
        let pid = n.process.as_ref().map(|p| p.pid).unwrap_or_default();
        (n, files, t, real, pid)
    }

    #[test]
    fn a_node_without_files_exits_at_start_with_a_back_off() {
        let (mut n, files, _) = setup();
        assert!(
            matches!(n.start(S(0), &files), Err(NodeEvent::Exited(r)) if r.contains("missing"))
        );
        assert_eq!(n.exits, 1);
        assert_eq!(n.down, Down::RestartAt(S(10)));
        assert_eq!(n.advance(S(9), &files), None);
        assert!(n.advance(S(10), &files).is_some());
        assert_eq!(n.down, Down::RestartAt(S(30)));
    }

    #[test]
    fn a_world_readable_vrf_key_stops_the_node() {
        let (mut n, files, t) = setup();
        put(&files, &t, &sample_set("decoy"));
        files.put(&t.vrf, &sample_set("decoy").vrf, 0o644);
        assert!(matches!(n.start(S(0), &files), Err(NodeEvent::Exited(r)) if r.contains("VRF")));
    }

    #[test]
    fn it_starts_non_producing_and_a_sighup_during_replay_kills_it() {
        let (mut n, files, t) = setup();
        put(&files, &t, &sample_set("real"));
        assert_eq!(n.start(S(0), &files), Ok(()));
        assert!(!n.ready(S(4)));
        assert_eq!(n.forging_with(S(6)), None, "non-producing until a SIGHUP");
        let pid = n.process.as_ref().map(|p| p.pid).unwrap_or_default();
        assert_eq!(n.sighup(pid, S(4)), Err(Some(NodeEvent::KilledBySighup)));
        assert!(n.process.is_none());
    }

    #[test]
    fn sighup_enables_with_valid_files_disables_when_missing_and_keeps_state_when_invalid() {
        let (mut n, files, t, real, pid) = started_with_real_keys();
        let ms = Duration::from_millis;
        assert_eq!(n.sighup(pid, S(6)), Ok(()));
        n.advance(S(6) + ms(49), &files);
        assert_eq!(
            n.forging_with(S(6) + ms(49)),
            None,
            "the SIGHUP takes sighup_delay"
        );
        n.advance(S(6) + ms(50), &files);
        assert_eq!(n.forging_with(S(7)), Some(real.fingerprint().as_str()));
        // Half-written opcert: error logged, old state kept.
        files.put(&t.opcert, b"{\"type\":", 0o600);
        n.sighup(pid, S(8)).ok();
        n.advance(S(9), &files);
        assert_eq!(n.forging_with(S(9)), Some(real.fingerprint().as_str()));
        // Missing: disabled.
        files.remove(&t.opcert);
        n.sighup(pid, S(10)).ok();
        n.advance(S(11), &files);
        assert_eq!(n.forging_with(S(11)), None);
    }

    #[test]
    fn node_slow_delays_every_later_sighup_survives_a_restart_and_zero_restores_the_default() {
        let (mut n, files, _, real, pid) = started_with_real_keys();
        let ms = Duration::from_millis;
        n.set_sighup_delay(S(3));
        assert_eq!(n.sighup(pid, S(6)), Ok(()));
        n.advance(S(8) + ms(999), &files);
        assert_eq!(n.forging_with(S(8) + ms(999)), None, "3 s, not 50 ms");
        n.advance(S(9), &files);
        assert_eq!(n.forging_with(S(9)), Some(real.fingerprint().as_str()));
        // A pod restart keeps the setting (it belongs to the pod slot).
        n.pod_gone();
        n.pod_new();
        assert_eq!(n.sighup_delay(), S(3));
        n.set_sighup_delay(Duration::ZERO);
        assert_eq!(n.sighup_delay(), ms(50), "0s restores the [node] default");
    }

    #[test]
    fn a_freeze_postpones_the_sighup_being_handled_and_the_replay() {
        let (mut n, files, t, real, pid) = started_with_real_keys();
        assert_eq!(n.sighup(pid, S(5)), Ok(()));
        n.advance(S(6), &files);
        assert_eq!(n.forging_with(S(6)), Some(real.fingerprint().as_str()));
        // The disabling SIGHUP is due at 6s + 50ms; the pod freezes at 6s for 3s.
        files.remove(&t.opcert);
        let ms = Duration::from_millis;
        n.sighup(pid, S(6)).ok();
        n.hold(S(6), S(3));
        n.advance(S(9), &files);
        assert!(
            n.forging_with(S(9)).is_some(),
            "still enabled at the thaw: the handler did not run while frozen"
        );
        n.advance(S(9) + ms(50), &files);
        assert_eq!(
            n.forging_with(S(9) + ms(50)),
            None,
            "done 50ms after the thaw"
        );

        // A freeze during the replay postpones the socket.
        put(&files, &t, &real);
        let mut m = n.clone();
        assert_eq!(m.restart(S(20), &files), Ok(()));
        m.hold(S(21), S(10));
        assert!(!m.ready(S(26)), "a frozen replay makes no progress");
        assert!(m.ready(S(35)));
    }
}
