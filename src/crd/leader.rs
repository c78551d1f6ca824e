//! `CardanoLeader` (`cardanoleaders.cardano.io`, docs/compatibility.md §4a): an informational
//! object whose status the local leader writes.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ConditionStatus;

/// Spec of a CardanoLeader (informational only; Helm creates it with `spec: {}`).
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cardano.io",
    version = "v1",
    kind = "CardanoLeader",
    plural = "cardanoleaders",
    namespaced,
    status = "CardanoLeaderStatus",
    shortname = "cl",
    shortname = "leader",
    category = "cardano",
    category = "blockchain",
    annotation("helm.sh/resource-policy", "keep"),
    derive = "PartialEq",
    doc = "Which pod of a Cardano block-producer set holds the local leader lease and forges.",
    printcolumn = r#"{"name":"Leader Pod","type":"string","jsonPath":".status.leaderPod"}"#,
    printcolumn = r#"{"name":"Forging","type":"boolean","jsonPath":".status.forgingEnabled"}"#,
    printcolumn = r#"{"name":"Last Transition","type":"date","jsonPath":".status.lastTransitionTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CardanoLeaderSpec {
    /// Informational namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
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
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// Machine-readable reason of the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Standard conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<LeaderCondition>>,
    /// Generation of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Condition types of a CardanoLeader.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum LeaderConditionType {
    /// The leader machinery runs.
    Ready,
    /// A leader holds the lease.
    LeaderElected,
    /// The node is syncing.
    Syncing,
}

/// One condition of a CardanoLeader.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LeaderCondition {
    /// Which condition.
    #[serde(rename = "type")]
    pub type_: LeaderConditionType,
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
