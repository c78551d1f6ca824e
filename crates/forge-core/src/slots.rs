//! The chain's slot clock, and when a planned handover's demotion begins so that it misses no slot.
//!
//! cardano-node checks leadership once per slot, just after the slot starts on its own wall clock,
//! and once more at once for the slot in progress when a SIGHUP enables forging part-way through it
//! (docs/adapters.md, "What the node does at a slot start and on SIGHUP"). A planned handover misses
//! no slot and checks none twice when:
//!
//! - the leaving node's demotion is sent just after a slot start (this module: [`planned_wait`]),
//!   so it has checked the slot in progress and the rest of the chain (verify, release or hand
//!   off, the successor's acquire) runs inside that slot; and
//! - the successor's node is enabled no earlier than a slot after it saw the lease released or
//!   handed to it (`TimingParams::slot_settle`, on the monotonic clock: no wall clock is trusted
//!   for it), so its immediate check is of the next slot, which nobody checked.
//!
//! Only *planned* demotions are aligned (a graceful shutdown, a policy that moves forging
//! elsewhere): their holds are valid, so the core chose the moment. A demotion forced by a lost or
//! fencing hold never waits. A wrong wall clock costs at most a missed slot, never a second check:
//! only the successor's wait guards that.

use std::time::Duration;

use crate::time::MonoTime;

/// Where slot boundaries fall on the wall clock: the genesis `systemStart` and the slot length.
/// Slots are uniform from `system_start` on; for the known networks every slot boundary since
/// genesis (Byron's 20 s slots included) falls on a whole second of Unix time, so using the
/// Shelley slot length from genesis on gives the right boundaries today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotClock {
    /// Unix milliseconds of slot 0's start.
    pub system_start_ms: i64,
    /// Milliseconds per slot (above zero).
    pub slot_length_ms: u64,
}

/// How long after a slot's start a planned demotion sends its SIGHUP: long enough that the node's
/// own leadership check for the slot has run (its slot clock ticks on the same host clock), short
/// against the slot.
pub const START_AFTER: Duration = Duration::from_millis(20);

/// A planned demotion that finds itself later than this into a slot (after [`START_AFTER`]) waits
/// for the next slot start: the rest of the slot may not hold the whole chain.
pub fn start_window(slot_length: Duration) -> Duration {
    slot_length / 10
}

impl SlotClock {
    /// A slot clock, if `slot_length` is at least a millisecond.
    pub fn new(system_start_ms: i64, slot_length: Duration) -> Option<SlotClock> {
        let slot_length_ms = u64::try_from(slot_length.as_millis()).ok()?;
        (slot_length_ms > 0).then_some(SlotClock {
            system_start_ms,
            slot_length_ms,
        })
    }

    /// The slot length.
    pub fn slot_length(&self) -> Duration {
        Duration::from_millis(self.slot_length_ms)
    }

    /// The slot in progress at `wall_ms` (negative before genesis).
    pub fn slot_at(&self, wall_ms: i64) -> i64 {
        let len = i64::try_from(self.slot_length_ms).unwrap_or(i64::MAX);
        wall_ms.saturating_sub(self.system_start_ms).div_euclid(len)
    }

    /// Time since the slot in progress at `wall_ms` began.
    pub fn phase(&self, wall_ms: i64) -> Duration {
        let len = i64::try_from(self.slot_length_ms).unwrap_or(i64::MAX);
        let into = wall_ms.saturating_sub(self.system_start_ms).rem_euclid(len);
        // rem_euclid of a positive modulus is in [0, len).
        Duration::from_millis(into.unsigned_abs())
    }

    /// How long a step that wants to begin between `after` and `after + window` into a slot must
    /// wait from `wall_ms`: zero inside that window, else until `after` into the next slot (or
    /// into this one, when it is still earlier than `after`).
    pub fn wait_to_begin(&self, wall_ms: i64, after: Duration, window: Duration) -> Duration {
        let len = self.slot_length();
        let phase = self.phase(wall_ms);
        let after = after.min(len);
        if phase < after {
            after - phase
        } else if phase <= after + window {
            Duration::ZERO
        } else {
            len - phase + after
        }
    }

