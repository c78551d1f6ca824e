//! The production `Kube` adapter (real `kube` client) against the Kubernetes-protocol test API
//! server on a loopback port: optimistic concurrency, races, watch, error kinds, timeouts, the
//! server clock, and the custom resources' status.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{crd_bodies, request, start};
use forge_manager::adapters::kube::{DateLayer, DateSlot, KubeAdapter};
use forge_manager::core::lease::{ApiFailure, LEASE_FINALIZER};
use forge_manager::core::time::MonoTime;
use forge_manager::crd::CardanoLeaderStatus;
use forge_manager::ports::{Kube, LeaseWrite};
use forge_sim::apiserver::Options;

fn adapter(url: &str, timeout: Duration) -> KubeAdapter {
    let config = kube::Config::new(url.parse().expect("url"));
    let dates = DateSlot::default();
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("builder")
        .with_layer(&DateLayer::new(dates.clone()))
        .build();
    let origin = Instant::now();
    let mono = std::rc::Rc::new(move || MonoTime(origin.elapsed().as_millis() as u64));
    KubeAdapter::new(client, "default", timeout, dates, mono)
}

/// An adapter whose every read is a request (no watch cache answers, no watch runs beside).
fn direct(url: &str, timeout: Duration) -> KubeAdapter {
    adapter(url, timeout).without_watch_caches()
}

fn write(name: &str, holder: Option<&str>, rv: &str) -> LeaseWrite {
    LeaseWrite {
        name: name.into(),
        holder: holder.map(str::to_owned),
        lease_duration_seconds: 15,
        acquire_time: Some(jiff::Timestamp::UNIX_EPOCH),
        renew_time: Some(jiff::Timestamp::UNIX_EPOCH),
        lease_transitions: 0,
        resource_version: rv.into(),
        finalizers: Vec::new(),
    }
}

#[tokio::test]
async fn leases_are_created_read_and_replaced_with_optimistic_concurrency() {
    let srv = start(Options::default()).await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let err = k.get_lease("l").await.expect_err("absent");
    assert_eq!(err.kind, ApiFailure::NotFound);

    let created = k
        .create_lease(&write("l", Some("pod-0"), ""))
        .await
        .expect("create");
    assert_eq!(created.holder.as_deref(), Some("pod-0"));
    assert_eq!(created.lease_duration_seconds, Some(15));
    let again = k
        .create_lease(&write("l", Some("pod-1"), ""))
        .await
        .expect_err("exists");
    assert_eq!(again.kind, ApiFailure::Conflict);

    // A write that changes nothing is a no-op, as in Kubernetes: same resourceVersion. (The
    // sidecar therefore always writes a later renewTime, and the core ignores no-op writes.)
    let same = k
        .replace_lease(&write("l", Some("pod-0"), &created.resource_version))
        .await
        .expect("no-op");
    assert_eq!(same.resource_version, created.resource_version);
    let mut renewal = write("l", Some("pod-0"), &created.resource_version);
    renewal.renew_time = Some("2030-01-01T00:00:02Z".parse().expect("time"));
    let renewed = k.replace_lease(&renewal).await.expect("renew");
    assert_ne!(renewed.resource_version, created.resource_version);
    let stale = k
        .replace_lease(&write("l", Some("pod-1"), &created.resource_version))
        .await
        .expect_err("stale");
    assert_eq!(stale.kind, ApiFailure::Conflict);

    // A release writes an empty holder, which reads back as nobody.
    let released = k
        .replace_lease(&write("l", None, &renewed.resource_version))
        .await
        .expect("release");
    assert_eq!(released.holder, None);
    assert_eq!(k.get_lease("l").await.expect("get").holder, None);
}

