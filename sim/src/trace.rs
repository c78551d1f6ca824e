//! The event trace of one simulated run: what the world records and the oracle judges.
//!
//! The world (`crate::world`) appends events in time order as they happen; the oracle
//! (`crate::oracle`) computes dual-forging slots, gaps, handovers, coverage and the rest from it and
//! checks the scenario's expectations. Keeping this the only link between the two means the oracle
//! can be tested on hand-written traces, and the trace hash covers everything that happened.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Simulated time since the start of the run, in milliseconds.
pub type SimMs = u64;

/// One pod of a region's StatefulSet: `REGION/N`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodId {
    /// Region name.
    pub region: String,
    /// 0-based ordinal.
    pub index: usize,
}

impl PodId {
    /// The pod `index` of `region`.
    pub fn new(region: &str, index: usize) -> Self {
        PodId {
            region: region.to_owned(),
            index,
        }
    }
}

impl fmt::Display for PodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.region, self.index)
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The pod's node began to forge (real credentials loaded, consensus running, not frozen).
    ForgingStarted {
        /// Which pod.
        pod: PodId,
    },
    /// The pod's node stopped forging (demoted, crashed, restarted, or frozen).
    ForgingStopped {
        /// Which pod.
        pod: PodId,
    },
    /// The whole pod was frozen (`freeze` fault) from this instant for `for_ms`.
    Frozen {
        /// Which pod.
        pod: PodId,
        /// How long.
        for_ms: SimMs,
    },
    /// A fault or operator action of the scenario was applied (`index` in file order), or was a
    /// no-op (`applied == false`, e.g. `forger` when nobody forges).
    Fault {
        /// Index of the `[[fault]]` in the file (or in the chaos schedule).
        index: usize,
        /// The fault's kind, as in the file (`crash`, `partition`, ...).
        fault: String,
        /// The resolved target(s), human-readable.
        target: String,
        /// Whether it did anything.
        applied: bool,
    },
    /// A cardano-node exited at start because of its credential files (a crash loop step).
    NodeExit {
        /// Which pod.
        pod: PodId,
        /// Why (missing file, invalid file, VRF key world-readable, SIGHUP before the handler).
        reason: String,
    },
    /// The pod's target credential files all exist (true) or not all (false) from now on.
    Credentials {
        /// Which pod.
        pod: PodId,
        /// All three target files exist.
        present: bool,
    },
    /// A sidecar's decision that changed anything (role, action).
    Decision {
        /// Which pod.
        pod: PodId,
        /// Role after it.
        role: String,
        /// Machine-readable reason.
        reason: String,
    },
    /// An API server answered a request.
    ApiRequest {
        /// `global`, or a region's name.
        server: String,
    },
    /// An API server accepted a write (create, acquire, renew, release, handoff) of a region's
    /// lease or of the global lease, at this instant of its own clock: what lease coverage and
    /// the residual rule's fencing deadlines are judged by.
    LeaseWritten {
        /// `global`, or a region's name.
        server: String,
        /// Which lease, by its role.
        lease: LeaseRole,
        /// The object's name.
        name: String,
        /// `spec.holderIdentity` as written (empty: released): a pod name for a region's lease,
        /// a region name for the global lease.
        holder: String,
        /// For a region's lease, the pod of this pool that `holder` names.
        holder_pod: Option<PodId>,
        /// `spec.leaseDurationSeconds` as written (0 when absent).
        duration_s: u64,
    },
    /// An API server deleted the lease (`delete-lease`): no coverage until it is written again.
    LeaseDeleted {
        /// `global`, or a region's name.
        server: String,
        /// Which lease, by its role.
        lease: LeaseRole,
        /// The object's name.
        name: String,
    },
}

/// The role of a lease in a pool: the one the oracle's coverage rule reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseRole {
    /// A region's own lease (its local leader), by region name.
    Local(String),
    /// The cross-region lease (holder: the region that may forge).
    Global,
}

impl fmt::Display for LeaseRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseRole::Local(region) => write!(f, "the lease of region {region}"),
            LeaseRole::Global => f.write_str("the global lease"),
        }
    }
}

/// One event at one simulated instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at_ms: SimMs,
    /// What.
    pub kind: EventKind,
}

/// The whole record of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Events in time order (ties in the order they happened).
    pub events: Vec<Event>,
    /// When the run ended.
    pub end_ms: SimMs,
}

impl Trace {
    /// Adds an event in time order (ties: in the order they were added). Events mostly come in
    /// order, but not always: within one turmoil tick each host runs with its own clock, so a host
    /// stepped later in the tick can record an instant before one an earlier host recorded. Such
    /// an event goes back past the later ones (a few at most, all from the same tick).
    pub fn push(&mut self, at_ms: SimMs, kind: EventKind) {
        let at = self
            .events
            .iter()
            .rposition(|e| e.at_ms <= at_ms)
            .map_or(0, |i| i + 1);
        self.events.insert(at, Event { at_ms, kind });
    }

    /// A hex SHA-256 of every event (its JSON form) and the end time: equal for equal runs.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for e in &self.events {
            h.update(e.at_ms.to_le_bytes());
            // Serialising a plain enum of strings and integers cannot fail.
            h.update(serde_json::to_vec(&e.kind).unwrap_or_default());
        }
        h.update(self.end_ms.to_le_bytes());
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_traces_hash_equal_and_any_difference_changes_the_hash() {
        let mut a = Trace::default();
        a.push(
            1_000,
            EventKind::ForgingStarted {
                pod: PodId::new("r", 0),
            },
        );
        a.end_ms = 5_000;
        let b = a.clone();
        assert_eq!(a.hash(), b.hash());
        let mut c = a.clone();
        c.events[0].at_ms = 1_001;
        assert_ne!(a.hash(), c.hash());
        let mut d = a.clone();
        d.end_ms = 5_001;
        assert_ne!(a.hash(), d.hash());
    }

    #[test]
    fn an_event_recorded_late_within_a_tick_goes_back_into_time_order() {
        let started = |i| EventKind::ForgingStarted {
            pod: PodId::new("r", i),
        };
        let mut t = Trace::default();
        for (at, i) in [
            (1_000, 0),
            (1_070, 1),
            (1_070, 2),
            (1_050, 3),
            (1_050, 4),
            (900, 5),
        ] {
            t.push(at, started(i));
        }
        let order: Vec<(SimMs, EventKind)> =
            t.events.iter().map(|e| (e.at_ms, e.kind.clone())).collect();
        assert_eq!(
            order,
            vec![
                (900, started(5)),
                (1_000, started(0)),
                (1_050, started(3)),
                (1_050, started(4)),
                (1_070, started(1)),
                (1_070, started(2)),
            ],
            "sorted by time, ties in the order added"
        );
    }
}
