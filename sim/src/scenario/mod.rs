//! Scenario files (docs/scenarios.md, a fixed contract): the typed [`Scenario`], its parser with
//! errors that name the file and the key, and a writer that prints a file reproducing a scenario.
//!
//! This module owns the meaning of every key of the contract: names, units, defaults and which
//! targets each fault kind accepts. It does no I/O beyond reading the file in
//! [`Scenario::from_file`], and it does not resolve run-time targets (`forger`, `leader:REGION`):
//! that is the world's job at the instant a fault applies.
//!
//! Conventions: every instant (`at`, `from`, `to`, `by`, `until`) is a `Duration` since the start of
//! the run; fault and expectation indexes are 0-based positions in the file, and key paths in errors
//! use them (`fault[2].target` is the third `[[fault]]`).

mod error;
mod locate;
mod parse;
mod target;
mod write;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

pub use error::InvalidScenario;
pub use target::{ApiServer, PodRef, Target, TargetSyntaxError, is_region_name, parse_pod_id};

use forge_manager::core::timing::{Timing as CoreTiming, TimingParams, TimingProblem};

use crate::trace::PodId;

/// At most this many regions in one scenario.
pub const MAX_REGIONS: usize = 16;
/// At most this many pods in one region.
pub const MAX_PODS_PER_REGION: usize = 64;
/// At most this many `[[fault]]` tables.
pub const MAX_FAULTS: usize = 10_000;
/// At most this many `[[expect]]` tables.
pub const MAX_EXPECTS: usize = 1_000;
/// At most this much simulated time (30 days).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3_600);
/// At most this many bytes in a scenario file.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// turmoil's tick when a file has no `tick` key (a forge-sim extension, scenarios/README.md).
pub const DEFAULT_TICK: Duration = Duration::from_millis(50);
/// The largest `tick` a file may ask for: every sidecar timing is in seconds.
pub const MAX_TICK: Duration = Duration::from_secs(1);

/// One scenario file, with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short identifier, used in reports.
    pub name: String,
    /// What the scenario shows.
    pub description: String,
    /// RNG seed (`forge-sim run --seed N` overrides it). A file holds a TOML integer, so only
    /// seeds up to `i64::MAX` can be written back by [`Scenario::to_toml_string`].
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Duration,
    /// Cardano network name (used in resource names).
    pub network: String,
    /// Pool id (used in resource names).
    pub pool: String,
    /// Cross-region coordination on or off (default: on when more than one region).
    pub cluster_management: bool,
    /// One API server for every region (only `api:global` exists).
    pub shared_api: bool,
    /// Cardano slot length; slots start at k × slot_length.
    pub slot_length: Duration,
    /// turmoil's tick (a forge-sim extension of the contract, key `tick`, default
    /// [`DEFAULT_TICK`]); `forge-sim run --tick` overrides it.
    pub tick: Duration,
    /// `[timing]`: the sidecars' timing.
    pub timing: Timing,
    /// `[node]`: the simulated cardano-node.
    pub node: NodeTiming,
    /// `[[region]]`, in file order.
    pub regions: Vec<Region>,
    /// `[[fault]]`, in file order (see [`Scenario::faults_in_order`] for application order).
    pub faults: Vec<Fault>,
    /// `[[expect]]`, in file order.
    pub expects: Vec<Expect>,
}

/// `[timing]`: the sidecar's timing, all defaults being the sidecar's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Local and global lease duration.
    pub lease_duration: Duration,
    /// How long a holder keeps forging without a successful renewal.
    pub renew_deadline: Duration,
    /// How often candidates retry and holders renew.
    pub retry_period: Duration,
    /// Health probe period.
    pub health_interval: Duration,
    /// Consecutive failed probes before a region counts as unhealthy.
    pub health_failure_threshold: u32,
    /// Consecutive good probes before it counts as healthy again.
    pub health_success_threshold: u32,
    /// How long a region preferred again by recovery must stay so before it takes forging back.
    pub failback_delay: Duration,
    /// One-way network latency between any two hosts.
    pub api_latency: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            health_interval: Duration::from_secs(30),
            health_failure_threshold: 3,
            health_success_threshold: 2,
            failback_delay: Duration::from_secs(60),
            api_latency: Duration::from_millis(1),
        }
    }
}

