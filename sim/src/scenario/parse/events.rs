//! `[[fault]]` and `[[expect]]` tables: each kind's keys, its targets checked against the declared
//! world, and a `patch`'s spec checked and turned into JSON.

use super::raw::{Int, RawFault, RawSpec};
use super::*;
use crate::scenario::ApiErrorAnswer;

/// The keys each fault kind takes besides `at` and `kind`.
pub(super) fn fault_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "partition" | "heal" => &["between"],
        "latency" => &["between", "latency"],
        "pause" | "freeze" => &["target", "for"],
        "skew" => &["target", "offset"],
        "drift" => &["target", "ppm"],
        "health" => &["target", "healthy"],
        "flap" => &["target", "period", "until"],
        "patch" => &["target", "spec"],
        "delete-lease" => &["target", "lease", "force"],
        "node-slow" => &["target", "sighup_delay"],
        "api-errors" => &["target", "answer", "count", "retry_after"],
        _ => &["target"],
    }
}

pub(super) fn parse_fault(s: &Place, table: Table, world: &World) -> Result<Fault> {
    let kind = s.kind(&table, &FAULT_KINDS, "a fault kind")?;
    let mut allowed = vec!["at", "kind"];
    allowed.extend_from_slice(fault_keys(&kind));
    s.check_keys(&table, &allowed)?;
    let f: RawFault = s.read(Value::Table(table))?;
    let at = world.required_instant(s, "at", f.at.as_ref())?;
    let positive = |key: &str, value: Option<&Dur>| -> Result<Duration> {
        let Dur(d) = *s.need(key, DURATION_EXPECTED, value)?;
        if d.is_zero() {
            return Err(s.bad(key, "a duration above 0s", "\"0s\""));
        }
        Ok(d)
    };
    let duration = |key: &str, value: Option<&Dur>| -> Result<Duration> {
        Ok(s.need(key, DURATION_EXPECTED, value)?.0)
    };
    let target = f.target.as_deref();
    let pod = || world.pod_ref(s, "target", target);
    let pod_or_region = || {
        world.required_target(
            s,
            "target",
            target,
            POD_OR_REGION,
            "a pod target or region:REGION",
        )
    };
    let health_region = || -> Result<String> {
        let what = "a health target (health:REGION)";
        match world.required_target(s, "target", target, HEALTH, what)? {
            Target::Health(region) => Ok(region),
            other => Err(s.bad("target", what, format!("{:?}", other.to_string()))),
        }
    };
    let action = match kind.as_str() {
        "partition" => FaultAction::Partition {
            between: world.between(s, f.between.as_ref())?,
        },
        "heal" => FaultAction::Heal {
            between: world.between(s, f.between.as_ref())?,
        },
        "latency" => FaultAction::Latency {
            between: world.between(s, f.between.as_ref())?,
            latency: duration("latency", f.latency.as_ref())?,
        },
        "crash" => FaultAction::Crash { target: pod()? },
        "shutdown" => FaultAction::Shutdown { target: pod()? },
        "node-restart" => FaultAction::NodeRestart { target: pod()? },
        "restart" => FaultAction::Restart {
            target: pod_or_region()?,
        },
        "rotate-secret" => FaultAction::RotateSecret {
            target: pod_or_region()?,
        },
        "pause" => FaultAction::Pause {
            target: pod()?,
            for_: positive("for", f.for_.as_ref())?,
        },
        "freeze" => FaultAction::Freeze {
            target: pod()?,
            for_: positive("for", f.for_.as_ref())?,
        },
        "node-slow" => FaultAction::NodeSlow {
            target: pod()?,
            sighup_delay: duration("sighup_delay", f.sighup_delay.as_ref())?,
        },
        "skew" => FaultAction::Skew {
            target: pod()?,
            offset_ms: s
                .need(
                    "offset",
                    "a signed duration string like \"-30s\"",
                    f.offset.as_ref(),
                )?
                .0,
        },
        "drift" => FaultAction::Drift {
            target: pod()?,
            ppm: s
                .need(
                    "ppm",
                    "an integer (parts per million, signed)",
                    f.ppm.as_ref(),
                )?
                .0,
        },
        "api-down" => FaultAction::ApiDown {
            target: world.api(s, "target", target)?,
        },
        "api-up" => FaultAction::ApiUp {
            target: world.api(s, "target", target)?,
        },
        "api-errors" => {
            let expected = "\"500\", \"429\" or \"cut\"";
            let text = s.need("answer", expected, f.answer.as_deref())?;
            let answer = match text {
                "500" => ApiErrorAnswer::ServerError,
                "429" => ApiErrorAnswer::Throttle {
                    retry_after: f
                        .retry_after
                        .as_ref()
                        .map_or(Duration::from_secs(1), |d| d.0),
                },
                "cut" => ApiErrorAnswer::Cut,
                _ => return Err(s.bad("answer", expected, format!("{text:?}"))),
            };
            if f.retry_after.is_some() && !matches!(answer, ApiErrorAnswer::Throttle { .. }) {
                return Err(s.bad(
                    "retry_after",
                    "no retry_after unless answer = \"429\"",
                    "a duration",
                ));
            }
            FaultAction::ApiErrors {
                target: world.api(s, "target", target)?,
                answer,
                count: u64::try_from(
                    s.need("count", "an integer from 1 to 1000000", f.count.as_ref())?
                        .0,
                )
                .unwrap_or(1),
            }
        }
        "delete-lease" => {
            let target = world.api(s, "target", target)?;
            let text = s.need("lease", "\"local\" or \"global\"", f.lease.as_deref())?;
            let lease = match text {
                "local" => LeaseKind::Local,
                "global" => LeaseKind::Global,
                _ => return Err(s.bad("lease", "\"local\" or \"global\"", format!("{text:?}"))),
            };
            check_lease_server(s, world, &target, lease)?;
            let force = f.force.is_some_and(|b| b.0);
            FaultAction::DeleteLease {
                target,
                lease,
                force,
            }
        }
        "health" => FaultAction::Health {
            region: health_region()?,
            healthy: s.need("healthy", "true or false", f.healthy.as_ref())?.0,
        },
        "flap" => {
            let region = health_region()?;
            let period = positive("period", f.period.as_ref())?;
            let until = world.required_instant(s, "until", f.until.as_ref())?;
            if until <= at {
                return Err(s.bad(
                    "until",
                    format!("a time after at = {:?}", format_duration(at)),
                    format!("{:?}", format_duration(until)),
                ));
            }
            FaultAction::Flap {
                region,
                period,
                until,
            }
        }
        "patch" => {
            let what = "a region target (region:REGION)";
            let region = match world.required_target(s, "target", target, REGION, what)? {
                Target::Region(region) => region,
                other => return Err(s.bad("target", what, format!("{:?}", other.to_string()))),
            };
            let value = s.need(
                "spec",
                "an inline table of CardanoForgeCluster spec keys",
                f.spec,
            )?;
            FaultAction::Patch {
                region,
                spec: spec_to_json(s, value)?,
            }
        }
        // `kind` checked `kind` against FAULT_KINDS, and every one of them has an arm above.
        _ => return Err(s.bad("kind", "a fault kind", format!("{kind:?}"))),
    };
    Ok(Fault { at, action })
}

