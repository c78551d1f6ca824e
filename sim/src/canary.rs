//! The canary (docs/chaos.md, "The canary: broken cores"): deliberately broken variants of the
//! safety core, to prove that the oracle and chaos catch them. Each variant wraps the correct core
//! ([`Correct`]) and breaks one step of the safety argument by changing what goes in (the state or
//! the observations a decision sees) or what comes out (its actions). They live here, in the
//! simulator: the production library has no broken variant, no hook and no switch.
//!
//! The switch is per thread: the simulator runs a whole world (every pod's decisions) on one
//! thread, and parallel test threads each choose their own variant. A pod reads it when it starts.

use std::cell::Cell;

use forge_manager::core::cluster::{
    ClusterAction, ClusterDecision, ClusterObservations, ClusterState,
};
use forge_manager::core::decisions::{CORRECT, Correct, Decisions};
use forge_manager::core::election::{
    Action, Decision, ElectionState, Forging, LeaseEvent, LeaseWriteKind, Observations, Seat,
    VERIFY_POLL,
};
use forge_manager::core::lease::LeaseState;
use forge_manager::core::time::MonoTime;
use forge_manager::core::timing::Timing;
use forge_manager::journal::replay::WRITER;

/// One way of breaking the safety rule of docs/safety.md §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Broken {
    /// Expiry ignores the observed age: another holder's lease is taken as soon as its record is
    /// seen (what judging expiry from `renewTime` against a skewed wall clock amounts to).
    WallClockExpiry,
    /// A candidate promotes while the lease is free or expired, before its acquire succeeded.
    PromoteBeforeAcquire,
    /// Never fence on the renew deadline: a hold past its deadline keeps forging and renewing.
    NoSelfFencing,
    /// Release the lease in the same step as the demotion, before it is verified.
    ReleaseBeforeDemotionVerified,
    /// A lease we had to create is promotable at once (no lease-duration wait).
    PromoteOnNewLease,
    /// A region hands the global lease over as soon as its gate closes, before its node's
    /// demotion is verified.
    HandoffBeforeDemotionVerified,
    /// A region that is not the preferred one takes a free, expired or absent global lease at
    /// once, without deferring to the preferred region.
    WorseRegionTakesAtOnce,
    /// The dead-man switch is armed with a renew deadline counted from now, not with the instant
    /// the holds fence themselves.
    WatchdogFromPromotion,
    /// Overrides are judged on each round's raw estimate of the server's time, not on the steady
    /// one: a later `Date` sample (whole seconds) can make an override seen expired look in force
    /// again (soak seed 9182: a handover stopped half-way, a slot missed).
    OverrideOnRawServerTime,
}

impl Broken {
    /// Every variant, in declaration order.
    pub const ALL: [Broken; 9] = [
        Broken::WallClockExpiry,
        Broken::PromoteBeforeAcquire,
        Broken::NoSelfFencing,
        Broken::ReleaseBeforeDemotionVerified,
        Broken::PromoteOnNewLease,
        Broken::HandoffBeforeDemotionVerified,
        Broken::WorseRegionTakesAtOnce,
        Broken::WatchdogFromPromotion,
        Broken::OverrideOnRawServerTime,
    ];

    /// The kebab-case name used on command lines (`--broken no-self-fencing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Broken::WallClockExpiry => "wall-clock-expiry",
            Broken::PromoteBeforeAcquire => "promote-before-acquire",
            Broken::NoSelfFencing => "no-self-fencing",
            Broken::ReleaseBeforeDemotionVerified => "release-before-demotion-verified",
            Broken::PromoteOnNewLease => "promote-on-new-lease",
            Broken::HandoffBeforeDemotionVerified => "handoff-before-demotion-verified",
            Broken::WorseRegionTakesAtOnce => "worse-region-takes-at-once",
            Broken::WatchdogFromPromotion => "watchdog-from-promotion",
            Broken::OverrideOnRawServerTime => "override-on-raw-server-time",
        }
    }

    /// Parses [`Broken::as_str`].
    pub fn parse(text: &str) -> Option<Broken> {
        Broken::ALL.into_iter().find(|b| b.as_str() == text)
    }

    /// The writer a journal of this variant names (`forge-manager X+broken-core:VARIANT`), so a
    /// replay on the correct core shows whose decisions differ.
    pub fn writer(self) -> String {
        format!("{WRITER}+broken-core:{}", self.as_str())
    }
}

thread_local! {
    static SWITCH: Cell<Option<Broken>> = const { Cell::new(None) };
}

/// Selects the broken variant for this thread (`None`: the correct core).
pub fn set(variant: Option<Broken>) {
    SWITCH.with(|s| s.set(variant));
}

