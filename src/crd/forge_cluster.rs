//! `CardanoForgeCluster` (`cardanoforgeclusters.cardano.io`, docs/compatibility.md §4b): one
//! cluster of a pool's block producers, its forge state, priority, health check and manual
//! override.
//!
//! Two shapes are accepted, because the old project shipped both:
//! - single-tenant: `region`, `environment`, `clusterIdentifier` at the top of `spec`;
//! - multi-tenant: `network`, `pool`, `application`, `region`.
//!
//! The schema therefore leaves `network`, `pool` and `region` optional; [`CardanoForgeClusterSpec::validate`]
//! checks the combination and repeats every constraint in Rust.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ConditionStatus;

/// Spec of a CardanoForgeCluster.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cardano.io",
    version = "v1",
    kind = "CardanoForgeCluster",
    plural = "cardanoforgeclusters",
    namespaced,
    status = "CardanoForgeClusterStatus",
    shortname = "cfc",
    category = "cardano",
    category = "blockchain",
    annotation("helm.sh/resource-policy", "keep"),
    derive = "PartialEq",
    doc = "One cluster of a Cardano pool's block producers: whether and with which priority it may forge.",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.effectiveState"}"#,
    printcolumn = r#"{"name":"Priority","type":"integer","jsonPath":".status.effectivePriority"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"Active Leader","type":"string","jsonPath":".status.activeLeader"}"#,
    printcolumn = r#"{"name":"Forger","type":"string","jsonPath":".status.forger"}"#,
    printcolumn = r#"{"name":"Forging","type":"boolean","jsonPath":".status.forgingEnabled","priority":1}"#,
    printcolumn = r#"{"name":"Healthy","type":"boolean","jsonPath":".status.healthStatus.healthy"}"#,
    printcolumn = r#"{"name":"Observed","type":"date","jsonPath":".status.observedAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Network","type":"string","jsonPath":".spec.network.name","priority":1}"#,
    printcolumn = r#"{"name":"Pool","type":"string","jsonPath":".spec.pool.ticker","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CardanoForgeClusterSpec {
    /// Cardano network (multi-tenant shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    /// Stake pool identity (multi-tenant shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolSpec>,
    /// What this cluster runs (multi-tenant shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationSpec>,
    /// Region, e.g. `us-east-1` (both shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9\-]{2,20}$"))]
    pub region: Option<String>,
    /// Environment label (single-tenant shape), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Cluster identifier (single-tenant shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_identifier: Option<String>,
    /// Desired forge state.
    #[serde(default)]
    pub forge_state: ForgeState,
    /// 1 is the most preferred.
    #[serde(default = "default_priority")]
    #[schemars(range(min = 1, max = 999))]
    pub priority: i32,
    /// External health check of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
    /// Manual override of state or priority.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<OverrideSpec>,
}

fn default_priority() -> i32 {
    DEFAULT_PRIORITY
}

/// Priority of a cluster whose spec names none.
pub const DEFAULT_PRIORITY: i32 = 100;
/// Lowest allowed priority value (most preferred).
pub const MIN_PRIORITY: i32 = 1;
/// Highest allowed priority value (least preferred).
pub const MAX_PRIORITY: i32 = 999;

/// `Enabled`, `Disabled` or `Priority-based`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ForgeState {
    /// Always allowed to forge.
    Enabled,
    /// Never forges.
    Disabled,
    /// Forges when it is the best eligible cluster.
    #[default]
    #[serde(rename = "Priority-based")]
    PriorityBased,
}

/// State forced by an override: `Enabled` or `Disabled`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ForceState {
    /// Forced on.
    Enabled,
    /// Forced off.
    Disabled,
}

/// Cardano network names.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    /// The main network.
    Mainnet,
    /// The pre-production testnet.
    Preprod,
    /// The preview testnet.
    Preview,
    /// Anything else (see `magic`).
    Custom,
}

/// The Cardano network of a multi-tenant cluster.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// Network name.
    pub name: NetworkName,
    /// Network magic number.
    pub magic: i64,
    /// Ledger era, e.g. `conway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "conway"))]
    pub era: Option<String>,
}

/// The stake pool of a multi-tenant cluster.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolSpec {
    /// Bech32 pool id, `pool1` + 51 characters.
    #[schemars(regex(pattern = r"^pool1[a-z0-9]{51}$"))]
    pub id: String,
    /// Pool id as 56 lowercase hex digits.
    #[schemars(regex(pattern = r"^[a-f0-9]{56}$"))]
    pub id_hex: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    pub name: Option<String>,
    /// Ticker, 1 to 5 of `A-Z0-9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z0-9]{1,5}$"))]
    pub ticker: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub description: Option<String>,
}

