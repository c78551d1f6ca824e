//! Reading the two forging series out of cardano-node's Prometheus text exposition.
//!
//! cardano-node has exposed them under different names over time, depending on the tracing system
//! (legacy iohk-monitoring or the new trace-dispatcher) and on the metric kind's suffix:
//!
//! | what | names seen |
//! |---|---|
//! | credentials loaded | `cardano_node_metrics_forging_enabled`, `cardano_node_metrics_forging_enabled_int`, `..._real` |
//! | leadership checks | `cardano_node_metrics_Forge_forge_about_to_lead_int` (legacy), `cardano_node_metrics_Forge_about_to_lead_int`, `cardano_node_metrics_Forge_about_to_lead_counter`, `..._AboutToLead...` |
//!
//! So the match is liberal: any metric whose name ends with `forging_enabled` (optionally followed by
//! `_int` or `_real`) is the forging flag, any whose name contains `about_to_lead` or `AboutToLead`
//! is the leadership-check counter. When a series appears more than once (both schemes, or labels),
//! the flag is the OR (the safe reading: a node that any series calls forging is treated as
//! forging) and the counter the maximum.

use crate::ports::NodeMetrics;

/// Why an exposition could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Not one line of the body looks like a Prometheus sample.
    #[error("no Prometheus samples in the body ({bytes} bytes)")]
    NoSamples {
        /// Body size.
        bytes: usize,
    },
    /// A forging series carries a value that is not a number we can use.
    #[error("metric {name} has unusable value {value:?}")]
    BadValue {
        /// The series name.
        name: String,
        /// The raw value.
        value: String,
    },
}

/// Extracts the forging flag and leadership-check counter. Absent series are `None`; a body with no
/// sample at all, or a forging series with a garbage value, is an error.
pub(crate) fn parse(body: &str) -> Result<NodeMetrics, ParseError> {
    let mut samples = 0usize;
    let mut out = NodeMetrics::default();
    for line in body.lines() {
        let Some((name, value)) = sample(line) else {
            continue;
        };
        samples += 1;
        if is_forging_enabled(name) {
            let v = number(name, value)?;
            let on = v != 0.0;
            out.forging_enabled = Some(out.forging_enabled.unwrap_or(false) || on);
        } else if is_about_to_lead(name) {
            let v = number(name, value)?;
            if v < 0.0 {
                return Err(bad(name, value));
            }
            // Counters are whole numbers well below 2^53; the cast saturates anyway.
            let n = v as u64;
            out.leader_checks = Some(out.leader_checks.map_or(n, |m| m.max(n)));
        }
    }
    if samples == 0 {
        return Err(ParseError::NoSamples { bytes: body.len() });
    }
    Ok(out)
}

fn is_forging_enabled(name: &str) -> bool {
    let base = name
        .strip_suffix("_int")
        .or_else(|| name.strip_suffix("_real"))
        .unwrap_or(name);
    base.ends_with("forging_enabled")
}

fn is_about_to_lead(name: &str) -> bool {
    name.contains("about_to_lead") || name.contains("AboutToLead")
}

fn number(name: &str, value: &str) -> Result<f64, ParseError> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad(name, value)),
    }
}

fn bad(name: &str, value: &str) -> ParseError {
    ParseError::BadValue {
        name: name.to_string(),
        value: value.chars().take(40).collect(),
    }
}

/// `name{labels} value [timestamp]` → (name, value); `None` for comments, blanks and lines that
/// are not samples.
fn sample(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !valid_name(name) {
        return None;
    }
    let rest = &line[name_end..];
    let rest = if rest.starts_with('{') {
        &rest[labels_end(rest)?..]
    } else {
        rest
    };
    let value = rest.split_ascii_whitespace().next()?;
    Some((name, value))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Index just past the `}` closing a label set that starts at index 0, honouring quoted values
/// (which may contain `}` and escaped quotes).
fn labels_end(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_iohk_monitoring_names_are_read() {
        let body = "# TYPE cardano_node_metrics_forging_enabled gauge\n\
                    cardano_node_metrics_forging_enabled 1\n\
                    cardano_node_metrics_Forge_forge_about_to_lead_int 1234\n\
                    cardano_node_metrics_slotNum_int 99\n";
        let m = parse(body).expect("parse");
        assert_eq!(m.forging_enabled, Some(true));
        assert_eq!(m.leader_checks, Some(1234));
    }

    #[test]
    fn the_new_tracing_names_are_read() {
        let body = "cardano_node_metrics_forging_enabled_int 0\n\
                    cardano_node_metrics_Forge_about_to_lead_counter 77 1700000000000\n";
        let m = parse(body).expect("parse");
        assert_eq!(m.forging_enabled, Some(false));
        assert_eq!(m.leader_checks, Some(77));
    }

    #[test]
    fn prefixless_real_and_camel_case_names_are_read_with_labels() {
        let body = "forging_enabled_real{node=\"a}b\\\"c\"} 1.0\n\
                    Forge_AboutToLead{x=\"y\"} 5e1\n";
        let m = parse(body).expect("parse");
        assert_eq!(m.forging_enabled, Some(true));
        assert_eq!(m.leader_checks, Some(50));
    }

    #[test]
    fn both_schemes_at_once_give_the_or_of_the_flags_and_the_max_of_the_counters() {
        let body = "cardano_node_metrics_forging_enabled 0\n\
                    cardano_node_metrics_forging_enabled_int 1\n\
                    cardano_node_metrics_Forge_forge_about_to_lead_int 10\n\
                    cardano_node_metrics_Forge_about_to_lead_counter 12\n";
        let m = parse(body).expect("parse");
        assert_eq!(m.forging_enabled, Some(true));
        assert_eq!(m.leader_checks, Some(12));
    }

    #[test]
    fn similar_names_that_are_not_the_flag_are_ignored() {
        let body = "cardano_node_metrics_forging_enabled_total_int 1\n\
                    cardano_forging_enabled_something 1\n\
                    up 1\n";
        assert_eq!(parse(body).expect("parse"), NodeMetrics::default());
    }

    #[test]
    fn a_body_without_the_series_is_read_as_absent_series() {
        let m = parse("cardano_node_metrics_slotNum_int 5\n").expect("parse");
        assert_eq!(m, NodeMetrics::default());
    }

    #[test]
    fn garbage_and_empty_bodies_are_errors() {
        assert!(matches!(
            parse("<html><body>hello</body></html>"),
            Err(ParseError::NoSamples { .. })
        ));
        assert!(matches!(parse(""), Err(ParseError::NoSamples { .. })));
        assert!(matches!(
            parse("cardano_node_metrics_forging_enabled yes\n"),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse("cardano_node_metrics_Forge_about_to_lead_int NaN\n"),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse("cardano_node_metrics_Forge_about_to_lead_int -3\n"),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse("x{unterminated=\"} 1\n"),
            Err(ParseError::NoSamples { .. })
        ));
    }
}
