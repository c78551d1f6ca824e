//! Running seeds: one seed's world through the runner, and batches on worker threads.

use super::*;

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
        | Expect::MaxMissedSlots { window, .. }
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