#[tokio::test]
async fn two_pods_racing_for_one_version_get_exactly_one_success_and_one_conflict() {
    let srv = start(Options::default()).await;
    let a = adapter(&srv.url(), Duration::from_secs(2));
    let b = adapter(&srv.url(), Duration::from_secs(2));
    for round in 0..20 {
        let name = format!("race-{round}");
        let base = a
            .create_lease(&write(&name, None, ""))
            .await
            .expect("create");
        let wa = write(&name, Some("pod-a"), &base.resource_version);
        let wb = write(&name, Some("pod-b"), &base.resource_version);
        let (ra, rb) = tokio::join!(a.replace_lease(&wa), b.replace_lease(&wb));
        let wins = [ra.is_ok(), rb.is_ok()];
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "round {round}: {ra:?} {rb:?}"
        );
        let loser = if ra.is_ok() { rb } else { ra };
        assert_eq!(loser.expect_err("one loses").kind, ApiFailure::Conflict);
    }
}

#[tokio::test]
async fn a_finalizer_turns_a_delete_into_a_mark_until_the_holder_lets_go() {
    let srv = start(Options::default()).await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let mut w = write("f", Some("pod-0"), "");
    w.finalizers = vec![LEASE_FINALIZER.to_owned()];
    let created = k.create_lease(&w).await.expect("create");
    assert!(created.protected() && !created.terminating);
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/f";
    // The delete answers 200 with the marked object: it is still there, naming its holder.
    let deleted = request(&srv.url(), "DELETE", path, "application/json", "").await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string());
    let marked = k.get_lease("f").await.expect("still there");
    assert!(marked.terminating && marked.is_held_by("pod-0"));
    // The holder keeps renewing it (its own finalizer is not a new one) ...
    let mut renew = write("f", Some("pod-0"), &marked.resource_version);
    renew.finalizers = vec![LEASE_FINALIZER.to_owned()];
    let renewed = k
        .replace_lease(&renew)
        .await
        .expect("renewal of a marked lease");
    assert!(renewed.terminating);
    // ... but nobody may add a finalizer to an object being deleted.
    let mut more = write("f", Some("pod-0"), &renewed.resource_version);
    more.finalizers = vec![LEASE_FINALIZER.to_owned(), "example.com/other".to_owned()];
    let refused = k.replace_lease(&more).await.expect_err("a new finalizer");
    assert_eq!(refused.kind, ApiFailure::Invalid, "{refused}");
    // Removing the last finalizer completes the deletion; the name is free again.
    let fin = write("f", Some("pod-0"), &renewed.resource_version);
    k.replace_lease(&fin).await.expect("finalize");
    let gone = k.get_lease("f").await.expect_err("deleted");
    assert_eq!(gone.kind, ApiFailure::NotFound);
    k.create_lease(&w).await.expect("created again");
    // Without finalizers a delete is immediate.
    let plain = write("g", Some("pod-0"), "");
    k.create_lease(&plain).await.expect("create g");
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/g";
    request(&srv.url(), "DELETE", path, "application/json", "").await;
    let gone = k.get_lease("g").await.expect_err("deleted at once");
    assert_eq!(gone.kind, ApiFailure::NotFound);
}

#[tokio::test]
async fn a_watch_returns_the_next_version_or_the_deletion() {
    let srv = start(Options::default()).await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let base = k
        .create_lease(&write("w", Some("pod-0"), ""))
        .await
        .expect("create");
    let watcher = adapter(&srv.url(), Duration::from_secs(2));
    let rv = base.resource_version.clone();
    let waiting = watcher.watch_lease("w", &rv, Duration::from_secs(5));
    let release = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        k.replace_lease(&write("w", None, &base.resource_version))
            .await
    };
    let (seen, next) = tokio::join!(waiting, release);
    let next = next.expect("release");
    let seen = seen.expect("watch").expect("a record");
    assert_eq!(seen.resource_version, next.resource_version);
    assert_eq!(seen.holder, None);

    // Nothing happens: the watch gives up after its timeout, as an error the loop can sleep on.
    let started = Instant::now();
    let quiet = k
        .watch_lease("w", &next.resource_version, Duration::from_secs(1))
        .await;
    assert!(quiet.is_err(), "{quiet:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn server_errors_refusals_and_slowness_map_to_the_port_kinds() {
    let srv = start(Options::default()).await;
    let k = direct(&srv.url(), Duration::from_millis(300));
    let faults = srv.server.faults();

    faults.fail_next_requests(1);
    assert_eq!(
        k.get_lease("x").await.expect_err("500").kind,
        ApiFailure::Server
    );

    faults.set_latency(Duration::from_millis(800));
    let started = Instant::now();
    assert_eq!(
        k.get_lease("x").await.expect_err("slow").kind,
        ApiFailure::Unreachable
    );
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the timeout was not honoured"
    );
    faults.set_latency(Duration::ZERO);

    faults.refuse_connections(true);
    let fresh = direct(&srv.url(), Duration::from_millis(300));
    assert_eq!(
        fresh.get_lease("x").await.expect_err("refused").kind,
        ApiFailure::Unreachable
    );
    faults.refuse_connections(false);
    assert_eq!(
        fresh.get_lease("x").await.expect_err("back").kind,
        ApiFailure::NotFound
    );
}

