//! Opening journal files: the checks that let a bad file fail with a clear message and leave it
//! untouched, and the verified read-only open the CLI uses.
//!
//! Why a read-only open reads a private copy: redb trusts a file that was shut down cleanly and may
//! panic on one corrupted outside redb; its integrity check (every page checksum) needs a writable
//! database, and a journal left by a killed pod needs recovery, which writes. So readers copy the
//! file (while holding redb's shared lock, so no writer can start mid-copy), then open the copy
//! with the integrity check on. The original is only ever read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, DatabaseError, ReadableDatabase, TableError};

use super::error::OpenError;
use super::schema::{FORMAT_VERSION, META, META_FORMAT_VERSION};

/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What a look at an existing file found, without modifying it.
pub(crate) enum Probe {
    /// No file, or an empty one: a writer creates a new journal.
    Absent,
    /// A cleanly closed journal at this format version or an older one.
    Clean,
    /// A redb file that was not closed cleanly (a killed writer): it needs recovery, which writes,
    /// so its contents could not be checked read-only.
    NeedsRecovery,
}

/// Checks `path` without writing to it: a redb file, not locked, a journal, not from the future.
pub(crate) fn probe(path: &Path) -> Result<Probe, OpenError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Absent),
        Err(source) => return Err(read_header(path, source)),
    };
    let len = file
        .metadata()
        .map_err(|source| read_header(path, source))?
        .len();
    if len == 0 {
        return Ok(Probe::Absent);
    }
    let mut magic = [0u8; REDB_MAGIC.len()];
    match file.read_exact(&mut magic) {
        Ok(()) if magic == REDB_MAGIC => {}
        Ok(()) => return Err(OpenError::NotRedb { path: path.into() }),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(OpenError::NotRedb { path: path.into() });
        }
        Err(source) => return Err(read_header(path, source)),
    }
    drop(file);
    match redb::Builder::new()
        .set_cache_size(1 << 20)
        .open_read_only(path)
    {
        Ok(db) => {
            read_version(&db, path)?;
            Ok(Probe::Clean)
        }
        Err(DatabaseError::RepairAborted) => Ok(Probe::NeedsRecovery),
        Err(e) => Err(map_db_error(path, e)),
    }
}

/// Reads and checks `meta.format_version` through any readable database.
pub(crate) fn read_version(db: &impl ReadableDatabase, path: &Path) -> Result<u32, OpenError> {
    let corrupt = |detail: String| OpenError::Corrupt {
        path: path.into(),
        detail,
    };
    let txn = db.begin_read().map_err(|e| corrupt(e.to_string()))?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) | Err(TableError::TableTypeMismatch { .. }) => {
            return Err(OpenError::NotAJournal { path: path.into() });
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let raw = meta
        .get(META_FORMAT_VERSION)
        .map_err(|e| corrupt(e.to_string()))?
        .map(|g| g.value())
        .ok_or_else(|| OpenError::NotAJournal { path: path.into() })?;
    let version = u32::try_from(raw).unwrap_or(u32::MAX);
    if version > FORMAT_VERSION {
        return Err(OpenError::NewerVersion {
            path: path.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(version)
}

/// Maps redb's open errors to ours, naming the lock case in words people can act on.
pub(crate) fn map_db_error(path: &Path, e: DatabaseError) -> OpenError {
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            OpenError::InUse { path: path.into() }
        }
        other => OpenError::Corrupt {
            path: path.into(),
            detail: other.to_string(),
        },
    }
}

fn read_header(path: &Path, source: std::io::Error) -> OpenError {
    OpenError::ReadHeader {
        path: path.into(),
        source,
    }
}

/// A private copy of a journal file, deleted when dropped.
pub(crate) struct PrivateCopy {
    pub path: PathBuf,
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        // Best effort: a leftover copy in the temp directory is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}

static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Copies `path` for reading, holding redb's shared lock during the copy when the file is clean,
/// so that no writer can start and change it mid-copy; then opens the copy with the integrity check
/// on (and recovers it if it needs recovery). The original is only read.
pub(crate) fn open_verified_copy(path: &Path) -> Result<(Database, PrivateCopy, u32), OpenError> {
    let probe = probe(path)?;
    let lock = match probe {
        Probe::Absent => {
            return Err(if path.exists() {
                OpenError::NotRedb { path: path.into() }
            } else {
                OpenError::NotFound { path: path.into() }
            });
        }
        Probe::Clean => Some(
            redb::Builder::new()
                .set_cache_size(1 << 20)
                .open_read_only(path)
                .map_err(|e| map_db_error(path, e))?,
        ),
        Probe::NeedsRecovery => None,
    };
    let n = COPY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let copy = PrivateCopy {
        path: std::env::temp_dir().join(format!(
            "forge-journal-read-{}-{}.redb",
            std::process::id(),
            n
        )),
    };
    std::fs::copy(path, &copy.path).map_err(|source| OpenError::CopyForRead {
        path: path.into(),
        source,
    })?;
    drop(lock);
    let db = redb::Builder::new()
        .set_check_integrity_on_open(true)
        .set_cache_size(256 << 20)
        .open(&copy.path)
        .map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
                OpenError::Corrupt {
                    path: path.into(),
                    detail: "private copy is locked".into(),
                }
            }
            other => OpenError::Corrupt {
                path: path.into(),
                detail: other.to_string(),
            },
        })?;
    let version = read_version(&db, path)?;
    Ok((db, copy, version))
}
