//! Unit tests of the scenario parser and writer (the files in `scenarios/` are checked by
//! `sim/tests/scenario_files_parse.rs`).

use std::time::Duration;

use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn parse(text: &str) -> Result<Scenario, InvalidScenario> {
    Scenario::from_str(text, "test.toml")
}

/// The error message of an invalid text.
fn error(text: &str) -> String {
    match parse(text) {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"
name = "minimal"
duration = "1m"
[[region]]
name = "us-east-1"
priority = 1
"#;

const TWO_REGIONS: &str = r#"
name = "two"
duration = "10m"
[[region]]
name = "us-east-1"
priority = 1
[[region]]
name = "eu-west-1"
priority = 2
pods = 2
"#;

/// Every fault kind and every expectation kind, with non-default values everywhere.
const FULL: &str = r#"
name = "full"
description = "every key"
seed = 42
duration = "1h"
network = "preprod"
pool = "POOLX"
cluster_management = true
shared_api = false
slot_length = "2s"

[timing]
lease_duration = "20s"
renew_deadline = "12s"
retry_period = "3s"
health_interval = "10s"
health_failure_threshold = 4
health_success_threshold = 1
failback_delay = "2m"
api_latency = "5ms"

[node]
startup = "30s"
sighup_delay = "100ms"

[[region]]
name = "us-east-1"
priority = 1
pods = 2
forge_state = "Enabled"
healthy = false

[[region]]
name = "eu-west-1"
priority = 2

[[fault]]
at = "5m"
kind = "crash"
target = "pod:us-east-1/1"

[[fault]]
at = "1m"
kind = "partition"
between = ["leader:us-east-1", "api:global"]

[[fault]]
at = "1m"
kind = "heal"
between = ["region:eu-west-1", "api:us-east-1"]

[[fault]]
at = "2m"
kind = "restart"
target = "region:us-east-1"

[[fault]]
at = "2m"
kind = "shutdown"
target = "forger"

[[fault]]
at = "3m"
kind = "pause"
target = "pod:eu-west-1/2"
for = "30s"

[[fault]]
at = "3m"
kind = "freeze"
target = "forger"
for = "1m30s"

[[fault]]
at = "4m"
kind = "skew"
target = "pod:us-east-1/0"
offset = "-1h30m"

[[fault]]
at = "4m"
kind = "drift"
target = "pod:us-east-1/0"
ppm = -500

[[fault]]
at = "6m"
kind = "api-down"
target = "api:global"

[[fault]]
at = "7m"
kind = "api-up"
target = "api:global"

[[fault]]
at = "8m"
kind = "latency"
between = ["health:us-east-1", "pod:eu-west-1/0"]
latency = "250ms"

[[fault]]
at = "9m"
kind = "health"
target = "health:us-east-1"
healthy = true

[[fault]]
at = "10m"
kind = "flap"
target = "health:eu-west-1"
period = "45s"
until = "20m"

[[fault]]
at = "11m"
kind = "node-restart"
target = "leader:eu-west-1"

[[fault]]
at = "12m"
kind = "patch"
target = "region:us-east-1"
spec = { forgeState = "Disabled", priority = 5, override = { enabled = true, reason = "maintenance", forcePriority = 1, forceState = "Enabled", expiresAt = "30m" }, healthCheck = { enabled = true, interval = "30s", failureThreshold = 3, headers = { X-Token = "t" } } }

[[fault]]
at = "13m"
kind = "delete-lease"
target = "api:eu-west-1"
lease = "local"

[[fault]]
at = "13m"
kind = "delete-lease"
target = "api:global"
lease = "global"

[[fault]]
at = "14m"
kind = "rotate-secret"
target = "region:eu-west-1"

[[fault]]
at = "14m30s"
kind = "node-slow"
target = "pod:us-east-1/0"
sighup_delay = "3s"

[[fault]]
at = "14m40s"
kind = "api-errors"
target = "api:global"
answer = "429"
count = 3
retry_after = "2s"

[[expect]]
kind = "forger"
at = "30s"
region = "us-east-1"

[[expect]]
kind = "forger"
at = "31s"
pod = "us-east-1/0"

[[expect]]
kind = "forger"
at = "32s"
none = true

[[expect]]
kind = "forger-by"
by = "1m"
region = "eu-west-1"

[[expect]]
kind = "forger-by"
by = "1m"
pod = "pod:eu-west-1/1"
to = "2m"

[[expect]]
kind = "max-gap"
value = "30s"

[[expect]]
kind = "max-gap"
value = "30s"
from = "1m"
to = "2m"

[[expect]]
kind = "max-handovers"
value = 3
from = "1m"

[[expect]]
kind = "no-forger-in"
region = "us-east-1"
from = "12m"
to = "30m"

[[expect]]
kind = "credentials"
target = "pod:us-east-1/0"
at = "20m"
present = false

[[expect]]
kind = "coverage"
min = 0.99
to = "50m"

[[expect]]
kind = "max-residual"
value = 1

[[expect]]
kind = "max-node-exits"
value = 0

[[expect]]
kind = "max-api-requests"
value = 10000
target = "api:us-east-1"
from = "1m"
to = "2m"

[[expect]]
kind = "max-missed-slots"
value = 5
from = "1m"
"#;

#[test]
fn a_minimal_file_gets_every_default_of_the_contract() {
    let s = parse(MINIMAL).expect("valid");
    assert_eq!(s.name, "minimal");
    assert_eq!(s.description, "");
    assert_eq!(s.seed, 0);
    assert_eq!(s.duration, secs(60));
    assert_eq!(s.network, "mainnet");
    assert_eq!(s.pool, "POOL1");
    assert!(!s.cluster_management, "one region: cluster management off");
    assert!(!s.shared_api);
    assert_eq!(s.slot_length, secs(1));
    assert_eq!(s.timing, Timing::default());
    assert_eq!(s.timing.lease_duration, secs(15));
    assert_eq!(s.timing.renew_deadline, secs(10));
    assert_eq!(s.timing.retry_period, secs(2));
    assert_eq!(s.timing.health_interval, secs(30));
    assert_eq!(s.timing.health_failure_threshold, 3);
    assert_eq!(s.timing.health_success_threshold, 2);
    assert_eq!(s.timing.failback_delay, secs(60));
    assert_eq!(s.timing.api_latency, Duration::from_millis(1));
    assert_eq!(s.node.startup, secs(5));
    assert_eq!(s.node.sighup_delay, Duration::from_millis(50));
    assert_eq!(
        s.regions,
        vec![Region {
            name: "us-east-1".into(),
            priority: 1,
            pods: 3,
            forge_state: ForgeState::PriorityBased,
            healthy: true,
        }]
    );
    assert!(s.faults.is_empty() && s.expects.is_empty());
}

#[test]
fn cluster_management_defaults_to_on_with_more_than_one_region() {
    let s = parse(TWO_REGIONS).expect("valid");
    assert!(s.cluster_management);
    let off = parse(&TWO_REGIONS.replace("duration", "cluster_management = false\nduration"))
        .expect("valid");
    assert!(!off.cluster_management);
}

#[test]
fn every_fault_and_expectation_kind_parses_into_its_type() {
    let s = parse(FULL).expect("valid");
    assert_eq!(s.seed, 42);
    assert_eq!(s.slot_length, secs(2));
    assert_eq!(s.timing.health_failure_threshold, 4);
    assert_eq!(s.node.startup, secs(30));
    assert_eq!(s.regions[0].forge_state, ForgeState::Enabled);
    assert!(!s.regions[0].healthy);
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.action.kind()).collect();
    for kind in FAULT_KINDS {
        assert!(kinds.contains(&kind), "{kind} missing from FULL");
    }
    let expect_kinds: Vec<&str> = s.expects.iter().map(Expect::kind).collect();
    for kind in EXPECT_KINDS {
        assert!(expect_kinds.contains(&kind), "{kind} missing from FULL");
    }
    assert_eq!(
        s.faults[1].action,
        FaultAction::Partition {
            between: [
                Target::Pod(PodRef::Leader("us-east-1".into())),
                Target::Api(ApiServer::Global)
            ]
        }
    );
    assert_eq!(
        s.faults[7].action,
        FaultAction::Skew {
            target: PodRef::Pod(PodId::new("us-east-1", 0)),
            offset_ms: -5_400_000
        }
    );
    assert_eq!(
        s.faults[8].action,
        FaultAction::Drift {
            target: PodRef::Pod(PodId::new("us-east-1", 0)),
            ppm: -500
        }
    );
    let FaultAction::Patch { region, spec } = &s.faults[15].action else {
        panic!("patch expected, got {:?}", s.faults[15]);
    };
    assert_eq!(region, "us-east-1");
    assert_eq!(spec["forgeState"], "Disabled");
    assert_eq!(spec["override"]["forcePriority"], 1);
    assert_eq!(patch_expires_after(spec), Some(secs(1_800)));
    let at_run_time = patch_with_expiry(spec, "2026-01-01T00:30:00Z");
    assert_eq!(at_run_time["override"]["expiresAt"], "2026-01-01T00:30:00Z");
    assert_eq!(at_run_time["override"]["reason"], "maintenance");
    assert_eq!(
        patch_with_expiry(&serde_json::json!({"forgeState": "Disabled"}), "x"),
        serde_json::json!({"forgeState": "Disabled"})
    );
    assert_eq!(
        s.expects[1],
        Expect::Forger {
            at: secs(31),
            who: Some(Placement::Pod(PodId::new("us-east-1", 0)))
        }
    );
    assert_eq!(
        s.expects[4],
        Expect::ForgerBy {
            by: secs(60),
            who: Placement::Pod(PodId::new("eu-west-1", 1)),
            to: Some(secs(120))
        }
    );
    assert_eq!(
        s.expects[10],
        Expect::Coverage {
            min: 0.99,
            window: Window {
                from: None,
                to: Some(secs(3_000))
            }
        }
    );
}

#[test]
fn faults_apply_in_at_order_with_ties_in_file_order() {
    let s = parse(FULL).expect("valid");
    let order: Vec<usize> = s.faults_in_order().iter().map(|(i, _)| *i).collect();
    assert_eq!(order[..6], [1, 2, 3, 4, 5, 6]);
    assert_eq!(order[6..9], [7, 8, 0], "4m, 4m, then the crash at 5m");
    let ats: Vec<Duration> = s.faults_in_order().iter().map(|(_, f)| f.at).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn writing_then_parsing_gives_the_same_scenario() {
    for text in [MINIMAL, TWO_REGIONS, FULL] {
        let s = parse(text).expect("valid");
        let written = s.to_toml_string();
        let again = Scenario::from_str(&written, "written.toml")
            .unwrap_or_else(|e| panic!("{e}\n--- written:\n{written}"));
        assert_eq!(again, s, "--- written:\n{written}");
        assert_eq!(again.to_toml_string(), written, "writing is a fixed point");
    }
}

#[test]
fn a_description_with_quotes_and_newlines_round_trips() {
    let mut s = parse(MINIMAL).expect("valid");
    s.description = "line \"one\"\nline 'two' \\ three".into();
    let again = parse(&s.to_toml_string()).expect("valid");
    assert_eq!(again, s);
}

#[test]
fn the_api_servers_and_pods_of_a_world_are_listed() {
    let s = parse(TWO_REGIONS).expect("valid");
    assert_eq!(
        s.api_servers(),
        vec![
            ApiServer::Global,
            ApiServer::Region("us-east-1".into()),
            ApiServer::Region("eu-west-1".into())
        ]
    );
    assert_eq!(s.pods().len(), 5);
    assert_eq!(
        s.pods_of("eu-west-1"),
        [PodId::new("eu-west-1", 0), PodId::new("eu-west-1", 1)]
    );
    assert!(s.pods_of("nowhere").is_empty());
    assert_eq!(s.local_api_of("eu-west-1").server_name(), "eu-west-1");
    let shared =
        parse(&TWO_REGIONS.replace("duration", "shared_api = true\nduration")).expect("valid");
    assert_eq!(shared.api_servers(), vec![ApiServer::Global]);
    assert_eq!(shared.local_api_of("eu-west-1"), ApiServer::Global);
}

/// Appends a `[[fault]]` or `[[expect]]` to the two-region file.
fn with(extra: &str) -> String {
    format!("{TWO_REGIONS}\n{extra}")
}

fn assert_error(text: &str, needles: &[&str]) {
    let message = error(text);
    assert!(message.starts_with("test.toml:"), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }
}

#[test]
fn an_unknown_key_is_an_error_naming_its_path_and_the_allowed_keys() {
    assert_error(
        &MINIMAL.replace("duration", "durration = \"1m\"\nduration"),
        &["`durration`", "unknown key", "slot_length"],
    );
    assert_error(
        &with("[timing]\nlease = \"15s\""),
        &["`timing.lease`", "lease_duration"],
    );
    assert_error(
        &with("[[region]]\nname = \"x\"\npriority = 3\nhealth = true"),
        &["`region[2].health`"],
    );
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"crash\"\ntarget = \"forger\"\nfor = \"1s\""),
        &["`fault[0].for`", "at, kind, target"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"max-gap\"\nvalue = \"1s\"\nregion = \"us-east-1\""),
        &["`expect[0].region`"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"patch\"\ntarget = \"region:us-east-1\"\nspec = { forge_state = \"Disabled\" }",
        ),
        &["`fault[0].spec.forge_state`", "forgeState"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"patch\"\ntarget = \"region:us-east-1\"\nspec = { override = { expires = \"5m\" } }",
        ),
        &["`fault[0].spec.override.expires`", "expiresAt"],
    );
}

