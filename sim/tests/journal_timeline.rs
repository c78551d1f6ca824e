//! `forge-sim run --journal-dir` writes one journal per simulated pod; `journal timeline` over
//! those files must reproduce what the oracle saw: every interval in which a node forged is covered
//! by that pod's belief that it was forging, and no two pods ever believed so at once.

use forge_manager::journal::timeline::{forging_intervals, overlaps};
use forge_manager::journal::{JournalReader, Query, ReadJournal};
use forge_sim::runner::{RunOptions, run};
use forge_sim::scenario::Scenario;
use forge_sim::trace::EventKind;
use forge_sim::world::EPOCH_UNIX_S;

#[test]
fn the_journals_of_a_failover_reproduce_the_oracles_forger_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/single-region-leader-crash.toml"
    );
    let scenario = Scenario::from_file(file).expect("scenario");
    let outcome = run(&scenario, &RunOptions::journaled(dir.path())).expect("run");
    assert!(
        outcome.judgement.passed(),
        "{:?}",
        outcome.judgement.violations
    );

    // The oracle's forging intervals, per pod name, in simulated ms.
    let mut oracle: Vec<(String, u64, Option<u64>)> = Vec::new();
    for e in &outcome.trace.events {
        match &e.kind {
            EventKind::ForgingStarted { pod } => {
                oracle.push((format!("bp-{}-{}", pod.region, pod.index), e.at_ms, None));
            }
            EventKind::ForgingStopped { pod } => {
                let name = format!("bp-{}-{}", pod.region, pod.index);
                if let Some(open) = oracle
                    .iter_mut()
                    .rev()
                    .find(|(p, _, end)| *p == name && end.is_none())
                {
                    open.2 = Some(e.at_ms);
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        oracle.len(),
        2,
        "a forger, a crash, another forger: {oracle:?}"
    );

    let mut all = Vec::new();
    let mut by_pod = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let pod = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let records = JournalReader::open(&path)
            .expect("open")
            .query(&Query::default())
            .expect("query");
        assert!(!records.is_empty(), "{pod} wrote nothing");
        let intervals = forging_intervals(&pod, &records);
        all.extend(intervals.clone());
        by_pod.insert(pod, intervals);
    }
    assert!(
        overlaps(&all).is_empty(),
        "two pods believed they forged at once: {:?}",
        overlaps(&all)
    );

    let epoch_ms = EPOCH_UNIX_S * 1000;
    let tick_ms = 50;
    for (pod, start, end) in &oracle {
        let believed = by_pod.get(pod).map(Vec::as_slice).unwrap_or_default();
        // Each belief is placed on the API server's time line within its stated uncertainty
        // (the server-clock samples its records carry; fewer requests since the watch caches,
        // so fewer distinct samples to narrow it).
        let covered = believed.iter().any(|j| {
            let slack = tick_ms + j.uncertainty_ms.unsigned_abs();
            let j_start = (j.start_ms - epoch_ms) as u64;
            let j_end = (j.end_ms - epoch_ms) as u64;
            j_start <= start + slack && (j.open_ended || end.is_none_or(|e| j_end + slack >= e))
        });
        assert!(
            covered,
            "{pod} forged {start}..{end:?} but its journal says {believed:?}"
        );
    }
}
