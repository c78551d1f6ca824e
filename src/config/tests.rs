use std::collections::BTreeSet;

use clap::Args;

use super::*;
use crate::core::timing::Timing;

/// Every env name clap knows for [`Config`].
fn clap_env_names() -> BTreeSet<String> {
    Config::augment_args(clap::Command::new("test"))
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

/// A configuration from `NAME=value` pairs, defaults elsewhere.
fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(vars.iter().copied()).expect("test variables are known")
}

/// A minimal valid configuration plus `vars`.
fn with(vars: &[(&str, &str)]) -> Config {
    let mut all = vars.to_vec();
    if !vars.iter().any(|(name, _)| *name == "POD_NAME") {
        all.push(("POD_NAME", "cardano-bp-0"));
    }
    config(&all)
}

fn problem_variables(c: &Config) -> Vec<&'static str> {
    c.problems().iter().map(|p| p.variable).collect()
}

#[test]
fn defaults_with_a_pod_name_are_valid() {
    assert_eq!(with(&[]).problems(), vec![]);
}

#[test]
fn default_is_what_clap_fills_in() {
    assert_eq!(Config::default(), config(&[]));
}

#[test]
fn from_vars_ignores_the_process_environment_and_rejects_unknown_names() {
    // The test process may have any of these set; from_vars must not see them.
    assert_eq!(config(&[]).pod_name, "");
    assert_eq!(config(&[("LEASE_DURATION", "-5")]).lease_duration, "-5");
    assert!(matches!(
        Config::from_vars([("LEASE_DURATON", "15")]),
        Err(FromVarsError::UnknownVariable(name)) if name == "LEASE_DURATON"
    ));
}

#[test]
fn defaults_match_the_old_sidecar_and_the_scenario_timing() {
    let c = with(&[]);
    assert_eq!(c.namespace, "default");
    assert_eq!(c.lease_name, "cardano-node-leader");
    assert_eq!(c.crd_name, "cardano-leader");
    assert_eq!(c.metrics_port(), Ok(8000));
    assert_eq!(c.sleep_interval(), Ok(Duration::from_secs(5)));
    assert_eq!(c.socket_wait_timeout(), Ok(Duration::from_secs(600)));
    assert_eq!(c.health_check_interval(), Ok(Duration::from_secs(30)));
    assert_eq!(c.failback_delay(), Ok(Duration::from_secs(60)));
    assert_eq!(c.health_failure_threshold(), Ok(3));
    assert_eq!(c.health_success_threshold(), Ok(2));
    assert_eq!(
        c.journal_retention(),
        Ok(Duration::from_secs(7 * 24 * 3600))
    );
    assert_eq!(c.credential_mode(), Ok(CredentialMode::Decoy));
    assert_eq!(c.log_format(), Ok(LogFormat::Json));
    assert_eq!(c.log_level(), Ok(tracing::Level::INFO));
    assert!(!c.cluster_management());
    assert!(!c.disable_socket_check());
    // The default network (mainnet) brings its slot length: promotions wait out a slot.
    assert_eq!(
        c.validate().expect("valid").timing.params(),
        crate::core::timing::TimingParams {
            slot_length: Some(Duration::from_secs(1)),
            ..Timing::default().params()
        }
    );
}

#[test]
fn timing_maps_each_variable_to_its_field() {
    let c = with(&[
        ("LEASE_DURATION", "30"),
        ("RENEW_DEADLINE", "20s"),
        ("RETRY_PERIOD", "4s"),
        ("API_TIMEOUT", "5s"),
        ("SIGHUP_VERIFY_TIMEOUT", "7s"),
    ]);
    let t = c.validate().expect("valid").timing;
    assert_eq!(t.lease_duration(), Duration::from_secs(30));
    assert_eq!(t.renew_deadline(), Duration::from_secs(20));
    assert_eq!(t.retry_period(), Duration::from_secs(4));
    assert_eq!(t.api_timeout(), Duration::from_secs(5));
    assert_eq!(t.sighup_verify_timeout(), Duration::from_secs(7));
    assert_eq!(t.retry_jitter(), Timing::default().retry_jitter());
    assert_eq!(t.demotion_time(), Timing::default().demotion_time());
    assert_eq!(c.problems(), vec![]);
}

