//! The writer: one open journal file, appends in bounded durable transactions, with retention.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};

use super::codec;
use super::error::{AppendError, OpenError, QueryError};
use super::open::{Probe, map_db_error, open_verified, probe, read_version};
use super::read;
use super::record::{JournalRecord, RecordKind, find_key_material, wall_ms};
use super::renewals::Renewal;
use super::schema::{
    self, BODIES, BY_FIELD, BY_WALL, FORMAT_VERSION, HEADS, META, META_LAST_SEQ, META_RECORD_BYTES,
    META_RECORD_COUNT,
};
use super::view::JournalView;
use crate::core::reason::Reason;
use crate::core::time::duration_ms;

/// At most this many records in one `append_many` call (a limit on everything).
pub const MAX_BATCH: usize = 4_096;

/// How durable a commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Every append is fsynced before `append` returns (the default, and what production uses).
    Durable,
    /// Appends are committed but not fsynced; a crash may lose the latest ones (never corrupts).
    /// For the simulator and for tests.
    Buffered,
}

/// Retention and durability settings.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalConfig {
    /// Records whose wall time is older than the newest record's by more than this are pruned
    /// (`JOURNAL_RETENTION`). `None` keeps records regardless of age.
    pub retention: Option<Duration>,
    /// Keep at most this many records (`None`: no count bound). Must be at least 1.
    pub max_records: Option<u64>,
    /// Keep at most this many bytes of encoded records (`None`: no size bound). This bounds the
    /// data, not the file: redb reuses freed pages, so the file stops growing near this size.
    pub max_bytes: Option<u64>,
    /// At most this many old records are deleted per append transaction, so one append never
    /// does a large cleanup. Must exceed 1 so pruning outpaces appending.
    pub prune_per_append: usize,
    /// fsync each commit or not.
    pub sync: SyncMode,
    /// redb's page cache for this journal. Appends and pruning touch only the two ends of the
    /// B-trees, so a few MiB suffice; larger helps only big queries on the writer.
    pub cache_bytes: usize,
}

impl Default for JournalConfig {
    /// 7 days (168h, the sidecar's `JOURNAL_RETENTION` default), 1,000,000 records, 256 MiB, 64
    /// deletions per append, durable, 8 MiB cache.
    fn default() -> Self {
        JournalConfig {
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            max_records: Some(1_000_000),
            max_bytes: Some(256 << 20),
            prune_per_append: 64,
            sync: SyncMode::Durable,
            cache_bytes: 8 << 20,
        }
    }
}

impl JournalConfig {
    fn validate(&self) -> Result<(), OpenError> {
        if self.max_records == Some(0) {
            return Err(OpenError::Config("max_records must be at least 1".into()));
        }
        if self.prune_per_append < 2 {
            return Err(OpenError::Config(
                "prune_per_append must be at least 2 so pruning outpaces appends".into(),
            ));
        }
        Ok(())
    }
}

/// Counters mirrored from `meta`, updated only after a commit succeeded.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    last_seq: u64,
    count: u64,
    bytes: u64,
    newest_wall_ms: Option<i64>,
}

/// An open journal, owned by one writer (the sidecar, or one simulated pod).
///
/// Holds redb's exclusive file lock while open: other processes get [`OpenError::InUse`] and
/// should use [`Journal::snapshot_to`] through the sidecar instead.
pub struct Journal {
    db: Arc<Database>,
    path: PathBuf,
    config: JournalConfig,
    counters: Counters,
    last_append_mono_ms: Option<u64>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("last_seq", &self.counters.last_seq)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens the journal at `path` for writing, creating it if absent (or empty), recovering it if
    /// its last writer was killed, and migrating an older format. A file that is not a journal, is
    /// newer, corrupt or locked is refused with the file left unmodified: every check runs first
    /// through a backend that keeps writes in memory (cost at startup: one checksum pass over the
    /// file, bounded by retention).
    pub fn open(path: impl AsRef<Path>, config: JournalConfig) -> Result<Journal, OpenError> {
        let path = path.as_ref();
        config.validate()?;
        let db = match probe(path)? {
            Probe::Absent => redb::Builder::new()
                .set_cache_size(config.cache_bytes)
                .create(path)
                .map_err(|e| match e {
                    redb::DatabaseError::Storage(io) => OpenError::Create {
                        path: path.into(),
                        detail: io.to_string(),
                    },
                    other => map_db_error(path, other),
                })?,
            Probe::Redb => {
                // Every check (lock, checksums, journal, version) first, through a backend that
                // never writes the file: a refused file is never modified.
                drop(open_verified(path, config.cache_bytes)?);
                redb::Builder::new()
                    .set_cache_size(config.cache_bytes)
                    .open(path)
                    .map_err(|e| map_db_error(path, e))?
            }
        };
        Journal::from_database(db, path, config)
    }

