use k8s_openapi::api::coordination::v1::Lease;
use serde_json::{Value, json};

use super::*;

const POOL: &str = "pool1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn now() -> jiff::Timestamp {
    "2026-12-04T12:00:00Z".parse().expect("time")
}

/// A multi-tenant cluster of POOL (or `pool`) in `region`, with `spec` merged in and `status`.
fn cfc(pool: &str, region: &str, spec: Value, status: Value) -> CardanoForgeCluster {
    let mut base = json!({
        "apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster",
        "metadata": {"name": format!("mainnet-{}-{region}", &pool[..10]), "generation": 3},
        "spec": {
            "network": {"name": "mainnet", "magic": 764824073},
            "pool": {"id": pool, "idHex": "0".repeat(56), "ticker": "MYPL"},
            "region": region, "priority": 1,
        },
        "status": status,
    });
    json_patch::merge(&mut base["spec"], &spec);
    serde_json::from_value(base).expect("cfc")
}

/// A live presence lease of `region` (renewed 2 s before [`now`]).
fn presence(region: &str) -> Lease {
    serde_json::from_value(json!({
        "metadata": {"name": view::presence_lease_name("mainnet", POOL, region)},
        "spec": {"holderIdentity": region, "leaseDurationSeconds": 15,
                 "renewTime": "2026-12-04T11:59:58.000000Z"},
    }))
    .expect("lease")
}

fn until(s: &str) -> Change {
    Change::Maintenance {
        reason: "kernel".into(),
        expires_at: s.into(),
    }
}

#[test]
fn each_command_writes_the_merge_patch_the_operations_guide_shows() {
    let cases = [
        (
            until("2026-12-04T14:00:00Z"),
            json!({"spec": {"override": {"enabled": true, "forceState": "Disabled",
                "forcePriority": null, "reason": "kernel", "expiresAt": "2026-12-04T14:00:00Z"}}}),
        ),
        (
            Change::Handover {
                reason: "move".into(),
                expires_at: "2026-12-04T13:00:00Z".into(),
                force_enabled: false,
            },
            json!({"spec": {"override": {"enabled": true, "forceState": null,
                "forcePriority": 1, "reason": "move", "expiresAt": "2026-12-04T13:00:00Z"}}}),
        ),
        (
            Change::Handover {
                reason: "move".into(),
                expires_at: "2026-12-04T13:00:00Z".into(),
                force_enabled: true,
            },
            json!({"spec": {"override": {"enabled": true, "forceState": "Enabled",
                "forcePriority": 1, "reason": "move", "expiresAt": "2026-12-04T13:00:00Z"}}}),
        ),
        (Change::Disable, json!({"spec": {"forgeState": "Disabled"}})),
        (
            Change::Enable,
            json!({"spec": {"forgeState": "Priority-based"}}),
        ),
        (Change::ClearOverride, json!({"spec": {"override": null}})),
    ];
    for (change, want) in cases {
        assert_eq!(change.patch(), want, "{}", change.verb());
    }
}

#[test]
fn a_maintenance_patch_replaces_a_handover_override_and_clearing_removes_it() {
    let handed = cfc(
        POOL,
        "us-east-1",
        json!({"override": {"enabled": true, "forcePriority": 1, "reason": "old"}}),
        json!({}),
    );
    let spec = patched_spec(&handed.spec, &until("2026-12-04T14:00:00Z").patch()).expect("spec");
    let o = spec.override_.expect("override");
    assert_eq!(o.force_priority, None, "the old forcePriority is removed");
    assert_eq!(o.force_state, Some(crate::crd::ForceState::Disabled));
    assert_eq!(o.reason.as_deref(), Some("kernel"));
    let cleared = patched_spec(&spec_of(&handed), &Change::ClearOverride.patch()).expect("spec");
    assert_eq!(cleared.override_, None);
    assert_eq!(
        cleared.region.as_deref(),
        Some("us-east-1"),
        "the rest stays"
    );
}

fn spec_of(c: &CardanoForgeCluster) -> CardanoForgeClusterSpec {
    c.spec.clone()
}

