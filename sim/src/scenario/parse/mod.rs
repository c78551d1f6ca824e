//! TOML text → [`Scenario`]: every key of docs/scenarios.md, its type, unit, default and range, and
//! the checks across keys (targets against declared regions and pod counts, instants within the
//! run).
//!
//! Parsed by hand from `toml::Table` rather than with serde derive, so that every error names the
//! full key path (`fault[2].target`) and says what was expected there.

use std::collections::BTreeMap;
use std::time::Duration;

use forge_manager::config::duration::{format_duration, parse_duration, parse_signed_duration};
use toml::{Table, Value};

use super::target::{ApiServer, PodRef, Target, parse_pod_id};
use super::{
    DEFAULT_TICK, EXPECT_KINDS, Expect, FAULT_KINDS, Fault, FaultAction, ForgeState,
    InvalidScenario, LeaseKind, MAX_DURATION, MAX_EXPECTS, MAX_FAULTS, MAX_PODS_PER_REGION,
    MAX_REGIONS, MAX_TICK, NodeTiming, Placement, Region, Scenario, Timing, Window,
};
use crate::trace::PodId;

mod events;

use events::*;

type Result<T> = std::result::Result<T, InvalidScenario>;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "network",
    "pool",
    "cluster_management",
    "shared_api",
    "slot_length",
    "tick",
    "timing",
    "node",
    "region",
    "fault",
    "expect",
];
const TIMING_KEYS: &[&str] = &[
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "health_interval",
    "health_failure_threshold",
    "health_success_threshold",
    "failback_delay",
    "api_latency",
];
const NODE_KEYS: &[&str] = &["startup", "sighup_delay"];
const REGION_KEYS: &[&str] = &["name", "priority", "pods", "forge_state", "healthy"];

const DURATION_EXPECTED: &str = "a duration string like \"15s\"";
const POD_TARGET: &str = "a pod target (pod:REGION/N, forger or leader:REGION)";
const API_TARGET: &str = "an API server target (api:global or api:REGION)";

/// Parses a whole file; errors about a key carry its line.
pub(super) fn parse(text: &str, file: &str) -> Result<Scenario> {
    parse_table(text, file).map_err(|e| e.with_line_from(text))
}

fn parse_table(text: &str, file: &str) -> Result<Scenario> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| InvalidScenario::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    let top = Section {
        file,
        table: &table,
        prefix: String::new(),
    };
    top.check_keys(TOP_KEYS)?;
    let name = top.required("name", "a string", Section::string)?;
    if name.is_empty() {
        return Err(top.bad("name", "a non-empty string", "\"\""));
    }
    let duration = top.required("duration", DURATION_EXPECTED, Section::duration)?;
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(top.bad(
            "duration",
            format!(
                "a duration above 0s and at most {}",
                format_duration(MAX_DURATION)
            ),
            format!("{:?}", format_duration(duration)),
        ));
    }
    let regions = parse_regions(&top)?;
    let slot_length = top
        .duration("slot_length")?
        .unwrap_or(Duration::from_secs(1));
    if slot_length.is_zero() {
        return Err(top.bad("slot_length", "a duration above 0s", "\"0s\""));
    }
    let tick = top.duration("tick")?.unwrap_or(DEFAULT_TICK);
    if tick.is_zero() || tick > MAX_TICK {
        return Err(top.bad(
            "tick",
            format!(
                "a duration above 0s and at most {}",
                format_duration(MAX_TICK)
            ),
            format!("{:?}", format_duration(tick)),
        ));
    }
    let shared_api = top.bool("shared_api")?.unwrap_or(false);
    let world = World {
        regions: regions.iter().map(|r| (r.name.clone(), r.pods)).collect(),
        shared_api,
        duration,
    };
    let faults = top
        .array_of_tables("fault", MAX_FAULTS)?
        .iter()
        .map(|section| parse_fault(section, &world))
        .collect::<Result<Vec<_>>>()?;
    let expects = top
        .array_of_tables("expect", MAX_EXPECTS)?
        .iter()
        .map(|section| parse_expect(section, &world))
        .collect::<Result<Vec<_>>>()?;
    Ok(Scenario {
        name,
        description: top.string("description")?.unwrap_or_default(),
        seed: top.integer("seed", 0, i64::MAX)?.map_or(0, as_u64),
        duration,
        network: top
            .string("network")?
            .unwrap_or_else(|| "mainnet".to_owned()),
        pool: top.string("pool")?.unwrap_or_else(|| "POOL1".to_owned()),
        cluster_management: top.bool("cluster_management")?.unwrap_or(regions.len() > 1),
        shared_api,
        slot_length,
        tick,
        timing: parse_timing(&top)?,
        node: parse_node(&top)?,
        regions,
        faults,
        expects,
    })
}

