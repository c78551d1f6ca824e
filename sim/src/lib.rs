//! forge-sim: the deterministic simulator of cardano-forge-manager, the Kubernetes-protocol test API
//! server, and the stand-in cardano-node.
//!
//! - `trace`: the event record of a run, the only link between the world and the oracle.
//! - `scenario`: scenario files (SCENARIOS.md): parsing with clear errors, writing, targets.
//! - `oracle`: pure judgement of a trace against a scenario: dual-forging slots, gaps, handovers,
//!   coverage and every expectation kind.
//! - `report`: the report of a run (JSON and human-readable) and the exit code mapping.
pub mod oracle;
pub mod report;
pub mod scenario;
pub mod trace;
