//! End to end with real processes: the test API server (`forge-sim apiserver`), three pods each made
//! of a fake cardano-node (`forge-sim fake-node`), a `forge-manager run` and a `forge-manager
//! watchdog`, all on this machine. A monitor thread polls every node's `/state` every 100 ms for the
//! whole test and fails it if two nodes ever forge with the real keys at once.
//!
//! Phases: one pod forges (and only its metrics say so); a key rotation is applied with exactly one
//! SIGHUP; `kill -9` of the leader's sidecar → its watchdog demotes the node within the renew
//! deadline and another pod takes over within lease + retry; SIGTERM of the new leader → handoff
//! with a gap under 1 s; invalid real credentials → nobody forges and `/status` says why.
//!
//! The `forge-manager` binary is taken from the same target directory as `forge-sim` (built first
//! with `cargo build --bin forge-manager` when it is missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use forge_manager::credentials::{CredentialPaths, sample_set};

mod processes;

use processes::*;

const LEASE: Duration = Duration::from_secs(6);
const RENEW_DEADLINE: Duration = Duration::from_secs(4);
const RETRY: Duration = Duration::from_secs(1);
/// The whole test must finish within this.
const TEST_BUDGET: Duration = Duration::from_secs(60);

/// When the node's forging last changed, Unix ms.
fn node_forging_changed_ms(port: u16) -> i64 {
    let (_, body) = get(port, "/state").expect("node /state");
    let v: serde_json::Value = serde_json::from_str(&body).expect("node /state JSON");
    v["forging_changed_ms"]
        .as_i64()
        .expect("forging_changed_ms")
}

/// Slot starts (whole Unix seconds: 1 s slots, as the sidecar's default network) in
/// `[off, on)`, when no node forged; and how far into its slot the old node stopped.
fn missed_slots(off: i64, on: i64) -> (i64, i64) {
    let first = off.div_euclid(1000) + i64::from(off.rem_euclid(1000) != 0);
    let missed = (first..).take_while(|k| k * 1000 < on).count();
    (
        i64::try_from(missed).unwrap_or(i64::MAX),
        off.rem_euclid(1000),
    )
}

struct Pod {
    name: String,
    dir: PathBuf,
    source: CredentialPaths,
    node_port: u16,
    http_port: u16,
    sidecar: usize,
}

/// Who forged with the real keys, as the monitor saw it.
#[derive(Default)]
struct Seen {
    /// (when, pod index) of every poll in which exactly that pod forged with real keys; `None`: no one.
    history: Vec<(Instant, Option<usize>)>,
    violations: Vec<String>,
}

fn forger_now(seen: &Mutex<Seen>) -> Option<usize> {
    seen.lock()
        .expect("monitor")
        .history
        .last()
        .and_then(|(_, f)| *f)
}

fn sidecar_env(cmd: &mut Command, pod: &Pod, kubeconfig: &Path) {
    pod_env(
        cmd,
        &pod.dir,
        &pod.name,
        pod.node_port,
        pod.http_port,
        kubeconfig,
    );
}

fn start_sidecar(children: &mut Children, bin: &Path, pod: &Pod, kubeconfig: &Path) -> usize {
    let mut cmd = Command::new(bin);
    cmd.arg("run");
    sidecar_env(&mut cmd, pod, kubeconfig);
    let child = cmd
        .stdout(log_file(&pod.dir, "sidecar.out"))
        .stderr(log_file(&pod.dir, "sidecar.log"))
        .spawn()
        .expect("spawn forge-manager run");
    children.add(&format!("{} sidecar", pod.name), child)
}

