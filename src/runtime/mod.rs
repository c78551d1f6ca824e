//! The control loop: observe → decide → act → record, generic over the four ports.
//!
//! The loop owns no policy: every choice is made by [`crate::core::election::decide`]. This module
//! turns the world into [`Observations`], carries out the [`Action`]s in order, feeds their results
//! back as the next observation, and tells a [`Recorder`] (journal, logs, metrics, status) what
//! happened. Every wait is bounded by the `Clock` port, so the same code runs in real and in
//! simulated time.

mod actions;
pub mod cluster;
pub mod journal;
mod requests;

use requests::local_successor_within;
pub use requests::{
    LeaseScope, failed_write_means, lease_write, read_lease, send_lease_write, with_timeout,
};

pub use crate::report::{
    ActionResult, ClusterStep, LogRecorder, NoRecorder, Recorder, SighupConfirmed, SighupKind,
    SighupOutcome, Status, Tee, TickRecord, sighup_verdict,
};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{Either, select};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::core::decisions::{CORRECT, Decisions};
use crate::core::election::{
    Action, Decision, ElectionState, Forging, Gate, LeaseEvent, LeaseWriteKind, NodeView,
    Observations, ProcessId, reprovision,
};
use crate::core::eligibility::Eligibility;
use crate::core::lease::{ApiFailure, LEASE_FINALIZER, LeaseRecord};
use crate::core::slots::SlotClock;
use crate::core::time::MonoTime;
use crate::core::timing::Timing;
use crate::crd::CardanoLeaderStatus;
use crate::credentials::{self, CredentialPaths, CredentialSet};
use crate::ports::{Clock, Fs, Kube, KubeError, LeaseWrite, Node, NodeProcess};

/// A departing leader waits `retry_period / SUCCESSOR_GRACE` (200 ms by default), plus its
/// release's round trip (at most as much again), for another pod of its region to take the
/// released local lease before it hands the global lease to another region: a watching standby
/// takes a released lease within one request, on the observations it already has
/// (`Runtime::reuse_on_release`). One that is slower only costs liveness: forging moves to the
/// next region and comes back after the failback delay; with no other region that may forge, the
/// global lease is left naming our region (not released), and the late one takes it when it leads.
const SUCCESSOR_GRACE: u32 = 10;

/// How many decisions one wake-up may take: a lease write's result is acted on at once (acquire,
/// then promote in the same wake-up) but a wake-up never loops. More would let a promotion rest on
/// a gate coordinated several round trips earlier (scenario no-promotion-on-a-stale-policy-read).
const MAX_DECISIONS_PER_WAKE: usize = 3;

/// Where the standby (bootable, never-leading) credential set comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CredentialMode {
    /// Decoy files (a throw-away cold key) stay in place on standbys.
    Decoy(CredentialPaths),
    /// The old behaviour: real keys are copied in before the node starts and removed from
    /// standbys once it runs. The node must start non-producing.
    Copy,
}

/// What the loop needs to know about its pod.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lease holder identity (the pod name).
    pub identity: String,
    /// Name of the local lease.
    pub lease_name: String,
    /// Name of the CardanoLeader object whose status the leader writes (`None`: do not write).
    pub leader_status_name: Option<String>,
    /// The timing budget (validated at start).
    pub timing: Timing,
    /// The mounted secret: the real credentials.
    pub source: CredentialPaths,
    /// Where cardano-node reads its credentials.
    pub target: CredentialPaths,
    /// The standby set.
    pub mode: CredentialMode,
    /// The dead-man switch's heartbeat file.
    pub heartbeat: PathBuf,
    /// Seed of the retry jitter (the pod's own; the simulator passes its seed).
    pub jitter_seed: u64,
    /// The chain's slot clock: planned demotions wait for a slot start, and records say in which
    /// slot each SIGHUP was sent and confirmed (`None`: neither).
    pub slot_clock: Option<SlotClock>,
}

/// What an action's step reported: success, sentence, files changed, SIGHUP fate.
type Outcome = (bool, String, bool, SighupOutcome);

/// Heartbeat of the dead-man switch: the watchdog demotes the node once an armed heartbeat's
/// fencing instant has passed (docs/safety.md §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// When written, on the pod's monotonic clock (ms).
    pub mono_ms: u64,
    /// Armed before a promotion, disarmed after a verified demotion.
    pub armed: bool,
    /// The instant (same clock, ms) at which the sidecar itself fences: the earliest renew
    /// deadline of every hold the node's forging rests on (the local lease, and the global lease
    /// with cluster management on), counted from the *send* instant of the renewal each rests on.
    /// Absent in heartbeats written by older versions: the watchdog then falls back to `mono_ms +
    /// renew_deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_at_ms: Option<u64>,
}

