//! The report of one run: the JSON object of `forge-sim run --json` (SCENARIOS.md "Report"), the
//! human-readable timeline and verdict line, and the exit code mapping (0 pass, 1 fail, 2 invalid).
//!
//! Every field but `wall_ms` is a function of the scenario, the seed and the trace, so two runs of
//! the same file and seed print the same report byte for byte (apart from `wall_ms`). Field order
//! in JSON is declaration order.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::oracle::{Judgement, Violation};
use crate::scenario::Scenario;
use crate::trace::{EventKind, SimMs, Trace};

/// Exit code: every expectation held.
pub const EXIT_PASS: i32 = 0;
/// Exit code: an expectation (or the dual-slot check) failed.
pub const EXIT_FAIL: i32 = 1;
/// Exit code: the scenario file is invalid.
pub const EXIT_INVALID: i32 = 2;

/// Pass or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// At least one violation.
    Fail,
}

impl Verdict {
    /// The process exit code: [`EXIT_PASS`] or [`EXIT_FAIL`] ([`EXIT_INVALID`] is for files that
    /// never ran).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => EXIT_PASS,
            Verdict::Fail => EXIT_FAIL,
        }
    }
}

/// The report of one run, serialised as one JSON object with these field names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The scenario's `name`.
    pub name: String,
    /// The seed the run used (the file's, or `--seed`).
    pub seed: u64,
    /// `"pass"` or `"fail"`.
    pub verdict: Verdict,
    /// Every failed check.
    pub violations: Vec<Violation>,
    /// Changes of the sole forger to a different pod.
    pub handovers: u64,
    /// Longest stretch with two or more forgers.
    pub max_overlap_ms: SimMs,
    /// Longest gap from the first forger to the end.
    pub max_gap_ms: SimMs,
    /// Fraction of that window with exactly one forger.
    pub coverage: f64,
    /// Dual-forging slots (residual ones excluded).
    pub dual_slots: u64,
    /// Residual dual-forging slots.
    pub residual_dual_slots: u64,
    /// cardano-node exits at start.
    pub node_exits: u64,
    /// Hex SHA-256 of the whole trace.
    pub trace_hash: String,
    /// Requests answered per API server (`global`, region names).
    pub api_requests: BTreeMap<String, u64>,
    /// Simulated time the run covered, in seconds.
    pub sim_seconds: f64,
    /// Real time the run took; the only field that may differ between equal runs.
    pub wall_ms: u64,
}

impl Report {
    /// Builds the report of a judged run.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        trace: &Trace,
        judgement: &Judgement,
        wall_ms: u64,
    ) -> Report {
        let m = &judgement.metrics;
        Report {
            name: scenario.name.clone(),
            seed,
            verdict: if judgement.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            violations: judgement.violations.clone(),
            handovers: m.handovers,
            max_overlap_ms: m.max_overlap_ms,
            max_gap_ms: m.max_gap_ms,
            coverage: m.coverage,
            dual_slots: m.dual_slots,
            residual_dual_slots: m.residual_dual_slots,
            node_exits: m.node_exits,
            trace_hash: trace.hash(),
            api_requests: m.api_requests.clone(),
            sim_seconds: trace.end_ms as f64 / 1_000.0,
            wall_ms,
        }
    }

    /// The process exit code of this run.
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        // A struct of strings, integers, finite floats and string-keyed maps always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `PASS name (seed 7): 0 dual slots, 2 handovers, max gap 1.2s, coverage 99.6%`.
    pub fn verdict_line(&self) -> String {
        let mut line = match self.verdict {
            Verdict::Pass => format!("PASS {} (seed {}): ", self.name, self.seed),
            Verdict::Fail => format!(
                "FAIL {} (seed {}): {} violation{}; ",
                self.name,
                self.seed,
                self.violations.len(),
                plural(self.violations.len() as u64)
            ),
        };
        let _ = write!(
            line,
            "{} dual slot{}, ",
            self.dual_slots,
            plural(self.dual_slots)
        );
        if self.residual_dual_slots > 0 {
            let _ = write!(
                line,
                "{} residual dual slot{}, ",
                self.residual_dual_slots,
                plural(self.residual_dual_slots)
            );
        }
        let _ = write!(
            line,
            "{} handover{}, max gap {:.1}s, coverage {:.1}%",
            self.handovers,
            plural(self.handovers),
            self.max_gap_ms as f64 / 1_000.0,
            self.coverage * 100.0
        );
        line
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Simulated time as `HH:MM:SS.mmm` (hours keep counting past 99).
pub fn format_sim_time(t: SimMs) -> String {
    let (h, rest) = (t / 3_600_000, t % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1_000, rest % 1_000);
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

/// The human-readable report: a header, the timeline (every forger change, fault, node exit and
/// violation, each at its simulated time), the violations without an instant, the verdict line.
pub fn render_text(
    report: &Report,
    scenario: &Scenario,
    trace: &Trace,
    judgement: &Judgement,
) -> String {
    // (time, order among equal times, text): faults first, then what they caused, then verdicts.
    let mut lines: Vec<(SimMs, u8, String)> = Vec::new();
    for e in &trace.events {
        match &e.kind {
            EventKind::Fault {
                index,
                fault,
                target,
                applied,
            } => {
                let note = if *applied { "" } else { " (no-op)" };
                lines.push((e.at_ms, 0, format!("fault[{index}] {fault} {target}{note}")));
            }
            EventKind::NodeExit { pod, reason } => {
                lines.push((e.at_ms, 2, format!("node exit {pod}: {reason}")));
            }
            _ => {}
        }
    }
    let mut previous: &[crate::trace::PodId] = &[];
    for s in &judgement.timeline.segments {
        if s.forgers.as_slice() != previous {
            let text = match s.forgers.as_slice() {
                [] => "forging: none".to_owned(),
                [pod] => format!("forging: {pod}"),
                pods => format!(
                    "forging: {} (DUAL)",
                    pods.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            lines.push((s.start_ms, 1, text));
            previous = &s.forgers;
        }
    }
    for v in &report.violations {
        if let Some(at_ms) = v.at_ms {
            lines.push((at_ms, 3, format!("VIOLATION {}", violation_text(v))));
        }
    }
    lines.sort_by_key(|(at_ms, order, _)| (*at_ms, *order));

    let mut out = String::new();
    let _ = writeln!(out, "scenario {} (seed {})", report.name, report.seed);
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "  {}", scenario.description.trim());
    }
    for (at_ms, _, text) in &lines {
        let _ = writeln!(out, "{}  {text}", format_sim_time(*at_ms));
    }
    for v in report.violations.iter().filter(|v| v.at_ms.is_none()) {
        let _ = writeln!(out, "VIOLATION {}", violation_text(v));
    }
    let _ = writeln!(out, "{}", report.verdict_line());
    out
}

fn violation_text(v: &Violation) -> String {
    match v.expectation {
        Some(index) => format!("expect[{index}] {}: {}", v.kind, v.message),
        None => format!("{}: {}", v.kind, v.message),
    }
}
