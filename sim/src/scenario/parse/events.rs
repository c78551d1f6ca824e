//! `[[fault]]` and `[[expect]]` tables: each kind's keys, its targets checked against the declared
//! world, and a `patch`'s spec checked and turned into JSON.

use super::*;

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
        _ => &["target"],
    }
}

pub(super) fn parse_fault(s: &Section, world: &World) -> Result<Fault> {
    let at = world.required_instant(s, "at")?;
    let kinds = FAULT_KINDS.join(", ");
    let kind = s.required(
        "kind",
        &format!("a fault kind: one of {kinds}"),
        Section::string,
    )?;
    if !FAULT_KINDS.contains(&kind.as_str()) {
        return Err(s.bad(
            "kind",
            format!("a fault kind: one of {kinds}"),
            format!("{kind:?}"),
        ));
    }
    let mut allowed = vec!["at", "kind"];
    allowed.extend_from_slice(fault_keys(&kind));
    s.check_keys(&allowed)?;
    let positive = |key: &str| -> Result<Duration> {
        let d = s.required(key, DURATION_EXPECTED, Section::duration)?;
        if d.is_zero() {
            return Err(s.bad(key, "a duration above 0s", "\"0s\""));
        }
        Ok(d)
    };
    let health_region = || -> Result<String> {
        let what = "a health target (health:REGION)";
        match world.required_target(s, "target", HEALTH, what)? {
            Target::Health(region) => Ok(region),
            other => Err(s.bad("target", what, format!("{:?}", other.to_string()))),
        }
    };
    let action = match kind.as_str() {
        "partition" => FaultAction::Partition {
            between: world.between(s)?,
        },
        "heal" => FaultAction::Heal {
            between: world.between(s)?,
        },
        "latency" => FaultAction::Latency {
            between: world.between(s)?,
            latency: s.required("latency", DURATION_EXPECTED, Section::duration)?,
        },
        "crash" => FaultAction::Crash {
            target: world.pod_ref(s, "target")?,
        },
        "shutdown" => FaultAction::Shutdown {
            target: world.pod_ref(s, "target")?,
        },
        "node-restart" => FaultAction::NodeRestart {
            target: world.pod_ref(s, "target")?,
        },
        "restart" => FaultAction::Restart {
            target: world.required_target(
                s,
                "target",
                POD_OR_REGION,
                "a pod target or region:REGION",
            )?,
        },
        "rotate-secret" => FaultAction::RotateSecret {
            target: world.required_target(
                s,
                "target",
                POD_OR_REGION,
                "a pod target or region:REGION",
            )?,
        },
        "pause" => FaultAction::Pause {
            target: world.pod_ref(s, "target")?,
            for_: positive("for")?,
        },
        "freeze" => FaultAction::Freeze {
            target: world.pod_ref(s, "target")?,
            for_: positive("for")?,
        },
        "node-slow" => FaultAction::NodeSlow {
            target: world.pod_ref(s, "target")?,
            sighup_delay: s.required("sighup_delay", DURATION_EXPECTED, Section::duration)?,
        },
        "skew" => FaultAction::Skew {
            target: world.pod_ref(s, "target")?,
            offset_ms: s.required(
                "offset",
                "a signed duration string like \"-30s\"",
                Section::signed_ms,
            )?,
        },
        "drift" => FaultAction::Drift {
            target: world.pod_ref(s, "target")?,
            ppm: s.required("ppm", "an integer (parts per million, signed)", |s, k| {
                s.integer(k, -1_000_000, 1_000_000)
            })?,
        },
        "api-down" => FaultAction::ApiDown {
            target: world.api(s, "target")?,
        },
        "api-up" => FaultAction::ApiUp {
            target: world.api(s, "target")?,
        },
        "delete-lease" => {
            let target = world.api(s, "target")?;
            let text = s.required("lease", "\"local\" or \"global\"", Section::string)?;
            let lease = match text.as_str() {
                "local" => LeaseKind::Local,
                "global" => LeaseKind::Global,
                _ => return Err(s.bad("lease", "\"local\" or \"global\"", format!("{text:?}"))),
            };
            check_lease_server(s, world, &target, lease)?;
            let force = s.bool("force")?.unwrap_or(false);
            FaultAction::DeleteLease {
                target,
                lease,
                force,
            }
        }
        "health" => FaultAction::Health {
            region: health_region()?,
            healthy: s.required("healthy", "true or false", Section::bool)?,
        },
        "flap" => {
            let region = health_region()?;
            let period = positive("period")?;
            let until = world.required_instant(s, "until")?;
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
            let region = match world.required_target(s, "target", REGION, what)? {
                Target::Region(region) => region,
                other => return Err(s.bad("target", what, format!("{:?}", other.to_string()))),
            };
            let value = s.get("spec").ok_or_else(|| {
                s.missing("spec", "an inline table of CardanoForgeCluster spec keys")
            })?;
            FaultAction::Patch {
                region,
                spec: spec_to_json(s, value)?,
            }
        }
        _ => {
            return Err(s.bad(
                "kind",
                format!("a fault kind: one of {kinds}"),
                format!("{kind:?}"),
            ));
        }
    };
    Ok(Fault { at, action })
}