/// The control loop of one pod. `G` decides whether the region may forge: [`cluster::Standalone`]
/// (cluster management off) or a [`cluster::ClusterLoop`].
pub struct Runtime<C, K, F, N, R, G = cluster::Standalone> {
    coordinator: G,
    cluster_wake: Option<MonoTime>,
    /// The coordinator's decisions not yet handed to the recorder.
    cluster_steps: Vec<ClusterStep>,
    /// Local leadership at the last coordination.
    coordinated_as_leader: Option<bool>,
    /// The last validation: (fingerprint of the set, its result). Validation is costly (KES key
    /// derivation); the same bytes always give the same answer.
    validated: Option<(String, Option<String>)>,
    clock: C,
    kube: K,
    fs: F,
    node: N,
    recorder: R,
    settings: Settings,
    state: ElectionState,
    pending: LeaseEvent,
    /// A write of ours met a 409 and the core has just taken it in: the lease is read at once, so
    /// a standby that lost an acquire race watches the winner's record instead of sleeping out a
    /// retry period blind (the winner may release it within that period).
    read_soon: bool,
    gate: Gate,
    shutting_down: bool,
    armed: bool,
    /// The fencing instant the armed heartbeat carries.
    armed_fence_at: Option<MonoTime>,
    /// Our local hold was settled (promotable) when a shutdown released it: no other pod of our
    /// region may have been forging then.
    left_quiet: bool,
    /// When we last coordinated.
    coordinated_at: Option<MonoTime>,
    /// The resourceVersion our release of the local lease left.
    released_version: Option<String>,
    /// How long that release took to answer.
    release_round_trip: Duration,
    rng: SmallRng,
    status: Arc<Mutex<Status>>,
    leader_status_written: Option<(String, bool)>,
    /// Fingerprint of the real set last written onto the node (promotion or reprovision): a
    /// different valid source set on a verified forger is a key rotation.
    provisioned: Option<String>,
    /// The decision functions: the correct core, unless a test harness gives it another.
    decisions: &'static dyn Decisions,
    /// The node and credential part of the last full observation pass, and when it was taken
    /// (see [`Self::reuse_on_release`]).
    /// Its lease event is always `Nothing`: the lease is never reused.
    last_local: Option<Seen>,
    /// The last SIGHUP sent and not yet confirmed or given up on.
    sighup_sent: Option<SentSighup>,
}

/// A SIGHUP on its way: what [`SighupConfirmed`] is measured from.
#[derive(Clone, Copy, Debug)]
struct SentSighup {
    kind: SighupKind,
    planned: bool,
    mono: MonoTime,
    wall_ms: i64,
    /// A demotion's: the last moment the node was known forging (the SIGHUP, or a later read).
    last_on_wall_ms: i64,
}

/// What one observation pass found, besides the core's inputs.
#[derive(Clone)]
struct Seen {
    observations: Observations,
    process: Option<NodeProcess>,
}

impl<C: Clock, K: Kube, F: Fs, N: Node, R: Recorder> Runtime<C, K, F, N, R, cluster::Standalone> {
    /// A loop that has not decided anything yet (cluster management off).
    pub fn new(clock: C, kube: K, fs: F, node: N, recorder: R, settings: Settings) -> Self {
        let rng = SmallRng::seed_from_u64(settings.jitter_seed);
        Runtime {
            coordinator: cluster::Standalone,
            cluster_wake: None,
            cluster_steps: Vec::new(),
            coordinated_as_leader: None,
            validated: None,
            clock,
            kube,
            fs,
            node,
            recorder,
            settings,
            state: ElectionState::default(),
            pending: LeaseEvent::Nothing,
            read_soon: false,
            gate: Gate::Allow,
            shutting_down: false,
            armed: false,
            armed_fence_at: None,
            left_quiet: false,
            coordinated_at: None,
            released_version: None,
            release_round_trip: Duration::ZERO,
            rng,
            status: Arc::new(Mutex::new(Status::default())),
            leader_status_written: None,
            provisioned: None,
            decisions: &CORRECT,
            last_local: None,
            sighup_sent: None,
        }
    }

    /// The same loop, deciding with `decisions` instead of the correct core. No production path
    /// calls this: it is how the simulator's canary runs a deliberately broken core.
    pub fn with_decisions(mut self, decisions: &'static dyn Decisions) -> Self {
        self.decisions = decisions;
        self
    }

    /// The same loop, with cross-region coordination by `coordinator`.
    pub fn with_coordinator<G: cluster::Coordinator>(
        self,
        coordinator: G,
    ) -> Runtime<C, K, F, N, R, G> {
        Runtime {
            coordinator,
            cluster_wake: None,
            cluster_steps: Vec::new(),
            coordinated_as_leader: None,
            validated: self.validated,
            clock: self.clock,
            kube: self.kube,
            fs: self.fs,
            node: self.node,
            recorder: self.recorder,
            settings: self.settings,
            state: self.state,
            pending: self.pending,
            read_soon: self.read_soon,
            gate: self.gate,
            shutting_down: self.shutting_down,
            armed: self.armed,
            armed_fence_at: self.armed_fence_at,
            left_quiet: self.left_quiet,
            coordinated_at: self.coordinated_at,
            released_version: self.released_version,
            release_round_trip: self.release_round_trip,
            rng: self.rng,
            status: self.status,
            leader_status_written: self.leader_status_written,
            provisioned: self.provisioned,
            decisions: self.decisions,
            last_local: self.last_local,
            sighup_sent: self.sighup_sent,
        }
    }
}

