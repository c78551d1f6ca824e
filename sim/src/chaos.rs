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
    /// turmoil's tick of every seed; `None` draws it per seed from [`TICKS`] (see
    /// [`main_duration`] for how a short tick shortens the seed).
    pub tick: Option<Duration>,
    /// Whether seeds run liveness probes after the liveness phase, or only probes.
    pub probes: Probes,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            duration: Duration::from_secs(3_600),
            regions: 1,
            pods: 3,
            tick: None,
            probes: Probes::On,
        }
    }
}

/// Which phases a seed runs (`forge-sim chaos --no-probes` / `--probes-only`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Probes {
    /// Safety phase, liveness phase, then the probe phase.
    #[default]
    On,
    /// Safety and liveness phases only (the runs before probes existed).
    Off,
    /// A quiet start, then the probe phase: no safety phase, no liveness phase.
    Only,
}

/// The ticks a seed draws from (`tick` of the generated file; 50 ms is the default, not written).
pub const TICKS: [Duration; 3] = [
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(50),
];

/// A seed's tick: 50 ms for half the seeds, 20 ms and 10 ms for a quarter each. From a stream of
/// its own, so the world and its faults do not depend on it.
pub fn draw_tick(seed: u64) -> Duration {
    let mut rng = SplitMix64::new(SplitMix64::new(seed ^ 0x7469_636B_2D74_6963).next_u64());
    match rng.range(0, 3) {
        0 => TICKS[0],
        1 => TICKS[1],
        _ => TICKS[2],
    }
}

/// The length of a seed's safety and liveness phases for a run of `duration` at `tick`. A
/// simulated minute costs about 2.4× the wall time at 20 ms and 3.2× at 10 ms than at 50 ms
/// (measured 2026-12-02, 3-region worlds), and every seed adds a probe phase, so shorter ticks get
/// shorter runs to keep a batch's wall time: 20 ms a quarter, 10 ms a sixth of `duration`, never
/// below ten minutes (or `duration` if shorter).
pub fn main_duration(duration: Duration, tick: Duration) -> Duration {
    let scaled = if tick <= TICKS[0] {
        duration / 6
    } else if tick <= TICKS[1] {
        duration / 4
    } else {
        duration
    };
    let floor = std::cmp::min(duration, Duration::from_secs(600));
    Duration::from_secs(std::cmp::max(scaled, floor).as_secs())
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

    /// `magnitude` or its negation, with equal odds (skews and drifts go either way).
    pub fn either_sign(&mut self, magnitude: i64) -> i64 {
        if self.chance(50) {
            magnitude
        } else {
            -magnitude
        }
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
    plan(seed, config).scenario
}

/// One seed's scenario and where its phases are.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// The heal instant (start of the liveness phase), if the seed has a safety phase.
    pub heal_at: Option<Duration>,
    /// Start of the probe phase, if the seed has one.
    pub probe_phase: Option<Duration>,
    /// The probes, in time order, each with its window.
    pub probes: Vec<ProbeWindow>,
}

/// With `--probes-only`, the quiet start before the probe phase (the first election settles).
pub const PROBES_ONLY_START: Duration = Duration::from_secs(120);

