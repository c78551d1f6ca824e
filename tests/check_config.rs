//! `forge-manager check-config` as an operator runs it: the real binary, a cleared environment plus
//! only the variables each test sets. Guards the contract: exit 0 with the effective configuration,
//! or exit 2 with one `VARIABLE: value "x": expected ...` line per problem, all at once.

use std::process::{Command, Output};

/// Variables of an example env file (`NAME=value`, comments and blank lines skipped, one level of
/// double quotes removed as the shell would).
fn example(file: &str) -> Vec<(String, String)> {
    let path = format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example file is readable");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.split_once('=').expect("NAME=value");
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// Runs check-config with `base` overridden by `vars`, and `args` after the subcommand.
fn check_config(base: &[(String, String)], vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge-manager"));
    cmd.env_clear().arg("check-config").args(args);
    for (name, value) in base {
        cmd.env(name, value);
    }
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd.output().expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit 2 and that every stderr line is one problem, one of them about `variable`.
fn assert_rejected(o: &Output, variable: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{err}");
    assert!(stdout(o).is_empty(), "nothing on stdout when invalid");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{variable}: value \"")) && l.contains(": expected ")),
        "no line for {variable} in:\n{err}"
    );
}

/// Asserts exit 0, nothing on stderr, and each of `lines` as a whole line of the printed configuration.
fn assert_accepted(o: &Output, lines: &[&str]) {
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(o));
    assert!(stderr(o).is_empty(), "stderr:\n{}", stderr(o));
    let out = stdout(o);
    for line in lines {
        assert!(out.lines().any(|l| l == *line), "{line} missing in:\n{out}");
    }
}

#[test]
fn the_single_region_example_is_valid_and_printed_with_effective_values() {
    let o = check_config(&example("forge-manager.env"), &[], &[]);
    assert_accepted(
        &o,
        &[
            "POD_NAME=cardano-bp-0",
            "NAMESPACE=cardano",
            "LEASE_DURATION=15s",
            "SOCKET_WAIT_TIMEOUT=10m",
            "RENEW_DEADLINE=10s",
            "ENABLE_CLUSTER_MANAGEMENT=false",
            "CLUSTER_IDENTIFIER=cardano-bp-0",
            "POOL_NAME='Example Pool'",
        ],
    );
}

#[test]
fn the_cluster_example_is_valid_and_derives_the_global_lease_name() {
    let o = check_config(&example("cluster.env"), &[], &[]);
    assert_accepted(
        &o,
        &[
            "ENABLE_CLUSTER_MANAGEMENT=true",
            "CLUSTER_REGION=us-east-1",
            "GLOBAL_LEASE_NAME=cardano-forge-global-mainnet-pool1examp",
        ],
    );
}

#[test]
fn defaults_with_only_a_pod_name_are_valid() {
    let o = check_config(&[], &[("POD_NAME", "bp-0")], &[]);
    assert_accepted(&o, &["LEASE_NAME=cardano-node-leader", "NAMESPACE=default"]);
}

#[test]
fn each_invalid_setting_exits_2_naming_its_variable() {
    let base = example("forge-manager.env");
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, &str)] = &[
        (&[("RETRY_PERIOD", "10s")], "RETRY_PERIOD"),
        (&[("RETRY_PERIOD", "12s")], "RETRY_PERIOD"),
        (&[("RENEW_DEADLINE", "15s")], "RENEW_DEADLINE"),
        (&[("RENEW_DEADLINE", "20s")], "RENEW_DEADLINE"),
        (&[("NODE_SOCKET", "ipc/node.socket")], "NODE_SOCKET"),
        (&[("JOURNAL_PATH", "journal.redb")], "JOURNAL_PATH"),
        (&[("RENEW_DEADLINE", "10x")], "RENEW_DEADLINE"),
        (&[("ENABLE_CLUSTER_MANAGEMENT", "true")], "CLUSTER_REGION"),
        (&[("POD_NAME", "")], "POD_NAME"),
        (&[("METRICS_PORT", "eighty")], "METRICS_PORT"),
    ];
    for (vars, variable) in cases {
        assert_rejected(&check_config(&base, vars, &[]), variable);
    }
}

#[test]
fn a_missing_pod_name_exits_2_naming_it() {
    let base: Vec<_> = example("forge-manager.env")
        .into_iter()
        .filter(|(name, _)| name != "POD_NAME")
        .collect();
    assert_rejected(&check_config(&base, &[], &[]), "POD_NAME");
}

#[test]
fn three_problems_print_three_lines() {
    let o = check_config(
        &example("forge-manager.env"),
        &[
            ("RENEW_DEADLINE", "10x"),
            ("TARGET_KES_KEY", "kes.skey"),
            ("POD_NAME", ""),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let variables: Vec<&str> = err.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(
        variables,
        ["RENEW_DEADLINE", "TARGET_KES_KEY", "POD_NAME"],
        "{err}"
    );
}

#[test]
fn flags_override_the_environment() {
    let base = example("forge-manager.env");
    let o = check_config(
        &base,
        &[],
        &["--lease-duration", "30s", "--renew-deadline=20s"],
    );
    assert_accepted(&o, &["LEASE_DURATION=30s", "RENEW_DEADLINE=20s"]);
    // A flag that breaks the budget is reported under the variable's name.
    let o = check_config(&base, &[], &["--lease-duration", "10s"]);
    assert_rejected(&o, "RENEW_DEADLINE");
}

#[test]
fn old_integer_seconds_and_booleans_read_as_before() {
    let o = check_config(
        &example("forge-manager.env"),
        &[
            ("LEASE_DURATION", " 20 "),
            ("HEALTH_CHECK_INTERVAL", "45"),
            ("DISABLE_SOCKET_CHECK", "Yes"),
            ("ENABLE_CLUSTER_MANAGEMENT", "on"),
            ("RETRY_PERIDO", "3"),
        ],
        &[],
    );
    // Accepted as before, but `on` (read as false) and the misspelt variable are named on stderr.
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "LEASE_DURATION=20s",
        "HEALTH_CHECK_INTERVAL=45s",
        "DISABLE_SOCKET_CHECK=true",
        "ENABLE_CLUSTER_MANAGEMENT=false",
        "RETRY_PERIOD=2s",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
    }
    assert_eq!(
        stderr(&o),
        "warning: ENABLE_CLUSTER_MANAGEMENT: value \"on\" is read as false (only true, 1 or yes \
         mean true, as in the Python sidecar); write true or false\n\
         warning: RETRY_PERIDO: not a variable forge-manager reads; did you mean RETRY_PERIOD? \
         (RETRY_PERIOD keeps its value \"2s\")\n"
    );
}

/// The reviewer's case: an unparsable LEASE_DURATION must not hide RETRY_PERIOD's own problem.
#[test]
fn a_broken_lease_duration_does_not_hide_a_retry_period_problem() {
    let o = check_config(
        &[],
        &[
            ("POD_NAME", "bp-0"),
            ("LEASE_DURATION", "abc"),
            ("RETRY_PERIOD", "30s"),
        ],
        &[],
    );
    assert_rejected(&o, "LEASE_DURATION");
    assert_rejected(&o, "RETRY_PERIOD");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.contains("must be shorter than RENEW_DEADLINE"),
        "RETRY_PERIOD says what was expected:\n{err}"
    );
}
