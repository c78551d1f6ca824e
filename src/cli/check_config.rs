//! `forge-manager check-config`: validates a configuration without touching the cluster, so a
//! manifest can be checked before it is rolled out (and in CI).

use std::io::Write;

use crate::config::Config;

/// Exit code when the configuration has problems (the same code clap uses for usage errors).
pub const EXIT_INVALID: i32 = 2;

/// Prints the effective configuration to stdout and returns 0, or prints one line per problem to
/// stderr and returns [`EXIT_INVALID`]. Warnings (a boolean read as false, a misspelt variable)
/// go to stderr either way and do not change the exit code: the old sidecar accepted the same.
pub fn run(config: &Config) -> i32 {
    let names = environment_names();
    run_to(
        config,
        names.iter().map(String::as_str),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// The names of the process environment's variables (those that are not UTF-8 cannot be ours).
pub fn environment_names() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect()
}

/// [`run`] with the environment's names and the output streams given, for tests.
pub fn run_to<'a>(
    config: &Config,
    env_names: impl IntoIterator<Item = &'a str>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> i32 {
    // A closed stdout/stderr cannot be reported anywhere; the exit code still tells the result.
    for warning in config.warnings(env_names) {
        let _ = writeln!(err, "{warning}");
    }
    match config.validate() {
        Ok(_) => {
            let _ = out.write_all(config.effective_summary().as_bytes());
            0
        }
        Err(problems) => {
            for problem in &problems {
                let _ = writeln!(err, "{problem}");
            }
            EXIT_INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_go_to_stderr_and_leave_the_exit_code_alone() {
        let config = Config::from_vars([
            ("ENABLE_CLUSTER_MANAGEMENT", "on"),
            ("POD_NAME", "cardano-bp-0"),
        ])
        .expect("config");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_to(&config, ["LEASE_DURATIONS"], &mut out, &mut err);
        assert_eq!(code, 0);
        let err = String::from_utf8(err).expect("utf-8");
        assert!(
            err.contains("warning: ENABLE_CLUSTER_MANAGEMENT: value \"on\" is read as false"),
            "{err}"
        );
        assert!(
            err.contains("warning: LEASE_DURATIONS: not a variable forge-manager reads; did you mean LEASE_DURATION?"),
            "{err}"
        );
        let out = String::from_utf8(out).expect("utf-8");
        assert!(out.contains("ENABLE_CLUSTER_MANAGEMENT=false\n"), "{out}");
    }
}
