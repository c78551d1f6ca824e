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

use crate::eligibility::Eligibility;
use crate::lease::{ApiFailure, LeaseRecord};
use crate::reason::Reason;
use crate::time::MonoTime;
use crate::timing::Timing;

mod explain;
mod seat;

use explain::explain;
pub use explain::left_behind;
pub use seat::{Hold, HoldLost, Released, Seat, request_budget};

/// How many demotion attempts (remove, SIGHUP, verify) before we report the demotion as stuck.
pub const MAX_DEMOTION_ATTEMPTS: u32 = 3;

/// How often the node's metrics are read while a SIGHUP awaits verification. A demotion's
/// verification is on a planned handover's path (nothing is released before it), so it is read
/// about when a node that handles SIGHUP promptly has applied it (docs/adapters.md: tens of
/// milliseconds), not on a slow poll; the reads go to the node's local metrics endpoint only.
pub const VERIFY_POLL: Duration = Duration::from_millis(50);

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
    /// The credential directory still holds the set this sidecar last wrote there to forge with
    /// (true when it wrote none). False means somebody else wrote over it (the watchdog putting
    /// its decoys back, an operator): `forging_enabled` cannot tell which set the node loaded,
    /// since decoys count too. Absent in older journals: true.
    #[serde(default = "keys_in_place_by_default")]
    pub keys_in_place: bool,
}

fn keys_in_place_by_default() -> bool {
    true
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

impl Action {
    /// The action's name, as its serialized `action` tag spells it (journal, logs).
    pub fn name(self) -> &'static str {
        match self {
            Action::Lease { .. } => "lease",
            Action::Promote => "promote",
            Action::Demote { .. } => "demote",
            Action::Standby => "standby",
            Action::Reprovision => "reprovision",
        }
    }
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
    /// When our node was last learned to have stopped forging (verified off, or its process
    /// gone) after it may have been forging: it may have checked leadership in that slot, so no
    /// promotion before [`Timing::slot_settle`] has passed since. Absent in older journals.
    #[serde(default)]
    pub off_since: Option<MonoTime>,
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
            off_since: None,
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

    // 1. The node process.
    let restarted = observe_node(&mut s, obs);
    // 2. The lease, then the renewal deadline (self-fencing).
    let lost = s.seat.apply(&obs.lease, identity, now, timing);
    // 3. Verification: what the metrics say about the SIGHUP we sent, or that a verified forger
    //    stopped without a demotion of ours.
    s.forging = verify(s.forging, obs.node, now, timing);
    let stopped = prev.forging == Forging::On
        && matches!(s.forging, Forging::Off | Forging::Unknown)
        && !restarted;
    note_off(&mut s, prev.forging, now);

    // 4. Entitlement: the whole safety rule.
    let eligible = obs.eligibility.verdict();
    let entitled = eligible.is_ok()
        && obs.gate == Gate::Allow
        && s.seat.may_promote(now, timing)
        && answered(&s, now, timing)
        && !s.seat.deleting();
    // Keep the lease while eligible; also while a demotion is unverified (so no one else promotes
    // while this node might forge), unless we are leaving for good.
    let want_lease = eligible.is_ok()
        || (s.forging.maybe_on() && s.seat.hold.is_some() && !obs.eligibility.shutting_down);

    // 5. Forging actions.
    let may_start = entitled && s.seat.may_start(now, timing) && settled(&s, now, timing);
    let forging_action = forging_action(&s, entitled, may_start, now, timing);
    if let Some(a) = forging_action {
        let before = s.forging;
        start_forging_action(&mut s, a, now);
        note_off(&mut s, before, now);
        actions.push(a);
    }
    // Keep a bootable set in place whenever the real keys are not (or no longer) wanted: after a
    // verified demotion, and before the node starts.
    if s.forging == Forging::Off && !entitled && !obs.node.standby_ready {
        actions.push(Action::Standby);
    }

    // 6. The lease write: renew or acquire while we want the lease; release only after a verified
    //    demotion (demote, then release).
    let may_release = !s.forging.maybe_on();
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
        &s, obs, lost, restarted, stopped, entitled, eligible, identity, timing,
    );
    let shutdown_complete =
        obs.eligibility.shutting_down && s.seat.hold.is_none() && !s.forging.maybe_on();
    let wake_by = wake_by(&s, now, timing);
    s.role = role;
    let d = Decision {
        next: s,
        role,
        actions,
        reason,
        message,
        entitled,
        wake_by,
        shutdown_complete,
    };
    debug_assert_safe(&d, prev, now, timing);
    d
}

/// Step 1 of [`decide`]: what the node process tells. A new process starts non-producing
/// (docs/architecture.md, "How cardano-node behaves"): whatever we believed of the old one no
/// longer applies, and a vanished process forges nothing. Returns whether the process changed.
fn observe_node(s: &mut ElectionState, obs: &Observations) -> bool {
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
    restarted
}

/// Whether our hold's last renewal still leaves the demotion time before its renew deadline. Past
/// that instant (`Seat::answer_by`) the node is demoted, so that it is off *by* the deadline, not
/// just signalled at it: a whole-pod freeze that catches the node still handling that SIGHUP then
/// begins before the deadline and spans it (the residual risk of §9), instead of leaving a node
/// that wakes up forging after its deadline (single-region chaos seed 64, found once the oracle
/// counted a thawed node's check of the slot in progress).
fn answered(s: &ElectionState, now: MonoTime, timing: &Timing) -> bool {
    s.seat.answer_by(timing).is_none_or(|by| now < by)
}

/// Remembers when the node was learned to be off after it may have been forging (see
/// [`ElectionState::off_since`]).
fn note_off(s: &mut ElectionState, before: Forging, now: MonoTime) {
    if before.maybe_on() && !s.forging.maybe_on() {
        s.off_since = Some(now);
    }
}