#[test]
fn a_region_argument_names_one_cluster_by_region_or_name() {
    let other_pool = "pool1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let clusters = vec![
        cfc(POOL, "us-east-1", json!({}), json!({})),
        cfc(POOL, "eu-west-1", json!({}), json!({})),
        cfc(
            other_pool,
            "us-east-1",
            json!({"pool": {"ticker": "OTHR"}}),
            json!({}),
        ),
    ];
    let all = Filter::default();
    let name = |c: &CardanoForgeCluster| c.metadata.name.clone().unwrap_or_default();
    assert_eq!(
        name(resolve(&clusters, &all, "eu-west-1").expect("by region")),
        "mainnet-pool1aaaaa-eu-west-1"
    );
    assert_eq!(
        name(resolve(&clusters, &all, "mainnet-pool1bbbbb-us-east-1").expect("by name")),
        "mainnet-pool1bbbbb-us-east-1"
    );
    let ambiguous = resolve(&clusters, &all, "us-east-1").expect_err("two pools");
    assert!(
        matches!(&ambiguous, ChangeError::Ambiguous { count: 2, .. }),
        "{ambiguous}"
    );
    assert!(ambiguous.to_string().contains("--pool"), "{ambiguous}");
    let othr = Filter {
        pool: Some("othr".into()),
        ..Filter::default()
    };
    assert_eq!(
        name(resolve(&clusters, &othr, "us-east-1").expect("by ticker")),
        "mainnet-pool1bbbbb-us-east-1"
    );
    let missing = resolve(&clusters, &othr, "eu-west-1").expect_err("not in OTHR");
    let text = missing.to_string();
    assert!(text.contains("in the selected pools"), "{text}");
    assert!(
        text.contains("us-east-1 (mainnet-pool1bbbbb-us-east-1)"),
        "{text}"
    );
}

/// Ranks a two- or three-region pool with the change applied to `target` and checks it.
fn judge(
    pool: &[CardanoForgeCluster],
    leases: &[Lease],
    target: &str,
    change: &Change,
    force: bool,
) -> Result<Prediction, ChangeError> {
    let refs: Vec<&CardanoForgeCluster> = pool.iter().collect();
    let t = refs
        .iter()
        .find(|c| c.spec.region.as_deref() == Some(target))
        .expect("target");
    let p = predict(&refs, leases, "mainnet", POOL, t, &change.patch(), now())?;
    check(change, target, &p, force)?;
    Ok(p)
}

#[test]
fn the_prediction_ranks_the_pool_as_the_sidecars_will() {
    let handover = |force_enabled| Change::Handover {
        reason: "move".into(),
        expires_at: "2026-12-04T13:00:00Z".into(),
        force_enabled,
    };
    let two = vec![
        cfc(POOL, "us-east-1", json!({"priority": 1}), json!({})),
        cfc(POOL, "eu-west-1", json!({"priority": 2}), json!({})),
    ];
    let both = [presence("us-east-1"), presence("eu-west-1")];
    let only_us = [presence("us-east-1")];
    let maintenance = until("2026-12-04T14:00:00Z");

    // Maintenance of the preferred region moves forging to the next one.
    let p = judge(&two, &both, "us-east-1", &maintenance, false).expect("moves");
    assert_eq!(
        (p.before.as_deref(), p.preferred.as_deref()),
        (Some("us-east-1"), Some("eu-west-1"))
    );
    // ... unless no other region has an eligible pod up: refused, allowed with --force.
    let refused = judge(&two, &only_us, "us-east-1", &maintenance, false).expect_err("no forger");
    let text = refused.to_string();
    assert!(
        text.contains("no region could forge") && text.contains("--force"),
        "{text}"
    );
    assert!(
        text.contains("eu-west-1: priority 2, healthy, no eligible pod up"),
        "{text}"
    );
    assert_eq!(
        judge(&two, &only_us, "us-east-1", &maintenance, true)
            .expect("forced")
            .preferred,
        None
    );
    assert!(judge(&two, &only_us, "us-east-1", &Change::Disable, false).is_err());

    // A handover to a region that is up moves; to one with no eligible pod up it is refused.
    let p = judge(&two, &both, "eu-west-1", &handover(false), false).expect("handover");
    assert_eq!(p.preferred.as_deref(), Some("eu-west-1"));
    let text = judge(&two, &only_us, "eu-west-1", &handover(false), false)
        .expect_err("absent")
        .to_string();
    assert!(
        text.contains("would prefer us-east-1, not eu-west-1"),
        "{text}"
    );

    // A region Disabled by its spec stays Disabled under a handover's override.
    let disabled = vec![
        cfc(POOL, "us-east-1", json!({"priority": 1}), json!({})),
        cfc(
            POOL,
            "eu-west-1",
            json!({"priority": 2, "forgeState": "Disabled"}),
            json!({}),
        ),
    ];
    let text = judge(&disabled, &both, "eu-west-1", &handover(false), false)
        .expect_err("disabled")
        .to_string();
    assert!(
        text.contains("eu-west-1: override \"move\": Disabled"),
        "{text}"
    );

    // An Enabled region ranks before any Priority-based one: forcePriority alone cannot pass
    // it, forcing Enabled as well can (and `other_enabled` says when that is needed).
    let enabled = vec![
        cfc(
            POOL,
            "us-east-1",
            json!({"priority": 5, "forgeState": "Enabled"}),
            json!({}),
        ),
        cfc(POOL, "eu-west-1", json!({"priority": 2}), json!({})),
    ];
    let refs: Vec<&CardanoForgeCluster> = enabled.iter().collect();
    assert!(other_enabled(&refs, refs[1], now()));
    assert!(!other_enabled(&refs, refs[0], now()));
    assert!(judge(&enabled, &both, "eu-west-1", &handover(false), false).is_err());
    let p = judge(&enabled, &both, "eu-west-1", &handover(true), false).expect("forced Enabled");
    assert_eq!(p.preferred.as_deref(), Some("eu-west-1"));

    // Enable and clear-override are never refused: they say where forging goes.
    let p = judge(&disabled, &both, "eu-west-1", &Change::Enable, false).expect("enable");
    assert_eq!(p.preferred.as_deref(), Some("us-east-1"));
}

