//! Seeded chaos (TigerBeetle's VOPR habit): every seed builds a random world and a random fault
//! schedule, expressed as an ordinary [`Scenario`] so the runner runs it, the oracle judges it and
//! the writer prints a file that reproduces it (`forge-sim run FILE`).
//!
//! # Two phases per seed
//!
//! - **Safety phase** (most of the duration): faults on. The oracle's implicit check (zero
//!   dual-forging slots outside the residual class of a `freeze` longer than `renew_deadline`)
//!   applies throughout.
//! - **Liveness phase**: at its start every fault is healed (partitions healed, API servers up,
//!   crashed or shut-down pods restarted, latency back to normal; skew and drift stay). The world
//!   must then converge: from `heal + convergence budget` to the end the forger is in the most
//!   preferred region (`forger-by`) and it never changes (`max-handovers = 0`).
//!
//! # Swarm testing
//!
//! A seed does not draw every fault kind at one fixed rate: it enables a random subset of the kinds
//! and draws, per enabled kind, a rate (events per simulated hour) and an intensity (how long its
//! faults last, how large its skews are). Some seeds therefore hammer one mechanism and leave the
//! others alone, which finds bugs a uniform mix dilutes (Groce et al., "Swarm testing", 2012).
//!
//! Everything is drawn from one [`SplitMix64`] seeded with the seed: the same seed always gives the
//! same scenario, on any platform and with any version of `rand`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::runner::{self, Outcome, RunOptions};
use forge_manager::config::duration::format_duration;

use crate::scenario::{
    ApiServer, Expect, Fault, FaultAction, ForgeState, NodeTiming, Placement, PodRef, Region,
    Scenario, Target, Timing, Window,
};
use crate::trace::PodId;

/// Region names of generated worlds, in priority order.
pub const REGION_NAMES: [&str; 8] = [
    "us-east-1",
    "eu-west-1",
    "ap-south-1",
    "us-west-2",
    "eu-central-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

/// What a chaos run generates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaosConfig {
    /// Simulated time of one seed (both phases).
    pub duration: Duration,
    /// At most this many regions (drawn in `1..=regions`); more than one turns cluster management
    /// on, and with it the policy faults (health, flap, patch).
    pub regions: usize,
    /// At most this many pods per region (drawn in `1..=pods`).
    pub pods: usize,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            duration: Duration::from_secs(3_600),
            regions: 1,
            pods: 3,
        }
    }
}

/// A small, stable PRNG (Steele, Lea and Flood's SplitMix64): the generator must never change
/// under a dependency upgrade, or every recorded seed would stop reproducing.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        // The modulo bias is below 2^-40 for the spans used here: irrelevant for fault schedules.
        lo + self.next_u64() % span
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.range(0, 99) < percent
    }

    /// A duration uniform in `lo..=hi`, at millisecond resolution.
    pub fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        Duration::from_millis(self.range(ms(lo), ms(hi)))
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        debug_assert!(!items.is_empty());
        let last = u64::try_from(items.len().saturating_sub(1)).unwrap_or(0);
        let i = usize::try_from(self.range(0, last)).unwrap_or(0);
        &items[i]
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The fault families a seed may enable: [`Kind::WORLD`] in every world, [`Kind::POLICY`] where
/// cluster management is on (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A pod cut off from its API server (and the global one), healed later.
    Partition,
    /// An API server refuses connections, shorter or longer than the lease.
    ApiOutage,
    /// A pod's wall clock jumps by seconds to hours.
    Skew,
    /// A pod's clocks run fast or slow.
    Drift,
    /// The sidecar is frozen, shorter or longer than the lease.
    Pause,
    /// The whole pod is frozen, shorter or longer than the lease.
    Freeze,
    /// A pod dies and is restarted later.
    Crash,
    /// cardano-node restarts, on its own or just as a successor is being promoted.
    NodeRestart,
    /// SIGTERM, and the pod restarted later.
    Shutdown,
    /// An operator deletes the local lease.
    DeleteLease,
    /// The forging secret changes, during a handover.
    RotateSecret,
    /// Slow links between pods and API servers.
    Latency,
    /// A region's health endpoint fails, and recovers later.
    Health,
    /// A region's health endpoint flaps for a while.
    Flap,
    /// An operator patches a region's CardanoForgeCluster spec (forgeState, priority, override),
    /// and sometimes restores it later.
    Patch,
    /// An operator deletes the global lease; often a region's leader is shut down seconds later,
    /// so that the region's next leader meets a lease its region has just re-created (the
    /// combination of `created-global-lease-local-leader-change`).
    DeleteGlobal,
}

