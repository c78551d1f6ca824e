//! Cross-region coordination (docs/safety.md §8b), pure: one region's local leader decides, from
//! what it observed of every region, whether its region may forge (the [`Gate`] for the local
//! election), which lease writes to make on the coordination API, and when to hand forging over.
//!
//! Two kinds of lease live on the coordination API server:
//! - the **global lease**, holder = region name: the region that may forge. Only a region's local
//!   leader takes part, with the same observed-time expiry and renew deadline as the local lease
//!   ([`Seat`]);
//! - one **presence lease** per region, holder = that region's local leader pod, held while the
//!   region is a candidate (its local leader is eligible and its policy allows forging). Others
//!   judge a region's presence by the observed age of that lease, never by a wall clock. (Only the
//!   local and the global lease elect anyone, docs/architecture.md; presence is the liveness
//!   signal a region needs to know whether a better region can take over, without wall clocks or
//!   status heartbeats.)
//!
//! Orderings (docs/safety.md): the gate opens only while the global lease is held under the renewal
//! rule; a handover is demote (gate closed), verify, then write the global lease to the successor.
//! Only the preferred region takes a free, expired or absent global lease; a worse one waits a
//! further lease duration. Operator changes act at once; a region preferred again because its
//! health or presence recovered takes forging back after `failback_delay`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::election::{Gate, LeaseEvent, LeaseWriteKind, Seat};
use super::lease::{LeaseObserver, LeaseRecord, LeaseState};
use super::policy::{RankKey, Ranking, RegionView, State, rank};
use super::reason::Reason;
use super::time::MonoTime;
use super::timing::Timing;

/// Why a region became the preferred one (decides whether a handover waits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// An operator changed a spec, or an override reached its `expiresAt`: act at once.
    Operator,
    /// The region's own health or presence recovered: wait `failback_delay`.
    Recovery,
    /// The previous preference got worse or vanished: act at once.
    Degradation,
}

/// The state of one region's cross-region coordination, carried between decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Our seat in the global election (identity: our region).
    pub global: Seat,
    /// Our region's presence lease (identity: our pod).
    pub presence: Seat,
    /// Other regions' presence leases, by region.
    pub others: BTreeMap<String, LeaseObserver>,
    /// When each other region's presence lease was last read successfully.
    #[serde(default)]
    pub others_read_at: BTreeMap<String, MonoTime>,
    /// The current preference: region, since when, and why it became preferred.
    pub preferred: Option<(String, MonoTime, Cause)>,
    /// Digest of every region's effective policy at the last decision (operator changes).
    pub policy_digest: String,
    /// Each candidate's rank key at the last decision (recoveries), compared as typed keys.
    pub last_keys: BTreeMap<String, RankKey>,
    /// When the global lease was last seen absent, free or expired (waits of worse regions).
    pub global_available_since: Option<MonoTime>,
    /// Since when we are our region's representative (eligible local leader), if we are.
    pub representative_since: Option<MonoTime>,
    /// The server time the last decision judged on, and when (see [`steady_server_now`]).
    #[serde(default)]
    pub server_now: Option<(i64, MonoTime)>,
}

/// The most an estimate of the server's clock can be low: a `Date` header has whole seconds, so
/// the server's time at a sample is in `[Date, Date + 1 s + flight)`.
const SERVER_DATE_RESOLUTION_MS: i64 = 1_000;

/// The server time a decision judges overrides on: the observation's estimate, never earlier than
/// the last decision's carried forward on our monotonic clock, and never more than the `Date`
/// resolution past the estimate. Each sample's estimate is low by up to a second, by a different
/// amount for each `Date`; taken as it came, an override seen expired in one round could look in
/// force again in the next, and a handover then stopped half-way (soak seed 9182: forging moved
/// back to us-east-1 a slot late). The cap keeps a fast-drifting clock from running ahead.
fn steady_server_now(s: &mut ClusterState, obs: &ClusterObservations) -> Option<i64> {
    let estimate = obs.server_now_ms?;
    let carried = s.server_now.map(|(ms, at)| {
        ms.saturating_add(i64::try_from(obs.now.since(at).as_millis()).unwrap_or(i64::MAX))
    });
    let now = match carried {
        Some(c) => estimate.max(c.min(estimate.saturating_add(SERVER_DATE_RESOLUTION_MS))),
        None => estimate,
    };
    s.server_now = Some((now, obs.now));
    Some(now)
}

