//! [`ValidConfig`]: a configuration that passed [`Config::validate`], with typed fields. Everything
//! past the command line reads this, never the raw strings, so no code path can start on a value
//! `validate` would have refused, and no reader needs a fallback for a value that did not parse.

use std::path::PathBuf;
use std::time::Duration;

use super::{Config, ConfigProblem, CredentialMode, LogFormat};
use crate::core::slots::SlotClock;
use crate::core::timing::Timing;
use crate::credentials::CredentialPaths;

/// The settings of a checked configuration. Non-exhaustive, so that outside this crate
/// [`Config::validate`] is the only way to build one.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ValidConfig {
    /// Namespace of the Lease, the CardanoLeader and the CardanoForgeCluster objects.
    pub namespace: String,
    /// This pod's name: the lease holder identity.
    pub pod_name: String,
    /// This pod's UID, for the Events about it (`None`: not given).
    pub pod_uid: Option<String>,
    /// The region's Lease.
    pub lease_name: String,
    /// The CardanoLeader object to keep in step (`CRD_NAME`), if any.
    pub leader_status_name: Option<String>,
    /// `CARDANO_NETWORK`.
    pub network: String,
    /// `CLUSTER_REGION` (may be empty without cluster management).
    pub region: String,
    /// `POOL_ID`, if set.
    pub pool_id: Option<String>,
    /// The `pool_id` metric label.
    pub metric_pool_id: String,
    /// `POOL_TICKER`, if set.
    pub pool_ticker: Option<String>,
    /// `APPLICATION_TYPE`.
    pub application_type: String,
    /// `LOG_LEVEL`.
    pub log_level: tracing::Level,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `METRICS_PORT`.
    pub metrics_port: u16,
    /// The checked timing budget.
    pub timing: Timing,
    /// Where the real credentials are mounted.
    pub source: CredentialPaths,
    /// Where cardano-node reads its credentials.
    pub target: CredentialPaths,
    /// The decoy set in decoy mode; `None` in copy mode.
    pub standby: Option<CredentialPaths>,
    /// `CARDANO_NODE_PROCESS_NAME`.
    pub node_process_name: String,
    /// `NODE_SOCKET`.
    pub node_socket: PathBuf,
    /// `NODE_METRICS_URL` (an http:// URL with a host).
    pub node_metrics_url: String,
    /// `HEARTBEAT_PATH`.
    pub heartbeat_path: PathBuf,
    /// `JOURNAL_PATH`.
    pub journal_path: PathBuf,
    /// `JOURNAL_RETENTION`.
    pub journal_retention: Duration,
    /// `COORDINATION_KUBECONFIG`; `None`: the coordination objects live in this cluster.
    pub coordination_kubeconfig: Option<PathBuf>,
    /// The cross-region settings, when `ENABLE_CLUSTER_MANAGEMENT` is on.
    pub cluster: Option<ClusterConfig>,
    /// The chain's slot clock (`SLOT_LENGTH`, `SYSTEM_START`); `None`: planned handovers are not
    /// aligned to slots.
    pub slot_clock: Option<SlotClock>,
}

/// The cross-region part of a checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This region's CardanoForgeCluster.
    pub forge_cluster_name: String,
    /// The pool's global lease.
    pub global_lease_name: String,
    /// Prefix of the presence leases of this network and pool.
    pub presence_prefix: String,
    /// `<network>-<pool short>-`: the name prefix of this pool's CardanoForgeClusters, if a pool
    /// id is set.
    pub name_prefix: Option<String>,
    /// `CLUSTER_PRIORITY`.
    pub priority: i64,
    /// `FAILBACK_DELAY`.
    pub failback_delay: Duration,
    /// The environment's health-check settings (a region's spec may override them).
    pub health: HealthSettings,
}

/// Health-check settings (the region's spec overrides the environment's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// Endpoint to probe; `None`: no health check (counts as healthy).
    pub endpoint: Option<String>,
    /// Probe period.
    pub interval: Duration,
    /// Probe timeout.
    pub timeout: Duration,
    /// Failures before unhealthy.
    pub failure_threshold: u32,
    /// Successes before healthy again.
    pub success_threshold: u32,
}

