//! The safety phase's fault schedule: one seed's [`Gen`] draws every fault of its swarm, then
//! heals everything and writes the liveness expectations.

use super::*;

/// The fault generator of one seed.
pub(super) struct Gen<'a> {
    pub(super) rng: SplitMix64,
    pub(super) s: &'a Scenario,
    pub(super) heal_at: Duration,
    pub(super) faults: Vec<Fault>,
}

impl Gen<'_> {
    pub(super) fn push(&mut self, at: Duration, action: FaultAction) {
        self.faults.push(Fault { at, action });
    }

    /// A random instant of the safety phase (after the first election settled).
    pub(super) fn instant(&mut self) -> Duration {
        self.rng.duration(
            Duration::from_secs(30),
            self.heal_at.saturating_sub(Duration::from_secs(1)),
        )
    }

    pub(super) fn region(&mut self) -> String {
        self.rng.pick(&self.s.regions).name.clone()
    }

    /// A concrete pod, the forger, or a region's leader.
    pub(super) fn pod_ref(&mut self) -> PodRef {
        let region = self.region();
        match self.rng.range(0, 3) {
            0 => PodRef::Forger,
            1 => PodRef::Leader(region),
            _ => {
                let pods = self.s.pods_of(&region);
                PodRef::Pod(self.rng.pick(&pods).clone())
            }
        }
    }

    /// A random region's API server, or (with cluster management, half the time) the global one.
    pub(super) fn some_api(&mut self) -> ApiServer {
        let region = self.region();
        if self.s.cluster_management && self.rng.chance(50) {
            ApiServer::Global
        } else {
            self.s.local_api_of(&region)
        }
    }

    /// A concrete pod (partitions and latency need one to heal it afterwards).
    pub(super) fn pod(&mut self) -> PodId {
        let region = self.region();
        let pods = self.s.pods_of(&region);
        self.rng.pick(&pods).clone()
    }

    /// A length in `1s..=max`, never past the heal instant from `at`.
    pub(super) fn len(&mut self, at: Duration, max: Duration) -> Duration {
        let len = self.rng.duration(Duration::from_secs(1), max);
        std::cmp::min(len, self.heal_at.saturating_sub(at))
    }

    /// Pushes `fault` at `at` and, when it ends before the heal, `undo` a random length (up to
    /// `max_len`) later; otherwise the liveness phase's heal undoes it.
    pub(super) fn push_for(
        &mut self,
        at: Duration,
        max_len: Duration,
        fault: FaultAction,
        undo: FaultAction,
    ) {
        self.push(at, fault);
        let len = self.len(at, max_len);
        self.push_before_heal(at + len, undo);
    }

    /// Pushes `action` at `at` if that is before the heal (after it, the liveness phase's heal
    /// stands in for it); whether it did.
    pub(super) fn push_before_heal(&mut self, at: Duration, action: FaultAction) -> bool {
        let before = at < self.heal_at;
        if before {
            self.push(at, action);
        }
        before
    }

    pub(super) fn count(&mut self, w: &Swarm) -> u64 {
        let hours = self.heal_at.as_secs_f64() / 3_600.0;
        // Expected count `per_hour × hours`, drawn in 0..=2× that (at least one chance).
        let mean = (w.per_hour as f64 * hours).ceil() as u64;
        self.rng.range(0, 2 * mean.max(1))
    }

    pub(super) fn kind(&mut self, w: &Swarm) {
        for _ in 0..self.count(w) {
            let at = self.instant();
            self.event(w, at);
        }
    }

    pub(super) fn event(&mut self, w: &Swarm, at: Duration) {
        let secs = Duration::from_secs;
        match w.kind {
            Kind::Partition => {
                let pod = Target::Pod(PodRef::Pod(self.pod()));
                let api = if self.rng.chance(80) {
                    Target::Api(self.s.local_api_of(&pod_region(&pod)))
                } else {
                    Target::Api(ApiServer::Global)
                };
                let between = [pod, api];
                self.push_for(
                    at,
                    w.max_len,
                    FaultAction::Partition {
                        between: between.clone(),
                    },
                    FaultAction::Heal { between },
                );
            }
            Kind::ApiOutage => {
                let region = self.region();
                let target = self.s.local_api_of(&region);
                self.push_for(
                    at,
                    w.max_len,
                    FaultAction::ApiDown {
                        target: target.clone(),
                    },
                    FaultAction::ApiUp { target },
                );
            }
            Kind::Skew => {
                let max = i64::try_from(ms(w.max_len)).unwrap_or(i64::MAX);
                let magnitude =
                    i64::try_from(self.rng.range(1_000, max.unsigned_abs())).unwrap_or(i64::MAX);
                let offset_ms = self.rng.either_sign(magnitude);
                let target = self.pod_ref();
                self.push(at, FaultAction::Skew { target, offset_ms });
            }
            Kind::Drift => {
                let magnitude = *self.rng.pick(&[10_i64, 100, 1_000, 20_000]);
                let ppm = self.rng.either_sign(magnitude);
                let target = self.pod_ref();
                self.push(at, FaultAction::Drift { target, ppm });
            }
            Kind::Pause | Kind::Freeze => {
                let target = self.pod_ref();
                let for_ = self.len(at, w.max_len);
                if for_.is_zero() {
                    return;
                }
                let action = if w.kind == Kind::Pause {
                    FaultAction::Pause { target, for_ }
                } else {
                    FaultAction::Freeze { target, for_ }
                };
                self.push(at, action);
            }
            Kind::Crash | Kind::Shutdown => {
                let target = self.pod_ref();
                let region = match &target {
                    PodRef::Pod(p) => p.region.clone(),
                    PodRef::Leader(r) => r.clone(),
                    // The forger's region is only known at run time: restart every region.
                    PodRef::Forger => String::new(),
                };
                let action = if w.kind == Kind::Crash {
                    FaultAction::Crash { target }
                } else {
                    FaultAction::Shutdown { target }
                };
                self.push(at, action);
                let down = self.len(at, w.max_len);
                let regions: Vec<String> = if region.is_empty() {
                    self.s.regions.iter().map(|r| r.name.clone()).collect()
                } else {
                    vec![region]
                };
                for r in regions {
                    self.push_before_heal(
                        at + down,
                        FaultAction::Restart {
                            target: Target::Region(r),
                        },
                    );
                }
            }
            Kind::NodeRestart => {
                if self.rng.chance(50) {
                    let target = self.pod_ref();
                    self.push(at, FaultAction::NodeRestart { target });
                } else {
                    // Mid-promotion: crash the forger, then restart the node of whoever takes the
                    // lease, around the moment it promotes (lease duration + a retry period later).
                    let region = self.region();
                    self.push(
                        at,
                        FaultAction::Crash {
                            target: PodRef::Forger,
                        },
                    );
                    let after = self.rng.duration(secs(14), secs(22));
                    self.push_before_heal(
                        at + after,
                        FaultAction::NodeRestart {
                            target: PodRef::Leader(region.clone()),
                        },
                    );
                    let down = self.len(at, w.max_len.max(after + secs(1)));
                    self.push_before_heal(
                        at + down,
                        FaultAction::Restart {
                            target: Target::Region(region),
                        },
                    );
                }
            }
            Kind::DeleteGlobal => {
                self.push(
                    at,
                    FaultAction::DeleteLease {
                        target: ApiServer::Global,
                        lease: crate::scenario::LeaseKind::Global,
                        force: false,
                    },
                );
                if self.rng.chance(60) {
                    let region = self.region();
                    let after = self.rng.duration(secs(1), secs(10));
                    let shut = self.push_before_heal(
                        at + after,
                        FaultAction::Shutdown {
                            target: PodRef::Leader(region.clone()),
                        },
                    );
                    if shut {
                        let down = self.len(at + after, w.max_len);
                        self.push_before_heal(
                            at + after + down,
                            FaultAction::Restart {
                                target: Target::Region(region),
                            },
                        );
                    }
                }
            }
            Kind::DeleteLease => {
                let region = self.region();
                let target = self.s.local_api_of(&region);
                self.push(
                    at,
                    FaultAction::DeleteLease {
                        target,
                        lease: crate::scenario::LeaseKind::Local,
                        force: false,
                    },
                );
            }
            Kind::RotateSecret => {
                // During a handover: a graceful shutdown of the forger, and the secret rotated a
                // moment later, while the successor takes over.
                let region = self.region();
                let handover = self.rng.chance(70);
                if handover {
                    self.push(
                        at,
                        FaultAction::Shutdown {
                            target: PodRef::Forger,
                        },
                    );
                }
                let after = self.rng.duration(Duration::ZERO, secs(20));
                let target = if self.rng.chance(80) {
                    Target::Region(region.clone())
                } else {
                    Target::Pod(PodRef::Leader(region.clone()))
                };
                self.push_before_heal(at + after, FaultAction::RotateSecret { target });
                let down = self.len(at, w.max_len.max(after + secs(1)));
                if handover {
                    for r in self
                        .s
                        .regions
                        .iter()
                        .map(|r| r.name.clone())
                        .collect::<Vec<_>>()
                    {
                        self.push_before_heal(
                            at + down,
                            FaultAction::Restart {
                                target: Target::Region(r),
                            },
                        );
                    }
                }
            }
            Kind::Latency => {
                let pod = Target::Pod(PodRef::Pod(self.pod()));
                let api = Target::Api(self.s.local_api_of(&pod_region(&pod)));
                let latency = self.rng.duration(Duration::from_millis(5), w.max_len);
                let between = [pod, api];
                let normal = self.s.timing.api_latency;
                self.push_for(
                    at,
                    secs(300),
                    FaultAction::Latency {
                        between: between.clone(),
                        latency,
                    },
                    FaultAction::Latency {
                        between,
                        latency: normal,
                    },
                );
            }
            Kind::Health => {
                let region = self.region();
                self.push_for(
                    at,
                    w.max_len,
                    FaultAction::Health {
                        region: region.clone(),
                        healthy: false,
                    },
                    FaultAction::Health {
                        region,
                        healthy: true,
                    },
                );
            }
            Kind::Flap => {
                // Periods from well under the probe interval (probes sample the flap) to longer
                // than the failure threshold (the region really turns unhealthy and back).
                let region = self.region();
                let period = self.rng.duration(secs(2), secs(240));
                // `instant` leaves at least a second before the heal: `until` is after `at` and
                // no later than the heal.
                let until = at + self.len(at, w.max_len);
                self.push(
                    at,
                    FaultAction::Flap {
                        region,
                        period,
                        until,
                    },
                );
            }
            Kind::Patch => {
                let region = self.region();
                let spec = self.patch_spec(at, w.max_len);
                self.push(
                    at,
                    FaultAction::Patch {
                        region: region.clone(),
                        spec,
                    },
                );
                // Half the time the operator restores the spec later in the safety phase.
                if self.rng.chance(50) {
                    let len = self.len(at, w.max_len);
                    if at + len < self.heal_at
                        && let Some(r) = self.s.region(&region)
                    {
                        self.push(
                            at + len,
                            FaultAction::Patch {
                                region,
                                spec: restore_spec(r),
                            },
                        );
                    }
                }
            }
        }
    }

    /// Aimed combinations (a third of the seeds): an API server refuses connections for 6–10 s,
    /// long enough that renewals through it fail towards the renew deadline, and the forger's
    /// sidecar is paused (or the whole pod frozen) for 3–20 s starting 0–2 s before the API comes
    /// back: the pause lands near the renew deadline and the request budgets' answer-by instants,
    /// where a stale decision would do harm. The generator does not know the run's renewal
    /// instants; an outage that long makes the deadline come near on purpose. Returns how many.
    /// Half the seeds: bursts of bad answers from an API server (500s, 429s with a Retry-After
    /// from 1 s to longer than the lease, answers cut off mid-body after the write landed), a few
    /// requests each, a few to 30 times an hour.
    pub(super) fn api_errors(&mut self) {
        if !self.rng.chance(50) {
            return;
        }
        let secs = Duration::from_secs;
        let per_hour = *self.rng.pick(&[3, 10, 30]);
        let n = self.count(&Swarm {
            kind: Kind::ApiOutage,
            per_hour,
            max_len: secs(1),
        });
        for _ in 0..n {
            let at = self.instant();
            let target = self.some_api();
            let answer = match self.rng.range(0, 2) {
                0 => ApiErrorAnswer::ServerError,
                1 => ApiErrorAnswer::Throttle {
                    retry_after: *self.rng.pick(&[secs(1), secs(2), secs(5), secs(30)]),
                },
                _ => ApiErrorAnswer::Cut,
            };
            let count = self.rng.range(1, 10);
            self.push(
                at,
                FaultAction::ApiErrors {
                    target,
                    answer,
                    count,
                },
            );
        }
    }

    pub(super) fn aimed(&mut self) -> u64 {
        if !self.rng.chance(33) {
            return 0;
        }
        let secs = Duration::from_secs;
        let per_hour = *self.rng.pick(&[3, 10, 30]);
        let n = self.count(&Swarm {
            kind: Kind::Pause,
            per_hour,
            max_len: secs(20),
        });
        let mut made = 0;
        for _ in 0..n {
            let at = self.instant();
            let target = self.some_api();
            let down = self.rng.duration(secs(6), secs(10));
            let early = self.rng.duration(Duration::ZERO, secs(2));
            let length = self.rng.duration(secs(3), secs(20));
            let freeze = self.rng.chance(40);
            if at + down >= self.heal_at {
                continue;
            }
            self.push(
                at,
                FaultAction::ApiDown {
                    target: target.clone(),
                },
            );
            self.push(at + down, FaultAction::ApiUp { target });
            let start = at + down - early;
            let for_ = std::cmp::min(length, self.heal_at.saturating_sub(start));
            if for_.is_zero() {
                continue;
            }
            let target = PodRef::Forger;
            self.push(
                start,
                if freeze {
                    FaultAction::Freeze { target, for_ }
                } else {
                    FaultAction::Pause { target, for_ }
                },
            );
            made += 1;
        }
        made
    }

    /// A random merge patch of a CardanoForgeCluster spec: `forgeState`, `priority` and an
    /// `override` (enabled or not, with a reason, `forcePriority`, `forceState` and `expiresAt`, a
    /// time since start that may already be past), at least one of them.
    pub(super) fn patch_spec(&mut self, at: Duration, max_len: Duration) -> serde_json::Value {
        let states = [
            ForgeState::Enabled,
            ForgeState::Disabled,
            ForgeState::PriorityBased,
        ];
        let worst = u64::try_from(self.s.regions.len()).unwrap_or(u64::MAX) + 1;
        let mut spec = serde_json::Map::new();
        let with_override = self.rng.chance(60);
        if self.rng.chance(50) || !with_override {
            let state = self.rng.pick(&states).as_str();
            spec.insert("forgeState".into(), state.into());
        }
        if self.rng.chance(15) {
            spec.insert("priority".into(), self.rng.range(1, worst).into());
        }
        if with_override {
            let mut o = serde_json::Map::new();
            o.insert("enabled".into(), self.rng.chance(85).into());
            if self.rng.chance(70) {
                let reason = *self
                    .rng
                    .pick(&["maintenance", "Emergency failover", "chaos"]);
                o.insert("reason".into(), reason.into());
            }
            if self.rng.chance(50) {
                o.insert("forcePriority".into(), self.rng.range(1, worst).into());
            }
            if self.rng.chance(30) {
                let state = *self.rng.pick(&["Enabled", "Disabled"]);
                o.insert("forceState".into(), state.into());
            }
            if self.rng.chance(50) {
                let expires = self
                    .rng
                    .duration(at.saturating_sub(Duration::from_secs(60)), at + 2 * max_len);
                o.insert("expiresAt".into(), format_duration(expires).into());
            }
            spec.insert("override".into(), o.into());
        }
        spec.into()
    }
}

