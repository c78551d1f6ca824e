//! `journal replay`: re-run recorded decisions through the core, and what-if runs under another
//! timing budget.

use super::*;

/// How many what-if differences are listed in full.
pub(super) const WHAT_IF_SHOWN: usize = 20;

pub(super) fn replay(
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
        let mut rounds_replayed = 0u64;
        let mut file_diverged = false;
        let mut not_replayable = 0u64;
        let mut differing = 0usize;
        let mut writer = None;
        'records: for r in &records {
            // The record's cross-region rounds came before its local decision (the local loop
            // asks for the gate, then decides).
            if let Some(rounds) = replay_cluster(r, None) {
                let rounds =
                    rounds.map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
                for round in rounds {
                    writer.get_or_insert_with(|| round.writer.clone());
                    // A what-if changes the local timing; the cross-region rounds are checked
                    // for identity only when nothing is changed.
                    if what_if.is_some() {
                        continue;
                    }
                    rounds_replayed += 1;
                    if !round.identical() {
                        let label = format!("cross-region round {} ", round.round);
                        write_divergence(
                            out,
                            path,
                            r,
                            &Divergence {
                                what: &label,
                                writer: &round.writer,
                                differences: round.differences(),
                                identical_before: replayed + rounds_replayed - 1,
                            },
                        )?;
                        file_diverged = true;
                        break 'records;
                    }
                }
            }
            let Some(inputs) = core_inputs(r) else {
                // A departing pod's last rounds come in a record of their own (replayed above).
                if r.inputs.get(CLUSTER_KEY).is_none() {
                    not_replayable += 1;
                }
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
            write_divergence(
                out,
                path,
                r,
                &Divergence {
                    what: "",
                    writer: &step.writer,
                    differences: step.differences(),
                    identical_before: replayed + rounds_replayed - 1,
                },
            )?;
            file_diverged = true;
            break;
        }
        diverged |= file_diverged;
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
        } else if !file_diverged {
            let rounds = if rounds_replayed > 0 {
                format!(" and {rounds_replayed} cross-region rounds")
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}: {replayed} decisions{rounds} replayed, all identical{who}{skipped}",
                path.display()
            )?;
        }
    }
    Ok(if diverged { EXIT_OVERLAP } else { EXIT_OK })
}

/// What diverged, for [`write_divergence`].
pub(super) struct Divergence<'a> {
    /// Empty for the local decision, "cross-region round N " for a round of it.
    pub what: &'a str,
    /// The build that wrote the record.
    pub writer: &'a str,
    /// `(field, recorded, replayed)`.
    pub differences: Vec<(&'static str, String, String)>,
    /// How many replays were identical before this one.
    pub identical_before: u64,
}

pub(super) fn write_divergence(
    out: &mut impl Write,
    path: &Path,
    r: &JournalRecord,
    d: &Divergence<'_>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: record #{} ({} at {}) {}diverges after {} identical decisions: written by {}, replayed by {}",
        path.display(),
        r.seq,
        r.pod,
        r.wall,
        d.what,
        d.identical_before,
        d.writer,
        crate::journal::replay::WRITER
    )?;
    writeln!(out, "  {:<18} {:<44} replayed now", "field", "recorded")?;
    for (field, a, b) in &d.differences {
        writeln!(out, "  {field:<18} {a:<44} {b}")?;
    }
    writeln!(
        out,
        "A divergence means the code that wrote the journal decides differently from this build."
    )
}
