//! The check of each `[[expect]]` kind against a judged run: pass (`None`) or one [`Violation`]
//! saying what was expected and what was found, and when.

use std::time::Duration;

use forge_manager::config::duration::format_duration;

use super::timeline::{self, DualSlots, Handover, Timeline};
use super::{Violation, ms};
use crate::scenario::{Expect, Placement, Scenario, Window};
use crate::trace::{PodId, SimMs, Trace};

/// What the checks read.
pub(super) struct Context<'a> {
    pub scenario: &'a Scenario,
    pub trace: &'a Trace,
    pub timeline: &'a Timeline,
    pub handovers: &'a [Handover],
    pub dual_slots: &'a DualSlots,
    /// Every leadership check of the run, in slot order.
    pub checks: &'a [timeline::Check],
}

/// A time since start as in messages (`5m30s`, `1m2s250ms`).
pub(super) fn time(t: SimMs) -> String {
    format_duration(Duration::from_millis(t))
}

/// `a, b, c`.
pub(super) fn pod_list(pods: &[PodId]) -> String {
    pods.iter()
        .map(PodId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What forges, in words.
fn found(forgers: &[PodId]) -> String {
    match forgers {
        [] => "no forger".to_owned(),
        [pod] => format!("pod {pod}"),
        pods => format!("{} forgers (pods {})", pods.len(), pod_list(pods)),
    }
}

/// `[from, to)` with defaults, and how to say it.
fn window(w: &Window, default_from: SimMs, end_ms: SimMs) -> (SimMs, SimMs, String) {
    let from = w.from.map_or(default_from, ms);
    let to = w.to.map_or(end_ms, ms);
    let from_text = match w.from {
        Some(_) => time(from),
        None if default_from == 0 => "the start".to_owned(),
        None => format!("the first forger ({})", time(from)),
    };
    let to_text = match w.to {
        Some(_) => time(to),
        None => format!("the end ({})", time(to)),
    };
    (from, to, format!("from {from_text} to {to_text}"))
}

/// Checks expectation `index`.
pub(super) fn check(ctx: &Context, index: usize, e: &Expect) -> Option<Violation> {
    let fail = |at_ms: Option<SimMs>, message: String| {
        Some(Violation {
            expectation: Some(index),
            kind: e.kind().to_owned(),
            at_ms,
            message,
        })
    };
    let end_ms = ctx.timeline.end_ms;
    match e {
        Expect::Forger { at, who } => {
            let t = ms(*at);
            let forgers = ctx.timeline.forgers_at(t);
            let holds = match (who, forgers) {
                (None, []) => true,
                (Some(who), [pod]) => who.matches(pod),
                _ => false,
            };
            let wanted = who
                .as_ref()
                .map_or("no forger".to_owned(), |w| format!("forger in {w}"));
            (!holds).then_some(()).and_then(|()| {
                fail(
                    Some(t),
                    format!("expected {wanted} at {}, found {}", time(t), found(forgers)),
                )
            })
        }
        Expect::ForgerBy { by, who, to } => check_forger_by(ctx, ms(*by), who, to.map(ms))
            .and_then(|(t, message)| fail(Some(t), message)),
        Expect::MaxGap { value, window: w } => {
            let (from, to, text) = window(w, ctx.timeline.default_window().0, end_ms);
            let (start, length) = ctx.timeline.max_gap(from, to)?;
            (length > ms(*value)).then_some(()).and_then(|()| {
                fail(
                    Some(start),
                    format!(
                        "expected no gap without a forger longer than {} {text}, found a gap of {} from {} to {}",
                        time(ms(*value)),
                        time(length),
                        time(start),
                        time(start + length)
                    ),
                )
            })
        }
        Expect::MaxHandovers { value, window: w } => {
            let (from, to, text) = window(w, 0, end_ms);
            let to_inclusive = w.to.is_none();
            let inside: Vec<&Handover> = ctx
                .handovers
                .iter()
                .filter(|h| h.at_ms >= from && (h.at_ms < to || to_inclusive))
                .collect();
            let count = inside.len() as u64;
            if count <= *value {
                return None;
            }
            let listed: Vec<String> = inside
                .iter()
                .take(10)
                .map(|h| format!("{} -> {} at {}", h.from, h.to, time(h.at_ms)))
                .collect();
            let at = usize::try_from(*value)
                .ok()
                .and_then(|i| inside.get(i))
                .map(|h| h.at_ms);
            fail(
                at,
                format!(
                    "expected at most {value} handovers {text}, found {count}: {}{}",
                    listed.join(", "),
                    if inside.len() > 10 { ", ..." } else { "" }
                ),
            )
        }
        Expect::NoForgerIn { region, from, to } => {
            let (from, to) = (ms(*from), ms(*to));
            let offending = ctx
                .timeline
                .clipped(from, to)
                .find(|s| s.forgers.iter().any(|p| &p.region == region))?;
            let pods: Vec<PodId> = offending
                .forgers
                .iter()
                .filter(|p| &p.region == region)
                .cloned()
                .collect();
            fail(
                Some(offending.start_ms),
                format!(
                    "expected no forger in region {region} from {} to {}, found pod {} forging at {}",
                    time(from),
                    time(to),
                    pod_list(&pods),
                    time(offending.start_ms)
                ),
            )
        }
        Expect::Credentials {
            target,
            at,
            present,
        } => {
            let t = ms(*at);
            let actual = timeline::credentials_at(ctx.trace, target, t);
            let word = |p: bool| if p { "present" } else { "absent" };
            (actual != *present).then_some(()).and_then(|()| {
                fail(
                    Some(t),
                    format!(
                        "expected the credential files of pod {target} {} at {}, found them {}",
                        word(*present),
                        time(t),
                        word(actual)
                    ),
                )
            })
        }
        Expect::Coverage { min, window: w } => {
            let (from, to, text) = window(w, ctx.timeline.default_window().0, end_ms);
            let coverage = ctx.timeline.coverage(from, to);
            (coverage < *min).then_some(()).and_then(|()| {
                fail(
                    None,
                    format!(
                        "expected exactly one forger for at least {} of the time {text}, found {}",
                        percent(*min),
                        percent(coverage)
                    ),
                )
            })
        }
        Expect::MaxResidual { value } => {
            let count = ctx.dual_slots.residual;
            if count <= *value {
                return None;
            }
            let nth = ctx
                .dual_slots
                .listed
                .iter()
                .filter(|s| s.residual)
                .nth(usize::try_from(*value).unwrap_or(usize::MAX));
            fail(
                nth.map(|s| s.start_ms),
                format!(
                    "expected at most {value} residual dual-forging slots, found {count}{}",
                    nth.map_or(String::new(), |s| format!(
                        " (slot {} at {}: pods {})",
                        s.slot,
                        time(s.start_ms),
                        pod_list(&s.pods)
                    ))
                ),
            )
        }
        Expect::MaxNodeExits { value } => {
            let exits = timeline::node_exits(ctx.trace);
            count_violation(&exits, *value, |count| {
                format!("expected at most {value} cardano-node exits at start, found {count}")
            })
            .and_then(|(at, message)| fail(at, message))
        }
        Expect::MaxMissedSlots { value, window: w } => {
            let (from, to, text) = window(w, ctx.timeline.default_window().0, end_ms);
            let missed = Timeline::missed_slots(ctx.checks, ms(ctx.scenario.slot_length), from, to);
            count_violation(&missed, *value, |count| {
                format!(
                    "expected at most {value} slots in which no node ran its leadership check {text}, found {count}{}",
                    missed
                        .first()
                        .map_or(String::new(), |t| format!(" (the first at {})", time(*t)))
                )
            })
            .and_then(|(at, message)| fail(at, message))
        }
        Expect::MaxApiRequests {
            value,
            target,
            window: w,
        } => {
            let (from, _, text) = window(w, 0, end_ms);
            let requests =
                timeline::api_requests_in(ctx.trace, target.server_name(), from, w.to.map(ms));
            count_violation(&requests, *value, |count| {
                format!(
                    "expected at most {value} requests answered by {target} {text}, found {count}"
                )
            })
            .and_then(|(at, message)| fail(at, message))
        }
    }
}

/// A count limit over event instants: the violation is at the first instant over the limit.
fn count_violation(
    instants: &[SimMs],
    limit: u64,
    message: impl Fn(usize) -> String,
) -> Option<(Option<SimMs>, String)> {
    if instants.len() as u64 <= limit {
        return None;
    }
    let at = usize::try_from(limit)
        .ok()
        .and_then(|i| instants.get(i))
        .copied();
    Some((at, message(instants.len())))
}

/// `forger-by`: from `by` until `to` (default: the next fault after `by`, or the end), exactly one
/// forger, matching `who`. Returns the first instant it does not hold and the message.
fn check_forger_by(
    ctx: &Context,
    by: SimMs,
    who: &Placement,
    to: Option<SimMs>,
) -> Option<(SimMs, String)> {
    let end_ms = ctx.timeline.end_ms;
    let to = to.unwrap_or_else(|| next_fault_after(ctx.scenario, by).unwrap_or(end_ms));
    let holds = |forgers: &[PodId]| matches!(forgers, [pod] if who.matches(pod));
    let bad_at = if to <= by {
        // An empty window: judge the instant `by` itself.
        (!holds(ctx.timeline.forgers_at(by))).then_some(by)
    } else {
        ctx.timeline
            .clipped(by, to)
            .find(|s| !holds(&s.forgers))
            .map(|s| s.start_ms)
    }?;
    Some((
        bad_at,
        format!(
            "expected the forger in {who} from {} until {}, but at {} found {}",
            time(by),
            time(to),
            time(bad_at),
            found(ctx.timeline.forgers_at(bad_at))
        ),
    ))
}

/// The `at` of the first fault strictly after `t`.
fn next_fault_after(scenario: &Scenario, t: SimMs) -> Option<SimMs> {
    scenario
        .faults
        .iter()
        .map(|f| ms(f.at))
        .filter(|at| *at > t)
        .min()
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}
