//! `forge-sim chaos` as a user meets it: a failing seed prints the exact command that reproduces
//! it, with `--regions`, `--pods` and the seed's `--tick` (drawn per seed), and that command, run
//! as printed, fails the same way.

use std::process::Command;

const SIM: &str = env!("CARGO_BIN_EXE_forge-sim");

/// Runs `forge-sim ARGS`; (exit code, stderr).
fn sim(args: &[&str]) -> (i32, String) {
    let out = Command::new(SIM)
        .args(args)
        .output()
        .expect("run forge-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first `FAIL …` line, without its timing.
fn fail_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("FAIL "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_failing_seed_prints_the_command_that_reproduces_it_tick_included() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().display().to_string();
    // Seed 3 draws a 10 ms tick; the broken core fails it.
    let (code, stderr) = sim(&[
        "chaos",
        "--start",
        "3",
        "--seeds",
        "1",
        "--duration",
        "30m",
        "--regions",
        "3",
        "--pods",
        "3",
        "--broken",
        "no-self-fencing",
        "--out",
        &dir,
    ]);
    assert_eq!(code, 1, "{stderr}");
    let again = stderr
        .lines()
        .find_map(|l| l.split(" or `").nth(1))
        .and_then(|rest| rest.strip_suffix('`'))
        .unwrap_or_else(|| panic!("no reproduce line in:\n{stderr}"));
    assert!(
        again.contains("--regions 3 --pods 3 --tick 10ms --broken no-self-fencing"),
        "{again}"
    );
    let mut words: Vec<&str> = again.split_whitespace().skip(1).collect();
    words.extend(["--out", &dir]);
    let (code2, stderr2) = sim(&words);
    assert_eq!(code2, 1, "{stderr2}");
    assert_eq!(fail_line(&stderr), fail_line(&stderr2));
}
