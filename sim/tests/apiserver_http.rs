//! The test API server over real loopback HTTP: leases with optimistic concurrency, watch, CRDs
//! and custom resources with schema checks and the status subresource, Status error shapes,
//! persistence, fault hooks and the injected clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{crd_bodies, request, start};
use forge_manager::crd::{
    CardanoForgeCluster, CardanoForgeClusterSpec, CardanoForgeClusterStatus, ForgeState,
};
use forge_sim::apiserver::Options;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::ObjectMeta;
use serde_json::json;

fn lease(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("app".to_owned(), "forge".to_owned())].into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    }
}

fn api_code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn install_crds(url: &str) {
    for body in crd_bodies() {
        let a = request(
            url,
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "application/json",
            &body,
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}

fn cluster(name: &str) -> CardanoForgeCluster {
    CardanoForgeCluster::new(
        name,
        CardanoForgeClusterSpec {
            region: Some("us-east-1".into()),
            priority: 1,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn lease_create_get_update_and_stale_update_conflicts() {
    let srv = start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    let created = leases
        .create(&PostParams::default(), &lease("l", ""))
        .await
        .expect("create");
    let rv1 = created.metadata.resource_version.clone().expect("rv");
    assert_eq!(
        created.metadata.uid.as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(
        api_code(
            leases
                .create(&PostParams::default(), &lease("l", ""))
                .await
                .unwrap_err()
        ),
        409
    );

    let mut got = leases.get("l").await.expect("get");
    got.spec.as_mut().expect("spec").holder_identity = Some("pod-0".into());
    let updated = leases
        .replace("l", &PostParams::default(), &got)
        .await
        .expect("replace");
    assert_ne!(
        updated.metadata.resource_version.as_deref(),
        Some(rv1.as_str())
    );

    // The same (now stale) version again: 409 Conflict.
    assert_eq!(
        api_code(
            leases
                .replace("l", &PostParams::default(), &got)
                .await
                .unwrap_err()
        ),
        409
    );
    // A merge patch carrying the stale version: 409 as well.
    let stale = json!({"metadata": {"resourceVersion": rv1}, "spec": {"holderIdentity": "pod-1"}});
    assert_eq!(
        api_code(
            leases
                .patch("l", &PatchParams::default(), &Patch::Merge(&stale))
                .await
                .unwrap_err()
        ),
        409
    );
    // JSON patch works.
    let ops: json_patch::Patch = serde_json::from_value(
        json!([{"op": "replace", "path": "/spec/holderIdentity", "value": "pod-2"}]),
    )
    .expect("ops");
    let patched = leases
        .patch("l", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(
        patched.spec.expect("spec").holder_identity.as_deref(),
        Some("pod-2")
    );

    leases
        .create(
            &PostParams::default(),
            &Lease {
                metadata: ObjectMeta {
                    name: Some("other".into()),
                    ..Default::default()
                },
                spec: None,
            },
        )
        .await
        .expect("create other");
    let labelled = leases
        .list(&ListParams::default().labels("app=forge"))
        .await
        .expect("list");
    assert_eq!(labelled.items.len(), 1);
    assert_eq!(
        leases
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    leases
        .delete("other", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(api_code(leases.get("other").await.unwrap_err()), 404);
}

#[tokio::test]
async fn two_concurrent_replaces_of_one_version_exactly_one_wins() {
    let srv = start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    let base = leases
        .create(&PostParams::default(), &lease("race", ""))
        .await
        .expect("create");
    let mut a = base.clone();
    a.spec.as_mut().expect("spec").holder_identity = Some("a".into());
    let mut b = base.clone();
    b.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    let pp = PostParams::default();
    let (ra, rb) = tokio::join!(
        leases.replace("race", &pp, &a),
        leases.replace("race", &pp, &b)
    );
    let codes: Vec<u16> = [ra, rb]
        .into_iter()
        .map(|r| r.map_or_else(api_code, |_| 200))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 409], "{codes:?}");
}

#[tokio::test]
async fn watch_sees_changes_in_order_and_a_too_old_version_expires() {
    let srv = start(Options {
        history_limit: 3,
        ..Options::default()
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    let first = leases
        .create(&PostParams::default(), &lease("w", ""))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.clone().expect("rv");
    let mut stream = leases
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    for holder in ["a", "b"] {
        leases
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"holderIdentity": holder}})),
            )
            .await
            .expect("patch");
    }
    leases
        .delete("w", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match stream
            .try_next()
            .await
            .expect("event")
            .expect("stream open")
        {
            WatchEvent::Modified(l) => seen.push(format!(
                "MODIFIED {}",
                l.spec.and_then(|s| s.holder_identity).unwrap_or_default()
            )),
            WatchEvent::Deleted(_) => seen.push("DELETED".into()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec!["MODIFIED a", "MODIFIED b", "DELETED"]);

    // History keeps 3 events; resuming from the first version is too old now.
    for name in ["x", "y", "z"] {
        leases
            .create(&PostParams::default(), &lease(name, ""))
            .await
            .expect("create");
    }
    let mut expired = leases
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    match expired
        .try_next()
        .await
        .expect("event")
        .expect("stream open")
    {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn crd_apply_then_custom_resource_crud_with_defaults() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let api: Api<CardanoForgeCluster> = Api::namespaced(srv.kube(), "default");
    // Built without forgeState: serialised with the Rust default, so send JSON without it.
    let raw = json!({"apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster", "metadata": {"name": "c1"}, "spec": {"region": "us-east-1"}});
    let a = request(
        &srv.url(),
        "POST",
        "/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters",
        "application/json",
        &raw.to_string(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.body["spec"]["forgeState"], "Priority-based",
        "schema default applied"
    );
    assert_eq!(a.body["spec"]["priority"], 100, "schema default applied");
    let got = api.get("c1").await.expect("get");
    assert_eq!(got.metadata.generation, Some(1));
    let patched = api
        .patch(
            "c1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"forgeState": "Disabled"}})),
        )
        .await
        .expect("patch");
    assert_eq!(patched.spec.forge_state, ForgeState::Disabled);
    assert_eq!(patched.metadata.generation, Some(2));
    api.create(&PostParams::default(), &cluster("c2"))
        .await
        .expect("create typed");
    assert_eq!(
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    api.delete("c1", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(api_code(api.get("c1").await.unwrap_err()), 404);
    // Deleting the CRD removes the resource type and its objects.
    let d = request(
        &srv.url(),
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/cardanoforgeclusters.cardano.io",
        "application/json",
        "",
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let gone = request(
        &srv.url(),
        "GET",
        "/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters",
        "application/json",
        "",
    )
    .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn status_subresource_separates_spec_and_status_writes() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let api: Api<CardanoForgeCluster> = Api::namespaced(srv.kube(), "default");
    let mut with_status = cluster("s");
    with_status.status = Some(CardanoForgeClusterStatus {
        active_leader: Some("ignored-on-create".into()),
        ..Default::default()
    });
    let created = api
        .create(&PostParams::default(), &with_status)
        .await
        .expect("create");
    assert_eq!(created.status, None, "status is dropped on create");

    // Status write ignores the spec part.
    let s = json!({"spec": {"priority": 7}, "status": {"activeLeader": "pod-0", "effectiveState": "Enabled"}});
    let after = api
        .patch_status("s", &PatchParams::default(), &Patch::Merge(&s))
        .await
        .expect("patch status");
    assert_eq!(after.spec.priority, 1);
    assert_eq!(
        after
            .status
            .as_ref()
            .and_then(|s| s.active_leader.as_deref()),
        Some("pod-0")
    );
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );

    // Main-resource write ignores the status part.
    let m = json!({"spec": {"priority": 5}, "status": {"activeLeader": "pod-9"}});
    let after = api
        .patch("s", &PatchParams::default(), &Patch::Merge(&m))
        .await
        .expect("patch");
    assert_eq!(after.spec.priority, 5);
    assert_eq!(
        after.status.and_then(|s| s.active_leader).as_deref(),
        Some("pod-0")
    );

    // Status values are validated too.
    let bad = json!({"status": {"effectiveState": "Sideways"}});
    assert_eq!(
        api_code(
            api.patch_status("s", &PatchParams::default(), &Patch::Merge(&bad))
                .await
                .unwrap_err()
        ),
        422
    );
}

#[tokio::test]
async fn enum_violation_is_422_invalid_naming_the_field() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let api: Api<CardanoForgeCluster> = Api::namespaced(srv.kube(), "default");
    api.create(&PostParams::default(), &cluster("e"))
        .await
        .expect("create");
    let err = api
        .patch(
            "e",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"forgeState": "Off"}})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected API error")
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        status.message,
        "CardanoForgeCluster.cardano.io \"e\" is invalid: spec.forgeState: Unsupported value: \"Off\": supported values: \"Enabled\", \"Disabled\", \"Priority-based\""
    );
    let cause = &status.details.as_ref().expect("details").causes[0];
    assert_eq!(
        (cause.field.as_str(), cause.reason.as_str()),
        ("spec.forgeState", "FieldValueNotSupported")
    );
    // Range and pattern too.
    let err = api
        .patch(
            "e",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"priority": 0, "region": "US EAST"}})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected API error")
    };
    assert!(status.message.contains("spec.priority: Invalid value: 0: spec.priority in body should be greater than or equal to 1"), "{}", status.message);
    assert!(
        status
            .message
            .contains("spec.region: Invalid value: \"US EAST\""),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn unknown_fields_are_pruned_unless_strict() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let path = "/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters";
    let body = json!({"apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster", "metadata": {"name": "u"}, "spec": {"bogus": 1}}).to_string();
    let strict = request(
        &srv.url(),
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        &body,
    )
    .await;
    assert_eq!(strict.status, 400);
    assert_eq!(strict.body["reason"], "BadRequest");
    assert_eq!(
        strict.body["message"],
        "strict decoding error: unknown field \"spec.bogus\""
    );
    let lax = request(&srv.url(), "POST", path, "application/json", &body).await;
    assert_eq!(lax.status, 201);
    assert!(
        lax.body["spec"].get("bogus").is_none(),
        "pruned: {}",
        lax.body
    );
}

#[tokio::test]
async fn errors_are_kubernetes_status_objects() {
    let srv = start(Options::default()).await;
    let url = srv.url();
    let nf = request(
        &url,
        "GET",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/nope",
        "application/json",
        "",
    )
    .await;
    assert_eq!(nf.status, 404);
    assert_eq!(
        nf.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "leases.coordination.k8s.io \"nope\" not found",
               "reason": "NotFound", "code": 404, "details": {"name": "nope", "group": "coordination.k8s.io", "kind": "leases"}})
    );
    let unknown = request(
        &url,
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets",
        "application/json",
        "",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body["reason"].as_str()),
        (404, Some("NotFound"))
    );
    let bad = request(
        &url,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        "application/json",
        "{not json",
    )
    .await;
    assert_eq!(
        (
            bad.status,
            bad.body["reason"].as_str(),
            bad.body["code"].as_u64()
        ),
        (400, Some("BadRequest"), Some(400))
    );
    let body = json!({"metadata": {"name": "c"}}).to_string();
    request(
        &url,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        "application/json",
        &body,
    )
    .await;
    let stale = json!({"metadata": {"name": "c", "resourceVersion": "999"}}).to_string();
    let conflict = request(
        &url,
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/c",
        "application/json",
        &stale,
    )
    .await;
    assert_eq!(
        (conflict.status, conflict.body["reason"].as_str()),
        (409, Some("Conflict"))
    );
    assert_eq!(conflict.body["details"]["name"], "c");
    let v2 = request(&url, "GET", "/openapi/v2", "application/json", "").await;
    assert_eq!(v2.status, 404);
}

#[tokio::test]
async fn objects_survive_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_file = dir.path().join("state.json");
    let options = Options {
        state_file: Some(state_file.clone()),
        ..Options::default()
    };
    let srv = start(options.clone()).await;
    install_crds(&srv.url()).await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    let created = leases
        .create(&PostParams::default(), &lease("keep", "pod-0"))
        .await
        .expect("create");
    srv.task.abort();
    drop(srv);

    let again = start(options).await;
    let leases: Api<Lease> = Api::namespaced(again.kube(), "default");
    let got = leases.get("keep").await.expect("get after restart");
    assert_eq!(got.metadata.uid, created.metadata.uid);
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
    let next = leases
        .create(&PostParams::default(), &lease("new", ""))
        .await
        .expect("create after restart");
    let rv = |l: &Lease| {
        l.metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .expect("numeric rv")
    };
    assert!(
        rv(&next) > rv(&got),
        "resourceVersion keeps increasing across restarts"
    );
    let clusters: Api<CardanoForgeCluster> = Api::namespaced(again.kube(), "default");
    clusters
        .create(&PostParams::default(), &cluster("served-after-restart"))
        .await
        .expect("CRD still served");
}

