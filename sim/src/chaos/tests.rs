use super::*;

/// Worlds of one to three regions: most of them with cluster management on.
fn up_to_three_regions() -> ChaosConfig {
    ChaosConfig {
        regions: 3,
        ..ChaosConfig::default()
    }
}

#[test]
fn the_same_seed_generates_the_same_scenario() {
    let c = ChaosConfig::default();
    assert_eq!(generate(42, &c), generate(42, &c));
    assert_ne!(generate(42, &c), generate(43, &c));
}

#[test]
fn a_generated_scenario_survives_the_writer_and_the_parser() {
    let c = up_to_three_regions();
    for seed in 0..50 {
        let s = generate(seed, &c);
        let text = s.to_toml_string();
        let back = Scenario::from_str(&text, "generated.toml")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(back, s, "seed {seed}");
    }
}

#[test]
fn every_fault_kind_is_drawn_by_some_seed() {
    // Worlds of one to three regions: the policy kinds need cluster management.
    let c = up_to_three_regions();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        for f in generate(seed, &c).faults {
            seen.insert(f.action.kind());
        }
    }
    // node-slow is new in the scenario contract; chaos does not draw it yet.
    for kind in crate::scenario::FAULT_KINDS
        .iter()
        .filter(|k| **k != "node-slow")
    {
        assert!(seen.contains(kind), "no seed draws {kind}");
    }
}

#[test]
fn some_seeds_delete_the_global_lease_just_before_a_region_leader_shuts_down() {
    let c = up_to_three_regions();
    let paired = (0..200)
        .filter(|&seed| {
            let faults = generate(seed, &c).faults;
            faults.iter().any(|d| {
                matches!(
                    d.action,
                    FaultAction::DeleteLease {
                        lease: crate::scenario::LeaseKind::Global,
                        ..
                    }
                ) && faults.iter().any(|s| {
                    matches!(
                        s.action,
                        FaultAction::Shutdown {
                            target: PodRef::Leader(_)
                        }
                    ) && s.at > d.at
                        && s.at <= d.at + Duration::from_secs(10)
                })
            })
        })
        .count();
    assert!(paired >= 10, "only {paired} of 200 seeds pair them");
}

#[test]
fn policy_faults_only_where_cluster_management_is_on() {
    let c = up_to_three_regions();
    let mut with_policy = 0;
    for seed in 0..200 {
        let s = generate(seed, &c);
        let policy = s
            .faults
            .iter()
            .filter(|f| ["health", "flap", "patch"].contains(&f.action.kind()))
            .count();
        if s.cluster_management {
            with_policy += usize::from(policy > 0);
        } else {
            assert_eq!(policy, 0, "seed {seed}: one region, {policy} policy faults");
        }
    }
    assert!(
        with_policy > 50,
        "only {with_policy} seeds draw policy faults"
    );
}

#[test]
fn policy_faults_leave_a_seeds_world_faults_alone() {
    // The policy faults come from a stream of their own: without them a multi-region seed
    // draws exactly the world faults it draws with them.
    let c = up_to_three_regions();
    // What the policy stream draws: policy faults, and the global lease's deletion with the
    // leader shutdown and restart that may follow it; then the aimed stream's API outages
    // with pauses and freezes of the forger; then the api-errors stream's bad answers.
    let policy = |f: &Fault| {
        [
            "health",
            "flap",
            "patch",
            "shutdown",
            "restart",
            "api-down",
            "api-up",
            "pause",
            "freeze",
            "api-errors",
        ]
        .contains(&f.action.kind())
            || matches!(
                f.action,
                FaultAction::DeleteLease {
                    lease: crate::scenario::LeaseKind::Global,
                    ..
                }
            )
    };
    for seed in 0..50 {
        let plan = plan(seed, &c);
        let s = plan.scenario;
        if !s.cluster_management {
            continue;
        }
        let mut rng = SplitMix64::new(seed);
        let n = usize::try_from(rng.range(1, 3)).unwrap_or(1);
        for _ in 0..n {
            rng.range(1, 3);
        }
        let swarm = draw_swarm(&mut rng);
        let heal_at = plan.heal_at.expect("a safety phase");
        let mut g = Gen {
            rng,
            s: &s,
            heal_at,
            faults: Vec::new(),
        };
        for w in &swarm {
            g.kind(w);
        }
        // The world faults come first (then the policy stream's, then the heal).
        let alone: Vec<&Fault> = g.faults.iter().collect();
        let world: Vec<&Fault> = s.faults.iter().take(alone.len()).collect();
        assert_eq!(world, alone, "seed {seed}");
        assert!(
            s.faults[alone.len()..]
                .iter()
                .filter(|f| f.at < heal_at)
                .all(&policy),
            "seed {seed}: only policy-stream faults follow the world faults"
        );
    }
}