#[test]
fn a_bare_number_as_a_duration_asks_for_a_duration_string() {
    assert_error(
        &with("[timing]\nlease_duration = 15"),
        &[
            "`timing.lease_duration`",
            "expected a duration string like \"15s\"",
            "found integer 15",
        ],
    );
    assert_error(
        &MINIMAL.replace("\"1m\"", "60"),
        &["`duration`", "a duration string like \"15s\""],
    );
    assert_error(
        &MINIMAL.replace("\"1m\"", "\"60\""),
        &["`duration`", "a unit after 60"],
    );
    assert_error(
        &with("[[fault]]\nat = 60\nkind = \"crash\"\ntarget = \"forger\""),
        &["`fault[0].at`", "duration string"],
    );
}

#[test]
fn unknown_targets_regions_and_pods_are_errors_naming_the_key() {
    let fault = |target: &str| {
        with(&format!(
            "[[fault]]\nat = \"1m\"\nkind = \"crash\"\ntarget = \"{target}\""
        ))
    };
    assert_error(
        &fault("pdo:us-east-1/0"),
        &[
            "`fault[0].target`",
            "one of pod:REGION/N",
            "\"pdo:us-east-1/0\"",
        ],
    );
    assert_error(
        &fault("pod:us-west-9/0"),
        &[
            "`fault[0].target`",
            "a region declared in [[region]] (eu-west-1, us-east-1)",
        ],
    );
    assert_error(
        &fault("pod:eu-west-1/2"),
        &["`fault[0].target`", "a pod index below 2"],
    );
    assert_error(
        &fault("region:us-east-1"),
        &["`fault[0].target`", "a pod target"],
    );
    assert_error(&fault("api:global"), &["`fault[0].target`", "a pod target"]);
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"api-down\"\ntarget = \"pod:us-east-1/0\""),
        &["`fault[0].target`", "an API server target"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"partition\"\nbetween = [\"api:global\", \"helth:us-east-1\"]",
        ),
        &["`fault[0].between[1]`"],
    );
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"partition\"\nbetween = [\"api:global\"]"),
        &[
            "`fault[0].between`",
            "an array of two targets",
            "an array of 1 items",
        ],
    );
    assert_error(
        &with("[[expect]]\nkind = \"forger\"\nat = \"1m\"\nregion = \"us-west-2\""),
        &["`expect[0].region`", "a region declared"],
    );
    assert_error(
        &with(
            "[[expect]]\nkind = \"credentials\"\nat = \"1m\"\ntarget = \"forger\"\npresent = true",
        ),
        &["`expect[0].target`", "cannot be resolved"],
    );
}