/// The scenario of one seed, with its phases.
pub fn plan(seed: u64, config: &ChaosConfig) -> Plan {
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
    let tick = config.tick.unwrap_or_else(|| draw_tick(seed));
    let main = main_duration(config.duration, tick);
    let mut s = Scenario {
        name: format!("chaos-{seed}"),
        description: String::new(),
        seed,
        duration: main,
        network: "mainnet".into(),
        pool: "POOL1".into(),
        cluster_management: n_regions > 1,
        shared_api: false,
        slot_length: Duration::from_secs(1),
        tick,
        timing: Timing::default(),
        node: NodeTiming::default(),
        regions,
        faults: Vec::new(),
        expects: Vec::new(),
    };
    let mut text = Vec::new();
    let mut heal = None;
    let probe_start = if config.probes == Probes::Only {
        // A quiet start: the first election settles, then the probes.
        s.expects.push(Expect::ForgerBy {
            by: PROBES_ONLY_START - Duration::from_secs(30),
            who: Placement::Region(preferred_region(&s)),
            to: Some(PROBES_ONLY_START),
        });
        text.push(format!(
            "No safety phase: a quiet start, one forger in the most preferred region by {}s.",
            (PROBES_ONLY_START - Duration::from_secs(30)).as_secs()
        ));
        PROBES_ONLY_START
    } else {
        let (heal_at, budget, swarm, aimed) = safety_and_liveness(seed, rng, &mut s, main);
        heal = Some(heal_at);
        text.push(describe(&s, &swarm, aimed, heal_at, budget));
        main
    };
    let mut probes = Vec::new();
    if config.probes != Probes::Off {
        let budget = if config.probes == Probes::Only {
            main / 4
        } else {
            main / 6
        };
        let mut pg = ProbeGen::new(probe_rng(seed), &s);
        let end = pg.run(probe_start, budget);
        let (faults, expects, windows, setup) = (pg.faults, pg.expects, pg.windows, pg.setup);
        s.faults.extend(faults);
        s.expects.extend(expects);
        s.duration = end;
        let kinds: Vec<String> = windows
            .iter()
            .map(|w| {
                format!(
                    "{} {}s-{}s",
                    w.kind.as_str(),
                    w.from.as_secs(),
                    w.to.as_secs()
                )
            })
            .collect();
        text.push(format!(
            "Probe phase from {}s{}: one fault at a time in a healthy world, each promise an \
             expectation in the probe's window ({}).",
            probe_start.as_secs(),
            setup,
            kinds.join(", ")
        ));
        probes = windows;
    }
    text.push(format!("Tick {}.", format_duration(tick)));
    s.description = format!(
        "Generated by `forge-sim chaos` (seed {}): {} region(s), {} pod(s). {}",
        s.seed,
        s.regions.len(),
        s.regions.iter().map(|r| r.pods).sum::<usize>(),
        text.join(" ")
    );
    Plan {
        scenario: s,
        heal_at: heal,
        probe_phase: (config.probes != Probes::Off).then_some(probe_start),
        probes,
    }
}

/// The most preferred region as declared (the lowest priority number).
fn preferred_region(s: &Scenario) -> String {
    s.regions
        .iter()
        .min_by_key(|r| r.priority)
        .map(|r| r.name.clone())
        .unwrap_or_default()
}

