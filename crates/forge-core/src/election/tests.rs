//! Table-driven tests of every clause of the safety rule, and property tests of its two orderings.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::lease::LEASE_FINALIZER;

const ME: &str = "pod-0";
const OTHER: &str = "pod-1";

fn timing() -> Timing {
    Timing::default()
}

fn rec(holder: Option<&str>, rv: u64) -> LeaseRecord {
    LeaseRecord {
        name: "cardano-node-leader".into(),
        holder: holder.map(str::to_owned),
        lease_duration_seconds: Some(15),
        renew_time: Some("2026-01-01T00:00:00Z".into()),
        resource_version: rv.to_string(),
        ..LeaseRecord::default()
    }
}

const NODE: ProcessId = ProcessId {
    pid: 42,
    start_ticks: 1000,
};

/// One pod's decisions over time, with the node and lease answers scripted by the test.
struct Pod {
    state: ElectionState,
    now: MonoTime,
    node: NodeView,
    eligibility: Eligibility,
    gate: Gate,
    last: Option<Decision>,
}

impl Pod {
    /// A pod whose node is up and ready, not forging, with the standby set in place.
    fn ready() -> Pod {
        let mut p = Pod {
            state: ElectionState::default(),
            now: MonoTime(1_000),
            node: NodeView {
                process: Some(NODE),
                forging_enabled: Some(false),
                standby_ready: true,
            },
            eligibility: Eligibility::all_good(),
            gate: Gate::Allow,
            last: None,
        };
        p.step(LeaseEvent::Nothing);
        assert_eq!(p.state.forging, Forging::Off);
        p
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        assert!(ms >= self.now.0);
        self.now = MonoTime(ms);
        self
    }

    fn step(&mut self, lease: LeaseEvent) -> Decision {
        let obs = Observations {
            now: self.now,
            lease,
            node: self.node,
            eligibility: self.eligibility,
            gate: self.gate,
        };
        let d = decide(&self.state, &obs, ME, &timing());
        self.state = d.next.clone();
        self.last = Some(d.clone());
        d
    }

    fn wrote(&mut self, write: LeaseWriteKind, record: LeaseRecord) -> Decision {
        let sent_at = self.now;
        self.step(LeaseEvent::Wrote {
            write,
            record,
            sent_at,
        })
    }

    /// A new node process in startup: no metrics, socket closed, not eligible.
    fn node_restarted(&mut self) {
        self.node = NodeView {
            process: Some(ProcessId {
                pid: 77,
                start_ticks: 5_000,
            }),
            forging_enabled: None,
            standby_ready: false,
        };
        self.eligibility.socket_accepting = false;
        self.eligibility.metrics_readable = false;
    }

    /// Takes a free lease and confirms the promotion: the pod ends up a verified leader.
    fn leader(rv: u64) -> Pod {
        let mut p = Pod::ready();
        let d = p.step(LeaseEvent::Read(Some(rec(None, rv))));
        assert_eq!(d.actions, vec![lease(LeaseWriteKind::Acquire)]);
        let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), rv + 1));
        assert_eq!(d.actions, vec![Action::Promote]);
        p.node.forging_enabled = Some(true);
        p.node.standby_ready = false;
        let now = p.now.0;
        let d = p.at(now + 300).step(LeaseEvent::Nothing);
        assert_eq!((d.role, d.reason), (Role::Leader, Reason::Forging));
        p
    }
}

fn lease(write: LeaseWriteKind) -> Action {
    Action::Lease { write }
}

#[test]
fn a_fresh_pod_without_a_node_is_off_and_puts_the_standby_set_in_place() {
    let obs = Observations {
        now: MonoTime(0),
        lease: LeaseEvent::Nothing,
        node: NodeView {
            process: None,
            forging_enabled: None,
            standby_ready: false,
        },
        eligibility: Eligibility {
            node_running: false,
            socket_accepting: false,
            metrics_readable: false,
            ..Eligibility::all_good()
        },
        gate: Gate::Allow,
    };
    let d = decide(&ElectionState::default(), &obs, ME, &timing());
    assert_eq!(d.next.forging, Forging::Off);
    assert_eq!(d.actions, vec![Action::Standby]);
    assert_eq!(
        (d.role, d.reason),
        (Role::Candidate, Reason::NodeNotRunning)
    );
    assert!(!d.entitled);
}

#[test]
fn a_lease_that_did_not_exist_is_created_but_promoted_only_a_lease_duration_later() {
    let mut p = Pod::ready();
    let d = p.step(LeaseEvent::Read(None));
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Create)]);
    let d = p.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    assert!(!d.actions.contains(&Action::Promote));
    assert_eq!(
        (d.role, d.reason),
        (Role::Acquiring, Reason::LeaseNewWaiting)
    );
    assert_eq!(d.wake_by, MonoTime(1_000 + 2_000));
    // Renewing meanwhile.
    for t in (3_000..16_000).step_by(2_000) {
        let d = p.at(t).wrote(LeaseWriteKind::Renew, rec(Some(ME), t));
        assert!(!d.actions.contains(&Action::Promote), "at {t}");
    }
    let d = p.at(16_000).step(LeaseEvent::Nothing);
    assert_eq!(
        d.actions,
        vec![Action::Promote, lease(LeaseWriteKind::Renew)]
    );
}

