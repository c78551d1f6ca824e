//! Merging several pods' journals and finding when two or more believed they were forging.
//!
//! **A belief ends where the record stream can no longer support it.** A pod's belief comes from
//! its records: after a record saying `forging` with the node's state `on`, `promoting` or `stuck`
//! (or, in records without that state, just `forging`), the pod believed its node forged, until
//! the earliest of:
//!
//! - its next record (which says again what it believes);
//! - its **fencing deadline**: the last successful renewal of its lease the journal shows (the
//!   compact renewal log, `renewals`; the record's hold; the state the next record started from)
//!   plus the recorded `renew_deadline`: a sidecar that ran demoted itself then, and one that did not run
//!   had its node demoted by the watchdog. (A record that says "forging" *after* its own deadline
//!   is not cut: that pod did not fence, and the overlap must show it.)
//! - a firing of the watchdog (its own log, `watchdog_log`);
//! - the end of its process's records (its next `startup` record, or the journal's end).
//!
//! What lies between such an end and the pod's next record is **unknown**: reported as such and
//! never counted as an overlap. So is the time after a record whose forging is only possible (a
//! demotion sent but not yet confirmed by the node, or a node found running at startup), unless
//! the pod released its lease meanwhile, or handed off or released its region's global lease
//! ("demote, verify, then release" broken): then nothing fenced its node, and the possibility
//! counts.
//!
//! **Clocks.** Records are placed by each pod's wall clock, aligned to the API server's clock:
//! every record written since 2026-12 carries the last `Date` the API server sent and when it
//! arrived (`inputs.server_clock`), which bounds the pod's offset to within a second; the bounds
//! of the samples near a record (same process, no clock step) are intersected, usually to tens of
//! milliseconds. An overlap no longer than what that alignment leaves open is reported apart and
//! not counted ([`supported_overlaps`]). Inside one process, a stretch lasts what its monotonic
//! clock says, so a wall-clock step between two records neither stretches nor shrinks a belief.
//! Records without samples keep their wall time (the CLI's `--min-overlap` then covers known
//! skew).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use super::cluster_replay::CLUSTER_KEY;
use super::record::{JournalRecord, RecordKind, wall_ms};
use super::renewals::Renewal;
use super::replay::CORE_KEY;

/// An interval during which one pod believed it was forging, `[start_ms, end_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgingInterval {
    /// The pod (label as given).
    pub pod: String,
    /// First record saying `forging == true`.
    pub start_ms: i64,
    /// Where the belief ends (see the module documentation).
    pub end_ms: i64,
    /// The journal ended while the pod still believed it was forging.
    pub open_ended: bool,
    /// How far the interval's ends may be off on the common time line (ms): the uncertainty of
    /// aligning the pod's wall clock to the API server's.
    pub uncertainty_ms: i64,
}

/// Why a stretch of a pod's history is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownWhy {
    /// Past the fencing deadline of its last recorded renewal, before its next record.
    PastFencingDeadline,
    /// Its process's records ended (the next record is a restart) while it believed it forged.
    ProcessEnded,
    /// A demotion sent but not yet confirmed by the node (or a node found running at startup).
    Unconfirmed,
}

impl UnknownWhy {
    /// A phrase for people.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownWhy::PastFencingDeadline => {
                "past its fencing deadline (last recorded renewal + renew_deadline) and before its next record"
            }
            UnknownWhy::ProcessEnded => "its sidecar's records stop here until it restarted",
            UnknownWhy::Unconfirmed => {
                "real keys removed (or a node found running at start), not yet confirmed by the node"
            }
        }
    }
}

/// A stretch of one pod's history the journal cannot tell, `[start_ms, end_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownInterval {
    /// The pod.
    pub pod: String,
    /// Start (ms since the epoch).
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
    /// Why.
    pub why: UnknownWhy,
}

/// What one pod's records support.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Beliefs {
    /// When it positively believed its node forged.
    pub forging: Vec<ForgingInterval>,
    /// When the journal cannot tell.
    pub unknown: Vec<UnknownInterval>,
}

/// An interval during which two or more pods believed they were forging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// The pods, sorted.
    pub pods: Vec<String>,
    /// Start of the overlap (ms since the epoch).
    pub start_ms: i64,
    /// End of the overlap.
    pub end_ms: i64,
}

/// The positively supported forging intervals of one pod (see [`beliefs`]).
pub fn forging_intervals(pod: &str, records: &[JournalRecord]) -> Vec<ForgingInterval> {
    beliefs(pod, records, &[], &[]).forging
}

