//! The real loop over the in-memory fakes: several pods, one API, scripted faults. The invariant
//! checked after every decision of every pod: at most one node forges with the real keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::executor::block_on;

use super::*;
use crate::core::reason::Reason;
use crate::core::time::MonoTime;
use crate::credentials::sample_set;
use crate::testing::{FakeApi, FakeClock, FakeFs, FakeKube, FakeNode};

type Loop = Runtime<FakeClock, FakeKube, FakeFs, FakeNode, Confirmations>;

/// Keeps every SIGHUP confirmation the loop reports.
#[derive(Clone, Default)]
struct Confirmations(std::rc::Rc<std::cell::RefCell<Vec<SighupConfirmed>>>);

impl Recorder for Confirmations {
    fn record(&mut self, t: &TickRecord<'_>) {
        if let Some(c) = t.confirmed {
            self.0.borrow_mut().push(c.clone());
        }
    }
}

struct TestPod {
    name: String,
    rt: Loop,
    fs: FakeFs,
    node: FakeNode,
    confirmed: Confirmations,
    next_wake: MonoTime,
    alive: bool,
}

struct Cluster {
    clock: FakeClock,
    api: FakeApi,
    pods: Vec<TestPod>,
    real: CredentialSet,
    decoy: CredentialSet,
    /// (time, pod) of every instant a node began forging with the real keys.
    forger_changes: Vec<(u64, Option<String>)>,
    /// The pods' timing (the default: no slot length, so no slot settle).
    timing: Timing,
}

fn dir(p: &str) -> PathBuf {
    PathBuf::from(p)
}

impl Cluster {
    fn new(pods: usize) -> Cluster {
        Cluster::with_timing(pods, Timing::default())
    }

    /// Pods that know the slot length (1 s): promotions after a release wait out a slot.
    fn slotted(pods: usize) -> Cluster {
        let params = crate::core::timing::TimingParams {
            slot_length: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        Cluster::with_timing(pods, Timing::new(params).expect("a valid timing"))
    }

    fn with_timing(pods: usize, timing: Timing) -> Cluster {
        let clock = FakeClock::new();
        let api = FakeApi::new();
        let real = sample_set("real");
        let decoy = sample_set("decoy");
        let mut c = Cluster {
            clock,
            api,
            pods: Vec::new(),
            real,
            decoy,
            forger_changes: Vec::new(),
            timing,
        };
        for i in 0..pods {
            c.add_pod(i);
        }
        c
    }

    fn add_pod(&mut self, i: usize) {
        let (name, rt, fs, node, confirmed) = self.runtime(i);
        self.pods.push(TestPod {
            name,
            rt,
            fs,
            node,
            confirmed,
            next_wake: self.clock.now_mono(),
            alive: true,
        });
    }

    /// Pod `i`'s loop over this cluster's API and clock, with its own files and node.
    fn runtime(&self, i: usize) -> (String, Loop, FakeFs, FakeNode, Confirmations) {
        let name = format!("pod-{i}");
        let fs = FakeFs::new();
        let source = CredentialPaths::in_dir(&dir("/secrets"));
        let decoy = CredentialPaths::in_dir(&dir("/decoy"));
        let target = CredentialPaths::in_dir(&dir("/opt/cardano/secrets"));
        for (paths, set) in [(&source, &self.real), (&decoy, &self.decoy)] {
            for f in credentials::CredentialFile::ALL {
                fs.put(paths.get(f), set.get(f), 0o600);
            }
        }
        let node = FakeNode::new(fs.clone(), target.clone());
        let settings = Settings {
            identity: name.clone(),
            lease_name: "cardano-node-leader".into(),
            leader_status_name: Some("cardano-leader".into()),
            timing: self.timing,
            source,
            target,
            mode: CredentialMode::Decoy(decoy),
            heartbeat: dir("/opt/cardano/secrets/.heartbeat"),
            jitter_seed: i as u64,
            // Slot 0 at the fake clock's wall epoch, 1 s slots.
            slot_clock: SlotClock::new(
                self.clock.now_wall().as_millisecond(),
                Duration::from_secs(1),
            ),
        };
        let confirmed = Confirmations::default();
        let rt = Runtime::new(
            self.clock.clone(),
            self.api.client(),
            fs.clone(),
            node.clone(),
            confirmed.clone(),
            settings,
        );
        (name, rt, fs, node, confirmed)
    }

    fn forgers(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|p| p.node.forges_with(&self.real))
            .map(|p| p.name.clone())
            .collect()
    }

