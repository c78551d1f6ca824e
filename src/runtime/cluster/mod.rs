//! The cross-region half of the loop (cluster management on): observe the coordination API
//! (every region's CardanoForgeCluster, the global lease, the presence leases), probe the region's
//! health endpoint with hysteresis, call [`decide_cluster`](crate::core::cluster::decide_cluster), carry out its lease writes, and write
//! the region's CardanoForgeCluster status on change. Its output is the [`Gate`] the local election
//! forges under.
#![allow(async_fn_in_trait)]

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::cluster::{
    ClusterAction, ClusterDecision, ClusterObservations, ClusterState, LocalView,
};
use crate::core::decisions::{CORRECT, Decisions};
use crate::core::election::{Gate, LeaseEvent, LeaseWriteKind, request_budget};
use crate::core::lease::{ApiFailure, LeaseRecord};
use crate::core::policy::{Health, RegionView};
use crate::core::time::MonoTime;
use crate::core::timing::Timing;
use crate::crd::CardanoForgeCluster;
use crate::crd::parse_spec;
use crate::metrics::Metrics;
use crate::ports::{Clock, HealthProbe, Kube, KubeError, LeaseWrite};
use crate::report::ClusterStep;

use super::{
    LeaseScope, failed_write_means, lease_write, read_lease, send_lease_write, with_timeout,
};

mod health;
mod writes;

use writes::Relisted;

use crate::crd::published_health;
use health::Prober;
pub use health::effective_probe_timeout;

/// Where a region's decision comes from: standalone (always allowed) or the cluster loop.
pub trait Coordinator {
    /// Observes and decides once; returns the gate and the latest instant to decide again.
    async fn coordinate(&mut self, local: LocalView) -> (Gate, MonoTime);
    /// A JSON summary for `/status` and the journal.
    fn summary(&self) -> serde_json::Value;
    /// When the local loop must be back to coordinate, if an open gate depends on a hold here:
    /// every local request is bounded by it too, so a slow local API server cannot keep the node
    /// forging under a gate whose global lease has fenced itself meanwhile.
    fn answer_by(&self) -> Option<MonoTime> {
        None
    }
    /// Waits up to `wait` for news the next round must act on at once; `false` when there is
    /// nothing to wait on (the caller sleeps instead).
    async fn wait_for_news(&mut self, _wait: Duration) -> bool {
        false
    }
    /// What an open gate rests on, for the dead-man switch: the watchdog must fire no later than
    /// the global lease fences itself.
    fn gate_hold(&self) -> GateHold {
        GateHold::Always
    }
    /// Whether a promotion at `now` ends a planned cross-region handover: our region's global
    /// hold came by a handoff or a release and has just waited out a slot
    /// ([`crate::core::election::Hold::timed_by_settle`]).
    fn gate_settled_handover(&self, _now: MonoTime) -> bool {
        false
    }
    /// Whether our region's hold on the global lease rests with us (a shutdown must hand it over).
    fn holds_region(&self) -> bool {
        false
    }
    /// Reads the policy afresh for the next round, which then need not (a departing pod reads it
    /// while it waits for a successor).
    async fn refresh_policy(&mut self) {}
    /// The decisions taken since the last call, oldest first, for the journal.
    fn take_steps(&mut self) -> Vec<ClusterStep> {
        Vec::new()
    }
}

/// What the region's permission to forge rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateHold {
    /// Nothing: cluster management off.
    Always,
    /// A hold that fences itself at this instant (the global lease's renew deadline).
    Until(MonoTime),
    /// No hold: the gate is shut.
    NotHeld,
}

/// Cluster management off: the region always may forge.
#[derive(Clone, Copy, Debug, Default)]
pub struct Standalone;

impl Coordinator for Standalone {
    async fn coordinate(&mut self, _local: LocalView) -> (Gate, MonoTime) {
        (Gate::Allow, MonoTime(u64::MAX))
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({ "cluster_management": false })
    }
}

pub use crate::config::HealthSettings;

