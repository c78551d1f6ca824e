//! What the world sees between steps: time, the trace's events, the sampled forging state of every
//! node, and who leads and forges now.

use super::*;

impl World<'_> {
    /// Simulated time now.
    pub fn now(&self) -> Duration {
        self.sim.elapsed()
    }

    pub(super) fn now_ms(&self) -> SimMs {
        u64::try_from(self.now().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records an event now.
    pub fn record(&self, kind: EventKind) {
        self.record_for(0, kind);
    }

    /// Records an event of pool `tenant` now.
    pub(super) fn record_for(&self, tenant: usize, kind: EventKind) {
        let at = self.now_ms();
        if let Some(t) = self.tenants.get(tenant) {
            t.trace.borrow_mut().push(at, kind);
        }
    }

    /// Runs until simulated time `until`.
    pub fn run_until(&mut self, until: Duration) -> Result<(), String> {
        while self.sim.elapsed() < until {
            if self.operator.has_work() && !self.sim.is_host_running(OPERATOR_HOST) {
                self.sim.bounce(OPERATOR_HOST);
            }
            self.sim.step().map_err(|e| e.to_string())?;
            self.after_step();
        }
        Ok(())
    }

    /// Bookkeeping after every tick: node processes, pods that finished, and the trace.
    pub(super) fn after_step(&mut self) {
        let now = self.now();
        for i in 0..self.pods.len() {
            let pod = Rc::clone(&self.pods[i]);
            if pod.sidecar_exited.get() && pod.up.get() {
                // A graceful shutdown completed: the pod is gone.
                pod.up.set(false);
                pod.node.borrow_mut().pod_gone();
                self.sim.crash(pod.host.as_str());
            }
            if !pod.up.get() {
                continue;
            }
            let waiting = matches!(pod.node.borrow().down, node::Down::WaitingForSidecar);
            let standby_ready = pod
                .status
                .borrow()
                .as_ref()
                .is_some_and(|s| s.lock().map(|s| s.standby_ready).unwrap_or(false));
            if waiting && pod.node.borrow().process.is_none() && standby_ready {
                let started = pod.node.borrow_mut().start(now, &pod.files);
                if let Err(e) = started {
                    self.node_event(&pod, e);
                }
            }
            let event = pod.node.borrow_mut().advance(now, &pod.files);
            if let Some(e) = event {
                self.node_event(&pod, e);
            }
        }
        self.sample();
    }

    pub(super) fn node_event(&self, pod: &PodState, e: NodeEvent) {
        let reason = match e {
            NodeEvent::Exited(r) => r,
            NodeEvent::KilledBySighup => "SIGHUP before its handler was installed".into(),
        };
        self.record_for(
            pod.tenant,
            EventKind::NodeExit {
                pod: pod.id.clone(),
                reason,
            },
        );
    }

    /// Who forges, which credential directories are complete, API requests: changes to the trace.
    pub fn sample(&mut self) {
        let now = self.now();
        for i in 0..self.pods.len() {
            let pod = Rc::clone(&self.pods[i]);
            let frozen = pod.clock.borrow().frozen(now);
            // Forging means with its own pool's keys.
            let forging = pod.up.get()
                && !frozen
                && pod.node.borrow().forging_with(now).is_some_and(|fp| {
                    self.tenants
                        .get(pod.tenant)
                        .is_some_and(|t| t.real_fps.contains(fp))
                });
            let generation = pod.files.generation();
            if pod.sampled.replace(Some((forging, generation))) == Some((forging, generation)) {
                continue;
            }
            let key = (pod.tenant, pod.id.clone());
            if self.forging.get(&key) != Some(&forging) {
                self.forging.insert(key.clone(), forging);
                self.record_for(
                    pod.tenant,
                    if forging {
                        EventKind::ForgingStarted {
                            pod: pod.id.clone(),
                        }
                    } else {
                        EventKind::ForgingStopped {
                            pod: pod.id.clone(),
                        }
                    },
                );
            }
            // Files change rarely; look again only when they did.
            if self.files_seen.get(&key) == Some(&generation) {
                continue;
            }
            self.files_seen.insert(key.clone(), generation);
            let l = layout();
            let present = CredentialFile::ALL
                .iter()
                .all(|f| pod.files.contains(l.target.get(*f)));
            if self.credentials.get(&key) != Some(&present) {
                self.credentials.insert(key, present);
                self.record_for(
                    pod.tenant,
                    EventKind::Credentials {
                        pod: pod.id.clone(),
                        present,
                    },
                );
            }
        }
        for (name, server) in &self.apis {
            self.record_lease_changes(name, server.take_lease_changes());
            let served = server.faults().requests_served();
            let before = self.requests.insert(name.clone(), served).unwrap_or(0);
            for _ in before..served {
                self.record(EventKind::ApiRequest {
                    server: name.clone(),
                });
            }
        }
    }

    /// The pod forging now, if exactly one... or the first of several.
    pub fn forger(&self) -> Option<PodId> {
        self.forgers_of(0).into_iter().next()
    }

    /// The pods of pool `tenant` forging now.
    pub fn forgers_of(&self, tenant: usize) -> Vec<PodId> {
        self.forging
            .iter()
            .filter(|((t, _), f)| *t == tenant && **f)
            .map(|((_, p), _)| p.clone())
            .collect()
    }

    /// The pod of `region` holding the region's local lease now, as its API server stores it.
    pub fn leader(&self, region: &str) -> Option<PodId> {
        self.leader_of(0, region)
    }

    /// The pod of pool `tenant` in `region` holding that pool's local lease there now.
    pub fn leader_of(&self, tenant: usize, region: &str) -> Option<PodId> {
        let server = self.apis.get(&self.local_api(region))?;
        let holder = server.lease_holder(NAMESPACE, &self.local_lease_of(tenant, region))?;
        self.pods
            .iter()
            .find(|p| p.tenant == tenant && p.name == holder)
            .map(|p| p.id.clone())
    }

    /// Every pod of a region (of the first pool).
    pub fn region_pods(&self, region: &str) -> Vec<PodId> {
        self.pods
            .iter()
            .filter(|p| p.tenant == 0 && p.id.region == region)
            .map(|p| p.id.clone())
            .collect()
    }

    pub(super) fn host_names(&self, tenant: usize, hosts: &[Host]) -> Vec<String> {
        hosts
            .iter()
            .filter_map(|h| match h {
                Host::Pod(p) => self.pod(tenant, p).map(|p| p.host.clone()),
                Host::Api(a) => Some(api_host(a)),
                // Health endpoints are probed in-process; a partition to one is modelled by the
                // health checker (cluster-wide forging).
                Host::Health(_) => None,
            })
            .collect()
    }
}