    /// Runs until `until_ms`, in 100 ms steps, checking the invariant after every decision.
    /// The node starts (ready) once the pod's standby set is in place, like a native sidecar.
    fn run_until(&mut self, until_ms: u64) {
        while self.clock.now_mono().as_ms() < until_ms {
            let now = self.clock.now_mono();
            for i in 0..self.pods.len() {
                let p = &mut self.pods[i];
                if !p.alive || p.next_wake > now {
                    continue;
                }
                let d = block_on(p.rt.wake());
                let retry = p.rt.settings.timing.retry_period();
                p.next_wake = std::cmp::min(
                    now + retry,
                    std::cmp::max(d.wake_by, now + Duration::from_millis(100)),
                );
                if p.node.state().process.is_none() && lock(&p.rt.status()).standby_ready {
                    p.node.start(true);
                }
                let forgers = self.forgers();
                assert!(forgers.len() <= 1, "dual forging at {now}: {forgers:?}");
                let current = forgers.first().cloned();
                if self.forger_changes.last().map(|(_, f)| f) != Some(&current) {
                    self.forger_changes.push((now.as_ms(), current));
                }
            }
            self.clock.advance(Duration::from_millis(100));
        }
    }

    fn forger(&self) -> Option<String> {
        self.forgers().first().cloned()
    }

    fn pod(&mut self, name: &str) -> &mut TestPod {
        let i = self
            .pods
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("no pod {name}"));
        &mut self.pods[i]
    }

    /// When the forger last changed to `who`.
    fn since(&self, who: Option<&str>) -> u64 {
        self.forger_changes
            .iter()
            .rev()
            .find(|(_, f)| f.as_deref() == who)
            .map(|(t, _)| *t)
            .unwrap_or(u64::MAX)
    }
}

#[test]
fn three_pods_elect_exactly_one_forger_after_the_new_lease_ages() {
    let mut c = Cluster::new(3);
    c.run_until(14_000);
    assert_eq!(
        c.forger(),
        None,
        "a lease that did not exist must age a lease duration first"
    );
    c.run_until(20_000);
    let forger = c.forger();
    assert!(
        forger.is_some(),
        "no forger after 20 s: {:?}",
        c.forger_changes
    );
    for p in &c.pods {
        let (bytes, mode) =
            p.fs.get(Path::new("/opt/cardano/secrets/vrf.skey"))
                .unwrap_or_default();
        assert_eq!(mode, 0o600);
        if Some(&p.name) == forger.as_ref() {
            assert_eq!(bytes, c.real.vrf);
        } else {
            assert_eq!(bytes, c.decoy.vrf, "{} must hold the decoy set", p.name);
        }
    }
    assert_eq!(
        c.api.leader_status("cardano-leader").map(|s| s.leader_pod),
        forger
    );
}

#[test]
fn a_crashed_leader_is_replaced_within_lease_plus_retry() {
    let mut c = Cluster::new(3);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let crash_at = c.clock.now_mono().as_ms();
    {
        let p = c.pod(&leader);
        p.alive = false;
        p.node.stop();
    }
    c.run_until(crash_at + 25_000);
    let next = c.forger();
    assert!(
        next.is_some() && next != Some(leader.clone()),
        "{:?}",
        c.forger_changes
    );
    let took = c.since(next.as_deref()) - crash_at;
    assert!(took <= 15_000 + 2_400 + 1_000, "failover took {took} ms");
}

