//! Real processes for the end-to-end tests: every child killed when the test ends (also on a
//! panic), the `forge-manager` binary built when stale, the test API server started on a free
//! port with a kubeconfig for it, credential sets written the way the kubelet mounts a Secret,
//! and the fake node's `/state` read over plain HTTP.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use forge_manager::credentials::{CredentialFile, CredentialPaths, CredentialSet};

/// The simulator binary (the test API server and the fake node).
pub const SIM: &str = env!("CARGO_BIN_EXE_forge-sim");

/// Every child process of the test; all are killed when it drops (also on a panic).
#[derive(Default)]
pub struct Children(pub Vec<(String, Child)>);

impl Children {
    pub fn add(&mut self, name: &str, child: Child) -> usize {
        self.0.push((name.to_string(), child));
        self.0.len() - 1
    }
    pub fn get(&mut self, i: usize) -> &mut Child {
        &mut self.0[i].1
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The newest modification time of the files under `dir` (recursively).
pub fn newest(dir: &Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        latest = latest.max(t);
    }
    latest
}

/// `target/<profile>/forge-manager`, built with `cargo build --bin forge-manager` when missing or
/// older than a source file of the root crate.
pub fn forge_manager_bin() -> PathBuf {
    let dir = Path::new(SIM).parent().expect("target dir");
    let bin = dir.join("forge-manager");
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let sources = newest(&root.join("src")).max(
        std::fs::metadata(root.join("Cargo.toml"))
            .and_then(|m| m.modified())
            .ok(),
    );
    let stale = match (built, sources) {
        (Some(b), Some(s)) => b < s,
        _ => true,
    };
    if stale {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // Only the variables a plain shell would have: the ones cargo set for this test
        // (CARGO_PKG_NAME, LD_LIBRARY_PATH, ...) look like a changed environment to build scripts.
        build.env_clear();
        for k in [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
        ] {
            if let Ok(v) = std::env::var(k) {
                build.env(k, v);
            }
        }
        let status = build
            .args(["build", "--bin", "forge-manager"])
            .current_dir(root)
            .status()
            .expect("cargo build --bin forge-manager");
        assert!(status.success(), "building forge-manager failed");
    }
    assert!(bin.exists(), "no forge-manager binary at {}", bin.display());
    bin
}

pub fn free_port() -> u16 {
    forge_sim::lab::free_port().expect("a free port")
}

pub fn write_set(dir: &Path, set: &CredentialSet) {
    forge_sim::lab::write_set(dir, set).expect("write a credential set");
}

/// Writes `set` into `dir` the way the kubelet updates a mounted Secret: the files are symlinks
/// into `..data`, itself a symlink to a directory of this version, swapped in one rename, so a
/// reader never sees a mix of two versions (a file-by-file update can show a KES key beside the
/// old operational certificate).
pub fn write_secret(dir: &std::path::Path, set: &CredentialSet, version: u32) {
    let data = dir.join(format!("..v{version}"));
    std::fs::create_dir_all(&data).expect("mkdir version");
    write_set(&data, set);
    let next = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&next);
    std::os::unix::fs::symlink(format!("..v{version}"), &next).expect("symlink ..data_tmp");
    std::fs::rename(&next, dir.join("..data")).expect("swap ..data");
    let paths = CredentialPaths::in_dir(dir);
    for f in CredentialFile::ALL {
        let link = paths.get(f);
        if std::fs::symlink_metadata(link).is_err() {
            let name = link
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            std::os::unix::fs::symlink(format!("..data/{name}"), link).expect("symlink file");
        }
    }
}

/// One GET; `(status, body)`, or `None` when nothing answered.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    forge_sim::lab::http::get_blocking(port, path)
}

/// What a fake node says it does.
#[derive(Clone, Debug, Default)]
pub struct NodeState {
    pub forging: bool,
    pub credentials: Option<String>,
    pub sighups: u64,
    /// The slot (Unix second) of the node's last leadership check.
    pub last_check_slot: Option<i64>,
    /// The slot it checked at once when a SIGHUP last enabled it.
    pub enable_check_slot: Option<i64>,
}

pub fn node_state(port: u16) -> Option<NodeState> {
    let (_, body) = get(port, "/state")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(NodeState {
        forging: v["forging"].as_bool()?,
        last_check_slot: v["last_check_slot"].as_i64(),
        enable_check_slot: v["enable_check_slot"].as_i64(),
        credentials: v["credentials"].as_str().map(str::to_owned),
        sighups: v["sighups"].as_u64()?,
    })
}

pub fn wait_until<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return (v, start.elapsed());
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn log_file(dir: &Path, name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(dir.join(name)).expect("log file"))
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A running test API server.
pub struct ApiServerProcess {
    /// Its URL.
    pub url: String,
    /// A kubeconfig for it (namespace `default`).
    pub kubeconfig: PathBuf,
    /// Its index in the test's [`Children`].
    pub child: usize,
    /// Its stdout, kept open for the whole test (it may write more).
    pub stdout: BufReader<ChildStdout>,
}

