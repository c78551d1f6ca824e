//! The CRD's side of the policy edge: a CardanoForgeCluster spec, as the API server returned it,
//! becomes the core's own policy types (`core::policy`), so the pure core never names a kube type.

use crate::core::policy::{Health, Override, RegionPolicy, State};

use super::{CardanoForgeCluster, CardanoForgeClusterSpec, ForceState, ForgeState};

/// The health a region's representative last published in its status, as the core ranks it
/// (`None`: never published; a missing `healthy` counts as healthy, like an unchecked region).
pub fn published_health(c: &CardanoForgeCluster) -> Option<Health> {
    let h = c.status.as_ref()?.health_status.as_ref()?;
    Some(Health {
        healthy: h.healthy.unwrap_or(true),
        consecutive_failures: h
            .consecutive_failures
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
    })
}

/// Parses a spec; every problem is listed (a malformed spec never forges).
pub fn parse_spec(spec: &CardanoForgeClusterSpec) -> Result<RegionPolicy, Vec<String>> {
    let mut problems = spec.validate();
    let override_ = match &spec.override_ {
        Some(o) if o.enabled => {
            let expires_at_ms = match o.expires_at.as_deref() {
                None | Some("") => None,
                Some(text) => match text.parse::<jiff::Timestamp>() {
                    Ok(t) => Some(t.as_millisecond()),
                    Err(_) => {
                        problems.push(format!(
                            "spec.override.expiresAt: {text:?} is not an RFC 3339 date-time"
                        ));
                        None
                    }
                },
            };
            Some(Override {
                reason: o.reason.clone().unwrap_or_default(),
                expires_at_ms,
                force_priority: o.force_priority,
                force_state: o.force_state.map(|s| match s {
                    ForceState::Enabled => State::Enabled,
                    ForceState::Disabled => State::Disabled,
                }),
            })
        }
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RegionPolicy {
        forge_state: match spec.forge_state {
            ForgeState::Enabled => State::Enabled,
            ForgeState::Disabled => State::Disabled,
            ForgeState::PriorityBased => State::PriorityBased,
        },
        priority: spec.priority,
        override_,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_spec_is_rejected_with_every_problem() {
        let spec: CardanoForgeClusterSpec = serde_json::from_value(serde_json::json!({
            "region": "us-east-1", "priority": 5000,
            "override": {"enabled": true, "expiresAt": "tomorrow"}
        }))
        .unwrap_or_default();
        let err = parse_spec(&spec).err().unwrap_or_default();
        assert!(err.iter().any(|p| p.contains("priority")), "{err:?}");
        assert!(err.iter().any(|p| p.contains("expiresAt")), "{err:?}");
        let ok: CardanoForgeClusterSpec =
            serde_json::from_value(serde_json::json!({"region": "us-east-1", "priority": 2}))
                .unwrap_or_default();
        assert_eq!(parse_spec(&ok).map(|p| p.priority), Ok(2));
    }
}