impl<C: Clock, K: Kube, F: Fs, N: Node, R: Recorder, G: cluster::Coordinator>
    Runtime<C, K, F, N, R, G>
{
    /// The status shared with the HTTP server.
    pub fn status(&self) -> Arc<Mutex<Status>> {
        Arc::clone(&self.status)
    }

    /// The election state (for tests and the simulator's oracle).
    pub fn state(&self) -> &ElectionState {
        &self.state
    }

    /// Sets whether cluster policy lets this region forge.
    pub fn set_gate(&mut self, gate: Gate) {
        self.gate = gate;
    }

    /// Starts a graceful shutdown: demote, verify, release, then `run` returns.
    pub fn begin_shutdown(&mut self) {
        self.shutting_down = true;
    }

    /// Runs until a shutdown completes. `shutdown` resolves when SIGTERM arrives. Returns how
    /// the local lease was left (released, left to expire, or never held), for the last log line.
    pub async fn run(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Option<crate::core::election::Released> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let d = self.wake().await;
            if d.shutdown_complete {
                self.leave_region().await;
                return self.state.seat.released;
            }
            let wait = self.next_wait(&d);
            if self.shutting_down {
                // Shutting down: no waiting on the lease, only on the node's confirmation.
                self.clock
                    .sleep(wait.min(crate::core::election::VERIFY_POLL))
                    .await;
                continue;
            }
            let interrupted = {
                let sleep = std::pin::pin!(self.idle(wait));
                matches!(select(sleep, shutdown.as_mut()).await, Either::Right(_))
            };
            if interrupted {
                self.shutting_down = true;
            }
        }
    }

    /// The last step of a graceful shutdown, after the verified demotion and the local release:
    /// if our region still holds the global lease through us, it must not simply lapse (a gap of a
    /// lease duration). Another pod of our region that takes the released local lease inherits
    /// it, so we wait a moment for one ([`SUCCESSOR_GRACE`] of a retry period); if none comes,
    /// we were our region's last eligible pod and hand the global lease to the preferred region
    /// (with no other region that may forge, the core leaves it naming ours: see
    /// `crate::core::cluster`).
    ///
    /// Safe although we no longer lead our region: our node is verifiably off, our local hold was
    /// settled when we released it (no deposed leader of ours may still forge), and a pod of ours
    /// that leads from now on can forge only after *acquiring* the global lease, which changes
    /// its resourceVersion: then our handoff, a replace carrying the version we hold, gets a 409
    /// and changes nothing; if our handoff lands first, that pod finds the lease held by another
    /// region and does not forge. Then our CardanoLeader status is cleared.
    async fn leave_region(&mut self) {
        self.hand_global_lease_over().await;
        let cleared = self.leader_status_cleared();
        self.patch_leader_status(cleared).await;
    }

    /// The global-lease part of [`Self::leave_region`].
    async fn hand_global_lease_over(&mut self) {
        if !self.coordinator.holds_region() || !self.left_quiet {
            return;
        }
        // The successor's reaction is counted from when we can see it: opening our watch costs
        // a round trip, as the release did, and so does the successor's acquire (soak seed 2022:
        // a region-mate's acquire reached the API server just inside 200 ms of our release, and
        // our watch, opened in the same spell, showed it too late).
        let grace = self.settings.timing.retry_period() / SUCCESSOR_GRACE
            + self
                .release_round_trip
                .min(self.settings.timing.retry_period() / SUCCESSOR_GRACE);
        // The policy the handoff is judged on is read while we wait: after the verified demotion,
        // and without a round trip of its own.
        let Some(released) = self.released_version.clone() else {
            return;
        };
        let (successor, ()) = futures::join!(
            local_successor_within(
                &self.clock,
                &self.kube,
                &self.settings.lease_name,
                &self.settings.identity,
                released,
                grace,
            ),
            self.coordinator.refresh_policy(),
        );
        if successor {
            tracing::info!(
                "a pod of our region took the local lease: leaving the global lease to it"
            );
            return;
        }
        let local = crate::core::cluster::LocalView {
            leader: false,
            eligible: false,
            forging_off: true,
            shutting_down: true,
            region_quiet: true,
            answer_by: None,
        };
        self.coordinator.coordinate(local).await;
        // No local decision follows (the process ends): the round is recorded on its own.
        self.cluster_steps.extend(self.coordinator.take_steps());
        self.recorder
            .record_rounds(self.clock.now_wall(), &self.cluster_steps);
        self.cluster_steps.clear();
    }

    /// How long a local API request started now may take: never past the moment our local lease
    /// or the coordinator's global lease needs an answer (see `Seat::request_budget`).
    fn request_budget(&self) -> Duration {
        crate::core::election::request_budget(
            self.answer_by(),
            self.clock.now_mono(),
            &self.settings.timing,
        )
    }

    /// The earliest moment our local lease or the coordinator's global lease needs an answer (the
    /// renew deadline minus the demotion time), if we hold either.
    fn answer_by(&self) -> Option<MonoTime> {
        [
            self.state.seat.answer_by(&self.settings.timing),
            self.coordinator.answer_by(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The time to the next wake-up: a retry period shortened by jitter, never past the decision's
    /// `wake_by`.
    fn next_wait(&mut self, d: &Decision) -> Duration {
        let t = &self.settings.timing;
        let jitter = self.rng.random_range(0.0..=t.retry_jitter().max(0.0));
        // Jitter shortens the period: `wake_by` is at most one retry period away, so a lengthened
        // period was always cut back to it and every pod retried in lockstep.
        let period = t.retry_period().mul_f64(1.0 - jitter);
        let now = self.clock.now_mono();
        // A 409 on our write: hand it to the core at once, then read the lease at once (at most
        // two short waits per conflict; a conflict comes only from a write of ours).
        let conflict_pending = matches!(
            self.pending,
            LeaseEvent::WriteFailed {
                failure: ApiFailure::Conflict,
                ..
            }
        );
        if conflict_pending || std::mem::take(&mut self.read_soon) {
            return Duration::from_millis(10);
        }
        // A standby's watch ends on every change of the lease, so its retry-period poll would read
        // nothing new: it sleeps until the lease could expire by observation, the first moment it
        // may act on its own (or until the coordinator asks). `d.wake_by` is then only that poll: a
        // watchable standby holds no seat and awaits no SIGHUP.
        if let Some(expiry) = self.watched_expiry(now) {
            let until = self.cluster_wake.map_or(expiry, |c| c.min(expiry));
            return until.since(now).max(Duration::from_millis(10));
        }
        let wake_by = self.cluster_wake.map_or(d.wake_by, |c| c.min(d.wake_by));
        period
            .min(wake_by.since(now))
            .max(Duration::from_millis(10))
    }

    /// A standby that can watch the lease: the resourceVersion to watch from.
    fn watch_from(&self) -> Option<String> {
        let watchable = self.state.seat.hold.is_none()
            && !matches!(
                self.state.forging,
                Forging::Promoting { .. } | Forging::Demoting { .. }
            );
        watchable
            .then(|| self.state.seat.observer.record())
            .flatten()
            .map(|r| r.resource_version.clone())
    }

    /// For a standby that watches the lease and whose node verifiably does not forge (anything
    /// else has its own retries to make), when the lease expires by observation, if later than
    /// `now` (past it, the standby is trying to acquire and polls).
    fn watched_expiry(&self, now: MonoTime) -> Option<MonoTime> {
        if self.state.forging != Forging::Off || self.shutting_down {
            return None;
        }
        self.watch_from()?;
        self.state
            .seat
            .observer
            .expires_at(self.settings.timing.lease_duration())
            .filter(|at| *at > now)
    }

    /// Waits `wait`; a candidate watches the lease meanwhile, so it sees a release at once.
    async fn idle(&mut self, wait: Duration) {
        match self.watch_from() {
            Some(rv) => {
                let watched = self.kube.watch_lease(&self.settings.lease_name, &rv, wait);
                let start = self.clock.now_mono();
                // However short the wait, the watch gets its answer window: a release it was
                // opened to catch answers a round trip or two after the opening, and a wait
                // that ends first loses it to a fresh read a round trip later (soak seed 7254:
                // a 150 ms wait, the release's answer due 50 ms after it, and the region-mate's
                // acquire landed 300 ms after the release, past the departing pod's grace).
                let result =
                    with_timeout(&self.clock, wait.max(self.watch_answer_window()), watched).await;
                let now = self.clock.now_mono();
                match result {
                    Some(Ok(record)) => self.pending = LeaseEvent::Read(record),
                    // A failed or timed-out watch: sleep out the rest of the wait, at most a retry
                    // period (the watch is what let the standby sleep longer than that).
                    _ => {
                        let left = wait.saturating_sub(now.since(start));
                        self.clock
                            .sleep(left.min(self.settings.timing.retry_period()))
                            .await;
                    }
                }
            }
            _ if self.state.forging == Forging::Off => {
                // A local leader not forging: its coordinator may wait on news (a handoff).
                if !self.coordinator.wait_for_news(wait).await {
                    self.clock.sleep(wait).await;
                }
            }
            _ => self.clock.sleep(wait).await,
        }
    }

    /// One wake-up: up to [`MAX_DECISIONS_PER_WAKE`] decisions, each followed by its actions.
    pub async fn wake(&mut self) -> Decision {
        let mut last = None;
        let mut round = 0;
        // Whether a round's watch brought news in this wake-up (at most once).
        let mut news_taken = false;
        while round < MAX_DECISIONS_PER_WAKE {
            let mut seen = self.observe().await;
            let now = self.clock.now_mono();
            // Between finalizing the deletion of our lease and creating it again we are still
            // our region's leader (nobody else may take it meanwhile): the coordinator must not
            // give up the region's global hold in that instant.
            let leader = self.state.seat.holds(now, &self.settings.timing)
                || self.state.seat.recreate_from.is_some();
            // A local leader coordinates once per wake-up; anyone coordinates again when local
            // leadership changed (a new local leader takes its region's global lease in the same
            // wake-up). Otherwise a standby coordinates only when the coordinator asked to be
            // called (it holds nothing there, and its gate cannot matter until it leads).
            let due = self.cluster_wake.is_none_or(|w| now >= w);
            // A departing pod that released its local lease coordinates no more here: its last
            // round, which hands the global lease over if nobody of ours takes it, is
            // `leave_region`'s (a round as a mere non-leader would forget the hold instead).
            let departed = self.shutting_down && self.released_version.is_some() && !leader;
            // While shutting down, the demotion needs no coordination (leaving denies the gate by
            // itself); a round is due only to keep renewing the global lease while our node might
            // still forge, at the renewal cadence. The verification polls in between are cheap.
            // So for any demotion under way: its verification, which a handover waits for, is not
            // held up by a round (a failback 0.5 s slower when a poll met a full round of reads
            // and writes). A gate shut by the last round stays shut; the global hold's fencing is
            // checked below on every wake-up all the same.
            let demoting =
                self.shutting_down || matches!(self.state.forging, Forging::Demoting { .. });
            let quiet_demotion = demoting
                && self
                    .coordinated_at
                    .is_some_and(|at| now.since(at) < self.settings.timing.retry_period() / 2);
            // Past the instant at which the global hold fences itself, a round's requests (each
            // given a few tens of milliseconds even past the answer-by) must not come before the
            // demotion: decide first with the gate shut, and coordinate at the next wake-up, once
            // the demotion is under way (soak seed 2538: a 120 ms round at the fencing instant,
            // then a freeze, and the node forged past the global lease).
            let gate_fenced = matches!(
                self.coordinator.gate_hold(),
                cluster::GateHold::Until(fence) if now >= fence
            ) && matches!(
                self.state.forging,
                Forging::On | Forging::Promoting { .. } | Forging::Unknown
            );
            // A standby that has just seen its local lease released (or deleted) takes it before
            // its round, not after: the departing leader gives its region-mates only a short
            // grace before it hands the global lease to another region, and a round costs a
            // round trip or two (soak seed 4838: the region-mate's round started with the
            // release in hand, and its acquire landed 50 ms after the grace). The round is
            // still due at the next wake-up; an acquire makes us a leader, and a new leader
            // coordinates in the same wake-up before anything may be promoted.
            let free_to_take = !leader
                && matches!(&seen.observations.lease,
                    LeaseEvent::Read(r) if r.as_ref().is_none_or(|r| r.holder().is_none()));
            let mut watched_news = false;
            if gate_fenced {
                self.gate = Gate::Deny(crate::core::reason::Reason::GlobalLeaseFenced);
                seen.observations.gate = self.gate;
            } else if !departed
                && !quiet_demotion
                && ((round == 0 && !news_taken && (leader || (due && !free_to_take)))
                    || self.coordinated_as_leader != Some(leader))
            {
                self.coordinated_at = Some(now);
                self.coordinated_as_leader = Some(leader);
                let local = crate::core::cluster::LocalView {
                    leader,
                    eligible: seen.observations.eligibility.verdict().is_ok(),
                    forging_off: self.state.forging == Forging::Off,
                    shutting_down: self.shutting_down,
                    region_quiet: self.state.seat.may_promote(now, &self.settings.timing),
                    answer_by: self.state.seat.answer_by(&self.settings.timing),
                };
                // The watch resumes from what this wake-up observed, not from what the state
                // last took in: replaying a change already in hand is no news.
                let from = match &seen.observations.lease {
                    LeaseEvent::Read(Some(r)) => Some(r.resource_version.clone()),
                    _ => self.watch_from(),
                };
                let (gate, wake, news) = self.coordinate_watching(local, from).await;
                watched_news = news;
                self.cluster_steps.extend(self.coordinator.take_steps());
                self.gate = gate;
                self.cluster_wake = Some(wake);
                seen.observations.gate = gate;
                seen.observations.now = self.clock.now_mono();
            }
            if watched_news {
                // The round's watch saw the local lease change: what this pass observed is
                // stale, so nothing is decided on it; the next pass observes the change and
                // decides (no decision of the wake-up's budget is spent on the round).
                news_taken = true;
                continue;
            }
            let previous_role = self.state.role;
            let previous_forging = self.state.forging;
            let settled = self.state.seat.may_promote(now, &self.settings.timing);
            let mut d = self.decisions.decide(
                &self.state,
                &seen.observations,
                &self.settings.identity,
                &self.settings.timing,
            );
            self.state = d.next.clone();
            self.read_soon = d.next.seat.conflict
                && matches!(
                    seen.observations.lease,
                    LeaseEvent::WriteFailed {
                        failure: ApiFailure::Conflict,
                        ..
                    }
                );
            let rotated = self.source_rotated();
            if let Some(a) = reprovision(&d.next, d.entitled, rotated) {
                // Same precondition as a promotion: `entitled`, which the core only grants on a
                // live, promotable lease (its `debug_assert_safe` checks every decision).
                d.actions.push(a);
            }
            // Before the actions: the confirmation answers an earlier SIGHUP, and this decision's
            // own actions may send the next one.
            let confirmed = self.sighup_confirmed(previous_forging, &d, &seen);
            let released_before = self.released_version.clone();
            let results = self.act(&d, seen.process).await;
            if self.shutting_down && self.released_version != released_before {
                // This decision released the local lease on the way out.
                self.left_quiet = settled;
            }
            self.after(&d, &seen, &results).await;
            let tick = TickRecord {
                wall: self.clock.now_wall(),
                observations: &seen.observations,
                decision: &d,
                results: &results,
                previous_role,
                node: seen.process,
                cluster: &self.cluster_steps,
                confirmed: confirmed.as_ref(),
            };
            self.recorder.record(&tick);
            self.cluster_steps.clear();
            let wrote_lease = d.actions.iter().any(|a| matches!(a, Action::Lease { .. }))
                || self.coordinated_as_leader != Some(d.next.seat.hold.is_some());
            // A completed shutdown decides nothing more: `run` returns and `leave_region` follows
            // at once. Another decision would only read back the local lease just released (our
            // leadership changed, so `wrote_lease` holds), a round trip before the successor
            // grace and the handoff (soak seed 3483: a last pod's handover 50 ms over its bound).
            let complete = d.shutdown_complete;
            last = Some(d);
            if !wrote_lease || complete {
                break;
            }
            round += 1;
        }
        // The loop runs at least once: MAX_DECISIONS_PER_WAKE > 0.
        last.unwrap_or_else(|| unreachable!("at least one decision per wake-up"))
    }

    /// One cross-region round. A standby that watches its local lease keeps watching during the
    /// round: the round takes a round trip or two, and a release landing in it would otherwise
    /// wait for the round to end and a new watch to replay it, a round trip past the departing
    /// pod's successor grace (soak seed 4838: a region-mate 50 ms late, and the global lease went
    /// to a region inside its failback delay). The watch is a read; what it finds goes through
    /// the same decision as a watch between rounds.
    async fn coordinate_watching(
        &mut self,
        local: crate::core::cluster::LocalView,
        from: Option<String>,
    ) -> (Gate, MonoTime, bool) {
        let now = self.clock.now_mono();
        let Some(rv) = self.watched_expiry(now).and(from) else {
            let (gate, wake) = self.coordinator.coordinate(local).await;
            return (gate, wake, false);
        };
        let window = self.watch_answer_window();
        let round = std::pin::pin!(self.coordinator.coordinate(local));
        let watch = std::pin::pin!(self.kube.watch_lease(
            &self.settings.lease_name,
            &rv,
            self.settings.timing.lease_duration(),
        ));
        let ((gate, wake), watched) = match select(round, watch).await {
            // The round is over first. A watch from a version already replaced answers about a
            // round trip after it was asked for; one that would answer just after a short round
            // is given that long (a tenth of a retry period from its opening), so the news is
            // not read a round trip later on the next watch's new connection. Nothing waits on
            // a standby's round.
            Either::Left((out, watch)) => {
                let left = (now + window).since(self.clock.now_mono());
                (
                    out,
                    with_timeout(&self.clock, left, watch)
                        .await
                        .and_then(Result::ok),
                )
            }
            Either::Right((watched, round)) => (round.await, watched.ok()),
        };
        match watched {
            Some(record) => {
                self.pending = LeaseEvent::Read(record);
                (gate, wake, true)
            }
            None => (gate, wake, false),
        }
    }

    /// How long a watch of our lease is given from its opening to answer, before a wait or a
    /// round that ends first may drop it: a tenth of a retry period (200 ms by default), about
    /// the departing leader's successor grace. A watch from a version already replaced answers
    /// a round trip or two after it was asked for.
    fn watch_answer_window(&self) -> Duration {
        self.settings.timing.retry_period() / 10
    }

    /// Whether the mounted real set is valid and differs from the set we last provisioned.
    fn source_rotated(&self) -> bool {
        let st = lock(&self.status);
        match (&self.provisioned, &st.real_fingerprint) {
            (Some(old), Some(new)) => old != new && st.credentials_problem.is_none(),
            _ => false,
        }
    }

    /// A standby told by its watch that the lease was released takes it at once, on the node
    /// and credential observations of its last pass (at most a lease duration old), instead of
    /// reading them again first: a departing leader gives a successor of its region only a short
    /// grace before it hands the region's global lease away (`leave_region`), and those reads
    /// can cost round trips. (Soak seed 2022, 219 ms against the 200 ms grace, was not mended by
    /// this alone: its delay was the departing pod's own watch, see `hand_global_lease_over`.)
    /// Only the acquire rests
    /// on them. The round after the write observes afresh before anything is promoted, and an
    /// acquire by a pod that has turned ineligible meanwhile is released by that round: a
    /// liveness cost, never a forging one.
    fn reuse_on_release(&mut self) -> Option<Seen> {
        let LeaseEvent::Read(Some(record)) = &self.pending else {
            return None;
        };
        let standby = self.state.seat.hold.is_none()
            && self.state.forging == Forging::Off
            && !self.shutting_down;
        if record.holder().is_some() || !standby {
            return None;
        }
        let now = self.clock.now_mono();
        let last = self.last_local.as_ref()?;
        if now.since(last.observations.now) > self.settings.timing.lease_duration()
            || last.observations.eligibility.verdict().is_err()
        {
            return None;
        }
        let mut seen = last.clone();
        seen.observations.now = now;
        seen.observations.lease = std::mem::replace(&mut self.pending, LeaseEvent::Nothing);
        seen.observations.gate = self.gate;
        Some(seen)
    }

    async fn observe(&mut self) -> Seen {
        if let Some(seen) = self.reuse_on_release() {
            return seen;
        }
        let process = self.node.find().await;
        let socket_accepting = match process {
            Some(_) => self.node.socket_accepts().await,
            None => false,
        };
        let metrics = match process {
            Some(_) => self.node.metrics().await.ok(),
            None => None,
        };
        let forging_enabled = metrics.and_then(|m| m.forging_enabled);
        let real = credentials::read_set(&self.fs, &self.settings.source).await;
        let credentials_problem = match &real {
            Ok(set) => {
                let fp = set.fingerprint();
                match &self.validated {
                    Some((seen, result)) if *seen == fp => result.clone(),
                    _ => {
                        let result = credentials::validate(set).err();
                        self.validated = Some((fp, result.clone()));
                        result
                    }
                }
            }
            Err(e) => Some(e.to_string()),
        };
        // The credential directory, read once: what a standby should hold, and whether the set
        // we wrote there to forge with (if any) is still what it holds.
        let target = credentials::read_set(&self.fs, &self.settings.target)
            .await
            .ok();
        let standby_ready = self
            .standby_ready(process.is_some(), real.as_ref().ok(), target.as_ref())
            .await;
        let keys_in_place = self
            .provisioned
            .as_ref()
            .is_none_or(|fp| target.as_ref().is_some_and(|set| set.fingerprint() == *fp));

        let mut lease = std::mem::replace(&mut self.pending, LeaseEvent::Nothing);
        if lease == LeaseEvent::Nothing && self.state.seat.needs_read() {
            let budget = self.request_budget();
            lease = read_lease(&self.clock, &self.kube, &self.settings.lease_name, budget).await;
        }

        {
            let mut st = lock(&self.status);
            st.standby_ready = standby_ready;
            st.node = process;
            st.socket_accepting = socket_accepting;
            st.node_forging_enabled = forging_enabled;
            st.real_fingerprint = real.as_ref().ok().map(CredentialSet::fingerprint);
            st.credentials_problem = credentials_problem.clone();
        }
        let observations = Observations {
            now: self.clock.now_mono(),
            lease,
            node: NodeView {
                process: process.map(|p| ProcessId {
                    pid: p.pid,
                    start_ticks: p.start_ticks,
                }),
                forging_enabled,
                standby_ready,
                keys_in_place,
            },
            eligibility: Eligibility {
                node_running: process.is_some(),
                socket_accepting,
                metrics_readable: forging_enabled.is_some(),
                credentials_valid: credentials_problem.is_none(),
                shutting_down: self.shutting_down,
                at_tip: None,
            },
            gate: self.gate,
        };
        let seen = Seen {
            observations,
            process,
        };
        self.last_local = Some(Seen {
            observations: Observations {
                lease: LeaseEvent::Nothing,
                ..seen.observations.clone()
            },
            process,
        });
        seen
    }

    /// Whether the credential directory (`target`, as read this look) holds what a standby
    /// should have.
    async fn standby_ready(
        &self,
        node_running: bool,
        real: Option<&CredentialSet>,
        target: Option<&CredentialSet>,
    ) -> bool {
        match &self.settings.mode {
            CredentialMode::Decoy(decoy) => match credentials::read_set(&self.fs, decoy).await {
                Ok(set) => target == Some(&set),
                Err(_) => false,
            },
            CredentialMode::Copy if node_running => {
                // Once the node runs, a standby must hold no key at all.
                target.is_none()
                    && self.fs.metadata(&self.settings.target.kes).await.is_err()
                    && self.fs.metadata(&self.settings.target.vrf).await.is_err()
                    && self
                        .fs
                        .metadata(&self.settings.target.opcert)
                        .await
                        .is_err()
            }
            CredentialMode::Copy => real.is_some_and(|set| target == Some(set)),
        }
    }

    /// Bookkeeping after the actions: heartbeat, status, CardanoLeader.
    async fn after(&mut self, d: &Decision, seen: &Seen, results: &[ActionResult]) {
        if self.armed && d.next.forging == Forging::Off {
            if self.write_heartbeat(false, None).await.is_err() {
                tracing::warn!("could not disarm the watchdog heartbeat");
            }
        } else if self.armed
            && let Some(fence_at) = self.fence_at()
            && Some(fence_at) != self.armed_fence_at
            && self.write_heartbeat(true, Some(fence_at)).await.is_err()
        {
            // The watchdog keeps the older (earlier) instant: it fires early, never late.
            tracing::warn!("could not refresh the watchdog heartbeat");
        }
        let now = self.clock.now_mono();
        {
            let mut st = lock(&self.status);
            st.role = Some(d.role);
            st.reason = Some(d.reason);
            st.message = d.message.clone();
            st.entitled = d.entitled;
            st.forging = Some(d.next.forging);
            st.lease = d.next.seat.observer.record().cloned();
            st.lease_unchanged_ms = d
                .next
                .seat
                .observer
                .unchanged_for(now)
                .map(crate::core::time::duration_ms);
            st.last_decision_mono_ms = now.as_ms();
            st.decisions += 1;
        }
        let _ = (seen, results);
        self.write_leader_status(d).await;
    }

    /// The instant this sidecar fences itself: the earliest renew deadline of the holds the node's
    /// forging rests on. `None` when one of them is not held (we are demoting: the heartbeat keeps
    /// the instant it has, which is earlier than anything a later hold could give).
    fn fence_at(&self) -> Option<MonoTime> {
        let timing = &self.settings.timing;
        self.decisions
            .watchdog_fence_at(self.holds_fence_at(), self.clock.now_mono(), timing)
    }

    /// [`Self::fence_at`] as the holds give it. From the hold itself, not `Seat::deadline`: the
    /// dead-man switch must not share a fault of the sidecar's own fencing.
    fn holds_fence_at(&self) -> Option<MonoTime> {
        let local = self
            .state
            .seat
            .hold
            .as_ref()
            .map(|h| h.last_renew_sent_at + self.settings.timing.renew_deadline())?;
        match self.coordinator.gate_hold() {
            cluster::GateHold::Always => Some(local),
            cluster::GateHold::Until(global) => Some(local.min(global)),
            cluster::GateHold::NotHeld => None,
        }
    }

    /// Writes the dead-man switch's heartbeat: armed with the fencing instant `fence_at`, or
    /// disarmed.
    async fn write_heartbeat(
        &mut self,
        armed: bool,
        fence_at: Option<MonoTime>,
    ) -> Result<(), crate::ports::FsError> {
        let hb = Heartbeat {
            mono_ms: self.clock.now_mono().as_ms(),
            armed,
            fence_at_ms: fence_at.map(MonoTime::as_ms),
        };
        let bytes = serde_json::to_vec(&hb).unwrap_or_default();
        self.fs
            .write_atomic(&self.settings.heartbeat, &bytes, 0o644)
            .await?;
        self.armed = armed;
        self.armed_fence_at = fence_at.filter(|_| armed);
        Ok(())
    }

    /// The local leader reports itself in the CardanoLeader status; a pod that stops being the
    /// leader clears what it wrote. Written on change only; failures are retried next decision.
    ///
    /// Two writes wait, because a planned handover's gap is made of the steps between them: while
    /// a demotion awaits its verification (the status says forging until the node confirms it is
    /// off, which is also the cautious reading), and once a departing pod released its local
    /// lease, until `leave_region` has handed the global lease on (it clears the status then).
    async fn write_leader_status(&mut self, d: &Decision) {
        let departing = self.shutting_down && self.released_version.is_some();
        if matches!(d.next.forging, Forging::Demoting { .. }) || departing {
            return;
        }
        let holding = d.next.seat.hold.is_some();
        let forging = d.next.forging == Forging::On && d.entitled;
        let want = if holding {
            Some((self.settings.identity.clone(), forging))
        } else {
            self.leader_status_cleared()
        };
        self.patch_leader_status(want).await;
    }

    /// What clears our CardanoLeader status, if we wrote it last.
    fn leader_status_cleared(&self) -> Option<(String, bool)> {
        self.leader_status_written
            .as_ref()
            .is_some_and(|(p, _)| *p == self.settings.identity)
            .then(|| (String::new(), false))
    }

    /// Writes `want` (leader pod, forging) unless it is what we wrote last.
    async fn patch_leader_status(&mut self, want: Option<(String, bool)>) {
        let Some(name) = self.settings.leader_status_name.clone() else {
            return;
        };
        let Some(want) = want else { return };
        if self.leader_status_written.as_ref() == Some(&want) {
            return;
        }
        let status = CardanoLeaderStatus {
            leader_pod: want.0.clone(),
            forging_enabled: want.1,
            last_transition_time: self.clock.now_wall().to_string(),
            ..CardanoLeaderStatus::default()
        };
        let budget = self.request_budget();
        match with_timeout(
            &self.clock,
            budget,
            self.kube.patch_leader_status(&name, &status),
        )
        .await
        {
            Some(Ok(())) => self.leader_status_written = Some(want),
            Some(Err(e)) => tracing::debug!("CardanoLeader status not written: {e}"),
            None => tracing::debug!("CardanoLeader status not written: timed out"),
        }
    }
}

/// Locks the status; a poisoned lock (a panic elsewhere) still yields the data, which stays valid:
/// every writer replaces whole fields.
fn lock(status: &Mutex<Status>) -> std::sync::MutexGuard<'_, Status> {
    status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
