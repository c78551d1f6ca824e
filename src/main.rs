//! The `forge-manager` binary: parses the command line and runs a subcommand
//! (`forge_manager::cli`). `anyhow` is allowed here and nowhere in the library.

use std::process::ExitCode;

use clap::Parser;
use forge_manager::cli::Cli;

fn main() -> ExitCode {
    let code = Cli::parse().run();
    // Codes outside 0..=255 become 1 (failure).
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}
