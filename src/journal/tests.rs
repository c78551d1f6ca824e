//! Unit tests of the journal: seqs, retention, guards, versions, bad files, locks, snapshots.
//! Each bad-file test hashes the file before and after: refusing a file must never change it.

use crate::journal::ReadJournal;
use std::path::Path;
use std::time::Duration;

use redb::ReadableTable;
use sha2::{Digest, Sha256};

use super::demo::{record, stress_record};
use super::schema::{BODIES, BY_FIELD, HEADS, META, META_FORMAT_VERSION, V0_RECORDS};
use super::*;
use crate::core::reason::Reason;

const T0: i64 = 1_795_600_800_000;

fn cfg() -> JournalConfig {
    JournalConfig {
        sync: SyncMode::Buffered,
        ..JournalConfig::default()
    }
}

fn rec(i: i64) -> JournalRecord {
    record(
        "bp-0",
        "eu",
        T0 + i * 1000,
        RecordKind::Decision,
        "leader",
        true,
        Reason::Forging,
        "forging",
    )
}

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read file")))
}

fn write_journal(path: &Path, n: i64) {
    let mut j = Journal::open(path, cfg()).expect("open");
    for i in 0..n {
        j.append(rec(i)).expect("append");
    }
}

#[test]
fn appends_get_contiguous_seqs_from_one_and_read_back_equal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    for i in 0..5 {
        assert_eq!(j.append(rec(i)).expect("append"), (i + 1) as u64);
    }
    let all = j.query(&Query::default()).expect("query");
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let mut expected = rec(2);
    expected.seq = 3;
    assert_eq!(all[2], expected);
}

#[test]
fn seqs_keep_increasing_across_reopen_even_after_pruning_everything_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    let small = JournalConfig {
        max_records: Some(1),
        ..cfg()
    };
    {
        let mut j = Journal::open(&path, small.clone()).expect("open");
        for i in 0..10 {
            j.append(rec(i)).expect("append");
        }
    }
    let mut j = Journal::open(&path, small).expect("reopen");
    assert_eq!(j.append(rec(10)).expect("append"), 11);
    let all = j.query(&Query::default()).expect("query");
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![11]);
}

#[test]
fn pruning_by_count_is_bounded_per_append_and_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    write_journal(&path, 100);
    let mut j = Journal::open(
        &path,
        JournalConfig {
            max_records: Some(10),
            prune_per_append: 4,
            ..cfg()
        },
    )
    .expect("reopen with a smaller bound");
    j.append(rec(100)).expect("append");
    assert_eq!(
        j.stats().expect("stats").records,
        101 - 4,
        "at most 4 deleted per append"
    );
    for i in 101..140 {
        j.append(rec(i)).expect("append");
    }
    let s = j.stats().expect("stats");
    assert_eq!(s.records, 10);
    assert_eq!(s.first_seq, Some(131));
    assert_eq!(read::meta_record_count(j.database()).expect("meta"), 10);
}

#[test]
fn pruning_by_age_drops_records_older_than_the_retention_before_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(
        dir.path().join("j"),
        JournalConfig {
            retention: Some(Duration::from_secs(60)),
            ..cfg()
        },
    )
    .expect("open");
    for i in 0..50 {
        j.append(rec(i)).expect("append"); // one per second: nothing older than 60 s yet
    }
    assert_eq!(j.stats().expect("stats").records, 50);
    j.append(rec(3600)).expect("an hour later");
    let s = j.stats().expect("stats");
    assert_eq!(
        s.records, 1,
        "everything older than 60 s before the newest record is gone"
    );
    assert_eq!(s.last_seq, 51);
}

#[test]
fn pruning_by_bytes_keeps_the_encoded_size_under_the_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(
        dir.path().join("j"),
        JournalConfig {
            max_bytes: Some(20_000),
            ..cfg()
        },
    )
    .expect("open");
    for i in 0..200 {
        j.append(stress_record(i, T0)).expect("append");
    }
    let s = j.stats().expect("stats");
    assert!(s.record_bytes <= 20_000, "{} bytes kept", s.record_bytes);
    assert!(s.records > 10);
}

