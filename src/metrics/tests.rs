//! The rendered text: old names and labels, new series, format 0.0.4 (checked by promtool when it is
//! installed; required in CI).

use std::collections::BTreeSet;

use super::*;

fn identity(cluster: bool) -> Identity {
    test_identity(cluster.then_some(("mainnet-pool1abcde-eu", "eu", 100)))
}

const COMMON: &str =
    r#"{pod="bp-0",network="mainnet",pool_id="pool1abcde",application="block-producer"}"#;

/// `name` with the common labels and an open label set, for series with labels of their own.
fn labelled(name: &str) -> String {
    format!("{name}{},", COMMON.trim_end_matches('}'))
}

#[test]
fn a_fresh_sidecar_exports_the_old_names_with_the_old_labels_and_zero_values() {
    let m = Metrics::new(&identity(false));
    let text = m.render().unwrap_or_default();
    for line in [
        format!("cardano_forging_enabled{COMMON} 0.0"),
        format!("cardano_leader_status{COMMON} 0.0"),
        "cardano_leadership_changes_total 0".to_string(),
        "# TYPE cardano_leadership_changes_total counter".to_string(),
        r#"cardano_forge_manager_info_info{pod_name="bp-0",namespace="cardano",version="0.1.0",network="mainnet",pool_id="pool1abcdefgh",pool_ticker="TICK",application_type="block-producer"} 1.0"#.to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("# EOF"));
    assert!(!text.contains("cardano_cluster_"), "{text}");
}

#[test]
fn roles_sighups_and_operations_show_up_under_their_labels() {
    let m = Metrics::new(&identity(true));
    m.set_roles(true, true, true);
    m.sighup("enable_forging");
    m.sighup_result(true);
    m.credential_operation("copy");
    m.api_error("local", "unreachable");
    m.decision("forging", jiff::Timestamp::UNIX_EPOCH);
    let text = m.render().unwrap_or_default();
    for line in [
        format!("cardano_forging_enabled{COMMON} 1.0"),
        format!("cardano_forging_active{COMMON} 1.0"),
        r#"cardano_sighup_signals_total{reason="enable_forging"} 1"#.to_string(),
        format!(r#"{}result="verified"}} 1"#, labelled("cardano_sighup_results_total")),
        r#"cardano_credential_operations_total{operation="copy",file="opcert"} 1"#.to_string(),
        format!(r#"{}server="local",kind="unreachable"}} 1"#, labelled("cardano_api_errors_total")),
        format!(r#"{}reason="forging"}} 1"#, labelled("cardano_decisions_total")),
        format!("cardano_forge_manager_loop_last_decision_timestamp_seconds{COMMON} 0.0"),
        r#"cardano_cluster_forge_enabled{cluster="mainnet-pool1abcde-eu",region="eu",network="mainnet",pool_id="pool1abcde"} 1.0"#.to_string(),
        r#"cardano_cluster_forge_priority{cluster="mainnet-pool1abcde-eu",region="eu",network="mainnet",pool_id="pool1abcde"} 100.0"#.to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    // No health sample before the first health check.
    assert!(
        !text.contains("cardano_cluster_health_check_success{"),
        "{text}"
    );
    m.record_health_check(false, false, 2, 0.5);
    let text = m.render().unwrap_or_default();
    assert!(text.contains(r#"cardano_cluster_health_status{cluster="mainnet-pool1abcde-eu",region="eu",network="mainnet",pool_id="pool1abcde",healthy="false"} 1.0"#), "{text}");
}

#[test]
fn the_fingerprint_series_follows_the_real_set() {
    let m = Metrics::new(&identity(false));
    let mut st = Status {
        real_fingerprint: Some("0123456789abcdef".into()),
        ..Status::default()
    };
    m.observe_status(&st);
    st.real_fingerprint = Some("fedcba9876543210".into());
    m.observe_status(&st);
    let text = m.render().unwrap_or_default();
    let line = format!(
        r#"{}set="real",fingerprint="fedcba9876543210"}} 1.0"#,
        labelled("cardano_credential_fingerprint_info")
    );
    assert!(
        text.lines().any(|l| l == line),
        "missing {line:?} in\n{text}"
    );
    assert!(!text.contains("0123456789abcdef"), "{text}");
}

#[test]
fn promtool_accepts_the_rendered_text() {
    let m = Metrics::new(&identity(true));
    m.set_roles(true, true, false);
    m.sighup("disable_forging");
    m.record_health_check(true, true, 0, 0.01);
    m.observe_status(&Status {
        real_fingerprint: Some("0123456789abcdef".into()),
        lease_unchanged_ms: Some(1500),
        ..Status::default()
    });
    let text = m.render().unwrap_or_default();
    let Some(out) = promtool_check(&text) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is required in CI (apt-get install prometheus; see .ci/install-tools.sh)"
        );
        eprintln!("promtool not installed: skipping the format check");
        return;
    };
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_standard_process_series_are_exported_with_their_usual_types() {
    let text = Metrics::new(&identity(false)).render().unwrap_or_default();
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_threads", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "no {kind} {name}:\n{text}"
        );
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample of {name}"));
        assert!(value >= 0.0, "{name} {value}");
    }
}

fn promtool_check(text: &str) -> Option<std::process::Output> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    child.wait_with_output().ok()
}

/// Every series of a sidecar of `pool` on `network`, as its configuration labels it (same pod
/// name and region for every pool: only the labels may tell them apart).
fn series_of(network: &str, pool: &str) -> BTreeSet<String> {
    let magic =
        crate::config::known_network(network).map_or_else(String::new, |n| n.magic.to_string());
    let config = crate::config::Config::from_vars([
        ("CARDANO_NETWORK", network),
        ("NETWORK_MAGIC", magic.as_str()),
        ("POOL_ID", pool),
        ("POD_NAME", "cardano-bp-0"),
        ("CLUSTER_REGION", "eu-west-1"),
        ("ENABLE_CLUSTER_MANAGEMENT", "true"),
    ])
    .expect("config")
    .validate()
    .expect("a valid configuration");
    let m = Metrics::new(&Identity::from_config(&config));
    // Every family gets a series, as a running sidecar's do.
    m.set_roles(true, true, true);
    m.set_cluster_priority(1);
    m.record_health_check(true, true, 0, 0.1);
    m.leadership_changed();
    m.lease_transition();
    m.sighup("enable_forging");
    m.sighup_result(true);
    m.credential_operation("copy");
    m.api_request("local", "get");
    m.api_error("local", "conflict");
    m.decision("forging", jiff::Timestamp::UNIX_EPOCH);
    m.add_journal_write_failures(1);
    let real = crate::credentials::sample_set("real");
    m.observe_status(&Status {
        real_fingerprint: Some(real.fingerprint()),
        lease_unchanged_ms: Some(1_000),
        ..Status::default()
    });
    m.observe_kes_window(
        Some(&real),
        Some(&crate::credentials::Network::Mainnet.genesis()),
    );
    let text = m.render().expect("render");
    // Every registered family has a sample, so a new family left out above fails here rather
    // than escaping the comparison below.
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = family.split_whitespace().next().unwrap_or_default();
        assert!(
            text.lines()
                .any(|l| l.strip_prefix(name).is_some_and(|rest| {
                    // A histogram's samples are its `_bucket`, `_sum` and `_count` series.
                    let rest = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| rest.strip_prefix(suffix))
                        .unwrap_or(rest);
                    rest.starts_with(['{', ' '])
                })),
            "no sample of {name}: give it one in series_of\n{text}"
        );
    }
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

#[test]
fn pools_and_networks_in_one_namespace_export_disjoint_series() {
    let a = series_of("mainnet", "pool1aaaaaqqqqqyyyyyzzzzz");
    let b = series_of("mainnet", "pool1bbbbbqqqqqyyyyyzzzzz");
    let c = series_of("preprod", "pool1aaaaaqqqqqyyyyyzzzzz");
    // Only the old sidecar's series whose label sets docs/compatibility.md §2 fixes without
    // `network`/`pool_id` are the same text for every pool: `cardano_leadership_changes_total`
    // (label-free) and the SIGHUP and credential counters (their own labels only). Prometheus
    // tells those apart by the scrape target's labels. Every series this project added names its
    // pool and network.
    let fixed_by_the_contract = [
        r#"cardano_credential_operations_total{operation="copy",file="kes"}"#,
        r#"cardano_credential_operations_total{operation="copy",file="opcert"}"#,
        r#"cardano_credential_operations_total{operation="copy",file="vrf"}"#,
        "cardano_leadership_changes_total",
        r#"cardano_sighup_signals_total{reason="enable_forging"}"#,
    ];
    for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
        // The process series describe the process, not a pool: label-free in every client.
        let shared: Vec<&str> = x
            .intersection(y)
            .map(String::as_str)
            .filter(|s| !s.starts_with("process_"))
            .collect();
        assert_eq!(shared, fixed_by_the_contract, "series two pools share");
    }
    // Each pool's labelled series name its own pool and network.
    assert!(
        b.iter()
            .filter(|s| s.contains("pool_id="))
            .all(|s| s.contains(r#"pool_id="pool1bbbbb"#)),
        "{b:#?}"
    );
    assert!(
        c.iter()
            .filter(|s| s.contains("network="))
            .all(|s| s.contains(r#"network="preprod""#)),
        "{c:#?}"
    );
}

#[test]
fn a_confirmed_sighup_is_timed_and_its_late_slots_counted_only_where_they_cost_a_handover() {
    let m = Metrics::new(&identity(false));
    let confirmed = |sighup, planned, after_ms, late_slots| SighupConfirmed {
        sighup,
        planned,
        after_ms,
        sent: None,
        confirmed: None,
        late_slots,
    };
    use crate::report::SighupKind::{Disable, Enable};
    // A handover's slow promotion: 2 slots late; a start-up promotion sent just before a slot
    // start (not timed, not counted); a planned demotion one slot late; an unplanned demotion
    // (fenced: not timed to a slot) that crossed a slot start; no slot clock.
    m.sighup_confirmed(&confirmed(Enable, true, 1_700, Some(2)));
    m.sighup_confirmed(&confirmed(Enable, false, 80, Some(1)));
    m.sighup_confirmed(&confirmed(Disable, true, 1_730, Some(1)));
    m.sighup_confirmed(&confirmed(Disable, false, 300, Some(1)));
    m.sighup_confirmed(&confirmed(Disable, false, 60, None));
    let text = m.render().unwrap_or_default();
    // The encoder puts `le` first.
    let bucket = |le: &str, n: u32| {
        format!(
            r#"cardano_sighup_confirm_seconds_bucket{{le="{le}",{},sighup="enable"}} {n}"#,
            COMMON.trim_start_matches('{').trim_end_matches('}')
        )
    };
    for line in [
        format!(
            r#"{}sighup="enable"}} 2"#,
            labelled("cardano_sighup_late_slots_total")
        ),
        format!(
            r#"{}sighup="disable"}} 1"#,
            labelled("cardano_sighup_late_slots_total")
        ),
        format!(
            r#"{}sighup="enable"}} 2"#,
            labelled("cardano_sighup_confirm_seconds_count")
        ),
        format!(
            r#"{}sighup="disable"}} 3"#,
            labelled("cardano_sighup_confirm_seconds_count")
        ),
        bucket("0.1", 1),
        bucket("1.0", 1),
        bucket("2.0", 2),
        "# TYPE cardano_sighup_confirm_seconds histogram".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