#[test]
fn a_region_api_server_does_not_exist_with_a_shared_api() {
    let text = TWO_REGIONS.replace("duration", "shared_api = true\nduration");
    assert_error(
        &format!("{text}\n[[fault]]\nat = \"1m\"\nkind = \"api-down\"\ntarget = \"api:us-east-1\""),
        &["`fault[0].target`", "shared_api = true"],
    );
    let ok = format!(
        "{text}\n[[fault]]\nat = \"1m\"\nkind = \"delete-lease\"\ntarget = \"api:global\"\nlease = \"local\""
    );
    assert!(parse(&ok).is_ok());
}

#[test]
fn a_bad_kind_lists_the_known_kinds() {
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"explode\"\ntarget = \"forger\""),
        &["`fault[0].kind`", "crash", "rotate-secret", "\"explode\""],
    );
    assert_error(
        &with("[[expect]]\nkind = \"forging\"\nat = \"1m\""),
        &["`expect[0].kind`", "max-api-requests", "\"forging\""],
    );
    assert_error(
        &with("[[region]]\nname = \"x\"\npriority = 1\nforge_state = \"On\""),
        &["`region[2].forge_state`", "Priority-based"],
    );
}

#[test]
fn missing_required_keys_are_named() {
    assert_error(
        &MINIMAL.replace("name = \"minimal\"", ""),
        &["missing key `name`"],
    );
    assert_error(
        &MINIMAL.replace("duration = \"1m\"", ""),
        &["missing key `duration`", "15s"],
    );
    assert_error("name = \"x\"\nduration = \"1m\"", &["missing key `region`"]);
    assert_error(
        &MINIMAL.replace("priority = 1", ""),
        &["missing key `region[0].priority`"],
    );
    assert_error(
        &with("[[fault]]\nkind = \"crash\"\ntarget = \"forger\""),
        &["missing key `fault[0].at`"],
    );
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"pause\"\ntarget = \"forger\""),
        &["missing key `fault[0].for`"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"forger\"\nat = \"1m\""),
        &["missing key `expect[0].region`", "none = true"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"no-forger-in\"\nregion = \"us-east-1\"\nfrom = \"1m\""),
        &["missing key `expect[0].to`"],
    );
}

