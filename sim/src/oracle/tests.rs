//! Unit tests of the oracle on hand-written traces: every measure, and every expectation kind
//! passing and failing, with the slot-boundary and window-boundary cases.

use super::timeline::{self, Timeline};
use super::*;
use crate::scenario::Scenario;
use crate::trace::{EventKind, LeaseRole, PodId, SimMs, Trace};

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

/// Timed trace events, as [`trace`] takes them.
type Events = Vec<(SimMs, EventKind)>;

/// A write of region `region`'s lease naming pod `region/index` (15 s lease).
fn local(region: &str, index: usize) -> EventKind {
    EventKind::LeaseWritten {
        server: region.into(),
        lease: LeaseRole::Local(region.into()),
        name: "mainnet-pool1-leader".into(),
        holder: format!("bp-{region}-{index}"),
        holder_pod: Some(pod(region, index)),
        duration_s: 15,
    }
}

/// A write of the global lease naming `region` (15 s lease).
fn global(region: &str) -> EventKind {
    EventKind::LeaseWritten {
        server: "global".into(),
        lease: LeaseRole::Global,
        name: "mainnet-pool1-global".into(),
        holder: region.into(),
        holder_pod: None,
        duration_s: 15,
    }
}

/// `kind` written every 2 s over `[from, to)`, as a holder renews it.
fn renewals(kind: &EventKind, from: SimMs, to: SimMs) -> Vec<(SimMs, EventKind)> {
    (from..to)
        .step_by(2_000)
        .map(|at| (at, kind.clone()))
        .collect()
}

/// Judges, leaving out the lease-coverage violations: for the tests of every other check, on
/// traces without lease writes (in which every forging slot is uncovered). Lease coverage has
/// its own tests below, on traces with lease writes.
fn judged(s: &Scenario, t: &Trace) -> Judgement {
    let mut j = judge(s, t);
    j.violations.retain(|v| v.kind != UNCOVERED_FORGING);
    j
}

fn violations(extra: &str, t: &Trace) -> Vec<Violation> {
    judged(&scenario(extra), t).violations
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
    let j = judged(&scenario(""), &t);
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
    // a/0 stops at 3000 as b/0 starts there: b/0 checks slot 3, a/0 does not.
    let t = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (3_000, stop("a", 0)),
            (3_000, start("b", 0)),
        ],
    );
    let j = judged(&scenario(""), &t);
    assert_eq!(j.metrics.dual_slots, 0);
    assert_eq!(j.metrics.missed_slots, 0);
    assert!(j.passed(), "{:#?}", j.violations);
}

/// cardano-node checks the slot in progress at once when a SIGHUP enables forging part-way
/// through it: a handover whose gap holds no slot start has the successor check the slot the
/// leaving node already checked (a second block for it if the pool leads it), even with no
/// overlap at all; a gap that holds one slot start misses nothing.
#[test]
fn a_node_enabled_part_way_through_a_slot_checks_it_at_once() {
    let inside = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (2_100, stop("a", 0)),
            (2_600, start("b", 0)),
        ],
    );
    let j = judged(&scenario(""), &inside);
    assert_eq!(j.metrics.dual_slots, 1, "{:#?}", j.dual_slots);
    assert_eq!(j.dual_slots.listed[0].slot, 2);
    assert_eq!(j.dual_slots.listed[0].pods, [pod("a", 0), pod("b", 0)]);
    assert_eq!(j.metrics.max_overlap_ms, 0);
    assert!(!j.passed());
    let straddling = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (2_100, stop("a", 0)),
            (3_400, start("b", 0)),
        ],
    );
    let j = judged(&scenario(""), &straddling);
    assert_eq!(
        (j.metrics.dual_slots, j.metrics.missed_slots),
        (0, 0),
        "b/0 checks slot 3 at 3.4 s"
    );
    assert!(j.passed(), "{:#?}", j.violations);
    // A node that thaws in the slot it froze in re-checks its own slot: one node, no dual slot.
    let own = trace(
        5_000,
        vec![
            (0, start("a", 0)),
            (2_100, stop("a", 0)),
            (2_600, start("a", 0)),
        ],
    );
    assert_eq!(judged(&scenario(""), &own).metrics.dual_slots, 0);
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
    // 1 s slots: slot 1 (b/1 checks it at once, at 1500) and the starts 2000..=7000 → 7 slots.
    assert_eq!(judged(&scenario(""), &t).metrics.dual_slots, 7);
    // 2 s slots: slot 0 (b/1 at once), then 2000, 4000, 6000 → 4 slots.
    let two = Scenario {
        slot_length: std::time::Duration::from_secs(2),
        ..scenario("")
    };
    let j = judged(&two, &t);
    assert_eq!(j.metrics.dual_slots, 4);
    assert_eq!(j.violations.len(), 4);
    assert_eq!(j.metrics.max_overlap_ms, 6_500);
}

