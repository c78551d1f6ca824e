//! Simulated time of one pod: turmoil's clock seen through the pod's skew, drift and pauses.
//!
//! A pod's monotonic clock is piecewise linear in simulated time: each `drift` fault starts a new
//! segment with a new rate. Its wall clock is a base plus the monotonic clock plus every `skew`
//! jump. A `pause` (the sidecar frozen) or `freeze` (the whole pod) holds every sleep of the
//! paused process until the pause ends.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use forge_manager::core::time::MonoTime;
use forge_manager::ports::Clock;

/// Simulated time now (inside or outside a host).
pub fn sim_now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// The clock model of one pod, shared by its processes and the world.
#[derive(Debug)]
pub struct ClockModel {
    /// Simulated time where the current rate segment began.
    segment_sim: Duration,
    /// The pod's monotonic reading at that instant, in µs.
    segment_local_us: u128,
    /// Rate: local seconds per simulated second, in ppm above (or below) 1.
    ppm: i64,
    /// Wall clock at monotonic zero, ms since the Unix epoch.
    wall_base_ms: i64,
    /// Sum of `skew` jumps, ms.
    skew_ms: i64,
    /// The sidecar is paused until this simulated instant.
    sidecar_paused_until: Duration,
    /// The whole pod is frozen until this simulated instant.
    frozen_until: Duration,
}

impl ClockModel {
    /// A clock reading zero now, with wall time `wall_base_ms` at zero.
    pub fn new(now: Duration, wall_base_ms: i64) -> Self {
        ClockModel {
            segment_sim: now,
            segment_local_us: 0,
            ppm: 0,
            wall_base_ms,
            skew_ms: 0,
            sidecar_paused_until: Duration::ZERO,
            frozen_until: Duration::ZERO,
        }
    }

    fn local_us(&self, sim: Duration) -> u128 {
        let elapsed = sim.saturating_sub(self.segment_sim).as_micros();
        let rate = 1_000_000i128 + i128::from(self.ppm);
        let scaled = i128::try_from(elapsed).unwrap_or(i128::MAX) * rate / 1_000_000;
        self.segment_local_us + u128::try_from(scaled.max(0)).unwrap_or(0)
    }

    /// The pod's monotonic clock at simulated instant `sim`.
    pub fn mono_at(&self, sim: Duration) -> MonoTime {
        MonoTime(u64::try_from(self.local_us(sim) / 1000).unwrap_or(u64::MAX))
    }

    /// The pod's wall clock at `sim`, ms since the Unix epoch.
    pub fn wall_ms_at(&self, sim: Duration) -> i64 {
        let mono = i64::try_from(self.mono_at(sim).as_ms()).unwrap_or(i64::MAX);
        self.wall_base_ms
            .saturating_add(mono)
            .saturating_add(self.skew_ms)
    }

    /// Jumps the wall clock (the monotonic clock is untouched).
    pub fn skew(&mut self, by_ms: i64) {
        self.skew_ms = self.skew_ms.saturating_add(by_ms);
    }

    /// From `now` on, both clocks run `ppm` parts per million fast (positive) or slow.
    pub fn drift(&mut self, now: Duration, ppm: i64) {
        self.segment_local_us = self.local_us(now);
        self.segment_sim = now;
        self.ppm = ppm.clamp(-900_000, 900_000);
    }

    /// Pauses the sidecar until `until` (simulated).
    pub fn pause_sidecar(&mut self, until: Duration) {
        self.sidecar_paused_until = self.sidecar_paused_until.max(until);
    }

    /// Freezes the whole pod from `now` until `until` (simulated). Returns how much longer the pod
    /// is now frozen than it already was: only that part holds the node's work.
    pub fn freeze(&mut self, now: Duration, until: Duration) -> Duration {
        let extra = until.saturating_sub(self.frozen_until.max(now));
        self.frozen_until = self.frozen_until.max(until);
        extra
    }

    /// Whether the whole pod is frozen at `sim`.
    pub fn frozen(&self, sim: Duration) -> bool {
        sim < self.frozen_until
    }

