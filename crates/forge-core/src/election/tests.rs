//! Table-driven tests of every clause of the safety rule, and property tests of its two orderings.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::lease::LEASE_FINALIZER;
use crate::timing::TimingParams;

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

/// The node process of every test pod (the explain tests share it).
pub(super) const NODE: ProcessId = ProcessId {
    pid: 42,
    start_ticks: 1000,
};

/// A state believing `forging` of a running node whose SIGHUP handler is installed, holding
/// nothing (the explain tests share it).
pub(super) fn with_ready_node(forging: Forging) -> ElectionState {
    ElectionState {
        forging,
        node: Some(NODE),
        node_ready: true,
        node_observed: true,
        ..ElectionState::default()
    }
}

/// One pod's decisions over time, with the node and lease answers scripted by the test.
struct Pod {
    state: ElectionState,
    now: MonoTime,
    node: NodeView,
    eligibility: Eligibility,
    gate: Gate,
    last: Option<Decision>,
    timing: Timing,
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
                keys_in_place: true,
            },
            eligibility: Eligibility::all_good(),
            gate: Gate::Allow,
            last: None,
            timing: timing(),
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
        let d = decide(&self.state, &obs, ME, &self.timing);
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
            keys_in_place: true,
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

/// The default timing with 1 s slots (mainnet's).
fn slotted() -> Timing {
    Timing::new(TimingParams {
        slot_length: Some(Duration::from_secs(1)),
        ..TimingParams::default()
    })
    .expect("the defaults with 1 s slots fit the budget")
}

/// A node enabled part-way through a slot checks that slot at once: a pod that takes a lease its
/// holder just released promotes only a slot (and 5 %) after it first saw the release, so its
/// first check is of a slot the leaving node never checked. A lease taken on expiry needs no wait
/// (its holder fenced itself seconds before), and without a slot clock nothing waits.
#[test]
fn a_released_lease_is_promoted_a_slot_after_the_release_was_seen() {
    let cases = [
        // (slot clock, record seen, promotes at ms after the acquire)
        (true, rec(None, 7), 1_050),
        (false, rec(None, 7), 0),
    ];
    for (with_slots, seen, after) in cases {
        let mut p = Pod::ready();
        if with_slots {
            p.timing = slotted();
        }
        let d = p.step(LeaseEvent::Read(Some(seen.clone())));
        assert_eq!(d.actions, vec![lease(LeaseWriteKind::Acquire)]);
        let seen_at = p.now.0;
        // The acquire is answered 100 ms after the release was seen.
        let d = p
            .at(seen_at + 100)
            .wrote(LeaseWriteKind::Acquire, rec(Some(ME), 8));
        if after == 0 {
            assert_eq!(d.actions, vec![Action::Promote], "{d:?}");
            continue;
        }
        assert!(!d.actions.contains(&Action::Promote), "{d:?}");
        assert_eq!(d.reason, Reason::SlotSettling, "{}", d.message);
        assert_eq!(d.role, Role::Acquiring);
        assert_eq!(
            d.wake_by,
            MonoTime(seen_at + after),
            "wakes when the slot has passed"
        );
        let d = p.at(seen_at + after - 1).step(LeaseEvent::Nothing);
        assert!(!d.actions.contains(&Action::Promote), "{d:?}");
        let d = p.at(seen_at + after).step(LeaseEvent::Nothing);
        assert_eq!(d.actions, vec![Action::Promote], "{d:?}");
    }
}

#[test]
fn a_lease_taken_on_expiry_is_promoted_at_once_even_with_a_slot_clock() {
    let mut p = Pod::ready();
    p.timing = slotted();
    p.step(LeaseEvent::Read(Some(rec(Some(OTHER), 3))));
    // Unchanged for a lease duration: expired by observation.
    let now = p.now.0;
    let d = p.at(now + 15_000).step(LeaseEvent::Nothing);
    assert_eq!(d.actions, vec![lease(LeaseWriteKind::Acquire)], "{d:?}");
    let d = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 4));
    assert_eq!(d.actions, vec![Action::Promote], "{d:?}");
}

