//! A read-only view of a journal that is being written: what the sidecar's `/journal` endpoint
//! and `/status` use while the control loop (or [`super::JournalWriter`]'s thread) appends.

use std::path::Path;
use std::sync::Arc;

use redb::Database;

use super::error::{QueryError, SnapshotError};
use super::read::{self, Query, Stats};
use super::record::JournalRecord;

/// A cheap, cloneable, thread-safe read handle on an open [`super::Journal`]. Every call runs in
/// its own redb read transaction: a consistent snapshot of the committed records.
#[derive(Clone)]
pub struct JournalView {
    db: Arc<Database>,
}

impl std::fmt::Debug for JournalView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalView").finish_non_exhaustive()
    }
}

impl JournalView {
    pub(crate) fn new(db: Arc<Database>) -> Self {
        JournalView { db }
    }

    /// The matching records, in seq order.
    pub fn query(&self, q: &Query) -> Result<Vec<JournalRecord>, QueryError> {
        read::query(&self.db, q)
    }

    /// Writes the matching records as JSON lines from the stored bytes. Returns how many.
    pub fn write_jsonl(&self, q: &Query, out: &mut impl std::io::Write) -> Result<u64, QueryError> {
        read::write_jsonl(&self.db, q, out)
    }

    /// The last `n` records, oldest first.
    pub fn tail(&self, n: usize) -> Result<Vec<JournalRecord>, QueryError> {
        read::tail(&self.db, n)
    }

    /// Every lease renewal kept, oldest first (none in files written before they were kept).
    pub fn renewals(&self) -> Result<Vec<super::renewals::Renewal>, QueryError> {
        super::renewals::read_all(&self.db)
    }

    /// Counts, bounds and per-kind counts.
    pub fn stats(&self) -> Result<Stats, QueryError> {
        read::stats(&self.db)
    }

    /// A consistent copy into a new journal file (see [`super::Journal::snapshot_to`]).
    pub fn snapshot_to(&self, dest: impl AsRef<Path>) -> Result<u64, SnapshotError> {
        super::snapshot::snapshot(&self.db, dest.as_ref())
    }
}