/// What the local election contributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalView {
    /// We hold the region's local lease under the renewal rule.
    pub leader: bool,
    /// Our node is eligible.
    pub eligible: bool,
    /// Our node is verifiably not forging (a handover or release may proceed).
    pub forging_off: bool,
    /// Shutting down: leave for good.
    pub shutting_down: bool,
    /// No other pod of our region may be forging: we hold the local lease and it is promotable
    /// (any previous holder is fenced or released after a verified demotion). A region's global
    /// lease may only be handed over or released under this: the lease names the region, so our
    /// own node being off says nothing about a deposed local leader that still forges.
    #[serde(default)]
    pub region_quiet: bool,
    /// When the local loop must have an answer to still demote before its local lease fences
    /// ([`crate::election::Seat::answer_by`]): coordination requests are bounded by it too.
    #[serde(default)]
    pub answer_by: Option<MonoTime>,
}

impl LocalView {
    /// Whether we speak for our region: its eligible local leader, staying.
    pub fn representative(&self) -> bool {
        self.leader && self.eligible && !self.shutting_down
    }
}

/// Everything one cluster decision looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterObservations {
    /// Now, on our monotonic clock.
    pub now: MonoTime,
    /// Our region.
    pub region: String,
    /// Our pod.
    pub pod: String,
    /// The local election.
    pub local: LocalView,
    /// Every region's policy and health (ours included); `present` is filled in here.
    pub regions: BTreeMap<String, RegionView>,
    /// What happened to the global lease since the last decision.
    pub global: LeaseEvent,
    /// What happened to our presence lease.
    pub presence: LeaseEvent,
    /// Other regions' presence leases as read this tick (`None`: absent).
    pub others: BTreeMap<String, Option<LeaseRecord>>,
    /// The coordination API server's clock (unix ms), for override expiry.
    pub server_now_ms: Option<i64>,
    /// How long a region preferred again through recovery waits before taking forging back.
    pub failback_delay: Duration,
}

/// A lease write on the coordination API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ClusterAction {
    /// A write of the global lease (identity: our region).
    Global {
        /// Which write.
        write: LeaseWriteKind,
    },
    /// Write the global lease to a successor region (after our verified demotion).
    Handoff {
        /// The successor.
        to: String,
    },
    /// A write of our presence lease (identity: our pod).
    Presence {
        /// Which write.
        write: LeaseWriteKind,
    },
}

/// The outcome of one cluster decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterDecision {
    /// State for the next decision.
    pub next: ClusterState,
    /// Whether our region may forge now.
    pub gate: Gate,
    /// Lease writes to make, in order.
    pub actions: Vec<ClusterAction>,
    /// The ranking this decision used.
    pub ranking: Ranking,
    /// Why, for people.
    pub message: String,
    /// Latest instant to decide again (a renew deadline, a failback).
    pub wake_by: MonoTime,
}

/// An eligible standby looks at its region's presence this many times per lease duration...
pub const PRESENCE_LOOKS_PER_LEASE: u32 = 3;
/// ...and touches it when it has seen it unchanged for this many retry periods (its leader renews
/// once a retry period). With the defaults: a look every 5 s, a touch once unchanged for 4 s, so a
/// dead leader's presence is refreshed within about 10 s, before anyone sees it expire at 15 s.
pub const PRESENCE_TOUCH_AFTER_RETRIES: u32 = 2;

