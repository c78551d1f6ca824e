//! Lease coverage and the residual rule (scenarios/README.md: what forging means, and the expectations): the
//! history of every regional and global lease as the API servers accepted it, whether a forging
//! node is covered by its leases at a slot's start, the fencing deadlines of frozen pods, and the
//! windows after a thaw in which that pod's dual or uncovered slots are residual.
//!
//! Everything is judged on the API servers' own clocks (the instants of the trace's
//! `LeaseWritten`/`LeaseDeleted` events), never on a pod's.

use std::collections::BTreeMap;

use super::expect::time;
use super::timeline::{Check, Freeze};
use crate::trace::{EventKind, LeaseRole, PodId, SimMs, Trace};

/// At most this many uncovered slots are listed one by one (all are counted).
pub const MAX_LISTED_UNCOVERED_SLOTS: usize = 1_000;

/// One accepted change of a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    at_ms: SimMs,
    server: String,
    /// `None`: deleted.
    written: Option<Written>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Written {
    holder: String,
    holder_pod: Option<PodId>,
    duration_ms: SimMs,
}

impl Written {
    /// Whether this write names `who` as holder: the pod for a region's lease, the pod's region
    /// for the global lease.
    fn names(&self, role: &LeaseRole, who: &PodId) -> bool {
        match role {
            LeaseRole::Local(_) => self.holder_pod.as_ref() == Some(who),
            LeaseRole::Global => self.holder == who.region,
        }
    }
}

/// Every lease's accepted changes, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leases {
    changes: BTreeMap<LeaseRole, Vec<Change>>,
}

/// Why a forging pod was not covered at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncovered {
    /// The lease that did not cover it.
    pub lease: LeaseRole,
    /// What was wrong with it, in words (`names bp-a-1`, `last written naming it 16s before, ...`).
    pub why: String,
}

impl Leases {
    /// The lease history of a trace.
    pub fn from_trace(trace: &Trace) -> Leases {
        let mut changes: BTreeMap<LeaseRole, Vec<Change>> = BTreeMap::new();
        for e in &trace.events {
            let (lease, change) = match &e.kind {
                EventKind::LeaseWritten {
                    server,
                    lease,
                    holder,
                    holder_pod,
                    duration_s,
                    ..
                } => (
                    lease,
                    Change {
                        at_ms: e.at_ms,
                        server: server.clone(),
                        written: Some(Written {
                            holder: holder.clone(),
                            holder_pod: holder_pod.clone(),
                            duration_ms: duration_s.saturating_mul(1_000),
                        }),
                    },
                ),
                EventKind::LeaseDeleted { server, lease, .. } => (
                    lease,
                    Change {
                        at_ms: e.at_ms,
                        server: server.clone(),
                        written: None,
                    },
                ),
                _ => continue,
            };
            changes.entry(lease.clone()).or_default().push(change);
        }
        Leases { changes }
    }

    fn of(&self, role: &LeaseRole) -> &[Change] {
        self.changes.get(role).map_or(&[], Vec::as_slice)
    }

    /// The lease's last change at or before `t` (the record as it stands at `t`).
    fn at(&self, role: &LeaseRole, t: SimMs) -> Option<&Change> {
        let changes = self.of(role);
        let i = changes.partition_point(|c| c.at_ms <= t);
        i.checked_sub(1).and_then(|i| changes.get(i))
    }

    /// The last write strictly before `before` that names `who`.
    fn last_naming(&self, role: &LeaseRole, who: &PodId, before: SimMs) -> Option<SimMs> {
        let changes = self.of(role);
        let i = changes.partition_point(|c| c.at_ms < before);
        changes[..i]
            .iter()
            .rev()
            .find(|c| c.written.as_ref().is_some_and(|w| w.names(role, who)))
            .map(|c| c.at_ms)
    }

    /// Whether `role`'s record at `t` names `who` and was written less than its duration before.
    /// Every write sets the holder, so when the record names `who` its last write is the last one
    /// naming `who` (for a region's lease: the pod's own create, acquire or renewal; for the
    /// global lease: a renewal by a pod of the region, or a handoff to it).
    fn check(&self, role: &LeaseRole, who: &PodId, t: SimMs) -> Option<Uncovered> {
        let fail = |why: String| {
            Some(Uncovered {
                lease: role.clone(),
                why,
            })
        };
        let Some(change) = self.at(role, t) else {
            return fail("was never written".to_owned());
        };
        let Some(w) = &change.written else {
            return fail(format!(
                "was deleted at {} (api {})",
                time(change.at_ms),
                change.server
            ));
        };
        if !w.names(role, who) {
            let holder = if w.holder.is_empty() {
                "nobody (released)".to_owned()
            } else {
                w.holder.clone()
            };
            return fail(format!("names {holder} (api {})", change.server));
        }
        let age = t - change.at_ms;
        (age >= w.duration_ms).then(|| Uncovered {
            lease: role.clone(),
            why: format!(
                "was last written naming it {} before (api {}, at {}), not younger than its leaseDurationSeconds {}s",
                time(age),
                change.server,
                time(change.at_ms),
                w.duration_ms / 1_000
            ),
        })
    }

    /// Why `pod` forging at `t` is not covered (its region's lease, then with cluster management
    /// the global lease), or `None` when it is.
    pub fn uncovered(&self, pod: &PodId, t: SimMs, cluster_management: bool) -> Option<Uncovered> {
        self.check(&LeaseRole::Local(pod.region.clone()), pod, t)
            .or_else(|| {
                cluster_management
                    .then(|| self.check(&LeaseRole::Global, pod, t))
                    .flatten()
            })
    }

