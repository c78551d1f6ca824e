//! Deliberately broken variants of the safety core, for the simulator's canary (docs/chaos.md:
//! prove the harness can fail). Compiled only with the `broken-core` feature; a production build
//! has neither this module nor the hooks that read it.
//!
//! The switch is per thread: the simulator runs a whole world (every pod's `decide`) on one
//! thread, and parallel test threads each choose their own variant. The hooks in `election` read
//! it through the `broken!` macro of `core/mod.rs`, which is the constant `false` without the
//! feature.

use std::cell::Cell;

/// One way of breaking the safety rule of docs/safety.md §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Broken {
    /// Expiry ignores the observed age: another holder's lease counts as expired as soon as its
    /// record is seen (what judging expiry from `renewTime` against a skewed wall clock amounts to).
    WallClockExpiry,
    /// A candidate promotes while the lease is free or expired, before its acquire succeeded.
    PromoteBeforeAcquire,
    /// Never fence on the renew deadline, and ignore the deadline in entitlement.
    NoSelfFencing,
    /// Release the lease in the same step as the demotion, before it is verified.
    ReleaseBeforeDemotionVerified,
    /// A lease we had to create is promotable at once (no lease-duration wait).
    PromoteOnNewLease,
    /// A region hands the global lease over as soon as its gate closes, before its node's
    /// demotion is verified.
    HandoffBeforeDemotionVerified,
    /// A region that is not the preferred one takes a free, expired or absent global lease at
    /// once, without deferring to the preferred region.
    WorseRegionTakesAtOnce,
    /// The dead-man switch is armed with the promotion instant and refreshed with the current
    /// one (a renew deadline from *now*), not the instant the holds fence themselves.
    WatchdogFromPromotion,
}

impl Broken {
    /// Every variant, in declaration order.
    pub const ALL: [Broken; 8] = [
        Broken::WallClockExpiry,
        Broken::PromoteBeforeAcquire,
        Broken::NoSelfFencing,
        Broken::ReleaseBeforeDemotionVerified,
        Broken::PromoteOnNewLease,
        Broken::HandoffBeforeDemotionVerified,
        Broken::WorseRegionTakesAtOnce,
        Broken::WatchdogFromPromotion,
    ];

    /// The kebab-case name used on command lines (`--broken no-self-fencing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Broken::WallClockExpiry => "wall-clock-expiry",
            Broken::PromoteBeforeAcquire => "promote-before-acquire",
            Broken::NoSelfFencing => "no-self-fencing",
            Broken::ReleaseBeforeDemotionVerified => "release-before-demotion-verified",
            Broken::PromoteOnNewLease => "promote-on-new-lease",
            Broken::HandoffBeforeDemotionVerified => "handoff-before-demotion-verified",
            Broken::WorseRegionTakesAtOnce => "worse-region-takes-at-once",
            Broken::WatchdogFromPromotion => "watchdog-from-promotion",
        }
    }

    /// Parses [`Broken::as_str`].
    pub fn parse(text: &str) -> Option<Broken> {
        Broken::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

thread_local! {
    static SWITCH: Cell<Option<Broken>> = const { Cell::new(None) };
}

/// Selects the broken variant for this thread (`None`: the correct core).
pub fn set(variant: Option<Broken>) {
    SWITCH.with(|s| s.set(variant));
}

/// The variant selected on this thread.
pub fn get() -> Option<Broken> {
    SWITCH.with(Cell::get)
}

/// Whether `variant` is selected on this thread.
pub fn is(variant: Broken) -> bool {
    get() == Some(variant)
}
