//! Reading records: filters, windows, tails and statistics, shared by the writer ([`Journal`]) and
//! the read-only [`JournalReader`].
//!
//! `--since/--until` windows range over the `(wall ms, seq)` index, so their cost follows the
//! window, not the file. Without a window, `--pod`, `--region`, `--kind` and `--reason` range over
//! the `(field, value, seq)` index and intersect the ranges, so their cost follows the index
//! entries of the values asked for and the matches, not the file. Only matches are decoded.
//!
//! [`Journal`]: super::Journal
//! [`JournalReader`]: super::JournalReader

use std::collections::BTreeMap;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::codec::{self, RecordHead};
use super::error::QueryError;
use super::record::{JournalRecord, RecordKind};
use super::schema::{
    BODIES, BY_FIELD, BY_WALL, FIELD_KIND, FIELD_POD, FIELD_REASON, FIELD_REGION, HEADS, META,
    META_FORMAT_VERSION, META_LAST_SEQ, META_RECORD_BYTES,
};
use crate::core::reason::Reason;

/// Which records a query returns. Empty fields match everything; bounds are inclusive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// Wall time lower bound, ms since the Unix epoch.
    pub since_ms: Option<i64>,
    /// Wall time upper bound, ms since the Unix epoch.
    pub until_ms: Option<i64>,
    /// Only this pod.
    pub pod: Option<String>,
    /// Only this region.
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only this reason.
    pub reason: Option<Reason>,
    /// At most this many records (the first ones in seq order).
    pub limit: Option<usize>,
    /// Leave each record's `inputs` null (queries, not `explain`): a listing that shows no inputs
    /// decodes several times faster (docs/performance.md).
    pub without_inputs: bool,
}

impl Query {
    fn head_matches(&self, h: &RecordHead<'_>) -> bool {
        self.pod.as_deref().is_none_or(|p| h.pod == p)
            && self.region.as_deref().is_none_or(|r| h.region == r)
            && self.kind.is_none_or(|k| h.kind == k)
            && self.reason.is_none_or(|r| h.reason == r)
    }

    /// The `records_by_field` ranges the filters select, as (field, value).
    fn field_filters(&self) -> Vec<(u8, &str)> {
        let mut out = Vec::new();
        if let Some(p) = &self.pod {
            out.push((FIELD_POD, p.as_str()));
        }
        if let Some(r) = &self.region {
            out.push((FIELD_REGION, r.as_str()));
        }
        if let Some(k) = self.kind {
            out.push((FIELD_KIND, k.as_str()));
        }
        if let Some(r) = self.reason {
            out.push((FIELD_REASON, r.as_str()));
        }
        out
    }

    /// Byte patterns every matching head contains: `"pod":"bp-1"` and the like, exactly as the
    /// codec writes them (compact serde_json, flat object, each key once). A head missing one
    /// cannot match, and is skipped without being parsed; a head containing all of them is still
    /// parsed and checked by [`Query::head_matches`], so this only saves time.
    ///
    /// Sound because a JSON string value cannot contain an unescaped `"`: `"pod":"bp-1"` can only
    /// be the key and its value, never text inside `message`.
    fn needles(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut add = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                out.push(format!("\"{key}\":{v}").into_bytes());
            }
        };
        let text = |t: &str| serde_json::to_string(t).ok();
        add("pod", self.pod.as_deref().and_then(text));
        add("region", self.region.as_deref().and_then(text));
        add(
            "kind",
            self.kind.and_then(|k| serde_json::to_string(&k).ok()),
        );
        add(
            "reason",
            self.reason.and_then(|r| serde_json::to_string(&r).ok()),
        );
        out
    }
}

/// Whether `haystack` contains `needle` followed by the end of a JSON value (`,` or `}`).
fn contains_field(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        let end = at + needle.len();
        if haystack.get(at..end) == Some(needle) && matches!(haystack.get(end), Some(b',' | b'}')) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Counts and bounds of one journal.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Format version of the file.
    pub format_version: u32,
    /// Records currently kept.
    pub records: u64,
    /// Sum of the encoded record sizes.
    pub record_bytes: u64,
    /// The last seq ever assigned (survives pruning).
    pub last_seq: u64,
    /// Lowest seq kept.
    pub first_seq: Option<u64>,
    /// Oldest and newest wall time kept (RFC 3339), by the wall index.
    pub oldest_wall: Option<String>,
    /// Newest wall time kept.
    pub newest_wall: Option<String>,
    /// Records per kind.
    pub per_kind: BTreeMap<String, u64>,
}

