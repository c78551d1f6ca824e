//! The local election state machine and `decide`: state and observations in, decision out.
//!
//! One call of [`decide`] takes what the runtime observed this tick (the result of the last lease
//! request, the node's process, socket and metrics, eligibility, whether policy allows forging) and
//! returns the next state, the actions to carry out, the role, and a reason. It never performs I/O.
//!
//! The safety rule (docs/safety.md §1) lives here:
//!
//! - **acquire, then promote**: `Promote` is only returned while we hold the lease, our last
//!   successful renewal was sent less than `renew_deadline` ago, and `promotable_at` has passed (a
//!   lease we had to *create* becomes promotable only one `lease_duration` later);
//! - **demote, then release**: `ReleaseLease` is only returned once the node is verifiably not
//!   forging (metrics say so, or the process we promoted is gone);
//! - **self-fencing**: once the last successful renewal is `renew_deadline` old we drop the lease and
//!   demote, whatever else happens;
//! - expiry of someone else's lease is judged by [`LeaseObserver`] on our own monotonic clock.
//!
//! The same [`Seat`] logic serves the global lease (issue: cluster-wide forging), with the region
//! as the identity.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::eligibility::Eligibility;
use super::lease::{ApiFailure, LeaseObserver, LeaseRecord, LeaseState};
use super::reason::Reason;
use super::time::MonoTime;
use super::timing::Timing;

/// How many demotion attempts (remove, SIGHUP, verify) before we report the demotion as stuck.
pub const MAX_DEMOTION_ATTEMPTS: u32 = 3;

/// How often the node's metrics are read while a SIGHUP awaits verification.
pub const VERIFY_POLL: Duration = Duration::from_millis(100);

/// After a stuck demotion, how long before one more attempt (never a SIGHUP loop).
pub const STUCK_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What happened to the lease since the last decision: a read, or the result of our own write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseEvent {
    /// No lease request completed since the last decision.
    Nothing,
    /// A read returned this record (`None`: the lease does not exist).
    Read(Option<LeaseRecord>),
    /// A read failed.
    ReadFailed(ApiFailure),
    /// Our write succeeded. `sent_at` is when the request was *sent*: the server applied it at or
    /// after that instant, so counting the renew deadline from it is conservative.
    Wrote {
        /// What we asked for.
        write: LeaseWriteKind,
        /// The record as the server returned it.
        record: LeaseRecord,
        /// When the request was sent, on our monotonic clock.
        sent_at: MonoTime,
    },
    /// Our write failed.
    WriteFailed {
        /// What we asked for.
        write: LeaseWriteKind,
        /// Why it failed.
        failure: ApiFailure,
    },
}

/// The kinds of lease write the core asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseWriteKind {
    /// Create the lease (it did not exist) with us as holder.
    Create,
    /// Take over a free, expired or (after our own restart) our own record.
    Acquire,
    /// Renew our hold.
    Renew,
    /// Clear the holder after a verified demotion (a handoff: successors need not wait).
    Release,
    /// Remove our finalizer from a hold an operator deleted, once the node is verifiably off
    /// under it: the deletion completes, and the lease is created again.
    Finalize,
}

/// What the node's metrics and process told us this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// The running cardano-node, identified by pid and start time.
    pub process: Option<ProcessId>,
    /// `forging_enabled` from its metrics; `None` when unreadable or absent.
    pub forging_enabled: Option<bool>,
    /// The credential directory holds the standby set (decoys, no real keys), so a (re)starting
    /// node boots and no real key lies on a pod that is not forging.
    pub standby_ready: bool,
}

/// A process identity that survives pid reuse: pid and start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// Process id.
    pub pid: u32,
    /// Start time (clock ticks since boot).
    pub start_ticks: u64,
}

/// Whether cluster policy lets this region forge. With cluster management off: always `Allow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gate {
    /// This region may forge (policy allows and, with cluster management, it holds the global lease
    /// under the renewal rule).
    Allow,
    /// It may not, with the reason.
    Deny(Reason),
}

/// Everything one decision looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// Now, on this pod's monotonic clock.
    pub now: MonoTime,
    /// The lease request that completed since the last decision.
    pub lease: LeaseEvent,
    /// The node as seen this tick.
    pub node: NodeView,
    /// The eligibility facts.
    pub eligibility: Eligibility,
    /// Cluster policy and global lease.
    pub gate: Gate,
}

