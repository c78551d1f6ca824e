"""Protocol conformance of the test API server, driven by the official Python kubernetes client.

The calls are the ones the old Python sidecar makes (leases: read, create, patch, replace with a
stale version, delete; CardanoLeader and CardanoForgeCluster: get, create, list, watch, status
get and merge patch), plus what they rely on: the Python client's `watch=True`, MicroTime
normalised the way Kubernetes does, 404 and 409 as ApiException, a watch from a compacted
resourceVersion answered with 410, BOOKMARK events only when asked for; paged lists (limit and
continue, as client-go's pager and kubectl make them), consistent across pages, and the 410s of a
compacted continue token or exact list.

Usage: conformance.py URL CRD_DIR. Prints one line per check and `conformance: N checks passed`;
exits non-zero on the first failure. Run by sim/tests/python_client.rs.
"""

import datetime
import glob
import json
import sys
import threading
import time

import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

NS = "default"
GROUP, VERSION = "cardano.io", "v1"
CHECKS = 0


def check(what, ok, detail=""):
    global CHECKS
    if not ok:
        print(f"FAIL {what}: {detail}", flush=True)
        sys.exit(1)
    CHECKS += 1
    print(f"ok   {what}", flush=True)


def expect_status(what, code, call):
    try:
        call()
    except ApiException as e:
        check(what, e.status == code, f"HTTP {e.status}: {e.body}")
        return json.loads(e.body) if e.body else {}
    check(what, False, f"no error, wanted HTTP {code}")
    return {}


