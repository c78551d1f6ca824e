//! `forge-sim`: the simulator's command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deterministic simulator, test API server and fake cardano-node for forge-manager.
#[derive(Debug, Parser)]
#[command(name = "forge-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A stand-in cardano-node (process name, socket, SIGHUP reload, metrics) for end-to-end tests.
    FakeNode(forge_sim::fake_node::FakeNodeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::FakeNode(args) => forge_sim::fake_node::main(args),
    }
}