/// What targets and instants are checked against.
struct World {
    /// Region name → pod count.
    regions: BTreeMap<String, usize>,
    shared_api: bool,
    duration: Duration,
}

/// Which target forms a key accepts.
#[derive(Clone, Copy)]
struct Forms {
    pod: bool,
    region: bool,
    api: bool,
    health: bool,
}

const ANY: Forms = Forms {
    pod: true,
    region: true,
    api: true,
    health: true,
};
const POD: Forms = Forms {
    pod: true,
    region: false,
    api: false,
    health: false,
};
const POD_OR_REGION: Forms = Forms {
    pod: true,
    region: true,
    api: false,
    health: false,
};
const API: Forms = Forms {
    pod: false,
    region: false,
    api: true,
    health: false,
};
const HEALTH: Forms = Forms {
    pod: false,
    region: false,
    api: false,
    health: true,
};
const REGION: Forms = Forms {
    pod: false,
    region: true,
    api: false,
    health: false,
};

impl World {
    fn region_list(&self) -> String {
        self.regions.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Checks a declared region; `path` and `found` for the error.
    fn check_region(&self, s: &Section, key: &str, region: &str, found: &str) -> Result<()> {
        if self.regions.contains_key(region) {
            Ok(())
        } else {
            Err(s.bad(
                key,
                format!("a region declared in [[region]] ({})", self.region_list()),
                format!("{found:?}"),
            ))
        }
    }

    /// Checks a pod against the declared regions and pod counts.
    fn check_pod(&self, s: &Section, key: &str, pod: &PodId, found: &str) -> Result<()> {
        self.check_region(s, key, &pod.region, found)?;
        let pods = self.regions.get(&pod.region).copied().unwrap_or(0);
        if pod.index < pods {
            Ok(())
        } else {
            Err(s.bad(
                key,
                format!(
                    "a pod index below {pods} (region {} has pods = {pods}, numbered from 0)",
                    pod.region
                ),
                format!("{found:?}"),
            ))
        }
    }

    /// Parses and checks one target string at `key` against the allowed forms.
    fn target(
        &self,
        s: &Section,
        key: &str,
        text: &str,
        forms: Forms,
        what: &str,
    ) -> Result<Target> {
        let target =
            Target::parse(text).map_err(|e| s.bad(key, e.to_string(), format!("{text:?}")))?;
        let allowed = match &target {
            Target::Pod(_) => forms.pod,
            Target::Region(_) => forms.region,
            Target::Api(_) => forms.api,
            Target::Health(_) => forms.health,
        };
        if !allowed {
            return Err(s.bad(key, what, format!("{text:?}")));
        }
        match &target {
            Target::Pod(PodRef::Pod(pod)) => self.check_pod(s, key, pod, text)?,
            Target::Pod(PodRef::Forger) | Target::Api(ApiServer::Global) => {}
            Target::Api(ApiServer::Region(region)) => {
                self.check_region(s, key, region, text)?;
                if self.shared_api {
                    return Err(s.bad(
                        key,
                        "api:global (with shared_api = true there is no per-region API server)",
                        format!("{text:?}"),
                    ));
                }
            }
            Target::Pod(PodRef::Leader(region))
            | Target::Region(region)
            | Target::Health(region) => self.check_region(s, key, region, text)?,
        }
        Ok(target)
    }

    fn required_target(&self, s: &Section, key: &str, forms: Forms, what: &str) -> Result<Target> {
        let text = s.required(key, what, Section::string)?;
        self.target(s, key, &text, forms, what)
    }

    fn pod_ref(&self, s: &Section, key: &str) -> Result<PodRef> {
        match self.required_target(s, key, POD, POD_TARGET)? {
            Target::Pod(pod) => Ok(pod),
            other => Err(s.bad(key, POD_TARGET, format!("{:?}", other.to_string()))),
        }
    }

    fn api(&self, s: &Section, key: &str) -> Result<ApiServer> {
        match self.required_target(s, key, API, API_TARGET)? {
            Target::Api(api) => Ok(api),
            other => Err(s.bad(key, API_TARGET, format!("{:?}", other.to_string()))),
        }
    }

    fn between(&self, s: &Section) -> Result<[Target; 2]> {
        let what = "an array of two targets, e.g. [\"pod:us-east-1/0\", \"api:global\"]";
        let value = s.get("between").ok_or_else(|| s.missing("between", what))?;
        let items = match value {
            Value::Array(items) if items.len() == 2 => items,
            other => return Err(s.bad("between", what, describe(other))),
        };
        let mut targets = Vec::with_capacity(2);
        for (i, item) in items.iter().enumerate() {
            let key = format!("between[{i}]");
            let Value::String(text) = item else {
                return Err(s.bad(&key, "a target string", describe(item)));
            };
            targets.push(self.target(s, &key, text, ANY, "a target")?);
        }
        let [a, b]: [Target; 2] = targets
            .try_into()
            .map_err(|_| s.bad("between", what, describe(value)))?;
        if a == b {
            return Err(s.bad("between", "two different targets", describe(value)));
        }
        Ok([a, b])
    }

    /// A time since start within the run.
    fn instant(&self, s: &Section, key: &str) -> Result<Option<Duration>> {
        let Some(at) = s.duration(key)? else {
            return Ok(None);
        };
        if at > self.duration {
            return Err(s.bad(
                key,
                format!(
                    "a time within the run's duration ({})",
                    format_duration(self.duration)
                ),
                format!("{:?}", format_duration(at)),
            ));
        }
        Ok(Some(at))
    }

    fn required_instant(&self, s: &Section, key: &str) -> Result<Duration> {
        self.instant(s, key)?
            .ok_or_else(|| s.missing(key, "a time since the start like \"1m30s\""))
    }

    /// Optional `from`/`to`, with `from < to` when both are given.
    fn window(&self, s: &Section) -> Result<Window> {
        let window = Window {
            from: self.instant(s, "from")?,
            to: self.instant(s, "to")?,
        };
        if let (Some(from), Some(to)) = (window.from, window.to)
            && to <= from
        {
            return Err(s.bad(
                "to",
                format!("a time after from = {:?}", format_duration(from)),
                format!("{:?}", format_duration(to)),
            ));
        }
        Ok(window)
    }

    /// An expectation's `region` key: `REGION` or `region:REGION`.
    fn region_key(&self, s: &Section, key: &str) -> Result<Option<String>> {
        let Some(text) = s.string(key)? else {
            return Ok(None);
        };
        let region = text.strip_prefix("region:").unwrap_or(&text).to_owned();
        self.check_region(s, key, &region, &text)?;
        Ok(Some(region))
    }

    /// An expectation's `pod` key: `REGION/N` or `pod:REGION/N`.
    fn pod_key(&self, s: &Section, key: &str) -> Result<Option<PodId>> {
        let Some(text) = s.string(key)? else {
            return Ok(None);
        };
        let pod = parse_pod_id(text.strip_prefix("pod:").unwrap_or(&text))
            .map_err(|e| s.bad(key, e.to_string(), format!("{text:?}")))?;
        self.check_pod(s, key, &pod, &text)?;
        Ok(Some(pod))
    }

    /// Exactly one of `region`, `pod`.
    fn placement(&self, s: &Section, none_allowed: bool) -> Result<Option<Placement>> {
        let region = self.region_key(s, "region")?;
        let pod = self.pod_key(s, "pod")?;
        let none = if none_allowed { s.bool("none")? } else { None };
        let one_of = if none_allowed {
            "exactly one of region, pod or none = true"
        } else {
            "exactly one of region or pod"
        };
        match (region, pod, none) {
            (Some(region), None, None) => Ok(Some(Placement::Region(region))),
            (None, Some(pod), None) => Ok(Some(Placement::Pod(pod))),
            (None, None, Some(true)) => Ok(None),
            (None, None, Some(false)) => Err(s.bad(
                "none",
                "none = true (to expect a forger, write region or pod instead)",
                "false",
            )),
            (None, None, None) => Err(s.missing("region", one_of)),
            _ => Err(s.bad("region", one_of, "more than one of them")),
        }
    }
}

/// One table of the file, with its key-path prefix.
struct Section<'a> {
    file: &'a str,
    table: &'a Table,
    /// `""` at the top level, else e.g. `timing` or `fault[2]`.
    prefix: String,
}

