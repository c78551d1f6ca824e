//! The runtime's journal recorder: one record per decision that changes anything (with its inputs,
//! reason and the actions' results), and a heartbeat once a minute otherwise.
//!
//! `forging` in a record is what the pod believed after the decision: the node may hold the real
//! keys (promotion sent, verified, or a demotion not yet confirmed). `journal timeline` flags any
//! instant two pods believed so.

use std::time::Duration;

use super::{Recorder, TickRecord};
use crate::core::election::{Action, ElectionState, Forging, LeaseEvent, LeaseWriteKind};
use crate::core::timing::Timing;
use crate::journal::cluster_replay::{
    CLUSTER_KEY, ClusterInputs, ClusterOutput, MAX_ROUNDS_PER_RECORD,
};
use crate::journal::replay::{CORE_INPUTS_VERSION, CORE_KEY, CoreInputs, CoreOutput};
use crate::journal::{ActionRecord, Journal, JournalRecord, JournalWriter, RecordKind, Renewal};
use crate::ports::ServerClockSample;
use crate::report::ClusterStep;

/// `inputs.sighup_confirmed` of a record whose decision found a SIGHUP confirmed
/// ([`crate::report::SighupConfirmed`]).
pub const SIGHUP_CONFIRMED_KEY: &str = "sighup_confirmed";

/// How often a heartbeat record is written when nothing changes.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);

/// Where records go.
pub trait JournalSink {
    /// Takes one record; never blocks the loop for long; failures are counted, not raised.
    fn put(&mut self, record: JournalRecord);
    /// Whether a heartbeat is due at `now_mono_ms`.
    fn heartbeat_due(&self, now_mono_ms: u64) -> bool;
    /// Records that could not be written so far.
    fn failures(&self) -> u64;
    /// Takes one lease renewal's outcome (compact: not a record); failures are counted.
    fn renewal(&mut self, renewal: Renewal);
}

/// A journal written synchronously (the simulator; tests).
pub struct DirectSink {
    journal: Journal,
    failures: u64,
}

impl DirectSink {
    /// Writes into `journal`.
    pub fn new(journal: Journal) -> Self {
        DirectSink {
            journal,
            failures: 0,
        }
    }
}

impl JournalSink for DirectSink {
    fn put(&mut self, record: JournalRecord) {
        if self.journal.append(record).is_err() {
            self.failures += 1;
        }
    }
    fn heartbeat_due(&self, now_mono_ms: u64) -> bool {
        self.journal.heartbeat_due(now_mono_ms, HEARTBEAT_EVERY)
    }
    fn failures(&self) -> u64 {
        self.failures
    }
    fn renewal(&mut self, renewal: Renewal) {
        if self.journal.append_renewals(&[renewal]).is_err() {
            self.failures += 1;
        }
    }
}

impl JournalSink for JournalWriter {
    fn put(&mut self, record: JournalRecord) {
        // Queued for the writer thread; a full queue drops and counts (never delays a demotion).
        let _ = self.record(record);
    }
    fn heartbeat_due(&self, now_mono_ms: u64) -> bool {
        JournalWriter::heartbeat_due(self, now_mono_ms, HEARTBEAT_EVERY)
    }
    fn failures(&self) -> u64 {
        self.dropped()
    }
    fn renewal(&mut self, renewal: Renewal) {
        // Queued like a record; a full queue drops and counts.
        let _ = JournalWriter::renewal(self, renewal);
    }
}

/// Who writes: the labels of every record.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// Pool id.
    pub pool: String,
    /// Network name.
    pub network: String,
    /// Region.
    pub region: String,
    /// Pod name.
    pub pod: String,
}

/// What the core decides with besides its observations: recorded so a decision can be replayed.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    /// The identity `decide` is called with (the lease holder name).
    pub identity: String,
    /// The timing budget in force.
    pub timing: Timing,
    /// The build (and core) that decides: [`crate::journal::replay::WRITER`] in the sidecar; the
    /// simulator's canary names its broken core here, so a replay shows whose decisions differ.
    pub writer: String,
}

/// A [`Recorder`] writing the journal.
pub struct JournalRecorder<S> {
    sink: S,
    id: Identity,
    started: bool,
    reported_failures: u64,
    on_failures: Option<Box<dyn FnMut(u64)>>,
    /// With it, every record carries the core's inputs (`inputs.core`, see `journal::replay`).
    core: Option<CoreSettings>,
    /// The state the next decision starts from: the last decision's `next` (the runtime changes
    /// its election state only through `decide`), the default state before the first.
    state: ElectionState,
    /// The API server's clock as last sampled (records carry it: `inputs.server_clock`).
    server_clock: Option<ServerClockFn>,
    /// The last cross-region decision's output: a round is recorded only when it differs.
    last_cluster: Option<ClusterOutput>,
}

