//! The forge-manager binary: parses the command line and runs a subcommand.

use clap::Parser;
use forge_manager::cli::{Cli, Command};

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Journal(args) => forge_manager::cli::journal::run(args),
    };
    Ok(std::process::ExitCode::from(
        u8::try_from(code).unwrap_or(2),
    ))
}
