//! Logs: one tracing subscriber for the process, JSON lines (`LOG_FORMAT=json`, the default) or
//! human-readable text, at the level `LOG_LEVEL` names (Python names: `DEBUG`, `INFO`, `WARNING`,
//! `ERROR`, `CRITICAL`), on stderr.
//!
//! Every line carries who logs it: the subcommands run inside [`root_span`], whose fields
//! (`pod`, `network`, `pool`, `region`) the JSON format prints under `span` and the text format as
//! a prefix. Nothing logs key material: credential sets print as fingerprints only.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, ValidConfig};

/// Why the subscriber could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// A global subscriber is already installed (a second `init` in one process).
    #[error("installing the log subscriber: {0}")]
    Install(String),
}

/// Noisy dependencies are held at `warn` unless the level is finer than that anyway.
const QUIET: [&str; 6] = [
    "hyper",
    "hyper_util",
    "kube_client",
    "tower",
    "h2",
    "rustls",
];

/// The filter for `level`.
pub fn filter(level: tracing::Level) -> EnvFilter {
    let level = level.as_str().to_ascii_lowercase();
    let mut directives = level.clone();
    if level != "trace" && level != "debug" {
        for krate in QUIET {
            directives.push_str(&format!(",{krate}=warn"));
        }
    }
    EnvFilter::new(directives)
}

/// Installs the global subscriber for `format` and `level`.
pub fn init(format: LogFormat, level: tracing::Level) -> Result<(), LoggingError> {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    result.map_err(|e| LoggingError::Install(e.to_string()))
}

/// The span every line of a subcommand is logged in: who this sidecar is.
pub fn root_span(c: &ValidConfig) -> tracing::Span {
    tracing::info_span!(
        "forge_manager",
        pod = %c.pod_name,
        network = %c.network,
        pool = %c.metric_pool_id,
        region = %c.region,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_level_names_map_to_filters_that_quiet_dependencies() {
        let f = filter(tracing::Level::WARN).to_string();
        assert!(f.split(',').any(|d| d == "warn"), "{f}");
        assert!(f.contains("hyper=warn"), "{f}");
        assert_eq!(filter(tracing::Level::DEBUG).to_string(), "debug");
    }
}
