//! TOML text → [`Scenario`]: every key of docs/scenarios.md, its type, unit, default and range, and
//! the checks across keys (targets against declared regions and pod counts, instants within the
//! run).
//!
//! serde reads the file's shape ([`raw`]: unknown keys, types, ranges, the duration grammar) and
//! names the key path of each error (`fault[2].target`); this module checks what serde cannot:
//! which keys are required and what they should hold, which keys a fault or expectation kind
//! takes, and how keys relate to each other and to the declared world.

use std::collections::BTreeMap;
use std::time::Duration;

use forge_manager::config::duration::format_duration;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::target::{ApiServer, PodRef, Target, parse_pod_id};
use super::{
    DEFAULT_TICK, EXPECT_KINDS, Expect, FAULT_KINDS, Fault, FaultAction, ForgeState,
    InvalidScenario, LeaseKind, MAX_DURATION, MAX_TICK, NodeTiming, Placement, Region, Scenario,
    Timing, Window,
};
use crate::trace::PodId;

mod events;
mod raw;

use events::*;
use raw::{DURATION_EXPECTED, Dur, RawExpect, RawNode, RawRegion, RawScenario, RawTiming, Tables};

type Result<T> = std::result::Result<T, InvalidScenario>;

const POD_TARGET: &str = "a pod target (pod:REGION/N, forger or leader:REGION)";
const API_TARGET: &str = "an API server target (api:global or api:REGION)";

/// Parses a whole file; errors about a key carry its line.
pub(super) fn parse(text: &str, file: &str) -> Result<Scenario> {
    parse_text(text, file).map_err(|e| e.with_line_from(text))
}

