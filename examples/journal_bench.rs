//! Journal benchmark: durable append latency, pruning cost, and queries over a large journal.
//!
//! `cargo run --release --example journal_bench -- --records 1000000 [--appends 2000] [--dir DIR]`
//!
//! Prints plain lines; the numbers in docs/performance.md come from one run of this.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use forge_manager::journal::demo::stress_record;
use forge_manager::journal::{
    Journal, JournalConfig, JournalReader, JournalWriter, MAX_BATCH, Query, ReadJournal,
    RecordKind, SyncMode,
};

const START_MS: i64 = 1_795_600_800_000;

struct Args {
    records: u64,
    appends: usize,
    dir: PathBuf,
}

/// `q` with `inputs` left undecoded, as the CLI's table output reads.
fn bare(q: &Query) -> Query {
    Query {
        without_inputs: true,
        ..q.clone()
    }
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        records: 1_000_000,
        appends: 2_000,
        dir: PathBuf::from("target/journal-bench"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--records" => a.records = value.parse()?,
            "--appends" => a.appends = value.parse()?,
            "--dir" => a.dir = value.into(),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

fn unbounded(sync: SyncMode) -> JournalConfig {
    JournalConfig {
        retention: None,
        max_records: None,
        max_bytes: None,
        prune_per_append: 64,
        sync,
        cache_bytes: JournalConfig::default().cache_bytes,
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let pct = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i.min(samples.len() - 1)]
    };
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
}

fn timed<T>(name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let t = Instant::now();
    let v = f()?;
    println!("{name}: {:.3} s", t.elapsed().as_secs_f64());
    Ok(v)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)?;
    for f in ["append.journal", "big.journal", "big-snapshot.journal"] {
        let _ = std::fs::remove_file(args.dir.join(f));
    }
    println!("dir: {}", args.dir.display());

    // 1. Append latency on a fresh journal.
    let mut j = Journal::open(
        args.dir.join("append.journal"),
        unbounded(SyncMode::Durable),
    )?;
    let mut samples = Vec::with_capacity(args.appends);
    for i in 0..args.appends as u64 {
        let r = stress_record(i, START_MS);
        let t = Instant::now();
        j.append(r)?;
        samples.push(t.elapsed());
    }
    report("durable append (1 record, fsync)", samples);
    let mut samples = Vec::new();
    let base = j.last_seq();
    for b in 0..(args.appends as u64 / 16) {
        let rs: Vec<_> = (0..16)
            .map(|k| stress_record(base + b * 16 + k, START_MS))
            .collect();
        let t = Instant::now();
        j.append_many(rs)?;
        samples.push(t.elapsed());
    }
    report("durable append_many (16 records, one fsync)", samples);
    drop(j);
    let mut j = Journal::open(
        args.dir.join("append.journal"),
        unbounded(SyncMode::Buffered),
    )?;
    let mut samples = Vec::new();
    let base = j.last_seq();
    for i in 0..args.appends as u64 {
        let r = stress_record(base + i, START_MS);
        let t = Instant::now();
        j.append(r)?;
        samples.push(t.elapsed());
    }
    report("buffered append (1 record, no fsync)", samples);
    drop(j);

    // 1b. The control loop's path: JournalWriter::record (queue only) with a durable writer thread.
    let j = Journal::open(
        args.dir.join("append.journal"),
        unbounded(SyncMode::Durable),
    )?;
    let w = JournalWriter::spawn(j, 4_096)?;
    let mut samples = Vec::new();
    let base = w.committed_seq();
    for i in 0..args.appends as u64 {
        let r = stress_record(base + i, START_MS);
        let t = Instant::now();
        w.record(r)?;
        samples.push(t.elapsed());
        std::thread::sleep(Duration::from_micros(500));
    }
    report(
        "JournalWriter::record, one every 0.5 ms (durable thread behind)",
        samples,
    );
    let mut samples = Vec::new();
    let base = base + args.appends as u64;
    for i in 0..1_000u64 {
        let r = stress_record(base + i, START_MS);
        let t = Instant::now();
        w.record(r)?;
        samples.push(t.elapsed());
    }
    report("JournalWriter::record, burst of 1000 back to back", samples);
    let t = Instant::now();
    let dropped = w.dropped();
    let j = w
        .close()
        .ok_or_else(|| anyhow::anyhow!("writer thread panicked"))?;
    println!(
        "  -> dropped {dropped}, drain+close {:.3} s, last seq {}",
        t.elapsed().as_secs_f64(),
        j.last_seq()
    );
    drop(j);

    // 2. A large journal (filled in big buffered batches, then one durable commit).
    let big = args.dir.join("big.journal");
    timed(
        &format!(
            "fill {} records (batches of {MAX_BATCH}, buffered)",
            args.records
        ),
        || {
            let mut j = Journal::open(&big, unbounded(SyncMode::Buffered))?;
            let mut i = 0u64;
            while i < args.records {
                let n = (args.records - i).min(MAX_BATCH as u64);
                j.append_many((i..i + n).map(|k| stress_record(k, START_MS)))?;
                i += n;
            }
            j.flush()?;
            Ok(())
        },
    )?;
    let size = std::fs::metadata(&big)?.len();
    println!(
        "file size: {size} bytes ({:.1} MiB, {:.0} bytes/record)",
        size as f64 / (1 << 20) as f64,
        size as f64 / args.records.max(1) as f64
    );

    // 3. Writer reopen (includes the verified private copy) and queries on the open writer.
    let j = timed("writer reopen (verified open + checks)", || {
        Ok(Journal::open(&big, unbounded(SyncMode::Durable))?)
    })?;
    let hour = Query {
        since_ms: Some(START_MS + 500_000_000),
        until_ms: Some(START_MS + 500_000_000 + 3_599_000),
        ..Query::default()
    };
    let day = Query {
        since_ms: Some(START_MS + 500_000_000),
        until_ms: Some(START_MS + 500_000_000 + 86_399_000),
        ..Query::default()
    };
    let pod = Query {
        pod: Some("bp-2".into()),
        ..Query::default()
    };
    let pod_kind = Query {
        pod: Some("bp-1".into()),
        kind: Some(RecordKind::Action),
        ..Query::default()
    };
    let count = |j: &Journal, q: &Query| -> anyhow::Result<u64> {
        let mut n = 0;
        j.query_each(q, |_| {
            n += 1;
            true
        })?;
        Ok(n)
    };
    for (name, q) in [
        ("query --since/--until 1 h window", &hour),
        ("query --since/--until 24 h window", &day),
        ("query --pod bp-2 (1/4 of records match)", &pod),
        ("query --pod bp-1 --kind action (1/40 match)", &pod_kind),
        ("query all (full decode of every record)", &Query::default()),
        (
            "query --since/--until 24 h window, without inputs",
            &bare(&day),
        ),
        (
            "query --pod bp-2, without inputs (the CLI's table)",
            &bare(&pod),
        ),
        ("query all, without inputs", &bare(&Query::default())),
    ] {
        let n = timed(name, || count(&j, q))?;
        println!("  -> {n} records");
    }

    // 4. Pruning at steady state: a bound below the current count, 64 deletions per append.
    drop(j);
    let mut j = Journal::open(
        &big,
        JournalConfig {
            max_records: Some(args.records.saturating_sub(10_000).max(1)),
            retention: None,
            max_bytes: None,
            prune_per_append: 64,
            sync: SyncMode::Durable,
            cache_bytes: JournalConfig::default().cache_bytes,
        },
    )?;
    let mut samples = Vec::new();
    let base = j.last_seq();
    for i in 0..500u64 {
        let r = stress_record(base + i, START_MS);
        let t = Instant::now();
        j.append(r)?;
        samples.push(t.elapsed());
    }
    report("durable append while pruning 64 old records each", samples);
    timed("snapshot_to (consistent copy)", || {
        Ok(j.snapshot_to(args.dir.join("big-snapshot.journal"))?)
    })?;
    drop(j);

    // 5. What the CLI pays: verified read-only open, then a query.
    let r = timed(
        "reader open (CLI: in-memory overlay + integrity check)",
        || Ok(JournalReader::open(&big)?),
    )?;
    let n = timed("reader query --since/--until 1 h window", || {
        Ok(r.count(&hour)?)
    })?;
    println!("  -> {n} records");
    let n = timed("reader query --pod bp-2 (decoded records)", || {
        Ok(r.count(&pod)?)
    })?;
    println!("  -> {n} records");
    let n = timed(
        "reader query --pod bp-2, without inputs (the CLI's table)",
        || Ok(r.count(&bare(&pod))?),
    )?;
    println!("  -> {n} records");
    let mut sink = std::io::sink();
    let n = timed(
        "reader query --pod bp-2 -o jsonl (stored bytes to a sink)",
        || Ok(r.write_jsonl(&pod, &mut sink)?),
    )?;
    println!("  -> {n} records");
    let n = timed("reader query --pod bp-9 (no match: head scan only)", || {
        Ok(r.count(&Query {
            pod: Some("bp-9".into()),
            ..Query::default()
        })?)
    })?;
    println!("  -> {n} records");
    let n = timed("reader export, all records as JSON lines to a sink", || {
        Ok(r.write_jsonl(&Query::default(), &mut sink)?)
    })?;
    println!("  -> {n} records");
    Ok(())
}
