use serde_json::{Value, json};

use super::*;

const POOL: &str = "pool1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn now() -> jiff::Timestamp {
    "2026-12-04T12:00:00Z".parse().expect("time")
}

fn cfc(region: &str, spec: Value, status: Value) -> CardanoForgeCluster {
    let mut base = json!({
        "apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster",
        "metadata": {"name": format!("mainnet-pool1aaaaa-{region}")},
        "spec": {
            "network": {"name": "mainnet", "magic": 764824073},
            "pool": {"id": POOL, "idHex": "0".repeat(56), "ticker": "MYPL", "name": "My Pool"},
            "region": region, "priority": 1,
        },
        "status": status,
    });
    json_patch::merge(&mut base["spec"], &spec);
    serde_json::from_value(base).expect("cfc")
}

fn lease(name: &str, holder: &str, renewed: &str, duration: i32) -> Lease {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": renewed},
    }))
    .expect("lease")
}

fn leader(pod: &str, forging: bool, at: &str, reason: &str) -> CardanoLeader {
    serde_json::from_value(json!({
        "apiVersion": "cardano.io/v1", "kind": "CardanoLeader",
        "metadata": {"name": format!("leader-{pod}")}, "spec": {},
        "status": {"leaderPod": pod, "forgingEnabled": forging, "lastTransitionTime": at, "reason": reason},
    }))
    .expect("leader")
}

#[test]
fn ages_read_like_kubectl_ages() {
    let cases = [
        (None, "-"),
        (Some(0), "0s"),
        (Some(59), "59s"),
        (Some(192), "3m12s"),
        (Some(7_465), "2h4m"),
        (Some(-30), "in 30s"),
    ];
    for (seconds, want) in cases {
        assert_eq!(age(seconds), want, "{seconds:?}");
    }
}

#[test]
fn tables_align_columns_three_spaces_apart() {
    let t = table(
        &["REGION", "FORGER"],
        &[
            vec!["us-east-1".into(), "bp-0".into()],
            vec!["eu".into(), "-".into()],
        ],
    );
    assert_eq!(t, "REGION      FORGER\nus-east-1   bp-0\neu          -\n");
}

#[test]
fn the_filter_selects_pools_by_network_ticker_id_short_id_and_name() {
    let c = cfc("us-east-1", json!({}), json!({}));
    let f = |network: Option<&str>, pool: Option<&str>| Filter {
        network: network.map(str::to_owned),
        pool: pool.map(str::to_owned),
        default_network: "mainnet".into(),
    };
    for (network, pool, want) in [
        (None, None, true),
        (Some("mainnet"), None, true),
        (Some("preprod"), None, false),
        (None, Some("mypl"), true),
        (None, Some(POOL), true),
        (None, Some("pool1aaaaa"), true),
        (None, Some("My Pool"), true),
        (None, Some("OTHER"), false),
    ] {
        assert_eq!(
            selected(&c, &f(network, pool)),
            want,
            "{network:?} {pool:?}"
        );
    }
    // A single-tenant cluster names no network: it counts as the default one.
    let mut legacy = cfc("us-east-1", json!({}), json!({}));
    legacy.spec.network = None;
    legacy.spec.pool = None;
    assert_eq!(network_of(&legacy, "preprod"), "preprod");
    assert!(!selected(&legacy, &f(None, Some("MYPL"))));
}