/// What a record says the pod believed after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Belief {
    Off,
    Forging,
    Maybe,
}

fn belief(r: &JournalRecord) -> Belief {
    if !r.forging {
        return Belief::Off;
    }
    match r
        .inputs
        .get("forging_state")
        .and_then(|f| f.get("state"))
        .and_then(serde_json::Value::as_str)
    {
        Some("demoting" | "unknown") => Belief::Maybe,
        _ => Belief::Forging,
    }
}

/// Whether the decisions of `r` let a lease that fences its node go: the local lease released
/// (the core's recorded actions), or the region's global lease handed off or released (its
/// recorded cross-region rounds).
fn released(r: &JournalRecord) -> bool {
    let writes = |actions: Option<&serde_json::Value>, kind: &str, write: &str| {
        actions
            .and_then(serde_json::Value::as_array)
            .is_some_and(|actions| {
                actions.iter().any(|a| {
                    let field = |k| a.get(k).and_then(serde_json::Value::as_str);
                    field("action") == Some(kind)
                        && (kind == "handoff" || field("write") == Some(write))
                })
            })
    };
    let local = r
        .inputs
        .get(CORE_KEY)
        .and_then(|c| c.pointer("/out/actions"));
    let rounds = r
        .inputs
        .get(CLUSTER_KEY)
        .and_then(serde_json::Value::as_array);
    writes(local, "lease", "release")
        || rounds.into_iter().flatten().any(|round| {
            let actions = round.pointer("/out/actions");
            writes(actions, "handoff", "") || writes(actions, "global", "release")
        })
}

/// The recorded renew deadline (from the core's inputs).
fn renew_deadline(r: &JournalRecord) -> Option<Duration> {
    let d = r
        .inputs
        .get(CORE_KEY)?
        .get("timing")?
        .get("renew_deadline")?;
    Duration::deserialize(d).ok()
}

/// A record placed on the common time line: its wall time aligned to the API server's clock.
#[derive(Clone, Copy, Debug)]
struct Timed<'a> {
    /// Aligned wall time of the record (ms since the epoch).
    t: i64,
    /// How far off `t` may be (ms).
    u: i64,
    r: &'a JournalRecord,
}

impl Timed<'_> {
    /// The aligned wall time of an instant `mono_ms` of the record's process's monotonic clock.
    fn at(&self, mono_ms: u64) -> i64 {
        let delta = i64::try_from(mono_ms).unwrap_or(i64::MAX)
            - i64::try_from(self.r.mono_ms).unwrap_or(i64::MAX);
        self.t.saturating_add(delta)
    }
}

/// A wall-clock step larger than this between two records of one process starts a new stretch
/// of clock alignment (an operator or NTP set the clock).
const CLOCK_STEP_MS: i64 = 500;

/// Samples of the server's clock this far (pod's monotonic clock) from a record align it.
const ALIGN_WINDOW_MS: i64 = 30_000;

/// Slack on the upper bound of a sample: the response's time in flight (ms).
const SAMPLE_FLIGHT_MS: i64 = 100;

/// What a record says of its pod's clock against the API server's: `D - W` where `D` is the
/// server's `Date` (whole seconds) and `W` the pod's wall clock when the response arrived. The
/// server's true time then was in `[D, D + 1 s + flight)`, so the pod's offset `δ` (server minus
/// pod) lies in `[D - W, D - W + 1 s + flight)`.
fn clock_sample(r: &JournalRecord, t: i64) -> Option<(i64, i64)> {
    let sc = r.inputs.get("server_clock")?;
    let date = sc.get("date_ms")?.as_i64()?;
    let recv = sc.get("received_mono_ms")?.as_u64()?;
    let recv_wall = t + (i64::try_from(recv).ok()? - i64::try_from(r.mono_ms).ok()?);
    Some((i64::try_from(r.mono_ms).ok()?, date - recv_wall))
}

