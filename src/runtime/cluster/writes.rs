//! The cross-region writes a decision asks for: lease requests built from each seat's record, sent
//! in order, and the CardanoForgeCluster status patch.

use super::*;

/// Whether the policy was listed again alongside a round's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Relisted {
    /// Not asked for: the gate was open already, or the round takes no lease.
    NotAsked,
    /// Listed; the policy in force is that list.
    Fresh,
    /// Asked for but not read: no gate may open on the round's older list.
    Failed,
}

impl<C: Clock, K: Kube, H: HealthProbe> ClusterLoop<C, K, H> {
    /// The request `action` makes: its kind and the lease write, based on the seat's record.
    pub(super) fn request(
        &self,
        action: &ClusterAction,
    ) -> Result<(LeaseWriteKind, LeaseWrite), KubeError> {
        let (seat, name, identity, write) = match action {
            ClusterAction::Global { write } => (
                &self.state.global,
                self.settings.global_lease.clone(),
                self.settings.region.as_str(),
                *write,
            ),
            ClusterAction::Handoff { .. } => (
                &self.state.global,
                self.settings.global_lease.clone(),
                self.settings.region.as_str(),
                LeaseWriteKind::Release,
            ),
            ClusterAction::Presence { write } => (
                &self.state.presence,
                format!("{}{}", self.settings.presence_prefix, self.settings.region),
                self.settings.region.as_str(),
                *write,
            ),
        };
        let base: Option<LeaseRecord> = match write {
            LeaseWriteKind::Create => None,
            LeaseWriteKind::Acquire => seat.observer.record().cloned(),
            LeaseWriteKind::Renew | LeaseWriteKind::Release | LeaseWriteKind::Finalize => {
                seat.hold.as_ref().map(|h| h.record.clone())
            }
        };
        let holder = match action {
            ClusterAction::Handoff { to } => Some(to.as_str()),
            _ if write == LeaseWriteKind::Release => None,
            _ => Some(identity),
        };
        let req = lease_write(
            write,
            &name,
            base.as_ref(),
            holder,
            self.settings.timing.lease_duration(),
            self.clock.now_wall(),
            // Presence leases entitle nobody: no finalizer, so none outlives its region.
            !matches!(action, ClusterAction::Presence { .. }),
        )
        .ok_or_else(|| {
            KubeError::new(
                ApiFailure::Invalid,
                format!("{write:?} of {name}: no lease record to base the write on"),
            )
        })?;
        Ok((write, req))
    }

    /// Carries out a decision's writes. They go to different leases (at most one global and one
    /// presence write per decision), so they are sent at once: a round costs one round trip.
    /// With `relist`, the policy and the other regions' presence leases are read again in the same
    /// round trip: the decision that settles the round then ranks on reads made after our writes
    /// went out. The presence reads come back for it (a failed read is left out, as in a round).
    pub(super) async fn write_all(
        &mut self,
        actions: &[ClusterAction],
        relist: bool,
    ) -> (Relisted, BTreeMap<String, Option<LeaseRecord>>) {
        let budget = self.budget();
        let this = &*self;
        let writes = futures::future::join_all(actions.iter().map(|action| async move {
            let result = match this.request(action) {
                Ok((write, req)) => {
                    Some(send_lease_write(&this.clock, &this.kube, write, &req, budget).await)
                }
                Err(e) => {
                    tracing::warn!(
                        actions = %action_json(action),
                        "coordination API write not made: {e}"
                    );
                    None
                }
            };
            (action, result)
        }));
        let list = async {
            if relist {
                Some(this.fetch_policy().await)
            } else {
                None
            }
        };
        let presences = async {
            if relist {
                this.read_presences(&this.other_regions()).await
            } else {
                BTreeMap::new()
            }
        };
        let (sent, listed, presences) = futures::join!(writes, list, presences);
        for (action, result) in sent {
            let Some((event, result)) = result else {
                continue;
            };
            if let (Ok(_), ClusterAction::Handoff { to }) = (&result, action) {
                // The pod that will forge is whoever leads that region: its last status says who.
                let leader = self
                    .clusters
                    .iter()
                    .find(|c| region_of(c).as_deref() == Some(to.as_str()))
                    .and_then(|c| c.status.as_ref()?.active_leader.clone())
                    .filter(|l| !l.is_empty());
                let who = leader.as_deref().map_or_else(
                    || " (its leader unknown: no status yet)".to_string(),
                    |pod| format!(" (its local leader, by its last status: {pod})"),
                );
                tracing::info!(
                    scope = "cluster",
                    successor_region = %to,
                    successor_pod = leader.as_deref(),
                    actions = %action_json(action),
                    "handed the global lease to {to}{who}"
                );
            }
            if let Err(e) = result {
                let (scope, write) = match action {
                    ClusterAction::Global { write } => (LeaseScope::Global, *write),
                    ClusterAction::Handoff { .. } => (LeaseScope::Global, LeaseWriteKind::Release),
                    ClusterAction::Presence { write } => (LeaseScope::Presence, *write),
                };
                tracing::warn!(
                    actions = %action_json(action),
                    "coordination API write failed: {e}: {}",
                    failed_write_means(scope, write)
                );
            }
            match action {
                ClusterAction::Presence { .. } => self.presence_event = event,
                _ => self.global_event = event,
            }
        }
        let relisted = match listed {
            None => Relisted::NotAsked,
            Some(Some(Ok(list))) => {
                let now = self.clock.now_mono();
                self.keep_list(list, now);
                Relisted::Fresh
            }
            Some(_) => Relisted::Failed,
        };
        (relisted, presences)
    }

