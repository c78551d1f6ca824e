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
        uncertainty_ms: 0,
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
            open_ended: true,
            uncertainty_ms: 0,
        }]
    );
}

/// A sidecar's record at `t_ms` (mono = t_ms - T0) with its hold's last renewal and the
/// recorded renew deadline (10 s).
fn sidecar(kind: RecordKind, at: i64, state: &str, renewed_at: Option<i64>) -> JournalRecord {
    let t0 = 1_795_600_800_000;
    let forging = state != "off";
    let mut r = record(
        "a",
        "eu",
        t0 + at,
        kind,
        "leader",
        forging,
        Reason::Forging,
        "",
    );
    r.mono_ms = u64::try_from(at).unwrap_or(0);
    r.inputs = serde_json::json!({
        "forging_state": {"state": state},
        "holding": renewed_at.map(|m| serde_json::json!({"last_renew_sent_at_ms": m})),
        "core": {"timing": {"renew_deadline": {"secs": 10, "nanos": 0}}},
    });
    r
}

#[test]
fn a_crashed_leaders_belief_ends_at_its_fencing_deadline_and_the_rest_is_unknown() {
    let t0 = 1_795_600_800_000;
    // Forging, renewed at 1 s; its next record is a restart minutes later.
    let rs = vec![
        sidecar(RecordKind::Heartbeat, 2_000, "on", Some(1_000)),
        sidecar(RecordKind::Startup, 200_000, "off", None),
    ];
    let b = beliefs("a", &rs, &[], &[]);
    assert_eq!(b.forging.len(), 1);
    assert_eq!(
        (b.forging[0].start_ms - t0, b.forging[0].end_ms - t0),
        (2_000, 11_000)
    );
    assert_eq!(b.unknown.len(), 1);
    assert_eq!(b.unknown[0].why, UnknownWhy::PastFencingDeadline);
    assert_eq!(
        (b.unknown[0].start_ms - t0, b.unknown[0].end_ms - t0),
        (11_000, 200_000)
    );
}

#[test]
fn the_watchdogs_firing_ends_a_stalled_sidecars_belief() {
    let t0 = 1_795_600_800_000;
    let rs = vec![
        sidecar(RecordKind::Heartbeat, 2_000, "on", Some(1_000)),
        // The sidecar resumed later still holding a renewal from before its stall.
        sidecar(RecordKind::Decision, 60_000, "off", Some(9_000)),
    ];
    let fired = [Firing {
        wall_ms: t0 + 19_000,
        mono_ms: 19_000,
        found_keys: false,
    }];
    let b = beliefs("a", &rs, &fired, &[]);
    assert_eq!(
        b.forging.iter().map(|i| i.end_ms - t0).collect::<Vec<_>>(),
        vec![19_000]
    );
    assert!(b.unknown.is_empty(), "{:?}", b.unknown);
}

#[test]
fn a_pod_recording_forging_after_its_own_fencing_deadline_is_believed() {
    let t0 = 1_795_600_800_000;
    // Renewed at 1 s, still "on" at 30 s and 40 s: it did not fence itself.
    let rs = vec![
        sidecar(RecordKind::Decision, 30_000, "on", Some(1_000)),
        sidecar(RecordKind::Decision, 40_000, "on", Some(1_000)),
        sidecar(RecordKind::Decision, 50_000, "off", None),
    ];
    let b = beliefs("a", &rs, &[], &[]);
    assert_eq!(
        b.forging
            .iter()
            .map(|i| (i.start_ms - t0, i.end_ms - t0))
            .collect::<Vec<_>>(),
        vec![(30_000, 50_000)]
    );
}

#[test]
fn a_wall_clock_step_between_two_records_does_not_stretch_a_belief() {
    let t0 = 1_795_600_800_000;
    let mut later = sidecar(RecordKind::Decision, 12_000, "off", Some(9_000));
    // The wall clock jumped 40 minutes ahead between the records (mono advanced 10 s).
    later.wall = format!(
        "{:.3}",
        jiff::Timestamp::from_millisecond(t0 + 2_412_000).expect("ts")
    );
    let rs = vec![
        sidecar(RecordKind::Heartbeat, 2_000, "on", Some(1_000)),
        later,
    ];
    let b = beliefs("a", &rs, &[], &[]);
    assert_eq!(
        b.forging
            .iter()
            .map(|i| (i.start_ms - t0, i.end_ms - t0))
            .collect::<Vec<_>>(),
        vec![(2_000, 12_000)]
    );
}

