//! The same API server code over turmoil's simulated network: a server host and a client host
//! speaking HTTP/1 with hyper over turmoil TCP; time (and the `Date` header) is simulated time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use forge_sim::apiserver::{ApiServer, Faults, Options, TurmoilListener};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const EPOCH_S: i64 = 1_800_000_000;
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

/// Simulated wall time: a fixed epoch plus turmoil's elapsed time.
fn sim_clock() -> jiff::Timestamp {
    let elapsed = turmoil::sim_elapsed().unwrap_or_default();
    jiff::Timestamp::from_second(EPOCH_S).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        + jiff::SignedDuration::try_from(elapsed).unwrap_or_default()
}

async fn connect() -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
    let stream = turmoil::net::TcpStream::connect(("apiserver", 6443)).await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(
    method: &str,
    path: &str,
    body: Value,
) -> Result<(u16, http::HeaderMap, Value), BoxError> {
    let mut sender = connect().await?;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "apiserver")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(if body.is_null() {
            String::new()
        } else {
            body.to_string()
        })))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

#[test]
fn api_server_serves_leases_watch_and_faults_over_turmoil() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .build();
    let faults = Faults::new();
    let server_faults = faults.clone();
    sim.host("apiserver", move || {
        let faults = server_faults.clone();
        async move {
            let server = ApiServer::new(Options {
                faults,
                clock: Arc::new(sim_clock),
                ..Options::default()
            })?;
            server
                .serve(TurmoilListener::bind(("0.0.0.0", 6443)).await?)
                .await?;
            Ok(())
        }
    });
    sim.client("client", async move {
        client_scenario(faults)
            .await
            .map_err(|e| e as Box<dyn std::error::Error>)
    });
    sim.run()
}

async fn client_scenario(faults: Faults) -> Result<(), BoxError> {
    {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (code, headers, created) = send(
            "POST",
            LEASES,
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": ""}}),
        )
        .await?;
        assert_eq!(code, 201, "{created}");
        let date = headers
            .get("date")
            .and_then(|d| d.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let expected =
            jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&sim_clock())?;
        assert_eq!(date, expected, "Date header follows simulated time");
        assert!(
            created["metadata"]["creationTimestamp"]
                .as_str()
                .is_some_and(|t| t.starts_with("2027-01-15T08:00:0")),
            "{created}"
        );

        // Watch from the creation's version, in the background.
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let watcher = tokio::spawn(async move {
            let mut sender = connect().await?;
            let req = http::Request::builder()
                .uri(format!(
                    "{LEASES}?watch=true&resourceVersion={rv}&timeoutSeconds=30"
                ))
                .header("host", "apiserver")
                .body(Full::new(Bytes::new()))?;
            let mut body = sender.send_request(req).await?.into_body();
            let mut text = String::new();
            while !text.contains('\n') {
                match body.frame().await {
                    Some(frame) => {
                        if let Ok(data) = frame?.into_data() {
                            text.push_str(&String::from_utf8_lossy(&data));
                        }
                    }
                    None => break,
                }
            }
            Ok::<Value, BoxError>(serde_json::from_str(
                text.lines().next().unwrap_or_default(),
            )?)
        });
        tokio::time::sleep(Duration::from_secs(1)).await;

        let mut update = created.clone();
        update["spec"]["holderIdentity"] = json!("pod-0");
        let (code, _, updated) = send("PUT", &format!("{LEASES}/l"), update.clone()).await?;
        assert_eq!(code, 200, "{updated}");
        let (code, _, conflict) = send("PUT", &format!("{LEASES}/l"), update).await?;
        assert_eq!((code, conflict["reason"].as_str()), (409, Some("Conflict")));

        let event = watcher.await??;
        assert_eq!(event["type"], "MODIFIED");
        assert_eq!(event["object"]["spec"]["holderIdentity"], "pod-0");

        faults.fail_next_requests(1);
        assert_eq!(
            send("GET", &format!("{LEASES}/l"), Value::Null).await?.0,
            500
        );
        assert_eq!(
            send("GET", &format!("{LEASES}/l"), Value::Null).await?.0,
            200
        );

        faults.refuse_connections(true);
        let refused =
            tokio::time::timeout(Duration::from_secs(2), send("GET", LEASES, Value::Null)).await;
        assert!(!matches!(refused, Ok(Ok(_))), "no answer while refusing");
        faults.refuse_connections(false);
        assert_eq!(send("GET", LEASES, Value::Null).await?.0, 200);
        Ok(())
    }
}

/// One simulated run: a server and a client writing leases; returns every answer body in order.
fn transcript(seed: u64) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(50))
        .build();
    sim.host("apiserver", || async {
        let server = ApiServer::new(Options {
            clock: Arc::new(sim_clock),
            ..Options::default()
        })?;
        server
            .serve(TurmoilListener::bind(("0.0.0.0", 6443)).await?)
            .await?;
        Ok(())
    });
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client_log = log.clone();
    sim.client("client", async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for i in 0..5 {
            let name = format!("lease-{i}");
            let (_, _, created) = send(
                "POST",
                LEASES,
                json!({"metadata": {"name": name, "labels": {"i": i.to_string()}}}),
            )
            .await
            .map_err(|e| e as Box<dyn std::error::Error>)?;
            let (_, _, patched) = send("GET", &format!("{LEASES}/{name}"), Value::Null)
                .await
                .map_err(|e| e as Box<dyn std::error::Error>)?;
            let mut log = client_log.lock().map_err(|_| "poisoned")?;
            log.push(created.to_string());
            log.push(patched.to_string());
        }
        let (_, _, list) = send("GET", LEASES, Value::Null)
            .await
            .map_err(|e| e as Box<dyn std::error::Error>)?;
        client_log
            .lock()
            .map_err(|_| "poisoned")?
            .push(list.to_string());
        Ok(())
    });
    sim.run()?;
    let log = log.lock().map_err(|_| "poisoned")?.clone();
    Ok(log)
}