/// What the cluster loop needs to know.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// Our region.
    pub region: String,
    /// Our pod (presence lease holder).
    pub pod: String,
    /// Our region's CardanoForgeCluster name.
    pub cluster_name: String,
    /// The global lease name.
    pub global_lease: String,
    /// Prefix of presence lease names (`{prefix}{region}`).
    pub presence_prefix: String,
    /// Label selector listing this pool's CardanoForgeClusters (may be empty).
    pub selector: String,
    /// Only CardanoForgeClusters whose name starts with this belong to the pool (the naming of
    /// docs/compatibility.md §5.7: `{network}-{poolShort}-{region}`); `None`: every one listed.
    pub name_prefix: Option<String>,
    /// Failback delay.
    pub failback_delay: Duration,
    /// Health defaults (environment).
    pub health: HealthSettings,
    /// Timing (shared with the local election).
    pub timing: Timing,
}

/// The cross-region loop of one pod.
pub struct ClusterLoop<C, K, H> {
    clock: C,
    kube: K,
    health: H,
    settings: ClusterSettings,
    state: ClusterState,
    global_event: LeaseEvent,
    presence_event: LeaseEvent,
    prober: Prober,
    /// The status last written (without `observedAt`) and when, on our monotonic clock.
    written_status: Option<(serde_json::Value, MonoTime)>,
    last: Option<ClusterDecision>,
    last_transition: Option<(String, bool, String)>,
    clusters: Vec<CardanoForgeCluster>,
    /// The earliest answer-by instant of the seats held when the round in progress began.
    round_answer_by: Option<MonoTime>,
    /// Where health checks and our effective priority are exported, if anywhere.
    metrics: Option<Metrics>,
    /// Whether the last round saw us as our region's representative.
    representative: bool,
    /// When the CardanoForgeClusters were last listed.
    listed_at: Option<MonoTime>,
    /// The last list was made for the next round (`refresh_policy`): it need not list again.
    fresh_policy: bool,
    /// The decision functions: the correct core, unless a test harness gives it another.
    decisions: &'static dyn Decisions,
    /// The decisions applied since the local loop last took them (`take_steps`).
    steps: Vec<ClusterStep>,
    /// How long the last round's reads took to answer (see [`Coordinator::wait_for_news`]).
    read_round_trip: Duration,
}

impl<C: Clock, K: Kube, H: HealthProbe> ClusterLoop<C, K, H> {
    /// A loop over the coordination API `kube`.
    pub fn new(clock: C, kube: K, health: H, settings: ClusterSettings) -> Self {
        ClusterLoop {
            clock,
            kube,
            health,
            settings,
            state: ClusterState::default(),
            global_event: LeaseEvent::Nothing,
            presence_event: LeaseEvent::Nothing,
            prober: Prober::default(),
            written_status: None,
            last: None,
            last_transition: None,
            clusters: Vec::new(),
            round_answer_by: None,
            metrics: None,
            representative: false,
            listed_at: None,
            fresh_policy: false,
            decisions: &CORRECT,
            steps: Vec::new(),
            read_round_trip: Duration::ZERO,
        }
    }

    /// The same loop, deciding with `decisions` instead of the correct core. No production path
    /// calls this: it is how the simulator's canary runs a deliberately broken core.
    pub fn with_decisions(mut self, decisions: &'static dyn Decisions) -> Self {
        self.decisions = decisions;
        self
    }