#[test]
fn a_record_carrying_key_material_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    let mut bad = rec(0);
    bad.inputs =
        serde_json::json!({"kes": {"type": "KesSigningKey_ed25519_kes_2^6", "cborHex": "5901c0"}});
    match j.append(bad) {
        Err(AppendError::KeyMaterial { path }) => assert_eq!(path, "inputs.kes.cborHex"),
        other => panic!("expected KeyMaterial, got {other:?}"),
    }
    assert_eq!(j.last_seq(), 0);
    assert_eq!(j.stats().expect("stats").records, 0);
}

#[test]
fn a_record_with_a_wall_time_that_is_not_rfc3339_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    let mut bad = rec(0);
    bad.wall = "yesterday".into();
    assert!(matches!(
        j.append(bad),
        Err(AppendError::BadWallTime { .. })
    ));
}

#[test]
fn append_many_commits_a_batch_in_one_transaction_and_refuses_oversized_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    assert_eq!(j.append_many((0..100).map(rec)).expect("batch"), 100);
    let too_many = (0..(MAX_BATCH as i64 + 1)).map(rec);
    assert!(matches!(
        j.append_many(too_many),
        Err(AppendError::BatchTooLarge { .. })
    ));
    assert_eq!(j.last_seq(), 100, "a refused batch assigns nothing");
    let mut with_bad = (0..3).map(rec).collect::<Vec<_>>();
    with_bad[2].wall = "nope".into();
    assert!(j.append_many(with_bad).is_err());
    assert_eq!(j.stats().expect("stats").records, 100, "all or nothing");
}

#[test]
fn queries_filter_by_window_pod_kind_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    for i in 0..40 {
        j.append(stress_record(i, T0)).expect("append");
    }
    let window = Query {
        since_ms: Some(T0 + 10_000),
        until_ms: Some(T0 + 19_000),
        ..Query::default()
    };
    let got = j.query(&window).expect("window");
    assert_eq!(
        got.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (11..=20).collect::<Vec<_>>()
    );
    let pod = Query {
        pod: Some("bp-1".into()),
        ..Query::default()
    };
    assert!(j.query(&pod).expect("pod").iter().all(|r| r.pod == "bp-1"));
    assert_eq!(j.query(&pod).expect("pod").len(), 10);
    let kind = Query {
        kind: Some(RecordKind::Action),
        pod: Some("bp-1".into()),
        ..Query::default()
    };
    assert_eq!(j.query(&kind).expect("kind").len(), 2, "i = 1 and i = 21");
    let reason = Query {
        reason: Some(Reason::Forging),
        ..Query::default()
    };
    assert!(j.query(&reason).expect("reason").is_empty());
    let limited = Query {
        limit: Some(3),
        ..Query::default()
    };
    assert_eq!(j.query(&limited).expect("limit").len(), 3);
}

#[test]
fn a_query_without_inputs_returns_the_same_records_with_inputs_left_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    for i in 0..12 {
        j.append(stress_record(i, T0)).expect("append");
    }
    let full = j.query(&Query::default()).expect("full");
    let bare = j
        .query(&Query {
            without_inputs: true,
            ..Query::default()
        })
        .expect("bare");
    assert_eq!(full.len(), 12);
    assert_eq!(bare.len(), full.len());
    for (f, b) in full.iter().zip(&bare) {
        assert!(
            f.inputs.get("core").is_some(),
            "the stress record carries core inputs"
        );
        assert!(b.inputs.is_null());
        let mut f = f.clone();
        f.inputs = serde_json::Value::Null;
        assert_eq!(&f, b, "everything but inputs is the same");
    }
}

#[test]
fn heartbeat_is_due_when_nothing_was_appended_for_the_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    assert!(j.heartbeat_due(0, Duration::from_secs(30)));
    let mut r = rec(0);
    r.mono_ms = 1_000;
    j.append(r).expect("append");
    assert!(!j.heartbeat_due(30_999, Duration::from_secs(30)));
    assert!(j.heartbeat_due(31_000, Duration::from_secs(30)));
}

