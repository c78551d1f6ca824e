//! `forge-sim lab`: the real thing, locally, in one command. The test API server (in this
//! process, with the CRDs and one CardanoForgeCluster per region applied), and per pod the real
//! `forge-manager run`, `forge-manager watchdog` and a fake cardano-node, in that pod's start
//! order and, where the machine allows, in the pod's own PID namespace. Each region reaches the
//! API server through its own proxy, so a region can be cut off. A live view shows who forges;
//! commands on stdin kill, terminate or restart a pod, cut or heal a region, or patch a policy.
//! Ctrl-C (or `quit`) stops everything it started.

pub mod http;
pub mod pod;
pub mod proxy;
pub mod view;

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use forge_manager::credentials::{CredentialFile, CredentialPaths, CredentialSet, sample_set};
use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Options};
use pod::{PodHandle, PodSpec};
use proxy::Proxy;
use view::{LeaseView, NodeView, PodView, RegionView, Snapshot};

/// The lab's namespace (the kubeconfig's default; the deploy files' and the guides').
const NAMESPACE: &str = "cardano";
/// The pool every lab pod forges for (its short form `pool1gys8l`, ticker MYPL: the names the
/// operations guide shows).
const POOL: &str = "pool1gys8laaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// Region names, in priority order.
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-1", "sa-east-1"];

/// `forge-sim lab` options.
#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// Regions (1-4), named us-east-1, eu-west-1, ap-southeast-1, sa-east-1, with priorities
    /// 1, 2, 3, 4.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub regions: u32,
    /// Pods per region (1-5).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub pods: u32,
    /// `fast`: lease 7 s, renew deadline 4 s, retry 1 s, failback delay 10 s (moves in
    /// seconds); `default`: the sidecar's defaults (15 s, 10 s, 2 s, 60 s).
    #[arg(long, value_enum, default_value = "fast")]
    pub timing: LabTiming,
    /// Where the pods' files, logs, journals and the kubeconfig go (default: a new directory
    /// under the system's temporary directory). Kept after the lab stops.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The `forge-manager` binary (default: next to this `forge-sim`, else on PATH).
    #[arg(long)]
    pub forge_manager: Option<PathBuf>,
    /// Print plain lines (changes of forger, command results) instead of redrawing the view in
    /// place, even on a terminal.
    #[arg(long)]
    pub plain: bool,
}

/// The lab's lease timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LabTiming {
    Fast,
    Default,
}

/// A command typed into the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabCommand {
    /// SIGKILL of a whole pod.
    Kill(String),
    /// SIGTERM: the pod terminates as the kubelet ends it.
    Term(String),
    /// Kill if running, then start again (same name, files and journal).
    Restart(String),
    /// Cut a region off from the API server.
    Cut(String),
    /// Heal a cut region.
    Heal(String),
    /// Merge `spec` into a region's CardanoForgeCluster spec.
    Patch {
        region: String,
        spec: Value,
    },
    Help,
    Quit,
}

/// What the lab accepts on stdin.
pub const HELP: &str = "commands: kill POD | term POD | restart POD | cut REGION | heal REGION | \
patch REGION '{\"forgeState\":\"Disabled\"}' | help | quit   (POD: bp-REGION-N or REGION/N)";

impl LabCommand {
    /// Parses one line; `Err` says what is wrong.
    pub fn parse(line: &str) -> Result<LabCommand, String> {
        let line = line.trim();
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let one = |what: &str| -> Result<String, String> {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                Err(format!("`{verb}` takes one {what}"))
            } else {
                Ok(rest.to_owned())
            }
        };
        match verb {
            "kill" => one("pod").map(|p| LabCommand::Kill(pod_name(&p))),
            "term" | "sigterm" => one("pod").map(|p| LabCommand::Term(pod_name(&p))),
            "restart" => one("pod").map(|p| LabCommand::Restart(pod_name(&p))),
            "cut" => one("region").map(LabCommand::Cut),
            "heal" => one("region").map(LabCommand::Heal),
            "patch" => {
                let (region, spec) = rest
                    .split_once(char::is_whitespace)
                    .ok_or("`patch` takes a region and a JSON object")?;
                let spec: Value = serde_json::from_str(spec.trim().trim_matches('\''))
                    .map_err(|e| format!("the patch is not JSON: {e}"))?;
                if !spec.is_object() {
                    return Err("the patch must be a JSON object (merged into spec)".into());
                }
                Ok(LabCommand::Patch {
                    region: region.to_owned(),
                    spec,
                })
            }
            "help" | "?" => Ok(LabCommand::Help),
            "quit" | "exit" | "q" => Ok(LabCommand::Quit),
            other => Err(format!("unknown command `{other}`; {HELP}")),
        }
    }
}

