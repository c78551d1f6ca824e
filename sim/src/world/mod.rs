//! The simulated world: turmoil hosts for the API servers, an operator, and every block-producer pod
//! (the real runtime with simulated clock, files and node, and the real kube adapter over the
//! simulated network, plus the watchdog); the simulated cardano-nodes; and the recording of what
//! forges when into a [`Trace`].
//!
//! The world knows nothing of scenario files: it is built from a [`WorldSpec`] and driven by
//! [`Action`]s with resolved targets (`crate::runner` maps a scenario onto it).

mod actions;
pub mod clock;
pub mod fs;
pub mod net;
pub mod node;
mod observe;
mod pod;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use forge_manager::cli::run::{cluster_settings, settings};
use forge_manager::config::{Config, naming};
use forge_manager::core::timing::Timing;
use forge_manager::credentials::{CredentialFile, CredentialPaths, CredentialSet, sample_set};

use crate::apiserver::{ApiServer, LeaseChange, Options, TurmoilListener};
use crate::trace::{EventKind, LeaseRole, PodId, SimMs, Trace};
use clock::{ClockModel, SharedClock};
use fs::PodFiles;
use node::{NodeEvent, NodeModel};

/// Wall-clock instant of simulated time zero (2026-01-01T00:00:00Z): fixed, for determinism.
pub const EPOCH_UNIX_S: i64 = 1_767_225_600;

/// Namespace of every object.
pub const NAMESPACE: &str = "cardano";

/// One region of a world.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionSpec {
    /// Region name.
    pub name: String,
    /// `spec.priority` (1 is the most preferred).
    pub priority: i64,
    /// Pods in its StatefulSet.
    pub pods: usize,
    /// Initial `spec.forgeState`.
    pub forge_state: String,
    /// Initial answer of its health endpoint.
    pub healthy: bool,
}

/// Everything that shapes a world.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldSpec {
    /// Seed of turmoil's RNG and every pod's jitter.
    pub seed: u64,
    /// Cardano network name.
    pub network: String,
    /// Pool id.
    pub pool: String,
    /// Regions, in file order.
    pub regions: Vec<RegionSpec>,
    /// Cross-region coordination on or off.
    pub cluster_management: bool,
    /// One API server for every region.
    pub shared_api: bool,
    /// Cardano slot length.
    pub slot_length: Duration,
    /// The sidecar's timing.
    pub timing: Timing,
    /// Health probe settings.
    pub health_interval: Duration,
    /// Failures before unhealthy.
    pub health_failure_threshold: u32,
    /// Successes before healthy.
    pub health_success_threshold: u32,
    /// Failback delay.
    pub failback_delay: Duration,
    /// One-way latency between any two hosts.
    pub api_latency: Duration,
    /// The node's replay time.
    pub node_startup: Duration,
    /// The node's SIGHUP handling time.
    pub node_sighup_delay: Duration,
    /// turmoil's tick: the resolution of simulated time.
    pub tick: Duration,
    /// Write one decision journal per pod into this directory (`forge-sim run --journal-dir`).
    pub journal_dir: Option<std::path::PathBuf>,
    /// Further pools with StatefulSets in the same regions, against the same API servers and
    /// namespace (a multi-tenant cluster); the first pool is `network` / `pool`.
    pub more_pools: Vec<PoolSpec>,
}

/// A further pool of a multi-tenant world.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSpec {
    /// Its Cardano network name.
    pub network: String,
    /// Its pool id.
    pub pool: String,
}

/// One pool of the world (index 0: the spec's own): its keys and its own trace, so the oracle
/// judges every pool as if it ran alone.
struct Tenant {
    network: String,
    /// Its pool id as the spec gives it.
    pool: String,
    /// The id its sidecars get as `POOL_ID`.
    pool_id: String,
    real: Rc<RefCell<CredentialSet>>,
    real_fps: BTreeSet<String>,
    rotations: u64,
    trace: Rc<RefCell<Trace>>,
}