/// What a real API server does under load or failure, which the sidecar must take as "no
/// answer" and never as a record: a 429 from API priority and fairness (with `Retry-After`), and
/// an answer broken off mid-body. Each costs at most the call; the next one succeeds.
#[tokio::test]
async fn throttling_and_answers_cut_off_mid_body_are_failures_the_next_call_recovers_from() {
    let srv = start(Options::default()).await;
    let k = direct(&srv.url(), Duration::from_secs(2));
    let faults = srv.server.faults();
    let base = k
        .create_lease(&write("t", Some("pod-0"), ""))
        .await
        .expect("create");

    // kube's client retries a 429 after its Retry-After, inside the call's deadline: a short
    // wait is absorbed, one longer than the deadline fails the call as unreachable at the
    // deadline (never later: the loop's timing holds).
    faults.throttle_next_requests(1, Duration::from_secs(1));
    let started = Instant::now();
    assert_eq!(
        k.get_lease("t")
            .await
            .expect("retried after 1 s")
            .resource_version,
        base.resource_version
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    faults.throttle_next_requests(1, Duration::from_secs(3));
    let started = Instant::now();
    let throttled = k
        .get_lease("t")
        .await
        .expect_err("429 for longer than the deadline");
    assert_eq!(throttled.kind, ApiFailure::Unreachable, "{throttled}");
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        k.get_lease("t")
            .await
            .expect("after the 429")
            .resource_version,
        base.resource_version
    );
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/t";
    faults.throttle_next_requests(1, Duration::from_secs(3));
    let answer = request(&srv.url(), "GET", path, "application/json", "").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers["retry-after"], "3");
    assert_eq!(answer.body["reason"], "TooManyRequests");

    // A renewal whose answer is cut off: the write may or may not have landed, and the caller
    // learns only that it failed (the loop then re-reads before it trusts anything).
    faults.cut_next_responses(1);
    let cut = k
        .replace_lease(&write("t", Some("pod-1"), &base.resource_version))
        .await
        .expect_err("cut off");
    assert_eq!(cut.kind, ApiFailure::Unreachable, "{cut}");
    let now = k.get_lease("t").await.expect("read after the cut");
    assert_eq!(
        now.holder.as_deref(),
        Some("pod-1"),
        "the write itself landed: only its answer was lost"
    );
    faults.cut_next_responses(1);
    assert!(
        k.list_forge_clusters("").await.is_err(),
        "a cut list is a failure"
    );
}