/// A standby whose acquire lost a race (409) reads the lease at once and then watches the
/// winner's record, instead of sleeping out a retry period blind: the winner may release it
/// within that period (the e2e's SIGTERM right after a failover measured 0.8-1.0 s handovers).
/// Two short waits per conflict, never a loop.
#[test]
fn a_lost_acquire_race_reads_the_lease_at_once_then_watches_it() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let loser = c
        .pods
        .iter()
        .map(|p| p.name.clone())
        .find(|n| *n != leader)
        .unwrap_or_default();
    let p = c.pod(&loser);
    let d = block_on(p.rt.wake());
    let normal = p.rt.next_wait(&d);
    assert!(
        normal > Duration::from_secs(1),
        "a watching standby waits long: {normal:?}"
    );
    // Its acquire met a 409 (as the write's result left it for the next decision).
    p.rt.state.seat.observer.reset();
    p.rt.pending = LeaseEvent::WriteFailed {
        write: LeaseWriteKind::Acquire,
        failure: ApiFailure::Conflict,
    };
    let short = Duration::from_millis(10);
    assert_eq!(
        p.rt.next_wait(&d),
        short,
        "the 409 goes to the core at once"
    );
    let d = block_on(p.rt.wake());
    assert!(d.next.seat.conflict);
    assert_eq!(p.rt.next_wait(&d), short, "then the lease is read at once");
    let d = block_on(p.rt.wake());
    assert!(!d.next.seat.conflict, "the read resolved the conflict");
    assert!(
        p.rt.watch_from().is_some(),
        "and the standby watches the winner's record"
    );
    assert!(p.rt.next_wait(&d) > short, "no third short wait");
}

/// The wake-up whose decision completes a shutdown (the verified demotion's release) decides
/// nothing more: reading back the lease just released would cost the handover a round trip
/// (soak seed 3483). Its only request is the release itself.
#[test]
fn the_decision_that_completes_a_shutdown_is_the_last_of_its_wake_up() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let api = c.api.clone();
    let clock = c.clock.clone();
    let p = c.pod(&leader);
    p.rt.begin_shutdown();
    for _ in 0..40 {
        let before = api.requests();
        let d = block_on(p.rt.wake());
        if d.shutdown_complete {
            assert_eq!(
                api.requests() - before,
                1,
                "the releasing wake-up sends the release and nothing after it"
            );
            assert!(
                api.lease("cardano-node-leader")
                    .is_some_and(|l| l.holder.is_none())
            );
            return;
        }
        clock.advance(Duration::from_millis(50));
    }
    panic!("the shutdown never completed");
}

type CoordinatedLoop =
    Runtime<FakeClock, FakeKube, FakeFs, FakeNode, Confirmations, RecordingRounds>;
type RoundLeaders = std::rc::Rc<std::cell::RefCell<Vec<bool>>>;

/// A coordinator that records each round's local leadership and can act on the world during
/// one round (then yields once, as a round's requests do).
struct RecordingRounds {
    leaders: RoundLeaders,
    during_next: Option<Box<dyn FnOnce()>>,
    /// Whether the round yields after acting (else it is over before the watch is polled).
    yields: bool,
}