/// Decides one step for our region. Pure.
pub fn decide_cluster(
    prev: &ClusterState,
    obs: &ClusterObservations,
    timing: &Timing,
) -> ClusterDecision {
    let now = obs.now;
    let mut s = prev.clone();
    let region = obs.region.as_str();
    // Handoffs arrive as a record naming our region: promotable at once (the giver verified its
    // demotion first). Handing over or releasing is only done from a promotable hold (below).
    s.global.trusts_own_record = true;
    let mut actions = Vec::new();

    // 1. Leases: ours, then the others' presence.
    observe_leases(&mut s, obs, timing);

    // 2. Presence of every region: ours from the local view, theirs from observed age.
    let representative = obs.local.representative();
    // An eligible standby keeps its region's presence alive when the leader stops renewing it.
    // Its write is a one-off touch, never a hold it would later release.
    let standby = !obs.local.leader && obs.local.eligible && !obs.local.shutting_down;
    if standby {
        s.presence.hold = None;
    }
    let own_presence = s
        .presence
        .observer
        .state(region, timing.lease_duration(), now);
    let regions = present_regions(&s, obs, representative, own_presence, timing);
    let server_now_ms = steady_server_now(&mut s, obs);
    let ranking = rank(&regions, server_now_ms);
    if representative {
        s.representative_since.get_or_insert(now);
    } else {
        s.representative_since = None;
    }
    // The best region by policy alone, as if every region were present: until we have watched the
    // presence leases for a lease duration, a better region may simply not have announced itself.
    let mut everyone = regions.clone();
    for v in everyone.values_mut() {
        v.present = true;
    }
    let step = Step {
        obs,
        timing,
        now,
        region,
        representative,
        ours_allowed: ranking
            .effective
            .get(region)
            .is_some_and(|e| e.allows_forging),
        preferred: ranking.preferred.clone(),
        best_by_policy: rank(&everyone, server_now_ms).preferred,
        server_now_ms,
    };

    // 3. Why the preference is what it is (operator change, recovery, degradation).
    track_preference(&mut s, &ranking, &regions, now);

    // 4. Presence: held while our region has an eligible local leader, whatever its policy, so an
    //    operator's change and the presence it enables are seen in the same decision elsewhere.
    actions.extend(presence_write(&mut s, &step, standby, own_presence));

    // 5. The global lease and the gate.
    let (gate, message, handing_over) = if s.global.hold.is_some() {
        global_held(&mut s, &step, &mut actions)
    } else {
        let (gate, message) = global_not_held(&mut s, &step, &mut actions);
        (gate, message, false)
    };
    let wake_by = cluster_wake_by(&s, &step, standby, handing_over);
    debug_assert_cluster_safe(&s, obs, gate, &actions, timing);
    ClusterDecision {
        next: s,
        gate,
        actions,
        ranking,
        message,
        wake_by,
    }
}

/// The invariants docs/safety.md argues from for the cross-region decision, checked on every
/// decision of a debug build: the gate opens only on a live, promotable global hold, and the global
/// lease leaves our region (handoff or release) only once the region is quiet and our node is
/// verifiably off.
fn debug_assert_cluster_safe(
    s: &ClusterState,
    obs: &ClusterObservations,
    gate: Gate,
    actions: &[ClusterAction],
    timing: &Timing,
) {
    let now = obs.now;
    debug_assert!(
        gate != Gate::Allow || s.global.may_promote(now, timing),
        "the gate opens without a live, promotable global hold"
    );
    debug_assert!(
        !actions.iter().any(|a| {
            matches!(
                a,
                ClusterAction::Handoff { .. }
                    | ClusterAction::Global {
                        write: LeaseWriteKind::Release
                    }
            )
        }) || (obs.local.region_quiet && obs.local.forging_off),
        "a handoff or release before our region is quiet and our node verifiably off"
    );
}

/// What one cluster decision has established before it acts on the global lease.
struct Step<'a> {
    obs: &'a ClusterObservations,
    timing: &'a Timing,
    now: MonoTime,
    region: &'a str,
    /// We are our region's eligible local leader (not shutting down).
    representative: bool,
    /// Our region's policy allows forging.
    ours_allowed: bool,
    /// The preferred region.
    preferred: Option<String>,
    /// The best region by policy alone, as if every region were present.
    best_by_policy: Option<String>,
    /// The server time overrides are judged on ([`steady_server_now`]).
    server_now_ms: Option<i64>,
}

/// Step 1: the global and presence lease events, then the other regions' presence records.
fn observe_leases(s: &mut ClusterState, obs: &ClusterObservations, timing: &Timing) {
    let (now, region) = (obs.now, obs.region.as_str());
    s.global.apply(&obs.global, region, now, timing);
    // Presence names the region, not the pod: it says the region has an eligible pod, which
    // outlives any one pod (a region must not look absent because its leader died while a
    // standby of it could take over).
    s.presence.apply(&obs.presence, region, now, timing);
    // A failed read is not in `obs.others`: what we observed stays (a blip must not make a dead
    // region's presence "first seen" again). But after a long blindness (an outage of the
    // coordination API) a record unchanged across it proves only that nobody could write it
    // either: we watch it afresh, so a live region gets a lease duration to renew before it
    // counts as absent, and a worse region does not win the race out of the outage.
    for (name, record) in &obs.others {
        let blind = s
            .others_read_at
            .get(name)
            .is_some_and(|at| now.since(*at) > timing.lease_duration() / 2);
        let observer = s.others.entry(name.clone()).or_default();
        if blind {
            *observer = LeaseObserver::default();
        }
        observer.observe(record.as_ref(), now);
        s.others_read_at.insert(name.clone(), now);
    }
}