impl Timing {
    /// The sidecar timing this `[timing]` implies (request timeouts and verification scaled down for
    /// short deadlines), checked by [`CoreTiming::new`] like the sidecar's own configuration.
    /// `slot_length` is the file's: a promotion waits out a slot after another node may last
    /// have forged (`TimingParams::slot_settle`).
    pub fn core(&self, slot_length: Duration) -> Result<CoreTiming, Vec<TimingProblem>> {
        let renew = self.renew_deadline;
        CoreTiming::new(TimingParams {
            lease_duration: self.lease_duration,
            renew_deadline: renew,
            retry_period: self.retry_period,
            api_timeout: (renew / 4).clamp(Duration::from_millis(200), Duration::from_secs(3)),
            demotion_time: (renew / 10).clamp(Duration::from_millis(100), Duration::from_secs(1)),
            sighup_verify_timeout: (renew / 2)
                .clamp(Duration::from_millis(500), Duration::from_secs(5)),
            slot_length: Some(slot_length),
            ..TimingParams::default()
        })
    }

    /// The first relation of the timing budget this `[timing]` breaks, as an error on the key to
    /// change (the request timeout is derived from `renew_deadline`, so its problems name that).
    fn budget_error(&self, file: &str, slot_length: Duration) -> Option<InvalidScenario> {
        let problem = self.core(slot_length).err()?.into_iter().next()?;
        let (key, value) = match problem.variable {
            "LEASE_DURATION" => ("lease_duration", self.lease_duration),
            "RETRY_PERIOD" => ("retry_period", self.retry_period),
            "SLOT_LENGTH" => ("slot_length", slot_length),
            _ => ("renew_deadline", self.renew_deadline),
        };
        Some(InvalidScenario::BadValue {
            file: file.to_owned(),
            line: None,
            // `slot_length` is a top-level key; the rest live in `[timing]`.
            path: if key == "slot_length" {
                key.to_owned()
            } else {
                format!("timing.{key}")
            },
            expected: format!("a value that fits the timing budget ({})", problem.message),
            found: format!("{value:?}"),
        })
    }
}

/// `[node]`: the simulated cardano-node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTiming {
    /// From process start until its SIGHUP handler is installed and its socket accepts connections.
    pub startup: Duration,
    /// From SIGHUP to the new forging state.
    pub sighup_delay: Duration,
}

impl Default for NodeTiming {
    fn default() -> Self {
        NodeTiming {
            startup: Duration::from_secs(5),
            sighup_delay: Duration::from_millis(50),
        }
    }
}

/// `spec.forgeState` of a CardanoForgeCluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForgeState {
    /// `"Enabled"`.
    Enabled,
    /// `"Disabled"`.
    Disabled,
    /// `"Priority-based"` (the default).
    PriorityBased,
}

impl ForgeState {
    /// The spelling in files and in the CRD.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeState::Enabled => "Enabled",
            ForgeState::Disabled => "Disabled",
            ForgeState::PriorityBased => "Priority-based",
        }
    }

    /// Parses the CRD spelling.
    pub fn parse(text: &str) -> Option<ForgeState> {
        match text {
            "Enabled" => Some(ForgeState::Enabled),
            "Disabled" => Some(ForgeState::Disabled),
            "Priority-based" => Some(ForgeState::PriorityBased),
            _ => None,
        }
    }
}

/// `[[region]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// 1 is the most preferred.
    pub priority: u32,
    /// Block-producer pods in this region's StatefulSet.
    pub pods: usize,
    /// Initial `spec.forgeState`.
    pub forge_state: ForgeState,
    /// Initial answer of the region's health endpoint.
    pub healthy: bool,
}

