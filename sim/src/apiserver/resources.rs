//! The resource types this server serves: the built-in ones (namespaces, events in core and in
//! events.k8s.io, leases, customresourcedefinitions, statefulsets) and one per served version of
//! every stored CRD.

use serde_json::{Value, json};

/// Group of StatefulSets.
pub const APPS_GROUP: &str = "apps";
/// Plural of StatefulSets.
pub const STATEFULSETS: &str = "statefulsets";

/// Group of CustomResourceDefinitions.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
/// Plural of CustomResourceDefinitions.
pub const CRD_PLURAL: &str = "customresourcedefinitions";

/// One printer column (`additionalPrinterColumns` entry).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// Column header, e.g. `Active Leader`.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// Simple JSONPath, e.g. `.status.healthStatus.healthy`.
    pub json_path: String,
    /// 0: always shown; >0: only with `-o wide`.
    pub priority: i64,
    /// Description (column tooltip).
    pub description: String,
}

/// Everything the server needs to know about one group/version/resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group, empty for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Plural resource name (path segment).
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// List kind.
    pub list_kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names, e.g. `cfc`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `cardano`.
    pub categories: Vec<String>,
    /// Whether `/status` is a separate subresource.
    pub status_subresource: bool,
    /// Whether `/scale` (an `autoscaling/v1` Scale) is served.
    pub scale_subresource: bool,
    /// `openAPIV3Schema` to check objects against (custom resources only); shared, because a
    /// type is cloned per request and a schema is large.
    pub schema: Option<std::sync::Arc<Value>>,
    /// Printer columns after NAME; empty means NAME and AGE.
    pub columns: Vec<PrinterColumn>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Verbs every resource here supports.
    pub fn verbs() -> Vec<&'static str> {
        vec![
            "create", "delete", "get", "list", "patch", "update", "watch",
        ]
    }
}

fn column(name: &str, type_: &str, json_path: &str, priority: i64) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        json_path: json_path.into(),
        priority,
        description: String::new(),
    }
}

#[allow(clippy::too_many_arguments)] // a table of literals reads best as one call per row
fn builtin(
    group: &str,
    plural: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    short: &[&str],
    columns: Vec<PrinterColumn>,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        plural: plural.into(),
        singular: singular.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced,
        short_names: short.iter().map(|s| (*s).to_owned()).collect(),
        categories: Vec::new(),
        status_subresource: false,
        scale_subresource: false,
        schema: None,
        columns,
    }
}

/// The resource types that exist without any CRD.
pub fn builtins() -> Vec<ResourceType> {
    vec![
        builtin(
            "",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
            vec![column("Age", "date", ".metadata.creationTimestamp", 0)],
        ),
        builtin(
            "",
            "events",
            "event",
            "Event",
            true,
            &["ev"],
            vec![column("Age", "date", ".metadata.creationTimestamp", 0)],
        ),
        // The current Events API (client-go's and kube-runtime's recorders write it).
        builtin(
            "events.k8s.io",
            "events",
            "event",
            "Event",
            true,
            &[],
            vec![
                column("Type", "string", ".type", 0),
                column("Reason", "string", ".reason", 0),
                column("Age", "date", ".metadata.creationTimestamp", 0),
            ],
        ),
        builtin(
            "coordination.k8s.io",
            "leases",
            "lease",
            "Lease",
            true,
            &[],
            vec![
                column("Holder", "string", ".spec.holderIdentity", 0),
                column("Age", "date", ".metadata.creationTimestamp", 0),
            ],
        ),
        ResourceType {
            status_subresource: true,
            scale_subresource: true,
            ..builtin(
                APPS_GROUP,
                STATEFULSETS,
                "statefulset",
                "StatefulSet",
                true,
                &["sts"],
                vec![
                    // The real server prints READY as `ready/replicas`; two columns here.
                    column("Ready", "integer", ".status.readyReplicas", 0),
                    column("Replicas", "integer", ".spec.replicas", 0),
                    column("Age", "date", ".metadata.creationTimestamp", 0),
                ],
            )
        },
        builtin(
            CRD_GROUP,
            CRD_PLURAL,
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
            vec![column(
                "Created At",
                "string",
                ".metadata.creationTimestamp",
                0,
            )],
        ),
    ]
}