/// Step 2: every region's view with `present` filled in.
fn present_regions(
    s: &ClusterState,
    obs: &ClusterObservations,
    representative: bool,
    own_presence: LeaseState,
    timing: &Timing,
) -> BTreeMap<String, RegionView> {
    let mut regions = obs.regions.clone();
    for (name, view) in regions.iter_mut() {
        view.present = if *name == obs.region {
            // A standby sees its region as the others do (its leader's presence), so what it
            // carries into leadership (the preference, its cause, a failback timer) is what its
            // leader computed, not a view with its own region absent.
            representative || (!obs.local.shutting_down && own_presence == LeaseState::HeldByMe)
        } else {
            s.others.get(name).is_some_and(|o| {
                matches!(
                    o.state("", timing.lease_duration(), obs.now),
                    LeaseState::HeldByOther
                )
            })
        };
    }
    regions
}

/// Step 3: the preference and its cause. Only what operators control (state, priority, override
/// in force) counts as their change; health moves the reported priority and reason too, but a
/// recovery must wait its failback.
fn track_preference(
    s: &mut ClusterState,
    ranking: &Ranking,
    regions: &BTreeMap<String, RegionView>,
    now: MonoTime,
) {
    let operator_view: BTreeMap<&String, (State, i32, bool)> = ranking
        .effective
        .iter()
        .map(|(n, e)| (n, (e.state, e.priority, e.override_active)))
        .collect();
    let digest = serde_json::to_string(&operator_view).unwrap_or_default();
    let keys: BTreeMap<String, RankKey> = ranking.candidates.iter().cloned().collect();
    let operator_change = !s.policy_digest.is_empty() && s.policy_digest != digest;
    match (&s.preferred, &ranking.preferred) {
        (Some((p, _, _)), Some(q)) if p == q => {
            if operator_change && let Some(entry) = s.preferred.as_mut() {
                // The same region, for a new reason: an operator's change acts at once.
                entry.2 = Cause::Operator;
            }
        }
        (_, Some(q)) => {
            let improved = match (s.last_keys.get(q), keys.get(q)) {
                // A region absent from our last decision that is present now came back, even
                // when no region was a candidate then (the one we had just left): a standby's
                // round right after its departing leader released our presence saw none, and
                // took the preferred region's return for a degradation, handing over at once
                // inside its failback delay (region-mate-late-for-the-grace at 10 and 20 ms,
                // once the watch caches moved the rounds). A first decision is an operator's
                // (below).
                (None, Some(_)) => true,
                (Some(before), Some(after)) => after < before,
                _ => false,
            };
            let cause = if operator_change || s.policy_digest.is_empty() {
                Cause::Operator
            } else if improved {
                Cause::Recovery
            } else {
                Cause::Degradation
            };
            s.preferred = Some((q.clone(), now, cause));
        }
        (_, None) => s.preferred = None,
    }
    // A recovery must be clean for the whole failback delay: any failed probe of the recovering
    // region (still "healthy" by hysteresis) restarts its timer, so a flapping endpoint never
    // wins forging back mid-flap.
    if let Some((p, since, Cause::Recovery)) = s.preferred.as_mut()
        && regions
            .get(p.as_str())
            .is_some_and(|v| v.health.consecutive_failures > 0)
    {
        *since = now;
    }
    s.policy_digest = digest;
    s.last_keys = keys;
}

/// Step 4: the presence write: held by the representative, touched by a standby when stale.
fn presence_write(
    s: &mut ClusterState,
    step: &Step,
    standby: bool,
    own_presence: LeaseState,
) -> Option<ClusterAction> {
    let (now, timing) = (step.now, step.timing);
    if standby {
        let stale = s
            .presence
            .observer
            .unchanged_for(now)
            .is_some_and(|d| d >= PRESENCE_TOUCH_AFTER_RETRIES * timing.retry_period());
        return (own_presence == LeaseState::HeldByMe && stale).then_some(
            ClusterAction::Presence {
                write: LeaseWriteKind::Acquire,
            },
        );
    }
    s.presence
        .next_write(step.region, step.representative, true, now, timing)
        .map(|write| ClusterAction::Presence { write })
}

