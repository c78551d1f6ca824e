//! The reason and sentence of each phase of `explain`, reached through `decide`: what an operator
//! reads in the journal must name the right cause and the right numbers.

use std::time::Duration;

use super::secs;
use crate::election::tests::{NODE, with_ready_node};
use crate::election::{
    Decision, ElectionState, Forging, Gate, Hold, LeaseEvent, LeaseWriteKind, NodeView,
    Observations, Released, decide,
};
use crate::eligibility::Eligibility;
use crate::lease::{ApiFailure, LeaseRecord};
use crate::reason::Reason;
use crate::time::MonoTime;
use crate::timing::Timing;

const ME: &str = "pod-0";
const OTHER: &str = "pod-1";
const NOW: MonoTime = MonoTime(20_000);

fn rec(holder: Option<&str>, rv: u64) -> LeaseRecord {
    LeaseRecord {
        name: "cardano-node-leader".into(),
        holder: holder.map(str::to_owned),
        lease_duration_seconds: Some(15),
        resource_version: rv.to_string(),
        ..LeaseRecord::default()
    }
}

/// A pod holding the lease, renewed just now, promotable from `promotable_at`.
fn holding(forging: Forging, promotable_at: MonoTime) -> ElectionState {
    let mut s = with_ready_node(forging);
    let record = rec(Some(ME), 7);
    s.seat.observer.observe(Some(&record), NOW);
    s.seat.hold = Some(Hold {
        record,
        last_renew_sent_at: NOW,
        promotable_at,
        settling: false,
    });
    s
}

/// One decision at [`NOW`]; the node reports `forging_enabled`.
fn decide_now(
    s: &ElectionState,
    lease: LeaseEvent,
    eligibility: Eligibility,
    forging_enabled: Option<bool>,
) -> Decision {
    let obs = Observations {
        now: NOW,
        lease,
        node: NodeView {
            process: Some(NODE),
            forging_enabled,
            standby_ready: true,
            keys_in_place: true,
        },
        eligibility,
        gate: Gate::Allow,
    };
    decide(s, &obs, ME, &Timing::default())
}

fn ineligible(reason: Reason) -> Eligibility {
    let mut e = Eligibility::all_good();
    match reason {
        Reason::ShuttingDown => e.shutting_down = true,
        Reason::NodeNotRunning => e.node_running = false,
        Reason::SocketNotAccepting => e.socket_accepting = false,
        Reason::MetricsUnavailable => e.metrics_readable = false,
        Reason::CredentialsInvalid => e.credentials_valid = false,
        Reason::BehindTip => e.at_tip = Some(false),
        other => panic!("{other:?} is no eligibility clause"),
    }
    e
}

/// A demotion in progress says which attempt it is on (so an operator sees it being retried,
/// and how close it is to being declared stuck), and the first attempt says why we demote.
#[test]
fn a_demotion_names_its_attempt_or_its_cause() {
    let demoting = |attempt, since| Forging::Demoting { since, attempt };
    let waiting = "real keys removed, waiting for the node to confirm";
    let cases = [
        // (forging before, eligibility, reason, message)
        (
            demoting(1, NOW),
            ineligible(Reason::CredentialsInvalid),
            Reason::Demoting,
            format!("demoting (credentials_invalid): {waiting}"),
        ),
        (
            // Eligible, but without a lease: not entitled.
            demoting(1, NOW),
            Eligibility::all_good(),
            Reason::Demoting,
            format!("demoting (not entitled to forge): {waiting}"),
        ),
        (
            demoting(2, NOW),
            ineligible(Reason::CredentialsInvalid),
            Reason::DemotionUnverified,
            "demotion not confirmed by the node's metrics: attempt 2 of 3".to_string(),
        ),
        (
            demoting(3, NOW),
            ineligible(Reason::CredentialsInvalid),
            Reason::DemotionUnverified,
            "demotion not confirmed by the node's metrics: attempt 3 of 3".to_string(),
        ),
        (
            // The first attempt timed out: this decision retries, and says so.
            demoting(1, MonoTime(NOW.0 - 5_000)),
            ineligible(Reason::CredentialsInvalid),
            Reason::DemotionUnverified,
            "demotion not confirmed by the node's metrics: attempt 2 of 3".to_string(),
        ),
        (
            Forging::Stuck { since: NOW },
            ineligible(Reason::CredentialsInvalid),
            Reason::DemotionStuck,
            "3 demotions went unverified: the node may still forge; keeping the lease so no \
             other pod forges; operator action needed"
                .to_string(),
        ),
    ];
    for (forging, eligibility, reason, message) in cases {
        // The node still reports forging: nothing is verified yet.
        let d = decide_now(
            &with_ready_node(forging),
            LeaseEvent::Nothing,
            eligibility,
            Some(true),
        );
        assert_eq!(
            (d.reason, d.message.as_str()),
            (reason, message.as_str()),
            "{forging:?}"
        );
    }
}

