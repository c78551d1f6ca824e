//! The oracle: pure judgement of a run's [`Trace`] against its [`Scenario`]. It owns the meaning of
//! "dual-forging slot" and "uncovered slot" (both always checked: any is a failure), "residual"
//! slot (`leases`), missed slot, gap, handover, coverage and overlap, and of every `[[expect]]`
//! kind.
//!
//! Entry point: [`judge`]. No I/O, no clock, no randomness: the same trace always gives the same
//! judgement, so it is unit-tested on hand-written traces (`tests.rs`).
//!
//! Slot-boundary convention (see `timeline`): slot k starts at k × slot_length; a pod forges over
//! `[ForgingStarted, ForgingStopped)`, so a node that starts forging exactly at a slot's start counts
//! for that slot and one that stops exactly at it does not.

mod expect;
pub mod leases;
pub mod timeline;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub use timeline::{
    DualSlot, DualSlots, ForgerInterval, Freeze, Handover, MAX_LISTED_DUAL_SLOTS, Segment,
    Timeline, forger_intervals,
};

pub use leases::{Leases, MAX_LISTED_UNCOVERED_SLOTS, ResidualWindow, UncoveredSlots};

use crate::scenario::Scenario;
use crate::trace::{SimMs, Trace};

/// The `kind` of the violations of the implicit "zero dual-forging slots" check.
pub const DUAL_FORGING: &str = "dual-forging";

/// The `kind` of the violations of the implicit lease-coverage check.
pub const UNCOVERED_FORGING: &str = "uncovered-forging";

/// The `kind` of the violation of a run the simulator itself could not finish (a panic).
pub const SIMULATOR_PANIC: &str = "simulator-panic";

/// Uncovered slots listed as violations one by one; the rest are counted in one more.
const LISTED_UNCOVERED_VIOLATIONS: usize = 5;

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Index of the `[[expect]]` in the file (0-based); `None` for the implicit dual-slot check.
    pub expectation: Option<usize>,
    /// The expectation's kind as in files, or [`DUAL_FORGING`].
    pub kind: String,
    /// When it failed, if it failed at an instant.
    pub at_ms: Option<SimMs>,
    /// What was expected and what was found.
    pub message: String,
}

/// The measures of a run (the report's numbers).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Changes of the sole forger to a different pod, over the whole run.
    pub handovers: u64,
    /// Longest stretch with two or more forgers.
    pub max_overlap_ms: SimMs,
    /// Longest gap from the first forger to the end (the whole run if none ever forged).
    pub max_gap_ms: SimMs,
    /// Fraction of that same window with exactly one forger.
    pub coverage: f64,
    /// Dual-forging slots, residual ones excluded.
    pub dual_slots: u64,
    /// Residual dual-forging slots.
    pub residual_dual_slots: u64,
    /// Slots in which a node forged without its leases' cover, residual ones excluded.
    pub uncovered_slots: u64,
    /// Residual uncovered slots.
    pub residual_uncovered_slots: u64,
    /// Slots from the first forger to the end in which no node ran its leadership check.
    pub missed_slots: u64,
    /// cardano-node exits at start.
    pub node_exits: u64,
    /// Requests answered per API server.
    pub api_requests: BTreeMap<String, u64>,
}

/// Everything the oracle found.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The measures.
    pub metrics: Metrics,
    /// The forger set over time.
    pub timeline: Timeline,
    /// Every handover, in time order.
    pub handovers: Vec<Handover>,
    /// The dual-forging slots (counted; listed up to a limit).
    pub dual_slots: DualSlots,
    /// The uncovered slots (counted; listed up to a limit).
    pub uncovered_slots: UncoveredSlots,
    /// Where frozen pods' slots are residual.
    pub residual_windows: Vec<ResidualWindow>,
    /// Every failed check: first the dual slots, then expectations in file order.
    pub violations: Vec<Violation>,
}

