//! Unit tests of the oracle on hand-written traces: every measure, and every expectation kind
//! passing and failing, with the slot-boundary and window-boundary cases.

use super::timeline::{self, Timeline};
use super::*;
use crate::scenario::Scenario;
use crate::trace::{EventKind, PodId, SimMs, Trace};

fn pod(region: &str, index: usize) -> PodId {
    PodId::new(region, index)
}

fn start(region: &str, index: usize) -> EventKind {
    EventKind::ForgingStarted {
        pod: pod(region, index),
    }
}

fn stop(region: &str, index: usize) -> EventKind {
    EventKind::ForgingStopped {
        pod: pod(region, index),
    }
}

fn frozen(region: &str, index: usize, for_ms: SimMs) -> EventKind {
    EventKind::Frozen {
        pod: pod(region, index),
        for_ms,
    }
}

fn exit(region: &str, index: usize) -> EventKind {
    EventKind::NodeExit {
        pod: pod(region, index),
        reason: "missing file".into(),
    }
}

fn creds(region: &str, index: usize, present: bool) -> EventKind {
    EventKind::Credentials {
        pod: pod(region, index),
        present,
    }
}

fn api(server: &str) -> EventKind {
    EventKind::ApiRequest {
        server: server.into(),
    }
}

fn trace(end_ms: SimMs, events: Vec<(SimMs, EventKind)>) -> Trace {
    let mut t = Trace::default();
    for (at_ms, kind) in events {
        t.push(at_ms, kind);
    }
    t.end_ms = end_ms;
    t
}

/// Two regions `a` and `b` of three pods, 10 minutes, 1 s slots, renew deadline 10 s, and `extra`
/// (`[[fault]]` and `[[expect]]` tables).
fn scenario(extra: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\nduration = \"10m\"\n[[region]]\nname = \"a\"\npriority = 1\n[[region]]\nname = \"b\"\npriority = 2\n{extra}"
    );
    Scenario::from_str(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn violations(extra: &str, t: &Trace) -> Vec<Violation> {
    judge(&scenario(extra), t).violations
}

/// The single violation of expectation 0.
fn only_violation(extra: &str, t: &Trace) -> Violation {
    let v = violations(extra, t);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].expectation, Some(0), "{v:#?}");
    v[0].clone()
}

fn passes(extra: &str, t: &Trace) {
    let v = violations(extra, t);
    assert!(v.is_empty(), "{v:#?}");
}

/// a/0 forges from 5 s to 30 s, then b/0 from 32 s to the end at 60 s.
fn failover() -> Trace {
    trace(
        60_000,
        vec![
            (5_000, start("a", 0)),
            (30_000, stop("a", 0)),
            (32_000, start("b", 0)),
        ],
    )
}

// ---- forger intervals and the timeline ----

#[test]
fn forger_intervals_run_from_start_to_stop_and_open_ones_to_the_end() {
    let intervals = forger_intervals(&failover());
    assert_eq!(
        intervals,
        vec![
            ForgerInterval {
                pod: pod("a", 0),
                start_ms: 5_000,
                end_ms: 30_000
            },
            ForgerInterval {
                pod: pod("b", 0),
                start_ms: 32_000,
                end_ms: 60_000
            },
        ]
    );
}

#[test]
fn a_start_and_stop_at_the_same_instant_is_no_forging_at_all() {
    let t = trace(10_000, vec![(2_000, start("a", 0)), (2_000, stop("a", 0))]);
    assert!(forger_intervals(&t).is_empty());
    let tl = Timeline::from_trace(&t);
    assert!(tl.forgers_at(2_000).is_empty());
    assert_eq!(tl.first_forger_ms(), None);
}

#[test]
fn the_forger_set_at_an_instant_includes_starts_at_it_and_excludes_stops_at_it() {
    let tl = Timeline::from_trace(&failover());
    assert!(tl.forgers_at(4_999).is_empty());
    assert_eq!(tl.forgers_at(5_000), [pod("a", 0)]);
    assert_eq!(tl.forgers_at(29_999), [pod("a", 0)]);
    assert!(tl.forgers_at(30_000).is_empty());
    assert_eq!(tl.forgers_at(32_000), [pod("b", 0)]);
    assert_eq!(tl.forgers_at(60_000), [pod("b", 0)]);
    let starts: Vec<SimMs> = tl.segments.iter().map(|s| s.start_ms).collect();
    assert_eq!(starts, [0, 5_000, 30_000, 32_000]);
}

