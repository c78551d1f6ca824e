//! Prometheus metrics: every metric of the old sidecar (same names, types and labels,
//! docs/compatibility.md §2), the ones the operations guide's queries and alerts name but the old
//! sidecar never exported (with meanings that make those queries correct), and new ones about the
//! safety machinery. Rendered as Prometheus text format 0.0.4 (`text`).
//!
//! This module owns the registry and the meaning of every series; [`MetricsRecorder`] feeds it from
//! the control loop's decisions, [`Metrics::observe_status`] from the loop's shared status at
//! scrape time, and the cluster-wide work feeds the health series through
//! [`Metrics::record_health_check`].
//!
//! Series (`L` = `pod`, `network`, `pool_id`, `application`). Every series this project added carries
//! `L`, so several pools and networks scraped into one Prometheus stay apart (issue #6); the old
//! sidecar's series keep exactly the labels docs/compatibility.md §2 fixes, so existing queries
//! and dashboards keep matching (`cardano_leadership_changes_total` stays label-free,
//! `cardano_sighup_signals_total` and `cardano_credential_operations_total` keep only their own).
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `cardano_forging_enabled` | gauge | L | 1 iff this pod holds the lease and has put the real keys on its node (promoting or verified forging) |
//! | `cardano_leader_status` | gauge | L | 1 iff this pod holds the lease |
//! | `cardano_leadership_changes_total` | counter | – | this pod gained or lost the lease |
//! | `cardano_sighup_signals_total` | counter | `reason` | SIGHUPs delivered: `enable_forging`, `disable_forging`, `reprovision` (key rotation); `<reason>_failed` when sending failed |
//! | `cardano_sighup_results_total` | counter | L, `result` | how the node answered a SIGHUP: `verified` (metrics confirmed), `unverified` (timed out) |
//! | `cardano_sighup_confirm_seconds` | histogram | L, `sighup` | from a SIGHUP (`enable`, `disable`) to the node metrics read that confirmed it |
//! | `cardano_sighup_late_slots_total` | counter | L, `sighup` | at most how many slots a node's late SIGHUP left unchecked in a planned handover (a demotion timed to a slot start, a promotion timed by its slot settle): on `enable`, the slots that began before the node confirmed; on `disable`, the slots between the last one the node was known to check and the first its successor can check after the release |
//! | `cardano_credential_operations_total` | counter | `operation`, `file` | per file: `copy` (real keys written), `remove`, `standby` (standby set written) |
//! | `cardano_forge_manager_info_info` | gauge | `pod_name`, `namespace`, `version`, `network`, `pool_id`, `pool_ticker`, `application_type` | always 1 |
//! | `cardano_forging_active` | gauge | L | 1 iff the node's own metrics say it forges |
//! | `cardano_journal_write_failures_total` | counter | L | decision-journal records not written |
//! | `cardano_kubernetes_events_total` | counter | L, `result` | Kubernetes Events by fate: `queued`, `dropped_rate_limited` (client-go's spam filter), `dropped_queue_full` (the API server is not taking them), then `sent` or `failed` |
//! | `cardano_demotion_stuck` | gauge | L | 1 while every demotion attempt went unverified (operator action needed) |
//! | `cardano_lease_transitions_total` | counter | L | the lease's holder changed, as this pod observed it |
//! | `cardano_lease_seconds_since_renewal` | gauge | L | how long the lease record has been seen unchanged |
//! | `cardano_credential_fingerprint_info` | gauge | L, `set`, `fingerprint` | 1 for the mounted real set (`set="real"`), 16-hex fingerprint |
//! | `cardano_kes_periods_remaining` | gauge | L | KES periods before the real set's certificate expires (known networks only) |
//! | `cardano_api_requests_total` | counter | L, `server`, `verb` | lease requests answered (`server="local"`; `get`, `create`, `update`) |
//! | `cardano_api_errors_total` | counter | L, `server`, `kind` | lease requests failed, by kind (`unreachable`, `conflict`, ...) |
//! | `cardano_decisions_total` | counter | L, `reason` | decisions of the control loop, by reason |
//! | `cardano_forge_manager_loop_last_decision_timestamp_seconds` | gauge | L | wall time of the last decision |
//!
//! With cluster management on (`C` = `cluster`, `region`, `network`, `pool_id`; `cluster` =
//! CardanoForgeCluster name, `region` = `CLUSTER_REGION`):
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `cardano_cluster_forge_enabled` | gauge | C | 1 only on the pod that forges, 0 on every other replica (unsafe behaviour 23 fixed: `sum(...)` is the number of forgers) |
//! | `cardano_cluster_forge_priority` | gauge | C | the region's effective priority |
//! | `cardano_cluster_health_status` | gauge | C, `healthy` | 1 on the series of the current health verdict |
//! | `cardano_cluster_health_check_success` | gauge | C | 1 if the last health check passed |
//! | `cardano_cluster_health_check_consecutive_failures` | gauge | C | failed checks in a row |
//! | `cardano_cluster_health_check_duration_seconds` | gauge | C | duration of the last check |
//!
//! The health series have no sample until a health check reports one (so no alert fires on a
//! value nobody measured).
//!
//! The standard process series, without labels as every Prometheus client writes them
//! ([`process`], read from `/proc` at scrape time): `process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_start_time_seconds`,
//! `process_open_fds`, `process_max_fds`, `process_threads`.