impl Judgement {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Milliseconds of a duration, saturating (scenario durations are far below the limit).
pub fn ms(d: Duration) -> SimMs {
    u64::try_from(d.as_millis()).unwrap_or(SimMs::MAX)
}

/// Judges a run: computes the measures, the implicit dual-slot check and every expectation.
pub fn judge(scenario: &Scenario, trace: &Trace) -> Judgement {
    let timeline = Timeline::from_trace(trace);
    let freezes = timeline::freezes(trace);
    let leases = Leases::from_trace(trace);
    let slot_ms = ms(scenario.slot_length);
    let windows = leases::residual_windows(&freezes, &leases, ms(scenario.timing.renew_deadline));
    // Every check once: dual, missed and uncovered slots are all judged on them.
    let checks = timeline::leadership_checks(&timeline.intervals, slot_ms);
    let dual_slots = Timeline::dual_slots(&checks, slot_ms, |checks| {
        checks
            .iter()
            .any(|c| leases::residual_for(&windows, &c.pod, c.at_ms))
    });
    let uncovered_slots =
        leases::uncovered_slots(&checks, &leases, scenario.cluster_management, &windows);
    let handovers = timeline.handovers();
    let (from, to) = timeline.default_window();
    let metrics = Metrics {
        handovers: handovers.len() as u64,
        max_overlap_ms: timeline.max_overlap_ms(),
        max_gap_ms: timeline.max_gap(from, to).map_or(0, |(_, length)| length),
        coverage: timeline.coverage(from, to),
        dual_slots: dual_slots.dual,
        residual_dual_slots: dual_slots.residual,
        uncovered_slots: uncovered_slots.uncovered,
        residual_uncovered_slots: uncovered_slots.residual,
        missed_slots: Timeline::missed_slots(&checks, slot_ms, from, to).len() as u64,
        node_exits: timeline::node_exits(trace).len() as u64,
        api_requests: timeline::api_requests(trace),
    };
    let mut violations = dual_slot_violations(&dual_slots);
    violations.extend(uncovered_slot_violations(&uncovered_slots));
    let ctx = expect::Context {
        scenario,
        trace,
        timeline: &timeline,
        handovers: &handovers,
        dual_slots: &dual_slots,
        checks: &checks,
    };
    for (index, e) in scenario.expects.iter().enumerate() {
        if let Some(v) = expect::check(&ctx, index, e) {
            violations.push(v);
        }
    }
    Judgement {
        metrics,
        timeline,
        handovers,
        dual_slots,
        uncovered_slots,
        residual_windows: windows,
        violations,
    }
}

/// The first few non-residual uncovered slots one by one (pod, lease, why), then one more saying
/// how many there are in all.
fn uncovered_slot_violations(slots: &UncoveredSlots) -> Vec<Violation> {
    let mut violations: Vec<Violation> = slots
        .listed
        .iter()
        .filter(|slot| !slot.residual)
        .take(LISTED_UNCOVERED_VIOLATIONS)
        .map(|slot| Violation {
            expectation: None,
            kind: UNCOVERED_FORGING.to_owned(),
            at_ms: Some(slot.start_ms),
            message: format!(
                "uncovered slot {} at {}: pod {} forges but {} {}",
                slot.slot,
                expect::time(slot.start_ms),
                slot.pod,
                slot.uncovered.lease,
                slot.uncovered.why
            ),
        })
        .collect();
    let unlisted = slots.uncovered - violations.len() as u64;
    if unlisted > 0 {
        violations.push(Violation {
            expectation: None,
            kind: UNCOVERED_FORGING.to_owned(),
            at_ms: None,
            message: format!(
                "{} uncovered slots in all (only the first {} are listed)",
                slots.uncovered,
                violations.len()
            ),
        });
    }
    violations
}

/// One violation per listed non-residual dual slot, and one more saying how many were not listed.
fn dual_slot_violations(dual: &DualSlots) -> Vec<Violation> {
    let mut violations: Vec<Violation> = dual
        .listed
        .iter()
        .filter(|slot| !slot.residual)
        .map(|slot| Violation {
            expectation: None,
            kind: DUAL_FORGING.to_owned(),
            at_ms: Some(slot.start_ms),
            message: format!(
                "dual-forging slot {} at {}: pods {}",
                slot.slot,
                expect::time(slot.start_ms),
                expect::pod_list(&slot.pods)
            ),
        })
        .collect();
    let unlisted = dual.dual - violations.len() as u64;
    if unlisted > 0 {
        violations.push(Violation {
            expectation: None,
            kind: DUAL_FORGING.to_owned(),
            at_ms: None,
            message: format!(
                "{unlisted} more dual-forging slots (only the first {MAX_LISTED_DUAL_SLOTS} slots are listed)"
            ),
        });
    }
    violations
}