impl Kind {
    /// The kinds that act on pods, nodes, clocks, leases and API servers: drawn in every world.
    pub const WORLD: [Kind; 12] = [
        Kind::Partition,
        Kind::ApiOutage,
        Kind::Skew,
        Kind::Drift,
        Kind::Pause,
        Kind::Freeze,
        Kind::Crash,
        Kind::NodeRestart,
        Kind::Shutdown,
        Kind::DeleteLease,
        Kind::RotateSecret,
        Kind::Latency,
    ];

    /// The kinds that act on cross-region policy: drawn only where cluster management is on (with
    /// it off no sidecar probes health or reads a CardanoForgeCluster, so they would change
    /// nothing), from a stream of their own (see [`generate`]).
    pub const POLICY: [Kind; 4] = [Kind::Health, Kind::Flap, Kind::Patch, Kind::DeleteGlobal];
}

/// One enabled fault kind of a seed: how often and how hard.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Swarm {
    kind: Kind,
    /// Events per simulated hour.
    per_hour: u64,
    /// Longest duration of one event (outage, partition, pause, down time...).
    max_len: Duration,
}

/// The time the world needs, after every fault is healed, to have exactly one forger again:
/// lease duration (a fenced holder's record must age on the candidates' clocks) + retry period
/// (the next attempt) + failback delay (multi-region) + node startup (restarted pods) + a margin of
/// one minute (a stuck demotion's retry, the API's exponential back-off, crash-loop back-off).
///
/// With `health_recovery` (the seed may leave a health endpoint failing until the heal) add
/// `health_interval × health_success_threshold`: the probes a region's leader needs to see its
/// endpoint healthy again, before the failback delay of that recovery even starts.
pub fn convergence_budget(s: &Scenario, health_recovery: bool) -> Duration {
    let health = if health_recovery {
        s.timing.health_interval * s.timing.health_success_threshold
    } else {
        Duration::ZERO
    };
    s.timing.lease_duration
        + s.timing.retry_period
        + s.timing.failback_delay
        + s.node.startup
        + health
        + Duration::from_secs(60)
}

/// The policy faults' own stream: a seed's world faults are the same whether or not its world
/// also draws policy faults (a one-region seed generates what it did before they existed).
fn policy_rng(seed: u64) -> SplitMix64 {
    SplitMix64::new(SplitMix64::new(seed ^ 0x706F_6C69_6379_2121).next_u64())
}

/// The liveness phase's length for a run of `duration`: the convergence budget plus at least two
/// minutes of steady state, or a tenth of the run.
fn liveness_len(duration: Duration, budget: Duration) -> Duration {
    std::cmp::max(budget + Duration::from_secs(120), duration / 10)
}