impl Config {
    /// Checks every setting; a configuration with no problem becomes a [`ValidConfig`], otherwise
    /// every problem is returned at once ([`Config::problems`]).
    pub fn validate(&self) -> Result<ValidConfig, Vec<ConfigProblem>> {
        self.validate_except(&[])
    }

    /// [`Config::validate`], ignoring the problems of the variables in `lenient`. For the
    /// simulator only: its scenario contract admits region and pool names (`US_East`, `POOL1`)
    /// that Kubernetes would refuse in object names, and its API server takes them. Values that
    /// do not parse are never ignored: the typed fields need them.
    pub fn validate_except(&self, lenient: &[&str]) -> Result<ValidConfig, Vec<ConfigProblem>> {
        let problems: Vec<ConfigProblem> = self
            .problems()
            .into_iter()
            .filter(|p| !lenient.contains(&p.variable))
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        self.typed().map_err(|p| vec![p])
    }

    /// The typed settings. `problems` found nothing, so every `?` here is unreachable in practice;
    /// it still returns the problem rather than assume it.
    fn typed(&self) -> Result<ValidConfig, ConfigProblem> {
        let timing = Timing::new(self.timing_params()).map_err(|problems| {
            let first = problems.first().map_or("LEASE_DURATION", |p| p.variable);
            ConfigProblem::new(
                first,
                self.raw(first),
                "a value that fits the timing budget",
            )
        })?;
        let cluster = if self.cluster_management() {
            Some(self.cluster_config()?)
        } else {
            None
        };
        Ok(ValidConfig {
            namespace: self.namespace.clone(),
            pod_name: self.pod_name.clone(),
            pod_uid: Some(self.pod_uid.clone()).filter(|u| !u.is_empty()),
            lease_name: self.lease_name.clone(),
            leader_status_name: Some(self.crd_name.clone()).filter(|n| !n.is_empty()),
            network: self.cardano_network.clone(),
            region: self.cluster_region.clone(),
            pool_id: self.pool_id().map(str::to_owned),
            metric_pool_id: self.metric_pool_id().to_owned(),
            pool_ticker: Some(self.pool_ticker.clone()).filter(|t| !t.is_empty()),
            application_type: self.application_type.clone(),
            log_level: self.log_level()?,
            log_format: self.log_format()?,
            metrics_port: self.metrics_port()?,
            timing,
            source: CredentialPaths {
                kes: PathBuf::from(&self.source_kes_key),
                vrf: PathBuf::from(&self.source_vrf_key),
                opcert: PathBuf::from(&self.source_op_cert),
            },
            target: CredentialPaths {
                kes: PathBuf::from(&self.target_kes_key),
                vrf: PathBuf::from(&self.target_vrf_key),
                opcert: PathBuf::from(&self.target_op_cert),
            },
            standby: match self.credential_mode()? {
                CredentialMode::Decoy => Some(CredentialPaths::in_dir(std::path::Path::new(
                    &self.source_decoy_dir,
                ))),
                CredentialMode::Copy => None,
            },
            node_process_name: self.cardano_node_process_name.clone(),
            node_socket: PathBuf::from(&self.node_socket),
            node_metrics_url: self.node_metrics_url.clone(),
            heartbeat_path: PathBuf::from(&self.heartbeat_path),
            journal_path: PathBuf::from(&self.journal_path),
            journal_retention: self.journal_retention()?,
            coordination_kubeconfig: self.coordination_kubeconfig().map(PathBuf::from),
            cluster,
            slot_clock: self.slot_clock()?,
        })
    }

    fn cluster_config(&self) -> Result<ClusterConfig, ConfigProblem> {
        Ok(ClusterConfig {
            forge_cluster_name: self.forge_cluster_name(),
            global_lease_name: self.global_lease_name(),
            presence_prefix: format!(
                "cardano-forge-presence-{}-{}-",
                self.cardano_network,
                self.pool_short().unwrap_or("legacy").to_lowercase()
            ),
            name_prefix: self
                .pool_short()
                .map(|p| format!("{}-{}-", self.cardano_network, p)),
            priority: self.cluster_priority()?,
            failback_delay: self.failback_delay()?,
            health: HealthSettings {
                endpoint: self.health_check_endpoint().map(str::to_owned),
                interval: self.health_check_interval()?,
                timeout: self.health_check_timeout()?,
                failure_threshold: self.health_failure_threshold()?,
                success_threshold: self.health_success_threshold()?,
            },
        })
    }
}