/// How an `api-errors` fault answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorAnswer {
    /// 500 `InternalError`.
    ServerError,
    /// 429 `TooManyRequests` with this `Retry-After`.
    Throttle {
        /// Sent in whole seconds.
        retry_after: Duration,
    },
    /// Half the body, then the connection is reset.
    Cut,
}

impl ApiErrorAnswer {
    /// The file spelling of `answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorAnswer::ServerError => "500",
            ApiErrorAnswer::Throttle { .. } => "429",
            ApiErrorAnswer::Cut => "cut",
        }
    }
}

/// Which lease a `delete-lease` fault deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseKind {
    /// The region's local lease (on `api:REGION`, or on `api:global` with a shared API).
    Local,
    /// The global lease (on `api:global`).
    Global,
}

impl LeaseKind {
    /// The spelling in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseKind::Local => "local",
            LeaseKind::Global => "global",
        }
    }
}

/// One `[[fault]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When it applies, since the start.
    pub at: Duration,
    /// What it does.
    pub action: FaultAction,
}

/// A fault kind with its keys (docs/scenarios.md, `[[fault]]` table).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Drop all traffic between two targets, both ways.
    Partition {
        /// The two sides.
        between: [Target; 2],
    },
    /// Undo every partition between any host covered by A and any host covered by B.
    Heal {
        /// The two sides.
        between: [Target; 2],
    },
    /// The pod dies at once: no clean-up, no lease release.
    Crash {
        /// The pod.
        target: PodRef,
    },
    /// A crashed or shut-down pod (or every such pod of a region) comes back as a new pod.
    Restart {
        /// A pod (`Target::Pod`) or `Target::Region`.
        target: Target,
    },
    /// Graceful termination (SIGTERM to the sidecar).
    Shutdown {
        /// The pod.
        target: PodRef,
    },
    /// The sidecar process is frozen; cardano-node keeps running.
    Pause {
        /// The pod.
        target: PodRef,
        /// For how long.
        for_: Duration,
    },
    /// The whole pod is frozen (sidecar and cardano-node).
    Freeze {
        /// The pod.
        target: PodRef,
        /// For how long.
        for_: Duration,
    },
    /// The pod's wall clock jumps by `offset_ms` (may be negative).
    Skew {
        /// The pod.
        target: PodRef,
        /// Signed jump in milliseconds.
        offset_ms: i64,
    },
    /// The pod's clocks run fast (positive) or slow by `ppm` from now on.
    Drift {
        /// The pod.
        target: PodRef,
        /// Parts per million, signed.
        ppm: i64,
    },
    /// The API server stops answering (connections refused); its objects survive.
    ApiDown {
        /// The server.
        target: ApiServer,
    },
    /// The API server answers again.
    ApiUp {
        /// The server.
        target: ApiServer,
    },
    /// The API server answers its next `count` requests badly (a forge-sim extension): a 500,
    /// a 429 with `Retry-After`, or an answer cut off mid-body (a write is stored, its answer
    /// lost). Watches are cut only by the other two.
    ApiErrors {
        /// The server.
        target: ApiServer,
        /// How it answers.
        answer: ApiErrorAnswer,
        /// How many requests (or, for `cut`, answers other than watches).
        count: u64,
    },
    /// One-way latency between two targets from now on.
    Latency {
        /// The two sides.
        between: [Target; 2],
        /// One-way latency.
        latency: Duration,
    },
    /// The region's health endpoint answers 200 (healthy) or 503 from now on.
    Health {
        /// The region whose endpoint (`health:REGION`).
        region: String,
        /// The answer.
        healthy: bool,
    },
    /// The health endpoint alternates unhealthy/healthy every `period` until `until`.
    Flap {
        /// The region whose endpoint (`health:REGION`).
        region: String,
        /// Half-cycle length.
        period: Duration,
        /// Instant (since start) the flapping stops.
        until: Duration,
    },
    /// cardano-node restarts with a new PID, non-producing.
    NodeRestart {
        /// The pod.
        target: PodRef,
    },
    /// An operator merge-patches the region's CardanoForgeCluster spec.
    Patch {
        /// The region (`region:REGION`).
        region: String,
        /// The merge patch of `spec`, as JSON. `override.expiresAt`, when present, is still the
        /// file's duration string (a time since start): see [`patch_expires_after`].
        spec: serde_json::Value,
    },
    /// An operator deletes a lease object.
    DeleteLease {
        /// The server holding it.
        target: ApiServer,
        /// Which lease.
        lease: LeaseKind,
        /// The operator strips the finalizers first (`force = true`, an extension of the
        /// contract): the object goes at once instead of waiting for its holder to let go.
        force: bool,
    },
    /// The mounted forging secret changes (new operational certificate).
    RotateSecret {
        /// A pod (`Target::Pod`) or `Target::Region`.
        target: Target,
    },
    /// From now on the pod's cardano-node applies each SIGHUP only after `sighup_delay` (a busy
    /// node); zero restores the `[node]` default.
    NodeSlow {
        /// The pod.
        target: PodRef,
        /// The new SIGHUP handling time; zero: the `[node]` default.
        sighup_delay: Duration,
    },
}