#[test]
fn wrong_types_and_ranges_say_what_was_found() {
    assert_error(
        &MINIMAL.replace("priority = 1", "priority = \"1\""),
        &["`region[0].priority`", "an integer from 1 to 999", "\"1\""],
    );
    assert_error(
        &MINIMAL.replace("priority = 1", "priority = 0"),
        &["`region[0].priority`", "integer 0"],
    );
    assert_error(
        &MINIMAL.replace("duration", "seed = -1\nduration"),
        &["`seed`", "integer -1"],
    );
    assert_error(
        &MINIMAL.replace("duration", "shared_api = \"yes\"\nduration"),
        &["`shared_api`", "true or false"],
    );
    assert_error(
        &MINIMAL.replace("[[region]]", "[region]"),
        &["`region`", "an array of tables [[region]]", "a table"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"coverage\"\nmin = 1.5"),
        &["`expect[0].min`", "a fraction from 0 to 1", "float 1.5"],
    );
    assert_error(
        &with(
            "[[expect]]\nkind = \"forger\"\nat = \"1m\"\nregion = \"us-east-1\"\npod = \"us-east-1/0\"",
        ),
        &[
            "`expect[0].region`",
            "exactly one of region, pod or none = true",
        ],
    );
    assert_error(
        &with("[[fault]]\nat = \"1m\"\nkind = \"skew\"\ntarget = \"forger\"\noffset = \"-30\""),
        &["`fault[0].offset`", "signed duration"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"delete-lease\"\ntarget = \"api:us-east-1\"\nlease = \"global\"",
        ),
        &["`fault[0].target`", "api:global"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"patch\"\ntarget = \"region:us-east-1\"\nspec = { forgeState = \"Off\" }",
        ),
        &["`fault[0].spec.forgeState`", "Priority-based"],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"patch\"\ntarget = \"region:us-east-1\"\nspec = { override = { expiresAt = 300 } }",
        ),
        &["`fault[0].spec.override.expiresAt`", "duration string"],
    );
}

