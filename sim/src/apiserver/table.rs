//! `meta.k8s.io/v1` Table answers (what `kubectl get` prints), built from a resource's printer
//! columns: simple JSONPath evaluation and Kubernetes' human-readable ages ("5m", "2d").

use serde_json::{Value, json};

use super::resources::ResourceType;

/// Media type of a Table answer.
pub const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// What a Table row carries besides its cells (`includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Evaluates a simple JSONPath such as `.status.healthStatus.healthy` or `.items[0].name`
/// (`{...}` braces allowed); `None` when a step is missing.
pub fn eval_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('.');
    let mut current = object;
    if path.is_empty() {
        return Some(current);
    }
    for step in path.split('.') {
        let (name, indexes) = match step.find('[') {
            Some(i) => (&step[..i], &step[i..]),
            None => (step, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

/// Kubernetes' `duration.HumanDuration`: "45s", "3m20s", "5m", "2h30m", "2d", "400d", "3y20d".
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{d}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn cell(object: &Value, column_type: &str, path: &str, now: jiff::Timestamp) -> Value {
    let Some(value) = eval_path(object, path) else {
        return Value::Null;
    };
    match (column_type, value) {
        ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Value::String(human_duration(now.as_second() - t.as_second())),
            Err(_) => Value::String(s.clone()),
        },
        (_, Value::Object(_) | Value::Array(_)) => Value::String(value.to_string()),
        _ => value.clone(),
    }
}

fn row_object(object: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(object.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object["metadata"].clone(),
        })),
    }
}

/// A Table of `objects` with NAME plus the resource's printer columns.
pub fn build(
    rt: &ResourceType,
    objects: &[Value],
    resource_version: u64,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let mut definitions = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    })];
    for c in &rt.columns {
        definitions.push(json!({
            "name": c.name,
            "type": if c.type_ == "date" { "string" } else { c.type_.as_str() },
            "format": "",
            "description": c.description,
            "priority": c.priority,
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            cells.extend(
                rt.columns
                    .iter()
                    .map(|c| cell(o, &c.type_, &c.json_path, now)),
            );
            let mut row = json!({"cells": cells});
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubernetes() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(60 * 150), "150m");
        assert_eq!(human_duration(3600 * 4 + 60 * 30), "4h30m");
        assert_eq!(human_duration(3600 * 30), "30h");
        assert_eq!(human_duration(3600 * 48), "2d");
        assert_eq!(human_duration(86400 * 400), "400d");
    }

    #[test]
    fn paths_are_evaluated() {
        let o = json!({"status": {"healthStatus": {"healthy": true}}, "items": [{"n": 1}]});
        assert_eq!(
            eval_path(&o, ".status.healthStatus.healthy"),
            Some(&json!(true))
        );
        assert_eq!(eval_path(&o, "{.items[0].n}"), Some(&json!(1)));
        assert_eq!(eval_path(&o, ".status.missing"), None);
    }
}
