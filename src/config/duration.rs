//! Durations as people write them: Go style integer-and-unit parts, largest unit first (`"250ms"`,
//! `"15s"`, `"1m30s"`, `"3m25s500ms"`). The project's one grammar: the sidecar's environment, the
//! CRD's health-check intervals, the `journal` commands' `--since`, `--timing` and `--min-overlap`,
//! scenario files (docs/scenarios.md, "Durations and times") and the simulator's and fake node's
//! flags, so the same string means the same time everywhere.
//!
//! Units are `h`, `m`, `s` and `ms`; each at most once, in that order. There is no `d`, as in Go and
//! `kubectl logs --since`: two days is `48h`. A bare number is an error here:
//! the environment's legacy "integer seconds" form is handled by
//! [`crate::config::value::parse_env_duration`], not by this grammar.

use std::time::Duration;

/// Why a string is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("a duration such as \"15s\" or \"1m30s\", not an empty string")]
    Empty,
    /// A number without any unit, e.g. `"15"`.
    #[error("a unit after {0} (h, m, s or ms), e.g. \"{0}s\"")]
    BareNumber(String),
    /// A number at the end without a unit, e.g. the `30` of `"1m30"`.
    #[error("a unit (h, m, s or ms) after the trailing number {0}")]
    MissingUnit(String),
    /// A unit without a number before it, e.g. `"s"` or `"1m s"`.
    #[error("a number before the unit \"{0}\"")]
    MissingNumber(String),
    /// Not one of `h`, `m`, `s`, `ms`.
    #[error("one of the units h, m, s, ms, not \"{0}\"")]
    UnknownUnit(String),
    /// A unit after a smaller one, e.g. `"30s1m"`.
    #[error("units from largest to smallest, but \"{unit}\" comes after \"{previous}\"")]
    UnitOutOfOrder {
        /// The unit that came too late.
        unit: &'static str,
        /// The smaller unit before it.
        previous: &'static str,
    },
    /// The same unit twice, e.g. `"1s2s"`.
    #[error("each unit at most once, but \"{0}\" appears twice")]
    RepeatedUnit(&'static str),
    /// A character that is neither a digit nor a unit letter (spaces, `.`, `+`, a sign in the middle).
    #[error("only digits and units (h, m, s, ms), not {0:?}")]
    InvalidCharacter(char),
    /// A leading `-` where only non-negative durations make sense.
    #[error("a non-negative duration, without a leading '-'")]
    Negative,
    /// More than `u64::MAX` milliseconds.
    #[error("a duration that fits in 64 bits of milliseconds")]
    Overflow,
}

/// The units in the order they must appear, with their length in milliseconds.
const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses a non-negative duration such as `"1m30s"`; a leading `-` is rejected.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    match parse_signed_duration(text)? {
        (true, _) => Err(DurationError::Negative),
        (false, d) => Ok(d),
    }
}

/// Parses a duration that may be negative (`"-1m"`): returns `(negative, magnitude)`.
///
/// `"-0s"` is reported as not negative, so a zero has one representation.
pub fn parse_signed_duration(text: &str) -> Result<(bool, Duration), DurationError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let total_ms = parse_unsigned_ms(body)?;
    Ok((negative && total_ms != 0, Duration::from_millis(total_ms)))
}

/// The grammar proper: `(digits unit)+`, units strictly decreasing. Returns whole milliseconds.
fn parse_unsigned_ms(body: &str) -> Result<u64, DurationError> {
    if body.is_empty() {
        return Err(DurationError::Empty);
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::BareNumber(body.to_string()));
    }
    let mut rest = body;
    let mut total: u64 = 0;
    // Index into UNITS of the previous part's unit: the next one must come strictly later.
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let digits_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_len);
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_len);
        if unit.is_empty() {
            return match after.chars().next() {
                Some(c) => Err(DurationError::InvalidCharacter(c)),
                None => Err(DurationError::MissingUnit(digits.to_string())),
            };
        }
        if digits.is_empty() {
            return Err(DurationError::MissingNumber(unit.to_string()));
        }
        let index = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| DurationError::UnknownUnit(unit.to_string()))?;
        if let Some(prev) = previous {
            if prev == index {
                return Err(DurationError::RepeatedUnit(UNITS[index].0));
            }
            if prev > index {
                return Err(DurationError::UnitOutOfOrder {
                    unit: UNITS[index].0,
                    previous: UNITS[prev].0,
                });
            }
        }
        previous = Some(index);
        let count: u64 = digits.parse().map_err(|_| DurationError::Overflow)?;
        let part = count
            .checked_mul(UNITS[index].1)
            .ok_or(DurationError::Overflow)?;
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
        rest = after_unit;
    }
    Ok(total)
}