#[test]
fn instants_must_fall_within_the_run_and_windows_must_not_be_empty() {
    assert_error(
        &with("[[fault]]\nat = \"11m\"\nkind = \"crash\"\ntarget = \"forger\""),
        &["`fault[0].at`", "within the run's duration (10m)"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"max-gap\"\nvalue = \"1s\"\nfrom = \"2m\"\nto = \"1m\""),
        &["`expect[0].to`", "a time after from = \"2m\""],
    );
    assert_error(
        &with(
            "[[fault]]\nat = \"2m\"\nkind = \"flap\"\ntarget = \"health:us-east-1\"\nperiod = \"10s\"\nuntil = \"1m\"",
        ),
        &["`fault[0].until`", "a time after at"],
    );
    assert_error(
        &with("[[expect]]\nkind = \"forger-by\"\nby = \"2m\"\nto = \"2m\"\nregion = \"us-east-1\""),
        &["`expect[0].to`"],
    );
}

#[test]
fn toml_syntax_errors_name_the_file_and_line() {
    let message = error("name = \"x\"\nduration = \n");
    assert!(
        message.starts_with("test.toml: not valid TOML"),
        "{message}"
    );
    assert!(
        message.contains("line 2") || message.contains("2:"),
        "{message}"
    );
}

#[test]
fn fault_target_text_is_the_file_form() {
    let s = parse(FULL).expect("valid");
    assert_eq!(s.faults[0].action.target_text(), "pod:us-east-1/1");
    assert_eq!(
        s.faults[1].action.target_text(),
        "leader:us-east-1 <-> api:global"
    );
    assert_eq!(s.faults[12].action.target_text(), "health:us-east-1");
    assert_eq!(s.faults[15].action.target_text(), "region:us-east-1");
}