#[test]
fn a_free_or_expired_lease_is_promoted_on_at_once() {
    // Free: released by a holder that verified its own demotion.
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    assert_eq!(d.actions, vec![Action::Promote]);
    assert_eq!(d.role, Role::Acquiring);

    // Expired: seen unchanged for a lease duration on our own clock.
    let mut p = Pod::ready();
    let held = rec(Some(OTHER), 5);
    let d = p.step(LeaseEvent::Read(Some(held.clone())));
    assert_eq!(
        (d.actions.clone(), d.reason),
        (vec![], Reason::LeaseHeldByOther)
    );
    let d = p.at(15_999).step(LeaseEvent::Read(Some(held.clone())));
    assert!(d.actions.is_empty());
    let d = p.at(16_000).step(LeaseEvent::Read(Some(held)));
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Acquire)]);
    let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    assert_eq!(d.actions, vec![Action::Promote]);
}

#[test]
fn a_lease_renewed_by_its_holder_just_before_expiry_is_not_taken() {
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 5))));
    p.at(15_900)
        .step(LeaseEvent::Read(Some(rec(Some(OTHER), 6))));
    for t in [16_000, 20_000, 30_899] {
        let d = p.at(t).step(LeaseEvent::Read(Some(rec(Some(OTHER), 6))));
        assert!(d.actions.is_empty(), "at {t}: {:?}", d.actions);
        assert_eq!(d.reason, Reason::LeaseHeldByOther);
    }
    let d = p
        .at(30_900)
        .step(LeaseEvent::Read(Some(rec(Some(OTHER), 6))));
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Acquire)]);
}

#[test]
fn wall_clock_skew_of_an_hour_either_way_changes_nothing() {
    // The renewTime strings are the only wall-clock input the core ever sees; a holder whose clock
    // is an hour off writes them an hour off. Same decisions at the same monotonic instants.
    let run = |renew: &str| {
        let mut p = Pod::ready();
        let mut out = vec![];
        for (t, rv) in [(1_000, 5), (8_000, 5), (16_000, 5), (17_000, 5)] {
            let mut r = rec(Some(OTHER), rv);
            r.renew_time = Some(renew.into());
            let d = p.at(t).step(LeaseEvent::Read(Some(r)));
            out.push((d.actions, d.reason));
        }
        out
    };
    let base = run("2026-01-01T12:00:00Z");
    assert_eq!(run("2026-01-01T11:00:00Z"), base);
    assert_eq!(run("2026-01-01T13:00:00Z"), base);
    assert_eq!(base[2].0, vec![lease(LeaseWriteKind::Acquire)]);
}

#[test]
fn a_409_on_acquire_promotes_nothing_and_rereads() {
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    let d = p.step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Acquire,
        failure: ApiFailure::Conflict,
    });
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    assert_eq!(d.reason, Reason::LeaseConflict);
    assert!(d.next.seat.hold.is_none());
    let d = p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 6))));
    assert_eq!((d.actions, d.reason), (vec![], Reason::LeaseHeldByOther));
}

#[test]
fn a_pod_whose_new_lease_met_a_conflict_never_promotes_before_a_read() {
    // Regression (chaos seed 1): a pod created a lease (waiting to promote), the lease was deleted
    // and re-created by another pod; our renewals got 409s, and we promoted at our promotable time
    // on a lease someone else held. A conflict now blocks promotion until a read resolves it.
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(None));
    p.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    for t in (3_000..16_000).step_by(2_000) {
        p.at(t).wrote(LeaseWriteKind::Renew, rec(Some(ME), t));
    }
    let d = p.at(15_500).step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::Conflict,
    });
    assert!(
        d.actions.is_empty(),
        "no write before a read: {:?}",
        d.actions
    );
    let d = p.at(16_000).step(LeaseEvent::Nothing);
    assert!(
        !d.actions.contains(&Action::Promote),
        "promoted on an unresolved conflict"
    );
    let d = p
        .at(16_100)
        .step(LeaseEvent::Read(Some(rec(Some(OTHER), 7))));
    assert_eq!(d.reason, Reason::LeaseLost);
    assert!(!d.actions.contains(&Action::Promote));
}

#[test]
fn a_holder_still_waiting_out_a_lease_it_created_never_releases_it() {
    // Regression (chaos seed 1): a pod created the lease after an operator deleted it, was shut down
    // while still waiting, and released it: a released lease is promotable at once, so a successor
    // forged while the deleted lease's old holder was still inside its renew deadline.
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(None));
    p.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    p.eligibility.shutting_down = true;
    for t in [3_000, 6_000, 9_000] {
        let d = p.at(t).step(LeaseEvent::Nothing);
        assert!(
            !d.actions.contains(&lease(LeaseWriteKind::Release)),
            "released at {t} while waiting"
        );
    }
    // It lapses: at the renew deadline the hold is gone and the shutdown can complete.
    let d = p.at(11_000).step(LeaseEvent::Nothing);
    assert!(d.shutdown_complete);
}

