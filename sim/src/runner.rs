//! Runs a scenario: builds the world it describes, applies its faults at their instants (resolving
//! `forger` and `leader:REGION` at that instant), runs to its end, and judges the trace.

use std::time::{Duration, Instant};

use forge_manager::core::timing::Timing as CoreTiming;

use crate::oracle::{self, Judgement};
use crate::report::Report;
use crate::scenario::{
    ApiServer, FaultAction, LeaseKind, PodRef, Scenario, Target, patch_expires_after,
    patch_with_expiry,
};
use crate::trace::{EventKind, PodId, Trace};
use crate::world::{Action, EPOCH_UNIX_S, Host, RegionSpec, World, WorldSpec};

/// turmoil's default tick here: every timer and message is rounded up to it. 50 ms keeps every
/// timing of the sidecar (seconds) and of the node (50 ms SIGHUP handling) meaningful while a
/// simulated hour of 3 regions × 3 pods runs in seconds (docs/performance.md).
/// A scenario may ask for another with its `tick` key (scenarios/README.md).
pub const DEFAULT_TICK: Duration = crate::scenario::DEFAULT_TICK;

/// How a run is done (by default: the scenario's seed and tick, no journals).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// turmoil's tick: overrides the scenario's own (`tick`, default [`DEFAULT_TICK`]).
    pub tick: Option<Duration>,
    /// Write one decision journal per pod here.
    pub journal_dir: Option<std::path::PathBuf>,
    /// The broken variant of the safety core to run (the canary; feature `broken-core`).
    #[cfg(feature = "broken-core")]
    pub broken: Option<forge_manager::core::broken::Broken>,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The seed used.
    pub seed: u64,
    /// The event trace.
    pub trace: Trace,
    /// The oracle's verdict.
    pub judgement: Judgement,
    /// The report.
    pub report: Report,
}

/// The sidecar timing a scenario's `[timing]` implies: request timeouts and verification scaled
/// down for short deadlines so the budget of `docs/safety.md` holds.
pub fn core_timing(s: &Scenario) -> CoreTiming {
    let renew = s.timing.renew_deadline;
    CoreTiming {
        lease_duration: s.timing.lease_duration,
        renew_deadline: renew,
        retry_period: s.timing.retry_period,
        api_timeout: (renew / 4).clamp(Duration::from_millis(200), Duration::from_secs(3)),
        demotion_time: (renew / 10).clamp(Duration::from_millis(100), Duration::from_secs(1)),
        sighup_verify_timeout: (renew / 2)
            .clamp(Duration::from_millis(500), Duration::from_secs(5)),
        ..CoreTiming::default()
    }
}

/// The world a scenario describes.
pub fn world_spec(
    s: &Scenario,
    seed: u64,
    tick: Duration,
    journal_dir: Option<std::path::PathBuf>,
) -> WorldSpec {
    WorldSpec {
        seed,
        network: s.network.clone(),
        pool: s.pool.clone(),
        regions: s
            .regions
            .iter()
            .map(|r| RegionSpec {
                name: r.name.clone(),
                priority: i64::from(r.priority),
                pods: r.pods,
                forge_state: r.forge_state.as_str().into(),
                healthy: r.healthy,
            })
            .collect(),
        cluster_management: s.cluster_management,
        shared_api: s.shared_api,
        slot_length: s.slot_length,
        timing: core_timing(s),
        health_interval: s.timing.health_interval,
        health_failure_threshold: s.timing.health_failure_threshold,
        health_success_threshold: s.timing.health_success_threshold,
        failback_delay: s.timing.failback_delay,
        api_latency: s.timing.api_latency,
        node_startup: s.node.startup,
        node_sighup_delay: s.node.sighup_delay,
        tick,
        journal_dir,
        more_pools: Vec::new(),
    }
}

/// Runs `scenario` and judges it.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<Outcome, String> {
    let started = Instant::now();
    let seed = options.seed.unwrap_or(scenario.seed);
    // Every pod's `decide` runs on this thread: the switch covers the whole world, and is reset
    // when the run ends, even by an error.
    #[cfg(feature = "broken-core")]
    let _broken = BrokenSwitch::set(options.broken);
    let mut world = World::new(world_spec(
        scenario,
        seed,
        options.tick.unwrap_or(scenario.tick),
        options.journal_dir.clone(),
    ));
    for (index, fault) in scenario.faults_in_order() {
        world.run_until(fault.at)?;
        let (target, applied) = match resolve(&world, &fault.action) {
            Some((target, action)) => {
                let applied = world.apply(&action);
                // What the fault changed (a crashed forger) counts from this very instant.
                world.sample();
                (target, applied)
            }
            None => (fault.action.target_text(), false),
        };
        world.record(EventKind::Fault {
            index,
            fault: fault.action.kind().into(),
            target,
            applied,
        });
    }
    world.run_until(scenario.duration)?;
    let mut trace = world.finish();
    trace.end_ms = u64::try_from(scenario.duration.as_millis()).unwrap_or(u64::MAX);
    let judgement = oracle::judge(scenario, &trace);
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let report = Report::new(scenario, seed, &trace, &judgement, wall_ms);
    Ok(Outcome {
        seed,
        trace,
        judgement,
        report,
    })
}