#[test]
fn three_real_sidecars_keep_one_forger_through_rotation_crash_and_handoff() {
    let bin = forge_manager_bin();
    // The budget starts after the (possible) build of the binary.
    let test_start = Instant::now();
    let mut children = Children::default();
    let root = tempfile::tempdir().expect("tempdir");

    let api = start_apiserver(&mut children, root.path());
    let (url, kubeconfig, api_child) = (api.url.clone(), api.kubeconfig.clone(), api.child);

    let real = sample_set("e2e-real");
    let rotated = sample_set("e2e-rotated");
    let real_fps = [real.fingerprint(), rotated.fingerprint()];

    // Three pods.
    let mut pods = Vec::new();
    for i in 0..3 {
        let dir = root.path().join(format!("pod-{i}"));
        let decoy = sample_set(&format!("e2e-decoy-{i}"));
        let node_port = start_pod_node(&mut children, &dir, &format!("pod-{i}"), &real, &decoy);
        let pod = Pod {
            name: format!("pod-{i}"),
            source: CredentialPaths::in_dir(&dir.join("secrets")),
            dir,
            node_port,
            http_port: free_port(),
            sidecar: 0,
        };
        let mut wd = Command::new(&bin);
        wd.arg("watchdog");
        sidecar_env(&mut wd, &pod, &kubeconfig);
        let wd = wd
            .stdout(Stdio::null())
            .stderr(log_file(&pod.dir, "watchdog.log"))
            .spawn()
            .expect("spawn watchdog");
        children.add(&format!("pod-{i} watchdog"), wd);
        pods.push(pod);
    }
    for pod in &mut pods {
        pod.sidecar = start_sidecar(&mut children, &bin, pod, &kubeconfig);
    }
    let dump = |pods: &[Pod]| {
        for p in pods {
            eprintln!(
                "--- {} sidecar.log\n{}",
                p.name,
                tail(&p.dir.join("sidecar.log"))
            );
            eprintln!(
                "--- {} watchdog.log\n{}",
                p.name,
                tail(&p.dir.join("watchdog.log"))
            );
        }
    };

    // The monitor: every 100 ms, every node.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = {
        let ports: Vec<u16> = pods.iter().map(|p| p.node_port).collect();
        let (seen, stop, real_fps) = (Arc::clone(&seen), Arc::clone(&stop), real_fps.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let forgers: Vec<usize> = ports
                    .iter()
                    .enumerate()
                    .filter(|(_, port)| {
                        node_state(**port).is_some_and(|s| {
                            s.forging
                                && s.credentials.as_ref().is_some_and(|c| real_fps.contains(c))
                        })
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                let mut s = seen.lock().expect("monitor");
                if forgers.len() > 1 {
                    s.violations
                        .push(format!("pods {forgers:?} forge with the real keys at once"));
                }
                s.history.push((Instant::now(), forgers.first().copied()));
                drop(s);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let check_safety = |seen: &Mutex<Seen>| {
        let s = seen.lock().expect("monitor");
        assert!(
            s.violations.is_empty(),
            "double forging: {:?}",
            s.violations
        );
    };

    // 1. Exactly one pod forges, with the real keys (a created lease is promotable after LEASE).
    let first = wait_until("a first forger", Duration::from_secs(20), || {
        forger_now(&seen)
    });
    let (leader, _) = first;
    eprintln!(
        "first forger: {} after {:?}",
        pods[leader].name,
        test_start.elapsed()
    );
    let st = node_state(pods[leader].node_port).expect("leader state");
    assert_eq!(st.credentials.as_deref(), Some(real.fingerprint().as_str()));
    // The promotion is a Kubernetes Event about the leader's pod (sent in the background).
    let api_port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("the API server's port");
    let leader_name = pods[leader].name.clone();
    wait_until("a Promoted Event", Duration::from_secs(5), || {
        get(api_port, "/apis/events.k8s.io/v1/namespaces/default/events").filter(|(_, body)| {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            v["items"].as_array().is_some_and(|items| {
                items.iter().any(|e| {
                    e["reason"] == "Promoted" && e["regarding"]["name"] == leader_name.as_str()
                })
            })
        })
    });
    // Only the leader's metrics say it forges; every sidecar is alive and started.
    wait_until("metrics to agree", Duration::from_secs(5), || {
        let ones: Vec<usize> = pods
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                get(p.http_port, "/metrics").is_some_and(|(_, m)| {
                    m.lines()
                        .any(|l| l.starts_with("cardano_forging_enabled{") && l.ends_with(" 1.0"))
                })
            })
            .map(|(i, _)| i)
            .collect();
        (ones == vec![leader]).then_some(())
    });
    for p in &pods {
        let (code, body) = get(p.http_port, "/health").expect("health");
        assert_eq!((code, body.as_str()), (200, "OK"), "{}", p.name);
        let (code, body) = wait_until("startup-status ready", Duration::from_secs(5), || {
            get(p.http_port, "/startup-status").filter(|(c, _)| *c == 200)
        })
        .0;
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).expect("startup json");
        assert_eq!(v["status"], "ready", "{body}");
        assert_eq!(v["message"], "Startup credentials provisioned successfully");
        assert!(v["credentials_provisioned"].is_boolean(), "{body}");
        assert!(
            v["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with("+00:00")),
            "{body}"
        );
        assert_eq!(get(p.http_port, "/nope").map(|r| r.0), Some(404));
    }
    check_safety(&seen);

    // 2. Key rotation (the Secret changes on every pod): the leader applies it with one SIGHUP.
    let before = node_state(pods[leader].node_port).expect("state").sighups;
    for p in &pods {
        write_secret(&p.dir.join("secrets"), &rotated, 2);
    }
    wait_until(
        "the rotated keys on the leader",
        Duration::from_secs(5),
        || {
            node_state(pods[leader].node_port).filter(|s| {
                s.forging && s.credentials.as_deref() == Some(rotated.fingerprint().as_str())
            })
        },
    );
    std::thread::sleep(RETRY * 2);
    let after = node_state(pods[leader].node_port).expect("state").sighups;
    assert_eq!(after - before, 1, "a rotation takes exactly one SIGHUP");
    assert_eq!(forger_now(&seen), Some(leader));
    check_safety(&seen);

    // 3. kill -9 of the leader's sidecar: its watchdog demotes its node within the renew deadline;
    //    another pod takes over within lease + retry (+ margin).
    let killed_at = Instant::now();
    children.get(pods[leader].sidecar).kill().expect("kill -9");
    let (_, demoted_after) = wait_until(
        "the watchdog to demote the orphaned node",
        RENEW_DEADLINE + Duration::from_secs(3),
        || {
            // The watchdog puts the decoys back after its SIGHUP: a node that re-reads late loads
            // them, which forges nothing real.
            node_state(pods[leader].node_port).filter(|s| {
                !s.forging || !s.credentials.as_ref().is_some_and(|c| real_fps.contains(c))
            })
        },
    );
    let (successor, failover) = wait_until(
        "a successor",
        LEASE + RETRY + Duration::from_secs(6),
        || forger_now(&seen).filter(|f| *f != leader),
    );
    let failover = killed_at.elapsed().min(failover + demoted_after);
    eprintln!(
        "failover: watchdog demoted the orphan {:.2}s after kill -9; {} forges {:.2}s after kill -9 \
         ({:.2}s without a forger)",
        demoted_after.as_secs_f64(),
        pods[successor].name,
        failover.as_secs_f64(),
        failover.saturating_sub(demoted_after).as_secs_f64()
    );
    if demoted_after > RENEW_DEADLINE + Duration::from_secs(1)
        || failover > LEASE + RETRY + Duration::from_secs(3)
    {
        dump(&pods);
    }
    assert!(
        demoted_after <= RENEW_DEADLINE + Duration::from_secs(1),
        "{demoted_after:?}"
    );
    assert!(
        failover <= LEASE + RETRY + Duration::from_secs(3),
        "{failover:?}"
    );
    check_safety(&seen);

    // 4. SIGTERM of the new leader: demote, verify, release; the last pod takes over at once.
    let sigterm_at = Instant::now();
    let pid = children.get(pods[successor].sidecar).id();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let (third, _) = wait_until("a handoff", Duration::from_secs(8), || {
        forger_now(&seen).filter(|f| *f != successor && *f != leader)
    });
    let gap = {
        let s = seen.lock().expect("monitor");
        let last_old = s
            .history
            .iter()
            .filter(|(t, f)| *t >= sigterm_at && *f == Some(successor))
            .map(|(t, _)| *t)
            .next_back()
            .unwrap_or(sigterm_at);
        let first_new = s
            .history
            .iter()
            .find(|(t, f)| *t >= last_old && *f == Some(third))
            .map(|(t, _)| *t)
            .unwrap_or(last_old);
        first_new.duration_since(last_old)
    };
    eprintln!(
        "handover: {} → {}: gap {:.2}s (polled every 100 ms), {:.2}s after SIGTERM",
        pods[successor].name,
        pods[third].name,
        gap.as_secs_f64(),
        sigterm_at.elapsed().as_secs_f64()
    );
    // The chain (under a second) and the successor's slot settle (1.05 s): docs/safety.md,
    // "Planned handovers and the slot clock".
    assert!(gap < Duration::from_secs(3), "handover gap {gap:?}");
    // The same handover on the nodes' own clocks: the old node stopped and the new one started
    // forging at these Unix milliseconds. Like a real cardano-node, a fake node enabled part-way
    // through a slot checks that slot at once, so what counts is which slots each checked.
    let off = node_forging_changed_ms(pods[successor].node_port);
    let on = node_forging_changed_ms(pods[third].node_port);
    let (starts, phase) = missed_slots(off, on);
    let last_old = node_state(pods[successor].node_port)
        .expect("old node state")
        .last_check_slot;
    let first_new = node_state(pods[third].node_port)
        .expect("new node state")
        .enable_check_slot;
    eprintln!(
        "handover on the nodes' clocks: off at slot phase {phase} ms, gap {} ms, {starts} slot start(s) in the gap; the old node last checked slot {last_old:?}, the new one first checked slot {first_new:?}",
        on - off
    );
    assert!(on > off, "the new node started before the old one stopped");
    let (Some(last_old), Some(first_new)) = (last_old, first_new) else {
        panic!("both nodes checked leadership: {last_old:?}, {first_new:?}");
    };
    // Safety: no slot checked by both nodes, always. Liveness: the bar of no slot left unchecked
    // is the simulator's (scenario files, deterministic); here real processes share a busy
    // machine (a CI rehearsal beside a soak took 2.1 s and missed one), so one missed slot is
    // allowed and the count is printed above.
    assert!(
        first_new > last_old,
        "slot {first_new} checked by both the old and the new node"
    );
    assert!(
        first_new - last_old - 1 <= 1,
        "{} slots missed between the old node's last check and the new node's first",
        first_new - last_old - 1
    );
    let (status, _) = wait_until(
        "the SIGTERMed sidecar to exit",
        Duration::from_secs(5),
        || {
            children
                .get(pods[successor].sidecar)
                .try_wait()
                .ok()
                .flatten()
        },
    );
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    check_safety(&seen);

    // 5. Invalid real credentials: the forger demotes, nobody forges, /status says why.
    let p = &pods[third];
    std::fs::write(
        &p.source.opcert,
        b"{\"type\":\"NodeOperationalCertificate\",\"cborHex\":\"00\"}",
    )
    .expect("corrupt");
    wait_until("nobody forging", Duration::from_secs(5), || {
        node_state(p.node_port)
            .filter(|s| !s.forging || !s.credentials.as_ref().is_some_and(|c| real_fps.contains(c)))
    });
    let (_, body) = wait_until("status to explain", Duration::from_secs(5), || {
        get(p.http_port, "/status").filter(|(_, b)| b.contains("credentials_invalid"))
    })
    .0;
    let v: serde_json::Value = serde_json::from_str(&body).expect("status json");
    assert!(v["credentials"]["problem"].is_string(), "{body}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(forger_now(&seen), None);

    // 6. docs/operations.md's journal commands, as written, in a pod whose sidecar runs (it holds
    //    the journal's lock): `kubectl exec POD -c cardano-forge-manager -- /forge-manager journal
    //    timeline` runs the CLI with the container's environment and no file argument.
    journal_commands_read_through_the_running_sidecar(&bin, &pods, third, leader, &kubeconfig);

    // 7. SIGTERM while the API server hangs (stopped: connections are accepted, nothing answers):
    //    the forger demotes without the API, exits 0, and its last line says the lease was left
    //    to expire, not that it was released.
    let p = &pods[third];
    write_secret(&p.dir.join("secrets"), &rotated, 3);
    wait_until("the repaired pod forging", Duration::from_secs(8), || {
        forger_now(&seen).filter(|f| *f == third)
    });
    let signal = |pid: u32, signal| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("signal");
    };
    let api_pid = children.get(api_child).id();
    signal(api_pid, nix::sys::signal::Signal::SIGSTOP);
    signal(
        children.get(p.sidecar).id(),
        nix::sys::signal::Signal::SIGTERM,
    );
    let (status, exited_after) = wait_until(
        "the SIGTERMed sidecar to exit with the API server hanging",
        Duration::from_secs(10),
        || children.get(p.sidecar).try_wait().ok().flatten(),
    );
    signal(api_pid, nix::sys::signal::Signal::SIGCONT);
    let state = node_state(p.node_port).expect("node state");
    assert!(
        !state.forging
            || !state
                .credentials
                .as_ref()
                .is_some_and(|c| real_fps.contains(c)),
        "the node still forges with real keys after the sidecar exited"
    );
    assert!(status.success(), "exit status: {status:?}");
    let log = std::fs::read_to_string(p.dir.join("sidecar.log")).unwrap_or_default();
    let last = log
        .lines()
        .rfind(|l| l.contains("shut down: "))
        .unwrap_or_else(|| {
            panic!(
                "no shut-down line in:\n{}",
                tail(&p.dir.join("sidecar.log"))
            )
        });
    assert!(last.contains("lease left to expire"), "{last}");
    eprintln!(
        "SIGTERM with the API server hanging: exited 0 after {:.2}s",
        exited_after.as_secs_f64()
    );

    stop.store(true, Ordering::Relaxed);
    monitor.join().expect("monitor thread");
    check_safety(&seen);
    let took = test_start.elapsed();
    eprintln!("e2e took {:.1}s", took.as_secs_f64());
    assert!(took < TEST_BUDGET, "the test took {took:?}");
}

/// `forge-manager journal …` with pod `running`'s environment, as `kubectl exec` runs it.
fn journal_cli(bin: &Path, pod: &Pod, kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin);
    sidecar_env(&mut cmd, pod, kubeconfig);
    cmd.arg("journal")
        .args(args)
        .output()
        .expect("run forge-manager journal")
}

