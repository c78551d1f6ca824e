//! Multi-tenant: three pools (two on mainnet, one on preprod with the first one's pool id) run
//! StatefulSets in the same two regions, against the same API servers in the same namespace, with
//! cluster management on. Every name comes from the sidecar's own configuration (`POOL_ID`,
//! `CARDANO_NETWORK`, `CLUSTER_REGION` and the Helm chart's `LEASE_NAME`, as `forge-manager run`
//! derives them). Faults and operator actions on pool A (its forger crashes, an override moves it
//! to the other region, its global lease is deleted) must leave the other pools' forgers alone;
//! every pool is judged by the oracle on its own trace, and the stored objects must not collide.

use std::collections::BTreeSet;
use std::time::Duration;

use forge_sim::oracle::{self, Judgement, Timeline, ms};
use forge_sim::runner::world_spec;
use forge_sim::scenario::Scenario;
use forge_sim::trace::PodId;
use forge_sim::world::{Action, NAMESPACE, PoolSpec, World};
use serde_json::Value;

const POOL_A: &str = "pool1aaaaaqqqqqyyyyyzzzzz0000011111222223333344444555";
const POOL_B: &str = "pool1bbbbbqqqqqyyyyyzzzzz0000011111222223333344444555";

/// Pool A's world (the spec's own pool) and what the oracle expects of it: us-east-1 forges until
/// the override at 4m moves it to eu-west-1; the crash of its forger at 2m is a local failover; the
/// deletion of its global lease at 5m30s is a planned self-handover (under two seconds without a
/// forger: the finalizer keeps the record until the node is verifiably off, then it is created
/// again, and the node is enabled again a slot after it stopped, so it checks no slot twice).
const SCENARIO_A: &str = r#"
name = "two-pools-a"
description = "pool A: faults and operator actions"
seed = 7
duration = "7m"
network = "mainnet"
pool = "pool1aaaaaqqqqqyyyyyzzzzz0000011111222223333344444555"
shared_api = false

[[region]]
name = "us-east-1"
priority = 1
pods = 2

[[region]]
name = "eu-west-1"
priority = 2
pods = 2

[[expect]]
kind = "forger"
at = "1m50s"
region = "us-east-1"

[[expect]]
kind = "forger-by"
by = "4m30s"
region = "eu-west-1"
to = "5m30s"

[[expect]]
kind = "forger-by"
by = "5m35s"
region = "eu-west-1"
to = "7m"

[[expect]]
kind = "max-gap"
value = "2s"
from = "5m"

[[expect]]
kind = "no-forger-in"
region = "us-east-1"
from = "4m30s"
to = "7m"
"#;