#[test]
fn the_in_memory_backend_holds_a_working_journal() {
    let mut j = Journal::open_with_backend(redb::backends::InMemoryBackend::new(), cfg())
        .expect("open in memory");
    j.append(rec(0)).expect("append");
    assert_eq!(j.tail(5).expect("tail").len(), 1);
}

/// A synthetic v0 file: `records` without `forging`, `meta.format_version = 0`, no index.
fn write_v0(path: &Path) {
    let db = redb::Database::create(path).expect("create");
    let txn = db.begin_write().expect("write");
    {
        let mut records = txn.open_table(V0_RECORDS).expect("records");
        for (i, role) in ["candidate", "leader", "demoting"].iter().enumerate() {
            let mut v = serde_json::to_value(rec(i as i64)).expect("to value");
            let map = v.as_object_mut().expect("object");
            map.remove("forging");
            map.insert("role".into(), serde_json::json!(role));
            map.insert("seq".into(), serde_json::json!(i + 1));
            records
                .insert(
                    (i + 1) as u64,
                    serde_json::to_vec(&v).expect("bytes").as_slice(),
                )
                .expect("insert");
        }
        let mut meta = txn.open_table(META).expect("meta");
        meta.insert(META_FORMAT_VERSION, 0).expect("version");
    }
    txn.commit().expect("commit");
}

#[test]
fn a_v0_file_is_migrated_by_the_writer_with_forging_inferred_from_the_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v0");
    write_v0(&path);
    let mut j = Journal::open(&path, cfg()).expect("open migrates");
    let all = j.query(&Query::default()).expect("query");
    assert_eq!(
        all.iter().map(|r| r.forging).collect::<Vec<_>>(),
        vec![false, true, false]
    );
    assert_eq!(j.stats().expect("stats").format_version, FORMAT_VERSION);
    assert_eq!(
        j.append(rec(9)).expect("append"),
        4,
        "seq continues after the migrated ones"
    );
    let window = Query {
        since_ms: Some(T0 + 1000),
        until_ms: Some(T0 + 1000),
        ..Query::default()
    };
    assert_eq!(j.query(&window).expect("index built").len(), 1);
}

/// Writes an old journal from 40 stress records: plain JSON heads and bodies (as v1 and v2 stored them),
/// `version` in `meta`, and without `records_by_field` for v1.
fn write_old(path: &Path, version: u64) {
    {
        let mut j = Journal::open(path, cfg()).expect("open");
        for i in 0..40 {
            j.append(stress_record(i, T0)).expect("append");
        }
    }
    let db = redb::Database::open(path).expect("raw open");
    let txn = db.begin_write().expect("txn");
    if version < 2 {
        assert!(
            txn.delete_table(BY_FIELD).expect("delete"),
            "v2 has the index"
        );
    }
    type Unpack =
        for<'a> fn(&'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, super::codec::StoredError>;
    let plain: [(redb::TableDefinition<u64, &[u8]>, Unpack); 2] = [
        (HEADS, super::codec::head_json),
        (BODIES, super::codec::body_json),
    ];
    for (table, unpack) in plain {
        let mut t = txn.open_table(table).expect("table");
        let json: Vec<(u64, Vec<u8>)> = t
            .iter()
            .expect("iter")
            .map(|e| {
                let (k, v) = e.expect("entry");
                (k.value(), unpack(v.value()).expect("unpack").into_owned())
            })
            .collect();
        for (seq, json) in json {
            t.insert(seq, json.as_slice()).expect("plain value");
        }
    }
    txn.open_table(META)
        .expect("meta")
        .insert(META_FORMAT_VERSION, version)
        .expect("version");
    txn.commit().expect("commit");
}

fn write_v1(path: &Path) {
    write_old(path, 1);
}

/// The first byte of every stored head or body, by seq.
fn tags(db: &redb::Database, table: redb::TableDefinition<u64, &[u8]>) -> Vec<(u64, u8)> {
    let txn = redb::ReadableDatabase::begin_read(db).expect("read");
    let t = txn.open_table(table).expect("table");
    t.iter()
        .expect("iter")
        .map(|e| {
            let (k, v) = e.expect("entry");
            (k.value(), v.value()[0])
        })
        .collect()
}