/// Our own node, once off after it may have forged, is enabled again only a slot later: a
/// re-enabled node checks the slot in progress at once, which it may have checked already.
#[test]
fn our_node_is_enabled_again_only_a_slot_after_it_stopped() {
    let mut p = Pod::leader(10);
    p.timing = slotted();
    // Policy takes forging away: demote, verified.
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    let now = p.now.0;
    let d = p.at(now + 100).step(LeaseEvent::Nothing);
    assert_eq!(d.actions, vec![Action::Demote { sighup: true }]);
    p.node.forging_enabled = Some(false);
    let off_at = p.now.0 + 50;
    p.at(off_at).step(LeaseEvent::Nothing);
    assert_eq!(p.state.off_since, Some(MonoTime(off_at)));
    // Allowed again 300 ms later: it waits out the slot.
    p.gate = Gate::Allow;
    let d = p.at(off_at + 300).step(LeaseEvent::Nothing);
    assert!(!d.actions.contains(&Action::Promote), "{d:?}");
    assert_eq!(d.reason, Reason::SlotSettling, "{}", d.message);
    assert_eq!(d.wake_by, MonoTime(off_at + 1_050));
    let d = p.at(off_at + 1_050).step(LeaseEvent::Nothing);
    assert!(d.actions.contains(&Action::Promote), "{d:?}");
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
            keys_in_place: true,
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
    assert_eq!(d.next.seat.released, Some(Released::Accepted));
    assert!(d.message.ends_with("lease released"), "{}", d.message);
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
        let seat = p
            .at(1_600)
            .step(LeaseEvent::WriteFailed {
                write: LeaseWriteKind::Release,
                failure,
            })
            .next
            .seat;
        let dropped = seat.hold.is_none();
        assert_eq!(seat.released, Some(Released::Unanswered), "{failure:?}");
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
        // A new hold: the old release no longer describes this seat.
        let d = p
            .at(20_000)
            .wrote(LeaseWriteKind::Acquire, rec(Some(ME), 9));
        assert!(d.next.seat.hold.is_some(), "{failure:?}");
        assert_eq!(d.next.seat.released, None, "{failure:?}");
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
            keys_in_place: true,
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
            keys_in_place: true,
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
                keys_in_place: true,
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
                assert!(obs.now.since(hold.last_renew_sent_at) < t.renew_deadline() - t.demotion_time(), "promote past the answer instant (renew deadline - demotion time)");
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
                && d.next.seat.answer_by(&t).is_none_or(|by| obs.now < by)
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

// ---------------------------------------------------------------------------------------------
// What operators read, the runtime's exit, and the demotion schedule.

/// Role names are what the metrics labels, the status page and the journal carry, and what
/// dashboards and alerts match on: each is the role's serialized snake_case name, and stable.
#[test]
fn a_roles_name_is_its_serialized_name() {
    for (role, name) in [
        (Role::Candidate, "candidate"),
        (Role::Acquiring, "acquiring"),
        (Role::Leader, "leader"),
        (Role::Demoting, "demoting"),
        (Role::Releasing, "releasing"),
        (Role::Fenced, "fenced"),
    ] {
        assert_eq!(role.as_str(), name, "{role:?}");
        let v = serde_json::to_value(role).expect("serialize");
        assert_eq!(v, name, "{role:?}");
    }
}

/// A log line and a journal record are written for a decision that changes something: a new role,
/// or any action but a routine renewal. A leader renewing every retry period without a change is
/// not one (a record per renewal would bury the transitions an operator looks for).
#[test]
fn only_a_new_role_or_an_action_other_than_a_renewal_is_worth_a_record() {
    let base = Pod::leader(5).last.expect("a decision");
    assert_eq!(base.role, Role::Leader);
    let renew = lease(LeaseWriteKind::Renew);
    // (role before this decision, its actions) -> worth a record
    let table = [
        (Role::Leader, vec![], false),
        (Role::Leader, vec![renew], false),
        (Role::Leader, vec![Action::Standby], true),
        (Role::Leader, vec![renew, Action::Reprovision], true),
        (Role::Leader, vec![lease(LeaseWriteKind::Acquire)], true),
        (Role::Acquiring, vec![], true),
        (Role::Acquiring, vec![renew], true),
    ];
    for (before, actions, expected) in table {
        let d = Decision {
            actions: actions.clone(),
            ..base.clone()
        };
        assert_eq!(
            d.changes_anything(before),
            expected,
            "{before:?} -> leader with {actions:?}"
        );
    }
}

/// `shutdown_complete` lets the runtime exit. Only a pod that is shutting down, holds nothing and
/// whose node is verifiably off may: one that exits while holding leaves a lease nobody renews
/// (or a forging node without its sidecar), and one that is not shutting down must not exit at all.
#[test]
fn shutdown_completes_only_when_leaving_with_no_hold_and_the_node_verifiably_off() {
    // Holds a lease it created, waiting it out; the node is off.
    let waiting = || {
        let mut p = Pod::ready();
        p.step(LeaseEvent::Read(None));
        p.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
        p
    };
    // (pod, shutting down) -> complete
    let table = [
        ("candidate, node off", Pod::ready(), false, false),
        ("candidate, node off", Pod::ready(), true, true),
        ("waiting creator", waiting(), false, false),
        ("waiting creator", waiting(), true, false),
        ("forging leader", Pod::leader(5), false, false),
        ("forging leader", Pod::leader(5), true, false),
    ];
    for (name, mut p, shutting_down, expected) in table {
        p.eligibility.shutting_down = shutting_down;
        let now = p.now.0;
        let d = p.at(now + 100).step(LeaseEvent::Nothing);
        assert_eq!(
            d.shutdown_complete, expected,
            "{name}, shutting down: {shutting_down}"
        );
    }
}

/// The sentence of a promotion tells an operator whether a verified forger's node stopped on its
/// own (did the watchdog fire?) or the pod is simply promoting: an ordinary promotion, and the
/// wait for its confirmation, must not send anyone looking for a watchdog.
#[test]
fn only_a_forger_that_stopped_on_its_own_is_reported_as_such() {
    let mut p = Pod::ready();
    p.step(LeaseEvent::Read(Some(rec(None, 5))));
    let first = p.wrote(LeaseWriteKind::Acquire, rec(Some(ME), 6));
    let waiting = p.at(1_300).step(LeaseEvent::Nothing);
    let mut q = Pod::leader(5);
    q.node.forging_enabled = Some(false);
    let stopped = q.at(2_000).step(LeaseEvent::Nothing);
    // (decision) -> reported as a stop of the node's own
    for (name, d, expected) in [
        ("first promotion", first, false),
        ("awaiting its confirmation", waiting, false),
        ("stopped forger promoting again", stopped, true),
    ] {
        assert_eq!(d.reason, Reason::Promoting, "{name}");
        assert_eq!(
            d.message.contains("without a demotion of ours"),
            expected,
            "{name}: {}",
            d.message
        );
    }
}

/// `fenced` says our own renewal deadline passed: we dropped the lease and take the node out, and
/// the role stays `fenced` until that demotion is verified. A node taken out for another reason
/// (the lease names someone else, policy) is `demoting`. A holder that fences with its node off
/// is reported fenced in that step, then is a candidate again.
#[test]
fn fenced_is_the_role_of_a_pod_whose_own_deadline_passed() {
    // A verified leader (last renewal sent at 1 000) that renews no more.
    let mut p = Pod::leader(5);
    let leader_at_deadline = p.at(11_000).step(LeaseEvent::Nothing);
    let leader_after = p.at(11_100).step(LeaseEvent::Nothing);
    // A creator waiting out its lease (node off) whose renewals stop.
    let mut c = Pod::ready();
    c.step(LeaseEvent::Read(None));
    c.wrote(LeaseWriteKind::Create, rec(Some(ME), 1));
    let creator_at_deadline = c.at(11_000).step(LeaseEvent::Nothing);
    let creator_after = c.at(11_100).step(LeaseEvent::Nothing);
    let mut l = Pod::leader(5);
    let lost = l
        .at(2_000)
        .step(LeaseEvent::Read(Some(rec(Some(OTHER), 10))));
    let mut g = Pod::leader(5);
    g.gate = Gate::Deny(Reason::PolicyDisallows);
    let denied = g.at(2_000).step(LeaseEvent::Nothing);
    // (decision) -> role
    for (name, d, role) in [
        ("leader at its deadline", leader_at_deadline, Role::Fenced),
        (
            "leader after it, node not verified off",
            leader_after,
            Role::Fenced,
        ),
        ("creator at its deadline", creator_at_deadline, Role::Fenced),
        ("creator after it", creator_after, Role::Candidate),
        ("leader whose lease names another", lost, Role::Demoting),
        ("leader whose gate closed", denied, Role::Demoting),
    ] {
        assert_eq!(d.role, role, "{name}: {:?} {:?}", d.reason, d.actions);
    }
}

/// After a stuck demotion, one more attempt every `STUCK_RETRY_AFTER`: one SIGHUP, one
/// verification window, and stuck again if unverified. Never a fresh round of
/// `MAX_DEMOTION_ATTEMPTS` SIGHUPs (no SIGHUP loop on a node that ignores them).
#[test]
fn a_stuck_demotion_is_retried_once_per_retry_period_not_in_a_new_round() {
    let mut p = Pod::leader(5);
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    p.node.forging_enabled = None; // metrics gone
    p.eligibility.metrics_readable = false;
    let stuck_at = p.now;
    p.state.forging = Forging::Stuck { since: stuck_at };
    let mut demotions = vec![];
    let mut asked_renew = false;
    for k in 1..=80 {
        let t = stuck_at.0 + k * 1_000;
        // The API works: every renewal asked for succeeds, so the lease is kept throughout.
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
        if d.actions.contains(&Action::Demote { sighup: true }) {
            demotions.push(t);
        }
    }
    let retry = stuck_at + STUCK_RETRY_AFTER;
    assert_eq!(demotions, vec![retry.0]);
    assert_eq!(p.state.forging, Forging::Stuck { since: retry });
    assert!(p.state.seat.hold.is_some(), "the lease is kept");
}

/// What the node's metrics tell about the SIGHUP we sent: a promotion is confirmed by
/// `forging_enabled`, any belief that the node may forge is cleared by a report that it does not,
/// and an unreadable metric proves nothing. The last demotion attempt gets its full verification
/// window before it is called stuck (the role and the journal say "demoting" until then). A
/// verified forger whose credential files somebody else wrote over is `Unknown` whatever the
/// metrics say: decoys report forging enabled too (chaos seed 6604).
#[test]
fn the_metrics_confirm_or_clear_a_belief_and_the_last_demotion_gets_its_full_window() {
    let t = timing();
    let since = MonoTime(10_000);
    let w = t.sighup_verify_timeout();
    let ms = Duration::from_millis;
    let first = Forging::Demoting { since, attempt: 1 };
    let last = Forging::Demoting {
        since,
        attempt: MAX_DEMOTION_ATTEMPTS,
    };
    let stuck = Forging::Stuck { since };
    let promoting = Forging::Promoting { since };
    let (kept, changed) = (true, false);
    // (belief, forging_enabled, keys in place, time since the SIGHUP) -> belief after
    let table = [
        (promoting, Some(true), kept, ms(100), Forging::On),
        (promoting, Some(false), kept, ms(100), promoting),
        (promoting, None, kept, w, promoting),
        (Forging::On, Some(false), kept, ms(100), Forging::Off),
        (Forging::On, None, kept, ms(100), Forging::On),
        (Forging::On, Some(true), kept, ms(100), Forging::On),
        (Forging::On, Some(true), changed, ms(100), Forging::Unknown),
        (Forging::On, Some(false), changed, ms(100), Forging::Unknown),
        (Forging::On, None, changed, ms(100), Forging::Unknown),
        // Only a verified forger's files are ours to miss: a promotion is judged on its next
        // look, and `Off` has nothing in place to lose.
        (promoting, Some(true), changed, ms(100), Forging::On),
        (Forging::Off, Some(true), changed, ms(100), Forging::Off),
        (Forging::Unknown, Some(false), kept, ms(100), Forging::Off),
        (stuck, Some(false), kept, ms(100), Forging::Off),
        (first, Some(false), kept, ms(100), Forging::Off),
        (first, None, kept, w, first),
        (last, Some(false), kept, w, Forging::Off),
        (last, None, kept, w - ms(1), last),
        (last, None, kept, w, stuck),
        (last, Some(true), kept, w, stuck),
    ];
    for (belief, enabled, keys_in_place, after, expected) in table {
        let node = NodeView {
            process: Some(NODE),
            forging_enabled: enabled,
            standby_ready: false,
            keys_in_place,
        };
        assert_eq!(
            verify(belief, node, since + after, &t),
            expected,
            "{belief:?} with forging_enabled {enabled:?}, keys in place {keys_in_place}, after {after:?}"
        );
    }
}

/// A verified forger whose credential files were written over (the watchdog's decoys landing on a
/// new promotion, chaos seed 6604) writes its real keys again and SIGHUPs while it is entitled, and
/// demotes, keeping its lease until the demotion is verified, when it is not.
#[test]
fn a_forger_whose_keys_were_written_over_promotes_again_or_demotes() {
    let mut p = Pod::leader(5);
    p.node.keys_in_place = false;
    let d = p.at(2_000).step(LeaseEvent::Nothing);
    assert_eq!(
        d.actions,
        vec![Action::Promote, lease(LeaseWriteKind::Renew)],
        "{d:?}"
    );
    assert!(d.message.contains("credential files changed"), "{d:?}");
    p.node.keys_in_place = true;
    p.at(2_300).step(LeaseEvent::Nothing);
    assert_eq!(p.state.forging, Forging::On);

    let mut p = Pod::leader(5);
    p.node.keys_in_place = false;
    p.gate = Gate::Deny(Reason::PolicyDisallows);
    let d = p.at(2_000).step(LeaseEvent::Nothing);
    assert!(
        d.actions.contains(&Action::Demote { sighup: true }),
        "{d:?}"
    );
    assert!(
        !d.actions.contains(&lease(LeaseWriteKind::Release)),
        "no release before the demotion is verified: {d:?}"
    );
}

/// A pod entitled again while its demotion is unconfirmed waits out the verification window, then
/// promotes (a stuck one at once), as from `Unknown`; never while a 409 is unresolved. Before, it
/// waited for a proof that a node running a decoy set never gives (soak seed 2518).
#[test]
fn an_entitled_pod_with_an_unconfirmed_demotion_promotes_after_the_window() {
    let t = timing();
    let since = MonoTime(10_000);
    let w = t.sighup_verify_timeout();
    let ms = Duration::from_millis;
    let demoting = |attempt| Forging::Demoting { since, attempt };
    let stuck = Forging::Stuck { since };
    // (belief, may_start, time since the last SIGHUP) -> action of an entitled pod
    let table = [
        (demoting(1), true, w - ms(1), None),
        (demoting(1), true, w, Some(Action::Promote)),
        (
            demoting(MAX_DEMOTION_ATTEMPTS),
            true,
            w,
            Some(Action::Promote),
        ),
        (demoting(1), false, w, None),
        (stuck, true, ms(0), Some(Action::Promote)),
        (stuck, false, ms(0), None),
        (Forging::On, true, w, None),
    ];
    for (belief, may_start, after, expected) in table {
        assert_eq!(
            forging_action(&with_ready_node(belief), true, may_start, since + after, &t),
            expected,
            "{belief:?}, may_start {may_start}, after {after:?}"
        );
    }
}

/// The demotion schedule of a pod that may not forge, while the node is unverified: each attempt
/// gets its verification window, at most `MAX_DEMOTION_ATTEMPTS` in a row, then one every
/// `STUCK_RETRY_AFTER`. (`decide` turns a last attempt past its window into `Stuck` first; the
/// schedule bounds the SIGHUPs by itself as well.)
#[test]
fn a_demotion_is_retried_after_its_window_at_most_max_attempts_in_a_row() {
    let t = timing();
    let since = MonoTime(10_000);
    let w = t.sighup_verify_timeout();
    let ms = Duration::from_millis;
    let demoting = |attempt| Forging::Demoting { since, attempt };
    let demote = Some(Action::Demote { sighup: true });
    // (belief, time since the last attempt) -> action
    let table = [
        (demoting(1), w - ms(1), None),
        (demoting(1), w, demote),
        (demoting(MAX_DEMOTION_ATTEMPTS - 1), w, demote),
        (demoting(MAX_DEMOTION_ATTEMPTS), w, None),
        (demoting(MAX_DEMOTION_ATTEMPTS), w * 10, None),
        (Forging::Stuck { since }, STUCK_RETRY_AFTER - ms(1), None),
        (Forging::Stuck { since }, STUCK_RETRY_AFTER, demote),
    ];
    for (belief, after, expected) in table {
        assert_eq!(
            forging_action(&with_ready_node(belief), false, false, since + after, &t),
            expected,
            "{belief:?} after {after:?}"
        );
    }
}

/// The invariants `decide` checks on every decision of a debug build are the oracle of every test
/// and simulation: each must reject a decision that breaks it (a check that accepts anything would
/// leave them all green).
#[cfg(debug_assertions)]
#[test]
fn the_debug_safety_checks_reject_each_broken_invariant() {
    let t = timing();
    let p = Pod::leader(5);
    let ok = p.last.clone().expect("a decision");
    assert!(ok.entitled && ok.next.forging == Forging::On);
    let mut unheld = ok.next.clone();
    unheld.seat.hold = None;
    let mut conflicted = ok.next.clone();
    conflicted.seat.conflict = true;
    // (decision) -> rejected
    let table = [
        ("the leader's own decision", ok.clone(), false),
        (
            "promote and demote at once",
            Decision {
                actions: vec![Action::Promote, Action::Demote { sighup: true }],
                ..ok.clone()
            },
            true,
        ),
        (
            "entitled without a hold",
            Decision {
                next: unheld,
                ..ok.clone()
            },
            true,
        ),
        (
            "promote on an unresolved conflict",
            Decision {
                next: conflicted,
                actions: vec![Action::Promote],
                entitled: false,
                ..ok.clone()
            },
            true,
        ),
        (
            "release while the node forges",
            Decision {
                actions: vec![lease(LeaseWriteKind::Release)],
                ..ok.clone()
            },
            true,
        ),
    ];
    for (name, d, rejected) in table {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            debug_assert_safe(&d, &p.state, p.now, &t);
        }));
        assert_eq!(checked.is_err(), rejected, "{name}");
    }
}