/// A host of the simulated network a partition or latency can name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// A pod.
    Pod(PodId),
    /// An API server: `global` or a region name.
    Api(String),
    /// A region's health endpoint.
    Health(String),
}

/// A fault or an operator action, with every target resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Drop traffic between every host of the first set and every host of the second.
    Partition(Vec<Host>, Vec<Host>),
    /// Undo partitions between the two sets.
    Heal(Vec<Host>, Vec<Host>),
    /// The pod dies at once.
    Crash(PodId),
    /// Crashed or shut-down pods come back as new pods.
    Restart(Vec<PodId>),
    /// SIGTERM to the pod's sidecar.
    Shutdown(PodId),
    /// The sidecar is frozen for a while.
    Pause(PodId, Duration),
    /// The whole pod is frozen for a while.
    Freeze(PodId, Duration),
    /// The pod's wall clock jumps.
    Skew(PodId, i64),
    /// The pod's clocks run fast (positive ppm) or slow from now on.
    Drift(PodId, i64),
    /// The API server refuses connections.
    ApiDown(String),
    /// It answers again.
    ApiUp(String),
    /// It answers its next requests badly (`api-errors`).
    ApiErrors(String, crate::scenario::ApiErrorAnswer, u64),
    /// One-way latency between two sets of hosts from now on.
    Latency(Vec<Host>, Vec<Host>, Duration),
    /// A region's health endpoint answers healthy (true) or not.
    Health(String, bool),
    /// It alternates every `period` until `until` (simulated instant).
    Flap(String, Duration, Duration),
    /// cardano-node restarts (new pid, non-producing).
    NodeRestart(PodId),
    /// An operator merge-patches a region's CardanoForgeCluster spec.
    Patch(String, serde_json::Value),
    /// An operator deletes a lease: on `api` ("global" or a region), `global` or the local one.
    DeleteLease {
        /// API server.
        api: String,
        /// The global lease (true) or the region's local lease.
        global: bool,
        /// Strip the finalizers first: the object goes at once.
        force: bool,
    },
    /// The mounted forging secret changes (a new set) in these pods.
    RotateSecret(Vec<PodId>),
    /// From now on the pod's node takes this long per SIGHUP (zero: the `[node]` default).
    NodeSlow(PodId, Duration),
}

/// State of one pod, shared between the world and the pod's host software.
pub struct PodState {
    /// Its id (unique within its pool).
    pub id: PodId,
    /// Its pool: an index into the world's pools (0: the spec's own).
    pub tenant: usize,
    /// Its pod name (lease holder identity).
    pub name: String,
    /// Its turmoil host name.
    pub host: String,
    /// Its clocks.
    pub clock: SharedClock,
    /// Its files.
    pub files: PodFiles,
    /// Its node.
    pub node: Rc<RefCell<NodeModel>>,
    /// The sidecar's status, once its runtime exists.
    pub status: RefCell<Option<Arc<std::sync::Mutex<forge_manager::runtime::Status>>>>,
    /// SIGTERM was sent to the sidecar.
    pub shutdown: Cell<bool>,
    /// Woken when `shutdown` is set, so the sidecar's SIGTERM wait costs nothing meanwhile.
    pub shutdown_signal: tokio::sync::Notify,
    /// The sidecar's run returned (a completed graceful shutdown).
    pub sidecar_exited: Cell<bool>,
    /// The pod exists (not crashed or shut down).
    pub up: Cell<bool>,
    /// What [`World::sample`] last saw of it: forging, and its files' generation (a cheap check
    /// every tick before the world's maps are consulted).
    pub sampled: Cell<Option<(bool, u64)>>,
}

