//! Structural-schema checks of custom resources, as the Kubernetes API server does them for a CRD's
//! `openAPIV3Schema`: pruning of unknown fields, defaulting, then validation (type, enum, required,
//! minimum/maximum, pattern, maxLength, format date-time), collecting every problem with its path.
//!
//! Only the subset of OpenAPI the CRDs of this project (and ordinary CRDs) use is understood;
//! anything else in a schema is ignored, never rejected.

use serde_json::{Map, Value};

use super::status::FieldError;

/// Result of [`check`]: the problems found and the unknown fields seen (already pruned).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Validation errors, in field order.
    pub errors: Vec<FieldError>,
    /// Paths of fields not declared in the schema (removed from the object).
    pub unknown_fields: Vec<String>,
}

/// Prunes, defaults and validates `object` (a whole custom resource) against `schema` (the CRD's
/// `openAPIV3Schema`). `apiVersion`, `kind` and `metadata` at the root are the server's business
/// and are left alone.
pub fn check(object: &mut Value, schema: &Value) -> Outcome {
    let mut outcome = Outcome::default();
    let Some(root) = object.as_object_mut() else {
        outcome.errors.push(FieldError {
            reason: "FieldValueTypeInvalid",
            field: "<root>".into(),
            detail: "must be an object".into(),
        });
        return outcome;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    let preserve = preserves_unknown(schema);
    let keys: Vec<String> = root.keys().cloned().collect();
    for key in keys {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(&key)) {
            Some(sub) => {
                drop_null_if_not_nullable(root, &key, Some(sub));
                if let Some(child) = root.get_mut(&key) {
                    walk(child, sub, &key, &mut outcome);
                }
            }
            None if preserve => {}
            None => {
                root.remove(&key);
                outcome.unknown_fields.push(key);
            }
        }
    }
    apply_defaults(root, schema, "", &mut outcome);
    check_required(root, schema, "", &mut outcome);
    outcome
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Kubernetes prunes `null` values of fields that are not nullable before defaulting.
fn drop_null_if_not_nullable(map: &mut Map<String, Value>, key: &str, schema: Option<&Value>) {
    if map.get(key).is_some_and(Value::is_null) && !schema.is_some_and(nullable) {
        map.remove(key);
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn apply_defaults(map: &mut Map<String, Value>, schema: &Value, path: &str, outcome: &mut Outcome) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, sub) in props {
        if map.contains_key(key) {
            continue;
        }
        if let Some(default) = sub.get("default") {
            let mut value = default.clone();
            walk(&mut value, sub, &child_path(path, key), outcome);
            map.insert(key.clone(), value);
        }
    }
}

fn check_required(map: &Map<String, Value>, schema: &Value, path: &str, outcome: &mut Outcome) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                outcome.errors.push(FieldError {
                    reason: "FieldValueRequired",
                    field: child_path(path, key),
                    detail: "Required value".into(),
                });
            }
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `value` rendered the way Kubernetes quotes it in messages.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn invalid(outcome: &mut Outcome, path: &str, value: &Value, why: String) {
    outcome.errors.push(FieldError {
        reason: "FieldValueInvalid",
        field: path.to_owned(),
        detail: format!("Invalid value: {}: {why}", shown(value)),
    });
}

fn walk(value: &mut Value, schema: &Value, path: &str, outcome: &mut Outcome) {
    if value.is_null() {
        if !nullable(schema) {
            invalid(
                outcome,
                path,
                value,
                format!("{path} in body must not be null"),
            );
        }
        return;
    }
    let expected = schema.get("type").and_then(Value::as_str);
    if let Some(expected) = expected {
        let actual = type_name(value);
        let ok = actual == expected
            || (expected == "number" && actual == "integer")
            || (expected == "integer" && value.as_f64().is_some_and(|f| f.fract() == 0.0));
        if !ok {
            invalid(
                outcome,
                path,
                &Value::String(actual.to_owned()),
                format!("{path} in body must be of type {expected}: {actual:?}"),
            );
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list = allowed.iter().map(shown).collect::<Vec<_>>().join(", ");
        outcome.errors.push(FieldError {
            reason: "FieldValueNotSupported",
            field: path.to_owned(),
            detail: format!(
                "Unsupported value: {}: supported values: {list}",
                shown(value)
            ),
        });
    }
    match value {
        Value::Object(map) => walk_object(map, schema, path, outcome),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), outcome);
                }
            }
        }
        Value::String(s) => check_string(s, schema, path, outcome),
        Value::Number(n) => check_number(n, schema, path, outcome),
        Value::Bool(_) | Value::Null => {}
    }
}

