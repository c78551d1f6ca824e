//! Subcommands of the forge-manager binary.
//!
//! Minimal version from the journal branch: only the `journal` subcommand. The full `Cli` (run,
//! check-config, crds, watchdog, ...) comes from the CLI branch; merge by adding its variants.

pub mod journal;

/// The forge-manager command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "forge-manager",
    version,
    about = "Decides which Cardano block producer forges, and makes it so, safely"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Inspect decision journals: tail, query, explain, timeline, export, stats.
    Journal(journal::JournalArgs),
}