/// The canonical form of `d`: the largest units first, zero parts left out, `"0s"` for zero
/// (`90s` → `"1m30s"`). Anything below a millisecond is dropped: the parser never produces it.
pub fn format_duration(d: Duration) -> String {
    // u128 → u64 cannot overflow for any Duration the parser makes; saturate for the rest.
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (name, len) in UNITS {
        let count = ms / len;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(name);
            ms %= len;
        }
    }
    out
}

/// Serde adapter for a `Duration` written as a duration string, for scenario files and other
/// structured input: `#[serde(with = "forge_manager::config::duration::as_string")]`.
pub mod as_string {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the canonical form ([`super::format_duration`]).
    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*d))
    }

    /// Reads a non-negative duration string ([`super::parse_duration`]); a bare number is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("duration {text:?}: expected {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn valid_durations_parse_to_their_length() {
        let cases: &[(&str, Duration)] = &[
            ("250ms", ms(250)),
            ("15s", ms(15_000)),
            ("10m", ms(600_000)),
            ("2h", ms(7_200_000)),
            ("1m30s", ms(90_000)),
            ("2h15m", ms(8_100_000)),
            ("3m25s500ms", ms(205_500)),
            ("0s", ms(0)),
            ("0ms", ms(0)),
            ("1h1m1s1ms", ms(3_661_001)),
            ("90s", ms(90_000)),
            ("007s", ms(7_000)),
            ("1500ms", ms(1_500)),
            ("5124095576030h", ms(5_124_095_576_030 * 3_600_000)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn invalid_durations_say_why() {
        use DurationError::*;
        let cases: &[(&str, DurationError)] = &[
            ("", Empty),
            ("-", Empty),
            ("15", BareNumber("15".into())),
            ("0", BareNumber("0".into())),
            ("1m30", MissingUnit("30".into())),
            ("s", MissingNumber("s".into())),
            ("10x", UnknownUnit("x".into())),
            ("1d", UnknownUnit("d".into())),
            ("10sec", UnknownUnit("sec".into())),
            ("10S", UnknownUnit("S".into())),
            (
                "30s1m",
                UnitOutOfOrder {
                    unit: "m",
                    previous: "s",
                },
            ),
            (
                "1ms1s",
                UnitOutOfOrder {
                    unit: "s",
                    previous: "ms",
                },
            ),
            ("1s2s", RepeatedUnit("s")),
            ("1.5s", InvalidCharacter('.')),
            (" 15s", InvalidCharacter(' ')),
            ("15s ", InvalidCharacter(' ')),
            ("1m 30s", InvalidCharacter(' ')),
            ("+15s", InvalidCharacter('+')),
            ("1m-30s", InvalidCharacter('-')),
            ("--1s", InvalidCharacter('-')),
            ("-15s", Negative),
            ("99999999999999999999s", Overflow),
            ("18446744073709551615s", Overflow),
            ("5124095576031h", Overflow),
            ("5124095576030h59m", Overflow),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).as_ref(), Err(want), "{text:?}");
        }
    }

    #[test]
    fn signed_durations_report_their_sign() {
        type Signed = Result<(bool, Duration), DurationError>;
        let cases: &[(&str, Signed)] = &[
            ("-1m", Ok((true, ms(60_000)))),
            ("1m", Ok((false, ms(60_000)))),
            ("-250ms", Ok((true, ms(250)))),
            ("-0s", Ok((false, ms(0)))),
            ("-15", Err(DurationError::BareNumber("15".into()))),
            ("-", Err(DurationError::Empty)),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_signed_duration(text), want, "{text:?}");
        }
    }

    #[test]
    fn formatting_is_canonical_and_round_trips() {
        let cases: &[(Duration, &str)] = &[
            (ms(0), "0s"),
            (ms(250), "250ms"),
            (ms(15_000), "15s"),
            (ms(90_000), "1m30s"),
            (ms(8_100_000), "2h15m"),
            (ms(205_500), "3m25s500ms"),
            (ms(3_600_001), "1h1ms"),
            (ms(604_800_000), "168h"),
            (Duration::from_micros(1_500), "1ms"),
            (Duration::from_nanos(999), "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(*d), *want, "{d:?}");
            assert_eq!(
                parse_duration(want).map(format_duration).as_deref(),
                Ok(*want)
            );
        }
    }

    #[test]
    fn serde_adapter_reads_and_writes_duration_strings() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct T {
            #[serde(with = "as_string")]
            d: Duration,
        }
        let t: T = serde_json::from_str(r#"{"d":"1m30s"}"#).expect("valid duration");
        assert_eq!(t, T { d: ms(90_000) });
        assert_eq!(
            serde_json::to_string(&t).ok().as_deref(),
            Some(r#"{"d":"1m30s"}"#)
        );
        let err = serde_json::from_str::<T>(r#"{"d":"15"}"#).expect_err("bare number");
        assert!(err.to_string().contains("a unit after 15"), "{err}");
    }
}