/// Kinds of application a cluster runs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ApplicationType {
    /// A block producer.
    BlockProducer,
    /// Relays only.
    RelayOnly,
    /// Monitoring only.
    Monitoring,
    /// Anything else.
    Custom,
}

/// Deployment environments of a multi-tenant application.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationEnvironment {
    /// Production.
    Production,
    /// Staging.
    Staging,
    /// Development.
    Development,
    /// Testing.
    Testing,
}

/// What a multi-tenant cluster runs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// Application type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "block-producer"))]
    pub type_: Option<ApplicationType>,
    /// Application version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "production"))]
    pub environment: Option<ApplicationEnvironment>,
}

/// External health check of a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// Whether the check runs.
    #[serde(default)]
    pub enabled: bool,
    /// URL probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri"))]
    pub endpoint: Option<String>,
    /// Probe interval, e.g. `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+[smh]$"), extend("default" = "30s"))]
    pub interval: Option<String>,
    /// Probe timeout, e.g. `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+[smh]$"), extend("default" = "10s"))]
    pub timeout: Option<String>,
    /// Consecutive failures before the cluster counts as unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10), extend("default" = 3))]
    pub failure_threshold: Option<i32>,
    /// Consecutive successes before an unhealthy cluster counts as healthy again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub success_threshold: Option<i32>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

/// Manual override of a cluster's state or priority.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OverrideSpec {
    /// Whether the override applies.
    #[serde(default)]
    pub enabled: bool,
    /// Why (copied into `status.message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the override ends (RFC 3339), judged against the API server's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<String>,
    /// Priority used instead of `spec.priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 999))]
    pub force_priority: Option<i32>,
    /// State used instead of `spec.forgeState`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_state: Option<ForceState>,
}

/// Status of a CardanoForgeCluster, written by the cluster manager.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CardanoForgeClusterStatus {
    /// State after overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_state: Option<ForgeState>,
    /// Priority after overrides and health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_priority: Option<i32>,
    /// This region's local leader while it is eligible, forging or not (`forgingEnabled` says
    /// whether it forges), or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_leader: Option<String>,
    /// Whether this region forges: its gate is open and its local leader's node has the keys (true
    /// on one region's CardanoForgeCluster at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forging_enabled: Option<bool>,
    /// The pod that forges for this region now, empty when none does: "who forges" in one
    /// column, and what `kubectl wait --for=jsonpath='{.status.forger}'=POD` waits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forger: Option<String>,
    /// When this region's local leader last wrote this status (RFC 3339). It is rewritten at
    /// least every few lease durations while the region lives, so an old value means nobody of
    /// the region writes any more: the rest of the status is as stale as this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub observed_at: Option<String>,
    /// Time of the last status write (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_transition: Option<String>,
    /// Machine-readable reason, e.g. `healthy_operation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Result of the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
    /// Standard conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterCondition>>,
    /// Generation of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Chain state seen by this cluster (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_status: Option<NetworkStatus>,
    /// Pool state seen by this cluster (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_status: Option<PoolStatus>,
}

/// Result of a cluster's health check.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Whether the cluster counts as healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// When the last probe ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_probe_time: Option<String>,
    /// Failures in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<i32>,
    /// Last probe's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Last probe's response time, e.g. `120ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_time: Option<String>,
}

/// Condition types of a CardanoForgeCluster.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ClusterConditionType {
    /// The cluster is ready.
    Ready,
    /// The health check passes.
    HealthCheckPassing,
    /// A leader is elected.
    LeaderElected,
    /// The node is syncing.
    Syncing,
}

/// One condition of a CardanoForgeCluster.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCondition {
    /// Which condition.
    #[serde(rename = "type")]
    pub type_: ClusterConditionType,
    /// Its value.
    pub status: ConditionStatus,
    /// When it last changed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Sync states of a node.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// Catching up.
    Syncing,
    /// At the tip.
    Synced,
    /// Behind the tip.
    Behind,
    /// Not known.
    Unknown,
}

/// Chain state seen by a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStatus {
    /// Network name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Network magic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magic: Option<i64>,
    /// Sync state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<SyncStatus>,
    /// Slot of the tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip_slot: Option<i64>,
    /// Hash of the tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip_hash: Option<String>,
    /// Current epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_no: Option<i64>,
}

