//! The `forge-manager` binary: parses the command line and runs a subcommand
//! (`forge_manager::cli`). `anyhow` is allowed here and nowhere in the library.

use std::process::ExitCode;

use clap::Parser;
use forge_manager::cli::Cli;

fn main() -> ExitCode {
    // Installed (linked or copied) as `kubectl-forge`, the binary is the kubectl plugin.
    let plugin = std::env::args_os()
        .next()
        .is_some_and(|argv0| forge_manager::plugin::invoked_as_plugin(&argv0));
    let code = if plugin {
        forge_manager::plugin::run_from(std::env::args_os())
    } else {
        Cli::parse().run()
    };
    // Codes outside 0..=255 become 1 (failure).
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}
