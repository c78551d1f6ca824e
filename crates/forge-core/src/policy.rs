//! Cross-region policy (docs/architecture.md, "Which region is preferred"), a pure function: from
//! every region's CardanoForgeCluster spec, its observed health and whether it has a live, eligible
//! local leader, compute each region's effective state and priority and the **preferred region**.
//!
//! Rules, in order:
//! - a malformed spec never forges (the region is reported with a condition, never preferred);
//! - an override is active while `enabled` and (no `expiresAt`, or `expiresAt` is later than the
//!   coordination API server's clock); an active override's `forceState` / `forcePriority` replace
//!   the spec's; an override without `expiresAt` holds until an operator removes it;
//! - `Disabled` never forges;
//! - among candidates (not Disabled, a live eligible local leader): `Enabled` before
//!   `Priority-based`, then healthy before unhealthy, then the lower priority number, then the region
//!   name (deterministic tie-break). When no candidate is healthy the best unhealthy one is
//!   preferred: a forger with a failing health endpoint is better than none.
//!
//! `reported_priority` keeps the old sidecar's meaning for status and dashboards (base, +10 while
//! health is intermittent, +100 when unhealthy); the ranking does not use the penalties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A region's forging state after the override.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Forges whenever it is a candidate, before `Priority-based` regions.
    Enabled,
    /// Never forges.
    Disabled,
    /// Forges when it is the best candidate.
    PriorityBased,
}

impl State {
    /// The CRD spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "Enabled",
            State::Disabled => "Disabled",
            State::PriorityBased => "Priority-based",
        }
    }
}

/// An active-or-not override, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Why (shown in status).
    pub reason: String,
    /// When it stops applying (unix ms on the coordination API server's clock); `None`: never.
    pub expires_at_ms: Option<i64>,
    /// Replaces the spec's priority while active.
    pub force_priority: Option<i32>,
    /// Replaces the spec's state while active.
    pub force_state: Option<State>,
}

/// One region's policy, parsed from its spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionPolicy {
    /// `spec.forgeState`.
    pub forge_state: State,
    /// `spec.priority` (1 is the most preferred).
    pub priority: i32,
    /// `spec.override`, when `enabled`.
    pub override_: Option<Override>,
}

/// A region's health as its local leader observed it (with hysteresis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Healthy after the success threshold, unhealthy after the failure threshold.
    pub healthy: bool,
    /// Consecutive failed probes (for the reported priority).
    pub consecutive_failures: u32,
}

impl Health {
    /// No health check configured, or not probed yet: counts as healthy.
    pub const UNCHECKED: Health = Health {
        healthy: true,
        consecutive_failures: 0,
    };
}

/// What is known of one region at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionView {
    /// Its parsed policy, or why its spec is malformed.
    pub policy: Result<RegionPolicy, Vec<String>>,
    /// Its health.
    pub health: Health,
    /// It has a live local leader whose node is eligible (its presence lease is fresh).
    pub present: bool,
}

/// Why a region's effective state is what it is (status `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyReason {
    /// The spec is malformed: never forges.
    InvalidSpec,
    /// An active override decides.
    ManualOverride,
    /// `Disabled` in the spec.
    ClusterDisabled,
    /// `Enabled` in the spec.
    ClusterEnabled,
    /// Priority-based, health failing.
    HealthDegraded,
    /// Priority-based, some probes failed.
    HealthIntermittent,
    /// Priority-based, healthy.
    HealthyOperation,
}

impl PolicyReason {
    /// The old sidecar's status reason values where they exist.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyReason::InvalidSpec => "invalid_spec",
            PolicyReason::ManualOverride => "manual_override",
            PolicyReason::ClusterDisabled => "cluster_disabled",
            PolicyReason::ClusterEnabled => "cluster_enabled",
            PolicyReason::HealthDegraded => "health_degraded",
            PolicyReason::HealthIntermittent => "health_intermittent",
            PolicyReason::HealthyOperation => "healthy_operation",
        }
    }
}

/// A region's effective policy at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective {
    /// State after the override (`Disabled` for a malformed spec).
    pub state: State,
    /// Priority after the override (ranking).
    pub priority: i32,
    /// Priority with the old health penalties (status and dashboards).
    pub reported_priority: i32,
    /// Whether an override applies now.
    pub override_active: bool,
    /// Why.
    pub reason: PolicyReason,
    /// Whether the region may forge at all (not Disabled, spec valid).
    pub allows_forging: bool,
}

