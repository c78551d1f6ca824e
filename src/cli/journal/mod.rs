//! `forge-manager journal VERB [OPTIONS] FILE…`: read decision journals after an incident.
//!
//! Every verb opens its files read-only through [`JournalReader`], which never writes them.
//!
//! Exit codes: 0 success; 1 `timeline` found an overlap (two or more pods believed they were
//! forging at once); 2 bad input (missing, corrupt or truncated file, newer format, not a journal,
//! bad arguments); 3 a file is in use by a running forge-manager (its writer holds the lock).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::reason::Reason;
use crate::journal::cluster_replay::{CLUSTER_KEY, ClusterOutput, replay_cluster};
use crate::journal::replay::{
    TimingOverride, actions_text, compared_values, core_inputs, counterfactuals, replay_record,
};
use crate::journal::timeline::{
    Firing, ForgingInterval, UnknownInterval, beliefs, clock_tolerance_ms, supported_overlaps,
};
use crate::journal::watchdog_log;

use super::journal_source::{self, RemoteError, Source, SourceError};

mod explain;
mod replay;
mod timeline;

use crate::journal::{
    JournalReader, JournalRecord, OpenError, Query, QueryError, ReadJournal, RecordKind,
    parse_time_bound, wall_ms,
};
use explain::*;
use replay::*;
use timeline::*;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code of `timeline` when an overlap was found.
pub const EXIT_OVERLAP: i32 = 1;
/// Exit code for bad input.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code when a journal is held by a running writer.
pub const EXIT_IN_USE: i32 = 3;

