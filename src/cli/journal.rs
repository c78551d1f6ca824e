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
use crate::journal::replay::{
    Replayed, TimingOverride, actions_text, compared_values, core_inputs, counterfactuals,
    replay_record,
};
use crate::journal::timeline::{
    Firing, ForgingInterval, UnknownInterval, beliefs, clock_tolerance_ms, supported_overlaps,
};
use crate::journal::watchdog_log;

use super::journal_source::{self, RemoteError, Source, SourceError};
use crate::journal::{
    JournalReader, JournalRecord, OpenError, Query, QueryError, RecordKind, parse_time_bound,
    wall_ms,
};

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
    let mut all = Vec::new();
    for (r, path) in readers.iter().zip(files) {
        all.extend(r.tail(n).map_err(q(path))?);
    }
    if readers.len() > 1 {
        all.sort_by_key(merge_key);
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
    })
}

fn query(out: &mut impl Write, a: QueryArgs, output: Output, files: &[PathBuf]) -> CliResult {
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let query = build_query(&a, &readers, files)?;
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
        let mut all = Vec::new();
        for (r, path) in readers.iter().zip(files) {
            all.extend(r.query(&query).map_err(q(path))?);
        }
        all.sort_by_key(merge_key);
        for r in &all {
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

fn inputs_summary(v: &serde_json::Value) -> String {
    if v.is_null() {
        return String::new();
    }
    // The core's typed inputs are for `replay` (and the replayed decision below): the summary
    // shows the readable ones.
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove(crate::journal::replay::CORE_KEY);
        map.remove("server_clock");
    }
    let mut s = v.to_string();
    if s.len() > 240 {
        let mut cut = 237;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

fn explain(out: &mut impl Write, at: &str, changes: usize, files: &[PathBuf]) -> CliResult {
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let mut newest: Option<i64> = None;
    for (r, path) in readers.iter().zip(files) {
        if let Some(n) = r.newest_wall_ms().map_err(q(path))? {
            newest = Some(newest.map_or(n, |m| m.max(n)));
        }
    }
    let at_ms = parse_time_bound(at, newest).map_err(|e| CliError::Usage(e.to_string()))?;
    let at_text = jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| at_ms.to_string());
    let mut forging = Vec::new();
    for (reader, path) in readers.iter().zip(files) {
        let Some(e) = reader.explain(at_ms, changes).map_err(q(path))? else {
            writeln!(
                out,
                "{}: no record at or before {at_text}\n",
                path.display()
            )?;
            continue;
        };
        let a = &e.at;
        writeln!(
            out,
            "{} at {at_text}: role {}, {}",
            label(a),
            a.role,
            if a.forging {
                "FORGING (believed its node forged with the real keys)"
            } else {
                "not forging"
            }
        )?;
        if a.forging {
            forging.push(label(a));
        }
        writeln!(
            out,
            "  last record before that instant: #{} at {}",
            a.seq, a.wall
        )?;
        writeln!(
            out,
            "  how it got there (since {}):",
            if changes <= 1 {
                "the last role change".to_string()
            } else {
                format!("{changes} role changes back")
            }
        )?;
        match &e.previous {
            Some(p) => writeln!(
                out,
                "    before: {}  #{} role {} ({}): {}",
                p.wall, p.seq, p.role, p.reason, p.message
            )?,
            None => writeln!(out, "    before: (no earlier role kept in this journal)")?,
        }
        if e.steps_skipped > 0 {
            writeln!(out, "    ... {} earlier steps left out", e.steps_skipped)?;
        }
        for s in &e.steps {
            writeln!(
                out,
                "    {}  #{} {} -> role {}{} because {}: {}",
                s.wall,
                s.seq,
                s.kind,
                s.role,
                if s.forging { ", FORGING" } else { "" },
                s.reason,
                s.message
            )?;
            let inputs = inputs_summary(&s.inputs);
            if !inputs.is_empty() {
                writeln!(out, "        inputs: {inputs}")?;
            }
            for act in &s.actions {
                writeln!(
                    out,
                    "        action {}: {} {}",
                    act.action, act.result, act.detail
                )?;
            }
        }
        if e.heartbeats_skipped > 0 {
            writeln!(
                out,
                "    ({} heartbeats with the same role left out)",
                e.heartbeats_skipped
            )?;
        }
        explain_replayed(out, a)?;
        writeln!(out)?;
    }
    match forging.len() {
        0 => writeln!(out, "at {at_text}: no pod believed it was forging")?,
        1 => writeln!(out, "at {at_text}: {} forged", forging[0])?,
        _ => writeln!(
            out,
            "!! at {at_text}: {} all believed they were forging",
            join_and(&forging)
        )?,
    }
    Ok(EXIT_OK)
}

/// The replayed decision of record `a`: the rule that fired, the values it compared, and which
/// single input would have changed it.
fn explain_replayed(out: &mut impl Write, a: &JournalRecord) -> std::io::Result<()> {
    let Some(inputs) = core_inputs(a) else {
        return writeln!(
            out,
            "  (record #{} carries no core inputs: nothing to replay)",
            a.seq
        );
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(e) => return writeln!(out, "  (not replayed: {e})"),
    };
    let Some(Ok((step, d))) = replay_record(a, None) else {
        return Ok(());
    };
    writeln!(
        out,
        "  the decision of #{}, replayed: role {} because {}{}",
        a.seq,
        step.replayed.role.as_str(),
        step.replayed.reason.as_str(),
        if step.identical() {
            " (identical to the record)".to_owned()
        } else {
            format!(
                " (DIFFERS from the record, written by {}: journal replay shows how)",
                step.writer
            )
        }
    )?;
    writeln!(out, "    rule: {}", d.message)?;
    for v in compared_values(&inputs, &d) {
        writeln!(out, "    compared: {v}")?;
    }
    let changes = counterfactuals(&inputs);
    if changes.is_empty() {
        writeln!(
            out,
            "    no single changed input among eligibility, gate, node metrics and lease news would have changed it"
        )?;
    }
    for (what, o) in changes {
        writeln!(
            out,
            "    if {what}: role {} because {}, actions {}",
            o.role.as_str(),
            o.reason.as_str(),
            actions_text(&o.actions)
        )?;
    }
    Ok(())
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn fmt_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}

/// The watchdog's firings in `logs` (`FILE.watchdog`, the pod's own log), as records of
/// `region`; the same firing found in two logs counts once.
fn watchdog_records(logs: &[PathBuf], region: &str) -> Result<Vec<JournalRecord>, CliError> {
    let mut events = Vec::new();
    for log in logs {
        for e in watchdog_log::read(log).map_err(|e| CliError::Usage(e.to_string()))? {
            if !events.contains(&e) {
                events.push(e);
            }
        }
    }
    Ok(events.iter().map(|e| e.to_record(region)).collect())
}

fn timeline(
    out: &mut impl Write,
    overlaps_only: bool,
    min_overlap: &str,
    files: &[PathBuf],
) -> CliResult {
    let min = crate::config::duration::parse_duration(min_overlap.trim())
        .map_err(|e| CliError::Usage(format!("--min-overlap {min_overlap:?}: expected {e}")))?;
    let min_ms = i64::try_from(min.as_millis()).unwrap_or(i64::MAX);
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let mut per_file = Vec::with_capacity(readers.len());
    let mut renewals_of = Vec::with_capacity(readers.len());
    for (source, path) in sources.iter().zip(files) {
        renewals_of.push(source.reader.renewals().map_err(q(path))?);
        let mut records = source.reader.query(&Query::default()).map_err(q(path))?;
        let region = records
            .first()
            .map(|r| r.region.clone())
            .unwrap_or_default();
        records.extend(watchdog_records(&source.watchdog_logs, &region)?);
        per_file.push(records);
    }
    // Pods are named by pod name, or region/pod when one name is used in two regions.
    let mut regions_of: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        Default::default();
    for r in per_file.iter().flatten() {
        if r.kind != RecordKind::Watchdog {
            regions_of.entry(&r.pod).or_default().insert(&r.region);
        }
    }
    let name = |r: &JournalRecord| {
        if regions_of.get(r.pod.as_str()).is_some_and(|s| s.len() > 1) {
            label(r)
        } else {
            r.pod.clone()
        }
    };
    let mut intervals: Vec<ForgingInterval> = Vec::new();
    let mut unknown: Vec<UnknownInterval> = Vec::new();
    for (records, renewals) in per_file.iter().zip(&renewals_of) {
        // One journal holds one pod; a merged file may hold several: group by pod anyway. The same
        // pod in two files (a journal and its snapshot) is one name, so it never overlaps itself.
        let mut by_pod: std::collections::BTreeMap<String, (Vec<JournalRecord>, Vec<Firing>)> =
            Default::default();
        for r in records {
            let entry = by_pod.entry(name(r)).or_default();
            if r.kind == RecordKind::Watchdog {
                entry.1.extend(wall_ms(&r.wall).map(|wall_ms| {
                    Firing {
                        wall_ms,
                        mono_ms: r.mono_ms,
                        found_keys: r
                            .inputs
                            .get("removed")
                            .and_then(serde_json::Value::as_u64)
                            .is_some_and(|n| n > 0),
                    }
                }));
            } else {
                entry.0.push(r.clone());
            }
        }
        for (pod, (rs, fired)) in &mut by_pod {
            fired.sort_unstable_by_key(|f| f.wall_ms);
            // One journal holds one pod: its renewals are that pod's.
            let b = beliefs(pod, rs, fired, renewals);
            intervals.extend(b.forging);
            unknown.extend(b.unknown);
        }
    }
    let mut all: Vec<JournalRecord> = if overlaps_only {
        Vec::new()
    } else {
        per_file.into_iter().flatten().collect()
    };
    all.sort_by_key(merge_key);
    for r in &all {
        write_human(out, r)?;
    }
    let (found, within_clock) = supported_overlaps(&intervals, min_ms);
    if !all.is_empty() {
        writeln!(out)?;
    }
    for iv in intervals.iter().filter(|i| i.open_ended) {
        writeln!(
            out,
            "?? {}'s journal ends while it believed it was forging (last record {}): what followed is unknown",
            iv.pod,
            fmt_ms(iv.end_ms)
        )?;
    }
    // Unknown stretches that matter: those during which another pod believed it forged.
    let mut unknown_overlaps = 0usize;
    for u in &unknown {
        for f in intervals.iter().filter(|f| f.pod != u.pod) {
            let (s, e) = (u.start_ms.max(f.start_ms), u.end_ms.min(f.end_ms));
            if e - s >= min_ms.max(1) {
                unknown_overlaps += 1;
                writeln!(
                    out,
                    "?? {} believed it was forging from {} to {} while {}'s state is unknown: {} (not counted)",
                    f.pod,
                    fmt_ms(s),
                    fmt_ms(e),
                    u.pod,
                    u.why.as_str()
                )?;
            }
        }
    }
    for o in within_clock
        .iter()
        .filter(|o| o.end_ms - o.start_ms >= min_ms.max(1))
    {
        writeln!(
            out,
            "?? {} may have overlapped from {} to {} ({} ms), within the {} ms their clocks' alignment to the API server's allows (not counted)",
            join_and(&o.pods),
            fmt_ms(o.start_ms),
            fmt_ms(o.end_ms),
            o.end_ms - o.start_ms,
            clock_tolerance_ms(o, &intervals)
        )?;
    }
    for o in &found {
        writeln!(
            out,
            "!! OVERLAP {} believed they were forging from {} to {} ({} ms)",
            join_and(&o.pods),
            fmt_ms(o.start_ms),
            fmt_ms(o.end_ms),
            o.end_ms - o.start_ms
        )?;
    }
    let counts = format!(
        "{} journals, {} forging intervals, {} unknown stretches{}",
        files.len(),
        intervals.len(),
        unknown.len(),
        if unknown_overlaps > 0 {
            format!(" ({unknown_overlaps} beside another pod's forging, not counted)")
        } else {
            String::new()
        }
    );
    if found.is_empty() {
        writeln!(
            out,
            "no overlap: at most one pod positively believed it was forging at any instant ({counts})"
        )?;
        Ok(EXIT_OK)
    } else {
        writeln!(
            out,
            "{} overlap{} that both journals support ({counts})",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        )?;
        Ok(EXIT_OVERLAP)
    }
}

/// How many what-if differences are listed in full.
const WHAT_IF_SHOWN: usize = 20;

fn replay(
    out: &mut impl Write,
    from: Option<String>,
    to: Option<String>,
    timing: Option<&str>,
    files: &[PathBuf],
) -> CliResult {
    let what_if = timing
        .map(TimingOverride::parse)
        .transpose()
        .map_err(CliError::Usage)?;
    let sources = open_all(files)?;
    let readers: Vec<&JournalReader> = sources.iter().map(|s| &s.reader).collect();
    let query = build_query(
        &QueryArgs {
            since: from,
            until: to,
            pod: None,
            region: None,
            kind: None,
            reason: None,
        },
        &readers,
        files,
    )?;
    if let Some(o) = &what_if {
        writeln!(
            out,
            "WHAT-IF: the recorded observations replayed under timing {}. Observations that depend on \
             earlier decisions (lease writes and their answers, the node's state after a SIGHUP) are \
             not re-simulated: after the first difference, later ones only hint at what would have \
             followed.",
            timing.unwrap_or_default()
        )?;
        // An impossible budget is refused up front, naming its settings: the core only runs on a
        // timing that passed `Timing::new`, so such a what-if has no answer to give.
        if let Some(problems) = readers
            .iter()
            .find_map(|r| {
                r.query(&Query {
                    limit: Some(1),
                    ..query.clone()
                })
                .ok()
            })
            .and_then(|rs| rs.first().and_then(|r| core_inputs(r)?.ok()))
            .and_then(|i| o.apply(&i.timing).err())
        {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.variable, p.message))
                .collect();
            return Err(CliError::Usage(format!(
                "--timing {}: this timing breaks the budget: {}",
                timing.unwrap_or_default(),
                lines.join("; ")
            )));
        }
    }
    let mut diverged = false;
    for (reader, path) in readers.iter().zip(files) {
        let records = reader.query(&query).map_err(q(path))?;
        let mut replayed = 0u64;
        let mut not_replayable = 0u64;
        let mut differing = 0usize;
        let mut writer = None;
        for r in &records {
            let Some(inputs) = core_inputs(r) else {
                not_replayable += 1;
                continue;
            };
            let inputs = inputs.map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            writer.get_or_insert_with(|| inputs.writer.clone());
            let timing = what_if
                .as_ref()
                .map(|o| o.apply(&inputs.timing))
                .transpose()
                .map_err(|p| {
                    CliError::Usage(format!(
                        "{}: --timing breaks the budget of this record's timing: {p:?}",
                        path.display()
                    ))
                })?;
            let Some(Ok((step, _))) = replay_record(r, timing.as_ref()) else {
                continue;
            };
            replayed += 1;
            let same = if what_if.is_some() {
                // A what-if lists what an operator sees: role, reason, actions, entitlement.
                let (a, b) = (&step.recorded, &step.replayed);
                (a.role, a.reason, &a.actions, a.entitled)
                    == (b.role, b.reason, &b.actions, b.entitled)
            } else {
                step.identical()
            };
            if same {
                continue;
            }
            differing += 1;
            if what_if.is_some() {
                if differing <= WHAT_IF_SHOWN {
                    writeln!(
                        out,
                        "{}  #{} {}: recorded {} ({}) {} -> what-if {} ({}) {}",
                        r.wall,
                        r.seq,
                        r.pod,
                        step.recorded.role.as_str(),
                        step.recorded.reason.as_str(),
                        actions_text(&step.recorded.actions),
                        step.replayed.role.as_str(),
                        step.replayed.reason.as_str(),
                        actions_text(&step.replayed.actions)
                    )?;
                }
                continue;
            }
            write_divergence(out, path, r, &step, replayed)?;
            diverged = true;
            break;
        }
        let who = writer.map_or_else(String::new, |w| format!(", written by {w}"));
        let skipped = if not_replayable > 0 {
            format!(" ({not_replayable} records without core inputs skipped)")
        } else {
            String::new()
        };
        if what_if.is_some() {
            if differing > WHAT_IF_SHOWN {
                writeln!(out, "  … and {} more", differing - WHAT_IF_SHOWN)?;
            }
            writeln!(
                out,
                "{}: {replayed} decisions replayed under the what-if timing, {differing} would have differed{who}{skipped}",
                path.display()
            )?;
        } else if differing == 0 {
            writeln!(
                out,
                "{}: {replayed} decisions replayed, all identical{who}{skipped}",
                path.display()
            )?;
        }
    }
    Ok(if diverged { EXIT_OVERLAP } else { EXIT_OK })
}

fn write_divergence(
    out: &mut impl Write,
    path: &Path,
    r: &JournalRecord,
    step: &Replayed,
    identical_before: u64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: record #{} ({} at {}) diverges after {} identical decisions: written by {}, replayed by {}",
        path.display(),
        r.seq,
        r.pod,
        r.wall,
        identical_before - 1,
        step.writer,
        crate::journal::replay::WRITER
    )?;
    writeln!(out, "  {:<18} {:<44} replayed now", "field", "recorded")?;
    for (field, a, b) in step.differences() {
        writeln!(out, "  {field:<18} {a:<44} {b}")?;
    }
    writeln!(
        out,
        "A divergence means the code that wrote the journal decides differently from this build."
    )
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
