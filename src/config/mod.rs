//! Configuration: every environment variable of the old sidecar (same names, same defaults) plus the
//! new ones, each also a `--flag`; typed accessors; and [`Config::validate`], which reports every
//! problem at once so an operator fixes a manifest in one round (`forge-manager check-config`).
//!
//! Values are read as raw strings and parsed here, not by clap: clap stops at the first bad value,
//! and booleans must keep the old "anything else is false" reading. The reference for operators is
//! `docs/configuration.md`; a test keeps it in step with [`Config`].
//!
//! - `duration`: the duration grammar shared with the simulator's scenario files.
//! - `value`: parsers for one value (booleans, integers, env durations, enums).
//! - `naming`: object and label names as the old sidecar and its Helm chart form them.
//! - `validate`: [`Config::problems`], every check in one place.
//! - `valid`: [`ValidConfig`], the typed settings of a configuration with no problem; the only
//!   form the rest of the sidecar reads.
//! - `summary`: [`Config::effective_summary`], what `check-config` prints.
//! - `warnings`: [`Config::warnings`], what is read in a way its author may not have meant.

pub mod duration;
pub mod naming;
mod summary;
mod valid;
mod validate;
pub mod value;
mod warnings;

use std::path::Path;
use std::time::Duration;

use crate::core::slots::SlotClock;
use crate::core::timing::TimingParams;

pub use duration::{DurationError, format_duration, parse_duration, parse_signed_duration};
pub use valid::{ClusterConfig, HealthSettings, ValidConfig};
pub use value::{CredentialMode, LogFormat};
pub use warnings::ConfigWarning;

/// One thing wrong with the configuration, phrased for the operator who must fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: value {value:?}: expected {expected}")]
pub struct ConfigProblem {
    /// The environment variable to change.
    pub variable: &'static str,
    /// Its value as given (after defaults).
    pub value: String,
    /// What it must look like, and why where that is not obvious.
    pub expected: String,
}

