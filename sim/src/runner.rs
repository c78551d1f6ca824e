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
    /// The broken variant of the safety core to run (the canary, `crate::canary`).
    pub broken: Option<crate::canary::Broken>,
}

impl RunOptions {
    /// The scenario's own seed and tick, with one decision journal per pod in `dir`.
    pub fn journaled(dir: impl Into<std::path::PathBuf>) -> RunOptions {
        RunOptions {
            journal_dir: Some(dir.into()),
            ..RunOptions::default()
        }
    }
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

/// The sidecar timing a scenario's `[timing]` implies ([`crate::scenario::Timing::core`]).
/// [`run`] refuses a scenario whose timing breaks the budget before it builds a world, and
/// `Scenario::from_str` refuses such a file, so the default is a stand-in never used by a run.
pub fn core_timing(s: &Scenario) -> CoreTiming {
    s.timing.core(s.slot_length).unwrap_or_default()
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

/// Runs `scenario` and judges it. A panic anywhere in the simulation (turmoil, the world, the
/// sidecar code under test) does not escape: it becomes a failing verdict with one
/// [`oracle::SIMULATOR_PANIC`] violation carrying the panic message, so chaos reports the seed
/// with its reproducer like any other failure. (With `panic = "abort"`, as in the workspace's
/// release profile, the run goes to a child process instead: see [`simulate_guarded`].)
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<Outcome, String> {
    let started = Instant::now();
    let seed = options.seed.unwrap_or(scenario.seed);
    let wall_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Err(problems) = scenario.timing.core(scenario.slot_length) {
        let problems: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.variable, p.message))
            .collect();
        return Err(format!(
            "the scenario's [timing] breaks the timing budget: {}",
            problems.join("; ")
        ));
    }
    let trace = match simulate_guarded(scenario, seed, options) {
        Ok(Ok(trace)) => trace,
        Ok(Err(panic)) => return Ok(panicked(scenario, seed, &panic, wall_ms())),
        // turmoil hands a host task's panic back as the step's error: the same failure.
        Err(world) if world.contains("Panic") => {
            return Ok(panicked(scenario, seed, &world, wall_ms()));
        }
        Err(world) => return Err(world),
    };
    let judgement = oracle::judge(scenario, &trace);
    let report = Report::new(scenario, seed, &trace, &judgement, wall_ms());
    Ok(Outcome {
        seed,
        trace,
        judgement,
        report,
    })
}

/// The outcome of a run that panicked: an empty trace and one violation, nothing else judged
/// (what was simulated before the panic is lost with the world).
fn panicked(scenario: &Scenario, seed: u64, message: &str, wall_ms: u64) -> Outcome {
    let trace = Trace::default();
    let mut judgement = oracle::judge(scenario, &trace);
    judgement.violations = vec![oracle::Violation {
        expectation: None,
        kind: oracle::SIMULATOR_PANIC.to_owned(),
        at_ms: None,
        message: format!("the simulator panicked: {message}"),
    }];
    let report = Report::new(scenario, seed, &trace, &judgement, wall_ms);
    Outcome {
        seed,
        trace,
        judgement,
        report,
    }
}

/// Simulates the scenario: `Err` when the world itself failed (turmoil's error), `Ok(Err)` with
/// the message when it panicked, else the trace.
#[cfg(not(panic = "abort"))]
pub fn simulate_guarded(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
) -> Result<Result<Trace, String>, String> {
    // The world is dropped while unwinding; nothing of it is used afterwards.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate(scenario, seed, options)
    })) {
        Ok(result) => result.map(Ok),
        Err(payload) => Ok(Err(panic_message(payload.as_ref()))),
    }
}

/// With `panic = "abort"` a panic cannot be caught: the run goes to a child process (this same
/// `forge-sim` binary, hidden subcommand `simulate`), which prints the trace as JSON; a child
/// that dies instead (the abort) is the panic, its stderr the message.
#[cfg(panic = "abort")]
pub fn simulate_guarded(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
) -> Result<Result<Trace, String>, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let exe = simulator_exe()?;
    let mut command = Command::new(exe);
    command
        .arg(SIMULATE_SUBCOMMAND)
        .args(child_args(
            seed,
            options.tick.unwrap_or(scenario.tick),
            options,
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting the simulation process: {e}"))?;
    let text = scenario.to_toml_string();
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing the scenario to the simulation process: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for the simulation process: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => serde_json::from_slice::<Trace>(&output.stdout)
            .map(Ok)
            .map_err(|e| format!("reading the simulation process's trace: {e}")),
        Some(CHILD_SIM_ERROR) => Err(stderr.trim().to_owned()),
        _ => Ok(Err(child_panic_message(&stderr, output.status))),
    }
}

/// The `forge-sim` binary that runs a guarded simulation: `FORGE_SIM_BIN` if set, else this
/// process when it is `forge-sim`, else a `forge-sim` beside it or one directory up (an example or
/// a benchmark in `target/release/examples/`). Never another program: re-running an example with
/// the hidden subcommand would run the whole example again in every child, without end.
#[cfg(panic = "abort")]
fn simulator_exe() -> Result<std::path::PathBuf, String> {
    if let Some(bin) = std::env::var_os("FORGE_SIM_BIN") {
        return Ok(bin.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("locating forge-sim: {e}"))?;
    let name = format!("forge-sim{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "{} is not forge-sim, and no forge-sim binary lies beside it: a release build runs \
                 each simulation in a forge-sim child process (build it with `cargo build \
                 --release -p forge-sim`, or set FORGE_SIM_BIN)",
                exe.display()
            )
        })
}

/// The hidden subcommand of `forge-sim` that simulates one scenario read from stdin.
pub const SIMULATE_SUBCOMMAND: &str = "simulate";

