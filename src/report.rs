//! What the control loop reports, and to whom: the outcome of each carried-out action, the record
//! of each decision handed to recorders (journal, logs, metrics), and the status shown on
//! `/status`, `/health` and in metrics. It sits below both the runtime that produces these and the
//! metrics that consume them, so neither depends on the other's internals.

use serde::{Deserialize, Serialize};

use crate::core::cluster::{ClusterAction, ClusterDecision, ClusterObservations, ClusterState};
use crate::core::election::{Action, Decision, Forging, Gate, LeaseWriteKind, Observations, Role};
use crate::core::lease::LeaseRecord;
use crate::core::reason::Reason;
use crate::ports::NodeProcess;

/// One carried-out action and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action.
    pub action: Action,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened (fingerprints, versions, errors; never key bytes).
    pub detail: String,
    /// Whether the credential files were written (promote, reprovision, standby) or removed
    /// (demote): all three, atomically per file.
    #[serde(default)]
    pub files_changed: bool,
    /// What happened to the SIGHUP this action sends, if it sends one.
    #[serde(default)]
    pub sighup: SighupOutcome,
}

/// The fate of an action's SIGHUP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SighupOutcome {
    /// The action sends none (or there was no node to send it to).
    #[default]
    NotSent,
    /// Delivered to the node.
    Sent,
    /// Sending failed.
    Failed,
}

/// Which way a SIGHUP turns forging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SighupKind {
    /// Real keys in: a promotion.
    Enable,
    /// Real keys out: a demotion.
    Disable,
}

impl SighupKind {
    /// The metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SighupKind::Enable => "enable",
            SighupKind::Disable => "disable",
        }
    }
}

/// A SIGHUP the node's metrics have just confirmed, and what the node's delay cost in slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SighupConfirmed {
    /// Which way.
    pub sighup: SighupKind,
    /// Part of a planned handover: a demotion the sidecar timed to a slot start (a graceful
    /// shutdown, a policy moving forging elsewhere), or a promotion that ends the slot settle of
    /// a hold taken after a release or a handoff (`Hold::timed_by_settle`). A start-up
    /// promotion, a takeover on expiry or a later promotion on the same hold is not: its SIGHUP
    /// falls anywhere in a slot.
    pub planned: bool,
    /// From the SIGHUP to the metrics read that confirmed it.
    pub after_ms: u64,
    /// Where the SIGHUP and the confirming read fell (`slot S +P ms`), with the chain's slot clock.
    pub sent: Option<String>,
    /// See `sent`.
    pub confirmed: Option<String>,
    /// At most how many slots the node's delay left unchecked (`None`: no slot clock). On a
    /// promotion, the slots that began between the SIGHUP and the confirming read. On a demotion,
    /// the slots between the last one the node was known to check and the first its successor
    /// can check, a slot settle after the release that follows the confirmation
    /// ([`crate::core::slots::SlotClock::late_stop_slots`]).
    pub late_slots: Option<u64>,
}

impl SighupConfirmed {
    /// The slots a late node cost a planned handover (`late_slots`); none counted for an
    /// unplanned SIGHUP, which is not timed within its slot (a prompt node crosses a slot start
    /// when the SIGHUP happens to come just before one) and whose handover waits for a lease to
    /// expire anyway.
    pub fn counted_late_slots(&self) -> u64 {
        if self.planned {
            self.late_slots.unwrap_or(0)
        } else {
            0
        }
    }
}

/// Whether the step from `before` to `after` verified (`Some(true)`) or gave up on (`Some(false)`)
/// a SIGHUP.
pub fn sighup_verdict(before: Forging, after: Forging) -> Option<bool> {
    match (before, after) {
        (Forging::Promoting { .. }, Forging::On) => Some(true),
        (Forging::Demoting { .. } | Forging::Stuck { .. }, Forging::Off) => Some(true),
        // Learned off and promoted again in one step (nothing to settle without a slot clock):
        // the core promotes only a node it knows is off.
        (Forging::Demoting { .. } | Forging::Stuck { .. }, Forging::Promoting { .. }) => Some(true),
        (Forging::Promoting { .. }, Forging::Demoting { .. }) => Some(false),
        (Forging::Demoting { attempt: a, .. }, Forging::Demoting { attempt: b, .. }) if b > a => {
            Some(false)
        }
        (Forging::Demoting { .. }, Forging::Stuck { .. }) => Some(false),
        _ => None,
    }
}