/// A request the operator host sends over the simulated network.
#[derive(Clone, Debug)]
pub struct OperatorRequest {
    /// API host name.
    pub host: String,
    /// HTTP method.
    pub method: &'static str,
    /// Path.
    pub path: String,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

/// Paths shared by every pod.
pub struct Layout {
    /// The mounted secret.
    pub source: CredentialPaths,
    /// The decoy set.
    pub decoy: CredentialPaths,
    /// Where cardano-node reads.
    pub target: CredentialPaths,
    /// The credential emptyDir.
    pub target_dir: &'static str,
    /// The heartbeat file.
    pub heartbeat: &'static str,
}

/// The fixed layout of a simulated pod.
pub fn layout() -> Layout {
    Layout {
        source: CredentialPaths::in_dir(Path::new("/secrets")),
        decoy: CredentialPaths::in_dir(Path::new("/decoy")),
        target: CredentialPaths::in_dir(Path::new("/opt/cardano/secrets")),
        target_dir: "/opt/cardano/secrets",
        heartbeat: "/opt/cardano/secrets/.forge-manager-heartbeat",
    }
}

/// The turmoil host that sends the operator's requests (running only while some wait).
const OPERATOR_HOST: &str = "operator";

/// A running world.
pub struct World<'a> {
    sim: turmoil::Sim<'a>,
    spec: WorldSpec,
    pods: Vec<Rc<PodState>>,
    apis: BTreeMap<String, ApiServer>,
    tenants: Vec<Tenant>,
    decoy: CredentialSet,
    forging: BTreeMap<(usize, PodId), bool>,
    credentials: BTreeMap<(usize, PodId), bool>,
    /// The file-system generation each pod's credentials were last looked at.
    files_seen: BTreeMap<(usize, PodId), u64>,
    requests: BTreeMap<String, u64>,
    operator: Rc<pod::OperatorQueue>,
    health: Rc<RefCell<BTreeMap<String, HealthState>>>,
    /// Pods cut off from a region's health endpoint: (pod host, region).
    health_cuts: Rc<RefCell<BTreeSet<(String, String)>>>,
    partitions: net::Partitions,
    /// (API server, lease name) → the pool and role of that lease, for the trace's lease writes
    /// (other leases, e.g. the presence leases, are not recorded).
    lease_roles: BTreeMap<(String, String), (usize, LeaseRole)>,
}

/// A region's health endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthState {
    /// Answers 200.
    pub healthy: bool,
    /// Flapping: alternate every period until this instant.
    pub flap: Option<(Duration, Duration)>,
    /// When the flap started.
    pub flap_from: Duration,
}

impl HealthState {
    /// The endpoint's answer at `now`.
    pub fn healthy_at(&self, now: Duration) -> bool {
        match self.flap {
            Some((period, until)) if now < until && !period.is_zero() => {
                let n =
                    (now.saturating_sub(self.flap_from)).as_millis() / period.as_millis().max(1);
                // Starts with a flip to the opposite of the steady answer.
                if n.is_multiple_of(2) {
                    !self.healthy
                } else {
                    self.healthy
                }
            }
            _ => self.healthy,
        }
    }
}

/// The health endpoint URL of a region (probed in-process: see `pod::SimHealth`).
pub fn health_endpoint(region: &str) -> String {
    format!("http://health-{region}/health")
}

/// The name of the API host for `api` ("global" or a region).
pub fn api_host(api: &str) -> String {
    format!("api-{api}")
}

/// The `POOL_ID` a pool's sidecars get: object names are lower case, scenario pool ids need not be.
fn pool_part(pool: &str) -> String {
    pool.to_lowercase()
}

/// A pod's sidecar configuration, from the variables the Helm chart sets (so every name is
/// derived as in production: `settings` and `cluster_settings` of `forge-manager run`).
fn sidecar_config(network: &str, pool_id: &str, region: &str, pod: &str, lease: &str) -> Config {
    let vars = [
        ("CARDANO_NETWORK", network),
        ("POOL_ID", pool_id),
        ("CLUSTER_REGION", region),
        ("POD_NAME", pod),
        ("LEASE_NAME", lease),
        ("CRD_NAME", lease),
        ("ENABLE_CLUSTER_MANAGEMENT", "true"),
    ];
    match Config::from_vars(vars) {
        Ok(c) => c,
        // Known variable names with free-text values: clap has nothing to refuse.
        Err(e) => unreachable!("sidecar variables: {e}"),
    }
}

