//! The core's typed inputs in a decision record, and re-running the pure core on them.
//!
//! Every record the runtime writes carries, under `inputs.core`, exactly what
//! [`crate::core::election::decide`] was called with (the previous [`ElectionState`], the
//! [`Observations`], the [`Timing`] and the identity) and what it returned ([`CoreOutput`]). So
//! `forge-manager journal replay` can call `decide` again on the recorded inputs and compare: a
//! difference means the code replaying differs from the code that wrote the record
//! ([`CoreInputs::writer`] names it).
//!
//! The layout is versioned ([`CORE_INPUTS_VERSION`]); records without `inputs.core` (written
//! before it existed, or synthetic) are counted as "not replayable", never as divergences. The
//! record body is compressed like every body (`codec`), so the copy costs little (figures in
//! docs/performance.md).

use serde::{Deserialize, Serialize};

use super::record::JournalRecord;
use crate::core::election::{Action, Decision, ElectionState, Observations, Role, decide};
use crate::core::reason::Reason;
use crate::core::time::MonoTime;
use crate::core::timing::{Timing, TimingParams, TimingProblem};

/// Version of the `inputs.core` layout this build writes and replays.
pub const CORE_INPUTS_VERSION: u32 = 1;

/// This build's name and version.
pub const WRITER: &str = concat!("forge-manager ", env!("CARGO_PKG_VERSION"));

/// The key of the core's inputs inside a record's `inputs`.
pub const CORE_KEY: &str = "core";

/// What `decide` was called with, and what it returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreInputs {
    /// Layout version ([`CORE_INPUTS_VERSION`] when written by this build).
    pub v: u32,
    /// The build that wrote the record ([`WRITER`]).
    pub writer: String,
    /// The identity the core decided for (the pod name, the lease holder it writes).
    pub identity: String,
    /// The timing budget in force.
    pub timing: Timing,
    /// The state before the decision.
    pub prev: ElectionState,
    /// What was observed.
    pub obs: Observations,
    /// What the core returned.
    pub out: CoreOutput,
}

/// The comparable part of a [`Decision`] (the next state by digest; the message is the record's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreOutput {
    /// Role after the decision.
    pub role: Role,
    /// Why.
    pub reason: Reason,
    /// Whether the pod was entitled to forge.
    pub entitled: bool,
    /// The actions `decide` asked for, in order (the runtime's own additions, such as a key
    /// rotation's `Reprovision`, are not part of it).
    pub actions: Vec<Action>,
    /// When the core asked to be called again at the latest.
    pub wake_by: MonoTime,
    /// Whether a shutdown was complete.
    pub shutdown_complete: bool,
    /// Digest of the next state (FNV-1a 64 of its JSON, hex).
    pub next_digest: String,
}

impl CoreOutput {
    /// The comparable part of `d`.
    pub fn of(d: &Decision) -> CoreOutput {
        CoreOutput {
            role: d.role,
            reason: d.reason,
            entitled: d.entitled,
            actions: d.actions.clone(),
            wake_by: d.wake_by,
            shutdown_complete: d.shutdown_complete,
            next_digest: state_digest(&d.next),
        }
    }
}

/// FNV-1a 64 of the state's JSON, as 16 hex digits: stable across builds as long as the state's
/// serialized form is.
pub fn state_digest(s: &ElectionState) -> String {
    digest(s)
}

/// FNV-1a 64 of a value's JSON, as 16 hex digits.
pub(super) fn digest<T: Serialize>(v: &T) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Why a record's core inputs could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// `inputs.core` is there but does not parse as this build's layout.
    #[error("record {seq}: its core inputs do not parse: {source}")]
    InputsUnreadable {
        /// The record.
        seq: u64,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// `inputs.core` has a newer layout than this build knows.
    #[error(
        "record {seq}: core inputs version {version} is newer than this build replays ({CORE_INPUTS_VERSION}); use a newer forge-manager"
    )]
    NewerInputs {
        /// The record.
        seq: u64,
        /// Its layout version.
        version: u64,
    },
}

/// The core inputs of `r`, if it carries any.
pub fn core_inputs(r: &JournalRecord) -> Option<Result<CoreInputs, ReplayError>> {
    let core = r.inputs.get(CORE_KEY)?;
    let version = core
        .get("v")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if version > u64::from(CORE_INPUTS_VERSION) {
        return Some(Err(ReplayError::NewerInputs {
            seq: r.seq,
            version,
        }));
    }
    Some(
        CoreInputs::deserialize(core)
            .map_err(|source| ReplayError::InputsUnreadable { seq: r.seq, source }),
    )
}

