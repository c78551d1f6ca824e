//! The operator's changes (pure): which CardanoForgeCluster a REGION argument names, the exact
//! merge patch of each procedure of the operations guide, what the policy will prefer once it
//! applies (the core's own ranking, so a handover that could not move is refused before it is
//! written), and whether the status shows the move yet.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::core::policy::{self, RegionView};
use crate::crd::{CardanoForgeCluster, CardanoForgeClusterSpec, parse_spec};

use super::view::{self, Filter};

/// What an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Keep the region from forging until `expires_at` (an override forcing `Disabled`).
    Maintenance {
        /// Shown in the status message.
        reason: String,
        /// RFC 3339, from the API server's clock.
        expires_at: String,
    },
    /// Make the region the preferred one until `expires_at` (an override forcing priority 1,
    /// and `Enabled` when another region is `Enabled`).
    Handover {
        /// Shown in the status message.
        reason: String,
        /// RFC 3339, from the API server's clock.
        expires_at: String,
        /// Also force `Enabled` (needed to rank before an `Enabled` region).
        force_enabled: bool,
    },
    /// `spec.forgeState: Disabled`, until someone enables it.
    Disable,
    /// `spec.forgeState: Priority-based`.
    Enable,
    /// Remove the override.
    ClearOverride,
}

impl Change {
    /// The command's name, for messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Change::Maintenance { .. } => "maintenance",
            Change::Handover { .. } => "handover",
            Change::Disable => "disable",
            Change::Enable => "enable",
            Change::ClearOverride => "clear-override",
        }
    }

    /// The JSON merge patch (RFC 7386) of this change: what docs/operations.md shows next to
    /// each command.
    pub fn patch(&self) -> Value {
        match self {
            Change::Maintenance { reason, expires_at } => json!({"spec": {"override": {
                "enabled": true,
                "forceState": "Disabled",
                "forcePriority": null,
                "reason": reason,
                "expiresAt": expires_at,
            }}}),
            Change::Handover {
                reason,
                expires_at,
                force_enabled,
            } => json!({"spec": {"override": {
                "enabled": true,
                "forceState": if *force_enabled { json!("Enabled") } else { Value::Null },
                "forcePriority": 1,
                "reason": reason,
                "expiresAt": expires_at,
            }}}),
            Change::Disable => json!({"spec": {"forgeState": "Disabled"}}),
            Change::Enable => json!({"spec": {"forgeState": "Priority-based"}}),
            Change::ClearOverride => json!({"spec": {"override": null}}),
        }
    }
}

/// Why a command cannot go on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    /// No CardanoForgeCluster matches.
    #[error("no CardanoForgeCluster of region or name {wanted:?}{within}; known: {known}")]
    NotFound {
        /// The argument.
        wanted: String,
        /// " in the selected pools" when a filter applies.
        within: String,
        /// The regions and names there are.
        known: String,
    },
    /// More than one matches.
    #[error(
        "{wanted:?} names {count} CardanoForgeClusters ({names}); name one, or pass --pool/--network"
    )]
    Ambiguous {
        /// The argument.
        wanted: String,
        /// How many.
        count: usize,
        /// Their names.
        names: String,
    },
    /// The policy would not do what the command is for.
    #[error("{0}")]
    Refused(String),
}

