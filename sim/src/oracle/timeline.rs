//! Who forges when, and the measures derived from it: forger intervals, the piecewise-constant
//! forger set ("segments"), dual-forging slots, gaps, handovers, coverage and overlap.
//!
//! Instant convention: the forger set *at* instant `t` is the set after every event with
//! `at_ms <= t` has been applied. A pod forges over the half-open interval `[started, stopped)`.
//! So a node that starts forging exactly at a slot boundary counts for that slot, and one that stops
//! exactly at it does not. Windows are half-open `[from, to)` as well.
//!
//! Leadership checks ([`leadership_checks`]) follow cardano-node (docs/adapters.md, "What the node
//! does at a slot start and on SIGHUP"): a forging node checks at each slot start, and a node whose
//! forging begins part-way through a slot checks that slot at once. Every mid-slot start of
//! forging is one of those: a SIGHUP that enabled it (new forging threads, whose slot watcher
//! runs at once), or a thaw (the node's slot clock moved on while it was stopped; a thaw in the
//! slot it froze in re-checks a slot that same node had checked, which counts once). Dual and
//! missed slots are judged on these checks.

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::{EventKind, PodId, SimMs, Trace};

/// At most this many dual-forging slots are listed one by one (all are counted).
pub const MAX_LISTED_DUAL_SLOTS: usize = 1_000;

/// One pod forging over `[start_ms, end_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgerInterval {
    /// Who.
    pub pod: PodId,
    /// First instant it forges.
    pub start_ms: SimMs,
    /// First instant it no longer forges (the run's end if it never stopped).
    pub end_ms: SimMs,
}

/// The forging pods of a run, per pod interval; zero-length intervals are dropped.
pub fn forger_intervals(trace: &Trace) -> Vec<ForgerInterval> {
    let mut open: BTreeMap<PodId, SimMs> = BTreeMap::new();
    let mut intervals = Vec::new();
    for event in &trace.events {
        let at_ms = event.at_ms.min(trace.end_ms);
        match &event.kind {
            EventKind::ForgingStarted { pod } => {
                // A second start without a stop changes nothing: it keeps forging.
                open.entry(pod.clone()).or_insert(at_ms);
            }
            EventKind::ForgingStopped { pod } => {
                if let Some(start_ms) = open.remove(pod)
                    && at_ms > start_ms
                {
                    intervals.push(ForgerInterval {
                        pod: pod.clone(),
                        start_ms,
                        end_ms: at_ms,
                    });
                }
            }
            _ => {}
        }
    }
    for (pod, start_ms) in open {
        if trace.end_ms > start_ms {
            intervals.push(ForgerInterval {
                pod,
                start_ms,
                end_ms: trace.end_ms,
            });
        }
    }
    intervals.sort_by(|a, b| (a.start_ms, &a.pod).cmp(&(b.start_ms, &b.pod)));
    intervals
}

/// `[start_ms, end_ms)` with a constant set of forgers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Start, inclusive.
    pub start_ms: SimMs,
    /// End, exclusive.
    pub end_ms: SimMs,
    /// Who forges, sorted.
    pub forgers: Vec<PodId>,
}

/// A change of the forging node to a different one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// When the new node became the only forger.
    pub at_ms: SimMs,
    /// The previous sole forger.
    pub from: PodId,
    /// The new sole forger.
    pub to: PodId,
}

/// One leadership check: `pod` checked slot `slot` at `at_ms` (its start, or part-way through it
/// when forging began then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The slot checked.
    pub slot: u64,
    /// When.
    pub at_ms: SimMs,
    /// Who.
    pub pod: PodId,
}

/// Every leadership check of the forger intervals, in (slot, time, pod) order.
pub fn leadership_checks(intervals: &[ForgerInterval], slot_ms: SimMs) -> Vec<Check> {
    let mut checks = Vec::new();
    if slot_ms == 0 {
        return checks;
    }
    for interval in intervals {
        if interval.start_ms % slot_ms != 0 {
            checks.push(Check {
                slot: interval.start_ms / slot_ms,
                at_ms: interval.start_ms,
                pod: interval.pod.clone(),
            });
        }
        let mut k = interval.start_ms.div_ceil(slot_ms);
        while let Some(at_ms) = k.checked_mul(slot_ms).filter(|t| *t < interval.end_ms) {
            checks.push(Check {
                slot: k,
                at_ms,
                pod: interval.pod.clone(),
            });
            k += 1;
        }
    }
    checks.sort_by(|a, b| (a.slot, a.at_ms, &a.pod).cmp(&(b.slot, b.at_ms, &b.pod)));
    checks
}

