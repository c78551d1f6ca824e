//! The forge-manager binary: parses the command line and runs a subcommand.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let code = forge_manager::cli::Cli::parse().run();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
