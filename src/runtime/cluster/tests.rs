use std::cell::Cell;
use std::rc::Rc;

use futures::executor::block_on;

use super::*;
use crate::testing::{FakeApi, FakeClock, FakeKube};

/// A health endpoint that never answers while `hung`, else answers 200.
#[derive(Clone, Default)]
struct Endpoint {
    hung: Rc<Cell<bool>>,
}

impl HealthProbe for Endpoint {
    async fn probe(
        &self,
        _endpoint: &str,
        _timeout: Duration,
    ) -> Result<(), crate::ports::ProbeError> {
        if self.hung.get() {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn cluster(region: &str, priority: i32) -> CardanoForgeCluster {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "cardano.io/v1",
        "kind": "CardanoForgeCluster",
        "metadata": {"name": format!("pool-{region}")},
        "spec": {"region": region, "forgeState": "Priority-based", "priority": priority},
    }))
    .expect("a valid CardanoForgeCluster")
}

struct Rig {
    clock: FakeClock,
    api: FakeApi,
    endpoint: Endpoint,
    cl: ClusterLoop<FakeClock, FakeKube, Endpoint>,
}

/// Region `east` (the preferred one, alone), its loop holding the global lease and the gate
/// open after a few rounds.
fn holding(health_timeout: Duration) -> Rig {
    let clock = FakeClock::new();
    let api = FakeApi::new();
    api.put_forge_cluster(cluster("east", 1));
    let endpoint = Endpoint::default();
    let settings = ClusterSettings {
        region: "east".into(),
        pod: "bp-0".into(),
        cluster_name: "pool-east".into(),
        global_lease: "pool-global".into(),
        presence_prefix: "pool-presence-".into(),
        selector: String::new(),
        name_prefix: None,
        failback_delay: Duration::from_secs(30),
        health: HealthSettings {
            endpoint: Some("http://health.east/".into()),
            interval: Duration::from_secs(10),
            timeout: health_timeout,
            failure_threshold: 3,
            success_threshold: 2,
        },
        timing: Timing::default(),
    };
    let mut cl = ClusterLoop::new(clock.clone(), api.client(), endpoint.clone(), settings);
    let mut open = false;
    for _ in 0..20 {
        let (gate, _) = block_on(cl.coordinate(view(None)));
        if gate == Gate::Allow {
            open = true;
            break;
        }
        clock.advance(Duration::from_secs(1));
    }
    assert!(open, "the only region never got the global lease");
    assert!(cl.state.global.hold.is_some());
    Rig {
        clock,
        api,
        endpoint,
        cl,
    }
}

fn view(answer_by: Option<MonoTime>) -> LocalView {
    LocalView {
        leader: true,
        eligible: true,
        forging_off: false,
        shutting_down: false,
        region_quiet: true,
        answer_by,
    }
}

/// A black-holed coordination API just before the global lease's renew deadline: the round
/// returns by the deadline minus the demotion time (plus the 50 ms floor of each request it
/// still makes), closed, instead of spending the 3 s API timeout on each request.
#[test]
fn a_hung_coordination_api_cannot_hold_the_gate_open_past_the_global_deadline() {
    let mut rig = holding(Duration::from_secs(1));
    let t = rig.cl.settings.timing;
    let deadline = rig.cl.state.global.deadline(&t).expect("held");
    let answer_by = deadline - t.demotion_time();
    rig.clock.advance(
        answer_by
            .since(rig.clock.now_mono())
            .saturating_sub(Duration::from_millis(500)),
    );
    rig.api.set_hung(true);
    let (mut gate, mut wake) = block_on(rig.cl.coordinate(view(None)));
    let back = rig.clock.now_mono();
    assert!(
        back <= answer_by + Duration::from_millis(300),
        "returned at {back}, the answer was needed by {answer_by} (deadline {deadline})"
    );
    // Rounds go on as the runtime runs them (at the latest at each wake-up); the gate must be
    // shut from the deadline on, and no open round may ask to sleep past it.
    for _ in 0..50 {
        if gate != Gate::Allow {
            break;
        }
        assert!(
            wake <= deadline,
            "open gate, next look at {wake}, deadline {deadline}"
        );
        let now = rig.clock.now_mono();
        rig.clock
            .advance(wake.since(now).max(Duration::from_millis(10)));
        (gate, wake) = block_on(rig.cl.coordinate(view(None)));
    }
    assert_ne!(gate, Gate::Allow);
    let shut = rig.clock.now_mono();
    assert!(
        shut <= deadline + Duration::from_millis(300),
        "gate shut at {shut}, deadline {deadline}"
    );
}