/// What every other pool must show: us-east-1 forges from start to end, never eu-west-1, one pod,
/// never a gap once started.
fn untouched_pool(name: &str) -> Scenario {
    let text = format!(
        r#"
name = "{name}"
description = "a pool nobody touches"
duration = "7m"

[[region]]
name = "us-east-1"
priority = 1
pods = 2

[[region]]
name = "eu-west-1"
priority = 2
pods = 2

[[expect]]
kind = "forger-by"
by = "1m50s"
region = "us-east-1"
to = "7m"

[[expect]]
kind = "no-forger-in"
region = "eu-west-1"
from = "0s"
to = "7m"

[[expect]]
kind = "max-handovers"
value = 0

[[expect]]
kind = "max-gap"
value = "0s"
"#
    );
    Scenario::from_str(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

fn objects(world: &World<'_>, api: &str, group: &str, plural: &str) -> Vec<Value> {
    world
        .api_server(api)
        .unwrap_or_else(|| panic!("no API server {api}"))
        .objects(group, plural, Some(NAMESPACE))
}

fn names(list: &[Value]) -> BTreeSet<String> {
    list.iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn holder(list: &[Value], name: &str) -> String {
    list.iter()
        .find(|o| o["metadata"]["name"] == name)
        .and_then(|o| o["spec"]["holderIdentity"].as_str())
        .unwrap_or_else(|| panic!("lease {name} has no holder: {list:#?}"))
        .to_owned()
}

fn report(name: &str, j: &Judgement) -> String {
    format!(
        "{name}: handovers {}, max gap {} ms, dual slots {}, violations {:#?}",
        j.metrics.handovers, j.metrics.max_gap_ms, j.metrics.dual_slots, j.violations
    )
}

#[test]
fn three_pools_in_one_namespace_are_independent() {
    let scenario_a =
        Scenario::from_str(SCENARIO_A, "two-pools-a").unwrap_or_else(|e| panic!("{e}"));
    let mut spec = world_spec(
        &scenario_a,
        scenario_a.seed,
        forge_sim::runner::DEFAULT_TICK,
        None,
    );
    spec.more_pools = vec![
        PoolSpec {
            network: "mainnet".into(),
            pool: POOL_B.into(),
        },
        // Pool A's id on another network: the network alone keeps the names apart.
        PoolSpec {
            network: "preprod".into(),
            pool: POOL_A.into(),
        },
    ];
    assert!(spec.cluster_management && !spec.shared_api, "{spec:?}");
    let mut world = World::new(spec);
    let east = "us-east-1";
    let west = "eu-west-1";

    // (3) The names each pool's sidecars derive, all distinct.
    let expected_leases = [
        "cardano-leader-mainnet-pool1aaaaa",
        "cardano-leader-mainnet-pool1bbbbb",
        "cardano-leader-preprod-pool1aaaaa",
    ];
    let expected_globals = [
        "cardano-forge-global-mainnet-pool1aaaaa",
        "cardano-forge-global-mainnet-pool1bbbbb",
        "cardano-forge-global-preprod-pool1aaaaa",
    ];
    for (t, (lease, global)) in expected_leases.iter().zip(expected_globals).enumerate() {
        assert_eq!(world.local_lease_of(t, east), *lease);
        assert_eq!(world.global_lease_of(t), global);
    }
    assert_eq!(
        world.cluster_name_of(0, west),
        "mainnet-pool1aaaaa-eu-west-1"
    );
    assert_eq!(
        world.cluster_name_of(1, west),
        "mainnet-pool1bbbbb-eu-west-1"
    );
    assert_eq!(
        world.cluster_name_of(2, west),
        "preprod-pool1aaaaa-eu-west-1"
    );

    world.run_until(Duration::from_secs(110)).expect("run");
    let first: Vec<PodId> = (0..3)
        .map(|t| {
            let f = world.forgers_of(t);
            assert_eq!(f.len(), 1, "pool {t} forgers at 1m50s: {f:?}");
            assert_eq!(f[0].region, east, "pool {t}");
            f[0].clone()
        })
        .collect();

    // (3) What is stored: per pool its own CardanoForgeClusters, global and presence leases on
    // the global API server, its own local lease and CardanoLeader on each region's, each held by
    // one of its own pods.
    let cfcs = objects(&world, "global", "cardano.io", "cardanoforgeclusters");
    assert_eq!(cfcs.len(), 6, "{:?}", names(&cfcs));
    for t in 0..3 {
        for region in [east, west] {
            let name = world.cluster_name_of(t, region);
            let cfc = cfcs
                .iter()
                .find(|c| c["metadata"]["name"] == name.as_str())
                .unwrap_or_else(|| panic!("no {name}"));
            assert_eq!(cfc["spec"]["region"], region);
            let leader = cfc["status"]["activeLeader"].as_str().unwrap_or_default();
            let own_prefix = match t {
                1 => format!("bp-pool1bbbbb-{region}-"),
                2 => format!("bp-pool1aaaaa-{region}-"),
                _ => format!("bp-{region}-"),
            };
            assert!(
                leader.starts_with(&own_prefix),
                "{name} reports leader {leader:?}: {cfc:#}"
            );
        }
    }
    let global_leases = objects(&world, "global", "coordination.k8s.io", "leases");
    let global_names = names(&global_leases);
    for global in expected_globals {
        assert!(global_names.contains(global), "{global_names:?}");
        // The global lease is held by a region (its local leader's region).
        assert_eq!(holder(&global_leases, global), east, "holder of {global}");
    }
    let presence = global_names
        .iter()
        .filter(|n| n.starts_with("cardano-forge-presence-"))
        .count();
    assert_eq!(presence, 6, "two regions x three pools: {global_names:?}");
    for region in [east, west] {
        let leases = objects(&world, region, "coordination.k8s.io", "leases");
        let leaders = objects(&world, region, "cardano.io", "cardanoleaders");
        let expected: BTreeSet<String> = expected_leases
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(names(&leases), expected, "{region}");
        assert_eq!(names(&leaders), expected, "{region}");
        for (t, lease) in expected_leases.iter().enumerate() {
            let h = holder(&leases, lease);
            assert_eq!(
                world.leader_of(t, region).map(|p| p.region),
                Some(region.to_owned()),
                "{lease} in {region} held by {h}"
            );
            let leader = leaders
                .iter()
                .find(|l| l["metadata"]["name"] == *lease)
                .map(|l| l["status"]["leaderPod"].clone());
            assert!(
                leader.is_some_and(|p| p.as_str().is_none_or(|p| p == h)),
                "{lease}: CardanoLeader status names another pod than the lease holder {h}"
            );
        }
    }

    // (2) Faults and operator actions on pool A only.
    let a_forger = first[0].clone();
    world.run_until(Duration::from_secs(120)).expect("run");
    assert!(world.apply_to(0, &Action::Crash(a_forger.clone())));
    world.sample();
    world.run_until(Duration::from_secs(180)).expect("run");
    assert!(world.apply_to(0, &Action::Restart(vec![a_forger])));
    world.run_until(Duration::from_secs(240)).expect("run");
    assert!(world.apply_to(
        0,
        &Action::Patch(
            west.into(),
            serde_json::json!({"override": {"enabled": true, "reason": "move pool A", "forcePriority": 1}}),
        ),
    ));
    world.run_until(Duration::from_secs(330)).expect("run");
    // Deleting A's global lease: its holder steps down, lets it go and creates it again; the other
    // pools notice nothing.
    assert!(world.apply_to(
        0,
        &Action::DeleteLease {
            api: "global".into(),
            global: true,
            force: false,
        },
    ));
    world.run_until(Duration::from_secs(420)).expect("run");
    for (t, pod) in first.iter().enumerate().skip(1) {
        assert_eq!(
            world.forgers_of(t),
            vec![pod.clone()],
            "pool {t} at the end"
        );
    }
    assert_eq!(world.forgers_of(0).len(), 1);
    assert_eq!(world.forgers_of(0)[0].region, west);

    // (1) The oracle, per pool, on each pool's own trace.
    let traces = world.finish_all();
    assert_eq!(traces.len(), 3);
    let judged_a = oracle::judge(&scenario_a, &traces[0]);
    // Every expectation holds, and no slot is uncovered (the deleted global lease included).
    assert!(judged_a.passed(), "{}", report("pool A", &judged_a));
    assert_eq!(
        judged_a.metrics.dual_slots,
        0,
        "{}",
        report("pool A", &judged_a)
    );
    assert!(
        (2..=3).contains(&judged_a.metrics.handovers),
        "crash failover, then the override (and maybe the restarted pod's region back): {}",
        report("pool A", &judged_a)
    );
    for (t, name) in [(1, "pool B"), (2, "pool A on preprod")] {
        let judged = oracle::judge(&untouched_pool(name), &traces[t]);
        assert!(judged.passed(), "{}", report(name, &judged));
        // The sole forger from its first slot to the end, without a single interruption.
        let timeline = Timeline::from_trace(&traces[t]);
        let start = timeline.first_forger_ms().expect("forged");
        assert!(start < ms(Duration::from_secs(110)), "{name}");
        let end = traces[t].end_ms;
        assert_eq!(timeline.gaps(start, end), Vec::new(), "{name}");
        assert!(
            timeline
                .clipped(start, end)
                .all(|s| s.forgers == [first[t].clone()]),
            "{name}: {:?}",
            timeline.clipped(start, end).collect::<Vec<_>>()
        );
        eprintln!("{}", report(name, &judged));
    }
    eprintln!("{}", report("pool A", &judged_a));
}