/// `REGION/N` → `bp-REGION-N`; anything else as typed.
fn pod_name(p: &str) -> String {
    match p.rsplit_once('/') {
        Some((region, n)) if n.parse::<u32>().is_ok() => format!("bp-{region}-{n}"),
        _ => p.to_owned(),
    }
}

/// `forge-sim lab`.
pub fn main(args: LabArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-sim lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One pod of the lab.
struct LabPod {
    spec: PodSpec,
    spec_path: PathBuf,
    region: String,
    node_port: u16,
    handle: Option<PodHandle>,
}

struct Region {
    name: String,
    priority: u32,
    proxy: Proxy,
}

struct Lab {
    dir: PathBuf,
    forge_sim: PathBuf,
    unshare: bool,
    server: ApiServer,
    api_url: String,
    kubeconfig: PathBuf,
    regions: Vec<Region>,
    pods: Vec<LabPod>,
    real_fingerprint: String,
    started: Instant,
    events: Vec<String>,
    runtime: tokio::runtime::Runtime,
}

fn run(args: LabArgs) -> anyhow::Result<()> {
    let forge_sim = std::env::current_exe().context("finding this forge-sim")?;
    let forge_manager = find_forge_manager(args.forge_manager.as_deref(), &forge_sim)?;
    let dir = match args.dir.clone() {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("forge-lab-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let stop = Arc::new(AtomicBool::new(false));
    on_signals(&stop)?;
    let unshare = match pod::pid_namespaces() {
        Ok(()) => true,
        Err(why) => {
            println!(
                "no PID namespace per pod on this machine ({why}): the pods share this one; \
                 each sidecar and watchdog tells its node from the others by its socket"
            );
            false
        }
    };
    let mut lab = Lab::start(
        &args,
        dir,
        forge_sim,
        forge_manager,
        unshare,
        Arc::clone(&stop),
    )?;
    lab.banner();
    let lines = stdin_lines();
    let terminal = std::io::stdout().is_terminal() && !args.plain;
    let mut last_forging = String::new();
    let mut next_draw = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                let result = match LabCommand::parse(&line) {
                    Ok(LabCommand::Quit) => break,
                    Ok(c) => lab.apply(c),
                    Err(e) => Err(e),
                };
                let said = match result {
                    Ok(done) => format!("> {}: {done}", line.trim()),
                    Err(e) => format!("> {}: error: {e}", line.trim()),
                };
                if !terminal {
                    println!("{said}");
                }
                lab.events.push(said);
                let keep = lab.events.len().saturating_sub(5);
                lab.events.drain(..keep);
                next_draw = Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // stdin closed (e.g. `< /dev/null`): the lab runs until Ctrl-C.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        if Instant::now() < next_draw {
            continue;
        }
        next_draw = Instant::now() + Duration::from_secs(1);
        let snapshot = lab.snapshot();
        if terminal {
            print!("\x1b[H\x1b[2J{}\n{HELP}\n> ", view::render(&snapshot));
            let _ = std::io::Write::flush(&mut std::io::stdout());
        } else {
            let line = snapshot.forging_line();
            if line != last_forging {
                println!("{line}");
                last_forging = line;
            }
        }
    }
    let n = lab.stop();
    println!(
        "forge-sim lab: stopped {n} pod(s); files, logs and journals stay in {}",
        lab.dir.display()
    );
    Ok(())
}

/// `--forge-manager`, else `forge-manager` next to this binary, else on PATH.
fn find_forge_manager(given: Option<&Path>, forge_sim: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        anyhow::ensure!(p.is_file(), "--forge-manager {}: no such file", p.display());
        return Ok(p.to_path_buf());
    }
    let beside = forge_sim.with_file_name("forge-manager");
    if beside.is_file() {
        return Ok(beside);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("forge-manager"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no forge-manager next to {} or on PATH: build it with \
                 `cargo build --release --bin forge-manager`, or pass --forge-manager PATH",
                forge_sim.display()
            )
        })
}