/// BOOKMARK events (the sidecar's watches allow them, as kube's defaults do) neither answer a
/// lease watch nor end it early: the watch returns the real change, and a quiet watch still
/// lasts what it asked for.
#[tokio::test]
async fn bookmarks_neither_answer_nor_end_a_lease_watch() {
    let srv = start(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Options::default()
    })
    .await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let base = k
        .create_lease(&write("b", Some("pod-0"), ""))
        .await
        .expect("create");
    let watcher = adapter(&srv.url(), Duration::from_secs(2));
    let waiting = watcher.watch_lease("b", &base.resource_version, Duration::from_secs(5));
    let release = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        k.replace_lease(&write("b", None, &base.resource_version))
            .await
    };
    let started = Instant::now();
    let (seen, next) = tokio::join!(waiting, release);
    let next = next.expect("release");
    let seen = seen.expect("watch").expect("a record");
    assert_eq!(seen.resource_version, next.resource_version);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered by a bookmark"
    );

    let started = Instant::now();
    let quiet = k
        .watch_lease("b", &next.resource_version, Duration::from_secs(2))
        .await;
    assert!(quiet.is_err(), "{quiet:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1_800),
        "ended early after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn every_answer_samples_the_api_servers_clock() {
    let fixed: jiff::Timestamp = "2030-05-01T12:00:00Z".parse().expect("time");
    let srv = start(Options {
        clock: Arc::new(move || fixed),
        ..Options::default()
    })
    .await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    assert_eq!(k.server_clock(), None);
    let _ = k.get_lease("x").await;
    let sample = k.server_clock().expect("a Date header was seen");
    assert_eq!(sample.server_time, fixed);
}

#[tokio::test]
async fn custom_resources_are_read_and_their_status_patched() {
    let srv = start(Options::default()).await;
    for body in crd_bodies() {
        let a = request(
            &srv.url(),
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "application/json",
            &body,
        )
        .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
    }
    let cfc = r#"{"apiVersion":"cardano.io/v1","kind":"CardanoForgeCluster","metadata":{"name":"mainnet-pool-us-east-1","labels":{"cardano.io/pool":"p"}},"spec":{"region":"us-east-1","priority":1,"forgeState":"Priority-based"}}"#;
    let a = request(
        &srv.url(),
        "POST",
        "/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters",
        "application/json",
        cfc,
    )
    .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let leader = r#"{"apiVersion":"cardano.io/v1","kind":"CardanoLeader","metadata":{"name":"cardano-leader"},"spec":{}}"#;
    let a = request(
        &srv.url(),
        "POST",
        "/apis/cardano.io/v1/namespaces/default/cardanoleaders",
        "application/json",
        leader,
    )
    .await;
    assert_eq!(a.status, 201, "{:?}", a.body);

    let k = adapter(&srv.url(), Duration::from_secs(2));
    let got = k
        .get_forge_cluster("mainnet-pool-us-east-1")
        .await
        .expect("get");
    assert_eq!(got.spec.priority, 1);
    assert_eq!(
        k.list_forge_clusters("cardano.io/pool=p")
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        k.list_forge_clusters("cardano.io/pool=q")
            .await
            .expect("list")
            .len(),
        0
    );
    assert_eq!(
        k.get_forge_cluster("nope").await.expect_err("absent").kind,
        ApiFailure::NotFound
    );

    k.patch_forge_cluster_status(
        "mainnet-pool-us-east-1",
        &serde_json::json!({"effectiveState": "Priority-based", "effectivePriority": 1, "activeLeader": "pod-0"}),
    )
    .await
    .expect("status");
    let got = k
        .get_forge_cluster("mainnet-pool-us-east-1")
        .await
        .expect("get");
    let status = serde_json::to_value(&got.status).expect("json");
    assert_eq!(status["activeLeader"], "pod-0");

    let bad = k
        .patch_forge_cluster_status(
            "mainnet-pool-us-east-1",
            &serde_json::json!({"effectiveState": "Off"}),
        )
        .await
        .expect_err("enum");
    assert_eq!(bad.kind, ApiFailure::Invalid);

    let st = CardanoLeaderStatus {
        leader_pod: "pod-0".into(),
        forging_enabled: true,
        last_transition_time: "2030-05-01T12:00:00Z".into(),
        ..CardanoLeaderStatus::default()
    };
    k.patch_leader_status("cardano-leader", &st)
        .await
        .expect("leader status");
    let a = request(
        &srv.url(),
        "GET",
        "/apis/cardano.io/v1/namespaces/default/cardanoleaders/cardano-leader",
        "application/json",
        "",
    )
    .await;
    assert_eq!(a.body["status"]["leaderPod"], "pod-0");
    assert_eq!(a.body["status"]["forgingEnabled"], true);
}