// ---- dual-forging slots ----

#[test]
fn a_node_starting_exactly_at_a_slot_boundary_counts_for_that_slot() {
    // a/0 forges throughout; b/0 forges over [2000, 2500): slot 2 starts at 2000.
    let t = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (2_000, start("b", 0)),
            (2_500, stop("b", 0)),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.dual_slots, 1);
    assert_eq!(j.dual_slots.listed[0].slot, 2);
    assert_eq!(j.dual_slots.listed[0].start_ms, 2_000);
    assert_eq!(j.dual_slots.listed[0].pods, [pod("a", 0), pod("b", 0)]);
    assert_eq!(j.metrics.max_overlap_ms, 500);
    assert!(!j.passed());
    assert_eq!(j.violations[0].kind, DUAL_FORGING);
    assert_eq!(j.violations[0].expectation, None);
    assert_eq!(j.violations[0].at_ms, Some(2_000));
    assert!(
        j.violations[0]
            .message
            .contains("slot 2 at 2s: pods a/0, b/0"),
        "{:?}",
        j.violations[0]
    );
}

#[test]
fn a_node_stopping_exactly_at_a_slot_boundary_does_not_count_for_that_slot() {
    // a/0 stops at 3000 while b/0 started at 2500: they overlap on [2500, 3000), no slot start.
    let t = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (2_500, start("b", 0)),
            (3_000, stop("a", 0)),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.dual_slots, 0);
    assert_eq!(j.metrics.max_overlap_ms, 500);
    assert!(j.passed(), "{:#?}", j.violations);
}

#[test]
fn every_slot_start_inside_an_overlap_is_a_dual_slot_and_the_slot_length_counts() {
    let t = trace(
        20_000,
        vec![
            (0, start("a", 0)),
            (1_500, start("b", 1)),
            (8_000, stop("b", 1)),
        ],
    );
    // 1 s slots: starts 2000..=7000 → 6 slots.
    assert_eq!(judge(&scenario(""), &t).metrics.dual_slots, 6);
    // 2 s slots: 2000, 4000, 6000 → 3 slots.
    let two = Scenario {
        slot_length: std::time::Duration::from_secs(2),
        ..scenario("")
    };
    let j = judge(&two, &t);
    assert_eq!(j.metrics.dual_slots, 3);
    assert_eq!(j.violations.len(), 3);
    assert_eq!(j.metrics.max_overlap_ms, 6_500);
}

#[test]
fn a_slot_starting_at_the_end_of_the_run_is_not_checked() {
    let t = trace(3_000, vec![(0, start("a", 0)), (2_500, start("b", 0))]);
    assert_eq!(judge(&scenario(""), &t).metrics.dual_slots, 0);
}