/// SIGINT (Ctrl-C) and SIGTERM set `stop` (once per process: the lab, or a pod's supervisor).
pub(crate) fn on_signals(stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    let _ = STOP.set(Arc::clone(stop));
    extern "C" fn on_signal(_: i32) {
        if let Some(s) = STOP.get() {
            s.store(true, Ordering::Relaxed);
        }
    }
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }.context("installing the signal handler")?;
    }
    Ok(())
}

/// Lines of stdin, read on their own thread.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A loopback port free now (bound, then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn kubeconfig_for(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: forge-lab\n  cluster: {{server: \"{url}\"}}\n\
         users:\n- name: lab\n  user: {{token: lab}}\ncontexts:\n- name: forge-lab\n  context: {{cluster: forge-lab, user: lab, namespace: {NAMESPACE}}}\n\
         current-context: forge-lab\n"
    )
}

/// Writes `set` into `dir` (created if missing) under the standard file names, each file 0600
/// and replaced whole (written aside, then renamed), as the sidecar's own writes are.
pub fn write_set(dir: &Path, set: &CredentialSet) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)?;
    let paths = CredentialPaths::in_dir(dir);
    for f in CredentialFile::ALL {
        let path = paths.get(f);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, set.get(f))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
    }
    Ok(())
}

fn cluster_name(region: &str) -> String {
    format!("mainnet-pool1gys8l-{region}")
}

/// One request to the in-process API server; `Err` unless it answered 2xx.
async fn request(server: &ApiServer, method: &str, path: &str, body: &Value) -> Result<(), String> {
    use tower::ServiceExt as _;
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let req = ::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body.to_string()))
        .map_err(|e| e.to_string())?;
    let resp = server
        .router()
        .oneshot(req)
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        return Ok(());
    }
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Err(format!("{status}: {message}"))
}