/// The one CardanoForgeCluster that `wanted` names: by `spec.region`, or by object name.
pub fn resolve<'a>(
    clusters: &'a [CardanoForgeCluster],
    filter: &Filter,
    wanted: &str,
) -> Result<&'a CardanoForgeCluster, ChangeError> {
    let candidates: Vec<&CardanoForgeCluster> = clusters
        .iter()
        .filter(|c| view::selected(c, filter))
        .collect();
    let by_name: Vec<_> = candidates
        .iter()
        .filter(|c| c.metadata.name.as_deref() == Some(wanted))
        .collect();
    if let [one] = by_name.as_slice() {
        return Ok(one);
    }
    let by_region: Vec<_> = candidates
        .iter()
        .filter(|c| c.spec.region.as_deref() == Some(wanted))
        .collect();
    match by_region.as_slice() {
        [one] => Ok(one),
        [] => Err(ChangeError::NotFound {
            wanted: wanted.to_owned(),
            within: if filter.network.is_some() || filter.pool.is_some() {
                " in the selected pools".into()
            } else {
                String::new()
            },
            known: if candidates.is_empty() {
                "none".into()
            } else {
                candidates
                    .iter()
                    .map(|c| {
                        format!(
                            "{} ({})",
                            view::region_of(c),
                            c.metadata.name.as_deref().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
        many => Err(ChangeError::Ambiguous {
            wanted: wanted.to_owned(),
            count: many.len(),
            names: many
                .iter()
                .map(|c| c.metadata.name.clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `spec` with a merge patch's `spec` part applied, as the API server will apply it.
pub fn patched_spec(
    spec: &CardanoForgeClusterSpec,
    patch: &Value,
) -> Result<CardanoForgeClusterSpec, String> {
    let mut value = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    json_patch::merge(&mut value, &patch["spec"]);
    serde_json::from_value(value).map_err(|e| format!("the patched spec would not parse: {e}"))
}

/// What the policy will prefer once the change applies, and why, from the pool's objects read at
/// `now` (the ranking the sidecars run, on what they publish).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    /// The preferred region after the change.
    pub preferred: Option<String>,
    /// The preferred region before it.
    pub before: Option<String>,
    /// One line per region: how it ranks after the change.
    pub explain: Vec<String>,
}

/// Ranks the pool with `target`'s spec patched.
pub fn predict(
    pool: &[&CardanoForgeCluster],
    leases: &[k8s_openapi::api::coordination::v1::Lease],
    network: &str,
    pool_id: &str,
    target: &CardanoForgeCluster,
    patch: &Value,
    now: jiff::Timestamp,
) -> Result<Prediction, ChangeError> {
    let now_ms = Some(now.as_millisecond());
    let mut views: BTreeMap<String, RegionView> =
        view::region_views(pool, leases, network, pool_id, now);
    let before = policy::rank(&views, now_ms).preferred;
    let region = view::region_of(target);
    let spec = patched_spec(&target.spec, patch).map_err(ChangeError::Refused)?;
    if let Some(v) = views.get_mut(&region) {
        v.policy = parse_spec(&spec);
    }
    let after = policy::rank(&views, now_ms);
    let explain = views
        .iter()
        .map(|(name, v)| {
            format!(
                "{name}: {}{}",
                policy::describe(v, now_ms),
                if v.present {
                    ""
                } else {
                    ", no eligible pod up (presence lease absent or expired)"
                }
            )
        })
        .collect();
    Ok(Prediction {
        preferred: after.preferred,
        before,
        explain,
    })
}

/// Whether some region other than `target` is `Enabled` by its spec or an active override (a
/// handover must then force `Enabled` too, or it ranks behind it).
pub fn other_enabled(
    pool: &[&CardanoForgeCluster],
    target: &CardanoForgeCluster,
    now: jiff::Timestamp,
) -> bool {
    pool.iter()
        .filter(|c| c.metadata.name != target.metadata.name)
        .any(|c| {
            let view = RegionView {
                policy: parse_spec(&c.spec),
                health: crate::core::policy::Health::UNCHECKED,
                present: true,
            };
            policy::effective(&view, Some(now.as_millisecond())).state == policy::State::Enabled
        })
}

/// Refuses a change that would not do what its command is for: a handover whose target would
/// still not be preferred, or a maintenance or disable that leaves no region able to forge
/// (allowed with `force`).
pub fn check(
    change: &Change,
    region: &str,
    prediction: &Prediction,
    force: bool,
) -> Result<(), ChangeError> {
    let why = || prediction.explain.join("; ");
    match change {
        Change::Handover { .. } if prediction.preferred.as_deref() != Some(region) => {
            Err(ChangeError::Refused(format!(
                "after this handover the policy would prefer {}, not {region}: {}",
                prediction.preferred.as_deref().unwrap_or("no region"),
                why()
            )))
        }
        Change::Maintenance { .. } | Change::Disable
            if prediction.preferred.is_none() && !force =>
        {
            Err(ChangeError::Refused(format!(
                "after this change no region could forge ({}); pass --force to do it anyway",
                why()
            )))
        }
        _ => Ok(()),
    }
}

/// What the status says about a move, after the patch that made `generation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The move is visible: the target's leader saw the change (when the region has one), the
    /// expected region forges and no other does (or nobody does, when no region may).
    pub done: bool,
    /// One line: who forges now, per region, and what is still awaited.
    pub line: String,
}

/// Judges the pool's statuses against the prediction.
pub fn progress(
    pool: &[&CardanoForgeCluster],
    target: &str,
    generation: Option<i64>,
    target_present: bool,
    expected: Option<&str>,
) -> Progress {
    let forger = |c: &CardanoForgeCluster| {
        c.status
            .as_ref()
            .and_then(|s| s.forger.clone())
            .filter(|f| !f.is_empty())
    };
    let mut forging = Vec::new();
    let mut seen = !target_present;
    for c in pool {
        let region = view::region_of(c);
        if region == target {
            let observed = c.status.as_ref().and_then(|s| s.observed_generation);
            seen |= matches!((observed, generation), (Some(o), Some(g)) if o >= g);
        }
        if let Some(pod) = forger(c) {
            forging.push((region, pod));
        }
    }
    let moved = match expected {
        Some(want) => matches!(forging.as_slice(), [(r, _)] if r == want),
        None => forging.is_empty(),
    };
    let now = if forging.is_empty() {
        "nobody forges".to_owned()
    } else {
        forging
            .iter()
            .map(|(r, p)| format!("{p} ({r}) forges"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut waiting = Vec::new();
    if !seen {
        waiting.push(format!("{target}'s leader to see the change"));
    }
    if !moved {
        waiting.push(match expected {
            Some(want) => format!("{want} to forge alone"),
            None => "every region to stop forging".to_owned(),
        });
    }
    let line = if waiting.is_empty() {
        now
    } else {
        format!("{now}; waiting for {}", waiting.join(" and "))
    };
    Progress {
        done: seen && moved,
        line,
    }
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
