//! The cross-region decision's typed inputs in a record, and re-running `decide_cluster` on them.
//!
//! The local loop asks the coordinator for a gate; each coordination round calls
//! [`crate::core::cluster::decide_cluster`] once or twice (before and after its writes). The
//! rounds that change something (a gate opens or shuts, the preferred region changes, a global
//! lease is taken, handed off or released) are recorded under `inputs.cluster` of the record the
//! local loop writes next, each with its previous state, observations, timing and output, so
//! `journal replay` can call `decide_cluster` again and compare. Rounds that only renew are not
//! recorded: each recorded round carries its whole previous state, so none depends on the others.

use serde::{Deserialize, Serialize};

use super::record::JournalRecord;
use super::replay::{CORE_INPUTS_VERSION, ReplayError, digest};
use crate::core::cluster::{
    ClusterAction, ClusterDecision, ClusterObservations, ClusterState, decide_cluster,
};
use crate::core::election::{Gate, LeaseWriteKind};
use crate::core::time::MonoTime;
use crate::core::timing::Timing;

/// The key of the cross-region rounds inside a record's `inputs`.
pub const CLUSTER_KEY: &str = "cluster";

/// At most this many rounds are kept for one record; more (a record long delayed) are counted
/// in `inputs.cluster_dropped` instead, so a record stays bounded.
pub const MAX_ROUNDS_PER_RECORD: usize = 8;

/// What `decide_cluster` was called with, and what it returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterInputs {
    /// Layout version (shared with the local decision's: [`CORE_INPUTS_VERSION`]).
    pub v: u32,
    /// The build that wrote the record.
    pub writer: String,
    /// The timing budget in force.
    pub timing: Timing,
    /// The state before the decision.
    pub prev: ClusterState,
    /// What was observed.
    pub obs: ClusterObservations,
    /// What `decide_cluster` returned.
    pub out: ClusterOutput,
}

/// The comparable part of a [`ClusterDecision`] (the next state by digest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterOutput {
    /// Whether our region may forge.
    pub gate: Gate,
    /// The lease writes asked for, in order.
    pub actions: Vec<ClusterAction>,
    /// The preferred region of the ranking.
    pub preferred: Option<String>,
    /// When the decision asked to be called again at the latest.
    pub wake_by: MonoTime,
    /// Why, for people.
    pub message: String,
    /// Digest of the next state (as [`super::replay::state_digest`]).
    pub next_digest: String,
}

impl ClusterOutput {
    /// The comparable part of `d`.
    pub fn of(d: &ClusterDecision) -> ClusterOutput {
        ClusterOutput {
            gate: d.gate,
            actions: d.actions.clone(),
            preferred: d.ranking.preferred.clone(),
            wake_by: d.wake_by,
            message: d.message.clone(),
            next_digest: digest(&d.next),
        }
    }

    /// Whether a round with this output is worth a record after one that returned `before`:
    /// anything but a renewal of what is already held.
    pub fn changes_anything(&self, before: Option<&ClusterOutput>) -> bool {
        let writes = self.actions.iter().any(|a| {
            !matches!(
                a,
                ClusterAction::Global {
                    write: LeaseWriteKind::Renew
                } | ClusterAction::Presence {
                    write: LeaseWriteKind::Renew
                }
            )
        });
        writes || before.is_none_or(|b| b.gate != self.gate || b.preferred != self.preferred)
    }
}

/// One recorded round re-run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterReplayed {
    /// The record's seq.
    pub seq: u64,
    /// Which round of the record (0-based).
    pub round: usize,
    /// What was recorded.
    pub recorded: ClusterOutput,
    /// What `decide_cluster` returns now.
    pub replayed: ClusterOutput,
    /// The build that wrote the record.
    pub writer: String,
}

impl ClusterReplayed {
    /// Whether the replay gave the recorded decision.
    pub fn identical(&self) -> bool {
        self.recorded == self.replayed
    }