impl ConfigProblem {
    fn new(variable: &'static str, value: &str, expected: impl Into<String>) -> Self {
        ConfigProblem {
            variable,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// A known Cardano network: its magic, which `NETWORK_MAGIC` must agree with (as the old sidecar
/// checked: a wrong magic means the CardanoForgeCluster describes another network), and its slot
/// clock, genesis `systemStart` (the Byron genesis `startTime`) and the slot length since Shelley.
/// Every slot boundary since genesis, Byron's 20 s slots included, falls on a whole second from
/// `startTime`, so one uniform 1 s clock gives today's boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownNetwork {
    /// `CARDANO_NETWORK`.
    pub name: &'static str,
    /// The network magic.
    pub magic: u32,
    /// Genesis `systemStart`, Unix seconds.
    pub system_start_s: i64,
    /// Milliseconds per slot.
    pub slot_length_ms: u64,
}

/// The known networks.
pub const KNOWN_NETWORKS: [KnownNetwork; 3] = [
    KnownNetwork {
        name: "mainnet",
        magic: 764_824_073,
        system_start_s: 1_506_203_091,
        slot_length_ms: 1_000,
    },
    KnownNetwork {
        name: "preprod",
        magic: 1,
        system_start_s: 1_654_041_600,
        slot_length_ms: 1_000,
    },
    KnownNetwork {
        name: "preview",
        magic: 2,
        system_start_s: 1_666_656_000,
        slot_length_ms: 1_000,
    },
];

/// The known network called `name`, if any.
pub fn known_network(name: &str) -> Option<&'static KnownNetwork> {
    KNOWN_NETWORKS.iter().find(|n| n.name == name)
}

/// Upper bound of the health thresholds: a limit on everything, and more probes than this would
/// hide an outage for hours at the default interval.
pub const MAX_HEALTH_THRESHOLD: u32 = 1_000;

/// Every setting of the sidecar, as given in the environment or on the command line.
///
/// Fields hold the raw strings; the accessors parse them. Run [`Config::validate`] first: an accessor
/// returns a [`ConfigProblem`] for a value `validate` would have reported.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct Config {
    // --- 1a. Core (old sidecar) ---
    /// Namespace of the Lease, the CardanoLeader and the CardanoForgeCluster objects.
    #[arg(long, env = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// This pod's name: lease holder identity and `status.leaderPod` (downward API metadata.name).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    /// This pod's UID (downward API metadata.uid): Kubernetes Events about the pod name it, so
    /// `kubectl describe pod` lists them. Empty: Events are still written, without it.
    #[arg(long, env = "POD_UID", default_value = "")]
    pub pod_uid: String,
    /// CardanoLeader API group.
    #[arg(long, env = "CRD_GROUP", default_value = "cardano.io")]
    pub crd_group: String,
    /// CardanoLeader API version.
    #[arg(long, env = "CRD_VERSION", default_value = "v1")]
    pub crd_version: String,
    /// CardanoLeader plural.
    #[arg(long, env = "CRD_PLURAL", default_value = "cardanoleaders")]
    pub crd_plural: String,
    /// Name of the CardanoLeader object whose status is written.
    #[arg(long, env = "CRD_NAME", default_value = naming::DEFAULT_CARDANO_LEADER_NAME)]
    pub crd_name: String,
    /// Main-loop base period (integer seconds or a duration).
    #[arg(long, env = "SLEEP_INTERVAL", default_value = "5")]
    pub sleep_interval: String,
    /// cardano-node socket path.
    #[arg(long, env = "NODE_SOCKET", default_value = "/ipc/node.socket")]
    pub node_socket: String,
    /// Longest initial wait for the node socket (integer seconds or a duration).
    #[arg(long, env = "SOCKET_WAIT_TIMEOUT", default_value = "600")]
    pub socket_wait_timeout: String,
    /// Skip the initial socket wait (`true`/`1`/`yes`; anything else is false).
    #[arg(long, env = "DISABLE_SOCKET_CHECK", default_value = "false")]
    pub disable_socket_check: String,
    /// Name of the local coordination.k8s.io/v1 Lease.
    #[arg(long, env = "LEASE_NAME", default_value = naming::DEFAULT_LEASE_NAME)]
    pub lease_name: String,
    /// Lease duration (integer seconds or a duration; whole seconds).
    #[arg(long, env = "LEASE_DURATION", default_value = "15")]
    pub lease_duration: String,
    /// HTTP port for metrics and health endpoints.
    #[arg(long, env = "METRICS_PORT", default_value = "8000")]
    pub metrics_port: String,
    /// Log level: DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), or TRACE.
    #[arg(long, env = "LOG_LEVEL", default_value = "INFO")]
    pub log_level: String,
    /// Real KES signing key (secret mount).
    #[arg(long, env = "SOURCE_KES_KEY", default_value = "/secrets/kes.skey")]
    pub source_kes_key: String,
    /// Real VRF signing key (secret mount).
    #[arg(long, env = "SOURCE_VRF_KEY", default_value = "/secrets/vrf.skey")]
    pub source_vrf_key: String,
    /// Real operational certificate (secret mount).
    #[arg(long, env = "SOURCE_OP_CERT", default_value = "/secrets/node.cert")]
    pub source_op_cert: String,
    /// Where cardano-node reads the KES key.
    #[arg(
        long,
        env = "TARGET_KES_KEY",
        default_value = "/opt/cardano/secrets/kes.skey"
    )]
    pub target_kes_key: String,
    /// Where cardano-node reads the VRF key.
    #[arg(
        long,
        env = "TARGET_VRF_KEY",
        default_value = "/opt/cardano/secrets/vrf.skey"
    )]
    pub target_vrf_key: String,
    /// Where cardano-node reads the operational certificate.
    #[arg(
        long,
        env = "TARGET_OP_CERT",
        default_value = "/opt/cardano/secrets/node.cert"
    )]
    pub target_op_cert: String,
    /// SIGHUP target: process name, or a substring of one of its arguments (then only a
    /// process whose `--socket-path` is NODE_SOCKET).
    #[arg(
        long,
        env = "CARDANO_NODE_PROCESS_NAME",
        default_value = "cardano-node"
    )]
    pub cardano_node_process_name: String,

    // --- 1b. Multi-tenant identification ---
    /// Cardano network name (names, labels).
    #[arg(long, env = "CARDANO_NETWORK", default_value = "mainnet")]
    pub cardano_network: String,
    /// Pool id; when set, names are multi-tenant (`{network}-{poolShort}-...`).
    #[arg(long, env = "POOL_ID", default_value = "")]
    pub pool_id: String,
    /// Pool id in hex (optional).
    #[arg(long, env = "POOL_ID_HEX", default_value = "")]
    pub pool_id_hex: String,
    /// Human-readable pool name.
    #[arg(long, env = "POOL_NAME", default_value = "")]
    pub pool_name: String,
    /// Pool ticker.
    #[arg(long, env = "POOL_TICKER", default_value = "")]
    pub pool_ticker: String,
    /// Network magic.
    #[arg(long, env = "NETWORK_MAGIC", default_value = "764824073")]
    pub network_magic: String,
    /// Application type (metric label, CardanoForgeCluster spec).
    #[arg(long, env = "APPLICATION_TYPE", default_value = "block-producer")]
    pub application_type: String,

    // --- 1c. Cluster management ---
    /// Cross-region coordination with CardanoForgeCluster objects and the global lease.
    #[arg(long, env = "ENABLE_CLUSTER_MANAGEMENT", default_value = "false")]
    pub enable_cluster_management: String,
    /// Legacy CardanoForgeCluster name when POOL_ID is unset; empty means POD_NAME (the hostname).
    #[arg(long, env = "CLUSTER_IDENTIFIER", default_value = "")]
    pub cluster_identifier: String,
    /// This region's name, e.g. `us-east-1`.
    #[arg(long, env = "CLUSTER_REGION", default_value = "unknown")]
    pub cluster_region: String,
    /// Environment label, e.g. `production`.
    #[arg(long, env = "CLUSTER_ENVIRONMENT", default_value = "production")]
    pub cluster_environment: String,
    /// Base priority when the CardanoForgeCluster has none (1 is the most preferred).
    #[arg(long, env = "CLUSTER_PRIORITY", default_value = "100")]
    pub cluster_priority: String,
    /// Health probe URL; empty means no health checks.
    #[arg(long, env = "HEALTH_CHECK_ENDPOINT", default_value = "")]
    pub health_check_endpoint: String,
    /// Period between health probes (integer seconds or a duration).
    #[arg(long, env = "HEALTH_CHECK_INTERVAL", default_value = "30")]
    pub health_check_interval: String,

    // --- New settings ---
    /// How long a holder keeps forging without a successful renewal.
    #[arg(long, env = "RENEW_DEADLINE", default_value = "10s")]
    pub renew_deadline: String,
    /// How often candidates retry and holders renew.
    #[arg(long, env = "RETRY_PERIOD", default_value = "2s")]
    pub retry_period: String,
    /// How long a region preferred again by recovery must stay preferred before it takes over.
    #[arg(long, env = "FAILBACK_DELAY", default_value = "60s")]
    pub failback_delay: String,
    /// Timeout of one health probe.
    #[arg(long, env = "HEALTH_CHECK_TIMEOUT", default_value = "10s")]
    pub health_check_timeout: String,
    /// Consecutive failed probes before the region counts as unhealthy.
    #[arg(long, env = "HEALTH_FAILURE_THRESHOLD", default_value = "3")]
    pub health_failure_threshold: String,
    /// Consecutive good probes before it counts as healthy again.
    #[arg(long, env = "HEALTH_SUCCESS_THRESHOLD", default_value = "2")]
    pub health_success_threshold: String,
    /// `decoy` (atomic swap between real and decoy keys) or `copy` (old copy/delete behaviour).
    #[arg(long, env = "CREDENTIAL_MODE", default_value = "decoy")]
    pub credential_mode: String,
    /// Directory with the decoy set `kes.skey`, `vrf.skey`, `node.cert`.
    #[arg(long, env = "SOURCE_DECOY_DIR", default_value = "/decoy")]
    pub source_decoy_dir: String,
    /// cardano-node Prometheus endpoint, read to verify a SIGHUP took effect.
    #[arg(
        long,
        env = "NODE_METRICS_URL",
        default_value = "http://127.0.0.1:12798/metrics"
    )]
    pub node_metrics_url: String,
    /// How long to wait for the node's metrics to confirm a SIGHUP.
    #[arg(long, env = "SIGHUP_VERIFY_TIMEOUT", default_value = "5s")]
    pub sighup_verify_timeout: String,
    /// Slot length of the chain; empty means the known network's (1s), none for another network.
    #[arg(long, env = "SLOT_LENGTH", default_value = "")]
    pub slot_length: String,
    /// Genesis `systemStart` (RFC 3339) of the chain; empty means the known network's.
    #[arg(long, env = "SYSTEM_START", default_value = "")]
    pub system_start: String,
    /// Decision journal (redb database file).
    #[arg(
        long,
        env = "JOURNAL_PATH",
        default_value = "/var/lib/forge-manager/journal.redb"
    )]
    pub journal_path: String,
    /// How long journal records are kept.
    #[arg(long, env = "JOURNAL_RETENTION", default_value = "168h")]
    pub journal_retention: String,
    /// `json` or `text`.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// Timeout of one Kubernetes API request.
    #[arg(long, env = "API_TIMEOUT", default_value = "3s")]
    pub api_timeout: String,
    /// Global lease name; empty means `cardano-forge-global-{network}-{poolShort}`.
    #[arg(long, env = "GLOBAL_LEASE_NAME", default_value = "")]
    pub global_lease_name: String,
    /// Heartbeat file the watchdog reads (in the volume shared with cardano-node).
    #[arg(
        long,
        env = "HEARTBEAT_PATH",
        default_value = "/opt/cardano/secrets/.forge-manager-heartbeat"
    )]
    pub heartbeat_path: String,
    /// Kubeconfig of the coordination API server; empty means this cluster.
    #[arg(long, env = "COORDINATION_KUBECONFIG", default_value = "")]
    pub coordination_kubeconfig: String,
}

