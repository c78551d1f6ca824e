//! The checked-in `deploy/crds/cardano-forge-crds.yaml` must be exactly what `forge-manager crds`
//! prints, and both shapes of CardanoForgeCluster the old project shipped must deserialise.

use forge_manager::crd::{CardanoForgeCluster, ForgeState, crds_yaml};

#[test]
fn checked_in_crd_yaml_matches_generated_output() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/crds/cardano-forge-crds.yaml"
    );
    let checked_in =
        std::fs::read_to_string(path).expect("read deploy/crds/cardano-forge-crds.yaml");
    let generated = crds_yaml().expect("render CRDs");
    assert!(
        checked_in == generated,
        "deploy/crds/cardano-forge-crds.yaml is out of date with src/crd; regenerate it with:\n    \
         cargo run -q -- crds > deploy/crds/cardano-forge-crds.yaml"
    );
}

#[test]
fn crd_yaml_has_both_documents_with_names_and_columns() {
    let yaml = crds_yaml().expect("render CRDs");
    assert_eq!(yaml.matches("kind: CustomResourceDefinition").count(), 2);
    for needle in [
        "name: cardanoleaders.cardano.io",
        "name: cardanoforgeclusters.cardano.io",
        "- cfc",
        "- leader",
        "- blockchain",
        "name: Active Leader",
        "jsonPath: .status.healthStatus.healthy",
        "- Priority-based",
        "pattern: ^pool1[a-z0-9]{51}$",
        "maximum: 999",
    ] {
        assert!(yaml.contains(needle), "CRD YAML lacks {needle:?}");
    }
}

#[test]
fn single_tenant_cluster_deserialises_and_validates() {
    let obj: CardanoForgeCluster = serde_yaml::from_str(
        "apiVersion: cardano.io/v1\nkind: CardanoForgeCluster\nmetadata: {name: us-east-1-prod}\n\
         spec: {region: us-east-1, environment: production, clusterIdentifier: us-east-1-prod, priority: 1}\n",
    )
    .expect("parse");
    assert_eq!(obj.spec.forge_state, ForgeState::PriorityBased);
    assert_eq!(obj.spec.priority, 1);
    assert_eq!(obj.spec.validate(), Vec::<String>::new());
}

#[test]
fn multi_tenant_cluster_deserialises_and_validates() {
    let obj: CardanoForgeCluster = serde_yaml::from_str(&format!(
        "apiVersion: cardano.io/v1\nkind: CardanoForgeCluster\nmetadata: {{name: mainnet-MYPOOL-us-east-1}}\n\
         spec:\n  network: {{name: mainnet, magic: 764824073, era: conway}}\n  \
         pool: {{id: pool1{}, idHex: {}, ticker: MYPOOL}}\n  \
         application: {{type: block-producer, environment: production}}\n  region: us-east-1\n  \
         forgeState: Disabled\n  override: {{enabled: true, expiresAt: '2026-11-25T10:00:00Z', forcePriority: 1, forceState: Enabled}}\n",
        "a".repeat(51),
        "0".repeat(56)
    ))
    .expect("parse");
    assert_eq!(obj.spec.forge_state, ForgeState::Disabled);
    assert_eq!(obj.spec.priority, 100, "default priority");
    // MYPOOL has six characters: the ticker pattern allows five.
    assert_eq!(obj.spec.validate().len(), 1, "{:?}", obj.spec.validate());
    assert!(obj.spec.validate()[0].starts_with("spec.pool.ticker"));
}

#[test]
fn validate_reports_every_problem() {
    let mut spec: forge_manager::crd::CardanoForgeClusterSpec =
        serde_json::from_value(serde_json::json!({
            "pool": {"id": "pool1xyz", "idHex": "XYZ"},
            "region": "US_EAST",
            "priority": 0,
            "healthCheck": {"interval": "30 seconds", "failureThreshold": 11},
            "override": {"forcePriority": 1000, "expiresAt": "tomorrow"}
        }))
        .expect("parse");
    let problems = spec.validate();
    for field in [
        "spec.network",
        "spec.pool.id:",
        "spec.pool.idHex",
        "spec.region",
        "spec.priority",
        "spec.healthCheck.interval",
        "spec.healthCheck.failureThreshold",
        "spec.override.forcePriority",
        "spec.override.expiresAt",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(field)),
            "no problem for {field}: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 9, "{problems:#?}");
    spec.pool = None;
    spec.region = None;
    assert!(
        !spec
            .validate()
            .iter()
            .any(|p| p.starts_with("spec.network"))
    );
}

#[test]
fn forge_manager_crds_prints_the_generated_yaml() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forge-manager"))
        .arg("crds")
        .output()
        .expect("run forge-manager crds");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        crds_yaml().expect("render CRDs")
    );
}