    /// When the global lease and the other regions' presence leases expire by observation.
    fn watched_expiries(&self) -> impl Iterator<Item = MonoTime> + '_ {
        let d = self.settings.timing.lease_duration();
        self.state
            .others
            .values()
            .chain(std::iter::once(&self.state.global.observer))
            .filter_map(move |o| o.expires_at(d))
    }

    /// Exports every health check and our region's effective priority to `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How long a request started now may take: the API timeout, but never past the moment an
    /// answer is needed by any seat held when the round began (the local lease, the global lease,
    /// our presence) or held now. A slow coordination API therefore cannot keep the node forging
    /// past a renew deadline: a hold lost during the round does not lift the bound, so the round
    /// that shuts the gate also returns promptly.
    fn budget(&self) -> Duration {
        let answer_by = self.held_answer_by(self.round_answer_by);
        request_budget(answer_by, self.clock.now_mono(), &self.settings.timing)
    }

    /// The earliest of `also` and the answer-by instants of the global and presence seats we hold.
    fn held_answer_by(&self, also: Option<MonoTime>) -> Option<MonoTime> {
        let t = &self.settings.timing;
        [
            also,
            self.state.global.answer_by(t),
            self.state.presence.answer_by(t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn read_lease(&self, name: &str) -> LeaseEvent {
        read_lease(&self.clock, &self.kube, name, self.budget()).await
    }

    /// One list of the CardanoForgeClusters, within a request's budget (`None`: no answer in
    /// time). Not yet kept: see [`Self::keep_list`].
    async fn fetch_policy(&self) -> Option<Result<Vec<CardanoForgeCluster>, KubeError>> {
        with_timeout(
            &self.clock,
            self.budget(),
            self.kube.list_forge_clusters(&self.settings.selector),
        )
        .await
    }

    /// The regions of the policy list in force, each with the health `health_of` gives it; none
    /// is present yet (presence comes from the presence leases, in the core).
    fn region_views(
        &self,
        health_of: impl Fn(&str, &CardanoForgeCluster) -> Health,
    ) -> BTreeMap<String, RegionView> {
        let mut regions = BTreeMap::new();
        for c in &self.clusters {
            let Some(region) = region_of(c) else { continue };
            let health = health_of(&region, c);
            regions.insert(
                region,
                RegionView {
                    policy: parse_spec(&c.spec),
                    health,
                    present: false,
                },
            );
        }
        regions
    }

    /// The other regions of the policy list in force.
    fn other_regions(&self) -> Vec<String> {
        self.clusters
            .iter()
            .filter_map(region_of)
            .filter(|r| *r != self.settings.region)
            .collect()
    }

    /// Reads the presence leases of `regions` at once (one round trip). A failed read (timeout,
    /// refusal, 5xx) says nothing and is left out: what was observed stays as it was. Taken as
    /// "absent", it made every presence "first seen" again after a blip, and a dead region looked
    /// present for another lease duration.
    async fn read_presences(&self, regions: &[String]) -> BTreeMap<String, Option<LeaseRecord>> {
        let prefix = &self.settings.presence_prefix;
        futures::future::join_all(regions.iter().map(|region| async move {
            let event = self.read_lease(&format!("{prefix}{region}")).await;
            (region.clone(), event)
        }))
        .await
        .into_iter()
        .filter_map(|(region, event)| match event {
            LeaseEvent::Read(record) => Some((region, record)),
            _ => None,
        })
        .collect()
    }

    /// Keeps a listing's CardanoForgeClusters of our pool as the policy in force.
    fn keep_list(&mut self, list: Vec<CardanoForgeCluster>, now: MonoTime) {
        let prefix = self.settings.name_prefix.as_deref();
        self.clusters = list
            .into_iter()
            .filter(|c| {
                prefix.is_none_or(|p| c.metadata.name.as_deref().is_some_and(|n| n.starts_with(p)))
            })
            .collect();
        self.listed_at = Some(now);
    }

    /// Lists the policy now; whether the answer came.
    async fn list_policy(&mut self, now: MonoTime) -> bool {
        match self.fetch_policy().await {
            Some(Ok(list)) => {
                self.keep_list(list, now);
                true
            }
            _ => false,
        }
    }

    /// Reads what a round decides on: every region's policy (reused when `reuse_policy`), our
    /// health, the other regions' presence leases (reused when `reuse_presence`: their observers
    /// stay as they are), the global lease and our presence.
    async fn observe_round(
        &mut self,
        local: LocalView,
        now: MonoTime,
        reuse_policy: bool,
        reuse_presence: bool,
    ) -> (ClusterObservations, Round) {
        // Everything a round reads, at once: a round costs one round trip to the coordination API,
        // not one per request (the planned-handover gap is made of such rounds). Presence is read
        // for the regions of the last list; a region new in this list is read after it.
        let known: Vec<String> = if reuse_presence {
            Vec::new()
        } else {
            self.other_regions()
        };
        let need_global =
            self.state.global.needs_read() && self.global_event == LeaseEvent::Nothing;
        // A departing pod's region is absent by its own account whatever its presence lease says
        // (the core ranks it so), and the lease is ours, released: reading it would only cost
        // the handover a round trip (soak seed 2928: a last pod's handover 50 ms over its bound).
        let need_own = self.state.presence.hold.is_none()
            && self.presence_event == LeaseEvent::Nothing
            && !local.shutting_down;
        let own_name = format!("{}{}", self.settings.presence_prefix, self.settings.region);
        let sent = self.clock.now_mono();
        let (listed, mut others, global, own) = futures::join!(
            async {
                if reuse_policy {
                    None
                } else {
                    self.fetch_policy().await
                }
            },
            self.read_presences(&known),
            async {
                if need_global {
                    Some(self.read_lease(&self.settings.global_lease).await)
                } else {
                    None
                }
            },
            async {
                if need_own {
                    Some(self.read_lease(&own_name).await)
                } else {
                    None
                }
            },
        );
        if listed.is_some() || global.is_some() || own.is_some() || !known.is_empty() {
            self.read_round_trip = self.clock.now_mono().since(sent);
        }
        if let Some(event) = global {
            self.global_event = event;
        }
        if let Some(event) = own {
            self.presence_event = event;
        }
        // Unreadable: keep the last policy read (the global lease's renew deadline stops forging if
        // the coordination API stays away); never read: nothing is known, nothing may forge.
        if let Some(Ok(list)) = listed {
            self.keep_list(list, now);
        }
        let clusters = self.clusters.clone();
        let ours = clusters
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(self.settings.cluster_name.as_str()))
            .cloned();
        let representative = local.representative();
        if !representative {
            // Whatever this pod probed while it represented its region is stale once it stops:
            // the endpoint may have recovered (or failed) meanwhile under another leader. Its next
            // leadership starts from what the region last published, like a first one (soak seed
            // 2026: a pod that had seen its region unhealthy minutes before became leader again
            // after a node restart, ranked its healthy region below a worse one and handed the
            // global lease away).
            self.prober = Prober::default();
        }
        self.representative = representative;
        let health_settings = self.health_settings(ours.as_ref());
        let own_health = if representative {
            let published = ours.as_ref().and_then(published_health);
            self.probe(&health_settings, published).await
        } else {
            ours.as_ref()
                .and_then(published_health)
                .unwrap_or(Health::UNCHECKED)
        };
        let regions = self.region_views(|region, c| {
            if region == self.settings.region {
                own_health
            } else {
                published_health(c).unwrap_or(Health::UNCHECKED)
            }
        });
        // A region new in this list: its presence is read now (in the list's order).
        for region in clusters.iter().filter_map(region_of) {
            if region != self.settings.region && !reuse_presence && !known.contains(&region) {
                let name = format!("{}{}", self.settings.presence_prefix, region);
                if let LeaseEvent::Read(record) = self.read_lease(&name).await {
                    others.insert(region, record);
                }
            }
        }
        let server_now_ms = self.kube.server_clock().map(|s| {
            let age = self.clock.now_mono().since(s.received_at);
            s.server_time.as_millisecond() + i64::try_from(age.as_millis()).unwrap_or(0)
        });
        let obs = ClusterObservations {
            now,
            region: self.settings.region.clone(),
            pod: self.settings.pod.clone(),
            local,
            regions,
            global: std::mem::replace(&mut self.global_event, LeaseEvent::Nothing),
            presence: std::mem::replace(&mut self.presence_event, LeaseEvent::Nothing),
            others,
            server_now_ms,
            failback_delay: self.settings.failback_delay,
        };
        (
            obs,
            Round {
                ours,
                representative,
                health_settings,
                own_health,
            },
        )
    }
}

fn region_of(c: &CardanoForgeCluster) -> Option<String> {
    c.spec.region.clone().filter(|r| !r.is_empty())
}

/// A live region's representative rewrites its status (`observedAt`) at least once per this many
/// lease durations (a minute with the defaults): one request a minute per region.
pub const STATUS_REFRESH_LEASES: u32 = 4;

/// What a round's observation found besides the core's inputs.
struct Round {
    ours: Option<CardanoForgeCluster>,
    representative: bool,
    health_settings: HealthSettings,
    own_health: Health,
}

/// Whether a decision acts on the policy it read: takes the global lease (a handoff to us, or a
/// free one), hands it over, or opens a gate that was shut.
fn acts_on_policy(d: &ClusterDecision, gate_before: Option<Gate>) -> bool {
    (d.gate == Gate::Allow && gate_before != Some(Gate::Allow))
        || d.actions.iter().any(|a| {
            matches!(
                a,
                ClusterAction::Handoff { .. }
                    | ClusterAction::Global {
                        write: LeaseWriteKind::Acquire | LeaseWriteKind::Create,
                    }
            )
        })
}

impl<C: Clock, K: Kube, H: HealthProbe> Coordinator for ClusterLoop<C, K, H> {
    async fn coordinate(&mut self, local: LocalView) -> (Gate, MonoTime) {
        let now = self.clock.now_mono();
        self.round_answer_by = self.held_answer_by(local.answer_by);
        // A quick round (a verification poll, a handoff poll, news from the watch) reuses the
        // policy and presence read less than half a retry period ago: operator changes are still
        // seen within a retry period, and a handover costs no extra round trips.
        // Never quick once a lease we watch reached its observed expiry since that read: expiry is
        // only concluded from a fresh read.
        let expiry_passed = self
            .listed_at
            .is_some_and(|listed| self.watched_expiries().any(|at| listed < at && at <= now));
        // A region without the global lease reads everything every round (in one round trip):
        // whatever it decides to take, it takes on a fresh read.
        let quick = !expiry_passed
            && !local.shutting_down
            && self.state.global.hold.is_some()
            && self
                .listed_at
                .is_some_and(|at| now.since(at) < self.settings.timing.retry_period() / 2);
        // A departing pod's last rounds list the policy afresh (a handoff rests on a read made
        // after the verified demotion) but reuse the presence observed a moment ago: presence
        // only ranks the successor, and every request costs the handover a round trip.
        let reuse_presence = quick || (local.shutting_down && !self.clusters.is_empty());
        // While a departing pod's node may still forge, its rounds only release its presence and
        // keep the global hold (the core hands nothing over and opens no gate before the verified
        // demotion): they reuse the policy too. The list would cost the demotion, which waits for
        // the round, a round trip (soak seed 2498: a last pod's handover 50 ms over its bound).
        let demoting = local.shutting_down && !local.forging_off && !self.clusters.is_empty();
        // A handoff to our region, seen by the watch, is taken whatever the policy says (only its
        // holder can pass it on at once); what the policy and presence say matters only to the
        // gate, and the acquire's round trip reads both again (below: `takes_global`), so the
        // gate opens on reads made after the handoff. Reading them first as well cost the
        // planned handover a round trip (soak seed 2498: a last pod's handover 50 ms over its
        // bound, its successor region mid-round when the handoff landed).
        let handed_to_us = !expiry_passed
            && self.state.global.hold.is_none()
            && local.representative()
            && !self.clusters.is_empty()
            && matches!(&self.global_event, LeaseEvent::Read(Some(r))
                if r.holder() == Some(self.settings.region.as_str()));
        let reuse_presence = reuse_presence || handed_to_us;
        let reuse_policy =
            quick || demoting || handed_to_us || std::mem::take(&mut self.fresh_policy);
        let (mut obs, mut round) = self
            .observe_round(local, now, reuse_policy, reuse_presence)
            .await;
        let mut d = self
            .decisions
            .decide_cluster(&self.state, &obs, &self.settings.timing);
        // No gate opens and no handoff goes out on a reused policy read: an operator change made
        // since (a region Disabled a moment ago) would be missed, and so would a departing
        // region's released presence. Read afresh and decide again; the lease events go back so
        // the second decision sees them.
        if quick && acts_on_policy(&d, self.last.as_ref().map(|l| l.gate)) {
            self.global_event = std::mem::replace(&mut obs.global, LeaseEvent::Nothing);
            self.presence_event = std::mem::replace(&mut obs.presence, LeaseEvent::Nothing);
            (obs, round) = self
                .observe_round(local, self.clock.now_mono(), false, false)
                .await;
            d = self
                .decisions
                .decide_cluster(&self.state, &obs, &self.settings.timing);
        }
        let Round {
            ours,
            representative,
            health_settings,
            own_health,
        } = round;
        self.steps.push(ClusterStep {
            prev: std::mem::replace(&mut self.state, d.next.clone()),
            obs: obs.clone(),
            decision: d.clone(),
        });
        // A gate that opens after this round's writes would rest on the list made before them,
        // round trips ago: an operator change made meanwhile (our region Disabled a moment ago)
        // would be missed by the promotion that follows (0.15 s after a Disable, once a trial fix
        // for soak seed 2160 moved the rounds). So a round that takes the global lease while
        // the gate is shut lists the policy again, in the same round trip as its writes.
        let gate_was_open = self.last.as_ref().map(|l| l.gate) == Some(Gate::Allow);
        let takes_global = d.actions.iter().any(|a| {
            matches!(
                a,
                ClusterAction::Global {
                    write: LeaseWriteKind::Acquire | LeaseWriteKind::Create
                }
            )
        });
        let (relisted, fresh_presence) = self
            .write_all(&d.actions, takes_global && !gate_was_open)
            .await;
        let regions = if relisted == Relisted::Fresh {
            // The fresh list's policy, with the health this round observed.
            self.region_views(|region, c| {
                obs.regions.get(region).map_or_else(
                    || published_health(c).unwrap_or(Health::UNCHECKED),
                    |v| v.health,
                )
            })
        } else {
            obs.regions.clone()
        };
        // Our writes' results feed the seats at once, so the gate reflects them.
        let after = ClusterObservations {
            now: self.clock.now_mono(),
            regions,
            global: std::mem::replace(&mut self.global_event, LeaseEvent::Nothing),
            presence: std::mem::replace(&mut self.presence_event, LeaseEvent::Nothing),
            others: fresh_presence,
            ..obs
        };
        let mut settled = self
            .decisions
            .decide_cluster(&self.state, &after, &self.settings.timing);
        self.steps.push(ClusterStep {
            prev: self.state.clone(),
            obs: after,
            decision: settled.clone(),
        });
        if relisted == Relisted::Failed && settled.gate == Gate::Allow {
            // The fresh list was asked for and not read: no gate opens on the older one.
            settled.gate = Gate::Deny(crate::core::reason::Reason::PolicyDisallows);
            settled.wake_by = self.clock.now_mono();
        }
        if let (Some(m), Some(e)) = (
            &self.metrics,
            settled.ranking.effective.get(&self.settings.region),
        ) {
            m.set_cluster_priority(i64::from(e.reported_priority));
        }
        // Writes the settled decision asks for wait for the next round (no loop within a wake-up).
        self.state = settled.next.clone();
        let gate = settled.gate;
        // A gate that just opened goes back to the loop at once (the promotion waits on it); the
        // status says so at the next round.
        let just_opened = gate == Gate::Allow && self.last.as_ref().map(|l| l.gate) != Some(gate);
        // The local leader writes its region's status, eligible or not: a leader whose node
        // stopped being eligible must clear `forger` and `activeLeader` itself, since no other pod
        // of the region writes while it holds the local lease. Not while shutting down: its
        // rounds are on a planned handover's path, and its successor writes.
        if local.leader && !local.shutting_down && ours.is_some() && !just_opened {
            let status = self.status_patch(&settled, &local, gate, ours.as_ref(), own_health);
            let now = self.clock.now_mono();
            // Rewritten when it changes, and at least every STATUS_REFRESH_LEASES lease
            // durations, so `observedAt` tells a live region from one nobody writes for.
            let refresh = self.settings.timing.lease_duration() * STATUS_REFRESH_LEASES;
            let due = self
                .written_status
                .as_ref()
                .is_none_or(|(written, at)| *written != status || now.since(*at) >= refresh);
            if due {
                let mut body = status.clone();
                body["observedAt"] = self.clock.now_wall().to_string().into();
                let patched = with_timeout(
                    &self.clock,
                    self.budget(),
                    self.kube
                        .patch_forge_cluster_status(&self.settings.cluster_name, &body),
                )
                .await;
                if matches!(patched, Some(Ok(()))) {
                    self.written_status = Some((status, now));
                }
            }
        }
        // Look again the moment a lease we watch would expire by observation: an unplanned
        // failover then waits for no round beyond the lease duration.
        let mut wake = settled.wake_by;
        let now = self.clock.now_mono();
        if let Some(at) = self.watched_expiries().filter(|at| *at > now).min() {
            wake = wake.min(at);
        }
        if let Some(at) = self
            .prober
            .next_at
            .filter(|_| representative && health_settings.endpoint.is_some())
        {
            wake = wake.min(at);
        }
        self.last = Some(settled);
        (gate, wake)
    }

    fn answer_by(&self) -> Option<MonoTime> {
        self.state.global.answer_by(&self.settings.timing)
    }

    fn take_steps(&mut self) -> Vec<ClusterStep> {
        std::mem::take(&mut self.steps)
    }

    fn holds_region(&self) -> bool {
        self.state.global.hold.is_some()
    }

    async fn refresh_policy(&mut self) {
        let now = self.clock.now_mono();
        self.fresh_policy = self.list_policy(now).await;
    }

    fn gate_settled_handover(&self, now: MonoTime) -> bool {
        self.state
            .global
            .hold
            .as_ref()
            .is_some_and(|h| h.timed_by_settle(now, &self.settings.timing))
    }

    fn gate_hold(&self) -> GateHold {
        match &self.state.global.hold {
            Some(h) => {
                GateHold::Until(h.last_renew_sent_at + self.settings.timing.renew_deadline())
            }
            None => GateHold::NotHeld,
        }
    }

    /// A representative without the global lease watches it, so a handoff to its region (or a
    /// release) is seen at once, not at its next round: the planned-handover gap. Renewals by the
    /// holder are not news; the next round reads the lease anyway.
    async fn wait_for_news(&mut self, wait: Duration) -> bool {
        if !self.representative || self.state.global.hold.is_some() {
            return false;
        }
        let Some(mut rv) = self
            .state
            .global
            .observer
            .record()
            .map(|r| r.resource_version.clone())
        else {
            return false;
        };
        // A watch from the version we last read replays at once whatever changed since, so its
        // first answer is back about a round trip after it is asked for; a round that cut it short
        // would only read the same news a round trip later, on a new connection. So the watch is
        // given that long (half as much again as the last round's reads took, at most a tenth of
        // a retry period), even when the round is due sooner (soak seed 3483: a handoff that
        // landed between a round's read and the watch; the next round, due 50 ms after the watch
        // was asked for, cut it and read the handoff afresh, 100 ms later).
        let answer = (self.read_round_trip * 3 / 2).min(self.settings.timing.retry_period() / 10);
        let wait = wait.max(answer);
        let start = self.clock.now_mono();
        // Renewals by this holder (another region) are not news.
        let other_holder = self
            .state
            .global
            .observer
            .record()
            .and_then(|r| r.holder().map(str::to_owned))
            .filter(|h| *h != self.settings.region);
        loop {
            let left = wait.saturating_sub(self.clock.now_mono().since(start));
            if left.is_zero() {
                return true;
            }
            let watched = self
                .kube
                .watch_lease(&self.settings.global_lease, &rv, left);
            match with_timeout(&self.clock, left, watched).await {
                Some(Ok(Some(record)))
                    if other_holder.is_some() && record.holder() == other_holder.as_deref() =>
                {
                    // The same holder renewed: keep waiting from the new version.
                    rv = record.resource_version.clone();
                }
                Some(Ok(record)) => {
                    self.global_event = LeaseEvent::Read(record);
                    return true;
                }
                _ => {
                    let left = wait.saturating_sub(self.clock.now_mono().since(start));
                    self.clock.sleep(left).await;
                    return true;
                }
            }
        }
    }

    fn summary(&self) -> serde_json::Value {
        match &self.last {
            None => serde_json::json!({ "cluster_management": true }),
            Some(d) => serde_json::json!({
                "cluster_management": true,
                "region": self.settings.region,
                "gate": format!("{:?}", d.gate),
                "preferred": d.ranking.preferred,
                "message": d.message,
                "global_lease": d.next.global.observer.record(),
                "holds_global": d.next.global.hold.is_some(),
                "candidates": d.ranking.candidates.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
