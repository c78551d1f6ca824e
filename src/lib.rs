//! cardano-forge-manager: the sidecar that decides which Cardano block producer forges, and makes it
//! so, safely. At most one node of a pool forges at any instant; a short gap is cheap, a double-forged
//! slot is not. The safety argument is in `docs/safety.md`.
//!
//! # Layout
//!
//! Dependencies point down this list, never up:
//!
//! - [`core`]: pure decisions (timing budget, lease expiry, election, eligibility, reasons): the crate
//!   `forge-core` (`crates/forge-core`), re-exported here.
//! - [`crd`]: the `cardano.io/v1` custom resource types.
//! - [`ports`]: the five traits through which everything touches the world (`Clock`, `Kube`, `Fs`,
//!   `Node`, `HealthProbe`) and their error kinds.
//! - [`config`]: environment variables and flags, validated all at once.
//! - [`journal`]: the decision journal (redb): durable records of decisions, their typed inputs and
//!   actions; queries, the timeline of forging beliefs, and replay of decisions.
//! - [`credentials`]: the three credential files: atomic writes, removal, fingerprints, validation
//!   (KES key ↔ opcert, cold signature, KES period window) and throw-away decoy sets.
//! - [`report`]: what the loop reports (action outcomes, per-decision records, `/status`) and the
//!   `Recorder` trait through which the journal, logs and metrics receive it.
//! - [`metrics`]: the Prometheus registry (old names kept, new ones documented) and the recorder
//!   that feeds it from the loop's decisions.
//! - [`runtime`]: the observe → decide → act → record loop, generic over the ports.
//! - [`watchdog`]: the dead-man switch that demotes the node when the sidecar stalls.
//! - [`adapters`]: the production ports (kube client, file system, clock, /proc and signals).
//! - [`http`]: the probe, metrics, status and `/journal` server on `METRICS_PORT`.
//! - [`logging`]: the tracing subscriber (`LOG_FORMAT`, `LOG_LEVEL`, identity on every line).
//! - [`cli`]: the subcommands of the `forge-manager` binary.
//! - [`plugin`]: `kubectl forge`, the same binary invoked as `kubectl-forge`.
//! - `testing` (tests only): in-memory fakes of the ports.

pub mod adapters;
pub mod cli;
pub mod config;
/// The pure safety core, its own crate (`crates/forge-core`) so that the compiler, not a grep,
/// keeps kube, tokio, nix and the file system out of it; re-exported under its old path.
pub use forge_core as core;
pub mod crd;
pub mod credentials;
pub mod events;
pub mod http;
pub mod journal;
pub mod logging;
pub mod metrics;
pub mod plugin;
pub mod ports;
pub mod report;
pub mod runtime;
#[cfg(test)]
pub mod testing;
pub mod watchdog;