    /// Opens or creates a journal on any redb storage backend (tests use
    /// `redb::backends::InMemoryBackend` or a crash-simulating backend).
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        config: JournalConfig,
    ) -> Result<Journal, OpenError> {
        config.validate()?;
        let path = Path::new("<backend>");
        let db = redb::Builder::new()
            .set_cache_size(config.cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| map_db_error(path, e))?;
        Journal::from_database(db, path, config)
    }

    fn from_database(
        db: Database,
        path: &Path,
        config: JournalConfig,
    ) -> Result<Journal, OpenError> {
        let initialise = |detail: String| OpenError::Initialise {
            path: path.into(),
            detail,
        };
        let fresh = {
            let txn = db.begin_read().map_err(|e| initialise(e.to_string()))?;
            let tables = txn.list_tables().map_err(|e| initialise(e.to_string()))?;
            tables.count() == 0
        };
        if fresh {
            let txn = db.begin_write().map_err(|e| initialise(e.to_string()))?;
            schema::initialise(&txn).map_err(|e| initialise(e.0))?;
            txn.commit().map_err(|e| initialise(e.to_string()))?;
        }
        let version = read_version(&db, path)?;
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
        let counters = load_counters(&db).map_err(|e| OpenError::Corrupt {
            path: path.into(),
            detail: e.to_string(),
        })?;
        Ok(Journal {
            db: Arc::new(db),
            path: path.into(),
            config,
            counters,
            last_append_mono_ms: None,
        })
    }

    /// Appends one record in one write transaction (fsynced when [`SyncMode::Durable`]), assigns
    /// and returns its seq, and prunes at most `prune_per_append` old records in the same
    /// transaction. The record's own `seq` is ignored.
    ///
    /// Cost: one small B-tree insert plus one commit; see docs/performance.md. Call it after
    /// acting, never before a demotion.
    pub fn append(&mut self, record: JournalRecord) -> Result<u64, AppendError> {
        self.append_many(std::iter::once(record))
    }

    /// Appends up to [`MAX_BATCH`] records in one transaction (one fsync for all). Returns the
    /// last assigned seq (the current last seq if `records` is empty). All or nothing.
    pub fn append_many(
        &mut self,
        records: impl IntoIterator<Item = JournalRecord>,
    ) -> Result<u64, AppendError> {
        let mut encoded: Vec<Encoded> = Vec::new();
        let mut next = self.counters;
        let mut last_mono = self.last_append_mono_ms;
        for mut record in records {
            if encoded.len() >= MAX_BATCH {
                return Err(AppendError::BatchTooLarge { max: MAX_BATCH });
            }
            if let Some(path) = find_key_material(&record) {
                return Err(AppendError::KeyMaterial { path });
            }
            let wall = wall_ms(&record.wall).ok_or_else(|| AppendError::BadWallTime {
                wall: record.wall.clone(),
            })?;
            next.last_seq += 1;
            record.seq = next.last_seq;
            last_mono = Some(record.mono_ms);
            let (head, body) = codec::encode(&record).map_err(AppendError::Encode)?;
            next.count += 1;
            next.bytes += (head.len() + body.len()) as u64;
            next.newest_wall_ms = Some(next.newest_wall_ms.map_or(wall, |w| w.max(wall)));
            encoded.push(Encoded {
                seq: record.seq,
                wall_ms: wall,
                head,
                body,
                kind: record.kind,
                reason: record.reason,
                pod: record.pod,
                region: record.region,
            });
        }
        if encoded.is_empty() {
            return Ok(self.counters.last_seq);
        }
        let mut txn = self.db.begin_write().map_err(AppendError::BeginWrite)?;
        if self.config.sync == SyncMode::Buffered {
            txn.set_durability(Durability::None)
                .map_err(AppendError::Durability)?;
        }
        write_batch(&txn, &encoded, &mut next, &self.config)?;
        txn.commit().map_err(AppendError::Commit)?;
        self.counters = next;
        self.last_append_mono_ms = last_mono;
        Ok(next.last_seq)
    }

    /// Whether a heartbeat is due: nothing was appended by this writer for `every` on the pod's
    /// monotonic clock (`now_mono_ms`). The runtime appends a `Heartbeat` record when it is.
    pub fn heartbeat_due(&self, now_mono_ms: u64, every: Duration) -> bool {
        match self.last_append_mono_ms {
            None => true,
            Some(last) => now_mono_ms.saturating_sub(last) >= duration_ms(every),
        }
    }

    /// Makes every earlier [`SyncMode::Buffered`] commit durable (one empty durable commit).
    pub fn flush(&mut self) -> Result<(), AppendError> {
        let txn = self.db.begin_write().map_err(AppendError::BeginWrite)?;
        txn.commit().map_err(AppendError::Commit)
    }

    /// The last seq assigned (0 for a journal that never had a record).
    pub fn last_seq(&self) -> u64 {
        self.counters.last_seq
    }

    /// The file this journal lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends lease renewals' outcomes: one transaction, pruned by the journal's retention and
    /// [`super::renewals::MAX_RENEWALS`].
    pub fn append_renewals(&mut self, renewals: &[Renewal]) -> Result<(), AppendError> {
        let retention_ms = self
            .config
            .retention
            .map(|r| i64::try_from(r.as_millis()).unwrap_or(i64::MAX));
        super::renewals::append(
            &self.db,
            renewals,
            retention_ms,
            self.config.sync == SyncMode::Durable,
        )
    }

    /// A read-only view that can query and snapshot this journal from other threads while it is
    /// being written (redb readers never block the writer, nor it them).
    pub fn view(&self) -> JournalView {
        JournalView::new(self.db.clone())
    }

    /// Prunes up to `max` records now (retention as configured). Returns how many were deleted.
    pub fn prune(&mut self, max: usize) -> Result<usize, AppendError> {
        let mut txn = self.db.begin_write().map_err(AppendError::BeginWrite)?;
        if self.config.sync == SyncMode::Buffered {
            txn.set_durability(Durability::None)
                .map_err(AppendError::Durability)?;
        }
        let mut next = self.counters;
        let deleted = {
            let mut tables = WriteTables::open(&txn)?;
            let deleted = prune_some(&mut tables, &mut next, &self.config, max)?;
            let mut meta = open_w(&txn, META, "meta")?;
            store_counters(&mut meta, &next)?;
            deleted
        };
        txn.commit().map_err(AppendError::Commit)?;
        self.counters = next;
        Ok(deleted)
    }

    #[cfg(test)]
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }
}