impl FaultAction {
    /// The kind as spelled in files and in `trace::EventKind::Fault { fault }`.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Partition { .. } => "partition",
            FaultAction::Heal { .. } => "heal",
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Shutdown { .. } => "shutdown",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Freeze { .. } => "freeze",
            FaultAction::Skew { .. } => "skew",
            FaultAction::Drift { .. } => "drift",
            FaultAction::ApiDown { .. } => "api-down",
            FaultAction::ApiUp { .. } => "api-up",
            FaultAction::ApiErrors { .. } => "api-errors",
            FaultAction::Latency { .. } => "latency",
            FaultAction::Health { .. } => "health",
            FaultAction::Flap { .. } => "flap",
            FaultAction::NodeRestart { .. } => "node-restart",
            FaultAction::Patch { .. } => "patch",
            FaultAction::DeleteLease { .. } => "delete-lease",
            FaultAction::RotateSecret { .. } => "rotate-secret",
            FaultAction::NodeSlow { .. } => "node-slow",
        }
    }

    /// The target(s) in file form, for reports and `trace::EventKind::Fault { target }` before
    /// resolution (e.g. `pod:us-east-1/0`, `api:global <-> region:eu-west-1`).
    pub fn target_text(&self) -> String {
        match self {
            FaultAction::Partition { between }
            | FaultAction::Heal { between }
            | FaultAction::Latency { between, .. } => format!("{} <-> {}", between[0], between[1]),
            FaultAction::Crash { target }
            | FaultAction::Shutdown { target }
            | FaultAction::Pause { target, .. }
            | FaultAction::Freeze { target, .. }
            | FaultAction::Skew { target, .. }
            | FaultAction::Drift { target, .. }
            | FaultAction::NodeRestart { target }
            | FaultAction::NodeSlow { target, .. } => target.to_string(),
            FaultAction::Restart { target } | FaultAction::RotateSecret { target } => {
                target.to_string()
            }
            FaultAction::ApiDown { target }
            | FaultAction::ApiUp { target }
            | FaultAction::ApiErrors { target, .. }
            | FaultAction::DeleteLease { target, .. } => target.to_string(),
            FaultAction::Health { region, .. } | FaultAction::Flap { region, .. } => {
                format!("health:{region}")
            }
            FaultAction::Patch { region, .. } => format!("region:{region}"),
        }
    }
}

/// Every fault kind, as spelled in files.
pub const FAULT_KINDS: [&str; 20] = [
    "partition",
    "heal",
    "crash",
    "restart",
    "shutdown",
    "pause",
    "freeze",
    "skew",
    "drift",
    "api-down",
    "api-up",
    "api-errors",
    "latency",
    "health",
    "flap",
    "node-restart",
    "patch",
    "delete-lease",
    "rotate-secret",
    "node-slow",
];

