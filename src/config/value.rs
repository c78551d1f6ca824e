//! Parsers for single environment values, each read the way the Python sidecar read it (booleans,
//! integers, log levels) or, for the new settings, the way this project defines them. Each returns the
//! "expected ..." phrase of a [`super::ConfigProblem`] on failure.

use std::time::Duration;

use super::duration::{DurationError, parse_duration};

/// A boolean as the old sidecar read it: `true`, `1`, `yes` (any case) are true, anything else false.
///
/// Never fails: operators relied on "anything else is false" (e.g. `ENABLE_CLUSTER_MANAGEMENT=on`
/// meant off), and rejecting it would change what a deployed value means.
pub fn parse_bool(text: &str) -> bool {
    matches!(text.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// An integer as Python's `int()` reads it: surrounding whitespace, an optional sign, decimal
/// digits with single `_` between them (`" 8000 "`, `"+1"`, `"1_000"`).
pub fn parse_python_int(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return None;
    }
    let magnitude: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// An integer setting within `range`, with the phrase to show when it is not.
pub fn parse_int_in<T>(text: &str, range: std::ops::RangeInclusive<T>) -> Result<T, String>
where
    T: TryFrom<i64> + PartialOrd + std::fmt::Display + Copy,
{
    parse_python_int(text)
        .and_then(|n| T::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("an integer from {} to {}", range.start(), range.end()))
}

/// Longest duration any setting takes: ten years. A limit on everything, and far below where
/// `Instant + Duration` could overflow or a Lease's 32-bit `leaseDurationSeconds` could not hold it.
pub const MAX_ENV_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A duration from the environment: either integer seconds as the old sidecar took them (`"15"`,
/// `" 15 "`), or the unit form (`"15s"`, `"1m30s"`), surrounding whitespace ignored. Every duration
/// variable accepts both, so old and new values can be mixed freely. At most [`MAX_ENV_DURATION`].
pub fn parse_env_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let d = match parse_python_int(trimmed) {
        Some(seconds) => u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| "a non-negative number of seconds".to_string())?,
        None => parse_duration(trimmed).map_err(|e| match e {
            DurationError::Empty => {
                "integer seconds (\"15\") or a duration such as \"15s\" or \"1m30s\"".to_string()
            }
            other => other.to_string(),
        })?,
    };
    if d > MAX_ENV_DURATION {
        return Err("a duration of at most 87600h (ten years)".to_string());
    }
    Ok(d)
}

/// `LOG_LEVEL`: the Python level names, any case, mapped to tracing's levels. `CRITICAL` (and its
/// alias `FATAL`) become `ERROR`, tracing's most severe; `TRACE` is new.
pub fn parse_log_level(text: &str) -> Result<tracing::Level, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok(tracing::Level::TRACE),
        "DEBUG" => Ok(tracing::Level::DEBUG),
        "INFO" => Ok(tracing::Level::INFO),
        "WARNING" | "WARN" => Ok(tracing::Level::WARN),
        "ERROR" | "CRITICAL" | "FATAL" => Ok(tracing::Level::ERROR),
        _ => Err("one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), or TRACE".to_string()),
    }
}

/// How the leader's credentials are put in place and taken away (`CREDENTIAL_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialMode {
    /// Non-leaders hold a decoy set (from `SOURCE_DECOY_DIR`) in place of the real keys, swapped
    /// atomically, so a starting node always reads a complete set and never forges with it.
    Decoy,
    /// The old sidecar's behaviour: copy the real keys in when leading, delete them when not.
    Copy,
}

impl CredentialMode {
    /// The value as written in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialMode::Decoy => "decoy",
            CredentialMode::Copy => "copy",
        }
    }

    /// Parses `decoy` or `copy` (any case).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "decoy" => Ok(CredentialMode::Decoy),
            "copy" => Ok(CredentialMode::Copy),
            _ => Err("one of decoy, copy".to_string()),
        }
    }
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

impl LogFormat {
    /// The value as written in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }

    /// Parses `json` or `text` (any case).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err("one of json, text".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_like_the_old_sidecar() {
        let cases: &[(&str, bool)] = &[
            ("true", true),
            ("TRUE", true),
            ("True", true),
            ("1", true),
            ("yes", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("no", false),
            ("on", false),
            ("", false),
            (" true", false),
            ("y", false),
        ];
        for (text, want) in cases {
            assert_eq!(parse_bool(text), *want, "{text:?}");
        }
    }

    #[test]
    fn integers_read_like_python_int() {
        let cases: &[(&str, Option<i64>)] = &[
            ("8000", Some(8000)),
            (" 8000\n", Some(8000)),
            ("+5", Some(5)),
            ("-5", Some(-5)),
            ("1_000", Some(1000)),
            ("007", Some(7)),
            ("", None),
            ("  ", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("8000x", None),
            ("1.5", None),
            ("0x10", None),
            ("+", None),
            ("- 5", None),
            ("99999999999999999999", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_python_int(text), *want, "{text:?}");
        }
    }

    #[test]
    fn integers_outside_their_range_are_rejected() {
        assert_eq!(parse_int_in::<u16>("8000", 1..=65535), Ok(8000));
        assert_eq!(
            parse_int_in::<u16>("0", 1..=65535),
            Err("an integer from 1 to 65535".to_string())
        );
        assert!(parse_int_in::<u16>("70000", 1..=65535).is_err());
        assert!(parse_int_in::<u16>("http", 1..=65535).is_err());
        assert_eq!(parse_int_in::<u32>(" 3 ", 1..=u32::MAX), Ok(3));
    }

    #[test]
    fn env_durations_take_seconds_or_units() {
        let s = Duration::from_secs;
        let cases: &[(&str, Result<Duration, ()>)] = &[
            ("15", Ok(s(15))),
            (" 15 ", Ok(s(15))),
            ("+15", Ok(s(15))),
            ("1_000", Ok(s(1000))),
            ("15s", Ok(s(15))),
            (" 1m30s ", Ok(s(90))),
            ("250ms", Ok(Duration::from_millis(250))),
            ("0", Ok(s(0))),
            ("-15", Err(())),
            ("-15s", Err(())),
            ("", Err(())),
            ("10x", Err(())),
            ("1.5", Err(())),
            ("87600h", Ok(MAX_ENV_DURATION)),
            ("87600h1ms", Err(())),
            ("315360001", Err(())),
            ("99999999999999999999", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_env_duration(text).map_err(|_| ()), *want, "{text:?}");
        }
    }

    #[test]
    fn log_levels_take_python_names_in_any_case() {
        use tracing::Level;
        let cases: &[(&str, Option<Level>)] = &[
            ("DEBUG", Some(Level::DEBUG)),
            ("info", Some(Level::INFO)),
            ("Warning", Some(Level::WARN)),
            ("WARN", Some(Level::WARN)),
            ("ERROR", Some(Level::ERROR)),
            ("CRITICAL", Some(Level::ERROR)),
            ("trace", Some(Level::TRACE)),
            ("VERBOSE", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_log_level(text).ok(), *want, "{text:?}");
        }
    }

    #[test]
    fn enums_parse_their_names() {
        assert_eq!(CredentialMode::parse("decoy"), Ok(CredentialMode::Decoy));
        assert_eq!(CredentialMode::parse("COPY"), Ok(CredentialMode::Copy));
        assert!(CredentialMode::parse("move").is_err());
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("Text"), Ok(LogFormat::Text));
        assert!(LogFormat::parse("yaml").is_err());
    }
}
