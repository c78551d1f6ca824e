//! One lab pod: what it runs (a [`PodSpec`]), the supervisor that runs it as a pod would
//! (`forge-sim lab-pod`, the first process of the pod's own PID namespace where the machine
//! allows one), and the lab's handle on it.
//!
//! Start order is the manifests': the `forge-manager run` native sidecar first, until its startup
//! probe (`/startup-status`) answers 200; then the watchdog sidecar; then cardano-node (here the
//! fake node). Termination is the kubelet's: SIGTERM to the main container (the node), then to
//! the sidecars in reverse start order, each given the rest of the grace period before SIGKILL.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// Everything the supervisor needs, written by the lab as `DIR/pod.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodSpec {
    /// The pod's name (`bp-REGION-N`).
    pub name: String,
    /// The pod's directory (logs, files, journal).
    pub dir: PathBuf,
    /// The `forge-manager` binary.
    pub forge_manager: PathBuf,
    /// The `forge-sim` binary (the fake node).
    pub forge_sim: PathBuf,
    /// The environment of both sidecars (nothing else is inherited but PATH).
    pub env: Vec<(String, String)>,
    /// The sidecar's HTTP port (`/startup-status`, `/metrics`).
    pub http_port: u16,
    /// The fake node's arguments after `fake-node`.
    pub node_args: Vec<String>,
    /// The termination grace period.
    pub grace: Duration,
}

/// `forge-sim lab-pod SPEC`: runs one pod until SIGTERM (graceful) or its death.
pub fn supervise(spec_path: &Path) -> std::process::ExitCode {
    match supervise_inner(spec_path) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-sim lab-pod: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn supervise_inner(spec_path: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let spec: PodSpec = serde_json::from_str(&text).context("parsing the pod spec")?;
    // SIGTERM and SIGINT become a flag this loop polls (as PID 1 of a namespace, the default
    // action would be to ignore them).
    let term = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    super::on_signals(&term)?;
    let mut sidecar = container(&spec, &spec.forge_manager, &["run"], "sidecar")?;
    let started = Instant::now();
    while !startup_ok(spec.http_port) {
        if started.elapsed() > Duration::from_secs(60) || exited(&mut sidecar) {
            anyhow::bail!(
                "the sidecar did not pass its startup probe (see {})",
                spec.dir.join("sidecar.log").display()
            );
        }
        if term.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = sidecar.kill();
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let watchdog = container(&spec, &spec.forge_manager, &["watchdog"], "watchdog")?;
    let args: Vec<&str> = std::iter::once("fake-node")
        .chain(spec.node_args.iter().map(String::as_str))
        .collect();
    let node = container(&spec, &spec.forge_sim, &args, "node")?;
    // Main container first, then the sidecars in reverse start order.
    let mut order = [node, watchdog, sidecar];
    while !term.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + spec.grace;
    for child in &mut order {
        stop(child, deadline);
    }
    Ok(())
}

/// SIGTERM, then SIGKILL at `deadline` if it is still running.
fn stop(child: &mut Child, deadline: Instant) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    while Instant::now() < deadline {
        if exited(child) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn exited(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(Some(_)))
}

/// One container: `program args`, with the pod's environment, its output in `DIR/NAME.log`, and
/// killed if the supervisor dies.
fn container(spec: &PodSpec, program: &Path, args: &[&str], name: &str) -> anyhow::Result<Child> {
    use anyhow::Context as _;
    let log = std::fs::File::create(spec.dir.join(format!("{name}.log")))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    die_with_parent(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("starting {}", program.display()))
}

/// The child gets SIGKILL when its parent dies: nothing the lab started outlives it.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

fn startup_ok(port: u16) -> bool {
    super::http::get_blocking(port, "/startup-status").is_some_and(|(code, _)| code == 200)
}

/// Whether this machine gives a process its own PID namespace (`unshare --pid --fork
/// --mount-proc`, which needs root or user namespaces): `Err` says why not.
pub fn pid_namespaces() -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("unshare not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The lab's handle on a running pod.
pub struct PodHandle {
    /// The process the lab started (`unshare …` or the supervisor itself).
    child: Child,
    /// Whether `child` is `unshare` (the supervisor is then its child).
    unshared: bool,
}

impl PodHandle {
    /// Starts the pod of `spec_path` (its supervisor, in its own PID namespace if `unshare`).
    pub fn start(forge_sim: &Path, spec_path: &Path, unshare: bool) -> std::io::Result<PodHandle> {
        let mut cmd = if unshare {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
                .arg(forge_sim);
            c
        } else {
            Command::new(forge_sim)
        };
        cmd.arg("lab-pod")
            .arg(spec_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        die_with_parent(&mut cmd);
        Ok(PodHandle {
            child: cmd.spawn()?,
            unshared: unshare,
        })
    }

    /// Whether the pod still runs.
    pub fn running(&mut self) -> bool {
        !exited(&mut self.child)
    }

    /// The supervisor's pid as this namespace sees it.
    fn supervisor(&self) -> Option<Pid> {
        let pid = self.child.id();
        if !self.unshared {
            return i32::try_from(pid).ok().map(Pid::from_raw);
        }
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children
            .split_whitespace()
            .next()?
            .parse()
            .ok()
            .map(Pid::from_raw)
    }

    /// SIGTERM: the pod terminates as the kubelet would end it (see the module comment).
    pub fn terminate(&self) -> bool {
        self.supervisor()
            .is_some_and(|pid| kill(pid, Signal::SIGTERM).is_ok())
    }

    /// SIGKILL of the whole pod, at once (a node lost).
    pub fn kill(&mut self) {
        if let Some(pid) = self.supervisor() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PodHandle {
    fn drop(&mut self) {
        self.kill();
    }
}