/// How long until the runtime must decide again. The next tick by default, earlier for what cannot
/// wait: the renew deadline, the instant a new lease becomes promotable, the end of a SIGHUP's
/// verification window, and a short poll while a SIGHUP awaits its proof or a deleted lease is to
/// be let go of or created again (the handover gap is made of these waits). Never in the past.
#[test]
fn the_next_decision_comes_at_the_first_instant_that_cannot_wait() {
    let t = timing();
    let now = MonoTime(11_000);
    let next_tick = now + t.retry_period(); // 13 000
    let poll = now + VERIFY_POLL; // 11 050
    let deleted = marked(Some(ME), 7);
    let finalized = Seat {
        recreate_from: Some(MonoTime(9_000)),
        absent_seen: true,
        ..Seat::default()
    };
    let on = |ms| Forging::Promoting {
        since: MonoTime(ms),
    };
    let off = |ms| Forging::Demoting {
        since: MonoTime(ms),
        attempt: 1,
    };
    // Renew deadline 20 000 unless said otherwise.
    let held = |promotable| seat_holding(10_000, promotable, rec(Some(ME), 7));
    // (case, seat, belief) -> wake by
    let table = [
        ("no hold", Seat::default(), Forging::Off, next_tick),
        ("promotable long ago", held(5_000), Forging::Off, next_tick),
        ("promotable now", held(11_000), Forging::Off, next_tick),
        (
            "promotable before the next tick",
            held(12_000),
            Forging::Off,
            MonoTime(12_000),
        ),
        (
            "promotable after the next tick",
            held(16_000),
            Forging::Off,
            next_tick,
        ),
        (
            "deadline before the next tick",
            seat_holding(2_000, 0, rec(Some(ME), 7)),
            Forging::Off,
            MonoTime(12_000),
        ),
        ("promotion just sent", held(5_000), on(11_000), poll),
        (
            "promotion window ends before the poll",
            held(5_000),
            on(6_030),
            MonoTime(11_030),
        ),
        ("demotion just sent", held(5_000), off(11_000), poll),
        (
            "demotion window ends before the poll",
            held(5_000),
            off(6_020),
            MonoTime(11_020),
        ),
        (
            "deleted lease, node off",
            seat_holding(10_000, 5_000, deleted.clone()),
            Forging::Off,
            poll,
        ),
        (
            "deleted lease, demotion stuck",
            seat_holding(10_000, 5_000, deleted),
            Forging::Stuck { since: MonoTime(0) },
            next_tick,
        ),
        ("finalized, to create again", finalized, Forging::Off, poll),
    ];
    for (case, seat, forging, expected) in table {
        let s = ElectionState {
            seat,
            forging,
            ..ElectionState::default()
        };
        assert_eq!(wake_by(&s, now, &t), expected, "{case}");
    }
}