#[tokio::test]
async fn fault_hooks_fail_delay_refuse_and_count_requests() {
    let fixed = jiff::Timestamp::from_second(1_700_000_000).expect("ts");
    let srv = start(Options {
        clock: Arc::new(move || fixed),
        ..Options::default()
    })
    .await;
    let faults = srv.server.faults();
    let url = srv.url();
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

    let a = request(&url, "GET", path, "application/json", "").await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.headers.get("date").and_then(|d| d.to_str().ok()),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );

    faults.fail_next_requests(2);
    assert_eq!(
        request(&url, "GET", path, "application/json", "")
            .await
            .status,
        500
    );
    assert_eq!(
        request(&url, "GET", path, "application/json", "")
            .await
            .body["reason"],
        "InternalError"
    );
    assert_eq!(
        request(&url, "GET", path, "application/json", "")
            .await
            .status,
        200
    );
    assert_eq!(faults.requests_served(), 4);

    faults.set_latency(Duration::from_millis(200));
    let started = std::time::Instant::now();
    request(&url, "GET", path, "application/json", "").await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    faults.set_latency(Duration::ZERO);

    faults.refuse_connections(true);
    let client = srv.kube();
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let refused = tokio::time::timeout(Duration::from_secs(5), leases.list(&ListParams::default()))
        .await
        .expect("fails fast");
    assert!(refused.is_err(), "request must fail while refusing");
    faults.refuse_connections(false);
    leases
        .list(&ListParams::default())
        .await
        .expect("works again");

    let created = leases
        .create(&PostParams::default(), &lease("t", ""))
        .await
        .expect("create");
    assert_eq!(
        created.metadata.creation_timestamp.map(|t| t.0.as_second()),
        Some(1_700_000_000),
        "injected clock"
    );
}

