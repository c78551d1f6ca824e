//! Every lease renewal's outcome, compactly: one small entry per renewal in a table of its own,
//! so `journal timeline` knows a pod's fencing deadline (its last successful renewal +
//! `renew_deadline`) even after its last record, e.g. when its sidecar was killed.
//!
//! A renewal is not a record: at one per retry period it would be 43,200 records a day. An entry
//! is 24 bytes of key and value: `(wall ms of the decision that saw the answer, that decision's
//! monotonic ms) → the request's send instant (monotonic ms) | FAILED_BIT`. The table is optional
//! in the format (files without it have no renewals, and builds that do not know it ignore it),
//! so it needed no format bump. Bounded: entries older than the journal's retention before the
//! newest one, and beyond [`MAX_RENEWALS`], are pruned, at most [`PRUNE_PER_APPEND`] per append.

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::error::{AppendError, QueryError};

/// `(wall ms, tick mono ms) → send mono ms | FAILED_BIT`.
pub(crate) const RENEWALS: TableDefinition<(i64, u64), u64> = TableDefinition::new("renewals");

/// Set in a value when the renewal failed.
const FAILED_BIT: u64 = 1 << 63;

/// Entries kept at most: 11 days of renewals every 2 s.
pub const MAX_RENEWALS: u64 = 500_000;

/// Entries pruned per append at most.
const PRUNE_PER_APPEND: usize = 64;

/// One renewal's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renewal {
    /// Wall time of the decision that saw the answer (ms since the epoch).
    pub wall_ms: i64,
    /// That decision's instant on the pod's monotonic clock (ms).
    pub mono_ms: u64,
    /// When the request was sent, same clock (ms): a successful renewal's deadline counts from it.
    pub sent_mono_ms: u64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Appends `renewals` in one transaction and prunes the oldest beyond the bounds.
pub(crate) fn append(
    db: &Database,
    renewals: &[Renewal],
    retention_ms: Option<i64>,
    durable: bool,
) -> Result<(), AppendError> {
    if renewals.is_empty() {
        return Ok(());
    }
    let mut txn = db.begin_write().map_err(AppendError::BeginWrite)?;
    if !durable {
        txn.set_durability(Durability::None)
            .map_err(AppendError::Durability)?;
    }
    {
        let mut table = txn
            .open_table(RENEWALS)
            .map_err(|source| AppendError::OpenTable {
                table: "renewals",
                source,
            })?;
        for r in renewals {
            let value = r.sent_mono_ms & !FAILED_BIT | if r.ok { 0 } else { FAILED_BIT };
            table
                .insert((r.wall_ms, r.mono_ms), value)
                .map_err(AppendError::Write)?;
        }
        let newest = renewals.iter().map(|r| r.wall_ms).max().unwrap_or(i64::MIN);
        let count = table.len().map_err(AppendError::Write)?;
        let mut over = count.saturating_sub(MAX_RENEWALS);
        let mut old: Vec<(i64, u64)> = Vec::new();
        for entry in table.iter().map_err(AppendError::Write)? {
            if old.len() >= PRUNE_PER_APPEND {
                break;
            }
            let (k, _) = entry.map_err(AppendError::Write)?;
            let key = k.value();
            let expired = retention_ms.is_some_and(|r| key.0 < newest.saturating_sub(r));
            if over > 0 || expired {
                old.push(key);
                over = over.saturating_sub(1);
            } else {
                break;
            }
        }
        for k in old {
            table.remove(k).map_err(AppendError::Write)?;
        }
    }
    txn.commit().map_err(AppendError::Commit)
}

/// Every renewal kept, oldest (by wall time) first. A file without the table has none.
pub(crate) fn read_all(db: &Database) -> Result<Vec<Renewal>, QueryError> {
    let txn = super::read::begin(db)?;
    let table = match txn.open_table(RENEWALS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(source) => {
            return Err(QueryError::OpenTable {
                table: "renewals",
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(QueryError::Read)? {
        let (k, v) = entry.map_err(QueryError::Read)?;
        let ((wall_ms, mono_ms), value) = (k.value(), v.value());
        out.push(Renewal {
            wall_ms,
            mono_ms,
            sent_mono_ms: value & !FAILED_BIT,
            ok: value & FAILED_BIT == 0,
        });
    }
    Ok(out)
}

/// Copies the renewals of `src` (if it has the table) into `txn` (a snapshot's).
pub(crate) fn copy(
    src: &redb::ReadTransaction,
    txn: &redb::WriteTransaction,
) -> Result<(), String> {
    let from = match src.open_table(RENEWALS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let mut to = txn.open_table(RENEWALS).map_err(|e| e.to_string())?;
    for entry in from.iter().map_err(|e| e.to_string())? {
        let (k, v) = entry.map_err(|e| e.to_string())?;
        to.insert(k.value(), v.value()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, JournalConfig, JournalReader, ReadJournal, SyncMode};

    fn renewal(i: i64, ok: bool) -> Renewal {
        Renewal {
            wall_ms: 1_795_600_800_000 + i * 2_000,
            mono_ms: u64::try_from(i * 2_000).unwrap_or(0),
            sent_mono_ms: u64::try_from(i * 2_000 - 30).unwrap_or(0),
            ok,
        }
    }

    #[test]
    fn renewals_round_trip_with_their_outcome_and_follow_snapshots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::open(dir.path().join("j"), JournalConfig::default()).expect("open");
        assert_eq!(j.renewals().expect("none yet"), Vec::new());
        let written = vec![renewal(1, true), renewal(2, false), renewal(3, true)];
        j.append_renewals(&written).expect("append");
        assert_eq!(j.renewals().expect("read"), written);
        j.snapshot_to(dir.path().join("copy")).expect("snapshot");
        drop(j);
        let copy = JournalReader::open(dir.path().join("copy")).expect("copy");
        assert_eq!(copy.renewals().expect("read copy"), written);
    }

    #[test]
    fn renewals_older_than_the_retention_are_pruned_a_bounded_number_per_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = JournalConfig {
            retention: Some(std::time::Duration::from_secs(10)),
            sync: SyncMode::Buffered,
            ..JournalConfig::default()
        };
        let mut j = Journal::open(dir.path().join("j"), config).expect("open");
        let old: Vec<Renewal> = (1..=100).map(|i| renewal(i, true)).collect();
        // Entries 1..=94 are more than 10 s older than entry 100: 64 of them go at once.
        j.append_renewals(&old).expect("append");
        assert_eq!(j.renewals().expect("read").len(), 100 - PRUNE_PER_APPEND);
        // Entry 200 makes every older one expire; the 36 left go with it.
        j.append_renewals(&[renewal(200, true)]).expect("append");
        assert_eq!(j.renewals().expect("read"), vec![renewal(200, true)]);
        j.append_renewals(&[renewal(201, true)]).expect("append");
        let kept = j.renewals().expect("read");
        assert_eq!(kept, vec![renewal(200, true), renewal(201, true)]);
    }
}
