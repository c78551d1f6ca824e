//! The safety core: pure decisions, no I/O, no async, no clock reads.
//!
//! Everything here is a function from observations to a decision and a reason. The sidecar's
//! runtime (`forge_manager::runtime`) observes the world through its ports, calls these functions,
//! and carries out what they decide. This is a crate of its own so that the compiler keeps it pure:
//! it depends on serde alone, and the sidecar's `tests/core_is_pure.rs` fails if kube, tokio, nix or
//! another I/O crate enters its dependency graph, or its source names `std::fs` or a clock.
//!
//! - `time`: monotonic instants of one observer.
//! - `timing`: the timing budget the safety argument relies on; a `Timing` exists only once checked.
//! - `lease`: lease records and observed-time expiry (the client-go rule).
//! - `eligibility`: whether this pod's node may take part at all.
//! - `reason`: machine-readable reasons with a human sentence.
//! - `election`: the local election state machine and `decide`.
//! - `policy`: cross-region policy: effective state and priority, the preferred region.
//! - `slots`: the chain's slot clock: in which slot, and how far into it, a SIGHUP was sent.
//! - `decisions`: the decision functions as one value the runtime is given ([`decisions::Decisions`]).

pub mod cluster;
pub mod decisions;
pub mod election;
pub mod eligibility;
pub mod lease;
pub mod policy;
pub mod reason;
pub mod slots;
pub mod time;
pub mod timing;