impl Lab {
    fn start(
        args: &LabArgs,
        dir: PathBuf,
        forge_sim: PathBuf,
        forge_manager: PathBuf,
        unshare: bool,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Lab> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("building the tokio runtime")?;
        let region_names: Vec<&str> = REGIONS
            .iter()
            .take(args.regions as usize)
            .copied()
            .collect();
        let (server, api_addr, proxies) = runtime.block_on(async {
            let server = ApiServer::new(Options::default()).context("starting the API server")?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let api_addr: SocketAddr = listener.local_addr()?;
            tokio::spawn(server.clone().serve(listener));
            setup_objects(&server, &region_names).await?;
            let mut proxies = Vec::new();
            for _ in &region_names {
                proxies.push(Proxy::start(api_addr).await?);
            }
            anyhow::Ok((server, api_addr, proxies))
        })?;
        let api_url = format!("http://{api_addr}");
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_for(&api_url))?;
        let real = sample_set("forge-lab-real");
        let mut regions = Vec::new();
        let mut pods = Vec::new();
        for ((i, region), proxy) in region_names.iter().enumerate().zip(proxies) {
            let priority = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let region_kubeconfig = dir.join(format!("kubeconfig-{region}"));
            std::fs::write(
                &region_kubeconfig,
                kubeconfig_for(&format!("http://{}", proxy.addr)),
            )?;
            for n in 0..args.pods {
                pods.push(LabPod::prepare(
                    &dir,
                    region,
                    priority,
                    n,
                    &real,
                    &region_kubeconfig,
                    &forge_manager,
                    &forge_sim,
                    args.timing,
                )?);
            }
            regions.push(Region {
                name: (*region).to_owned(),
                priority,
                proxy,
            });
        }
        let mut lab = Lab {
            dir,
            forge_sim,
            unshare,
            server,
            api_url,
            kubeconfig,
            regions,
            pods,
            real_fingerprint: real.fingerprint(),
            started: Instant::now(),
            events: Vec::new(),
            runtime,
        };
        for i in 0..lab.pods.len() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            lab.start_pod(i)?;
        }
        Ok(lab)
    }

    fn banner(&self) {
        println!(
            "forge-sim lab: {} region(s) x {} pod(s)",
            self.regions.len(),
            self.pods.len() / self.regions.len().max(1)
        );
        println!("API server: {}", self.api_url);
        println!("kubeconfig: {}", self.kubeconfig.display());
        println!("files: {}", self.dir.display());
        for p in &self.pods {
            println!(
                "pod {}: metrics http://127.0.0.1:{}/metrics, node http://127.0.0.1:{}/state, logs {}",
                p.spec.name,
                p.spec.http_port,
                p.node_port,
                p.spec.dir.display()
            );
        }
        println!(
            "try: export KUBECONFIG={}; kubectl get cfc,leases; kubectl forge status",
            self.kubeconfig.display()
        );
        println!("{HELP}");
    }

    fn start_pod(&mut self, i: usize) -> anyhow::Result<()> {
        let p = &mut self.pods[i];
        p.handle = Some(
            PodHandle::start(&self.forge_sim, &p.spec_path, self.unshare)
                .with_context(|| format!("starting pod {}", p.spec.name))?,
        );
        Ok(())
    }

    fn pod_index(&self, name: &str) -> Result<usize, String> {
        self.pods
            .iter()
            .position(|p| p.spec.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.pods.iter().map(|p| p.spec.name.as_str()).collect();
                format!("no pod {name} (pods: {})", names.join(", "))
            })
    }

    fn region(&self, name: &str) -> Result<&Region, String> {
        self.regions.iter().find(|r| r.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.regions.iter().map(|r| r.name.as_str()).collect();
            format!("no region {name} (regions: {})", names.join(", "))
        })
    }

    /// Carries out a command; `Ok` says what was done.
    fn apply(&mut self, command: LabCommand) -> Result<String, String> {
        match command {
            LabCommand::Kill(name) => {
                let i = self.pod_index(&name)?;
                match self.pods[i].handle.take() {
                    Some(mut h) => {
                        h.kill();
                        Ok("killed (SIGKILL)".into())
                    }
                    None => Err(format!("{name} is not running")),
                }
            }
            LabCommand::Term(name) => {
                let i = self.pod_index(&name)?;
                match &self.pods[i].handle {
                    Some(h) if h.terminate() => Ok("SIGTERM sent; the pod terminates".into()),
                    _ => Err(format!("{name} is not running")),
                }
            }
            LabCommand::Restart(name) => {
                let i = self.pod_index(&name)?;
                if let Some(mut h) = self.pods[i].handle.take() {
                    h.kill();
                }
                self.start_pod(i).map_err(|e| format!("{e:#}"))?;
                Ok("started again".into())
            }
            LabCommand::Cut(region) => {
                self.region(&region)?.proxy.set_cut(true);
                Ok("cut off from the API server".into())
            }
            LabCommand::Heal(region) => {
                self.region(&region)?.proxy.set_cut(false);
                Ok("healed".into())
            }
            LabCommand::Patch { region, spec } => {
                self.region(&region)?;
                let path = format!(
                    "/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoforgeclusters/{}",
                    cluster_name(&region)
                );
                let body = json!({ "spec": spec });
                self.runtime
                    .block_on(request(&self.server, "PATCH", &path, &body))?;
                Ok(format!("patched {}", cluster_name(&region)))
            }
            LabCommand::Help => Ok(HELP.into()),
            LabCommand::Quit => Ok(String::new()),
        }
    }

    fn lease(&self, name: &str) -> Option<LeaseView> {
        let leases = self
            .server
            .objects("coordination.k8s.io", "leases", Some(NAMESPACE));
        let lease = leases.iter().find(|l| l["metadata"]["name"] == name)?;
        let holder = lease["spec"]["holderIdentity"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        let age = lease["spec"]["renewTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| {
                let d = self.server.now().duration_since(t);
                Duration::try_from(d).ok()
            });
        Some(LeaseView { holder, age })
    }

    fn snapshot(&mut self) -> Snapshot {
        let global = self.lease("cardano-forge-global-mainnet-pool1gys8l");
        let regions = self
            .regions
            .iter()
            .map(|r| RegionView {
                name: r.name.clone(),
                priority: r.priority,
                cut: r.proxy.is_cut(),
                lease: self.lease(&format!("cardano-leader-{}", r.name)),
            })
            .collect();
        let real = self.real_fingerprint.clone();
        let pods = self
            .pods
            .iter_mut()
            .map(|p| {
                let running = p.handle.as_mut().is_some_and(PodHandle::running);
                let node = http::get_blocking(p.node_port, "/state")
                    .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                    .map_or(NodeView::Down, |s| NodeView::Up {
                        forging: s["forging"].as_bool() == Some(true)
                            && s["credentials"].as_str() == Some(real.as_str()),
                    });
                PodView {
                    name: p.spec.name.clone(),
                    region: p.region.clone(),
                    running,
                    node,
                    http_port: p.spec.http_port,
                }
            })
            .collect();
        Snapshot {
            elapsed: self.started.elapsed(),
            api: self.api_url.clone(),
            kubeconfig: self.kubeconfig.display().to_string(),
            global,
            regions,
            pods,
            events: self.events.clone(),
        }
    }

    /// Kills every pod; how many were running.
    fn stop(&mut self) -> usize {
        let mut n = 0;
        for p in &mut self.pods {
            if let Some(mut h) = p.handle.take() {
                n += usize::from(h.running());
                h.kill();
            }
        }
        n
    }
}

