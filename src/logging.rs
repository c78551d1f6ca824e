//! Logs: one tracing subscriber for the process, JSON lines (`LOG_FORMAT=json`, the default) or
//! human-readable text, at the level `LOG_LEVEL` names (Python names: `DEBUG`, `INFO`, `WARNING`,
//! `ERROR`, `CRITICAL`), on stderr.
//!
//! Every line carries who logs it: the subcommands run inside [`root_span`], whose fields
//! (`pod`, `network`, `pool`, `region`) the JSON format prints under `span` and the text format as
//! a prefix. Nothing logs key material: credential sets print as fingerprints only.
//!
//! A JSON line is one object: `timestamp`, `level`, `message`, the event's fields at the top
//! level, and `span`. Fields that carry JSON text ([`STRUCTURED`], such as a decision's
//! `actions`) are embedded as JSON values, so `jq '.actions[].action'` works; tracing itself
//! records every field as text.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

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
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    result.map_err(|e| LoggingError::Install(e.to_string()))
}

/// Fields whose text is JSON, embedded as JSON values in a JSON line.
pub const STRUCTURED: [&str; 1] = ["actions"];

/// The JSON line format (the module's comment says its shape).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = serde_json::Map::new();
        let now = jiff::Timestamp::now();
        let now = now.round(jiff::Unit::Microsecond).unwrap_or(now);
        line.insert("timestamp".into(), now.to_string().into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        event.record(&mut JsonVisitor(&mut line));
        if let Some(span) = ctx.lookup_current() {
            let mut fields = span
                .extensions()
                .get::<FormattedFields<N>>()
                .and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok())
                .and_then(|v| match v {
                    serde_json::Value::Object(map) => Some(map),
                    _ => None,
                })
                .unwrap_or_default();
            fields.insert("name".into(), span.name().into());
            line.insert("span".into(), fields.into());
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// Collects an event's fields into a JSON object.
struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, text: String) {
        let value = if STRUCTURED.contains(&field.name()) {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        } else {
            serde_json::Value::String(text)
        };
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
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

    /// A buffer the test subscriber writes into.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// One JSON object per line: the message and fields at the top level, typed where tracing
    /// gives a type, `actions` as a JSON array (not text), and who logs it under `span`.
    #[test]
    fn a_json_line_embeds_actions_as_json_and_names_the_span() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("forge_manager", pod = "bp-0", region = "eu");
            let _entered = span.enter();
            let actions = serde_json::json!([{"action": "demote", "sighup": true, "result": "ok"}]);
            tracing::info!(
                role = "demoting",
                entitled = false,
                attempt = 2u64,
                actions = %actions,
                "demoting"
            );
            tracing::warn!(actions = "not json", "fallback");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "demoting");
        assert_eq!(first["role"], "demoting");
        assert_eq!(first["entitled"], false);
        assert_eq!(first["attempt"], 2);
        assert_eq!(first["actions"][0]["action"], "demote");
        assert_eq!(first["actions"][0]["sighup"], true);
        assert_eq!(first["span"]["name"], "forge_manager");
        assert_eq!(first["span"]["pod"], "bp-0");
        assert!(
            first["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{first}"
        );
        assert_eq!(
            lines[1]["actions"], "not json",
            "text that is not JSON stays text"
        );
    }
}
