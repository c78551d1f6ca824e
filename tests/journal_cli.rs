//! `forge-manager journal …` end to end with the real binary: every verb on a generated failover,
//! the overlap exit code, and bad files (exit 2, message on stderr, file unmodified), and a file
//! held by a running writer (exit 3 at once, never a hang).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use forge_manager::core::reason::Reason;
use forge_manager::journal::demo::{record, write_failover};
use forge_manager::journal::{Journal, JournalConfig, RecordKind, SyncMode};
use sha2::{Digest, Sha256};

fn fm(args: &[&str], files: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge-manager"));
    // No sidecar answers on port 1: a journal in use is reported, not read through one.
    cmd.env("METRICS_PORT", "1").env_remove("JOURNAL_PATH");
    cmd.arg("journal").args(args).args(files);
    cmd.output().expect("run forge-manager")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

fn failover() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_failover(dir.path()).expect("write demo journals");
    (dir, files)
}

#[test]
fn stats_reports_records_span_kinds_and_version() {
    let (_d, f) = failover();
    let o = fm(&["stats"], &[&f[0]]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("records:         12 (seq 1..12)"), "{s}");
    let version = forge_manager::journal::FORMAT_VERSION;
    assert!(s.contains(&format!("format version:  {version}\n")), "{s}");
    assert!(s.contains("heartbeat=6"), "{s}");
    let o = fm(&["stats", "-o", "json"], &[&f[0], &f[1]]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(std::vec::Vec::len), Some(2));
}

#[test]
fn tail_prints_the_last_records_in_order() {
    let (_d, f) = failover();
    let o = fm(&["tail", "-n", "3"], &[&f[0]]);
    assert_eq!(o.status.code(), Some(0));
    let s = text(&o.stdout);
    let seqs: Vec<_> = s
        .lines()
        .filter(|l| !l.trim_start().starts_with("->"))
        .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
        .collect();
    assert_eq!(seqs, vec!["#10", "#11", "#12"], "{s}");
}