impl<'a> Section<'a> {
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn bad(
        &self,
        key: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> InvalidScenario {
        InvalidScenario::BadValue {
            file: self.file.to_owned(),
            line: None,
            path: self.path(key),
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn missing(&self, key: &str, expected: impl Into<String>) -> InvalidScenario {
        InvalidScenario::MissingKey {
            file: self.file.to_owned(),
            line: None,
            path: self.path(key),
            expected: expected.into(),
        }
    }

    /// Fails on the first key (in name order) not in `allowed`.
    fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        match self.table.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(InvalidScenario::UnknownKey {
                file: self.file.to_owned(),
                line: None,
                path: self.path(key),
                allowed: allowed.join(", "),
            }),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    fn required<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl Fn(&Self, &str) -> Result<Option<T>>,
    ) -> Result<T> {
        read(self, key)?.ok_or_else(|| self.missing(key, expected))
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.bad(key, "a string", describe(other))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.bad(key, "true or false", describe(other))),
        }
    }

    fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if (min..=max).contains(i) => Ok(Some(*i)),
            Some(other) => Err(self.bad(
                key,
                format!("an integer from {min} to {max}"),
                describe(other),
            )),
        }
    }

    fn duration(&self, key: &str) -> Result<Option<Duration>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => parse_duration(text).map(Some).map_err(|e| {
                self.bad(
                    key,
                    format!("{DURATION_EXPECTED}: {e}"),
                    format!("{text:?}"),
                )
            }),
            Some(other) => Err(self.bad(key, DURATION_EXPECTED, describe(other))),
        }
    }

    /// A signed duration in milliseconds (`"-30s"` → -30000).
    fn signed_ms(&self, key: &str) -> Result<Option<i64>> {
        let expected = "a signed duration string like \"-30s\" or \"2h\"";
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => {
                let (negative, magnitude) = parse_signed_duration(text)
                    .map_err(|e| self.bad(key, format!("{expected}: {e}"), format!("{text:?}")))?;
                let ms = i64::try_from(magnitude.as_millis()).map_err(|_| {
                    self.bad(key, "a duration that fits in 64 bits", format!("{text:?}"))
                })?;
                Ok(Some(if negative { -ms } else { ms }))
            }
            Some(other) => Err(self.bad(key, expected, describe(other))),
        }
    }

    /// An optional array of tables (`[[fault]]`), each as a section `key[i]`.
    fn array_of_tables(&self, key: &str, limit: usize) -> Result<Vec<Section<'a>>> {
        let expected = format!("an array of tables [[{key}]]");
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                if items.len() > limit {
                    return Err(self.bad(
                        key,
                        format!("at most {limit} [[{key}]] tables"),
                        items.len().to_string(),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Table(table) => Ok(Section {
                            file: self.file,
                            table,
                            prefix: self.path(&format!("{key}[{i}]")),
                        }),
                        other => Err(self.bad(&format!("{key}[{i}]"), "a table", describe(other))),
                    })
                    .collect()
            }
            Some(other) => Err(self.bad(key, expected, describe(other))),
        }
    }

    /// An optional sub-table (`[timing]`).
    fn sub_table(&self, key: &str) -> Result<Option<Section<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(table)) => Ok(Some(Section {
                file: self.file,
                table,
                prefix: self.path(key),
            })),
            Some(other) => Err(self.bad(key, format!("a table [{key}]"), describe(other))),
        }
    }
}