/// What the loop tells its recorders after each decision.
#[derive(Clone, Debug)]
pub struct TickRecord<'a> {
    /// The pod's wall clock (informational).
    pub wall: jiff::Timestamp,
    /// What was observed.
    pub observations: &'a Observations,
    /// What was decided.
    pub decision: &'a Decision,
    /// How the actions went.
    pub results: &'a [ActionResult],
    /// The role before this decision.
    pub previous_role: Role,
    /// The node process, if found.
    pub node: Option<NodeProcess>,
    /// The cross-region decisions taken since the last tick's record, oldest first (empty
    /// without cluster management).
    pub cluster: &'a [ClusterStep],
    /// A SIGHUP this decision found confirmed by the node's metrics.
    pub confirmed: Option<&'a SighupConfirmed>,
}

/// One cross-region decision as the coordinator took it: what `decide_cluster` was called with
/// and what it returned (before the runtime's own adjustments), so the journal can replay it.
#[derive(Clone, Debug)]
pub struct ClusterStep {
    /// The state before the decision.
    pub prev: ClusterState,
    /// What was observed.
    pub obs: ClusterObservations,
    /// What was decided.
    pub decision: ClusterDecision,
}

/// Receives every decision (journal, logs, metrics).
pub trait Recorder {
    /// Called once per decision, after its actions.
    fn record(&mut self, tick: &TickRecord<'_>);
    /// Called with cross-region decisions that no local decision follows: a departing pod's last
    /// round (it hands its region's global lease over, then the process ends).
    fn record_rounds(&mut self, _wall: jiff::Timestamp, _steps: &[ClusterStep]) {}
}

/// Two recorders in one (nest it for more): e.g. metrics and logs, later the journal.
#[derive(Debug, Default)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: Recorder, B: Recorder> Recorder for Tee<A, B> {
    fn record(&mut self, tick: &TickRecord<'_>) {
        self.0.record(tick);
        self.1.record(tick);
    }
    fn record_rounds(&mut self, wall: jiff::Timestamp, steps: &[ClusterStep]) {
        self.0.record_rounds(wall, steps);
        self.1.record_rounds(wall, steps);
    }
}

/// An optional recorder (a journal that could not be opened records nothing).
impl<R: Recorder> Recorder for Option<R> {
    fn record(&mut self, tick: &TickRecord<'_>) {
        if let Some(r) = self.as_mut() {
            r.record(tick);
        }
    }
    fn record_rounds(&mut self, wall: jiff::Timestamp, steps: &[ClusterStep]) {
        if let Some(r) = self.as_mut() {
            r.record_rounds(wall, steps);
        }
    }
}

/// A recorder that does nothing.
#[derive(Debug, Default)]
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn record(&mut self, _tick: &TickRecord<'_>) {}
}

/// Writes one log line per decision that changes anything, and one per cross-region round that
/// opens or shuts the gate or writes more than a renewal (a take-over, a handover, a release).
#[derive(Debug, Default)]
pub struct LogRecorder {
    /// The gate after the last cross-region round seen.
    last_gate: Option<Gate>,
}

impl LogRecorder {
    /// A recorder that has logged nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether round `d` is worth a line: it moves the gate, or writes more than a renewal.
    fn notable(&mut self, d: &ClusterDecision) -> bool {
        let routine = d.actions.iter().all(|a| match a {
            ClusterAction::Global { write } => *write == LeaseWriteKind::Renew,
            ClusterAction::Presence { .. } => true,
            ClusterAction::Handoff { .. } => false,
        });
        let gate_changed = self.last_gate != Some(d.gate);
        self.last_gate = Some(d.gate);
        gate_changed || !routine
    }

    fn log_rounds(&mut self, steps: &[ClusterStep]) {
        for step in steps {
            let d = &step.decision;
            if !self.notable(d) {
                continue;
            }
            let actions = serde_json::to_value(&d.actions).unwrap_or_default();
            let (gate, why) = match d.gate {
                Gate::Allow => ("open", None),
                Gate::Deny(reason) => ("shut", Some(reason.as_str())),
            };
            tracing::info!(
                scope = "cluster",
                gate,
                gate_reason = why,
                preferred = d.ranking.preferred.as_deref(),
                actions = %actions,
                "{}",
                d.message
            );
        }
    }
}

impl Recorder for LogRecorder {
    fn record_rounds(&mut self, _wall: jiff::Timestamp, steps: &[ClusterStep]) {
        self.log_rounds(steps);
    }

    fn record(&mut self, t: &TickRecord<'_>) {
        self.log_rounds(t.cluster);
        if let Some(c) = t.confirmed {
            log_confirmation(c);
        }
        let d = t.decision;
        if !d.changes_anything(t.previous_role) && t.results.iter().all(|r| r.ok) {
            return;
        }
        // The actions as JSON text (`[{"action":"demote","sighup":true,"result":"ok"}]`), the
        // same shape as the decision's actions in the journal, plus each one's result.
        let actions: Vec<serde_json::Value> = t
            .results
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r.action).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.insert("result".into(), (if r.ok { "ok" } else { "failed" }).into());
                }
                v
            })
            .collect();
        tracing::info!(
            role = d.role.as_str(),
            reason = d.reason.as_str(),
            entitled = d.entitled,
            actions = %serde_json::Value::from(actions),
            "{}",
            d.message
        );
        for r in t.results.iter().filter(|r| !r.ok) {
            tracing::warn!(action = r.action.name(), "{}", r.detail);
        }
    }
}