/// Reads the latest sample of the API server's clock.
pub type ServerClockFn = Box<dyn Fn() -> Option<ServerClockSample>>;

impl<S: JournalSink> JournalRecorder<S> {
    /// Records into `sink` as `id`.
    pub fn new(sink: S, id: Identity) -> Self {
        JournalRecorder {
            sink,
            id,
            started: false,
            reported_failures: 0,
            on_failures: None,
            core: None,
            state: ElectionState::default(),
            server_clock: None,
            last_cluster: None,
        }
    }

    /// Records the latest sample of the API server's clock (`Date` header, second resolution, and
    /// when it arrived on the pod's monotonic clock) in every record: `journal timeline` aligns
    /// the pods' wall clocks with it.
    pub fn with_server_clock(mut self, read: ServerClockFn) -> Self {
        self.server_clock = Some(read);
        self
    }

    /// Records the core's typed inputs in every record (`journal replay` re-runs them).
    pub fn with_core(mut self, core: CoreSettings) -> Self {
        self.core = Some(core);
        self
    }

    /// Calls `f` with the number of new write failures whenever records could not be written
    /// (the sidecar counts them in `cardano_journal_write_failures_total`).
    pub fn on_failures(mut self, f: impl FnMut(u64) + 'static) -> Self {
        self.on_failures = Some(Box::new(f));
        self
    }

    /// Records that could not be written.
    pub fn failures(&self) -> u64 {
        self.sink.failures()
    }
}

/// Whether a pod in this state may have the real keys loaded (the journal's `forging`).
pub fn believed_forging(f: Forging) -> bool {
    matches!(
        f,
        Forging::On | Forging::Promoting { .. } | Forging::Demoting { .. } | Forging::Stuck { .. }
    )
}

impl<S: JournalSink> JournalRecorder<S> {
    /// The cross-region rounds of this tick worth recording (those that change anything, see
    /// [`ClusterOutput::changes_anything`]), at most [`MAX_ROUNDS_PER_RECORD`] of the newest, and
    /// how many were left out over that bound. Recorded only with the core's inputs (the writer
    /// and timing come from them).
    /// Tells `on_failures` of records that could not be written since the last call.
    fn report_failures(&mut self) {
        let failures = self.sink.failures();
        if failures > self.reported_failures {
            if let Some(f) = self.on_failures.as_mut() {
                f(failures - self.reported_failures);
            }
            self.reported_failures = failures;
        }
    }

    fn cluster_rounds(&mut self, steps: &[ClusterStep]) -> (Vec<ClusterInputs>, usize) {
        let mut rounds = Vec::new();
        for step in steps {
            let out = ClusterOutput::of(&step.decision);
            if !out.changes_anything(self.last_cluster.as_ref()) {
                self.last_cluster = Some(out);
                continue;
            }
            self.last_cluster = Some(out.clone());
            if let Some(core) = &self.core {
                rounds.push(ClusterInputs {
                    v: CORE_INPUTS_VERSION,
                    writer: core.writer.clone(),
                    timing: core.timing,
                    prev: step.prev.clone(),
                    obs: step.obs.clone(),
                    out,
                });
            }
        }
        let dropped = rounds.len().saturating_sub(MAX_ROUNDS_PER_RECORD);
        rounds.drain(..dropped);
        (rounds, dropped)
    }
}

/// `inputs.cluster` (and `inputs.cluster_dropped`) of a record.
fn insert_rounds(inputs: &mut serde_json::Value, rounds: &[ClusterInputs], dropped: usize) {
    if let Some(map) = inputs.as_object_mut()
        && !rounds.is_empty()
    {
        map.insert(
            CLUSTER_KEY.to_owned(),
            serde_json::to_value(rounds).unwrap_or_default(),
        );
        if dropped > 0 {
            map.insert("cluster_dropped".to_owned(), dropped.into());
        }
    }
}

impl<S: JournalSink> Recorder for JournalRecorder<S> {
    /// A departing pod's last rounds: a record of their own, with the pod's role and belief as
    /// its last decision left them (no local decision follows).
    fn record_rounds(&mut self, wall: jiff::Timestamp, steps: &[ClusterStep]) {
        let (rounds, dropped) = self.cluster_rounds(steps);
        let Some(last) = rounds.last() else {
            return;
        };
        let mut inputs = serde_json::json!({ "forging_state": self.state.forging });
        insert_rounds(&mut inputs, &rounds, dropped);
        self.sink.put(JournalRecord {
            seq: 0,
            mono_ms: last.obs.now.as_ms(),
            wall: wall.to_string(),
            pool: self.id.pool.clone(),
            network: self.id.network.clone(),
            region: self.id.region.clone(),
            pod: self.id.pod.clone(),
            node_pid: self.state.node.map(|p| p.pid),
            kind: RecordKind::Decision,
            role: self.state.role.as_str().into(),
            forging: believed_forging(self.state.forging),
            reason: crate::core::reason::Reason::ShuttingDown,
            message: format!("leaving the region: {}", last.out.message),
            inputs,
            actions: Vec::new(),
        });
        self.report_failures();
    }

