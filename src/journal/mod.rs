//! The decision journal: a redb file of records (what a pod saw, decided and did), kept across
//! restarts with a retention bound, read by `forge-manager journal …` after an incident.
//!
//! - `record`: [`JournalRecord`] and its parts; the key-material guard.
//! - `codec`: the stored form of a record (flat head + nested body, both JSON).
//! - [`renewals`]: every lease renewal's outcome, compactly (fencing deadlines after the last record).
//! - `schema`: tables, [`FORMAT_VERSION`] and migrations.
//! - `writer`: [`Journal`], the single writer: durable appends, bounded pruning, snapshots.
//! - `background`: [`JournalWriter`], the journal on its own thread: `record` never blocks.
//! - `reader`: [`JournalReader`], verified read-only access that never writes the file.
//! - `view`: [`JournalView`], a thread-safe read handle on a journal being written.
//! - `read`: queries shared by both ([`Query`], [`Stats`]).
//! - [`replay`]: the core's typed inputs in a record, and re-running `decide` on them.
//! - [`cluster_replay`]: the same for the cross-region decision (`decide_cluster`).
//! - [`timeline`]: merging pods' journals and finding overlapping forging beliefs.
//! - [`watchdog_log`]: the watchdog's own log of its firings (it cannot write the journal).
//! - `open`: file checks before redb sees a file, and the verified open that never writes it.
//! - [`demo`]: synthetic journals (a two-pod failover, stress records) for docs, tests, benches.
//! - `error`: [`OpenError`], [`AppendError`], [`QueryError`], [`SnapshotError`].
//!
//! Guide: `docs/journal.md`. Numbers: `docs/performance.md`.

mod background;
pub mod cluster_replay;
mod codec;
/// Sample records for tests, examples and benchmarks: compiled always (a feature for it made
/// `cargo run` after `cargo test` rebuild the library), unused by the binary.
#[doc(hidden)]
pub mod demo;
mod error;
mod open;
mod read;
mod reader;
mod reads;
mod record;
pub mod renewals;
pub mod replay;
mod schema;
mod snapshot;
pub mod timeline;
mod view;
pub mod watchdog_log;
mod writer;

pub use background::{JournalWriter, RecordError};
pub use error::{AppendError, IN_USE_HINT, OpenError, QueryError, SnapshotError};
pub use read::{EXPLAIN_MAX_STEPS, Explanation, Query, Stats, parse_time_bound};
pub use reader::JournalReader;
pub use reads::ReadJournal;
pub use record::{ActionRecord, JournalRecord, RecordKind, find_key_material, wall_ms};
pub use renewals::Renewal;
pub use schema::FORMAT_VERSION;
pub use view::JournalView;
pub use writer::{Journal, JournalConfig, MAX_BATCH, SyncMode};

#[cfg(test)]
mod tests;