#[test]
fn a_409_on_renewal_keeps_forging_until_a_read_shows_another_holder() {
    let mut p = Pod::leader(5);
    let d = p.at(3_300).step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::Conflict,
    });
    assert_eq!(d.role, Role::Leader);
    assert!(!d.actions.iter().any(|a| matches!(a, Action::Demote { .. })));
    // The read shows our own newer write (a lost response): nothing changes, the version is taken.
    let d = p.step(LeaseEvent::Read(Some(rec(Some(ME), 9))));
    assert_eq!(d.role, Role::Leader);
    assert_eq!(
        d.next
            .seat
            .hold
            .as_ref()
            .map(|h| h.record.resource_version.as_str()),
        Some("9")
    );
    // Another holder: demote at once.
    let d = p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 10))));
    assert_eq!(d.reason, Reason::LeaseLost);
    assert_eq!(d.actions, vec![Action::Demote { sighup: true }]);
    assert!(d.next.seat.hold.is_none());
}

#[test]
fn api_timeouts_during_renewal_fence_the_holder_at_the_renew_deadline() {
    let mut p = Pod::leader(5);
    let acquired = p
        .state
        .seat
        .hold
        .as_ref()
        .map(|h| h.last_renew_sent_at)
        .unwrap_or_default();
    let deadline = acquired + timing().renew_deadline();
    let mut t = p.now.0;
    while MonoTime(t + 2_000) < deadline {
        t += 2_000;
        let d = p.at(t).step(LeaseEvent::WriteFailed {
            write: LeaseWriteKind::Renew,
            failure: ApiFailure::Unreachable,
        });
        assert_eq!(d.role, Role::Leader, "still within the deadline at {t}");
        assert!(d.wake_by <= deadline);
    }
    let d = p.at(deadline.0).step(LeaseEvent::Nothing);
    assert_eq!(
        (d.role, d.reason),
        (Role::Fenced, Reason::RenewDeadlineExceeded)
    );
    assert_eq!(d.actions[0], Action::Demote { sighup: true });
    assert!(!d.entitled);
    assert!(d.next.seat.hold.is_none());
}

#[test]
fn a_renewal_that_changed_nothing_does_not_extend_the_deadline() {
    // Kubernetes skips an update that changes nothing and keeps its resourceVersion: observers see
    // no renewal, so the holder must not count one either.
    let mut p = Pod::leader(5);
    let held = p.state.seat.hold.clone().unwrap_or_else(|| unreachable!());
    let d = p
        .at(3_300)
        .wrote(LeaseWriteKind::Renew, held.record.clone());
    assert_eq!(
        d.next.seat.hold.as_ref().map(|h| h.last_renew_sent_at),
        Some(held.last_renew_sent_at),
        "a no-op write extended the hold"
    );
    // The same write with a new version counts.
    let mut fresh = held.record.clone();
    fresh.resource_version = "99".into();
    let d = p.at(3_400).wrote(LeaseWriteKind::Renew, fresh);
    assert_eq!(
        d.next.seat.hold.as_ref().map(|h| h.last_renew_sent_at),
        Some(MonoTime(3_400))
    );
}

#[test]
fn requests_near_the_deadline_get_only_the_time_left_before_the_demotion() {
    let p = Pod::leader(5);
    let h = p.state.seat.hold.clone().unwrap_or_else(|| unreachable!());
    let t = timing();
    assert_eq!(
        p.state.seat.request_budget(h.last_renew_sent_at, &t),
        t.api_timeout()
    );
    let late = h.last_renew_sent_at + Duration::from_millis(8_000);
    assert_eq!(
        p.state.seat.request_budget(late, &t),
        Duration::from_millis(1_000)
    );
    let later = h.last_renew_sent_at + Duration::from_millis(9_500);
    assert_eq!(
        p.state.seat.request_budget(later, &t),
        Duration::from_millis(50)
    );
}

#[test]
fn a_deadline_hit_in_the_middle_of_a_promotion_demotes() {
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    assert_eq!(d.actions, vec![Action::Promote]);
    // No confirmation yet (forging_enabled still false), renewals fail, the deadline comes.
    let d = p.at(11_000).step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::Unreachable,
    });
    assert_eq!(d.reason, Reason::RenewDeadlineExceeded);
    assert_eq!(d.actions[0], Action::Demote { sighup: true });
}

#[test]
fn a_promotion_the_metrics_never_confirm_is_undone() {
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    let d = p.at(3_000).wrote(LeaseWriteKind::Renew, rec(Some(ME), 7));
    assert_eq!((d.role, d.reason), (Role::Acquiring, Reason::Promoting));
    let d = p.at(6_000).wrote(LeaseWriteKind::Renew, rec(Some(ME), 8));
    assert_eq!(d.actions[0], Action::Demote { sighup: true });
}

#[test]
fn shutdown_demotes_then_releases_only_after_the_node_confirms() {
    let mut p = Pod::leader(5);
    p.eligibility.shutting_down = true;
    let d = p.at(1_500).step(LeaseEvent::Nothing);
    assert_eq!(d.actions, vec![Action::Demote { sighup: true }]);
    assert_eq!(d.role, Role::Demoting);
    // Metrics still say forging: no release.
    let d = p.at(1_700).step(LeaseEvent::Nothing);
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    // Confirmed: standby set back, then the handoff.
    p.node.forging_enabled = Some(false);
    let d = p.at(1_900).step(LeaseEvent::Nothing);
    assert_eq!(
        d.actions,
        vec![Action::Standby, lease(LeaseWriteKind::Release)]
    );
    assert_eq!(d.role, Role::Releasing);
    p.node.standby_ready = true;
    let d = p.wrote(LeaseWriteKind::Release, rec(None, 8));
    assert!(d.shutdown_complete);
    assert!(d.actions.is_empty());
}