/// The local loop's deadline bounds the round too: the local lease must still be renewable.
#[test]
fn the_local_deadline_bounds_every_coordination_request() {
    let mut rig = holding(Duration::from_secs(1));
    rig.api.set_hung(true);
    let now = rig.clock.now_mono();
    let local_answer_by = now + Duration::from_millis(400);
    block_on(rig.cl.coordinate(view(Some(local_answer_by))));
    let took = rig.clock.now_mono().since(now);
    assert!(
        took <= Duration::from_millis(700),
        "a round with the local answer needed in 400 ms took {took:?}"
    );
}

/// A health endpoint slower than the time left before a deadline is cut short, and that is
/// not counted against the region's health; the same hang with time to spare is a failure.
#[test]
fn a_probe_cut_short_by_a_deadline_is_not_a_failure() {
    let mut rig = holding(Duration::from_secs(2));
    rig.endpoint.hung.set(true);
    let settings = rig.cl.settings.health.clone();
    let now = rig.clock.now_mono();
    rig.cl.round_answer_by = Some(now + Duration::from_millis(500));
    rig.cl.prober.next_at = None;
    let health = block_on(rig.cl.probe(&settings, None));
    assert!(rig.clock.now_mono().since(now) <= Duration::from_millis(500));
    assert_eq!(health.consecutive_failures, 0);
    assert!(health.healthy);
    assert_eq!(rig.cl.prober.next_at, Some(now), "tried again next round");

    rig.cl.round_answer_by = None;
    let health = block_on(rig.cl.probe(&settings, None));
    assert_eq!(
        health.consecutive_failures, 1,
        "a hang within its own timeout counts"
    );
}

/// The defaults (HEALTH_CHECK_TIMEOUT 10 s, API timeout 3 s) while the region holds the
/// global lease and its local lease: a hung endpoint must turn the region unhealthy after
/// `failure_threshold` probes, and the gate must stay open meanwhile (no renewal is missed).
#[test]
fn a_hung_health_endpoint_is_counted_as_a_failure_with_default_settings() {
    let mut rig = holding(Duration::from_secs(10));
    rig.cl.settings.health.interval = Duration::from_secs(30);
    assert_eq!(rig.cl.settings.health.timeout, Duration::from_secs(10));
    assert_eq!(rig.cl.settings.health.failure_threshold, 3);
    assert_eq!(rig.cl.settings.timing, Timing::default());
    rig.endpoint.hung.set(true);
    rig.cl.prober.next_at = None;
    let start = rig.clock.now_mono();
    let mut rounds = 0;
    while rig.cl.prober.healthy != Some(false) {
        rounds += 1;
        assert!(
            rounds <= 200,
            "still healthy after {rounds} rounds, {} failures: {:?}",
            rig.cl.prober.failures,
            rig.cl.prober.last_message
        );
        // The local loop renewed its lease just before this round: its answer is due in
        // the renew deadline minus the demotion time.
        let now = rig.clock.now_mono();
        let t = rig.cl.settings.timing;
        let local_answer_by = now + (t.renew_deadline() - t.demotion_time());
        let (gate, wake) = block_on(rig.cl.coordinate(view(Some(local_answer_by))));
        assert_eq!(gate, Gate::Allow, "a hung probe cost the global lease");
        let now = rig.clock.now_mono();
        rig.clock
            .advance(wake.since(now).max(Duration::from_millis(10)));
    }
    assert_eq!(rig.cl.prober.failures, 3);
    let took = rig.clock.now_mono().since(start);
    assert!(
        took <= Duration::from_secs(2 * 30 + 10),
        "three probes 30 s apart took {took:?}"
    );
    assert!(
        rig.cl.prober.last_message.contains("timed out after 3s"),
        "{}",
        rig.cl.prober.last_message
    );
}