impl cluster::Coordinator for RecordingRounds {
    async fn coordinate(&mut self, local: crate::core::cluster::LocalView) -> (Gate, MonoTime) {
        self.leaders.borrow_mut().push(local.leader);
        if let Some(act) = self.during_next.take() {
            act();
            if self.yields {
                YieldOnce(false).await;
            }
        }
        // Always due again: a standby's round falls in every wake-up.
        (Gate::Allow, MonoTime(0))
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// Pending once, then ready: lets a `select` poll its other side.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// A leader (pod-0) forging, and pod-1 as a ready standby whose every wake-up is due for a
/// cross-region round, recorded by `leaders`.
fn leader_and_coordinating_standby() -> (Cluster, CoordinatedLoop, RoundLeaders) {
    let mut c = Cluster::new(1);
    c.run_until(20_000);
    assert_eq!(c.forger().as_deref(), Some("pod-0"));
    let leaders = std::rc::Rc::default();
    let (_, rt, _, node, _) = c.runtime(1);
    let mut rt = rt.with_coordinator(RecordingRounds {
        leaders: std::rc::Rc::clone(&leaders),
        during_next: None,
        yields: true,
    });
    for _ in 0..3 {
        block_on(rt.wake());
        if node.state().process.is_none() && lock(&rt.status()).standby_ready {
            node.start(true);
        }
        c.clock.advance(Duration::from_millis(100));
    }
    assert!(rt.watch_from().is_some(), "pod-1 is a watching standby");
    leaders.borrow_mut().clear();
    (c, rt, leaders)
}

/// A standby whose wake-up observes its local lease released takes it before its cross-region
/// round, not after: the departing leader's successor grace is short, and a round costs a round
/// trip or two (soak seed 4838). Its first round of that wake-up is then a leader's.
#[test]
fn a_standby_that_sees_its_lease_released_takes_it_before_its_round() {
    let (mut c, mut standby, leaders) = leader_and_coordinating_standby();
    let clock = c.clock.clone();
    let pod0 = c.pod("pod-0");
    pod0.rt.begin_shutdown();
    for _ in 0..40 {
        if block_on(pod0.rt.wake()).shutdown_complete {
            break;
        }
        clock.advance(Duration::from_millis(50));
    }
    assert!(
        c.api
            .lease("cardano-node-leader")
            .is_some_and(|l| l.holder.is_none()),
        "pod-0 released the lease"
    );
    block_on(standby.wake());
    assert_eq!(
        c.api.lease("cardano-node-leader").and_then(|l| l.holder),
        Some("pod-1".to_owned()),
        "one wake-up took the released lease"
    );
    assert_eq!(
        *leaders.borrow(),
        vec![true],
        "no standby round before the acquire; the new leader's round after it"
    );
}

/// A standby keeps watching its local lease during its cross-region round: a lease that goes
/// is released mid-round is taken in the same wake-up, not a round trip after the round.
#[test]
fn a_standby_keeps_watching_its_lease_during_its_round() {
    let (c, mut standby, leaders) = leader_and_coordinating_standby();
    let api = c.api.clone();
    standby.coordinator.during_next = Some(Box::new(move || {
        api.release_lease("cardano-node-leader");
    }));
    block_on(standby.wake());
    assert_eq!(
        c.api.lease("cardano-node-leader").and_then(|l| l.holder),
        Some("pod-1".to_owned()),
        "the lease released mid-round was taken in the same wake-up"
    );
    // The standby's round decides nothing (its news replaces what it observed), so the new
    // leader's round still comes in the same wake-up, before anything may be promoted.
    assert_eq!(*leaders.borrow(), vec![false, true]);
}

/// A round that ends before its watch answers leaves the watch a moment more: a release that
/// landed in a short round is taken in the same wake-up, not read again by the next watch
/// (the shrunk soak seed 4838).
#[test]
fn a_standby_round_over_before_its_watch_answers_still_takes_the_news() {
    let (c, mut standby, leaders) = leader_and_coordinating_standby();
    let api = c.api.clone();
    standby.coordinator.yields = false;
    standby.coordinator.during_next = Some(Box::new(move || {
        api.release_lease("cardano-node-leader");
    }));
    block_on(standby.wake());
    assert_eq!(
        c.api.lease("cardano-node-leader").and_then(|l| l.holder),
        Some("pod-1".to_owned())
    );
    assert_eq!(*leaders.borrow(), vec![false, true]);
}

#[test]
fn graceful_shutdown_hands_over_after_a_verified_demotion() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let at = c.clock.now_mono().as_ms();
    c.pod(&leader).rt.begin_shutdown();
    c.run_until(at + 6_000);
    let next = c.forger();
    assert!(
        next.is_some() && next != Some(leader.clone()),
        "{:?}",
        c.forger_changes
    );
    let lease = c.api.lease("cardano-node-leader").and_then(|l| l.holder);
    assert_ne!(lease, Some(leader.clone()));
    // The successor took a released lease: no wait for expiry (well under a lease duration).
    assert!(
        c.since(next.as_deref()) - at < 5_000,
        "{:?}",
        c.forger_changes
    );
    let old = c.pod(&leader);
    assert!(!old.node.forges_with(&sample_set("real")));
}

#[test]
fn an_api_outage_fences_the_leader_and_nobody_forges_until_it_heals() {
    let mut c = Cluster::new(3);
    c.run_until(20_000);
    assert!(c.forger().is_some());
    let at = c.clock.now_mono().as_ms();
    c.api.set_down(true);
    c.run_until(at + 12_000);
    assert_eq!(
        c.forger(),
        None,
        "the leader must fence itself within the renew deadline"
    );
    let stopped = c.since(None) - at;
    assert!(
        stopped <= 10_000 + 200,
        "forging stopped {stopped} ms after the outage began"
    );
    c.run_until(at + 60_000);
    assert_eq!(c.forger(), None);
    c.api.set_down(false);
    c.run_until(at + 90_000);
    assert!(c.forger().is_some(), "{:?}", c.forger_changes);
}

#[test]
fn an_invalid_real_credential_set_is_never_promoted() {
    let mut c = Cluster::new(2);
    for p in &c.pods {
        p.fs.put(
            Path::new("/secrets/node.cert"),
            b"{\"type\":\"NodeOperationalCert",
            0o600,
        );
    }
    c.run_until(40_000);
    assert_eq!(c.forger(), None);
    assert!(c.forger_changes.iter().all(|(_, f)| f.is_none()));
    let st = lock(&c.pods[0].rt.status()).clone();
    assert!(
        st.credentials_problem
            .unwrap_or_default()
            .contains("opcert")
    );
    assert_eq!(st.reason, Some(Reason::CredentialsInvalid));
}

#[test]
fn a_leader_whose_metrics_go_dark_is_demoted_and_keeps_the_lease_until_they_return() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let at = c.clock.now_mono().as_ms();
    c.pod(&leader).node.set_metrics_up(false);
    c.run_until(at + 30_000);
    // Without metrics no SIGHUP can be verified: the keys are removed and the node told, but the
    // lease is kept (a stuck demotion) so no other pod forges while this node might.
    let st = lock(&c.pod(&leader).rt.status()).clone();
    assert!(!c.pod(&leader).node.forges_with(&sample_set("real")));
    assert!(
        matches!(
            st.reason,
            Some(Reason::DemotionStuck | Reason::DemotionUnverified | Reason::Demoting)
        ),
        "{st:?}"
    );
    assert_eq!(c.forger(), None);
    c.pod(&leader).node.set_metrics_up(true);
    c.run_until(at + 60_000);
    assert!(c.forger().is_some(), "{:?}", c.forger_changes);
}