#[test]
fn the_same_seed_gives_byte_identical_answers() -> Result<(), Box<dyn std::error::Error>> {
    let first = transcript(7)?;
    let second = transcript(7)?;
    assert_eq!(first.len(), 11);
    assert_eq!(first, second);
    Ok(())
}

/// A kube client over turmoil (the recipe in docs/development.md), to show the server speaks to the
/// real kube client in simulation: turmoil TCP stream newtype, connector, hyper-util legacy client,
/// BaseUriLayer, timeout.

#[test]
fn the_kube_client_works_against_the_server_over_turmoil() -> turmoil::Result {
    use forge_manager::crd::{CardanoForgeCluster, CardanoForgeClusterSpec};
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams, PostParams};

    let mut sim = turmoil::Builder::new().build();
    sim.host("apiserver", || async {
        let server = ApiServer::new(Options {
            clock: Arc::new(sim_clock),
            ..Options::default()
        })?;
        server
            .serve(TurmoilListener::bind(("0.0.0.0", 6443)).await?)
            .await?;
        Ok(())
    });
    sim.client("sidecar", async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The simulator's own transport (sim/src/world/net.rs), as the pods use it.
        let (client, _dates) = forge_sim::world::net::kube_client(
            "apiserver",
            "default",
            forge_sim::world::net::Connector::default(),
        )?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in forge_manager::crd::crds() {
            crds.create(&PostParams::default(), &crd).await?;
        }
        let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
        let mut lease = Lease::default();
        lease.metadata.name = Some("cardano-node-leader".into());
        let created = leases.create(&PostParams::default(), &lease).await?;
        let mut changed = created.clone();
        changed.spec = Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some("pod-0".into()),
            ..Default::default()
        });
        leases
            .replace("cardano-node-leader", &PostParams::default(), &changed)
            .await?;
        match leases
            .replace("cardano-node-leader", &PostParams::default(), &created)
            .await
        {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 409),
            other => panic!("expected 409, got {other:?}"),
        }
        let clusters: Api<CardanoForgeCluster> = Api::namespaced(client, "default");
        let spec = CardanoForgeClusterSpec {
            region: Some("us-east-1".into()),
            priority: 1,
            ..Default::default()
        };
        clusters
            .create(&PostParams::default(), &CardanoForgeCluster::new("c", spec))
            .await?;
        let status =
            serde_json::json!({"status": {"activeLeader": "pod-0", "forgingEnabled": true}});
        let patched = clusters
            .patch_status("c", &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        assert_eq!(
            patched.status.and_then(|s| s.active_leader).as_deref(),
            Some("pod-0")
        );
        Ok(())
    });
    sim.run()
}

/// A world with two ephemeral ports on the client (the third connection reuses the first's port):
/// connection 1 is closed while partitioned from the server, so its FIN is lost and the server's
/// end stays open; after the heal, with `reset` the server's connections from the client are
/// reset (what the simulated world does at a heal); then two more connections.
fn reconnect_after_lost_fin(reset: bool) -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .ephemeral_ports(49152..=49153)
        .build();
    let faults = Faults::new();
    let server_faults = faults.clone();
    sim.host("apiserver", move || {
        let faults = server_faults.clone();
        async move {
            let server = ApiServer::new(Options {
                faults,
                clock: Arc::new(sim_clock),
                ..Options::default()
            })?;
            server
                .serve(TurmoilListener::bind(("0.0.0.0", 6443)).await?)
                .await?;
            Ok(())
        }
    });
    sim.client("client", async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let result: Result<(), BoxError> = async {
            let (code, _, _) = send("GET", LEASES, Value::Null).await?;
            assert_eq!(code, 200);
            // `send` dropped connection 1 at once; cut before its FIN leaves the client.
            turmoil::partition("client", "apiserver");
            tokio::time::sleep(Duration::from_secs(1)).await;
            turmoil::repair("client", "apiserver");
            if reset {
                assert!(faults.reset_connections_from(turmoil::lookup("client")) <= 1);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            for _ in 0..2 {
                let (code, _, _) = send("GET", LEASES, Value::Null).await?;
                assert_eq!(code, 200);
            }
            Ok(())
        }
        .await;
        result.map_err(|e| e as Box<dyn std::error::Error>)
    });
    sim.run()
}

/// The cause of a simulator panic once seen under a broken core (`SocketPair ... is already
/// connected`): a server end left open by a FIN lost in a partition, and a client port reused.
/// Resetting the server's connections from a host when its partition heals avoids it.
#[test]
fn a_server_end_left_open_by_a_lost_fin_is_reset_at_the_heal() -> turmoil::Result {
    reconnect_after_lost_fin(true)
}

/// The same without the reset: the server host's task panics in turmoil's accept, which turmoil
/// hands back as the run's error.
#[test]
fn without_the_reset_a_reused_client_port_panics_turmoil() {
    let outcome = reconnect_after_lost_fin(false);
    let text = format!("{outcome:?}");
    assert!(
        text.contains("49152 } is already connected"),
        "expected turmoil's panic: {text}"
    );
}
