//! Protocol conformance with a client this project did not write: the official Python kubernetes
//! client (pinned in `.ci/python-client-requirements.txt`, installed into `.ci/venv` by
//! `.ci/install-tools.sh`) makes the old Python sidecar's calls against the test API server
//! (`sim/tests/python/conformance.py`, which checks each answer). Without the venv this test
//! fails and says how to make it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use forge_sim::apiserver::{ApiServer, Options};

/// How many checks the script makes; a run that makes fewer (a check silently skipped) fails.
const CHECKS: usize = 32;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn the_python_kubernetes_client_gets_kubernetes_answers() {
    let python = root().join(".ci/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run .ci/install-tools.sh (it creates the venv with the pinned client)",
        python.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = ApiServer::new(Options {
        // Small enough that the script's 40 writes compact the resourceVersion it re-watches.
        history_limit: 20,
        bookmark_interval: Duration::from_millis(200),
        ..Options::default()
    })
    .expect("server");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(server.serve(listener));
    let out = Command::new(&python)
        .arg(root().join("sim/tests/python/conformance.py"))
        .arg(format!("http://{addr}"))
        .arg(root().join("deploy/crds"))
        .output()
        .expect("run the conformance script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("conformance: {CHECKS} checks passed")),
        "expected {CHECKS} checks:\n{stdout}"
    );
}