    fn record(&mut self, t: &TickRecord<'_>) {
        let d = t.decision;
        let now_ms = t.observations.now.as_ms();
        // Every decision moves the state on, journaled or not.
        let prev = std::mem::replace(&mut self.state, d.next.clone());
        // Every lease write's answer (a renewal, or the acquisition a hold starts from) is kept
        // compactly: the fencing deadline after the last record depends on it.
        let renewal = match &t.observations.lease {
            LeaseEvent::Wrote {
                write: LeaseWriteKind::Renew | LeaseWriteKind::Acquire | LeaseWriteKind::Create,
                sent_at,
                ..
            } => Some((sent_at.as_ms(), true)),
            LeaseEvent::WriteFailed {
                write: LeaseWriteKind::Renew,
                ..
            } => Some((now_ms, false)),
            _ => None,
        };
        if let Some((sent_mono_ms, ok)) = renewal {
            self.sink.renewal(Renewal {
                wall_ms: t.wall.as_millisecond(),
                mono_ms: now_ms,
                sent_mono_ms,
                ok,
            });
        }
        let (rounds, dropped) = self.cluster_rounds(t.cluster);
        let kind = if !self.started {
            RecordKind::Startup
        } else if d.changes_anything(t.previous_role)
            || t.results.iter().any(|r| !r.ok)
            || !rounds.is_empty()
            || t.confirmed.is_some()
        {
            RecordKind::Decision
        } else if self.sink.heartbeat_due(now_ms) {
            RecordKind::Heartbeat
        } else {
            return;
        };
        self.started = true;
        let seat = &d.next.seat;
        let mut inputs = serde_json::json!({
            "lease_event": t.observations.lease,
            "lease": seat.observer.record(),
            "lease_unchanged_ms": seat.observer.unchanged_for(t.observations.now).map(|u| u.as_millis() as u64),
            "holding": seat.hold.as_ref().map(|h| serde_json::json!({
                "resource_version": h.record.resource_version,
                "last_renew_sent_at_ms": h.last_renew_sent_at.as_ms(),
                "promotable_at_ms": h.promotable_at.as_ms(),
            })),
            "node": t.observations.node,
            "eligibility": t.observations.eligibility,
            "gate": t.observations.gate,
            "forging_state": d.next.forging,
            "entitled": d.entitled,
        });
        if let Some(sample) = self.server_clock.as_ref().and_then(|read| read())
            && let Some(map) = inputs.as_object_mut()
        {
            map.insert(
                "server_clock".to_owned(),
                serde_json::json!({
                    "date_ms": sample.server_time.as_millisecond(),
                    "received_mono_ms": sample.received_at.as_ms(),
                }),
            );
        }
        insert_rounds(&mut inputs, &rounds, dropped);
        if let (Some(map), Some(c)) = (inputs.as_object_mut(), t.confirmed) {
            map.insert(
                SIGHUP_CONFIRMED_KEY.to_owned(),
                serde_json::to_value(c).unwrap_or_default(),
            );
        }
        if let Some(core) = &self.core {
            let mut out = CoreOutput::of(d);
            // A key rotation's `Reprovision` is the runtime's addition after `decide`.
            if out.actions.last() == Some(&Action::Reprovision) {
                out.actions.pop();
            }
            let core = CoreInputs {
                v: CORE_INPUTS_VERSION,
                writer: core.writer.clone(),
                identity: core.identity.clone(),
                timing: core.timing,
                prev,
                obs: t.observations.clone(),
                out,
            };
            if let (Some(map), Ok(v)) = (inputs.as_object_mut(), serde_json::to_value(&core)) {
                map.insert(CORE_KEY.to_owned(), v);
            }
        }
        let actions = t
            .results
            .iter()
            .map(|r| ActionRecord {
                action: r.action.name().to_owned(),
                result: if r.ok { "ok".into() } else { "failed".into() },
                detail: r.detail.clone(),
            })
            .collect();
        self.sink.put(JournalRecord {
            seq: 0,
            mono_ms: now_ms,
            wall: t.wall.to_string(),
            pool: self.id.pool.clone(),
            network: self.id.network.clone(),
            region: self.id.region.clone(),
            pod: self.id.pod.clone(),
            node_pid: t.node.map(|p| p.pid),
            kind,
            role: d.role.as_str().into(),
            forging: believed_forging(d.next.forging),
            reason: d.reason,
            message: d.message.clone(),
            inputs,
            actions,
        });
        self.report_failures();
    }
}
