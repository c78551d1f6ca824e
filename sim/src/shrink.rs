//! Shrinking a failing scenario: remove faults while the run still fails the same safety check
//! (dual-forging slots, else uncovered slots, else a simulator panic), so a chaos finding becomes
//! a regression file a person can read (seed 1150: 367 faults down to 4).
//!
//! Delta debugging in its simplest form: try dropping chunks of faults, halving the chunk size until
//! single faults; a drop is kept when the scenario still fails. Runs are deterministic, so the
//! result is too (same file, same seed, same tick: same shrunk file).

use crate::runner::{RunOptions, run};
use crate::scenario::Scenario;

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
    /// The scenario has no dual-forging slot, uncovered slot or panic to keep.
    #[error("{0} has no dual-forging slot, uncovered slot or simulator panic: nothing to shrink")]
    DoesNotFail(String),
    /// A run of the simulation failed.
    #[error("the simulation failed: {0}")]
    Simulation(String),
}

/// The safety failure a shrink keeps, the most serious of the original run's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Dual,
    Uncovered,
    Panic,
}

impl Failure {
    fn of(report: &crate::report::Report) -> Option<Failure> {
        [Failure::Dual, Failure::Uncovered, Failure::Panic]
            .into_iter()
            .find(|f| f.holds(report))
    }

    fn holds(self, report: &crate::report::Report) -> bool {
        match self {
            Failure::Dual => report.dual_slots > 0,
            Failure::Uncovered => report.uncovered_slots > 0,
            Failure::Panic => report
                .violations
                .iter()
                .any(|v| v.kind == crate::oracle::SIMULATOR_PANIC),
        }
    }
}

/// The result of [`shrink`].
#[derive(Debug)]
pub struct Shrunk {
    /// The scenario with only the faults it needs to still have dual-forging slots.
    pub scenario: Scenario,
    /// Faults before and after.
    pub faults_before: usize,
    /// Runs of the simulation it took.
    pub runs: usize,
}

/// Removes every fault `scenario` does not need to still have dual-forging slots under `options`.
/// Expectations, regions and timing are kept as they are.
pub fn shrink(
    scenario: &Scenario,
    options: &RunOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Shrunk, ShrinkError> {
    let failure = |s: &Scenario| -> Result<Option<Failure>, ShrinkError> {
        run(s, options)
            .map(|o| Failure::of(&o.report))
            .map_err(ShrinkError::Simulation)
    };
    let Some(kept) = failure(scenario)? else {
        return Err(ShrinkError::DoesNotFail(scenario.name.clone()));
    };
    // The same class of failure, not merely any: a shrunk dual-slot finding stays one.
    let dual = |s: &Scenario| -> Result<bool, ShrinkError> {
        run(s, options)
            .map(|o| kept.holds(&o.report))
            .map_err(ShrinkError::Simulation)
    };
    let faults_before = scenario.faults.len();
    let mut runs = 1;
    let mut error = None;
    let mut trial = scenario.clone();
    let faults = minimize(scenario.faults.clone(), |subset| {
        if error.is_some() {
            return false;
        }
        trial.faults = subset.to_vec();
        runs += 1;
        match dual(&trial) {
            Ok(fails) => {
                progress(runs, subset.len());
                fails
            }
            Err(e) => {
                error = Some(e);
                false
            }
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    let mut shrunk = scenario.clone();
    shrunk.faults = faults;
    Ok(Shrunk {
        scenario: shrunk,
        faults_before,
        runs,
    })
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

    #[test]
    fn a_scenario_without_dual_slots_is_refused() {
        let s = Scenario::from_str(
            "name = \"quiet\"\ndescription = \"d\"\nduration = \"1m\"\n[[region]]\nname = \"r\"\npriority = 1\n",
            "quiet",
        )
        .expect("a valid scenario");
        match shrink(&s, &RunOptions::default(), |_, _| {}) {
            Err(ShrinkError::DoesNotFail(name)) => assert_eq!(name, "quiet"),
            other => panic!("{other:?}"),
        }
    }
}
