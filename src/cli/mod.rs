//! Subcommands of the forge-manager binary.
//!
//! Each subcommand lives in its own file with a `run(args) -> i32` returning the process exit code.

use clap::{Parser, Subcommand};

pub mod check_credentials;
pub mod decoy_credentials;

/// The forge-manager command line.
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
    /// Check a KES key, VRF key and operational certificate the way cardano-node will.
    CheckCredentials(check_credentials::Args),
    /// Generate a decoy credential set signed by a throw-away cold key.
    DecoyCredentials(decoy_credentials::Args),
}

impl Cli {
    /// Runs the chosen subcommand; returns the process exit code.
    pub fn run(self) -> i32 {
        match self.command {
            Command::CheckCredentials(args) => check_credentials::run(args),
            Command::DecoyCredentials(args) => decoy_credentials::run(args),
        }
    }
}
