//! The durable stress writer the journal's crash tests SIGKILL at random instants: it appends
//! records in a loop and prints each seq only after its commit returned, so every printed seq must
//! survive the kill. It runs in a child process that is the test binary itself, re-run with only
//! its ignored `write_stress_child` test selected: test-only code stays out of the `forge-manager`
//! binary, and no extra binary has to be built first.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use forge_manager::journal::demo::stress_record;
use forge_manager::journal::{Journal, JournalConfig, SyncMode};

const FILE_VAR: &str = "FORGE_MANAGER_TEST_STRESS_FILE";
const BATCH_VAR: &str = "FORGE_MANAGER_TEST_STRESS_BATCH";

/// Starts the writer on `file`, `batch` records per transaction; its stdout carries the seqs
/// (among the test harness's own lines, which do not parse as numbers).
pub fn spawn(file: &Path, batch: usize) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args([
            "write_stress_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .args(["--test-threads", "1"])
        .env(FILE_VAR, file)
        .env(BATCH_VAR, batch.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the journal stress writer")
}

/// The body of the `write_stress_child` test: writes until killed when started by [`spawn`],
/// returns at once otherwise.
pub fn run_child() {
    let Some(file) = std::env::var_os(FILE_VAR) else {
        return;
    };
    let batch = std::env::var(BATCH_VAR)
        .ok()
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(1);
    let mut journal = Journal::open(
        &file,
        JournalConfig {
            sync: SyncMode::Durable,
            ..JournalConfig::default()
        },
    )
    .expect("open the journal");
    let start_ms = 1_795_600_800_000;
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    loop {
        let first = journal.last_seq();
        let records: Vec<_> = (0..batch)
            .map(|k| {
                let mut r = stress_record(first + k, start_ms);
                r.mono_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                r
            })
            .collect();
        let last = journal.append_many(records).expect("append");
        // Printed only after the commit returned: every printed seq is durable.
        for seq in (first + 1)..=last {
            writeln!(out, "{seq}").expect("stdout");
        }
        out.flush().expect("stdout");
    }
}
