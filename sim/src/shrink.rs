//! Shrinking a failing scenario: remove faults while the run still fails the same way, so a chaos
//! finding becomes a regression file a person can read (seed 1150: 367 faults down to 4).
//!
//! "The same way" is the run's *signature*: which checks it violates, each named by its kind and,
//! for an expectation, its index in the file (`dual-forging`, `expect[12] max-gap`). A trial keeps
//! a drop when it still violates every check of the target (by default the original's whole
//! signature) and no implicit check the original did not (a new dual slot is another failure).
//! Expectations stay during the search (indexes stay valid), so a liveness probe's own fault stays
//! exactly when its expectation needs it: without the fault its `max-gap` passes. Other probes'
//! faults may go; their expectations may then fail (a `forger-by` in the region forging never
//! moved to), and those newly failing expectations are dropped from the result, which fails only
//! the target's way.
//!
//! An expectation violated again counts as the same failure only when it fails near the instant it
//! first failed at ([`SAME_FAILURE_WITHIN_MS`]): seed 2928's 1.1 s planned-handover gap otherwise
//! "shrank" to a run whose probes were gone and whose forger was dead for minutes, violating the
//! same `max-gap` at the start of its window, a different failure in a useless file.
//!
//! Repairs are never dropped during the search: a `restart`, `heal`, `api-up`, `health` back to
//! healthy, `node-slow` back to the default or `latency` back to the scenario's own. Dropping one
//! leaves the world broken for good, and a liveness expectation then fails "the same way" for a
//! trivial reason (seed 6604 "shrank" to three shutdowns and no restart). Once the harmful faults
//! are down to what the failure needs, the repairs that no longer repair anything (the run reports
//! them as no-ops) go, each only if the run still fails the same way.
//!
//! Delta debugging in its simplest form: try dropping chunks of faults, halving the chunk size until
//! single faults; a drop is kept when the scenario still fails. Runs are deterministic, so the
//! result is too (same file, same seed, same tick: same shrunk file).

use std::collections::{BTreeMap, BTreeSet};

use crate::oracle::Violation;
use crate::runner::{RunOptions, run};
use crate::scenario::{Fault, FaultAction, Scenario, Timing};
use crate::trace::{EventKind, SimMs, Trace};

