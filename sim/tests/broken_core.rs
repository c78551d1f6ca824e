//! The canary (docs/chaos.md, "The canary"): each deliberately broken variant of the safety core
//! must be caught, with dual-forging slots, by a named scenario file. If one of these tests fails,
//! the simulator has lost the power to see that class of bug: fix the harness before trusting a
//! green run.
//!
//! The broken variants are simulator-side wrappers of the correct core (`sim/src/canary.rs`); the
//! production library has none. Part of `cargo test --workspace`, so CI runs it on every push.

use std::path::Path;

use forge_sim::canary::Broken;
use forge_sim::report::Verdict;
use forge_sim::runner::{Outcome, RunOptions, run};
use forge_sim::scenario::Scenario;

/// A file of scenarios/, or of this crate's `tests/canaries/` when it names that folder.
fn scenario(file: &str) -> Scenario {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = if file.starts_with("tests/canaries/") {
        manifest.join(file)
    } else {
        manifest.join("../scenarios").join(file)
    };
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Canary files the correct core fails only by lease coverage: a lease force-deleted (its
/// finalizer stripped by hand) under a holder cut off from its API server leaves that holder
/// forging, within its own deadline, on a record that no longer exists. No sidecar can cover
/// that; what the file checks is that nobody else promotes meanwhile. Such files live in
/// `tests/canaries/`, not in scenarios/ (where every file must pass).
const KNOWN_UNCOVERED: &[&str] = &["tests/canaries/forced-lease-deletion.toml"];

/// Runs `file` with the broken `variant`, then with the correct core.
fn both_cores(variant: Broken, file: &str) -> (Outcome, Outcome) {
    let s = scenario(file);
    let broken = RunOptions {
        broken: Some(variant),
        ..RunOptions::default()
    };
    let o = run(&s, &broken).unwrap_or_else(|e| panic!("{file}: {e}"));
    let correct = run(&s, &RunOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
    (o, correct)
}

/// Runs `file` with `variant` and asserts the run fails with dual-forging slots; also asserts the
/// correct core passes the same file, so the failure is the variant's.
fn caught(variant: Broken, file: &str) {
    let (o, correct) = both_cores(variant, file);
    assert_eq!(
        o.report.verdict,
        Verdict::Fail,
        "the broken core {} was NOT caught by {file}: {}",
        variant.as_str(),
        o.report.verdict_line()
    );
    assert!(
        o.report.dual_slots > 0,
        "{} failed {file} without dual-forging slots: {}",
        variant.as_str(),
        o.report.verdict_line()
    );
    if KNOWN_UNCOVERED.contains(&file) {
        // The variant's failure is its dual slots; the correct core has none, and fails only the
        // lease-coverage check (a known sidecar finding, see KNOWN_UNCOVERED).
        assert_eq!(correct.report.dual_slots, 0, "{file}: the correct core");
        assert!(
            correct
                .report
                .violations
                .iter()
                .all(|v| v.kind == forge_sim::oracle::UNCOVERED_FORGING),
            "the correct core fails {file} by more than lease coverage: {:?}",
            correct.report.violations
        );
    } else {
        assert_eq!(
            correct.report.verdict,
            Verdict::Pass,
            "the correct core must pass {file}"
        );
    }
    // The switch is reset after a run.
    assert_eq!(forge_sim::canary::get(), None);
}

/// Runs `file` with `variant`, a policy breach rather than a safety one: the run must fail the
/// expectation kind `check` (no dual slot is needed), and the correct core must pass the file.
fn caught_by_check(variant: Broken, file: &str, check: &str) {
    let (o, correct) = both_cores(variant, file);
    assert!(
        o.report.violations.iter().any(|v| v.kind == check),
        "the broken core {} did not fail {check} in {file}: {}",
        variant.as_str(),
        o.report.verdict_line()
    );
    assert_eq!(
        correct.report.verdict,
        Verdict::Pass,
        "the correct core must pass {file}"
    );
    assert_eq!(forge_sim::canary::get(), None);
}

#[test]
fn handing_the_global_lease_over_before_the_demotion_is_verified_is_caught_by_a_busy_node() {
    caught(
        Broken::HandoffBeforeDemotionVerified,
        "node-slow-disabled-region-handover.toml",
    );
}

#[test]
fn a_watchdog_armed_from_the_promotion_instant_is_caught_by_a_paused_sidecar() {
    caught(
        Broken::WatchdogFromPromotion,
        "watchdog-pause-global-renewals-failing.toml",
    );
}

#[test]
fn a_worse_region_that_takes_the_global_lease_at_once_is_caught_by_a_partition() {
    caught_by_check(
        Broken::WorseRegionTakesAtOnce,
        "partition-between-regions.toml",
        "no-forger-in",
    );
}

/// Soak seed 9182, shrunk against this variant (203 faults: the world before the probe is the
/// chaos run's own): the override's expiry is seen, then the next raw estimate undoes it.
#[test]
fn judging_an_override_on_the_raw_server_time_estimate_is_caught_by_its_expiry() {
    caught_by_check(
        Broken::OverrideOnRawServerTime,
        "tests/canaries/override-expiry-flap-9182.toml",
        "max-missed-slots",
    );
}

#[test]
fn judging_expiry_without_the_observed_age_is_caught_by_a_leader_crash() {
    caught(Broken::WallClockExpiry, "single-region-leader-crash.toml");
}

#[test]
fn promoting_before_the_acquire_succeeded_is_caught_by_an_api_outage() {
    caught(
        Broken::PromoteBeforeAcquire,
        "api-outage-longer-than-lease.toml",
    );
}

#[test]
fn a_leader_that_never_fences_itself_is_caught_when_its_keys_rotate() {
    caught(
        Broken::NoSelfFencing,
        "canary-fenced-leader-key-rotation.toml",
    );
}

#[test]
fn promoting_a_newly_created_lease_at_once_is_caught_by_a_forced_lease_deletion() {
    caught(
        Broken::PromoteOnNewLease,
        "tests/canaries/forced-lease-deletion.toml",
    );
}

/// Caught only since a freeze holds the node too (a stopped process finishes a SIGHUP it was
/// handling only after the thaw): the broken core hands the lease over at the SIGHUP, and the
/// thawed old node forges on beside the successor.
#[test]
fn releasing_before_the_demotion_is_verified_is_caught_by_a_freeze_during_a_slow_sighup() {
    caught(
        Broken::ReleaseBeforeDemotionVerified,
        "canary-release-before-verified-freeze.toml",
    );
}

#[test]
fn every_variant_has_a_name_that_parses_back() {
    for b in Broken::ALL {
        assert_eq!(Broken::parse(b.as_str()), Some(b));
    }
    assert_eq!(Broken::parse("nonsense"), None);
}

/// `forge-sim shrink` on a canary with three faults added after its dual slots began: the shrunk
/// scenario keeps exactly the fault the failure needs. For this broken core that is the partition
/// alone: a hold kept past its deadline also blinds the watchdog (whose heartbeat carries the
/// hold's deadline), so the pod forges beside its successor without waiting for the key rotation.
#[test]
fn shrinking_a_failing_canary_drops_exactly_the_faults_it_does_not_need() {
    let original = scenario("canary-fenced-leader-key-rotation.toml");
    let mut noisy = original.clone();
    let extra = Scenario::from_str(
        r#"name = "extra"
description = "faults the failure does not need"
duration = "4m"

[[region]]
name = "us-east-1"
priority = 1
pods = 2

[[fault]]
at = "3m30s"
kind = "skew"
target = "pod:us-east-1/1"
offset = "1s"

[[fault]]
at = "3m40s"
kind = "latency"
between = ["pod:us-east-1/1", "api:us-east-1"]
latency = "5ms"

[[fault]]
at = "3m50s"
kind = "node-restart"
target = "pod:us-east-1/1"
"#,
        "extra",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    noisy.faults.extend(extra.faults);
    let options = RunOptions {
        broken: Some(Broken::NoSelfFencing),
        ..RunOptions::default()
    };
    // The target is the canary's own failure, its dual slots: the extra node restart also breaks
    // the file's max-handovers expectation, which is not what is being shrunk for.
    let shrunk =
        forge_sim::shrink::shrink(&noisy, &options, &["dual-forging".to_owned()], |_, _| {})
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shrunk.faults_before, original.faults.len() + 3);
    let partition: Vec<_> = original
        .faults
        .iter()
        .filter(|f| f.action.kind() == "partition")
        .cloned()
        .collect();
    assert_eq!(partition.len(), 1, "{:?}", original.faults);
    assert_eq!(shrunk.scenario.faults, partition);
    let rerun = run(&shrunk.scenario, &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(rerun.report.dual_slots > 0);
}