/// The safety phase's faults, the heal and the liveness expectations of a run of `main`, pushed
/// onto `s`; returns the heal instant, the convergence budget, the swarm and the number of aimed
/// combinations.
fn safety_and_liveness(
    seed: u64,
    mut rng: SplitMix64,
    s: &mut Scenario,
    main: Duration,
) -> (Duration, Duration, Vec<Swarm>, u64) {
    let mut policy = policy_rng(seed);
    let policy_swarm = if s.cluster_management {
        draw_policy_swarm(&mut policy)
    } else {
        Vec::new()
    };
    let health_recovery = policy_swarm
        .iter()
        .any(|w| matches!(w.kind, Kind::Health | Kind::Flap));
    let budget = convergence_budget(s, health_recovery);
    let heal_at = main.saturating_sub(liveness_len(main, budget));
    let mut swarm = draw_swarm(&mut rng);
    let mut g = Gen {
        rng,
        s,
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
    g.rng = aim_rng(seed);
    let aimed = g.aimed();
    let faults = g.faults;
    s.faults = faults;
    let heal = heal_everything(s, heal_at);
    s.faults.extend(heal);
    s.expects = liveness_expects(s, heal_at + budget, main);
    swarm.extend(policy_swarm);
    (heal_at, budget, swarm, aimed)
}

/// The aimed combinations' own stream (see [`Gen::aimed`]).
fn aim_rng(seed: u64) -> SplitMix64 {
    SplitMix64::new(SplitMix64::new(seed ^ 0x6169_6D65_642D_2D21).next_u64())
}

/// The probes' own stream (see [`ProbeGen`]).
fn probe_rng(seed: u64) -> SplitMix64 {
    SplitMix64::new(SplitMix64::new(seed ^ 0x7072_6F62_6573_2121).next_u64())
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
    fn aimed(&mut self) -> u64 {
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
            let region = self.region();
            let target = if self.s.cluster_management && self.rng.chance(50) {
                ApiServer::Global
            } else {
                self.s.local_api_of(&region)
            };
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

/// From `by` to `end` (the end of the liveness phase): the forger is in the most preferred region
/// and never changes.
fn liveness_expects(s: &Scenario, by: Duration, end: Duration) -> Vec<Expect> {
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

fn describe(
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

/// The kinds of liveness probe: one fault (or one operator change) in an otherwise healthy world,
/// with the promise the design makes about it written as ordinary expectations in its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeKind {
    /// The forger's pod crashes; restarted 30–90 s later.
    Crash,
    /// The forger's sidecar gets SIGTERM; the pod is restarted 30–90 s later.
    Shutdown,
    /// The forger's cardano-node restarts.
    NodeRestart,
    /// A maintenance override (`forcePriority` worst, or `forceState = "Disabled"`) on the most
    /// preferred region, with an `expiresAt` 1–2 min ahead.
    Override,
    /// A region's `forgeState` set to `Disabled`, and back 1–2 min later.
    Disable,
    /// The most preferred region's priority made the worst, and back 1–2 min later.
    Priority,
    /// A region's health endpoint fails long enough to be detected, then recovers.
    Health,
    /// Every pod of the most preferred region crashes; restarted 1–2 min later.
    RegionLoss,
    /// The coordination API (or the forger's regional API) refuses connections for 2–3 s.
    ApiBlip,
}

impl ProbeKind {
    /// Every kind.
    pub const ALL: [ProbeKind; 9] = [
        ProbeKind::Crash,
        ProbeKind::Shutdown,
        ProbeKind::NodeRestart,
        ProbeKind::Override,
        ProbeKind::Disable,
        ProbeKind::Priority,
        ProbeKind::Health,
        ProbeKind::RegionLoss,
        ProbeKind::ApiBlip,
    ];

    /// Its name in descriptions and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Crash => "crash",
            ProbeKind::Shutdown => "shutdown",
            ProbeKind::NodeRestart => "node-restart",
            ProbeKind::Override => "override",
            ProbeKind::Disable => "disable",
            ProbeKind::Priority => "priority",
            ProbeKind::Health => "health",
            ProbeKind::RegionLoss => "region-loss",
            ProbeKind::ApiBlip => "api-blip",
        }
    }

    /// The kinds that apply to a world: those acting on policy need cluster management, a crash
    /// or shutdown needs somewhere to fail over to.
    pub fn applicable(s: &Scenario) -> Vec<ProbeKind> {
        let multi = s.cluster_management && s.regions.len() > 1;
        let preferred_pods = s.regions.first().map_or(0, |r| r.pods);
        ProbeKind::ALL
            .into_iter()
            .filter(|k| match k {
                ProbeKind::NodeRestart | ProbeKind::ApiBlip => true,
                ProbeKind::Crash | ProbeKind::Shutdown => multi || preferred_pods >= 2,
                _ => multi,
            })
            .collect()
    }
}

/// One probe of a seed: its kind and its window `[from, to)`, which holds its faults and its
/// expectations; no other fault of the seed lands in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeWindow {
    /// The kind.
    pub kind: ProbeKind,
    /// Its first fault.
    pub from: Duration,
    /// The end of its last expectation.
    pub to: Duration,
}

/// A probe that moves forging away from the preferred region and back (see
/// [`ProbeGen::moved_and_back`]).
struct Move {
    /// The probe's first fault.
    t: Duration,
    /// From when the next region forges.
    away: Duration,
    /// Until when it does (and the preferred region does not).
    until: Duration,
    /// By when the preferred region forges again.
    by: Duration,
    /// The window's end.
    end: Duration,
    /// The longest gap allowed until `until` (the planned bound from then on).
    gap_away: Duration,
    /// When the holding region's leader shuts down inside the wait, if it does.
    holder_change: Option<Duration>,
}

/// The probe phase's generator. Every bound is derived from the scenario's timing (docs/chaos.md
/// "Liveness probes" explains each one); `slow`/`fast` allow the pods' clock-rate margin (drift up
/// to ±20 000 ppm, 2 %).
struct ProbeGen<'a> {
    rng: SplitMix64,
    s: &'a Scenario,
    faults: Vec<Fault>,
    expects: Vec<Expect>,
    windows: Vec<ProbeWindow>,
    /// What the clock set-up did, for the description.
    setup: String,
}

