//! The project's alert and recording rules on a real Prometheus server (Debian's `prometheus`,
//! installed by `.ci/install-tools.sh`), scraping two real pods on loopback: each a fake
//! cardano-node, a `forge-manager run` and a `forge-manager watchdog`. The rules file is
//! `deploy/prometheus/rules.yaml`, loaded unchanged; Prometheus scrapes every second and evaluates
//! the alert groups every second (the recording group keeps its own 15 s).
//!
//! A forced failover (`kill -9` of the forger's sidecar; its watchdog demotes the node) with a
//! 45 s lease leaves the pool without a forger for about 45 s: `CardanoNoForger` (for: 30s) must
//! fire during the gap and resolve once the standby forges, `CardanoMultipleForgers` must never
//! appear, every rule must evaluate without error, and the recording rules must produce values.
//! The run is bounded (`TEST_BUDGET`) and its Prometheus listens on loopback only. kubectl and
//! prometheus must be on PATH (`.ci/install-tools.sh`).

mod processes;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use forge_manager::credentials::sample_set;
use processes::*;
use serde_json::Value;

const TEST_BUDGET: Duration = Duration::from_secs(150);

fn require_prometheus() {
    match Command::new("prometheus").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        other => panic!(
            "prometheus is not on PATH ({other:?}); this test needs the real server: run \
             .ci/install-tools.sh (Debian's prometheus package)"
        ),
    }
}

/// One Prometheus HTTP API GET, its `data` (panics on an error answer, which is a test failure).
fn api(port: u16, path: &str) -> Option<Value> {
    let (code, body) = get(port, path)?;
    let v: Value = serde_json::from_str(&body).ok()?;
    assert_eq!(code, 200, "{path}: {body}");
    assert_eq!(v["status"], "success", "{path}: {body}");
    Some(v["data"].clone())
}

