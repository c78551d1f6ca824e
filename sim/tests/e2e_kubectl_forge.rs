//! `kubectl forge` end to end: the real kubectl finds the plugin on PATH (the `forge-manager`
//! binary linked as `kubectl-forge`) and drives a running pool, two regions of one pod each
//! (a fake cardano-node and a real `forge-manager run` with cluster management), through the
//! test API server (`forge-sim apiserver`). Every command of the operations guide runs and its
//! effect is checked on the nodes themselves; a monitor fails the test if two nodes ever forge
//! with the real keys at once.
//!
//! kubectl must be on PATH (CI runs `.ci/install-tools.sh`).

mod processes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use forge_manager::credentials::sample_set;
use processes::*;
use serde_json::Value;

const POOL: &str = "pool1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The whole test (after the build) must finish within this.
const TEST_BUDGET: Duration = Duration::from_secs(120);

/// What one kubectl run printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// kubectl with the test's kubeconfig and a PATH that starts with the plugin's directory.
struct Kubectl {
    home: PathBuf,
    kubeconfig: PathBuf,
    plugins: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str]) -> Run {
        let path = format!(
            "{}:{}",
            self.plugins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .env("PATH", path)
            .env_remove("CARDANO_NETWORK")
            .output()
            .expect("run kubectl (is it on PATH? .ci/install-tools.sh installs it)");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts the exit code; returns the run.
    fn expect(&self, code: i32, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "kubectl {args:?} exited {} (wanted {code})\nstdout: {}\nstderr: {}",
            r.code, r.stdout, r.stderr
        );
        r
    }

    fn ok(&self, args: &[&str]) -> Run {
        self.expect(0, args)
    }

    /// `kubectl forge status -o json`, parsed: the first pool.
    fn status(&self) -> Value {
        let r = self.ok(&["forge", "status", "-o", "json"]);
        let v: Value = serde_json::from_str(&r.stdout).expect("status JSON");
        v["pools"][0].clone()
    }

    fn spec_field(&self, region: &str, path: &str) -> String {
        self.ok(&[
            "get",
            "cfc",
            &format!("mainnet-pool1aaaaa-{region}"),
            "-o",
            &format!("jsonpath={{{path}}}"),
        ])
        .stdout
    }
}

fn cfc_yaml(region: &str, priority: u32) -> String {
    format!(
        "apiVersion: cardano.io/v1\nkind: CardanoForgeCluster\nmetadata: {{name: mainnet-pool1aaaaa-{region}}}\n\
         spec:\n  network: {{name: mainnet, magic: 764824073}}\n  pool: {{id: {POOL}, idHex: \"{}\", ticker: MYPL}}\n  \
         region: {region}\n  priority: {priority}\n---\n\
         apiVersion: cardano.io/v1\nkind: CardanoLeader\nmetadata: {{name: cardano-leader-{region}}}\nspec: {{}}\n---\n",
        "0".repeat(56)
    )
}

/// One pod: its fake node's metrics port and its sidecar's index in `children`.
struct Pod {
    name: String,
    node_port: u16,
    sidecar: usize,
}

fn start_pod(
    children: &mut Children,
    bin: &Path,
    root: &Path,
    kubeconfig: &Path,
    region: &str,
    priority: u32,
    real: &forge_manager::credentials::CredentialSet,
) -> Pod {
    let name = format!("bp-{region}-0");
    let dir = root.join(&name);
    let decoy = sample_set(&format!("forge-plugin-decoy-{region}"));
    let node_port = start_pod_node(children, &dir, &name, real, &decoy);
    let mut sidecar = Command::new(bin);
    pod_env(
        &mut sidecar,
        &dir,
        &name,
        node_port,
        free_port(),
        kubeconfig,
    );
    let sidecar = sidecar
        .arg("run")
        .env("ENABLE_CLUSTER_MANAGEMENT", "true")
        .env("CLUSTER_REGION", region)
        .env("CLUSTER_PRIORITY", priority.to_string())
        .env("CARDANO_NETWORK", "mainnet")
        .env("POOL_ID", POOL)
        .env("POOL_TICKER", "MYPL")
        .env("LEASE_NAME", format!("cardano-leader-{region}"))
        .env("CRD_NAME", format!("cardano-leader-{region}"))
        .stdout(log_file(&dir, "sidecar.out"))
        .stderr(log_file(&dir, "sidecar.log"))
        .spawn()
        .expect("spawn forge-manager run");
    let sidecar = children.add(&format!("{name} sidecar"), sidecar);
    Pod {
        name,
        node_port,
        sidecar,
    }
}

