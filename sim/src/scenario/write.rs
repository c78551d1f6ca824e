//! [`Scenario`] → scenario file text, every key written out in the contract's order, so a chaos run
//! that fails prints a file reproducing it (`forge-sim run FILE`).

use std::fmt::Write as _;
use std::time::Duration;

use forge_manager::config::duration::format_duration;

use super::{ApiErrorAnswer, Expect, Fault, FaultAction, Placement, Scenario, Window};

/// The whole file.
pub(super) fn write(s: &Scenario) -> String {
    let mut out = String::new();
    line(&mut out, "name", &quote(&s.name));
    line(&mut out, "description", &quote(&s.description));
    // Seeds in files are TOML integers (0..=i64::MAX); a larger one cannot be written back.
    debug_assert!(
        i64::try_from(s.seed).is_ok(),
        "seed above i64::MAX cannot round-trip"
    );
    line(&mut out, "seed", &s.seed.to_string());
    line(&mut out, "duration", &dur(s.duration));
    line(&mut out, "network", &quote(&s.network));
    line(&mut out, "pool", &quote(&s.pool));
    line(
        &mut out,
        "cluster_management",
        &s.cluster_management.to_string(),
    );
    line(&mut out, "shared_api", &s.shared_api.to_string());
    line(&mut out, "slot_length", &dur(s.slot_length));
    if s.tick != super::DEFAULT_TICK {
        line(&mut out, "tick", &dur(s.tick));
    }

    let t = &s.timing;
    out.push_str("\n[timing]\n");
    line(&mut out, "lease_duration", &dur(t.lease_duration));
    line(&mut out, "renew_deadline", &dur(t.renew_deadline));
    line(&mut out, "retry_period", &dur(t.retry_period));
    line(&mut out, "health_interval", &dur(t.health_interval));
    line(
        &mut out,
        "health_failure_threshold",
        &t.health_failure_threshold.to_string(),
    );
    line(
        &mut out,
        "health_success_threshold",
        &t.health_success_threshold.to_string(),
    );
    line(&mut out, "failback_delay", &dur(t.failback_delay));
    line(&mut out, "api_latency", &dur(t.api_latency));

    out.push_str("\n[node]\n");
    line(&mut out, "startup", &dur(s.node.startup));
    line(&mut out, "sighup_delay", &dur(s.node.sighup_delay));

    for r in &s.regions {
        out.push_str("\n[[region]]\n");
        line(&mut out, "name", &quote(&r.name));
        line(&mut out, "priority", &r.priority.to_string());
        line(&mut out, "pods", &r.pods.to_string());
        line(&mut out, "forge_state", &quote(r.forge_state.as_str()));
        line(&mut out, "healthy", &r.healthy.to_string());
    }
    for f in &s.faults {
        out.push_str("\n[[fault]]\n");
        write_fault(&mut out, f);
    }
    for e in &s.expects {
        out.push_str("\n[[expect]]\n");
        write_expect(&mut out, e);
    }
    out
}