    pub(super) fn status_patch(
        &mut self,
        d: &ClusterDecision,
        local: &LocalView,
        gate: Gate,
        ours: Option<&CardanoForgeCluster>,
        health: Health,
    ) -> serde_json::Value {
        let region = &self.settings.region;
        let eff = d.ranking.effective.get(region);
        let state = eff.map(|e| e.state.as_str()).unwrap_or("Disabled");
        let forging = gate == Gate::Allow && local.leader && !local.forging_off;
        let active = if local.leader && local.eligible {
            self.settings.pod.clone()
        } else {
            String::new()
        };
        // lastTransition moves only when the effective state, forging or the active leader change.
        let key = (state.to_string(), forging, active.clone());
        let changed = self
            .last_transition
            .as_ref()
            .is_none_or(|(s, f, a)| (s, f, a) != (&key.0, &key.1, &key.2));
        if changed {
            self.last_transition = Some(key);
        }
        let transition = if changed {
            Some(self.clock.now_wall().to_string())
        } else {
            self.written_status
                .as_ref()
                .and_then(|(s, _)| s["lastTransition"].as_str().map(str::to_owned))
        };
        let mut status = serde_json::json!({
            "effectiveState": state,
            "effectivePriority": eff.map(|e| e.reported_priority).unwrap_or(0),
            "activeLeader": active,
            "forgingEnabled": forging,
            "forger": if forging { self.settings.pod.as_str() } else { "" },
            "reason": eff.map(|e| e.reason.as_str()).unwrap_or("invalid_spec"),
            "message": status_message(
                &d.message,
                eff.map(|e| e.reason),
                ours.and_then(|c| c.spec.override_.as_ref()),
            ),
            "healthStatus": {
                "healthy": health.healthy,
                "consecutiveFailures": health.consecutive_failures,
                "message": if self.prober.last_message.is_empty() { "no health check configured".to_string() } else { self.prober.last_message.clone() },
            },
            "observedGeneration": ours.and_then(|c| c.metadata.generation).unwrap_or(0),
        });
        if let Some(t) = transition {
            status["lastTransition"] = serde_json::Value::String(t);
        }
        if let Some(t) = &self.prober.last_probe_wall {
            status["healthStatus"]["lastProbeTime"] = serde_json::Value::String(t.clone());
        }
        status
    }
}

/// `status.message`: the decision's sentence, led by the override's reason while an override
/// decides the region's policy (operators look for their reason there, docs/operations.md).
fn status_message(
    decision: &str,
    reason: Option<crate::core::policy::PolicyReason>,
    ov: Option<&crate::crd::OverrideSpec>,
) -> String {
    match (reason, ov) {
        (Some(crate::core::policy::PolicyReason::ManualOverride), Some(ov)) => {
            let why = ov
                .reason
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .unwrap_or("no reason given");
            let until = ov
                .expires_at
                .as_deref()
                .map(|at| format!(" until {at}"))
                .unwrap_or_default();
            format!("manual override{until}: {why}. {decision}")
        }
        _ => decision.to_owned(),
    }
}

/// A cluster action as a one-element JSON array, the shape of a decision's `actions` in the logs.
fn action_json(action: &ClusterAction) -> serde_json::Value {
    serde_json::Value::from(vec![serde_json::to_value(action).unwrap_or_default()])
}

#[cfg(test)]
mod status_message_tests {
    use super::status_message;
    use crate::core::policy::PolicyReason;
    use crate::crd::OverrideSpec;

    #[test]
    fn the_overrides_reason_leads_the_message_while_the_override_decides() {
        let ov = |reason: Option<&str>, until: Option<&str>| OverrideSpec {
            enabled: true,
            reason: reason.map(str::to_owned),
            expires_at: until.map(str::to_owned),
            ..OverrideSpec::default()
        };
        let maintenance = ov(Some("kernel upgrade"), Some("2026-12-04T03:00:00Z"));
        let cases = [
            (
                Some(PolicyReason::ManualOverride),
                Some(&maintenance),
                "manual override until 2026-12-04T03:00:00Z: kernel upgrade. D",
            ),
            (
                Some(PolicyReason::ManualOverride),
                Some(&ov(None, None)),
                "manual override: no reason given. D",
            ),
            (
                Some(PolicyReason::ManualOverride),
                Some(&ov(Some("  "), None)),
                "manual override: no reason given. D",
            ),
            // An expired or disabled override no longer decides: its reason is not shown.
            (
                Some(PolicyReason::HealthyOperation),
                Some(&maintenance),
                "D",
            ),
            (Some(PolicyReason::ManualOverride), None, "D"),
            (None, None, "D"),
        ];
        for (reason, ov, expected) in cases {
            assert_eq!(status_message("D", reason, ov), expected, "{reason:?}");
        }
    }
}