#[test]
fn unverified_demotions_are_retried_a_bounded_number_of_times_then_hold_the_lease() {
    let mut p = Pod::leader(5);
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    p.node.forging_enabled = None; // metrics gone
    p.eligibility.metrics_readable = false;
    let mut sighups = 0;
    let mut t = p.now.0;
    let mut last = None;
    let mut asked_renew = false;
    for _ in 0..40 {
        t += 1_000;
        // The API works: every renewal asked for succeeds.
        let renew = p.state.seat.hold.as_ref().map(|h| h.record.clone());
        let d = match renew {
            Some(r) if asked_renew => p.at(t).wrote(
                LeaseWriteKind::Renew,
                LeaseRecord {
                    resource_version: t.to_string(),
                    ..r
                },
            ),
            _ => p.at(t).step(LeaseEvent::Nothing),
        };
        asked_renew = d.actions.contains(&lease(LeaseWriteKind::Renew));
        sighups += d
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Demote { sighup: true }))
            .count();
        assert!(
            !d.actions.contains(&lease(LeaseWriteKind::Release)),
            "released an unverified demotion"
        );
        last = Some(d);
    }
    assert_eq!(sighups as u32, MAX_DEMOTION_ATTEMPTS);
    let d = last.unwrap_or_else(|| unreachable!());
    assert_eq!(d.reason, Reason::DemotionStuck);
    assert!(
        d.next.seat.hold.is_some(),
        "a stuck demotion keeps the lease so no one else forges"
    );
}

#[test]
fn a_leader_whose_node_restarts_releases_at_once() {
    let mut p = Pod::leader(5);
    p.node_restarted();
    let d = p.at(1_500).step(LeaseEvent::Nothing);
    assert_eq!(d.next.forging, Forging::Off);
    assert_eq!(
        d.actions,
        vec![Action::Standby, lease(LeaseWriteKind::Release)]
    );
    assert_eq!(d.reason, Reason::NodeRestarted);
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::Demote { sighup: true }))
    );
}

#[test]
fn a_release_without_a_good_answer_is_never_promoted_on_again() {
    for failure in [
        ApiFailure::Unreachable,
        ApiFailure::Server,
        ApiFailure::Conflict,
        ApiFailure::NotFound,
    ] {
        let mut p = Pod::leader(5);
        // The node restarts: not eligible, so the leader releases.
        p.node_restarted();
        let d = p.at(1_500).step(LeaseEvent::Nothing);
        assert!(d.actions.contains(&lease(LeaseWriteKind::Release)));
        // No good answer: the release may have been applied, and another pod may hold it now.
        p.node.standby_ready = true;
        let dropped = p
            .at(1_600)
            .step(LeaseEvent::WriteFailed {
                write: LeaseWriteKind::Release,
                failure,
            })
            .next
            .seat
            .hold
            .is_none();
        // The node is ready again 50 ms later: eligible, but it holds nothing to promote on.
        p.node.forging_enabled = Some(false);
        p.eligibility.socket_accepting = true;
        p.eligibility.metrics_readable = true;
        let d = p.at(1_650).step(LeaseEvent::Nothing);
        assert!(
            !d.actions.contains(&Action::Promote),
            "{failure:?}: {:?}",
            d.actions
        );
        assert_ne!(d.role, Role::Leader, "{failure:?}");
        assert!(dropped, "{failure:?}: the hold is dropped");
    }
}

#[test]
fn an_ineligible_pod_neither_acquires_nor_creates() {
    for (field, reason) in [
        (0, Reason::NodeNotRunning),
        (1, Reason::SocketNotAccepting),
        (2, Reason::MetricsUnavailable),
        (3, Reason::CredentialsInvalid),
    ] {
        let mut p = Pod::ready();
        match field {
            0 => {
                p.eligibility.node_running = false;
                p.node.process = None;
            }
            1 => p.eligibility.socket_accepting = false,
            2 => p.eligibility.metrics_readable = false,
            _ => p.eligibility.credentials_valid = false,
        }
        for read in [None, Some(rec(None, 5))] {
            let d = p.step(LeaseEvent::Read(read));
            assert!(d.actions.is_empty(), "{reason}: {:?}", d.actions);
            assert_eq!(d.reason, reason);
        }
    }
}

#[test]
fn a_denied_gate_keeps_the_local_lease_but_never_forges() {
    let mut p = Pod::ready();
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    assert!(d.actions.is_empty());
    assert_eq!((d.role, d.reason), (Role::Leader, Reason::PolicyDisallows));
    // A gate shut by the global hold's deadline is no policy: the decision names it.
    p.gate = Gate::Deny(Reason::GlobalLeaseFenced);
    let d = p.step(LeaseEvent::Nothing);
    assert_eq!(
        (d.role, d.reason),
        (Role::Leader, Reason::GlobalLeaseFenced)
    );
    assert!(d.message.contains("global_lease_fenced"), "{}", d.message);
    // And a forging leader whose gate closes demotes but keeps renewing.
    let mut p = Pod::leader(5);
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    let d = p.at(3_300).step(LeaseEvent::Nothing);
    assert_eq!(
        d.actions,
        vec![
            Action::Demote { sighup: true },
            lease(LeaseWriteKind::Renew)
        ]
    );
}