/// Effective state and priority of one region. `server_now_ms`: the coordination API server's clock
/// (`None` while unknown: an override then counts as active, so operator intent is never dropped).
pub fn effective(view: &RegionView, server_now_ms: Option<i64>) -> Effective {
    let Ok(policy) = &view.policy else {
        return Effective {
            state: State::Disabled,
            priority: i32::MAX,
            reported_priority: i32::MAX,
            override_active: false,
            reason: PolicyReason::InvalidSpec,
            allows_forging: false,
        };
    };
    let active = policy
        .override_
        .as_ref()
        .filter(|o| match (o.expires_at_ms, server_now_ms) {
            (Some(exp), Some(now)) => now < exp,
            _ => true,
        });
    let state = active
        .and_then(|o| o.force_state)
        .unwrap_or(policy.forge_state);
    let priority = active
        .and_then(|o| o.force_priority)
        .unwrap_or(policy.priority);
    let penalty = if !view.health.healthy {
        100
    } else if view.health.consecutive_failures > 0 {
        10
    } else {
        0
    };
    let reason = if active.is_some_and(|o| o.force_state.is_some() || o.force_priority.is_some()) {
        PolicyReason::ManualOverride
    } else {
        match state {
            State::Disabled => PolicyReason::ClusterDisabled,
            State::Enabled => PolicyReason::ClusterEnabled,
            State::PriorityBased if penalty == 100 => PolicyReason::HealthDegraded,
            State::PriorityBased if penalty == 10 => PolicyReason::HealthIntermittent,
            State::PriorityBased => PolicyReason::HealthyOperation,
        }
    };
    Effective {
        state,
        priority,
        reported_priority: if state == State::PriorityBased {
            priority.saturating_add(penalty)
        } else {
            priority
        },
        override_active: active.is_some(),
        reason,
        allows_forging: state != State::Disabled,
    }
}

/// What decides a region's place at one instant, in words for a log line or a status message:
/// the override and its reason when one decides, else the state, priority and health.
pub fn describe(view: &RegionView, server_now_ms: Option<i64>) -> String {
    let e = effective(view, server_now_ms);
    let Ok(policy) = &view.policy else {
        return "its spec is invalid".into();
    };
    match e.reason {
        PolicyReason::ManualOverride => {
            let reason = policy
                .override_
                .as_ref()
                .map(|o| o.reason.as_str())
                .filter(|r| !r.is_empty())
                .unwrap_or("no reason given");
            format!(
                "override \"{reason}\": {}, priority {}",
                e.state.as_str(),
                e.priority
            )
        }
        PolicyReason::InvalidSpec => "its spec is invalid".into(),
        PolicyReason::ClusterDisabled => "forgeState Disabled".into(),
        PolicyReason::ClusterEnabled => format!("forgeState Enabled, priority {}", e.priority),
        PolicyReason::HealthDegraded => format!("priority {}, health check failing", e.priority),
        PolicyReason::HealthIntermittent => {
            format!("priority {}, health check intermittent", e.priority)
        }
        PolicyReason::HealthyOperation => format!("priority {}, healthy", e.priority),
    }
}

/// The ranking key of a candidate (smaller is better). Fields compare in declaration order
/// through the derived `Ord`: keys are compared as typed values, never as text (as text,
/// priority 10 sorts before 9).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RankKey {
    /// `Priority-based` (or anything but `Enabled`): `Enabled` regions rank first.
    pub not_enabled: bool,
    /// Failing its health check: healthy regions rank first.
    pub unhealthy: bool,
    /// The effective priority: the lower number ranks first.
    pub priority: i32,
    /// The region's name: the deterministic tie-break.
    pub region: String,
}

/// The ranking of every region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranking {
    /// Each region's effective policy.
    pub effective: BTreeMap<String, Effective>,
    /// Candidates (allowed and present), best first, with their keys.
    pub candidates: Vec<(String, RankKey)>,
    /// The best candidate, if any.
    pub preferred: Option<String>,
}