/// The global lease lives on `api:global`; a local lease on the region's own server (or on
/// `api:global` with a shared API, where the region cannot be told from the target: all of them).
pub(super) fn check_lease_server(
    s: &Place,
    world: &World,
    target: &ApiServer,
    lease: LeaseKind,
) -> Result<()> {
    match (lease, target) {
        (LeaseKind::Global, ApiServer::Region(_)) => Err(s.bad(
            "target",
            "api:global (the global lease lives on the coordination API server)",
            format!("{:?}", target.to_string()),
        )),
        (LeaseKind::Local, ApiServer::Global) if !world.shared_api => Err(s.bad(
            "target",
            "api:REGION (a local lease lives on its region's API server unless shared_api = true)",
            format!("{:?}", target.to_string()),
        )),
        _ => Ok(()),
    }
}

/// The keys each expectation kind takes besides `kind`.
pub(super) fn expect_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "forger" => &["at", "region", "pod", "none"],
        "forger-by" => &["by", "region", "pod", "to"],
        "max-gap" | "max-handovers" | "max-missed-slots" => &["value", "from", "to"],
        "no-forger-in" => &["region", "from", "to"],
        "credentials" => &["target", "at", "present"],
        "coverage" => &["min", "from", "to"],
        "max-api-requests" => &["value", "target", "from", "to"],
        _ => &["value"],
    }
}

