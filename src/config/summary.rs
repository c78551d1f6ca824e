//! [`Config::effective_summary`]: the configuration as it will be used, for `check-config` and the
//! startup log.

use super::{Config, Kind, format_duration, value};

impl Config {
    /// The effective configuration, one `NAME=value` per line, sorted, defaults and derived values
    /// filled in, durations in canonical form; values quoted where a shell would need it, so the
    /// output can be sourced. Holds no secrets: only paths to them.
    pub fn effective_summary(&self) -> String {
        let mut lines: Vec<String> = self
            .entries()
            .into_iter()
            .map(|(name, raw, kind)| {
                let effective = match (name, kind) {
                    ("CLUSTER_IDENTIFIER", _) => self.cluster_identifier().to_string(),
                    ("GLOBAL_LEASE_NAME", _) => self.global_lease_name(),
                    (_, Kind::Duration) => value::parse_env_duration(raw)
                        .map_or_else(|_| raw.to_string(), format_duration),
                    (_, Kind::Bool) => value::parse_bool(raw).to_string(),
                    (_, Kind::Int) => value::parse_python_int(raw)
                        .map_or_else(|| raw.to_string(), |n| n.to_string()),
                    (_, Kind::Text) => raw.to_string(),
                };
                format!("{name}={}", shell_quote(&effective))
            })
            .collect();
        lines.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// `text` as a POSIX shell word: unchanged when it needs no quoting, else in single quotes.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