/// The variant selected on this thread.
pub fn get() -> Option<Broken> {
    SWITCH.with(Cell::get)
}

/// The decisions a pod starting on this thread runs: the selected variant, or the correct core.
pub fn decisions() -> &'static dyn Decisions {
    match get() {
        None => &CORRECT,
        Some(b) => &VARIANTS[Broken::ALL.iter().position(|v| *v == b).unwrap_or_default()],
    }
}

/// The journal writer of pods starting on this thread.
pub fn writer() -> String {
    get().map_or_else(|| WRITER.to_owned(), Broken::writer)
}

static VARIANTS: [BrokenCore; 9] = [
    BrokenCore(Broken::WallClockExpiry),
    BrokenCore(Broken::PromoteBeforeAcquire),
    BrokenCore(Broken::NoSelfFencing),
    BrokenCore(Broken::ReleaseBeforeDemotionVerified),
    BrokenCore(Broken::PromoteOnNewLease),
    BrokenCore(Broken::HandoffBeforeDemotionVerified),
    BrokenCore(Broken::WorseRegionTakesAtOnce),
    BrokenCore(Broken::WatchdogFromPromotion),
    BrokenCore(Broken::OverrideOnRawServerTime),
];

/// The correct core with one variant's break applied.
struct BrokenCore(Broken);

impl Decisions for BrokenCore {
    fn decide(
        &self,
        prev: &ElectionState,
        obs: &Observations,
        identity: &str,
        timing: &Timing,
    ) -> Decision {
        let call = Call {
            obs,
            identity,
            timing,
        };
        match self.0 {
            Broken::WallClockExpiry => {
                wall_clock_expiry(&call, Correct.decide(prev, obs, identity, timing))
            }
            Broken::PromoteBeforeAcquire => {
                promote_before_acquire(&call, Correct.decide(prev, obs, identity, timing))
            }
            Broken::NoSelfFencing => no_self_fencing(prev, &call),
            Broken::ReleaseBeforeDemotionVerified => {
                release_before_verified(&call, Correct.decide(prev, obs, identity, timing))
            }
            Broken::PromoteOnNewLease => {
                promote_on_new_lease(prev, &call, Correct.decide(prev, obs, identity, timing))
            }
            _ => Correct.decide(prev, obs, identity, timing),
        }
    }

    fn decide_cluster(
        &self,
        prev: &ClusterState,
        obs: &ClusterObservations,
        timing: &Timing,
    ) -> ClusterDecision {
        match self.0 {
            Broken::HandoffBeforeDemotionVerified => handoff_before_verified(prev, obs, timing),
            Broken::WorseRegionTakesAtOnce => {
                worse_region_takes_at_once(obs, timing, Correct.decide_cluster(prev, obs, timing))
            }
            Broken::OverrideOnRawServerTime => {
                // Nothing carried forward: the round judges on its own estimate alone.
                let mut p = prev.clone();
                p.server_now = None;
                Correct.decide_cluster(&p, obs, timing)
            }
            _ => Correct.decide_cluster(prev, obs, timing),
        }
    }

    fn watchdog_fence_at(
        &self,
        fence_at: Option<MonoTime>,
        now: MonoTime,
        timing: &Timing,
    ) -> Option<MonoTime> {
        match self.0 {
            Broken::WatchdogFromPromotion => Some(now + timing.renew_deadline()),
            _ => fence_at,
        }
    }
}

/// What one local decision was called with.
struct Call<'a> {
    obs: &'a Observations,
    identity: &'a str,
    timing: &'a Timing,
}

impl Call<'_> {
    /// Whether the correct core wants the lease in this state (eligible, or keeping it while a
    /// demotion is unverified).
    fn wants_lease(&self, s: &ElectionState) -> bool {
        self.obs.eligibility.verdict().is_ok()
            || (s.forging.maybe_on()
                && s.seat.hold.is_some()
                && !self.obs.eligibility.shutting_down)
    }

    fn state_of(&self, seat: &Seat) -> LeaseState {
        seat.observer
            .state(self.identity, self.timing.lease_duration(), self.obs.now)
    }
}

fn writes_lease(d: &Decision) -> bool {
    d.actions.iter().any(|a| matches!(a, Action::Lease { .. }))
}

/// Takes a lease another pod holds as soon as it is seen (the write the correct core would only
/// make once the record expired).
fn wall_clock_expiry(c: &Call, mut d: Decision) -> Decision {
    let seat = &d.next.seat;
    if !writes_lease(&d)
        && seat.hold.is_none()
        && !seat.conflict
        && c.wants_lease(&d.next)
        && c.state_of(seat) == LeaseState::HeldByOther
    {
        d.actions.push(Action::Lease {
            write: LeaseWriteKind::Acquire,
        });
    }
    d
}

