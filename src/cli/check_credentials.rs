//! `forge-manager check-credentials`: judge a KES key, VRF key and operational certificate before
//! handing them to a node, and show what an operator needs (counter, periods, fingerprints), never
//! key bytes.
//!
//! Exit codes: 0 valid; 1 invalid (every reason listed); 2 unusable input (a file missing,
//! unreadable, empty or not a text envelope).

use std::path::{Path, PathBuf};

use crate::credentials::{
    self, CredentialFile, CredentialReport, CredentialSet, Network, PeriodCheck,
};

/// Exit code: the set is valid.
pub const EXIT_VALID: i32 = 0;
/// Exit code: the set was read but is invalid.
pub const EXIT_INVALID: i32 = 1;
/// Exit code: the input could not be read as credentials.
pub const EXIT_UNUSABLE: i32 = 2;

/// How to print the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned lines for people.
    Text,
    /// One JSON object for scripts.
    Json,
}

/// Flags of `check-credentials`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// KES signing key file (`KesSigningKey_ed25519_kes_2^6`).
    #[arg(long)]
    pub kes: PathBuf,
    /// VRF signing key file (`VrfSigningKey_PraosVRF`).
    #[arg(long)]
    pub vrf: PathBuf,
    /// Operational certificate file (`NodeOperationalCertificate`).
    #[arg(long)]
    pub opcert: PathBuf,
    /// Judge at this KES period instead of the one the wall clock gives.
    #[arg(long)]
    pub kes_period: Option<u64>,
    /// Network whose genesis turns wall time into a KES period; CARDANO_NETWORK when not given.
    #[arg(long, env = "CARDANO_NETWORK", value_parser = super::network_arg, default_value = "mainnet")]
    pub network: Network,
    /// The highest issue counter already seen for the pool (from `cardano-cli query
    /// kes-period-info`); the certificate's must be equal or one more.
    #[arg(long)]
    pub previous_counter: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// What was printed as JSON.
#[derive(serde::Serialize)]
struct JsonOut<'a> {
    valid: bool,
    network: &'static str,
    kes_period_source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    input_errors: Vec<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    report: Option<&'a CredentialReport>,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> i32 {
    let genesis = args.network.genesis();
    let (current, source) = match args.kes_period {
        Some(p) => (p, "given"),
        None => (
            credentials::current_kes_period(&genesis, jiff::Timestamp::now()),
            "wall clock",
        ),
    };
    let set = match read_files(&args) {
        Ok(set) => set,
        Err(errors) => {
            print_input_errors(&args, source, &errors);
            return EXIT_UNUSABLE;
        }
    };
    let report = credentials::check(
        &set,
        PeriodCheck {
            current_kes_period: current,
            max_kes_evolutions: genesis.max_kes_evolutions,
            previous_counter: args.previous_counter,
        },
    );
    match args.output {
        Output::Text => print_text(&args, source, &report),
        Output::Json => print_json(&JsonOut {
            valid: report.is_valid(),
            network: args.network.name(),
            kes_period_source: source,
            input_errors: Vec::new(),
            report: Some(&report),
        }),
    }
    exit_code(&report)
}

/// 0 valid, 2 when any file was unusable as a text envelope, else 1.
pub fn exit_code(report: &CredentialReport) -> i32 {
    if report.is_valid() {
        EXIT_VALID
    } else if report
        .problems
        .iter()
        .any(super::super::credentials::validate::Problem::is_unusable_input)
    {
        EXIT_UNUSABLE
    } else {
        EXIT_INVALID
    }
}

fn read_files(args: &Args) -> Result<CredentialSet, Vec<String>> {
    let mut errors = Vec::new();
    let mut read = |file: CredentialFile, path: &Path| match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            errors.push(format!(
                "{}: cannot read {}: {e}",
                file.label(),
                path.display()
            ));
            Vec::new()
        }
    };
    let set = CredentialSet {
        kes: read(CredentialFile::Kes, &args.kes),
        vrf: read(CredentialFile::Vrf, &args.vrf),
        opcert: read(CredentialFile::Opcert, &args.opcert),
    };
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

fn print_input_errors(args: &Args, source: &'static str, errors: &[String]) {
    match args.output {
        Output::Text => {
            for e in errors {
                eprintln!("error: {e}");
            }
        }
        Output::Json => print_json(&JsonOut {
            valid: false,
            network: args.network.name(),
            kes_period_source: source,
            input_errors: errors.to_vec(),
            report: None,
        }),
    }
}

fn print_json(out: &JsonOut<'_>) {
    match serde_json::to_string_pretty(out) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: rendering JSON: {e}"),
    }
}

fn print_text(args: &Args, source: &str, r: &CredentialReport) {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    println!("network:            {}", args.network.name());
    println!(
        "pool id:            {}",
        r.pool_id.as_deref().unwrap_or("-")
    );
    println!("issue counter:      {}", opt(r.counter));
    println!("KES period start:   {}", opt(r.kes_period_start));
    println!(
        "KES period expiry:  {} (first period no longer valid)",
        opt(r.kes_period_expiry)
    );
    println!("current KES period: {} ({source})", r.current_kes_period);
    println!("periods left:       {}", opt(r.periods_left));
    println!(
        "fingerprints:       kes {}  vrf {}  opcert {}",
        r.fingerprints.kes, r.fingerprints.vrf, r.fingerprints.opcert
    );
    if r.is_valid() {
        println!("result:             valid");
    } else {
        println!(
            "result:             INVALID ({} problems)",
            r.problems.len()
        );
        for p in &r.problems {
            let code = serde_json::to_value(p.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            println!("  - [{code}] {p}");
        }
    }
}