/// The defaults of every setting, as clap fills them in when nothing is set (a test keeps the two
/// equal). For code that builds a configuration without an environment, e.g. the simulator:
/// `Config { pod_name: "bp-0".into(), ..Config::default() }`.
impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: "default".into(),
            pod_name: "".into(),
            pod_uid: "".into(),
            crd_group: "cardano.io".into(),
            crd_version: "v1".into(),
            crd_plural: "cardanoleaders".into(),
            crd_name: naming::DEFAULT_CARDANO_LEADER_NAME.into(),
            sleep_interval: "5".into(),
            node_socket: "/ipc/node.socket".into(),
            socket_wait_timeout: "600".into(),
            disable_socket_check: "false".into(),
            lease_name: naming::DEFAULT_LEASE_NAME.into(),
            lease_duration: "15".into(),
            metrics_port: "8000".into(),
            log_level: "INFO".into(),
            source_kes_key: "/secrets/kes.skey".into(),
            source_vrf_key: "/secrets/vrf.skey".into(),
            source_op_cert: "/secrets/node.cert".into(),
            target_kes_key: "/opt/cardano/secrets/kes.skey".into(),
            target_vrf_key: "/opt/cardano/secrets/vrf.skey".into(),
            target_op_cert: "/opt/cardano/secrets/node.cert".into(),
            cardano_node_process_name: "cardano-node".into(),
            cardano_network: "mainnet".into(),
            pool_id: "".into(),
            pool_id_hex: "".into(),
            pool_name: "".into(),
            pool_ticker: "".into(),
            network_magic: "764824073".into(),
            application_type: "block-producer".into(),
            enable_cluster_management: "false".into(),
            cluster_identifier: "".into(),
            cluster_region: "unknown".into(),
            cluster_environment: "production".into(),
            cluster_priority: "100".into(),
            health_check_endpoint: "".into(),
            health_check_interval: "30".into(),
            renew_deadline: "10s".into(),
            retry_period: "2s".into(),
            failback_delay: "60s".into(),
            health_check_timeout: "10s".into(),
            health_failure_threshold: "3".into(),
            health_success_threshold: "2".into(),
            credential_mode: "decoy".into(),
            source_decoy_dir: "/decoy".into(),
            node_metrics_url: "http://127.0.0.1:12798/metrics".into(),
            sighup_verify_timeout: "5s".into(),
            slot_length: "".into(),
            system_start: "".into(),
            journal_path: "/var/lib/forge-manager/journal.redb".into(),
            journal_retention: "168h".into(),
            log_format: "json".into(),
            api_timeout: "3s".into(),
            global_lease_name: "".into(),
            heartbeat_path: "/opt/cardano/secrets/.forge-manager-heartbeat".into(),
            coordination_kubeconfig: "".into(),
        }
    }
}

