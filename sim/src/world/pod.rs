//! What runs inside a pod's turmoil host: the real sidecar runtime (simulated clock, files and node;
//! the real kube adapter over the simulated network) and the real watchdog; and the operator's host,
//! which sends kubectl-like requests over the same network.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use forge_manager::adapters::kube::KubeAdapter;
use forge_manager::core::lease::LeaseRecord;
use forge_manager::core::slots::SlotClock;
use forge_manager::crd::{CardanoForgeCluster, CardanoLeaderStatus};
use forge_manager::journal::watchdog_log;
use forge_manager::journal::{Journal, JournalConfig, SyncMode};
use forge_manager::ports::{
    Clock, Kube, KubeError, LeaseWrite, Node, NodeError, NodeMetrics, NodeProcess,
    ServerClockSample,
};
use forge_manager::report::ClusterStep;
use forge_manager::runtime::cluster::{ClusterLoop, ClusterSettings, HealthSettings};
use forge_manager::runtime::journal::{CoreSettings, DirectSink, Identity, JournalRecorder};
use forge_manager::runtime::{CredentialMode, Recorder, Runtime, Settings, TickRecord};
use forge_manager::watchdog::{self, WatchdogSettings};
use http_body_util::Full;
use hyper_util::rt::TokioExecutor;

use super::clock::{SimClock, sim_now};
use super::fs::{PodFiles, SimFs};
use super::node::{NodeEvent, NodeModel};
use super::{EPOCH_UNIX_S, NAMESPACE, OperatorRequest, PodState, WorldSpec, layout, net};
use crate::trace::{EventKind, PodId, Trace};

/// What a pod's software needs.
#[derive(Clone)]
pub struct PodContext {
    /// The pod.
    pub pod: Rc<PodState>,
    /// The world's spec.
    pub spec: WorldSpec,
    /// Its pool's network.
    pub network: String,
    /// Its pool's id.
    pub pool: String,
    /// The sidecar's settings as `forge-manager run` forms them from the pod's variables (names,
    /// identity); the world replaces paths, timing and jitter with its own.
    pub settings: Settings,
    /// The API host of the region.
    pub api_host: String,
    /// The run's trace.
    pub trace: Rc<RefCell<Trace>>,
    /// Cross-region coordination, when cluster management is on.
    pub cluster: Option<ClusterContext>,
    /// The world's partitions (the connector does not dial across one).
    pub partitions: net::Partitions,
}

/// What a pod needs for cross-region coordination.
#[derive(Clone)]
pub struct ClusterContext {
    /// The cross-region settings as `forge-manager run` forms them from the pod's variables
    /// (every name); the world replaces timing, health and failback delay with the spec's.
    pub settings: ClusterSettings,
    /// Every region's health endpoint.
    pub health: Rc<RefCell<std::collections::BTreeMap<String, super::HealthState>>>,
    /// Pods cut off from a health endpoint.
    pub health_cuts: Rc<RefCell<std::collections::BTreeSet<(String, String)>>>,
}

/// The `HealthProbe` port over the world's health endpoints.
pub struct SimHealth {
    ctx: ClusterContext,
    host: String,
    clock: SimClock,
}