/// A duration lengthened by the clock-rate margin (2 %).
fn slow(d: Duration) -> Duration {
    d * 51 / 50
}

/// A duration shortened by the clock-rate margin (2 %).
fn fast(d: Duration) -> Duration {
    d * 49 / 50
}

fn window(from: Duration, to: Duration) -> Window {
    Window {
        from: Some(from),
        to: Some(to),
    }
}

impl<'a> ProbeGen<'a> {
    fn new(rng: SplitMix64, s: &'a Scenario) -> Self {
        ProbeGen {
            rng,
            s,
            faults: Vec::new(),
            expects: Vec::new(),
            windows: Vec::new(),
            setup: String::new(),
        }
    }

    fn push(&mut self, at: Duration, action: FaultAction) {
        self.faults.push(Fault { at, action });
    }

    fn expect(&mut self, e: Expect) {
        self.expects.push(e);
    }

    /// The most preferred region (priority 1) and the next one (where forging goes without it).
    fn preferred(&self) -> String {
        preferred_region(self.s)
    }

    fn second(&self) -> String {
        let p = self.preferred();
        self.s
            .regions
            .iter()
            .filter(|r| r.name != p)
            .min_by_key(|r| r.priority)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }

    fn others(&self) -> Vec<String> {
        let p = self.preferred();
        self.s
            .regions
            .iter()
            .filter(|r| r.name != p)
            .map(|r| r.name.clone())
            .collect()
    }

    fn multi(&self) -> bool {
        self.s.cluster_management && self.s.regions.len() > 1
    }

    /// The longest gap of an unplanned failover (the holder died): its lease must expire on the
    /// candidates' clocks (`lease_duration`), the next attempt comes within a retry period, and
    /// one more retry period plus a second covers the promotion (keys, SIGHUP, verification).
    fn unplanned_gap(&self) -> Duration {
        let t = &self.s.timing;
        t.lease_duration + 2 * t.retry_period + Duration::from_secs(1)
    }

    /// The longest gap of a planned move (the holder hands over after a verified demotion): 1 s,
    /// measured at the world's resolution. Every timer and message of the world is rounded up to
    /// its tick, so a gap of exactly the bound can read one tick longer (1.05 s at 50 ms).
    fn planned_gap(&self) -> Duration {
        Duration::from_secs(1) + self.s.tick
    }

    /// How long an operator change may take to move forging: the next round reads the spec (a
    /// retry period), a second round for the handoff, and 2 s for demotion and promotion.
    fn react(&self) -> Duration {
        2 * self.s.timing.retry_period + Duration::from_secs(2)
    }

    /// The earliest instant a region that became eligible again at `at` (restarted pods) may
    /// forge: the failback delay, less the clock-rate margin and 2 s.
    fn no_failback_before(&self, at: Duration) -> Duration {
        (at + fast(self.s.timing.failback_delay)).saturating_sub(Duration::from_secs(2))
    }

    /// By when a region restarted at `at` has forging back: node startup, then a new pod waits
    /// out the old local lease and the presence record on its own clock (at most
    /// `lease_duration` + 2 retry periods each), then the failback delay; 15 s margin.
    fn failback_by(&self, at: Duration) -> Duration {
        let t = &self.s.timing;
        at + self.s.node.startup
            + 2 * (t.lease_duration + 2 * t.retry_period)
            + slow(t.failback_delay)
            + Duration::from_secs(15)
    }

    /// Skew (minutes either way) and drift (within ±20 000 ppm) of the pods' clocks before the
    /// first probe, on some seeds: promises judged on a wall clock must hold in such worlds.
    fn clocks(&mut self, at: Duration) {
        let skew = self.rng.chance(40);
        let drift = self.rng.chance(40);
        for pod in self.s.pods() {
            if skew {
                let magnitude = i64::try_from(self.rng.range(60_000, 600_000)).unwrap_or(60_000);
                let offset_ms = self.rng.either_sign(magnitude);
                self.push(
                    at,
                    FaultAction::Skew {
                        target: PodRef::Pod(pod.clone()),
                        offset_ms,
                    },
                );
            }
            if drift {
                let magnitude = i64::try_from(self.rng.range(100, 20_000)).unwrap_or(100);
                let ppm = self.rng.either_sign(magnitude);
                self.push(
                    at,
                    FaultAction::Drift {
                        target: PodRef::Pod(pod),
                        ppm,
                    },
                );
            }
        }
        self.setup = match (skew, drift) {
            (true, true) => " (every pod's clock skewed by minutes and drifting)",
            (true, false) => " (every pod's clock skewed by minutes)",
            (false, true) => " (every pod's clock drifting)",
            (false, false) => "",
        }
        .into();
    }