#[tokio::test]
async fn discovery_serves_aggregated_and_legacy_forms_and_openapi_v3() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let req = http::Request::get(format!("{}/apis", srv.url()))
        .header("accept", accept)
        .body(Default::default())
        .expect("req");
    let resp = client.request(req).await.expect("send");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    use http_body_util::BodyExt;
    let body: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.expect("body").to_bytes())
            .expect("json");
    assert_eq!(body["kind"], "APIGroupDiscoveryList");
    let cardano = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|g| g["metadata"]["name"] == "cardano.io")
        .expect("cardano.io group");
    let cfc = cardano["versions"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["resource"] == "cardanoforgeclusters")
        .expect("cfc");
    assert_eq!(cfc["shortNames"], json!(["cfc"]));
    assert_eq!(cfc["categories"], json!(["cardano", "blockchain"]));
    assert_eq!(cfc["subresources"][0]["subresource"], "status");
    assert_eq!(cfc["scope"], "Namespaced");

    let legacy = request(&srv.url(), "GET", "/apis", "application/json", "").await;
    assert_eq!(legacy.body["kind"], "APIGroupList");
    let list = request(
        &srv.url(),
        "GET",
        "/apis/cardano.io/v1",
        "application/json",
        "",
    )
    .await;
    let names: Vec<&str> = list.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "cardanoforgeclusters",
            "cardanoforgeclusters/status",
            "cardanoleaders",
            "cardanoleaders/status"
        ]
    );
    let core = request(&srv.url(), "GET", "/api/v1", "application/json", "").await;
    assert_eq!(core.body["groupVersion"], "v1");

    let index = request(&srv.url(), "GET", "/openapi/v3", "application/json", "").await;
    let url = index.body["paths"]["apis/cardano.io/v1"]["serverRelativeURL"]
        .as_str()
        .expect("cardano.io in openapi index")
        .to_owned();
    let doc = request(&srv.url(), "GET", &url, "application/json", "").await;
    let patch = &doc.body["paths"]["/apis/cardano.io/v1/namespaces/{namespace}/cardanoforgeclusters/{name}"]
        ["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "CardanoForgeCluster"
    );
    assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
}