/// Step 6 of the test: the journal of a running sidecar reads through its `/journal` endpoint, and
/// the journals of all three pods (the killed leader's with its watchdog's log) merge without a
/// false overlap.
fn journal_commands_read_through_the_running_sidecar(
    bin: &Path,
    pods: &[Pod],
    running: usize,
    killed: usize,
    kubeconfig: &Path,
) {
    let pod = &pods[running];
    let via = format!(
        "reading a consistent snapshot from http://127.0.0.1:{}/journal",
        pod.http_port
    );
    let o = journal_cli(bin, pod, kubeconfig, &["timeline"]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "timeline: {err}\n{out}");
    assert!(err.contains(&via), "{err}");
    assert!(
        out.contains(&format!("{} ", pod.name)) && out.contains("startup"),
        "{out}"
    );
    assert!(out.contains("no overlap"), "{out}");

    let o = journal_cli(bin, pod, kubeconfig, &["stats"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "stats: {out}");
    assert!(out.contains("records:"), "{out}");

    // The production sidecar's decisions replay identically on the same build.
    let o = journal_cli(bin, pod, kubeconfig, &["replay"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "replay: {out}");
    assert!(
        out.contains("all identical, written by forge-manager"),
        "{out}"
    );

    // The killed leader's watchdog logged its firing next to the heartbeat; a copy of the
    // journals keeps it next to the journal (`FILE.watchdog`).
    let killed_dir = &pods[killed].dir;
    let log = killed_dir.join("target/.heartbeat.log");
    let firings = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        firings.contains("\"sighup\":true"),
        "watchdog log: {firings:?}"
    );
    std::fs::copy(&log, killed_dir.join("journal.redb.watchdog")).expect("copy the log");
    let files: Vec<String> = pods
        .iter()
        .map(|p| p.dir.join("journal.redb").display().to_string())
        .collect();
    let mut args = vec!["timeline"];
    args.extend(files.iter().map(String::as_str));
    let o = journal_cli(bin, pod, kubeconfig, &args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "timeline of 3 pods: {err}\n{out}");
    assert!(out.contains(" watchdog "), "the firing is listed: {out}");
    assert!(out.contains("no overlap"), "{out}");

    // The ops guide's way to keep a running pod's journal: `curl -o` of the snapshot (through a
    // port-forward in a cluster), then the commands on the file.
    let copy = pods[running].dir.join("copy.redb");
    let curl = Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&copy)
        .arg(format!("http://127.0.0.1:{}/journal", pod.http_port))
        .status();
    match curl {
        Ok(status) => {
            assert!(status.success(), "curl /journal: {status:?}");
            let log = pods[running].dir.join("copy.redb.watchdog");
            let status = Command::new("curl")
                .args(["-sf", "-o"])
                .arg(&log)
                .arg(format!(
                    "http://127.0.0.1:{}/journal/watchdog",
                    pod.http_port
                ))
                .status()
                .expect("curl /journal/watchdog");
            assert!(status.success(), "curl /journal/watchdog: {status:?}");
            let o = journal_cli(
                bin,
                pod,
                kubeconfig,
                &["timeline", &copy.display().to_string()],
            );
            assert_eq!(o.status.code(), Some(0), "timeline of the copy");
            let o = journal_cli(
                bin,
                pod,
                kubeconfig,
                &["stats", &copy.display().to_string()],
            );
            let out = String::from_utf8_lossy(&o.stdout);
            assert_eq!(o.status.code(), Some(0), "stats of the copy: {out}");
            assert!(out.contains("format version:"), "{out}");
        }
        Err(e) => eprintln!("curl not run ({e}): the snapshot was read by the CLI above"),
    }
}