    /// Draws probes from `start` until `budget` is used (at least one); returns the phase's end.
    fn run(&mut self, start: Duration, budget: Duration) -> Duration {
        let kinds = ProbeKind::applicable(self.s);
        self.clocks(start);
        // The clock faults land at `start`; the first probe waits for nothing they might stir.
        let mut t = start + Duration::from_secs(30);
        loop {
            let kind = *self.rng.pick(&kinds);
            let end = self.probe(kind, t);
            self.windows.push(ProbeWindow {
                kind,
                from: t,
                to: end,
            });
            // The next probe starts 10 s after this window: every fault of it is undone and its
            // last expectation had the forger back in the preferred region for 30 s.
            t = end + Duration::from_secs(10);
            if t >= start + budget {
                return t;
            }
        }
    }

    /// One probe at `t`; returns its window's end.
    fn probe(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        match kind {
            ProbeKind::Crash | ProbeKind::Shutdown | ProbeKind::RegionLoss => self.lose(kind, t),
            ProbeKind::NodeRestart => self.node_restart(t),
            ProbeKind::Override | ProbeKind::Disable | ProbeKind::Priority => {
                self.operator(kind, t)
            }
            ProbeKind::Health => self.health(t),
            ProbeKind::ApiBlip => self.api_blip(t),
        }
    }

    /// The preferred region loses its forger (crash, shutdown) or every pod (region loss); the
    /// pods come back later.
    fn lose(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let pods = self.s.pods_of(&p);
        match kind {
            ProbeKind::Crash => self.push(
                t,
                FaultAction::Crash {
                    target: PodRef::Forger,
                },
            ),
            ProbeKind::Shutdown => self.push(
                t,
                FaultAction::Shutdown {
                    target: PodRef::Forger,
                },
            ),
            _ => {
                for pod in &pods {
                    self.push(
                        t,
                        FaultAction::Crash {
                            target: PodRef::Pod(pod.clone()),
                        },
                    );
                }
            }
        }
        let region_lost = kind == ProbeKind::RegionLoss || pods.len() < 2;
        let back = t + if region_lost {
            self.rng.duration(secs(60), secs(120))
        } else {
            self.rng.duration(secs(30), secs(90))
        };
        // Every region: when an earlier probe failed and the forger was elsewhere, `forger` was
        // not in `p`, and a pod left down would make every later probe fail too (restarting a
        // region with no pod down is a no-op).
        for r in &self.s.regions {
            self.push(
                back,
                FaultAction::Restart {
                    target: Target::Region(r.name.clone()),
                },
            );
        }
        let gap = if kind == ProbeKind::Shutdown {
            self.planned_gap()
        } else {
            self.unplanned_gap()
        };
        let settled = t + self.unplanned_gap();
        if !region_lost {
            // A pod of the preferred region takes over; forging never leaves the region.
            let end = back + self.s.node.startup + secs(35);
            self.expect(Expect::MaxGap {
                value: gap,
                window: window(t, end),
            });
            for q in self.others() {
                self.expect(Expect::NoForgerIn {
                    region: q,
                    from: t,
                    to: end,
                });
            }
            self.expect(Expect::ForgerBy {
                by: settled,
                who: Placement::Region(p),
                to: Some(end),
            });
            self.expect(Expect::MaxHandovers {
                value: 1,
                window: window(t, end),
            });
            return end;
        }
        // The region is gone: the next one takes over, and forging returns only after the
        // failback delay once the region is back.
        let quiet_until = self.no_failback_before(back);
        let by = self.failback_by(back);
        let end = by + secs(30);
        let change = self.holder_change(back);
        self.expect(Expect::MaxGap {
            value: gap,
            window: window(t, end),
        });
        // Taking forging back is a planned move.
        self.expect(Expect::MaxGap {
            value: self.planned_gap(),
            window: window(quiet_until, end),
        });
        self.held_by_second(settled, quiet_until, change);
        self.expect(Expect::NoForgerIn {
            region: p.clone(),
            from: t + secs(1),
            to: quiet_until,
        });
        self.expect(Expect::ForgerBy {
            by,
            who: Placement::Region(p),
            to: Some(end),
        });
        self.expect(Expect::MaxHandovers {
            value: 2 + u64::from(change.is_some()),
            window: window(t, end),
        });
        end
    }

