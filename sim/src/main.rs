//! The `forge-sim` binary. Subcommands:
//! - `apiserver --listen ADDR [--state-file PATH]`: the test Kubernetes API server on a real port;
//! - `fake-node ...`: a stand-in cardano-node process for end-to-end tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use forge_sim::apiserver::{ApiServer, Options};

/// Deterministic simulator, test API server and fake cardano-node for forge-manager.
#[derive(Debug, Parser)]
#[command(name = "forge-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Kubernetes-protocol test API server (plain HTTP).
    Apiserver {
        /// Address to listen on, e.g. 127.0.0.1:6443 (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// Persist objects to this JSON file and load it at start.
        #[arg(long)]
        state_file: Option<PathBuf>,
    },
    /// A stand-in cardano-node (process name, socket, SIGHUP reload, metrics) for end-to-end tests.
    FakeNode(forge_sim::fake_node::FakeNodeArgs),
    /// Run a scenario file: exit 0 when every expectation holds, 1 when one fails, 2 when the
    /// file is invalid.
    Run {
        /// The scenario file (TOML, SCENARIOS.md).
        file: PathBuf,
        /// Overrides the file's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of the timeline.
        #[arg(long)]
        json: bool,
        /// Write one decision journal per simulated pod into this directory.
        #[arg(long)]
        journal_dir: Option<PathBuf>,
        /// turmoil's tick (resolution of simulated time), e.g. 50ms.
        #[arg(long, default_value = "50ms", value_parser = parse_duration)]
        tick: std::time::Duration,
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    forge_manager::config::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Apiserver { listen, state_file } => match apiserver(listen, state_file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("forge-sim apiserver: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::FakeNode(args) => forge_sim::fake_node::main(args),
        Command::Run {
            file,
            seed,
            json,
            journal_dir,
            tick,
        } => run(&file, seed, json, tick, journal_dir),
    }
}

fn run(
    file: &std::path::Path,
    seed: Option<u64>,
    json: bool,
    tick: std::time::Duration,
    journal_dir: Option<PathBuf>,
) -> ExitCode {
    use forge_sim::report::{EXIT_INVALID, render_text};
    let scenario = match forge_sim::scenario::Scenario::from_file(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_INVALID as u8);
        }
    };
    if let Some(dir) = &journal_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("forge-sim run: --journal-dir {}: {e}", dir.display());
        return ExitCode::from(EXIT_INVALID as u8);
    }
    let options = forge_sim::runner::RunOptions {
        seed,
        tick,
        journal_dir,
    };
    match forge_sim::runner::run(&scenario, &options) {
        Ok(outcome) => {
            if json {
                println!("{}", outcome.report.to_json());
            } else {
                print!(
                    "{}",
                    render_text(
                        &outcome.report,
                        &scenario,
                        &outcome.trace,
                        &outcome.judgement
                    )
                );
            }
            ExitCode::from(u8::try_from(outcome.report.exit_code()).unwrap_or(1))
        }
        Err(e) => {
            eprintln!(
                "forge-sim run {}: the simulation failed: {e}",
                file.display()
            );
            ExitCode::from(3)
        }
    }
}

fn apiserver(listen: SocketAddr, state_file: Option<PathBuf>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        let server = ApiServer::new(Options {
            state_file,
            ..Options::default()
        })
        .context("opening the state file")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        println!("forge-sim apiserver listening on http://{addr}");
        server.serve(listener).await.context("serving")
    })
}