#[test]
fn seeds_enable_different_subsets_of_fault_kinds() {
    let mut subsets = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let mut rng = SplitMix64::new(seed);
        let kinds: Vec<Kind> = draw_swarm(&mut rng).iter().map(|w| w.kind).collect();
        assert!(!kinds.is_empty(), "seed {seed} enables no kind");
        subsets.insert(kinds);
    }
    assert!(
        subsets.len() > 40,
        "only {} distinct subsets",
        subsets.len()
    );
}

#[test]
fn the_liveness_phase_heals_everything_and_expects_one_steady_forger() {
    let c = ChaosConfig {
        tick: Some(Duration::from_millis(50)),
        probes: Probes::Off,
        ..ChaosConfig::default()
    };
    let s = generate(3, &c);
    let heal_at =
        Duration::from_secs(3_600) - liveness_len(s.duration, convergence_budget(&s, false));
    let healed: Vec<&str> = s
        .faults
        .iter()
        .filter(|f| f.at == heal_at)
        .map(|f| f.action.kind())
        .collect();
    for kind in ["api-up", "heal", "latency", "restart"] {
        assert!(healed.contains(&kind), "no {kind} at the heal: {healed:?}");
    }
    assert!(s.faults.iter().all(|f| f.at <= heal_at));
    let kinds: Vec<&str> = s.expects.iter().map(Expect::kind).collect();
    assert_eq!(kinds, ["forger-by", "max-handovers"]);
}

#[test]
fn the_liveness_phase_restores_health_and_every_spec() {
    let c = up_to_three_regions();
    let mut checked = 0;
    for seed in 0..100 {
        let plan = plan(seed, &c);
        let s = plan.scenario;
        let heal_at = plan.heal_at.expect("a safety phase");
        let before = |kind: &str| {
            s.faults
                .iter()
                .any(|f| f.at < heal_at && f.action.kind() == kind)
        };
        let at_heal: Vec<&FaultAction> = s
            .faults
            .iter()
            .filter(|f| f.at == heal_at)
            .map(|f| &f.action)
            .collect();
        if before("health") || before("flap") {
            for r in &s.regions {
                let healthy = FaultAction::Health {
                    region: r.name.clone(),
                    healthy: true,
                };
                assert!(
                    at_heal.contains(&&healthy),
                    "seed {seed}: {} not healed",
                    r.name
                );
            }
            // And the forger-by check waits for the probes of a recovery.
            let by = s.expects.iter().find_map(|e| match e {
                Expect::ForgerBy { by, .. } => Some(*by),
                _ => None,
            });
            assert_eq!(
                by,
                Some(heal_at + convergence_budget(&s, true)),
                "seed {seed}"
            );
            checked += 1;
        }
        if before("patch") {
            for r in &s.regions {
                let restore = FaultAction::Patch {
                    region: r.name.clone(),
                    spec: restore_spec(r),
                };
                assert!(
                    at_heal.contains(&&restore),
                    "seed {seed}: {} not restored",
                    r.name
                );
            }
            checked += 1;
        }
        for f in &s.faults {
            if let FaultAction::Flap { until, .. } = f.action {
                assert!(until <= heal_at, "seed {seed}: {f:?} outlasts the heal");
            }
        }
    }
    assert!(checked > 20, "only {checked} seeds with policy faults");
    let r = Region {
        name: "eu-west-1".into(),
        priority: 2,
        pods: 3,
        forge_state: ForgeState::PriorityBased,
        healthy: true,
    };
    assert_eq!(
        restore_spec(&r),
        serde_json::json!({"forgeState": "Priority-based", "priority": 2,
            "override": {"enabled": false}})
    );
}