/// Promotes in the same step as the acquire of a free or expired lease, before it succeeded.
fn promote_before_acquire(c: &Call, mut d: Decision) -> Decision {
    let free = d.next.seat.hold.is_none()
        && matches!(
            c.state_of(&d.next.seat),
            LeaseState::Free | LeaseState::Expired
        );
    let idle = matches!(d.next.forging, Forging::Off | Forging::Unknown);
    if free && idle && d.next.node_ready && c.obs.eligibility.verdict().is_ok() {
        d.actions.retain(|a| *a != Action::Standby);
        d.actions.insert(0, Action::Promote);
        d.next.forging = Forging::Promoting { since: c.obs.now };
        d.entitled = true;
    }
    d
}

/// A hold past its renew deadline is kept as if it had just been renewed: the correct core decides
/// on that copy, so it neither fences nor demotes, and renewals go on being tried. What reads the
/// hold's deadline after the decision (the runtime's answer-by check before a SIGHUP, the
/// heartbeat's fence instant for the watchdog) is blinded with it: a sidecar without self-fencing.
fn no_self_fencing(prev: &ElectionState, c: &Call) -> Decision {
    let mut p = prev.clone();
    if let Some(h) = p.seat.hold.as_mut()
        && c.obs.now >= h.last_renew_sent_at + c.timing.renew_deadline()
    {
        h.last_renew_sent_at = c.obs.now;
    }
    Correct.decide(&p, c.obs, c.identity, c.timing)
}

/// Lets the lease go in the same step as the demotion, before the node is verified off.
fn release_before_verified(c: &Call, mut d: Decision) -> Decision {
    if writes_lease(&d) || !d.next.forging.maybe_on() {
        return d;
    }
    let want = c.wants_lease(&d.next);
    let write = d
        .next
        .seat
        .next_write(c.identity, want, true, c.obs.now, c.timing);
    if let Some(write @ (LeaseWriteKind::Release | LeaseWriteKind::Finalize)) = write {
        d.actions.push(Action::Lease { write });
    }
    d
}

/// A lease we created is promotable at once: its last holder may still be forging.
fn promote_on_new_lease(prev: &ElectionState, c: &Call, mut d: Decision) -> Decision {
    let created = matches!(
        c.obs.lease,
        LeaseEvent::Wrote {
            write: LeaseWriteKind::Create,
            ..
        }
    );
    if let (true, None, LeaseEvent::Wrote { sent_at, .. }) =
        (created, prev.seat.hold.as_ref(), &c.obs.lease)
        && let Some(h) = d.next.seat.hold.as_mut()
        && h.promotable_at > *sent_at
    {
        h.promotable_at = *sent_at;
        // Decide again right away: the next step finds the hold promotable.
        d.wake_by = d.wake_by.min(c.obs.now + VERIFY_POLL);
    }
    d
}

/// Hands the global lease over while the node may still forge: the decision is taken as if the
/// node were verifiably off whenever that leads to a handoff or a release.
fn handoff_before_verified(
    prev: &ClusterState,
    obs: &ClusterObservations,
    timing: &Timing,
) -> ClusterDecision {
    let correct = Correct.decide_cluster(prev, obs, timing);
    if prev.global.hold.is_none() || obs.local.forging_off {
        return correct;
    }
    let mut off = obs.clone();
    off.local.forging_off = true;
    let early = Correct.decide_cluster(prev, &off, timing);
    let hands_over = early.actions.iter().any(|a| {
        matches!(
            a,
            ClusterAction::Handoff { .. }
                | ClusterAction::Global {
                    write: LeaseWriteKind::Release
                }
        )
    });
    if hands_over { early } else { correct }
}

/// Takes a free, expired or absent global lease at once, preferred region or not.
fn worse_region_takes_at_once(
    obs: &ClusterObservations,
    timing: &Timing,
    mut d: ClusterDecision,
) -> ClusterDecision {
    let region = obs.region.as_str();
    let representative = obs.local.leader && obs.local.eligible && !obs.local.shutting_down;
    let allowed = d
        .ranking
        .effective
        .get(region)
        .is_some_and(|e| e.allows_forging);
    let writes_global = d
        .actions
        .iter()
        .any(|a| matches!(a, ClusterAction::Global { .. }));
    let available = matches!(
        d.next
            .global
            .observer
            .state(region, timing.lease_duration(), obs.now),
        LeaseState::Free | LeaseState::Expired | LeaseState::Absent
    );
    if representative
        && allowed
        && available
        && !writes_global
        && d.next.global.hold.is_none()
        && let Some(write) = d
            .next
            .global
            .next_write(region, true, false, obs.now, timing)
    {
        d.actions.push(ClusterAction::Global { write });
    }
    d
}