/// Step 5, while we hold the global lease (perhaps no longer validly: the deadline closes the
/// gate by itself): keep it, step down for its deletion, or hand it over. Returns the gate, why,
/// and whether a handover is under way.
fn global_held(
    s: &mut ClusterState,
    step: &Step,
    actions: &mut Vec<ClusterAction>,
) -> (Gate, String, bool) {
    let (now, region, obs) = (step.now, step.region, step.obs);
    let successor = step.preferred.clone().filter(|p| p != region);
    let leave = !step.representative || !step.ours_allowed;
    let hand_over = match (&s.preferred, &successor) {
        (Some((p, since, cause)), Some(q)) if p == q => match cause {
            Cause::Operator | Cause::Degradation => true,
            Cause::Recovery => now.since(*since) >= obs.failback_delay,
        },
        _ => false,
    };
    if s.global.deleting() && step.representative {
        // An operator deleted the global lease; our finalizer keeps it naming our region while
        // our node steps down. Once it is verifiably off (and no deposed local leader of ours may
        // still forge), the deletion completes and we create the lease again, at once
        // promotable: nobody forged under the deleted record but us.
        let quiet = obs.local.forging_off && obs.local.region_quiet;
        actions.extend(global_write(s, step, true, quiet));
        let message = "an operator deleted the global lease: stepping down to create it again";
        return (Gate::Deny(Reason::LeaseDeleted), message.into(), false);
    }
    if leave || hand_over {
        let message = leave_global(s, step, successor, actions);
        return (Gate::Deny(Reason::PolicyDisallows), message, true);
    }
    // A node that is verifiably off may not *start* on a hold whose last write met a 409 (someone
    // else wrote the lease: read it first); a forging one keeps forging on it until that read or
    // its deadline, as in the local election.
    let holds = if obs.local.forging_off {
        s.global.may_start(now, step.timing)
    } else {
        s.global.may_promote(now, step.timing)
    };
    actions.extend(global_write(s, step, true, false));
    let mut message = if holds {
        "our region holds the global lease".to_string()
    } else {
        "our region holds a new global lease: waiting a lease duration".to_string()
    };
    if let (Some(q), Some((_, since, Cause::Recovery))) = (&successor, &s.preferred) {
        let left = obs.failback_delay.saturating_sub(now.since(*since));
        message = format!(
            "{q} is preferred again after a recovery: handing over in {}s",
            left.as_secs()
        );
    }
    let gate = if holds {
        Gate::Allow
    } else if s.global.conflict && s.global.may_promote(now, step.timing) {
        message = "our region's last global-lease write met a conflict: reading the lease before \
                   forging starts"
            .into();
        Gate::Deny(Reason::LeaseConflict)
    } else if s.global.hold.as_ref().is_some_and(|h| h.settling) {
        message = "our region took the global lease from a verified demotion elsewhere: waiting \
                   out the slot in progress before forging"
            .into();
        Gate::Deny(Reason::SlotSettling)
    } else {
        Gate::Deny(Reason::LeaseNewWaiting)
    };
    (gate, message, false)
}

/// The next write of the global seat, as an action.
fn global_write(
    s: &ClusterState,
    step: &Step,
    want: bool,
    may_release: bool,
) -> Option<ClusterAction> {
    s.global
        .next_write(step.region, want, may_release, step.now, step.timing)
        .map(|write| ClusterAction::Global { write })
}