#[test]
fn a_node_restart_on_the_leader_releases_at_once() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let at = c.clock.now_mono().as_ms();
    c.pod(&leader).node.start(false); // replaying: socket not accepting
    c.run_until(at + 3_000);
    let next = c.forger();
    assert!(
        next.is_some() && next != Some(leader.clone()),
        "{:?}",
        c.forger_changes
    );
    assert_eq!(
        c.pod(&leader).node.state().killed_early,
        0,
        "SIGHUP sent to a starting node"
    );
    let (bytes, _) = c
        .pod(&leader)
        .fs
        .get(Path::new("/opt/cardano/secrets/kes.skey"))
        .unwrap_or_default();
    assert_eq!(
        bytes,
        sample_set("decoy").kes,
        "the restarting node must find the decoy set"
    );
}

/// The watchdog's decoys land over a verified forger's keys and the node loads them (chaos seed
/// 6604: a frozen pod's watchdog and sidecar thawing together). Its metrics still say forging
/// enabled, decoys count too; the sidecar sees its files changed and promotes again within a
/// retry period, on the same lease.
#[test]
fn a_forger_whose_keys_are_written_over_loads_its_real_keys_again() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let target = CredentialPaths::in_dir(&dir("/opt/cardano/secrets"));
    let decoy = c.decoy.clone();
    let p = c.pod(&leader);
    for f in credentials::CredentialFile::ALL {
        p.fs.put(target.get(f), decoy.get(f), 0o600);
    }
    let pid = p.node.state().process.unwrap_or_else(|| unreachable!());
    block_on(p.node.sighup(pid)).ok();
    assert!(p.node.forges_with(&decoy), "the node loaded the decoys");
    assert_eq!(c.forger(), None);
    let at = c.clock.now_mono().as_ms();
    c.run_until(at + 2_500);
    assert_eq!(c.forger().as_deref(), Some(leader.as_str()));
}

#[test]
fn a_rotated_real_set_reaches_the_leader_with_exactly_one_sighup() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let rotated = sample_set("rotated");
    let before = c.pod(&leader).node.state().sighups;
    let source = CredentialPaths::in_dir(&dir("/secrets"));
    for p in &c.pods {
        for f in credentials::CredentialFile::ALL {
            p.fs.put(source.get(f), rotated.get(f), 0o600);
        }
    }
    let at = c.clock.now_mono().as_ms();
    c.run_until(at + 10_000);
    let p = c.pod(&leader);
    assert!(
        p.node.forges_with(&rotated),
        "the leader must load the new set"
    );
    assert_eq!(
        p.node.state().sighups - before,
        1,
        "one SIGHUP per rotation"
    );
    let others: Vec<bool> = c
        .pods
        .iter()
        .filter(|p| p.name != leader)
        .map(|p| p.node.forges_with(&rotated))
        .collect();
    assert!(
        others.iter().all(|f| !f),
        "only the leader takes the new set"
    );
}