/// What we believe the node does with the real keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Forging {
    /// Not forging: verified by its metrics, or a node process that started after our last
    /// promotion (a node starts non-producing) and has had no SIGHUP from us since.
    Off,
    /// We do not know (the sidecar just started while a node was running): treated as forging.
    Unknown,
    /// Real keys written and SIGHUP sent at `since`; waiting for the metrics to confirm.
    Promoting {
        /// When the SIGHUP was sent.
        since: MonoTime,
    },
    /// The metrics confirm the node forges.
    On,
    /// Real keys removed (and SIGHUP sent if the node could take one) at `since`; waiting for the
    /// metrics to confirm.
    Demoting {
        /// When the demotion was carried out.
        since: MonoTime,
        /// Which attempt this is (1-based).
        attempt: u32,
    },
    /// Every demotion attempt went unverified. The node may still forge.
    Stuck {
        /// When the last attempt was made.
        since: MonoTime,
    },
}

impl Forging {
    /// Whether the node might be forging with the real keys (anything but a verified `Off`).
    pub fn maybe_on(self) -> bool {
        !matches!(self, Forging::Off)
    }
}

/// Our hold on a lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The record as our last successful write left it (the base of the next write).
    pub record: LeaseRecord,
    /// When the last successful write (acquire or renewal) was sent.
    pub last_renew_sent_at: MonoTime,
    /// From when we may promote: at once for a free, expired or own lease; one lease duration after
    /// we created a lease that did not exist.
    pub promotable_at: MonoTime,
}

/// One seat in one election: observer of the lease, and our hold if we have one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// Observed-time expiry of the lease record.
    pub observer: LeaseObserver,
    /// Our hold, if any.
    pub hold: Option<Hold>,
    /// When we last fenced ourselves (for reporting).
    pub fenced_at: Option<MonoTime>,
    /// The last lease request failed as unreachable (for reasons and metrics).
    pub api_unreachable: bool,
    /// The last answer said the lease does not exist (as opposed to: not read yet).
    pub absent_seen: bool,
    /// A write of ours met a 409: someone else wrote the lease. Until a read resolves it we neither
    /// write again nor promote (we may keep forging on our hold until the deadline or that read).
    pub conflict: bool,
    /// Whether a record naming us that we did not write in this process (a handoff to our region)
    /// is promotable at once. True for the global seat (handoffs arrive that way); false for the
    /// local one, where such a record is our previous incarnation's, which may have been waiting.
    pub trusts_own_record: bool,
    /// After we finalized the deletion of our own hold with the node verifiably off: from when a
    /// lease we create next may be promoted (that hold's own promotable instant). Nobody else
    /// can have forged under the deleted record, so the new one needs no wait of a lease
    /// duration; anything else seen meanwhile forgets it.
    #[serde(default)]
    pub recreate_from: Option<MonoTime>,
}

/// Why a seat lost its hold in this step, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldLost {
    /// Another holder wrote the lease.
    Lost,
    /// The renewal deadline passed.
    Fenced,
}

/// How long a request started at `now` may take when its answer is needed by `answer_by` (no
/// deadline: the plain API timeout). At least 50 ms, so a request past its deadline still fails
/// fast instead of not being tried; the caller fences on the deadline regardless.
pub fn request_budget(answer_by: Option<MonoTime>, now: MonoTime, timing: &Timing) -> Duration {
    match answer_by {
        None => timing.api_timeout(),
        Some(by) => std::cmp::min(
            timing.api_timeout(),
            std::cmp::max(by.since(now), Duration::from_millis(50)),
        ),
    }
}

