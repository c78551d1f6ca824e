//! The scenario suite as tests: one `#[test]` per file in `scenarios/`, so a failure names the file.
//!
//! Every file must pass (dual slots, uncovered slots and every expectation are judged).
//!
//! A last test checks that the files, together, use every fault kind and every expectation kind of
//! the contract, and that every file has a description, and that no file is left without a test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use forge_sim::report::Verdict;
use forge_sim::runner::{RunOptions, run};
use forge_sim::scenario::{EXPECT_KINDS, FAULT_KINDS, Scenario};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn check(file: &str) {
    let path = dir().join(file);
    let scenario = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run(&scenario, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{file}: the simulation failed: {e}"));
    let report = &outcome.report;
    assert_eq!(
        report.verdict,
        Verdict::Pass,
        "{file}: {}\nviolations: {:#?}\nreproduce with `forge-sim run scenarios/{file}`",
        report.verdict_line(),
        report.violations
    );
}

macro_rules! scenario_tests {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($file);
            }
        )*

        /// Every file the macro lists.
        const LISTED: &[&str] = &[$($file,)*];
    };
}

scenario_tests! {
    api_errors_no_handover => "api-errors-no-handover.toml",
    api_outage_longer_than_lease => "api-outage-longer-than-lease.toml",
    api_throttled_past_renew_deadline => "api-throttled-past-renew-deadline.toml",
    canary_fenced_leader_key_rotation => "canary-fenced-leader-key-rotation.toml",
    canary_fenced_leader_node_restart => "canary-fenced-leader-node-restart.toml",
    canary_new_lease_wait => "canary-new-lease-wait.toml",
    canary_release_before_verified_freeze => "canary-release-before-verified-freeze.toml",
    chaos_1042_handoff_by_unsettled_leader => "chaos-1042-handoff-by-unsettled-leader.toml",
    chaos_1048_slow_local_api_past_global_deadline => "chaos-1048-slow-local-api-past-global-deadline.toml",
    chaos_1150_unanswered_release_kept_hold => "chaos-1150-unanswered-release-kept-hold.toml",
    chaos_2135_stale_promotion_after_pause => "chaos-2135-stale-promotion-after-pause.toml",
    chaos_3045_created_global_lease_taken_as_handoff => "chaos-3045-created-global-lease-taken-as-handoff.toml",
    chaos_3318_stale_global_hold => "chaos-3318-stale-global-hold.toml",
    chaos_4838_region_mate_round_during_the_release => "chaos-4838-region-mate-round-during-the-release.toml",
    chaos_6604_watchdog_and_sidecar_thaw_together => "chaos-6604-watchdog-and-sidecar-thaw-together.toml",
    chaos_7254_standby_idle_watch_answer_window => "chaos-7254-standby-idle-watch-answer-window.toml",
    chaos_2518_entitled_while_demoting => "chaos-2518-entitled-while-demoting.toml",
    clock_skew_hours => "clock-skew-hours.toml",
    coordination_api_outage => "coordination-api-outage.toml",
    crash_restart_credentials => "crash-restart-credentials.toml",
    created_global_lease_local_leader_change => "created-global-lease-local-leader-change.toml",
    demo => "demo.toml",
    demote_before_a_round_at_the_global_deadline => "demote-before-a-round-at-the-global-deadline.toml",
    disabled_and_back => "disabled-and-back.toml",
    disabled_as_a_handoff_lands => "disabled-as-a-handoff-lands.toml",
    drift => "drift.toml",
    emergency_override => "emergency-override.toml",
    fast_drifting_standby => "fast-drifting-standby.toml",
    frozen_pod_residual => "frozen-pod-residual.toml",
    graceful_shutdown_handover => "graceful-shutdown-handover.toml",
    handoff_judged_on_fresh_policy => "handoff-judged-on-fresh-policy.toml",
    health_flap => "health-flap.toml",
    health_flap_handover_gap => "health-flap-handover-gap.toml",
    lease_deleted => "lease-deleted.toml",
    long_pause_no_repromotion => "long-pause-no-repromotion.toml",
    maintenance_override => "maintenance-override.toml",
    new_leader_forgets_a_stale_health_view => "new-leader-forgets-a-stale-health-view.toml",
    new_leader_keeps_the_failback_delay => "new-leader-keeps-the-failback-delay.toml",
    no_promotion_on_a_stale_policy_read => "no-promotion-on-a-stale-policy-read.toml",
    node_restart_mid_promotion => "node-restart-mid-promotion.toml",
    node_restart_on_leader => "node-restart-on-leader.toml",
    node_slow_demotion_handover => "node-slow-demotion-handover.toml",
    node_slow_disabled_region_handover => "node-slow-disabled-region-handover.toml",
    node_slow_leaver_stops_late_in_its_slot => "node-slow-leaver-stops-late-in-its-slot.toml",
    node_slow_planned_handover => "node-slow-planned-handover.toml",
    one_pod_crash_stays_in_primary => "one-pod-crash-stays-in-primary.toml",
    partition_between_regions => "partition-between-regions.toml",
    partition_leader_from_api => "partition-leader-from-api.toml",
    partitioned_standby_changes_nothing => "partitioned-standby-changes-nothing.toml",
    paused_sidecar_watchdog => "paused-sidecar-watchdog.toml",
    presence_read_failure_is_not_absence => "presence-read-failure-is-not-absence.toml",
    priority_change_and_back => "priority-change-and-back.toml",
    region_mate_late_for_the_grace_keeps_the_failback_delay => "region-mate-late-for-the-grace-keeps-the-failback-delay.toml",
    quiet_region_api_budget => "quiet-region-api-budget.toml",
    region_partitioned_from_coordination => "region-partitioned-from-coordination.toml",
    rolling_restart_multi_region_primary => "rolling-restart-multi-region-primary.toml",
    rotate_secret => "rotate-secret.toml",
    rotate_secret_during_handover => "rotate-secret-during-handover.toml",
    shared_api_stretched_cluster => "shared-api-stretched-cluster.toml",
    short_api_outage_no_handover => "short-api-outage-no-handover.toml",
    short_freeze_no_handover => "short-freeze-no-handover.toml",
    sigterm_last_pod_hands_over => "sigterm-last-pod-hands-over.toml",
    last_pod_shutdown_reads_no_released_presence => "last-pod-shutdown-reads-no-released-presence.toml",
    failback_verifies_without_waiting_for_a_round => "failback-verifies-without-waiting-for-a-round.toml",
    single_region_leader_crash => "single-region-leader-crash.toml",
    skew_hours_single_region => "skew-hours-single-region.toml",
    slow_api_no_handover => "slow-api-no-handover.toml",
    standby_watch_ends_early_before_a_shutdown => "standby-watch-ends-early-before-a-shutdown.toml",
    three_regions_primary_loss => "three-regions-primary-loss.toml",
    watchdog_fires_under_a_live_holder => "watchdog-fires-under-a-live-holder.toml",
    watchdog_pause_global_renewals_failing => "watchdog-pause-global-renewals-failing.toml",
    watchdog_paused_after_late_promotion => "watchdog-paused-after-late-promotion.toml",
    watchdog_paused_sidecar_global_lease => "watchdog-paused-sidecar-global-lease.toml",
    whole_region_shutdown_restart => "whole-region-shutdown-restart.toml",
}

fn files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("{}: {e}", dir().display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_scenario_file_has_a_test_and_there_are_at_least_thirty() {
    let files = files();
    let listed: BTreeSet<&str> = LISTED.iter().copied().collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !listed.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add these to scenario_tests!: {missing:?}"
    );
    assert!(files.len() >= 30, "only {} scenario files", files.len());
}

#[test]
fn the_files_together_use_every_fault_and_expectation_kind_and_describe_themselves() {
    let mut faults = BTreeSet::new();
    let mut expects = BTreeSet::new();
    for file in files() {
        let s = Scenario::from_file(dir().join(&file)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.description.trim().len() > 40,
            "{file}: the description must say what it shows"
        );
        for f in &s.faults {
            faults.insert(f.action.kind());
        }
        for e in &s.expects {
            expects.insert(e.kind());
        }
    }
    let missing: Vec<_> = FAULT_KINDS
        .iter()
        .filter(|k| !faults.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario uses the fault kinds {missing:?}"
    );
    let missing: Vec<_> = EXPECT_KINDS
        .iter()
        .filter(|k| !expects.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario uses the expectation kinds {missing:?}"
    );
}