#[test]
fn each_bad_setting_is_reported_under_its_variable() {
    let cluster = [
        ("ENABLE_CLUSTER_MANAGEMENT", "true"),
        ("CLUSTER_REGION", "us-east-1"),
    ];
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, &[&str])] = &[
        (&[("RETRY_PERIOD", "10s")], &["RETRY_PERIOD"]),
        (&[("RENEW_DEADLINE", "15s")], &["RENEW_DEADLINE"]),
        (&[("RENEW_DEADLINE", "10x")], &["RENEW_DEADLINE"]),
        (&[("LEASE_DURATION", "11")], &["LEASE_DURATION"]),
        (&[("LEASE_DURATION", "15500ms")], &["LEASE_DURATION"]),
        (&[("LEASE_DURATION", "abc")], &["LEASE_DURATION"]),
        (&[("API_TIMEOUT", "0s")], &["API_TIMEOUT"]),
        (&[("SLEEP_INTERVAL", "-5")], &["SLEEP_INTERVAL"]),
        (&[("SOCKET_WAIT_TIMEOUT", "1.5")], &["SOCKET_WAIT_TIMEOUT"]),
        (
            &[("HEALTH_CHECK_INTERVAL", "0")],
            &["HEALTH_CHECK_INTERVAL"],
        ),
        (&[("HEALTH_CHECK_TIMEOUT", "0s")], &["HEALTH_CHECK_TIMEOUT"]),
        (&[("JOURNAL_RETENTION", "7d")], &["JOURNAL_RETENTION"]),
        (&[("FAILBACK_DELAY", "1m1m")], &["FAILBACK_DELAY"]),
        (&[("METRICS_PORT", "0")], &["METRICS_PORT"]),
        (&[("METRICS_PORT", "65536")], &["METRICS_PORT"]),
        (&[("METRICS_PORT", "http")], &["METRICS_PORT"]),
        (&[("NETWORK_MAGIC", "mainnet")], &["NETWORK_MAGIC"]),
        (&[("CLUSTER_PRIORITY", "high")], &["CLUSTER_PRIORITY"]),
        (
            &[("HEALTH_FAILURE_THRESHOLD", "0")],
            &["HEALTH_FAILURE_THRESHOLD"],
        ),
        (
            &[("HEALTH_SUCCESS_THRESHOLD", "0")],
            &["HEALTH_SUCCESS_THRESHOLD"],
        ),
        (&[("LOG_LEVEL", "VERBOSE")], &["LOG_LEVEL"]),
        (&[("LOG_FORMAT", "yaml")], &["LOG_FORMAT"]),
        (&[("CREDENTIAL_MODE", "move")], &["CREDENTIAL_MODE"]),
        (&[("SLOT_LENGTH", "0s")], &["SLOT_LENGTH"]),
        (&[("SLOT_LENGTH", "fast")], &["SLOT_LENGTH"]),
        (&[("SYSTEM_START", "2017-09-23")], &["SYSTEM_START"]),
        (
            &[("CARDANO_NETWORK", "sanchonet"), ("SLOT_LENGTH", "1s")],
            &["SYSTEM_START"],
        ),
        (
            &[
                ("CARDANO_NETWORK", "sanchonet"),
                ("SYSTEM_START", "2023-06-15T00:30:00Z"),
            ],
            &["SLOT_LENGTH"],
        ),
        (&[("NODE_SOCKET", "ipc/node.socket")], &["NODE_SOCKET"]),
        (&[("SOURCE_KES_KEY", "kes.skey")], &["SOURCE_KES_KEY"]),
        (&[("TARGET_OP_CERT", "")], &["TARGET_OP_CERT"]),
        (&[("SOURCE_DECOY_DIR", "decoy")], &["SOURCE_DECOY_DIR"]),
        (&[("JOURNAL_PATH", "./j.redb")], &["JOURNAL_PATH"]),
        (&[("HEARTBEAT_PATH", "hb")], &["HEARTBEAT_PATH"]),
        (
            &[("COORDINATION_KUBECONFIG", "kube.yaml")],
            &["COORDINATION_KUBECONFIG"],
        ),
        (&[("NAMESPACE", "Cardano")], &["NAMESPACE"]),
        (&[("NAMESPACE", "a.b")], &["NAMESPACE"]),
        (&[("POD_NAME", "")], &["POD_NAME"]),
        (&[("POD_NAME", "Pod_0")], &["POD_NAME"]),
        (&[("LEASE_NAME", "")], &["LEASE_NAME"]),
        (&[("CRD_NAME", "Leader")], &["CRD_NAME"]),
        (
            &[("GLOBAL_LEASE_NAME", "global_lease")],
            &["GLOBAL_LEASE_NAME"],
        ),
        (
            &[("CARDANO_NODE_PROCESS_NAME", "")],
            &["CARDANO_NODE_PROCESS_NAME"],
        ),
        (
            &[("HEALTH_CHECK_ENDPOINT", "localhost:8080/health")],
            &["HEALTH_CHECK_ENDPOINT"],
        ),
        (
            &[("HEALTH_CHECK_ENDPOINT", "ftp://h/x")],
            &["HEALTH_CHECK_ENDPOINT"],
        ),
        (&[("NODE_METRICS_URL", "")], &["NODE_METRICS_URL"]),
        (&[("NODE_METRICS_URL", "http://")], &["NODE_METRICS_URL"]),
        (&[("NODE_METRICS_URL", "/metrics")], &["NODE_METRICS_URL"]),
        (
            &[("NODE_METRICS_URL", "http://a b/")],
            &["NODE_METRICS_URL"],
        ),
        (&[("POOL_ID", "  ")], &["POOL_ID"]),
        (&[("POOL_ID_HEX", "xyz")], &["POOL_ID_HEX"]),
        (
            &[("ENABLE_CLUSTER_MANAGEMENT", "true")],
            &["CLUSTER_REGION"],
        ),
        (
            &[("ENABLE_CLUSTER_MANAGEMENT", "yes"), ("CLUSTER_REGION", "")],
            &["CLUSTER_REGION"],
        ),
        (
            &[
                ("ENABLE_CLUSTER_MANAGEMENT", "1"),
                ("CLUSTER_REGION", "US_East"),
            ],
            &["CLUSTER_REGION"],
        ),
        (
            &[cluster[0], cluster[1], ("CARDANO_NETWORK", " ")],
            &["CARDANO_NETWORK"],
        ),
        (
            &[
                cluster[0],
                cluster[1],
                ("POOL_ID", "pool1abcdefgh"),
                ("CARDANO_NETWORK", "preprod"),
            ],
            &["NETWORK_MAGIC"],
        ),
        (
            &[cluster[0], cluster[1], ("POOL_ID", "MYPOOL")],
            &["POOL_ID", "GLOBAL_LEASE_NAME"],
        ),
        (
            &[cluster[0], cluster[1], ("CLUSTER_IDENTIFIER", "Cluster_A")],
            &["CLUSTER_IDENTIFIER"],
        ),
        (&[cluster[0], cluster[1], ("POD_NAME", "")], &["POD_NAME"]),
    ];
    for (vars, want) in cases {
        assert_eq!(problem_variables(&with(vars)), *want, "{vars:?}");
    }
}