/// Each eligibility clause has its own sentence; shutting down says whether a lease is still to
/// be released (holding), was released, was left to expire because the release got no answer,
/// or was never held, which tells an operator whether the pod is done and claims no more than
/// the API server answered.
#[test]
fn an_ineligible_pod_says_which_clause_failed() {
    let no_hold = with_ready_node(Forging::Off);
    let after = |released| {
        let mut s = with_ready_node(Forging::Off);
        s.seat.released = Some(released);
        s
    };
    let (released, unanswered) = (after(Released::Accepted), after(Released::Unanswered));
    let held = holding(Forging::Off, NOW);
    let cases = [
        (
            &no_hold,
            Reason::ShuttingDown,
            "shutting down: not forging, holding no lease",
        ),
        (
            &released,
            Reason::ShuttingDown,
            "shutting down: not forging, lease released",
        ),
        (
            &unanswered,
            Reason::ShuttingDown,
            "shutting down: not forging, lease left to expire (the release got no answer; it may \
             not have been applied)",
        ),
        (
            &held,
            Reason::ShuttingDown,
            "shutting down: demoting, then releasing the lease",
        ),
        (
            &no_hold,
            Reason::NodeNotRunning,
            "cardano-node is not running",
        ),
        (
            &no_hold,
            Reason::SocketNotAccepting,
            "cardano-node's socket does not accept connections yet (startup or replay)",
        ),
        (
            &no_hold,
            Reason::MetricsUnavailable,
            "cardano-node's metrics are unreadable: a SIGHUP could not be verified",
        ),
        (
            &no_hold,
            Reason::CredentialsInvalid,
            "the real credentials failed validation",
        ),
        (
            &no_hold,
            Reason::BehindTip,
            "cardano-node is behind the chain tip",
        ),
    ];
    for (s, reason, sentence) in cases {
        let d = decide_now(s, LeaseEvent::Nothing, ineligible(reason), Some(false));
        assert_eq!(
            (d.reason, d.message),
            (reason, format!("not eligible: {sentence}")),
            "holding: {}",
            s.seat.hold.is_some()
        );
    }
}

/// A holder says whether it waits out a lease it created (and for how long, to the tenth of a
/// second), forges (verified), or only holds: a holder that may not start yet (an unresolved
/// 409) must not claim the node forges, and the wait ends exactly at `promotable_at`.
#[test]
fn a_holder_says_whether_it_waits_forges_or_only_holds() {
    let conflicted = {
        let mut s = holding(Forging::Off, NOW);
        s.seat.conflict = true;
        s
    };
    let cases = [
        // (state, node forging, reason, message)
        (
            holding(Forging::Off, NOW + Duration::from_millis(12_500)),
            Some(false),
            Reason::LeaseNewWaiting,
            "created a lease that did not exist: waiting 12.5s before forging in case its last \
             holder still forges",
        ),
        (
            holding(Forging::Off, NOW + Duration::from_secs(15)),
            Some(false),
            Reason::LeaseNewWaiting,
            "created a lease that did not exist: waiting 15s before forging in case its last \
             holder still forges",
        ),
        (
            // Promotable from this very instant: no more waiting.
            holding(Forging::On, NOW),
            Some(true),
            Reason::Forging,
            "holding the lease; the node forges (verified)",
        ),
        (
            conflicted,
            Some(false),
            Reason::LeaseRenewed,
            "holding the lease",
        ),
    ];
    for (s, enabled, reason, message) in cases {
        let d = decide_now(&s, LeaseEvent::Nothing, Eligibility::all_good(), enabled);
        assert_eq!((d.reason, d.message.as_str()), (reason, message), "{s:?}");
    }
}

/// Without a hold: whose lease it is and for how long it has been seen unchanged, how long a
/// holder whose lease was deleted is left to re-create it, or whether we have not read it yet
/// (standing by) or may take it.
#[test]
fn a_pod_without_a_hold_says_whose_lease_it_is_or_why_it_takes_it() {
    let seen = |record: Option<LeaseRecord>, at: u64| {
        let mut s = with_ready_node(Forging::Off);
        s.seat.observer.observe(record.as_ref(), MonoTime(at));
        s
    };
    let cases = [
        // (state, event, reason, message)
        (
            seen(Some(rec(Some(OTHER), 3)), NOW.0 - 2_500),
            LeaseEvent::Nothing,
            Reason::LeaseHeldByOther,
            "pod-1 holds the lease (record unchanged for 2.5s)",
        ),
        (
            // Seen 4 s ago, deleted now: its holder has the 11 s left of its lease.
            seen(Some(rec(Some(OTHER), 3)), NOW.0 - 4_000),
            LeaseEvent::Read(None),
            Reason::LeaseHeldByOther,
            "the lease was deleted under pod-1: leaving it 11s to re-create it",
        ),
        (
            with_ready_node(Forging::Off),
            LeaseEvent::Nothing,
            Reason::Standby,
            "standing by: lease not read yet",
        ),
        (
            // Read, and it does not exist: we create it.
            with_ready_node(Forging::Off),
            LeaseEvent::Read(None),
            Reason::LeaseAvailable,
            "the lease is available: taking it",
        ),
        (
            // Read earlier, free: nothing new this tick, still ours to take.
            seen(Some(rec(None, 3)), NOW.0 - 1_000),
            LeaseEvent::Nothing,
            Reason::LeaseAvailable,
            "the lease is available: taking it",
        ),
        (
            with_ready_node(Forging::Off),
            LeaseEvent::WriteFailed {
                write: LeaseWriteKind::Acquire,
                failure: ApiFailure::Conflict,
            },
            Reason::LeaseConflict,
            "another pod wrote the lease first",
        ),
    ];
    for (s, event, reason, message) in cases {
        let d = decide_now(&s, event.clone(), Eligibility::all_good(), Some(false));
        assert_eq!(
            (d.reason, d.message.as_str()),
            (reason, message),
            "{event:?}"
        );
    }
}

/// Durations in messages: whole seconds without a decimal, anything else to a tenth.
#[test]
fn seconds_are_whole_or_to_a_tenth() {
    let cases = [
        (0, "0"),
        (1_000, "1"),
        (15_000, "15"),
        (2_500, "2.5"),
        (12_500, "12.5"),
        (100, "0.1"),
        (1_260, "1.3"),
    ];
    for (ms, want) in cases {
        assert_eq!(secs(Duration::from_millis(ms)), want, "{ms} ms");
    }
}