/// Places `records` (one pod, seq order) on the API server's time line: each record's wall time
/// shifted by the pod's clock offset, estimated from the server-clock samples of the same
/// process within [`ALIGN_WINDOW_MS`] and with no clock step between; `u` is the half-width of
/// the estimate. Records without samples (older writers, synthetic journals) keep their wall
/// time, with `u = 0`: nothing to correct them with.
fn align(records: &[&JournalRecord]) -> Vec<(i64, i64)> {
    let walls: Vec<Option<i64>> = records.iter().map(|r| wall_ms(&r.wall)).collect();
    // Stretches: same process, no clock step.
    let mut stretch = Vec::with_capacity(records.len());
    let mut id = 0usize;
    for i in 0..records.len() {
        if i > 0 {
            let (a, b) = (records[i - 1], records[i]);
            let offset = |r: &JournalRecord, w: Option<i64>| {
                w.map(|w| w - i64::try_from(r.mono_ms).unwrap_or(i64::MAX))
            };
            let step = match (offset(a, walls[i - 1]), offset(b, walls[i])) {
                (Some(x), Some(y)) => (x - y).abs() > CLOCK_STEP_MS,
                _ => true,
            };
            if b.kind == RecordKind::Startup || b.mono_ms < a.mono_ms || step {
                id += 1;
            }
        }
        stretch.push(id);
    }
    let samples: Vec<Option<(i64, i64)>> = records
        .iter()
        .zip(&walls)
        .map(|(r, w)| w.and_then(|t| clock_sample(r, t)))
        .collect();
    (0..records.len())
        .map(|i| {
            let t = walls[i].unwrap_or(0);
            let mono = i64::try_from(records[i].mono_ms).unwrap_or(0);
            let (mut lo, mut hi) = (i64::MIN, i64::MAX);
            for j in (0..records.len()).filter(|&j| stretch[j] == stretch[i]) {
                if let Some((m, d)) = samples[j]
                    && (m - mono).abs() <= ALIGN_WINDOW_MS
                {
                    lo = lo.max(d);
                    hi = hi.min(d + 1_000 + SAMPLE_FLIGHT_MS);
                }
            }
            match (lo, hi) {
                (i64::MIN, _) => (t, 0),
                // Inconsistent samples (the clock drifted fast): the widest honest bound.
                (lo, hi) if lo > hi => (t + (lo + hi) / 2, (lo - hi) / 2 + 1_000),
                (lo, hi) => (t + (lo + hi) / 2, (hi - lo) / 2),
            }
        })
        .collect()
}

/// The last renewal each record shows, as an instant of its process's monotonic clock: the hold
/// after it, and the hold of the state it started from.
fn renewals_shown(r: &JournalRecord) -> impl Iterator<Item = u64> + '_ {
    let after = r
        .inputs
        .get("holding")
        .and_then(|h| h.get("last_renew_sent_at_ms"))
        .and_then(serde_json::Value::as_u64);
    let before = r
        .inputs
        .get(CORE_KEY)
        .and_then(|c| c.pointer("/prev/seat/hold/last_renew_sent_at"))
        .and_then(serde_json::Value::as_u64);
    [after, before].into_iter().flatten()
}

/// The fencing deadline after record `r` (followed by `next` of the same process, if any), as an
/// instant of the process's monotonic clock.
fn fencing_deadline_mono(
    r: &JournalRecord,
    next: Option<&JournalRecord>,
    renewed: Option<u64>,
) -> Option<u64> {
    let deadline = renew_deadline(r).or_else(|| next.and_then(renew_deadline))?;
    let last = renewals_shown(r)
        .chain(next.into_iter().flat_map(renewals_shown))
        .chain(renewed)
        .max()?;
    Some(last.saturating_add(u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX)))
}

/// One firing of the watchdog on a pod: its wall time and the pod's monotonic time (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Firing {
    /// Wall clock, ms since the epoch.
    pub wall_ms: i64,
    /// The pod's monotonic clock, ms.
    pub mono_ms: u64,
    /// Whether it found credential files to remove: the real keys were still on the node then
    /// (an armed heartbeat means a promotion; a verified demotion disarms it).
    pub found_keys: bool,
}

/// How far a firing's wall time may lie from where its monotonic time puts it in a process's
/// records and still count as that process's (a firing of an earlier boot, whose monotonic clock
/// restarted, lies far off).
const FIRING_MATCH_MS: i64 = 3_600_000;