#[test]
fn a_v2_file_with_plain_records_reads_unchanged_and_new_records_are_compressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = dir.path().join("v3");
    {
        let mut j = Journal::open(&fresh, cfg()).expect("open");
        for i in 0..40 {
            j.append(stress_record(i, T0)).expect("append");
        }
    }
    let path = dir.path().join("v2");
    write_old(&path, 2);
    let before = hash(&path);
    let export = |r: &JournalReader| {
        let mut out = Vec::new();
        r.write_jsonl(&Query::default(), &mut out).expect("export");
        out
    };
    let r = JournalReader::open(&path).expect("a v3 reader reads v2");
    assert_eq!(r.format_version_on_disk(), 2);
    let expected = export(&JournalReader::open(&fresh).expect("fresh"));
    assert_eq!(
        export(&r),
        expected,
        "plain and compressed bodies read alike"
    );
    drop(r);
    assert_eq!(hash(&path), before, "the reader never writes");

    let mut j = Journal::open(&path, cfg()).expect("writer migrates");
    assert_eq!(j.stats().expect("stats").format_version, FORMAT_VERSION);
    j.append(stress_record(40, T0)).expect("append");
    for table in [HEADS, BODIES] {
        let tags = tags(j.database(), table);
        assert!(
            tags[..40].iter().all(|&(_, t)| t == b'{'),
            "old values are not rewritten"
        );
        assert_eq!(tags[40], (41, 1), "a new value is compressed");
    }
    assert_eq!(j.query(&Query::default()).expect("query").len(), 41);
}

fn pod_kind_query() -> Query {
    Query {
        pod: Some("bp-1".into()),
        kind: Some(RecordKind::Action),
        ..Query::default()
    }
}

#[test]
fn a_v1_file_gets_its_field_index_from_the_writer_and_in_memory_from_the_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1");
    write_v1(&path);
    let before = hash(&path);
    let r = JournalReader::open(&path).expect("reader migrates in memory");
    assert_eq!(r.format_version_on_disk(), 1);
    let seqs = |v: Vec<JournalRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(r.query(&pod_kind_query()).expect("query")),
        vec![2, 22]
    );
    drop(r);
    assert_eq!(hash(&path), before, "the reader never writes");
    let mut j = Journal::open(&path, cfg()).expect("writer migrates");
    assert_eq!(j.stats().expect("stats").format_version, FORMAT_VERSION);
    assert_eq!(
        seqs(j.query(&pod_kind_query()).expect("query")),
        vec![2, 22]
    );
    j.append(stress_record(41, T0)).expect("append");
    assert_eq!(
        seqs(j.query(&pod_kind_query()).expect("query")),
        vec![2, 22, 41],
        "an append after the migration is indexed"
    );
}

#[test]
fn the_field_index_follows_pruning_and_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(
        dir.path().join("j"),
        JournalConfig {
            max_records: Some(25),
            ..cfg()
        },
    )
    .expect("open");
    for i in 0..40 {
        j.append(stress_record(i, T0)).expect("append");
    }
    let seqs = |v: Vec<JournalRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(j.query(&pod_kind_query()).expect("query")), vec![22]);
    let entries = |db: &redb::Database| {
        let txn = redb::ReadableDatabase::begin_read(db).expect("read");
        let t = txn.open_table(BY_FIELD).expect("index");
        redb::ReadableTableMetadata::len(&t).expect("len")
    };
    assert_eq!(
        entries(j.database()),
        25 * 4,
        "pruned records leave no entry"
    );
    let snap = dir.path().join("snap");
    j.snapshot_to(&snap).expect("snapshot");
    drop(j);
    let r = JournalReader::open(&snap).expect("reader");
    assert_eq!(seqs(r.query(&pod_kind_query()).expect("query")), vec![22]);
}