#[test]
fn a_watching_standby_sleeps_until_the_lease_could_expire_and_a_leader_a_retry_period() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let standby = if leader == "pod-0" { "pod-1" } else { "pod-0" };
    let t = Timing::default();

    let p = c.pod(standby);
    let d = block_on(p.rt.wake());
    let now = p.rt.clock.now_mono();
    assert_eq!(p.rt.state.forging, Forging::Off);
    let expiry =
        p.rt.state
            .seat
            .observer
            .expires_at(t.lease_duration())
            .expect("the standby has seen the leader's lease");
    // The leader renewed within a retry period, so the lease is far from expiring: the standby's
    // watch covers the whole wait, no retry-period poll.
    assert!(expiry > now + t.retry_period(), "{expiry} vs {now}");
    assert_eq!(p.rt.next_wait(&d), expiry.since(now));

    // Not watching (it holds the seat): the leader's wait is at most a retry period.
    let l = c.pod(&leader);
    let d = block_on(l.rt.wake());
    assert!(l.rt.next_wait(&d) <= t.retry_period());
}

/// The dead-man switch fires no later than the sidecar would fence itself (review finding B1).
/// A pod promotes late in its hold: its node was unverifiable (metrics dark), the API went down
/// (renewals fail), then the metrics came back and it promoted on the hold's last renewal. The
/// heartbeat it arms carries that renewal's send instant plus the renew deadline, not the
/// promotion instant plus the renew deadline; and a failed renewal never moves it later.
#[test]
fn the_heartbeat_carries_the_fencing_instant_of_the_renewal_the_hold_rests_on() {
    let mut c = Cluster::new(1);
    c.run_until(20_000);
    let pod = c.forger().unwrap_or_default();
    let at = c.clock.now_mono().as_ms();
    c.pod(&pod).node.set_metrics_up(false);
    c.run_until(at + 20_000);
    assert_eq!(c.forger(), None, "{:?}", c.forger_changes);
    c.api.set_down(true);
    let down_at = c.clock.now_mono().as_ms();
    c.run_until(down_at + 3_000);
    c.pod(&pod).node.set_metrics_up(true);
    c.run_until(down_at + 5_000);
    let p = c.pod(&pod);
    assert!(p.node.forges_with(&sample_set("real")), "promoted late");
    let renewed =
        p.rt.state()
            .seat
            .hold
            .as_ref()
            .map(|h| h.last_renew_sent_at.as_ms())
            .unwrap_or_else(|| panic!("holds"));
    assert!(renewed <= down_at, "no renewal since the API went down");
    let hb: Heartbeat =
        p.fs.get(Path::new("/opt/cardano/secrets/.heartbeat"))
            .and_then(|(b, _)| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| panic!("a heartbeat"));
    let deadline = renewed + Timing::default().renew_deadline().as_millis() as u64;
    assert!(hb.armed);
    assert_eq!(hb.fence_at_ms, Some(deadline), "{hb:?}");
    assert!(
        hb.mono_ms > renewed + 1_000,
        "armed well after the renewal ({hb:?}, renewed at {renewed})"
    );
    assert_eq!(
        crate::watchdog::judge(
            Some(hb),
            MonoTime(deadline),
            Timing::default().renew_deadline()
        ),
        crate::watchdog::Verdict::Stalled
    );
}

/// A standby told by its watch that the lease was released takes it on the node observations it
/// already has (the departing leader's successor grace is short); only a free lease, only a
/// standby, and only observations at most a lease duration old.
#[test]
fn a_released_lease_is_taken_on_the_last_observations() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let standby = if leader == "pod-0" { "pod-1" } else { "pod-0" };
    let held = c
        .api
        .lease("cardano-node-leader")
        .expect("the leader's lease");
    let released = LeaseRecord {
        holder: None,
        ..held.clone()
    };
    let p = c.pod(standby);
    // The node's metrics went dark since the last pass: a fresh pass would find it ineligible.
    p.node.set_metrics_up(false);
    p.rt.pending = LeaseEvent::Read(Some(released.clone()));
    let seen =
        p.rt.reuse_on_release()
            .expect("a released lease is taken at once");
    assert!(seen.observations.eligibility.verdict().is_ok());
    assert_eq!(
        seen.observations.lease,
        LeaseEvent::Read(Some(released.clone()))
    );
    assert_eq!(p.rt.pending, LeaseEvent::Nothing);
    // A lease someone holds is not a release: observe afresh.
    p.rt.pending = LeaseEvent::Read(Some(held));
    assert!(p.rt.reuse_on_release().is_none());
    // Observations older than a lease duration are not reused.
    p.rt.pending = LeaseEvent::Read(Some(released.clone()));
    c.clock
        .advance(Timing::default().lease_duration() + Duration::from_secs(1));
    let p = c.pod(standby);
    assert!(p.rt.reuse_on_release().is_none());
    // The fresh pass that follows sees the dark metrics, and the standby stays off.
    let d = block_on(p.rt.wake());
    assert_eq!(d.reason, Reason::MetricsUnavailable, "{d:?}");
}