// ---------------------------------------------------------------------------------------------
// The seat, on its own.

/// A seat holding `record`, last renewed at `last_renew_ms`, promotable from `promotable_ms`.
fn seat_holding(last_renew_ms: u64, promotable_ms: u64, record: LeaseRecord) -> Seat {
    Seat {
        hold: Some(Hold {
            record,
            last_renew_sent_at: MonoTime(last_renew_ms),
            promotable_at: MonoTime(promotable_ms),
            settling: false,
        }),
        ..Seat::default()
    }
}

/// A promotion is timed by a hold's settle only right after it: within a settle of its end, on a
/// hold taken after a release or a handoff. (What `cardano_sighup_late_slots_total` counts.)
#[test]
fn a_promotion_is_timed_by_the_settle_only_just_after_it_ends() {
    let t = slotted(); // settle 1 050 ms
    let hold = |settling| {
        let mut seat = seat_holding(10_000, 12_000, rec(Some(ME), 7));
        let mut h = seat.hold.take().expect("hold");
        h.settling = settling;
        h
    };
    let cases = [
        // (settling, now ms, timed)
        (true, 12_000, true),
        (true, 12_300, true),
        (true, 13_049, true),
        (true, 13_050, false),
        // A later promotion on the same hold, after a demotion for another reason.
        (true, 60_000, false),
        // A lease created, taken on expiry, or our own: nothing settled.
        (false, 12_000, false),
    ];
    for (settling, now, timed) in cases {
        assert_eq!(
            hold(settling).timed_by_settle(MonoTime(now), &t),
            timed,
            "settling {settling} at {now}"
        );
    }
    // Without a slot length there is no settle to time anything.
    assert!(!hold(true).timed_by_settle(MonoTime(12_000), &timing()));
}