/// A renewal of `name` by `holder`: a later `renewTime` (a write that changes nothing is no new
/// version).
fn renewal(name: &str, holder: &str, rv: &str) -> LeaseWrite {
    LeaseWrite {
        renew_time: Some(jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(1)),
        ..write(name, Some(holder), rv)
    }
}

/// Reads of `name` until two in a row cost the server nothing: the lease's watch cache is in sync.
/// Panics after 5 s.
async fn until_cached(k: &KubeAdapter, srv: &forge_sim::apiserver::ApiServer, name: &str) {
    let faults = srv.faults();
    let started = Instant::now();
    loop {
        let before = faults.requests_served();
        let a = k.get_lease(name).await;
        let b = k.get_lease(name).await;
        if faults.requests_served() == before && a == b {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the watch cache of {name} never came into sync"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server, lease `name` created by pod-0 through `other` (an adapter without caches), and `k`, an
/// adapter whose watch cache of it is in sync.
struct Watched {
    srv: common::Running,
    k: KubeAdapter,
    other: KubeAdapter,
    base: forge_manager::core::lease::LeaseRecord,
}

async fn watched(name: &str) -> Watched {
    let srv = start(Options::default()).await;
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let other = direct(&srv.url(), Duration::from_secs(2));
    let base = other
        .create_lease(&write(name, Some("pod-0"), ""))
        .await
        .expect("create");
    until_cached(&k, &srv.server, name).await;
    Watched {
        srv,
        k,
        other,
        base,
    }
}

/// Informer-style reads: once a lease's watch is open, reading it and waiting for it to change cost
/// no request; a write by another client reaches the cache by the open watch (one watch request
/// for all of it), and our own accepted write is in the cache at once.
#[tokio::test]
async fn a_watched_lease_is_read_and_awaited_without_requests() {
    let Watched {
        srv,
        k,
        other,
        base,
    } = watched("c").await;
    let faults = srv.server.faults();
    let routes_before = faults.requests_by_route();
    let served = faults.requests_served();
    for _ in 0..20 {
        let r = k.get_lease("c").await.expect("cached");
        assert_eq!(r.resource_version, base.resource_version);
    }
    assert_eq!(
        faults.requests_served(),
        served,
        "cached reads cost nothing"
    );

    // Another pod renews: the open watch brings it to our waiter, with no request of ours.
    let waiting = k.watch_lease("c", &base.resource_version, Duration::from_secs(5));
    let renew = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        other
            .replace_lease(&renewal("c", "pod-0", &base.resource_version))
            .await
    };
    let (seen, renewed) = tokio::join!(waiting, renew);
    let renewed = renewed.expect("renew");
    assert_eq!(
        seen.expect("watch").expect("record").resource_version,
        renewed.resource_version
    );
    assert_eq!(
        k.get_lease("c").await.expect("cached").resource_version,
        renewed.resource_version
    );
    assert_eq!(
        faults.requests_served(),
        served + 1,
        "only the other pod's write was a request: {:?} -> {:?}",
        routes_before,
        faults.requests_by_route()
    );

    // Our own write is read back at once, before the watch delivers it.
    let ours = k
        .replace_lease(&write("c", Some("pod-1"), &renewed.resource_version))
        .await
        .expect("takeover");
    let read = k.get_lease("c").await.expect("cached");
    assert_eq!(read.resource_version, ours.resource_version);
    assert_eq!(read.holder.as_deref(), Some("pod-1"));
    assert_eq!(faults.requests_served(), served + 2);
}

/// A refused write proves the cache behind: the next read asks the API server, and the watch starts
/// over from that version; a deletion reaches the cache as absence.
#[tokio::test]
async fn a_refused_write_sends_the_next_read_to_the_server() {
    let Watched {
        srv,
        k,
        other,
        base,
    } = watched("r").await;
    let faults = srv.server.faults();

    // A stale version, as a lagging cache would have given us.
    let moved = other
        .replace_lease(&renewal("r", "pod-0", &base.resource_version))
        .await
        .expect("renew");
    let refused = k
        .replace_lease(&write("r", Some("pod-1"), &base.resource_version))
        .await
        .expect_err("stale");
    assert_eq!(refused.kind, ApiFailure::Conflict);
    let gets = |f: &forge_sim::apiserver::Faults| {
        f.requests_by_route()
            .get("get leases/r")
            .copied()
            .unwrap_or(0)
    };
    let before = gets(&faults);
    let read = k.get_lease("r").await.expect("read");
    assert_eq!(read.resource_version, moved.resource_version);
    assert!(
        gets(&faults) > before,
        "after a 409 the read is a request: {:?}",
        faults.requests_by_route()
    );
    until_cached(&k, &srv.server, "r").await;

    let deleted = request(
        &srv.url(),
        "DELETE",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/r",
        "application/json",
        "",
    )
    .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let started = Instant::now();
    loop {
        match k.get_lease("r").await {
            Err(e) if e.kind == ApiFailure::NotFound => break,
            _ => assert!(
                started.elapsed() < Duration::from_secs(5),
                "never saw the deletion"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A watch cut by the server (a reset connection, as a restart or a load balancer does) puts the
/// cache out of sync: reads go to the server meanwhile, and the cache comes back in sync.
#[tokio::test]
async fn a_cut_watch_falls_back_to_requests_and_recovers() {
    let Watched {
        srv,
        k,
        other,
        base,
    } = watched("x").await;
    let cut = srv
        .server
        .faults()
        .reset_connections_from("127.0.0.1".parse().expect("ip"));
    assert!(cut >= 1, "the watch's connection was open");
    // Changed while the watch was down: whichever way it is read, the read is current.
    let moved = other
        .replace_lease(&write("x", Some("pod-2"), &base.resource_version))
        .await
        .expect("takeover");
    let started = Instant::now();
    loop {
        let read = k.get_lease("x").await;
        if read
            .as_ref()
            .is_ok_and(|r| r.resource_version == moved.resource_version)
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{read:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until_cached(&k, &srv.server, "x").await;
}

/// Lists until a list costs the server nothing (the policy's watch cache is in sync).
async fn until_listed_free(k: &KubeAdapter, faults: &forge_sim::apiserver::Faults) {
    let started = Instant::now();
    loop {
        let before = faults.requests_served();
        k.list_forge_clusters("pool=p").await.expect("list");
        if faults.requests_served() == before {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never in sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The CardanoForgeCluster list is kept by a watch too: after it is in sync, listing is free and an
/// operator's change arrives by the watch.
#[tokio::test]
async fn the_policy_list_is_kept_by_a_watch() {
    let srv = start(Options::default()).await;
    for body in crd_bodies() {
        request(
            &srv.url(),
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "application/json",
            &body,
        )
        .await;
    }
    let k = adapter(&srv.url(), Duration::from_secs(2));
    let faults = srv.server.faults();
    let cfc = |name: &str, priority: u32| {
        serde_json::json!({
            "apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster",
            "metadata": {"name": name, "labels": {"pool": "p"}},
            "spec": {"region": name, "priority": priority, "forgeState": "Priority-based"}
        })
        .to_string()
    };
    let path = "/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters";
    // Creates one more CardanoForgeCluster, then lists until `n` are seen; returns whether the
    // list that saw them cost a request.
    let add_and_list = |name: &'static str, priority: u32, n: usize| {
        let (k, faults, url) = (&k, &faults, srv.url());
        async move {
            let created =
                request(&url, "POST", path, "application/json", &cfc(name, priority)).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            let started = Instant::now();
            loop {
                let before = faults.requests_served();
                let list = k.list_forge_clusters("pool=p").await.expect("list");
                if list.len() == n {
                    let names: Vec<_> = list
                        .iter()
                        .filter_map(|c| c.metadata.name.clone())
                        .collect();
                    return (faults.requests_served() != before, names);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "never saw {name}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    add_and_list("region-a", 1, 1).await;
    until_listed_free(&k, &faults).await;
    let (cost, names) = add_and_list("region-b", 2, 2).await;
    assert!(!cost, "the new one came by the watch");
    assert_eq!(names, ["region-a", "region-b"]);
}