/// The scenario of one seed.
pub fn generate(seed: u64, config: &ChaosConfig) -> Scenario {
    let mut rng = SplitMix64::new(seed);
    let max_regions = config.regions.clamp(1, REGION_NAMES.len());
    let n_regions = usize::try_from(rng.range(1, max_regions as u64)).unwrap_or(1);
    let regions: Vec<Region> = (0..n_regions)
        .map(|i| Region {
            name: REGION_NAMES[i].to_owned(),
            priority: u32::try_from(i + 1).unwrap_or(u32::MAX),
            pods: usize::try_from(rng.range(1, config.pods.max(1) as u64)).unwrap_or(1),
            forge_state: ForgeState::PriorityBased,
            healthy: true,
        })
        .collect();
    let mut s = Scenario {
        name: format!("chaos-{seed}"),
        description: String::new(),
        seed,
        duration: config.duration,
        network: "mainnet".into(),
        pool: "POOL1".into(),
        cluster_management: n_regions > 1,
        shared_api: false,
        slot_length: Duration::from_secs(1),
        timing: Timing::default(),
        node: NodeTiming::default(),
        regions,
        faults: Vec::new(),
        expects: Vec::new(),
    };
    let mut policy = policy_rng(seed);
    let policy_swarm = if s.cluster_management {
        draw_policy_swarm(&mut policy)
    } else {
        Vec::new()
    };
    let health_recovery = policy_swarm
        .iter()
        .any(|w| matches!(w.kind, Kind::Health | Kind::Flap));
    let budget = convergence_budget(&s, health_recovery);
    let heal_at = config
        .duration
        .saturating_sub(liveness_len(config.duration, budget));
    let mut swarm = draw_swarm(&mut rng);
    let mut g = Gen {
        rng,
        s: &s,
        heal_at,
        faults: Vec::new(),
    };
    for w in &swarm {
        g.kind(w);
    }
    g.rng = policy;
    for w in &policy_swarm {
        g.kind(w);
    }
    let faults = g.faults;
    s.faults = faults;
    let heal = heal_everything(&s, heal_at);
    s.faults.extend(heal);
    s.expects = liveness_expects(&s, heal_at + budget);
    swarm.extend(policy_swarm);
    s.description = describe(&s, &swarm, heal_at, budget);
    s
}

/// Which kinds this seed enables, each with a rate and an intensity. At least one kind is on.
fn draw_swarm(rng: &mut SplitMix64) -> Vec<Swarm> {
    let mut out = Vec::new();
    for kind in Kind::WORLD {
        if rng.chance(50) {
            out.push(draw_one(rng, kind));
        }
    }
    if out.is_empty() {
        let kind = *rng.pick(&Kind::WORLD);
        out.push(draw_one(rng, kind));
    }
    out
}

/// Which policy kinds this seed enables (each with probability ½; perhaps none).
fn draw_policy_swarm(rng: &mut SplitMix64) -> Vec<Swarm> {
    let mut out = Vec::new();
    for kind in Kind::POLICY {
        if rng.chance(50) {
            out.push(draw_one(rng, kind));
        }
    }
    out
}

fn draw_one(rng: &mut SplitMix64, kind: Kind) -> Swarm {
    // Rates from rare (1/h) to busy (60/h); intensities straddle the lease (15s) on purpose.
    let per_hour = *rng.pick(&[1, 3, 10, 30, 60]);
    let secs = Duration::from_secs;
    let max_len = match kind {
        Kind::Skew => *rng.pick(&[secs(30), secs(3_600), secs(6 * 3_600)]),
        Kind::Pause | Kind::Freeze => *rng.pick(&[secs(5), secs(12), secs(30), secs(90)]),
        Kind::Latency => *rng.pick(&[Duration::from_millis(200), secs(2), secs(6)]),
        // Health outages straddle detection (failure threshold × interval: 90 s by default).
        Kind::Health => *rng.pick(&[secs(30), secs(120), secs(300), secs(900)]),
        // How long a flap lasts.
        Kind::Flap => *rng.pick(&[secs(60), secs(300), secs(900)]),
        // How long before the operator restores a patched spec (when they do).
        Kind::Patch => *rng.pick(&[secs(30), secs(120), secs(600), secs(1_800)]),
        _ => *rng.pick(&[secs(10), secs(30), secs(120), secs(300)]),
    };
    Swarm {
        kind,
        per_hour,
        max_len,
    }
}

/// The fault generator of one seed.
struct Gen<'a> {
    rng: SplitMix64,
    s: &'a Scenario,
    heal_at: Duration,
    faults: Vec<Fault>,
}

