//! Read-only access for people and tools (`forge-manager journal …`): never writes the file.

use std::path::{Path, PathBuf};

use redb::Database;

use super::error::OpenError;
use super::open::open_verified;

/// redb page cache of a reader. Small on purpose: the integrity check on open reads every page,
/// and a cache large enough to keep them all (1 GiB, before 2026-11-26) made the open cost 2–3×
/// more (allocating and faulting in the cache) without making a later scan faster; the kernel's
/// page cache already holds the file.
const READER_CACHE_BYTES: usize = 8 << 20;
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
}

impl super::ReadJournal for JournalReader {
    fn database(&self) -> &Database {
        &self.db
    }
}