/// Pool state seen by a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    /// Pool id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    /// Active stake in lovelace, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_stake: Option<String>,
    /// Number of delegators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegator_count: Option<i64>,
    /// When the pool last produced a block (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_block_produced: Option<String>,
    /// Blocks produced this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_produced_epoch: Option<i64>,
    /// Blocks expected this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_expected_epoch: Option<i64>,
}

impl CardanoForgeClusterSpec {
    /// Every problem of this spec, as `path: problem` lines; empty when valid.
    ///
    /// Repeats the schema's constraints (an object read from a file or an old API server may not
    /// have passed them) and checks what a schema cannot: the single/multi-tenant combination.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let multi_tenant = self.network.is_some() || self.pool.is_some();
        if multi_tenant {
            if self.network.is_none() {
                problems.push(
                    "spec.network: Required value: multi-tenant spec (pool given) needs network"
                        .into(),
                );
            }
            if self.pool.is_none() {
                problems.push(
                    "spec.pool: Required value: multi-tenant spec (network given) needs pool"
                        .into(),
                );
            }
            if self.region.is_none() {
                problems.push("spec.region: Required value: multi-tenant spec needs region".into());
            }
        }
        if let Some(pool) = &self.pool {
            if !is_bech32_pool_id(&pool.id) {
                problems.push(format!(
                    "spec.pool.id: Invalid value: {:?}: must match ^pool1[a-z0-9]{{51}}$",
                    pool.id
                ));
            }
            if !(pool.id_hex.len() == 56
                && pool
                    .id_hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            {
                problems.push(format!(
                    "spec.pool.idHex: Invalid value: {:?}: must be 56 lowercase hex digits",
                    pool.id_hex
                ));
            }
            if let Some(ticker) = &pool.ticker
                && !((1..=5).contains(&ticker.len())
                    && ticker
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            {
                problems.push(format!(
                    "spec.pool.ticker: Invalid value: {ticker:?}: must match ^[A-Z0-9]{{1,5}}$"
                ));
            }
            if pool.name.as_ref().is_some_and(|n| n.chars().count() > 50) {
                problems.push("spec.pool.name: Too long: may not be longer than 50".into());
            }
            if pool
                .description
                .as_ref()
                .is_some_and(|d| d.chars().count() > 255)
            {
                problems.push("spec.pool.description: Too long: may not be longer than 255".into());
            }
        }
        if let Some(region) = &self.region
            && !((2..=20).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            problems.push(format!(
                "spec.region: Invalid value: {region:?}: must match ^[a-z0-9\\-]{{2,20}}$"
            ));
        }
        if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&self.priority) {
            problems.push(format!("spec.priority: Invalid value: {}: must be between {MIN_PRIORITY} and {MAX_PRIORITY}", self.priority));
        }
        if let Some(hc) = &self.health_check {
            for (field, value) in [("interval", &hc.interval), ("timeout", &hc.timeout)] {
                if let Some(v) = value
                    && !is_duration(v)
                {
                    problems.push(format!(
                        "spec.healthCheck.{field}: Invalid value: {v:?}: must match ^[0-9]+[smh]$"
                    ));
                }
            }
            for (field, value) in [
                ("failureThreshold", hc.failure_threshold),
                ("successThreshold", hc.success_threshold),
            ] {
                if let Some(v) = value
                    && !(1..=10).contains(&v)
                {
                    problems.push(format!(
                        "spec.healthCheck.{field}: Invalid value: {v}: must be between 1 and 10"
                    ));
                }
            }
        }
        if let Some(ov) = &self.override_ {
            if let Some(p) = ov.force_priority
                && !(MIN_PRIORITY..=MAX_PRIORITY).contains(&p)
            {
                problems.push(format!("spec.override.forcePriority: Invalid value: {p}: must be between {MIN_PRIORITY} and {MAX_PRIORITY}"));
            }
            if let Some(at) = &ov.expires_at
                && at.parse::<jiff::Timestamp>().is_err()
            {
                problems.push(format!(
                    "spec.override.expiresAt: Invalid value: {at:?}: must be an RFC 3339 date-time"
                ));
            }
        }
        problems
    }
}

fn is_bech32_pool_id(id: &str) -> bool {
    id.len() == 56
        && id.starts_with("pool1")
        && id[5..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_duration(v: &str) -> bool {
    match v.as_bytes().split_last() {
        Some((unit, digits)) => {
            matches!(unit, b's' | b'm' | b'h')
                && !digits.is_empty()
                && digits.iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}