/// How a raw value is shown in the effective configuration.
#[derive(Clone, Copy)]
enum Kind {
    /// As given.
    Text,
    /// Canonical duration (`15` → `15s`).
    Duration,
    /// `true` or `false`.
    Bool,
    /// Decimal integer (`" 8000 "` → `8000`).
    Int,
}

fn absent_if_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

fn parsed<T>(
    variable: &'static str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigProblem> {
    parse(raw).map_err(|expected| ConfigProblem::new(variable, raw, expected))
}

/// Why [`Config::from_vars`] could not build a configuration.
#[derive(Debug, thiserror::Error)]
pub enum FromVarsError {
    /// The name is not one of the sidecar's variables (a typo would otherwise go unnoticed).
    #[error("{0} is not a forge-manager variable")]
    UnknownVariable(String),
    /// clap refused the equivalent command line.
    #[error("building the configuration: {0}")]
    Parse(#[from] clap::Error),
}

impl Config {
    /// A configuration from `NAME=value` pairs only, defaults elsewhere; the process environment is
    /// not read. For the simulator and tests, which configure many pods in one process.
    pub fn from_vars<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, FromVarsError> {
        use clap::{Args, FromArgMatches};
        let command = Config::augment_args(clap::Command::new("forge-manager"));
        let mut args = vec!["forge-manager".to_string()];
        for (name, value) in vars {
            let flag = command
                .get_arguments()
                .find(|a| Some(std::ffi::OsStr::new(name)) == a.get_env())
                .and_then(|a| a.get_long())
                .ok_or_else(|| FromVarsError::UnknownVariable(name.to_string()))?;
            // `--flag=value` so that a value starting with '-' is not read as a flag.
            args.push(format!("--{flag}={value}"));
        }
        // Without their `env`, the arguments take only the flags above and the defaults.
        let command = command.mut_args(|a| a.env(None));
        let matches = command.try_get_matches_from(args)?;
        Ok(Config::from_arg_matches(&matches)?)
    }

