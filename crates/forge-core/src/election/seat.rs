//! One seat in one election (the local lease, or the region's seat on the global lease): what we
//! observe of the lease, our hold on it, how each lease event changes that hold, and which write
//! to attempt next. The renewal deadline (self-fencing) is enforced here, on every event.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{LeaseEvent, LeaseWriteKind};
use crate::lease::{ApiFailure, LeaseObserver, LeaseRecord, LeaseState};
use crate::time::MonoTime;
use crate::timing::Timing;

/// Our hold on a lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The record as our last successful write left it (the base of the next write).
    pub record: LeaseRecord,
    /// When the last successful write (acquire or renewal) was sent.
    pub last_renew_sent_at: MonoTime,
    /// From when we may promote: at once for a free, expired or own lease; one lease duration after
    /// we created a lease that did not exist; a slot after we took a released lease or a handoff.
    pub promotable_at: MonoTime,
    /// `promotable_at` waits out a slot (a released lease or a handoff), not a lease whose last
    /// holder may still forge. Absent in older journals.
    #[serde(default)]
    pub settling: bool,
}

impl Hold {
    /// Whether a promotion at `now` is timed by this hold's slot settle: the hold waited out a
    /// slot (a released lease or a handoff) and that wait ended less than a settle ago. A later
    /// promotion on the same hold (after a demotion for another reason) is not.
    pub fn timed_by_settle(&self, now: MonoTime, timing: &Timing) -> bool {
        self.settling && now < self.promotable_at + timing.slot_settle()
    }
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
    /// How our last hold ended by our own release, until we hold again: what a departing pod may
    /// truthfully say of the lease it leaves behind.
    #[serde(default)]
    pub released: Option<Released>,
}

/// The outcome of our last release (or handoff) of this seat's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Released {
    /// The API server accepted it: the lease names nobody (or the region we handed it to).
    Accepted,
    /// It got no good answer: it may not have been applied, and then the lease is left to
    /// expire by observation, a lease duration after our last renewal.
    Unanswered,
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

/// What the record a write replaced said about its tenure, read before the write is observed.
struct TakenRecord {
    /// It named us already (our previous incarnation's, or another pod of our region's).
    base_was_ours: bool,
    /// It named nobody: its holder released it, after a verified demotion, moments ago.
    base_released: bool,
    /// When we first saw it: after it was written, so after the demotion that preceded it.
    base_seen_at: Option<MonoTime>,
    /// It was created rather than taken over (no transition yet).
    base_created: bool,
    /// Since when we have seen that tenure.
    tenure_since: Option<MonoTime>,
}

