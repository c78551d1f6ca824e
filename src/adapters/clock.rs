//! [`SystemClock`]: the `Clock` port on the machine's clocks.
//!
//! Monotonic time is milliseconds since the clock was built (a `std::time::Instant` origin), so it
//! never jumps when NTP steps the wall clock; wall time is the system clock, for display only.

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
    fn wall_time_is_the_system_time() {
        let clock = SystemClock::default();
        let now = jiff::Timestamp::now();
        let seen = clock.now_wall();
        let diff = seen.as_millisecond() - now.as_millisecond();
        assert!(diff.abs() < 5_000, "{diff} ms");
    }
}