/// How a found value is shown in errors: its type and, when short, the value.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(i) => format!("integer {i}"),
        Value::Float(f) => format!("float {f}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Datetime(d) => format!("datetime {d}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// A range-checked non-negative integer.
fn as_u64(i: i64) -> u64 {
    u64::try_from(i).unwrap_or(0)
}

fn parse_timing(top: &Section) -> Result<Timing> {
    let default = Timing::default();
    let Some(s) = top.sub_table("timing")? else {
        return Ok(default);
    };
    s.check_keys(TIMING_KEYS)?;
    // Periods and deadlines must be positive; a zero latency is allowed.
    let positive = |key: &str, default: Duration| -> Result<Duration> {
        match s.duration(key)? {
            Some(d) if d.is_zero() => Err(s.bad(key, "a duration above 0s", "\"0s\"")),
            Some(d) => Ok(d),
            None => Ok(default),
        }
    };
    let threshold = |key: &str, default: u32| -> Result<u32> {
        Ok(s.integer(key, 1, 1_000)?
            .map_or(default, |n| u32::try_from(n).unwrap_or(default)))
    };
    Ok(Timing {
        lease_duration: positive("lease_duration", default.lease_duration)?,
        renew_deadline: positive("renew_deadline", default.renew_deadline)?,
        retry_period: positive("retry_period", default.retry_period)?,
        health_interval: positive("health_interval", default.health_interval)?,
        health_failure_threshold: threshold(
            "health_failure_threshold",
            default.health_failure_threshold,
        )?,
        health_success_threshold: threshold(
            "health_success_threshold",
            default.health_success_threshold,
        )?,
        failback_delay: s
            .duration("failback_delay")?
            .unwrap_or(default.failback_delay),
        api_latency: s.duration("api_latency")?.unwrap_or(default.api_latency),
    })
}

fn parse_node(top: &Section) -> Result<NodeTiming> {
    let mut node = NodeTiming::default();
    let Some(s) = top.sub_table("node")? else {
        return Ok(node);
    };
    s.check_keys(NODE_KEYS)?;
    if let Some(d) = s.duration("startup")? {
        node.startup = d;
    }
    if let Some(d) = s.duration("sighup_delay")? {
        node.sighup_delay = d;
    }
    Ok(node)
}

fn parse_regions(top: &Section) -> Result<Vec<Region>> {
    let sections = top.array_of_tables("region", MAX_REGIONS)?;
    if sections.is_empty() {
        return Err(top.missing("region", "one or more [[region]] tables"));
    }
    let mut regions: Vec<Region> = Vec::with_capacity(sections.len());
    for s in &sections {
        s.check_keys(REGION_KEYS)?;
        let name = s.required("name", "a region name like \"us-east-1\"", Section::string)?;
        if !super::is_region_name(&name) {
            return Err(s.bad(
                "name",
                "a region name (letters, digits, '-', '_', '.')",
                format!("{name:?}"),
            ));
        }
        if regions.iter().any(|r| r.name == name) {
            return Err(s.bad(
                "name",
                "a region name not declared before",
                format!("{name:?}"),
            ));
        }
        let priority = s.required(
            "priority",
            "an integer from 1 to 999 (1 is the most preferred)",
            |s, k| s.integer(k, 1, 999),
        )?;
        let pods = s.integer("pods", 1, i64::try_from(MAX_PODS_PER_REGION).unwrap_or(64))?;
        let forge_state = match s.string("forge_state")? {
            None => ForgeState::PriorityBased,
            Some(text) => ForgeState::parse(&text).ok_or_else(|| {
                s.bad(
                    "forge_state",
                    "\"Enabled\", \"Disabled\" or \"Priority-based\"",
                    format!("{text:?}"),
                )
            })?,
        };
        regions.push(Region {
            name,
            priority: u32::try_from(priority).unwrap_or(1),
            pods: pods.map_or(3, |n| usize::try_from(n).unwrap_or(3)),
            forge_state,
            healthy: s.bool("healthy")?.unwrap_or(true),
        });
    }
    Ok(regions)
}
