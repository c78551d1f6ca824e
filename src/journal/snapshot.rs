//! Snapshots: a consistent copy of a journal, taken in one read transaction while the writer may
//! keep appending, written beside its destination and renamed into place. Both the writer
//! (`Journal::snapshot_to`) and a read-only view (`JournalView::snapshot_to`) take them.

use std::path::Path;

use redb::{Database, Durability, ReadableTable};

use super::error::{QueryError, SnapshotError};
use super::read;
use super::schema::{BODIES, BY_FIELD, BY_WALL, HEADS, META};

/// A failure while copying one table of a snapshot.
enum CopyFailure {
    Read(QueryError),
    Write(String),
}

impl CopyFailure {
    fn at(self, dest: &Path) -> SnapshotError {
        match self {
            CopyFailure::Read(e) => SnapshotError::Read(e),
            CopyFailure::Write(detail) => SnapshotError::Write {
                path: dest.into(),
                detail,
            },
        }
    }
}

/// Copies a seq → bytes table into `out` in chunks of 50,000 rows per non-durable transaction
/// (the snapshot's last transaction is durable). Returns the rows copied.
fn copy_bytes_table(
    src: &redb::ReadOnlyTable<u64, &'static [u8]>,
    out: &Database,
    def: redb::TableDefinition<u64, &'static [u8]>,
) -> Result<u64, CopyFailure> {
    const CHUNK: u64 = 50_000;
    let w = |e: &dyn std::fmt::Display| CopyFailure::Write(e.to_string());
    let mut rows = src
        .iter()
        .map_err(|e| CopyFailure::Read(QueryError::Read(e)))?;
    let mut copied = 0u64;
    loop {
        let mut txn = out.begin_write().map_err(|e| w(&e))?;
        txn.set_durability(Durability::None).map_err(|e| w(&e))?;
        let mut n = 0;
        {
            let mut dst = txn.open_table(def).map_err(|e| w(&e))?;
            for entry in rows.by_ref() {
                let (k, v) = entry.map_err(|e| CopyFailure::Read(QueryError::Read(e)))?;
                dst.insert(k.value(), v.value()).map_err(|e| w(&e))?;
                n += 1;
                if n == CHUNK {
                    break;
                }
            }
        }
        txn.commit().map_err(|e| w(&e))?;
        copied += n;
        if n < CHUNK {
            return Ok(copied);
        }
    }
}

/// Copies everything visible in one read transaction of `db` into a new journal at `dest`.
pub(crate) fn snapshot(db: &Database, dest: &Path) -> Result<u64, SnapshotError> {
    if dest.exists() {
        return Err(SnapshotError::Exists { path: dest.into() });
    }
    let write_err = |detail: String| SnapshotError::Write {
        path: dest.into(),
        detail,
    };
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    let tmp = dest.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> Result<u64, SnapshotError> {
        let src = read::begin(db)?;
        let open_err = |table: &'static str| move |source| QueryError::OpenTable { table, source };
        let heads = src.open_table(HEADS).map_err(open_err("record_heads"))?;
        let bodies = src.open_table(BODIES).map_err(open_err("record_bodies"))?;
        let by_wall = src
            .open_table(BY_WALL)
            .map_err(open_err("records_by_wall"))?;
        let by_field = src
            .open_table(BY_FIELD)
            .map_err(open_err("records_by_field"))?;
        let meta = src.open_table(META).map_err(open_err("meta"))?;
        let out = redb::Builder::new()
            .create(&tmp)
            .map_err(|e| write_err(e.to_string()))?;
        let copied = copy_bytes_table(&heads, &out, HEADS).map_err(|e| e.at(dest))?;
        copy_bytes_table(&bodies, &out, BODIES).map_err(|e| e.at(dest))?;
        let txn = out.begin_write().map_err(|e| write_err(e.to_string()))?;
        {
            let mut dst = txn
                .open_table(BY_WALL)
                .map_err(|e| write_err(e.to_string()))?;
            for entry in by_wall.iter().map_err(QueryError::Read)? {
                let (k, _) = entry.map_err(QueryError::Read)?;
                dst.insert(k.value(), ())
                    .map_err(|e| write_err(e.to_string()))?;
            }
            let mut dst = txn
                .open_table(BY_FIELD)
                .map_err(|e| write_err(e.to_string()))?;
            for entry in by_field.iter().map_err(QueryError::Read)? {
                let (k, _) = entry.map_err(QueryError::Read)?;
                dst.insert(k.value(), ())
                    .map_err(|e| write_err(e.to_string()))?;
            }
            let mut dst_meta = txn.open_table(META).map_err(|e| write_err(e.to_string()))?;
            for entry in meta.iter().map_err(QueryError::Read)? {
                let (k, v) = entry.map_err(QueryError::Read)?;
                dst_meta
                    .insert(k.value(), v.value())
                    .map_err(|e| write_err(e.to_string()))?;
            }
        }
        super::renewals::copy(&src, &txn).map_err(write_err)?;
        txn.commit().map_err(|e| write_err(e.to_string()))?;
        out.close().map_err(|e| write_err(e.to_string()))?;
        Ok(copied)
    })();
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, dest).map_err(|e| write_err(e.to_string()))?;
            if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
                && let Ok(d) = std::fs::File::open(dir)
            {
                // Persist the rename; failure here leaves a complete file that may not survive a
                // power cut, which a snapshot for people tolerates.
                let _ = d.sync_all();
            }
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