    /// The forger's cardano-node restarts (unplanned: the node comes back non-producing).
    fn node_restart(&mut self, t: Duration) -> Duration {
        let p = self.preferred();
        let end = t + Duration::from_secs(90);
        self.push(
            t,
            FaultAction::NodeRestart {
                target: PodRef::Forger,
            },
        );
        self.expect(Expect::MaxGap {
            value: self.unplanned_gap(),
            window: window(t, end),
        });
        // With another pod in the region, or no other region, forging stays in the region.
        if !self.multi() || self.s.pods_of(&p).len() >= 2 {
            for q in self.others() {
                self.expect(Expect::NoForgerIn {
                    region: q,
                    from: t,
                    to: end,
                });
            }
            self.expect(Expect::ForgerBy {
                by: t + self.unplanned_gap(),
                who: Placement::Region(p),
                to: Some(end),
            });
            self.expect(Expect::MaxHandovers {
                value: 1,
                window: window(t, end),
            });
        }
        end
    }

    /// An operator moves forging away from the preferred region (override with an expiry,
    /// `Disabled`, a worse priority) and back; or disables another region (nothing moves).
    fn operator(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let back = t + self.rng.duration(secs(60), secs(120));
        let worst = u64::try_from(self.s.regions.len()).unwrap_or(u64::MAX) + 1;
        let end = back + self.react() + secs(40);
        let (target, spec) = match kind {
            ProbeKind::Override => {
                let mut o = serde_json::json!({
                    "enabled": true,
                    "reason": "maintenance",
                    "expiresAt": format_duration(back),
                });
                // A merge patch cannot remove a key, and a TOML file has no null: a `forceState`
                // an earlier patch left in this region's override (say "Enabled") would stay in
                // force beside our `forcePriority`. Then force the state instead.
                let left_state = self.s.faults.iter().chain(&self.faults).any(|f| {
                    matches!(&f.action, FaultAction::Patch { region, spec }
                        if *region == p && spec.get("override").and_then(|o| o.get("forceState")).is_some())
                });
                if self.rng.chance(50) && !left_state {
                    o["forcePriority"] = worst.into();
                } else {
                    o["forceState"] = "Disabled".into();
                }
                (p.clone(), serde_json::json!({ "override": o }))
            }
            ProbeKind::Priority => (p.clone(), serde_json::json!({ "priority": worst })),
            _ => {
                let target = if self.rng.chance(70) {
                    p.clone()
                } else {
                    let others = self.others();
                    self.rng.pick(&others).clone()
                };
                (target, serde_json::json!({ "forgeState": "Disabled" }))
            }
        };
        self.push(
            t,
            FaultAction::Patch {
                region: target.clone(),
                spec,
            },
        );
        // The override ends by its expiry (judged on the API server's clock, which the pods
        // know to a second); the other changes are undone by the operator.
        let undo_margin = if kind == ProbeKind::Override {
            secs(2)
        } else {
            if let Some(r) = self.s.region(&target) {
                self.push(
                    back,
                    FaultAction::Patch {
                        region: target.clone(),
                        spec: restore_spec(r),
                    },
                );
            }
            Duration::ZERO
        };
        if target != p {
            // Disabling another region changes nothing.
            self.no_move(t, end);
            return end;
        }
        self.moved_and_back(Move {
            t,
            away: t + self.react(),
            until: back.saturating_sub(undo_margin),
            by: back + undo_margin + self.react(),
            end,
            gap_away: self.planned_gap(),
            holder_change: None,
        });
        end
    }

    /// Forging stays where it is in `[t, end)`, with no handover.
    fn no_move(&mut self, t: Duration, end: Duration) {
        self.expect(Expect::ForgerBy {
            by: t,
            who: Placement::Region(self.preferred()),
            to: Some(end),
        });
        self.expect(Expect::MaxHandovers {
            value: 0,
            window: window(t, end),
        });
    }

