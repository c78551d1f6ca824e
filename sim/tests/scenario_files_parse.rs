//! Guards the scenario files in `scenarios/`: each parses (a typo fails here, not in a long run),
//! is named after its file, says what it shows, and survives a write/parse round trip. Together the
//! files use every fault and expectation kind. Also checks that invalid files give an error naming
//! the file and the key (exit code 2 material).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use forge_sim::scenario::{EXPECT_KINDS, FAULT_KINDS, InvalidScenario, Scenario};

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Scenario {
    Scenario::from_file(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_scenario_file_parses_and_is_named_after_its_file() {
    let files = scenario_files();
    assert!(files.len() >= 12, "only {} scenario files", files.len());
    for path in &files {
        let s = load(path);
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        assert_eq!(s.name, stem, "{}", path.display());
        assert!(
            !s.description.trim().is_empty(),
            "{}: empty description",
            path.display()
        );
        assert!(!s.expects.is_empty(), "{}: no [[expect]]", path.display());
    }
}

#[test]
fn every_scenario_file_round_trips_through_the_writer() {
    for path in scenario_files() {
        let s = load(&path);
        let written = s.to_toml_string();
        let again = Scenario::from_str(&written, &format!("{} (rewritten)", path.display()))
            .unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(again, s, "{}", path.display());
    }
}

#[test]
fn the_scenario_files_together_use_every_fault_and_expectation_kind() {
    let mut faults = BTreeSet::new();
    let mut expects = BTreeSet::new();
    let mut multi_region = false;
    let mut single_region = false;
    for path in scenario_files() {
        let s = load(&path);
        faults.extend(s.faults.iter().map(|f| f.action.kind()));
        expects.extend(s.expects.iter().map(forge_sim::scenario::Expect::kind));
        multi_region |= s.regions.len() > 1;
        single_region |= s.regions.len() == 1;
    }
    let missing: Vec<&str> = FAULT_KINDS
        .iter()
        .copied()
        .filter(|k| !faults.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "fault kinds used by no file: {missing:?}"
    );
    let missing: Vec<&str> = EXPECT_KINDS
        .iter()
        .copied()
        .filter(|k| !expects.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "expectation kinds used by no file: {missing:?}"
    );
    assert!(multi_region && single_region);
}

/// Writes `text` to a file and parses it, expecting an error.
fn invalid(text: &str) -> (String, InvalidScenario) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, text).expect("write");
    let error = Scenario::from_file(&path).expect_err("invalid file");
    (path.display().to_string(), error)
}

const HEAD: &str =
    "name = \"broken\"\nduration = \"5m\"\n[[region]]\nname = \"us-east-1\"\npriority = 1\n";

/// Checks the error names the file, the line `line` and the key path.
fn assert_names_file_and_key(text: &str, line: usize, key: &str, needle: &str) {
    let (file, error) = invalid(text);
    let message = error.to_string();
    assert_eq!(error.file(), file);
    assert_eq!(error.path(), Some(key), "{message}");
    assert_eq!(error.line(), Some(line), "{message}");
    assert!(
        message.starts_with(&format!("{file}:{line}: ")),
        "{message}"
    );
    assert!(message.contains(&format!("`{key}`")), "{message}");
    assert!(message.contains(needle), "{needle:?} not in {message}");
}

#[test]
fn an_unknown_key_names_the_file_and_the_key() {
    assert_names_file_and_key(
        &format!(
            "{HEAD}[[fault]]\nat = \"1m\"\nkind = \"crash\"\ntarget = \"forger\"\ntagret = \"forger\"\n"
        ),
        10,
        "fault[0].tagret",
        "unknown key",
    );
}

#[test]
fn a_bare_number_duration_names_the_file_and_the_key() {
    assert_names_file_and_key(
        &format!("{HEAD}[timing]\nlease_duration = 15\n"),
        7,
        "timing.lease_duration",
        "expected a duration string like \"15s\"",
    );
}

#[test]
fn an_unknown_target_names_the_file_and_the_key() {
    assert_names_file_and_key(
        &format!("{HEAD}[[fault]]\nat = \"1m\"\nkind = \"crash\"\ntarget = \"pod:eu-west-1/0\"\n"),
        9,
        "fault[0].target",
        "a region declared in [[region]] (us-east-1)",
    );
    assert_names_file_and_key(
        &format!("{HEAD}[[fault]]\nat = \"1m\"\nkind = \"crash\"\ntarget = \"pod:us-east-1/3\"\n"),
        9,
        "fault[0].target",
        "a pod index below 3",
    );
}

#[test]
fn a_bad_kind_names_the_file_and_the_key() {
    assert_names_file_and_key(
        &format!("{HEAD}[[fault]]\nat = \"1m\"\nkind = \"reboot\"\ntarget = \"forger\"\n"),
        8,
        "fault[0].kind",
        "expected a fault kind: one of partition",
    );
    assert_names_file_and_key(
        &format!("{HEAD}[[expect]]\nkind = \"max-gaps\"\nvalue = \"1s\"\n"),
        7,
        "expect[0].kind",
        "expected an expectation kind",
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let error = Scenario::from_file("/nonexistent/x.toml").expect_err("missing");
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/x.toml: cannot read"),
        "{error}"
    );
}
