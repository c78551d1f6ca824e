//! Power loss, simulated below redb: a storage backend that keeps what was fsynced apart from what
//! was only written, and at a "power cut" keeps a random subset of the un-synced 512-byte sectors
//! (torn writes). Guards against: a durable append (returned Ok with `SyncMode::Durable`) that is
//! lost or damaged by a power cut, and a journal that does not reopen after one. SIGKILL
//! (tests/journal_crash.rs) cannot show this: the page cache survives a killed process.
//!
//! Reproduce a failure with `JOURNAL_POWER_SEED=<seed> cargo test --test journal_power_loss`.

use std::sync::{Arc, Mutex};

use forge_manager::journal::demo::stress_record;
use forge_manager::journal::{Journal, JournalConfig, Query, ReadJournal, SyncMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SECTOR: usize = 512;

#[derive(Debug, Default)]
struct Disk {
    /// What survives a power cut for sure.
    durable: Vec<u8>,
    /// What the process sees (durable plus un-synced writes).
    visible: Vec<u8>,
    /// Sectors written since the last sync.
    dirty: std::collections::BTreeSet<usize>,
    /// The power fails when this many more writes or syncs have been attempted.
    ops_until_cut: Option<usize>,
    /// Set once the power failed: every later operation fails.
    dead: bool,
    /// Canary: `sync_data` returns Ok without making anything durable (a lying disk).
    lies_about_sync: bool,
}

impl Disk {
    fn tick(&mut self) -> Result<(), std::io::Error> {
        if self.dead {
            return Err(std::io::Error::other("power is off"));
        }
        if let Some(n) = self.ops_until_cut.as_mut() {
            if *n == 0 {
                self.dead = true;
                return Err(std::io::Error::other("power cut"));
            }
            *n -= 1;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
struct PowerCutBackend(Arc<Mutex<Disk>>);

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl redb::StorageBackend for PowerCutBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.lock().map_err(io_err)?.visible.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let d = self.0.lock().map_err(io_err)?;
        let start = offset as usize;
        let end = start + out.len();
        if end > d.visible.len() {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        out.copy_from_slice(&d.visible[start..end]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().map_err(io_err)?;
        d.visible.resize(len as usize, 0);
        d.durable.resize(len as usize, 0); // metadata: treated as durable at once
        Ok(())
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().map_err(io_err)?;
        d.tick()?;
        if d.lies_about_sync {
            return Ok(());
        }
        d.durable = d.visible.clone();
        d.dirty.clear();
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().map_err(io_err)?;
        d.tick()?;
        let start = offset as usize;
        let end = start + data.len();
        if end > d.visible.len() {
            d.visible.resize(end, 0);
            d.durable.resize(end, 0);
        }
        d.visible[start..end].copy_from_slice(data);
        for s in (start / SECTOR)..end.div_ceil(SECTOR) {
            d.dirty.insert(s);
        }
        Ok(())
    }
}

impl PowerCutBackend {
    /// The disk after a power cut: durable bytes, plus each un-synced sector with probability 1/2.
    fn after_power_cut(&self, rng: &mut StdRng) -> PowerCutBackend {
        let d = self.0.lock().expect("disk lock");
        let mut image = d.durable.clone();
        for &s in &d.dirty {
            if rng.random_bool(0.5) {
                let a = s * SECTOR;
                let b = ((s + 1) * SECTOR).min(image.len());
                if a < b {
                    image[a..b].copy_from_slice(&d.visible[a..b]);
                }
            }
        }
        PowerCutBackend(Arc::new(Mutex::new(Disk {
            durable: image.clone(),
            visible: image,
            lies_about_sync: d.lies_about_sync,
            ..Disk::default()
        })))
    }
}

fn seed_from_env() -> u64 {
    std::env::var("JOURNAL_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(11)
        })
}

/// 40 power cuts at random moments; after each, the journal must reopen with contiguous seqs
/// and every acknowledged durable append. Returns the first violation.
fn power_cut_run(seed: u64, lying_disk: bool) -> Result<u64, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cfg = JournalConfig {
        sync: SyncMode::Durable,
        ..JournalConfig::default()
    };
    let mut disk = PowerCutBackend::default();
    disk.0.lock().expect("disk").lies_about_sync = lying_disk;
    let mut acknowledged = 0u64;
    for cut in 0..40 {
        let mut j = Journal::open_with_backend(disk.clone(), cfg.clone())
            .map_err(|e| format!("seed {seed} cut {cut}: reopen failed: {e}"))?;
        let seqs: Vec<u64> = j
            .query(&Query::default())
            .map_err(|e| format!("seed {seed} cut {cut}: query failed: {e}"))?
            .iter()
            .map(|r| r.seq)
            .collect();
        if seqs != (1..=seqs.len() as u64).collect::<Vec<_>>() {
            return Err(format!("seed {seed} cut {cut}: seqs not contiguous from 1"));
        }
        if (seqs.len() as u64) < acknowledged {
            return Err(format!(
                "seed {seed} cut {cut}: {} records survived, {acknowledged} were acknowledged durable",
                seqs.len()
            ));
        }
        // The power fails after a random number of writes/syncs: often in the middle of a
        // commit. Appends acknowledged before that must survive.
        disk.0.lock().expect("disk").ops_until_cut = Some(rng.random_range(0..200));
        for _ in 0..100 {
            match j.append(stress_record(j.last_seq(), 1_795_600_800_000)) {
                Ok(seq) => acknowledged = seq,
                Err(_) => break,
            }
        }
        // The journal is still open (no clean close): the image is what the disk held when the
        // power failed, with a random half of the un-synced sectors.
        let image = disk.after_power_cut(&mut rng);
        std::mem::forget(j);
        disk = image;
    }
    Ok(acknowledged)
}

#[test]
fn durable_appends_survive_power_cuts_with_torn_unsynced_sectors() {
    let seed = seed_from_env();
    println!(
        "seed={seed} (reproduce: JOURNAL_POWER_SEED={seed} cargo test --test journal_power_loss)"
    );
    let acknowledged = power_cut_run(seed, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(acknowledged > 40);
}

/// Canary: the same harness must catch a disk that acknowledges fsync without persisting.
#[test]
fn the_power_cut_harness_catches_a_disk_that_lies_about_fsync() {
    let seed = seed_from_env();
    println!("seed={seed}");
    assert!(
        power_cut_run(seed, true).is_err(),
        "seed {seed}: a lying disk went unnoticed: the harness cannot fail"
    );
}