#[test]
fn query_filters_by_relative_window_kind_and_reason_in_every_format() {
    let (_d, f) = failover();
    let o = fm(
        &["query", "--since", "2m", "--kind", "action", "-o", "jsonl"],
        &[&f[0], &f[1]],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let recs: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl line"))
        .collect();
    let pods: Vec<_> = recs
        .iter()
        .map(|r| r["pod"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(pods, vec!["bp-0", "bp-1"], "merged in wall-time order");
    let o = fm(&["query", "--reason", "released", "-o", "json"], &[&f[0]]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json array");
    assert_eq!(v.as_array().map(std::vec::Vec::len), Some(1));
    let o = fm(&["query", "--pod", "bp-9"], &[&f[0]]);
    assert_eq!(text(&o.stdout).lines().count(), 1, "header only");
    let o = fm(&["query", "--kind", "nonsense"], &[&f[0]]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn explain_names_the_forger_and_the_steps_since_its_role_change() {
    let (_d, f) = failover();
    let o = fm(
        &["explain", "--at", "2026-11-25T10:04:30Z"],
        &[&f[0], &f[1]],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("at 2026-11-25T10:04:30Z: eu-west/bp-1 forged"),
        "{s}"
    );
    assert!(
        s.contains("before: 2026-11-25T10:04:10.700Z  #7 role acquiring"),
        "{s}"
    );
    assert!(s.contains("action write_credentials: ok"), "{s}");
    let o = fm(
        &["explain", "--at", "2026-11-25T10:02:00Z"],
        &[&f[0], &f[1]],
    );
    let s = text(&o.stdout);
    assert!(s.contains("eu-west/bp-0 forged"), "{s}");
    assert!(s.contains("heartbeats with the same role left out"), "{s}");
}

#[test]
fn timeline_of_a_clean_failover_exits_zero_without_overlap() {
    let (_d, f) = failover();
    let o = fm(&["timeline"], &[&f[0], &f[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("no overlap"));
}

/// Two fresh journals in a temporary directory, and the instant their records count from.
fn two_journals() -> (tempfile::TempDir, PathBuf, PathBuf, Journal, Journal) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        sync: SyncMode::Buffered,
        ..JournalConfig::default()
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ja = Journal::open(&a, cfg.clone()).expect("a");
    let jb = Journal::open(&b, cfg).expect("b");
    (dir, a, b, ja, jb)
}

/// The instant the hand-written journals' records count from (ms since the epoch).
const T: i64 = 1_795_600_800_000;

#[test]
fn timeline_flags_two_pods_forging_at_once_and_exits_one() {
    let (_dir, a, b, ja, jb) = two_journals();
    let t = T;
    {
        // Closed at the end of the block: the CLI refuses a journal in use.
        let (mut ja, mut jb) = (ja, jb);
        let r = |pod: &str, s: i64, forging: bool| {
            let role = if forging { "leader" } else { "candidate" };
            record(
                pod,
                "eu",
                t + s * 1000,
                RecordKind::Decision,
                role,
                forging,
                Reason::Forging,
                "",
            )
        };
        ja.append(r("bp-0", 0, true)).expect("append");
        jb.append(r("bp-1", 5, true)).expect("append");
        ja.append(r("bp-0", 8, false)).expect("append");
        jb.append(r("bp-1", 20, true)).expect("append");
    }
    let o = fm(&["timeline", "--overlaps-only"], &[&a, &b]);
    assert_eq!(o.status.code(), Some(1));
    let s = text(&o.stdout);
    assert!(
        s.contains("!! OVERLAP bp-0 and bp-1 believed they were forging from 2026-11-25T10:00:05.000Z to 2026-11-25T10:00:08.000Z (3000 ms)"),
        "{s}"
    );
    let o = fm(
        &["timeline", "--overlaps-only", "--min-overlap", "5s"],
        &[&a, &b],
    );
    assert_eq!(o.status.code(), Some(0), "shorter than the tolerance");
}

#[test]
fn timeline_tells_apart_pods_of_the_same_name_in_two_regions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = 1_795_600_800_000;
    let cfg = JournalConfig {
        sync: SyncMode::Buffered,
        ..JournalConfig::default()
    };
    let (a, b) = (dir.path().join("eu"), dir.path().join("us"));
    {
        let mut ja = Journal::open(&a, cfg.clone()).expect("a");
        let mut jb = Journal::open(&b, cfg).expect("b");
        let r = |region: &str, s: i64, forging: bool| {
            record(
                "bp-0",
                region,
                t + s * 1000,
                RecordKind::Decision,
                "leader",
                forging,
                Reason::Forging,
                "",
            )
        };
        ja.append(r("eu", 0, true)).expect("append");
        jb.append(r("us", 1, true)).expect("append");
        ja.append(r("eu", 2, false)).expect("append");
        jb.append(r("us", 3, false)).expect("append");
    }
    let o = fm(&["timeline", "--overlaps-only"], &[&a, &b]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("!! OVERLAP eu/bp-0 and us/bp-0 believed they were forging"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn export_writes_every_record_as_a_json_line() {
    let (_d, f) = failover();
    let o = fm(&["export"], &[&f[0], &f[1]]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 12 + 10);
}

fn assert_bad_input(path: &Path, expect_in_stderr: &str) {
    let before = hash(path);
    for verb in [
        &["stats"][..],
        &["tail"],
        &["query"],
        &["export"],
        &["timeline"],
        &["explain", "--at", "1h"],
    ] {
        let o = fm(verb, &[path]);
        assert_eq!(o.status.code(), Some(2), "{verb:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(expect_in_stderr), "{verb:?}: {err}");
        assert!(o.stdout.is_empty() || verb[0] == "query", "{verb:?}");
    }
    assert_eq!(hash(path), before, "the CLI modified {}", path.display());
}

#[test]
fn a_file_that_is_not_a_journal_exits_two_with_a_clear_message_and_is_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes");
    std::fs::write(&p, "hello\n").expect("write");
    assert_bad_input(&p, "not a journal (not a redb database file)");
    let p = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&p).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(redb::TableDefinition::<u64, u64>::new("x"))
            .expect("table");
        txn.commit().expect("commit");
    }
    assert_bad_input(&p, "without the journal's meta table");
}

#[test]
fn a_truncated_or_corrupt_journal_exits_two_and_is_untouched() {
    let (d, f) = failover();
    let bytes = std::fs::read(&f[0]).expect("read");
    let p = d.path().join("truncated");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    assert_bad_input(&p, "corrupt or truncated");
    let mut bad = bytes.clone();
    for page in 1..(bad.len() / 4096) {
        bad[page * 4096 + 300] ^= 0xff;
    }
    let p = d.path().join("flipped");
    std::fs::write(&p, &bad).expect("write");
    assert_bad_input(&p, "corrupt or truncated");
}

#[test]
fn a_journal_from_a_newer_version_exits_two_and_is_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("future");
    {
        let db = redb::Database::create(&p).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(redb::TableDefinition::<&str, u64>::new("meta"))
            .expect("meta")
            .insert("format_version", 7)
            .expect("insert");
        txn.commit().expect("commit");
    }
    assert_bad_input(&p, "format version 7 is newer");
}

#[test]
fn a_journal_held_by_a_running_writer_is_refused_at_once_with_exit_three() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.journal");
    let mut child = write_stress::spawn(&file, 1);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The first number the writer prints (the test harness prints its own lines around it).
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.trim().parse::<u64>().is_ok());
    assert_eq!(
        first.as_deref(),
        Some("1"),
        "writer committed its first record"
    );
    for verb in [&["tail"][..], &["tail", "-f"], &["stats"]] {
        let start = Instant::now();
        let o = fm(verb, &[&file]);
        assert_eq!(o.status.code(), Some(3), "{verb:?}");
        // `tail -f` polls the file itself; the others try the sidecar's /journal first.
        let want = if verb.contains(&"-f") {
            forge_manager::journal::IN_USE_HINT
        } else {
            "is in use by the running sidecar, and its /journal endpoint on 127.0.0.1:1 did not answer"
        };
        assert!(
            text(&o.stderr).contains(want),
            "{verb:?}: {}",
            text(&o.stderr)
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{verb:?} must not hang"
        );
    }
    child.kill().expect("kill writer");
    child.wait().expect("wait");
    // Dropping the pipe's reader after the kill: the writer is gone, the file now opens.
    drop(lines);
    let o = fm(&["stats"], &[&file]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn tail_follow_prints_records_appended_by_a_later_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("j");
    let cfg = JournalConfig {
        sync: SyncMode::Durable,
        ..JournalConfig::default()
    };
    let t = 1_795_600_800_000;
    let rec = |s: i64, msg: &str| {
        record(
            "bp-0",
            "eu",
            t + s * 1000,
            RecordKind::Decision,
            "leader",
            true,
            Reason::Forging,
            msg,
        )
    };
    Journal::open(&file, cfg.clone())
        .expect("create")
        .append(rec(0, "first"))
        .expect("append");
    let mut child = Command::new(env!("CARGO_BIN_EXE_forge-manager"))
        .args(["journal", "tail", "-f", "-n", "5"])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tail -f");
    // Lines arrive through a channel so that a silent `tail -f` fails the test instead of hanging it.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let first = next();
    assert!(first.contains("first"), "{first}");
    // A writer opens between polls (retrying while a poll holds the file), appends, closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Journal::open(&file, cfg.clone()) {
            Ok(mut j) => {
                j.append(rec(1, "second")).expect("append");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("writer never opened: {e}"),
        }
    }
    let second = next();
    child.kill().expect("kill tail -f");
    child.wait().expect("wait");
    assert!(second.contains("second"), "{second}");
}

/// A journal of two decisions with their core inputs; the second's recorded output is doctored
/// when `doctor` (as if another build had written it).
fn replayable_journal(dir: &Path, doctor: bool) -> PathBuf {
    use forge_manager::core::election::{
        ElectionState, Gate, LeaseEvent, NodeView, Observations, decide,
    };
    use forge_manager::core::eligibility::Eligibility;
    use forge_manager::core::time::MonoTime;
    use forge_manager::core::timing::Timing;
    use forge_manager::journal::replay::{CORE_INPUTS_VERSION, CoreInputs, CoreOutput};
    use forge_manager::journal::{Journal, JournalConfig, RecordKind, demo};

    let path = dir.join("replay.journal");
    let mut journal = Journal::open(&path, JournalConfig::default()).expect("open");
    let timing = Timing::default();
    let mut state = ElectionState::default();
    for (i, now) in [1_000u64, 3_000].into_iter().enumerate() {
        let obs = Observations {
            now: MonoTime(now),
            lease: LeaseEvent::Read(None),
            node: NodeView {
                process: None,
                forging_enabled: None,
                standby_ready: true,
                keys_in_place: true,
            },
            eligibility: Eligibility::all_good(),
            gate: Gate::Allow,
        };
        let d = decide(&state, &obs, "bp-0", &timing);
        let mut out = CoreOutput::of(&d);
        if doctor && i == 1 {
            out.entitled = !out.entitled;
        }
        let core = CoreInputs {
            v: CORE_INPUTS_VERSION,
            writer: "forge-manager 0.0.1-test".into(),
            identity: "bp-0".into(),
            timing,
            prev: state.clone(),
            obs,
            out,
        };
        let mut r = demo::record(
            "bp-0",
            "eu",
            1_795_600_800_000 + i64::try_from(now).unwrap_or(0),
            RecordKind::Decision,
            d.role.as_str(),
            false,
            d.reason,
            &d.message,
        );
        r.inputs = serde_json::json!({ "core": core });
        journal.append(r).expect("append");
        state = d.next;
    }
    path
}

#[test]
fn replay_reports_all_identical_or_the_first_divergence_naming_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = replayable_journal(dir.path(), false);
    let o = fm(&["replay"], &[&good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .contains("2 decisions replayed, all identical, written by forge-manager 0.0.1-test"),
        "{}",
        text(&o.stdout)
    );

    let bad_dir = tempfile::tempdir().expect("tempdir");
    let bad = replayable_journal(bad_dir.path(), true);
    let o = fm(&["replay"], &[&bad]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("record #2"), "{out}");
    assert!(out.contains("after 1 identical decisions"), "{out}");
    assert!(out.contains("written by forge-manager 0.0.1-test"), "{out}");
    assert!(out.contains("entitled"), "{out}");

    // A what-if is labelled, and lists only decisions that would differ.
    let o = fm(&["replay", "--timing", "lease=20s,renew=12s"], &[&good]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.starts_with("WHAT-IF:"), "{out}");
    assert!(
        out.contains("decisions replayed under the what-if timing"),
        "{out}"
    );

    // explain shows the replayed rule and what it compared.
    let o = fm(&["explain", "--at", "2026-11-25T10:00:05Z"], &[&good]);
    let out = text(&o.stdout);
    assert!(out.contains("replayed: role"), "{out}");
    assert!(out.contains("compared: "), "{out}");
}

#[path = "support/write_stress.rs"]
mod write_stress;

/// Not a test: the child process of the crash tests (see `support/write_stress.rs`).
#[test]
#[ignore = "the stress writer's child process, started by the crash tests"]
fn write_stress_child() {
    write_stress::run_child();
}

/// A pod whose wall clock stepped back hours (chaos seed 6604) is listed in the order it wrote
/// its records, not sorted by wall time (which put its last records first and made its journal
/// seem to stop), merged with another pod's by wall time, and the step is named.
#[test]
fn timeline_keeps_a_pods_own_order_across_a_clock_step_back_and_names_the_step() {
    let (_dir, a, b, ja, jb) = two_journals();
    let t = T;
    {
        // Closed at the end of the block: the CLI refuses a journal in use.
        let (mut ja, mut jb) = (ja, jb);
        let r = |pod: &str, s: i64, message: &str| {
            record(
                pod,
                "eu",
                t + s * 1000,
                RecordKind::Decision,
                "candidate",
                false,
                Reason::LeaseHeldByOther,
                message,
            )
        };
        ja.append(r("bp-0", 0, "msg-first")).expect("append");
        ja.append(r("bp-0", 10, "msg-second")).expect("append");
        // The clock steps back two hours.
        ja.append(r("bp-0", 20 - 7_200, "msg-third"))
            .expect("append");
        jb.append(r("bp-1", 5, "msg-other")).expect("append");
    }
    let o = fm(&["timeline"], &[&a, &b]);
    let s = text(&o.stdout);
    let at = |m: &str| s.find(m).unwrap_or_else(|| panic!("no {m:?} in:\n{s}"));
    assert!(
        at("msg-first") < at("msg-other") && at("msg-other") < at("msg-second"),
        "{s}"
    );
    assert!(
        at("msg-second") < at("msg-third"),
        "the pod's own order: {s}"
    );
    assert!(
        s.contains("!! bp-0's wall clock went back 1h59m between #2 and #3"),
        "{s}"
    );
    let o = fm(&["tail", "-n", "10"], &[&a]);
    let s = text(&o.stdout);
    assert!(s.find("msg-second") < s.find("msg-third"), "{s}");
}