    /// Every variable with its raw value and how to show it; the single list the summary and the
    /// problem messages draw from (a test checks it against the clap definition).
    fn entries(&self) -> Vec<(&'static str, &str, Kind)> {
        use Kind::*;
        vec![
            ("NAMESPACE", &self.namespace, Text),
            ("POD_NAME", &self.pod_name, Text),
            ("POD_UID", &self.pod_uid, Text),
            ("CRD_GROUP", &self.crd_group, Text),
            ("CRD_VERSION", &self.crd_version, Text),
            ("CRD_PLURAL", &self.crd_plural, Text),
            ("CRD_NAME", &self.crd_name, Text),
            ("SLEEP_INTERVAL", &self.sleep_interval, Duration),
            ("NODE_SOCKET", &self.node_socket, Text),
            ("SOCKET_WAIT_TIMEOUT", &self.socket_wait_timeout, Duration),
            ("DISABLE_SOCKET_CHECK", &self.disable_socket_check, Bool),
            ("LEASE_NAME", &self.lease_name, Text),
            ("LEASE_DURATION", &self.lease_duration, Duration),
            ("METRICS_PORT", &self.metrics_port, Int),
            ("LOG_LEVEL", &self.log_level, Text),
            ("SOURCE_KES_KEY", &self.source_kes_key, Text),
            ("SOURCE_VRF_KEY", &self.source_vrf_key, Text),
            ("SOURCE_OP_CERT", &self.source_op_cert, Text),
            ("TARGET_KES_KEY", &self.target_kes_key, Text),
            ("TARGET_VRF_KEY", &self.target_vrf_key, Text),
            ("TARGET_OP_CERT", &self.target_op_cert, Text),
            (
                "CARDANO_NODE_PROCESS_NAME",
                &self.cardano_node_process_name,
                Text,
            ),
            ("CARDANO_NETWORK", &self.cardano_network, Text),
            ("POOL_ID", &self.pool_id, Text),
            ("POOL_ID_HEX", &self.pool_id_hex, Text),
            ("POOL_NAME", &self.pool_name, Text),
            ("POOL_TICKER", &self.pool_ticker, Text),
            ("NETWORK_MAGIC", &self.network_magic, Int),
            ("APPLICATION_TYPE", &self.application_type, Text),
            (
                "ENABLE_CLUSTER_MANAGEMENT",
                &self.enable_cluster_management,
                Bool,
            ),
            ("CLUSTER_IDENTIFIER", &self.cluster_identifier, Text),
            ("CLUSTER_REGION", &self.cluster_region, Text),
            ("CLUSTER_ENVIRONMENT", &self.cluster_environment, Text),
            ("CLUSTER_PRIORITY", &self.cluster_priority, Int),
            ("HEALTH_CHECK_ENDPOINT", &self.health_check_endpoint, Text),
            (
                "HEALTH_CHECK_INTERVAL",
                &self.health_check_interval,
                Duration,
            ),
            ("RENEW_DEADLINE", &self.renew_deadline, Duration),
            ("RETRY_PERIOD", &self.retry_period, Duration),
            ("FAILBACK_DELAY", &self.failback_delay, Duration),
            ("HEALTH_CHECK_TIMEOUT", &self.health_check_timeout, Duration),
            (
                "HEALTH_FAILURE_THRESHOLD",
                &self.health_failure_threshold,
                Int,
            ),
            (
                "HEALTH_SUCCESS_THRESHOLD",
                &self.health_success_threshold,
                Int,
            ),
            ("CREDENTIAL_MODE", &self.credential_mode, Text),
            ("SOURCE_DECOY_DIR", &self.source_decoy_dir, Text),
            ("NODE_METRICS_URL", &self.node_metrics_url, Text),
            (
                "SIGHUP_VERIFY_TIMEOUT",
                &self.sighup_verify_timeout,
                Duration,
            ),
            ("SLOT_LENGTH", &self.slot_length, Duration),
            ("SYSTEM_START", &self.system_start, Text),
            ("JOURNAL_PATH", &self.journal_path, Text),
            ("JOURNAL_RETENTION", &self.journal_retention, Duration),
            ("LOG_FORMAT", &self.log_format, Text),
            ("API_TIMEOUT", &self.api_timeout, Duration),
            ("GLOBAL_LEASE_NAME", &self.global_lease_name, Text),
            ("HEARTBEAT_PATH", &self.heartbeat_path, Text),
            (
                "COORDINATION_KUBECONFIG",
                &self.coordination_kubeconfig,
                Text,
            ),
        ]
    }