pub mod process;
mod recorder;
pub mod text;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::ValidConfig;
use crate::core::election::Forging;
use crate::credentials::{CredentialPaths, CredentialSet, Genesis};
use crate::report::{SighupConfirmed, SighupKind, Status};

pub use recorder::MetricsRecorder;

/// Label pairs of one series.
pub type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Buckets of `cardano_sighup_confirm_seconds`: a prompt node answers in tens of milliseconds
/// (plus the 50 ms verification poll); a slot is a second on the known networks.
const SIGHUP_CONFIRM_BUCKETS: [f64; 9] = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// The version the info metric reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who this sidecar is, for labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `POD_NAME`.
    pub pod: String,
    /// `NAMESPACE`.
    pub namespace: String,
    /// `CARDANO_NETWORK`.
    pub network: String,
    /// The `pool_id` label: `POOL_ID[:10]` or `unknown`.
    pub pool_id_label: String,
    /// The info metric's `pool_id`: the full `POOL_ID` or `unknown`.
    pub pool_id_full: String,
    /// `POOL_TICKER` or `unknown`.
    pub pool_ticker: String,
    /// `APPLICATION_TYPE`.
    pub application: String,
    /// With cluster management: the CardanoForgeCluster name, region and base priority.
    pub cluster: Option<(String, String, i64)>,
}