#[test]
fn settings_that_are_fine_raise_no_problem() {
    let cases: &[&[(&str, &str)]] = &[
        &[
            ("LEASE_DURATION", " 30 "),
            ("RENEW_DEADLINE", "20"),
            ("RETRY_PERIOD", "2"),
        ],
        &[("ENABLE_CLUSTER_MANAGEMENT", "on"), ("CLUSTER_REGION", "")],
        &[(
            "HEALTH_CHECK_ENDPOINT",
            "https://pool.example.com:8443/health",
        )],
        &[("POOL_ID_HEX", "ABCdef0123")],
        &[
            ("LOG_LEVEL", "critical"),
            ("LOG_FORMAT", "TEXT"),
            ("CREDENTIAL_MODE", "copy"),
        ],
        &[
            ("ENABLE_CLUSTER_MANAGEMENT", "true"),
            ("CLUSTER_REGION", "eu-west-1"),
            ("POOL_ID", "pool1abcdefghijklmnop"),
            ("CARDANO_NETWORK", "preview"),
            ("NETWORK_MAGIC", "2"),
        ],
        // An unknown network has no magic to check against.
        &[
            ("ENABLE_CLUSTER_MANAGEMENT", "true"),
            ("CLUSTER_REGION", "eu-west-1"),
            ("POOL_ID", "pool1abcdefghijklmnop"),
            ("CARDANO_NETWORK", "sanchonet"),
            ("NETWORK_MAGIC", "4"),
        ],
    ];
    for vars in cases {
        assert_eq!(with(vars).problems(), vec![], "{vars:?}");
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let c = config(&[
        ("RENEW_DEADLINE", "10x"),
        ("NODE_SOCKET", "node.socket"),
        ("METRICS_PORT", "eighty"),
    ]);
    assert_eq!(
        problem_variables(&c),
        ["METRICS_PORT", "RENEW_DEADLINE", "NODE_SOCKET", "POD_NAME"]
    );
}

#[test]
fn a_problem_names_the_variable_the_value_and_what_was_expected() {
    let problems = with(&[("RENEW_DEADLINE", "10x")]).problems();
    assert_eq!(
        problems[0].to_string(),
        r#"RENEW_DEADLINE: value "10x": expected one of the units h, m, s, ms, not "x""#
    );
    let problems = with(&[("RETRY_PERIOD", "10s")]).problems();
    assert_eq!(
        problems[0].to_string(),
        "RETRY_PERIOD: value \"10s\": expected a value that fits the timing budget: retry period \
         10s must be shorter than RENEW_DEADLINE 10s"
    );
}

#[test]
fn names_are_derived_like_the_helm_chart() {
    let c = with(&[
        ("POOL_ID", "pool1abcdefghijklmnop"),
        ("CARDANO_NETWORK", "preprod"),
        ("CLUSTER_REGION", "eu-west-1"),
    ]);
    assert_eq!(c.pool_short(), Some("pool1abcde"));
    assert_eq!(c.forge_cluster_name(), "preprod-pool1abcde-eu-west-1");
    assert_eq!(
        c.global_lease_name(),
        "cardano-forge-global-preprod-pool1abcde"
    );
    assert_eq!(c.metric_pool_id(), "pool1abcde");
    let legacy = with(&[]);
    assert_eq!(legacy.pool_short(), None);
    assert_eq!(legacy.cluster_identifier(), "cardano-bp-0");
    assert_eq!(legacy.forge_cluster_name(), "cardano-bp-0");
    assert_eq!(legacy.metric_pool_id(), "unknown");
    let named = with(&[("CLUSTER_IDENTIFIER", "bp-a"), ("GLOBAL_LEASE_NAME", "g")]);
    assert_eq!(named.forge_cluster_name(), "bp-a");
    assert_eq!(named.global_lease_name(), "g");
}

#[test]
fn summary_is_sorted_effective_and_sourceable() {
    let c = with(&[
        ("LEASE_DURATION", " 30 "),
        ("METRICS_PORT", " 9000"),
        ("DISABLE_SOCKET_CHECK", "YES"),
        ("POOL_NAME", "My 'Pool'"),
    ]);
    let summary = c.effective_summary();
    let lines: Vec<&str> = summary.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert_eq!(lines.len(), clap_env_names().len());
    for want in [
        "LEASE_DURATION=30s",
        "SLEEP_INTERVAL=5s",
        "JOURNAL_RETENTION=168h",
        "METRICS_PORT=9000",
        "DISABLE_SOCKET_CHECK=true",
        "ENABLE_CLUSTER_MANAGEMENT=false",
        "CLUSTER_IDENTIFIER=cardano-bp-0",
        "GLOBAL_LEASE_NAME=cardano-forge-global-mainnet",
        "POOL_ID=''",
        r"POOL_NAME='My '\''Pool'\'''",
        "NODE_METRICS_URL=http://127.0.0.1:12798/metrics",
    ] {
        assert!(lines.contains(&want), "{want} missing in\n{summary}");
    }
}

#[test]
fn the_settings_list_covers_every_clap_variable() {
    let listed: BTreeSet<String> = with(&[])
        .entries()
        .into_iter()
        .map(|(name, _, _)| name.to_string())
        .collect();
    assert_eq!(listed, clap_env_names());
}

#[test]
fn every_flag_is_the_variable_name_in_kebab_case() {
    let cmd = Config::augment_args(clap::Command::new("test"));
    for arg in cmd.get_arguments() {
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let long = arg.get_long().map(str::to_string);
        assert_eq!(env.map(|e| e.to_lowercase().replace('_', "-")), long);
    }
}

/// The reference for operators must name every variable, so it cannot go stale silently.
#[test]
fn every_variable_is_documented_in_docs_configuration_md() {
    let doc = include_str!("../../docs/configuration.md");
    let missing: Vec<String> = clap_env_names()
        .into_iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "add them to docs/configuration.md"
    );
}