/// Selects a broken variant for this thread until dropped.
#[cfg(feature = "broken-core")]
struct BrokenSwitch(Option<forge_manager::core::broken::Broken>);

#[cfg(feature = "broken-core")]
impl BrokenSwitch {
    fn set(variant: Option<forge_manager::core::broken::Broken>) -> Self {
        let before = forge_manager::core::broken::get();
        forge_manager::core::broken::set(variant);
        BrokenSwitch(before)
    }
}

#[cfg(feature = "broken-core")]
impl Drop for BrokenSwitch {
    fn drop(&mut self) {
        forge_manager::core::broken::set(self.0);
    }
}

fn pod_ref(world: &World<'_>, p: &PodRef) -> Option<PodId> {
    match p {
        PodRef::Pod(id) => Some(id.clone()),
        PodRef::Forger => world.forger(),
        PodRef::Leader(region) => world.leader(region),
    }
}

fn hosts(world: &World<'_>, t: &Target) -> Option<Vec<Host>> {
    Some(match t {
        Target::Pod(p) => vec![Host::Pod(pod_ref(world, p)?)],
        Target::Region(r) => world.region_pods(r).into_iter().map(Host::Pod).collect(),
        Target::Api(a) => vec![Host::Api(a.server_name().to_owned())],
        Target::Health(r) => vec![Host::Health(r.clone())],
    })
}

fn pods(world: &World<'_>, t: &Target) -> Option<Vec<PodId>> {
    Some(match t {
        Target::Pod(p) => vec![pod_ref(world, p)?],
        Target::Region(r) => world.region_pods(r),
        Target::Api(_) | Target::Health(_) => Vec::new(),
    })
}

/// The world action a fault stands for, with its targets resolved now, and the target as text.
fn resolve(world: &World<'_>, f: &FaultAction) -> Option<(String, Action)> {
    let text = |p: &PodId| format!("pod:{p}");
    let action = match f {
        FaultAction::Partition { between: [a, b] } => {
            Action::Partition(hosts(world, a)?, hosts(world, b)?)
        }
        FaultAction::Heal { between: [a, b] } => Action::Heal(hosts(world, a)?, hosts(world, b)?),
        FaultAction::Latency {
            between: [a, b],
            latency,
        } => Action::Latency(hosts(world, a)?, hosts(world, b)?, *latency),
        FaultAction::Crash { target } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Crash(p)));
        }
        FaultAction::Restart { target } => Action::Restart(pods(world, target)?),
        FaultAction::Shutdown { target } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Shutdown(p)));
        }
        FaultAction::Pause { target, for_ } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Pause(p, *for_)));
        }
        FaultAction::Freeze { target, for_ } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Freeze(p, *for_)));
        }
        FaultAction::Skew { target, offset_ms } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Skew(p, *offset_ms)));
        }
        FaultAction::Drift { target, ppm } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::Drift(p, *ppm)));
        }
        FaultAction::NodeRestart { target } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::NodeRestart(p)));
        }
        FaultAction::ApiDown { target } => Action::ApiDown(target.server_name().into()),
        FaultAction::ApiUp { target } => Action::ApiUp(target.server_name().into()),
        FaultAction::Health { region, healthy } => Action::Health(region.clone(), *healthy),
        FaultAction::Flap {
            region,
            period,
            until,
        } => Action::Flap(region.clone(), *period, *until),
        FaultAction::Patch { region, spec } => {
            let spec = match patch_expires_after(spec) {
                Some(after) => {
                    let at = jiff::Timestamp::from_second(EPOCH_UNIX_S)
                        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                        + jiff::SignedDuration::try_from(after).unwrap_or_default();
                    patch_with_expiry(spec, &at.to_string())
                }
                None => spec.clone(),
            };
            Action::Patch(region.clone(), spec)
        }
        FaultAction::DeleteLease { target, lease } => Action::DeleteLease {
            api: match target {
                ApiServer::Global => "global".into(),
                ApiServer::Region(r) => r.clone(),
            },
            global: *lease == LeaseKind::Global,
        },
        FaultAction::RotateSecret { target } => Action::RotateSecret(pods(world, target)?),
    };
    Some((f.target_text(), action))
}