/// Until when a promotion must still wait for the slot in progress to end, if it must: a slot
/// after our node was last learned off ([`ElectionState::off_since`]). A node enabled part-way
/// through a slot checks that slot at once, so enabling it again in the slot it may already have
/// checked could forge a second block for that slot.
pub fn settling_until(s: &ElectionState, now: MonoTime, timing: &Timing) -> Option<MonoTime> {
    s.off_since
        .map(|t| t + timing.slot_settle())
        .filter(|until| *until > now)
}

fn settled(s: &ElectionState, now: MonoTime, timing: &Timing) -> bool {
    settling_until(s, now, timing).is_none()
}

/// Step 5 of [`decide`]: the forging state a promotion or demotion starts (a demotion counts its
/// attempts; a node that is gone is off at once).
fn start_forging_action(s: &mut ElectionState, action: Action, now: MonoTime) {
    match action {
        Action::Promote => s.forging = Forging::Promoting { since: now },
        Action::Demote { .. } => {
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
}

/// The invariants docs/safety.md argues from, checked on every decision of a debug build (every
/// test and simulation): each is what makes one step of the safety argument true.
fn debug_assert_safe(d: &Decision, prev: &ElectionState, now: MonoTime, timing: &Timing) {
    let promotes = d.actions.contains(&Action::Promote);
    let demotes = d.actions.iter().any(|a| matches!(a, Action::Demote { .. }));
    let releases = d.actions.contains(&Action::Lease {
        write: LeaseWriteKind::Release,
    });
    debug_assert!(
        !(promotes && demotes),
        "one decision both promotes and demotes"
    );
    debug_assert!(
        !d.entitled || d.next.seat.may_promote(now, timing),
        "entitled without a live, promotable hold"
    );
    debug_assert!(
        !promotes || d.next.seat.may_start(now, timing),
        "promote without a live, promotable lease"
    );
    // The release is decided on the state after this step's verification; a node that was (or
    // might have been) forging must have been verified off first.
    debug_assert!(
        !releases || !d.next.forging.maybe_on(),
        "release before the demotion is verified (was {:?})",
        prev.forging
    );
}

/// Key rotation: the runtime appends the returned action to a decision when the mounted real set
/// no longer matches the set it promoted with (`source_changed`). Only a pod that is entitled (lease
/// held and promotable, eligible, which includes a real set that validates) and whose forging is
/// verified `On` re-provisions; anywhere else the next promotion picks the new set up anyway.
pub fn reprovision(next: &ElectionState, entitled: bool, source_changed: bool) -> Option<Action> {
    (source_changed && entitled && next.forging == Forging::On).then_some(Action::Reprovision)
}

/// Updates the forging belief from the node's `forging_enabled`.
///
/// A verified forger whose node reports forging disabled stopped without a demotion of ours: the
/// watchdog fired while this sidecar was stalled but not yet past its own renew deadline (soak
/// seed 2293), or an operator intervened. Believing `On` would keep the lease and forge nothing
/// for as long as the renewals go through; `Off` lets an entitled holder promote again, through
/// the whole promotion path (heartbeat armed first), and anyone else has nothing to undo.
///
/// A verified forger whose credential files were written over by somebody else (the watchdog's
/// decoys landing over a new promotion's keys as a frozen pod thaws: chaos seed 6604) may have
/// loaded either set, and its `forging_enabled` says nothing about which: its state is `Unknown`.
/// An entitled holder then promotes again (real keys, SIGHUP); anyone else demotes. `Off` would be
/// wrong the other way: the node may still forge with the real keys it loaded before.
fn verify(forging: Forging, node: NodeView, now: MonoTime, timing: &Timing) -> Forging {
    if forging == Forging::On && !node.keys_in_place {
        return Forging::Unknown;
    }
    match (forging, node.forging_enabled) {
        (Forging::Promoting { .. }, Some(true)) => Forging::On,
        (
            Forging::On | Forging::Demoting { .. } | Forging::Stuck { .. } | Forging::Unknown,
            Some(false),
        ) => Forging::Off,
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
        // Entitled again while a demotion is unconfirmed, past its verification window (or
        // stuck): the node's state is unknown, as after a sidecar restart. Waiting for the
        // demotion's proof could last forever, since a node that loaded a decoy set meanwhile (the
        // watchdog's) reports forging enabled too, and nothing else would act (soak seed 2518: no
        // forger for 9 minutes). Promoting is what entitlement allows anyway; it goes through the
        // whole path (real keys, SIGHUP, verification).
        (true, Forging::Demoting { since, .. })
            if may_start && now.since(since) >= timing.sighup_verify_timeout() =>
        {
            Some(Action::Promote)
        }
        (true, Forging::Stuck { .. }) if may_start => Some(Action::Promote),
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

fn wake_by(s: &ElectionState, now: MonoTime, timing: &Timing) -> MonoTime {
    let mut at = now + timing.retry_period();
    if let Some(d) = s.seat.deadline(timing) {
        at = at.min(d);
    }
    if let Some(by) = s.seat.answer_by(timing).filter(|by| *by > now) {
        at = at.min(by);
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
    // Only a holder can be kept from a promotion by the settle; anyone else has no reason to
    // look sooner.
    if let Some(until) = settling_until(s, now, timing).filter(|_| s.seat.hold.is_some()) {
        at = at.min(until);
    }
    if s.seat.deleting() && !s.forging.maybe_on() || s.seat.recreate_from.is_some() {
        // A deleted lease to let go of, or to create again: the handover gap is this wait.
        at = at.min(now + VERIFY_POLL);
    }
    at
}

#[cfg(test)]
mod tests;