impl Gen<'_> {
    fn push(&mut self, at: Duration, action: FaultAction) {
        self.faults.push(Fault { at, action });
    }

    /// A random instant of the safety phase (after the first election settled).
    fn instant(&mut self) -> Duration {
        self.rng.duration(
            Duration::from_secs(30),
            self.heal_at.saturating_sub(Duration::from_secs(1)),
        )
    }

    fn region(&mut self) -> String {
        self.rng.pick(&self.s.regions).name.clone()
    }

    /// A concrete pod, the forger, or a region's leader.
    fn pod_ref(&mut self) -> PodRef {
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

    /// A concrete pod (partitions and latency need one to heal it afterwards).
    fn pod(&mut self) -> PodId {
        let region = self.region();
        let pods = self.s.pods_of(&region);
        self.rng.pick(&pods).clone()
    }

    /// A length in `1s..=max`, never past the heal instant from `at`.
    fn len(&mut self, at: Duration, max: Duration) -> Duration {
        let len = self.rng.duration(Duration::from_secs(1), max);
        std::cmp::min(len, self.heal_at.saturating_sub(at))
    }

    /// Pushes `fault` at `at` and, when it ends before the heal, `undo` a random length (up to
    /// `max_len`) later; otherwise the liveness phase's heal undoes it.
    fn push_for(&mut self, at: Duration, max_len: Duration, fault: FaultAction, undo: FaultAction) {
        self.push(at, fault);
        let len = self.len(at, max_len);
        self.push_before_heal(at + len, undo);
    }

    /// Pushes `action` at `at` if that is before the heal (after it, the liveness phase's heal
    /// stands in for it); whether it did.
    fn push_before_heal(&mut self, at: Duration, action: FaultAction) -> bool {
        let before = at < self.heal_at;
        if before {
            self.push(at, action);
        }
        before
    }

    fn count(&mut self, w: &Swarm) -> u64 {
        let hours = self.heal_at.as_secs_f64() / 3_600.0;
        // Expected count `per_hour × hours`, drawn in 0..=2× that (at least one chance).
        let mean = (w.per_hour as f64 * hours).ceil() as u64;
        self.rng.range(0, 2 * mean.max(1))
    }

    fn kind(&mut self, w: &Swarm) {
        for _ in 0..self.count(w) {
            let at = self.instant();
            self.event(w, at);
        }
    }

    fn event(&mut self, w: &Swarm, at: Duration) {
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
                let offset_ms = if self.rng.chance(50) {
                    magnitude
                } else {
                    -magnitude
                };
                let target = self.pod_ref();
                self.push(at, FaultAction::Skew { target, offset_ms });
            }
            Kind::Drift => {
                let magnitude = *self.rng.pick(&[10_i64, 100, 1_000, 20_000]);
                let ppm = if self.rng.chance(50) {
                    magnitude
                } else {
                    -magnitude
                };
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

    /// A random merge patch of a CardanoForgeCluster spec: `forgeState`, `priority` and an
    /// `override` (enabled or not, with a reason, `forcePriority`, `forceState` and `expiresAt`, a
    /// time since start that may already be past), at least one of them.
    fn patch_spec(&mut self, at: Duration, max_len: Duration) -> serde_json::Value {
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

fn pod_region(t: &Target) -> String {
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

/// From `by` to the end: the forger is in the most preferred region and never changes.
fn liveness_expects(s: &Scenario, by: Duration) -> Vec<Expect> {
    let preferred = s
        .regions
        .iter()
        .min_by_key(|r| r.priority)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    vec![
        Expect::ForgerBy {
            by,
            who: Placement::Region(preferred),
            to: Some(s.duration),
        },
        Expect::MaxHandovers {
            value: 0,
            window: Window {
                from: Some(by),
                to: Some(s.duration),
            },
        },
    ]
}

fn describe(s: &Scenario, swarm: &[Swarm], heal_at: Duration, budget: Duration) -> String {
    let kinds: Vec<String> = swarm
        .iter()
        .map(|w| format!("{:?} {}/h up to {:?}", w.kind, w.per_hour, w.max_len))
        .collect();
    format!(
        "Generated by `forge-sim chaos` (seed {}): {} region(s), {} pod(s). Safety phase until {}s \
         with {} faults ({}); liveness phase from {}s: everything healed, one forger in the most \
         preferred region by {}s and no handover after.",
        s.seed,
        s.regions.len(),
        s.regions.iter().map(|r| r.pods).sum::<usize>(),
        heal_at.as_secs(),
        s.faults.len(),
        kinds.join(", "),
        heal_at.as_secs(),
        (heal_at + budget).as_secs(),
    )
}

/// A fault-free world of `regions` × `pods` for `duration` (the bench).
pub fn quiet_world(regions: usize, pods: usize, duration: Duration) -> Scenario {
    let config = ChaosConfig {
        duration,
        regions,
        pods,
    };
    let mut s = generate(0, &config);
    s.name = format!("bench-{regions}x{pods}");
    s.description = "A fault-free world, for measuring speed.".into();
    s.regions = (0..regions.clamp(1, REGION_NAMES.len()))
        .map(|i| Region {
            name: REGION_NAMES[i].to_owned(),
            priority: u32::try_from(i + 1).unwrap_or(u32::MAX),
            pods,
            forge_state: ForgeState::PriorityBased,
            healthy: true,
        })
        .collect();
    s.cluster_management = regions > 1;
    s.faults.clear();
    s.expects.clear();
    s
}

/// One seed's run.
#[derive(Debug)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// The scenario it generated (its file reproduces the run).
    pub scenario: Scenario,
    /// The outcome, or why the simulation itself failed.
    pub result: Result<Outcome, String>,
}

impl SeedRun {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        self.result
            .as_ref()
            .is_ok_and(|o| o.report.verdict == crate::report::Verdict::Pass)
    }
}

/// Generates and runs one seed.
pub fn run_seed(seed: u64, config: &ChaosConfig, options: &RunOptions) -> SeedRun {
    let scenario = generate(seed, config);
    let options = RunOptions {
        seed: None,
        ..options.clone()
    };
    let result = runner::run(&scenario, &options);
    SeedRun {
        seed,
        scenario,
        result,
    }
}

/// Runs seeds `start..start + count` on `jobs` threads (each world lives on one thread, so runs
/// are independent and each is deterministic) and hands every run to `report` in seed order.
pub fn run_seeds(
    config: &ChaosConfig,
    start: u64,
    count: u64,
    jobs: usize,
    options: &RunOptions,
    mut report: impl FnMut(SeedRun),
) {
    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::channel::<SeedRun>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let run = run_seed(start.wrapping_add(i), config, options);
                    if tx.send(run).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Buffer out-of-order results (at most `jobs` of them) to report in seed order.
        let mut pending = BTreeMap::new();
        let mut want = start;
        for run in rx {
            pending.insert(run.seed, run);
            while let Some(run) = pending.remove(&want) {
                report(run);
                want = want.wrapping_add(1);
            }
        }
    });
}

