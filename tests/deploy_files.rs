//! Files under deploy/ that must stay in step with the code (they are validated in depth by
//! deploy/check.sh; these checks only read files, so they also run where the tools are missing).

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn helm_chart_crds_are_a_copy_of_the_generated_crds() {
    assert!(
        read("deploy/helm/cardano-forge-manager/crds/cardano-forge-crds.yaml")
            == read("deploy/crds/cardano-forge-crds.yaml"),
        "deploy/helm/cardano-forge-manager/crds/cardano-forge-crds.yaml differs from \
         deploy/crds/cardano-forge-crds.yaml; copy it:\n    cp deploy/crds/cardano-forge-crds.yaml \
         deploy/helm/cardano-forge-manager/crds/"
    );
}

#[test]
fn metric_names_list_has_one_valid_name_per_line() {
    let text = read("deploy/metrics.txt");
    let names: Vec<&str> = text.lines().collect();
    assert!(names.len() >= 20, "deploy/metrics.txt lists too few names");
    for name in &names {
        assert!(
            !name.is_empty()
                && name.starts_with("cardano_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "deploy/metrics.txt: {name:?} is not a metric name"
        );
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        names.len(),
        "deploy/metrics.txt has duplicates"
    );
}

#[test]
fn deployments_use_only_environment_variables_the_sidecar_reads() {
    let config = read("src/config/mod.rs");
    for file in [
        "deploy/base/statefulset.yaml",
        "deploy/overlays/multi-region/statefulset-cluster-management.yaml",
        "deploy/overlays/two-pools/pool-a/statefulset.yaml",
        "deploy/overlays/two-pools/pool-b/statefulset.yaml",
    ] {
        for line in read(file).lines() {
            if let Some(name) = line.trim().strip_prefix("- name: ")
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && name.len() > 2
            {
                assert!(
                    config.contains(&format!("env = \"{name}\"")),
                    "{file}: env {name} is not read by forge-manager (src/config/mod.rs)"
                );
            }
        }
    }
}