/// Checks the parts of a CRD this server relies on; returns `(field, problem)` pairs.
pub fn crd_problems(crd: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let spec = &crd["spec"];
    for field in ["group", "names.plural", "names.kind", "scope"] {
        let value = field.split('.').fold(spec, |v, k| &v[k]);
        if !value.is_string() {
            problems.push((format!("spec.{field}"), "Required value".to_owned()));
        }
    }
    if spec["versions"].as_array().is_none_or(Vec::is_empty) {
        problems.push((
            "spec.versions".into(),
            "Required value: must have exactly one version marked as storage version".into(),
        ));
    }
    if let (Some(plural), Some(group), Some(name)) = (
        spec["names"]["plural"].as_str(),
        spec["group"].as_str(),
        crd["metadata"]["name"].as_str(),
    ) && name != format!("{plural}.{group}")
    {
        problems.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    problems
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The resource types a stored CRD serves (one per served version).
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        names["plural"].as_str(),
        names["kind"].as_str(),
    ) else {
        return Vec::new();
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .filter_map(|v| {
            let version = v["name"].as_str()?;
            let columns: Vec<PrinterColumn> = match v["additionalPrinterColumns"].as_array() {
                Some(cols) => cols
                    .iter()
                    .filter_map(|c| {
                        Some(PrinterColumn {
                            name: c["name"].as_str()?.to_owned(),
                            type_: c["type"].as_str().unwrap_or("string").to_owned(),
                            json_path: c["jsonPath"].as_str()?.to_owned(),
                            priority: c["priority"].as_i64().unwrap_or(0),
                            description: c["description"].as_str().unwrap_or_default().to_owned(),
                        })
                    })
                    .collect(),
                None => vec![column("Age", "date", ".metadata.creationTimestamp", 0)],
            };
            Some(ResourceType {
                group: group.to_owned(),
                version: version.to_owned(),
                plural: plural.to_owned(),
                singular: names["singular"]
                    .as_str()
                    .map_or_else(|| kind.to_lowercase(), str::to_owned),
                kind: kind.to_owned(),
                list_kind: names["listKind"]
                    .as_str()
                    .map_or_else(|| format!("{kind}List"), str::to_owned),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status_subresource: v["subresources"]["status"].is_object(),
                // CRDs may declare one; nothing here needs it.
                scale_subresource: false,
                schema: Some(v["schema"]["openAPIV3Schema"].clone())
                    .filter(|s| !s.is_null())
                    .map(std::sync::Arc::new),
                columns,
            })
        })
        .collect()
}

/// Discovery entry (aggregated, `apidiscovery.k8s.io/v2`) of one resource.
pub fn discovery_entry(rt: &ResourceType) -> Value {
    let mut entry = json!({
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": ResourceType::verbs(),
    });
    if !rt.short_names.is_empty() {
        entry["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        entry["categories"] = json!(rt.categories);
    }
    let mut subresources = Vec::new();
    if rt.status_subresource {
        subresources.push(json!({
            "subresource": "status",
            "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "verbs": ["get", "patch", "update"],
        }));
    }
    if rt.scale_subresource {
        subresources.push(json!({
            "subresource": "scale",
            "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get", "patch", "update"],
        }));
    }
    if !subresources.is_empty() {
        entry["subresources"] = json!(subresources);
    }
    entry
}

/// Legacy discovery entries (`APIResourceList.resources`) of one resource.
pub fn legacy_entries(rt: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": ResourceType::verbs(),
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        main["categories"] = json!(rt.categories);
    }
    let mut entries = vec![main];
    if rt.status_subresource {
        entries.push(json!({
            "name": format!("{}/status", rt.plural),
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    if rt.scale_subresource {
        entries.push(json!({
            "name": format!("{}/scale", rt.plural),
            "singularName": "",
            "namespaced": rt.namespaced,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        }));
    }
    entries
}
