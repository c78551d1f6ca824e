//! The decision functions as one value the runtime is given. Production runs [`Correct`], which
//! is nothing but the functions of `election` and `cluster`; the simulator's canary
//! (`sim/src/canary.rs`) wraps it in deliberately broken variants to prove that its oracle catches
//! them. The production library holds no broken variant and no switch: a caller that wants another
//! core must write one.

use crate::cluster::{ClusterDecision, ClusterObservations, ClusterState, decide_cluster};
use crate::election::{Decision, ElectionState, Observations, decide};
use crate::time::MonoTime;
use crate::timing::Timing;

/// Every decision the runtime takes, with the correct core as each default.
pub trait Decisions: Send + Sync {
    /// One step of the local election ([`decide`]).
    fn decide(
        &self,
        prev: &ElectionState,
        obs: &Observations,
        identity: &str,
        timing: &Timing,
    ) -> Decision {
        decide(prev, obs, identity, timing)
    }

    /// One step of the cross-region coordination ([`decide_cluster`]).
    fn decide_cluster(
        &self,
        prev: &ClusterState,
        obs: &ClusterObservations,
        timing: &Timing,
    ) -> ClusterDecision {
        decide_cluster(prev, obs, timing)
    }

    /// The instant the dead-man switch is armed with, given the instant the sidecar fences itself
    /// (`fence_at`: the earliest renew deadline of the holds its forging rests on; `None` while
    /// one of them is not held). The correct core arms it with exactly that instant.
    fn watchdog_fence_at(
        &self,
        fence_at: Option<MonoTime>,
        _now: MonoTime,
        _timing: &Timing,
    ) -> Option<MonoTime> {
        fence_at
    }
}

/// The correct core: the functions of `election` and `cluster`, unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Correct;

impl Decisions for Correct {}

/// The correct core, for callers that hold a `&'static dyn Decisions`.
pub static CORRECT: Correct = Correct;

#[cfg(test)]
mod tests {
    use super::*;

    /// The correct core arms the dead-man switch with exactly the instant the sidecar fences
    /// itself: later would let a stalled sidecar's node forge past its lease, earlier would demote
    /// a healthy one; and no instant (not armed) while a hold is missing.
    #[test]
    fn the_correct_core_arms_the_watchdog_at_the_fencing_instant() {
        let timing = Timing::default();
        let now = MonoTime(5_000);
        for fence_at in [None, Some(MonoTime(0)), Some(MonoTime(12_345))] {
            assert_eq!(CORRECT.watchdog_fence_at(fence_at, now, &timing), fence_at);
        }
    }
}