fn parse_text(text: &str, file: &str) -> Result<Scenario> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| InvalidScenario::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    let top = Place {
        file,
        prefix: String::new(),
    };
    let raw: RawScenario = top.read(Value::Table(table))?;
    let name = top.need("name", "a string", raw.name)?;
    if name.is_empty() {
        return Err(top.bad("name", "a non-empty string", "\"\""));
    }
    let duration = top.need("duration", DURATION_EXPECTED, raw.duration)?.0;
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
    let regions = parse_regions(&top, raw.region)?;
    let slot_length = raw.slot_length.map_or(Duration::from_secs(1), |d| d.0);
    if slot_length.is_zero() {
        return Err(top.bad("slot_length", "a duration above 0s", "\"0s\""));
    }
    let tick = raw.tick.map_or(DEFAULT_TICK, |d| d.0);
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
    let shared_api = raw.shared_api.is_some_and(|f| f.0);
    let world = World {
        regions: regions.iter().map(|r| (r.name.clone(), r.pods)).collect(),
        shared_api,
        duration,
    };
    let faults = raw
        .fault
        .map(|t| t.0)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, table)| parse_fault(&top.item("fault", i), table.0, &world))
        .collect::<Result<Vec<_>>>()?;
    let expects = raw
        .expect
        .map(|t| t.0)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, table)| parse_expect(&top.item("expect", i), table.0, &world))
        .collect::<Result<Vec<_>>>()?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.map_or(0, |s| s.get(0)),
        duration,
        network: raw.network.unwrap_or_else(|| "mainnet".to_owned()),
        pool: raw.pool.unwrap_or_else(|| "POOL1".to_owned()),
        cluster_management: raw.cluster_management.map_or(regions.len() > 1, |f| f.0),
        shared_api,
        slot_length,
        tick,
        timing: parse_timing(&top, raw.timing)?,
        node: parse_node(raw.node),
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
    fn check_region(&self, s: &Place, key: &str, region: &str, found: &str) -> Result<()> {
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
    fn check_pod(&self, s: &Place, key: &str, pod: &PodId, found: &str) -> Result<()> {
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
    fn target(&self, s: &Place, key: &str, text: &str, forms: Forms, what: &str) -> Result<Target> {
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

    fn required_target(
        &self,
        s: &Place,
        key: &str,
        text: Option<&str>,
        forms: Forms,
        what: &str,
    ) -> Result<Target> {
        let text = s.need(key, what, text)?;
        self.target(s, key, text, forms, what)
    }

    fn pod_ref(&self, s: &Place, key: &str, text: Option<&str>) -> Result<PodRef> {
        match self.required_target(s, key, text, POD, POD_TARGET)? {
            Target::Pod(pod) => Ok(pod),
            other => Err(s.bad(key, POD_TARGET, format!("{:?}", other.to_string()))),
        }
    }

    fn api(&self, s: &Place, key: &str, text: Option<&str>) -> Result<ApiServer> {
        match self.required_target(s, key, text, API, API_TARGET)? {
            Target::Api(api) => Ok(api),
            other => Err(s.bad(key, API_TARGET, format!("{:?}", other.to_string()))),
        }
    }

    fn between(&self, s: &Place, value: Option<&Value>) -> Result<[Target; 2]> {
        let what = "an array of two targets, e.g. [\"pod:us-east-1/0\", \"api:global\"]";
        let value = s.need("between", what, value)?;
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
    fn instant(&self, s: &Place, key: &str, at: Option<&Dur>) -> Result<Option<Duration>> {
        let Some(&Dur(at)) = at else {
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

    fn required_instant(&self, s: &Place, key: &str, at: Option<&Dur>) -> Result<Duration> {
        self.instant(s, key, at)?
            .ok_or_else(|| s.missing(key, "a time since the start like \"1m30s\""))
    }

    /// Optional `from`/`to`, with `from < to` when both are given.
    fn window(&self, s: &Place, from: Option<&Dur>, to: Option<&Dur>) -> Result<Window> {
        let window = Window {
            from: self.instant(s, "from", from)?,
            to: self.instant(s, "to", to)?,
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
    fn region_key(&self, s: &Place, key: &str, text: Option<&str>) -> Result<Option<String>> {
        let Some(text) = text else {
            return Ok(None);
        };
        let region = text.strip_prefix("region:").unwrap_or(text).to_owned();
        self.check_region(s, key, &region, text)?;
        Ok(Some(region))
    }

    /// An expectation's `pod` key: `REGION/N` or `pod:REGION/N`.
    fn pod_key(&self, s: &Place, key: &str, text: Option<&str>) -> Result<Option<PodId>> {
        let Some(text) = text else {
            return Ok(None);
        };
        let pod = parse_pod_id(text.strip_prefix("pod:").unwrap_or(text))
            .map_err(|e| s.bad(key, e.to_string(), format!("{text:?}")))?;
        self.check_pod(s, key, &pod, text)?;
        Ok(Some(pod))
    }

    /// Exactly one of `region`, `pod` (or, where allowed, `none = true`).
    fn placement(&self, s: &Place, e: &RawExpect, none_allowed: bool) -> Result<Option<Placement>> {
        let region = self.region_key(s, "region", e.region.as_deref())?;
        let pod = self.pod_key(s, "pod", e.pod.as_deref())?;
        let none = if none_allowed {
            e.none.as_ref().map(|f| f.0)
        } else {
            None
        };
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

/// Where in the file a table sits, for its errors: `""` at the top level, else e.g. `timing` or
/// `fault[2]`.
struct Place<'a> {
    file: &'a str,
    prefix: String,
}

impl Place<'_> {
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The table at `key` below this one.
    fn child(&self, key: &str) -> Self {
        Place {
            file: self.file,
            prefix: self.path(key),
        }
    }

    /// Item `index` of the array of tables at `key`.
    fn item(&self, key: &str, index: usize) -> Self {
        Place {
            file: self.file,
            prefix: self.path(&format!("{key}[{index}]")),
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

    /// A required key's value, or an error saying what it should hold.
    fn need<T>(&self, key: &str, expected: &str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| self.missing(key, expected))
    }

    /// This table read with serde.
    fn read<T: DeserializeOwned>(&self, value: Value) -> Result<T> {
        raw::read(self.file, &self.prefix, value)
    }

    /// The value at `key` read with serde, once a kind has said what type it holds.
    fn read_key<T: DeserializeOwned>(&self, key: &str, value: Value) -> Result<T> {
        raw::read(self.file, &self.path(key), value)
    }

    /// Fails on the first key (in name order) not in `allowed`: a fault's or expectation's kind
    /// decides its keys, which serde's derive cannot express.
    fn check_keys(&self, table: &Table, allowed: &[&str]) -> Result<()> {
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(InvalidScenario::UnknownKey {
                file: self.file.to_owned(),
                line: None,
                path: self.path(key),
                allowed: allowed.join(", "),
            }),
        }
    }

    /// A fault's or expectation's `kind`: a string among `kinds`.
    fn kind(&self, table: &Table, kinds: &[&str], what: &str) -> Result<String> {
        let expected = format!("{what}: one of {}", kinds.join(", "));
        match table.get("kind") {
            None => Err(self.missing("kind", expected)),
            Some(Value::String(kind)) if kinds.contains(&kind.as_str()) => Ok(kind.clone()),
            Some(other) => Err(self.bad("kind", expected, describe(other))),
        }
    }
}

/// How a value checked by hand is shown in errors: its type and, when short, the value.
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

fn parse_timing(top: &Place, raw: Option<RawTiming>) -> Result<Timing> {
    let default = Timing::default();
    let Some(t) = raw else {
        return Ok(default);
    };
    let s = top.child("timing");
    // Periods and deadlines must be positive; a zero latency is allowed.
    let positive = |key: &str, value: Option<Dur>, default: Duration| -> Result<Duration> {
        match value {
            Some(Dur(d)) if d.is_zero() => Err(s.bad(key, "a duration above 0s", "\"0s\"")),
            Some(Dur(d)) => Ok(d),
            None => Ok(default),
        }
    };
    Ok(Timing {
        lease_duration: positive("lease_duration", t.lease_duration, default.lease_duration)?,
        renew_deadline: positive("renew_deadline", t.renew_deadline, default.renew_deadline)?,
        retry_period: positive("retry_period", t.retry_period, default.retry_period)?,
        health_interval: positive(
            "health_interval",
            t.health_interval,
            default.health_interval,
        )?,
        health_failure_threshold: t
            .health_failure_threshold
            .map_or(default.health_failure_threshold, |n| {
                n.get(default.health_failure_threshold)
            }),
        health_success_threshold: t
            .health_success_threshold
            .map_or(default.health_success_threshold, |n| {
                n.get(default.health_success_threshold)
            }),
        failback_delay: t.failback_delay.map_or(default.failback_delay, |d| d.0),
        api_latency: t.api_latency.map_or(default.api_latency, |d| d.0),
    })
}

fn parse_node(raw: Option<RawNode>) -> NodeTiming {
    let mut node = NodeTiming::default();
    if let Some(raw) = raw {
        if let Some(Dur(d)) = raw.startup {
            node.startup = d;
        }
        if let Some(Dur(d)) = raw.sighup_delay {
            node.sighup_delay = d;
        }
    }
    node
}

fn parse_regions(top: &Place, raw: Option<Tables<RawRegion>>) -> Result<Vec<Region>> {
    let raw = raw.map(|t| t.0).unwrap_or_default();
    if raw.is_empty() {
        return Err(top.missing("region", "one or more [[region]] tables"));
    }
    let mut regions: Vec<Region> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let s = top.item("region", i);
        let name = s.need("name", "a region name like \"us-east-1\"", r.name)?;
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
        let priority = s.need(
            "priority",
            "an integer from 1 to 999 (1 is the most preferred)",
            r.priority,
        )?;
        regions.push(Region {
            name,
            priority: priority.get(1),
            pods: r.pods.map_or(3, |n| n.get(3)),
            forge_state: r.forge_state.map_or(ForgeState::PriorityBased, |f| f.0),
            healthy: r.healthy.is_none_or(|f| f.0),
        });
    }
    Ok(regions)
}