/// One decision re-run.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    /// The record's seq.
    pub seq: u64,
    /// What was recorded.
    pub recorded: CoreOutput,
    /// The recorded sentence.
    pub recorded_message: String,
    /// What `decide` returns now.
    pub replayed: CoreOutput,
    /// The sentence `decide` returns now.
    pub replayed_message: String,
    /// The build that wrote the record.
    pub writer: String,
}

impl Replayed {
    /// Whether the replay gave the recorded decision.
    pub fn identical(&self) -> bool {
        self.recorded == self.replayed && self.recorded_message == self.replayed_message
    }

    /// The fields that differ, as `(name, recorded, replayed)`.
    pub fn differences(&self) -> Vec<(&'static str, String, String)> {
        let (a, b) = (&self.recorded, &self.replayed);
        let mut out = Vec::new();
        let mut cmp = |name: &'static str, x: String, y: String| {
            if x != y {
                out.push((name, x, y));
            }
        };
        cmp("role", a.role.as_str().into(), b.role.as_str().into());
        cmp("reason", a.reason.as_str().into(), b.reason.as_str().into());
        cmp("entitled", a.entitled.to_string(), b.entitled.to_string());
        cmp(
            "actions",
            actions_text(&a.actions),
            actions_text(&b.actions),
        );
        cmp(
            "wake_by_ms",
            a.wake_by.as_ms().to_string(),
            b.wake_by.as_ms().to_string(),
        );
        cmp(
            "shutdown_complete",
            a.shutdown_complete.to_string(),
            b.shutdown_complete.to_string(),
        );
        cmp("next_state", a.next_digest.clone(), b.next_digest.clone());
        cmp(
            "message",
            self.recorded_message.clone(),
            self.replayed_message.clone(),
        );
        out
    }
}

/// The actions as compact JSON (`[{"action":"lease","write":"renew"}]`).
pub fn actions_text(actions: &[Action]) -> String {
    serde_json::to_string(actions).unwrap_or_else(|_| format!("{actions:?}"))
}

/// Calls `decide` on the recorded inputs of `r` (with `timing` instead of the recorded one when
/// given: a what-if) and returns both decisions. `None` for a record without core inputs.
pub fn replay_record(
    r: &JournalRecord,
    timing: Option<&Timing>,
) -> Option<Result<(Replayed, Decision), ReplayError>> {
    let inputs = match core_inputs(r)? {
        Ok(i) => i,
        Err(e) => return Some(Err(e)),
    };
    let t = timing.unwrap_or(&inputs.timing);
    let d = decide(&inputs.prev, &inputs.obs, &inputs.identity, t);
    Some(Ok((
        Replayed {
            seq: r.seq,
            recorded: inputs.out.clone(),
            recorded_message: r.message.clone(),
            replayed: CoreOutput::of(&d),
            replayed_message: d.message.clone(),
            writer: inputs.writer.clone(),
        },
        d,
    )))
}

/// The outcome of replaying a run of records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplaySummary {
    /// Records whose decision was re-run.
    pub replayed: u64,
    /// Records without core inputs (older writers, synthetic records).
    pub not_replayable: u64,
    /// Every record whose replay differed (all of them, in seq order; the CLI shows the first).
    pub divergences: Vec<Replayed>,
    /// Cross-region rounds re-run ([`super::cluster_replay`]).
    pub cluster_replayed: u64,
    /// Every cross-region round whose replay differed, in seq order.
    pub cluster_divergences: Vec<super::cluster_replay::ClusterReplayed>,
}

/// Replays every record of `records` (in the order given).
pub fn replay_all(
    records: &[JournalRecord],
    timing: Option<&Timing>,
) -> Result<ReplaySummary, ReplayError> {
    let mut s = ReplaySummary::default();
    for r in records {
        if let Some(rounds) = super::cluster_replay::replay_cluster(r, timing) {
            for round in rounds? {
                s.cluster_replayed += 1;
                if !round.identical() {
                    s.cluster_divergences.push(round);
                }
            }
        }
        match replay_record(r, timing) {
            // A departing pod's last rounds come in a record of their own, replayed above.
            None if r.inputs.get(super::cluster_replay::CLUSTER_KEY).is_some() => {}
            None => s.not_replayable += 1,
            Some(result) => {
                let (step, _) = result?;
                s.replayed += 1;
                if !step.identical() {
                    s.divergences.push(step);
                }
            }
        }
    }
    Ok(s)
}