/// What one pod's records (in seq order) support, given the watchdog's firings on it.
///
/// Within one process, the stretch after a record lasts as long as its monotonic clock says
/// (the next record's `mono_ms` minus its own), placed at the record's wall time: a step of the
/// wall clock between two records neither stretches nor shrinks a belief.
pub fn beliefs(
    pod: &str,
    records: &[JournalRecord],
    fired: &[Firing],
    renewals: &[Renewal],
) -> Beliefs {
    let mut out = Beliefs::default();
    let kept: Vec<&JournalRecord> = records
        .iter()
        .filter(|r| r.kind != RecordKind::Watchdog && wall_ms(&r.wall).is_some())
        .collect();
    let timed: Vec<Timed<'_>> = align(&kept)
        .into_iter()
        .zip(&kept)
        .map(|((t, u), r)| Timed { t, u, r })
        .collect();
    let unknown = |out: &mut Beliefs, start: i64, end: i64, why| {
        if end > start {
            out.unknown.push(UnknownInterval {
                pod: pod.to_owned(),
                start_ms: start,
                end_ms: end,
                why,
            });
        }
    };
    let mut released_unconfirmed = false;
    // Each forging stretch, and the index of the record it runs into, if uncut.
    let mut stretches: Vec<(ForgingInterval, Option<usize>)> = Vec::new();
    // The index of the record each stretch starts at.
    let mut starts: Vec<usize> = Vec::new();
    for (i, x) in timed.iter().enumerate() {
        let (t, r) = (x.t, x.r);
        let mut b = belief(r);
        // A pod that let its lease go while its demotion was unconfirmed broke "demote, verify,
        // then release": nothing fences its node any more, so what it may do counts.
        if b == Belief::Off {
            released_unconfirmed = false;
        } else if b == Belief::Maybe && (released_unconfirmed || released(r)) {
            released_unconfirmed = true;
            b = Belief::Forging;
        }
        let Some(next) = timed.get(i + 1) else {
            if b == Belief::Forging {
                // The journal ends while the pod believed it forged.
                starts.push(i);
                stretches.push((
                    ForgingInterval {
                        pod: pod.to_owned(),
                        start_ms: t,
                        end_ms: t,
                        open_ended: true,
                        uncertainty_ms: x.u,
                    },
                    None,
                ));
            }
            break;
        };
        let n = next.r;
        let same_process = n.kind != RecordKind::Startup && n.mono_ms >= r.mono_ms;
        // The end of this record's stretch, on this record's alignment.
        let stretch_end = if same_process {
            x.at(n.mono_ms)
        } else {
            next.t
        }
        .max(t);
        match b {
            Belief::Off => continue,
            Belief::Maybe => {
                unknown(&mut out, t, stretch_end, UnknownWhy::Unconfirmed);
                continue;
            }
            Belief::Forging => {}
        }
        let mut end = stretch_end;
        let mut why = None;
        // A deadline already past at the record does not cut it: a pod that records forging
        // after its own fencing deadline did not fence (a bug the overlap must show).
        // The last successful renewal the compact log shows after this record, same process.
        let own_wall = wall_ms(&r.wall).unwrap_or(t);
        let next_wall = wall_ms(&n.wall).unwrap_or(i64::MAX);
        let renewed = renewals
            .iter()
            .filter(|w| w.ok && w.mono_ms >= r.mono_ms)
            .filter(|w| {
                if same_process {
                    w.mono_ms < n.mono_ms
                } else {
                    w.wall_ms >= own_wall && w.wall_ms < next_wall
                }
            })
            .map(|w| w.sent_mono_ms)
            .max();
        if let Some(d) = fencing_deadline_mono(r, same_process.then_some(n), renewed)
            .map(|d| x.at(d))
            .filter(|&d| d > t && d < end)
        {
            end = d.max(t);
            why = Some(UnknownWhy::PastFencingDeadline);
        }
        let firing = fired.iter().find_map(|f| {
            let at = if same_process {
                (f.mono_ms >= r.mono_ms && f.mono_ms < n.mono_ms)
                    .then(|| x.at(f.mono_ms))
                    .filter(|&at| (at - (f.wall_ms + t - own_wall)).abs() <= FIRING_MATCH_MS)?
            } else {
                f.wall_ms + t - own_wall
            };
            (at >= t && at < stretch_end).then_some((at, f.found_keys))
        });
        // The watchdog demoted the node: known, not forging, from then to the next record.
        let mut unknown_end = stretch_end;
        match firing {
            Some((at, _)) if at < end => {
                end = at;
                why = None;
            }
            // A firing after the deadline ends the unknown stretch there. (That it found the real
            // keys does not show the node forged until then: a whole-pod freeze holds the node
            // and the watchdog alike, and its late firing looks the same.)
            Some((at, _)) => unknown_end = at,
            None => {}
        }
        if !same_process && why.is_none() && firing.is_none() {
            // No deadline to go by: the belief ends with the process's records.
            end = t;
            why = Some(UnknownWhy::ProcessEnded);
        }
        starts.push(i);
        stretches.push((
            ForgingInterval {
                pod: pod.to_owned(),
                start_ms: t,
                end_ms: end,
                open_ended: false,
                uncertainty_ms: x.u,
            },
            // Uncut, it runs into the next record's stretch (whose alignment may differ a little).
            (end == stretch_end && same_process).then_some(i + 1),
        ));
        if let Some(why) = why {
            unknown(&mut out, end, unknown_end, why);
        }
    }
    out.forging = merge(stretches, &starts);
    // Unknown stretches of consecutive records for the same reason read as one.
    let mut joined: Vec<UnknownInterval> = Vec::with_capacity(out.unknown.len());
    for u in std::mem::take(&mut out.unknown) {
        match joined.last_mut() {
            Some(last) if last.why == u.why && (u.start_ms - last.end_ms).abs() <= 1 => {
                last.end_ms = last.end_ms.max(u.end_ms);
            }
            _ => joined.push(u),
        }
    }
    out.unknown = joined;
    out
}