    /// A planned move (see [`Move`]): forging leaves the preferred region for the next one by
    /// `away`, stays there until `until`, and is back by `by`; no gap above `gap_away` until
    /// `until`, and none above the planned bound from then to `end`.
    fn moved_and_back(&mut self, m: Move) {
        let p = self.preferred();
        if m.gap_away == self.planned_gap() {
            self.expect(Expect::MaxGap {
                value: m.gap_away,
                window: window(m.t, m.end),
            });
        } else {
            self.expect(Expect::MaxGap {
                value: m.gap_away,
                window: window(m.t, m.until),
            });
            self.expect(Expect::MaxGap {
                value: self.planned_gap(),
                window: window(m.until, m.end),
            });
        }
        self.held_by_second(m.away, m.until, m.holder_change);
        self.expect(Expect::NoForgerIn {
            region: p.clone(),
            from: m.away,
            to: m.until,
        });
        self.expect(Expect::ForgerBy {
            by: m.by,
            who: Placement::Region(p),
            to: Some(m.end),
        });
        self.expect(Expect::MaxHandovers {
            value: 2 + u64::from(m.holder_change.is_some()),
            window: window(m.t, m.end),
        });
    }

    /// `forger-by r2` in `[from, until)`, leaving out the holder's own leader change (a graceful
    /// local handover in `r2`, judged by the probe's `max-gap`).
    fn held_by_second(&mut self, from: Duration, until: Duration, change: Option<Duration>) {
        let who = Placement::Region(self.second());
        match change {
            Some(at) => {
                self.expect(Expect::ForgerBy {
                    by: from,
                    who: who.clone(),
                    to: Some(at),
                });
                self.expect(Expect::ForgerBy {
                    by: at + self.unplanned_gap(),
                    who,
                    to: Some(until),
                });
            }
            None => self.expect(Expect::ForgerBy {
                by: from,
                who,
                to: Some(until),
            }),
        }
    }

    /// On some recoveries (40 %, when the next region has a second pod): the holding region's
    /// leader shuts down 20 s after `recovered` and its pod is restarted 30 s later, inside the
    /// failback wait. A new leader there must keep the delay the old one started, not hand
    /// forging back at once. Returns the shutdown's instant.
    fn holder_change(&mut self, recovered: Duration) -> Option<Duration> {
        let r2 = self.second();
        if self.s.pods_of(&r2).len() < 2 || !self.rng.chance(40) {
            return None;
        }
        let at = recovered + Duration::from_secs(20);
        self.push(
            at,
            FaultAction::Shutdown {
                target: PodRef::Leader(r2.clone()),
            },
        );
        self.push(
            at + Duration::from_secs(30),
            FaultAction::Restart {
                target: Target::Region(r2),
            },
        );
        Some(at)
    }

    /// A region's health endpoint fails long enough to be detected, then recovers. The
    /// preferred region hands over once `health_failure_threshold` probes failed, and takes
    /// forging back only after `health_success_threshold` good probes and the failback delay.
    fn health(&mut self, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let target = if self.rng.chance(75) {
            p.clone()
        } else {
            let others = self.others();
            self.rng.pick(&others).clone()
        };
        let timing = self.s.timing.clone();
        let (interval, failures, successes) = (
            timing.health_interval,
            timing.health_failure_threshold,
            timing.health_success_threshold,
        );
        // The first failed probe may come at once: the third (of 3) no sooner than two intervals
        // later. It may come an interval late: the third within three intervals, plus half an
        // interval for the round that acts on it.
        let stays_until = (t + fast(interval * failures.saturating_sub(1))).saturating_sub(secs(2));
        let moved_by = t + slow(interval * failures) + interval / 2;
        let healthy_at = moved_by + self.rng.duration(secs(30), secs(90));
        let quiet_until = (healthy_at
            + fast(interval * successes.saturating_sub(1) + timing.failback_delay))
        .saturating_sub(secs(2));
        let back_by = healthy_at + slow(interval * successes + timing.failback_delay) + secs(15);
        let end = back_by + secs(30);
        self.push(
            t,
            FaultAction::Health {
                region: target.clone(),
                healthy: false,
            },
        );
        self.push(
            healthy_at,
            FaultAction::Health {
                region: target.clone(),
                healthy: true,
            },
        );
        if target != p {
            self.no_move(t, end);
            return end;
        }
        self.expect(Expect::ForgerBy {
            by: t,
            who: Placement::Region(p),
            to: Some(stays_until),
        });
        // Moving away is a graceful handover too, but no operator asked for it: the next region
        // may learn that it is preferred now only at its next round (a retry period). Taking
        // forging back after the failback delay is the holder's planned handover.
        let gap_away = self.s.timing.retry_period + Duration::from_secs(1);
        let change = self.holder_change(healthy_at);
        self.moved_and_back(Move {
            t,
            away: moved_by,
            until: quiet_until,
            by: back_by,
            end,
            gap_away,
            holder_change: change,
        });
        end
    }

