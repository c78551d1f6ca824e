//! [`Config::warnings`]: what a configuration says in a way its author may not have meant, and that
//! is still not an error, because the old sidecar read it the same way:
//! - a boolean in a form other than `true`/`1`/`yes` or `false`/`0`/`no`/empty is read as false
//!   (`ENABLE_CLUSTER_MANAGEMENT=on` in a multi-region pool means independent forgers per region);
//! - an environment variable one edit away from one we read is a typo, and the setting it meant
//!   keeps its default.
//!
//! `check-config` prints them to stderr, and `run` logs each at WARN before anything starts.

use super::{Config, Kind, value};

/// One setting that is probably not what its author meant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("warning: {variable}: {message}")]
pub struct ConfigWarning {
    /// The environment variable as it was written.
    pub variable: String,
    /// What it is read as, and what to write instead.
    pub message: String,
}

/// The forms a boolean is written in on purpose: what [`value::parse_bool`] reads as true, and
/// their false counterparts. Anything else is read as false, silently before.
fn deliberate_bool(raw: &str) -> bool {
    value::parse_bool(raw) || matches!(raw.to_ascii_lowercase().as_str(), "false" | "0" | "no" | "")
}

/// Names shorter than this are not compared: short names are one edit from too much (`HOME`).
const MIN_COMPARED_NAME: usize = 6;

impl Config {
    /// The warnings of this configuration, given the names of the variables in the environment
    /// (`std::env::vars_os`' keys for the sidecar; tests pass their own).
    pub fn warnings<'a>(&self, env_names: impl IntoIterator<Item = &'a str>) -> Vec<ConfigWarning> {
        let entries = self.entries();
        let mut warnings: Vec<ConfigWarning> = entries
            .iter()
            .filter(|(_, raw, kind)| matches!(kind, Kind::Bool) && !deliberate_bool(raw))
            .map(|(name, raw, _)| ConfigWarning {
                variable: (*name).to_string(),
                message: format!(
                    "value {raw:?} is read as false (only true, 1 or yes mean true, as in the \
                     Python sidecar); write true or false"
                ),
            })
            .collect();
        for name in env_names {
            if name.len() < MIN_COMPARED_NAME || entries.iter().any(|(known, _, _)| *known == name)
            {
                continue;
            }
            let meant = entries
                .iter()
                .find(|(known, _, _)| strsim::damerau_levenshtein(known, name) == 1);
            if let Some((known, raw, _)) = meant {
                warnings.push(ConfigWarning {
                    variable: name.to_string(),
                    message: format!(
                        "not a variable forge-manager reads; did you mean {known}? ({known} keeps \
                         its value {raw:?})"
                    ),
                });
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().copied()).expect("a configuration")
    }

    #[test]
    fn a_boolean_in_another_form_is_named_with_how_it_is_read() {
        let cases = [
            ("on", true),
            ("enabled", true),
            ("Y", true),
            ("off", true),
            ("true", false),
            ("TRUE", false),
            ("1", false),
            ("yes", false),
            ("false", false),
            ("0", false),
            ("no", false),
            ("", false),
            // Read as false by the old rule (no trimming): worth a warning.
            (" true ", true),
        ];
        for (value, warned) in cases {
            let c = config(&[("ENABLE_CLUSTER_MANAGEMENT", value)]);
            let w = c.warnings([]);
            assert_eq!(
                w.iter().any(|w| w.variable == "ENABLE_CLUSTER_MANAGEMENT"),
                warned,
                "{value:?}: {w:?}"
            );
        }
        let w = config(&[("ENABLE_CLUSTER_MANAGEMENT", "on")]).warnings([]);
        assert_eq!(
            w[0].to_string(),
            "warning: ENABLE_CLUSTER_MANAGEMENT: value \"on\" is read as false (only true, 1 or \
             yes mean true, as in the Python sidecar); write true or false"
        );
    }

    #[test]
    fn a_variable_one_edit_from_a_known_one_is_named_with_the_one_it_meant() {
        let c = config(&[]);
        let cases = [
            // Deletion, insertion, substitution, transposition.
            (
                "ENABLE_CLUSTER_MANAGMENT",
                Some("ENABLE_CLUSTER_MANAGEMENT"),
            ),
            ("LEASE_DURATIONS", Some("LEASE_DURATION")),
            ("CLUSTER_REGIOM", Some("CLUSTER_REGION")),
            ("NAMESPCAE", Some("NAMESPACE")),
            // Known, far from any, or too short to compare.
            ("ENABLE_CLUSTER_MANAGEMENT", None),
            ("KUBERNETES_SERVICE_HOST", None),
            ("LEASE_DURATION_SECONDS", None),
            ("PATH", None),
        ];
        for (name, meant) in cases {
            let w = c.warnings([name]);
            let found = w
                .iter()
                .find(|w| w.variable == name)
                .map(|w| w.message.clone());
            match meant {
                Some(known) => {
                    let message = found.unwrap_or_else(|| panic!("{name}: no warning"));
                    assert!(
                        message.contains(&format!("did you mean {known}?")),
                        "{message}"
                    );
                }
                None => assert_eq!(found, None, "{name}"),
            }
        }
    }

    #[test]
    fn the_typo_says_the_meant_setting_keeps_its_value() {
        let c = config(&[]);
        let w = c.warnings(["ENABLE_CLUSTER_MANAGMENT"]);
        assert_eq!(
            w[0].to_string(),
            "warning: ENABLE_CLUSTER_MANAGMENT: not a variable forge-manager reads; did you mean \
             ENABLE_CLUSTER_MANAGEMENT? (ENABLE_CLUSTER_MANAGEMENT keeps its value \"false\")"
        );
    }
}
