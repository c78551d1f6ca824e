//! forge-sim: the deterministic simulator of cardano-forge-manager, the Kubernetes-protocol test API
//! server, and the stand-in cardano-node.
//!
//! - `trace`: the event record of a run, the only link between the world and the oracle.
pub mod trace;