#[test]
fn overlaps_with_changing_pods_form_one_overlap_stretch() {
    let t = trace(
        10_000,
        vec![
            (0, start("a", 0)),
            (1_000, start("a", 1)),
            (2_000, start("b", 0)),
            (3_000, stop("a", 0)),
            (4_000, stop("a", 1)),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.max_overlap_ms, 3_000);
    assert_eq!(j.metrics.dual_slots, 3, "slots 1, 2, 3");
    assert_eq!(
        j.dual_slots.listed[1].pods,
        [pod("a", 0), pod("a", 1), pod("b", 0)]
    );
}

/// a/0 frozen at 10 s for 20 s (longer than the 10 s renew deadline) wakes at 30 s still forging,
/// while b/0 forges since 25 s; a/0 stops at `a_stops_ms`.
fn residual_trace(a_stops_ms: SimMs) -> Trace {
    trace(
        60_000,
        vec![
            (0, start("a", 0)),
            (10_000, frozen("a", 0, 20_000)),
            (10_000, stop("a", 0)),
            (25_000, start("b", 0)),
            (30_000, start("a", 0)),
            (a_stops_ms, stop("a", 0)),
        ],
    )
}

#[test]
fn dual_slots_right_after_a_long_freeze_of_a_forger_are_residual_not_dual() {
    let j = judge(&scenario(""), &residual_trace(32_500));
    assert_eq!(j.metrics.residual_dual_slots, 3, "slots 30, 31, 32");
    assert_eq!(j.metrics.dual_slots, 0);
    assert!(
        j.passed(),
        "residual slots fail only max-residual: {:#?}",
        j.violations
    );
}

#[test]
fn the_residual_window_ends_renew_deadline_after_the_thaw_inclusive() {
    // Overlap [30 s, 42 s): slots 30..=40 residual (thaw + 10 s included), 41 dual.
    let j = judge(&scenario(""), &residual_trace(42_000));
    assert_eq!(j.metrics.residual_dual_slots, 11);
    assert_eq!(j.metrics.dual_slots, 1);
    assert_eq!(j.violations.len(), 1);
    assert_eq!(j.violations[0].at_ms, Some(41_000));
}

#[test]
fn a_freeze_not_longer_than_renew_deadline_leaves_ordinary_dual_slots() {
    let t = trace(
        60_000,
        vec![
            (0, start("a", 0)),
            (20_000, frozen("a", 0, 10_000)),
            (20_000, stop("a", 0)),
            (25_000, start("b", 0)),
            (30_000, start("a", 0)),
            (31_500, stop("a", 0)),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(
        (j.metrics.dual_slots, j.metrics.residual_dual_slots),
        (2, 0)
    );
}

#[test]
fn a_dual_slot_is_residual_only_when_the_unfrozen_pod_forges_in_it() {
    let t = trace(
        60_000,
        vec![
            (0, frozen("a", 2, 20_000)),
            (20_000, start("a", 0)),
            (20_000, start("b", 0)),
            (21_500, stop("b", 0)),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(
        (j.metrics.dual_slots, j.metrics.residual_dual_slots),
        (2, 0)
    );
}

#[test]
fn max_residual_fails_when_there_are_more_residual_slots() {
    let t = residual_trace(32_500);
    passes("[[expect]]\nkind = \"max-residual\"\nvalue = 3", &t);
    let v = only_violation("[[expect]]\nkind = \"max-residual\"\nvalue = 1", &t);
    assert_eq!(v.kind, "max-residual");
    assert_eq!(v.at_ms, Some(31_000), "the second residual slot");
    assert!(
        v.message
            .contains("at most 1 residual dual-forging slots, found 3"),
        "{}",
        v.message
    );
}

#[test]
fn dual_slots_beyond_the_listing_limit_are_counted_and_summarised() {
    let end_ms = (MAX_LISTED_DUAL_SLOTS as SimMs + 10) * 1_000;
    let t = trace(end_ms, vec![(0, start("a", 0)), (0, start("b", 0))]);
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.dual_slots, MAX_LISTED_DUAL_SLOTS as u64 + 10);
    assert_eq!(j.dual_slots.listed.len(), MAX_LISTED_DUAL_SLOTS);
    assert_eq!(j.violations.len(), MAX_LISTED_DUAL_SLOTS + 1);
    assert!(
        j.violations
            .last()
            .is_some_and(|v| v.message.starts_with("10 more dual-forging slots"))
    );
}

// ---- gaps, handovers, coverage ----

#[test]
fn gaps_count_from_the_first_forger_to_the_end_by_default() {
    let tl = Timeline::from_trace(&failover());
    assert_eq!(tl.default_window(), (5_000, 60_000));
    assert_eq!(tl.gaps(5_000, 60_000), [(30_000, 32_000)]);
    assert_eq!(judge(&scenario(""), &failover()).metrics.max_gap_ms, 2_000);
    // Within an explicit window the startup gap counts, clipped to the window.
    assert_eq!(tl.max_gap(1_000, 60_000), Some((1_000, 4_000)));
    assert_eq!(tl.max_gap(31_000, 40_000), Some((31_000, 1_000)));
}

#[test]
fn a_run_where_nobody_ever_forges_is_one_gap_with_zero_coverage() {
    let j = judge(&scenario(""), &trace(60_000, vec![]));
    assert_eq!(j.metrics.max_gap_ms, 60_000);
    assert_eq!(j.metrics.coverage, 0.0);
    assert_eq!(j.metrics.handovers, 0);
}

#[test]
fn a_gap_with_the_same_node_on_both_sides_is_not_a_handover() {
    let t = trace(
        60_000,
        vec![
            (1_000, start("a", 0)),
            (10_000, stop("a", 0)),
            (12_000, start("a", 0)),
        ],
    );
    assert_eq!(judge(&scenario(""), &t).metrics.handovers, 0);
    assert_eq!(
        judge(&scenario(""), &failover()).handovers,
        [Handover {
            at_ms: 32_000,
            from: pod("a", 0),
            to: pod("b", 0)
        }]
    );
}

#[test]
fn an_overlap_between_two_nodes_counts_as_one_handover_only_if_the_other_one_stays() {
    let a_to_b = trace(
        10_000,
        vec![
            (0, start("a", 0)),
            (3_500, start("b", 0)),
            (3_800, stop("a", 0)),
        ],
    );
    let j = judge(&scenario(""), &a_to_b);
    assert_eq!(j.metrics.handovers, 1);
    assert_eq!(j.handovers[0].at_ms, 3_800);
    let back_to_a = trace(
        10_000,
        vec![
            (0, start("a", 0)),
            (3_500, start("b", 0)),
            (3_800, stop("b", 0)),
        ],
    );
    assert_eq!(judge(&scenario(""), &back_to_a).metrics.handovers, 0);
}

#[test]
fn coverage_is_the_fraction_of_the_window_with_exactly_one_forger() {
    let tl = Timeline::from_trace(&failover());
    // Default window [5 s, 60 s): 53 s of 55 s.
    let j = judge(&scenario(""), &failover());
    assert!((j.metrics.coverage - 53.0 / 55.0).abs() < 1e-12);
    assert_eq!(tl.coverage(0, 10_000), 0.5);
    assert_eq!(tl.coverage(30_000, 32_000), 0.0);
    assert_eq!(
        tl.coverage(10_000, 10_000),
        1.0,
        "an empty window judges its instant"
    );
    // Two forgers is not coverage either.
    let dual = trace(10_000, vec![(0, start("a", 0)), (5_000, start("b", 0))]);
    assert_eq!(Timeline::from_trace(&dual).coverage(0, 10_000), 0.5);
}

#[test]
fn node_exits_and_api_requests_are_counted_per_server_and_window() {
    let t = trace(
        10_000,
        vec![
            (100, api("global")),
            (200, api("a")),
            (300, exit("a", 1)),
            (1_000, api("global")),
            (2_000, api("global")),
        ],
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.node_exits, 1);
    assert_eq!(j.metrics.api_requests.get("global"), Some(&3));
    assert_eq!(j.metrics.api_requests.get("a"), Some(&1));
    assert_eq!(j.metrics.api_requests.get("b"), None);
    assert_eq!(
        timeline::api_requests_in(&t, "global", 1_000, Some(2_000)),
        [1_000]
    );
    assert_eq!(
        timeline::api_requests_in(&t, "global", 1_000, None),
        [1_000, 2_000]
    );
}

// ---- expectations ----

#[test]
fn forger_expectations_hold_for_the_right_region_pod_or_none() {
    let t = failover();
    passes(
        "[[expect]]\nkind = \"forger\"\nat = \"10s\"\nregion = \"a\"",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"forger\"\nat = \"32s\"\npod = \"b/0\"",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"forger\"\nat = \"31s\"\nnone = true",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"forger\"\nat = \"30s\"\nnone = true",
        &t,
    );
}

#[test]
fn a_forger_expectation_fails_with_what_was_found() {
    let t = failover();
    let v = only_violation(
        "[[expect]]\nkind = \"forger\"\nat = \"10s\"\nregion = \"b\"",
        &t,
    );
    assert_eq!(v.kind, "forger");
    assert_eq!(v.at_ms, Some(10_000));
    assert_eq!(
        v.message,
        "expected forger in region b at 10s, found pod a/0"
    );
    let v = only_violation(
        "[[expect]]\nkind = \"forger\"\nat = \"31s\"\npod = \"b/0\"",
        &t,
    );
    assert_eq!(
        v.message,
        "expected forger in pod b/0 at 31s, found no forger"
    );
    let v = only_violation(
        "[[expect]]\nkind = \"forger\"\nat = \"40s\"\nnone = true",
        &t,
    );
    assert_eq!(v.message, "expected no forger at 40s, found pod b/0");
}

#[test]
fn forger_by_holds_until_the_next_fault_by_default() {
    // The fault at 30 s ends the default window: the failover after it is not judged.
    let faults = "[[fault]]\nat = \"30s\"\nkind = \"crash\"\ntarget = \"pod:a/0\"\n";
    passes(
        &format!("{faults}[[expect]]\nkind = \"forger-by\"\nby = \"5s\"\nregion = \"a\""),
        &failover(),
    );
    // Without the fault it runs to the end and fails at the gap.
    let v = only_violation(
        "[[expect]]\nkind = \"forger-by\"\nby = \"5s\"\nregion = \"a\"",
        &failover(),
    );
    assert_eq!(v.at_ms, Some(30_000));
    assert_eq!(
        v.message,
        "expected the forger in region a from 5s until 1m, but at 30s found no forger"
    );
}

#[test]
fn forger_by_fails_when_the_forger_is_not_there_yet_at_by() {
    let v = only_violation(
        "[[expect]]\nkind = \"forger-by\"\nby = \"31s\"\npod = \"b/0\"\nto = \"50s\"",
        &failover(),
    );
    assert_eq!(v.at_ms, Some(31_000));
    passes(
        "[[expect]]\nkind = \"forger-by\"\nby = \"32s\"\npod = \"b/0\"\nto = \"50s\"",
        &failover(),
    );
    passes(
        "[[expect]]\nkind = \"forger-by\"\nby = \"32s\"\nregion = \"b\"",
        &failover(),
    );
}

#[test]
fn forger_by_fails_on_a_second_forger() {
    let t = trace(
        20_000,
        vec![
            (0, start("a", 0)),
            (5_100, start("a", 1)),
            (5_300, stop("a", 1)),
        ],
    );
    let v = violations(
        "[[expect]]\nkind = \"forger-by\"\nby = \"1s\"\nregion = \"a\"",
        &t,
    );
    assert_eq!(
        v.len(),
        1,
        "an overlap between slot starts is no dual slot: {v:#?}"
    );
    assert_eq!(v[0].at_ms, Some(5_100));
    assert!(
        v[0].message.contains("found 2 forgers (pods a/0, a/1)"),
        "{}",
        v[0].message
    );
}

#[test]
fn max_gap_fails_on_the_longest_gap_in_the_window() {
    let t = failover();
    passes("[[expect]]\nkind = \"max-gap\"\nvalue = \"2s\"", &t);
    let v = only_violation("[[expect]]\nkind = \"max-gap\"\nvalue = \"1s999ms\"", &t);
    assert_eq!(v.at_ms, Some(30_000));
    assert_eq!(
        v.message,
        "expected no gap without a forger longer than 1s999ms from the first forger (5s) to the end (1m), found a gap of 2s from 30s to 32s"
    );
    // With an explicit window from the start, the startup gap counts.
    let v = only_violation(
        "[[expect]]\nkind = \"max-gap\"\nvalue = \"3s\"\nfrom = \"0s\"",
        &t,
    );
    assert_eq!(v.at_ms, Some(0));
    let late = trace(60_000, vec![(4_000, start("a", 0))]);
    passes(
        "[[expect]]\nkind = \"max-gap\"\nvalue = \"1s\"\nfrom = \"4s\"\nto = \"30s\"",
        &late,
    );
    only_violation(
        "[[expect]]\nkind = \"max-gap\"\nvalue = \"1s\"\nfrom = \"0s\"\nto = \"30s\"",
        &late,
    );
}

#[test]
fn max_handovers_counts_changes_to_a_different_node_in_the_window() {
    let t = trace(
        60_000,
        vec![
            (0, start("a", 0)),
            (10_000, stop("a", 0)),
            (11_000, start("b", 0)),
            (20_000, stop("b", 0)),
            (21_000, start("a", 1)),
        ],
    );
    passes("[[expect]]\nkind = \"max-handovers\"\nvalue = 2", &t);
    let v = only_violation("[[expect]]\nkind = \"max-handovers\"\nvalue = 1", &t);
    assert_eq!(v.at_ms, Some(21_000));
    assert!(
        v.message
            .contains("found 2: a/0 -> b/0 at 11s, b/0 -> a/1 at 21s"),
        "{}",
        v.message
    );
    passes(
        "[[expect]]\nkind = \"max-handovers\"\nvalue = 1\nfrom = \"15s\"",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"max-handovers\"\nvalue = 0\nfrom = \"12s\"\nto = \"21s\"",
        &t,
    );
    only_violation(
        "[[expect]]\nkind = \"max-handovers\"\nvalue = 0\nfrom = \"11s\"\nto = \"12s\"",
        &t,
    );
}

#[test]
fn no_forger_in_a_region_holds_over_a_half_open_window() {
    let t = failover();
    passes(
        "[[expect]]\nkind = \"no-forger-in\"\nregion = \"b\"\nfrom = \"0s\"\nto = \"32s\"",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"no-forger-in\"\nregion = \"a\"\nfrom = \"30s\"\nto = \"1m\"",
        &t,
    );
    let v = only_violation(
        "[[expect]]\nkind = \"no-forger-in\"\nregion = \"a\"\nfrom = \"29s\"\nto = \"1m\"",
        &t,
    );
    assert_eq!(v.at_ms, Some(29_000));
    assert_eq!(
        v.message,
        "expected no forger in region a from 29s to 1m, found pod a/0 forging at 29s"
    );
}

#[test]
fn credentials_are_absent_until_reported_and_then_follow_the_last_report() {
    let t = trace(
        60_000,
        vec![(5_000, creds("a", 0, true)), (30_000, creds("a", 0, false))],
    );
    let expect = |at: &str, present: bool| {
        format!(
            "[[expect]]\nkind = \"credentials\"\ntarget = \"pod:a/0\"\nat = \"{at}\"\npresent = {present}"
        )
    };
    passes(&expect("4s", false), &t);
    passes(&expect("5s", true), &t);
    passes(&expect("29s", true), &t);
    passes(&expect("30s", false), &t);
    let v = only_violation(&expect("10s", false), &t);
    assert_eq!(v.at_ms, Some(10_000));
    assert_eq!(
        v.message,
        "expected the credential files of pod a/0 absent at 10s, found them present"
    );
}

#[test]
fn coverage_expectations_compare_with_the_minimum() {
    let t = failover();
    passes("[[expect]]\nkind = \"coverage\"\nmin = 0.96", &t);
    let v = only_violation("[[expect]]\nkind = \"coverage\"\nmin = 0.97", &t);
    assert_eq!(v.at_ms, None);
    assert_eq!(
        v.message,
        "expected exactly one forger for at least 97.0% of the time from the first forger (5s) to the end (1m), found 96.4%"
    );
    passes(
        "[[expect]]\nkind = \"coverage\"\nmin = 1\nfrom = \"32s\"",
        &t,
    );
    only_violation(
        "[[expect]]\nkind = \"coverage\"\nmin = 0.5\nfrom = \"0s\"\nto = \"10s\"",
        &trace(60_000, vec![(6_000, start("a", 0))]),
    );
}

#[test]
fn max_node_exits_fails_at_the_first_exit_over_the_limit() {
    let t = trace(60_000, vec![(1_000, exit("a", 0)), (6_000, exit("a", 0))]);
    passes("[[expect]]\nkind = \"max-node-exits\"\nvalue = 2", &t);
    let v = only_violation("[[expect]]\nkind = \"max-node-exits\"\nvalue = 1", &t);
    assert_eq!(v.at_ms, Some(6_000));
    assert_eq!(
        v.message,
        "expected at most 1 cardano-node exits at start, found 2"
    );
}

#[test]
fn max_api_requests_counts_one_server_in_the_window() {
    let t = trace(
        60_000,
        vec![
            (1_000, api("a")),
            (2_000, api("global")),
            (3_000, api("a")),
            (4_000, api("a")),
        ],
    );
    passes(
        "[[expect]]\nkind = \"max-api-requests\"\nvalue = 3\ntarget = \"api:a\"",
        &t,
    );
    passes(
        "[[expect]]\nkind = \"max-api-requests\"\nvalue = 1\ntarget = \"api:a\"\nfrom = \"2s\"\nto = \"4s\"",
        &t,
    );
    let v = only_violation(
        "[[expect]]\nkind = \"max-api-requests\"\nvalue = 1\ntarget = \"api:global\"\nto = \"2s\"",
        &trace(
            60_000,
            vec![
                (0, api("global")),
                (1_999, api("global")),
                (2_000, api("global")),
            ],
        ),
    );
    assert_eq!(v.at_ms, Some(1_999));
    assert_eq!(
        v.message,
        "expected at most 1 requests answered by api:global from the start to 2s, found 2"
    );
}

#[test]
fn violations_list_dual_slots_first_then_expectations_in_file_order() {
    let t = trace(
        10_000,
        vec![
            (0, start("a", 0)),
            (3_000, start("b", 0)),
            (3_100, stop("b", 0)),
        ],
    );
    let v = violations(
        "[[expect]]\nkind = \"max-node-exits\"\nvalue = 5\n[[expect]]\nkind = \"forger\"\nat = \"1s\"\nregion = \"b\"\n[[expect]]\nkind = \"max-handovers\"\nvalue = 0\n",
        &t,
    );
    let order: Vec<(Option<usize>, &str)> =
        v.iter().map(|v| (v.expectation, v.kind.as_str())).collect();
    assert_eq!(order, [(None, DUAL_FORGING), (Some(1), "forger")]);
}