    /// The raw value of `variable` ("" for a name that is not a setting).
    fn raw(&self, variable: &str) -> &str {
        self.entries()
            .into_iter()
            .find(|(name, _, _)| *name == variable)
            .map_or("", |(_, raw, _)| raw)
    }

    // --- Typed accessors ---

    /// `SLEEP_INTERVAL`: main-loop base period.
    pub fn sleep_interval(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "SLEEP_INTERVAL",
            &self.sleep_interval,
            value::parse_env_duration,
        )
    }
    /// `SOCKET_WAIT_TIMEOUT`: longest initial wait for the node socket.
    pub fn socket_wait_timeout(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "SOCKET_WAIT_TIMEOUT",
            &self.socket_wait_timeout,
            value::parse_env_duration,
        )
    }
    /// `DISABLE_SOCKET_CHECK`, read the old way (never fails).
    pub fn disable_socket_check(&self) -> bool {
        value::parse_bool(&self.disable_socket_check)
    }
    /// `LEASE_DURATION`, in whole seconds because a Lease stores `leaseDurationSeconds`.
    pub fn lease_duration(&self) -> Result<Duration, ConfigProblem> {
        parsed("LEASE_DURATION", &self.lease_duration, |raw| {
            let d = value::parse_env_duration(raw)?;
            if d.subsec_nanos() != 0 {
                return Err(
                    "a whole number of seconds (a Lease stores leaseDurationSeconds)".into(),
                );
            }
            Ok(d)
        })
    }
    /// `METRICS_PORT`.
    pub fn metrics_port(&self) -> Result<u16, ConfigProblem> {
        parsed("METRICS_PORT", &self.metrics_port, |raw| {
            value::parse_int_in(raw, 1..=u16::MAX)
        })
    }
    /// `LOG_LEVEL` as a tracing level.
    pub fn log_level(&self) -> Result<tracing::Level, ConfigProblem> {
        parsed("LOG_LEVEL", &self.log_level, value::parse_log_level)
    }
    /// `POOL_ID`, if set (non-empty).
    pub fn pool_id(&self) -> Option<&str> {
        absent_if_empty(&self.pool_id)
    }
    /// `POOL_ID_HEX`, if set.
    pub fn pool_id_hex(&self) -> Option<&str> {
        absent_if_empty(&self.pool_id_hex)
    }
    /// `NETWORK_MAGIC`.
    pub fn network_magic(&self) -> Result<u32, ConfigProblem> {
        parsed("NETWORK_MAGIC", &self.network_magic, |raw| {
            value::parse_int_in(raw, 0..=u32::MAX)
        })
    }
    /// `ENABLE_CLUSTER_MANAGEMENT`, read the old way (never fails).
    pub fn cluster_management(&self) -> bool {
        value::parse_bool(&self.enable_cluster_management)
    }
    /// `CLUSTER_IDENTIFIER`, defaulting to `POD_NAME` (the old default was the hostname, which is
    /// the pod name in Kubernetes).
    pub fn cluster_identifier(&self) -> &str {
        absent_if_empty(&self.cluster_identifier).unwrap_or(&self.pod_name)
    }
    /// `CLUSTER_PRIORITY`.
    pub fn cluster_priority(&self) -> Result<i64, ConfigProblem> {
        parsed("CLUSTER_PRIORITY", &self.cluster_priority, |raw| {
            value::parse_python_int(raw).ok_or_else(|| "an integer".to_string())
        })
    }
    /// `HEALTH_CHECK_ENDPOINT`, if set: health probes run only then.
    pub fn health_check_endpoint(&self) -> Option<&str> {
        absent_if_empty(&self.health_check_endpoint)
    }
    /// `HEALTH_CHECK_INTERVAL`.
    pub fn health_check_interval(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "HEALTH_CHECK_INTERVAL",
            &self.health_check_interval,
            positive_duration,
        )
    }
    /// `RENEW_DEADLINE`.
    pub fn renew_deadline(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "RENEW_DEADLINE",
            &self.renew_deadline,
            value::parse_env_duration,
        )
    }
    /// `RETRY_PERIOD`.
    pub fn retry_period(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "RETRY_PERIOD",
            &self.retry_period,
            value::parse_env_duration,
        )
    }
    /// `FAILBACK_DELAY`.
    pub fn failback_delay(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "FAILBACK_DELAY",
            &self.failback_delay,
            value::parse_env_duration,
        )
    }
    /// `HEALTH_CHECK_TIMEOUT`.
    pub fn health_check_timeout(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "HEALTH_CHECK_TIMEOUT",
            &self.health_check_timeout,
            positive_duration,
        )
    }
    /// `HEALTH_FAILURE_THRESHOLD`.
    pub fn health_failure_threshold(&self) -> Result<u32, ConfigProblem> {
        parsed(
            "HEALTH_FAILURE_THRESHOLD",
            &self.health_failure_threshold,
            |raw| value::parse_int_in(raw, 1..=MAX_HEALTH_THRESHOLD),
        )
    }
    /// `HEALTH_SUCCESS_THRESHOLD`.
    pub fn health_success_threshold(&self) -> Result<u32, ConfigProblem> {
        parsed(
            "HEALTH_SUCCESS_THRESHOLD",
            &self.health_success_threshold,
            |raw| value::parse_int_in(raw, 1..=MAX_HEALTH_THRESHOLD),
        )
    }
    /// `CREDENTIAL_MODE`.
    pub fn credential_mode(&self) -> Result<CredentialMode, ConfigProblem> {
        parsed(
            "CREDENTIAL_MODE",
            &self.credential_mode,
            CredentialMode::parse,
        )
    }
    /// `SIGHUP_VERIFY_TIMEOUT`.
    pub fn sighup_verify_timeout(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "SIGHUP_VERIFY_TIMEOUT",
            &self.sighup_verify_timeout,
            positive_duration,
        )
    }
    /// The chain's slot clock from `SLOT_LENGTH` and `SYSTEM_START`, each defaulting to the known
    /// network's; `None` for another network with neither set (SIGHUP records then name no slot).
    pub fn slot_clock(&self) -> Result<Option<SlotClock>, ConfigProblem> {
        let known = known_network(self.cardano_network.trim());
        let length = match absent_if_empty(self.slot_length.trim()) {
            Some(raw) => Some(parsed("SLOT_LENGTH", raw, |raw| {
                value::parse_env_duration(raw)
                    .ok()
                    .filter(|d| *d >= std::time::Duration::from_millis(1))
                    .ok_or_else(|| "a duration of at least 1ms, e.g. 1s".to_string())
            })?),
            None => known.map(|n| std::time::Duration::from_millis(n.slot_length_ms)),
        };
        let start = match absent_if_empty(self.system_start.trim()) {
            Some(raw) => Some(parsed("SYSTEM_START", raw, |raw| {
                raw.parse::<jiff::Timestamp>()
                    .map(jiff::Timestamp::as_millisecond)
                    .map_err(|_| {
                        "an RFC 3339 instant, e.g. 2017-09-23T21:44:51Z (genesis systemStart)"
                            .to_string()
                    })
            })?),
            None => known.map(|n| n.system_start_s * 1_000),
        };
        match (start, length) {
            (Some(start), Some(length)) => Ok(SlotClock::new(start, length)),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ConfigProblem::new(
                "SYSTEM_START",
                &self.system_start,
                "genesis systemStart (RFC 3339) when CARDANO_NETWORK is not a known network and SLOT_LENGTH is set",
            )),
            (Some(_), None) => Err(ConfigProblem::new(
                "SLOT_LENGTH",
                &self.slot_length,
                "the slot length when CARDANO_NETWORK is not a known network and SYSTEM_START is set",
            )),
        }
    }
    /// `JOURNAL_RETENTION`.
    pub fn journal_retention(&self) -> Result<Duration, ConfigProblem> {
        parsed(
            "JOURNAL_RETENTION",
            &self.journal_retention,
            positive_duration,
        )
    }
    /// `LOG_FORMAT`.
    pub fn log_format(&self) -> Result<LogFormat, ConfigProblem> {
        parsed("LOG_FORMAT", &self.log_format, LogFormat::parse)
    }
    /// `API_TIMEOUT`.
    pub fn api_timeout(&self) -> Result<Duration, ConfigProblem> {
        parsed("API_TIMEOUT", &self.api_timeout, value::parse_env_duration)
    }
    /// `COORDINATION_KUBECONFIG`, if set; `None` means the coordination objects live in this cluster.
    pub fn coordination_kubeconfig(&self) -> Option<&Path> {
        absent_if_empty(&self.coordination_kubeconfig).map(Path::new)
    }

    // --- Derived names ---

    /// The short pool id used in names, if a pool id is set.
    pub fn pool_short(&self) -> Option<&str> {
        self.pool_id().map(naming::pool_short)
    }
    /// This region's CardanoForgeCluster name (multi-tenant or legacy form).
    pub fn forge_cluster_name(&self) -> String {
        naming::forge_cluster_name(
            &self.cardano_network,
            self.pool_id(),
            &self.cluster_region,
            self.cluster_identifier(),
        )
    }
    /// The global lease name: `GLOBAL_LEASE_NAME`, or derived from network and pool.
    pub fn global_lease_name(&self) -> String {
        match absent_if_empty(&self.global_lease_name) {
            Some(name) => name.to_string(),
            None => naming::global_lease_name(&self.cardano_network, self.pool_id()),
        }
    }
    /// The `pool_id` metric label.
    pub fn metric_pool_id(&self) -> &str {
        naming::metric_pool_id(self.pool_id())
    }

    // --- Timing ---

    /// The timing settings as read, not yet checked against the budget: an unparsable value
    /// reads as the default's (which `validate` reports separately).
    pub fn timing_params(&self) -> TimingParams {
        let d = TimingParams::default();
        TimingParams {
            lease_duration: self.lease_duration().unwrap_or(d.lease_duration),
            renew_deadline: self.renew_deadline().unwrap_or(d.renew_deadline),
            retry_period: self.retry_period().unwrap_or(d.retry_period),
            api_timeout: self.api_timeout().unwrap_or(d.api_timeout),
            sighup_verify_timeout: self
                .sighup_verify_timeout()
                .unwrap_or(d.sighup_verify_timeout),
            slot_length: self.slot_clock().ok().flatten().map(|c| c.slot_length()),
            ..d
        }
    }
}

/// A duration from the environment that must be greater than zero.
fn positive_duration(raw: &str) -> Result<Duration, String> {
    let d = value::parse_env_duration(raw)?;
    if d.is_zero() {
        return Err("a duration greater than zero".to_string());
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