    /// How many slots began in `(from_ms, to_ms]`: the slot checks a node missed when it was
    /// asked to forge at `from_ms` and first seen forging at `to_ms` (it checks the slot in
    /// progress at once when it starts, so only the starts before that are lost). Zero when
    /// `to_ms` is not later.
    pub fn starts_between(&self, from_ms: i64, to_ms: i64) -> u64 {
        self.slot_at(to_ms)
            .saturating_sub(self.slot_at(from_ms))
            .max(0)
            .unsigned_abs()
    }

    /// At most how many slots a leaving node's late stop leaves unchecked: it was last known
    /// forging at `last_on_ms` (the SIGHUP, or a later read that still saw it forge), so it
    /// checked that slot; it was confirmed off at `confirmed_ms`, the release follows, and the
    /// successor promotes `settle` after it saw the release, so its first check is no earlier
    /// than the slot at `confirmed_ms + settle`. The slots in between nobody checks. Zero for a
    /// node confirmed off early enough in the slot it stopped in.
    pub fn late_stop_slots(&self, last_on_ms: i64, confirmed_ms: i64, settle: Duration) -> u64 {
        let settle_ms = i64::try_from(settle.as_millis()).unwrap_or(i64::MAX);
        self.starts_between(last_on_ms, confirmed_ms.saturating_add(settle_ms))
            .saturating_sub(1)
    }

    /// `slot S +P ms`: where `wall_ms` falls, for records and logs.
    pub fn describe(&self, wall_ms: i64) -> String {
        format!(
            "slot {} +{} ms",
            self.slot_at(wall_ms),
            self.phase(wall_ms).as_millis()
        )
    }
}

