//! OpenMetrics → Prometheus text format 0.0.4, so old scrapers and `promtool check metrics` accept
//! what prometheus-client encodes.
//!
//! The differences that matter for what we register: no `# EOF` or `# UNIT` lines; a counter's
//! `# HELP`/`# TYPE` lines name the sample (`x_total`, not `x`); `_created` samples do not exist;
//! `info` and `unknown` types become `gauge` and `untyped`.

/// The Content-Type of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Converts OpenMetrics text (as prometheus-client writes it) into text format 0.0.4.
pub fn from_openmetrics(open: &str) -> String {
    let mut out = String::with_capacity(open.len());
    // prometheus-client writes `# HELP` before `# TYPE`; the HELP line waits for the TYPE, which
    // decides the family's name in 0.0.4.
    let mut help: Option<(&str, &str)> = None;
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_string(), kind),
                _ => (name.to_string(), "untyped"),
            };
            if let Some((help_name, text)) = help.take() {
                let help_name = if help_name == name.trim_end_matches("_total")
                    || help_name == name.trim_end_matches("_info")
                {
                    name.as_str()
                } else {
                    help_name
                };
                out.push_str(&format!("# HELP {help_name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        if let Some((help_name, text)) = help.take() {
            out.push_str(&format!("# HELP {help_name} {text}\n"));
        }
        let sample_name = line.split(['{', ' ']).next().unwrap_or("");
        if sample_name.ends_with("_created") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_their_sample_and_eof_unit_and_created_lines_go() {
        let open = "# HELP c Changes.\n# TYPE c counter\nc_total 3\nc_created 1.7e9\n\
                    # HELP g A gauge.\n# TYPE g gauge\n# UNIT g seconds\ng{a=\"b\"} 1.0\n# EOF\n";
        assert_eq!(
            from_openmetrics(open),
            "# HELP c_total Changes.\n# TYPE c_total counter\nc_total 3\n\
             # HELP g A gauge.\n# TYPE g gauge\ng{a=\"b\"} 1.0\n"
        );
    }

    #[test]
    fn info_metrics_become_gauges_named_with_the_info_suffix() {
        let open = "# HELP x Build.\n# TYPE x info\nx_info{v=\"1\"} 1\n# EOF\n";
        assert_eq!(
            from_openmetrics(open),
            "# HELP x_info Build.\n# TYPE x_info gauge\nx_info{v=\"1\"} 1\n"
        );
    }
}