def main(url, crd_dir):
    conf = client.Configuration()
    conf.host = url
    conf.api_key = {"authorization": "Bearer dummy"}
    api = client.ApiClient(conf)
    coord = client.CoordinationV1Api(api)
    custom = client.CustomObjectsApi(api)
    ext = client.ApiextensionsV1Api(api)

    # CRDs, as Helm installs them.
    for path in sorted(glob.glob(f"{crd_dir}/*.yaml")):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    ext.create_custom_resource_definition(doc)
    names = {c.metadata.name for c in ext.list_custom_resource_definition().items}
    check("CRDs created and listed", {"cardanoleaders.cardano.io", "cardanoforgeclusters.cardano.io"} <= names, names)

    # Leases, as the old sidecar writes them: a Python datetime with microseconds and +00:00.
    now = datetime.datetime(2026, 12, 2, 10, 49, 15, 695685, tzinfo=datetime.timezone.utc)
    body = client.V1Lease(
        metadata=client.V1ObjectMeta(name="cardano-node-leader"),
        spec=client.V1LeaseSpec(
            holder_identity="", lease_duration_seconds=15, acquire_time=now, renew_time=now,
            lease_transitions=0,
        ),
    )
    created = coord.create_namespaced_lease(NS, body)
    check("create lease", created.metadata.resource_version not in (None, ""))
    raw = coord.read_namespaced_lease("cardano-node-leader", NS, _preload_content=False)
    stored = json.loads(raw.data)["spec"]["renewTime"]
    check("MicroTime normalised to Z with microseconds", stored == "2026-12-02T10:49:15.695685Z", stored)
    read = coord.read_namespaced_lease("cardano-node-leader", NS)
    check("read lease parses back", read.spec.renew_time == now and read.spec.holder_identity in ("", None), read.spec)
    expect_status("read missing lease is 404", 404, lambda: coord.read_namespaced_lease("nope", NS))
    expect_status("create existing lease is 409", 409, lambda: coord.create_namespaced_lease(NS, body))

    patched = coord.patch_namespaced_lease(
        "cardano-node-leader", NS,
        {"spec": {"holderIdentity": "bp-0", "renewTime": "2026-12-02T10:49:16.000001+00:00"}},
    )
    check("merge-patch lease", patched.spec.holder_identity == "bp-0")
    check("patch bumps resourceVersion", patched.metadata.resource_version != created.metadata.resource_version)
    stale = coord.read_namespaced_lease("cardano-node-leader", NS)
    stale.metadata.resource_version = created.metadata.resource_version
    stale.spec.holder_identity = "bp-1"
    expect_status("replace with a stale resourceVersion is 409", 409,
                  lambda: coord.replace_namespaced_lease("cardano-node-leader", NS, stale))
    fresh = coord.read_namespaced_lease("cardano-node-leader", NS)
    fresh.spec.holder_identity = "bp-1"
    replaced = coord.replace_namespaced_lease("cardano-node-leader", NS, fresh)
    check("replace with the current resourceVersion", replaced.spec.holder_identity == "bp-1")
    listed = coord.list_namespaced_lease(NS, field_selector="metadata.name=cardano-node-leader")
    check("list leases by field selector", [l.metadata.name for l in listed.items] == ["cardano-node-leader"])

    # CardanoLeader: pre-created by Helm; the sidecar gets and merge-patches its status.
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, "cardanoleaders", {
        "apiVersion": "cardano.io/v1", "kind": "CardanoLeader",
        "metadata": {"name": "cardano-leader"}, "spec": {}, "status": {},
    })
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, NS, "cardanoleaders", "cardano-leader", {
        "status": {"leaderPod": "bp-1", "forgingEnabled": True,
                   "lastTransitionTime": "2026-12-02T10:49:16.000000+00:00"},
    })
    status = custom.get_namespaced_custom_object_status(GROUP, VERSION, NS, "cardanoleaders", "cardano-leader")
    check("CardanoLeader status patched and read", status["status"]["leaderPod"] == "bp-1"
          and status["status"]["forgingEnabled"] is True, status.get("status"))
    expect_status("status of a missing CardanoLeader is 404", 404,
                  lambda: custom.get_namespaced_custom_object_status(GROUP, VERSION, NS, "cardanoleaders", "missing"))

    # CardanoForgeCluster: created when missing, listed, watched, its status patched.
    cfc = {
        "apiVersion": "cardano.io/v1", "kind": "CardanoForgeCluster",
        "metadata": {"name": "us-east-1-prod"},
        "spec": {"region": "us-east-1", "environment": "production",
                 "clusterIdentifier": "us-east-1-prod", "forgeState": "Priority-based", "priority": 1},
    }
    made = custom.create_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters", cfc)
    check("create CardanoForgeCluster", made["metadata"]["generation"] == 1, made["metadata"])
    bad = dict(cfc, metadata={"name": "bad"}, spec=dict(cfc["spec"], forgeState="Sometimes"))
    expect_status("an invalid forgeState is 422", 422,
                  lambda: custom.create_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters", bad))
    got = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters", "us-east-1-prod")
    check("get CardanoForgeCluster", got["spec"]["priority"] == 1)
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, NS, "cardanoforgeclusters", "us-east-1-prod", {
        "status": {"effectiveState": "Priority-based", "effectivePriority": 1, "activeLeader": "bp-1"},
    })
    got = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters", "us-east-1-prod")
    check("status patch leaves the spec and generation", got["status"]["activeLeader"] == "bp-1"
          and got["metadata"]["generation"] == 1, got)
    listing = custom.list_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters")
    check("list CardanoForgeClusters", [i["metadata"]["name"] for i in listing["items"]] == ["us-east-1-prod"])

    # The old sidecar's watch: list_namespaced_custom_object with watch=True (sent as `True`).
    seen = []

    def change_soon():
        time.sleep(0.3)
        custom.patch_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters", "us-east-1-prod",
                                              {"spec": {"priority": 2}})

    threading.Thread(target=change_soon).start()
    w = watch.Watch()
    started = time.monotonic()
    for event in w.stream(custom.list_namespaced_custom_object, GROUP, VERSION, NS, "cardanoforgeclusters",
                          timeout_seconds=5):
        seen.append((event["type"], event["object"]["spec"]["priority"]))
        if event["type"] == "MODIFIED":
            w.stop()
    check("watch=True streams ADDED then MODIFIED", seen == [("ADDED", 1), ("MODIFIED", 2)], seen)
    check("the watch answered the change, not its timeout", time.monotonic() - started < 4)

    # A watch that ends at its timeout, with nothing to report: an empty stream, no error.
    rv = custom.list_namespaced_custom_object(GROUP, VERSION, NS, "cardanoforgeclusters")["metadata"]["resourceVersion"]
    started = time.monotonic()
    quiet = list(watch.Watch().stream(custom.list_namespaced_custom_object, GROUP, VERSION, NS,
                                      "cardanoforgeclusters", resource_version=rv, timeout_seconds=1))
    took = time.monotonic() - started
    check("a quiet watch ends after timeoutSeconds, without bookmarks it did not ask for", quiet == [] and 0.8 <= took < 3, (quiet, took))

    # Bookmarks only when asked for (the server under test sends one every 200 ms).
    events = []
    for event in watch.Watch().stream(coord.list_namespaced_lease, NS, resource_version=rv,
                                      allow_watch_bookmarks=True, timeout_seconds=1):
        events.append(event["type"])
    check("BOOKMARK events when allowed", events and set(events) == {"BOOKMARK"}, events)

    # A compacted resourceVersion: 410 Gone (the client turns the ERROR event into an exception).
    for i in range(40):
        coord.patch_namespaced_lease("cardano-node-leader", NS, {"spec": {"leaseTransitions": i + 1}})
    try:
        list(watch.Watch().stream(coord.list_namespaced_lease, NS, resource_version="1", timeout_seconds=1))
        check("a watch from a compacted resourceVersion is 410", False, "no error")
    except ApiException as e:
        check("a watch from a compacted resourceVersion is 410", e.status == 410, f"HTTP {e.status}: {e.reason}")

    # Paged lists, as client-go's pager and kubectl (limit=500) make them: a consistent snapshot
    # across pages, a compacted continue token answered 410 with a token that goes on at the
    # current state, and an exact list of a compacted version answered 410.
    for name in ("page-a", "page-b", "page-c"):
        coord.create_namespaced_lease(NS, {"metadata": {"name": name}, "spec": {"holderIdentity": name}})
    first = coord.list_namespaced_lease(NS, limit=2)
    names = [l.metadata.name for l in first.items]
    check("a page of two, in key order, with a continue token and the count left",
          names == ["cardano-node-leader", "page-a"] and first.metadata._continue
          and first.metadata.remaining_item_count == 2, (names, first.metadata))
    coord.delete_namespaced_lease("page-c", NS)
    second = coord.list_namespaced_lease(NS, limit=2, _continue=first.metadata._continue)
    names = [l.metadata.name for l in second.items]
    check("the next page is the first page's snapshot (a lease deleted since is still in it)",
          names == ["page-b", "page-c"] and not second.metadata._continue
          and second.metadata.resource_version == first.metadata.resource_version,
          (names, second.metadata))
    exact = coord.list_namespaced_lease(NS, resource_version=first.metadata.resource_version,
                                        resource_version_match="Exact")
    check("an exact list answers the old state",
          len(exact.items) == 4 and exact.metadata.resource_version == first.metadata.resource_version,
          exact.metadata)
    first = coord.list_namespaced_lease(NS, limit=1)
    for i in range(40):
        coord.patch_namespaced_lease("page-a", NS, {"spec": {"leaseTransitions": i + 1}})
    body = expect_status("a compacted continue token is 410", 410,
                         lambda: coord.list_namespaced_lease(NS, limit=1, _continue=first.metadata._continue))
    check("its Status says why and hands back a token", body.get("reason") == "Expired"
          and "too old to display a consistent list" in body.get("message", "")
          and body.get("metadata", {}).get("continue"), body)
    rest = coord.list_namespaced_lease(NS, _continue=body["metadata"]["continue"])
    check("the handed-back token lists the rest at the current state",
          [l.metadata.name for l in rest.items] == ["page-a", "page-b"], [l.metadata.name for l in rest.items])
    body = expect_status("an exact list of a compacted version is 410", 410,
                         lambda: coord.list_namespaced_lease(NS, resource_version=first.metadata.resource_version,
                                                             resource_version_match="Exact"))
    check("with Kubernetes' message", body.get("message") == "The resourceVersion for the provided list is too old.", body)
    for name in ("page-a", "page-b"):
        coord.delete_namespaced_lease(name, NS)

    coord.delete_namespaced_lease("cardano-node-leader", NS)
    expect_status("a deleted lease is gone", 404, lambda: coord.read_namespaced_lease("cardano-node-leader", NS))

    print(f"conformance: {CHECKS} checks passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