/// `forge-manager journal …`
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 ok; 1 timeline found an overlap; 2 bad input (corrupt, truncated, newer format, not a journal); 3 journal in use by a running forge-manager."
)]
pub struct JournalArgs {
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// Output formats of `query` and `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// One JSON array (or object for `stats`).
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// The journal verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// The last records, for people.
    Tail {
        /// How many records.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        n: usize,
        /// Keep polling the file (read-only, every 500 ms) and print new records. Fails at once if
        /// a running forge-manager holds the file.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Journal files (several are merged by wall time; --follow takes one). Default:
        /// JOURNAL_PATH.
        files: Vec<PathBuf>,
    },
    /// Records matching filters.
    Query {
        /// From this time: RFC 3339, or a duration (15m, 2h) before the newest record.
        #[arg(long)]
        since: Option<String>,
        /// Until this time (inclusive), same forms as --since.
        #[arg(long)]
        until: Option<String>,
        /// Only this pod.
        #[arg(long)]
        pod: Option<String>,
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// Only this kind (decision, action, heartbeat, lease_change, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Only this reason (snake_case, e.g. lease_lost).
        #[arg(long)]
        reason: Option<String>,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Journal files (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
    /// Who forged at an instant in each pod's view, and the decisions that led there.
    Explain {
        /// The instant: RFC 3339, or a duration before the newest record.
        #[arg(long)]
        at: String,
        /// Walk back across this many role changes (1: to the last role change).
        #[arg(long, default_value_t = 1)]
        changes: usize,
        /// Journal files (one per pod) (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
    /// Merge pods' journals by wall time and flag every interval where two or more pods believed
    /// they were forging. Exit 0 without overlap, 1 with.
    Timeline {
        /// Print only the overlaps and the summary, not every record.
        #[arg(long)]
        overlaps_only: bool,
        /// Ignore overlaps shorter than this (e.g. 500ms, for known clock skew between pods).
        #[arg(long, default_value = "0ms")]
        min_overlap: String,
        /// Journal files (one per pod) (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
    /// Re-run the core's decisions on each record's recorded inputs: "N decisions replayed, all
    /// identical", or the first divergence side by side (exit 1). With --timing, a what-if.
    Replay {
        /// From this time: RFC 3339, or a duration (15m, 2h) before the newest record.
        #[arg(long)]
        from: Option<String>,
        /// Until this time (inclusive), same forms as --from.
        #[arg(long)]
        to: Option<String>,
        /// What-if: replay the same observations under other timing (lease=20s,renew=12s; keys
        /// lease, renew, retry, api, demotion, verify) and list the decisions that would differ.
        #[arg(long)]
        timing: Option<String>,
        /// Journal files (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
    /// Every record as JSON lines.
    Export {
        /// Journal files (exported one after the other) (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
    /// Record count, size, time span, per-kind counts, format version.
    Stats {
        /// Output format (table = text).
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Journal files (default: JOURNAL_PATH; through the sidecar when it runs).
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Open(Box<OpenError>),
    #[error(transparent)]
    Remote(Box<RemoteError>),
    #[error("{path}: {source}")]
    Query {
        path: PathBuf,
        #[source]
        source: Box<QueryError>,
    },
    #[error("{0}")]
    Usage(String),
    #[error("writing output failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<OpenError> for CliError {
    fn from(e: OpenError) -> Self {
        CliError::Open(Box::new(e))
    }
}

impl From<SourceError> for CliError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Open(e) => CliError::Open(e),
            SourceError::Remote(e) => CliError::Remote(e),
        }
    }
}

type CliResult = Result<i32, CliError>;

fn q(path: &Path) -> impl FnOnce(QueryError) -> CliError + '_ {
    move |source| CliError::Query {
        path: path.into(),
        source: Box::new(source),
    }
}

/// Runs a journal verb; returns the process exit code. Errors go to stderr.
pub fn run(args: JournalArgs) -> i32 {
    let stdout = std::io::stdout();
    // Large writes: an export or a broad query prints hundreds of MB, and each write is a system
    // call (8 KiB buffers cost about a tenth of a 1M-record query).
    let mut out = BufWriter::with_capacity(256 << 10, stdout.lock());
    run_to(args, &mut out, &mut std::io::stderr())
}

/// [`run`] writing to `out` and `err` (tests read what a command prints).
pub fn run_to(args: JournalArgs, out: &mut impl Write, err: &mut impl Write) -> i32 {
    let result = match args.verb {
        Verb::Tail { n, follow, files } => tail(out, n, follow, &or_default(files)),
        Verb::Query {
            since,
            until,
            pod,
            region,
            kind,
            reason,
            output,
            files,
        } => query(
            out,
            QueryArgs {
                since,
                until,
                pod,
                region,
                kind,
                reason,
            },
            output,
            &or_default(files),
        ),
        Verb::Explain { at, changes, files } => explain(out, &at, changes, &or_default(files)),
        Verb::Timeline {
            overlaps_only,
            min_overlap,
            files,
        } => timeline(out, overlaps_only, &min_overlap, &or_default(files)),
        Verb::Replay {
            from,
            to,
            timing,
            files,
        } => replay(out, from, to, timing.as_deref(), &or_default(files)),
        Verb::Export { files } => export(out, &or_default(files)),
        Verb::Stats { output, files } => stats(out, output, &or_default(files)),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(CliError::Io));
    match result {
        Ok(code) => code,
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "forge-manager journal: {e}");
            match e {
                CliError::Open(e) if matches!(*e, OpenError::InUse { .. }) => EXIT_IN_USE,
                CliError::Remote(_) => EXIT_IN_USE,
                _ => EXIT_BAD_INPUT,
            }
        }
    }
}

/// The FILE arguments, or `JOURNAL_PATH` when there are none.
fn or_default(files: Vec<PathBuf>) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![journal_source::default_journal()]
    } else {
        files
    }
}

fn open_all(files: &[PathBuf]) -> Result<Vec<Source>, CliError> {
    files
        .iter()
        .map(|f| journal_source::open(f).map_err(CliError::from))
        .collect()
}

fn label(r: &JournalRecord) -> String {
    format!("{}/{}", r.region, r.pod)
}