    /// The coordination API (or the forger's regional API) refuses connections for 2–3 s: far
    /// below the renew deadline, so nothing may change.
    fn api_blip(&mut self, t: Duration) -> Duration {
        let p = self.preferred();
        let target = if self.multi() && self.rng.chance(70) {
            ApiServer::Global
        } else {
            self.s.local_api_of(&p)
        };
        let down = self
            .rng
            .duration(Duration::from_secs(2), Duration::from_secs(3));
        self.push(
            t,
            FaultAction::ApiDown {
                target: target.clone(),
            },
        );
        self.push(t + down, FaultAction::ApiUp { target });
        let end = t + Duration::from_secs(60);
        self.no_move(t, end);
        end
    }
}

/// A fault-free world of `regions` × `pods` for `duration` (the bench).
pub fn quiet_world(regions: usize, pods: usize, duration: Duration) -> Scenario {
    let config = ChaosConfig {
        duration,
        regions,
        pods,
        tick: Some(crate::scenario::DEFAULT_TICK),
        probes: Probes::Off,
    };
    let mut s = generate(0, &config);
    s.duration = duration;
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
    /// Its probes, with their windows.
    pub probes: Vec<ProbeWindow>,
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
    let Plan {
        scenario, probes, ..
    } = plan(seed, config);
    let options = RunOptions {
        seed: None,
        ..options.clone()
    };
    let result = runner::run(&scenario, &options);
    SeedRun {
        seed,
        scenario,
        probes,
        result,
    }
}

/// Where an expectation looks: `[from, to]` of its window, or its instant twice.
pub fn expect_span(e: &Expect, end: Duration) -> (Duration, Duration) {
    match e {
        Expect::Forger { at, .. } | Expect::Credentials { at, .. } => (*at, *at),
        Expect::ForgerBy { by, to, .. } => (*by, to.unwrap_or(end)),
        Expect::NoForgerIn { from, to, .. } => (*from, *to),
        Expect::MaxGap { window, .. }
        | Expect::MaxHandovers { window, .. }
        | Expect::Coverage { window, .. }
        | Expect::MaxApiRequests { window, .. } => {
            (window.from.unwrap_or_default(), window.to.unwrap_or(end))
        }
        _ => (Duration::ZERO, end),
    }
}

impl SeedRun {
    /// What each violation of the run is about: a probe's kind (`crash`...) for an expectation
    /// inside a probe's window, `liveness` for the liveness phase's, or the implicit check's kind
    /// (`dual-forging`), one entry per violated check, in report order.
    pub fn failed_checks(&self) -> Vec<String> {
        let Ok(o) = &self.result else {
            return vec!["simulation".into()];
        };
        o.report
            .violations
            .iter()
            .map(|v| {
                let Some(e) = v.expectation.and_then(|i| self.scenario.expects.get(i)) else {
                    return v.kind.clone();
                };
                let (from, _) = expect_span(e, self.scenario.duration);
                self.probes
                    .iter()
                    .find(|w| w.from <= from && from <= w.to)
                    .map_or_else(|| "liveness".to_owned(), |w| w.kind.as_str().to_owned())
            })
            .collect()
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
        // leader shutdown and restart that may follow it; then the aimed stream's API outages
        // with pauses and freezes of the forger.
        let policy = |f: &Fault| {
            [
                "health", "flap", "patch", "shutdown", "restart", "api-down", "api-up", "pause",
                "freeze",
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
                if let FaultAction::Pause { for_, .. } | FaultAction::Freeze { for_, .. } = f.action
                {
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
}