/// A test API server (`forge-sim apiserver`) on a free loopback port, with a kubeconfig for it at
/// `dir/kubeconfig`; the server is one of `children`.
pub fn start_apiserver(children: &mut Children, dir: &Path) -> ApiServerProcess {
    let mut api = Command::new(SIM)
        .args(["apiserver", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apiserver");
    let mut line = String::new();
    let mut stdout = BufReader::new(api.stdout.take().expect("stdout"));
    stdout.read_line(&mut line).expect("apiserver banner");
    let child = children.add("apiserver", api);
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("url in banner")
        .to_string();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {{server: \"{url}\"}}\n\
             users:\n- name: u\n  user: {{token: dummy}}\ncontexts:\n- name: sim\n  context: {{cluster: sim, user: u, namespace: default}}\n\
             current-context: sim\n"
        ),
    )
    .expect("kubeconfig");
    ApiServerProcess {
        url,
        kubeconfig,
        child,
        stdout,
    }
}

/// Lays out a pod's directory as the manifests mount it (`secrets/`: the real set, written as the
/// kubelet writes a Secret; `decoy/`; `target/`: the decoy in place, as the init container
/// leaves it), starts its fake cardano-node on `target/` with metrics on a free port, and
/// returns that port.
pub fn start_pod_node(
    children: &mut Children,
    dir: &Path,
    name: &str,
    real: &CredentialSet,
    decoy: &CredentialSet,
) -> u16 {
    for sub in ["secrets", "decoy", "target"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    write_secret(&dir.join("secrets"), real, 1);
    write_set(&dir.join("decoy"), decoy);
    write_set(&dir.join("target"), decoy);
    let node_port = free_port();
    let target = CredentialPaths::in_dir(&dir.join("target"));
    let node = Command::new(SIM)
        .arg("fake-node")
        .args([
            "--socket-path".as_ref(),
            dir.join("node.socket").as_os_str(),
        ])
        .args(["--metrics-listen", &format!("127.0.0.1:{node_port}")])
        .args(["--kes".as_ref(), target.kes.as_os_str()])
        .args(["--vrf".as_ref(), target.vrf.as_os_str()])
        .args(["--opcert".as_ref(), target.opcert.as_os_str()])
        .args(["--startup", "300ms", "--sighup-delay", "20ms"])
        .stdout(Stdio::null())
        .stderr(log_file(dir, "node.log"))
        .spawn()
        .expect("spawn fake-node");
    children.add(&format!("{name} node"), node);
    node_port
}

/// The environment of a pod's `forge-manager run` and `watchdog` (nothing else inherited but
/// PATH): the pod's files under `dir`, its node's metrics, the test API server, and short timing
/// (lease 7 s, renew deadline 4 s, retry 1 s).
pub fn pod_env(
    cmd: &mut Command,
    dir: &Path,
    name: &str,
    node_port: u16,
    http_port: u16,
    kubeconfig: &Path,
) {
    let p = |s: &str| dir.join(s).display().to_string();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NAMESPACE", "default")
        .env("POD_NAME", name)
        .env("KUBECONFIG", kubeconfig)
        .env("NODE_SOCKET", p("node.socket"))
        .env(
            "NODE_METRICS_URL",
            format!("http://127.0.0.1:{node_port}/metrics"),
        )
        .env("SOURCE_KES_KEY", p("secrets/kes.skey"))
        .env("SOURCE_VRF_KEY", p("secrets/vrf.skey"))
        .env("SOURCE_OP_CERT", p("secrets/node.cert"))
        .env("TARGET_KES_KEY", p("target/kes.skey"))
        .env("TARGET_VRF_KEY", p("target/vrf.skey"))
        .env("TARGET_OP_CERT", p("target/node.cert"))
        .env("SOURCE_DECOY_DIR", p("decoy"))
        .env("HEARTBEAT_PATH", p("target/.heartbeat"))
        .env("JOURNAL_PATH", p("journal.redb"))
        .env("METRICS_PORT", http_port.to_string())
        .env("LEASE_DURATION", "7")
        .env("RENEW_DEADLINE", "4s")
        .env("RETRY_PERIOD", "1s")
        .env("API_TIMEOUT", "1s")
        .env("SIGHUP_VERIFY_TIMEOUT", "2s")
        .env("LOG_FORMAT", "text")
        .env("LOG_LEVEL", "INFO");
}

/// A running `forge-sim lab` (`--plain`): its stdin for commands, and every line it printed.
pub struct LabProcess {
    /// Its index in the test's [`Children`].
    pub child: usize,
    /// Where commands are written.
    pub stdin: std::process::ChildStdin,
    /// Every line printed so far (echoed to the test's stderr as `lab| …`).
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The thread that reads them; ends when the lab closes its stdout.
    pub reader: std::thread::JoinHandle<()>,
}

impl LabProcess {
    /// The first line printed from line number `from` on that contains `what`, waited for up
    /// to `limit`.
    pub fn line_after(&self, from: usize, what: &str, limit: Duration) -> String {
        wait_until(what, limit, || {
            self.lines.lock().expect("lines")[from..]
                .iter()
                .find(|l| l.contains(what))
                .cloned()
        })
        .0
    }

    /// How many lines were printed: a later [`LabProcess::line_after`] looks past them.
    pub fn mark(&self) -> usize {
        self.lines.lock().expect("lines").len()
    }

    /// Writes one command line.
    pub fn say(&mut self, command: &str) {
        use std::io::Write as _;
        writeln!(self.stdin, "{command}").expect("write a command");
        self.stdin.flush().expect("flush");
    }
}

/// `forge-sim lab --plain --regions R --pods P --dir DIR --forge-manager BIN`, one of `children`.
pub fn start_lab(
    children: &mut Children,
    bin: &Path,
    dir: &Path,
    regions: u32,
    pods: u32,
) -> LabProcess {
    let mut lab = Command::new(SIM)
        .args(["lab", "--plain", "--regions", &regions.to_string()])
        .args(["--pods", &pods.to_string()])
        .arg("--dir")
        .arg(dir)
        .arg("--forge-manager")
        .arg(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start forge-sim lab");
    let stdin = lab.stdin.take().expect("stdin");
    let stdout = lab.stdout.take().expect("stdout");
    let lines: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let reader = {
        let lines = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("lab| {line}");
                lines.lock().expect("lines").push(line);
            }
        })
    };
    LabProcess {
        child: children.add("lab", lab),
        stdin,
        lines,
        reader,
    }
}