impl Identity {
    /// The identity a configuration describes.
    pub fn from_config(c: &ValidConfig) -> Identity {
        Identity {
            pod: c.pod_name.clone(),
            namespace: c.namespace.clone(),
            network: c.network.clone(),
            pool_id_label: c.metric_pool_id.clone(),
            pool_id_full: c.pool_id.clone().unwrap_or_else(|| "unknown".into()),
            pool_ticker: c.pool_ticker.clone().unwrap_or_else(|| "unknown".into()),
            application: c.application_type.clone(),
            cluster: c.cluster.as_ref().map(|cluster| {
                (
                    cluster.forge_cluster_name.clone(),
                    c.region.clone(),
                    cluster.priority,
                )
            }),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Registers `name` as a family and returns its one series for `common`, created now so it is
/// exported (at 0) from the start, as an unlabelled metric would be. The handle shares the series'
/// value (counters and gauges are `Arc`s inside).
fn single_series<M>(r: &mut Registry, name: &str, help: &str, common: &Labels) -> M
where
    M: Clone + Default + std::fmt::Debug + Send + Sync + 'static,
    Family<Labels, M>: prometheus_client::registry::Metric,
{
    let family = Family::<Labels, M>::default();
    r.register(name, help, family.clone());
    family.get_or_create(common).clone()
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The cluster-management series.
struct ClusterSeries {
    /// `cluster`, `region`, `network`, `pool_id`: on every cluster series.
    labels: Labels,
    forge_enabled: Family<Labels, FloatGauge>,
    forge_priority: Family<Labels, FloatGauge>,
    health_status: Family<Labels, FloatGauge>,
    health_success: Family<Labels, FloatGauge>,
    health_failures: Family<Labels, FloatGauge>,
    health_duration: Family<Labels, FloatGauge>,
}

struct Inner {
    registry: Registry,
    common: Labels,
    forging_enabled: Family<Labels, FloatGauge>,
    leader_status: Family<Labels, FloatGauge>,
    forging_active: Family<Labels, FloatGauge>,
    leadership_changes: Counter,
    sighup_signals: Family<Labels, Counter>,
    sighup_results: Family<Labels, Counter>,
    sighup_confirm_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    sighup_late_slots: Family<Labels, Counter>,
    credential_operations: Family<Labels, Counter>,
    demotion_stuck: FloatGauge,
    journal_write_failures: Counter,
    kubernetes_events: Family<Labels, Counter>,
    lease_transitions: Counter,
    lease_since_renewal: FloatGauge,
    fingerprint_info: Family<Labels, FloatGauge>,
    kes_periods_remaining: Family<Labels, FloatGauge>,
    api_requests: Family<Labels, Counter>,
    api_errors: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    last_decision: FloatGauge,
    cluster: Option<ClusterSeries>,
    /// What the real set's KES window was computed for (fingerprint), to skip re-validation.
    kes_cache: std::sync::Mutex<Option<(String, Option<u64>)>>,
}

/// The sidecar's metrics; clones share the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every series for `id`, with the values a sidecar has before its first decision.
    pub fn new(id: &Identity) -> Metrics {
        let mut r = Registry::default();
        let common = labels(&[
            ("pod", &id.pod),
            ("network", &id.network),
            ("pool_id", &id.pool_id_label),
            ("application", &id.application),
        ]);
        let forging_enabled = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_forging_enabled",
            "1 iff this pod holds the lease and has put the real keys on its node",
            forging_enabled.clone(),
        );
        let leader_status = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_leader_status",
            "1 iff this pod holds the leader lease",
            leader_status.clone(),
        );
        // This series and the next two are the old sidecar's without `network`/`pool_id`; they keep
        // its label sets (docs/compatibility.md §2) because more labels would change their
        // identity and break queries written for it. Pools are told apart there by the scrape
        // target's labels.
        let leadership_changes = Counter::default();
        r.register(
            "cardano_leadership_changes",
            "Times this pod gained or lost the leader lease",
            leadership_changes.clone(),
        );
        let sighup_signals = Family::<Labels, Counter>::default();
        r.register(
            "cardano_sighup_signals",
            "SIGHUPs sent to cardano-node, by reason (enable_forging, disable_forging, reprovision; _failed when sending failed)",
            sighup_signals.clone(),
        );
        let credential_operations = Family::<Labels, Counter>::default();
        r.register(
            "cardano_credential_operations",
            "Credential file operations (copy, remove, standby) per file (kes, vrf, opcert)",
            credential_operations.clone(),
        );
        let info = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_forge_manager_info_info",
            "Forge manager information",
            info.clone(),
        );
        info.get_or_create(&labels(&[
            ("pod_name", &id.pod),
            ("namespace", &id.namespace),
            ("version", VERSION),
            ("network", &id.network),
            ("pool_id", &id.pool_id_full),
            ("pool_ticker", &id.pool_ticker),
            ("application_type", &id.application),
        ]))
        .set(1.0);
        let forging_active = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_forging_active",
            "1 iff cardano-node's own metrics say it forges",
            forging_active.clone(),
        );
        let sighup_results = Family::<Labels, Counter>::default();
        r.register(
            "cardano_sighup_results",
            "How the node answered SIGHUPs: verified by its metrics, or unverified (timed out)",
            sighup_results.clone(),
        );
        let sighup_confirm_seconds =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
                Histogram::new(SIGHUP_CONFIRM_BUCKETS)
            });
        r.register(
            "cardano_sighup_confirm_seconds",
            "From a SIGHUP to the node metrics read that confirmed it, by sighup (enable, disable)",
            sighup_confirm_seconds.clone(),
        );
        let sighup_late_slots = Family::<Labels, Counter>::default();
        r.register(
            "cardano_sighup_late_slots",
            "At most how many slots a node's late SIGHUP left unchecked in a planned handover: on enable, the slots that began before the node confirmed; on disable, the slots between the node's last known check and its successor's first possible one",
            sighup_late_slots.clone(),
        );
        let demotion_stuck: FloatGauge = single_series(
            &mut r,
            "cardano_demotion_stuck",
            "1 while every demotion attempt went unverified: the node may still forge; operator action needed",
            &common,
        );
        let journal_write_failures: Counter = single_series(
            &mut r,
            "cardano_journal_write_failures",
            "Decision-journal records that could not be written (disk error, or a full queue)",
            &common,
        );
        let kubernetes_events = Family::<Labels, Counter>::default();
        r.register(
            "cardano_kubernetes_events",
            "Kubernetes Events by fate: queued, dropped_rate_limited, dropped_queue_full, sent, failed",
            kubernetes_events.clone(),
        );
        let lease_transitions: Counter = single_series(
            &mut r,
            "cardano_lease_transitions",
            "Changes of the lease holder observed by this pod",
            &common,
        );
        let lease_since_renewal: FloatGauge = single_series(
            &mut r,
            "cardano_lease_seconds_since_renewal",
            "Seconds the lease record has been seen unchanged (on this pod's monotonic clock)",
            &common,
        );
        let fingerprint_info = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_credential_fingerprint_info",
            "1 for the mounted real credential set, labelled with its 16-hex fingerprint",
            fingerprint_info.clone(),
        );
        let kes_periods_remaining = Family::<Labels, FloatGauge>::default();
        r.register(
            "cardano_kes_periods_remaining",
            "KES periods before the real set's operational certificate expires",
            kes_periods_remaining.clone(),
        );
        let api_requests = Family::<Labels, Counter>::default();
        r.register(
            "cardano_api_requests",
            "Lease requests answered by the API server, by server and verb",
            api_requests.clone(),
        );
        let api_errors = Family::<Labels, Counter>::default();
        r.register(
            "cardano_api_errors",
            "Lease requests that failed, by server and kind",
            api_errors.clone(),
        );
        let decisions = Family::<Labels, Counter>::default();
        r.register(
            "cardano_decisions",
            "Decisions of the control loop, by reason",
            decisions.clone(),
        );
        let last_decision: FloatGauge = single_series(
            &mut r,
            "cardano_forge_manager_loop_last_decision_timestamp_seconds",
            "Wall-clock time of the control loop's last decision (unix seconds)",
            &common,
        );
        let cluster = id
            .cluster
            .as_ref()
            .map(|(name, region, priority)| register_cluster(&mut r, id, name, region, *priority));

        r.register_collector(Box::new(process::ProcessCollector));

        // At zero from the start, so the first late SIGHUP is an increase an alert can see.
        for kind in [SighupKind::Enable, SighupKind::Disable] {
            let mut l = common.clone();
            l.extend(labels(&[("sighup", kind.as_str())]));
            drop(sighup_late_slots.get_or_create(&l));
            drop(sighup_confirm_seconds.get_or_create(&l));
        }
        forging_enabled.get_or_create(&common).set(0.0);
        leader_status.get_or_create(&common).set(0.0);
        forging_active.get_or_create(&common).set(0.0);
        Metrics {
            inner: Arc::new(Inner {
                registry: r,
                common,
                forging_enabled,
                leader_status,
                forging_active,
                leadership_changes,
                sighup_signals,
                sighup_results,
                sighup_confirm_seconds,
                sighup_late_slots,
                credential_operations,
                demotion_stuck,
                journal_write_failures,
                kubernetes_events,
                lease_transitions,
                lease_since_renewal,
                fingerprint_info,
                kes_periods_remaining,
                api_requests,
                api_errors,
                decisions,
                last_decision,
                cluster,
                kes_cache: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The whole registry as Prometheus text format 0.0.4 ([`text::CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut open = String::new();
        prometheus_client::encoding::text::encode(&mut open, &self.inner.registry)?;
        Ok(text::from_openmetrics(&open))
    }

    /// Sets the forging and leader gauges (and, with cluster management, the per-pod cluster gauge).
    pub fn set_roles(&self, forging: bool, leader: bool, node_forging: bool) {
        let i = &self.inner;
        i.forging_enabled
            .get_or_create(&i.common)
            .set(bool_value(forging));
        i.leader_status
            .get_or_create(&i.common)
            .set(bool_value(leader));
        i.forging_active
            .get_or_create(&i.common)
            .set(bool_value(node_forging));
        if let Some(c) = &i.cluster {
            c.forge_enabled
                .get_or_create(&c.labels)
                .set(bool_value(forging));
        }
    }

    /// Sets the cluster's effective priority (cluster management only).
    pub fn set_cluster_priority(&self, priority: i64) {
        if let Some(c) = &self.inner.cluster {
            c.forge_priority
                .get_or_create(&c.labels)
                .set(priority as f64);
        }
    }

    /// Feeds the health series with one health check (cluster management only): `healthy` is the
    /// region's verdict after hysteresis, `passed` whether this check passed.
    pub fn record_health_check(
        &self,
        healthy: bool,
        passed: bool,
        consecutive_failures: u32,
        seconds: f64,
    ) {
        let Some(c) = &self.inner.cluster else { return };
        c.health_status.clear();
        let mut status = c.labels.clone();
        status.push(("healthy".into(), healthy.to_string()));
        c.health_status.get_or_create(&status).set(1.0);
        c.health_success
            .get_or_create(&c.labels)
            .set(bool_value(passed));
        c.health_failures
            .get_or_create(&c.labels)
            .set(f64::from(consecutive_failures));
        c.health_duration.get_or_create(&c.labels).set(seconds);
    }

    /// +1 on `cardano_leadership_changes_total`.
    pub fn leadership_changed(&self) {
        self.inner.leadership_changes.inc();
    }

    /// +1 on `cardano_lease_transitions_total`.
    pub fn lease_transition(&self) {
        self.inner.lease_transitions.inc();
    }

    /// `L` followed by `pairs`: the labels of a new series with labels of its own.
    fn with_common(&self, pairs: &[(&str, &str)]) -> Labels {
        let mut l = self.inner.common.clone();
        l.extend(labels(pairs));
        l
    }

    /// +1 on `cardano_sighup_signals_total{reason}` (only `reason`, as in the old sidecar).
    pub fn sighup(&self, reason: &str) {
        self.inner
            .sighup_signals
            .get_or_create(&labels(&[("reason", reason)]))
            .inc();
    }

    /// +1 on `cardano_sighup_results_total{result}`.
    pub fn sighup_result(&self, verified: bool) {
        let result = if verified { "verified" } else { "unverified" };
        self.inner
            .sighup_results
            .get_or_create(&self.with_common(&[("result", result)]))
            .inc();
    }

    /// A confirmed SIGHUP: its delay in `cardano_sighup_confirm_seconds{sighup}`, and the slots
    /// it cost in `cardano_sighup_late_slots_total{sighup}` (both series exist from the start).
    pub fn sighup_confirmed(&self, c: &SighupConfirmed) {
        let l = self.with_common(&[("sighup", c.sighup.as_str())]);
        self.inner
            .sighup_confirm_seconds
            .get_or_create(&l)
            .observe(c.after_ms as f64 / 1000.0);
        let late = self.inner.sighup_late_slots.get_or_create(&l);
        late.inc_by(c.counted_late_slots());
    }

    /// +1 per file on `cardano_credential_operations_total{operation,file}` (only those, as in the
    /// old sidecar).
    pub fn credential_operation(&self, operation: &str) {
        for file in ["kes", "vrf", "opcert"] {
            self.inner
                .credential_operations
                .get_or_create(&labels(&[("operation", operation), ("file", file)]))
                .inc();
        }
    }

    /// +1 on `cardano_api_requests_total{server,verb}`.
    pub fn api_request(&self, server: &str, verb: &str) {
        self.inner
            .api_requests
            .get_or_create(&self.with_common(&[("server", server), ("verb", verb)]))
            .inc();
    }

    /// +1 on `cardano_api_errors_total{server,kind}`.
    pub fn api_error(&self, server: &str, kind: &str) {
        self.inner
            .api_errors
            .get_or_create(&self.with_common(&[("server", server), ("kind", kind)]))
            .inc();
    }

    /// One decision: `cardano_decisions_total{reason}` and the last-decision timestamp.
    pub fn decision(&self, reason: &str, wall: jiff::Timestamp) {
        self.inner
            .decisions
            .get_or_create(&self.with_common(&[("reason", reason)]))
            .inc();
        self.inner
            .last_decision
            .set(wall.as_millisecond() as f64 / 1000.0);
    }

    /// Counts one Kubernetes Event's fate (`crate::events::CountEvent`).
    pub fn count_kubernetes_event(&self, result: &str) {
        self.inner
            .kubernetes_events
            .get_or_create(&self.with_common(&[("result", result)]))
            .inc();
    }

    /// Counts `n` more journal records that could not be written.
    pub fn add_journal_write_failures(&self, n: u64) {
        self.inner.journal_write_failures.inc_by(n);
    }

    /// Sets `cardano_demotion_stuck`.
    pub fn set_demotion_stuck(&self, stuck: bool) {
        self.inner.demotion_stuck.set(bool_value(stuck));
    }

    /// Scrape-time values from the loop's shared status: lease age, real-set fingerprint.
    pub fn observe_status(&self, st: &Status) {
        let i = &self.inner;
        if let Some(ms) = st.lease_unchanged_ms {
            i.lease_since_renewal.set(ms as f64 / 1000.0);
        }
        self.set_demotion_stuck(matches!(st.forging, Some(Forging::Stuck { .. })));
        let want = st
            .real_fingerprint
            .as_ref()
            .map(|fp| self.with_common(&[("set", "real"), ("fingerprint", fp.as_str())]));
        let present = want
            .as_ref()
            .is_some_and(|l| i.fingerprint_info.get(l).is_some());
        if !present {
            i.fingerprint_info.clear();
            if let Some(l) = want {
                i.fingerprint_info.get_or_create(&l).set(1.0);
            }
        }
    }

    /// `cardano_kes_periods_remaining` for the real set at `source`, on `genesis`'s network (read
    /// and validated again only when the set's fingerprint changes).
    pub fn observe_kes_window(&self, set: Option<&CredentialSet>, genesis: Option<&Genesis>) {
        let i = &self.inner;
        let (Some(set), Some(genesis)) = (set, genesis) else {
            i.kes_periods_remaining.clear();
            return;
        };
        let fp = set.fingerprint();
        let mut cache = i
            .kes_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let left = match cache.as_ref() {
            Some((cached, left)) if *cached == fp => *left,
            _ => {
                let report = crate::credentials::validate_at(set, genesis, jiff::Timestamp::now());
                *cache = Some((fp, report.periods_left));
                report.periods_left
            }
        };
        match left {
            Some(n) => {
                i.kes_periods_remaining
                    .get_or_create(&i.common)
                    .set(n as f64);
            }
            None => i.kes_periods_remaining.clear(),
        }
    }
}

/// Reads the real set at `paths` for the KES gauge (synchronously: three small files).
pub fn read_real_set(paths: &CredentialPaths) -> Option<CredentialSet> {
    Some(CredentialSet {
        kes: std::fs::read(&paths.kes).ok()?,
        vrf: std::fs::read(&paths.vrf).ok()?,
        opcert: std::fs::read(&paths.opcert).ok()?,
    })
}

fn register_cluster(
    r: &mut Registry,
    id: &Identity,
    name: &str,
    region: &str,
    priority: i64,
) -> ClusterSeries {
    let c = ClusterSeries {
        labels: labels(&[
            ("cluster", name),
            ("region", region),
            ("network", &id.network),
            ("pool_id", &id.pool_id_label),
        ]),
        forge_enabled: Family::default(),
        forge_priority: Family::default(),
        health_status: Family::default(),
        health_success: Family::default(),
        health_failures: Family::default(),
        health_duration: Family::default(),
    };
    r.register(
        "cardano_cluster_forge_enabled",
        "1 only on the pod that forges for this cluster, 0 on every other replica",
        c.forge_enabled.clone(),
    );
    r.register(
        "cardano_cluster_forge_priority",
        "The cluster's effective priority",
        c.forge_priority.clone(),
    );
    r.register(
        "cardano_cluster_health_status",
        "1 on the series of the current health verdict (healthy=true|false); no sample before the first check",
        c.health_status.clone(),
    );
    r.register(
        "cardano_cluster_health_check_success",
        "1 if the last health check passed; no sample before the first check",
        c.health_success.clone(),
    );
    r.register(
        "cardano_cluster_health_check_consecutive_failures",
        "Failed health checks in a row; no sample before the first check",
        c.health_failures.clone(),
    );
    r.register(
        "cardano_cluster_health_check_duration_seconds",
        "Duration of the last health check; no sample before the first check",
        c.health_duration.clone(),
    );
    c.forge_enabled.get_or_create(&c.labels).set(0.0);
    c.forge_priority
        .get_or_create(&c.labels)
        .set(priority as f64);
    c
}

/// The identity tests use: pod `bp-0` of pool `pool1abcde` on mainnet; `cluster` names the
/// CardanoForgeCluster, its region and base priority when cluster management is on.
#[cfg(test)]
pub(crate) fn test_identity(cluster: Option<(&str, &str, i64)>) -> Identity {
    Identity {
        pod: "bp-0".into(),
        namespace: "cardano".into(),
        network: "mainnet".into(),
        pool_id_label: "pool1abcde".into(),
        pool_id_full: "pool1abcdefgh".into(),
        pool_ticker: "TICK".into(),
        application: "block-producer".into(),
        cluster: cluster.map(|(n, r, p)| (n.to_owned(), r.to_owned(), p)),
    }
}

#[cfg(test)]
mod tests;