#[test]
fn api_errors_parse_round_trip_and_reject_bad_values() {
    let text = with(
        "[[fault]]\nat = \"1m\"\nkind = \"api-errors\"\ntarget = \"api:global\"\nanswer = \"cut\"\ncount = 2\n\
         [[fault]]\nat = \"2m\"\nkind = \"api-errors\"\ntarget = \"api:global\"\nanswer = \"429\"\ncount = 5\n",
    );
    let s = parse(&text).expect("valid");
    assert_eq!(
        s.faults[0].action,
        FaultAction::ApiErrors {
            target: ApiServer::Global,
            answer: ApiErrorAnswer::Cut,
            count: 2
        }
    );
    assert_eq!(
        s.faults[1].action,
        FaultAction::ApiErrors {
            target: ApiServer::Global,
            answer: ApiErrorAnswer::Throttle {
                retry_after: secs(1)
            },
            count: 5
        },
        "retry_after defaults to 1s"
    );
    let written = s.to_toml_string();
    assert!(written.contains("answer = \"cut\""), "{written}");
    assert_eq!(parse(&written).expect("valid"), s);
    let fault = |keys: &str| {
        with(&format!(
            "[[fault]]\nat = \"1m\"\nkind = \"api-errors\"\ntarget = \"api:global\"\n{keys}"
        ))
    };
    for (text, wanted) in [
        (fault("count = 1"), "missing key `fault[0].answer`"),
        (fault("answer = \"cut\""), "missing key `fault[0].count`"),
        (fault("answer = \"404\"\ncount = 1"), "fault[0].answer"),
        (fault("answer = \"cut\"\ncount = 0"), "fault[0].count"),
        (
            fault("answer = \"500\"\ncount = 1\nretry_after = \"1s\""),
            "fault[0].retry_after",
        ),
    ] {
        let err = parse(&text).expect_err("invalid").to_string();
        assert!(err.contains(wanted), "{wanted:?} not in {err}");
    }
}