/// docs/safety.md §6: the entitlement repeats the renew-deadline test on its own, so a hold that
/// somehow outlived its deadline (fencing drops it first) still entitles nothing; and a hold
/// entitles only from its promotable instant.
#[test]
fn a_hold_entitles_only_before_its_renew_deadline_and_from_its_promotable_instant() {
    let t = timing();
    // Last renewal sent at 10 000 (deadline 20 000), promotable from 12 000.
    let seat = seat_holding(10_000, 12_000, rec(Some(ME), 7));
    // (now) -> (holds, may promote)
    let table = [
        (10_000, true, false),
        (11_999, true, false),
        (12_000, true, true),
        (19_999, true, true),
        (20_000, false, false),
        (30_000, false, false),
    ];
    for (now, holds, may_promote) in table {
        let now = MonoTime(now);
        assert_eq!(
            (seat.holds(now, &t), seat.may_promote(now, &t)),
            (holds, may_promote),
            "at {now:?}"
        );
    }
    let none = Seat::default();
    assert!(!none.holds(MonoTime(10_000), &t) && !none.may_promote(MonoTime(10_000), &t));
}

/// The runtime reads the lease before a decision only when the seat needs it: without a hold
/// (nothing else tells us who holds it) or with an unresolved conflict (we write nothing until a
/// read resolves it). A holder learns of the lease from its own renewals' answers.
#[test]
fn a_seat_reads_the_lease_without_a_hold_or_after_a_conflict() {
    let holder = seat_holding(10_000, 10_000, rec(Some(ME), 7));
    let conflicted = |seat: Seat| Seat {
        conflict: true,
        ..seat
    };
    // (seat) -> needs a read
    let table = [
        ("no hold", Seat::default(), true),
        ("holder", holder.clone(), false),
        ("holder after a 409", conflicted(holder), true),
        ("no hold after a 409", conflicted(Seat::default()), true),
    ];
    for (name, seat, expected) in table {
        assert_eq!(seat.needs_read(), expected, "{name}");
    }
}