/// The global lease lives on `api:global`; a local lease on the region's own server (or on
/// `api:global` with a shared API, where the region cannot be told from the target: all of them).
pub(super) fn check_lease_server(
    s: &Section,
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

pub(super) fn parse_expect(s: &Section, world: &World) -> Result<Expect> {
    let kinds = EXPECT_KINDS.join(", ");
    let kind = s.required(
        "kind",
        &format!("an expectation kind: one of {kinds}"),
        Section::string,
    )?;
    if !EXPECT_KINDS.contains(&kind.as_str()) {
        return Err(s.bad(
            "kind",
            format!("an expectation kind: one of {kinds}"),
            format!("{kind:?}"),
        ));
    }
    let mut allowed = vec!["kind"];
    allowed.extend_from_slice(expect_keys(&kind));
    s.check_keys(&allowed)?;
    let count = |key: &str| -> Result<u64> {
        s.required(key, "a non-negative integer", |s, k| {
            s.integer(k, 0, i64::MAX)
        })
        .map(as_u64)
    };
    let expect = match kind.as_str() {
        "forger" => Expect::Forger {
            at: world.required_instant(s, "at")?,
            who: world.placement(s, true)?,
        },
        "forger-by" => {
            let by = world.required_instant(s, "by")?;
            let to = world.instant(s, "to")?;
            if let Some(to) = to.filter(|to| *to <= by) {
                return Err(s.bad(
                    "to",
                    format!("a time after by = {:?}", format_duration(by)),
                    format!("{:?}", format_duration(to)),
                ));
            }
            let who = world
                .placement(s, false)?
                .ok_or_else(|| s.missing("region", "exactly one of region or pod"))?;
            Expect::ForgerBy { by, who, to }
        }
        "max-gap" => Expect::MaxGap {
            value: s.required("value", DURATION_EXPECTED, Section::duration)?,
            window: world.window(s)?,
        },
        "max-handovers" => Expect::MaxHandovers {
            value: count("value")?,
            window: world.window(s)?,
        },
        "no-forger-in" => {
            let region = world
                .region_key(s, "region")?
                .ok_or_else(|| s.missing("region", "a region name"))?;
            let window = world.window(s)?;
            let from = window
                .from
                .ok_or_else(|| s.missing("from", "a time since the start like \"1m\""))?;
            let to = window
                .to
                .ok_or_else(|| s.missing("to", "a time since the start like \"5m\""))?;
            Expect::NoForgerIn { region, from, to }
        }
        "credentials" => {
            let text = s.required("target", "a pod target pod:REGION/N", Section::string)?;
            let what = "a pod target pod:REGION/N (expectations are judged after the run, so forger and \
                        leader:REGION cannot be resolved)";
            let Target::Pod(PodRef::Pod(target)) = world.target(s, "target", &text, POD, what)?
            else {
                return Err(s.bad("target", what, format!("{text:?}")));
            };
            Expect::Credentials {
                target,
                at: world.required_instant(s, "at")?,
                present: s.required("present", "true or false", Section::bool)?,
            }
        }
        "coverage" => {
            let expected = "a fraction from 0 to 1, e.g. 0.99";
            let min = match s.get("min") {
                None => return Err(s.missing("min", expected)),
                Some(Value::Float(f)) if (0.0..=1.0).contains(f) => *f,
                Some(Value::Integer(i)) if (0..=1).contains(i) => *i as f64,
                Some(other) => return Err(s.bad("min", expected, describe(other))),
            };
            Expect::Coverage {
                min,
                window: world.window(s)?,
            }
        }
        "max-residual" => Expect::MaxResidual {
            value: count("value")?,
        },
        "max-node-exits" => Expect::MaxNodeExits {
            value: count("value")?,
        },
        "max-api-requests" => Expect::MaxApiRequests {
            value: count("value")?,
            target: world.api(s, "target")?,
            window: world.window(s)?,
        },
        "max-missed-slots" => Expect::MaxMissedSlots {
            value: count("value")?,
            window: world.window(s)?,
        },
        _ => {
            return Err(s.bad(
                "kind",
                format!("an expectation kind: one of {kinds}"),
                format!("{kind:?}"),
            ));
        }
    };
    Ok(expect)
}

/// Checks a patch `spec` against the CardanoForgeCluster spec keys a merge patch may set.
pub(super) fn check_spec(s: &Section, value: &Value) -> Result<()> {
    let Value::Table(spec) = value else {
        return Err(s.bad(
            "spec",
            "an inline table of CardanoForgeCluster spec keys",
            describe(value),
        ));
    };
    if spec.is_empty() {
        return Err(s.bad(
            "spec",
            "at least one CardanoForgeCluster spec key",
            "an empty table",
        ));
    }
    let spec_section = Section {
        file: s.file,
        table: spec,
        prefix: s.path("spec"),
    };
    spec_section.check_keys(&["forgeState", "priority", "override", "healthCheck"])?;
    if let Some(text) = spec_section.string("forgeState")?
        && ForgeState::parse(&text).is_none()
    {
        return Err(spec_section.bad(
            "forgeState",
            "\"Enabled\", \"Disabled\" or \"Priority-based\"",
            format!("{text:?}"),
        ));
    }
    spec_section.integer("priority", 1, 999)?;
    if let Some(o) = spec_section.sub_table("override")? {
        o.check_keys(&[
            "enabled",
            "reason",
            "expiresAt",
            "forcePriority",
            "forceState",
        ])?;
        o.bool("enabled")?;
        o.string("reason")?;
        o.duration("expiresAt")?;
        o.integer("forcePriority", 1, 999)?;
        if let Some(text) = o.string("forceState")?
            && text != "Enabled"
            && text != "Disabled"
        {
            return Err(o.bad(
                "forceState",
                "\"Enabled\" or \"Disabled\"",
                format!("{text:?}"),
            ));
        }
    }
    if let Some(h) = spec_section.sub_table("healthCheck")? {
        h.check_keys(&[
            "enabled",
            "endpoint",
            "interval",
            "timeout",
            "failureThreshold",
            "headers",
        ])?;
        h.bool("enabled")?;
        h.string("endpoint")?;
        h.string("interval")?;
        h.string("timeout")?;
        h.integer("failureThreshold", 1, 10)?;
        if let Some(headers) = h.sub_table("headers")? {
            for key in headers.table.keys() {
                headers.string(key)?;
            }
        }
    }
    Ok(())
}

/// Checks a patch `spec` and converts it to the JSON merge patch the world sends.
pub(super) fn spec_to_json(s: &Section, value: &Value) -> Result<serde_json::Value> {
    check_spec(s, value)?;
    toml_to_json(value).ok_or_else(|| {
        s.bad(
            "spec",
            "strings, integers, booleans and tables only",
            describe(value),
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
