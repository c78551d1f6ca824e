//! Opening journal files: the checks that let a bad file fail with a clear message and leave it
//! untouched, and the verified read-only open the CLI uses.
//!
//! Why every open starts from a private copy: redb trusts a file that was shut down cleanly and may
//! panic on one corrupted outside redb (seen in tests: "Malformed allocator state" from a
//! read-only open), and the release profile aborts on panic; its integrity check (every page
//! checksum) needs a writable database, and a journal left by a killed pod needs recovery, which
//! writes. So the file is copied while redb's shared lock is held (no writer can start mid-copy),
//! and the copy is opened with the integrity check on. The original is only read. A writer then
//! opens the original only after its copy passed every check.

use std::io::Read;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{BackendError, Database, DatabaseError, ReadableDatabase, StorageBackend, TableError};

use super::error::OpenError;
use super::schema::{FORMAT_VERSION, META, META_FORMAT_VERSION};

/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What a look at an existing file found, without modifying it.
pub(crate) enum Probe {
    /// No file, or an empty one: a writer creates a new journal.
    Absent,
    /// A redb file: the caller goes on with a verified copy.
    Redb,
}

/// Checks that `path` is absent, empty, or starts like a redb file. Reads 9 bytes.
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
        Ok(()) if magic == REDB_MAGIC => Ok(Probe::Redb),
        Ok(()) => Err(OpenError::NotRedb { path: path.into() }),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(OpenError::NotRedb { path: path.into() })
        }
        Err(source) => Err(read_header(path, source)),
    }
}

/// A storage backend that takes redb's locks on the real file exactly as a read-only open does,
/// and then, instead of letting redb read the file (which may panic on a corrupt one), copies it
/// to `dest` while the shared lock is held and fails the open on purpose.
///
/// redb takes its locks "before anything is read" (page_manager.rs, `TransactionalMemory::new`),
/// so a writer holding the file makes the open fail with `DatabaseAlreadyOpen` before `len` is
/// ever called, and no writer can start while the copy runs.
#[derive(Debug)]
struct CopyUnderLock {
    inner: redb::backends::FileBackend,
    src: PathBuf,
    dest: PathBuf,
    outcome: Arc<Mutex<Option<std::io::Result<u64>>>>,
}

const COPY_DONE: &str = "forge-manager: copy taken under the shared lock";

impl CopyUnderLock {
    fn copy_once(&self) -> std::io::Error {
        if let Ok(mut outcome) = self.outcome.lock()
            && outcome.is_none()
        {
            *outcome = Some(std::fs::copy(&self.src, &self.dest));
        }
        std::io::Error::other(COPY_DONE)
    }
}

impl StorageBackend for CopyUnderLock {
    fn len(&self) -> Result<u64, std::io::Error> {
        Err(self.copy_once())
    }
    fn read(&self, _offset: u64, _out: &mut [u8]) -> Result<(), std::io::Error> {
        Err(self.copy_once())
    }
    fn set_len(&self, _len: u64) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("read-only probe"))
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("read-only probe"))
    }
    fn write(&self, _offset: u64, _data: &[u8]) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("read-only probe"))
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// Copies `src` to `dest` under redb's shared (reader) lock; [`OpenError::InUse`] at once if a
/// writer holds the file. Never blocks.
fn copy_under_lock(src: &Path, dest: &Path) -> Result<(), OpenError> {
    let file = std::fs::File::open(src).map_err(|source| read_header(src, source))?;
    let inner = redb::backends::FileBackend::new(file).map_err(|e| map_db_error(src, e))?;
    let outcome = Arc::new(Mutex::new(None));
    let backend = CopyUnderLock {
        inner,
        src: src.into(),
        dest: dest.into(),
        outcome: outcome.clone(),
    };
    let result = redb::Builder::new().open_read_only_with_backend(backend);
    let copied = outcome.lock().ok().and_then(|mut o| o.take());
    match (result, copied) {
        (Err(DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch), _) => {
            Err(OpenError::InUse { path: src.into() })
        }
        (_, Some(Ok(_))) => Ok(()),
        (_, Some(Err(source))) => Err(OpenError::CopyForRead {
            path: src.into(),
            source,
        }),
        (Ok(_), None) => Err(OpenError::Corrupt {
            path: src.into(),
            detail: "redb opened the file without reading it".into(),
        }),
        (Err(e), None) => Err(map_db_error(src, e)),
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

/// Where the private copy goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CopyIn {
    /// `$TMPDIR` (readers: the journal's directory may be read-only to them).
    TempDir,
    /// Next to the journal (the writer: the journal's volume is writable, while a container's
    /// root file system, and so /tmp, often is not).
    BesideFile,
}

/// The name prefix of private copies of `path` (hidden, named after the journal).
pub(crate) fn verify_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    format!(".{name}.verify-")
}

/// Removes private copies of `path` left beside it by a process killed while it checked the file.
pub(crate) fn remove_stale_copies(path: &Path) {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    let prefix = verify_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            // Best effort: a leftover copy wastes space but harms nothing.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Copies `path` for reading under redb's shared lock (so no writer can start and change it
/// mid-copy), then opens the copy with the integrity check on (recovering it first if its writer
/// was killed). The original is only read. Returns the copy's database and format version.
pub(crate) fn open_verified_copy(
    path: &Path,
    copy_in: CopyIn,
) -> Result<(Database, PrivateCopy, u32), OpenError> {
    match probe(path)? {
        Probe::Absent if path.exists() => return Err(OpenError::NotRedb { path: path.into() }),
        Probe::Absent => return Err(OpenError::NotFound { path: path.into() }),
        Probe::Redb => {}
    }
    let n = COPY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = match copy_in {
        CopyIn::TempDir => std::env::temp_dir(),
        CopyIn::BesideFile => path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let copy = PrivateCopy {
        path: dir.join(format!(
            "{}{}-{}.redb",
            verify_prefix(path),
            std::process::id(),
            n
        )),
    };
    copy_under_lock(path, &copy.path)?;
    // The copy is ours alone: redb may recover it and the integrity check may commit to it.
    let db = redb::Builder::new()
        .set_check_integrity_on_open(true)
        .set_cache_size(256 << 20)
        .open(&copy.path)
        .map_err(|e| OpenError::Corrupt {
            path: path.into(),
            detail: e.to_string(),
        })?;
    let version = read_version(&db, path)?;
    Ok((db, copy, version))
}