    /// Until when a process of this pod is held (`sidecar` true for the sidecar, false for the
    /// watchdog, which a `pause` does not stop).
    fn held_until(&self, sidecar: bool) -> Duration {
        if sidecar {
            self.sidecar_paused_until.max(self.frozen_until)
        } else {
            self.frozen_until
        }
    }

    /// Simulated time needed for `local` of this pod's time to pass.
    fn sim_for(&self, local: Duration) -> Duration {
        let rate = 1_000_000f64 + self.ppm as f64;
        local.mul_f64(1_000_000f64 / rate)
    }
}

/// Shared handle to a pod's clock model.
pub type SharedClock = Rc<RefCell<ClockModel>>;

/// The `Clock` port of one process of a pod.
#[derive(Clone, Debug)]
pub struct SimClock {
    model: SharedClock,
    /// Whether this clock belongs to the sidecar (held by `pause`) or the watchdog (not).
    sidecar: bool,
}

impl SimClock {
    /// The sidecar's clock.
    pub fn sidecar(model: SharedClock) -> Self {
        SimClock {
            model,
            sidecar: true,
        }
    }

    /// The watchdog's clock (a `pause` of the sidecar does not hold it; a `freeze` does).
    pub fn watchdog(model: SharedClock) -> Self {
        SimClock {
            model,
            sidecar: false,
        }
    }

    /// Waits while this process is paused or frozen.
    pub async fn gate(&self) {
        loop {
            let until = self.model.borrow().held_until(self.sidecar);
            let now = sim_now();
            if now >= until {
                return;
            }
            tokio::time::sleep(until - now).await;
        }
    }
}

impl Clock for SimClock {
    fn now_mono(&self) -> MonoTime {
        self.model.borrow().mono_at(sim_now())
    }

    fn now_wall(&self) -> jiff::Timestamp {
        let ms = self.model.borrow().wall_ms_at(sim_now());
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    async fn sleep(&self, d: Duration) {
        let sim = self.model.borrow().sim_for(d);
        tokio::time::sleep(sim).await;
        self.gate().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_bends_the_monotonic_clock_from_the_instant_it_starts() {
        let mut c = ClockModel::new(Duration::ZERO, 0);
        assert_eq!(c.mono_at(Duration::from_secs(10)), MonoTime(10_000));
        c.drift(Duration::from_secs(10), 100_000); // +10 %
        assert_eq!(c.mono_at(Duration::from_secs(20)), MonoTime(21_000));
        c.drift(Duration::from_secs(20), -100_000);
        assert_eq!(c.mono_at(Duration::from_secs(30)), MonoTime(30_000));
    }

    #[test]
    fn skew_moves_the_wall_clock_only() {
        let mut c = ClockModel::new(Duration::ZERO, 1_000_000);
        c.skew(-3_600_000);
        assert_eq!(c.mono_at(Duration::from_secs(1)), MonoTime(1_000));
        assert_eq!(
            c.wall_ms_at(Duration::from_secs(1)),
            1_000_000 + 1_000 - 3_600_000
        );
    }

    #[test]
    fn a_pause_holds_the_sidecar_but_not_the_watchdog_and_a_freeze_holds_both() {
        let mut c = ClockModel::new(Duration::ZERO, 0);
        c.pause_sidecar(Duration::from_secs(5));
        assert_eq!(c.held_until(true), Duration::from_secs(5));
        assert_eq!(c.held_until(false), Duration::ZERO);
        let s = Duration::from_secs;
        assert_eq!(
            c.freeze(s(2), s(7)),
            s(5),
            "a new freeze holds the node for all of it"
        );
        assert_eq!(c.held_until(false), s(7));
        assert!(c.frozen(s(6)) && !c.frozen(s(7)));
        // Overlapping freezes hold the node only for what they add.
        assert_eq!(c.freeze(s(4), s(9)), s(2));
        assert_eq!(c.freeze(s(5), s(8)), s(0));
    }
}