/// Joins each stretch that runs into the next record's with that one, and drops empty ones
/// (except an open end, which says the journal ended while forging). `starts[k]` is the record
/// stretch `k` starts at.
fn merge(
    stretches: Vec<(ForgingInterval, Option<usize>)>,
    starts: &[usize],
) -> Vec<ForgingInterval> {
    let mut out: Vec<ForgingInterval> = Vec::new();
    let mut runs_into: Option<usize> = None;
    for ((s, into), &start) in stretches.into_iter().zip(starts) {
        match out.last_mut() {
            Some(last) if runs_into == Some(start) => {
                last.end_ms = last.end_ms.max(s.end_ms);
                last.open_ended = s.open_ended;
                last.uncertainty_ms = last.uncertainty_ms.max(s.uncertainty_ms);
            }
            _ if s.end_ms <= s.start_ms && !s.open_ended => {
                runs_into = None;
                continue;
            }
            _ => out.push(s),
        }
        runs_into = into;
    }
    out
}

/// Every maximal interval during which the set of forging pods had two or more members (a new
/// overlap starts whenever that set changes). Ends sort before starts at the same instant, so a
/// handover at the same millisecond is not an overlap.
pub fn overlaps(intervals: &[ForgingInterval]) -> Vec<Overlap> {
    // (time, 0 = end / 1 = start, index)
    let mut events: Vec<(i64, u8, usize)> = Vec::with_capacity(intervals.len() * 2);
    for (i, iv) in intervals.iter().enumerate() {
        if iv.end_ms > iv.start_ms {
            events.push((iv.start_ms, 1, i));
            events.push((iv.end_ms, 0, i));
        }
    }
    events.sort_unstable();
    let mut active: Vec<usize> = Vec::new();
    let mut out: Vec<Overlap> = Vec::new();
    let mut current: Option<(i64, BTreeSet<String>)> = None;
    let mut idx = 0;
    while idx < events.len() {
        let t = events[idx].0;
        while idx < events.len() && events[idx].0 == t {
            let (_, kind, i) = events[idx];
            if kind == 1 {
                active.push(i);
            } else if let Some(pos) = active.iter().position(|&a| a == i) {
                active.swap_remove(pos);
            }
            idx += 1;
        }
        let pods: BTreeSet<String> = active.iter().map(|&i| intervals[i].pod.clone()).collect();
        let changed = current.as_ref().map(|(_, p)| p != &pods).unwrap_or(true);
        if changed {
            if let Some((start, p)) = current.take()
                && t > start
            {
                out.push(Overlap {
                    pods: p.into_iter().collect(),
                    start_ms: start,
                    end_ms: t,
                });
            }
            if pods.len() >= 2 {
                current = Some((t, pods));
            }
        }
    }
    out
}

/// How much of an overlap the clock alignment of its pods could account for: the sum of the two
/// largest uncertainties of the intervals it is made of (each end may be off by its own).
pub fn clock_tolerance_ms(o: &Overlap, intervals: &[ForgingInterval]) -> i64 {
    let mut us: Vec<i64> = o
        .pods
        .iter()
        .filter_map(|p| {
            intervals
                .iter()
                .filter(|i| &i.pod == p && i.start_ms < o.end_ms && i.end_ms > o.start_ms)
                .map(|i| i.uncertainty_ms)
                .max()
        })
        .collect();
    us.sort_unstable_by(|a, b| b.cmp(a));
    us.iter().take(2).sum()
}

/// The overlaps the journals positively support: longer than `min_ms` and than what the pods'
/// clock alignment could account for ([`clock_tolerance_ms`]); the rest come second.
pub fn supported_overlaps(
    intervals: &[ForgingInterval],
    min_ms: i64,
) -> (Vec<Overlap>, Vec<Overlap>) {
    overlaps(intervals).into_iter().partition(|o| {
        let len = o.end_ms - o.start_ms;
        len >= min_ms.max(1) && len > clock_tolerance_ms(o, intervals)
    })
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