/// The health series and the effective priority reach `/metrics` (they stayed empty before the
/// loop fed them: the health alerts could not fire).
/// The status names the pod that forges (`forger`, empty when none does), and is rewritten at
/// least every STATUS_REFRESH_LEASES lease durations (`observedAt`) while nothing changes, so a
/// region nobody writes for any more shows an old time instead of a status that looks current.
#[test]
fn the_status_names_the_forger_and_is_refreshed_while_the_region_lives() {
    let rig = holding(Duration::from_secs(1));
    let mut cl = rig.cl;
    // No health check: each probe's time would change the status (and write it) anyway.
    cl.settings.health.endpoint = None;
    let writes = || rig.api.cluster_status_patches();
    let refresh = Timing::default().lease_duration() * STATUS_REFRESH_LEASES;
    // Rounds every 2 s for a little less than the refresh period: one write (the first).
    let before = writes().len();
    let mut elapsed = Duration::ZERO;
    while elapsed + Duration::from_secs(2) < refresh {
        rig.clock.advance(Duration::from_secs(2));
        elapsed += Duration::from_secs(2);
        block_on(cl.coordinate(view(None)));
    }
    let all = writes();
    assert_eq!(all.len(), before + 1, "{all:?}");
    let (name, first) = all.last().expect("a status write").clone();
    assert_eq!(name, "pool-east");
    assert_eq!(first["forger"], "bp-0");
    assert_eq!(first["forgingEnabled"], true);
    let observed = |v: &serde_json::Value| -> jiff::Timestamp {
        v["observedAt"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no observedAt in {v}"))
    };
    // Past the refresh period, unchanged: written again, with a later observedAt.
    rig.clock.advance(Duration::from_secs(4));
    block_on(cl.coordinate(view(None)));
    let (_, again) = writes().last().expect("a status write").clone();
    assert_eq!(writes().len(), before + 2);
    assert!(observed(&again) > observed(&first), "{again}");
    // Our node stops forging: the forger is cleared at once.
    rig.clock.advance(Duration::from_secs(2));
    let mut off = view(None);
    off.forging_off = true;
    off.eligible = false;
    block_on(cl.coordinate(off));
    let (_, last) = writes().last().expect("a status write").clone();
    assert_eq!(last["forger"], "", "{last}");
    assert_eq!(last["forgingEnabled"], false, "{last}");
}

#[test]
fn health_checks_and_priority_reach_the_metrics() {
    let metrics = Metrics::new(&crate::metrics::test_identity(Some((
        "pool-east",
        "east",
        7,
    ))));
    let rig = holding(Duration::from_secs(1));
    let mut cl = rig.cl.with_metrics(metrics.clone());
    rig.endpoint.hung.set(true);
    cl.prober.next_at = None;
    let settings = cl.settings.health.clone();
    block_on(cl.probe(&settings, None));
    rig.clock.advance(Duration::from_secs(3));
    block_on(cl.coordinate(view(None)));
    let text = metrics.render().expect("renders");
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    assert_eq!(
        value("cardano_cluster_health_check_consecutive_failures"),
        1.0
    );
    assert_eq!(value("cardano_cluster_health_check_success"), 0.0);
    // The reported priority: 1 from the spec (not the environment's 7), +10 while health is
    // intermittent (one failed check), the old sidecar's meaning (docs/compatibility.md §5.8).
    assert_eq!(value("cardano_cluster_forge_priority"), 11.0);
}