/// The merge patch that puts a region's spec back as the scenario declares it: its `forgeState`
/// and `priority`, and no override in force (a merge patch cannot remove one from a file: it is
/// disabled).
pub fn restore_spec(r: &Region) -> serde_json::Value {
    serde_json::json!({
        "forgeState": r.forge_state.as_str(),
        "priority": r.priority,
        "override": { "enabled": false },
    })
}

pub(super) fn pod_region(t: &Target) -> String {
    t.region().unwrap_or_default().to_owned()
}

/// The liveness phase's first faults: everything healed at `at` (skew and drift stay); health
/// endpoints and specs are restored when `s.faults` (the safety phase) touched them.
pub fn heal_everything(s: &Scenario, at: Duration) -> Vec<Fault> {
    let mut out = Vec::new();
    let mut push = |action| out.push(Fault { at, action });
    for api in s.api_servers() {
        push(FaultAction::ApiUp {
            target: api.clone(),
        });
    }
    for region in &s.regions {
        for api in s.api_servers() {
            let between = [Target::Region(region.name.clone()), Target::Api(api)];
            push(FaultAction::Heal {
                between: between.clone(),
            });
            push(FaultAction::Latency {
                between,
                latency: s.timing.api_latency,
            });
        }
        push(FaultAction::Restart {
            target: Target::Region(region.name.clone()),
        });
    }
    // Policy: endpoints healthy (which also ends any flap) and specs as declared, for every region
    // once the safety phase touched any.
    let touched = |kinds: &[&str]| s.faults.iter().any(|f| kinds.contains(&f.action.kind()));
    if touched(&["health", "flap"]) {
        for region in &s.regions {
            push(FaultAction::Health {
                region: region.name.clone(),
                healthy: true,
            });
        }
    }
    if touched(&["patch"]) {
        for region in &s.regions {
            push(FaultAction::Patch {
                region: region.name.clone(),
                spec: restore_spec(region),
            });
        }
    }
    out
}