/// Which pods' nodes forge with the real keys now.
fn forging(pods: &[Pod], real: &str) -> Vec<String> {
    pods.iter()
        .filter(|p| {
            node_state(p.node_port)
                .is_some_and(|s| s.forging && s.credentials.as_deref() == Some(real))
        })
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn kubectl_forge_drives_a_running_pool_through_the_operations_guide() {
    let bin = forge_manager_bin();
    let start = Instant::now();
    let mut children = Children::default();
    let root = tempfile::tempdir().expect("tempdir");
    let api = start_apiserver(&mut children, root.path());
    let plugins = root.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir plugins");
    std::os::unix::fs::symlink(&bin, plugins.join("kubectl-forge")).expect("link the plugin");
    let k = Kubectl {
        home: root.path().to_path_buf(),
        kubeconfig: api.kubeconfig.clone(),
        plugins,
    };
    let listed = k.ok(&["plugin", "list"]);
    assert!(listed.stdout.contains("kubectl-forge"), "{}", listed.stdout);

    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    k.ok(&["apply", "-f", &crds.display().to_string()]);
    let objects = root.path().join("pool.yaml");
    std::fs::write(
        &objects,
        cfc_yaml("us-east-1", 1) + &cfc_yaml("eu-west-1", 2),
    )
    .expect("write objects");
    k.ok(&["apply", "-f", &objects.display().to_string()]);

    let real = sample_set("forge-plugin-real");
    let fp = real.fingerprint();
    let pods: Vec<Pod> = REGIONS
        .iter()
        .zip([1, 2])
        .map(|(region, priority)| {
            start_pod(
                &mut children,
                &bin,
                root.path(),
                &api.kubeconfig,
                region,
                priority,
                &real,
            )
        })
        .collect();
    let dump = || {
        for p in &pods {
            let log = root.path().join(&p.name).join("sidecar.log");
            eprintln!("--- {} sidecar.log\n{}", p.name, tail(&log));
        }
    };

    // The safety monitor: every 100 ms, both nodes.
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = {
        let ports: Vec<(String, u16)> =
            pods.iter().map(|p| (p.name.clone(), p.node_port)).collect();
        let (violations, stop, fp) = (Arc::clone(&violations), Arc::clone(&stop), fp.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let now: Vec<&String> = ports
                    .iter()
                    .filter(|(_, port)| {
                        node_state(*port).is_some_and(|s| {
                            s.forging && s.credentials.as_deref() == Some(fp.as_str())
                        })
                    })
                    .map(|(n, _)| n)
                    .collect();
                if now.len() > 1 {
                    violations
                        .lock()
                        .expect("monitor")
                        .push(format!("{now:?} forge with the real keys at once"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let forger_is = |who: &str| {
        let (_, took) = wait_until(
            &format!("{who} alone forging"),
            Duration::from_secs(20),
            || (forging(&pods, &fp) == [who.to_owned()]).then_some(()),
        );
        took
    };

    // 1. The preferred region forges; `status` says so, in a table and in JSON.
    let boot = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        forger_is("bp-us-east-1-0");
        wait_until(
            "the status to name the forger",
            Duration::from_secs(20),
            || {
                let s = k.status();
                (s["regions"][0]["forger"] == "bp-us-east-1-0").then_some(())
            },
        );
    }));
    if boot.is_err() {
        dump();
        panic!("the pool did not start");
    }
    let s = k.status();
    assert_eq!(s["globalLease"]["holder"], "us-east-1", "{s:#}");
    assert_eq!(s["globalLease"]["live"], true, "{s:#}");
    assert_eq!(s["preferred"], "us-east-1", "{s:#}");
    assert_eq!(s["regions"][1]["region"], "eu-west-1", "{s:#}");
    assert_eq!(s["regions"][1]["present"], true, "{s:#}");
    assert_eq!(s["pods"][0]["pod"], "bp-us-east-1-0", "{s:#}");
    assert_eq!(s["pods"][0]["role"], "forger", "{s:#}");
    let table = k.ok(&["forge", "status"]).stdout;
    for want in [
        "pool MYPL (pool1aaaa",
        "global lease cardano-forge-global-mainnet-pool1aaaaa: held by us-east-1",
        "forging: bp-us-east-1-0 (us-east-1)",
        "bp-eu-west-1-0   eu-west-1   leader",
        "cardano-leader-us-east-1 (",
    ] {
        assert!(table.contains(want), "{want:?} missing from\n{table}");
    }
    let yaml = k
        .ok(&["forge", "status", "-o", "yaml", "--pool", "MYPL"])
        .stdout;
    assert!(yaml.contains("holder: us-east-1"), "{yaml}");
    let none = k.expect(1, &["forge", "status", "--network", "preprod"]);
    assert!(
        none.stderr
            .contains("no CardanoForgeCluster in namespace default for network preprod"),
        "{}",
        none.stderr
    );

    // 2. Dry runs print the patch and change nothing.
    let maintenance = [
        "forge",
        "maintenance",
        "us-east-1",
        "--for",
        "2h",
        "--reason",
        "kernel upgrade",
    ];
    let dry = k.ok(&[&maintenance[..], &["--dry-run=client"]].concat());
    let patch: Value = serde_json::from_str(&dry.stdout).expect("patch JSON");
    assert_eq!(patch["spec"]["override"]["forceState"], "Disabled");
    assert_eq!(patch["spec"]["override"]["reason"], "kernel upgrade");
    let expires: jiff::Timestamp = patch["spec"]["override"]["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("RFC 3339");
    let in_two_hours = jiff::Timestamp::now().as_second() + 7200;
    assert!(
        (expires.as_second() - in_two_hours).abs() <= 5,
        "expiresAt {expires} is not two hours from now"
    );
    assert!(
        dry.stderr
            .contains("forging moves from us-east-1 to eu-west-1"),
        "{}",
        dry.stderr
    );
    let server_dry = k.ok(&[&maintenance[..], &["--dry-run=server"]].concat());
    assert!(
        server_dry.stderr.contains("accepted the patch (dry run"),
        "{}",
        server_dry.stderr
    );
    assert_eq!(k.spec_field("us-east-1", ".spec.override"), "");
    assert_eq!(forging(&pods, &fp), ["bp-us-east-1-0"]);

    // 3. Maintenance moves forging away and returns once the status shows it.
    let moved = k.ok(&maintenance);
    assert!(
        moved
            .stdout
            .contains("cardanoforgecluster.cardano.io/mainnet-pool1aaaaa-us-east-1 patched"),
        "{}",
        moved.stdout
    );
    assert!(
        moved.stdout.contains("done in")
            && moved.stdout.contains("bp-eu-west-1-0 (eu-west-1) forges"),
        "{}",
        moved.stdout
    );
    forger_is("bp-eu-west-1-0");
    let wide = k.ok(&["forge", "status", "-o", "wide"]).stdout;
    assert!(
        wide.contains("kernel upgrade"),
        "the reason shows in the message:\n{wide}"
    );
    assert!(
        wide.contains("Disabled (1h59m") || wide.contains("Disabled (2h left"),
        "{wide}"
    );

    // 4. A handover back, then clearing its override: forging stays.
    let back = k.ok(&["forge", "handover", "--to", "us-east-1", "--for", "1h"]);
    assert!(
        back.stdout.contains("bp-us-east-1-0 (us-east-1) forges"),
        "{}",
        back.stdout
    );
    forger_is("bp-us-east-1-0");
    assert_eq!(
        k.spec_field("us-east-1", ".spec.override.forcePriority"),
        "1"
    );
    let cleared = k.ok(&["forge", "clear-override", "us-east-1"]);
    assert!(
        cleared.stderr.contains("forging stays with us-east-1"),
        "{}",
        cleared.stderr
    );
    assert_eq!(k.spec_field("us-east-1", ".spec.override"), "");

    // 5. Refusals change nothing: disabling the last region that could forge, a handover to a
    //    Disabled region, an unknown region, a malformed duration.
    k.ok(&["forge", "disable", "eu-west-1"]);
    let last = k.expect(1, &["forge", "disable", "us-east-1"]);
    assert!(
        last.stderr.contains("no region could forge") && last.stderr.contains("--force"),
        "{}",
        last.stderr
    );
    assert_eq!(
        k.spec_field("us-east-1", ".spec.forgeState"),
        "Priority-based"
    );
    let to_disabled = k.expect(
        1,
        &["forge", "handover", "--to", "eu-west-1", "--for", "1h"],
    );
    assert!(
        to_disabled
            .stderr
            .contains("would prefer us-east-1, not eu-west-1"),
        "{}",
        to_disabled.stderr
    );
    assert_eq!(k.spec_field("eu-west-1", ".spec.override"), "");
    let unknown = k.expect(1, &["forge", "enable", "ap-south-1"]);
    assert!(
        unknown
            .stderr
            .contains("known: eu-west-1 (mainnet-pool1aaaaa-eu-west-1), us-east-1"),
        "{}",
        unknown.stderr
    );
    let bad = k.expect(
        2,
        &[
            "forge",
            "maintenance",
            "us-east-1",
            "--for",
            "2x",
            "--reason",
            "r",
        ],
    );
    assert!(bad.stderr.contains("--for"), "{}", bad.stderr);
    k.ok(&["forge", "enable", "eu-west-1"]);
    assert_eq!(forging(&pods, &fp), ["bp-us-east-1-0"]);

    // 6. A move that cannot happen in time exits 3: eu-west-1's sidecar is killed, so its
    //    presence lease still looks live and the maintenance expects it to take over; it never
    //    does, and the command says what it saw when it gave up.
    let eu = &pods[1];
    let killed = children.get(eu.sidecar);
    killed.kill().expect("kill eu sidecar");
    let _ = killed.wait();
    let stuck = k.expect(
        EXIT_TIMEOUT,
        &[&maintenance[..], &["--timeout", "3s"]].concat(),
    );
    assert!(
        stuck.stderr.contains("timed out after 3s"),
        "{}",
        stuck.stderr
    );
    assert!(
        stuck
            .stderr
            .contains("waiting for eu-west-1 to forge alone"),
        "{}",
        stuck.stderr
    );
    wait_until("nobody forging", Duration::from_secs(10), || {
        forging(&pods, &fp).is_empty().then_some(())
    });

    stop.store(true, Ordering::Relaxed);
    monitor.join().expect("monitor");
    let v = violations.lock().expect("monitor");
    assert!(v.is_empty(), "double forging: {v:?}");
    assert!(
        start.elapsed() < TEST_BUDGET,
        "took {:?} (budget {TEST_BUDGET:?})",
        start.elapsed()
    );
}

/// The plugin's exit code for a move not seen in time.
const EXIT_TIMEOUT: i32 = forge_manager::plugin::EXIT_TIMEOUT;