fn human_line(r: &JournalRecord) -> String {
    format!(
        "{}  {:<16} #{:<7} {:<17} {:<10} {:<7} {:<24} {}",
        r.wall,
        label(r),
        r.seq,
        r.kind.as_str(),
        r.role,
        if r.forging { "FORGING" } else { "-" },
        r.reason.as_str(),
        r.message
    )
}

fn write_human(out: &mut impl Write, r: &JournalRecord) -> std::io::Result<()> {
    writeln!(out, "{}", human_line(r))?;
    for a in &r.actions {
        if a.detail.is_empty() {
            writeln!(out, "{:>30}-> {}: {}", "", a.action, a.result)?;
        } else {
            writeln!(
                out,
                "{:>30}-> {}: {} ({})",
                "", a.action, a.result, a.detail
            )?;
        }
    }
    Ok(())
}

fn header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<24}  {:<16} {:<8} {:<17} {:<10} {:<7} {:<24} MESSAGE",
        "WALL", "REGION/POD", "SEQ", "KIND", "ROLE", "FORGING", "REASON"
    )
}

/// Sort key of merged records: wall time, then pod, then seq.
fn merge_key(r: &JournalRecord) -> (i64, String, String, u64) {
    (
        wall_ms(&r.wall).unwrap_or(i64::MIN),
        r.pod.clone(),
        r.region.clone(),
        r.seq,
    )
}

/// Several sources' records on one axis, by wall time, each source keeping its own order (a
/// journal's is the order its pod decided in). A pod whose wall clock jumped back (an NTP step,
/// a VM restored) is still read in its own order: sorted by wall time alone, its later records
/// came before its earlier ones, and a journal seemed to stop where it had gone on (chaos seed
/// 6604, a clock stepped hours back).
fn merge_sources(sources: Vec<Vec<JournalRecord>>) -> Vec<JournalRecord> {
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<JournalRecord>>> = sources
        .into_iter()
        .map(|s| s.into_iter().peekable())
        .collect();
    let mut out = Vec::new();
    loop {
        let next = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(i, h)| h.peek().map(|r| (merge_key(r), i)))
            .min()
            .map(|(_, i)| i);
        match next.and_then(|i| heads[i].next()) {
            Some(r) => out.push(r),
            None => return out,
        }
    }
}

/// Where a source's wall clock went back by more than a second between two of its records, in
/// its own order: (the record before, the record after, how far back in ms).
fn clock_steps_back(records: &[JournalRecord]) -> Vec<(&JournalRecord, &JournalRecord, i64)> {
    records
        .windows(2)
        .filter_map(|w| {
            let back = wall_ms(&w[0].wall)? - wall_ms(&w[1].wall)?;
            (back > 1_000).then_some((&w[0], &w[1], back))
        })
        .collect()
}

fn tail(out: &mut impl Write, n: usize, follow: bool, files: &[PathBuf]) -> CliResult {
    if follow && files.len() != 1 {
        return Err(CliError::Usage("--follow takes exactly one file".into()));
    }
    // `-f` polls the file itself, so it needs the file, not a snapshot through the sidecar.
    let sources = if follow {
        vec![Source::file(JournalReader::open(&files[0])?, &files[0])]
    } else {
        open_all(files)?
    };
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let mut per_file = Vec::new();
    for (r, path) in readers.iter().zip(files) {
        per_file.push(r.tail(n).map_err(q(path))?);
    }
    let mut all = merge_sources(per_file);
    if readers.len() > 1 {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    for r in &all {
        write_human(out, r)?;
    }
    out.flush()?;
    if !follow {
        return Ok(EXIT_OK);
    }
    drop(readers);
    drop(sources);
    let path = &files[0];
    let mut last_seq = all.last().map(|r| r.seq).unwrap_or(0);
    let mut last_stamp = file_stamp(path);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let stamp = file_stamp(path);
        if stamp == last_stamp {
            continue;
        }
        last_stamp = stamp;
        let reader = JournalReader::open(path)?;
        // Bounded per poll; a huge backlog is printed over several polls.
        let new = reader.after(last_seq, 10_000).map_err(q(path))?;
        for r in &new {
            write_human(out, r)?;
            last_seq = r.seq;
        }
        out.flush()?;
    }
}