impl forge_manager::ports::HealthProbe for SimHealth {
    async fn probe(
        &self,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<(), forge_manager::ports::ProbeError> {
        use forge_manager::ports::ProbeError;
        self.clock.gate().await;
        let region = endpoint
            .strip_prefix("http://health-")
            .and_then(|r| r.strip_suffix("/health"))
            .unwrap_or_default()
            .to_owned();
        if self
            .ctx
            .health_cuts
            .borrow()
            .contains(&(self.host.clone(), region.clone()))
        {
            // Partitioned: the request hangs until the timeout.
            tokio::time::sleep(timeout).await;
            return Err(ProbeError::Transport("timed out".into()));
        }
        // One round trip.
        tokio::time::sleep(Duration::from_millis(2)).await;
        match self.ctx.health.borrow().get(&region) {
            Some(h) if h.healthy_at(sim_now()) => Ok(()),
            Some(_) => Err(ProbeError::Status(503)),
            None => Err(ProbeError::Transport("connection refused".into())),
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(sim_now().as_millis()).unwrap_or(u64::MAX)
}

/// The software of a pod host: the watchdog in the background, the sidecar in front. Returns when
/// a graceful shutdown completed.
pub async fn software(ctx: PodContext) -> turmoil::Result {
    let pod = Rc::clone(&ctx.pod);
    let l = layout();
    let sidecar_clock = SimClock::sidecar(Rc::clone(&pod.clock));
    let watchdog_clock = SimClock::watchdog(Rc::clone(&pod.clock));
    let trace = Rc::clone(&ctx.trace);

    // The watchdog: a separate process of the pod (a `pause` of the sidecar does not stop it).
    let wd_settings = WatchdogSettings {
        heartbeat: l.heartbeat.into(),
        target: l.target.clone(),
        standby: Some(l.decoy.clone()),
        renew_deadline: ctx.spec.timing.renew_deadline(),
        check_period: watchdog::DEFAULT_CHECK_PERIOD,
    };
    let wd_fs = SimFs::new(pod.files.clone(), watchdog_clock.clone());
    let wd_node = SimNode::new(&pod, watchdog_clock.clone(), Rc::clone(&trace));
    // With journals, each firing also goes to `DIR/POD.redb.watchdog`, as a copy of the watchdog's
    // log taken with the journal would (`forge_manager::journal::watchdog_log`).
    let wd_log = ctx
        .spec
        .journal_dir
        .as_ref()
        .map(|dir| watchdog_log::log_path_for_journal(&dir.join(format!("{}.redb", pod.name))));
    let wd_pod = pod.name.clone();
    tokio::task::spawn_local(async move {
        let log_clock = watchdog_clock.clone();
        let record = move |f: &watchdog::Firing| {
            if let Some(path) = &wd_log {
                let event = f.log_event(format!("{:.3}", log_clock.now_wall()), wd_pod.clone());
                // The journal is evidence, never a reason to stop the watchdog.
                let _ = watchdog_log::append(path, &event);
            }
        };
        watchdog::run(&watchdog_clock, &wd_fs, &wd_node, &wd_settings, record).await;
    });

    let kube = PausingKube::to(&ctx, &ctx.api_host, &sidecar_clock)?;
    let server_clock = kube.inner.server_clock_reader();
    let settings = Settings {
        identity: pod.name.clone(),
        lease_name: ctx.settings.lease_name.clone(),
        leader_status_name: ctx.settings.leader_status_name.clone(),
        timing: ctx.spec.timing,
        source: l.source.clone(),
        target: l.target.clone(),
        mode: CredentialMode::Decoy(l.decoy.clone()),
        heartbeat: l.heartbeat.into(),
        // Further pools' pods differ from the first pool's of the same place.
        jitter_seed: ctx.spec.seed ^ jitter_salt(&pod.id) ^ (pod.tenant as u64).rotate_left(32),
        // The oracle's slots start at the world's epoch: slot k at k × slot_length.
        slot_clock: SlotClock::new(EPOCH_UNIX_S * 1_000, ctx.spec.slot_length),
    };
    let journal = match &ctx.spec.journal_dir {
        None => None,
        Some(dir) => {
            let config = JournalConfig {
                sync: SyncMode::Buffered,
                ..JournalConfig::default()
            };
            let journal = Journal::open(dir.join(format!("{}.redb", pod.name)), config)?;
            Some(
                JournalRecorder::new(
                    DirectSink::new(journal),
                    Identity {
                        pool: ctx.pool.clone(),
                        network: ctx.network.clone(),
                        region: pod.id.region.clone(),
                        pod: pod.name.clone(),
                    },
                )
                .with_core(CoreSettings {
                    identity: settings.identity.clone(),
                    timing: settings.timing,
                    writer: crate::canary::writer(),
                })
                .with_server_clock(Box::new(server_clock)),
            )
        }
    };
    let recorder = PodRecorder {
        trace: TraceRecorder {
            pod: pod.id.clone(),
            trace: Rc::clone(&trace),
        },
        journal,
    };
    let fs = SimFs::new(pod.files.clone(), sidecar_clock.clone());
    let node = SimNode::new(&pod, sidecar_clock.clone(), trace);
    // The canary's broken core when one is selected for this thread; the correct one otherwise.
    let runtime = Runtime::new(sidecar_clock.clone(), kube, fs, node, recorder, settings)
        .with_decisions(crate::canary::decisions());
    *pod.status.borrow_mut() = Some(runtime.status());
    let signal = Rc::clone(&pod);
    let sigterm = async move {
        while !signal.shutdown.get() {
            signal.shutdown_signal.notified().await;
        }
    };
    match ctx.cluster.clone() {
        None => {
            let mut runtime = runtime;
            runtime.run(sigterm).await;
        }
        Some(cc) => {
            let coordination = PausingKube::to(&ctx, &super::api_host("global"), &sidecar_clock)?;
            let health = SimHealth {
                ctx: cc.clone(),
                host: pod.host.clone(),
                clock: sidecar_clock.clone(),
            };
            let settings = ClusterSettings {
                failback_delay: ctx.spec.failback_delay,
                health: HealthSettings {
                    endpoint: Some(super::health_endpoint(&pod.id.region)),
                    interval: ctx.spec.health_interval,
                    timeout: Duration::from_secs(5),
                    failure_threshold: ctx.spec.health_failure_threshold,
                    success_threshold: ctx.spec.health_success_threshold,
                },
                timing: ctx.spec.timing,
                ..cc.settings.clone()
            };
            let coordinator = ClusterLoop::new(sidecar_clock, coordination, health, settings)
                .with_decisions(crate::canary::decisions());
            let mut runtime = runtime.with_coordinator(coordinator);
            runtime.run(sigterm).await;
        }
    }
    pod.sidecar_exited.set(true);
    // The pod is being deleted: stay until the world removes it.
    std::future::pending::<()>().await;
    Ok(())
}

fn jitter_salt(id: &PodId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Requests for the operator's host, in order.
#[derive(Debug, Default)]
pub struct OperatorQueue {
    items: RefCell<VecDeque<OperatorRequest>>,
}

impl OperatorQueue {
    /// Queues a request (the world starts the operator's host if it is not running).
    pub fn push(&self, req: OperatorRequest) {
        self.items.borrow_mut().push_back(req);
    }

    /// Whether requests wait.
    pub fn has_work(&self) -> bool {
        !self.items.borrow().is_empty()
    }
}

/// The operator's host: sends queued kubectl-like requests over the simulated network, in order,
/// retrying a request that could not be delivered (an operator retries a failed `kubectl patch`).
/// Returns when the queue is empty: a host with nothing to do would still cost turmoil a poll every
/// tick, so the world starts it again when a request is queued (`World::run_until`).
pub async fn operator(queue: Rc<OperatorQueue>) -> turmoil::Result {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build(net::Connector::default());
    loop {
        let next = queue.items.borrow().front().cloned();
        let Some(req) = next else {
            return Ok(());
        };
        let request = http::Request::builder()
            .method(req.method)
            .uri(format!("http://{}:{}{}", req.host, net::API_PORT, req.path))
            .header("content-type", req.content_type)
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(req.body.clone())))?;
        let sent = tokio::time::timeout(Duration::from_secs(2), client.request(request)).await;
        match sent {
            Ok(Ok(_)) => {
                queue.items.borrow_mut().pop_front();
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Decisions that change anything go to the trace.
struct TraceRecorder {
    pod: PodId,
    trace: Rc<RefCell<Trace>>,
}

impl Recorder for TraceRecorder {
    fn record(&mut self, t: &TickRecord<'_>) {
        if !t.decision.changes_anything(t.previous_role) {
            return;
        }
        self.trace.borrow_mut().push(
            now_ms(),
            EventKind::Decision {
                pod: self.pod.clone(),
                role: t.decision.role.as_str().into(),
                reason: t.decision.reason.as_str().into(),
            },
        );
    }
}

/// Everything a simulated pod records: the trace, and its journal when asked for.
struct PodRecorder {
    trace: TraceRecorder,
    journal: Option<JournalRecorder<DirectSink>>,
}

impl Recorder for PodRecorder {
    fn record(&mut self, t: &TickRecord<'_>) {
        self.trace.record(t);
        if let Some(j) = self.journal.as_mut() {
            j.record(t);
        }
    }
    fn record_rounds(&mut self, wall: jiff::Timestamp, steps: &[ClusterStep]) {
        if let Some(j) = self.journal.as_mut() {
            j.record_rounds(wall, steps);
        }
    }
}

/// The kube adapter, held while the sidecar is paused.
struct PausingKube {
    inner: KubeAdapter,
    clock: SimClock,
}

impl PausingKube {
    /// The sidecar's adapter, as `forge-manager run` builds it, to the API server on `host`,
    /// dialled from the pod's host across the world's partitions.
    fn to(
        ctx: &PodContext,
        host: &str,
        clock: &SimClock,
    ) -> Result<PausingKube, http::uri::InvalidUri> {
        let connector = net::Connector {
            from: ctx.pod.host.clone(),
            partitions: ctx.partitions.clone(),
        };
        let (client, dates) = net::kube_client(host, NAMESPACE, connector)?;
        let mono_clock = clock.clone();
        let mono = Rc::new(move || mono_clock.now_mono());
        let timing = &ctx.spec.timing;
        Ok(PausingKube {
            inner: KubeAdapter::new(client, NAMESPACE, timing.api_timeout(), dates, mono)
                .with_lease_quiet_limit(timing.lease_quiet_limit()),
            clock: clock.clone(),
        })
    }
}

impl Kube for PausingKube {
    async fn get_lease(&self, name: &str) -> Result<LeaseRecord, KubeError> {
        self.clock.gate().await;
        self.inner.get_lease(name).await
    }
    async fn create_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        self.clock.gate().await;
        self.inner.create_lease(lease).await
    }
    async fn replace_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        self.clock.gate().await;
        self.inner.replace_lease(lease).await
    }
    async fn watch_lease(
        &self,
        name: &str,
        rv: &str,
        timeout: Duration,
    ) -> Result<Option<LeaseRecord>, KubeError> {
        self.clock.gate().await;
        self.inner.watch_lease(name, rv, timeout).await
    }
    async fn get_forge_cluster(&self, name: &str) -> Result<CardanoForgeCluster, KubeError> {
        self.clock.gate().await;
        self.inner.get_forge_cluster(name).await
    }
    async fn list_forge_clusters(
        &self,
        selector: &str,
    ) -> Result<Vec<CardanoForgeCluster>, KubeError> {
        self.clock.gate().await;
        self.inner.list_forge_clusters(selector).await
    }
    async fn patch_forge_cluster_status(
        &self,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<(), KubeError> {
        self.clock.gate().await;
        self.inner.patch_forge_cluster_status(name, status).await
    }
    async fn patch_leader_status(
        &self,
        name: &str,
        status: &CardanoLeaderStatus,
    ) -> Result<(), KubeError> {
        self.clock.gate().await;
        self.inner.patch_leader_status(name, status).await
    }
    fn server_clock(&self) -> Option<ServerClockSample> {
        self.inner.server_clock()
    }
}

/// The `Node` port over the pod's simulated node.
pub struct SimNode {
    pod: PodId,
    node: Rc<RefCell<NodeModel>>,
    files: PodFiles,
    clock: SimClock,
    trace: Rc<RefCell<Trace>>,
    frozen: super::clock::SharedClock,
}

impl SimNode {
    fn new(pod: &PodState, clock: SimClock, trace: Rc<RefCell<Trace>>) -> Self {
        SimNode {
            pod: pod.id.clone(),
            node: Rc::clone(&pod.node),
            files: pod.files.clone(),
            clock,
            trace,
            frozen: Rc::clone(&pod.clock),
        }
    }
}

impl Node for SimNode {
    async fn find(&self) -> Option<NodeProcess> {
        self.clock.gate().await;
        self.node.borrow().process.as_ref().map(|p| NodeProcess {
            pid: p.pid,
            start_ticks: u64::try_from(p.started.as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn socket_accepts(&self) -> bool {
        self.clock.gate().await;
        let now = sim_now();
        self.node.borrow().ready(now) && !self.frozen.borrow().frozen(now)
    }

    async fn sighup(&self, process: NodeProcess) -> Result<(), NodeError> {
        self.clock.gate().await;
        let result = self.node.borrow_mut().sighup(process.pid, sim_now());
        match result {
            Ok(()) => Ok(()),
            Err(None) => Err(NodeError::NotRunning),
            Err(Some(NodeEvent::KilledBySighup)) => {
                self.trace.borrow_mut().push(
                    now_ms(),
                    EventKind::NodeExit {
                        pod: self.pod.clone(),
                        reason: "SIGHUP before its handler was installed".into(),
                    },
                );
                Ok(())
            }
            Err(Some(NodeEvent::Exited(r))) => Err(NodeError::signal(r)),
        }
    }

    async fn metrics(&self) -> Result<NodeMetrics, NodeError> {
        self.clock.gate().await;
        // Re-reads due now happen before the scrape is answered.
        let now = sim_now();
        let _ = self.node.borrow_mut().advance(now, &self.files);
        let node = self.node.borrow();
        match &node.process {
            Some(p) => Ok(NodeMetrics {
                forging_enabled: Some(p.loaded.is_some() && now >= p.ready_at),
                leader_checks: None,
            }),
            None => Err(forge_manager::ports::MetricsError::Refused.into()),
        }
    }
}