impl<'a> World<'a> {
    /// Builds the world: API servers with the CRDs and objects, every pod started.
    pub fn new(spec: WorldSpec) -> World<'a> {
        let sim = turmoil::Builder::new()
            .tick_duration(spec.tick)
            .simulation_duration(Duration::from_secs(10 * 365 * 24 * 3600))
            .min_message_latency(spec.api_latency)
            .max_message_latency(spec.api_latency)
            .epoch(std::time::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S.unsigned_abs()))
            .rng_seed(spec.seed)
            // A listen backlog (and per-connection buffer) as a real server's: turmoil's default
            // of 64 panics when many pods open their watches at once (three pools' 27 pods
            // starting against one coordination API; Linux's somaxconn is 4096).
            .tcp_capacity(4096)
            .build();
        let pools = std::iter::once(PoolSpec {
            network: spec.network.clone(),
            pool: spec.pool.clone(),
        })
        .chain(spec.more_pools.iter().cloned());
        let tenants = pools
            .map(|p| {
                let real = sample_set(&format!("real-{}", p.pool));
                Tenant {
                    pool_id: pool_part(&p.pool),
                    pool: p.pool,
                    network: p.network,
                    real_fps: BTreeSet::from([real.fingerprint()]),
                    real: Rc::new(RefCell::new(real)),
                    rotations: 0,
                    trace: Rc::new(RefCell::new(Trace::default())),
                }
            })
            .collect();
        let mut w = World {
            sim,
            decoy: sample_set("decoy"),
            spec,
            pods: Vec::new(),
            apis: BTreeMap::new(),
            tenants,
            forging: BTreeMap::new(),
            credentials: BTreeMap::new(),
            files_seen: BTreeMap::new(),
            requests: BTreeMap::new(),
            operator: Rc::new(pod::OperatorQueue::default()),
            health: Rc::new(RefCell::new(BTreeMap::new())),
            health_cuts: Rc::new(RefCell::new(BTreeSet::new())),
            partitions: net::Partitions::default(),
            lease_roles: BTreeMap::new(),
        };
        w.lease_roles = w.lease_roles();
        w.start_apis();
        w.start_operator();
        w.setup_objects();
        let regions = w.spec.regions.clone();
        for region in &regions {
            w.health.borrow_mut().insert(
                region.name.clone(),
                HealthState {
                    healthy: region.healthy,
                    flap: None,
                    flap_from: Duration::ZERO,
                },
            );
        }
        for tenant in 0..w.tenants.len() {
            for (r, region) in regions.iter().enumerate() {
                for i in 0..region.pods {
                    w.add_pod(tenant, &region.name, i, r);
                }
            }
        }
        w
    }

    /// The number of pools.
    pub fn pools(&self) -> usize {
        self.tenants.len()
    }

    /// API servers: `global`, plus one per region unless the API is shared.
    fn api_names(&self) -> Vec<String> {
        let mut names = vec!["global".to_owned()];
        if !self.spec.shared_api {
            names.extend(self.spec.regions.iter().map(|r| r.name.clone()));
        }
        names
    }

    /// The API server holding a region's local lease and CardanoLeader.
    pub fn local_api(&self, region: &str) -> String {
        if self.spec.shared_api {
            "global".into()
        } else {
            region.into()
        }
    }

    /// Every pool's regional and global leases by (API server, name), named as the sidecars name
    /// them (with `shared_api`, all on `global`).
    fn lease_roles(&self) -> BTreeMap<(String, String), (usize, LeaseRole)> {
        let mut roles = BTreeMap::new();
        for tenant in 0..self.tenants.len() {
            roles.insert(
                ("global".to_owned(), self.global_lease_of(tenant)),
                (tenant, LeaseRole::Global),
            );
            for r in &self.spec.regions {
                roles.insert(
                    (
                        self.local_api(&r.name),
                        self.local_lease_of(tenant, &r.name),
                    ),
                    (tenant, LeaseRole::Local(r.name.clone())),
                );
            }
        }
        roles
    }

    /// Records the lease writes and deletes `server` accepted since the last look, each at the
    /// instant of the server's clock it was accepted.
    fn record_lease_changes(&self, server: &str, changes: Vec<LeaseChange>) {
        for c in changes {
            if c.namespace != NAMESPACE {
                continue;
            }
            let Some((tenant, role)) = self.lease_roles.get(&(server.to_owned(), c.name.clone()))
            else {
                continue;
            };
            let at_ms = u64::try_from(c.at.as_millisecond() - EPOCH_UNIX_S * 1000).unwrap_or(0);
            let kind = match c.written {
                Some(w) => EventKind::LeaseWritten {
                    server: server.to_owned(),
                    lease: role.clone(),
                    name: c.name,
                    holder_pod: match role {
                        LeaseRole::Local(_) => self
                            .pods
                            .iter()
                            .find(|p| p.tenant == *tenant && p.name == w.holder)
                            .map(|p| p.id.clone()),
                        LeaseRole::Global => None,
                    },
                    holder: w.holder,
                    duration_s: w.duration_s,
                },
                None => EventKind::LeaseDeleted {
                    server: server.to_owned(),
                    lease: role.clone(),
                    name: c.name,
                },
            };
            if let Some(t) = self.tenants.get(*tenant) {
                t.trace.borrow_mut().push(at_ms, kind);
            }
        }
    }

    /// The local lease name of a region.
    pub fn local_lease_name(&self, region: &str) -> String {
        self.local_lease_of(0, region)
    }

    /// The global lease name.
    pub fn global_lease_name(&self) -> String {
        self.global_lease_of(0)
    }

    /// A region's CardanoForgeCluster name.
    pub fn cluster_name(&self, region: &str) -> String {
        self.cluster_name_of(0, region)
    }

    /// A pool's local lease (and CardanoLeader) in `region`: the name the Helm chart passes as
    /// `LEASE_NAME` / `CRD_NAME`; with one API server for every region, which production does not
    /// have, each region's StatefulSet needs its own, so the region is appended.
    pub fn local_lease_of(&self, tenant: usize, region: &str) -> String {
        let Some(t) = self.tenants.get(tenant) else {
            return String::new();
        };
        let name = naming::multi_tenant_leader_name(&t.network, &t.pool_id);
        if self.spec.shared_api {
            naming::truncate_name(&format!("{name}-{region}"))
        } else {
            name
        }
    }

    /// The configuration of a pool's sidecar in `region`.
    fn config_of(&self, tenant: usize, region: &str, pod: &str) -> Config {
        let (network, pool_id) = self
            .tenants
            .get(tenant)
            .map(|t| (t.network.as_str(), t.pool_id.as_str()))
            .unwrap_or_default();
        sidecar_config(
            network,
            pool_id,
            region,
            pod,
            &self.local_lease_of(tenant, region),
        )
    }

    /// A pool's global lease name, as its sidecars derive it.
    pub fn global_lease_of(&self, tenant: usize) -> String {
        self.config_of(tenant, "", "").global_lease_name()
    }

    /// A pool's CardanoForgeCluster of `region`, as its sidecars derive it.
    pub fn cluster_name_of(&self, tenant: usize, region: &str) -> String {
        self.config_of(tenant, region, "").forge_cluster_name()
    }

    /// A pool's pod name (lease holder identity): pools other than the first carry their short
    /// pool id, as their StatefulSets would.
    fn pod_name_of(&self, tenant: usize, region: &str, index: usize) -> String {
        match self.tenants.get(tenant) {
            Some(t) if tenant > 0 => {
                format!("bp-{}-{region}-{index}", naming::pool_short(&t.pool_id))
            }
            _ => format!("bp-{region}-{index}"),
        }
    }

    /// An API server of the world ("global" or a region), for tests that look at what is stored.
    pub fn api_server(&self, name: &str) -> Option<&ApiServer> {
        self.apis.get(name)
    }

    fn start_apis(&mut self) {
        for name in self.api_names() {
            let server = match ApiServer::new(Options {
                clock: Arc::new(sim_wall_clock),
                record_lease_changes: true,
                ..Options::default()
            }) {
                Ok(s) => s,
                // Without a state file nothing can fail.
                Err(e) => unreachable!("in-memory API server: {e}"),
            };
            self.requests.insert(name.clone(), 0);
            let host = api_host(&name);
            let served = server.clone();
            self.sim.host(host.as_str(), move || {
                let server = served.clone();
                async move {
                    let listener = TurmoilListener::bind(("0.0.0.0", net::API_PORT)).await?;
                    server.serve(listener).await?;
                    Ok(())
                }
            });
            self.apis.insert(name, server);
        }
    }

    fn start_operator(&mut self) {
        let queue = Rc::clone(&self.operator);
        self.sim
            .host(OPERATOR_HOST, move || pod::operator(Rc::clone(&queue)));
    }

    /// Queues the CRDs and every region's CardanoForgeCluster and CardanoLeader.
    fn setup_objects(&mut self) {
        let crds = forge_manager::crd::crds_json().unwrap_or_default();
        for api in self.api_names() {
            for crd in &crds {
                self.operator.push(OperatorRequest {
                    host: api_host(&api),
                    method: "POST",
                    path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into(),
                    content_type: "application/json",
                    body: crd.to_string(),
                });
            }
        }
        for (tenant, region) in (0..self.tenants.len())
            .flat_map(|t| self.spec.regions.iter().map(move |r| (t, r.clone())))
            .collect::<Vec<_>>()
        {
            let (network, pool_id) = match self.tenants.get(tenant) {
                Some(t) => (t.network.clone(), t.pool_id.clone()),
                None => continue,
            };
            let cfc = serde_json::json!({
                "apiVersion": "cardano.io/v1",
                "kind": "CardanoForgeCluster",
                "metadata": {"name": self.cluster_name_of(tenant, &region.name), "namespace": NAMESPACE,
                    "labels": {"cardano.io/network": network, "cardano.io/pool": pool_id}},
                "spec": {"region": region.name, "priority": region.priority, "forgeState": region.forge_state,
                    "healthCheck": {"enabled": true, "endpoint": health_endpoint(&region.name),
                        "interval": format!("{}s", self.spec.health_interval.as_secs().max(1)),
                        "timeout": "5s",
                        "failureThreshold": self.spec.health_failure_threshold.clamp(1, 10),
                        "successThreshold": self.spec.health_success_threshold.max(1)}}
            });
            self.operator.push(OperatorRequest {
                host: api_host("global"),
                method: "POST",
                path: format!("/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoforgeclusters"),
                content_type: "application/json",
                body: cfc.to_string(),
            });
            let leader = serde_json::json!({
                "apiVersion": "cardano.io/v1", "kind": "CardanoLeader",
                "metadata": {"name": self.local_lease_of(tenant, &region.name), "namespace": NAMESPACE,
                    "labels": {"cardano.io/network": network, "cardano.io/pool": pool_id}}, "spec": {}
            });
            self.operator.push(OperatorRequest {
                host: api_host(&self.local_api(&region.name)),
                method: "POST",
                path: format!("/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoleaders"),
                content_type: "application/json",
                body: leader.to_string(),
            });
        }
    }

    fn add_pod(&mut self, tenant: usize, region: &str, index: usize, region_index: usize) {
        let id = PodId::new(region, index);
        let l = layout();
        let pid_base = u32::try_from(1000 * (region_index * 100 + index + 1)).unwrap_or(u32::MAX);
        let now = self.sim.elapsed();
        let name = self.pod_name_of(tenant, region, index);
        // Scenario files may name regions, networks and pools in ways Kubernetes refuses in
        // object names (`US_East`); the simulated API server takes them, so the checks of those
        // names are skipped. Every other check holds: a problem here is a simulator bug.
        let config = self
            .config_of(tenant, region, &name)
            .validate_except(&[
                "CLUSTER_REGION",
                "CARDANO_NETWORK",
                "NETWORK_MAGIC",
                "POOL_ID",
                "CLUSTER_IDENTIFIER",
                "GLOBAL_LEASE_NAME",
                "POD_NAME",
                "LEASE_NAME",
                "CRD_NAME",
            ])
            .unwrap_or_else(|problems| panic!("pod {name}'s sidecar configuration: {problems:?}"));
        let Some(t) = self.tenants.get(tenant) else {
            return;
        };
        let trace = Rc::clone(&t.trace);
        let (network, pool_id) = (t.network.clone(), t.pool_id.clone());
        let pod = Rc::new(PodState {
            host: name.replacen("bp-", "pod-", 1),
            name,
            tenant,
            clock: Rc::new(RefCell::new(ClockModel::new(
                now,
                EPOCH_UNIX_S * 1000 + now.as_millis() as i64,
            ))),
            files: PodFiles::default(),
            node: Rc::new(RefCell::new(NodeModel::new(
                self.spec.node_startup,
                self.spec.node_sighup_delay,
                l.target.clone(),
                pid_base,
            ))),
            status: RefCell::new(None),
            shutdown: Cell::new(false),
            shutdown_signal: tokio::sync::Notify::new(),
            sidecar_exited: Cell::new(false),
            up: Cell::new(true),
            sampled: Cell::new(None),
            id: id.clone(),
        });
        self.mount(&pod);
        let ctx = pod::PodContext {
            pod: Rc::clone(&pod),
            spec: self.spec.clone(),
            network,
            pool: pool_id,
            settings: settings(&config),
            api_host: api_host(&self.local_api(region)),
            trace,
            cluster: (config.cluster.as_ref())
                .filter(|_| self.spec.cluster_management)
                .map(|cluster| pod::ClusterContext {
                    settings: cluster_settings(&config, cluster),
                    health: Rc::clone(&self.health),
                    health_cuts: Rc::clone(&self.health_cuts),
                }),
            partitions: self.partitions.clone(),
        };
        self.sim
            .host(pod.host.as_str(), move || pod::software(ctx.clone()));
        self.forging.insert((tenant, id.clone()), false);
        self.credentials.insert((tenant, id), false);
        self.pods.push(pod);
    }

    /// The mounted secret and the decoy set (secret volumes: present from the pod's start).
    fn mount(&self, pod: &PodState) {
        let l = layout();
        let Some(t) = self.tenants.get(pod.tenant) else {
            return;
        };
        for f in CredentialFile::ALL {
            pod.files
                .put(l.source.get(f), t.real.borrow().get(f), 0o600);
            pod.files.put(l.decoy.get(f), self.decoy.get(f), 0o600);
        }
    }

    fn pod(&self, tenant: usize, id: &PodId) -> Option<Rc<PodState>> {
        self.pods
            .iter()
            .find(|p| p.tenant == tenant && p.id == *id)
            .cloned()
    }

    /// Node exits so far, per pod.
    pub fn node_exits(&self) -> u32 {
        self.pods.iter().map(|p| p.node.borrow().exits).sum()
    }

    /// Ends the run and hands over the trace.
    /// Requests each API server answered so far, by route (`forge-sim bench`).
    pub fn api_routes(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.apis
            .iter()
            .map(|(name, server)| (name.clone(), server.faults().requests_by_route()))
            .collect()
    }

    pub fn finish(self) -> Trace {
        self.finish_all().into_iter().next().unwrap_or_default()
    }

    /// Ends the run and hands over every pool's trace, in pool order (faults are in the first).
    pub fn finish_all(self) -> Vec<Trace> {
        let end = u64::try_from(self.sim.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.tenants
            .iter()
            .map(|tenant| {
                let mut t = tenant.trace.borrow().clone();
                t.end_ms = end;
                t
            })
            .collect()
    }

    /// The spec the world was built from.
    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }
}

/// The API servers' clock: the true simulated wall time (API servers are never skewed).
fn sim_wall_clock() -> jiff::Timestamp {
    let elapsed = turmoil::sim_elapsed().unwrap_or_default();
    jiff::Timestamp::from_second(EPOCH_UNIX_S).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        + jiff::SignedDuration::try_from(elapsed).unwrap_or_default()
}
