//! forge-sim: the deterministic simulator of forge-manager, its Kubernetes-protocol test API
//! server and (later) a fake cardano-node.
//!
//! # Layout
//!
//! - [`apiserver`]: an in-process Kubernetes API server (leases, CRDs, custom resources,
//!   discovery, Tables, watch) with fault hooks, served over tokio or turmoil.

pub mod apiserver;