    /// The fields that differ, as `(name, recorded, replayed)`.
    pub fn differences(&self) -> Vec<(&'static str, String, String)> {
        let (a, b) = (&self.recorded, &self.replayed);
        [
            ("gate", json(&a.gate), json(&b.gate)),
            ("cluster_actions", json(&a.actions), json(&b.actions)),
            ("preferred", json(&a.preferred), json(&b.preferred)),
            (
                "wake_by_ms",
                a.wake_by.as_ms().to_string(),
                b.wake_by.as_ms().to_string(),
            ),
            ("next_state", a.next_digest.clone(), b.next_digest.clone()),
            ("message", a.message.clone(), b.message.clone()),
        ]
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .collect()
    }
}

/// Compact JSON, for the side-by-side table.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The recorded rounds of `r`, if it carries any.
pub fn cluster_inputs(r: &JournalRecord) -> Option<Result<Vec<ClusterInputs>, ReplayError>> {
    let rounds = r.inputs.get(CLUSTER_KEY)?;
    let newest = rounds
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("v").and_then(serde_json::Value::as_u64))
        .max()
        .unwrap_or(0);
    if newest > u64::from(CORE_INPUTS_VERSION) {
        return Some(Err(ReplayError::NewerInputs {
            seq: r.seq,
            version: newest,
        }));
    }
    Some(
        Vec::<ClusterInputs>::deserialize(rounds)
            .map_err(|source| ReplayError::InputsUnreadable { seq: r.seq, source }),
    )
}

/// Calls `decide_cluster` again on every recorded round of `r` (under `timing` instead of the
/// recorded one when given). `None` for a record without rounds.
pub fn replay_cluster(
    r: &JournalRecord,
    timing: Option<&Timing>,
) -> Option<Result<Vec<ClusterReplayed>, ReplayError>> {
    let rounds = match cluster_inputs(r)? {
        Ok(rounds) => rounds,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(rounds
        .into_iter()
        .enumerate()
        .map(|(round, i)| {
            let d = decide_cluster(&i.prev, &i.obs, timing.unwrap_or(&i.timing));
            ClusterReplayed {
                seq: r.seq,
                round,
                replayed: ClusterOutput::of(&d),
                recorded: i.out,
                writer: i.writer,
            }
        })
        .collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(gate: Gate, actions: Vec<ClusterAction>, preferred: &str) -> ClusterOutput {
        ClusterOutput {
            gate,
            actions,
            preferred: Some(preferred.to_owned()),
            wake_by: MonoTime(0),
            message: String::new(),
            next_digest: String::new(),
        }
    }

    #[test]
    fn only_rounds_that_change_something_are_worth_a_record() {
        use ClusterAction::{Global, Handoff, Presence};
        use LeaseWriteKind::{Acquire, Release, Renew};
        let renewing = output(Gate::Allow, vec![Global { write: Renew }], "a");
        let cases: Vec<(&str, ClusterOutput, Option<&ClusterOutput>, bool)> = vec![
            ("the first round", renewing.clone(), None, true),
            (
                "a renewal, same gate",
                renewing.clone(),
                Some(&renewing),
                false,
            ),
            (
                "presence renewal",
                output(Gate::Allow, vec![Presence { write: Renew }], "a"),
                Some(&renewing),
                false,
            ),
            (
                "the gate shuts",
                output(
                    Gate::Deny(crate::core::reason::Reason::PolicyDisallows),
                    vec![],
                    "a",
                ),
                Some(&renewing),
                true,
            ),
            (
                "another preferred region",
                output(Gate::Allow, vec![], "b"),
                Some(&renewing),
                true,
            ),
            (
                "a handoff",
                output(Gate::Allow, vec![Handoff { to: "b".into() }], "a"),
                Some(&renewing),
                true,
            ),
            (
                "a release",
                output(Gate::Allow, vec![Global { write: Release }], "a"),
                Some(&renewing),
                true,
            ),
            (
                "an acquisition",
                output(Gate::Allow, vec![Global { write: Acquire }], "a"),
                Some(&renewing),
                true,
            ),
        ];
        for (name, out, before, expected) in cases {
            assert_eq!(out.changes_anything(before), expected, "{name}");
        }
    }
}