#[test]
fn a_lease_deleted_under_the_leader_is_recreated_without_a_gap() {
    let mut p = Pod::leader(5);
    let d = p.at(3_300).step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::NotFound,
    });
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Create)]);
    assert_eq!(d.role, Role::Leader);
    let d = p.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    assert_eq!((d.role, d.reason), (Role::Leader, Reason::Forging));
    assert!(d.actions.is_empty());
}

#[test]
fn a_leader_that_loses_the_race_to_recreate_a_deleted_lease_demotes() {
    let mut p = Pod::leader(5);
    p.at(3_300).step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::NotFound,
    });
    p.step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Create,
        failure: ApiFailure::Conflict,
    });
    let d = p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 2))));
    assert_eq!(d.reason, Reason::LeaseLost);
    assert_eq!(d.actions, vec![Action::Demote { sighup: true }]);
}

/// A record an operator deleted while our finalizer is on it.
fn marked(holder: Option<&str>, rv: u64) -> LeaseRecord {
    LeaseRecord {
        terminating: true,
        finalizers: vec![LEASE_FINALIZER.to_owned()],
        ..rec(holder, rv)
    }
}

#[test]
fn a_deleted_lease_kept_by_our_finalizer_is_let_go_only_after_a_verified_demotion_then_recreated() {
    let mut p = Pod::leader(5);
    // The mark arrives: the record still covers the node, which steps down first.
    let d = p
        .at(2_000)
        .step(LeaseEvent::Read(Some(marked(Some(ME), 7))));
    assert_eq!(d.reason, Reason::LeaseDeleted);
    assert!(
        d.actions.contains(&Action::Demote { sighup: true }),
        "{d:?}"
    );
    assert!(!d.actions.contains(&lease(LeaseWriteKind::Finalize)));
    // Unverified: keep renewing the marked record (no finalize while the node may forge).
    p.wrote(LeaseWriteKind::Renew, marked(Some(ME), 8));
    let d = p.at(3_100).step(LeaseEvent::Nothing);
    assert!(!d.actions.contains(&lease(LeaseWriteKind::Finalize)));
    assert!(d.wake_by <= MonoTime(3_100) + VERIFY_POLL);
    // Verified off: let the deletion complete, then create the lease again ...
    p.node.forging_enabled = Some(false);
    let d = p.at(3_200).step(LeaseEvent::Nothing);
    assert!(
        d.actions.contains(&lease(LeaseWriteKind::Finalize)),
        "{d:?}"
    );
    let d = p.wrote(LeaseWriteKind::Finalize, rec(Some(ME), 9));
    assert!(d.actions.contains(&lease(LeaseWriteKind::Create)), "{d:?}");
    // ... promotable at once: nobody else forged under the deleted record.
    let d = p.at(3_300).wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    assert!(d.actions.contains(&Action::Promote), "{d:?}");
}

#[test]
fn a_lost_race_to_recreate_a_finalized_lease_waits_like_any_creator() {
    let mut p = Pod::leader(5);
    p.node.forging_enabled = Some(false);
    p.state.forging = Forging::Off;
    p.at(2_000)
        .step(LeaseEvent::Read(Some(marked(Some(ME), 7))));
    p.wrote(LeaseWriteKind::Finalize, rec(Some(ME), 8));
    assert!(p.state.seat.recreate_from.is_some());
    // Someone else created it first: whatever we create later waits a lease duration.
    p.step(LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Create,
        failure: ApiFailure::Conflict,
    });
    assert_eq!(p.state.seat.recreate_from, None);
    p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 2))));
    p.step(LeaseEvent::Read(None));
    p.at(20_000).step(LeaseEvent::Read(None));
    let d = p.wrote(LeaseWriteKind::Create, rec(Some(ME), 3));
    assert_eq!(d.reason, Reason::LeaseNewWaiting, "{d:?}");
    assert!(!d.actions.contains(&Action::Promote));
}

#[test]
fn a_standby_leaves_the_holder_of_a_deleted_lease_its_duration_to_recreate_it() {
    let mut p = Pod::ready();
    p.at(1_000)
        .step(LeaseEvent::Read(Some(rec(Some(OTHER), 5))));
    // Deleted without our finalizer (forced): the holder may not know yet.
    let d = p.at(2_000).step(LeaseEvent::Read(None));
    assert!(d.actions.is_empty(), "{d:?}");
    assert_eq!(d.reason, Reason::LeaseHeldByOther);
    let d = p.at(15_999).step(LeaseEvent::Read(None));
    assert!(d.actions.is_empty(), "{d:?}");
    // The record would have expired: create it, and wait as any creator does.
    let d = p.at(16_000).step(LeaseEvent::Read(None));
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Create)]);
}