/// After we finalized the deletion of our own hold, the lease we create next is promotable when
/// that hold was (nobody else can have forged under the deleted record), but only if nothing but
/// an absent lease was seen meanwhile: a record naming anyone else, or nobody, means the lease
/// existed without us since, and our creation waits a lease duration like anyone's.
#[test]
fn a_finalized_holds_head_start_survives_only_reads_of_an_absent_lease() {
    let t = timing();
    // (read after the deletion completed) -> head start kept
    let table = [
        (None, true),
        (Some(rec(Some(OTHER), 8)), false),
        (Some(rec(None, 8)), false),
    ];
    for (seen, kept) in table {
        let mut seat = seat_holding(10_000, 10_000, marked(Some(ME), 7));
        let finalize = LeaseEvent::Wrote {
            write: LeaseWriteKind::Finalize,
            record: marked(Some(ME), 7),
            sent_at: MonoTime(11_000),
        };
        seat.apply(&finalize, ME, MonoTime(11_000), &t);
        assert_eq!(seat.recreate_from, Some(MonoTime(10_000)));
        seat.apply(&LeaseEvent::Read(seen.clone()), ME, MonoTime(11_100), &t);
        assert_eq!(seat.recreate_from.is_some(), kept, "after {seen:?}");
        // Gone again when we create it.
        seat.apply(&LeaseEvent::Read(None), ME, MonoTime(11_150), &t);
        let create = LeaseEvent::Wrote {
            write: LeaseWriteKind::Create,
            record: rec(Some(ME), 9),
            sent_at: MonoTime(11_200),
        };
        seat.apply(&create, ME, MonoTime(11_200), &t);
        let promotable = if kept { 11_200 } else { 11_200 + 15_000 };
        assert_eq!(
            seat.hold.as_ref().map(|h| h.promotable_at),
            Some(MonoTime(promotable)),
            "after {seen:?}"
        );
    }
}

