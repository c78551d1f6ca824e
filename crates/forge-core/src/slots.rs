//! The chain's slot clock: where slot boundaries fall on the wall clock, so that records and logs
//! can say in which slot, and how far into it, the sidecar sent a SIGHUP.
//!
//! cardano-node checks leadership at each slot start, and once more at once when forging is enabled
//! part-way through a slot (docs/adapters.md, "What the node does at a slot start and on SIGHUP").
//! Whether a handover's successor started forging in the slot its predecessor had already checked
//! is read from these annotations (docs/safety.md, "Planned handovers and the slot clock").

use std::time::Duration;

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

impl SlotClock {
    /// A slot clock, if `slot_length` is at least a millisecond.
    pub fn new(system_start_ms: i64, slot_length: Duration) -> Option<SlotClock> {
        let slot_length_ms = u64::try_from(slot_length.as_millis()).ok()?;
        (slot_length_ms > 0).then_some(SlotClock {
            system_start_ms,
            slot_length_ms,
        })
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

    /// `slot S +P ms`: where `wall_ms` falls, for records and logs.
    pub fn describe(&self, wall_ms: i64) -> String {
        format!(
            "slot {} +{} ms",
            self.slot_at(wall_ms),
            self.phase(wall_ms).as_millis()
        )
    }
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
}
