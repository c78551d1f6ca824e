//! forge-sim: the deterministic simulator of forge-manager, its Kubernetes-protocol test API
//! server and a stand-in cardano-node.
//!
//! # Layout
//!
//! - [`scenario`]: scenario files (the fixed format of docs/scenarios.md): parse, validate, write.
//! - [`world`]: the turmoil world: API servers, pods running the real sidecar, simulated nodes.
//! - [`trace`]: the event record of a run, the only link between the world and the oracle.
//! - [`oracle`]: judges a trace: dual-forging slots, gaps, handovers, coverage, expectations.
//! - [`report`]: the run's report, as text or one JSON object.
//! - [`runner`]: runs a scenario in a world and judges it.
//! - [`chaos`]: seeded chaos: a random world and fault schedule per seed (swarm testing), as a
//!   scenario with a safety phase then a liveness phase; many seeds in parallel.
//! - [`apiserver`]: an in-process Kubernetes API server (leases, CRDs, custom resources,
//!   discovery, Tables, watch) with fault hooks, served over tokio or turmoil.
//! - [`fake_node`]: `forge-sim fake-node`, a stand-in cardano-node process for end-to-end tests.

pub mod apiserver;
pub mod canary;
pub mod chaos;
pub mod fake_node;
pub mod lab;
pub mod oracle;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod trace;
pub mod world;