#[tokio::test]
async fn kube_runtime_watcher_lists_then_follows_changes() {
    use kube::runtime::watcher;
    let srv = start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    leases
        .create(&PostParams::default(), &lease("one", ""))
        .await
        .expect("create");
    let mut events = watcher(leases.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.expect("event").expect("open") {
            watcher::Event::Init => {}
            watcher::Event::InitApply(l) => initial.push(l.metadata.name.unwrap_or_default()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["one"]);
    leases
        .create(&PostParams::default(), &lease("two", ""))
        .await
        .expect("create");
    match tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .expect("in time")
        .expect("event")
        .expect("open")
    {
        watcher::Event::Apply(l) => assert_eq!(l.metadata.name.as_deref(), Some("two")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn custom_resources_answer_tables_with_printer_columns() {
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let api: Api<CardanoForgeCluster> = Api::namespaced(srv.kube(), "default");
    api.create(&PostParams::default(), &cluster("t"))
        .await
        .expect("create");
    let status = json!({"status": {"effectiveState": "Enabled", "effectivePriority": 1, "activeLeader": "bp-0", "forgingEnabled": false, "forger": "", "healthStatus": {"healthy": true}}});
    api.patch_status("t", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = http::Request::get(format!("{}/apis/cardano.io/v1/namespaces/default/cardanoforgeclusters?limit=500", srv.url()))
        .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
        .body(Default::default())
        .expect("req");
    let resp = client.request(req).await.expect("send");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json;as=Table;v=v1;g=meta.k8s.io")
    );
    use http_body_util::BodyExt;
    let table: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.expect("body").to_bytes())
            .expect("json");
    let columns: Vec<(&str, i64)> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default(),
                c["priority"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("Name", 0),
            ("State", 0),
            ("Priority", 0),
            ("Region", 0),
            ("Active Leader", 0),
            ("Forger", 0),
            ("Forging", 1),
            ("Healthy", 0),
            ("Observed", 0),
            ("Age", 0),
            ("Network", 1),
            ("Pool", 1)
        ]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(
        cells,
        &json!([
            "t",
            "Enabled",
            1,
            "us-east-1",
            "bp-0",
            "",
            false,
            true,
            null,
            "0s",
            null,
            null
        ])
    );
}

#[test]
fn forge_sim_apiserver_binary_serves_on_the_given_address() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_forge-sim"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--state-file"])
        .arg(dir.path().join("state.json"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn forge-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read banner");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("address")
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    child.kill().expect("kill forge-sim");
    child.wait().expect("wait");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("v1.33.0-forge-sim"), "{answer}");
}

#[tokio::test]
async fn watch_with_table_accept_streams_one_row_tables_with_headers_once() {
    use http_body_util::BodyExt;
    let srv = start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(srv.kube(), "default");
    leases
        .create(&PostParams::default(), &lease("a", "pod-0"))
        .await
        .expect("create");
    leases
        .create(&PostParams::default(), &lease("b", "pod-1"))
        .await
        .expect("create");
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = http::Request::get(format!(
        "{}/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&timeoutSeconds=1",
        srv.url()
    ))
    .header(
        "accept",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .body(Default::default())
    .expect("req");
    let body = client
        .request(req)
        .await
        .expect("send")
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert_eq!(
        events[0]["object"]["columnDefinitions"][1]["name"],
        "Holder"
    );
    assert_eq!(events[0]["object"]["rows"][0]["cells"][1], "pod-0");
    assert_eq!(events[1]["object"]["columnDefinitions"], json!([]));
    assert_eq!(events[1]["object"]["rows"][0]["cells"][0], "b");
}

/// What the Python client sends: `watch=True` (Go's ParseBool forms) and MicroTimes with a `+00:00`
/// offset, which the server stores as `…Z` with six fractional digits.
#[tokio::test]
async fn python_client_forms_of_booleans_and_micro_times() {
    let srv = start(Options::default()).await;
    let url = srv.url();
    let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let body = json!({"metadata": {"name": "p"}, "spec": {"holderIdentity": "a",
        "renewTime": "2026-12-02T10:49:15.695685+00:00", "acquireTime": "2026-12-02T12:49:15.5+02:00"}})
    .to_string();
    let created = request(&url, "POST", leases, "application/json", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body["spec"]["renewTime"],
        "2026-12-02T10:49:15.695685Z"
    );
    assert_eq!(
        created.body["spec"]["acquireTime"],
        "2026-12-02T10:49:15.500000Z"
    );
    let read = request(&url, "GET", &format!("{leases}/p"), "application/json", "").await;
    assert_eq!(
        read.body["spec"]["renewTime"],
        "2026-12-02T10:49:15.695685Z"
    );
    // A watch from the creation's version: the Python client's `watch=True` is a watch, not a list.
    let rv = created.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resourceVersion")
        .to_owned();
    let watched = request(
        &url,
        "GET",
        &format!("{leases}?watch=True&resourceVersion=0&timeoutSeconds=1"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(watched.status, 200);
    assert_eq!(watched.body["type"], "ADDED", "{}", watched.body);
    assert_eq!(watched.body["object"]["metadata"]["resourceVersion"], rv);
    let bad = request(
        &url,
        "GET",
        &format!("{leases}?watch=yes"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["reason"].as_str()),
        (400, Some("BadRequest"))
    );
    let garbage =
        json!({"metadata": {"name": "q"}, "spec": {"renewTime": "yesterday"}}).to_string();
    let refused = request(&url, "POST", leases, "application/json", &garbage).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}

/// The sidecar's Events, through kube-runtime's recorder to the server's `events.k8s.io/v1`: one
/// about the pod (with the UID it was given) and one about the CardanoForgeCluster (whose UID the
/// publisher reads from the server), and a repeat aggregated into a series (a merge patch).
#[tokio::test]
async fn the_sidecars_events_reach_the_events_api_about_the_pod_and_the_cluster() {
    use forge_manager::events::{EventSpec, Regarding, Severity, Targets, publish};
    use k8s_openapi::api::events::v1::Event;
    let srv = start(Options::default()).await;
    install_crds(&srv.url()).await;
    let clusters: Api<CardanoForgeCluster> = Api::namespaced(srv.kube(), "default");
    let created = clusters
        .create(&PostParams::default(), &cluster("pool-east"))
        .await
        .expect("create");
    let targets = Targets::new(
        srv.kube(),
        "default",
        "bp-0",
        Some("pod-uid-1"),
        Some((srv.kube(), "pool-east")),
    );
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let event = |regarding, reason: &'static str, note: &str| EventSpec {
        severity: Severity::Normal,
        reason,
        action: "Promote",
        note: note.into(),
        regarding,
    };
    for e in [
        event(Regarding::Pod, "Promoted", "real keys written"),
        event(
            Regarding::Cluster,
            "HandedOver",
            "handing the global lease over to west",
        ),
        event(Regarding::Pod, "Promoted", "real keys written"),
    ] {
        tx.send(e).await.expect("queue");
    }
    drop(tx);
    let fates = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let counter = std::sync::Arc::clone(&fates);
    let count: forge_manager::events::CountEvent = std::sync::Arc::new(move |result| {
        counter.lock().expect("fates").push(result);
    });
    tokio::time::timeout(Duration::from_secs(10), publish(rx, targets, Some(count)))
        .await
        .expect("the publisher ends when the queue closes");
    assert_eq!(*fates.lock().expect("fates"), ["sent", "sent", "sent"]);
    let events: Api<Event> = Api::namespaced(srv.kube(), "default");
    let all = events
        .list(&ListParams::default())
        .await
        .expect("list")
        .items;
    assert_eq!(all.len(), 2, "{all:#?}");
    let about = |kind: &str| {
        all.iter()
            .find(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some(kind))
            .unwrap_or_else(|| panic!("no Event about a {kind}: {all:#?}"))
    };
    let pod = about("Pod");
    assert_eq!(pod.reason.as_deref(), Some("Promoted"));
    assert_eq!(pod.type_.as_deref(), Some("Normal"));
    assert_eq!(
        pod.reporting_controller.as_deref(),
        Some("cardano.io/forge-manager")
    );
    assert_eq!(pod.reporting_instance.as_deref(), Some("bp-0"));
    let pod_ref = pod.regarding.as_ref().expect("regarding");
    assert_eq!(pod_ref.uid.as_deref(), Some("pod-uid-1"));
    assert_eq!(
        pod.series.as_ref().map(|s| s.count),
        Some(2),
        "the repeat is a series: {pod:#?}"
    );
    let cfc = about("CardanoForgeCluster");
    assert_eq!(cfc.reason.as_deref(), Some("HandedOver"));
    let cfc_ref = cfc.regarding.as_ref().expect("regarding");
    assert_eq!(cfc_ref.name.as_deref(), Some("pool-east"));
    assert!(cfc_ref.uid.is_some());
    assert_eq!(cfc_ref.uid, created.metadata.uid);
}
