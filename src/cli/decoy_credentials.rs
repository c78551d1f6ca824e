//! `forge-manager decoy-credentials`: write a decoy credential set (KES key, VRF key, operational
//! certificate valid now) signed by a throw-away cold key that is never saved. Standby nodes keep a
//! decoy set in place so they always boot; a stray SIGHUP then "forges" for an unregistered pool
//! with zero stake, which never leads.
//!
//! Exit codes: 0 written; 1 refused (a target file exists and `--force` was not given, or the
//! generated set failed its own validation); 2 I/O error.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::TryRngCore;

use crate::credentials::{
    self, CREDENTIAL_MODE, CredentialPaths, Network, PeriodCheck, generate_set,
};

/// Name of the cold verification key written next to the set, for reference.
pub const COLD_VKEY_NAME: &str = "cold.vkey";

/// Flags of `decoy-credentials`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write `kes.skey`, `vrf.skey`, `node.cert` and `cold.vkey` into (created if
    /// missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Network whose current KES period the certificate starts at; the sidecar's CARDANO_NETWORK
    /// when not given (a mainnet set is not valid on preprod or preview: it starts in their
    /// future).
    #[arg(long, env = "CARDANO_NETWORK", value_parser = super::network_arg, default_value = "mainnet")]
    pub network: Network,
    /// Start the certificate at this KES period instead of the current one.
    #[arg(long)]
    pub kes_period: Option<u64>,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output directory could not be created.
    #[error("creating {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written, synced or renamed into place.
    #[error("writing {path}: {source}")]
    WriteFile {
        /// The final path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> i32 {
    let genesis = args.network.genesis();
    let kes_period = args
        .kes_period
        .unwrap_or_else(|| credentials::current_kes_period(&genesis, jiff::Timestamp::now()));
    let paths = CredentialPaths::in_dir(&args.out);
    let cold_path = args.out.join(COLD_VKEY_NAME);
    let targets = [
        cold_path.as_path(),
        paths.kes.as_path(),
        paths.vrf.as_path(),
        paths.opcert.as_path(),
    ];
    let existing: Vec<_> = targets.iter().filter(|p| p.exists()).collect();
    if !existing.is_empty() && !args.force {
        for p in existing {
            eprintln!("error: {} exists (use --force to replace it)", p.display());
        }
        return 1;
    }

    // The OS RNG directly: a decoy's keys must not be predictable from any seed we hold.
    let mut rng = rand::rngs::OsRng.unwrap_err();
    let generated = generate_set(&genesis, kes_period, 0, &mut rng);
    let report = credentials::check(
        &generated.set,
        PeriodCheck {
            current_kes_period: kes_period,
            max_kes_evolutions: genesis.max_kes_evolutions,
            previous_counter: None,
        },
    );
    if !report.is_valid() {
        for p in &report.problems {
            eprintln!("error: generated set failed validation: {p}");
        }
        return 1;
    }

    let files: [(&Path, &[u8]); 4] = [
        (&cold_path, &generated.cold_vkey),
        (&paths.kes, &generated.set.kes),
        (&paths.vrf, &generated.set.vrf),
        // The certificate last: a set is complete only once the file identifying it is there.
        (&paths.opcert, &generated.set.opcert),
    ];
    if let Err(e) = write_all(&args.out, &files) {
        eprintln!("error: {e}");
        return 2;
    }
    println!("decoy credentials written to {}", args.out.display());
    println!("network:            {}", args.network.name());
    println!("decoy pool id:      {} (unregistered)", generated.pool_id);
    println!("KES period start:   {kes_period}");
    println!("KES period expiry:  {}", generated.kes_period_expiry);
    println!(
        "fingerprints:       kes {}  vrf {}  opcert {}",
        report.fingerprints.kes, report.fingerprints.vrf, report.fingerprints.opcert
    );
    println!("the cold signing key was not saved: this certificate can never be renewed");
    0
}

/// Writes each file atomically (temporary file in the same directory, mode 0600, fsync, rename),
/// then syncs the directory so the renames survive a crash.
pub fn write_all(dir: &Path, files: &[(&Path, &[u8])]) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    for (path, bytes) in files {
        write_atomic(path, bytes).map_err(|source| WriteError::WriteFile {
            path: path.to_path_buf(),
            source,
        })?;
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WriteError::WriteFile {
            path: dir.to_path_buf(),
            source,
        })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(CREDENTIAL_MODE)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
