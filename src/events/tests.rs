//! Tables of decisions and the Events they are worth, and the spam filter's arithmetic.

use std::collections::BTreeMap;

use super::*;
use crate::core::cluster::{ClusterDecision, ClusterObservations, ClusterState, LocalView};
use crate::core::election::{Decision, ElectionState, Gate, LeaseEvent, NodeView, Observations};
use crate::core::eligibility::Eligibility;
use crate::core::policy::{Effective, PolicyReason, Ranking, State};
use crate::report::{ActionResult, SighupOutcome};

fn observations() -> Observations {
    Observations {
        now: MonoTime(0),
        lease: LeaseEvent::Nothing,
        node: NodeView {
            process: None,
            forging_enabled: None,
            standby_ready: true,
            keys_in_place: true,
        },
        eligibility: Eligibility {
            node_running: true,
            socket_accepting: true,
            metrics_readable: true,
            credentials_valid: true,
            shutting_down: false,
            at_tip: None,
        },
        gate: Gate::Allow,
    }
}

fn decision(role: Role, reason: Reason, message: &str) -> Decision {
    Decision {
        next: ElectionState::default(),
        role,
        actions: Vec::new(),
        reason,
        message: message.to_owned(),
        entitled: false,
        wake_by: MonoTime(0),
        shutdown_complete: false,
    }
}

fn done(action: Action) -> ActionResult {
    ActionResult {
        action,
        ok: true,
        detail: String::new(),
        files_changed: true,
        sighup: SighupOutcome::Sent,
    }
}

fn round(actions: Vec<ClusterAction>, override_active: bool, message: &str) -> ClusterStep {
    let effective = Effective {
        state: State::PriorityBased,
        priority: 1,
        reported_priority: 1,
        override_active,
        reason: PolicyReason::HealthyOperation,
        allows_forging: true,
    };
    ClusterStep {
        prev: ClusterState::default(),
        obs: ClusterObservations {
            now: MonoTime(0),
            region: "east".into(),
            pod: "bp-0".into(),
            local: LocalView {
                leader: true,
                eligible: true,
                forging_off: true,
                shutting_down: false,
                region_quiet: true,
                answer_by: None,
            },
            regions: BTreeMap::new(),
            global: LeaseEvent::Nothing,
            presence: LeaseEvent::Nothing,
            others: BTreeMap::new(),
            server_now_ms: None,
            failback_delay: Duration::from_secs(60),
        },
        decision: ClusterDecision {
            next: ClusterState::default(),
            gate: Gate::Deny(Reason::PolicyDisallows),
            actions,
            ranking: Ranking {
                effective: BTreeMap::from([("east".to_owned(), effective)]),
                candidates: Vec::new(),
                preferred: None,
            },
            message: message.to_owned(),
            wake_by: MonoTime(0),
        },
    }
}

/// What one decision (with the rounds before it) is worth, as (regarding, severity, reason).
fn worth(
    seen: &mut Seen,
    d: &Decision,
    results: &[ActionResult],
    rounds: &[ClusterStep],
) -> Vec<(Regarding, Severity, &'static str)> {
    let obs = observations();
    let t = TickRecord {
        wall: jiff::Timestamp::UNIX_EPOCH,
        observations: &obs,
        decision: d,
        results,
        previous_role: Role::Candidate,
        node: None,
        cluster: rounds,
        confirmed: None,
    };
    events_of(&t, seen, true)
        .into_iter()
        .map(|e| (e.regarding, e.severity, e.reason))
        .collect()
}

#[test]
fn each_move_of_forging_is_one_event_on_the_pod_and_one_on_its_cluster() {
    use Regarding::{Cluster, Pod};
    use Severity::{Normal, Warning};
    let demote = || done(Action::Demote { sighup: true });
    let cases: Vec<(Decision, Vec<ActionResult>, Vec<_>)> = vec![
        (
            decision(Role::Acquiring, Reason::Promoting, "real keys written"),
            vec![done(Action::Promote)],
            vec![(Cluster, Normal, "Promoted"), (Pod, Normal, "Promoted")],
        ),
        (
            decision(
                Role::Demoting,
                Reason::Demoting,
                "demoting (policy_disallows)",
            ),
            vec![demote()],
            vec![(Cluster, Normal, "Demoted"), (Pod, Normal, "Demoted")],
        ),
        (
            decision(Role::Fenced, Reason::RenewDeadlineExceeded, "no renewal"),
            vec![demote()],
            vec![
                (Cluster, Warning, "Demoted"),
                (Pod, Warning, "Demoted"),
                (Pod, Warning, "SelfFenced"),
            ],
        ),
        (
            decision(Role::Candidate, Reason::CredentialsInvalid, "not eligible"),
            vec![],
            vec![(Pod, Warning, "CredentialsRejected")],
        ),
        (
            decision(Role::Leader, Reason::Forging, "holding the lease"),
            vec![],
            vec![],
        ),
    ];
    for (d, results, want) in cases {
        let mut seen = Seen::default();
        assert_eq!(worth(&mut seen, &d, &results, &[]), want, "{}", d.message);
    }
    // A failed action is no Event; a reason that stays is reported once.
    let mut seen = Seen::default();
    let mut failed = done(Action::Promote);
    failed.ok = false;
    let d = decision(Role::Acquiring, Reason::Promoting, "x");
    assert_eq!(worth(&mut seen, &d, &[failed], &[]), vec![]);
    let rejected = decision(Role::Candidate, Reason::CredentialsInvalid, "x");
    assert_eq!(worth(&mut seen, &rejected, &[], &[]).len(), 1);
    assert_eq!(worth(&mut seen, &rejected, &[], &[]), vec![]);
}