#[test]
fn a_slot_starting_at_the_end_of_the_run_is_not_checked() {
    // Slot 2 is dual; slot 3 would start at the run's end.
    let t = trace(3_000, vec![(0, start("a", 0)), (2_000, start("b", 0))]);
    assert_eq!(judged(&scenario(""), &t).metrics.dual_slots, 1);
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
    let j = judged(&scenario(""), &t);
    assert_eq!(j.metrics.max_overlap_ms, 3_000);
    assert_eq!(j.metrics.dual_slots, 3, "slots 1, 2, 3");
    assert_eq!(
        j.dual_slots.listed[1].pods,
        [pod("a", 0), pod("a", 1), pod("b", 0)]
    );
}

/// a/0 renews region a's lease and the global lease every 2 s until 8 s, is frozen at 10 s for
/// 20 s (spanning its fencing deadline 8 s + 10 s = 18 s) and wakes at 30 s still forging, while
/// b/0 forges since 25 s; a/0 stops at `a_stops_ms`.
fn residual_trace(a_stops_ms: SimMs) -> Trace {
    let mut events = vec![
        (0, start("a", 0)),
        (10_000, frozen("a", 0, 20_000)),
        (10_000, stop("a", 0)),
        (25_000, start("b", 0)),
        (30_000, start("a", 0)),
        (a_stops_ms, stop("a", 0)),
    ];
    events.extend(renewals(&local("a", 0), 0, 10_000));
    events.extend(renewals(&global("a"), 0, 10_000));
    trace(60_000, events)
}

#[test]
fn dual_slots_right_after_a_freeze_spanning_the_forgers_deadline_are_residual_not_dual() {
    let j = judged(&scenario(""), &residual_trace(32_500));
    assert_eq!(j.metrics.residual_dual_slots, 3, "slots 30, 31, 32");
    assert_eq!(j.metrics.dual_slots, 0);
    assert_eq!(
        j.residual_windows
            .iter()
            .map(|w| (w.pod.clone(), w.deadline_ms, w.thaw_ms, w.until_ms))
            .collect::<Vec<_>>(),
        [(pod("a", 0), 18_000, 30_000, 40_000)]
    );
    assert!(
        j.passed(),
        "residual slots fail only max-residual: {:#?}",
        j.violations
    );
}

#[test]
fn the_residual_window_ends_renew_deadline_after_the_thaw_inclusive() {
    // Overlap [30 s, 42 s): slots 30..=40 residual (thaw + 10 s included), 41 dual.
    let j = judged(&scenario(""), &residual_trace(42_000));
    assert_eq!(j.metrics.residual_dual_slots, 11);
    assert_eq!(j.metrics.dual_slots, 1);
    assert_eq!(j.violations.len(), 1);
    assert_eq!(j.violations[0].at_ms, Some(41_000));
}

/// One case of the residual rule: a/0 forges from 0 s until it is frozen at `freeze_at` for
/// `freeze_for`, again from the thaw until 3.5 s later; b/0 forges from 0 s on. `leases` are the
/// lease writes. Returns (dual, residual) slots after the thaw.
fn residual_case(
    freeze_at: SimMs,
    freeze_for: SimMs,
    frozen_pod: (&str, usize),
    leases: Vec<(SimMs, EventKind)>,
) -> (u64, u64) {
    let thaw = freeze_at + freeze_for;
    let mut events = vec![
        (0, start("a", 0)),
        (0, start("b", 0)),
        (freeze_at, frozen(frozen_pod.0, frozen_pod.1, freeze_for)),
        (freeze_at, stop("a", 0)),
        (thaw, start("a", 0)),
        (thaw + 3_500, stop("a", 0)),
    ];
    events.extend(leases);
    let mut j = judged(&scenario(""), &trace(60_000, events));
    // Slots before the freeze are dual in every case; count only those after the thaw.
    let before = freeze_at.div_ceil(1_000);
    j.dual_slots.listed.retain(|s| s.slot >= before);
    let residual = j.dual_slots.listed.iter().filter(|s| s.residual).count() as u64;
    (j.dual_slots.listed.len() as u64 - residual, residual)
}