/// Ranks every region. Pure and deterministic (ties broken by region name).
pub fn rank(regions: &BTreeMap<String, RegionView>, server_now_ms: Option<i64>) -> Ranking {
    let mut effective_by = BTreeMap::new();
    let mut candidates = Vec::new();
    for (name, view) in regions {
        let e = effective(view, server_now_ms);
        if e.allows_forging && view.present {
            let key = RankKey {
                not_enabled: e.state != State::Enabled,
                unhealthy: !view.health.healthy,
                priority: e.priority,
                region: name.clone(),
            };
            candidates.push((name.clone(), key));
        }
        effective_by.insert(name.clone(), e);
    }
    candidates.sort_by(|a, b| a.1.cmp(&b.1));
    Ranking {
        preferred: candidates.first().map(|(n, _)| n.clone()),
        effective: effective_by,
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(state: State, priority: i32) -> RegionPolicy {
        RegionPolicy {
            forge_state: state,
            priority,
            override_: None,
        }
    }

    fn view(p: RegionPolicy) -> RegionView {
        RegionView {
            policy: Ok(p),
            health: Health::UNCHECKED,
            present: true,
        }
    }

    fn unhealthy(mut v: RegionView) -> RegionView {
        v.health = Health {
            healthy: false,
            consecutive_failures: 3,
        };
        v
    }

    fn regions(list: Vec<(&str, RegionView)>) -> BTreeMap<String, RegionView> {
        list.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
    }

    fn with_override(mut p: RegionPolicy, o: Override) -> RegionPolicy {
        p.override_ = Some(o);
        p
    }

    fn ovr(exp: Option<i64>, prio: Option<i32>, state: Option<State>) -> Override {
        Override {
            reason: "maintenance".into(),
            expires_at_ms: exp,
            force_priority: prio,
            force_state: state,
        }
    }

    #[test]
    fn the_preferred_region_follows_every_rule() {
        use State::*;
        let now = Some(1_000_000);
        type Case<'a> = (&'a str, Vec<(&'a str, RegionView)>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (
                "lower priority number wins",
                vec![
                    ("a", view(policy(PriorityBased, 2))),
                    ("b", view(policy(PriorityBased, 1))),
                ],
                Some("b"),
            ),
            (
                "Disabled never forges",
                vec![
                    ("a", view(policy(Disabled, 1))),
                    ("b", view(policy(PriorityBased, 5))),
                ],
                Some("b"),
            ),
            (
                "only Disabled: nobody",
                vec![("a", view(policy(Disabled, 1)))],
                None,
            ),
            (
                "Enabled before Priority-based",
                vec![
                    ("a", view(policy(PriorityBased, 1))),
                    ("b", view(policy(Enabled, 9))),
                ],
                Some("b"),
            ),
            (
                "healthy before unhealthy",
                vec![
                    ("a", unhealthy(view(policy(PriorityBased, 1)))),
                    ("b", view(policy(PriorityBased, 2))),
                ],
                Some("b"),
            ),
            (
                "best unhealthy when none is healthy",
                vec![
                    ("a", unhealthy(view(policy(PriorityBased, 3)))),
                    ("b", unhealthy(view(policy(PriorityBased, 2)))),
                ],
                Some("b"),
            ),
            (
                "ties broken by name",
                vec![
                    ("b", view(policy(PriorityBased, 1))),
                    ("a", view(policy(PriorityBased, 1))),
                ],
                Some("a"),
            ),
            (
                "absent regions are not candidates",
                vec![
                    (
                        "a",
                        RegionView {
                            present: false,
                            ..view(policy(PriorityBased, 1))
                        },
                    ),
                    ("b", view(policy(PriorityBased, 2))),
                ],
                Some("b"),
            ),
            (
                "malformed spec never forges",
                vec![
                    (
                        "a",
                        RegionView {
                            policy: Err(vec!["spec.priority".into()]),
                            health: Health::UNCHECKED,
                            present: true,
                        },
                    ),
                    ("b", view(policy(PriorityBased, 9))),
                ],
                Some("b"),
            ),
            (
                "unexpired forcePriority wins",
                vec![
                    ("a", view(policy(PriorityBased, 1))),
                    (
                        "b",
                        view(with_override(
                            policy(PriorityBased, 2),
                            ovr(Some(2_000_000), Some(0), None),
                        )),
                    ),
                ],
                Some("b"),
            ),
            (
                "expired override is ignored",
                vec![
                    ("a", view(policy(PriorityBased, 1))),
                    (
                        "b",
                        view(with_override(
                            policy(PriorityBased, 2),
                            ovr(Some(999_999), Some(0), None),
                        )),
                    ),
                ],
                Some("a"),
            ),
            (
                "override without expiresAt holds",
                vec![
                    ("a", view(policy(PriorityBased, 1))),
                    (
                        "b",
                        view(with_override(
                            policy(PriorityBased, 2),
                            ovr(None, Some(0), None),
                        )),
                    ),
                ],
                Some("b"),
            ),
            (
                "forceState Disabled wins",
                vec![
                    (
                        "a",
                        view(with_override(
                            policy(Enabled, 1),
                            ovr(None, None, Some(Disabled)),
                        )),
                    ),
                    ("b", view(policy(PriorityBased, 2))),
                ],
                Some("b"),
            ),
            (
                "forceState Enabled wins",
                vec![
                    ("a", view(policy(PriorityBased, 1))),
                    (
                        "b",
                        view(with_override(
                            policy(Disabled, 2),
                            ovr(None, None, Some(Enabled)),
                        )),
                    ),
                ],
                Some("b"),
            ),
        ];
        for (what, regs, want) in cases {
            let r = rank(&regions(regs), now);
            assert_eq!(r.preferred.as_deref(), want, "{what}");
        }
    }

    /// Priorities of different digit counts: the lower number ranks first, and its key is the
    /// smaller one (keys are typed, never compared as text).
    #[test]
    fn the_lower_priority_number_ranks_first_whatever_its_digits() {
        for (better, worse) in [(9, 10), (2, 10), (1, 11), (1, 2), (99, 100)] {
            for (a, b) in [(better, worse), (worse, better)] {
                let r = rank(
                    &regions(vec![
                        ("a", view(policy(State::PriorityBased, a))),
                        ("b", view(policy(State::PriorityBased, b))),
                    ]),
                    None,
                );
                let want = if a == better { "a" } else { "b" };
                assert_eq!(r.preferred.as_deref(), Some(want), "{a} vs {b}");
                assert!(r.candidates[0].1 < r.candidates[1].1, "{a} vs {b}");
                assert_eq!(r.candidates[0].1.priority, better, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn override_expiry_is_judged_on_the_server_clock_and_unknown_time_keeps_it() {
        let v = view(with_override(
            policy(State::PriorityBased, 5),
            ovr(Some(10_000), Some(1), None),
        ));
        assert!(effective(&v, Some(9_999)).override_active);
        assert!(!effective(&v, Some(10_000)).override_active);
        assert!(
            effective(&v, None).override_active,
            "operator intent stands until expiry is proven"
        );
    }

    #[test]
    fn reported_priority_keeps_the_old_health_penalties() {
        let mut v = view(policy(State::PriorityBased, 3));
        assert_eq!(effective(&v, None).reported_priority, 3);
        v.health = Health {
            healthy: true,
            consecutive_failures: 1,
        };
        assert_eq!(effective(&v, None).reported_priority, 13);
        assert_eq!(effective(&v, None).reason, PolicyReason::HealthIntermittent);
        v.health.healthy = false;
        assert_eq!(effective(&v, None).reported_priority, 103);
        assert_eq!(effective(&v, None).reason, PolicyReason::HealthDegraded);
    }

    /// The CRD's spelling of each state (status and the spec's enum): a rename breaks every
    /// existing CardanoForgeCluster.
    #[test]
    fn states_keep_their_crd_names() {
        let cases = [
            (State::Enabled, "Enabled"),
            (State::Disabled, "Disabled"),
            (State::PriorityBased, "Priority-based"),
        ];
        for (state, name) in cases {
            assert_eq!(state.as_str(), name);
        }
    }

    /// The status reason values (the old sidecar's where they exist; dashboards and alerts match
    /// on them), the same as their serialized form.
    #[test]
    fn policy_reasons_keep_their_status_names() {
        let cases = [
            (PolicyReason::InvalidSpec, "invalid_spec"),
            (PolicyReason::ManualOverride, "manual_override"),
            (PolicyReason::ClusterDisabled, "cluster_disabled"),
            (PolicyReason::ClusterEnabled, "cluster_enabled"),
            (PolicyReason::HealthDegraded, "health_degraded"),
            (PolicyReason::HealthIntermittent, "health_intermittent"),
            (PolicyReason::HealthyOperation, "healthy_operation"),
        ];
        for (reason, name) in cases {
            assert_eq!(reason.as_str(), name);
            let json = serde_json::to_string(&reason).unwrap_or_default();
            assert_eq!(json, format!("\"{name}\""));
        }
    }

    /// The status reason names what decides a region's state: an active override that forces
    /// either its state or its priority, else the spec's state and, for priority-based regions,
    /// the health (healthy, some failed probes, unhealthy).
    #[test]
    fn the_reason_names_what_decides_the_state() {
        use State::*;
        let healthy = Health::UNCHECKED;
        let flaky = Health {
            healthy: true,
            consecutive_failures: 1,
        };
        let failing = Health {
            healthy: false,
            consecutive_failures: 3,
        };
        let cases = [
            // (policy, health, reason)
            (
                policy(PriorityBased, 1),
                healthy,
                PolicyReason::HealthyOperation,
            ),
            (
                policy(PriorityBased, 1),
                flaky,
                PolicyReason::HealthIntermittent,
            ),
            (
                policy(PriorityBased, 1),
                failing,
                PolicyReason::HealthDegraded,
            ),
            (policy(Enabled, 1), failing, PolicyReason::ClusterEnabled),
            (policy(Disabled, 1), healthy, PolicyReason::ClusterDisabled),
            (
                with_override(policy(PriorityBased, 1), ovr(None, Some(5), None)),
                healthy,
                PolicyReason::ManualOverride,
            ),
            (
                with_override(policy(PriorityBased, 1), ovr(None, None, Some(Enabled))),
                healthy,
                PolicyReason::ManualOverride,
            ),
            (
                // An override that forces nothing decides nothing.
                with_override(policy(PriorityBased, 1), ovr(None, None, None)),
                healthy,
                PolicyReason::HealthyOperation,
            ),
        ];
        for (p, health, want) in cases {
            let v = RegionView {
                health,
                ..view(p.clone())
            };
            assert_eq!(effective(&v, None).reason, want, "{p:?} {health:?}");
        }
    }
}
