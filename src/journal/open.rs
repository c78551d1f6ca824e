//! Opening journal files: the checks that let a bad file fail with a clear message and leave it
//! untouched, and the verified read-only open the CLI uses.
//!
//! Why every open starts with a verified, write-free open: redb trusts a file that was shut down
//! cleanly and may panic on one corrupted outside redb (seen in tests: "Malformed allocator
//! state" from a plain read-only open), and the release profile aborts on panic; its integrity
//! check (every page checksum) needs a writable database, and a journal left by a killed pod needs
//! recovery, which writes. So the file is opened through [`Overlay`], a backend whose writes stay
//! in memory, with the integrity check on. The original is only read. A writer then opens the
//! original only after that open passed every check.

use std::io::Read;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use redb::{BackendError, Database, DatabaseError, ReadableDatabase, StorageBackend, TableError};

use super::error::OpenError;
use super::schema::{FORMAT_VERSION, META, META_FORMAT_VERSION};

/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What a look at an existing file found, without modifying it.
pub(crate) enum Probe {
    /// No file, or an empty one: a writer creates a new journal.
    Absent,
    /// A redb file: the caller goes on with a verified open.
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

/// Page size of the overlay (redb's page size; any power of two works).
const OVERLAY_PAGE: u64 = 4096;

/// A storage backend over the real file that never writes it: reads come from the file, writes
/// (recovery, the integrity check's commit, a migration) go to pages kept in memory.
///
/// Locks: redb's lock protocol runs against the real file, with every exclusive lock taken as a
/// shared one. A running writer (which holds its ranges exclusively) therefore makes the open fail
/// with `DatabaseAlreadyOpen` at once, before anything is read; several readers coexist; and no
/// writer can start while a reader is open, so the file cannot change under it.
#[derive(Debug)]
struct Overlay {
    file: redb::backends::FileBackend,
    state: Mutex<OverlayState>,
}

#[derive(Debug)]
struct OverlayState {
    /// The length redb sees.
    len: u64,
    /// Bytes of the real file still visible below the overlay (shrinks if redb truncates).
    base_len: u64,
    /// Pages written by redb, by page number.
    pages: std::collections::HashMap<u64, Box<[u8]>>,
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("journal overlay lock poisoned")
}

impl Overlay {
    fn new(path: &Path) -> std::io::Result<Overlay> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let file = redb::backends::FileBackend::new(file).map_err(std::io::Error::other)?;
        Ok(Overlay {
            file,
            state: Mutex::new(OverlayState {
                len,
                base_len: len,
                pages: Default::default(),
            }),
        })
    }

    /// Reads `out.len()` bytes of the real file at `offset`; zeros past `base_len`.
    fn read_base(&self, base_len: u64, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let avail = base_len.saturating_sub(offset).min(out.len() as u64) as usize;
        if avail > 0 {
            self.file.read(offset, &mut out[..avail])?;
        }
        out[avail..].fill(0);
        Ok(())
    }
}

impl StorageBackend for Overlay {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.state.lock().map_err(|_| poisoned())?.len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let st = self.state.lock().map_err(|_| poisoned())?;
        if offset.saturating_add(out.len() as u64) > st.len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // Runs of pages without an overlay copy are read from the file in one call.
        let mut pos = 0usize;
        let mut run_start: Option<usize> = None;
        while pos < out.len() {
            let abs = offset + pos as u64;
            let page = abs / OVERLAY_PAGE;
            let in_page = (abs % OVERLAY_PAGE) as usize;
            let n = (OVERLAY_PAGE as usize - in_page).min(out.len() - pos);
            if let Some(p) = st.pages.get(&page) {
                if let Some(start) = run_start.take() {
                    self.read_base(st.base_len, offset + start as u64, &mut out[start..pos])?;
                }
                out[pos..pos + n].copy_from_slice(&p[in_page..in_page + n]);
            } else if run_start.is_none() {
                run_start = Some(pos);
            }
            pos += n;
        }
        if let Some(start) = run_start {
            self.read_base(st.base_len, offset + start as u64, &mut out[start..])?;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        if len < st.len {
            st.base_len = st.base_len.min(len);
            st.pages.retain(|&p, _| p * OVERLAY_PAGE < len);
            let last = len / OVERLAY_PAGE;
            let cut = (len % OVERLAY_PAGE) as usize;
            if let Some(p) = st.pages.get_mut(&last) {
                p[cut..].fill(0);
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let mut pos = 0usize;
        while pos < data.len() {
            let abs = offset + pos as u64;
            let page = abs / OVERLAY_PAGE;
            let in_page = (abs % OVERLAY_PAGE) as usize;
            let n = (OVERLAY_PAGE as usize - in_page).min(data.len() - pos);
            if !st.pages.contains_key(&page) {
                let mut fresh = vec![0u8; OVERLAY_PAGE as usize].into_boxed_slice();
                self.read_base(st.base_len, page * OVERLAY_PAGE, &mut fresh)?;
                st.pages.insert(page, fresh);
            }
            if let Some(p) = st.pages.get_mut(&page) {
                p[in_page..in_page + n].copy_from_slice(&data[pos..pos + n]);
            }
            pos += n;
        }
        st.len = st.len.max(offset + data.len() as u64);
        Ok(())
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    /// Never waits: a lock that is not free at once is an error.
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.lock_shared_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if self.file.try_lock_shared_range(start, end)? {
            Ok(())
        } else {
            Err(BackendError::Io(std::io::ErrorKind::WouldBlock.into()))
        }
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
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

/// Opens `path` for reading through an [`Overlay`]: redb's locks taken shared on the real file
/// (a running writer gives [`OpenError::InUse`] at once), recovery and the integrity check (every
/// page checksum) done in memory. The file is only ever read. Returns the database and the
/// format version found.
pub(crate) fn open_verified(path: &Path, cache_bytes: usize) -> Result<(Database, u32), OpenError> {
    match probe(path)? {
        Probe::Absent if path.exists() => return Err(OpenError::NotRedb { path: path.into() }),
        Probe::Absent => return Err(OpenError::NotFound { path: path.into() }),
        Probe::Redb => {}
    }
    let overlay = Overlay::new(path).map_err(|source| read_header(path, source))?;
    let db = redb::Builder::new()
        .set_check_integrity_on_open(true)
        .set_cache_size(cache_bytes)
        .create_with_backend(overlay)
        .map_err(|e| map_db_error(path, e))?;
    let version = read_version(&db, path)?;
    Ok((db, version))
}
