//! The runtime's journal recorder: one record per decision that changes anything (with its inputs,
//! reason and the actions' results), and a heartbeat once a minute otherwise.
//!
//! `forging` in a record is what the pod believed after the decision: the node may hold the real
//! keys (promotion sent, verified, or a demotion not yet confirmed). `journal timeline` flags any
//! instant two pods believed so.

use std::time::Duration;

use super::{Recorder, TickRecord};
use crate::core::election::Forging;
use crate::journal::{ActionRecord, Journal, JournalRecord, JournalWriter, RecordKind};

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

/// A [`Recorder`] writing the journal.
pub struct JournalRecorder<S> {
    sink: S,
    id: Identity,
    started: bool,
    reported_failures: u64,
    on_failures: Option<Box<dyn FnMut(u64)>>,
}

impl<S: JournalSink> JournalRecorder<S> {
    /// Records into `sink` as `id`.
    pub fn new(sink: S, id: Identity) -> Self {
        JournalRecorder {
            sink,
            id,
            started: false,
            reported_failures: 0,
            on_failures: None,
        }
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

impl<S: JournalSink> Recorder for JournalRecorder<S> {
    fn record(&mut self, t: &TickRecord<'_>) {
        let d = t.decision;
        let now_ms = t.observations.now.as_ms();
        let kind = if !self.started {
            RecordKind::Startup
        } else if d.changes_anything(t.previous_role) || t.results.iter().any(|r| !r.ok) {
            RecordKind::Decision
        } else if self.sink.heartbeat_due(now_ms) {
            RecordKind::Heartbeat
        } else {
            return;
        };
        self.started = true;
        let seat = &d.next.seat;
        let inputs = serde_json::json!({
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
        let actions = t
            .results
            .iter()
            .map(|r| ActionRecord {
                action: serde_json::to_value(r.action)
                    .ok()
                    .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| format!("{:?}", r.action)),
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
        let failures = self.sink.failures();
        if failures > self.reported_failures {
            if let Some(f) = self.on_failures.as_mut() {
                f(failures - self.reported_failures);
            }
            self.reported_failures = failures;
        }
    }
}