#[test]
fn every_fault_of_the_safety_phase_ends_before_the_heal() {
    let c = ChaosConfig::default();
    for seed in 0..100 {
        let plan = plan(seed, &c);
        let s = plan.scenario;
        let heal = plan.heal_at.expect("a safety phase");
        for f in &s.faults {
            if let FaultAction::Pause { for_, .. } | FaultAction::Freeze { for_, .. } = f.action {
                assert!(f.at + for_ <= heal, "seed {seed}: {f:?} outlasts the heal");
            }
        }
    }
}

#[test]
fn the_same_seed_plans_the_same_probes_and_tick() {
    let c = up_to_three_regions();
    for seed in [0, 7, 1042] {
        let (a, b) = (plan(seed, &c), plan(seed, &c));
        assert_eq!(a.scenario, b.scenario);
        assert_eq!(a.probes, b.probes);
    }
    let only = ChaosConfig {
        probes: Probes::Only,
        ..up_to_three_regions()
    };
    assert_eq!(generate(5, &only), generate(5, &only));
}

#[test]
fn every_probe_kind_is_drawn_by_some_seed() {
    let c = up_to_three_regions();
    let mut seen = std::collections::BTreeMap::new();
    for seed in 0..200 {
        for p in plan(seed, &c).probes {
            *seen.entry(p.kind).or_insert(0) += 1;
        }
    }
    for kind in ProbeKind::ALL {
        assert!(
            seen.get(&kind).copied().unwrap_or(0) >= 5,
            "{kind:?}: {seen:?}"
        );
    }
}