/// How long a planned demotion decided at `now` (wall `wall_ms`) waits before its SIGHUP, if at
/// all: until [`START_AFTER`] past a slot start, unless the wait would reach `answer_by`, the
/// moment our holds need an answer (renew deadline minus the demotion time). `None`: no slot
/// clock, not a planned demotion, or no time for it; the demotion goes at once.
///
/// Safe: the node forges on holds that stay valid until `answer_by` whether or not it demotes, so
/// a wait that ends before then keeps every promise a demotion at once keeps, and "demote, verify,
/// then release" is untouched (nothing is released before the verification, which comes later).
pub fn planned_wait(
    slots: Option<&SlotClock>,
    wall_ms: i64,
    now: MonoTime,
    answer_by: Option<MonoTime>,
    planned: bool,
) -> Option<Duration> {
    let slots = slots.filter(|_| planned)?;
    let wait = slots.wait_to_begin(wall_ms, START_AFTER, start_window(slots.slot_length()));
    // A demotion with no hold to answer for has nothing to wait on; one whose answer is due
    // before the wait ends goes at once.
    let by = answer_by?;
    (!wait.is_zero() && now + wait < by).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;

    fn mainnet_like() -> SlotClock {
        // 2017-09-23T21:44:51Z, 1 s slots.
        SlotClock::new(1_506_203_091_000, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn phase_and_slot_follow_the_genesis_offset() {
        let c = SlotClock::new(10 * S + 500, Duration::from_secs(2)).unwrap();
        let cases = [
            // (wall ms, slot, phase ms)
            (10 * S + 500, 0, 0),
            (12 * S + 499, 0, 1_999),
            (12 * S + 500, 1, 0),
            (10 * S + 499, -1, 1_999),
            (0, -6, 1_500),
        ];
        for (wall, slot, phase) in cases {
            assert_eq!(c.slot_at(wall), slot, "slot at {wall}");
            assert_eq!(
                c.phase(wall),
                Duration::from_millis(phase),
                "phase at {wall}"
            );
        }
        let m = mainnet_like();
        // 2026-12-04T00:00:00.250Z: mainnet slots start on whole seconds.
        assert_eq!(m.phase(1_796_342_400_250), Duration::from_millis(250));
        assert_eq!(m.describe(1_796_342_400_250), "slot 290139309 +250 ms");
        assert_eq!(SlotClock::new(0, Duration::ZERO), None);
        assert_eq!(SlotClock::new(0, Duration::from_micros(999)), None);
    }

    #[test]
    fn slot_starts_are_counted_in_a_half_open_interval() {
        let c = SlotClock::new(500, Duration::from_secs(1)).unwrap();
        let cases = [
            // (from ms, to ms, starts)
            (520, 1_499, 0),
            (520, 1_500, 1),
            (1_500, 1_500, 0),
            (1_499, 1_500, 1),
            (520, 4_510, 4),
            (4_510, 520, 0),
            (-2_000, 600, 3),
        ];
        for (from, to, starts) in cases {
            assert_eq!(c.starts_between(from, to), starts, "({from}, {to}]");
        }
    }

    #[test]
    fn a_late_stop_leaves_the_slots_before_the_successors_settle_ends_unchecked() {
        let c = SlotClock::new(0, Duration::from_secs(1)).unwrap();
        let settle = Duration::from_millis(1_050);
        let cases = [
            // (last known forging ms, confirmed off ms, slots unchecked at most)
            // The SIGHUP 20 ms into slot 5, confirmed within the slot: the successor checks 6.
            (5_020, 5_100, 0),
            (5_020, 5_940, 0),
            // Confirmed too late in slot 5 for the successor's settle to end inside slot 6.
            (5_020, 5_960, 1),
            // Still forging at 5 960, off at 6 010: it may have stopped before slot 6 began.
            (5_960, 6_010, 1),
            // Nodes of 1.7 s and 3 s, seen forging 50 ms before: they checked slots 6 and 8
            // themselves, and the successor's first check is the next slot.
            (6_700, 6_750, 0),
            (8_000, 8_050, 0),
            // Clocks that step back never count below zero.
            (5_020, 3_000, 0),
        ];
        for (last_on, confirmed, late) in cases {
            assert_eq!(
                c.late_stop_slots(last_on, confirmed, settle),
                late,
                "forging at {last_on}, off at {confirmed}"
            );
        }
    }

    #[test]
    fn a_step_begins_in_the_window_after_a_slot_start() {
        let c = SlotClock::new(0, Duration::from_secs(1)).unwrap();
        let after = Duration::from_millis(20);
        let window = Duration::from_millis(100);
        let cases = [
            // (wall ms, wait ms)
            (0, 20),
            (5, 15),
            (20, 0),
            (120, 0),
            (121, 899),
            (500, 520),
            (999, 21),
            (7_060, 0),
        ];
        for (wall, wait) in cases {
            assert_eq!(
                c.wait_to_begin(wall, after, window),
                Duration::from_millis(wait),
                "at {wall} ms"
            );
        }
    }

    #[test]
    fn planned_wait_never_reaches_the_answer_instant() {
        let c = SlotClock::new(0, Duration::from_secs(1)).unwrap();
        let now = MonoTime(50_000);
        let ms = Duration::from_millis;
        /// (slot clock, wall ms, answer by, planned, wait)
        type Case<'a> = (
            Option<&'a SlotClock>,
            i64,
            Option<MonoTime>,
            bool,
            Option<Duration>,
        );
        let cases: [Case; 8] = [
            // Mid-slot, holds good for seconds: wait for the next slot start.
            (Some(&c), 500, Some(MonoTime(58_000)), true, Some(ms(520))),
            // Inside the window: at once.
            (Some(&c), 60, Some(MonoTime(58_000)), true, None),
            // Not planned: at once.
            (Some(&c), 500, Some(MonoTime(58_000)), false, None),
            // No slot clock configured: at once.
            (None, 500, Some(MonoTime(58_000)), true, None),
            // The answer is due before the wait would end: at once.
            (Some(&c), 500, Some(MonoTime(50_519)), true, None),
            (Some(&c), 500, Some(MonoTime(50_520)), true, None),
            (Some(&c), 500, Some(MonoTime(50_521)), true, Some(ms(520))),
            // No hold to answer for: at once.
            (Some(&c), 500, None, true, None),
        ];
        for (i, (slots, wall, by, planned, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                planned_wait(slots, wall, now, by, planned),
                want,
                "case {i}"
            );
        }
    }
}