#[test]
fn a_restarted_sidecar_demotes_first_then_reacquires_its_own_lease_and_waits_a_lease_duration() {
    // Its record may have gone unrenewed long enough for others to see it expired: the node it
    // finds forging is demoted before anything else, then the lease is taken back with its version.
    let mut state = ElectionState::default();
    let mut obs = Observations {
        now: MonoTime(100),
        lease: LeaseEvent::Read(Some(rec(Some(ME), 9))),
        node: NodeView {
            process: Some(NODE),
            forging_enabled: Some(true),
            standby_ready: false,
        },
        eligibility: Eligibility::all_good(),
        gate: Gate::Allow,
    };
    let d = decide(&state, &obs, ME, &timing());
    assert_eq!(
        d.actions,
        vec![
            Action::Demote { sighup: true },
            lease(LeaseWriteKind::Acquire)
        ]
    );
    state = d.next;
    obs.node.forging_enabled = Some(false);
    obs.lease = LeaseEvent::Wrote {
        write: LeaseWriteKind::Acquire,
        record: rec(Some(ME), 10),
        sent_at: MonoTime(100),
    };
    obs.now = MonoTime(400);
    let d = decide(&state, &obs, ME, &timing());
    // Its previous incarnation may have been waiting out a lease it had created: wait one lease
    // duration (chaos seed 1 found the release variant of this laundering).
    assert!(!d.actions.contains(&Action::Promote), "{:?}", d.actions);
    state = d.next;
    obs.node.standby_ready = true;
    obs.now = MonoTime(10_000);
    obs.lease = LeaseEvent::Wrote {
        write: LeaseWriteKind::Renew,
        record: rec(Some(ME), 11),
        sent_at: MonoTime(10_000),
    };
    let d = decide(&state, &obs, ME, &timing());
    assert!(!d.actions.contains(&Action::Promote), "{:?}", d.actions);
    state = d.next;
    obs.lease = LeaseEvent::Nothing;
    obs.now = MonoTime(15_100);
    let d = decide(&state, &obs, ME, &timing());
    assert!(d.actions.contains(&Action::Promote), "{:?}", d.actions);
}

#[test]
fn a_restarted_sidecar_that_does_not_hold_the_lease_demotes_a_node_it_cannot_vouch_for() {
    let obs = Observations {
        now: MonoTime(100),
        lease: LeaseEvent::Read(Some(rec(Some(OTHER), 9))),
        node: NodeView {
            process: Some(NODE),
            forging_enabled: Some(true),
            standby_ready: false,
        },
        eligibility: Eligibility::all_good(),
        gate: Gate::Allow,
    };
    let d = decide(&ElectionState::default(), &obs, ME, &timing());
    assert_eq!(d.actions, vec![Action::Demote { sighup: true }]);
}

#[test]
fn a_node_in_startup_is_never_sent_a_sighup() {
    // A SIGHUP before the handler is installed kills the node.
    let mut p = Pod::ready();
    p.state.forging = Forging::Unknown;
    p.node.process = Some(ProcessId {
        pid: 9,
        start_ticks: 1,
    });
    p.eligibility.socket_accepting = false;
    // New process: belief resets to Off, no demotion needed, no SIGHUP anywhere.
    let d = p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 1))));
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::Demote { sighup: true } | Action::Promote))
    );
}