/// A value that does not parse hides only the relations it takes part in: every relation between
/// values that did parse is still judged, so one run of check-config lists every problem.
#[test]
fn a_broken_value_hides_only_the_relations_it_takes_part_in() {
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, &[&str])] = &[
        (
            &[("LEASE_DURATION", "abc"), ("RETRY_PERIOD", "30s")],
            &["LEASE_DURATION", "RETRY_PERIOD"],
        ),
        (
            &[("SIGHUP_VERIFY_TIMEOUT", "0s"), ("RETRY_PERIOD", "30s")],
            &["RETRY_PERIOD", "SIGHUP_VERIFY_TIMEOUT"],
        ),
        (
            &[("API_TIMEOUT", "x"), ("LEASE_DURATION", "11")],
            &["API_TIMEOUT", "LEASE_DURATION"],
        ),
        (
            &[("RETRY_PERIOD", "abc"), ("LEASE_DURATION", "10")],
            &["RENEW_DEADLINE", "RETRY_PERIOD"],
        ),
        // Each relation of RENEW_DEADLINE needs it: none is judged on a stand-in value.
        (
            &[("RENEW_DEADLINE", "abc"), ("LEASE_DURATION", "5")],
            &["RENEW_DEADLINE"],
        ),
        // The renew deadline's cover of retry + API timeout + demotion needs API_TIMEOUT.
        (
            &[("API_TIMEOUT", "abc"), ("RENEW_DEADLINE", "4s")],
            &["API_TIMEOUT"],
        ),
        (
            &[
                ("LEASE_DURATION", "abc"),
                ("RETRY_PERIOD", "30s"),
                ("METRICS_PORT", "0"),
                ("NODE_SOCKET", "node.socket"),
            ],
            &[
                "LEASE_DURATION",
                "METRICS_PORT",
                "NODE_SOCKET",
                "RETRY_PERIOD",
            ],
        ),
    ];
    for (vars, want) in cases {
        let c = with(vars);
        let got: BTreeSet<&str> = problem_variables(&c).into_iter().collect();
        let want: BTreeSet<&str> = want.iter().copied().collect();
        assert_eq!(got, want, "{vars:?}: {:#?}", c.problems());
        for p in c.problems() {
            assert!(!p.expected.is_empty(), "{p}");
        }
    }
}

