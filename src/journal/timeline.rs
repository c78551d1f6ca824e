//! Merging several pods' journals and finding when two or more believed they were forging.
//!
//! A pod's belief comes from its records' `forging` field: it starts at the first record saying
//! `true` and ends at the next record saying `false`. If the journal ends while `forging` is still
//! `true` (the pod died, or the journal was copied mid-run), the belief is taken to end at that
//! last record, and the interval is marked open-ended: what happened after is unknown.
//!
//! Times are each pod's own wall clock; clock skew between pods shifts intervals by the skew, so an
//! overlap shorter than the skew may be an artifact (the CLI's `--min-overlap` hides those).

use std::collections::BTreeSet;

use super::record::{JournalRecord, wall_ms};

/// An interval during which one pod believed it was forging, `[start_ms, end_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgingInterval {
    /// The pod (label as given).
    pub pod: String,
    /// First record saying `forging == true`.
    pub start_ms: i64,
    /// Next record saying `false`, or the last record when open-ended.
    pub end_ms: i64,
    /// The journal ended while the pod still believed it was forging.
    pub open_ended: bool,
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

/// The forging intervals of one pod, from its records in seq order, labelled `pod`.
pub fn forging_intervals(pod: &str, records: &[JournalRecord]) -> Vec<ForgingInterval> {
    let mut out = Vec::new();
    let mut open: Option<i64> = None;
    let mut last_ms = None;
    for r in records {
        let Some(t) = wall_ms(&r.wall) else { continue };
        last_ms = Some(t);
        match (open, r.forging) {
            (None, true) => open = Some(t),
            (Some(start), false) => {
                out.push(ForgingInterval {
                    pod: pod.to_string(),
                    start_ms: start,
                    end_ms: t.max(start),
                    open_ended: false,
                });
                open = None;
            }
            _ => {}
        }
    }
    if let (Some(start), Some(end)) = (open, last_ms) {
        out.push(ForgingInterval {
            pod: pod.to_string(),
            start_ms: start,
            end_ms: end.max(start),
            open_ended: true,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::reason::Reason;
    use crate::journal::RecordKind;
    use crate::journal::demo::record;

    fn iv(pod: &str, s: i64, e: i64) -> ForgingInterval {
        ForgingInterval {
            pod: pod.into(),
            start_ms: s,
            end_ms: e,
            open_ended: false,
        }
    }

    #[test]
    fn a_clean_handover_at_the_same_instant_is_not_an_overlap() {
        assert!(overlaps(&[iv("a", 0, 100), iv("b", 100, 200)]).is_empty());
    }

    #[test]
    fn two_pods_forging_at_once_are_reported_with_the_exact_interval() {
        let o = overlaps(&[iv("a", 0, 150), iv("b", 100, 200)]);
        assert_eq!(
            o,
            vec![Overlap {
                pods: vec!["a".into(), "b".into()],
                start_ms: 100,
                end_ms: 150
            }]
        );
    }

    #[test]
    fn a_third_pod_joining_splits_the_overlap_where_the_set_changes() {
        let o = overlaps(&[iv("a", 0, 300), iv("b", 100, 200), iv("c", 150, 250)]);
        let sets: Vec<_> = o
            .iter()
            .map(|x| (x.pods.join(","), x.start_ms, x.end_ms))
            .collect();
        assert_eq!(
            sets,
            vec![
                ("a,b".to_string(), 100, 150),
                ("a,b,c".to_string(), 150, 200),
                ("a,c".to_string(), 200, 250)
            ]
        );
    }

    #[test]
    fn a_journal_that_ends_while_forging_gives_an_open_ended_interval() {
        let t = 1_795_600_800_000;
        let rs = vec![
            record(
                "a",
                "eu",
                t,
                RecordKind::Decision,
                "candidate",
                false,
                Reason::Standby,
                "",
            ),
            record(
                "a",
                "eu",
                t + 10,
                RecordKind::Decision,
                "leader",
                true,
                Reason::Forging,
                "",
            ),
            record(
                "a",
                "eu",
                t + 20,
                RecordKind::Heartbeat,
                "leader",
                true,
                Reason::LeaseRenewed,
                "",
            ),
        ];
        assert_eq!(
            forging_intervals("a", &rs),
            vec![ForgingInterval {
                pod: "a".into(),
                start_ms: t + 10,
                end_ms: t + 20,
                open_ended: true
            }]
        );
    }
}
