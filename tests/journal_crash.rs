//! Crash consistency of the journal: a real child process appends durably and prints each seq after
//! its commit returned; we SIGKILL it at random moments, many times. Guards against: a journal that
//! does not open after a kill, a lost committed record, a gap or a reused seq after recovery, and
//! a reader that writes to a file needing recovery.
//!
//! Reproduce a failure with `JOURNAL_CRASH_SEED=<seed> cargo test --test journal_crash`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use forge_manager::journal::{Journal, JournalConfig, JournalReader, Query, ReadJournal};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

const ITERATIONS: usize = 30;
const TIME_BUDGET: Duration = Duration::from_secs(20);

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read journal")))
}

/// Runs the writer until killed after `delay`; returns the seqs it reported as committed.
fn run_child_and_kill(file: &Path, delay: Duration, batch: usize) -> Vec<u64> {
    let mut child = write_stress::spawn(file, batch);
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .collect::<Vec<u64>>()
    });
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the writer"); // Child::kill is SIGKILL on unix
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        stderr.is_empty() || status.code().is_none(),
        "writer failed before the kill: {stderr}"
    );
    reader.join().expect("reader thread")
}

#[test]
fn a_journal_survives_repeated_sigkill_with_every_reported_commit_and_no_gap() {
    let seed: u64 = std::env::var("JOURNAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    println!("seed={seed} (reproduce: JOURNAL_CRASH_SEED={seed} cargo test --test journal_crash)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("crash.journal");
    let started = Instant::now();
    let mut reported_max = 0u64;
    let mut kills = 0;
    for i in 0..ITERATIONS {
        if started.elapsed() > TIME_BUDGET {
            break;
        }
        let delay = Duration::from_millis(rng.random_range(30..250));
        let batch = if rng.random_bool(0.3) {
            rng.random_range(2..20)
        } else {
            1
        };
        let reported = run_child_and_kill(&file, delay, batch);
        kills += 1;
        if let Some(&m) = reported.iter().max() {
            assert!(
                m > reported_max || reported.is_empty(),
                "seed {seed} iteration {i}: seq reused"
            );
            reported_max = m;
        }
        // The read-only path must cope with a file that needs recovery, without writing it.
        let before = hash(&file);
        let reader = JournalReader::open(&file)
            .unwrap_or_else(|e| panic!("seed {seed} iteration {i}: reader cannot open: {e}"));
        let seqs: Vec<u64> = reader
            .query(&Query::default())
            .unwrap_or_else(|e| panic!("seed {seed} iteration {i}: query failed: {e}"))
            .iter()
            .map(|r| r.seq)
            .collect();
        drop(reader);
        assert_eq!(
            hash(&file),
            before,
            "seed {seed} iteration {i}: the reader modified the file"
        );
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(
            seqs, expected,
            "seed {seed} iteration {i}: seqs not contiguous from 1"
        );
        for s in &reported {
            assert!(
                seqs.binary_search(s).is_ok(),
                "seed {seed} iteration {i}: reported committed seq {s} is missing"
            );
        }
    }
    assert!(kills >= 10, "only {kills} kills within the time budget");
    assert!(reported_max > 0, "the writer never committed anything");
    // Finally the writer path recovers the file and continues the sequence.
    let mut j = Journal::open(&file, JournalConfig::default()).expect("writer reopens");
    let last = j.last_seq();
    assert!(last >= reported_max);
    let next = j
        .append(forge_manager::journal::demo::stress_record(
            last,
            1_795_600_800_000,
        ))
        .expect("append after recovery");
    assert_eq!(next, last + 1);
    println!("{kills} kills, {last} records, {:?}", started.elapsed());
}

#[path = "support/write_stress.rs"]
mod write_stress;

/// Not a test: the child process of the crash tests (see `support/write_stress.rs`).
#[test]
#[ignore = "the stress writer's child process, started by the crash tests"]
fn write_stress_child() {
    write_stress::run_child();
}
