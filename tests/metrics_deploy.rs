//! Every metric the Prometheus rules and the Grafana dashboard name (the list in
//! `deploy/metrics.txt`, which `deploy/check.sh` checks against both) exists in the sidecar's own
//! `/metrics` output, with cluster management on so the cross-region series are registered.

use forge_manager::config::Config;
use forge_manager::metrics::{Identity, Metrics};

#[test]
fn every_metric_the_rules_and_dashboard_use_is_exported_by_the_sidecar() {
    let config = Config {
        pod_name: "bp-0".into(),
        enable_cluster_management: "true".into(),
        cluster_region: "us-east-1".into(),
        pool_id: "pool1abcdefghij".into(),
        ..Config::default()
    }
    .validate()
    .expect("a valid configuration");
    let metrics = Metrics::new(&Identity::from_config(&config));
    // Give every labelled family one series, as a running sidecar does within its first minutes.
    metrics.record_health_check(true, true, 0, 0.01);
    metrics.add_journal_write_failures(0);
    metrics.sighup("enable_forging");
    metrics.sighup_result(true);
    metrics.credential_operation("copy");
    metrics.api_request("local", "get");
    metrics.api_error("local", "conflict");
    metrics.decision("forging", jiff::Timestamp::UNIX_EPOCH);
    let real = forge_manager::credentials::sample_set("real");
    let status = forge_manager::runtime::Status {
        real_fingerprint: Some(real.fingerprint()),
        lease_unchanged_ms: Some(1_000),
        ..Default::default()
    };
    metrics.observe_status(&status);
    metrics.observe_kes_window(
        Some(&real),
        Some(&forge_manager::credentials::Network::Mainnet.genesis()),
    );
    let text = metrics.render().unwrap_or_default();
    let exported: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let wanted = include_str!("../deploy/metrics.txt");
    let missing: Vec<&str> = wanted
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|name| {
            !exported.contains(name)
                && !["_total", "_bucket"].iter().any(|suffix| {
                    name.strip_suffix(suffix)
                        .is_some_and(|base| exported.contains(base))
                })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "named in deploy/metrics.txt (rules, dashboard) but not exported: {missing:?}\nexported: {exported:?}"
    );
}
