//! Built-in workloads: apps/v1 StatefulSets, as far as the operations guide's kubectl commands need
//! them (get, scale, strategic and JSON merge patches, `rollout restart`, `rollout status`).
//!
//! There are no pods: an instant controller fills the status on every write (every replica ready
//! and at the template's revision at once), so `kubectl rollout status` reports completion as soon
//! as the write is stored. The strategic merge knows the merge keys of the pod template's lists.

use serde_json::{Map, Value, json};

use super::resources::{APPS_GROUP, ResourceType, STATEFULSETS};

/// Whether `rt` is the StatefulSet resource.
pub fn is_statefulset(rt: &ResourceType) -> bool {
    rt.group == APPS_GROUP && rt.plural == STATEFULSETS
}

/// Defaults the real API server sets (those kubectl reads back) and the checks it would refuse
/// an object for; returns `(field, problem)` pairs.
pub fn admit(object: &mut Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let spec = &mut object["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec["replicas"].is_null() {
        spec["replicas"] = json!(1);
    }
    match spec["replicas"].as_i64() {
        Some(n) if n >= 0 => {}
        _ => problems.push((
            "spec.replicas".into(),
            "Invalid value: must be greater than or equal to 0".into(),
        )),
    }
    for (field, default) in [
        ("podManagementPolicy", json!("OrderedReady")),
        ("revisionHistoryLimit", json!(10)),
        (
            "updateStrategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
        ),
    ] {
        if spec[field].is_null() {
            spec[field] = default;
        }
    }
    let selector = spec["selector"]["matchLabels"].as_object().cloned();
    let labels = spec["template"]["metadata"]["labels"].as_object().cloned();
    match (selector, labels) {
        (None, _) => problems.push(("spec.selector".into(), "Required value".into())),
        (Some(sel), labels) => {
            let matches = sel
                .iter()
                .all(|(k, v)| labels.as_ref().and_then(|l| l.get(k)) == Some(v));
            if !matches {
                problems.push((
                    "spec.template.metadata.labels".into(),
                    "Invalid value: `selector` does not match template `labels`".into(),
                ));
            }
        }
    }
    let pod = &spec["template"]["spec"];
    if pod["containers"].as_array().is_none_or(Vec::is_empty) {
        problems.push((
            "spec.template.spec.containers".into(),
            "Required value".into(),
        ));
    }
    for list in ["initContainers", "containers"] {
        for (i, c) in pod[list].as_array().into_iter().flatten().enumerate() {
            for field in ["name", "image"] {
                if c[field].as_str().is_none_or(str::is_empty) {
                    problems.push((
                        format!("spec.template.spec.{list}[{i}].{field}"),
                        "Required value".into(),
                    ));
                }
            }
        }
    }
    problems
}

/// The revision name of the current template: `{name}-{hash}`, like a ControllerRevision's.
fn revision(object: &Value) -> String {
    // FNV-1a over the template's JSON (serde_json keeps keys sorted: stable).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in object["spec"]["template"].to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    format!("{name}-{:010x}", h & 0xff_ffff_ffff)
}

/// The instant controller: the status a StatefulSet controller reports once every pod of the
/// current template is ready (the object's `metadata.generation` must already be final).
pub fn observe(object: &mut Value) {
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let revision = revision(object);
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    object["status"] = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
}

/// The `autoscaling/v1` Scale view of a StatefulSet (the `/scale` subresource).
pub fn scale_of(object: &Value) -> Value {
    let selector = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"]},
        "status": {"replicas": object["status"]["replicas"], "selector": selector},
    })
}

/// The merge key of a list field of a pod template (`patchMergeKey` in the Kubernetes types);
/// `None`: the list is replaced as a whole, as in a JSON merge patch.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "hostAliases" => Some("ip"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// A strategic merge patch (`application/strategic-merge-patch+json`) of a StatefulSet: maps
/// merge, `null` deletes, lists with a merge key merge item by item (`"$patch": "delete"` removes
/// one), other lists are replaced; `$setElementOrder/…` and `$retainKeys` directives are ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if patch_map.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch_map.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else {
        return;
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Array(items) => match (merge_key(key), map.get_mut(key)) {
                (Some(mk), Some(Value::Array(existing))) => merge_list(existing, items, mk),
                _ => {
                    let mut fresh = Vec::new();
                    if let Some(mk) = merge_key(key) {
                        merge_list(&mut fresh, items, mk);
                    } else {
                        fresh.clone_from(items);
                    }
                    map.insert(key.clone(), Value::Array(fresh));
                }
            },
            Value::Object(_) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], merge_key: &str) {
    for item in items {
        let key = item.get(merge_key).filter(|k| !k.is_null());
        let Some(key) = key else {
            existing.push(item.clone());
            continue;
        };
        let at = existing.iter().position(|e| e.get(merge_key) == Some(key));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (at, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                existing.push(fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_merges_containers_and_env_by_name() {
        let mut sts = json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "cardano-forge-manager", "image": "fm:1",
                "env": [{"name": "A", "value": "1"}, {"name": "ENABLE_CLUSTER_MANAGEMENT", "value": "true"}]}],
            "containers": [{"name": "cardano-node", "image": "node:1"}]}}}});
        strategic_merge(
            &mut sts,
            &json!({"spec": {"template": {"spec": {"initContainers": [
                {"name": "cardano-forge-manager", "env": [{"name": "ENABLE_CLUSTER_MANAGEMENT", "value": "false"}]}]}}}}),
        );
        let init = &sts["spec"]["template"]["spec"]["initContainers"][0];
        assert_eq!(init["image"], "fm:1");
        assert_eq!(
            init["env"],
            json!([{"name": "A", "value": "1"}, {"name": "ENABLE_CLUSTER_MANAGEMENT", "value": "false"}])
        );
        assert_eq!(
            sts["spec"]["template"]["spec"]["containers"][0]["name"],
            "cardano-node"
        );
        strategic_merge(
            &mut sts,
            &json!({"spec": {"template": {"spec": {"containers": [
                {"name": "cardano-node", "$patch": "delete"}], "initContainers": null}}}}),
        );
        assert_eq!(sts["spec"]["template"]["spec"], json!({"containers": []}));
    }

    #[test]
    fn the_status_follows_the_template_revision_and_generation() {
        let mut sts = json!({"metadata": {"name": "bp", "generation": 2},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"a": "b"}}}}});
        observe(&mut sts);
        let first = sts["status"]["updateRevision"].clone();
        assert_eq!(sts["status"]["observedGeneration"], 2);
        assert_eq!(sts["status"]["readyReplicas"], 3);
        sts["spec"]["template"]["metadata"]["annotations"] = json!({"restartedAt": "now"});
        observe(&mut sts);
        assert_ne!(sts["status"]["updateRevision"], first);
        assert_eq!(
            sts["status"]["currentRevision"],
            sts["status"]["updateRevision"]
        );
    }
}