/// We hold a lease only on a record that names us: a successful write answered with a record that
/// names someone else gives no hold, and a release ends ours whatever its answer says (a release
/// is taken at once by others).
#[test]
fn a_write_gives_a_hold_only_on_a_record_that_names_us() {
    let t = timing();
    let now = MonoTime(11_000);
    // (write, holder in the answer) -> holding after
    let table = [
        (LeaseWriteKind::Create, Some(ME), true),
        (LeaseWriteKind::Create, Some(OTHER), false),
        (LeaseWriteKind::Acquire, Some(ME), true),
        (LeaseWriteKind::Acquire, Some(OTHER), false),
        (LeaseWriteKind::Renew, Some(ME), true),
        (LeaseWriteKind::Renew, Some(OTHER), false),
        (LeaseWriteKind::Release, None, false),
        (LeaseWriteKind::Release, Some(ME), false),
    ];
    for (write, holder, holding) in table {
        let mut seat = match write {
            LeaseWriteKind::Renew | LeaseWriteKind::Release => {
                seat_holding(10_000, 10_000, rec(Some(ME), 7))
            }
            _ => Seat::default(),
        };
        let wrote = LeaseEvent::Wrote {
            write,
            record: rec(holder, 8),
            sent_at: now,
        };
        seat.apply(&wrote, ME, now, &t);
        assert_eq!(
            seat.hold.as_ref().map(|h| h.record.holder()),
            holding.then_some(Some(ME)),
            "{write:?} answered with holder {holder:?}"
        );
    }
}