/// One line per confirmed SIGHUP: a warning when the node's delay cost slots.
fn log_confirmation(c: &SighupConfirmed) {
    let (sent, confirmed) = (c.sent.as_deref(), c.confirmed.as_deref());
    let late = c.counted_late_slots();
    if late > 0 {
        tracing::warn!(
            sighup = c.sighup.as_str(),
            planned = c.planned,
            after_ms = c.after_ms,
            sent,
            confirmed,
            late_slots = late,
            "the node confirmed the SIGHUP {} ms after it was sent: {}",
            c.after_ms,
            match c.sighup {
                SighupKind::Enable => format!("at most {late} slot(s) went unchecked"),
                SighupKind::Disable => {
                    format!("the successor's first slot comes {late} slot(s) later than planned")
                }
            }
        );
    } else {
        tracing::info!(
            sighup = c.sighup.as_str(),
            planned = c.planned,
            after_ms = c.after_ms,
            sent,
            confirmed,
            "the node confirmed the SIGHUP {} ms after it was sent",
            c.after_ms
        );
    }
}

/// The loop's state as shown on `/status`, `/health` and in metrics; shared with the HTTP server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Status {
    /// Role after the last decision.
    pub role: Option<Role>,
    /// Reason of the last decision.
    pub reason: Option<Reason>,
    /// Sentence of the last decision.
    pub message: String,
    /// Whether the pod may forge under the safety rule.
    pub entitled: bool,
    /// What we believe the node does.
    pub forging: Option<Forging>,
    /// The last lease record seen.
    pub lease: Option<LeaseRecord>,
    /// How long that record has been seen unchanged, in ms.
    pub lease_unchanged_ms: Option<u64>,
    /// When the loop last completed a decision (monotonic ms): `/health` fails when this is old.
    pub last_decision_mono_ms: u64,
    /// Decisions made since start.
    pub decisions: u64,
    /// The standby set is in place (the node can boot): `/startup-status`.
    pub standby_ready: bool,
    /// The node process.
    pub node: Option<NodeProcess>,
    /// Whether the node's socket accepted a connection at the last look.
    pub socket_accepting: bool,
    /// The node's `forging_enabled` at the last look.
    pub node_forging_enabled: Option<bool>,
    /// Fingerprint of the real credential set, when readable.
    pub real_fingerprint: Option<String>,
    /// Why the real credentials are not usable, if they are not.
    pub credentials_problem: Option<String>,
    /// The last failed action, for operators.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::ClusterState;
    use crate::core::policy::Ranking;
    use crate::core::time::MonoTime;

    fn round(gate: Gate, actions: Vec<ClusterAction>) -> ClusterDecision {
        ClusterDecision {
            next: ClusterState::default(),
            gate,
            actions,
            ranking: Ranking {
                effective: Default::default(),
                candidates: Vec::new(),
                preferred: None,
            },
            message: String::new(),
            wake_by: MonoTime(0),
        }
    }

    /// A round is logged when it opens or shuts the gate or writes more than a renewal (a
    /// take-over, a handover, a release); renewals on an unchanged gate, once a retry period for
    /// hours, are not.
    #[test]
    fn only_rounds_that_move_the_gate_or_the_lease_are_logged() {
        let renew = ClusterAction::Global {
            write: LeaseWriteKind::Renew,
        };
        let presence = ClusterAction::Presence {
            write: LeaseWriteKind::Renew,
        };
        let shut = Gate::Deny(Reason::PolicyDisallows);
        let mut log = LogRecorder::new();
        let cases = [
            (
                round(Gate::Allow, vec![renew.clone()]),
                true,
                "the first round",
            ),
            (
                round(Gate::Allow, vec![renew.clone(), presence]),
                false,
                "a renewal",
            ),
            (round(shut, vec![renew.clone()]), true, "the gate shuts"),
            (
                round(shut, vec![ClusterAction::Handoff { to: "b".into() }]),
                true,
                "a handover",
            ),
            (
                round(
                    shut,
                    vec![ClusterAction::Global {
                        write: LeaseWriteKind::Acquire,
                    }],
                ),
                true,
                "a take-over",
            ),
            (round(shut, Vec::new()), false, "nothing new"),
        ];
        for (d, logged, what) in cases {
            assert_eq!(log.notable(&d), logged, "{what}");
        }
    }
}