/// A timing override for a what-if replay: `lease=20s,renew=12s` (keys `lease`, `renew`,
/// `retry`, `api`, `demotion`, `verify`; durations as `--since` takes them). Applied on top of
/// each record's own timing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimingOverride {
    /// `lease_duration`.
    pub lease: Option<std::time::Duration>,
    /// `renew_deadline`.
    pub renew: Option<std::time::Duration>,
    /// `retry_period`.
    pub retry: Option<std::time::Duration>,
    /// `api_timeout`.
    pub api: Option<std::time::Duration>,
    /// `demotion_time`.
    pub demotion: Option<std::time::Duration>,
    /// `sighup_verify_timeout`.
    pub verify: Option<std::time::Duration>,
}

impl TimingOverride {
    /// Parses `key=duration[,key=duration…]`.
    pub fn parse(text: &str) -> Result<TimingOverride, String> {
        let mut o = TimingOverride::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected key=duration"))?;
            let d = crate::config::duration::parse_duration(value.trim())
                .map_err(|e| format!("{part:?}: expected {e}"))?;
            let slot = match key.trim() {
                "lease" => &mut o.lease,
                "renew" => &mut o.renew,
                "retry" => &mut o.retry,
                "api" => &mut o.api,
                "demotion" => &mut o.demotion,
                "verify" => &mut o.verify,
                other => {
                    return Err(format!(
                        "unknown timing {other:?}; one of lease, renew, retry, api, demotion, verify"
                    ));
                }
            };
            *slot = Some(d);
        }
        Ok(o)
    }

    /// `base` with the overridden fields replaced, checked like any other timing: a what-if the
    /// budget does not cover cannot be replayed (the core would never run on it).
    pub fn apply(&self, base: &Timing) -> Result<Timing, Vec<TimingProblem>> {
        let b = base.params();
        Timing::new(TimingParams {
            lease_duration: self.lease.unwrap_or(b.lease_duration),
            renew_deadline: self.renew.unwrap_or(b.renew_deadline),
            retry_period: self.retry.unwrap_or(b.retry_period),
            api_timeout: self.api.unwrap_or(b.api_timeout),
            demotion_time: self.demotion.unwrap_or(b.demotion_time),
            sighup_verify_timeout: self.verify.unwrap_or(b.sighup_verify_timeout),
            ..b
        })
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The values the decision compared, in words ("lease observed unchanged for 15.2 s ≥
/// lease_duration 15.0 s"), from its inputs and the replayed decision.
pub fn compared_values(i: &CoreInputs, d: &Decision) -> Vec<String> {
    use crate::core::election::Gate;
    let now = i.obs.now;
    let t = &i.timing;
    let mut out = Vec::new();
    let seat = &d.next.seat;
    if let Some(rec) = seat.observer.record() {
        let holder = rec.holder().unwrap_or("nobody");
        if let Some(age) = seat.observer.unchanged_for(now) {
            let cmp = if age >= t.lease_duration() {
                "≥"
            } else {
                "<"
            };
            out.push(format!(
                "lease (holder {holder}, resourceVersion {}) observed unchanged for {} {cmp} lease_duration {}",
                rec.resource_version,
                secs(age),
                secs(t.lease_duration())
            ));
        }
    } else {
        out.push("no lease record seen yet".into());
    }
    match (&seat.hold, &i.prev.seat.hold) {
        (Some(h), _) => {
            let age = now.since(h.last_renew_sent_at);
            let cmp = if age < t.renew_deadline() { "<" } else { "≥" };
            out.push(format!(
                "held: last successful renewal sent {} ago {cmp} renew_deadline {}",
                secs(age),
                secs(t.renew_deadline())
            ));
            if now < h.promotable_at {
                out.push(format!(
                    "promotable only in {} (a lease we created waits lease_duration)",
                    secs(h.promotable_at.since(now))
                ));
            }
        }
        (None, Some(h)) => out.push(format!(
            "hold dropped: the last renewal had been sent {} before (renew_deadline {})",
            secs(now.since(h.last_renew_sent_at)),
            secs(t.renew_deadline())
        )),
        (None, None) => out.push("not holding the lease".into()),
    }
    out.push(match i.obs.eligibility.verdict() {
        Ok(()) => {
            "eligible (node running, socket accepting, metrics readable, credentials valid)".into()
        }
        Err(r) => format!("not eligible: {}", r.as_str()),
    });
    out.push(match i.obs.gate {
        Gate::Allow => "policy gate: allow".into(),
        Gate::Deny(r) => format!("policy gate: deny ({})", r.as_str()),
    });
    out.push(format!(
        "node forging_enabled {}; forging believed {} before, {} after",
        i.obs
            .node
            .forging_enabled
            .map_or("unknown".to_owned(), |b| b.to_string()),
        serde_json::to_string(&i.prev.forging).unwrap_or_default(),
        serde_json::to_string(&d.next.forging).unwrap_or_default()
    ));
    out
}

/// Flips one eligibility fact and returns its new value.
type Flip = fn(&mut crate::core::eligibility::Eligibility) -> bool;

/// Which single input, changed, would have changed the decision: each candidate change of the
/// observations (an eligibility fact flipped, the gate flipped, the node's metrics, no lease
/// news) re-run through `decide`; those that give another role, reason or actions are returned
/// as (what changed, the decision it gives).
pub fn counterfactuals(i: &CoreInputs) -> Vec<(String, CoreOutput)> {
    use crate::core::election::{Gate, LeaseEvent};
    let base = CoreOutput::of(&decide(&i.prev, &i.obs, &i.identity, &i.timing));
    let mut variants: Vec<(String, Observations)> = Vec::new();
    let e = i.obs.eligibility;
    let flips: [(&str, Flip); 5] = [
        ("node_running", |e| {
            e.node_running = !e.node_running;
            e.node_running
        }),
        ("socket_accepting", |e| {
            e.socket_accepting = !e.socket_accepting;
            e.socket_accepting
        }),
        ("metrics_readable", |e| {
            e.metrics_readable = !e.metrics_readable;
            e.metrics_readable
        }),
        ("credentials_valid", |e| {
            e.credentials_valid = !e.credentials_valid;
            e.credentials_valid
        }),
        ("shutting_down", |e| {
            e.shutting_down = !e.shutting_down;
            e.shutting_down
        }),
    ];
    for (name, flip) in flips {
        let mut o = i.obs.clone();
        let mut el = e;
        let now = flip(&mut el);
        o.eligibility = el;
        variants.push((format!("eligibility.{name} had been {now}"), o));
    }
    let mut o = i.obs.clone();
    o.gate = match i.obs.gate {
        Gate::Allow => Gate::Deny(Reason::PolicyDisallows),
        Gate::Deny(_) => Gate::Allow,
    };
    variants.push((
        format!(
            "the policy gate had been {}",
            if o.gate == Gate::Allow {
                "allow"
            } else {
                "deny"
            }
        ),
        o,
    ));
    for f in [Some(true), Some(false), None] {
        if f != i.obs.node.forging_enabled {
            let mut o = i.obs.clone();
            o.node.forging_enabled = f;
            variants.push((
                format!(
                    "the node's forging_enabled had been {}",
                    f.map_or("unreadable".to_owned(), |b| b.to_string())
                ),
                o,
            ));
        }
    }
    if i.obs.lease != LeaseEvent::Nothing {
        let mut o = i.obs.clone();
        o.lease = LeaseEvent::Nothing;
        variants.push(("no lease request had completed".into(), o));
    }
    variants
        .into_iter()
        .filter_map(|(what, obs)| {
            let out = CoreOutput::of(&decide(&i.prev, &obs, &i.identity, &i.timing));
            (out.role != base.role || out.reason != base.reason || out.actions != base.actions)
                .then_some((what, out))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::election::{Gate, LeaseEvent, NodeView};
    use crate::core::eligibility::Eligibility;

    fn record_of(prev: &ElectionState, obs: &Observations, timing: &Timing) -> JournalRecord {
        let d = decide(prev, obs, "bp-0", timing);
        let core = CoreInputs {
            v: CORE_INPUTS_VERSION,
            writer: WRITER.to_owned(),
            identity: "bp-0".into(),
            timing: *timing,
            prev: prev.clone(),
            obs: obs.clone(),
            out: CoreOutput::of(&d),
        };
        let mut r = crate::journal::demo::record(
            "bp-0",
            "eu",
            1_795_600_800_000,
            crate::journal::RecordKind::Decision,
            d.role.as_str(),
            false,
            d.reason,
            &d.message,
        );
        r.inputs = serde_json::json!({ CORE_KEY: core });
        r
    }

    fn first_look() -> Observations {
        Observations {
            now: MonoTime(1_000),
            lease: LeaseEvent::Read(None),
            node: NodeView {
                process: None,
                forging_enabled: None,
                standby_ready: true,
                keys_in_place: true,
            },
            eligibility: Eligibility::all_good(),
            gate: Gate::Allow,
        }
    }

    #[test]
    fn a_recorded_decision_replays_identical_after_a_json_round_trip() {
        let r = record_of(&ElectionState::default(), &first_look(), &Timing::default());
        let text = serde_json::to_string(&r).expect("serialize");
        let back: JournalRecord = serde_json::from_str(&text).expect("parse");
        let (step, _) = replay_record(&back, None)
            .expect("has inputs")
            .expect("replays");
        assert!(step.identical(), "{:?}", step.differences());
    }

    #[test]
    fn a_doctored_recorded_output_is_reported_as_a_divergence_naming_the_field() {
        let mut r = record_of(&ElectionState::default(), &first_look(), &Timing::default());
        r.inputs[CORE_KEY]["out"]["entitled"] = serde_json::Value::Bool(true);
        let s = replay_all(&[r], None).expect("replays");
        assert_eq!(s.replayed, 1);
        assert_eq!(s.divergences.len(), 1);
        let diffs = s.divergences[0].differences();
        assert_eq!(diffs[0].0, "entitled", "{diffs:?}");
    }

    #[test]
    fn a_record_without_core_inputs_is_not_replayable_and_not_a_divergence() {
        let mut r = record_of(&ElectionState::default(), &first_look(), &Timing::default());
        r.inputs = serde_json::json!({"lease": null});
        let s = replay_all(&[r], None).expect("replays");
        assert_eq!((s.replayed, s.not_replayable), (0, 1));
        assert!(s.divergences.is_empty());
    }

    #[test]
    fn newer_core_inputs_are_refused_with_the_version() {
        let mut r = record_of(&ElectionState::default(), &first_look(), &Timing::default());
        r.inputs[CORE_KEY]["v"] = serde_json::json!(99);
        let err = replay_all(&[r], None).expect_err("newer");
        assert!(err.to_string().contains("version 99"), "{err}");
    }

    #[test]
    fn a_timing_override_parses_and_replaces_only_what_it_names() {
        let o = TimingOverride::parse("lease=20s, renew=12s").expect("parse");
        let t = o
            .apply(&Timing::default())
            .expect("20 s lease, 12 s deadline fit the budget");
        assert_eq!(t.lease_duration(), std::time::Duration::from_secs(20));
        assert_eq!(t.renew_deadline(), std::time::Duration::from_secs(12));
        assert_eq!(t.retry_period(), Timing::default().retry_period());
        let broken = TimingOverride::parse("renew=20s").expect("parse");
        let problems = broken.apply(&Timing::default()).err().unwrap_or_default();
        assert!(
            problems.iter().any(|p| p.variable == "RENEW_DEADLINE"),
            "{problems:?}"
        );
        assert!(TimingOverride::parse("lease").is_err());
        assert!(TimingOverride::parse("soon=2s").is_err());
    }

    #[test]
    fn the_counterfactuals_of_a_first_look_name_an_input_that_changes_the_decision() {
        let r = record_of(&ElectionState::default(), &first_look(), &Timing::default());
        let inputs = core_inputs(&r).expect("inputs").expect("parse");
        let what: Vec<String> = counterfactuals(&inputs).into_iter().map(|c| c.0).collect();
        assert!(what.iter().any(|w| w.contains("shutting_down")), "{what:?}");
        let d = decide(&inputs.prev, &inputs.obs, &inputs.identity, &inputs.timing);
        let values = compared_values(&inputs, &d);
        assert!(values.iter().any(|v| v.contains("eligible")), "{values:?}");
    }
}
