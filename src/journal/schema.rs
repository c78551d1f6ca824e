//! The on-disk layout: table definitions, the format version and the migration path.
//!
//! Format history:
//! - **v0** (pre-release): `records` (seq → JSON) and `meta` with `format_version = 0`; records had
//!   no `forging` field and there was no wall-time index.
//! - **v1**: records carry `forging` and are stored as a flat head (`record_heads`) and a
//!   body (`record_bodies`), see `codec`; `records_by_wall` indexes (wall ms, seq); `meta` also
//!   keeps `last_seq`, `record_count` and `record_bytes` so a restart never reuses a seq, even
//!   after retention pruned every record.
//! - **v2** (2026-11-26): adds `records_by_field`, `(field, value, seq) → ()` for pod,
//!   region, kind and reason, written in the same transaction as the record, so `--pod`, `--kind`,
//!   … read only the index entries and the matching records instead of every head. Migration
//!   v1 → v2 builds it from the heads (a v2 file is refused by a v1 build: "newer version").
//! - **v3** (current, 2026-11-26): a head or a body may be stored compressed (an LZ4 block against
//!   a fixed dictionary of its own, see `codec`); a value starting with `{` is still plain JSON.
//!   Migration v2 → v3 rewrites nothing (old values stay plain); the version bump is what makes a
//!   v2 build refuse a file it could not decode.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::record::{RecordKind, wall_ms};
use crate::core::reason::Reason;

/// The format this build writes. Opening an older file migrates it; a newer one is refused.
pub const FORMAT_VERSION: u32 = 3;

/// seq → record head, flat JSON (see `codec`).
pub(crate) const HEADS: TableDefinition<u64, &[u8]> = TableDefinition::new("record_heads");
/// seq → record body, JSON of `inputs` and `actions` (see `codec`).
pub(crate) const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("record_bodies");
/// v0 only: seq → whole record as JSON. Removed by the v1 migration.
pub(crate) const V0_RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
/// (wall-clock ms since the epoch, seq) → (): the index `--since/--until` ranges over.
pub(crate) const BY_WALL: TableDefinition<(i64, u64), ()> = TableDefinition::new("records_by_wall");
/// (field, value, seq) → (): one entry per filterable field of every record (see [`field_keys`]).
/// Filtered queries range over it instead of reading every head.
pub(crate) const BY_FIELD: TableDefinition<(u8, &str, u64), ()> =
    TableDefinition::new("records_by_field");
/// Small counters and the format version.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(crate) const META_FORMAT_VERSION: &str = "format_version";
pub(crate) const META_LAST_SEQ: &str = "last_seq";
pub(crate) const META_RECORD_COUNT: &str = "record_count";
pub(crate) const META_RECORD_BYTES: &str = "record_bytes";

/// Field tags of `records_by_field` (stored: never renumber).
pub(crate) const FIELD_POD: u8 = 0;
pub(crate) const FIELD_REGION: u8 = 1;
pub(crate) const FIELD_KIND: u8 = 2;
pub(crate) const FIELD_REASON: u8 = 3;