#[test]
fn a_v0_file_is_read_by_the_reader_without_being_modified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v0");
    write_v0(&path);
    let before = hash(&path);
    let r = JournalReader::open(&path).expect("reader migrates its copy");
    assert_eq!(r.format_version_on_disk(), 0);
    assert_eq!(r.query(&Query::default()).expect("query").len(), 3);
    drop(r);
    assert_eq!(hash(&path), before);
}

#[test]
fn a_newer_format_version_is_refused_by_writer_and_reader_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v99");
    {
        let db = redb::Database::create(&path).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(META)
            .expect("meta")
            .insert(META_FORMAT_VERSION, 99)
            .expect("insert");
        txn.commit().expect("commit");
    }
    let before = hash(&path);
    let err = Journal::open(&path, cfg()).expect_err("newer refused");
    assert!(
        matches!(err, OpenError::NewerVersion { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    let err = JournalReader::open(&path).expect_err("newer refused");
    assert!(
        matches!(err, OpenError::NewerVersion { found: 99, .. }),
        "{err}"
    );
    assert_eq!(hash(&path), before);
}

#[test]
fn a_redb_file_that_is_not_a_journal_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).expect("create");
        let txn = db.begin_write().expect("write");
        txn.open_table(redb::TableDefinition::<u64, u64>::new("other"))
            .expect("table")
            .insert(1, 2)
            .expect("insert");
        txn.commit().expect("commit");
    }
    let before = hash(&path);
    assert!(matches!(
        Journal::open(&path, cfg()),
        Err(OpenError::NotAJournal { .. })
    ));
    assert!(matches!(
        JournalReader::open(&path),
        Err(OpenError::NotAJournal { .. })
    ));
    assert_eq!(hash(&path), before);
}

#[test]
fn a_file_that_is_not_redb_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is not a database\n").expect("write");
    let before = hash(&path);
    assert!(matches!(
        Journal::open(&path, cfg()),
        Err(OpenError::NotRedb { .. })
    ));
    assert!(matches!(
        JournalReader::open(&path),
        Err(OpenError::NotRedb { .. })
    ));
    assert_eq!(hash(&path), before);
}

#[test]
fn a_missing_file_is_reported_by_the_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        JournalReader::open(dir.path().join("absent")),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn a_truncated_journal_is_refused_with_a_clear_error_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good");
    write_journal(&good, 300);
    let bytes = std::fs::read(&good).expect("read");
    for cut in [5usize, 100, 4096, bytes.len() / 2, bytes.len() - 1] {
        let path = dir.path().join(format!("cut-{cut}"));
        std::fs::write(&path, &bytes[..cut]).expect("write");
        let before = hash(&path);
        let err = JournalReader::open(&path).expect_err("truncated refused");
        assert!(
            matches!(err, OpenError::NotRedb { .. } | OpenError::Corrupt { .. }),
            "cut {cut}: {err}"
        );
        assert_eq!(hash(&path), before, "cut {cut}: reader modified the file");
        let err = Journal::open(&path, cfg()).expect_err("truncated refused");
        assert!(
            matches!(err, OpenError::NotRedb { .. } | OpenError::Corrupt { .. }),
            "cut {cut}: {err}"
        );
        assert_eq!(hash(&path), before, "cut {cut}: writer modified the file");
    }
}

#[test]
fn a_journal_with_flipped_bytes_is_refused_without_a_panic_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good");
    write_journal(&good, 300);
    let bytes = std::fs::read(&good).expect("read");
    // Flip bytes in every 4 KiB page after the header: wherever data lives, some flip hits it.
    let mut bad = bytes.clone();
    for page in 1..(bad.len() / 4096) {
        let at = page * 4096 + 700;
        bad[at] ^= 0x5a;
    }
    let path = dir.path().join("flipped");
    std::fs::write(&path, &bad).expect("write");
    let before = hash(&path);
    let err = JournalReader::open(&path).expect_err("corruption detected");
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    let err = Journal::open(&path, cfg()).expect_err("corruption detected");
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    assert_eq!(hash(&path), before);
}