/// A fencing is reported (`role = fenced`) until the seat holds again: a new tenure that is later
/// lost to another pod is a plain loss, not a fencing (review of the mutation survivors).
#[test]
fn a_new_hold_ends_the_report_of_an_earlier_fencing() {
    let t = timing();
    // (write, holder in the answer, seat held before) -> fenced_at kept
    let table = [
        (LeaseWriteKind::Acquire, Some(ME), false, false),
        (LeaseWriteKind::Create, Some(ME), false, false),
        (LeaseWriteKind::Acquire, Some(OTHER), false, true),
        (LeaseWriteKind::Renew, Some(ME), true, true),
    ];
    for (write, holder, held, kept) in table {
        let mut seat = if held {
            seat_holding(10_000, 10_000, rec(Some(ME), 7))
        } else {
            Seat::default()
        };
        seat.fenced_at = Some(MonoTime(5_000));
        let now = MonoTime(11_000);
        let wrote = LeaseEvent::Wrote {
            write,
            record: rec(holder, 8),
            sent_at: now,
        };
        seat.apply(&wrote, ME, now, &t);
        assert_eq!(
            seat.fenced_at.is_some(),
            kept,
            "{write:?} answered with holder {holder:?}, held before {held}"
        );
    }
}

/// The local seat's own record, written by a previous incarnation of this pod, may have been
/// waiting out a lease it created: retaking it waits a lease duration, whatever the record's
/// history (its transition count included). The global seat takes a record naming its region as
/// a handoff, promotable at once, unless another pod of the region created it.
#[test]
fn retaking_our_own_record_waits_a_lease_duration_on_the_local_seat_only() {
    let t = timing();
    let sent_at = MonoTime(1_000);
    // (seat trusts its own records, transitions of the record) -> promotable at
    let table = [
        (false, 0, 16_000),
        (false, 3, 16_000),
        (true, 0, 16_000),
        (true, 3, 1_000),
    ];
    for (trusts, transitions, promotable) in table {
        let mut seat = Seat {
            trusts_own_record: trusts,
            ..Seat::default()
        };
        let ours = LeaseRecord {
            lease_transitions: transitions,
            ..rec(Some(ME), 9)
        };
        seat.apply(&LeaseEvent::Read(Some(ours.clone())), ME, sent_at, &t);
        let taken = LeaseEvent::Wrote {
            write: LeaseWriteKind::Acquire,
            record: LeaseRecord {
                resource_version: "10".into(),
                ..ours
            },
            sent_at,
        };
        seat.apply(&taken, ME, sent_at, &t);
        assert_eq!(
            seat.hold.as_ref().map(|h| h.promotable_at),
            Some(MonoTime(promotable)),
            "trusts own record: {trusts}, transitions {transitions}"
        );
    }
}

/// Which write a seat attempts: a create only on a lease a read showed absent (a create that went
/// unanswered may have been applied: read first), a re-create of a lease deleted under our hold
/// while we want it, and no release of a lease that no longer exists (the hold lapses).
#[test]
fn a_seat_writes_only_what_its_last_answer_supports() {
    let t = timing();
    let now = MonoTime(11_000);
    let after = |mut seat: Seat, events: Vec<LeaseEvent>| {
        for e in &events {
            seat.apply(e, ME, MonoTime(10_500), &t);
        }
        seat
    };
    let read_absent = LeaseEvent::Read(None);
    let create_unanswered = LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Create,
        failure: ApiFailure::Unreachable,
    };
    let renewal_404 = LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Renew,
        failure: ApiFailure::NotFound,
    };
    // Last renewal sent at 10 000, promotable since then; the node is verifiably off.
    let holder = || seat_holding(10_000, 10_000, rec(Some(ME), 7));
    // (seat, want the lease) -> write
    let table = [
        ("never read", Seat::default(), true, None),
        (
            "read absent",
            after(Seat::default(), vec![read_absent.clone()]),
            true,
            Some(LeaseWriteKind::Create),
        ),
        (
            "create unanswered",
            after(Seat::default(), vec![read_absent, create_unanswered]),
            true,
            None,
        ),
        ("holder", holder(), true, Some(LeaseWriteKind::Renew)),
        (
            "holder leaving",
            holder(),
            false,
            Some(LeaseWriteKind::Release),
        ),
        (
            "deleted under us",
            after(holder(), vec![renewal_404.clone()]),
            true,
            Some(LeaseWriteKind::Create),
        ),
        (
            "deleted under us, leaving",
            after(holder(), vec![renewal_404]),
            false,
            None,
        ),
    ];
    for (name, seat, want, expected) in table {
        assert_eq!(seat.next_write(ME, want, true, now, &t), expected, "{name}");
    }
}