/// A slot whose leadership check ran on two or more nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DualSlot {
    /// Slot number k (it starts at k × slot_length).
    pub slot: u64,
    /// Its start.
    pub start_ms: SimMs,
    /// The nodes that checked it, sorted.
    pub pods: Vec<PodId>,
    /// Within `renew_deadline` after the thaw of a freeze that spanned one of the frozen pod's
    /// fencing deadlines, with that pod among `pods` (the residual risk of docs/safety.md §9; see
    /// `leases::residual_windows`).
    pub residual: bool,
}

/// Dual-forging slots: counted exactly, listed up to [`MAX_LISTED_DUAL_SLOTS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DualSlots {
    /// Dual slots that are not residual.
    pub dual: u64,
    /// Residual dual slots.
    pub residual: u64,
    /// The first slots of either kind, in time order.
    pub listed: Vec<DualSlot>,
}

/// A `freeze` of a whole pod, from the trace's `Frozen` events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freeze {
    /// Which pod.
    pub pod: PodId,
    /// When the freeze began.
    pub start_ms: SimMs,
    /// How long.
    pub for_ms: SimMs,
}

/// The forger set of a whole run as contiguous segments covering `[0, end_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Contiguous, non-empty, neighbours have different sets.
    pub segments: Vec<Segment>,
    /// The run's end.
    pub end_ms: SimMs,
    /// The set after every event (what forges at and after the end).
    pub final_forgers: Vec<PodId>,
    /// Each pod's forging intervals (where its leadership checks come from).
    pub intervals: Vec<ForgerInterval>,
}

impl Timeline {
    /// Builds the segments from the trace's ForgingStarted/ForgingStopped events.
    pub fn from_trace(trace: &Trace) -> Timeline {
        let end_ms = trace.end_ms;
        let mut current: BTreeSet<PodId> = BTreeSet::new();
        let mut segments: Vec<Segment> = Vec::new();
        let mut start_ms: SimMs = 0;
        let push = |segments: &mut Vec<Segment>, from: SimMs, to: SimMs, set: &BTreeSet<PodId>| {
            let to = to.min(end_ms);
            if to <= from {
                return;
            }
            let forgers: Vec<PodId> = set.iter().cloned().collect();
            match segments.last_mut() {
                Some(last) if last.forgers == forgers => last.end_ms = to,
                _ => segments.push(Segment {
                    start_ms: from,
                    end_ms: to,
                    forgers,
                }),
            }
        };
        for event in &trace.events {
            let changes = match &event.kind {
                EventKind::ForgingStarted { pod } => Some((pod, true)),
                EventKind::ForgingStopped { pod } => Some((pod, false)),
                _ => None,
            };
            let Some((pod, forging)) = changes else {
                continue;
            };
            if event.at_ms > start_ms {
                push(&mut segments, start_ms, event.at_ms, &current);
                start_ms = event.at_ms;
            }
            if forging {
                current.insert(pod.clone());
            } else {
                current.remove(pod);
            }
        }
        push(&mut segments, start_ms, end_ms, &current);
        debug_assert!(segments.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
        debug_assert!(segments.first().is_none_or(|s| s.start_ms == 0));
        Timeline {
            segments,
            end_ms,
            final_forgers: current.into_iter().collect(),
            intervals: forger_intervals(trace),
        }
    }

    /// Who forges at instant `t` (after every event at `t`).
    pub fn forgers_at(&self, t: SimMs) -> &[PodId] {
        if t >= self.end_ms {
            return &self.final_forgers;
        }
        // The last segment starting at or before t; segments cover [0, end_ms).
        let i = self.segments.partition_point(|s| s.start_ms <= t);
        match i.checked_sub(1).and_then(|i| self.segments.get(i)) {
            Some(segment) => &segment.forgers,
            None => &[],
        }
    }

    /// The segments overlapping `[from, to)`, clipped to it.
    pub fn clipped(&self, from: SimMs, to: SimMs) -> impl Iterator<Item = Segment> + '_ {
        self.segments
            .iter()
            .filter(move |s| s.end_ms > from && s.start_ms < to)
            .map(move |s| Segment {
                start_ms: s.start_ms.max(from),
                end_ms: s.end_ms.min(to),
                forgers: s.forgers.clone(),
            })
    }