fn write_fault(out: &mut String, f: &Fault) {
    line(out, "at", &dur(f.at));
    line(out, "kind", &quote(f.action.kind()));
    match &f.action {
        FaultAction::Partition { between } | FaultAction::Heal { between } => {
            line(
                out,
                "between",
                &pair(&between[0].to_string(), &between[1].to_string()),
            );
        }
        FaultAction::Latency { between, latency } => {
            line(
                out,
                "between",
                &pair(&between[0].to_string(), &between[1].to_string()),
            );
            line(out, "latency", &dur(*latency));
        }
        FaultAction::Crash { target }
        | FaultAction::Shutdown { target }
        | FaultAction::NodeRestart { target } => line(out, "target", &quote(&target.to_string())),
        FaultAction::Restart { target } | FaultAction::RotateSecret { target } => {
            line(out, "target", &quote(&target.to_string()));
        }
        FaultAction::NodeSlow {
            target,
            sighup_delay,
        } => {
            line(out, "target", &quote(&target.to_string()));
            line(out, "sighup_delay", &dur(*sighup_delay));
        }
        FaultAction::Pause { target, for_ } | FaultAction::Freeze { target, for_ } => {
            line(out, "target", &quote(&target.to_string()));
            line(out, "for", &dur(*for_));
        }
        FaultAction::Skew { target, offset_ms } => {
            line(out, "target", &quote(&target.to_string()));
            let magnitude = format_duration(Duration::from_millis(offset_ms.unsigned_abs()));
            let sign = if *offset_ms < 0 { "-" } else { "" };
            line(out, "offset", &quote(&format!("{sign}{magnitude}")));
        }
        FaultAction::Drift { target, ppm } => {
            line(out, "target", &quote(&target.to_string()));
            line(out, "ppm", &ppm.to_string());
        }
        FaultAction::ApiDown { target } | FaultAction::ApiUp { target } => {
            line(out, "target", &quote(&target.to_string()));
        }
        FaultAction::ApiErrors {
            target,
            answer,
            count,
        } => {
            line(out, "target", &quote(&target.to_string()));
            line(out, "answer", &quote(answer.as_str()));
            line(out, "count", &count.to_string());
            if let ApiErrorAnswer::Throttle { retry_after } = answer {
                line(out, "retry_after", &dur(*retry_after));
            }
        }
        FaultAction::Health { healthy, .. } => {
            line(out, "target", &quote(&f.action.target_text()));
            line(out, "healthy", &healthy.to_string());
        }
        FaultAction::Flap { period, until, .. } => {
            line(out, "target", &quote(&f.action.target_text()));
            line(out, "period", &dur(*period));
            line(out, "until", &dur(*until));
        }
        FaultAction::Patch { spec, .. } => {
            line(out, "target", &quote(&f.action.target_text()));
            line(out, "spec", &json_to_toml(spec).to_string());
        }
        FaultAction::DeleteLease {
            target,
            lease,
            force,
        } => {
            line(out, "target", &quote(&target.to_string()));
            line(out, "lease", &quote(lease.as_str()));
            if *force {
                line(out, "force", "true");
            }
        }
    }
}

fn write_expect(out: &mut String, e: &Expect) {
    line(out, "kind", &quote(e.kind()));
    match e {
        Expect::Forger { at, who } => {
            line(out, "at", &dur(*at));
            match who {
                Some(who) => placement(out, who),
                None => line(out, "none", "true"),
            }
        }
        Expect::ForgerBy { by, who, to } => {
            line(out, "by", &dur(*by));
            placement(out, who);
            if let Some(to) = to {
                line(out, "to", &dur(*to));
            }
        }
        Expect::MaxGap { value, window } => {
            line(out, "value", &dur(*value));
            write_window(out, window);
        }
        Expect::MaxHandovers { value, window } | Expect::MaxMissedSlots { value, window } => {
            line(out, "value", &value.to_string());
            write_window(out, window);
        }
        Expect::NoForgerIn { region, from, to } => {
            line(out, "region", &quote(region));
            line(out, "from", &dur(*from));
            line(out, "to", &dur(*to));
        }
        Expect::Credentials {
            target,
            at,
            present,
        } => {
            line(out, "target", &quote(&format!("pod:{target}")));
            line(out, "at", &dur(*at));
            line(out, "present", &present.to_string());
        }
        Expect::Coverage { min, window } => {
            line(out, "min", &toml::Value::Float(*min).to_string());
            write_window(out, window);
        }
        Expect::MaxResidual { value } | Expect::MaxNodeExits { value } => {
            line(out, "value", &value.to_string());
        }
        Expect::MaxApiRequests {
            value,
            target,
            window,
        } => {
            line(out, "value", &value.to_string());
            line(out, "target", &quote(&target.to_string()));
            write_window(out, window);
        }
    }
}

fn placement(out: &mut String, who: &Placement) {
    match who {
        Placement::Region(region) => line(out, "region", &quote(region)),
        Placement::Pod(pod) => line(out, "pod", &quote(&pod.to_string())),
    }
}

fn write_window(out: &mut String, window: &Window) {
    if let Some(from) = window.from {
        line(out, "from", &dur(from));
    }
    if let Some(to) = window.to {
        line(out, "to", &dur(to));
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{key} = {value}");
}

/// A TOML string literal (escaped as TOML requires).
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn dur(d: Duration) -> String {
    quote(&format_duration(d))
}

fn pair(a: &str, b: &str) -> String {
    format!("[{}, {}]", quote(a), quote(b))
}

/// JSON (as produced by the parser from TOML) → an inline TOML value.
fn json_to_toml(value: &serde_json::Value) -> toml::Value {
    match value {
        serde_json::Value::Null => toml::Value::String(String::new()),
        serde_json::Value::Bool(b) => toml::Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => toml::Value::String(s.clone()),
        serde_json::Value::Array(items) => {
            toml::Value::Array(items.iter().map(json_to_toml).collect())
        }
        serde_json::Value::Object(map) => toml::Value::Table(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_toml(v)))
                .collect(),
        ),
    }
}