#[test]
fn only_a_freeze_spanning_one_of_the_frozen_pods_own_fencing_deadlines_leaves_residual_slots() {
    let a_renews_to = |until: SimMs| renewals(&local("a", 0), 0, until);
    // (what, freeze at, freeze for, frozen pod, lease writes, (dual, residual) after the thaw)
    type Case<'a> = (&'a str, SimMs, SimMs, (&'a str, usize), Events, (u64, u64));
    let cases: Vec<Case> = vec![
        (
            "long freeze of the holder: last renewal 8 s, deadline 18 s inside [10 s, 30 s)",
            10_000,
            20_000,
            ("a", 0),
            a_renews_to(10_000),
            (0, 4),
        ),
        (
            "short freeze starting just before the deadline 18 s: spans it",
            15_000,
            5_000,
            ("a", 0),
            a_renews_to(10_000),
            (0, 4),
        ),
        (
            "short freeze ending before the deadline 18 s: ordinary dual slots",
            10_000,
            5_000,
            ("a", 0),
            a_renews_to(10_000),
            (4, 0),
        ),
        (
            "long freeze of a pod that holds no lease: ordinary dual slots",
            10_000,
            20_000,
            ("a", 0),
            Vec::new(),
            (4, 0),
        ),
        (
            "a lease deleted under its holder before the freeze: the holder's own deadline counts",
            10_000,
            20_000,
            ("a", 0),
            {
                let mut writes = a_renews_to(9_000);
                writes.push((
                    9_500,
                    EventKind::LeaseDeleted {
                        server: "a".into(),
                        lease: LeaseRole::Local("a".into()),
                        name: "mainnet-pool1-leader".into(),
                    },
                ));
                writes
            },
            (0, 4),
        ),
        (
            "a lease another pod wrote within the holder's deadline (a deletion and re-creation): \
             the holder's own deadline, 12 s, counts",
            10_000,
            20_000,
            ("a", 0),
            vec![(2_000, local("a", 0)), (4_000, local("a", 1))],
            (0, 4),
        ),
        (
            "a holder whose own deadline passed before the freeze: ordinary dual slots",
            15_000,
            20_000,
            ("a", 0),
            vec![(2_000, local("a", 0)), (4_000, local("a", 1))],
            (4, 0),
        ),
        (
            "a renewal accepted during the freeze (in flight) moves the deadline past the thaw",
            10_000,
            5_000,
            ("a", 0),
            {
                let mut w = a_renews_to(10_000);
                w.push((11_000, local("a", 0)));
                w
            },
            (4, 0),
        ),
        (
            "the global lease's deadline counts while the pod leads its region",
            15_000,
            5_000,
            ("a", 0),
            {
                // Local renewals until 14 s (deadline 24 s, after the thaw at 20 s); the global
                // lease last renewed for region a at 8 s (deadline 18 s, inside the freeze).
                let mut w = a_renews_to(15_000);
                w.extend(renewals(&global("a"), 0, 10_000));
                w
            },
            (0, 4),
        ),
        (
            "the frozen pod must be a forger of the slot: another pod's freeze leaves them dual",
            10_000,
            20_000,
            ("a", 2),
            renewals(&local("a", 2), 0, 10_000),
            (4, 0),
        ),
    ];
    for (name, at, for_, frozen_pod, leases, want) in cases {
        assert_eq!(residual_case(at, for_, frozen_pod, leases), want, "{name}");
    }
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
    let j = judged(&scenario(""), &t);
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
    assert_eq!(judged(&scenario(""), &failover()).metrics.max_gap_ms, 2_000);
    // Within an explicit window the startup gap counts, clipped to the window.
    assert_eq!(tl.max_gap(1_000, 60_000), Some((1_000, 4_000)));
    assert_eq!(tl.max_gap(31_000, 40_000), Some((31_000, 1_000)));
}

#[test]
fn a_run_where_nobody_ever_forges_is_one_gap_with_zero_coverage() {
    let j = judged(&scenario(""), &trace(60_000, vec![]));
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
    assert_eq!(judged(&scenario(""), &t).metrics.handovers, 0);
    assert_eq!(
        judged(&scenario(""), &failover()).handovers,
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
    let j = judged(&scenario(""), &a_to_b);
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
    assert_eq!(judged(&scenario(""), &back_to_a).metrics.handovers, 0);
}

#[test]
fn coverage_is_the_fraction_of_the_window_with_exactly_one_forger() {
    let tl = Timeline::from_trace(&failover());
    // Default window [5 s, 60 s): 53 s of 55 s.
    let j = judged(&scenario(""), &failover());
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
    let j = judged(&scenario(""), &t);
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
    // a/1, enabled part-way through slot 5, checks it at once beside a/0: a dual slot too.
    assert_eq!(v.len(), 2, "{v:#?}");
    assert_eq!(v[0].kind, DUAL_FORGING);
    assert_eq!(v[1].at_ms, Some(5_100));
    assert!(
        v[1].message.contains("found 2 forgers (pods a/0, a/1)"),
        "{}",
        v[1].message
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

// ---- lease coverage ----

/// One region `a` (cluster management off): only region a's lease is checked.
fn one_region() -> Scenario {
    Scenario::from_str(
        "name = \"t\"\nduration = \"1m\"\n[[region]]\nname = \"a\"\npriority = 1\n",
        "t.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// (uncovered, residual uncovered) slots of a/0 forging over [10 s, 12.5 s) (slots 10, 11, 12)
/// with these lease changes.
fn coverage_case(s: &Scenario, leases: Vec<(SimMs, EventKind)>) -> (u64, u64) {
    let mut events = vec![(10_000, start("a", 0)), (12_500, stop("a", 0))];
    events.extend(leases);
    let j = judge(s, &trace(60_000, events));
    (
        j.metrics.uncovered_slots,
        j.metrics.residual_uncovered_slots,
    )
}

#[test]
fn a_forging_slot_is_covered_only_by_young_enough_leases_naming_the_pod_and_its_region() {
    let two = scenario("");
    let one = one_region();
    let deleted = |lease: LeaseRole| EventKind::LeaseDeleted {
        server: "a".into(),
        lease,
        name: "x".into(),
    };
    // (what, scenario, lease changes, uncovered slots)
    type Case<'a> = (&'a str, &'a Scenario, Events, u64);
    let cases: Vec<Case> = vec![
        (
            "both leases renewed: covered",
            &two,
            [
                renewals(&local("a", 0), 0, 14_000),
                renewals(&global("a"), 0, 14_000),
            ]
            .concat(),
            0,
        ),
        ("no lease ever written", &two, Vec::new(), 3),
        (
            "one region: the global lease is not needed",
            &one,
            renewals(&local("a", 0), 0, 14_000),
            0,
        ),
        (
            "two regions: without the global lease every slot is uncovered",
            &two,
            renewals(&local("a", 0), 0, 14_000),
            3,
        ),
        (
            "a write at 0 s covers slots up to 14 (15 s lease): slots 10, 11, 12 covered",
            &one,
            vec![(0, local("a", 0))],
            0,
        ),
        (
            "another pod's write at 10.5 s, the pod's again at 12 s: slot 11 uncovered",
            &one,
            vec![
                (0, local("a", 0)),
                (10_500, local("a", 1)),
                (12_000, local("a", 0)),
            ],
            1,
        ),
        (
            "deleted right after the write: every slot uncovered",
            &one,
            vec![
                (0, local("a", 0)),
                (0, deleted(LeaseRole::Local("a".into()))),
            ],
            3,
        ),
        (
            "the lease names another pod of the region",
            &one,
            renewals(&local("a", 1), 0, 14_000),
            3,
        ),
        (
            "the lease is deleted at 11 s and not written again",
            &one,
            [
                renewals(&local("a", 0), 0, 11_000),
                vec![(11_000, deleted(LeaseRole::Local("a".into())))],
            ]
            .concat(),
            2,
        ),
        (
            "the global lease names the other region from 11.5 s",
            &two,
            [
                renewals(&local("a", 0), 0, 14_000),
                renewals(&global("a"), 0, 11_000),
                vec![(11_500, global("b"))],
            ]
            .concat(),
            1,
        ),
        (
            "the global lease written for region a at 0 s with an 11 s lease: slots 11, 12 uncovered",
            &two,
            [
                renewals(&local("a", 0), 0, 14_000),
                vec![(
                    0,
                    match global("a") {
                        EventKind::LeaseWritten {
                            server,
                            lease,
                            name,
                            holder,
                            holder_pod,
                            ..
                        } => EventKind::LeaseWritten {
                            server,
                            lease,
                            name,
                            holder,
                            holder_pod,
                            duration_s: 11,
                        },
                        other => other,
                    },
                )],
            ]
            .concat(),
            2,
        ),
    ];
    for (name, s, leases, want) in cases {
        assert_eq!(coverage_case(s, leases), (want, 0), "{name}");
    }
}

#[test]
fn a_lease_exactly_its_duration_old_does_not_cover() {
    // Written at 0 s, 15 s lease: covers slots 0..=14, not 15.
    let t = trace(
        20_000,
        vec![
            (0, local("a", 0)),
            (14_000, start("a", 0)),
            (16_500, stop("a", 0)),
        ],
    );
    let j = judge(&one_region(), &t);
    assert_eq!(j.metrics.uncovered_slots, 2, "slots 15 and 16");
    let listed: Vec<u64> = j.uncovered_slots.listed.iter().map(|s| s.slot).collect();
    assert_eq!(listed, [15, 16]);
    assert!(!j.passed());
    let v = &j.violations[0];
    assert_eq!(v.kind, UNCOVERED_FORGING);
    assert_eq!(v.expectation, None);
    assert_eq!(v.at_ms, Some(15_000));
    assert!(
        v.message
            .contains("uncovered slot 15 at 15s: pod a/0 forges but the lease of region a")
            && v.message.contains("15s before")
            && v.message.contains("leaseDurationSeconds 15s"),
        "{}",
        v.message
    );
}

#[test]
fn uncovered_slots_name_the_lease_and_the_holder_and_are_summarised_past_the_first_five() {
    let t = trace(
        60_000,
        [
            vec![(10_000, start("a", 0))],
            renewals(&local("a", 1), 0, 60_000),
            renewals(&global("a"), 0, 60_000),
        ]
        .concat(),
    );
    let j = judge(&scenario(""), &t);
    assert_eq!(j.metrics.uncovered_slots, 50);
    assert_eq!(j.violations.len(), 6, "{:#?}", j.violations);
    assert!(
        j.violations[0]
            .message
            .contains("pod a/0 forges but the lease of region a names bp-a-1 (api a)"),
        "{}",
        j.violations[0].message
    );
    assert_eq!(
        j.violations[5].message,
        "50 uncovered slots in all (only the first 5 are listed)"
    );
    assert_eq!(j.violations[5].at_ms, None);
}

#[test]
fn uncovered_slots_of_a_frozen_pod_right_after_a_thaw_past_its_deadline_are_residual() {
    // a/0 renews until 8 s, is frozen over [10 s, 30 s) (deadline 18 s spanned), forges on after
    // the thaw with nothing renewed: slots 30..=40 residual, 41..=44 uncovered.
    let t = trace(
        45_000,
        [
            vec![
                (0, start("a", 0)),
                (10_000, frozen("a", 0, 20_000)),
                (10_000, stop("a", 0)),
                (30_000, start("a", 0)),
            ],
            renewals(&local("a", 0), 0, 10_000),
        ]
        .concat(),
    );
    let j = judge(&one_region(), &t);
    assert_eq!(
        (
            j.metrics.uncovered_slots,
            j.metrics.residual_uncovered_slots
        ),
        (4, 11)
    );
    assert_eq!(j.violations[0].at_ms, Some(41_000));
    // The same run without the freeze: all 15 slots uncovered.
    let mut unfrozen = t.clone();
    unfrozen
        .events
        .retain(|e| !matches!(e.kind, EventKind::Frozen { .. }));
    let j = judge(&one_region(), &unfrozen);
    assert_eq!(
        (
            j.metrics.uncovered_slots,
            j.metrics.residual_uncovered_slots
        ),
        (15, 0)
    );
}

// ---- missed slots ----

#[test]
fn missed_slots_are_the_slots_after_the_first_forger_without_any_leadership_check() {
    // a/0 over [5 s, 10 s), nobody until b/0 at 12.5 s, to the end at 20 s: b/0's node, enabled
    // part-way through slot 12, checks it at once, so slots 10 and 11 are missed.
    let gap = trace(
        20_000,
        vec![
            (5_000, start("a", 0)),
            (10_000, stop("a", 0)),
            (12_500, start("b", 0)),
        ],
    );
    let none = trace(20_000, vec![]);
    let boundary = trace(
        20_000,
        vec![
            (0, start("a", 0)),
            (10_000, stop("a", 0)),
            (12_000, start("a", 0)),
        ],
    );
    let cases: Vec<(&str, &Trace, &str, u64, Option<SimMs>)> = vec![
        (
            "a stop at 10 s and a start at 12.5 s miss slots 10 and 11",
            &gap,
            "value = 2",
            2,
            None,
        ),
        (
            "one over the limit fails at the next missed slot",
            &gap,
            "value = 1",
            2,
            Some(11_000),
        ),
        (
            "none allowed: fails at the first",
            &gap,
            "value = 0",
            2,
            Some(10_000),
        ),
        (
            "a window before the gap",
            &gap,
            "value = 0\nto = \"10s\"",
            2,
            None,
        ),
        (
            "a window ending inside the gap",
            &gap,
            "value = 0\nfrom = \"9s\"\nto = \"11s\"",
            2,
            Some(10_000),
        ),
        (
            "a window holding only the slot checked part-way through",
            &gap,
            "value = 0\nfrom = \"12s\"\nto = \"13s\"",
            2,
            None,
        ),
        (
            "boundaries: stop at 10 s misses slot 10, start at 12 s covers slot 12",
            &boundary,
            "value = 2",
            2,
            None,
        ),
        (
            "no forger ever: every slot of the run is missed",
            &none,
            "value = 19",
            20,
            Some(19_000),
        ),
    ];
    for (name, t, keys, metric, fails_at) in cases {
        let extra = format!("[[expect]]\nkind = \"max-missed-slots\"\n{keys}");
        let v = violations(&extra, t);
        assert_eq!(
            judged(&scenario(""), t).metrics.missed_slots,
            metric,
            "{name}: metric"
        );
        assert_eq!(v.first().and_then(|v| v.at_ms), fails_at, "{name}: {v:#?}");
        assert!(v.len() <= 1, "{name}: {v:#?}");
        if let Some(v) = v.first() {
            assert_eq!(v.kind, "max-missed-slots");
            assert!(
                v.message
                    .contains("slots in which no node ran its leadership check"),
                "{name}: {}",
                v.message
            );
        }
    }
}

/// Overlapping freezes of one pod are one frozen span (the world thaws the pod at the later end):
/// its residual window opens at that thaw. a/0 renews until 8 s (deadline 18 s), is frozen at 10 s
/// for 20 s and again at 20 s for 15 s, so it thaws at 35 s; b/0 forges from 25 s. Judged per
/// fault, the window was [30 s, 40 s] and the slots 40..=44 after it counted as dual (soak seed
/// 10708); a freeze that begins after the pod thawed stays a span of its own.
#[test]
fn overlapping_freezes_of_a_pod_are_one_span_with_one_thaw() {
    let mut events = vec![
        (0, start("a", 0)),
        (10_000, frozen("a", 0, 20_000)),
        (10_000, stop("a", 0)),
        (20_000, frozen("a", 0, 15_000)),
        (25_000, start("b", 0)),
        (35_000, start("a", 0)),
        (42_500, stop("a", 0)),
        (50_000, frozen("a", 0, 1_000)),
    ];
    events.extend(renewals(&local("a", 0), 0, 10_000));
    let t = trace(60_000, events);
    let spans: Vec<_> = timeline::freezes(&t)
        .iter()
        .map(|f| (f.start_ms, f.for_ms))
        .collect();
    assert_eq!(spans, [(10_000, 25_000), (50_000, 1_000)]);
    let j = judged(&scenario(""), &t);
    assert_eq!(
        (j.metrics.dual_slots, j.metrics.residual_dual_slots),
        (0, 8),
        "slots 35..=42"
    );
}