fn walk_object(map: &mut Map<String, Value>, schema: &Value, path: &str, outcome: &mut Outcome) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    let preserve = preserves_unknown(schema)
        || schema.get("additionalProperties").and_then(Value::as_bool) == Some(true);
    if props.is_none() && additional.is_none() && !preserve && schema.get("type").is_none() {
        // A schema that says nothing about the object: accept as is.
        return;
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let sub = props.and_then(|p| p.get(&key)).or(additional);
        match sub {
            Some(sub) => {
                drop_null_if_not_nullable(map, &key, Some(sub));
                if let Some(child) = map.get_mut(&key) {
                    walk(child, sub, &child_path(path, &key), outcome);
                }
            }
            None if preserve => {}
            None => {
                map.remove(&key);
                outcome.unknown_fields.push(child_path(path, &key));
            }
        }
    }
    apply_defaults(map, schema, path, outcome);
    check_required(map, schema, path, outcome);
}

fn check_string(s: &str, schema: &Value, path: &str, outcome: &mut Outcome) {
    let value = Value::String(s.to_owned());
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && s.chars().count() as u64 > max
    {
        outcome.errors.push(FieldError {
            reason: "FieldValueTooLong",
            field: path.to_owned(),
            detail: format!("Too long: may not be more than {max} bytes"),
        });
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && (s.chars().count() as u64) < min
    {
        invalid(
            outcome,
            path,
            &value,
            format!("{path} in body should be at least {min} chars long"),
        );
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => invalid(
                outcome,
                path,
                &value,
                format!("{path} in body should match '{pattern}'"),
            ),
            Ok(_) => {}
            // An unusable pattern in a stored CRD: Kubernetes would have refused the CRD; we skip.
            Err(_) => {}
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && s.parse::<jiff::Timestamp>().is_err()
    {
        invalid(
            outcome,
            path,
            &value,
            format!("{path} in body must be of type date-time: {s:?}"),
        );
    }
}

fn check_number(n: &serde_json::Number, schema: &Value, path: &str, outcome: &mut Outcome) {
    let Some(v) = n.as_f64() else { return };
    let value = Value::Number(n.clone());
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && v < min
    {
        invalid(
            outcome,
            path,
            &value,
            format!(
                "{path} in body should be greater than or equal to {}",
                bound_json(min)
            ),
        );
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && v > max
    {
        invalid(
            outcome,
            path,
            &value,
            format!(
                "{path} in body should be less than or equal to {}",
                bound_json(max)
            ),
        );
    }
}

/// A bound printed without `.0` when integral.
fn bound_json(bound: f64) -> Value {
    if bound.fract() == 0.0 && bound.abs() < 9.0e15 {
        // Exact: |bound| < 2^53.
        Value::from(bound as i64)
    } else {
        Value::from(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 5},
            "state": {"type": "string", "enum": ["On", "Priority-based"], "default": "Priority-based"},
            "priority": {"type": "integer", "minimum": 1, "maximum": 999, "default": 100},
            "region": {"type": "string", "nullable": true, "pattern": "^[a-z]{2,4}$"},
            "at": {"type": "string", "format": "date-time"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}}
        }}}})
    }

    #[test]
    fn defaults_are_applied_and_unknown_fields_pruned() {
        let mut obj = json!({"kind": "X", "metadata": {"name": "a"}, "spec": {"name": "n", "bogus": 1, "free": {"x": 1}, "headers": {"a": "b"}}, "top": 1});
        let outcome = check(&mut obj, &schema());
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(
            outcome.unknown_fields,
            vec!["spec.bogus".to_owned(), "top".to_owned()]
        );
        assert_eq!(obj["spec"]["state"], "Priority-based");
        assert_eq!(obj["spec"]["priority"], 100);
        assert_eq!(obj["spec"]["free"]["x"], 1);
    }

    #[test]
    fn every_violation_names_its_field() {
        let mut obj = json!({"spec": {"name": "toolong", "state": "Off", "priority": 0, "region": "US", "at": "soon", "headers": {"a": 1}}});
        let outcome = check(&mut obj, &schema());
        let messages: Vec<String> = outcome.errors.iter().map(FieldError::message).collect();
        assert!(messages.contains(&"spec.state: Unsupported value: \"Off\": supported values: \"On\", \"Priority-based\"".to_owned()), "{messages:#?}");
        assert!(messages.contains(&"spec.priority: Invalid value: 0: spec.priority in body should be greater than or equal to 1".to_owned()), "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.name: Too long"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.region: Invalid value: \"US\""))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.at: Invalid value"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.headers.a: Invalid value"))
        );
        assert_eq!(messages.len(), 6, "{messages:#?}");
    }

    #[test]
    fn null_values_of_non_nullable_fields_are_pruned_and_then_defaulted() {
        let mut obj = json!({"spec": {"name": "n", "priority": null, "region": null}});
        let outcome = check(&mut obj, &schema());
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(obj["spec"]["priority"], 100, "null pruned, then defaulted");
        assert!(
            obj["spec"]["region"].is_null() && obj["spec"].get("region").is_some(),
            "nullable keeps null"
        );
    }

    #[test]
    fn missing_required_field_is_reported() {
        let mut obj = json!({"spec": {}});
        let outcome = check(&mut obj, &schema());
        assert_eq!(outcome.errors[0].message(), "spec.name: Required value");
    }
}
