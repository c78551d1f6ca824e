//! [`ReadJournal`]: the reads every open journal offers, written once. The writer's own handle
//! ([`super::Journal`]), the read-only [`super::JournalReader`] and the thread-safe
//! [`super::JournalView`] differ in how they hold the database, not in how they read it.

use std::path::Path;

use redb::Database;

use super::error::{QueryError, SnapshotError};
use super::read::{self, Explanation, Query, Stats};
use super::record::JournalRecord;
use super::renewals::Renewal;

/// Reads of an open journal; each call runs in its own redb read transaction, a consistent
/// snapshot of the committed records.
pub trait ReadJournal {
    /// The database the reads run on.
    fn database(&self) -> &Database;

    /// The matching records, in seq order.
    fn query(&self, q: &Query) -> Result<Vec<JournalRecord>, QueryError> {
        read::query(self.database(), q)
    }

    /// Calls `f` for each matching record in seq order until it returns `false` (no buffering).
    fn query_each(
        &self,
        q: &Query,
        f: impl FnMut(JournalRecord) -> bool,
    ) -> Result<(), QueryError> {
        read::query_each(self.database(), q, f)
    }

    /// Writes the matching records as JSON lines from the stored bytes (fast: `inputs` is not
    /// decoded; what the `/journal` endpoint streams). Returns how many were written.
    fn write_jsonl(&self, q: &Query, out: &mut impl std::io::Write) -> Result<u64, QueryError> {
        read::write_jsonl(self.database(), q, out)
    }

    /// Counts the matching records (decoding each, as a real query does).
    fn count(&self, q: &Query) -> Result<u64, QueryError> {
        read::count(self.database(), q)
    }

    /// The last `n` records, oldest first.
    fn tail(&self, n: usize) -> Result<Vec<JournalRecord>, QueryError> {
        read::tail(self.database(), n)
    }

    /// Records after seq `after`, oldest first, at most `max`.
    fn after(&self, after: u64, max: usize) -> Result<Vec<JournalRecord>, QueryError> {
        read::after(self.database(), after, max)
    }

    /// The newest wall time (ms since the epoch).
    fn newest_wall_ms(&self) -> Result<Option<i64>, QueryError> {
        read::newest_wall_ms(self.database())
    }

    /// How the pod came to its role at `at_ms`: walks back across `role_changes` role changes
    /// (1: to the last role change).
    fn explain(&self, at_ms: i64, role_changes: usize) -> Result<Option<Explanation>, QueryError> {
        read::explain(self.database(), at_ms, role_changes)
    }

    /// Every lease renewal kept, oldest first (none in files written before they were kept).
    fn renewals(&self) -> Result<Vec<Renewal>, QueryError> {
        super::renewals::read_all(self.database())
    }

    /// Counts, bounds and per-kind counts.
    fn stats(&self) -> Result<Stats, QueryError> {
        read::stats(self.database())
    }

    /// Writes a consistent copy of the journal as it is now (one read transaction) into a new
    /// file at `dest`, which must not exist: written to a temporary name beside it, fsynced, then
    /// renamed. Seqs and counters are preserved. Returns the number of records copied. A writer
    /// may keep appending meanwhile (redb readers do not block the writer).
    fn snapshot_to(&self, dest: impl AsRef<Path>) -> Result<u64, SnapshotError> {
        super::snapshot::snapshot(self.database(), dest.as_ref())
    }
}
