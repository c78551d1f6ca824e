//! Errors, one enum per operation family; each variant names the step that failed.

use std::path::PathBuf;

/// The message every "file is locked" error carries, so people know what to do instead.
pub const IN_USE_HINT: &str = "journal is in use by a running forge-manager (pid unknown); in its pod, `forge-manager journal` reads a snapshot through the sidecar's /journal endpoint (http://127.0.0.1:METRICS_PORT/journal), or read a copy of the file";

/// Opening (or creating) a journal failed. The file is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file does not exist (read-only opens only; a writer creates it).
    #[error("{path}: no such journal file")]
    NotFound { path: PathBuf },
    /// Reading the file's first bytes or metadata failed.
    #[error("{path}: cannot read the file: {source}")]
    ReadHeader {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a redb database at all.
    #[error("{path}: not a journal (not a redb database file)")]
    NotRedb { path: PathBuf },
    /// The file is a redb database, but not a forge-manager journal.
    #[error("{path}: not a journal (a redb database without the journal's meta table)")]
    NotAJournal { path: PathBuf },
    /// Another process (the running sidecar) holds the file lock.
    #[error("{path}: {IN_USE_HINT}")]
    InUse { path: PathBuf },
    /// The file was written by a newer forge-manager: we do not guess at its format.
    #[error(
        "{path}: journal format version {found} is newer than this forge-manager supports ({supported}); use a newer forge-manager"
    )]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// redb refused the file: corrupt, truncated, or an unsupported redb file format.
    #[error("{path}: the journal is corrupt or truncated ({detail})")]
    Corrupt { path: PathBuf, detail: String },
    /// Creating a new journal file failed (missing directory, permissions, full disk).
    #[error("{path}: cannot create the journal file: {detail}")]
    Create { path: PathBuf, detail: String },
    /// Creating the tables of a new journal failed.
    #[error("{path}: cannot initialise a new journal: {detail}")]
    Initialise { path: PathBuf, detail: String },
    /// Upgrading an older format failed (the writer's transaction was rolled back).
    #[error("{path}: migrating the journal from format version {from} failed: {detail}")]
    Migrate {
        path: PathBuf,
        from: u32,
        detail: String,
    },
    /// The configuration makes no sense (for example `max_records == 0`).
    #[error("invalid journal configuration: {0}")]
    Config(String),
}

/// Appending records failed; nothing of the failed call was committed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// A record carries something that looks like key material: refused, never written.
    #[error("record refused: field {path} looks like key material (journal only fingerprints)")]
    KeyMaterial { path: String },
    /// More records in one `append_many` call than the limit.
    #[error("append_many takes at most {max} records per call")]
    BatchTooLarge { max: usize },
    /// The record's `wall` is not an RFC 3339 timestamp.
    #[error("record refused: wall time {wall:?} is not RFC 3339")]
    BadWallTime { wall: String },
    /// Encoding the record failed.
    #[error("encoding record failed: {0}")]
    Encode(#[source] serde_json::Error),
    /// Starting the write transaction failed.
    #[error("beginning the write transaction failed: {0}")]
    BeginWrite(#[source] redb::TransactionError),
    /// Opening a table inside the transaction failed.
    #[error("opening table {table} failed: {source}")]
    OpenTable {
        table: &'static str,
        #[source]
        source: redb::TableError,
    },
    /// Inserting or pruning failed.
    #[error("writing the records failed: {0}")]
    Write(#[source] redb::StorageError),
    /// The commit (and its fsync) failed: the records are not in the journal.
    #[error("committing failed: {0}")]
    Commit(#[source] redb::CommitError),
    /// Setting the durability failed.
    #[error("setting durability failed: {0}")]
    Durability(#[source] redb::SetDurabilityError),
}

/// Reading records failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Starting the read transaction failed.
    #[error("beginning the read transaction failed: {0}")]
    BeginRead(#[source] redb::TransactionError),
    /// Opening a table failed.
    #[error("opening table {table} failed: {source}")]
    OpenTable {
        table: &'static str,
        #[source]
        source: redb::TableError,
    },
    /// Reading from a table failed.
    #[error("reading the journal failed: {0}")]
    Read(#[source] redb::StorageError),
    /// A stored record does not decode.
    #[error("record {seq} does not decode: {source}")]
    Decode {
        seq: u64,
        #[source]
        source: serde_json::Error,
    },
    /// A record's head is stored but its body is not (damage redb's checksums did not catch).
    #[error("record {seq} has no body")]
    MissingBody { seq: u64 },
    /// Writing query output failed (a closed pipe, a full disk).
    #[error("writing the output failed: {0}")]
    Output(#[source] std::io::Error),
    /// A time bound given by the user does not parse.
    #[error(
        "bad time {0:?}: expected RFC 3339 (2026-11-25T10:00:00Z) or a duration like 15m, 2h, 90s"
    )]
    BadTime(String),
}

/// Writing a snapshot copy failed; the destination is not created.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The destination exists already: a snapshot never overwrites.
    #[error("{path}: exists already; a snapshot never overwrites a file")]
    Exists { path: PathBuf },
    /// Reading the source failed.
    #[error("reading the journal for the snapshot failed: {0}")]
    Read(#[from] QueryError),
    /// Creating or writing the destination failed.
    #[error("{path}: writing the snapshot failed: {detail}")]
    Write { path: PathBuf, detail: String },
}
