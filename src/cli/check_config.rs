//! `forge-manager check-config`: validates a configuration without touching the cluster, so a
//! manifest can be checked before it is rolled out (and in CI).

use std::io::Write;

use crate::config::Config;

/// Exit code when the configuration has problems (the same code clap uses for usage errors).
pub const EXIT_INVALID: i32 = 2;

/// Prints the effective configuration to stdout and returns 0, or prints one line per problem to
/// stderr and returns [`EXIT_INVALID`].
pub fn run(config: &Config) -> i32 {
    run_to(
        config,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`] with the output streams given, for tests.
pub fn run_to(config: &Config, out: &mut impl Write, err: &mut impl Write) -> i32 {
    // A closed stdout/stderr cannot be reported anywhere; the exit code still tells the result.
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