#[test]
fn every_decision_carries_a_sentence() {
    let mut p = Pod::leader(5);
    let d = p.at(2_000).step(LeaseEvent::Nothing);
    assert!(!d.message.is_empty());
    assert!(d.changes_anything(Role::Candidate));
    assert!(!d.changes_anything(Role::Leader) || !d.actions.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Properties over random sequences of observations.

fn arb_record() -> impl Strategy<Value = Option<LeaseRecord>> {
    prop_oneof![
        Just(None),
        (
            prop_oneof![Just(None), Just(Some(ME)), Just(Some(OTHER))],
            0u64..6,
            prop::bool::weighted(0.15),
        )
            .prop_map(|(h, rv, terminating)| Some(LeaseRecord {
                terminating,
                ..rec(h, rv)
            })),
    ]
}

fn arb_failure() -> impl Strategy<Value = ApiFailure> {
    prop_oneof![
        Just(ApiFailure::Conflict),
        Just(ApiFailure::NotFound),
        Just(ApiFailure::Unreachable),
        Just(ApiFailure::Invalid),
        Just(ApiFailure::Server),
    ]
}

fn arb_write() -> impl Strategy<Value = LeaseWriteKind> {
    prop_oneof![
        Just(LeaseWriteKind::Create),
        Just(LeaseWriteKind::Acquire),
        Just(LeaseWriteKind::Renew),
        Just(LeaseWriteKind::Release),
        Just(LeaseWriteKind::Finalize),
    ]
}

fn arb_event() -> impl Strategy<Value = LeaseEvent> {
    prop_oneof![
        Just(LeaseEvent::Nothing),
        arb_record().prop_map(LeaseEvent::Read),
        arb_failure().prop_map(LeaseEvent::ReadFailed),
        (arb_write(), arb_record(), 0u64..3_000).prop_map(|(write, r, back)| LeaseEvent::Wrote {
            write,
            record: r.unwrap_or_else(|| rec(Some(ME), 1)),
            sent_at: MonoTime(back), // rebased below: sent at most `back` ms before now
        }),
        (arb_write(), arb_failure())
            .prop_map(|(write, failure)| LeaseEvent::WriteFailed { write, failure }),
    ]
}

#[derive(Clone, Debug)]
struct Tick {
    advance_ms: u64,
    event: LeaseEvent,
    process: u8,
    forging_enabled: Option<bool>,
    eligibility: [bool; 5],
    allow: bool,
    standby_ready: bool,
}

fn arb_tick() -> impl Strategy<Value = Tick> {
    (
        0u64..4_000,
        arb_event(),
        0u8..3,
        prop_oneof![Just(None), Just(Some(false)), Just(Some(true))],
        proptest::array::uniform5(proptest::bool::weighted(0.85)),
        proptest::bool::weighted(0.8),
        any::<bool>(),
    )
        .prop_map(
            |(advance_ms, event, process, forging_enabled, eligibility, allow, standby_ready)| {
                Tick {
                    advance_ms,
                    event,
                    process,
                    forging_enabled,
                    eligibility,
                    allow,
                    standby_ready,
                }
            },
        )
}

fn run_ticks(ticks: &[Tick], mut check: impl FnMut(&ElectionState, &Observations, &Decision)) {
    let t = timing();
    let mut state = ElectionState::default();
    let mut now = MonoTime(10_000);
    for tick in ticks {
        now = now + Duration::from_millis(tick.advance_ms);
        let event = match tick.event.clone() {
            LeaseEvent::Wrote {
                write,
                record,
                sent_at,
            } => LeaseEvent::Wrote {
                write,
                record,
                sent_at: now - Duration::from_millis(sent_at.0),
            },
            e => e,
        };
        let [running, accepting, metrics, creds, not_shutting] = tick.eligibility;
        let process = (tick.process > 0 && running).then_some(ProcessId {
            pid: u32::from(tick.process),
            start_ticks: 1,
        });
        let obs = Observations {
            now,
            lease: event,
            node: NodeView {
                process,
                forging_enabled: tick.forging_enabled,
                standby_ready: tick.standby_ready,
            },
            eligibility: Eligibility {
                node_running: process.is_some(),
                socket_accepting: accepting,
                metrics_readable: metrics,
                credentials_valid: creds,
                shutting_down: !not_shutting,
                at_tip: None,
            },
            gate: if tick.allow {
                Gate::Allow
            } else {
                Gate::Deny(Reason::PolicyDisallows)
            },
        };
        let d = decide(&state, &obs, ME, &t);
        check(&state, &obs, &d);
        state = d.next;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn never_promote_without_a_live_lease(ticks in proptest::collection::vec(arb_tick(), 1..60)) {
        let t = timing();
        run_ticks(&ticks, |_, obs, d| {
            if d.actions.contains(&Action::Promote) {
                let hold = d.next.seat.hold.as_ref();
                assert!(hold.is_some(), "promote without holding the lease");
                let hold = hold.unwrap_or_else(|| unreachable!());
                assert!(obs.now.since(hold.last_renew_sent_at) < t.renew_deadline(), "promote past the renew deadline");
                assert!(obs.now >= hold.promotable_at, "promote before the lease is promotable");
                assert!(!d.next.seat.conflict, "promote on an unresolved conflict");
                assert!(obs.eligibility.verdict().is_ok(), "promote while ineligible");
                assert_eq!(obs.gate, Gate::Allow, "promote against policy");
            }
        });
    }

    #[test]
    fn never_release_before_the_demotion_is_verified(ticks in proptest::collection::vec(arb_tick(), 1..60)) {
        run_ticks(&ticks, |_, _, d| {
            let lets_go = d.actions.contains(&lease(LeaseWriteKind::Release))
                || d.actions.contains(&lease(LeaseWriteKind::Finalize));
            if lets_go {
                assert_eq!(d.next.forging, Forging::Off, "release while the node may forge");
                assert!(!d.actions.iter().any(|a| matches!(a, Action::Demote { .. } | Action::Promote)));
            }
        });
    }

    #[test]
    fn a_node_that_may_forge_without_entitlement_is_always_being_demoted(ticks in proptest::collection::vec(arb_tick(), 1..60)) {
        let t = timing();
        run_ticks(&ticks, |_, obs, d| {
            let entitled = d.next.seat.may_promote(obs.now, &t)
                && obs.eligibility.verdict().is_ok()
                && obs.gate == Gate::Allow
                && !d.next.seat.deleting();
            assert_eq!(entitled, d.entitled);
            if !entitled {
                assert!(
                    matches!(d.next.forging, Forging::Off | Forging::Demoting { .. } | Forging::Stuck { .. }),
                    "not entitled but {:?} with actions {:?}", d.next.forging, d.actions
                );
            }
        });
    }

    #[test]
    fn no_sighup_ever_reaches_a_node_whose_socket_never_accepted(ticks in proptest::collection::vec(arb_tick(), 1..60)) {
        run_ticks(&ticks, |prev, obs, d| {
            let ready = obs.eligibility.socket_accepting && obs.node.process.is_some()
                || (prev.node_ready && prev.node == obs.node.process);
            for a in &d.actions {
                match a {
                    Action::Promote | Action::Demote { sighup: true } => assert!(ready, "SIGHUP to a starting node: {a:?}"),
                    _ => {}
                }
            }
        });
    }
}

#[test]
fn a_rotated_source_set_is_reprovisioned_only_by_a_verified_entitled_forger() {
    let on = Pod::leader(10).state;
    let with = |forging| ElectionState {
        forging,
        ..on.clone()
    };
    let since = MonoTime(0);
    // (state, entitled, source changed) -> expected
    let table = [
        (with(Forging::On), true, true, Some(Action::Reprovision)),
        (with(Forging::On), true, false, None),
        (with(Forging::On), false, true, None),
        (with(Forging::Off), true, true, None),
        (with(Forging::Unknown), true, true, None),
        (with(Forging::Promoting { since }), true, true, None),
        (
            with(Forging::Demoting { since, attempt: 1 }),
            true,
            true,
            None,
        ),
        (with(Forging::Stuck { since }), true, true, None),
    ];
    for (state, entitled, changed, expected) in table {
        assert_eq!(
            reprovision(&state, entitled, changed),
            expected,
            "{:?} entitled={entitled} changed={changed}",
            state.forging
        );
    }
}

/// The global seat takes a record naming its region (a handoff) as promotable at once, except one
/// that another pod of its region *created* (no transition yet): that pod was waiting out a lease
/// that had not existed, whose last holder may still forge, so the new leader waits until a lease
/// duration after it first saw that tenure (scenario `created-global-lease-local-leader-change`).
#[test]
fn a_global_record_our_region_created_is_promotable_only_after_the_creators_wait() {
    let t = timing();
    let region = "us-east-1";
    let mut created = rec(Some(region), 10);
    created.acquire_time = Some("2026-01-01T00:00:00Z".into());
    let mut handed = created.clone();
    handed.lease_transitions = 1;
    // (record as first seen, first seen at, acquired at, promotable at)
    let cases = [
        (created.clone(), 1_000, 5_000, 16_000),
        (created.clone(), 5_000, 5_000, 20_000),
        (created.clone(), 1_000, 30_000, 16_000),
        (handed.clone(), 4_000, 5_000, 5_000),
    ];
    for (base, seen, acquired, promotable) in cases {
        let mut seat = Seat {
            trusts_own_record: true,
            ..Seat::default()
        };
        seat.apply(
            &LeaseEvent::Read(Some(base.clone())),
            region,
            MonoTime(seen),
            &t,
        );
        // A renewal by the other pod: a new version of the same tenure.
        let mut renewed = base.clone();
        renewed.resource_version = "11".into();
        renewed.renew_time = Some("2026-01-01T00:00:02Z".into());
        seat.apply(
            &LeaseEvent::Read(Some(renewed.clone())),
            region,
            MonoTime(acquired),
            &t,
        );
        let mut ours = renewed;
        ours.resource_version = "12".into();
        seat.apply(
            &LeaseEvent::Wrote {
                write: LeaseWriteKind::Acquire,
                record: ours,
                sent_at: MonoTime(acquired),
            },
            region,
            MonoTime(acquired),
            &t,
        );
        assert_eq!(
            seat.hold.as_ref().map(|h| h.promotable_at),
            Some(MonoTime(promotable)),
            "first seen at {seen}, acquired at {acquired}, transitions {}",
            base.lease_transitions
        );
    }
}

#[test]
fn an_actions_name_is_its_serialized_tag() {
    for a in [
        Action::Lease {
            write: LeaseWriteKind::Renew,
        },
        Action::Promote,
        Action::Demote { sighup: true },
        Action::Standby,
        Action::Reprovision,
    ] {
        let v = serde_json::to_value(a).expect("serialize");
        assert_eq!(v["action"], a.name(), "{a:?}");
    }
}

#[test]
fn a_forger_whose_node_stopped_without_our_demotion_promotes_again() {
    // The watchdog fired while we were stalled, short of our own renew deadline: the node reports
    // forging disabled, the lease is still ours.
    let mut p = Pod::leader(5);
    p.node.forging_enabled = Some(false);
    let d = p.at(2_000).step(LeaseEvent::Nothing);
    assert_eq!(
        d.actions,
        vec![Action::Promote, lease(LeaseWriteKind::Renew)],
        "{d:?}"
    );
    assert_eq!(d.reason, Reason::Promoting);
    assert!(d.message.contains("without a demotion of ours"), "{d:?}");
    // Not entitled at that moment (policy says no): the belief is Off, no promotion, and whatever
    // real keys are left make way for the standby set.
    let mut p = Pod::leader(5);
    p.node.forging_enabled = Some(false);
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    let d = p.at(2_000).step(LeaseEvent::Nothing);
    assert_eq!(p.state.forging, Forging::Off);
    assert!(!d.actions.contains(&Action::Promote), "{d:?}");
    assert!(d.actions.contains(&Action::Standby), "{d:?}");
    // An unreadable metric is not a stop: a verified forger stays `On`.
    let mut p = Pod::leader(5);
    p.node.forging_enabled = None;
    p.at(2_000).step(LeaseEvent::Nothing);
    assert_eq!(p.state.forging, Forging::On);
}