#[test]
fn an_expired_override_does_not_count_as_enabled() {
    let pool = [
        cfc(
            POOL,
            "us-east-1",
            json!({"override": {"enabled": true, "forceState": "Enabled",
                "expiresAt": "2026-12-04T11:00:00Z"}}),
            json!({}),
        ),
        cfc(POOL, "eu-west-1", json!({}), json!({})),
    ];
    let refs: Vec<&CardanoForgeCluster> = pool.iter().collect();
    assert!(!other_enabled(&refs, refs[1], now()));
}

/// (target's observed generation, us forger, eu forger, target present, expected) → done, line.
type ProgressCase<'a> = (i64, &'a str, &'a str, bool, Option<&'a str>, bool, &'a str);

#[test]
fn progress_waits_for_the_leader_to_see_the_change_and_for_one_forger_where_expected() {
    let with = |region: &str, forger: &str, observed: i64| {
        cfc(
            POOL,
            region,
            json!({}),
            json!({"forger": forger, "observedGeneration": observed}),
        )
    };
    let cases: &[ProgressCase] = &[
        (
            2,
            "bp-us-0",
            "",
            true,
            Some("eu-west-1"),
            false,
            "bp-us-0 (us-east-1) forges; waiting for us-east-1's leader to see the change and eu-west-1 to forge alone",
        ),
        (
            3,
            "",
            "",
            true,
            Some("eu-west-1"),
            false,
            "nobody forges; waiting for eu-west-1 to forge alone",
        ),
        (
            3,
            "bp-us-0",
            "bp-eu-0",
            true,
            Some("eu-west-1"),
            false,
            "bp-us-0 (us-east-1) forges, bp-eu-0 (eu-west-1) forges; waiting for eu-west-1 to forge alone",
        ),
        (
            3,
            "",
            "bp-eu-0",
            true,
            Some("eu-west-1"),
            true,
            "bp-eu-0 (eu-west-1) forges",
        ),
        (
            2,
            "",
            "bp-eu-0",
            true,
            Some("eu-west-1"),
            false,
            "bp-eu-0 (eu-west-1) forges; waiting for us-east-1's leader to see the change",
        ),
        // A region with no leader up cannot acknowledge: only the move counts.
        (
            2,
            "",
            "bp-eu-0",
            false,
            Some("eu-west-1"),
            true,
            "bp-eu-0 (eu-west-1) forges",
        ),
        (3, "", "", true, None, true, "nobody forges"),
        (
            3,
            "bp-us-0",
            "",
            true,
            None,
            false,
            "bp-us-0 (us-east-1) forges; waiting for every region to stop forging",
        ),
    ];
    for (observed, us, eu, present, expected, done, line) in cases {
        let pool = [with("us-east-1", us, *observed), with("eu-west-1", eu, 9)];
        let refs: Vec<&CardanoForgeCluster> = pool.iter().collect();
        let p = progress(&refs, "us-east-1", Some(3), *present, *expected);
        assert_eq!((p.done, p.line.as_str()), (*done, *line));
    }
}