#[test]
fn missed_slots_counts_the_whole_seconds_without_a_forger() {
    // (off, on, missed, phase of off)
    let cases = [
        (10_020, 10_400, 0, 20),
        (10_020, 11_000, 0, 20),
        (10_020, 11_001, 1, 20),
        (10_000, 10_300, 1, 0),
        (9_999, 12_500, 3, 999),
    ];
    for (off, on, missed, phase) in cases {
        assert_eq!(missed_slots(off, on), (missed, phase), "{off}..{on}");
    }
}

/// The watchdog has no API access: its firings reach the API as Events through the sidecar. A
/// sidecar that starts after a recent firing (the usual case: the firing ended its previous
/// life) reports it as a Warning `WatchdogFired` Event on its pod.
#[test]
fn a_restarted_sidecar_reports_the_watchdogs_recent_firing_as_an_event() {
    use forge_manager::journal::watchdog_log::{WatchdogEvent, append, log_path_for_heartbeat};
    let bin = forge_manager_bin();
    let mut children = Children::default();
    let root = tempfile::tempdir().expect("tempdir");
    let api = start_apiserver(&mut children, root.path());
    let dir = root.path().join("pod-w");
    let node_port = start_pod_node(
        &mut children,
        &dir,
        "pod-w",
        &sample_set("watchdog-event-real"),
        &sample_set("watchdog-event-decoy"),
    );
    let minute_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    append(
        &log_path_for_heartbeat(&dir.join("target/.heartbeat")),
        &WatchdogEvent {
            wall: minute_ago.to_string(),
            mono_ms: 1,
            pod: "pod-w".into(),
            removed: 3,
            sighup: true,
            confirmed: true,
            superseded: false,
        },
    )
    .expect("write the watchdog log");
    let mut cmd = Command::new(&bin);
    cmd.arg("run");
    pod_env(
        &mut cmd,
        &dir,
        "pod-w",
        node_port,
        free_port(),
        &api.kubeconfig,
    );
    let child = cmd
        .stdout(Stdio::null())
        .stderr(log_file(&dir, "sidecar.log"))
        .spawn()
        .expect("spawn forge-manager run");
    children.add("pod-w sidecar", child);
    let port: u16 = api
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("the API server's port");
    let (note, _) = wait_until("a WatchdogFired Event", Duration::from_secs(15), || {
        let (_, body) = get(port, "/apis/events.k8s.io/v1/namespaces/default/events")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["items"].as_array()?.iter().find_map(|e| {
            (e["reason"] == "WatchdogFired"
                && e["type"] == "Warning"
                && e["regarding"]["name"] == "pod-w")
                .then(|| e["note"].as_str().unwrap_or_default().to_owned())
        })
    });
    assert!(
        note.contains("confirmed not forging") && note.contains(&minute_ago.to_string()),
        "{note}"
    );
}