pub(super) fn parse_expect(s: &Place, table: Table, world: &World) -> Result<Expect> {
    let kind = s.kind(&table, &EXPECT_KINDS, "an expectation kind")?;
    let mut allowed = vec!["kind"];
    allowed.extend_from_slice(expect_keys(&kind));
    s.check_keys(&table, &allowed)?;
    let e: RawExpect = s.read(Value::Table(table))?;
    let count = || -> Result<u64> {
        let value = s.need("value", "a non-negative integer", e.value.clone())?;
        Ok(s.read_key::<Int<0, { i64::MAX }>>("value", value)?.get(0))
    };
    let window = || world.window(s, e.from.as_ref(), e.to.as_ref());
    let expect = match kind.as_str() {
        "forger" => Expect::Forger {
            at: world.required_instant(s, "at", e.at.as_ref())?,
            who: world.placement(s, &e, true)?,
        },
        "forger-by" => {
            let by = world.required_instant(s, "by", e.by.as_ref())?;
            let to = world.instant(s, "to", e.to.as_ref())?;
            if let Some(to) = to.filter(|to| *to <= by) {
                return Err(s.bad(
                    "to",
                    format!("a time after by = {:?}", format_duration(by)),
                    format!("{:?}", format_duration(to)),
                ));
            }
            let who = world
                .placement(s, &e, false)?
                .ok_or_else(|| s.missing("region", "exactly one of region or pod"))?;
            Expect::ForgerBy { by, who, to }
        }
        "max-gap" => {
            let value = s.need("value", DURATION_EXPECTED, e.value.clone())?;
            Expect::MaxGap {
                value: s.read_key::<Dur>("value", value)?.0,
                window: window()?,
            }
        }
        "max-handovers" => Expect::MaxHandovers {
            value: count()?,
            window: window()?,
        },
        "no-forger-in" => {
            let region = world
                .region_key(s, "region", e.region.as_deref())?
                .ok_or_else(|| s.missing("region", "a region name"))?;
            let window = window()?;
            let from = window
                .from
                .ok_or_else(|| s.missing("from", "a time since the start like \"1m\""))?;
            let to = window
                .to
                .ok_or_else(|| s.missing("to", "a time since the start like \"5m\""))?;
            Expect::NoForgerIn { region, from, to }
        }
        "credentials" => {
            let text = s.need("target", "a pod target pod:REGION/N", e.target.as_deref())?;
            let what = "a pod target pod:REGION/N (expectations are judged after the run, so forger and \
                        leader:REGION cannot be resolved)";
            let Target::Pod(PodRef::Pod(target)) = world.target(s, "target", text, POD, what)?
            else {
                return Err(s.bad("target", what, format!("{text:?}")));
            };
            Expect::Credentials {
                target,
                at: world.required_instant(s, "at", e.at.as_ref())?,
                present: s.need("present", "true or false", e.present.as_ref())?.0,
            }
        }
        "coverage" => Expect::Coverage {
            min: s
                .need("min", "a fraction from 0 to 1, e.g. 0.99", e.min.as_ref())?
                .0,
            window: window()?,
        },
        "max-residual" => Expect::MaxResidual { value: count()? },
        "max-node-exits" => Expect::MaxNodeExits { value: count()? },
        "max-api-requests" => Expect::MaxApiRequests {
            value: count()?,
            target: world.api(s, "target", e.target.as_deref())?,
            window: window()?,
        },
        "max-missed-slots" => Expect::MaxMissedSlots {
            value: count()?,
            window: window()?,
        },
        // `kind` checked `kind` against EXPECT_KINDS, and every one of them has an arm above.
        _ => return Err(s.bad("kind", "an expectation kind", format!("{kind:?}"))),
    };
    Ok(expect)
}

/// Checks a patch `spec` against the CardanoForgeCluster spec keys a merge patch may set, and
/// converts it to the JSON merge patch the world sends.
pub(super) fn spec_to_json(s: &Place, value: Value) -> Result<serde_json::Value> {
    let Value::Table(spec) = &value else {
        return Err(s.bad(
            "spec",
            "an inline table of CardanoForgeCluster spec keys",
            describe(&value),
        ));
    };
    if spec.is_empty() {
        return Err(s.bad(
            "spec",
            "at least one CardanoForgeCluster spec key",
            "an empty table",
        ));
    }
    let _: RawSpec = s.read_key("spec", value.clone())?;
    toml_to_json(&value).ok_or_else(|| {
        s.bad(
            "spec",
            "strings, integers, booleans and tables only",
            describe(&value),
        )
    })
}

/// TOML → JSON; `None` for what JSON cannot hold exactly here (datetimes, non-finite floats).
pub(super) fn toml_to_json(value: &Value) -> Option<serde_json::Value> {
    Some(match value {
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Integer(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number)?,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Datetime(_) => return None,
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(toml_to_json).collect::<Option<_>>()?)
        }
        Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| Some((k.clone(), toml_to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}