    /// The first instant anyone forges.
    pub fn first_forger_ms(&self) -> Option<SimMs> {
        self.segments
            .iter()
            .find(|s| !s.forgers.is_empty())
            .map(|s| s.start_ms)
    }

    /// The default window of gap and coverage measures: from the first forger to the end, or the
    /// whole run when nobody ever forged (so a run without a forger fails them).
    pub fn default_window(&self) -> (SimMs, SimMs) {
        (self.first_forger_ms().unwrap_or(0), self.end_ms)
    }

    /// Intervals with no forger within `[from, to)`, in time order.
    pub fn gaps(&self, from: SimMs, to: SimMs) -> Vec<(SimMs, SimMs)> {
        self.clipped(from, to)
            .filter(|s| s.forgers.is_empty())
            .map(|s| (s.start_ms, s.end_ms))
            .collect()
    }

    /// The longest gap within `[from, to)`: `(start, length)`, the earliest among equals.
    pub fn max_gap(&self, from: SimMs, to: SimMs) -> Option<(SimMs, SimMs)> {
        let mut best: Option<(SimMs, SimMs)> = None;
        for (start, end) in self.gaps(from, to) {
            let length = end - start;
            if best.is_none_or(|(_, b)| length > b) {
                best = Some((start, length));
            }
        }
        best
    }

    /// Fraction of `[from, to)` with exactly one forger; for an empty window, whether exactly one
    /// forges at `from` (1.0 or 0.0).
    pub fn coverage(&self, from: SimMs, to: SimMs) -> f64 {
        if to <= from {
            return if self.forgers_at(from).len() == 1 {
                1.0
            } else {
                0.0
            };
        }
        let covered: SimMs = self
            .clipped(from, to)
            .filter(|s| s.forgers.len() == 1)
            .map(|s| s.end_ms - s.start_ms)
            .sum();
        covered as f64 / (to - from) as f64
    }

