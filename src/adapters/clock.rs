//! [`SystemClock`]: the `Clock` port on the machine's clocks.
//!
//! Monotonic time is milliseconds since the clock was built (a `std::time::Instant` origin), so it
//! never jumps when NTP steps the wall clock; wall time is the system clock, for display only.
//! [`SystemClock::since_boot`] counts from boot instead (`CLOCK_MONOTONIC`'s origin), so two
//! processes of one pod (the sidecar and its watchdog) read the same monotonic time: the
//! heartbeat file carries such readings across processes.

use std::time::{Duration, Instant};

use crate::core::time::{MonoTime, duration_ms};
use crate::ports::Clock;

/// The real clock: `Instant` for monotonic time, the system clock for wall time, tokio for sleeps.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    /// The instant `now_mono` counts from.
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic time starts at zero now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }

    /// A clock whose monotonic time is the time since boot (`CLOCK_MONOTONIC`, which `Instant`
    /// also reads on Linux): the same reading in every process of the machine.
    pub fn since_boot() -> Self {
        let now = Instant::now();
        let since_boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(Duration::from)
            .unwrap_or_default();
        SystemClock {
            // `Instant` is CLOCK_MONOTONIC on Linux, so `now` is at least `since_boot` and the
            // subtraction cannot underflow; the fallback only keeps this total.
            origin: now.checked_sub(since_boot).unwrap_or(now),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_mono(&self) -> MonoTime {
        MonoTime(duration_ms(self.origin.elapsed()))
    }

    fn now_wall(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn monotonic_time_starts_near_zero_and_advances_with_sleeps() {
        let clock = SystemClock::new();
        let t0 = clock.now_mono();
        assert!(t0.as_ms() < 1_000, "{t0}");
        clock.sleep(Duration::from_millis(30)).await;
        let t1 = clock.now_mono();
        assert!(t1.since(t0) >= Duration::from_millis(30), "{t0} -> {t1}");
    }

    #[test]
    fn clocks_since_boot_agree_across_instances() {
        let a = SystemClock::since_boot();
        let b = SystemClock::since_boot();
        let (ta, tb) = (a.now_mono(), b.now_mono());
        assert!(ta.as_ms().abs_diff(tb.as_ms()) < 50, "{ta} vs {tb}");
    }

    #[test]
    fn wall_time_is_the_system_time() {
        let clock = SystemClock::default();
        let now = jiff::Timestamp::now();
        let seen = clock.now_wall();
        let diff = seen.as_millisecond() - now.as_millisecond();
        assert!(diff.abs() < 5_000, "{diff} ms");
    }
}