impl LabPod {
    #[allow(clippy::too_many_arguments)] // one call site, each argument a different thing
    fn prepare(
        dir: &Path,
        region: &str,
        priority: u32,
        n: u32,
        real: &CredentialSet,
        kubeconfig: &Path,
        forge_manager: &Path,
        forge_sim: &Path,
        timing: LabTiming,
    ) -> anyhow::Result<LabPod> {
        let name = format!("bp-{region}-{n}");
        let pod_dir = dir.join(&name);
        write_set(&pod_dir.join("secrets"), real)?;
        let decoy = sample_set(&format!("forge-lab-decoy-{name}"));
        write_set(&pod_dir.join("decoy"), &decoy)?;
        write_set(&pod_dir.join("target"), &decoy)?;
        let (node_port, http_port) = (free_port()?, free_port()?);
        let p = |s: &str| pod_dir.join(s).display().to_string();
        let mut env: Vec<(String, String)> = [
            ("NAMESPACE", NAMESPACE.to_owned()),
            ("POD_NAME", name.clone()),
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("NODE_SOCKET", p("node.socket")),
            (
                "NODE_METRICS_URL",
                format!("http://127.0.0.1:{node_port}/metrics"),
            ),
            ("SOURCE_KES_KEY", p("secrets/kes.skey")),
            ("SOURCE_VRF_KEY", p("secrets/vrf.skey")),
            ("SOURCE_OP_CERT", p("secrets/node.cert")),
            ("TARGET_KES_KEY", p("target/kes.skey")),
            ("TARGET_VRF_KEY", p("target/vrf.skey")),
            ("TARGET_OP_CERT", p("target/node.cert")),
            ("SOURCE_DECOY_DIR", p("decoy")),
            ("HEARTBEAT_PATH", p("target/.heartbeat")),
            ("JOURNAL_PATH", p("journal.redb")),
            ("METRICS_PORT", http_port.to_string()),
            ("ENABLE_CLUSTER_MANAGEMENT", "true".to_owned()),
            ("CLUSTER_REGION", region.to_owned()),
            ("CLUSTER_PRIORITY", priority.to_string()),
            ("CARDANO_NETWORK", "mainnet".to_owned()),
            ("POOL_ID", POOL.to_owned()),
            ("POOL_TICKER", "MYPL".to_owned()),
            ("LEASE_NAME", format!("cardano-leader-{region}")),
            ("CRD_NAME", format!("cardano-leader-{region}")),
            ("LOG_FORMAT", "json".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if timing == LabTiming::Fast {
            for (k, v) in [
                ("LEASE_DURATION", "7"),
                ("RENEW_DEADLINE", "4s"),
                ("RETRY_PERIOD", "1s"),
                ("API_TIMEOUT", "1s"),
                ("SIGHUP_VERIFY_TIMEOUT", "2s"),
                ("FAILBACK_DELAY", "10s"),
            ] {
                env.push((k.to_owned(), v.to_owned()));
            }
        }
        let node_args = vec![
            "--socket-path".to_owned(),
            p("node.socket"),
            "--metrics-listen".to_owned(),
            format!("127.0.0.1:{node_port}"),
            "--kes".to_owned(),
            p("target/kes.skey"),
            "--vrf".to_owned(),
            p("target/vrf.skey"),
            "--opcert".to_owned(),
            p("target/node.cert"),
            "--startup".to_owned(),
            "1s".to_owned(),
        ];
        let spec = PodSpec {
            name,
            dir: pod_dir.clone(),
            forge_manager: forge_manager.to_path_buf(),
            forge_sim: forge_sim.to_path_buf(),
            env,
            http_port,
            node_args,
            grace: Duration::from_secs(30),
        };
        let spec_path = pod_dir.join("pod.json");
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?)?;
        Ok(LabPod {
            spec,
            spec_path,
            region: region.to_owned(),
            node_port,
            handle: None,
        })
    }
}

/// The CRDs, and per region its CardanoForgeCluster (priority by position) and CardanoLeader.
async fn setup_objects(server: &ApiServer, regions: &[&str]) -> anyhow::Result<()> {
    let crds = forge_manager::crd::crds_json().context("rendering the CRDs")?;
    for crd in &crds {
        request(
            server,
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd,
        )
        .await
        .map_err(|e| anyhow::anyhow!("applying a CRD: {e}"))?;
    }
    for (i, region) in regions.iter().enumerate() {
        let cfc = json!({
            "apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster",
            "metadata": {"name": cluster_name(region)},
            "spec": {"network": {"name": "mainnet", "magic": 764_824_073},
                     "pool": {"id": POOL, "idHex": "0".repeat(56), "ticker": "MYPL"},
                     "region": region, "priority": i + 1}
        });
        request(
            server,
            "POST",
            &format!("/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoforgeclusters"),
            &cfc,
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", cluster_name(region)))?;
        let leader = json!({
            "apiVersion": "cardano.io/v1", "kind": "CardanoLeader",
            "metadata": {"name": format!("cardano-leader-{region}")}, "spec": {}
        });
        request(
            server,
            "POST",
            &format!("/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoleaders"),
            &leader,
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating cardano-leader-{region}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_say_what_is_wrong() {
        let cases: &[(&str, Result<LabCommand, &str>)] = &[
            (
                "kill bp-us-east-1-0",
                Ok(LabCommand::Kill("bp-us-east-1-0".into())),
            ),
            (
                "kill us-east-1/1",
                Ok(LabCommand::Kill("bp-us-east-1-1".into())),
            ),
            (
                "  term eu-west-1/0 ",
                Ok(LabCommand::Term("bp-eu-west-1-0".into())),
            ),
            (
                "restart bp-eu-west-1-1",
                Ok(LabCommand::Restart("bp-eu-west-1-1".into())),
            ),
            ("cut eu-west-1", Ok(LabCommand::Cut("eu-west-1".into()))),
            ("heal eu-west-1", Ok(LabCommand::Heal("eu-west-1".into()))),
            (
                "patch us-east-1 '{\"forgeState\":\"Disabled\"}'",
                Ok(LabCommand::Patch {
                    region: "us-east-1".into(),
                    spec: json!({"forgeState": "Disabled"}),
                }),
            ),
            ("quit", Ok(LabCommand::Quit)),
            ("help", Ok(LabCommand::Help)),
            ("kill", Err("`kill` takes one pod")),
            ("cut a b", Err("`cut` takes one region")),
            (
                "patch us-east-1",
                Err("`patch` takes a region and a JSON object"),
            ),
            ("patch us-east-1 {oops", Err("the patch is not JSON")),
            (
                "patch us-east-1 [1]",
                Err("the patch must be a JSON object"),
            ),
            ("reboot everything", Err("unknown command `reboot`")),
        ];
        for (line, want) in cases {
            match (LabCommand::parse(line), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{line}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{line}: {got}"),
                (got, want) => panic!("{line}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_kubeconfig_points_at_the_server_in_the_lab_namespace() {
        let k = kubeconfig_for("http://127.0.0.1:1234");
        assert!(k.contains("server: \"http://127.0.0.1:1234\""));
        assert!(k.contains("namespace: cardano"));
        assert!(k.contains("current-context: forge-lab"));
    }
}