impl Seat {
    /// Whether we hold the lease under the renewal rule at `now`.
    pub fn holds(&self, now: MonoTime, timing: &Timing) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|h| now.since(h.last_renew_sent_at) < timing.renew_deadline())
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
        let lost = match event {
            LeaseEvent::Nothing => None,
            LeaseEvent::Read(record) => self.on_read(record.as_ref(), identity, now),
            LeaseEvent::ReadFailed(failure) => {
                self.api_unreachable =
                    matches!(failure, ApiFailure::Unreachable | ApiFailure::Server);
                None
            }
            LeaseEvent::Wrote {
                write: LeaseWriteKind::Finalize,
                ..
            } => {
                self.on_finalized(now);
                None
            }
            LeaseEvent::Wrote {
                write,
                record,
                sent_at,
            } => {
                self.on_written(*write, record, *sent_at, identity, now, timing);
                None
            }
            LeaseEvent::WriteFailed { write, failure } => {
                self.on_write_failed(*write, *failure);
                None
            }
        };
        self.fence_past_deadline(now, timing).or(lost)
    }

    /// A read: who holds the lease now. Losing it to another holder ends our hold at once.
    fn on_read(
        &mut self,
        record: Option<&LeaseRecord>,
        identity: &str,
        now: MonoTime,
    ) -> Option<HoldLost> {
        self.api_unreachable = false;
        self.conflict = false;
        self.absent_seen = record.is_none();
        if record.is_some_and(|r| !r.is_held_by(identity)) {
            self.recreate_from = None;
        }
        self.observer.observe(record, now);
        match (record, self.hold.as_mut()) {
            (Some(r), Some(h)) if r.is_held_by(identity) => {
                // Still ours: take the newer version as the base of the next write, but a
                // read proves nothing about renewal, so the deadline stays.
                h.record = r.clone();
                None
            }
            (Some(_), Some(_)) => {
                self.hold = None;
                Some(HoldLost::Lost)
            }
            // Deleted under us: keep the hold until the deadline; the next step re-creates
            // the lease, and a successor that creates it first waits a full lease duration.
            (None, _) | (_, None) => None,
        }
    }

    /// The deletion we held back with our finalizer completed: the object is gone. We create it
    /// again, at once promotable if this hold was (our node is verifiably off under it).
    fn on_finalized(&mut self, now: MonoTime) {
        self.api_unreachable = false;
        self.conflict = false;
        self.recreate_from = self.hold.take().map(|h| h.promotable_at);
        self.observer.observe(None, now);
        self.absent_seen = true;
    }

    /// One of our writes was accepted: the hold it gives (or ends), and from when it is promotable.
    fn on_written(
        &mut self,
        write: LeaseWriteKind,
        record: &LeaseRecord,
        sent_at: MonoTime,
        identity: &str,
        now: MonoTime,
        timing: &Timing,
    ) {
        self.api_unreachable = false;
        self.absent_seen = false;
        self.conflict = false;
        // An update that changed nothing keeps its resourceVersion (Kubernetes skips no-op
        // writes): observers see no change, so it must not count as a renewal either.
        let base_rv = match write {
            LeaseWriteKind::Renew | LeaseWriteKind::Release | LeaseWriteKind::Finalize => self
                .hold
                .as_ref()
                .map(|h| h.record.resource_version.clone()),
            LeaseWriteKind::Acquire => self.observer.record().map(|r| r.resource_version.clone()),
            LeaseWriteKind::Create => None,
        };
        let no_op = base_rv.as_deref() == Some(record.resource_version.as_str());
        // Whether the record we took named us already (our previous incarnation's, or for the
        // global seat another pod of our region's), whether it was created rather than taken over
        // (no transition yet), and since when we have seen that tenure.
        let base = self.observer.record();
        let taken = TakenRecord {
            base_was_ours: write == LeaseWriteKind::Acquire
                && base.is_some_and(|r| r.is_held_by(identity)),
            base_released: write == LeaseWriteKind::Acquire
                && base.is_some_and(|r| r.holder().is_none()),
            base_seen_at: self.observer.first_seen_at(),
            base_created: base.is_some_and(|r| r.lease_transitions == 0),
            tenure_since: self.observer.tenure_since(),
        };
        self.observer.observe(Some(record), now);
        if no_op && write != LeaseWriteKind::Release {
            // Neither renewed nor acquired: the deadline keeps counting.
        } else if write == LeaseWriteKind::Release || !record.is_held_by(identity) {
            self.hold = None;
            if matches!(write, LeaseWriteKind::Release | LeaseWriteKind::Finalize) {
                self.released = Some(Released::Accepted);
            }
        } else {
            self.released = None;
            let (promotable_at, settling) =
                self.promotable_at(write, record, sent_at, &taken, timing);
            if self.hold.is_none() {
                // A new tenure: an earlier fencing no longer describes this seat (a pod that
                // fenced once and later lost a new hold to another pod was reported `fenced`).
                self.fenced_at = None;
            }
            self.hold = Some(Hold {
                record: record.clone(),
                last_renew_sent_at: sent_at,
                promotable_at,
                settling,
            });
        }
    }

    /// From when a hold that `write` (sent at `sent_at`) gave us may be forged on: at once for a
    /// free or expired lease, one lease duration later where an earlier holder may still forge, a
    /// slot later after a release or a handoff; and whether that wait is the slot's.
    fn promotable_at(
        &mut self,
        write: LeaseWriteKind,
        record: &LeaseRecord,
        sent_at: MonoTime,
        taken: &TakenRecord,
        timing: &Timing,
    ) -> (MonoTime, bool) {
        let wait_out = |from: MonoTime| from + record.effective_duration(timing.lease_duration());
        let at = match (write, self.hold.as_ref()) {
            // Renewing, or re-creating a lease deleted under us: unchanged.
            (LeaseWriteKind::Renew | LeaseWriteKind::Create, Some(h)) => {
                return (h.promotable_at, h.settling);
            }
            // A lease that did not exist: its last holder may still forge.
            // Re-created after we finalized the deletion of our own hold.
            (LeaseWriteKind::Create, None) if self.recreate_from.is_some() => self
                .recreate_from
                .take()
                .map_or(sent_at, |at| at.max(sent_at)),
            (LeaseWriteKind::Create, None) => wait_out(sent_at),
            // Our own record written by a previous incarnation: it may have been waiting out a
            // lease it created, so wait a lease duration (unless the seat trusts such records:
            // global handoffs).
            (LeaseWriteKind::Acquire, None) if taken.base_was_ours && !self.trusts_own_record => {
                wait_out(sent_at)
            }
            // A record naming us that another pod of ours *created* (a handoff or a takeover
            // counts a transition; a create does not): its creator was waiting out a lease that
            // had not existed, whose last holder may still forge. Wait as long, counted from when
            // we first saw that tenure (no earlier than its creation), so a local leader change
            // does not cut the wait short. A tenure we have watched for a lease duration is
            // settled.
            (LeaseWriteKind::Acquire, None) if taken.base_was_ours && taken.base_created => {
                wait_out(taken.tenure_since.unwrap_or(sent_at))
            }
            // Released after a verified demotion, or handed to our region (the global seat's
            // handoff, written after the leaving forger's verified demotion): that forger may have
            // run its leadership check in the slot in progress, and a node enabled part-way
            // through a slot checks that slot at once (docs/safety.md, "Planned handovers and the
            // slot clock"). Wait out a slot from when we first saw that record, which was after
            // it was written, so after the demotion: our first check then falls in a later slot.
            (LeaseWriteKind::Acquire, None)
                if taken.base_released || (taken.base_was_ours && self.trusts_own_record) =>
            {
                let seen = taken.base_seen_at.map_or(sent_at, |at| at.min(sent_at));
                return (seen + timing.slot_settle(), true);
            }
            // Expired: its holder fenced itself at least lease duration - renew deadline -
            // demotion time ago, which the timing budget makes longer than a slot.
            (LeaseWriteKind::Acquire | LeaseWriteKind::Renew, _) => sent_at,
            (LeaseWriteKind::Release | LeaseWriteKind::Finalize, _) => sent_at,
        };
        (at, false)
    }

    /// One of our writes failed: what its failure tells about the lease and our hold.
    fn on_write_failed(&mut self, write: LeaseWriteKind, failure: ApiFailure) {
        self.api_unreachable = matches!(failure, ApiFailure::Unreachable | ApiFailure::Server);
        // A renewal or release answered 404: the lease was deleted under us.
        self.absent_seen = failure == ApiFailure::NotFound;
        if write == LeaseWriteKind::Create {
            self.recreate_from = None;
        }
        if matches!(write, LeaseWriteKind::Release | LeaseWriteKind::Finalize) {
            // A release (or handoff) without a good answer may still have been applied: the lease
            // may name nobody, or the region we handed it to, and a release is taken at once. So
            // this hold never entitles anything again; if the release was not applied, the lease
            // lapses by observation like any unrenewed lease. (Chaos seed 1150: a timed-out
            // release, the node ready again 50 ms later, a promotion on the kept hold beside the
            // pod that took the released lease.)
            self.hold = None;
            self.released = Some(Released::Unanswered);
        }
        if failure == ApiFailure::Conflict {
            // Someone else wrote it: our view is stale. Forget the record so the next step reads
            // it again; the hold (if any) stands until that read or the deadline, but it no
            // longer entitles a promotion.
            self.observer.reset();
            self.conflict = true;
        }
    }

    /// Self-fencing: a hold whose renew deadline has passed ends here, whatever else happened.
    fn fence_past_deadline(&mut self, now: MonoTime, timing: &Timing) -> Option<HoldLost> {
        let past = self.deadline(timing).is_some_and(|d| now >= d);
        if !past {
            return None;
        }
        self.hold = None;
        self.fenced_at = Some(now);
        Some(HoldLost::Fenced)
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
                LeaseState::Absent | LeaseState::HeldByOther => None,
            },
        }
    }
}