/// Step 5, leaving a global lease we hold (our policy or presence no longer allows forging, or
/// another region is preferred): demote first, hand over only once our region is quiet.
fn leave_global(
    s: &mut ClusterState,
    step: &Step,
    successor: Option<String>,
    actions: &mut Vec<ClusterAction>,
) -> String {
    let (now, local) = (step.now, step.obs.local);
    let forging_off = local.forging_off;
    let whither = whither(step, successor.as_deref());
    let promotable = s
        .global
        .hold
        .as_ref()
        .is_some_and(|h| now >= h.promotable_at || h.settling);
    if forging_off && !promotable {
        // Still waiting out a global lease we created: let it lapse rather than hand it over (a
        // handoff is taken at once, which only an entitled holder may offer). No longer our
        // region's leader: forget it too (below: another pod of ours may write it now).
        if !local.leader {
            s.global.hold = None;
        }
        "leaving a global lease we were still waiting on: letting it lapse".to_string()
    } else if forging_off && !local.region_quiet && !step.representative {
        // No longer our region's leader: another pod of ours may lead and forge under this lease
        // now. Neither release nor renew it; it lapses unless that pod keeps it. And forget it:
        // the lease names our region, so from now on that pod may renew it, hand it over or
        // release it, and our record says nothing. Should we lead again, we read it first; a hold
        // kept until then opened our gate on a lease another pod of ours had meanwhile handed to
        // another region (chaos seed 3318).
        s.global.hold = None;
        "no longer our region's leader: leaving the global lease to it".to_string()
    } else if forging_off && !local.region_quiet {
        // Our node is off, but a deposed local leader of our region may still forge until its
        // local lease fences it: keep the lease until ours is promotable.
        actions.extend(global_write(s, step, true, false));
        format!(
            "handing forging over {whither} once our local lease is settled (a previous local \
             leader may still be forging)"
        )
    } else if forging_off && successor.is_none() && local.shutting_down {
        // A departing pod whose region-mate did not take the released local lease within the
        // successor grace, and no other region to take over: a release would only make the lease
        // free, and a free lease goes at once to the best region by policy as soon as it leads,
        // a region coming back from a loss included (its fresh pods have no failback timer),
        // while the region-mate, a moment late, waits a lease duration as a worse region (chaos
        // seed 4166). The record names our region: whichever pod of ours leads next takes it at
        // once (as within the grace), and it lapses if none does. Nothing is written: our node is
        // verifiably off and our local hold was settled when we released it.
        s.global.hold = None;
        "our node is verifiably not forging and no other region may forge: leaving the global \
         lease to our region (the pod of ours that leads next takes it, else it lapses); we are \
         shutting down"
            .to_string()
    } else if forging_off {
        actions.push(match successor {
            Some(to) => ClusterAction::Handoff { to },
            None => ClusterAction::Global {
                write: LeaseWriteKind::Release,
            },
        });
        format!("our node is verifiably not forging: handing the global lease over {whither}")
    } else {
        // Until our node is verifiably not forging, keep the global lease: no other region may
        // forge while ours might.
        actions.extend(global_write(s, step, true, false));
        format!("handing forging over {whither}: demoting our node first")
    }
}

/// Where forging goes and why, for a handover's message: the successor and what ranks it (its
/// override and reason when one decides), and why our region leaves. An operator reading the log
/// at 3 a.m. sees who takes over and on whose word.
fn whither(step: &Step, successor: Option<&str>) -> String {
    let obs = step.obs;
    let local = obs.local;
    let policy = |region: &str| {
        obs.regions.get(region).map_or_else(
            || "not in the policy list".to_string(),
            |v| crate::policy::describe(v, step.server_now_ms),
        )
    };
    let ours = if local.shutting_down {
        "we are shutting down".to_string()
    } else if !local.leader {
        "we no longer lead our region".to_string()
    } else if !local.eligible {
        "our node is not eligible".to_string()
    } else if !step.ours_allowed {
        format!("our region may not forge: {}", policy(step.region))
    } else {
        format!("ours: {}", policy(step.region))
    };
    match successor {
        Some(q) => format!("to {q} ({}); {ours}", policy(q)),
        None => format!("to no region (none other may forge); {ours}"),
    }
}

