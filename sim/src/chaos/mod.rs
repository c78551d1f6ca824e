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

mod faults;
mod probes;
mod progress;
mod run;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::runner::{self, Outcome, RunOptions};
use forge_manager::config::duration::format_duration;

use crate::scenario::{
    ApiErrorAnswer, ApiServer, Expect, Fault, FaultAction, ForgeState, NodeTiming, Placement,
    PodRef, Region, Scenario, Target, Timing, Window,
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
    g.rng = api_errors_rng(seed);
    g.api_errors();
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

/// The `api-errors` faults' own stream (see [`Gen::api_errors`]): the other faults of a seed are
/// the ones it drew before they existed.
fn api_errors_rng(seed: u64) -> SplitMix64 {
    SplitMix64::new(SplitMix64::new(seed ^ 0x6170_692D_6572_7273).next_u64())
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

pub use faults::*;
pub use probes::*;
pub use progress::Progress;
pub use run::*;

#[cfg(test)]
mod tests;