#[test]
fn a_journal_held_by_a_writer_is_refused_at_once_with_the_in_use_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    let _writer = Journal::open(&path, cfg()).expect("open");
    let start = std::time::Instant::now();
    let err = JournalReader::open(&path).expect_err("locked");
    assert!(matches!(err, OpenError::InUse { .. }), "{err}");
    assert!(err.to_string().contains(IN_USE_HINT));
    let err = Journal::open(&path, cfg()).expect_err("locked");
    assert!(matches!(err, OpenError::InUse { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "never waits for the lock"
    );
}

#[test]
fn a_snapshot_is_a_complete_journal_with_the_same_seqs_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::open(dir.path().join("j"), cfg()).expect("open");
    for i in 0..120 {
        j.append(stress_record(i, T0)).expect("append");
    }
    let snap = dir.path().join("snap");
    assert_eq!(j.snapshot_to(&snap).expect("snapshot"), 120);
    j.append(rec(500)).expect("the writer goes on");
    let r = JournalReader::open(&snap).expect("snapshot opens");
    assert_eq!(r.stats().expect("stats").records, 120);
    assert_eq!(r.stats().expect("stats").last_seq, 120);
    assert_eq!(
        r.query(&Query::default()).expect("query"),
        j.query(&Query {
            limit: Some(120),
            ..Query::default()
        })
        .expect("query")
    );
    assert!(matches!(
        j.snapshot_to(&snap),
        Err(SnapshotError::Exists { .. })
    ));
}

#[test]
fn a_reader_sees_a_durable_journal_written_and_closed_by_a_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    {
        let mut j = Journal::open(
            &path,
            JournalConfig {
                sync: SyncMode::Durable,
                ..JournalConfig::default()
            },
        )
        .expect("open");
        j.append(rec(0)).expect("append");
    }
    let before = hash(&path);
    let r = JournalReader::open(&path).expect("reader");
    assert_eq!(r.tail(10).expect("tail").len(), 1);
    drop(r);
    let ro = redb::ReadOnlyDatabase::open(&path).expect("plain redb read-only open");
    let txn = redb::ReadableDatabase::begin_read(&ro).expect("read");
    assert_eq!(
        txn.open_table(HEADS)
            .expect("records")
            .iter()
            .expect("iter")
            .count(),
        1
    );
    drop(txn);
    drop(ro);
    assert_eq!(hash(&path), before);
}

#[test]
fn opening_leaves_no_file_behind_and_several_readers_coexist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    write_journal(&path, 3);
    drop(Journal::open(&path, cfg()).expect("reopen"));
    let r1 = JournalReader::open(&path).expect("first reader");
    let r2 = JournalReader::open(&path).expect("second reader at the same time");
    assert_eq!(r1.tail(9).expect("tail"), r2.tail(9).expect("tail"));
    assert!(
        matches!(Journal::open(&path, cfg()), Err(OpenError::InUse { .. })),
        "no writer while a reader is open"
    );
    drop((r1, r2));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["j".to_string()]);
    Journal::open(&path, cfg()).expect("the writer opens once readers are gone");
}

#[test]
fn a_journal_in_a_missing_directory_is_a_create_error_not_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Journal::open(dir.path().join("no/such/dir/j"), cfg()).expect_err("no directory");
    assert!(matches!(err, OpenError::Create { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot create the journal file"),
        "{err}"
    );
}

#[test]
fn the_file_stops_growing_under_retention_in_both_sync_modes() {
    for sync in [SyncMode::Durable, SyncMode::Buffered] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut j = Journal::open(
            &path,
            JournalConfig {
                max_records: Some(50),
                sync,
                ..JournalConfig::default()
            },
        )
        .expect("open");
        let mut sizes = Vec::new();
        for round in 0..4 {
            for i in 0..250 {
                j.append(stress_record(round * 250 + i, T0))
                    .expect("append");
            }
            sizes.push(std::fs::metadata(&path).expect("metadata").len());
        }
        assert!(
            sizes[3] <= sizes[1],
            "{sync:?}: file keeps growing under a 50-record bound: {sizes:?}"
        );
    }
}