fn open_w<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'t WriteTransaction,
    def: redb::TableDefinition<K, V>,
    table: &'static str,
) -> Result<redb::Table<'t, K, V>, AppendError> {
    txn.open_table(def)
        .map_err(|source| AppendError::OpenTable { table, source })
}

/// One encoded record waiting for its transaction.
struct Encoded {
    seq: u64,
    wall_ms: i64,
    head: Vec<u8>,
    body: Vec<u8>,
    /// The indexed fields (`records_by_field`).
    kind: RecordKind,
    reason: Reason,
    pod: String,
    region: String,
}

/// The record tables of one write transaction.
struct WriteTables<'t> {
    heads: redb::Table<'t, u64, &'static [u8]>,
    bodies: redb::Table<'t, u64, &'static [u8]>,
    by_wall: redb::Table<'t, (i64, u64), ()>,
    by_field: redb::Table<'t, (u8, &'static str, u64), ()>,
}

impl<'t> WriteTables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<WriteTables<'t>, AppendError> {
        Ok(WriteTables {
            heads: open_w(txn, HEADS, "record_heads")?,
            bodies: open_w(txn, BODIES, "record_bodies")?,
            by_wall: open_w(txn, BY_WALL, "records_by_wall")?,
            by_field: open_w(txn, BY_FIELD, "records_by_field")?,
        })
    }
}

fn write_batch(
    txn: &WriteTransaction,
    encoded: &[Encoded],
    next: &mut Counters,
    config: &JournalConfig,
) -> Result<(), AppendError> {
    let mut tables = WriteTables::open(txn)?;
    for e in encoded {
        tables
            .heads
            .insert(e.seq, e.head.as_slice())
            .map_err(AppendError::Write)?;
        tables
            .bodies
            .insert(e.seq, e.body.as_slice())
            .map_err(AppendError::Write)?;
        tables
            .by_wall
            .insert((e.wall_ms, e.seq), ())
            .map_err(AppendError::Write)?;
        for (field, value) in schema::field_keys(&e.pod, &e.region, e.kind, e.reason) {
            tables
                .by_field
                .insert((field, value, e.seq), ())
                .map_err(AppendError::Write)?;
        }
    }
    prune_some(&mut tables, next, config, config.prune_per_append)?;
    drop(tables);
    let mut meta = open_w(txn, META, "meta")?;
    store_counters(&mut meta, next)?;
    Ok(())
}