impl Seat {
    /// Whether we hold the lease under the renewal rule at `now`.
    pub fn holds(&self, now: MonoTime, timing: &Timing) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|h| now.since(h.last_renew_sent_at) < timing.renew_deadline())
            || (broken!(NoSelfFencing) && self.hold.is_some())
    }

    /// Whether we may forge on this seat at `now`: held under the renewal rule and promotable.
    pub fn may_promote(&self, now: MonoTime, timing: &Timing) -> bool {
        self.holds(now, timing) && self.hold.as_ref().is_some_and(|h| now >= h.promotable_at)
    }

    /// Whether a node that is not forging may *start* now: [`Seat::may_promote`] and no unresolved
    /// conflict (a forging holder keeps forging through a 409 until a read or its deadline).
    pub fn may_start(&self, now: MonoTime, timing: &Timing) -> bool {
        self.may_promote(now, timing) && !self.conflict
    }

    /// Whether an operator deleted the record we hold (our finalizer keeps it): the node must
    /// step down, and the lease be created again.
    pub fn deleting(&self) -> bool {
        self.hold.as_ref().is_some_and(|h| h.record.terminating)
    }

    /// Whether the lease must be read before anything else (no hold, or an unresolved conflict).
    pub fn needs_read(&self) -> bool {
        self.hold.is_none() || self.conflict
    }

    /// The instant our hold fences itself, if we hold.
    pub fn deadline(&self, timing: &Timing) -> Option<MonoTime> {
        // The canary: a core without self-fencing has no renew deadline anywhere (nor the request
        // budgets and the promotion check derived from it).
        if broken!(NoSelfFencing) {
            return None;
        }
        self.hold
            .as_ref()
            .map(|h| h.last_renew_sent_at + timing.renew_deadline())
    }

    /// The instant an answer must be in so that, if it is bad, the node can still be demoted before
    /// this seat fences itself: the renew deadline minus the demotion time.
    pub fn answer_by(&self, timing: &Timing) -> Option<MonoTime> {
        self.deadline(timing).map(|d| d - timing.demotion_time())
    }

    /// How long a lease request started at `now` may take: never past the renew deadline minus the
    /// time a demotion needs, so a hung request cannot delay fencing.
    pub fn request_budget(&self, now: MonoTime, timing: &Timing) -> Duration {
        request_budget(self.answer_by(timing), now, timing)
    }

    /// Applies a lease event for `identity` and then the renewal deadline. Returns how the hold was
    /// lost in this step, if it was.
    pub fn apply(
        &mut self,
        event: &LeaseEvent,
        identity: &str,
        now: MonoTime,
        timing: &Timing,
    ) -> Option<HoldLost> {
        let mut lost = None;
        match event {
            LeaseEvent::Nothing => {}
            LeaseEvent::Read(record) => {
                self.api_unreachable = false;
                self.conflict = false;
                self.absent_seen = record.is_none();
                if record.as_ref().is_some_and(|r| !r.is_held_by(identity)) {
                    self.recreate_from = None;
                }
                self.observer.observe(record.as_ref(), now);
                match (record, self.hold.as_mut()) {
                    (Some(r), Some(h)) if r.is_held_by(identity) => {
                        // Still ours: take the newer version as the base of the next write, but a
                        // read proves nothing about renewal, so the deadline stays.
                        h.record = r.clone();
                    }
                    (Some(_), Some(_)) => {
                        self.hold = None;
                        lost = Some(HoldLost::Lost);
                    }
                    // Deleted under us: keep the hold until the deadline; the next step re-creates
                    // the lease, and a successor that creates it first waits a full lease duration.
                    (None, _) | (_, None) => {}
                }
            }
            LeaseEvent::ReadFailed(failure) => {
                self.api_unreachable =
                    matches!(failure, ApiFailure::Unreachable | ApiFailure::Server);
            }
            LeaseEvent::Wrote {
                write: LeaseWriteKind::Finalize,
                ..
            } => {
                // The deletion completed: the object is gone. We create it again, at once
                // promotable if this hold was (our node is verifiably off under it).
                self.api_unreachable = false;
                self.conflict = false;
                self.recreate_from = self.hold.take().map(|h| h.promotable_at);
                self.observer.observe(None, now);
                self.absent_seen = true;
            }
            LeaseEvent::Wrote {
                write,
                record,
                sent_at,
            } => {
                self.api_unreachable = false;
                self.absent_seen = false;
                self.conflict = false;
                // An update that changed nothing keeps its resourceVersion (Kubernetes skips no-op
                // writes): observers see no change, so it must not count as a renewal either.
                let base_rv = match write {
                    LeaseWriteKind::Renew | LeaseWriteKind::Release | LeaseWriteKind::Finalize => {
                        self.hold
                            .as_ref()
                            .map(|h| h.record.resource_version.clone())
                    }
                    LeaseWriteKind::Acquire => {
                        self.observer.record().map(|r| r.resource_version.clone())
                    }
                    LeaseWriteKind::Create => None,
                };
                let no_op = base_rv.as_deref() == Some(record.resource_version.as_str());
                // Whether the record we took named us already (our previous incarnation's, or
                // for the global seat another pod of our region's), whether it was created rather
                // than taken over (no transition yet), and since when we have seen that tenure.
                let base = self.observer.record();
                let base_was_ours = *write == LeaseWriteKind::Acquire
                    && base.is_some_and(|r| r.is_held_by(identity));
                let base_created = base.is_some_and(|r| r.lease_transitions == 0);
                let tenure_since = self.observer.tenure_since();
                self.observer.observe(Some(record), now);
                if no_op && *write != LeaseWriteKind::Release {
                    // Neither renewed nor acquired: the deadline keeps counting.
                } else if *write == LeaseWriteKind::Release || !record.is_held_by(identity) {
                    self.hold = None;
                } else {
                    let promotable_at = match (write, self.hold.as_ref()) {
                        // Renewing, or re-creating a lease deleted under us: unchanged.
                        (LeaseWriteKind::Renew | LeaseWriteKind::Create, Some(h)) => {
                            h.promotable_at
                        }
                        // A lease that did not exist: its last holder may still forge.
                        (LeaseWriteKind::Create, None) if broken!(PromoteOnNewLease) => *sent_at,
                        // Re-created after we finalized the deletion of our own hold.
                        (LeaseWriteKind::Create, None) if self.recreate_from.is_some() => self
                            .recreate_from
                            .take()
                            .map_or(*sent_at, |at| at.max(*sent_at)),
                        (LeaseWriteKind::Create, None) => {
                            *sent_at + record.effective_duration(timing.lease_duration())
                        }
                        // Our own record written by a previous incarnation: it may have been
                        // waiting out a lease it created, so wait a lease duration (unless the
                        // seat trusts such records: global handoffs).
                        (LeaseWriteKind::Acquire, None)
                            if base_was_ours && !self.trusts_own_record =>
                        {
                            *sent_at + record.effective_duration(timing.lease_duration())
                        }
                        // A record naming us that another pod of ours *created* (a handoff or a
                        // takeover counts a transition; a create does not): its creator was
                        // waiting out a lease that had not existed, whose last holder may still
                        // forge. Wait as long, counted from when we first saw that tenure (no
                        // earlier than its creation), so a local leader change does not cut the
                        // wait short. A tenure we have watched for a lease duration is settled.
                        (LeaseWriteKind::Acquire, None) if base_was_ours && base_created => {
                            tenure_since.unwrap_or(*sent_at)
                                + record.effective_duration(timing.lease_duration())
                        }
                        // Free (released after a verified demotion by an entitled holder), or
                        // expired (its holder fenced itself).
                        (LeaseWriteKind::Acquire | LeaseWriteKind::Renew, _) => *sent_at,
                        (LeaseWriteKind::Release | LeaseWriteKind::Finalize, _) => *sent_at,
                    };
                    self.hold = Some(Hold {
                        record: record.clone(),
                        last_renew_sent_at: *sent_at,
                        promotable_at,
                    });
                }
            }
            LeaseEvent::WriteFailed { write, failure } => {
                self.api_unreachable =
                    matches!(failure, ApiFailure::Unreachable | ApiFailure::Server);
                // A renewal or release answered 404: the lease was deleted under us.
                self.absent_seen = *failure == ApiFailure::NotFound;
                if *write == LeaseWriteKind::Create {
                    self.recreate_from = None;
                }
                if matches!(write, LeaseWriteKind::Release | LeaseWriteKind::Finalize) {
                    // A release (or handoff) without a good answer may still have been applied:
                    // the lease may name nobody, or the region we handed it to, and a release is
                    // taken at once. So this hold never entitles anything again; if the release
                    // was not applied, the lease lapses by observation like any unrenewed lease.
                    // (Chaos seed 1150: a timed-out release, the node ready again 50 ms later,
                    // a promotion on the kept hold beside the pod that took the released lease.)
                    self.hold = None;
                }
                if *failure == ApiFailure::Conflict {
                    // Someone else wrote it: our view is stale. Forget the record so the next step
                    // reads it again; the hold (if any) stands until that read or the deadline,
                    // but it no longer entitles a promotion.
                    self.observer.reset();
                    self.conflict = true;
                }
            }
        }
        if let Some(d) = self.deadline(timing)
            && now >= d
            && !broken!(NoSelfFencing)
        {
            self.hold = None;
            self.fenced_at = Some(now);
            lost = Some(HoldLost::Fenced);
        }
        lost
    }

    /// The lease write to attempt now, if any. `want` says whether we want to hold the lease;
    /// `may_release` whether a release is allowed (the node is verifiably not forging).
    pub fn next_write(
        &self,
        identity: &str,
        want: bool,
        may_release: bool,
        now: MonoTime,
        timing: &Timing,
    ) -> Option<LeaseWriteKind> {
        if self.conflict {
            // Read first: the next step's observation resolves whose lease this is.
            return None;
        }
        match (&self.hold, want) {
            // Deleted under us: re-create it (keeping our promotability if we win the race; a pod
            // that creates it first waits a full lease duration before it promotes).
            (Some(_), true) if self.absent_seen => Some(LeaseWriteKind::Create),
            (Some(_), false) if self.absent_seen => None,
            // Deleted by an operator, kept by our finalizer: keep renewing (the record still
            // covers the node) until the node is verifiably off, then let the deletion complete.
            // (Until then the arms below renew it as any hold.)
            (Some(_), _) if may_release && self.deleting() => Some(LeaseWriteKind::Finalize),
            (Some(h), true) => {
                // Renew once per retry period (the runtime's tick); half a period guards against a
                // second renewal in the follow-up decisions of one tick.
                (now.since(h.last_renew_sent_at) >= timing.retry_period() / 2)
                    .then_some(LeaseWriteKind::Renew)
            }
            // A released lease is promotable at once for whoever takes it, which is only true if we
            // were entitled ourselves: a hold still waiting out a lease it created lapses instead.
            (Some(h), false) => {
                (may_release && now >= h.promotable_at).then_some(LeaseWriteKind::Release)
            }
            (None, false) => None,
            (None, true) => match self.observer.state(identity, timing.lease_duration(), now) {
                LeaseState::Absent if self.absent_seen => Some(LeaseWriteKind::Create),
                LeaseState::Free | LeaseState::Expired | LeaseState::HeldByMe => {
                    Some(LeaseWriteKind::Acquire)
                }
                LeaseState::HeldByOther if broken!(WallClockExpiry) => {
                    Some(LeaseWriteKind::Acquire)
                }
                LeaseState::Absent | LeaseState::HeldByOther => None,
            },
        }
    }
}

