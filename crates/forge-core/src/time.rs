//! Monotonic time as the core sees it: milliseconds on one observer's own clock.
//!
//! The core never reads a clock. Every instant it reasons about comes in an observation, measured on
//! the observer's monotonic clock, so expiry and deadlines cannot be moved by wall-clock skew.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant on one pod's monotonic clock, in milliseconds since an arbitrary origin.
///
/// Only differences between two `MonoTime`s of the same clock mean anything.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct MonoTime(pub u64);

impl MonoTime {
    /// Milliseconds since the clock's origin.
    pub fn as_ms(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later (never negative).
    pub fn since(self, earlier: MonoTime) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for MonoTime {
    type Output = MonoTime;
    fn add(self, rhs: Duration) -> MonoTime {
        MonoTime(self.0.saturating_add(duration_ms(rhs)))
    }
}

impl Sub<Duration> for MonoTime {
    type Output = MonoTime;
    fn sub(self, rhs: Duration) -> MonoTime {
        MonoTime(self.0.saturating_sub(duration_ms(rhs)))
    }
}

impl fmt::Display for MonoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Whole milliseconds of a duration, saturating (durations here are seconds to hours).
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instant is its milliseconds, in numbers (the journal and the status carry them)
    /// and in words (`1500ms` in logs and messages).
    #[test]
    fn an_instant_reads_as_its_milliseconds() {
        for (ms, text) in [
            (0, "0ms"),
            (1_500, "1500ms"),
            (u64::MAX, "18446744073709551615ms"),
        ] {
            assert_eq!(MonoTime(ms).as_ms(), ms);
            assert_eq!(MonoTime(ms).to_string(), text);
        }
    }
}