/// From `by` to `end` (the end of the liveness phase): the forger is in the most preferred region
/// and never changes.
pub(super) fn liveness_expects(s: &Scenario, by: Duration, end: Duration) -> Vec<Expect> {
    vec![
        Expect::ForgerBy {
            by,
            who: Placement::Region(preferred_region(s)),
            to: Some(end),
        },
        Expect::MaxHandovers {
            value: 0,
            window: Window {
                from: Some(by),
                to: Some(end),
            },
        },
    ]
}

pub(super) fn describe(
    s: &Scenario,
    swarm: &[Swarm],
    aimed: u64,
    heal_at: Duration,
    budget: Duration,
) -> String {
    let kinds: Vec<String> = swarm
        .iter()
        .map(|w| format!("{:?} {}/h up to {:?}", w.kind, w.per_hour, w.max_len))
        .collect();
    let aimed = if aimed > 0 {
        format!(", {aimed} aimed API outage + pause/freeze combinations")
    } else {
        String::new()
    };
    format!(
        "Safety phase until {}s with {} faults ({}{aimed}); liveness phase from {}s: everything \
         healed, one forger in the most preferred region by {}s and no handover until {}s.",
        heal_at.as_secs(),
        s.faults.len(),
        kinds.join(", "),
        heal_at.as_secs(),
        (heal_at + budget).as_secs(),
        s.duration.as_secs(),
    )
}