#[test]
fn probes_are_spaced_and_hold_their_own_faults_and_expectations() {
    for c in [
        up_to_three_regions(),
        ChaosConfig::default(),
        ChaosConfig {
            probes: Probes::Only,
            ..up_to_three_regions()
        },
        ChaosConfig {
            duration: Duration::from_secs(600),
            ..up_to_three_regions()
        },
    ] {
        for seed in 0..100 {
            let plan = plan(seed, &c);
            let s = &plan.scenario;
            let start = plan.probe_phase.expect("a probe phase");
            assert!(!plan.probes.is_empty(), "seed {seed}: no probe");
            // After the liveness phase (or the quiet start), in order, never overlapping.
            assert!(plan.probes[0].from > start, "seed {seed}");
            for w in plan.probes.windows(2) {
                assert!(w[0].to < w[1].from, "seed {seed}: {w:?} overlap");
            }
            for w in &plan.probes {
                assert!(w.from < w.to && w.to <= s.duration, "seed {seed}: {w:?}");
            }
            let inside = |t: Duration| plan.probes.iter().find(|w| w.from <= t && t <= w.to);
            // No safety-phase fault (or the heal) is anywhere near a probe; every fault of the
            // probe phase is the clock set-up at its start or inside a probe's window.
            for f in &s.faults {
                if f.at < start {
                    assert!(inside(f.at).is_none(), "seed {seed}: {f:?}");
                    if let FaultAction::Pause { for_, .. } | FaultAction::Freeze { for_, .. } =
                        f.action
                    {
                        assert!(f.at + for_ <= start, "seed {seed}: {f:?}");
                    }
                    if let FaultAction::Flap { until, .. } = f.action {
                        assert!(until <= start, "seed {seed}: {f:?}");
                    }
                } else if f.at == start {
                    assert!(
                        ["skew", "drift"].contains(&f.action.kind()),
                        "seed {seed}: {f:?}"
                    );
                } else {
                    assert!(inside(f.at).is_some(), "seed {seed}: {f:?} outside probes");
                }
            }
            // Every expectation after the liveness phase lies within one probe's window.
            for e in &s.expects {
                let (from, to) = expect_span(e, s.duration);
                if from < start {
                    assert!(to <= start, "seed {seed}: {e:?} reaches into the probes");
                    continue;
                }
                let w = inside(from).unwrap_or_else(|| panic!("seed {seed}: {e:?}"));
                assert!(to <= w.to, "seed {seed}: {e:?} outlasts {w:?}");
                assert!(from <= to, "seed {seed}: {e:?}");
            }
            // Skews before the probes are minutes; drifts stay within the margin.
            for f in s.faults.iter().filter(|f| f.at >= start) {
                match f.action {
                    FaultAction::Skew { offset_ms, .. } => {
                        assert!((60_000..=600_000).contains(&offset_ms.unsigned_abs()));
                    }
                    FaultAction::Drift { ppm, .. } => assert!(ppm.unsigned_abs() <= 20_000),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn probes_never_mind_the_second_region_in_one_region_worlds() {
    let c = ChaosConfig::default();
    for seed in 0..100 {
        let plan = plan(seed, &c);
        let s = &plan.scenario;
        assert!(!s.cluster_management);
        for p in &plan.probes {
            assert!(
                [
                    ProbeKind::Crash,
                    ProbeKind::Shutdown,
                    ProbeKind::NodeRestart,
                    ProbeKind::ApiBlip
                ]
                .contains(&p.kind),
                "seed {seed}: {p:?}"
            );
            if matches!(p.kind, ProbeKind::Crash | ProbeKind::Shutdown) {
                assert!(s.regions[0].pods >= 2, "seed {seed}: nowhere to fail over");
            }
        }
    }
}

#[test]
fn the_tick_is_drawn_from_the_set_and_survives_the_writer_and_the_parser() {
    let c = up_to_three_regions();
    let mut seen = std::collections::BTreeMap::new();
    for seed in 0..60 {
        let s = generate(seed, &c);
        assert!(TICKS.contains(&s.tick), "seed {seed}: {:?}", s.tick);
        *seen.entry(s.tick).or_insert(0) += 1;
        let text = s.to_toml_string();
        assert_eq!(
            text.contains("\ntick = "),
            s.tick != crate::scenario::DEFAULT_TICK,
            "seed {seed}"
        );
        let back = Scenario::from_str(&text, "generated.toml")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(back.tick, s.tick, "seed {seed}");
        assert_eq!(back, s, "seed {seed}");
    }
    assert_eq!(seen.len(), TICKS.len(), "{seen:?}");
    // A fixed tick is every seed's, and shorter ticks run shorter.
    let fixed = ChaosConfig {
        tick: Some(TICKS[0]),
        probes: Probes::Off,
        ..ChaosConfig::default()
    };
    let s = generate(1, &fixed);
    assert_eq!(s.tick, TICKS[0]);
    assert_eq!(s.duration, Duration::from_secs(600));
}

#[test]
fn some_seeds_aim_a_pause_or_freeze_at_the_end_of_an_api_outage() {
    let c = up_to_three_regions();
    let aimed = (0..100)
        .filter(|&seed| {
            let faults = generate(seed, &c).faults;
            faults.iter().any(|down| {
                matches!(down.action, FaultAction::ApiDown { .. })
                    && faults.iter().any(|up| {
                        let d = up.at.saturating_sub(down.at);
                        matches!(up.action, FaultAction::ApiUp { .. })
                            && (Duration::from_secs(6)..=Duration::from_secs(10)).contains(&d)
                            && faults.iter().any(|p| {
                                matches!(
                                    p.action,
                                    FaultAction::Pause {
                                        target: PodRef::Forger,
                                        ..
                                    } | FaultAction::Freeze {
                                        target: PodRef::Forger,
                                        ..
                                    }
                                ) && p.at <= up.at
                                    && p.at + Duration::from_secs(2) >= up.at
                            })
                    })
            })
        })
        .count();
    assert!((15..=60).contains(&aimed), "{aimed} of 100 seeds aim");
}
