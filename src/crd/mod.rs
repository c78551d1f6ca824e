//! The custom resources of `cardano.io/v1`: CardanoLeader and CardanoForgeCluster.
//! (Skeleton: the CRD issue completes every field of COMPATIBILITY.md section 4.)

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Spec of a CardanoLeader (informational only).
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(group = "cardano.io", version = "v1", kind = "CardanoLeader", namespaced)]
#[kube(status = "CardanoLeaderStatus", shortname = "cl", shortname = "leader")]
#[serde(rename_all = "camelCase")]
pub struct CardanoLeaderSpec {
    /// Informational namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Status of a CardanoLeader, written by the local leader.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CardanoLeaderStatus {
    /// Pod holding the local lease, or empty.
    pub leader_pod: String,
    /// Whether that pod forges.
    pub forging_enabled: bool,
    /// When leadership last changed (RFC 3339).
    pub last_transition_time: String,
}

/// Spec of a CardanoForgeCluster.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(group = "cardano.io", version = "v1", kind = "CardanoForgeCluster", namespaced)]
#[kube(status = "CardanoForgeClusterStatus", shortname = "cfc")]
#[serde(rename_all = "camelCase")]
pub struct CardanoForgeClusterSpec {
    /// `Enabled`, `Disabled` or `Priority-based`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_state: Option<String>,
    /// 1 is the most preferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// Status of a CardanoForgeCluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CardanoForgeClusterStatus {
    /// Effective state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_state: Option<String>,
}