/// Step 5, while we do not hold the global lease: take it when it is ours to take (a handoff at
/// once; free, expired or absent by the preferred region at once, by a worse one after a further
/// lease duration). The gate stays shut in this step whatever we do.
fn global_not_held(
    s: &mut ClusterState,
    step: &Step,
    actions: &mut Vec<ClusterAction>,
) -> (Gate, String) {
    let (now, region, timing) = (step.now, step.region, step.timing);
    let state = s
        .global
        .observer
        .state(region, timing.lease_duration(), now);
    let available = match state {
        LeaseState::Absent => s.global.absent_seen,
        LeaseState::Free | LeaseState::Expired => true,
        LeaseState::HeldByMe | LeaseState::HeldByOther => false,
    };
    // Counted only while we can see the lease: a wait that passed while the coordination API was
    // unreachable (for everyone, perhaps) proves nothing about a better region.
    let seen = !matches!(step.obs.global, LeaseEvent::ReadFailed(_));
    if available && seen {
        s.global_available_since.get_or_insert(now);
    } else {
        s.global_available_since = None;
    }
    let waited = s
        .global_available_since
        .is_some_and(|since| now.since(since) >= timing.lease_duration());
    let settled = step.best_by_policy.as_deref() == Some(region)
        || s.representative_since
            .is_some_and(|since| now.since(since) >= timing.lease_duration());
    let preferred_is_us = step.preferred.as_deref() == Some(region);
    // A record naming our region (a handoff) is taken even when our policy no longer allows
    // forging: only its holder can pass it on at once; left alone it would lapse, and forging
    // would wait a lease duration (the gate stays shut: see `leave` in `global_held`).
    let take = step.representative
        && match state {
            LeaseState::HeldByMe => true,
            // Our region's own record, whose deletion we completed: created again at once
            // (handing it over, if policy says so, is then a planned move like any other).
            LeaseState::Absent if s.global.recreate_from.is_some() => step.ours_allowed,
            LeaseState::Free | LeaseState::Expired | LeaseState::Absent => {
                step.ours_allowed && ((preferred_is_us && settled) || waited)
            }
            LeaseState::HeldByOther => false,
        };
    actions.extend(global_write(s, step, take, false));
    let holder = s
        .global
        .observer
        .holder(timing.lease_duration(), now)
        .map(str::to_owned)
        .unwrap_or_default();
    let message = match state {
        LeaseState::HeldByOther => format!("region {holder} holds the global lease"),
        _ if !step.representative => "not our region's eligible local leader".into(),
        _ if !step.ours_allowed => "our region's policy does not allow forging".into(),
        _ if take => "taking the global lease".into(),
        // Preferred by the policy we see, but a region that ranks better on paper (and is only
        // absent from our view) or our own leadership is too recent to be trusted: a free lease
        // is taken only after a lease duration (a region that is merely slow to show up must not
        // lose forging to us at once).
        _ if preferred_is_us => format!(
            "the global lease is available and {region} is preferred, but we lead our region too \
             recently to take a free lease: waiting up to a lease duration"
        ),
        _ => format!(
            "the global lease is available but {} is preferred: waiting",
            step.preferred.as_deref().unwrap_or("another region")
        ),
    };
    // The step in which our hold fenced itself says so: the gate shut on a deadline, not a policy.
    if s.global.fenced_at == Some(now) {
        let fenced = format!("our region's global lease passed its renew deadline: {message}");
        return (Gate::Deny(Reason::GlobalLeaseFenced), fenced);
    }
    (Gate::Deny(Reason::PolicyDisallows), message)
}

/// When to decide again. A standby that holds nothing here looks once a lease duration: what it
/// keeps warm for the day it leads (a tenure's first sighting, the policy's history for the
/// failback delay) only grows older between looks, which delays, never hastens, what it may do
/// then (and a round after a watched lease's observed expiry always reads afresh). Standbys were
/// most of the coordination API's load at a third of a lease duration. A local leader looks every
/// retry period.
fn cluster_wake_by(s: &ClusterState, step: &Step, standby: bool, handing_over: bool) -> MonoTime {
    let (now, timing) = (step.now, step.timing);
    let holds_nothing = s.global.hold.is_none() && s.presence.hold.is_none();
    let mut wake_by = if standby {
        // Often enough to see a leader's presence stop and touch it well inside a lease duration.
        now + timing
            .retry_period()
            .max(timing.lease_duration() / PRESENCE_LOOKS_PER_LEASE)
    } else if !step.obs.local.leader && holds_nothing {
        now + timing.retry_period().max(timing.lease_duration())
    } else {
        now + timing.retry_period()
    };
    if handing_over || s.global.deleting() || s.global.recreate_from.is_some() {
        // The local demotion is verified within a few hundred milliseconds: hand over (or let a
        // deleted lease go and create it again) right after.
        wake_by = wake_by.min(now + super::election::VERIFY_POLL);
    }
    if step.preferred.as_deref() == Some(step.region)
        && s.global.hold.is_none()
        && step.representative
    {
        // A handoff to us may come any moment: look often (the planned-handover gap).
        wake_by = wake_by.min(now + Duration::from_millis(150));
    }
    for seat in [&s.global, &s.presence] {
        if let Some(d) = seat.deadline(timing) {
            wake_by = wake_by.min(d);
        }
    }
    // A handoff waiting out the slot in progress: open the gate as soon as it has.
    if let Some(h) = s.global.hold.as_ref().filter(|h| h.settling)
        && h.promotable_at > now
    {
        wake_by = wake_by.min(h.promotable_at);
    }
    wake_by
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
