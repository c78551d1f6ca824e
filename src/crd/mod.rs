//! The custom resources of `cardano.io/v1`: [`CardanoLeader`] and [`CardanoForgeCluster`]
//! (docs/compatibility.md §4a, §4b), their generated CustomResourceDefinitions, and the checks
//! Kubernetes cannot express in a schema ([`CardanoForgeClusterSpec::validate`]).
//!
//! This module owns the wire shape of both resources: field names, enums, defaults, printer
//! columns. Behaviour built on them lives in `core`.

mod forge_cluster;
mod leader;
mod policy;

pub use forge_cluster::*;
pub use leader::*;
pub use policy::{parse_spec, published_health};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde::{Deserialize, Serialize};

/// `True`, `False` or `Unknown`, as in every Kubernetes condition.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, schemars::JsonSchema, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}

/// Both CustomResourceDefinitions, CardanoLeader first.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![CardanoLeader::crd(), CardanoForgeCluster::crd()]
}

/// Both CRDs as JSON values, with hand edits applied to the generated schema: schemars writes
/// `minimum: 1.0` for integer ranges (k8s-openapi keeps bounds as `f64`); the chart and
/// `kubectl explain` show integers, so integral numbers become integers again.
pub fn crds_json() -> Result<Vec<serde_json::Value>, RenderError> {
    crds()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let mut value = serde_json::to_value(&crd)
                .map_err(|source| RenderError::SerialiseJson { name, source })?;
            integral_floats_to_integers(&mut value);
            Ok(value)
        })
        .collect()
}

fn integral_floats_to_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && !n.is_i64()
                && !n.is_u64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Exact: |f| < 2^53, so the cast neither rounds nor saturates.
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// Errors while rendering the CRDs.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A CRD could not be serialised to JSON.
    #[error("serialising CRD {name} to JSON failed")]
    SerialiseJson {
        /// The CRD's name.
        name: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A CRD could not be serialised to YAML.
    #[error("serialising CRD {name} to YAML failed")]
    SerialiseYaml {
        /// The CRD's name.
        name: String,
        /// The YAML error.
        #[source]
        source: serde_yaml::Error,
    },
}

/// Both CRDs as one multi-document YAML stream (what `forge-manager crds` prints).
pub fn crds_yaml() -> Result<String, RenderError> {
    let mut out = String::new();
    for crd in crds_json()? {
        let name = crd
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        let doc = serde_yaml::to_string(&crd)
            .map_err(|source| RenderError::SerialiseYaml { name, source })?;
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}
