//! Subcommands of the `forge-manager` binary: the command line parsed by clap, one module per
//! subcommand. Each subcommand's `run` returns the process exit code; `main` only dispatches.

pub mod check_config;
pub mod crds;

use crate::config::Config;

/// The `forge-manager` command line.
#[derive(Debug, clap::Parser)]
#[command(name = "forge-manager", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per variant; add new ones here and dispatch them in `main`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate the configuration (environment and flags), print it, and exit:
    /// 0 = valid, 2 = one line per problem on stderr.
    CheckConfig(Box<Config>),
    /// Print both CustomResourceDefinitions (CardanoLeader, CardanoForgeCluster) as YAML.
    Crds,
}
