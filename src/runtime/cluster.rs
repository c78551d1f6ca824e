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

use super::{lease_write, read_lease, send_lease_write, with_timeout};

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
    /// Whether our region's hold on the global lease rests with us (a shutdown must hand it over).
    fn holds_region(&self) -> bool {
        false
    }
    /// Reads the policy afresh for the next round, which then need not (a departing pod reads it
    /// while it waits for a successor).
    async fn refresh_policy(&mut self) {}
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

/// The probe state of our region's health endpoint.
#[derive(Clone, Debug, Default)]
struct Prober {
    healthy: Option<bool>,
    failures: u32,
    successes: u32,
    next_at: Option<MonoTime>,
    last_message: String,
    last_probe_wall: Option<String>,
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
    written_status: Option<serde_json::Value>,
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

    /// The health settings in force: our spec's `healthCheck`, else the environment's.
    fn health_settings(&self, ours: Option<&CardanoForgeCluster>) -> HealthSettings {
        let mut h = self.settings.health.clone();
        if let Some(spec) = ours.and_then(|c| c.spec.health_check.as_ref()) {
            if !spec.enabled {
                h.endpoint = None;
                return h;
            }
            if let Some(e) = spec.endpoint.clone().filter(|e| !e.is_empty()) {
                h.endpoint = Some(e);
            }
            let dur = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|t| crate::config::duration::parse_duration(t).ok())
            };
            if let Some(d) = dur(&spec.interval) {
                h.interval = d;
            }
            if let Some(d) = dur(&spec.timeout) {
                h.timeout = d;
            }
            if let Some(n) = spec
                .failure_threshold
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
            {
                h.failure_threshold = n;
            }
            if let Some(n) = spec
                .success_threshold
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
            {
                h.success_threshold = n;
            }
        }
        h
    }

    /// Probes our region's endpoint when due (only our region's representative probes).
    async fn probe(&mut self, settings: &HealthSettings, published: Option<Health>) -> Health {
        let Some(endpoint) = settings.endpoint.clone() else {
            return Health::UNCHECKED;
        };
        if self.prober.healthy.is_none() {
            // Start from what the region last published, so a new local leader does not flip it.
            let h = published.unwrap_or(Health::UNCHECKED);
            self.prober.healthy = Some(h.healthy);
            self.prober.failures = h.consecutive_failures;
        }
        let now = self.clock.now_mono();
        if self.prober.next_at.is_none_or(|at| now >= at) {
            self.prober.next_at = Some(now + settings.interval);
            // The probe's own timeout: HEALTH_CHECK_TIMEOUT, at most one API request (the probe
            // runs inside a round, like a request). A probe that runs into it has failed.
            let own = effective_probe_timeout(settings, &self.settings.timing);
            // It must not outlast the answer-by instant of a lease we hold either; one cut short
            // by that (not by its own timeout) says nothing about the region's health: it is not
            // counted and is tried again on the next round. That round comes about a retry period
            // after a renewal, when the instant is still far enough ahead for a whole probe (6.6 s
            // against 3 s with the defaults): a hung endpoint is counted, not retried forever.
            let limit = own.min(self.budget());
            let result =
                with_timeout(&self.clock, limit, self.health.probe(&endpoint, limit)).await;
            if result.is_none() && limit < own {
                self.prober.next_at = Some(now);
                tracing::debug!(?limit, "health probe cut short by a renew deadline");
                return Health {
                    healthy: self.prober.healthy.unwrap_or(true),
                    consecutive_failures: self.prober.failures,
                };
            }
            self.prober.last_probe_wall = Some(self.clock.now_wall().to_string());
            let took = self.clock.now_mono().since(now).as_secs_f64();
            let ok = matches!(result, Some(Ok(())));
            let was = self.prober.healthy.unwrap_or(true);
            if ok {
                self.prober.failures = 0;
                self.prober.successes += 1;
                self.prober.last_message = "All health checks passing".into();
                if !was && self.prober.successes >= settings.success_threshold {
                    self.prober.healthy = Some(true);
                }
            } else {
                self.prober.successes = 0;
                self.prober.failures += 1;
                self.prober.last_message = match result {
                    Some(Err(e)) => format!("health check failed: {e}"),
                    _ => format!("health check timed out after {own:?}"),
                };
                if was && self.prober.failures >= settings.failure_threshold {
                    self.prober.healthy = Some(false);
                }
            }
            if let Some(m) = &self.metrics {
                m.record_health_check(
                    self.prober.healthy.unwrap_or(true),
                    ok,
                    self.prober.failures,
                    took,
                );
            }
            if self.prober.healthy != Some(was) {
                tracing::info!(
                    healthy = self.prober.healthy,
                    failures = self.prober.failures,
                    "health check: region health changed"
                );
            }
        }
        Health {
            healthy: self.prober.healthy.unwrap_or(true),
            consecutive_failures: self.prober.failures,
        }
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
        let listed = with_timeout(
            &self.clock,
            self.budget(),
            self.kube.list_forge_clusters(&self.settings.selector),
        )
        .await;
        match listed {
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
        let prefix = self.settings.presence_prefix.clone();
        let presence_name = |region: &str| format!("{prefix}{region}");
        let known: Vec<String> = if reuse_presence {
            Vec::new()
        } else {
            self.clusters
                .iter()
                .filter_map(region_of)
                .filter(|r| *r != self.settings.region)
                .collect()
        };
        let need_global =
            self.state.global.needs_read() && self.global_event == LeaseEvent::Nothing;
        let need_own =
            self.state.presence.hold.is_none() && self.presence_event == LeaseEvent::Nothing;
        let own_name = presence_name(&self.settings.region);
        let this = &*self;
        let (listed, presences, global, own) = futures::join!(
            async {
                if reuse_policy {
                    None
                } else {
                    with_timeout(
                        &self.clock,
                        self.budget(),
                        self.kube.list_forge_clusters(&self.settings.selector),
                    )
                    .await
                }
            },
            futures::future::join_all(known.iter().map(|region| {
                let name = presence_name(region);
                async move { (region.clone(), this.read_lease(&name).await) }
            })),
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
        // A failed read (timeout, refusal, 5xx) says nothing: what was observed stays as it was.
        // Taken as "absent", it made every presence "first seen" again after a blip, and a dead
        // region looked present for another lease duration.
        let mut others: BTreeMap<String, Option<LeaseRecord>> = presences
            .into_iter()
            .filter_map(|(region, event)| match event {
                LeaseEvent::Read(record) => Some((region, record)),
                _ => None,
            })
            .collect();
        let ours = clusters
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(self.settings.cluster_name.as_str()))
            .cloned();
        let representative = local.leader && local.eligible && !local.shutting_down;
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
        let mut regions = BTreeMap::new();
        for c in &clusters {
            let Some(region) = region_of(c) else { continue };
            let health = if region == self.settings.region {
                own_health
            } else {
                published_health(c).unwrap_or(Health::UNCHECKED)
            };
            regions.insert(
                region.clone(),
                RegionView {
                    policy: parse_spec(&c.spec),
                    health,
                    present: false,
                },
            );
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

    /// The request `action` makes: its kind and the lease write, based on the seat's record.
    fn request(&self, action: &ClusterAction) -> Result<(LeaseWriteKind, LeaseWrite), KubeError> {
        let (seat, name, identity, write) = match action {
            ClusterAction::Global { write } => (
                &self.state.global,
                self.settings.global_lease.clone(),
                self.settings.region.as_str(),
                *write,
            ),
            ClusterAction::Handoff { .. } => (
                &self.state.global,
                self.settings.global_lease.clone(),
                self.settings.region.as_str(),
                LeaseWriteKind::Release,
            ),
            ClusterAction::Presence { write } => (
                &self.state.presence,
                format!("{}{}", self.settings.presence_prefix, self.settings.region),
                self.settings.region.as_str(),
                *write,
            ),
        };
        let base: Option<LeaseRecord> = match write {
            LeaseWriteKind::Create => None,
            LeaseWriteKind::Acquire => seat.observer.record().cloned(),
            LeaseWriteKind::Renew | LeaseWriteKind::Release | LeaseWriteKind::Finalize => {
                seat.hold.as_ref().map(|h| h.record.clone())
            }
        };
        let holder = match action {
            ClusterAction::Handoff { to } => Some(to.as_str()),
            _ if write == LeaseWriteKind::Release => None,
            _ => Some(identity),
        };
        let req = lease_write(
            write,
            &name,
            base.as_ref(),
            holder,
            self.settings.timing.lease_duration(),
            self.clock.now_wall(),
            // Presence leases entitle nobody: no finalizer, so none outlives its region.
            !matches!(action, ClusterAction::Presence { .. }),
        )
        .ok_or_else(|| {
            KubeError::new(
                ApiFailure::Invalid,
                format!("{write:?} of {name}: no lease record to base the write on"),
            )
        })?;
        Ok((write, req))
    }

    /// Carries out a decision's writes. They go to different leases (at most one global and one
    /// presence write per decision), so they are sent at once: a round costs one round trip.
    async fn write_all(&mut self, actions: &[ClusterAction]) {
        let budget = self.budget();
        let this = &*self;
        let sent = futures::future::join_all(actions.iter().map(|action| async move {
            let result = match this.request(action) {
                Ok((write, req)) => {
                    Some(send_lease_write(&this.clock, &this.kube, write, &req, budget).await)
                }
                Err(e) => {
                    tracing::warn!(action = ?action, "coordination API write not made: {e}");
                    None
                }
            };
            (action, result)
        }))
        .await;
        for (action, result) in sent {
            let Some((event, result)) = result else {
                continue;
            };
            if let Err(e) = result {
                tracing::warn!(action = ?action, "coordination API write failed: {e}");
            }
            match action {
                ClusterAction::Presence { .. } => self.presence_event = event,
                _ => self.global_event = event,
            }
        }
    }

    fn status_patch(
        &mut self,
        d: &ClusterDecision,
        local: &LocalView,
        gate: Gate,
        ours: Option<&CardanoForgeCluster>,
        health: Health,
    ) -> serde_json::Value {
        let region = &self.settings.region;
        let eff = d.ranking.effective.get(region);
        let state = eff.map(|e| e.state.as_str()).unwrap_or("Disabled");
        let forging = gate == Gate::Allow && local.leader && !local.forging_off;
        let active = if local.leader && local.eligible {
            self.settings.pod.clone()
        } else {
            String::new()
        };
        // lastTransition moves only when the effective state, forging or the active leader change.
        let key = (state.to_string(), forging, active.clone());
        let changed = self
            .last_transition
            .as_ref()
            .is_none_or(|(s, f, a)| (s, f, a) != (&key.0, &key.1, &key.2));
        if changed {
            self.last_transition = Some(key);
        }
        let transition = if changed {
            Some(self.clock.now_wall().to_string())
        } else {
            self.written_status
                .as_ref()
                .and_then(|s| s["lastTransition"].as_str().map(str::to_owned))
        };
        let mut status = serde_json::json!({
            "effectiveState": state,
            "effectivePriority": eff.map(|e| e.reported_priority).unwrap_or(0),
            "activeLeader": active,
            "forgingEnabled": forging,
            "reason": eff.map(|e| e.reason.as_str()).unwrap_or("invalid_spec"),
            "message": d.message,
            "healthStatus": {
                "healthy": health.healthy,
                "consecutiveFailures": health.consecutive_failures,
                "message": if self.prober.last_message.is_empty() { "no health check configured".to_string() } else { self.prober.last_message.clone() },
            },
            "observedGeneration": ours.and_then(|c| c.metadata.generation).unwrap_or(0),
        });
        if let Some(t) = transition {
            status["lastTransition"] = serde_json::Value::String(t);
        }
        if let Some(t) = &self.prober.last_probe_wall {
            status["healthStatus"]["lastProbeTime"] = serde_json::Value::String(t.clone());
        }
        status
    }
}

/// How long one health probe may take before it counts as failed: `HEALTH_CHECK_TIMEOUT` (or the
/// spec's `healthCheck.timeout`), but never longer than `API_TIMEOUT`, the bound of every request
/// a coordination round makes.
pub fn effective_probe_timeout(health: &HealthSettings, timing: &Timing) -> Duration {
    health.timeout.min(timing.api_timeout())
}

fn published_health(c: &CardanoForgeCluster) -> Option<Health> {
    let h = c.status.as_ref()?.health_status.as_ref()?;
    Some(Health {
        healthy: h.healthy.unwrap_or(true),
        consecutive_failures: h
            .consecutive_failures
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
    })
}

fn region_of(c: &CardanoForgeCluster) -> Option<String> {
    c.spec.region.clone().filter(|r| !r.is_empty())
}

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
        let reuse_policy = quick || std::mem::take(&mut self.fresh_policy);
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
        self.state = d.next.clone();
        self.write_all(&d.actions).await;
        // Our writes' results feed the seats at once, so the gate reflects them.
        let after = ClusterObservations {
            now: self.clock.now_mono(),
            global: std::mem::replace(&mut self.global_event, LeaseEvent::Nothing),
            presence: std::mem::replace(&mut self.presence_event, LeaseEvent::Nothing),
            others: BTreeMap::new(),
            ..obs
        };
        let settled = self
            .decisions
            .decide_cluster(&self.state, &after, &self.settings.timing);
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
        if representative && ours.is_some() && !just_opened {
            let status = self.status_patch(&settled, &local, gate, ours.as_ref(), own_health);
            if self.written_status.as_ref() != Some(&status) {
                let patched = with_timeout(
                    &self.clock,
                    self.budget(),
                    self.kube
                        .patch_forge_cluster_status(&self.settings.cluster_name, &status),
                )
                .await;
                if matches!(patched, Some(Ok(()))) {
                    self.written_status = Some(status);
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

    fn holds_region(&self) -> bool {
        self.state.global.hold.is_some()
    }

    async fn refresh_policy(&mut self) {
        let now = self.clock.now_mono();
        self.fresh_policy = self.list_policy(now).await;
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
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use futures::executor::block_on;

    use super::*;
    use crate::testing::{FakeApi, FakeClock, FakeKube};

    /// A health endpoint that never answers while `hung`, else answers 200.
    #[derive(Clone, Default)]
    struct Endpoint {
        hung: Rc<Cell<bool>>,
    }

    impl HealthProbe for Endpoint {
        async fn probe(&self, _endpoint: &str, _timeout: Duration) -> Result<(), String> {
            if self.hung.get() {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }

    fn cluster(region: &str, priority: i32) -> CardanoForgeCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cardano.io/v1",
            "kind": "CardanoForgeCluster",
            "metadata": {"name": format!("pool-{region}")},
            "spec": {"region": region, "forgeState": "Priority-based", "priority": priority},
        }))
        .expect("a valid CardanoForgeCluster")
    }

    struct Rig {
        clock: FakeClock,
        api: FakeApi,
        endpoint: Endpoint,
        cl: ClusterLoop<FakeClock, FakeKube, Endpoint>,
    }

    /// Region `east` (the preferred one, alone), its loop holding the global lease and the gate
    /// open after a few rounds.
    fn holding(health_timeout: Duration) -> Rig {
        let clock = FakeClock::new();
        let api = FakeApi::new();
        api.put_forge_cluster(cluster("east", 1));
        let endpoint = Endpoint::default();
        let settings = ClusterSettings {
            region: "east".into(),
            pod: "bp-0".into(),
            cluster_name: "pool-east".into(),
            global_lease: "pool-global".into(),
            presence_prefix: "pool-presence-".into(),
            selector: String::new(),
            name_prefix: None,
            failback_delay: Duration::from_secs(30),
            health: HealthSettings {
                endpoint: Some("http://health.east/".into()),
                interval: Duration::from_secs(10),
                timeout: health_timeout,
                failure_threshold: 3,
                success_threshold: 2,
            },
            timing: Timing::default(),
        };
        let mut cl = ClusterLoop::new(clock.clone(), api.client(), endpoint.clone(), settings);
        let mut open = false;
        for _ in 0..20 {
            let (gate, _) = block_on(cl.coordinate(view(None)));
            if gate == Gate::Allow {
                open = true;
                break;
            }
            clock.advance(Duration::from_secs(1));
        }
        assert!(open, "the only region never got the global lease");
        assert!(cl.state.global.hold.is_some());
        Rig {
            clock,
            api,
            endpoint,
            cl,
        }
    }

    fn view(answer_by: Option<MonoTime>) -> LocalView {
        LocalView {
            leader: true,
            eligible: true,
            forging_off: false,
            shutting_down: false,
            region_quiet: true,
            answer_by,
        }
    }

    /// A black-holed coordination API just before the global lease's renew deadline: the round
    /// returns by the deadline minus the demotion time (plus the 50 ms floor of each request it
    /// still makes), closed, instead of spending the 3 s API timeout on each request.
    #[test]
    fn a_hung_coordination_api_cannot_hold_the_gate_open_past_the_global_deadline() {
        let mut rig = holding(Duration::from_secs(1));
        let t = rig.cl.settings.timing;
        let deadline = rig.cl.state.global.deadline(&t).expect("held");
        let answer_by = deadline - t.demotion_time();
        rig.clock.advance(
            answer_by
                .since(rig.clock.now_mono())
                .saturating_sub(Duration::from_millis(500)),
        );
        rig.api.set_hung(true);
        let (mut gate, mut wake) = block_on(rig.cl.coordinate(view(None)));
        let back = rig.clock.now_mono();
        assert!(
            back <= answer_by + Duration::from_millis(300),
            "returned at {back}, the answer was needed by {answer_by} (deadline {deadline})"
        );
        // Rounds go on as the runtime runs them (at the latest at each wake-up); the gate must be
        // shut from the deadline on, and no open round may ask to sleep past it.
        for _ in 0..50 {
            if gate != Gate::Allow {
                break;
            }
            assert!(
                wake <= deadline,
                "open gate, next look at {wake}, deadline {deadline}"
            );
            let now = rig.clock.now_mono();
            rig.clock
                .advance(wake.since(now).max(Duration::from_millis(10)));
            (gate, wake) = block_on(rig.cl.coordinate(view(None)));
        }
        assert_ne!(gate, Gate::Allow);
        let shut = rig.clock.now_mono();
        assert!(
            shut <= deadline + Duration::from_millis(300),
            "gate shut at {shut}, deadline {deadline}"
        );
    }

    /// The local loop's deadline bounds the round too: the local lease must still be renewable.
    #[test]
    fn the_local_deadline_bounds_every_coordination_request() {
        let mut rig = holding(Duration::from_secs(1));
        rig.api.set_hung(true);
        let now = rig.clock.now_mono();
        let local_answer_by = now + Duration::from_millis(400);
        block_on(rig.cl.coordinate(view(Some(local_answer_by))));
        let took = rig.clock.now_mono().since(now);
        assert!(
            took <= Duration::from_millis(700),
            "a round with the local answer needed in 400 ms took {took:?}"
        );
    }

    /// A health endpoint slower than the time left before a deadline is cut short, and that is
    /// not counted against the region's health; the same hang with time to spare is a failure.
    #[test]
    fn a_probe_cut_short_by_a_deadline_is_not_a_failure() {
        let mut rig = holding(Duration::from_secs(2));
        rig.endpoint.hung.set(true);
        let settings = rig.cl.settings.health.clone();
        let now = rig.clock.now_mono();
        rig.cl.round_answer_by = Some(now + Duration::from_millis(500));
        rig.cl.prober.next_at = None;
        let health = block_on(rig.cl.probe(&settings, None));
        assert!(rig.clock.now_mono().since(now) <= Duration::from_millis(500));
        assert_eq!(health.consecutive_failures, 0);
        assert!(health.healthy);
        assert_eq!(rig.cl.prober.next_at, Some(now), "tried again next round");

        rig.cl.round_answer_by = None;
        let health = block_on(rig.cl.probe(&settings, None));
        assert_eq!(
            health.consecutive_failures, 1,
            "a hang within its own timeout counts"
        );
    }

    /// The defaults (HEALTH_CHECK_TIMEOUT 10 s, API timeout 3 s) while the region holds the
    /// global lease and its local lease: a hung endpoint must turn the region unhealthy after
    /// `failure_threshold` probes, and the gate must stay open meanwhile (no renewal is missed).
    #[test]
    fn a_hung_health_endpoint_is_counted_as_a_failure_with_default_settings() {
        let mut rig = holding(Duration::from_secs(10));
        rig.cl.settings.health.interval = Duration::from_secs(30);
        assert_eq!(rig.cl.settings.health.timeout, Duration::from_secs(10));
        assert_eq!(rig.cl.settings.health.failure_threshold, 3);
        assert_eq!(rig.cl.settings.timing, Timing::default());
        rig.endpoint.hung.set(true);
        rig.cl.prober.next_at = None;
        let start = rig.clock.now_mono();
        let mut rounds = 0;
        while rig.cl.prober.healthy != Some(false) {
            rounds += 1;
            assert!(
                rounds <= 200,
                "still healthy after {rounds} rounds, {} failures: {:?}",
                rig.cl.prober.failures,
                rig.cl.prober.last_message
            );
            // The local loop renewed its lease just before this round: its answer is due in
            // the renew deadline minus the demotion time.
            let now = rig.clock.now_mono();
            let t = rig.cl.settings.timing;
            let local_answer_by = now + (t.renew_deadline() - t.demotion_time());
            let (gate, wake) = block_on(rig.cl.coordinate(view(Some(local_answer_by))));
            assert_eq!(gate, Gate::Allow, "a hung probe cost the global lease");
            let now = rig.clock.now_mono();
            rig.clock
                .advance(wake.since(now).max(Duration::from_millis(10)));
        }
        assert_eq!(rig.cl.prober.failures, 3);
        let took = rig.clock.now_mono().since(start);
        assert!(
            took <= Duration::from_secs(2 * 30 + 10),
            "three probes 30 s apart took {took:?}"
        );
        assert!(
            rig.cl.prober.last_message.contains("timed out after 3s"),
            "{}",
            rig.cl.prober.last_message
        );
    }

    /// The health series and the effective priority reach `/metrics` (they stayed empty before the
    /// loop fed them: the health alerts could not fire).
    #[test]
    fn health_checks_and_priority_reach_the_metrics() {
        let metrics = Metrics::new(&crate::metrics::test_identity(Some((
            "pool-east",
            "east",
            7,
        ))));
        let rig = holding(Duration::from_secs(1));
        let mut cl = rig.cl.with_metrics(metrics.clone());
        rig.endpoint.hung.set(true);
        cl.prober.next_at = None;
        let settings = cl.settings.health.clone();
        block_on(cl.probe(&settings, None));
        rig.clock.advance(Duration::from_secs(3));
        block_on(cl.coordinate(view(None)));
        let text = metrics.render().expect("renders");
        let value = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        };
        assert_eq!(
            value("cardano_cluster_health_check_consecutive_failures"),
            1.0
        );
        assert_eq!(value("cardano_cluster_health_check_success"), 0.0);
        // The reported priority: 1 from the spec (not the environment's 7), +10 while health is
        // intermittent (one failed check), the old sidecar's meaning (docs/compatibility.md §5.8).
        assert_eq!(value("cardano_cluster_forge_priority"), 11.0);
    }
}