pub(crate) fn begin(db: &Database) -> Result<ReadTransaction, QueryError> {
    db.begin_read().map_err(QueryError::BeginRead)
}

macro_rules! open {
    ($txn:expr, $def:expr, $name:literal) => {
        $txn.open_table($def)
            .map_err(|source| QueryError::OpenTable {
                table: $name,
                source,
            })
    };
}

type Bodies = redb::ReadOnlyTable<u64, &'static [u8]>;

/// Fetches the body of `seq` and decodes the whole record.
fn load(bodies: &Bodies, seq: u64, head: &[u8]) -> Result<JournalRecord, QueryError> {
    let body = bodies
        .get(seq)
        .map_err(QueryError::Read)?
        .ok_or(QueryError::MissingBody { seq })?;
    codec::decode(head, body.value()).map_err(|source| QueryError::Decode { seq, source })
}

/// The JSON of a stored head (compressed since v3).
fn head_json(seq: u64, stored: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, QueryError> {
    codec::head_json(stored).map_err(|e| QueryError::Decode {
        seq,
        source: <serde_json::Error as serde::de::Error>::custom(e),
    })
}

/// Parses a head's JSON (see [`head_json`]).
fn decode_head(seq: u64, json: &[u8]) -> Result<RecordHead<'_>, QueryError> {
    codec::head(json).map_err(|source| QueryError::Decode { seq, source })
}

/// Calls `f(seq, head, body)` for every record whose head matches `q`, in seq order, until it
/// returns `Ok(false)`. Only heads are read for records that do not match.
fn scan(
    db: &Database,
    q: &Query,
    mut f: impl FnMut(u64, &[u8], &[u8]) -> Result<bool, QueryError>,
) -> Result<(), QueryError> {
    let txn = begin(db)?;
    let records = open!(txn, HEADS, "record_heads")?;
    let bodies = open!(txn, BODIES, "record_bodies")?;
    let limit = q.limit.unwrap_or(usize::MAX);
    let needles = q.needles();
    let mut emitted = 0usize;
    // `indexed`: every filter was matched through `records_by_field`, whose entries are written
    // with their record and never name another record (a seq is never reused), so the head
    // need not be parsed again.
    let mut visit = |seq: u64, stored: &[u8], indexed: bool| -> Result<bool, QueryError> {
        let bytes = head_json(seq, stored)?;
        let bytes = bytes.as_ref();
        if !indexed {
            if !needles.iter().all(|n| contains_field(bytes, n)) {
                return Ok(true);
            }
            let head = decode_head(seq, bytes)?;
            if !q.head_matches(&head) {
                return Ok(true);
            }
        }
        emitted += 1;
        let body = bodies
            .get(seq)
            .map_err(QueryError::Read)?
            .ok_or(QueryError::MissingBody { seq })?;
        Ok(f(seq, bytes, body.value())? && emitted < limit)
    };
    if limit == 0 {
        return Ok(());
    }
    if q.since_ms.is_some() || q.until_ms.is_some() {
        let by_wall = open!(txn, BY_WALL, "records_by_wall")?;
        let lo = (q.since_ms.unwrap_or(i64::MIN), 0u64);
        let hi = (q.until_ms.unwrap_or(i64::MAX), u64::MAX);
        if lo > hi {
            return Ok(());
        }
        let mut seqs = Vec::new();
        for entry in by_wall.range(lo..=hi).map_err(QueryError::Read)? {
            let (k, _) = entry.map_err(QueryError::Read)?;
            seqs.push(k.value().1);
        }
        seqs.sort_unstable();
        for seq in seqs {
            if let Some(v) = records.get(seq).map_err(QueryError::Read)?
                && !visit(seq, v.value(), false)?
            {
                break;
            }
        }
    } else if !q.field_filters().is_empty() {
        let by_field = open!(txn, BY_FIELD, "records_by_field")?;
        let mut ranges = Vec::new();
        for (field, value) in q.field_filters() {
            ranges.push(
                by_field
                    .range((field, value, 0u64)..=(field, value, u64::MAX))
                    .map_err(QueryError::Read)?,
            );
        }
        let next = |r: &mut FieldRange<'_>| -> Result<Option<u64>, QueryError> {
            match r.next() {
                Some(entry) => Ok(Some(entry.map_err(QueryError::Read)?.0.value().2)),
                None => Ok(None),
            }
        };
        // Intersection of the ranges, each in seq order: raise every cursor to the largest
        // seq seen until all agree. Costs the index entries of the filters, not the file.
        let mut cur = Vec::with_capacity(ranges.len());
        for r in &mut ranges {
            cur.push(next(r)?);
        }
        'seqs: while let Some(mut target) = cur[0] {
            let mut agreed = false;
            while !agreed {
                agreed = true;
                for (c, r) in cur.iter_mut().zip(ranges.iter_mut()) {
                    loop {
                        match *c {
                            None => break 'seqs,
                            Some(s) if s < target => *c = next(r)?,
                            Some(s) => {
                                if s > target {
                                    target = s;
                                    agreed = false;
                                }
                                break;
                            }
                        }
                    }
                }
            }
            // An entry left by a pruned record whose head did not decode finds no head and is
            // skipped.
            if let Some(v) = records.get(target).map_err(QueryError::Read)?
                && !visit(target, v.value(), true)?
            {
                break;
            }
            cur[0] = next(&mut ranges[0])?;
        }
    } else {
        for entry in records.iter().map_err(QueryError::Read)? {
            let (k, v) = entry.map_err(QueryError::Read)?;
            if !visit(k.value(), v.value(), false)? {
                break;
            }
        }
    }
    Ok(())
}

