//! Discovery and OpenAPI documents: `/version`, aggregated discovery (`apidiscovery.k8s.io/v2`)
//! and legacy discovery on `/api` and `/apis`, `APIResourceList`s, and the minimal OpenAPI v3
//! index and per-group-version documents that let `kubectl apply` validate server-side.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::resources::{ResourceType, discovery_entry, legacy_entries};

/// Media type of an aggregated discovery answer.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the `Accept` header asks for aggregated discovery v2.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p = part.replace(' ', "");
        p.contains("as=APIGroupDiscoveryList") && p.contains("v=v2") && !p.contains("v=v2beta1")
    })
}

/// The `/version` answer. Minor 33 lets Google's kubectl dispatcher pick a kubectl it ships.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-forge-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Resource types grouped as group → version → resources, in a fixed order.
fn grouped(types: &[ResourceType]) -> BTreeMap<&str, BTreeMap<&str, Vec<&ResourceType>>> {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<&ResourceType>>> = BTreeMap::new();
    for rt in types {
        groups
            .entry(rt.group.as_str())
            .or_default()
            .entry(rt.version.as_str())
            .or_default()
            .push(rt);
    }
    groups
}

fn group_discovery(name: &str, versions: &BTreeMap<&str, Vec<&ResourceType>>) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|(v, rts)| json!({"version": v, "resources": rts.iter().map(|rt| discovery_entry(rt)).collect::<Vec<_>>(), "freshness": "Current"}))
        .collect();
    json!({"metadata": {"name": name, "creationTimestamp": null}, "versions": versions})
}

/// Aggregated discovery of the core group (`/api`) or of all named groups (`/apis`).
pub fn aggregated(types: &[ResourceType], core: bool) -> Value {
    let items: Vec<Value> = grouped(types)
        .iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| group_discovery(g, versions))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// Legacy `/api`: `APIVersions`.
pub fn legacy_core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})
}

fn api_group(name: &str, versions: &BTreeMap<&str, Vec<&ResourceType>>) -> Value {
    let list: Vec<Value> = versions
        .keys()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = list.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": list, "preferredVersion": preferred})
}

/// Legacy `/apis`: `APIGroupList`.
pub fn legacy_groups(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = grouped(types)
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| api_group(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: `APIGroup`, if served.
pub fn legacy_group(types: &[ResourceType], group: &str) -> Option<Value> {
    let groups = grouped(types);
    let versions = groups.get(group)?;
    let mut g = api_group(group, versions);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

/// `/api/v1` or `/apis/{group}/{version}`: `APIResourceList`, if served.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let rts: Vec<&ResourceType> = types
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
        .collect();
    if rts.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = rts.iter().flat_map(|rt| legacy_entries(rt)).collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// OpenAPI path key of a group-version: `api/v1` or `apis/{g}/{v}`.
fn openapi_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group-version.
pub fn openapi_index(types: &[ResourceType]) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, versions) in grouped(types) {
        for v in versions.keys() {
            let key = openapi_key(g, v);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=0")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{api/v1 | apis/g/v}`: for each resource a PATCH operation carrying its
/// group-version-kind and the `fieldValidation` parameter, which tells kubectl the server
/// validates fields itself (so it skips client-side schema validation).
pub fn openapi_document(types: &[ResourceType], key: &str) -> Option<Value> {
    let rts: Vec<&ResourceType> = types
        .iter()
        .filter(|rt| openapi_key(&rt.group, &rt.version) == key)
        .collect();
    if rts.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    for rt in rts {
        let prefix = format!("/{key}");
        let item = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{prefix}/{}/{{name}}", rt.plural)
        };
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(item, json!({"patch": op}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0-forge-sim"},
        "paths": paths,
        "components": {},
    }))
}