    /// The longest stretch with two or more forgers (their identity may change within it), in ms.
    pub fn max_overlap_ms(&self) -> SimMs {
        let mut best = 0;
        let mut run = 0;
        for s in &self.segments {
            if s.forgers.len() >= 2 {
                run += s.end_ms - s.start_ms;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
        best
    }

    /// Every change of the sole forger to a different pod. Stretches with no forger or with
    /// several do not end the previous sole forger's turn: A, gap, A is no handover; A, (A and B),
    /// B is one.
    pub fn handovers(&self) -> Vec<Handover> {
        let mut last: Option<&PodId> = None;
        let mut handovers = Vec::new();
        for s in &self.segments {
            let [pod] = s.forgers.as_slice() else {
                continue;
            };
            if let Some(previous) = last
                && previous != pod
            {
                handovers.push(Handover {
                    at_ms: s.start_ms,
                    from: previous.clone(),
                    to: pod.clone(),
                });
            }
            last = Some(pod);
        }
        handovers
    }

    /// Dual-forging slots: slot k (starting at k × `slot_ms`, before the run's end) is dual when
    /// two or more pods checked it (`checks`: [`leadership_checks`] of this timeline), residual
    /// when `residual` says so of its checks (a frozen pod's check at its thaw, part-way through a
    /// slot, is judged at that instant).
    pub fn dual_slots(
        checks: &[Check],
        slot_ms: SimMs,
        residual: impl Fn(&[Check]) -> bool,
    ) -> DualSlots {
        assert!(slot_ms > 0, "the parser rejects a zero slot length");
        let mut out = DualSlots::default();
        for same_slot in checks.chunk_by(|a, b| a.slot == b.slot) {
            let pods: BTreeSet<&PodId> = same_slot.iter().map(|c| &c.pod).collect();
            if pods.len() < 2 {
                continue;
            }
            let slot = same_slot[0].slot;
            let start_ms = slot * slot_ms;
            let pods: Vec<PodId> = pods.into_iter().cloned().collect();
            let residual = residual(same_slot);
            if residual {
                out.residual += 1;
            } else {
                out.dual += 1;
            }
            if out.listed.len() < MAX_LISTED_DUAL_SLOTS {
                out.listed.push(DualSlot {
                    slot,
                    start_ms,
                    pods,
                    residual,
                });
            }
        }
        out
    }

    /// Slots beginning in `[from, to)` that no node checked (`checks`: [`leadership_checks`] of
    /// this timeline, in slot order), by their start, in time order.
    pub fn missed_slots(checks: &[Check], slot_ms: SimMs, from: SimMs, to: SimMs) -> Vec<SimMs> {
        let mut missed = Vec::new();
        if slot_ms == 0 {
            return missed;
        }
        let mut k = from.div_ceil(slot_ms);
        while let Some(start_ms) = k.checked_mul(slot_ms).filter(|t| *t < to) {
            if checks.binary_search_by_key(&k, |c| c.slot).is_err() {
                missed.push(start_ms);
            }
            k += 1;
        }
        missed
    }
}

/// The freezes of a run, one per span in which a pod was frozen without a break: a freeze that
/// begins while its pod is still frozen extends that span (the world keeps the pod frozen until
/// the later end, `PodClock::freeze`), so the pod thaws once, at the span's end. Judged per fault
/// instead, a span of overlapping freezes had its first freeze span the fencing deadline and its
/// residual window close while the pod was still frozen (soak seed 10708).
pub fn freezes(trace: &Trace) -> Vec<Freeze> {
    let mut spans: Vec<Freeze> = Vec::new();
    for e in &trace.events {
        let EventKind::Frozen { pod, for_ms } = &e.kind else {
            continue;
        };
        let end = e.at_ms.saturating_add(*for_ms);
        let open = spans
            .iter_mut()
            .rev()
            .find(|f| f.pod == *pod)
            .filter(|f| e.at_ms < f.start_ms.saturating_add(f.for_ms));
        match open {
            Some(f) => f.for_ms = f.for_ms.max(end - f.start_ms),
            None => spans.push(Freeze {
                pod: pod.clone(),
                start_ms: e.at_ms,
                for_ms: *for_ms,
            }),
        }
    }
    spans
}

/// Whether the pod's target credential files exist at `t` (its last `Credentials` event at or
/// before `t`; absent when there is none).
pub fn credentials_at(trace: &Trace, pod: &PodId, t: SimMs) -> bool {
    trace
        .events
        .iter()
        .take_while(|e| e.at_ms <= t)
        .filter_map(|e| match &e.kind {
            EventKind::Credentials { pod: p, present } if p == pod => Some(*present),
            _ => None,
        })
        .last()
        .unwrap_or(false)
}

/// Instants of the node exits of a run.
pub fn node_exits(trace: &Trace) -> Vec<SimMs> {
    trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::NodeExit { .. }))
        .map(|e| e.at_ms)
        .collect()
}

/// Requests answered per API server over the whole run.
pub fn api_requests(trace: &Trace) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for e in &trace.events {
        if let EventKind::ApiRequest { server } = &e.kind {
            *counts.entry(server.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Instants of the requests `server` answered in `[from, to)` (`to = None`: to the end, inclusive).
pub fn api_requests_in(trace: &Trace, server: &str, from: SimMs, to: Option<SimMs>) -> Vec<SimMs> {
    trace
        .events
        .iter()
        .filter(|e| e.at_ms >= from && to.is_none_or(|to| e.at_ms < to))
        .filter(|e| matches!(&e.kind, EventKind::ApiRequest { server: s } if s == server))
        .map(|e| e.at_ms)
        .collect()
}
