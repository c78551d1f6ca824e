//! Read-only access for people and tools (`forge-manager journal …`): never writes the file.

use std::path::{Path, PathBuf};

use redb::Database;

use super::error::{OpenError, QueryError, SnapshotError};
use super::open::open_verified;

/// redb page cache of a reader. Small on purpose: the integrity check on open reads every page,
/// and a cache large enough to keep them all (1 GiB, before 2026-11-26) made the open cost 2–3×
/// more (allocating and faulting in the cache) without making a later scan faster; the kernel's
/// page cache already holds the file.
const READER_CACHE_BYTES: usize = 8 << 20;
use super::read::{self, Explanation, Query, Stats};
use super::record::JournalRecord;
use super::schema::{self, FORMAT_VERSION};

/// A journal opened read-only. The file is never written: recovery, the integrity check and any
/// migration happen in memory.
///
/// Opening checks, in order: it exists; it is a redb file; no writer holds it
/// ([`OpenError::InUse`], at once, never waiting); every page checksum is right (after an
/// in-memory recovery when its writer was killed); it is a journal; it is not from a newer
/// version. An older format is migrated in memory only. While a reader is open, a writer cannot
/// open the file (it gets [`OpenError::InUse`]): keep readers short-lived.
pub struct JournalReader {
    db: Database,
    path: PathBuf,
    format_version_on_disk: u32,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl JournalReader {
    /// Opens `path` read-only (see the type's documentation for the checks).
    pub fn open(path: impl AsRef<Path>) -> Result<JournalReader, OpenError> {
        let path = path.as_ref();
        let (db, version) = open_verified(path, READER_CACHE_BYTES)?;
        if version < FORMAT_VERSION {
            let fail = |detail: String| OpenError::Migrate {
                path: path.into(),
                from: version,
                detail,
            };
            let txn = db.begin_write().map_err(|e| fail(e.to_string()))?;
            schema::migrate(&txn, version).map_err(|e| fail(e.0))?;
            txn.commit().map_err(|e| fail(e.to_string()))?;
        }
        Ok(JournalReader {
            db,
            path: path.into(),
            format_version_on_disk: version,
        })
    }

    /// The file this reader was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version of the file on disk (before any in-memory migration).
    pub fn format_version_on_disk(&self) -> u32 {
        self.format_version_on_disk
    }

    /// The matching records, in seq order.
    pub fn query(&self, q: &Query) -> Result<Vec<JournalRecord>, QueryError> {
        read::query(&self.db, q)
    }

    /// Calls `f` for each matching record in seq order until it returns `false`.
    pub fn query_each(
        &self,
        q: &Query,
        f: impl FnMut(JournalRecord) -> bool,
    ) -> Result<(), QueryError> {
        read::query_each(&self.db, q, f)
    }

    /// Writes the matching records as JSON lines from the stored bytes (fast: `inputs` is not
    /// decoded). Returns how many were written.
    pub fn write_jsonl(&self, q: &Query, out: &mut impl std::io::Write) -> Result<u64, QueryError> {
        read::write_jsonl(&self.db, q, out)
    }

    /// Counts the matching records (decoding each, as a real query does).
    pub fn count(&self, q: &Query) -> Result<u64, QueryError> {
        read::count(&self.db, q)
    }

    /// The last `n` records, oldest first.
    pub fn tail(&self, n: usize) -> Result<Vec<JournalRecord>, QueryError> {
        read::tail(&self.db, n)
    }

    /// Records after seq `after`, oldest first, at most `max`.
    pub fn after(&self, after: u64, max: usize) -> Result<Vec<JournalRecord>, QueryError> {
        read::after(&self.db, after, max)
    }

    /// The newest wall time (ms since the epoch).
    pub fn newest_wall_ms(&self) -> Result<Option<i64>, QueryError> {
        read::newest_wall_ms(&self.db)
    }

    /// How the pod came to its role at `at_ms`: walks back across `role_changes` role changes
    /// (1: to the last role change).
    pub fn explain(
        &self,
        at_ms: i64,
        role_changes: usize,
    ) -> Result<Option<Explanation>, QueryError> {
        read::explain(&self.db, at_ms, role_changes)
    }

    /// Every lease renewal kept, oldest first (none in files written before they were kept).
    pub fn renewals(&self) -> Result<Vec<super::renewals::Renewal>, QueryError> {
        super::renewals::read_all(&self.db)
    }

    /// Counts, bounds and per-kind counts.
    pub fn stats(&self) -> Result<Stats, QueryError> {
        read::stats(&self.db)
    }

    /// Writes a new journal file with the same content (see [`super::Journal::snapshot_to`]).
    pub fn snapshot_to(&self, dest: impl AsRef<Path>) -> Result<u64, SnapshotError> {
        super::snapshot::snapshot(&self.db, dest.as_ref())
    }
}