/// Every expectation kind, as spelled in files.
pub const EXPECT_KINDS: [&str; 11] = [
    "forger",
    "forger-by",
    "max-gap",
    "max-handovers",
    "no-forger-in",
    "credentials",
    "coverage",
    "max-residual",
    "max-node-exits",
    "max-api-requests",
    "max-missed-slots",
];

/// Who an expectation wants forging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Some pod of this region (key `region`).
    Region(String),
    /// Exactly this pod (key `pod`, written `REGION/N`).
    Pod(PodId),
}

impl Placement {
    /// Whether `pod` satisfies this placement.
    pub fn matches(&self, pod: &PodId) -> bool {
        match self {
            Placement::Region(region) => &pod.region == region,
            Placement::Pod(want) => want == pod,
        }
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placement::Region(region) => write!(f, "region {region}"),
            Placement::Pod(pod) => write!(f, "pod {pod}"),
        }
    }
}

/// A window `[from, to)`: `None` means the kind's default (see each kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Start (key `from`).
    pub from: Option<Duration>,
    /// End (key `to`).
    pub to: Option<Duration>,
}

/// One `[[expect]]` (docs/scenarios.md, `[[expect]]` table).
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// At `at` the forging node is in that region / is that pod (`Some`), or there is none (`None`).
    Forger {
        /// The instant.
        at: Duration,
        /// `None` for `none = true`.
        who: Option<Placement>,
    },
    /// From `by` until `to` (default: the next fault after `by`, or the end) the forger is `who`.
    ForgerBy {
        /// Start of the check.
        by: Duration,
        /// Who forges.
        who: Placement,
        /// End of the check (exclusive).
        to: Option<Duration>,
    },
    /// No interval without a forger in the window is longer than `value`.
    MaxGap {
        /// Longest gap allowed.
        value: Duration,
        /// Default: from the first forger to the end.
        window: Window,
    },
    /// The forging node changes to a different node at most `value` times in the window.
    MaxHandovers {
        /// Most handovers allowed.
        value: u64,
        /// Default: the whole run.
        window: Window,
    },
    /// No pod of `region` forges in `[from, to)`.
    NoForgerIn {
        /// The region.
        region: String,
        /// Start.
        from: Duration,
        /// End (exclusive).
        to: Duration,
    },
    /// The pod's target credential files exist (`present`) or not at `at`.
    Credentials {
        /// The pod (`pod:REGION/N`; run-time targets cannot be judged afterwards).
        target: PodId,
        /// The instant.
        at: Duration,
        /// Expected presence.
        present: bool,
    },
    /// Fraction of the window with exactly one forger is at least `min`.
    Coverage {
        /// In 0..=1.
        min: f64,
        /// Default: from the first forger to the end.
        window: Window,
    },
    /// At most `value` residual dual-forging slots in the run.
    MaxResidual {
        /// Most allowed.
        value: u64,
    },
    /// At most `value` cardano-node exits at start because of credential files.
    MaxNodeExits {
        /// Most allowed.
        value: u64,
    },
    /// The API server answered at most `value` requests in the window.
    MaxApiRequests {
        /// Most allowed.
        value: u64,
        /// The server.
        target: ApiServer,
        /// Default: the whole run.
        window: Window,
    },
    /// At most `value` slots in the window in which no node ran its leadership check.
    MaxMissedSlots {
        /// Most allowed.
        value: u64,
        /// Default: from the first forger to the end.
        window: Window,
    },
}

impl Expect {
    /// The kind as spelled in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Expect::Forger { .. } => "forger",
            Expect::ForgerBy { .. } => "forger-by",
            Expect::MaxGap { .. } => "max-gap",
            Expect::MaxHandovers { .. } => "max-handovers",
            Expect::NoForgerIn { .. } => "no-forger-in",
            Expect::Credentials { .. } => "credentials",
            Expect::Coverage { .. } => "coverage",
            Expect::MaxResidual { .. } => "max-residual",
            Expect::MaxNodeExits { .. } => "max-node-exits",
            Expect::MaxApiRequests { .. } => "max-api-requests",
            Expect::MaxMissedSlots { .. } => "max-missed-slots",
        }
    }
}

