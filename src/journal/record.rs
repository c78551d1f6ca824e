//! One journal record: what a pod saw, decided and did at one instant.
//!
//! Records are stored as compact JSON, split into a flat head and a body (see `codec`). JSON costs
//! a few bytes more than a binary encoding, but it stays readable by any tool after `export`, it
//! tolerates added optional fields without a format bump, and `inputs` is free-form JSON anyway.

use serde::{Deserialize, Serialize};

use crate::core::reason::Reason;

/// What kind of event a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A decision of the core that changed the desired role or anything else.
    Decision,
    /// An action carried out (credentials written or removed, SIGHUP, lease write).
    Action,
    /// A periodic "still alive, nothing changed" record.
    Heartbeat,
    /// The local or global lease changed holder or was lost.
    LeaseChange,
    /// A CardanoForgeCluster policy changed.
    PolicyChange,
    /// The region's or node's health changed.
    HealthTransition,
    /// The credential files changed (fingerprints only).
    CredentialChange,
    /// The sidecar started.
    Startup,
    /// The sidecar shut down (gracefully).
    Shutdown,
    /// The watchdog (dead-man switch) fired or reported.
    Watchdog,
}

impl RecordKind {
    /// Every kind, in declaration order (for statistics and CLI help).
    pub const ALL: [RecordKind; 10] = [
        RecordKind::Decision,
        RecordKind::Action,
        RecordKind::Heartbeat,
        RecordKind::LeaseChange,
        RecordKind::PolicyChange,
        RecordKind::HealthTransition,
        RecordKind::CredentialChange,
        RecordKind::Startup,
        RecordKind::Shutdown,
        RecordKind::Watchdog,
    ];

    /// The stable snake_case name (as stored and as accepted by `--kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Decision => "decision",
            RecordKind::Action => "action",
            RecordKind::Heartbeat => "heartbeat",
            RecordKind::LeaseChange => "lease_change",
            RecordKind::PolicyChange => "policy_change",
            RecordKind::HealthTransition => "health_transition",
            RecordKind::CredentialChange => "credential_change",
            RecordKind::Startup => "startup",
            RecordKind::Shutdown => "shutdown",
            RecordKind::Watchdog => "watchdog",
        }
    }

    /// Parses a stable name (`lease_change`); also accepts `lease-change` and any case.
    pub fn parse(s: &str) -> Option<RecordKind> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        RecordKind::ALL.into_iter().find(|k| k.as_str() == norm)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action carried out and its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// What was done: `write_credentials`, `remove_credentials`, `sighup`, `renew_lease`, ...
    pub action: String,
    /// How it ended: `ok`, `verified`, `failed`, `timeout`, ...
    pub result: String,
    /// Details for people: fingerprints (hash prefixes only, never key bytes), error text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One journal record. `seq` is assigned by the journal; everything else by the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// Sequence number, assigned by [`crate::journal::Journal::append`]: strictly increasing in one
    /// file, across restarts and pruning. The value a caller puts here is ignored.
    pub seq: u64,
    /// The pod's monotonic clock in milliseconds (resets when the pod restarts).
    pub mono_ms: u64,
    /// The caller's wall clock, RFC 3339 (informational; used to order and window records).
    pub wall: String,
    /// Pool (short id as in resource names).
    pub pool: String,
    /// Network (`mainnet`, `preprod`, ...).
    pub network: String,
    /// Region / cluster id.
    pub region: String,
    /// Pod name.
    pub pod: String,
    /// cardano-node's pid when known.
    pub node_pid: Option<u32>,
    /// What kind of event this is.
    pub kind: RecordKind,
    /// Role after this record: candidate, acquiring, leader, demoting, releasing, fenced.
    pub role: String,
    /// Whether this pod believed its node forged with the real keys after this record.
    pub forging: bool,
    /// Machine-readable reason of the decision.
    pub reason: Reason,
    /// One sentence for people.
    pub message: String,
    /// Free-form inputs of the decision (leases seen, policy, health, node state).
    #[serde(default)]
    pub inputs: serde_json::Value,
    /// Actions carried out and their results.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
}

/// JSON object keys that name key material in cardano-cli text envelopes or elsewhere. A record
/// whose `inputs` or `actions` contain one of these is refused: only fingerprints may be journaled.
const FORBIDDEN_KEYS: [&str; 6] = [
    "cborhex",
    "signing_key",
    "signingkey",
    "skey",
    "private_key",
    "secret",
];

