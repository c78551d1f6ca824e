//! Subcommands of the forge-manager binary.
//!
//! (Minimal version from the CRD work: only `crds`. The full `Cli` with the sidecar's own
//! subcommands is written in parallel and merged later.)

pub mod crds;

use clap::{Parser, Subcommand};

/// The `forge-manager` command line.
#[derive(Debug, Parser)]
#[command(name = "forge-manager", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print both CustomResourceDefinitions (CardanoLeader, CardanoForgeCluster) as YAML.
    Crds,
}

impl Cli {
    /// Runs the chosen subcommand; returns the process exit code.
    pub fn run(self) -> i32 {
        match self.command {
            Command::Crds => crds::run(),
        }
    }
}