fn file_stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

struct QueryArgs {
    since: Option<String>,
    until: Option<String>,
    pod: Option<String>,
    region: Option<String>,
    kind: Option<String>,
    reason: Option<String>,
}

fn parse_reason(text: &str) -> Option<Reason> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_ascii_lowercase())).ok()
}

fn build_query(
    a: &QueryArgs,
    readers: &[&JournalReader],
    files: &[PathBuf],
) -> Result<Query, CliError> {
    let mut newest: Option<i64> = None;
    if a.since.is_some() || a.until.is_some() {
        for (r, path) in readers.iter().zip(files) {
            if let Some(n) = r.newest_wall_ms().map_err(q(path))? {
                newest = Some(newest.map_or(n, |m| m.max(n)));
            }
        }
    }
    let bound = |t: &Option<String>| -> Result<Option<i64>, CliError> {
        t.as_deref()
            .map(|t| parse_time_bound(t, newest))
            .transpose()
            .map_err(|e| CliError::Usage(e.to_string()))
    };
    let kind = a
        .kind
        .as_deref()
        .map(|k| {
            RecordKind::parse(k).ok_or_else(|| {
                let names: Vec<_> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
                CliError::Usage(format!("unknown kind {k:?}; one of: {}", names.join(", ")))
            })
        })
        .transpose()?;
    let reason = a
        .reason
        .as_deref()
        .map(|r| parse_reason(r).ok_or_else(|| CliError::Usage(format!("unknown reason {r:?}"))))
        .transpose()?;
    Ok(Query {
        since_ms: bound(&a.since)?,
        until_ms: bound(&a.until)?,
        pod: a.pod.clone(),
        region: a.region.clone(),
        kind,
        reason,
        limit: None,
        without_inputs: false,
    })
}

fn query(out: &mut impl Write, a: QueryArgs, output: Output, files: &[PathBuf]) -> CliResult {
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let mut query = build_query(&a, &readers, files)?;
    // The table shows no inputs: they are not built (most of a record's decoding cost).
    query.without_inputs = output == Output::Table;
    if readers.len() == 1 && output == Output::Jsonl {
        // Fast path: stored bytes straight to the output.
        readers[0]
            .write_jsonl(&query, out)
            .map_err(|e| output_or_query(e, &files[0]))?;
        return Ok(EXIT_OK);
    }
    let mut emitter = Emitter::new(output);
    emitter.start(out)?;
    if readers.len() == 1 {
        // One file: stream in seq order, nothing buffered.
        let mut io_err = None;
        readers[0]
            .query_each(&query, |r| match emitter.emit(out, &r) {
                Ok(()) => true,
                Err(e) => {
                    io_err = Some(e);
                    false
                }
            })
            .map_err(q(&files[0]))?;
        if let Some(e) = io_err {
            return Err(e.into());
        }
    } else {
        let mut per_file = Vec::new();
        for (r, path) in readers.iter().zip(files) {
            per_file.push(r.query(&query).map_err(q(path))?);
        }
        for r in &merge_sources(per_file) {
            emitter.emit(out, r)?;
        }
    }
    emitter.finish(out)?;
    Ok(EXIT_OK)
}

struct Emitter {
    output: Output,
    first: bool,
}

