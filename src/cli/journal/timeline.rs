//! `journal timeline`: every pod's forging beliefs on one time axis, and the overlaps between
//! them (exit 1), with the watchdog's firings from its log.

use super::*;

/// The watchdog's firings in `logs` (`FILE.watchdog`, the pod's own log), as records of
/// `region`; the same firing found in two logs counts once.
pub(super) fn watchdog_records(
    logs: &[PathBuf],
    region: &str,
) -> Result<Vec<JournalRecord>, CliError> {
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

pub(super) fn timeline(
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
    // Each journal in its own order; each watchdog firing (from its own log) on its own. A
    // file's records are its journal's, then the firings appended to them above.
    let own_len = |records: &[JournalRecord]| {
        records
            .iter()
            .take_while(|r| r.kind != RecordKind::Watchdog)
            .count()
    };
    let steps: Vec<String> = per_file
        .iter()
        .flat_map(|records| clock_steps_back(&records[..own_len(records)]))
        .map(|(before, after, back)| {
            format!(
                "!! {}'s wall clock went back {} between #{} and #{}: its records are listed in the order it wrote them, and overlaps judged on wall time are unreliable there",
                name(before),
                human_duration(Duration::from_millis(back.unsigned_abs())),
                before.seq,
                after.seq
            )
        })
        .collect();
    let all: Vec<JournalRecord> = if overlaps_only {
        Vec::new()
    } else {
        let mut sources = Vec::new();
        for mut records in per_file {
            let firings = records.split_off(own_len(&records));
            sources.push(records);
            sources.extend(firings.into_iter().map(|f| vec![f]));
        }
        merge_sources(sources)
    };
    for r in &all {
        write_human(out, r)?;
    }
    let (found, within_clock) = supported_overlaps(&intervals, min_ms);
    if !all.is_empty() {
        writeln!(out)?;
    }
    for line in &steps {
        writeln!(out, "{line}")?;
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
