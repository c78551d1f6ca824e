//! The report of one run: the JSON object of `forge-sim run --json` (docs/scenarios.md, "The
//! report"), the human-readable timeline and verdict line, and the exit code mapping (0 pass, 1
//! fail, 2 invalid).
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
    /// Slots in which a node forged without its leases' cover (residual ones excluded).
    pub uncovered_slots: u64,
    /// Residual uncovered slots.
    pub residual_uncovered_slots: u64,
    /// Slots after the first forger in which no node ran its leadership check.
    pub missed_slots: u64,
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
            uncovered_slots: m.uncovered_slots,
            residual_uncovered_slots: m.residual_uncovered_slots,
            missed_slots: m.missed_slots,
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
        for (count, what) in [
            (self.uncovered_slots, "uncovered slot"),
            (self.residual_uncovered_slots, "residual uncovered slot"),
        ] {
            if count > 0 {
                let _ = write!(line, "{count} {what}{}, ", plural(count));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::judge;
    use crate::trace::{LeaseRole, PodId};

    fn scenario() -> Scenario {
        let text = "name = \"r\"\nseed = 7\nduration = \"1m\"\ndescription = \"a failover\"\n\
                    [[region]]\nname = \"a\"\npriority = 1\n\
                    [[fault]]\nat = \"30s\"\nkind = \"crash\"\ntarget = \"forger\"\n\
                    [[expect]]\nkind = \"forger\"\nat = \"31s\"\nregion = \"a\"\n";
        Scenario::from_str(text, "r.toml").expect("valid")
    }

    /// a/0 forges from 5 s, crashes at 30 s; a/1 forges from 31.2 s.
    fn failover() -> Trace {
        failover_stopping_at(30_000, 31_200)
    }

    /// As [`failover`], with a/0 forging until `stop_ms` (from 30 s) and a/1 from `start_ms`.
    fn failover_stopping_at(stop_ms: u64, start_ms: u64) -> Trace {
        let mut t = Trace::default();
        t.push(
            5_000,
            EventKind::ForgingStarted {
                pod: PodId::new("a", 0),
            },
        );
        t.push(6_000, EventKind::ApiRequest { server: "a".into() });
        t.push(
            30_000,
            EventKind::Fault {
                index: 0,
                fault: "crash".into(),
                target: "pod:a/0".into(),
                applied: true,
            },
        );
        t.push(
            stop_ms,
            EventKind::ForgingStopped {
                pod: PodId::new("a", 0),
            },
        );
        t.push(
            start_ms,
            EventKind::ForgingStarted {
                pod: PodId::new("a", 1),
            },
        );
        // Each forger renews region a's lease every 4 s while it forges (cluster management is
        // off with one region): no uncovered slot.
        for (pod, from, to) in [(0, 4_000, 30_000), (1, start_ms, 60_000)] {
            for at in (from..to).step_by(4_000) {
                t.push(
                    at,
                    EventKind::LeaseWritten {
                        server: "a".into(),
                        lease: LeaseRole::Local("a".into()),
                        name: "lease".into(),
                        holder: format!("bp-a-{pod}"),
                        holder_pod: Some(PodId::new("a", pod)),
                        duration_s: 15,
                    },
                );
            }
        }
        t.end_ms = 60_000;
        t
    }

    fn report(trace: &Trace, wall_ms: u64) -> (Report, Judgement) {
        let s = scenario();
        let j = judge(&s, trace);
        (Report::new(&s, s.seed, trace, &j, wall_ms), j)
    }

    #[test]
    fn simulated_times_print_as_hours_minutes_seconds_and_milliseconds() {
        assert_eq!(format_sim_time(0), "00:00:00.000");
        assert_eq!(format_sim_time(330_250), "00:05:30.250");
        assert_eq!(format_sim_time(3_600_000 * 101 + 1), "101:00:00.001");
    }

    #[test]
    fn the_json_report_has_the_contract_fields_in_a_fixed_order() {
        let (r, _) = report(&failover(), 12);
        let json = r.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        let keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = [
            "name",
            "seed",
            "verdict",
            "violations",
            "handovers",
            "max_overlap_ms",
            "max_gap_ms",
            "coverage",
            "dual_slots",
            "residual_dual_slots",
            "uncovered_slots",
            "residual_uncovered_slots",
            "missed_slots",
            "node_exits",
            "trace_hash",
            "api_requests",
            "sim_seconds",
            "wall_ms",
        ];
        want.sort_unstable();
        assert_eq!(keys, want, "serde_json sorts keys of a Value");
        assert!(
            json.starts_with("{\"name\":\"r\",\"seed\":7,\"verdict\":\"fail\",\"violations\":[{"),
            "{json}"
        );
        assert_eq!(value["api_requests"]["a"], 1);
        assert_eq!(value["sim_seconds"], 60.0);
        assert_eq!(value["trace_hash"], failover().hash());
        assert_eq!(value["violations"][0]["expectation"], 0);
        assert_eq!(value["violations"][0]["at_ms"], 31_000);
    }

    #[test]
    fn equal_runs_give_equal_reports_except_wall_time() {
        let (a, _) = report(&failover(), 1);
        let (b, _) = report(&failover(), 999);
        assert_ne!(a.to_json(), b.to_json());
        assert_eq!(Report { wall_ms: 0, ..a }, Report { wall_ms: 0, ..b });
    }

    #[test]
    fn the_verdict_line_summarises_pass_and_fail() {
        let (r, _) = report(&failover(), 0);
        assert_eq!(
            r.verdict_line(),
            "FAIL r (seed 7): 1 violation; 0 dual slots, 1 handover, max gap 1.2s, coverage 97.8%"
        );
        assert_eq!(r.exit_code(), EXIT_FAIL);
        // a/1 starts in the slot after a/0's last (a node enabled part-way through a slot checks
        // it at once: in slot 31 it would be a dual slot).
        let t = failover_stopping_at(31_100, 32_100);
        let (r, _) = report(&t, 0);
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.violations);
        assert_eq!(r.exit_code(), EXIT_PASS);
        assert!(
            r.verdict_line().starts_with(
                "PASS r (seed 7): 0 dual slots, 1 handover, max gap 1.0s, coverage 98.2%"
            ),
            "{}",
            r.verdict_line()
        );
        assert_eq!(EXIT_INVALID, 2);
    }

    #[test]
    fn the_text_report_shows_faults_forger_changes_and_violations_in_time_order() {
        let t = failover();
        let (r, j) = report(&t, 0);
        let text = render_text(&r, &scenario(), &t, &j);
        let want = [
            "scenario r (seed 7)",
            "  a failover",
            "00:00:05.000  forging: a/0",
            "00:00:30.000  fault[0] crash pod:a/0",
            "00:00:30.000  forging: none",
            "00:00:31.000  VIOLATION expect[0] forger: expected forger in region a at 31s, found no forger",
            "00:00:31.200  forging: a/1",
            "FAIL r (seed 7): 1 violation; 0 dual slots, 1 handover, max gap 1.2s, coverage 97.8%",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
    }
}