/// The role this pod plays, as reported in metrics, status and the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not holding the lease; node not forging.
    Candidate,
    /// Holding (or taking) the lease, not forging yet: waiting for a new lease to age, for policy,
    /// or for the promotion to be confirmed.
    Acquiring,
    /// Holding the lease; the node forges (or policy keeps it a standby leader).
    Leader,
    /// Taking the node out of forging.
    Demoting,
    /// Demotion verified; handing the lease over.
    Releasing,
    /// The renewal deadline passed: we dropped the lease and demoted.
    Fenced,
}

impl Role {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Acquiring => "acquiring",
            Role::Leader => "leader",
            Role::Demoting => "demoting",
            Role::Releasing => "releasing",
            Role::Fenced => "fenced",
        }
    }
}

/// The actions a decision asks the runtime to carry out, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// A lease write.
    Lease {
        /// Which write.
        write: LeaseWriteKind,
    },
    /// Validate and write the real credentials atomically, then SIGHUP the node once.
    Promote,
    /// Remove the real credentials; SIGHUP the node once if `sighup` (its handler is installed).
    Demote {
        /// Whether the node can take a SIGHUP (a SIGHUP before its handler exists kills it).
        sighup: bool,
    },
    /// Put the standby credential set in place (decoys) so a (re)starting node can boot. No SIGHUP.
    Standby,
    /// Key rotation on a verified forger: write the new (validated) real set atomically, then
    /// SIGHUP the node once so it loads it. Only while entitled, like `Promote`.
    Reprovision,
}