/// The `records_by_field` keys of a record (without its seq): kind and reason by their
/// snake_case names, as in the JSON.
pub(crate) fn field_keys<'a>(
    pod: &'a str,
    region: &'a str,
    kind: RecordKind,
    reason: Reason,
) -> [(u8, &'a str); 4] {
    [
        (FIELD_POD, pod),
        (FIELD_REGION, region),
        (FIELD_KIND, kind.as_str()),
        (FIELD_REASON, reason.as_str()),
    ]
}

/// Why a migration step failed.
#[derive(Debug)]
pub(crate) struct MigrateFailure(pub String);

impl<E: std::fmt::Display> From<E> for MigrateFailure {
    fn from(e: E) -> Self {
        MigrateFailure(e.to_string())
    }
}

/// Migrates from `from` to [`FORMAT_VERSION`] inside `txn` (the caller commits, so a failure
/// leaves the file as it was). Bounded by the number of records in the file.
pub(crate) fn migrate(txn: &WriteTransaction, from: u32) -> Result<(), MigrateFailure> {
    let mut version = from;
    while version < FORMAT_VERSION {
        match version {
            0 => migrate_v0_to_v1(txn)?,
            1 => migrate_v1_to_v2(txn)?,
            // Plain heads and bodies are valid v3 values.
            2 => {}
            other => return Err(MigrateFailure(format!("no migration from version {other}"))),
        }
        version += 1;
    }
    let mut meta = txn.open_table(META)?;
    meta.insert(META_FORMAT_VERSION, u64::from(FORMAT_VERSION))?;
    Ok(())
}

/// v0 → v1: add `forging` (v0 had only the role: a leader forged), build the wall index and the
/// counters.
fn migrate_v0_to_v1(txn: &WriteTransaction) -> Result<(), MigrateFailure> {
    let mut rewritten: Vec<(u64, Vec<u8>, Vec<u8>, i64)> = Vec::new();
    {
        let old = txn.open_table(V0_RECORDS)?;
        for entry in old.iter()? {
            let (k, v) = entry?;
            let seq = k.value();
            let mut obj: serde_json::Value = serde_json::from_slice(v.value())
                .map_err(|e| MigrateFailure(format!("record {seq}: {e}")))?;
            let map = obj
                .as_object_mut()
                .ok_or_else(|| MigrateFailure(format!("record {seq}: not a JSON object")))?;
            if !map.contains_key("forging") {
                let leader = map.get("role").and_then(|r| r.as_str()) == Some("leader");
                map.insert("forging".into(), serde_json::Value::Bool(leader));
            }
            let wall = map
                .get("wall")
                .and_then(|w| w.as_str())
                .and_then(wall_ms)
                .ok_or_else(|| MigrateFailure(format!("record {seq}: no RFC 3339 wall time")))?;
            let record: super::record::JournalRecord = serde_json::from_value(obj)
                .map_err(|e| MigrateFailure(format!("record {seq}: {e}")))?;
            let (head, body) = super::codec::encode(&record)?;
            rewritten.push((seq, head, body, wall));
        }
    }
    txn.delete_table(V0_RECORDS)?;
    let mut heads = txn.open_table(HEADS)?;
    let mut bodies = txn.open_table(BODIES)?;
    let mut by_wall = txn.open_table(BY_WALL)?;
    let mut bytes = 0u64;
    let mut last_seq = 0u64;
    for (seq, head, body, wall) in &rewritten {
        heads.insert(*seq, head.as_slice())?;
        bodies.insert(*seq, body.as_slice())?;
        by_wall.insert((*wall, *seq), ())?;
        bytes += (head.len() + body.len()) as u64;
        last_seq = last_seq.max(*seq);
    }
    let mut meta = txn.open_table(META)?;
    let previous_last = meta.get(META_LAST_SEQ)?.map(|g| g.value()).unwrap_or(0);
    meta.insert(META_LAST_SEQ, last_seq.max(previous_last))?;
    meta.insert(META_RECORD_COUNT, rewritten.len() as u64)?;
    meta.insert(META_RECORD_BYTES, bytes)?;
    Ok(())
}

/// v1 → v2: build `records_by_field` from the heads. A head that does not decode fails the
/// migration (as in v0 → v1): the file is left as it was and the error names the seq.
fn migrate_v1_to_v2(txn: &WriteTransaction) -> Result<(), MigrateFailure> {
    let heads = txn.open_table(HEADS)?;
    let mut by_field = txn.open_table(BY_FIELD)?;
    for entry in heads.iter()? {
        let (k, v) = entry?;
        let seq = k.value();
        let json = super::codec::head_json(v.value())
            .map_err(|e| MigrateFailure(format!("record {seq}: {e}")))?;
        let h =
            super::codec::head(&json).map_err(|e| MigrateFailure(format!("record {seq}: {e}")))?;
        for (field, value) in field_keys(&h.pod, &h.region, h.kind, h.reason) {
            by_field.insert((field, value, seq), ())?;
        }
    }
    Ok(())
}

/// Creates the tables of an empty journal at the current version.
pub(crate) fn initialise(txn: &WriteTransaction) -> Result<(), MigrateFailure> {
    txn.open_table(HEADS)?;
    txn.open_table(BODIES)?;
    txn.open_table(BY_WALL)?;
    txn.open_table(BY_FIELD)?;
    let mut meta = txn.open_table(META)?;
    meta.insert(META_FORMAT_VERSION, u64::from(FORMAT_VERSION))?;
    meta.insert(META_LAST_SEQ, 0)?;
    meta.insert(META_RECORD_COUNT, 0)?;
    meta.insert(META_RECORD_BYTES, 0)?;
    Ok(())
}