/// Every confirmation of `pod`, as (way, planned, slots late).
fn confirmations(c: &mut Cluster, pod: &str) -> Vec<(SighupKind, bool, Option<u64>)> {
    c.pod(pod)
        .confirmed
        .0
        .borrow()
        .iter()
        .map(|x| (x.sighup, x.planned, x.late_slots))
        .collect()
}

#[test]
fn a_graceful_handover_reports_both_sighups_confirmed_as_planned_and_in_time() {
    let mut c = Cluster::slotted(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    // The first promotion took a new lease: not a handover the sidecars timed.
    assert_eq!(
        confirmations(&mut c, &leader),
        vec![(SighupKind::Enable, false, Some(0))]
    );
    let at = c.clock.now_mono().as_ms();
    c.pod(&leader).rt.begin_shutdown();
    c.run_until(at + 6_000);
    let next = c.forger().unwrap_or_default();
    assert_ne!(next, leader, "{:?}", c.forger_changes);
    // The fake node applies a SIGHUP at once: neither side cost a slot.
    assert_eq!(
        confirmations(&mut c, &leader)[1..],
        [(SighupKind::Disable, true, Some(0))]
    );
    assert_eq!(
        confirmations(&mut c, &next),
        vec![(SighupKind::Enable, true, Some(0))]
    );
    // Later on the same hold, a demotion for another reason (the metrics go dark) and the
    // promotion after it: neither is a handover the sidecars timed.
    let dark = c.clock.now_mono().as_ms();
    c.pod(&next).node.set_metrics_up(false);
    c.run_until(dark + 10_000);
    c.pod(&next).node.set_metrics_up(true);
    c.run_until(dark + 12_000);
    assert_eq!(c.forger().as_deref(), Some(next.as_str()));
    assert_eq!(
        confirmations(&mut c, &next)[1..]
            .iter()
            .map(|x| (x.0, x.1))
            .collect::<Vec<_>>(),
        [(SighupKind::Disable, false), (SighupKind::Enable, false)]
    );
}

#[test]
fn a_demotion_retried_while_the_metrics_are_dark_is_measured_from_its_last_attempt() {
    let mut c = Cluster::new(2);
    c.run_until(20_000);
    let leader = c.forger().unwrap_or_default();
    let dark = c.clock.now_mono().as_ms();
    // No metrics: the forger is demoted (keys out, SIGHUP) and the demotion cannot be verified,
    // so it is tried again; attempts given up on are not confirmations.
    c.pod(&leader).node.set_metrics_up(false);
    c.run_until(dark + 30_000);
    assert_eq!(
        confirmations(&mut c, &leader).len(),
        1,
        "the first promotion only"
    );
    let back = c.clock.now_mono().as_ms();
    c.pod(&leader).node.set_metrics_up(true);
    c.run_until(back + 1_000);
    let all = confirmations(&mut c, &leader);
    // Confirmed at the first read after the metrics returned; not a planned handover (the node's
    // own metrics failed it), so it costs the counter nothing whatever its slots. Without a
    // settle (these pods have no slot length in their timing) the same decision promotes again:
    // learned off and promoted in one step still confirms the demotion, and the promotion's
    // own confirmation follows.
    assert_eq!(
        all.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
        [
            (SighupKind::Enable, false),
            (SighupKind::Disable, false),
            (SighupKind::Enable, false)
        ],
        "{all:?}"
    );
    let confirmed = c.pod(&leader).confirmed.0.borrow()[1].clone();
    assert_eq!(confirmed.counted_late_slots(), 0);
    // Measured from the last attempt's SIGHUP, not the first: well under the 30 s of darkness.
    assert!(
        confirmed.after_ms < 30_000 && confirmed.after_ms >= 100,
        "{confirmed:?}"
    );
}