/// The persistent state of one pod's election, carried from decision to decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionState {
    /// Our seat in the local election.
    pub seat: Seat,
    /// What we believe about the node's forging.
    pub forging: Forging,
    /// The node process of the last tick.
    pub node: Option<ProcessId>,
    /// Whether that process's socket has accepted a connection (its SIGHUP handler is installed).
    pub node_ready: bool,
    /// Whether the node has been observed at least once by this sidecar process.
    pub node_observed: bool,
    /// The role of the last decision (to report transitions).
    pub role: Role,
}

impl Default for ElectionState {
    fn default() -> Self {
        ElectionState {
            seat: Seat::default(),
            // The sidecar may start next to a node that a previous incarnation promoted.
            forging: Forging::Unknown,
            node: None,
            node_ready: false,
            node_observed: false,
            role: Role::Candidate,
        }
    }
}

/// The outcome of one decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The state to carry into the next decision.
    pub next: ElectionState,
    /// The role after this decision.
    pub role: Role,
    /// What to do now, in order.
    pub actions: Vec<Action>,
    /// Why, machine-readable.
    pub reason: Reason,
    /// Why, for people.
    pub message: String,
    /// Whether the pod may forge under the safety rule right now (lease held and promotable,
    /// eligible, policy allows).
    pub entitled: bool,
    /// Latest instant the runtime must decide again (a renewal deadline or a verification timeout),
    /// even if nothing else happens.
    pub wake_by: MonoTime,
    /// Shutting down and nothing left to do: the runtime may exit.
    pub shutdown_complete: bool,
}

impl Decision {
    /// Whether the decision changes anything worth a log line and a journal record.
    pub fn changes_anything(&self, previous_role: Role) -> bool {
        self.role != previous_role
            || self.actions.iter().any(|a| {
                !matches!(
                    a,
                    Action::Lease {
                        write: LeaseWriteKind::Renew
                    }
                )
            })
    }
}

