//! `forge-sim lab` end to end: the lab starts two regions of two pods (real `forge-manager run`
//! and `watchdog`, fake nodes), is driven through its own commands on stdin and through the real
//! kubectl, and stops leaving no process behind. The lab's plain output names every change of
//! forger; "MORE THAN ONE" there fails the test.
//!
//! kubectl must be on PATH (CI runs `.ci/install-tools.sh`).

mod processes;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use processes::*;

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run kubectl (is it on PATH? .ci/install-tools.sh installs it)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Processes whose command line or environment names `dir`.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid.parse::<u32>().is_err() {
            continue;
        }
        for file in ["cmdline", "environ"] {
            let bytes = std::fs::read(entry.path().join(file)).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(&needle) {
                found.push(format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&bytes).replace('\0', " ")
                ));
                break;
            }
        }
    }
    found
}

#[test]
fn the_lab_runs_a_pool_obeys_its_commands_and_kubectl_and_stops_cleanly() {
    let bin = forge_manager_bin();
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("lab");
    let mut children = Children::default();
    let mut lab = start_lab(&mut children, &bin, &dir, 2, 2);

    // 1. A pod of the preferred region forges; kubectl and the endpoints work against the lab.
    let kubeconfig = lab.line_after(0, "kubeconfig: ", Duration::from_secs(30));
    let kubeconfig = Path::new(kubeconfig.trim_start_matches("kubeconfig: ")).to_path_buf();
    let started = Instant::now();
    let first = lab.line_after(0, "forging: bp-us-east-1-", Duration::from_secs(60));
    let forger = first.trim_start_matches("forging: ").to_owned();
    let other = if forger.ends_with("-0") {
        "bp-us-east-1-1"
    } else {
        "bp-us-east-1-0"
    };
    eprintln!(
        "{forger} forges after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let leases = kubectl(&kubeconfig, &["get", "leases", "-o", "name"]);
    for lease in [
        "cardano-leader-us-east-1",
        "cardano-leader-eu-west-1",
        "cardano-forge-global-mainnet-pool1gys8l",
    ] {
        assert!(leases.contains(lease), "{lease} missing: {leases}");
    }
    kubectl(&kubeconfig, &["create", "namespace", "lab-test"]);
    let banner = lab.line_after(
        0,
        &format!("pod {forger}: metrics "),
        Duration::from_secs(1),
    );
    let port: u16 = banner
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the forger's metrics port in the banner");
    let (code, metrics) = get(port, "/metrics").expect("the forger's /metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("cardano_forging_enabled 1"), "{metrics}");

    // 2. SIGTERM to the forger's pod: its region-mate takes over.
    let from = lab.mark();
    lab.say(&format!("term {forger}"));
    lab.line_after(from, "SIGTERM sent", Duration::from_secs(5));
    lab.line_after(from, &format!("forging: {other}"), Duration::from_secs(20));

    // 3. us-east-1 cut off from the API server: forging moves to eu-west-1.
    let from = lab.mark();
    lab.say("cut us-east-1");
    lab.line_after(from, "forging: bp-eu-west-1-", Duration::from_secs(40));

    // 4. Healed, and eu-west-1 disabled by the lab's patch: forging comes back to us-east-1.
    let from = lab.mark();
    lab.say("heal us-east-1");
    lab.say("patch eu-west-1 {\"forgeState\":\"Disabled\"}");
    lab.line_after(
        from,
        "patched mainnet-pool1gys8l-eu-west-1",
        Duration::from_secs(5),
    );
    lab.line_after(from, "forging: bp-us-east-1-", Duration::from_secs(40));
    let state = kubectl(
        &kubeconfig,
        &[
            "get",
            "cfc",
            "mainnet-pool1gys8l-eu-west-1",
            "-o",
            "jsonpath={.spec.forgeState}",
        ],
    );
    assert_eq!(state, "Disabled");

    // 5. A pod restarted, a bad command refused, then Ctrl-C: nothing left running.
    let from = lab.mark();
    lab.say(&format!("restart {forger}"));
    lab.line_after(from, "started again", Duration::from_secs(5));
    lab.say("kill bp-nowhere-0");
    lab.line_after(from, "error: no pod bp-nowhere-0", Duration::from_secs(5));
    // Ctrl-C, as at a terminal (`quit` takes the same way out).
    let pid = i32::try_from(children.get(lab.child).id()).expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT to the lab");
    let (status, took) = wait_until("the lab to exit", Duration::from_secs(20), || {
        children.get(lab.child).try_wait().ok().flatten()
    });
    assert!(status.success(), "lab exited with {status}");
    eprintln!("lab stopped in {:.1}s", took.as_secs_f64());
    lab.line_after(0, "stopped 4 pod(s)", Duration::from_secs(5));
    let LabProcess { reader, lines, .. } = lab;
    reader.join().expect("reader");
    let (_, _) = wait_until(
        "every lab process to be gone",
        Duration::from_secs(5),
        || processes_under(&dir).is_empty().then_some(()),
    );
    let all = lines.lock().expect("lines").join("\n");
    assert!(
        !all.contains("MORE THAN ONE"),
        "two forgers at once:\n{all}"
    );
}