/// The value of an instant query's first sample, if the query returns one.
fn query(port: u16, expr: &str) -> Option<f64> {
    let data = api(port, &format!("/api/v1/query?query={expr}"))?;
    data["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Alerts now, as `name → state` (`pending` or `firing`).
fn alerts(port: u16) -> Vec<(String, String)> {
    api(port, "/api/v1/alerts")
        .map(|d| {
            d["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    (
                        a["labels"]["alertname"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        a["state"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

struct Pod {
    name: String,
    node_port: u16,
    http_port: u16,
    sidecar: usize,
}

#[test]
fn the_rules_fire_and_resolve_on_a_real_prometheus_during_a_forced_failover() {
    require_prometheus();
    let bin = forge_manager_bin();
    let start = Instant::now();
    let mut children = Children::default();
    let root = tempfile::tempdir().expect("tempdir");
    let api_server = start_apiserver(&mut children, root.path());
    // The lease exists, released: the first leader promotes at once (a lease it had to create
    // would make it wait a whole 45 s lease duration first, in case an unknown holder forged).
    let lease = root.path().join("lease.yaml");
    std::fs::write(
        &lease,
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: cardano-node-leader}\n\
         spec: {holderIdentity: '', leaseDurationSeconds: 45}\n",
    )
    .expect("lease.yaml");
    let applied = Command::new("kubectl")
        .args(["apply", "-f"])
        .arg(&lease)
        .env("KUBECONFIG", &api_server.kubeconfig)
        .env("HOME", root.path())
        .output()
        .expect("kubectl (on PATH: .ci/install-tools.sh)");
    assert!(applied.status.success(), "{applied:?}");
    let real = sample_set("prometheus-real");
    let fp = real.fingerprint();

    let mut pods = Vec::new();
    for i in 0..2 {
        let name = format!("bp-{i}");
        let dir = root.path().join(&name);
        let decoy = sample_set(&format!("prometheus-decoy-{i}"));
        let node_port = start_pod_node(&mut children, &dir, &name, &real, &decoy);
        let http_port = free_port();
        let watchdog_port = free_port();
        let spawn = |children: &mut Children, what: &str, port: u16| {
            let mut cmd = Command::new(&bin);
            cmd.arg(what);
            pod_env(
                &mut cmd,
                &dir,
                &name,
                node_port,
                port,
                &api_server.kubeconfig,
            );
            // A 45 s lease: the failover's gap outlasts CardanoNoForger's 30 s.
            cmd.env("LEASE_DURATION", "45")
                .env("RENEW_DEADLINE", "30s")
                .env("RETRY_PERIOD", "2s");
            let child = cmd
                .stdout(Stdio::null())
                .stderr(log_file(&dir, &format!("{what}.log")))
                .spawn()
                .expect("spawn forge-manager");
            children.add(&format!("{name} {what}"), child)
        };
        spawn(&mut children, "watchdog", watchdog_port);
        let sidecar = spawn(&mut children, "run", http_port);
        pods.push(Pod {
            name,
            node_port,
            http_port,
            sidecar,
        });
    }

    // Prometheus: every sidecar and node, rules unchanged, loopback only.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/rules.yaml");
    let targets = |ports: Vec<u16>| {
        ports
            .iter()
            .map(|p| format!("'127.0.0.1:{p}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = root.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: ['{}']\n\
             scrape_configs:\n\
             - job_name: forge-manager\n  static_configs: [{{targets: [{}]}}]\n\
             - job_name: cardano-node\n  static_configs: [{{targets: [{}]}}]\n",
            rules.canonicalize().expect("rules.yaml").display(),
            targets(pods.iter().map(|p| p.http_port).collect()),
            targets(pods.iter().map(|p| p.node_port).collect()),
        ),
    )
    .expect("prometheus.yml");
    let prom_port = free_port();
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            root.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log_file(root.path(), "prometheus.log"))
        .spawn()
        .expect("spawn prometheus");
    children.add("prometheus", prom);
    let dump = || {
        eprintln!(
            "--- prometheus.log\n{}",
            tail(&root.path().join("prometheus.log"))
        );
        for p in &pods {
            let log = root.path().join(&p.name).join("run.log");
            eprintln!("--- {} run.log\n{}", p.name, tail(&log));
        }
    };
    let forgers = || -> Vec<usize> {
        pods.iter()
            .enumerate()
            .filter(|(_, p)| {
                node_state(p.node_port)
                    .is_some_and(|s| s.forging && s.credentials.as_deref() == Some(fp.as_str()))
            })
            .map(|(i, _)| i)
            .collect()
    };

    let setup = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("prometheus ready", Duration::from_secs(30), || {
            get(prom_port, "/-/ready").filter(|(c, _)| *c == 200)
        });
        let (first, _) = wait_until("a forger", Duration::from_secs(30), || {
            match forgers().as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        });
        // The recording rules produce values (their group runs every 15 s).
        wait_until("cardano:forgers:sum = 1", Duration::from_secs(40), || {
            (query(prom_port, "cardano:forgers:sum") == Some(1.0)).then_some(())
        });
        wait_until("cardano:leaders:sum = 1", Duration::from_secs(20), || {
            (query(prom_port, "cardano:leaders:sum") == Some(1.0)).then_some(())
        });
        first
    }));
    let first = match setup {
        Ok(first) => first,
        Err(panic) => {
            dump();
            std::panic::resume_unwind(panic);
        }
    };
    // Every rule has been evaluated, and none errs.
    let (rule_count, _) = wait_until("every rule evaluated", Duration::from_secs(20), || {
        let data = api(prom_port, "/api/v1/rules")?;
        let rules: Vec<Value> = data["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        for r in &rules {
            assert_ne!(
                r["health"], "err",
                "rule {} errs: {}",
                r["name"], r["lastError"]
            );
        }
        rules
            .iter()
            .all(|r| r["health"] == "ok")
            .then_some(rules.len())
    });
    assert!(rule_count >= 20, "only {rule_count} rules loaded");
    let quiet = alerts(prom_port);
    assert!(
        !quiet.iter().any(|(n, _)| n == "CardanoNoForger"),
        "{quiet:?}"
    );

    // The forced failover.
    let killed_at = Instant::now();
    let killed = children.get(pods[first].sidecar);
    killed.kill().expect("kill the forger's sidecar");
    let _ = killed.wait();
    let other = 1 - first;
    let mut seen_firing = None;
    let mut seen_double = Vec::new();
    let mut took_over = None;
    let resolved = loop {
        let now = alerts(prom_port);
        if now.iter().any(|(n, _)| n == "CardanoMultipleForgers") {
            seen_double.push(format!("{:?}: {now:?}", killed_at.elapsed()));
        }
        let firing = now
            .iter()
            .any(|(n, s)| n == "CardanoNoForger" && s == "firing");
        if firing && seen_firing.is_none() {
            seen_firing = Some(killed_at.elapsed());
        }
        if took_over.is_none() && forgers() == [other] {
            took_over = Some(killed_at.elapsed());
        }
        if seen_firing.is_some()
            && took_over.is_some()
            && !now.iter().any(|(n, _)| n == "CardanoNoForger")
        {
            break killed_at.elapsed();
        }
        if killed_at.elapsed() > Duration::from_secs(90) {
            dump();
            panic!(
                "after 90 s: CardanoNoForger fired at {seen_firing:?}, the standby forged at \
                 {took_over:?}, alerts now {now:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!(
        "CardanoNoForger fired {seen_firing:?} after the kill; the standby forged after \
         {took_over:?}; resolved after {resolved:?}"
    );
    assert!(seen_double.is_empty(), "{seen_double:?}");
    // The failover shows in the leadership-change rate.
    wait_until(
        "cardano:leadership_changes:rate5m > 0",
        Duration::from_secs(40),
        || {
            query(prom_port, "sum(cardano:leadership_changes:rate5m)")
                .filter(|v| *v > 0.0)
                .map(|_| ())
        },
    );
    assert!(
        start.elapsed() < TEST_BUDGET,
        "took {:?} (budget {TEST_BUDGET:?})",
        start.elapsed()
    );
}