/// The child's exit code when the world failed without a panic (turmoil's error on stderr).
pub const CHILD_SIM_ERROR: i32 = 3;

/// The child's arguments (`--seed`, `--tick-ms` of the run's `tick`, `--journal-dir`, `--broken`).
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn child_args(seed: u64, tick: Duration, options: &RunOptions) -> Vec<String> {
    let mut args = vec![
        "--seed".to_owned(),
        seed.to_string(),
        "--tick-ms".to_owned(),
        tick.as_millis().to_string(),
    ];
    if let Some(dir) = &options.journal_dir {
        args.push("--journal-dir".to_owned());
        args.push(dir.display().to_string());
    }
    if let Some(b) = options.broken {
        args.push("--broken".to_owned());
        args.push(b.as_str().to_owned());
    }
    args
}

/// The panic line of a dead child's stderr (`thread '...' panicked at ...:` and the message).
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn child_panic_message(stderr: &str, status: std::process::ExitStatus) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    match lines.iter().position(|l| l.contains("panicked at")) {
        Some(i) => lines[i..]
            .iter()
            .take(2)
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" "),
        None => format!(
            "the simulation process ended with {status}: {}",
            stderr.trim()
        ),
    }
}

/// A panic payload's message (`&str` or `String`, as `panic!` makes them).
#[cfg_attr(panic = "abort", allow(dead_code))]
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Builds the world, applies the faults at their instants, runs to the end: the trace.
pub fn simulate(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Trace, String> {
    simulate_with_routes(scenario, seed, options).map(|(trace, _)| trace)
}

/// turmoil's own cost for `hosts` hosts that do nothing (each sleeps), stepped tick by tick for
/// `duration`: the floor under any world of that many hosts at that tick (`forge-sim bench` prints
/// the speed it allows beside the world's). Idle hosts are still polled every tick.
pub fn turmoil_floor(hosts: usize, duration: Duration, tick: Duration) -> Result<(), String> {
    let mut sim = turmoil::Builder::new()
        .tick_duration(tick)
        .simulation_duration(duration + tick * 2)
        .build();
    for i in 0..hosts {
        sim.host(format!("idle-{i}"), || async {
            loop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
    }
    let ticks = duration.as_nanos() / tick.as_nanos().max(1);
    for _ in 0..ticks {
        sim.step().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Requests per API server, then per route (`verb resource[/name][/subresource]`).
pub type ApiRoutes = std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>;

/// [`simulate`], in this process (no panic guard), also returning what each API server answered
/// by route: `forge-sim bench` measures a fault-free world this way, on one thread.
pub fn simulate_with_routes(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
) -> Result<(Trace, ApiRoutes), String> {
    // Every pod's `decide` runs on this thread: the switch covers the whole world, and is reset
    // when the run ends, even by an error.
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
    let routes = world.api_routes();
    let mut trace = world.finish();
    trace.end_ms = u64::try_from(scenario.duration.as_millis()).unwrap_or(u64::MAX);
    Ok((trace, routes))
}

/// Selects a broken variant for this thread until dropped.
struct BrokenSwitch(Option<crate::canary::Broken>);

impl BrokenSwitch {
    fn set(variant: Option<crate::canary::Broken>) -> Self {
        let before = crate::canary::get();
        crate::canary::set(variant);
        BrokenSwitch(before)
    }
}

impl Drop for BrokenSwitch {
    fn drop(&mut self) {
        crate::canary::set(self.0);
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
        FaultAction::NodeSlow {
            target,
            sighup_delay,
        } => {
            let p = pod_ref(world, target)?;
            return Some((text(&p), Action::NodeSlow(p, *sighup_delay)));
        }
        FaultAction::ApiDown { target } => Action::ApiDown(target.server_name().into()),
        FaultAction::ApiUp { target } => Action::ApiUp(target.server_name().into()),
        FaultAction::ApiErrors {
            target,
            answer,
            count,
        } => Action::ApiErrors(target.server_name().into(), *answer, *count),
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
        FaultAction::DeleteLease {
            target,
            lease,
            force,
        } => Action::DeleteLease {
            api: match target {
                ApiServer::Global => "global".into(),
                ApiServer::Region(r) => r.clone(),
            },
            global: *lease == LeaseKind::Global,
            force: *force,
        },
        FaultAction::RotateSecret { target } => Action::RotateSecret(pods(world, target)?),
    };
    Some((f.target_text(), action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicked_run_is_a_failing_verdict_with_one_simulator_panic_violation() {
        let s = Scenario::from_str(
            "name = \"p\"\nduration = \"1m\"\n[[region]]\nname = \"a\"\npriority = 1\n\
             [[expect]]\nkind = \"max-gap\"\nvalue = \"1s\"\n",
            "p.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let o = panicked(&s, 7, "boom", 3);
        assert_eq!(o.report.verdict, crate::report::Verdict::Fail);
        assert_eq!(o.report.seed, 7);
        assert_eq!(o.report.violations.len(), 1, "{:?}", o.report.violations);
        assert_eq!(o.report.violations[0].kind, oracle::SIMULATOR_PANIC);
        assert_eq!(
            o.report.violations[0].message,
            "the simulator panicked: boom"
        );
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        let payload = std::panic::catch_unwind(|| panic!("static")).err();
        assert_eq!(
            payload.map(|p| panic_message(p.as_ref())),
            Some("static".into())
        );
        let n = 3;
        let payload = std::panic::catch_unwind(|| panic!("formatted {n}")).err();
        assert_eq!(
            payload.map(|p| panic_message(p.as_ref())),
            Some("formatted 3".into())
        );
    }
}