/// One violated check: an implicit check's kind (`None` index), or an expectation's index and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Check {
    /// The `[[expect]]` index, or `None` for an implicit check.
    pub expectation: Option<usize>,
    /// The kind (`dual-forging`, `max-gap`...).
    pub kind: String,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expectation {
            Some(i) => write!(f, "expect[{i}] {}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

impl Check {
    /// Whether `--keep TEXT` names this check: its kind (`dual-forging`, `max-gap`: every check
    /// of that kind), its index (`expect[12]`) or both (`expect[12] max-gap`).
    pub fn matches(&self, text: &str) -> bool {
        let text = text.trim();
        text == self.kind
            || text == self.to_string()
            || self
                .expectation
                .is_some_and(|i| text == format!("expect[{i}]"))
    }
}

/// How far from its first instant a violated expectation may fail and still be the same failure:
/// dropping a fault may move the world's phase by some ticks or a retry, not by minutes.
pub const SAME_FAILURE_WITHIN_MS: SimMs = 5_000;

/// The checks a run violates, each with the earliest instant it failed at (if it fails at one).
pub fn instants(violations: &[Violation]) -> BTreeMap<Check, Option<SimMs>> {
    let mut out: BTreeMap<Check, Option<SimMs>> = BTreeMap::new();
    for v in violations {
        let check = Check {
            expectation: v.expectation,
            kind: v.kind.clone(),
        };
        let at = out.entry(check).or_insert(v.at_ms);
        *at = match (*at, v.at_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    out
}

/// Whether a trial that violates `found` fails the way the original (`original`) did: every
/// `target` check violated again (an expectation near its first instant), and no implicit check
/// the original did not violate. Newly violated expectations are allowed: a dropped probe's own.
pub fn same_failure(
    target: &BTreeSet<Check>,
    original: &BTreeMap<Check, Option<SimMs>>,
    found: &BTreeMap<Check, Option<SimMs>>,
) -> bool {
    let again = |c: &Check| match (original.get(c), found.get(c)) {
        (_, None) => false,
        (Some(Some(a)), Some(Some(b))) if c.expectation.is_some() => {
            a.abs_diff(*b) <= SAME_FAILURE_WITHIN_MS
        }
        _ => true,
    };
    target.iter().all(again)
        && found
            .keys()
            .all(|c| original.contains_key(c) || c.expectation.is_some())
}

/// The smallest sub-list of `items` (in their order) for which `fails` still holds, found by
/// dropping ever smaller chunks. `fails(items)` must hold to begin with; it is called at most about
/// `2n` times per chunk size.
pub fn minimize<T: Clone>(items: Vec<T>, mut fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    let mut kept = items;
    let mut chunk = kept.len().div_ceil(2);
    while chunk >= 1 {
        let mut at = 0;
        while at < kept.len() {
            let end = (at + chunk).min(kept.len());
            let trial: Vec<T> = kept[..at].iter().chain(&kept[end..]).cloned().collect();
            if fails(&trial) {
                kept = trial;
            } else {
                at = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    kept
}

/// Why a scenario could not be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The scenario passes: nothing to keep.
    #[error("{0} does not fail: nothing to shrink")]
    DoesNotFail(String),
    /// `--keep` names no violation of the run.
    #[error("{name}: --keep {keep} names none of its violations ({found})")]
    NoSuchViolation {
        /// The scenario.
        name: String,
        /// What was asked for.
        keep: String,
        /// What the run violates.
        found: String,
    },
    /// A run of the simulation failed.
    #[error("the simulation failed: {0}")]
    Simulation(String),
}

/// The result of [`shrink`].
#[derive(Debug)]
pub struct Shrunk {
    /// The scenario with only the faults it needs to still fail the same way.
    pub scenario: Scenario,
    /// Faults before and after.
    pub faults_before: usize,
    /// Runs of the simulation it took.
    pub runs: usize,
    /// The checks every trial had to keep violating (expectation indexes of the original file).
    pub kept: BTreeSet<Check>,
    /// Expectations dropped because they failed only for want of a removed fault.
    pub dropped_expects: usize,
}

/// Removes every fault `scenario` does not need to still fail the same way under `options`:
/// every check of the target still violated (the checks `keep` names, or by default every check
/// the original run violates) and no check violated that the original run did not. Expectations,
/// regions and timing are kept as they are.
pub fn shrink(
    scenario: &Scenario,
    options: &RunOptions,
    keep: &[String],
    mut progress: impl FnMut(usize, usize),
) -> Result<Shrunk, ShrinkError> {
    let checks = |s: &Scenario| -> Result<BTreeMap<Check, Option<SimMs>>, ShrinkError> {
        run(s, options)
            .map(|o| instants(&o.report.violations))
            .map_err(ShrinkError::Simulation)
    };
    let original = checks(scenario)?;
    if original.is_empty() {
        return Err(ShrinkError::DoesNotFail(scenario.name.clone()));
    }
    let target: BTreeSet<Check> = original
        .keys()
        .filter(|c| keep.is_empty() || keep.iter().any(|k| c.matches(k)))
        .cloned()
        .collect();
    if target.is_empty() {
        return Err(ShrinkError::NoSuchViolation {
            name: scenario.name.clone(),
            keep: keep.join(", "),
            found: original
                .keys()
                .map(Check::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let faults_before = scenario.faults.len();
    let mut runs = 1;
    let mut error = None;
    let mut trial = scenario.clone();
    // Faults as (index in the file, fault): the repairs stay in every trial.
    let (repairs, harms): (Vec<_>, Vec<_>) = scenario
        .faults
        .iter()
        .cloned()
        .enumerate()
        .partition(|(_, f)| is_repair(&f.action, &scenario.timing));
    let in_file_order = |a: &[(usize, Fault)], b: &[(usize, Fault)]| -> Vec<(usize, Fault)> {
        let mut all: Vec<_> = a.iter().chain(b).cloned().collect();
        all.sort_by_key(|(i, _)| *i);
        all
    };
    let mut fails = |faults: &[(usize, Fault)], runs: &mut usize| -> bool {
        if error.is_some() {
            return false;
        }
        trial.faults = faults.iter().map(|(_, f)| f.clone()).collect();
        *runs += 1;
        match checks(&trial) {
            Ok(found) => {
                progress(*runs, faults.len());
                same_failure(&target, &original, &found)
            }
            Err(e) => {
                error = Some(e);
                false
            }
        }
    };
    let harms = minimize(harms, |subset| {
        fails(&in_file_order(&repairs, subset), &mut runs)
    });
    // The repairs that repair nothing any more: no-ops in a run of what is left.
    let left = in_file_order(&repairs, &harms);
    let no_ops = {
        let mut last = scenario.clone();
        last.faults = left.iter().map(|(_, f)| f.clone()).collect();
        runs += 1;
        let outcome = run(&last, options).map_err(ShrinkError::Simulation)?;
        no_op_faults(&outcome.trace)
    };
    let mut repairs: Vec<(usize, Fault)> = repairs;
    let mut at = 0;
    while at < repairs.len() {
        let position = left.iter().position(|(i, _)| *i == repairs[at].0);
        if position.is_some_and(|p| no_ops.contains(&p)) {
            let mut without = repairs.clone();
            without.remove(at);
            if fails(&in_file_order(&without, &harms), &mut runs) {
                repairs = without;
                continue;
            }
        }
        at += 1;
    }
    if let Some(e) = error {
        return Err(e);
    }
    let mut shrunk = scenario.clone();
    shrunk.faults = in_file_order(&repairs, &harms)
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    // Expectations that fail only because the faults they were about are gone (a removed probe's
    // `forger-by` in the region it moved to) say nothing about the failure: drop them. The
    // world does not depend on expectations, so the kept checks fail as before.
    let now = checks(&shrunk)?;
    runs += 1;
    let stale: BTreeSet<usize> = now
        .keys()
        .filter(|c| !original.contains_key(c))
        .filter_map(|c| c.expectation)
        .collect();
    shrunk.expects = shrunk
        .expects
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !stale.contains(i))
        .map(|(_, e)| e)
        .collect();
    Ok(Shrunk {
        scenario: shrunk,
        faults_before,
        runs,
        kept: target,
        dropped_expects: stale.len(),
    })
}

/// Whether `action` only undoes a fault: brings a pod or server back, heals a partition, turns
/// health good, or puts the node's or the network's speed back to the scenario's own.
fn is_repair(action: &FaultAction, timing: &Timing) -> bool {
    match action {
        FaultAction::Heal { .. } | FaultAction::Restart { .. } | FaultAction::ApiUp { .. } => true,
        FaultAction::Health { healthy, .. } => *healthy,
        FaultAction::NodeSlow { sighup_delay, .. } => sighup_delay.is_zero(),
        FaultAction::Latency { latency, .. } => *latency == timing.api_latency,
        _ => false,
    }
}

/// Indexes (in the run's fault list) of the faults the run reports as no-ops.
fn no_op_faults(trace: &Trace) -> BTreeSet<usize> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault {
                index,
                applied: false,
                ..
            } => Some(*index),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimize_keeps_exactly_the_items_the_failure_needs() {
        let items: Vec<u32> = (0..40).collect();
        let needs = |s: &[u32]| s.contains(&3) && s.contains(&17) && s.contains(&38);
        assert_eq!(minimize(items, needs), vec![3, 17, 38]);
    }

    #[test]
    fn minimize_keeps_the_order_and_handles_a_failure_that_needs_everything() {
        let items = vec!['a', 'b', 'c'];
        assert_eq!(
            minimize(items.clone(), |s| s.len() == 3),
            vec!['a', 'b', 'c']
        );
        assert_eq!(minimize(items, |_| true), Vec::<char>::new());
    }

    fn check(expectation: Option<usize>, kind: &str) -> Check {
        Check {
            expectation,
            kind: kind.into(),
        }
    }

    /// Rows: what a trial violates (check, instant); whether it fails the original's way. The
    /// original violated `expect[3] max-gap` at 4,004,600 ms and a dual slot at 100,000 ms.
    #[test]
    fn the_same_failure_is_the_same_checks_near_the_same_instants() {
        let gap = check(Some(3), "max-gap");
        let dual = check(None, "dual-forging");
        let original = BTreeMap::from([
            (gap.clone(), Some(4_004_600)),
            (dual.clone(), Some(100_000)),
        ]);
        let target: BTreeSet<Check> = original.keys().cloned().collect();
        let other = check(Some(5), "forger-by");
        type Found = Vec<(Check, Option<SimMs>)>;
        let rows: Vec<(Found, bool)> = vec![
            (
                vec![
                    (gap.clone(), Some(4_004_600)),
                    (dual.clone(), Some(100_000)),
                ],
                true,
            ),
            // A phase moved by a few ticks: still the same failure.
            (
                vec![(gap.clone(), Some(4_004_900)), (dual.clone(), Some(90_000))],
                true,
            ),
            (
                vec![
                    (gap.clone(), Some(4_004_600 - SAME_FAILURE_WITHIN_MS)),
                    (dual.clone(), Some(1)),
                ],
                true,
            ),
            // The gap found minutes away (seed 2928's degenerate shrink): another failure.
            (
                vec![
                    (gap.clone(), Some(4_004_600 + SAME_FAILURE_WITHIN_MS + 1)),
                    (dual.clone(), Some(1)),
                ],
                false,
            ),
            (
                vec![
                    (gap.clone(), Some(3_000_000)),
                    (dual.clone(), Some(100_000)),
                ],
                false,
            ),
            // A target check gone.
            (vec![(gap.clone(), Some(4_004_600))], false),
            // A newly violated expectation is allowed (a dropped probe's own).
            (
                vec![
                    (gap.clone(), Some(4_004_600)),
                    (dual.clone(), Some(100_000)),
                    (other, Some(1)),
                ],
                true,
            ),
            // A new implicit violation is not.
            (
                vec![
                    (gap.clone(), Some(4_004_600)),
                    (dual, Some(100_000)),
                    (check(None, "uncovered"), Some(1)),
                ],
                false,
            ),
        ];
        for (found, same) in rows {
            let found: BTreeMap<Check, Option<SimMs>> = found.into_iter().collect();
            assert_eq!(same_failure(&target, &original, &found), same, "{found:?}");
        }
    }

    /// The earliest instant of a check violated more than once is the one compared.
    #[test]
    fn instants_keep_each_checks_earliest_failure() {
        let v = |at: Option<SimMs>| Violation {
            expectation: Some(1),
            kind: "max-gap".into(),
            at_ms: at,
            message: String::new(),
        };
        let found = instants(&[v(Some(9)), v(None), v(Some(4)), v(Some(7))]);
        assert_eq!(found.get(&check(Some(1), "max-gap")), Some(&Some(4)));
    }

    #[test]
    fn a_passing_scenario_is_refused() {
        let s = Scenario::from_str(
            "name = \"quiet\"\ndescription = \"d\"\nduration = \"1m\"\n[[region]]\nname = \"r\"\npriority = 1\n",
            "quiet",
        )
        .expect("a valid scenario");
        match shrink(&s, &RunOptions::default(), &[], |_, _| {}) {
            Err(ShrinkError::DoesNotFail(name)) => assert_eq!(name, "quiet"),
            other => panic!("{other:?}"),
        }
    }

    /// The region's two pods shut down and come back too late for the expectation: the failure
    /// needs both shutdowns, and the restart is kept although the run fails without it too (a
    /// world broken for good fails any liveness check, a useless file). The unrelated skew goes,
    /// and so does a restart that restarts nobody.
    #[test]
    fn repairs_stay_while_they_repair_and_go_once_they_are_no_ops() {
        let s = Scenario::from_str(
            r#"name = "late-restart"
description = "both pods down, back too late"
duration = "2m"

[[region]]
name = "r"
priority = 1
pods = 2

[[fault]]
at = "20s"
kind = "restart"
target = "region:r"

[[fault]]
at = "40s"
kind = "skew"
target = "pod:r/0"
offset = "1s"

[[fault]]
at = "50s"
kind = "shutdown"
target = "pod:r/0"

[[fault]]
at = "55s"
kind = "shutdown"
target = "pod:r/1"

[[fault]]
at = "1m"
kind = "restart"
target = "region:r"

[[expect]]
kind = "forger-by"
by = "1m3s"
region = "r"
to = "2m"
"#,
            "late-restart",
        )
        .expect("a valid scenario");
        let shrunk = shrink(&s, &RunOptions::default(), &[], |_, _| {}).expect("it fails");
        let kinds: Vec<(&str, u64)> = shrunk
            .scenario
            .faults
            .iter()
            .map(|f| (f.action.kind(), f.at.as_secs()))
            .collect();
        assert_eq!(
            kinds,
            vec![("shutdown", 50), ("shutdown", 55), ("restart", 60)]
        );
    }
}