impl Scenario {
    /// Reads and parses a scenario file; errors name the file as given.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, InvalidScenario> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let unreadable = |source| InvalidScenario::Unreadable {
            file: file.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        if len > MAX_FILE_BYTES {
            return Err(InvalidScenario::TooLarge {
                file,
                bytes: len,
                limit: MAX_FILE_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        Scenario::from_str(&text, &file)
    }

    /// Parses a scenario from TOML text; `name_for_errors` is the file name errors report.
    #[allow(clippy::should_implement_trait)] // Two arguments: not `FromStr`.
    pub fn from_str(text: &str, name_for_errors: &str) -> Result<Scenario, InvalidScenario> {
        let scenario = parse::parse(text, name_for_errors)?;
        match scenario
            .timing
            .budget_error(name_for_errors, scenario.slot_length)
        {
            Some(e) => Err(e.with_line_from(text)),
            None => Ok(scenario),
        }
    }

    /// The file text of this scenario, every key written out (defaults included), such that
    /// `Scenario::from_str(&s.to_toml_string(), _) == Ok(s)`.
    pub fn to_toml_string(&self) -> String {
        write::write(self)
    }

    /// The faults in application order: by `at`, ties in file order; each with its file index.
    pub fn faults_in_order(&self) -> Vec<(usize, &Fault)> {
        let mut faults: Vec<(usize, &Fault)> = self.faults.iter().enumerate().collect();
        // A stable sort keeps file order among equal `at`.
        faults.sort_by_key(|(_, fault)| fault.at);
        faults
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The pods of region `name` (none for an undeclared region).
    pub fn pods_of(&self, name: &str) -> Vec<PodId> {
        self.region(name)
            .map(|r| {
                (0..r.pods)
                    .map(|index| PodId::new(&r.name, index))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every pod of every region, regions in file order.
    pub fn pods(&self) -> Vec<PodId> {
        self.regions
            .iter()
            .flat_map(|r| (0..r.pods).map(|index| PodId::new(&r.name, index)))
            .collect()
    }

    /// Every API server of the world: `global`, then one per region unless `shared_api`.
    pub fn api_servers(&self) -> Vec<ApiServer> {
        let mut servers = vec![ApiServer::Global];
        if !self.shared_api {
            servers.extend(
                self.regions
                    .iter()
                    .map(|r| ApiServer::Region(r.name.clone())),
            );
        }
        servers
    }

    /// The API server holding `region`'s local lease: its own, or `global` with a shared API.
    pub fn local_api_of(&self, region: &str) -> ApiServer {
        if self.shared_api {
            ApiServer::Global
        } else {
            ApiServer::Region(region.to_owned())
        }
    }
}

/// The `override.expiresAt` of a patch spec, as the time since start the file gives; the world
/// turns it into an RFC 3339 instant on the coordination API server's clock when it applies the
/// patch. `None` when the patch has no such key.
pub fn patch_expires_after(spec: &serde_json::Value) -> Option<Duration> {
    let text = spec.get("override")?.get("expiresAt")?.as_str()?;
    // The parser accepted only duration strings here.
    forge_manager::config::duration::parse_duration(text).ok()
}

/// The patch with `override.expiresAt` replaced by `expires_at` (the RFC 3339 instant the world
/// computed from [`patch_expires_after`] on the coordination API server's clock); other keys as
/// they are.
pub fn patch_with_expiry(spec: &serde_json::Value, expires_at: &str) -> serde_json::Value {
    let mut spec = spec.clone();
    if let Some(o) = spec
        .get_mut("override")
        .and_then(serde_json::Value::as_object_mut)
        && o.contains_key("expiresAt")
    {
        o.insert("expiresAt".to_owned(), serde_json::Value::from(expires_at));
    }
    spec
}