/// Decides one step. Pure: the same state and observations always give the same decision.
pub fn decide(
    prev: &ElectionState,
    obs: &Observations,
    identity: &str,
    timing: &Timing,
) -> Decision {
    let now = obs.now;
    let mut s = prev.clone();
    let mut actions = Vec::new();

    // 1. The node process. A new process starts non-producing (docs/architecture.md, "How
    //    cardano-node behaves"): whatever we believed of the old one no longer applies. A
    //    vanished process forges nothing.
    let restarted = match (s.node, obs.node.process) {
        (Some(old), Some(new)) => old != new,
        _ => false,
    };
    if !s.node_observed {
        // First look: no node means nothing forges; a running one stays `Unknown` until its
        // metrics or a demotion tell.
        s.node_observed = true;
        s.node = obs.node.process;
        if s.node.is_none() {
            s.forging = Forging::Off;
        }
    } else if s.node != obs.node.process {
        s.node = obs.node.process;
        s.node_ready = false;
        s.forging = Forging::Off;
    }
    if obs.node.process.is_some() && obs.eligibility.socket_accepting {
        s.node_ready = true;
    }

    // 2. The lease, then the renewal deadline (self-fencing).
    let lost = s.seat.apply(&obs.lease, identity, now, timing);

    // 3. Verification: what the metrics say about the SIGHUP we sent.
    s.forging = verify(s.forging, obs.node.forging_enabled, now, timing);

    // 4. Entitlement: the whole safety rule.
    let eligible = obs.eligibility.verdict();
    let entitled = eligible.is_ok()
        && obs.gate == Gate::Allow
        && s.seat.may_promote(now, timing)
        && !s.seat.deleting();
    let entitled = entitled
        || (broken!(PromoteBeforeAcquire)
            && eligible.is_ok()
            && free(&s.seat, identity, now, timing));
    // Keep the lease while eligible; also while a demotion is unverified (so no one else promotes
    // while this node might forge), unless we are leaving for good.
    let want_lease = eligible.is_ok()
        || (s.forging.maybe_on() && s.seat.hold.is_some() && !obs.eligibility.shutting_down);

    // 5. Forging actions.
    let may_start = entitled && (s.seat.may_start(now, timing) || broken!(PromoteBeforeAcquire));
    let forging_action = forging_action(&s, entitled, may_start, now, timing);
    match forging_action {
        Some(Action::Promote) => s.forging = Forging::Promoting { since: now },
        Some(Action::Demote { .. }) => {
            let attempt = match s.forging {
                Forging::Demoting { attempt, .. } => attempt + 1,
                Forging::Stuck { .. } => MAX_DEMOTION_ATTEMPTS,
                _ => 1,
            };
            s.forging = if s.node.is_none() {
                Forging::Off
            } else {
                Forging::Demoting {
                    since: now,
                    attempt,
                }
            };
        }
        _ => {}
    }
    if let Some(a) = forging_action {
        actions.push(a);
    }
    // Keep a bootable set in place whenever the real keys are not (or no longer) wanted: after a
    // verified demotion, and before the node starts.
    if s.forging == Forging::Off && !entitled && !obs.node.standby_ready {
        actions.push(Action::Standby);
    }

    // 6. The lease write: renew or acquire while we want the lease; release only after a verified
    //    demotion (demote, then release).
    let may_release = !s.forging.maybe_on() || broken!(ReleaseBeforeDemotionVerified);
    if let Some(write) = s
        .seat
        .next_write(identity, want_lease, may_release, now, timing)
    {
        actions.push(Action::Lease { write });
    }

    // 7. Role and reason.
    let releasing = actions.contains(&Action::Lease {
        write: LeaseWriteKind::Release,
    });
    let role = role_of(&s, lost, entitled, releasing, now);
    let (reason, message) = explain(
        &s, obs, lost, restarted, entitled, eligible, identity, timing,
    );
    let shutdown_complete =
        obs.eligibility.shutting_down && s.seat.hold.is_none() && !s.forging.maybe_on();

    let wake_by = wake_by(&s, now, timing);
    s.role = role;
    debug_assert!(
        !actions.contains(&Action::Promote)
            || s.seat.may_start(now, timing)
            || broken!(PromoteBeforeAcquire),
        "promote without a live, promotable lease"
    );
    Decision {
        next: s,
        role,
        actions,
        reason,
        message,
        entitled,
        wake_by,
        shutdown_complete,
    }
}

/// Key rotation: the runtime appends the returned action to a decision when the mounted real set
/// no longer matches the set it promoted with (`source_changed`). Only a pod that is entitled (lease
/// held and promotable, eligible, which includes a real set that validates) and whose forging is
/// verified `On` re-provisions; anywhere else the next promotion picks the new set up anyway.
pub fn reprovision(next: &ElectionState, entitled: bool, source_changed: bool) -> Option<Action> {
    (source_changed && entitled && next.forging == Forging::On).then_some(Action::Reprovision)
}

/// Whether the lease is free or expired for a candidate (read by the `PromoteBeforeAcquire` canary
/// only; without the `broken-core` feature the call is behind a constant `false`).
fn free(seat: &Seat, identity: &str, now: MonoTime, timing: &Timing) -> bool {
    seat.hold.is_none()
        && matches!(
            seat.observer.state(identity, timing.lease_duration(), now),
            LeaseState::Free | LeaseState::Expired
        )
}

/// Updates the forging belief from the node's `forging_enabled`.
fn verify(forging: Forging, enabled: Option<bool>, now: MonoTime, timing: &Timing) -> Forging {
    match (forging, enabled) {
        (Forging::Promoting { .. }, Some(true)) => Forging::On,
        (Forging::Demoting { .. } | Forging::Stuck { .. } | Forging::Unknown, Some(false)) => {
            Forging::Off
        }
        (Forging::Demoting { since, attempt }, _)
            if now.since(since) >= timing.sighup_verify_timeout()
                && attempt >= MAX_DEMOTION_ATTEMPTS =>
        {
            Forging::Stuck { since }
        }
        (f, _) => f,
    }
}