#[test]
fn an_unconfirmed_demotion_is_unknown_unless_the_lease_was_released_meanwhile() {
    let demoting = |at: i64, release: bool| {
        let mut r = sidecar(RecordKind::Decision, at, "demoting", None);
        if release {
            r.inputs["core"]["out"] =
                serde_json::json!({"actions": [{"action": "lease", "write": "release"}]});
        }
        r
    };
    let off = sidecar(RecordKind::Decision, 9_000, "off", None);
    let kept = beliefs("a", &[demoting(1_000, false), off.clone()], &[], &[]);
    assert!(kept.forging.is_empty());
    assert_eq!(kept.unknown[0].why, UnknownWhy::Unconfirmed);
    let released = beliefs("a", &[demoting(1_000, true), off], &[], &[]);
    assert_eq!(released.forging.len(), 1, "{released:?}");
}

#[test]
fn an_unconfirmed_demotion_counts_once_the_regions_global_lease_was_handed_off_or_released() {
    let demoting = |actions: serde_json::Value| {
        let mut r = sidecar(RecordKind::Decision, 1_000, "demoting", None);
        r.inputs["cluster"] = serde_json::json!([{ "out": { "actions": actions } }]);
        r
    };
    let off = sidecar(RecordKind::Decision, 9_000, "off", None);
    let cases = [
        (
            "renewal only",
            serde_json::json!([{"action": "global", "write": "renew"}]),
            0,
        ),
        (
            "handoff",
            serde_json::json!([{"action": "handoff", "to": "b"}]),
            1,
        ),
        (
            "release",
            serde_json::json!([{"action": "global", "write": "release"}]),
            1,
        ),
        (
            "presence release",
            serde_json::json!([{"action": "presence", "write": "release"}]),
            0,
        ),
    ];
    for (name, actions, forging) in cases {
        let b = beliefs("a", &[demoting(actions), off.clone()], &[], &[]);
        assert_eq!(b.forging.len(), forging, "{name}: {b:?}");
    }
}

#[test]
fn the_compact_renewal_log_extends_a_killed_sidecars_belief_to_its_true_deadline() {
    let t0 = 1_795_600_800_000;
    // Last record at 2 s (renewed at 1 s); it kept renewing until 40 s, then was killed;
    // restarted at 200 s.
    let rs = vec![
        sidecar(RecordKind::Heartbeat, 2_000, "on", Some(1_000)),
        sidecar(RecordKind::Startup, 200_000, "off", None),
    ];
    let renewals = [Renewal {
        wall_ms: t0 + 40_100,
        mono_ms: 40_100,
        sent_mono_ms: 40_000,
        ok: true,
    }];
    let b = beliefs("a", &rs, &[], &renewals);
    assert_eq!(
        b.forging
            .iter()
            .map(|i| (i.start_ms - t0, i.end_ms - t0))
            .collect::<Vec<_>>(),
        vec![(2_000, 50_000)]
    );
    assert_eq!(
        (b.unknown[0].start_ms - t0, b.unknown[0].end_ms - t0),
        (50_000, 200_000)
    );
}

#[test]
fn a_late_watchdog_firing_ends_the_unknown_stretch_but_does_not_extend_the_belief() {
    let t0 = 1_795_600_800_000;
    let rs = vec![
        sidecar(RecordKind::Heartbeat, 2_000, "on", Some(1_000)),
        sidecar(RecordKind::Decision, 90_000, "off", Some(1_000)),
    ];
    // Deadline at 11 s; the watchdog fired at 60 s and found the real keys: a frozen pod's
    // watchdog fires late too, while its node forged nothing.
    let fired = [Firing {
        wall_ms: t0 + 60_000,
        mono_ms: 60_000,
        found_keys: true,
    }];
    let b = beliefs("a", &rs, &fired, &[]);
    assert_eq!(
        b.forging.iter().map(|i| i.end_ms - t0).collect::<Vec<_>>(),
        vec![11_000]
    );
    assert_eq!(
        (b.unknown[0].start_ms - t0, b.unknown[0].end_ms - t0),
        (11_000, 60_000)
    );
}
