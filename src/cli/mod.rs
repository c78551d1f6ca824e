//! Subcommands of the `forge-manager` binary: the command line parsed by clap, one module per
//! subcommand. Each subcommand's `run` returns the process exit code; `main` only parses and exits.

pub mod check_config;
pub mod check_credentials;
pub mod crds;
pub mod decoy_credentials;
pub mod journal;
pub mod journal_source;
pub mod run;
pub mod watchdog;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// The `forge-manager` command line.
#[derive(Debug, Parser)]
#[command(name = "forge-manager", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per variant.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration (environment and flags), print it, and exit:
    /// 0 = valid, 2 = one line per problem on stderr.
    CheckConfig(Box<Config>),
    /// Print both CustomResourceDefinitions (CardanoLeader, CardanoForgeCluster) as YAML.
    Crds,
    /// Check a KES key, VRF key and operational certificate the way cardano-node will.
    CheckCredentials(check_credentials::Args),
    /// Generate a decoy credential set signed by a throw-away cold key.
    DecoyCredentials(decoy_credentials::Args),
    /// Inspect decision journals: tail, query, explain, timeline, replay, export, stats.
    Journal(journal::JournalArgs),
    /// Run the sidecar: elect, forge on exactly one pod, serve probes, metrics and status on
    /// METRICS_PORT; SIGTERM demotes, verifies and releases, then exits 0.
    Run(Box<Config>),
    /// Run the dead-man switch next to the sidecar: demote the node when the sidecar's armed
    /// heartbeat is older than RENEW_DEADLINE.
    Watchdog(Box<Config>),
}

impl Cli {
    /// Runs the chosen subcommand; returns the process exit code.
    pub fn run(self) -> i32 {
        match self.command {
            Command::CheckConfig(config) => check_config::run(&config),
            Command::Crds => crds::run(),
            Command::CheckCredentials(args) => check_credentials::run(args),
            Command::DecoyCredentials(args) => decoy_credentials::run(args),
            Command::Journal(args) => journal::run(args),
            Command::Run(config) => run::run(&config),
            Command::Watchdog(config) => watchdog::run(&config),
        }
    }
}

/// `--network` (or `CARDANO_NETWORK`) of the credential commands: a known network, or an error
/// that names both places the value may have come from.
pub(crate) fn network_arg(value: &str) -> Result<crate::credentials::Network, String> {
    use clap::ValueEnum;
    crate::credentials::Network::from_str(value, false).map_err(|_| {
        "expected mainnet, preprod or preview (from --network, or from CARDANO_NETWORK when \
         --network is not given)"
            .to_owned()
    })
}
