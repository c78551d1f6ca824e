//! Applying an [`Action`] to the world: faults, operator changes and restarts, each on the hosts
//! or objects it targets.

use super::*;
use crate::scenario::ApiErrorAnswer;

impl World<'_> {
    /// Applies an action now; `false` if it did nothing (e.g. a crashed pod crashed again).
    pub fn apply(&mut self, action: &Action) -> bool {
        self.apply_to(0, action)
    }

    /// Applies an action to pool `tenant` now: its pods, its CardanoForgeClusters, its leases and
    /// keys (API servers and health endpoints are shared by every pool).
    pub fn apply_to(&mut self, tenant: usize, action: &Action) -> bool {
        let now = self.now();
        match action {
            Action::Partition(a, b) | Action::Heal(a, b) => {
                let cut = matches!(action, Action::Partition(..));
                let mut health_changed = false;
                for (x, y) in [(a, b), (b, a)] {
                    for h in x {
                        let Host::Health(region) = h else { continue };
                        for p in y {
                            if let Host::Pod(id) = p
                                && let Some(pod) = self.pod(tenant, id)
                            {
                                let key = (pod.host.clone(), region.clone());
                                health_changed = true;
                                if cut {
                                    self.health_cuts.borrow_mut().insert(key);
                                } else {
                                    self.health_cuts.borrow_mut().remove(&key);
                                }
                            }
                        }
                    }
                }
                let (a, b) = (self.host_names(tenant, a), self.host_names(tenant, b));
                if health_changed && (a.is_empty() || b.is_empty()) {
                    return true;
                }
                for x in &a {
                    for y in &b {
                        if x == y {
                            continue;
                        }
                        let cut = matches!(action, Action::Partition(..));
                        if cut {
                            self.sim.partition(x.as_str(), y.as_str());
                        } else {
                            self.sim.repair(x.as_str(), y.as_str());
                            self.reset_stale_connections(x, y);
                        }
                        if let Ok(mut p) = self.partitions.lock() {
                            for pair in [(x.clone(), y.clone()), (y.clone(), x.clone())] {
                                if cut {
                                    p.insert(pair);
                                } else {
                                    p.remove(&pair);
                                }
                            }
                        }
                    }
                }
                !a.is_empty() && !b.is_empty()
            }
            Action::Latency(a, b, d) => {
                let (a, b) = (self.host_names(tenant, a), self.host_names(tenant, b));
                for x in &a {
                    for y in &b {
                        if x != y {
                            self.sim.set_link_latency(x.as_str(), y.as_str(), *d);
                        }
                    }
                }
                !a.is_empty() && !b.is_empty()
            }
            Action::Crash(id) => match self.pod(tenant, id) {
                Some(pod) if pod.up.get() => {
                    pod.up.set(false);
                    pod.node.borrow_mut().pod_gone();
                    self.sim.crash(pod.host.as_str());
                    true
                }
                _ => false,
            },
            Action::Restart(ids) => {
                let mut any = false;
                for id in ids {
                    let Some(pod) = self.pod(tenant, id) else {
                        continue;
                    };
                    // Down after a crash or a shutdown (docs/scenarios.md, `restart`): a pod
                    // whose sidecar was told to terminate is replaced too.
                    if pod.up.get() && !pod.shutdown.get() {
                        continue;
                    }
                    any = true;
                    pod.files.clear_dir(Path::new(layout().target_dir));
                    self.mount(&pod);
                    pod.shutdown.set(false);
                    pod.sidecar_exited.set(false);
                    *pod.status.borrow_mut() = None;
                    pod.node.borrow_mut().pod_new();
                    pod.up.set(true);
                    self.sim.bounce(pod.host.as_str());
                }
                any
            }
            Action::Shutdown(id) => match self.pod(tenant, id) {
                Some(pod) if pod.up.get() && !pod.shutdown.get() => {
                    pod.shutdown.set(true);
                    pod.shutdown_signal.notify_waiters();
                    true
                }
                _ => false,
            },
            Action::Pause(id, d) => {
                self.with_pod(tenant, id, |p| p.clock.borrow_mut().pause_sidecar(now + *d))
            }
            Action::Freeze(id, d) => {
                let done = self.with_pod(tenant, id, |p| {
                    let extra = p.clock.borrow_mut().freeze(now, now + *d);
                    p.node.borrow_mut().hold(now, extra);
                });
                if done {
                    self.record_for(
                        tenant,
                        EventKind::Frozen {
                            pod: id.clone(),
                            for_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                        },
                    );
                }
                done
            }
            Action::Skew(id, ms) => self.with_pod(tenant, id, |p| p.clock.borrow_mut().skew(*ms)),
            Action::Drift(id, ppm) => {
                self.with_pod(tenant, id, |p| p.clock.borrow_mut().drift(now, *ppm))
            }
            Action::ApiDown(api) | Action::ApiUp(api) => match self.apis.get(api) {
                Some(s) => {
                    s.faults()
                        .refuse_connections(matches!(action, Action::ApiDown(_)));
                    true
                }
                None => false,
            },
            Action::ApiErrors(api, answer, count) => match self.apis.get(api) {
                Some(s) => {
                    let faults = s.faults();
                    match answer {
                        ApiErrorAnswer::ServerError => faults.fail_next_requests(*count),
                        ApiErrorAnswer::Throttle { retry_after } => {
                            faults.throttle_next_requests(*count, *retry_after);
                        }
                        ApiErrorAnswer::Cut => faults.cut_next_responses(*count),
                    }
                    true
                }
                None => false,
            },
            Action::Health(region, healthy) => {
                let mut h = self.health.borrow_mut();
                match h.get_mut(region) {
                    Some(s) => {
                        s.healthy = *healthy;
                        s.flap = None;
                        true
                    }
                    None => false,
                }
            }
            Action::Flap(region, period, until) => {
                let mut h = self.health.borrow_mut();
                match h.get_mut(region) {
                    Some(s) => {
                        s.flap = Some((*period, *until));
                        s.flap_from = now;
                        true
                    }
                    None => false,
                }
            }
            // A pod that is down keeps the setting for when it comes back (a pod-slot property).
            Action::NodeSlow(id, delay) => match self.pod(tenant, id) {
                Some(pod) => {
                    pod.node.borrow_mut().set_sighup_delay(*delay);
                    true
                }
                None => false,
            },
            Action::NodeRestart(id) => match self.pod(tenant, id) {
                Some(pod) if pod.up.get() && pod.node.borrow().process.is_some() => {
                    let r = pod.node.borrow_mut().restart(now, &pod.files);
                    if let Err(e) = r {
                        self.node_event(&pod, e);
                    }
                    true
                }
                _ => false,
            },
            Action::Patch(region, spec) => {
                self.operator.push(OperatorRequest {
                    host: api_host("global"),
                    method: "PATCH",
                    path: format!(
                        "/apis/cardano.io/v1/namespaces/{NAMESPACE}/cardanoforgeclusters/{}",
                        self.cluster_name_of(tenant, region)
                    ),
                    content_type: "application/merge-patch+json",
                    body: serde_json::json!({ "spec": spec }).to_string(),
                });
                true
            }
            Action::DeleteLease { api, global, force } => {
                let name = if *global {
                    self.global_lease_of(tenant)
                } else {
                    // The region of a local API server; with a shared API, every region's lease.
                    let regions: Vec<String> = if self.spec.shared_api {
                        self.spec.regions.iter().map(|r| r.name.clone()).collect()
                    } else {
                        vec![api.clone()]
                    };
                    for r in &regions[1.min(regions.len())..] {
                        self.queue_delete_lease(api, &self.local_lease_of(tenant, r), *force);
                    }
                    match regions.first() {
                        Some(r) => self.local_lease_of(tenant, r),
                        None => return false,
                    }
                };
                self.queue_delete_lease(api, &name, *force);
                true
            }
            Action::RotateSecret(ids) => {
                let Some(t) = self.tenants.get_mut(tenant) else {
                    return false;
                };
                t.rotations += 1;
                let next = sample_set(&format!("real-{}-rotation-{}", t.pool, t.rotations));
                t.real_fps.insert(next.fingerprint());
                *t.real.borrow_mut() = next.clone();
                let l = layout();
                for id in ids {
                    if let Some(pod) = self.pod(tenant, id) {
                        for f in CredentialFile::ALL {
                            pod.files.put(l.source.get(f), next.get(f), 0o600);
                        }
                    }
                }
                !ids.is_empty()
            }
        }
    }

    /// After a partition between hosts `x` and `y` heals: an API server among them resets its
    /// connections from the other, which may be left open for good by a FIN the partition
    /// dropped (see `Faults::reset_connections_from`); clients reconnect.
    pub(super) fn reset_stale_connections(&self, x: &str, y: &str) {
        for (server_host, peer_host) in [(x, y), (y, x)] {
            if let Some(server) = self
                .apis
                .iter()
                .find_map(|(name, server)| (api_host(name) == server_host).then_some(server))
            {
                server
                    .faults()
                    .reset_connections_from(self.sim.lookup(peer_host));
            }
        }
    }

    pub(super) fn queue_delete_lease(&self, api: &str, name: &str, force: bool) {
        if force {
            // `kubectl patch lease NAME --type=merge -p '{"metadata":{"finalizers":null}}'`
            self.operator.push(OperatorRequest {
                host: api_host(api),
                method: "PATCH",
                path: format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{name}"),
                content_type: "application/merge-patch+json",
                body: r#"{"metadata":{"finalizers":null}}"#.to_owned(),
            });
        }
        self.operator.push(OperatorRequest {
            host: api_host(api),
            method: "DELETE",
            path: format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{name}"),
            content_type: "application/json",
            body: String::new(),
        });
    }

    pub(super) fn with_pod(&self, tenant: usize, id: &PodId, f: impl FnOnce(&PodState)) -> bool {
        match self.pod(tenant, id) {
            Some(p) if p.up.get() => {
                f(&p);
                true
            }
            _ => false,
        }
    }
}
