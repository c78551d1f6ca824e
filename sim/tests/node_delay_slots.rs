//! What a slow node costs a planned handover, as the sidecars report it
//! (`inputs.sighup_confirmed` in their journals, the same values
//! `cardano_sighup_late_slots_total` counts), checked against the oracle's own count of the slots
//! nobody checked.

use forge_manager::journal::{JournalReader, Query, ReadJournal};
use forge_manager::report::{SighupConfirmed, SighupKind};
use forge_manager::runtime::journal::SIGHUP_CONFIRMED_KEY;
use forge_sim::runner::{RunOptions, run};
use forge_sim::scenario::Scenario;

/// Runs a scenario file with journals; returns the oracle's missed slots and every pod's
/// confirmed SIGHUPs.
fn run_with_journals(file: &str) -> (u64, Vec<SighupConfirmed>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::from_file(&path).expect("scenario");
    let outcome = run(&scenario, &RunOptions::journaled(dir.path())).expect("run");
    assert!(
        outcome.judgement.passed(),
        "{file}: {:?}",
        outcome.judgement.violations
    );
    let mut confirmed = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let records = JournalReader::open(entry.expect("entry").path())
            .expect("open")
            .query(&Query::default())
            .expect("query");
        for r in records {
            if let Some(v) = r.inputs.get(SIGHUP_CONFIRMED_KEY) {
                confirmed.push(serde_json::from_value(v.clone()).expect("sighup_confirmed"));
            }
        }
    }
    (outcome.judgement.metrics.missed_slots, confirmed)
}

/// The one planned confirmation of `kind`.
fn planned(confirmed: &[SighupConfirmed], kind: SighupKind) -> &SighupConfirmed {
    let found: Vec<_> = confirmed
        .iter()
        .filter(|c| c.sighup == kind && c.planned)
        .collect();
    assert_eq!(found.len(), 1, "{kind:?}: {confirmed:#?}");
    found[0]
}

/// The journals account for every slot the oracle saw missed: each is one the leaving node's late
/// stop or the successor node's late start left unchecked. Each side's count is an upper bound,
/// off by at most one (a verification poll may straddle a slot start).
fn reported_covers_missed(file: &str) -> (u64, Vec<SighupConfirmed>) {
    let (missed, confirmed) = run_with_journals(file);
    let counted: Vec<_> = confirmed.iter().filter(|c| c.planned).collect();
    let reported: u64 = counted.iter().map(|c| c.counted_late_slots()).sum();
    assert!(
        missed <= reported && reported <= missed + counted.len() as u64,
        "{file}: the oracle saw {missed} missed; the journals report {reported}: {confirmed:#?}"
    );
    (missed, confirmed)
}

#[test]
fn a_slow_successor_node_reports_the_slots_it_started_late_for() {
    let (missed, confirmed) = reported_covers_missed("node-slow-planned-handover.toml");
    // Every node takes 1.7 s. The successor's enables two slots after its SIGHUP: the oracle
    // sees them unchecked, and its journal says so.
    assert_eq!(missed, 2);
    let enable = planned(&confirmed, SighupKind::Enable);
    assert!(enable.after_ms >= 1_700, "{enable:?}");
    assert_eq!(enable.counted_late_slots(), 2, "{enable:?}");
    // The leaving node kept checking slots until it stopped (1.7 s after a SIGHUP 20 ms into a
    // slot): none of them is lost, and the successor's settle after the release ends in the
    // next slot.
    let disable = planned(&confirmed, SighupKind::Disable);
    assert!(disable.after_ms >= 1_700, "{disable:?}");
    assert_eq!(disable.counted_late_slots(), 0, "{disable:?}");
}

#[test]
fn a_leaving_node_that_stops_late_in_its_slot_reports_the_slot_after() {
    let (missed, confirmed) =
        reported_covers_missed("node-slow-leaver-stops-late-in-its-slot.toml");
    // 900 ms after a SIGHUP 20 ms into its slot: the successor's settle after the release ends
    // past the next slot's start, so that slot goes unchecked; the successor's node is prompt.
    assert_eq!(missed, 1);
    let disable = planned(&confirmed, SighupKind::Disable);
    assert_eq!(disable.counted_late_slots(), 1, "{disable:?}");
    assert_eq!(
        planned(&confirmed, SighupKind::Enable).counted_late_slots(),
        0
    );
}

#[test]
fn a_prompt_node_costs_a_planned_handover_no_slot_and_says_so() {
    let (missed, confirmed) = reported_covers_missed("graceful-shutdown-handover.toml");
    assert_eq!(missed, 0);
    for c in &confirmed {
        assert_eq!(c.counted_late_slots(), 0, "{c:?}");
        assert!(c.after_ms < 1_000, "{c:?}");
    }
    for kind in [SighupKind::Disable, SighupKind::Enable] {
        assert_eq!(planned(&confirmed, kind).late_slots, Some(0));
    }
}