/// The promotion or demotion this step needs, if any.
fn forging_action(
    s: &ElectionState,
    entitled: bool,
    may_start: bool,
    now: MonoTime,
    timing: &Timing,
) -> Option<Action> {
    let sighup = s.node_ready;
    match (entitled, s.forging) {
        // A 409 not yet resolved by a read: do not start (whoever wrote may hold the lease now).
        (true, Forging::Off | Forging::Unknown) if !may_start => None,
        // Entitled and not (about to be) forging: promote. Only a node whose handler is installed
        // can take the SIGHUP; `entitled` implies its socket accepts.
        (true, Forging::Off) => Some(Action::Promote),
        // The sidecar restarted next to a running node while holding its own lease: one promotion
        // (idempotent write, one SIGHUP) brings belief and node back in step.
        (true, Forging::Unknown) => Some(Action::Promote),
        // A promotion that did not show up in the metrics in time: take the known-safe path back
        // (demote), and promote again from `Off`.
        (true, Forging::Promoting { since })
            if now.since(since) >= timing.sighup_verify_timeout() =>
        {
            Some(Action::Demote { sighup })
        }
        (true, _) => None,
        (false, Forging::Off) => None,
        // Not entitled and maybe forging: demote now.
        (false, Forging::Unknown | Forging::Promoting { .. } | Forging::On) => {
            Some(Action::Demote { sighup })
        }
        // Demotion under way: retry (remove, SIGHUP, verify) after the verification timeout.
        (false, Forging::Demoting { since, attempt }) => {
            (now.since(since) >= timing.sighup_verify_timeout() && attempt < MAX_DEMOTION_ATTEMPTS)
                .then_some(Action::Demote { sighup })
        }
        (false, Forging::Stuck { since }) => {
            (now.since(since) >= STUCK_RETRY_AFTER).then_some(Action::Demote { sighup })
        }
    }
}

fn role_of(
    s: &ElectionState,
    lost: Option<HoldLost>,
    entitled: bool,
    releasing: bool,
    now: MonoTime,
) -> Role {
    let holding = s.seat.hold.is_some();
    if releasing {
        return Role::Releasing;
    }
    match s.forging {
        Forging::Demoting { .. } | Forging::Stuck { .. } => {
            if lost == Some(HoldLost::Fenced) || (!holding && s.seat.fenced_at.is_some()) {
                Role::Fenced
            } else {
                Role::Demoting
            }
        }
        Forging::Promoting { .. } => Role::Acquiring,
        Forging::On if holding => Role::Leader,
        _ if lost == Some(HoldLost::Fenced) => Role::Fenced,
        _ if holding && entitled => Role::Leader,
        _ if holding => {
            if s.seat.hold.as_ref().is_some_and(|h| now < h.promotable_at) {
                Role::Acquiring
            } else {
                Role::Leader
            }
        }
        _ => Role::Candidate,
    }
}

