//! The forge-manager binary: parses the command line and runs a subcommand.

use clap::Parser;

fn main() {
    let cli = forge_manager::cli::Cli::parse();
    std::process::exit(cli.run());
}
