//! The safety core: pure decisions, no I/O, no async, no clock reads.
//!
//! Everything here is a function from observations to a decision and a reason. The runtime
//! (`crate::runtime`) observes the world through the ports, calls these functions, and carries out
//! what they decide. A test (`tests/core_is_pure.rs`) fails if this module names tokio, kube, nix or
//! std::fs.
//!
//! - `time`: monotonic instants of one observer.
//! - `timing`: the timing budget the safety argument relies on, checked at start.
//! - `lease`: lease records and observed-time expiry (the client-go rule).
//! - `eligibility`: whether this pod's node may take part at all.
//! - `reason`: machine-readable reasons with a human sentence.
//! - `election`: the local election state machine and `decide`.
//! - `policy`: cross-region policy: effective state and priority, the preferred region.
//! - `broken` (feature `broken-core` only): deliberately broken variants for the simulator's canary.

/// `broken!(Variant)`: whether that broken-core variant is switched on for this thread. Without the
/// `broken-core` feature it is the constant `false`, so the hooks compile to nothing.
#[cfg(feature = "broken-core")]
macro_rules! broken {
    ($variant:ident) => {
        $crate::core::broken::is($crate::core::broken::Broken::$variant)
    };
}
#[cfg(not(feature = "broken-core"))]
macro_rules! broken {
    ($variant:ident) => {
        false
    };
}

#[cfg(feature = "broken-core")]
pub mod broken;

pub mod cluster;
pub mod election;
pub mod eligibility;
pub mod lease;
pub mod policy;
pub mod reason;
pub mod time;
pub mod timing;