#[test]
fn a_pool_view_judges_leases_and_overrides_on_the_servers_clock() {
    let clusters = vec![
        cfc(
            "us-east-1",
            json!({"override": {"enabled": true, "forceState": "Disabled", "reason": "kernel",
                "expiresAt": "2026-12-04T13:30:00Z"}}),
            json!({"activeLeader": "bp-us-0", "forger": "", "observedAt": "2026-12-04T11:59:50Z",
                "healthStatus": {"healthy": true}}),
        ),
        cfc(
            "eu-west-1",
            json!({"priority": 2, "override": {"enabled": true, "forcePriority": 1,
                "expiresAt": "2026-12-04T11:00:00Z"}}),
            json!({"activeLeader": "bp-eu-0", "forger": "bp-eu-0", "observedAt": "2026-12-04T11:59:59Z",
                "healthStatus": {"healthy": false}}),
        ),
        cfc("ap-south-1", json!({"priority": 0}), json!({})),
    ];
    let snapshot = Snapshot {
        clusters: clusters.clone(),
        leases: vec![
            lease(
                "cardano-forge-global-mainnet-pool1aaaaa",
                "eu-west-1",
                "2026-12-04T11:59:57.000000Z",
                15,
            ),
            lease(
                &presence_lease_name("mainnet", POOL, "us-east-1"),
                "us-east-1",
                "2026-12-04T11:59:59.000000Z",
                15,
            ),
            // Renewed 20 s ago with a 15 s duration: expired, the region is not present.
            lease(
                &presence_lease_name("mainnet", POOL, "eu-west-1"),
                "eu-west-1",
                "2026-12-04T11:59:40.000000Z",
                15,
            ),
            lease(
                "cardano-leader-eu",
                "bp-eu-0",
                "2026-12-04T11:59:58.000000Z",
                15,
            ),
        ],
        leaders: vec![leader(
            "bp-eu-0",
            true,
            "2026-12-04T11:58:00Z",
            "leader_elected",
        )],
        server_now: now(),
    };
    let refs: Vec<&CardanoForgeCluster> = clusters.iter().collect();
    let v = pool_view(&snapshot, "mainnet", POOL, &refs);
    assert_eq!(v.ticker.as_deref(), Some("MYPL"));
    assert_eq!(v.global_lease.holder.as_deref(), Some("eu-west-1"));
    assert_eq!(v.global_lease.age_seconds, Some(3));
    assert!(v.global_lease.live);
    // us-east-1 is Disabled by its override, eu-west-1 is absent: nobody is preferred.
    assert_eq!(v.preferred, None);
    let row = |r: &str| v.regions.iter().find(|x| x.region == r).expect("row");
    let us = row("us-east-1");
    assert_eq!(us.effective_state, "Disabled");
    let o = us.override_.as_ref().expect("override");
    assert!(o.active);
    assert_eq!(o.seconds_left, Some(5_400));
    assert!(us.present);
    assert_eq!(us.forger, None, "an empty forger is no forger");
    assert_eq!(us.observed_seconds_ago, Some(10));
    let eu = row("eu-west-1");
    assert!(!eu.present);
    let o = eu.override_.as_ref().expect("override");
    assert!(!o.active, "expired an hour ago on the server's clock");
    assert_eq!(o.seconds_left, Some(-3_600));
    assert_eq!(
        eu.effective_priority, 2,
        "the expired forcePriority no longer applies"
    );
    assert_eq!(eu.healthy, Some(false));
    assert!(!eu.stale, "absent, but its status is a second old");
    let ap = row("ap-south-1");
    assert!(
        ap.invalid.iter().any(|p| p.contains("priority")),
        "{:?}",
        ap.invalid
    );
    assert!(ap.stale, "absent, and nobody ever wrote its status");
    assert!(!us.stale);
    // Pods: the forger first, with the leases it holds (not the global one) and its transition.
    assert_eq!(v.pods.len(), 2);
    let p = &v.pods[0];
    assert_eq!(
        (p.pod.as_str(), p.role.as_str(), p.forging),
        ("bp-eu-0", "forger", true)
    );
    assert_eq!(p.leases, vec![("cardano-leader-eu".to_owned(), Some(2))]);
    assert_eq!(p.transition_seconds_ago, Some(120));
    assert_eq!(p.reason.as_deref(), Some("leader_elected"));
    assert_eq!(
        (v.pods[1].pod.as_str(), v.pods[1].role.as_str()),
        ("bp-us-0", "leader")
    );

    let text = render(&v, false);
    for want in [
        "pool MYPL (pool1aaaa",
        "global lease cardano-forge-global-mainnet-pool1aaaaa: held by eu-west-1, renewed 3s ago",
        "forging: bp-eu-0 (eu-west-1)",
        "preferred by policy: none (no eligible region)",
        "Disabled (1h30m left)",
        "priority 1 (expired 1h ago)",
        "ap-south-1: spec refused:",
        "STALE",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    assert!(
        !text.contains("ACTIVE LEADER"),
        "wide columns only with -o wide"
    );
    assert!(render(&v, true).contains("ACTIVE LEADER"));
}

/// A region nobody writes for any more keeps its last status (`healthy: true` forever): once
/// its presence has lapsed and the status is older than four presence-lease durations, `status`
/// says STALE instead of repeating it.
#[test]
fn a_dead_regions_old_status_is_shown_as_stale() {
    let presence = |renewed: &str| {
        lease(
            &presence_lease_name("mainnet", POOL, "eu-west-1"),
            "eu-west-1",
            renewed,
            15,
        )
    };
    let stale = |leases: Vec<Lease>, observed: &str| {
        let clusters = vec![cfc(
            "eu-west-1",
            json!({}),
            json!({"observedAt": observed, "healthStatus": {"healthy": true}}),
        )];
        let snapshot = Snapshot {
            clusters: clusters.clone(),
            leases,
            leaders: Vec::new(),
            server_now: now(),
        };
        let refs: Vec<&CardanoForgeCluster> = clusters.iter().collect();
        pool_view(&snapshot, "mainnet", POOL, &refs).regions[0].stale
    };
    // Two minutes old, presence lapsed (renewed 2 min ago, 15 s lease): stale (limit 60 s).
    assert!(stale(
        vec![presence("2026-12-04T11:58:00.000000Z")],
        "2026-12-04T11:58:00Z"
    ));
    // Present: a live leader will rewrite it, whatever its age.
    assert!(!stale(
        vec![presence("2026-12-04T11:59:59.000000Z")],
        "2026-12-04T11:58:00Z"
    ));
    // Absent but written 30 s ago: not yet.
    assert!(!stale(Vec::new(), "2026-12-04T11:59:30Z"));
}

#[test]
fn two_forgers_and_an_expired_global_lease_are_shouted() {
    let clusters = vec![
        cfc("us-east-1", json!({}), json!({"forger": "bp-us-0"})),
        cfc("eu-west-1", json!({}), json!({"forger": "bp-eu-0"})),
    ];
    let snapshot = Snapshot {
        clusters: clusters.clone(),
        leases: vec![lease(
            "cardano-forge-global-mainnet-pool1aaaaa",
            "us-east-1",
            "2026-12-04T11:59:00.000000Z",
            15,
        )],
        leaders: Vec::new(),
        server_now: now(),
    };
    let refs: Vec<&CardanoForgeCluster> = clusters.iter().collect();
    let text = render(&pool_view(&snapshot, "mainnet", POOL, &refs), false);
    assert!(text.contains("(MORE THAN ONE)"), "{text}");
    assert!(text.contains("renewed 1m ago (EXPIRED)"), "{text}");
}