#[cfg(test)]
mod tests {
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
        // leader shutdown and restart that may follow it.
        let policy = |f: &Fault| {
            ["health", "flap", "patch", "shutdown", "restart"].contains(&f.action.kind())
                || matches!(
                    f.action,
                    FaultAction::DeleteLease {
                        lease: crate::scenario::LeaseKind::Global,
                        ..
                    }
                )
        };
        for seed in 0..50 {
            let s = generate(seed, &c);
            if !s.cluster_management {
                continue;
            }
            let mut rng = SplitMix64::new(seed);
            let n = usize::try_from(rng.range(1, 3)).unwrap_or(1);
            for _ in 0..n {
                rng.range(1, 3);
            }
            let swarm = draw_swarm(&mut rng);
            let heal_at = s.faults.iter().map(|f| f.at).max().unwrap_or_default();
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
        let s = generate(3, &ChaosConfig::default());
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
            let s = generate(seed, &c);
            let heal_at = s.faults.iter().map(|f| f.at).max().unwrap_or_default();
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
            let s = generate(seed, &c);
            let heal = s.faults.iter().map(|f| f.at).max().unwrap_or_default();
            for f in &s.faults {
                if let FaultAction::Pause { for_, .. } | FaultAction::Freeze { for_, .. } = f.action
                {
                    assert!(f.at + for_ <= heal, "seed {seed}: {f:?} outlasts the heal");
                }
            }
        }
    }
}
