//! End-to-end tests of `forge-sim fake-node` driven through the production `ProcNode` adapter:
//! the fake must behave like cardano-node where the sidecar can tell (docs/architecture.md, "How
//! cardano-node behaves"), and `ProcNode` must find, gate on and signal a real process.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use forge_manager::adapters::ProcNode;
use forge_manager::credentials::{
    CredentialFile, CredentialPaths, CredentialSet, fingerprint, sample_set,
};
use forge_manager::ports::{Node, NodeProcess};

const BIN: &str = env!("CARGO_BIN_EXE_forge-sim");

/// A running fake node, killed on drop if the test did not stop it.
struct FakeNode {
    child: Child,
    /// Holds the credential files and the socket; removed on drop.
    _dir: tempfile::TempDir,
    socket: PathBuf,
    metrics: String,
    paths: CredentialPaths,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_set(paths: &CredentialPaths, set: &CredentialSet) {
    for f in CredentialFile::ALL {
        std::fs::write(paths.get(f), set.get(f)).expect("write credential");
        std::fs::set_permissions(paths.get(f), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts a fake node over `set` (written into a fresh directory, then `prepare` may damage it).
fn start(set: &CredentialSet, startup: &str, prepare: impl FnOnce(&CredentialPaths)) -> FakeNode {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = CredentialPaths::in_dir(dir.path());
    write_set(&paths, set);
    prepare(&paths);
    let socket = dir.path().join("node.socket");
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(BIN)
        .arg("fake-node")
        .args(["--socket-path".as_ref(), socket.as_os_str()])
        .args(["--metrics-listen", &listen])
        .args(["--kes".as_ref(), paths.kes.as_os_str()])
        .args(["--vrf".as_ref(), paths.vrf.as_os_str()])
        .args(["--opcert".as_ref(), paths.opcert.as_os_str()])
        .args(["--startup", startup, "--sighup-delay", "20ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn forge-sim");
    FakeNode {
        child,
        _dir: dir,
        socket,
        metrics: format!("http://{listen}/metrics"),
        paths,
    }
}

fn wait_exit(node: &mut FakeNode, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = node.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(started.elapsed() < limit, "fake node did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(node: &mut FakeNode) -> String {
    let mut s = String::new();
    if let Some(mut e) = node.child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

fn proc_node(node: &FakeNode) -> ProcNode {
    ProcNode::new("cardano-node", &node.socket, &node.metrics).expect("metrics url")
}

/// GET `/state` as JSON (`None` while the server is not up).
fn state(node: &FakeNode) -> Option<serde_json::Value> {
    let addr = node
        .metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /state HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let body = resp.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the node has handled `n` SIGHUPs, and returns its state.
fn state_after_sighups(node: &FakeNode, n: u64) -> serde_json::Value {
    let mut last = None;
    wait_for(
        &format!("{n} SIGHUPs handled"),
        Duration::from_secs(5),
        || {
            last = state(node);
            last.as_ref().and_then(|s| s["sighups"].as_u64()) == Some(n)
        },
    );
    last.unwrap_or_default()
}

#[test]
fn a_missing_credential_file_stops_the_node_at_startup_with_code_1() {
    let mut node = start(&sample_set("a"), "300ms", |p| {
        std::fs::remove_file(&p.opcert).expect("rm opcert");
    });
    let status = wait_exit(&mut node, Duration::from_secs(5));
    assert_eq!(status.code(), Some(1));
    let err = stderr_of(&mut node);
    assert!(err.contains("missing") && err.contains("opcert"), "{err}");
}

#[test]
fn a_world_readable_vrf_key_stops_the_node_at_startup_with_code_1() {
    let mut node = start(&sample_set("a"), "300ms", |p| {
        std::fs::set_permissions(&p.vrf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    });
    let status = wait_exit(&mut node, Duration::from_secs(5));
    assert_eq!(status.code(), Some(1));
    let err = stderr_of(&mut node);
    assert!(err.contains("readable by others"), "{err}");
}

#[tokio::test]
async fn during_startup_the_socket_refuses_and_a_sighup_kills_the_node() {
    let mut node = start(&sample_set("a"), "10s", |_| {});
    wait_for("the metrics endpoint", Duration::from_secs(5), || {
        state(&node).is_some()
    });
    let pn = proc_node(&node);
    assert!(!pn.socket_accepts().await);
    assert!(!node.socket.exists(), "socket exists during startup");
    let found = pn.find().await.expect("the fake node is found by name");
    assert_eq!(found.pid, node.child.id());
    pn.sighup(found).await.expect("sighup");
    let status = wait_exit(&mut node, Duration::from_secs(5));
    assert_eq!(status.signal(), Some(nix::libc::SIGHUP), "{status:?}");
}

#[tokio::test]
async fn after_startup_sighup_loads_removes_or_keeps_the_credentials_like_cardano_node() {
    let set = sample_set("leader");
    let mut node = start(&set, "300ms", |_| {});
    let pn = proc_node(&node);
    let started = Instant::now();
    while !pn.socket_accepts().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "socket never accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Found by name among whatever else runs here, by its socket path.
    let found: NodeProcess = pn.find().await.expect("found");
    assert_eq!(found.pid, node.child.id());

    // Always starts non-producing.
    let s = state(&node).expect("state");
    assert_eq!(
        (s["forging"].as_bool(), s["credentials"].is_null()),
        (Some(false), true)
    );
    let m = pn.metrics().await.expect("metrics");
    assert_eq!(m.forging_enabled, Some(false));

    // Valid files + SIGHUP → forging with exactly these credentials.
    pn.sighup(found).await.expect("sighup 1");
    let s = state_after_sighups(&node, 1);
    assert_eq!(s["forging"].as_bool(), Some(true));
    assert_eq!(
        s["credentials"].as_str(),
        Some(fingerprint(&set.opcert).as_str())
    );
    assert_eq!(s["pid"].as_u64(), Some(u64::from(node.child.id())));
    let m = pn.metrics().await.expect("metrics");
    assert_eq!(m.forging_enabled, Some(true));
    let checks_before = m.leader_checks.expect("leader checks");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let checks_after = pn.metrics().await.expect("metrics").leader_checks;
    assert!(
        checks_after > Some(checks_before),
        "{checks_before} -> {checks_after:?}"
    );

    // A half-written opcert + SIGHUP → error logged, previous state kept.
    let half = &set.opcert[..set.opcert.len() / 2];
    std::fs::write(&node.paths.opcert, half).expect("half-write");
    pn.sighup(found).await.expect("sighup 2");
    let s = state_after_sighups(&node, 2);
    assert_eq!(s["forging"].as_bool(), Some(true));
    assert_eq!(
        s["credentials"].as_str(),
        Some(fingerprint(&set.opcert).as_str())
    );

    // Files removed + SIGHUP → forging disabled.
    for f in CredentialFile::ALL {
        let _ = std::fs::remove_file(node.paths.get(f));
    }
    pn.sighup(found).await.expect("sighup 3");
    let s = state_after_sighups(&node, 3);
    assert_eq!(s["forging"].as_bool(), Some(false));
    assert!(s["credentials"].is_null());
    assert_eq!(
        pn.metrics().await.expect("metrics").forging_enabled,
        Some(false)
    );

    // SIGTERM → clean exit, socket removed.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(found.pid).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("sigterm");
    let status = wait_exit(&mut node, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!node.socket.exists());
    assert!(!pn.socket_accepts().await);
}