#[test]
fn validate_gives_typed_settings_or_every_problem() {
    let valid = with(&[
        ("CREDENTIAL_MODE", "copy"),
        ("METRICS_PORT", "9001"),
        ("JOURNAL_RETENTION", "2h"),
        ("POOL_TICKER", ""),
    ])
    .validate()
    .expect("valid");
    assert_eq!(valid.metrics_port, 9001);
    assert_eq!(valid.journal_retention, Duration::from_secs(7200));
    assert_eq!(valid.standby, None, "copy mode has no decoy set");
    assert_eq!(valid.pool_ticker, None);
    assert!(valid.cluster.is_none(), "cluster management is off");

    let cluster = with(&[
        ("ENABLE_CLUSTER_MANAGEMENT", "true"),
        ("CLUSTER_REGION", "eu-west-1"),
        ("POOL_ID", "pool1abcdefghij"),
        ("FAILBACK_DELAY", "90s"),
        ("HEALTH_CHECK_ENDPOINT", "http://health.local/ok"),
    ])
    .validate()
    .expect("valid")
    .cluster
    .expect("cluster management is on");
    assert_eq!(cluster.forge_cluster_name, "mainnet-pool1abcde-eu-west-1");
    assert_eq!(cluster.failback_delay, Duration::from_secs(90));
    assert_eq!(
        cluster.health.endpoint.as_deref(),
        Some("http://health.local/ok")
    );

    let problems = with(&[("METRICS_PORT", "x"), ("RENEW_DEADLINE", "1h")])
        .validate()
        .expect_err("two problems");
    let variables: Vec<_> = problems.iter().map(|p| p.variable).collect();
    assert_eq!(
        variables,
        ["METRICS_PORT", "RENEW_DEADLINE"],
        "{problems:#?}"
    );
}

