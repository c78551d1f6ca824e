//! forge-sim: the deterministic simulator of forge-manager, its Kubernetes-protocol test API
//! server and a stand-in cardano-node.
//!
//! # Layout
//!
//! - [`apiserver`]: an in-process Kubernetes API server (leases, CRDs, custom resources,
//!   discovery, Tables, watch) with fault hooks, served over tokio or turmoil.
//! - [`fake_node`]: `forge-sim fake-node`, a stand-in cardano-node process for end-to-end tests.
//! - [`world`]: the turmoil world: API servers, pods running the real sidecar, simulated nodes.
//! - [`trace`]: the event record of a run, the only link between the world and the oracle.

pub mod apiserver;
pub mod fake_node;
pub mod trace;
pub mod world;