type FieldRange<'a> = redb::Range<'a, (u8, &'static str, u64), ()>;

/// Calls `f` with every record matching `q`, in seq order, until it returns `false`.
pub(crate) fn query_each(
    db: &Database,
    q: &Query,
    mut f: impl FnMut(JournalRecord) -> bool,
) -> Result<(), QueryError> {
    scan(db, q, |seq, head, body| {
        let r = codec::decode_with(head, body, !q.without_inputs)
            .map_err(|source| QueryError::Decode { seq, source })?;
        Ok(f(r))
    })
}

/// Writes every record matching `q` as one JSON line to `out`, from the stored bytes (no
/// decoding of `inputs`). Returns how many were written.
pub(crate) fn write_jsonl(
    db: &Database,
    q: &Query,
    out: &mut impl std::io::Write,
) -> Result<u64, QueryError> {
    let mut n = 0u64;
    scan(db, q, |_, head, body| {
        codec::write_json(head, body, out).map_err(QueryError::Output)?;
        out.write_all(b"\n").map_err(QueryError::Output)?;
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

/// The matching records, in seq order.
pub(crate) fn query(db: &Database, q: &Query) -> Result<Vec<JournalRecord>, QueryError> {
    let mut out = Vec::new();
    query_each(db, q, |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

/// Counts the matching records without building them.
pub(crate) fn count(db: &Database, q: &Query) -> Result<u64, QueryError> {
    let mut n = 0u64;
    // Counting builds the records too: it is the honest cost of a query (what the CLI pays).
    query_each(db, q, |_| {
        n += 1;
        true
    })?;
    Ok(n)
}

/// The last `n` records, oldest first.
pub(crate) fn tail(db: &Database, n: usize) -> Result<Vec<JournalRecord>, QueryError> {
    let txn = begin(db)?;
    let records = open!(txn, HEADS, "record_heads")?;
    let bodies = open!(txn, BODIES, "record_bodies")?;
    let mut out = Vec::with_capacity(n.min(10_000));
    for entry in records.iter().map_err(QueryError::Read)?.rev().take(n) {
        let (k, v) = entry.map_err(QueryError::Read)?;
        out.push(load(&bodies, k.value(), v.value())?);
    }
    out.reverse();
    Ok(out)
}

/// Records with seq greater than `after`, oldest first, at most `max`.
pub(crate) fn after(
    db: &Database,
    after: u64,
    max: usize,
) -> Result<Vec<JournalRecord>, QueryError> {
    let txn = begin(db)?;
    let records = open!(txn, HEADS, "record_heads")?;
    let bodies = open!(txn, BODIES, "record_bodies")?;
    let mut out = Vec::new();
    for entry in records
        .range(after.saturating_add(1)..)
        .map_err(QueryError::Read)?
        .take(max)
    {
        let (k, v) = entry.map_err(QueryError::Read)?;
        out.push(load(&bodies, k.value(), v.value())?);
    }
    Ok(out)
}

/// Newest wall time in the journal (ms since the epoch), by the index.
pub(crate) fn newest_wall_ms(db: &Database) -> Result<Option<i64>, QueryError> {
    let txn = begin(db)?;
    let by_wall = open!(txn, BY_WALL, "records_by_wall")?;
    let last = by_wall.last().map_err(QueryError::Read)?;
    Ok(last.map(|(k, _)| k.value().0))
}

fn meta_u64(txn: &ReadTransaction, key: &str) -> Result<u64, QueryError> {
    let meta = open!(txn, META, "meta")?;
    Ok(meta
        .get(key)
        .map_err(QueryError::Read)?
        .map(|g| g.value())
        .unwrap_or(0))
}

/// Statistics; per-kind counts come from the kind index.
pub(crate) fn stats(db: &Database) -> Result<Stats, QueryError> {
    let txn = begin(db)?;
    let records = open!(txn, HEADS, "record_heads")?;
    let by_wall = open!(txn, BY_WALL, "records_by_wall")?;
    let first_seq = records
        .first()
        .map_err(QueryError::Read)?
        .map(|(k, _)| k.value());
    // Per-kind counts from the kind index: entries only, no head is read. An entry left behind
    // by a pruned record (one whose head did not decode) is older than the first record kept.
    let by_field = open!(txn, BY_FIELD, "records_by_field")?;
    let mut per_kind = BTreeMap::new();
    for entry in by_field
        .range((FIELD_KIND, "", 0u64)..(FIELD_KIND + 1, "", 0u64))
        .map_err(QueryError::Read)?
    {
        let (k, _) = entry.map_err(QueryError::Read)?;
        let (_, kind, seq) = k.value();
        if first_seq.is_some_and(|first| seq >= first) {
            *per_kind.entry(kind.to_string()).or_insert(0u64) += 1;
        }
    }
    let wall_text = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| ms.to_string())
    };
    let oldest_wall = by_wall
        .first()
        .map_err(QueryError::Read)?
        .map(|(k, _)| wall_text(k.value().0));
    let newest_wall = by_wall
        .last()
        .map_err(QueryError::Read)?
        .map(|(k, _)| wall_text(k.value().0));
    Ok(Stats {
        format_version: u32::try_from(meta_u64(&txn, META_FORMAT_VERSION)?).unwrap_or(u32::MAX),
        records: records.len().map_err(QueryError::Read)?,
        record_bytes: meta_u64(&txn, META_RECORD_BYTES)?,
        last_seq: meta_u64(&txn, META_LAST_SEQ)?,
        first_seq,
        oldest_wall,
        newest_wall,
        per_kind,
    })
}

/// The record count kept in `meta` (kept equal to the table's length by every append).
#[cfg(test)]
pub(crate) fn meta_record_count(db: &Database) -> Result<u64, QueryError> {
    meta_u64(&begin(db)?, super::schema::META_RECORD_COUNT)
}

/// Parses a user's time bound: RFC 3339, or a duration (`15m`, `2h`, `90s`, `48h`, `500ms`) meaning
/// that long before `newest_ms` (the newest record).
pub fn parse_time_bound(text: &str, newest_ms: Option<i64>) -> Result<i64, QueryError> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let d = crate::config::duration::parse_duration(t)
        .map_err(|_| QueryError::BadTime(text.to_string()))?;
    let newest = newest_ms.unwrap_or(0);
    let d_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    Ok(newest.saturating_sub(d_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_prefilter_finds_exact_fields_and_ignores_quoted_text() {
        let mut r = crate::journal::demo::stress_record(1, 0);
        r.message = r#"saw "pod":"bp-9", odd"#.into();
        let (stored, _) = codec::encode(&r).expect("encode");
        let head = codec::head_json(&stored).expect("head json");
        let q = |pod: &str| Query {
            pod: Some(pod.into()),
            ..Query::default()
        };
        let hit = |q: &Query| q.needles().iter().all(|n| contains_field(&head, n));
        assert!(hit(&q("bp-1")));
        assert!(
            !hit(&q("bp-9")),
            "text inside message is escaped, never a field"
        );
        assert!(!hit(&q("bp-")), "a prefix of the value is not the value");
        let kind = Query {
            kind: Some(RecordKind::Action),
            reason: Some(Reason::LeaseRenewed),
            ..Query::default()
        };
        assert!(hit(&kind));
    }

    #[test]
    fn a_relative_time_bound_counts_back_from_the_newest_record() {
        let bound = parse_time_bound("15s", Some(1_000_000)).expect("parses");
        assert_eq!(bound, 985_000);
    }

    #[test]
    fn an_rfc3339_time_bound_is_absolute() {
        let bound = parse_time_bound("1970-01-01T00:00:01Z", Some(5)).expect("parses");
        assert_eq!(bound, 1_000);
        assert!(parse_time_bound("yesterday", None).is_err());
    }
}

/// How a pod came to be in the role it had at an instant (see [`explain`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The last record at or before the instant: the pod's view then.
    pub at: JournalRecord,
    /// The last record before the walk's oldest role began, if kept.
    pub previous: Option<JournalRecord>,
    /// Records from the start of the oldest role walked back to, up to `at`, heartbeats left out,
    /// oldest first
    /// (at most [`EXPLAIN_MAX_STEPS`], the most recent ones).
    pub steps: Vec<JournalRecord>,
    /// Heartbeats left out of `steps`.
    pub heartbeats_skipped: u64,
    /// Steps left out beyond [`EXPLAIN_MAX_STEPS`].
    pub steps_skipped: u64,
}

/// At most this many steps are returned by [`explain`].
pub const EXPLAIN_MAX_STEPS: usize = 100;

/// Walks back from the last record at or before `at_ms` across `role_changes` role changes (at
/// least 1: back to the last role change).
pub(crate) fn explain(
    db: &Database,
    at_ms: i64,
    role_changes: usize,
) -> Result<Option<Explanation>, QueryError> {
    let role_changes = role_changes.max(1);
    let txn = begin(db)?;
    let by_wall = open!(txn, BY_WALL, "records_by_wall")?;
    let records = open!(txn, HEADS, "record_heads")?;
    let bodies = open!(txn, BODIES, "record_bodies")?;
    let Some(last) = by_wall
        .range((i64::MIN, 0u64)..=(at_ms, u64::MAX))
        .map_err(QueryError::Read)?
        .next_back()
    else {
        return Ok(None);
    };
    let at_seq = last.map_err(QueryError::Read)?.0.value().1;
    let Some(at_guard) = records.get(at_seq).map_err(QueryError::Read)? else {
        return Ok(None);
    };
    let at = load(&bodies, at_seq, at_guard.value())?;
    let mut steps_rev = Vec::new();
    let mut heartbeats_skipped = 0u64;
    let mut steps_skipped = 0u64;
    let mut previous = None;
    let mut role = at.role.clone();
    let mut changes_seen = 0usize;
    // Bounded by the records kept (retention); heads only, full decode for kept steps.
    for entry in records.range(..=at_seq).map_err(QueryError::Read)?.rev() {
        let (k, v) = entry.map_err(QueryError::Read)?;
        let seq = k.value();
        let json = head_json(seq, v.value())?;
        let head = decode_head(seq, &json)?;
        if head.role != role {
            changes_seen += 1;
            if changes_seen == role_changes {
                previous = Some(load(&bodies, seq, &json)?);
                break;
            }
            role = head.role.clone().into_owned();
        }
        if head.kind == RecordKind::Heartbeat && seq != at_seq {
            heartbeats_skipped += 1;
        } else if steps_rev.len() < EXPLAIN_MAX_STEPS {
            steps_rev.push(load(&bodies, seq, &json)?);
        } else {
            steps_skipped += 1;
        }
    }
    steps_rev.reverse();
    Ok(Some(Explanation {
        at,
        previous,
        steps: steps_rev,
        heartbeats_skipped,
        steps_skipped,
    }))
}