    /// The leases `pod` held when a freeze began at `t`: its region's lease if it wrote it (create,
    /// acquire, renewal) before `t`, and the global lease if that named its region while the pod
    /// held its region's lease (the region's leader is the pod that renews the global lease for it).
    ///
    /// A holder that has not released its lease holds it until its own fencing deadline, whatever
    /// the record says meanwhile: a record deleted by an operator (and perhaps re-created by
    /// another pod, which then waits a lease duration) does not end the holder's tenure, and the
    /// holder's deadline is the one a freeze can span. (Another pod can take the record by expiry
    /// only after that deadline has passed, so the deadline still tells the two cases apart.)
    fn held_at(&self, pod: &PodId, t: SimMs) -> Vec<LeaseRole> {
        let local = LeaseRole::Local(pod.region.clone());
        if self.last_naming(&local, pod, t.saturating_add(1)).is_none() {
            return Vec::new();
        }
        let mut held = vec![local];
        let global_names_region = self
            .at(&LeaseRole::Global, t)
            .and_then(|c| c.written.as_ref())
            .is_some_and(|w| w.names(&LeaseRole::Global, pod));
        if global_names_region {
            held.push(LeaseRole::Global);
        }
        held
    }
}

/// A window after a thaw in which the frozen pod's dual and uncovered slots are residual: its
/// whole-pod freeze spanned one of its own fencing deadlines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidualWindow {
    /// The frozen pod.
    pub pod: PodId,
    /// The thaw; slots beginning in `[thaw_ms, thaw_ms + renew_deadline]` are residual.
    pub thaw_ms: SimMs,
    /// Inclusive end of the window.
    pub until_ms: SimMs,
    /// The spanned fencing deadline.
    pub deadline_ms: SimMs,
    /// The lease it belongs to.
    pub lease: LeaseRole,
}

/// The residual windows of a run: for each freeze of pod P from `f0` to `f1`, P's fencing
/// deadline of each lease it held at `f0` is `renew_deadline` after the last accepted write
/// naming it before the thaw (a renewal in flight when the freeze began still counts); the
/// freeze spans it when `f0 < deadline < f1`.
pub fn residual_windows(
    freezes: &[Freeze],
    leases: &Leases,
    renew_deadline_ms: SimMs,
) -> Vec<ResidualWindow> {
    let mut windows = Vec::new();
    for f in freezes {
        let thaw_ms = f.start_ms.saturating_add(f.for_ms);
        for lease in leases.held_at(&f.pod, f.start_ms) {
            let Some(renewed) = leases.last_naming(&lease, &f.pod, thaw_ms) else {
                continue;
            };
            let deadline_ms = renewed.saturating_add(renew_deadline_ms);
            if f.start_ms < deadline_ms && deadline_ms < thaw_ms {
                windows.push(ResidualWindow {
                    pod: f.pod.clone(),
                    thaw_ms,
                    until_ms: thaw_ms.saturating_add(renew_deadline_ms),
                    deadline_ms,
                    lease,
                });
                // One spanned deadline is enough for this freeze.
                break;
            }
        }
    }
    windows
}

/// Whether a slot of `pod` beginning at `t` is residual.
pub fn residual_for(windows: &[ResidualWindow], pod: &PodId, t: SimMs) -> bool {
    windows
        .iter()
        .any(|w| &w.pod == pod && t >= w.thaw_ms && t <= w.until_ms)
}

/// One slot in which a node forged without its leases' cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UncoveredSlot {
    /// Slot number.
    pub slot: u64,
    /// The check's instant: the slot's start, or when forging began part-way through it.
    pub start_ms: SimMs,
    /// The forging pod.
    pub pod: PodId,
    /// Which lease failed it, and why.
    pub uncovered: Uncovered,
    /// Within a residual window of `pod`.
    pub residual: bool,
}

/// Uncovered slots: counted exactly, listed up to [`MAX_LISTED_UNCOVERED_SLOTS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UncoveredSlots {
    /// Not residual.
    pub uncovered: u64,
    /// Residual.
    pub residual: u64,
    /// The first of either kind, in (pod interval, time) order.
    pub listed: Vec<UncoveredSlot>,
}

/// Every leadership check ([`super::timeline::leadership_checks`]) at which the checking node is
/// not covered, judged at the check's instant: a slot start, or the moment forging began part-way
/// through a slot (its node checks that slot at once).
pub fn uncovered_slots(
    checks: &[Check],
    leases: &Leases,
    cluster_management: bool,
    windows: &[ResidualWindow],
) -> UncoveredSlots {
    let mut out = UncoveredSlots::default();
    for check in checks {
        if let Some(uncovered) = leases.uncovered(&check.pod, check.at_ms, cluster_management) {
            let residual = residual_for(windows, &check.pod, check.at_ms);
            if residual {
                out.residual += 1;
            } else {
                out.uncovered += 1;
            }
            if out.listed.len() < MAX_LISTED_UNCOVERED_SLOTS {
                out.listed.push(UncoveredSlot {
                    slot: check.slot,
                    start_ms: check.at_ms,
                    pod: check.pod.clone(),
                    uncovered,
                    residual,
                });
            }
        }
    }
    out.listed.sort_by_key(|s| (s.start_ms, s.pod.clone()));
    out
}