#[test]
fn the_slot_clock_is_the_known_networks_unless_both_variables_say_otherwise() {
    use crate::core::slots::SlotClock;
    let clock = |vars: &[(&str, &str)]| with(vars).slot_clock();
    let s1 = std::time::Duration::from_secs(1);
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<SlotClock>);
    let cases: &[Case] = &[
        (&[], SlotClock::new(1_506_203_091_000, s1)),
        (
            &[("CARDANO_NETWORK", "preprod")],
            SlotClock::new(1_654_041_600_000, s1),
        ),
        (
            &[("CARDANO_NETWORK", "preview")],
            SlotClock::new(1_666_656_000_000, s1),
        ),
        // Another network: no slot clock unless both are given.
        (&[("CARDANO_NETWORK", "sanchonet")], None),
        (
            &[
                ("CARDANO_NETWORK", "sanchonet"),
                ("SYSTEM_START", "2023-06-15T00:30:00Z"),
                ("SLOT_LENGTH", "1s"),
            ],
            SlotClock::new(1_686_789_000_000, s1),
        ),
        // A known network's value replaced one at a time.
        (
            &[("SLOT_LENGTH", "200ms")],
            SlotClock::new(1_506_203_091_000, std::time::Duration::from_millis(200)),
        ),
        (
            &[("SYSTEM_START", "2026-01-01T00:00:00.5Z")],
            SlotClock::new(1_767_225_600_500, s1),
        ),
    ];
    for (vars, want) in cases {
        assert_eq!(clock(vars).as_ref(), Ok(want), "{vars:?}");
        let valid = with(vars).validate().expect("valid");
        assert_eq!(valid.slot_clock, *want, "{vars:?}");
    }
}