fn store_counters(
    meta: &mut redb::Table<'_, &'static str, u64>,
    c: &Counters,
) -> Result<(), AppendError> {
    meta.insert(META_LAST_SEQ, c.last_seq)
        .map_err(AppendError::Write)?;
    meta.insert(META_RECORD_COUNT, c.count)
        .map_err(AppendError::Write)?;
    meta.insert(META_RECORD_BYTES, c.bytes)
        .map_err(AppendError::Write)?;
    Ok(())
}

/// Deletes up to `budget` of the oldest records (by seq) while any retention bound is exceeded.
/// Never deletes the newest record.
fn prune_some(
    t: &mut WriteTables<'_>,
    c: &mut Counters,
    config: &JournalConfig,
    budget: usize,
) -> Result<usize, AppendError> {
    let cutoff = match (config.retention, c.newest_wall_ms) {
        (Some(keep), Some(newest)) => {
            Some(newest.saturating_sub(i64::try_from(duration_ms(keep)).unwrap_or(i64::MAX)))
        }
        _ => None,
    };
    let mut deleted = 0;
    while deleted < budget && c.count > 1 {
        let over_count = config.max_records.is_some_and(|m| c.count > m);
        let over_bytes = config.max_bytes.is_some_and(|m| c.bytes > m);
        let (seq, len, wall, fields) = {
            let Some((k, v)) = t.heads.first().map_err(AppendError::Write)? else {
                break;
            };
            let seq = k.value();
            let bytes = v.value();
            let json = codec::head_json(bytes).ok();
            let head = json.as_deref().and_then(|j| codec::head(j).ok());
            // A record that does not decode has no usable wall time: it is pruned as the oldest.
            // Its index entries cannot be named and stay behind; readers skip entries whose
            // record is gone.
            let wall = head.as_ref().and_then(|h| wall_ms(&h.wall));
            let fields = head.map(|h| {
                schema::field_keys(&h.pod, &h.region, h.kind, h.reason)
                    .map(|(f, v)| (f, v.to_string()))
            });
            (seq, bytes.len() as u64, wall, fields)
        };
        let too_old = match (cutoff, wall) {
            (Some(cut), Some(w)) => w < cut,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if !(over_count || over_bytes || too_old) {
            break;
        }
        t.heads.remove(seq).map_err(AppendError::Write)?;
        let body_len = t
            .bodies
            .remove(seq)
            .map_err(AppendError::Write)?
            .map(|b| b.value().len() as u64)
            .unwrap_or(0);
        if let Some(w) = wall {
            t.by_wall.remove((w, seq)).map_err(AppendError::Write)?;
        }
        for (field, value) in fields.iter().flatten() {
            t.by_field
                .remove((*field, value.as_str(), seq))
                .map_err(AppendError::Write)?;
        }
        c.count -= 1;
        c.bytes = c.bytes.saturating_sub(len + body_len);
        deleted += 1;
    }
    Ok(deleted)
}

fn load_counters(db: &Database) -> Result<Counters, QueryError> {
    let stats_txn = read::begin(db)?;
    let meta = stats_txn
        .open_table(META)
        .map_err(|source| QueryError::OpenTable {
            table: "meta",
            source,
        })?;
    let get = |k: &str| -> Result<u64, QueryError> {
        Ok(meta
            .get(k)
            .map_err(QueryError::Read)?
            .map(|g| g.value())
            .unwrap_or(0))
    };
    let by_wall = stats_txn
        .open_table(BY_WALL)
        .map_err(|source| QueryError::OpenTable {
            table: "records_by_wall",
            source,
        })?;
    let newest_wall_ms = by_wall
        .last()
        .map_err(QueryError::Read)?
        .map(|(k, _)| k.value().0);
    Ok(Counters {
        last_seq: get(META_LAST_SEQ)?,
        count: get(META_RECORD_COUNT)?,
        bytes: get(META_RECORD_BYTES)?,
        newest_wall_ms,
    })
}

impl super::ReadJournal for Journal {
    fn database(&self) -> &Database {
        &self.db
    }
}