impl Emitter {
    fn new(output: Output) -> Self {
        Emitter {
            output,
            first: true,
        }
    }
    fn start(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        match self.output {
            Output::Table => header(out),
            Output::Json => write!(out, "["),
            Output::Jsonl => Ok(()),
        }
    }
    fn emit(&mut self, out: &mut impl Write, r: &JournalRecord) -> std::io::Result<()> {
        match self.output {
            Output::Table => {
                let mut line = human_line(r);
                if !r.actions.is_empty() {
                    let acts: Vec<_> = r
                        .actions
                        .iter()
                        .map(|a| format!("{}={}", a.action, a.result))
                        .collect();
                    line.push_str(&format!(" [{}]", acts.join(", ")));
                }
                writeln!(out, "{line}")
            }
            Output::Json => {
                if !self.first {
                    write!(out, ",")?;
                }
                self.first = false;
                write!(out, "\n  ")?;
                serde_json::to_writer(&mut *out, r).map_err(std::io::Error::other)
            }
            Output::Jsonl => {
                serde_json::to_writer(&mut *out, r).map_err(std::io::Error::other)?;
                writeln!(out)
            }
        }
    }
    fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        match self.output {
            Output::Json => writeln!(out, "{}]", if self.first { "" } else { "\n" }),
            _ => Ok(()),
        }
    }
}

fn export(out: &mut impl Write, files: &[PathBuf]) -> CliResult {
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    for (reader, path) in readers.iter().zip(files) {
        reader
            .write_jsonl(&Query::default(), out)
            .map_err(|e| output_or_query(e, path))?;
    }
    Ok(EXIT_OK)
}

/// An output error stays an I/O error (a closed pipe ends quietly); anything else names the file.
fn output_or_query(e: QueryError, path: &Path) -> CliError {
    match e {
        QueryError::Output(io) => CliError::Io(io),
        other => CliError::Query {
            path: path.into(),
            source: Box::new(other),
        },
    }
}

fn stats(out: &mut impl Write, output: Output, files: &[PathBuf]) -> CliResult {
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let mut json = Vec::new();
    for (reader, path) in readers.iter().zip(files) {
        let s = reader.stats().map_err(q(path))?;
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let span = match (&s.oldest_wall, &s.newest_wall) {
            (Some(a), Some(b)) => match (wall_ms(a), wall_ms(b)) {
                (Some(x), Some(y)) => {
                    Some(Duration::from_millis(u64::try_from(y - x).unwrap_or(0)))
                }
                _ => None,
            },
            _ => None,
        };
        match output {
            Output::Table => {
                writeln!(out, "file:            {}", path.display())?;
                writeln!(
                    out,
                    "format version:  {}{}",
                    reader.format_version_on_disk(),
                    if reader.format_version_on_disk() < s.format_version {
                        format!(" (older; read as {} in memory)", s.format_version)
                    } else {
                        String::new()
                    }
                )?;
                writeln!(
                    out,
                    "records:         {} (seq {}..{})",
                    s.records,
                    s.first_seq
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "-".into()),
                    s.last_seq
                )?;
                writeln!(
                    out,
                    "size:            {file_bytes} bytes on disk, {} bytes of records",
                    s.record_bytes
                )?;
                writeln!(
                    out,
                    "time span:       {} .. {}{}",
                    s.oldest_wall.as_deref().unwrap_or("-"),
                    s.newest_wall.as_deref().unwrap_or("-"),
                    span.map(|d| format!(" ({})", human_duration(d)))
                        .unwrap_or_default()
                )?;
                let kinds: Vec<_> = s.per_kind.iter().map(|(k, v)| format!("{k}={v}")).collect();
                writeln!(out, "per kind:        {}", kinds.join(" "))?;
                writeln!(out)?;
            }
            Output::Json | Output::Jsonl => json.push(serde_json::json!({
                "file": path.display().to_string(),
                "file_bytes": file_bytes,
                "format_version_on_disk": reader.format_version_on_disk(),
                "stats": s,
                "span_ms": span.map(|d| d.as_millis() as u64),
            })),
        }
    }
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *out, &json).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Output::Jsonl => {
            for j in &json {
                serde_json::to_writer(&mut *out, j).map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
        }
        Output::Table => {}
    }
    Ok(EXIT_OK)
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}
