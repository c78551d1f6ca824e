//! The `forge-manager` binary: parses the command line and dispatches to a subcommand
//! (`forge_manager::cli`). `anyhow` is allowed here and nowhere in the library.

use std::process::ExitCode;

use clap::Parser;
use forge_manager::cli::{Cli, Command, check_config, crds};

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::CheckConfig(config) => check_config::run(&config),
        Command::Crds => crds::run(),
    };
    Ok(exit_code(code))
}

/// An `i32` exit code as the process's; codes outside 0..=255 become 1 (failure).
fn exit_code(code: i32) -> ExitCode {
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}