#[allow(clippy::too_many_arguments)]
fn explain(
    s: &ElectionState,
    obs: &Observations,
    lost: Option<HoldLost>,
    restarted: bool,
    entitled: bool,
    eligible: Result<(), Reason>,
    identity: &str,
    timing: &Timing,
) -> (Reason, String) {
    let now = obs.now;
    let holder = s
        .seat
        .observer
        .holder(timing.lease_duration(), now)
        .map(str::to_owned)
        .unwrap_or_default();
    if s.seat.deleting() {
        return (
            Reason::LeaseDeleted,
            "an operator deleted the lease: our finalizer keeps it while the node steps down, \
             then we let it go and create it again"
                .into(),
        );
    }
    match lost {
        Some(HoldLost::Fenced) => {
            return (
                Reason::RenewDeadlineExceeded,
                format!(
                    "no successful lease renewal for {}s (renew deadline {}s): stopped forging and dropped the lease",
                    secs(timing.renew_deadline()),
                    secs(timing.renew_deadline())
                ),
            );
        }
        Some(HoldLost::Lost) => {
            return (
                Reason::LeaseLost,
                format!("the lease now names {holder}: stopped forging"),
            );
        }
        None => {}
    }
    if restarted && s.seat.hold.is_some() {
        return (
            Reason::NodeRestarted,
            "cardano-node restarted: it starts non-producing; releasing the lease to an eligible standby".into(),
        );
    }
    match s.forging {
        Forging::Stuck { .. } => {
            return (
                Reason::DemotionStuck,
                format!(
                    "{MAX_DEMOTION_ATTEMPTS} demotions went unverified: the node may still forge; keeping the lease so no other pod forges; operator action needed"
                ),
            );
        }
        Forging::Demoting { attempt, .. } if attempt > 1 => {
            return (
                Reason::DemotionUnverified,
                format!(
                    "demotion not confirmed by the node's metrics: attempt {attempt} of {MAX_DEMOTION_ATTEMPTS}"
                ),
            );
        }
        Forging::Demoting { .. } => {
            let why = eligible
                .err()
                .map(|r| r.as_str())
                .unwrap_or("not entitled to forge");
            return (
                Reason::Demoting,
                format!("demoting ({why}): real keys removed, waiting for the node to confirm"),
            );
        }
        _ => {}
    }
    if let Err(reason) = eligible {
        let sentence = match reason {
            Reason::ShuttingDown if s.seat.hold.is_none() => {
                "shutting down: not forging, lease released".to_string()
            }
            Reason::ShuttingDown => "shutting down: demoting, then releasing the lease".to_string(),
            Reason::NodeNotRunning => "cardano-node is not running".to_string(),
            Reason::SocketNotAccepting => {
                "cardano-node's socket does not accept connections yet (startup or replay)"
                    .to_string()
            }
            Reason::MetricsUnavailable => {
                "cardano-node's metrics are unreadable: a SIGHUP could not be verified".to_string()
            }
            Reason::CredentialsInvalid => "the real credentials failed validation".to_string(),
            Reason::BehindTip => "cardano-node is behind the chain tip".to_string(),
            other => other.as_str().to_string(),
        };
        return (reason, format!("not eligible: {sentence}"));
    }
    if let Some(h) = &s.seat.hold {
        if let Forging::Promoting { .. } = s.forging {
            return (
                Reason::Promoting,
                "real keys written and SIGHUP sent: waiting for the node to confirm".into(),
            );
        }
        if let Gate::Deny(r) = obs.gate {
            return (
                Reason::PolicyDisallows,
                format!("holding the lease; this region may not forge ({r})"),
            );
        }
        if now < h.promotable_at {
            return (
                Reason::LeaseNewWaiting,
                format!(
                    "created a lease that did not exist: waiting {}s before forging in case its last holder still forges",
                    secs(h.promotable_at.since(now))
                ),
            );
        }
        if s.forging == Forging::On && entitled {
            return (
                Reason::Forging,
                "holding the lease; the node forges (verified)".into(),
            );
        }
        return (Reason::LeaseRenewed, "holding the lease".into());
    }
    if s.seat.api_unreachable {
        return (
            Reason::ApiUnreachable,
            "the API server did not answer: not forging".into(),
        );
    }
    match s
        .seat
        .observer
        .state(identity, timing.lease_duration(), now)
    {
        LeaseState::HeldByOther if s.seat.observer.record().is_none() => (
            Reason::LeaseHeldByOther,
            format!(
                "the lease was deleted under {holder}: leaving it {}s to re-create it",
                secs(
                    s.seat
                        .observer
                        .expires_at(timing.lease_duration())
                        .map(|at| at.since(now))
                        .unwrap_or_default()
                )
            ),
        ),
        LeaseState::HeldByOther => (
            Reason::LeaseHeldByOther,
            format!(
                "{holder} holds the lease (record unchanged for {}s)",
                secs(s.seat.observer.unchanged_for(now).unwrap_or_default())
            ),
        ),
        LeaseState::Free | LeaseState::Expired | LeaseState::Absent | LeaseState::HeldByMe => {
            if let LeaseEvent::WriteFailed {
                failure: ApiFailure::Conflict,
                ..
            } = obs.lease
            {
                (
                    Reason::LeaseConflict,
                    "another pod wrote the lease first".into(),
                )
            } else if s.seat.observer.record().is_none() && matches!(obs.lease, LeaseEvent::Nothing)
            {
                (Reason::Standby, "standing by: lease not read yet".into())
            } else {
                (
                    Reason::LeaseAvailable,
                    "the lease is available: taking it".into(),
                )
            }
        }
    }
}

fn wake_by(s: &ElectionState, now: MonoTime, timing: &Timing) -> MonoTime {
    let mut at = now + timing.retry_period();
    if let Some(d) = s.seat.deadline(timing) {
        at = at.min(d);
    }
    match s.forging {
        Forging::Promoting { since } | Forging::Demoting { since, .. } => {
            // Look often while a SIGHUP awaits its proof: the handover gap is made of this wait.
            at = at
                .min(since + timing.sighup_verify_timeout())
                .min(now + VERIFY_POLL);
        }
        _ => {}
    }
    if let Some(h) = &s.seat.hold
        && h.promotable_at > now
    {
        at = at.min(h.promotable_at);
    }
    if s.seat.deleting() && !s.forging.maybe_on() || s.seat.recreate_from.is_some() {
        // A deleted lease to let go of, or to create again: the handover gap is this wait.
        at = at.min(now + VERIFY_POLL);
    }
    at
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