/// Returns the JSON path of the first field that looks like key material, if any.
///
/// Checked on every append (cheap: the inputs are small), so a caller bug cannot put key bytes
/// into a file that outlives the pod.
pub fn find_key_material(record: &JournalRecord) -> Option<String> {
    if let Some(path) = find_in_value(&record.inputs, "inputs") {
        return Some(path);
    }
    for (i, a) in record.actions.iter().enumerate() {
        for (field, text) in [
            ("action", &a.action),
            ("result", &a.result),
            ("detail", &a.detail),
        ] {
            if text_looks_like_key(text) {
                return Some(format!("actions[{i}].{field}"));
            }
        }
    }
    if text_looks_like_key(&record.message) {
        return Some("message".to_string());
    }
    None
}

fn find_in_value(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                let lk = k.to_ascii_lowercase();
                if FORBIDDEN_KEYS.iter().any(|f| lk == *f) {
                    return Some(format!("{path}.{k}"));
                }
                if let Some(p) = find_in_value(child, &format!("{path}.{k}")) {
                    return Some(p);
                }
            }
            None
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| find_in_value(child, &format!("{path}[{i}]"))),
        serde_json::Value::String(s) if text_looks_like_key(s) => Some(path.to_string()),
        _ => None,
    }
}

/// A text envelope's marker, or a long unbroken hex string (a KES signing key is 608 bytes of CBOR,
/// a VRF signing key 64: their hex is 128+ characters; a fingerprint prefix is 16).
fn text_looks_like_key(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if lower.contains("cborhex") || lower.contains("signingkey_") {
        return true;
    }
    let mut run = 0usize;
    for b in s.bytes() {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= 128 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Parses an RFC 3339 timestamp to milliseconds since the Unix epoch (negative before 1970).
pub fn wall_ms(wall: &str) -> Option<i64> {
    let ts: jiff::Timestamp = wall.parse().ok()?;
    Some(ts.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> JournalRecord {
        JournalRecord {
            seq: 0,
            mono_ms: 1,
            wall: "2026-11-25T10:00:00Z".into(),
            pool: "p".into(),
            network: "preprod".into(),
            region: "eu".into(),
            pod: "bp-0".into(),
            node_pid: Some(7),
            kind: RecordKind::Decision,
            role: "leader".into(),
            forging: true,
            reason: Reason::Forging,
            message: "forging".into(),
            inputs: serde_json::json!({"lease": {"holder": "bp-0", "version": "12"}}),
            actions: vec![ActionRecord {
                action: "write_credentials".into(),
                result: "verified".into(),
                detail: "kes=3f2a9c01 vrf=aa01bb02".into(),
            }],
        }
    }

    #[test]
    fn a_record_with_fingerprints_only_is_accepted() {
        assert_eq!(find_key_material(&record()), None);
    }

    #[test]
    fn a_cbor_hex_field_in_inputs_is_flagged_as_key_material() {
        let mut r = record();
        r.inputs = serde_json::json!({"creds": [{"type": "KesSigningKey_ed25519_kes_2^6", "cborHex": "5901"}]});
        assert_eq!(
            find_key_material(&r).as_deref(),
            Some("inputs.creds[0].cborHex")
        );
    }

    #[test]
    fn a_long_hex_string_in_an_action_detail_is_flagged_as_key_material() {
        let mut r = record();
        r.actions[0].detail = "a".repeat(200);
        assert_eq!(find_key_material(&r).as_deref(), Some("actions[0].detail"));
    }

    #[test]
    fn kinds_parse_from_their_names_and_dashed_spellings() {
        for k in RecordKind::ALL {
            assert_eq!(RecordKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            RecordKind::parse("Lease-Change"),
            Some(RecordKind::LeaseChange)
        );
        assert_eq!(RecordKind::parse("nope"), None);
    }

    #[test]
    fn a_record_round_trips_through_json_with_the_reason_as_an_enum() {
        let r = record();
        let bytes = serde_json::to_vec(&r).expect("serialize");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains("\"reason\":\"forging\""));
        let back: JournalRecord = serde_json::from_slice(&bytes).expect("deserialize");
        assert_eq!(back, r);
    }
}