#[test]
fn node_slow_and_max_missed_slots_parse_round_trip_and_reject_bad_values() {
    let text = with(
        "[[fault]]\nat = \"1m\"\nkind = \"node-slow\"\ntarget = \"forger\"\nsighup_delay = \"0s\"\n\
         [[expect]]\nkind = \"max-missed-slots\"\nvalue = 0\n",
    );
    let s = parse(&text).expect("valid");
    assert_eq!(
        s.faults[0].action,
        FaultAction::NodeSlow {
            target: PodRef::Forger,
            sighup_delay: Duration::ZERO
        }
    );
    assert_eq!(
        s.expects[0],
        Expect::MaxMissedSlots {
            value: 0,
            window: Window::default()
        }
    );
    let written = s.to_toml_string();
    assert!(written.contains("sighup_delay = \"0s\""), "{written}");
    assert_eq!(parse(&written).expect("valid"), s);
    let fault = |keys: &str| {
        with(&format!(
            "[[fault]]\nat = \"1m\"\nkind = \"node-slow\"\n{keys}"
        ))
    };
    let expect = |keys: &str| with(&format!("[[expect]]\nkind = \"max-missed-slots\"\n{keys}"));
    let cases: [(String, &[&str]); 7] = [
        (
            fault("target = \"forger\""),
            &["missing key `fault[0].sighup_delay`"],
        ),
        (
            fault("target = \"forger\"\nsighup_delay = 3"),
            &["`fault[0].sighup_delay`", "duration"],
        ),
        (
            fault("target = \"api:global\"\nsighup_delay = \"3s\""),
            &["`fault[0].target`"],
        ),
        (
            fault("target = \"forger\"\nsighup_delay = \"3s\"\nfor = \"1s\""),
            &["`fault[0].for`", "sighup_delay"],
        ),
        (expect(""), &["missing key `expect[0].value`"]),
        (
            expect("value = -1"),
            &["`expect[0].value`", "an integer from 0", "found integer -1"],
        ),
        (
            expect("value = 1\nfrom = \"2m\"\nto = \"1m\""),
            &["`expect[0].to`", "a time after from"],
        ),
    ];
    for (text, needles) in &cases {
        assert_error(text, needles);
    }
}

#[test]
fn the_tick_extension_defaults_to_50ms_round_trips_and_is_bounded() {
    let s = parse(MINIMAL).expect("valid");
    assert_eq!(s.tick, Duration::from_millis(50));
    assert!(
        !s.to_toml_string().contains("tick"),
        "the default is not written"
    );
    let text = MINIMAL.replacen("duration = ", "tick = \"10ms\"\nduration = ", 1);
    let s = parse(&text).expect("valid");
    assert_eq!(s.tick, Duration::from_millis(10));
    let written = s.to_toml_string();
    assert!(written.contains("tick = \"10ms\""), "{written}");
    assert_eq!(parse(&written).expect("valid"), s);
    for bad in ["\"0s\"", "\"2s\"", "10"] {
        let text = MINIMAL.replacen("duration = ", &format!("tick = {bad}\nduration = "), 1);
        assert!(error(&text).contains("tick"), "{bad}");
    }
}

#[test]
fn a_timing_the_budget_does_not_cover_is_refused_naming_the_key() {
    let with = |timing: &str| format!("{MINIMAL}[timing]\n{timing}\n");
    // A renew deadline past the lease: client-go refuses such an elector, and so does a file.
    let e = error(&with("lease_duration = \"15s\"\nrenew_deadline = \"20s\""));
    assert!(
        e.contains("test.toml:") && e.contains("`timing.renew_deadline`"),
        "{e}"
    );
    assert!(e.contains("timing budget"), "{e}");
    // A retry period as long as the renew deadline.
    let e = error(&with("retry_period = \"10s\""));
    assert!(e.contains("`timing.retry_period`"), "{e}");
    // A lease too short to cover deadline, demotion and margin.
    let e = error(&with("lease_duration = \"11s\""));
    assert!(e.contains("`timing.lease_duration`"), "{e}");
    // What the budget covers still parses.
    assert!(parse(&with("lease_duration = \"30s\"\nrenew_deadline = \"20s\"")).is_ok());
}
