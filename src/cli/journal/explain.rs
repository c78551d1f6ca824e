//! `journal explain --at TIME`: the decisions around an instant, each with what the core saw and
//! why it chose what it did.

use super::*;

pub(super) fn inputs_summary(v: &serde_json::Value) -> String {
    if v.is_null() {
        return String::new();
    }
    // The core's typed inputs are for `replay` (and the replayed decision below): the summary
    // shows the readable ones.
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove(crate::journal::replay::CORE_KEY);
        map.remove(crate::journal::cluster_replay::CLUSTER_KEY);
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

pub(super) fn explain(
    out: &mut impl Write,
    at: &str,
    changes: usize,
    files: &[PathBuf],
) -> CliResult {
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
pub(super) fn explain_replayed(out: &mut impl Write, a: &JournalRecord) -> std::io::Result<()> {
    explain_rounds(out, a)?;
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

/// The cross-region rounds recorded with `a` (they came before its local decision), replayed:
/// the gate each gave, the preferred region, its writes and its reason.
fn explain_rounds(out: &mut impl Write, a: &JournalRecord) -> std::io::Result<()> {
    let rounds = match replay_cluster(a, None) {
        None => return Ok(()),
        Some(Err(e)) => return writeln!(out, "  (cross-region rounds not replayed: {e})"),
        Some(Ok(rounds)) => rounds,
    };
    let describe = |o: &ClusterOutput| {
        format!(
            "gate {}, preferred {}, writes {}",
            match o.gate {
                crate::core::election::Gate::Allow => "open".to_owned(),
                crate::core::election::Gate::Deny(why) => format!("shut ({})", why.as_str()),
            },
            o.preferred.as_deref().unwrap_or("none"),
            serde_json::to_string(&o.actions).unwrap_or_default(),
        )
    };
    for r in rounds {
        if r.identical() {
            writeln!(
                out,
                "  cross-region round {} before it, replayed: {} (identical to the record)",
                r.round,
                describe(&r.replayed)
            )?;
            writeln!(out, "    rule: {}", r.replayed.message)?;
        } else {
            writeln!(
                out,
                "  cross-region round {} before it, recorded: {} (written by {})",
                r.round,
                describe(&r.recorded),
                r.writer
            )?;
            writeln!(out, "    rule: {}", r.recorded.message)?;
            writeln!(
                out,
                "    DIFFERS from this build's replay: {}\n    rule now: {}",
                describe(&r.replayed),
                r.replayed.message
            )?;
        }
    }
    Ok(())
}

pub(super) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub(super) fn fmt_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}
