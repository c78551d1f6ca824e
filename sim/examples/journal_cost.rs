//! What the decision journal costs per pod per day: runs a fault-free world (steady state) and a
//! chaos seed (a busy day) with journals, and prints records and bytes per pod, scaled to a day.
//!
//! ```sh
//! cargo run -p forge-sim --example journal_cost -- [HOURS_QUIET] [HOURS_CHAOS]   # default 6 1
//! ```
//!
//! "stored" is what the journal counts (compressed heads and bodies, `journal stats`' bytes of
//! records); "renewals" the compact renewal log's entries (not records; in the file's size);
//! "file" is the redb file on disk (pages, indexes, renewals, free space); "JSON" is the records'
//! uncompressed JSON (`journal export`). Figures: docs/performance.md.

use std::path::Path;
use std::time::{Duration, Instant};

use forge_manager::journal::{JournalReader, Query, ReadJournal};
use forge_sim::chaos::{ChaosConfig, Probes, quiet_world, run_seed};
use forge_sim::runner::{RunOptions, run};

fn measure(label: &str, dir: &Path, hours: f64) {
    let per_day = 24.0 / hours;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "redb"))
        .collect();
    files.sort();
    println!("{label} ({hours} h simulated, scaled to 24 h):");
    println!(
        "  {:<22} {:>12} {:>13} {:>14} {:>14} {:>14} {:>10}",
        "pod",
        "records/day",
        "renewals/day",
        "stored MB/day",
        "file MB/day",
        "JSON MB/day",
        "B/record"
    );
    for f in files {
        let reader = JournalReader::open(&f).expect("open");
        let stats = reader.stats().expect("stats");
        let mut json = Vec::new();
        reader
            .write_jsonl(&Query::default(), &mut json)
            .expect("export");
        let file = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        let renewals = reader.renewals().expect("renewals").len();
        let mb = |b: f64| b * per_day / 1e6;
        println!(
            "  {:<22} {:>12.0} {:>13.0} {:>14.2} {:>14.2} {:>14.2} {:>10.0}",
            f.file_stem().and_then(|s| s.to_str()).unwrap_or("?"),
            stats.records as f64 * per_day,
            renewals as f64 * per_day,
            mb(stats.record_bytes as f64),
            mb(file as f64),
            mb(json.len() as f64),
            stats.record_bytes as f64 / (stats.records.max(1)) as f64
        );
    }
}

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let quiet_h = args.first().copied().unwrap_or(6.0);
    let chaos_h = args.get(1).copied().unwrap_or(1.0);

    for (regions, label) in [
        (1, "steady state, 1 region x 3 pods"),
        (
            3,
            "steady state, 3 regions x 3 pods (cross-region rounds recorded)",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let scenario = quiet_world(regions, 3, Duration::from_secs_f64(quiet_h * 3600.0));
        run(&scenario, &RunOptions::journaled(dir.path())).expect("run");
        measure(label, dir.path(), quiet_h);
        eprintln!("({:.0} s wall)", started.elapsed().as_secs_f64());
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let config = ChaosConfig {
        duration: Duration::from_secs_f64(chaos_h * 3600.0),
        regions: 3,
        pods: 3,
        tick: None,
        probes: Probes::Off,
    };
    let seed = run_seed(1000, &config, &RunOptions::journaled(dir.path()));
    seed.result.as_ref().expect("chaos run");
    measure(
        "chaos seed 1000 (faults all the time), up to 3 regions x 3 pods",
        dir.path(),
        chaos_h,
    );
    eprintln!("({:.0} s wall)", started.elapsed().as_secs_f64());
}