#[test]
fn a_handover_and_an_override_applied_or_ended_are_events_on_the_cluster() {
    let mut seen = Seen::default();
    let d = decision(Role::Leader, Reason::PolicyDisallows, "holding");
    let handoff = ClusterAction::Handoff { to: "west".into() };
    // The first round only learns whether an override applies.
    assert_eq!(
        worth(&mut seen, &d, &[], &[round(vec![], false, "r")]),
        vec![]
    );
    let got = worth(
        &mut seen,
        &d,
        &[],
        &[
            round(vec![], true, "override"),
            round(vec![handoff], true, "handing the global lease over to west"),
            round(vec![], false, "back"),
        ],
    );
    assert_eq!(
        got,
        vec![
            (Regarding::Cluster, Severity::Normal, "OverrideApplied"),
            (Regarding::Cluster, Severity::Normal, "HandedOver"),
            (Regarding::Cluster, Severity::Normal, "OverrideEnded"),
        ]
    );
}

/// client-go's spam filter: 25 at once per object, then one per 5 minutes; objects apart.
#[test]
fn the_spam_filter_allows_a_burst_of_25_per_object_then_one_per_five_minutes() {
    let mut f = SpamFilter::default();
    let at = |s: u64| MonoTime(s * 1000);
    let allowed = (0..40).filter(|_| f.allow(Regarding::Pod, at(0))).count();
    assert_eq!(allowed, 25);
    assert_eq!(f.dropped, 15);
    assert!(
        f.allow(Regarding::Cluster, at(0)),
        "another object has its own bucket"
    );
    assert!(!f.allow(Regarding::Pod, at(299)));
    assert!(
        f.allow(Regarding::Pod, at(300)),
        "a token back after 5 minutes"
    );
    assert!(!f.allow(Regarding::Pod, at(300)));
    assert!(f.allow(Regarding::Pod, at(600)));
}

#[test]
fn a_long_note_is_cut_to_one_kilobyte_on_a_character_boundary() {
    let note = "é".repeat(800);
    let cut = truncate_note(&note);
    assert!(cut.len() <= 1000 + '…'.len_utf8(), "{}", cut.len());
    assert!(cut.ends_with('…'));
    assert_eq!(truncate_note("short"), "short");
}

/// The recorder never blocks the loop: past the queue's size new Events are dropped and counted,
/// and so is every Event the spam filter holds back (what `cardano_kubernetes_events_total`
/// shows).
#[test]
fn the_recorder_queues_without_waiting_and_counts_what_it_drops() {
    let fates = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<&str, u64>::new()));
    let counter = std::sync::Arc::clone(&fates);
    let (recorder, mut rx) = EventRecorder::new(false);
    let mut recorder = recorder.counting(std::sync::Arc::new(move |result| {
        *counter.lock().expect("fates").entry(result).or_default() += 1;
    }));
    let d = decision(Role::Acquiring, Reason::Promoting, "x");
    let obs = observations();
    let results = [done(Action::Promote)];
    // 74 an hour apart (the filter lets each through; the queue holds 64), then 30 in one second
    // (after 74 hours the bucket is full again: 25 pass the filter, all dropped by the full queue).
    let walls = (0..(QUEUE_MAX as i64 + 10))
        .map(|i| i * 3600)
        .chain((0..30).map(|_| 1_000_000));
    for second in walls {
        let t = TickRecord {
            wall: jiff::Timestamp::from_second(second).expect("time"),
            observations: &obs,
            decision: &d,
            results: &results,
            previous_role: Role::Candidate,
            node: None,
            cluster: &[],
            confirmed: None,
        };
        recorder.record(&t);
    }
    assert_eq!(recorder.dropped(), 10 + 25 + 5);
    let mut queued = 0;
    while rx.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, QUEUE_MAX);
    let fates = fates.lock().expect("fates").clone();
    assert_eq!(
        fates,
        BTreeMap::from([
            ("queued", QUEUE_MAX as u64),
            ("dropped_queue_full", 10 + 25),
            ("dropped_rate_limited", 5),
        ])
    );
}

/// The watchdog's firings become Warning Events on the pod: only those after the instant given
/// (the recent past at the sidecar's start, then the last one reported), oldest first.
#[test]
fn watchdog_firings_after_an_instant_become_warning_events() {
    use crate::journal::watchdog_log::WatchdogEvent;
    let firing = |wall: &str, confirmed| WatchdogEvent {
        wall: wall.into(),
        mono_ms: 1,
        pod: "bp-0".into(),
        removed: 3,
        sighup: true,
        confirmed,
        superseded: false,
    };
    let log = [
        firing("2026-12-04T11:00:00Z", true),
        firing("2026-12-04T11:58:00Z", false),
        firing("2026-12-04T11:59:00Z", true),
    ];
    let at = |s: &str| s.parse::<jiff::Timestamp>().expect("time").as_millisecond();
    let (events, next) = watchdog_events(&log, at("2026-12-04T11:45:00Z"));
    assert_eq!(events.len(), 2);
    assert_eq!(next, at("2026-12-04T11:59:00Z"));
    for e in &events {
        assert_eq!(
            (e.severity, e.reason, e.action, e.regarding),
            (Severity::Warning, "WatchdogFired", "Demote", Regarding::Pod)
        );
    }
    assert!(
        events[0]
            .note
            .starts_with("at 2026-12-04T11:58:00Z: watchdog:"),
        "{}",
        events[0].note
    );
    assert!(
        events[0].note.contains("node did not confirm"),
        "{}",
        events[0].note
    );
    let (again, same) = watchdog_events(&log, next);
    assert!(again.is_empty());
    assert_eq!(same, next);
}
