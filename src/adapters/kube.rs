//! The `Kube` port over the real `kube` client: Leases with optimistic concurrency, the custom
//! resources' reads and status patches, a timeout on every call, and errors mapped to the port's
//! kinds. The same adapter runs in production (in-cluster or kubeconfig) and in the simulator (a
//! `kube::Client` built over turmoil's network): only the `kube::Client` differs.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent};

use crate::core::lease::{ApiFailure, LeaseRecord};
use crate::core::time::MonoTime;
use crate::crd::{CardanoForgeCluster, CardanoLeader, CardanoLeaderStatus};
use crate::ports::{Kube, KubeError, LeaseWrite, ServerClockSample};

use super::watch_cache::{
    self, Caches, DEFAULT_QUIET_LIMIT, Scope, Trouble, WatchCache, WatchSettings,
};

/// Where the [`DateLayer`] leaves the last `Date` header it saw, and when it arrived.
#[derive(Clone, Debug, Default)]
pub struct DateSlot(Arc<Mutex<Option<(jiff::Timestamp, tokio::time::Instant)>>>);

impl DateSlot {
    fn set(&self, t: jiff::Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((t, tokio::time::Instant::now()));
    }

    /// The last `Date` seen since the previous take, if any.
    pub fn take(&self) -> Option<jiff::Timestamp> {
        self.take_with_age().map(|(t, _)| t)
    }

    /// The last `Date` seen since the previous take, and how long ago it arrived: a watch's
    /// answer may have left it there minutes before the next request takes it.
    pub fn take_with_age(&self) -> Option<(jiff::Timestamp, Duration)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .map(|(t, at)| (t, at.elapsed()))
    }
}

/// A tower layer that records the `Date` header of every response: the API server's clock, which
/// judges wall-clock deadlines people write (an override's `expiresAt`), not the pod's own.
#[derive(Clone, Debug, Default)]
pub struct DateLayer {
    slot: DateSlot,
}

impl DateLayer {
    /// A layer writing into `slot`.
    pub fn new(slot: DateSlot) -> Self {
        DateLayer { slot }
    }
}

impl<S> tower::Layer<S> for DateLayer {
    type Service = DateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DateService {
            inner,
            slot: self.slot.clone(),
        }
    }
}

/// The service [`DateLayer`] wraps around the client's stack.
#[derive(Clone, Debug)]
pub struct DateService<S> {
    inner: S,
    slot: DateSlot,
}

impl<S, Req, B> tower::Service<Req> for DateService<S>
where
    S: tower::Service<Req, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let slot = self.slot.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            if let Some(date) = resp
                .headers()
                .get(http::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| jiff::fmt::rfc2822::parse(s).ok())
            {
                slot.set(date.timestamp());
            }
            Ok(resp)
        })
    }
}

/// A monotonic clock reading, for stamping server-clock samples (the pod's own clock; not `Send`:
/// the loop runs on one thread, and the simulator's pod clocks are `Rc`).
pub type MonoFn = std::rc::Rc<dyn Fn() -> MonoTime>;

/// The `Kube` port over one API server and one namespace.
#[derive(Clone)]
pub struct KubeAdapter {
    /// For messages: every request names the object it was about.
    namespace: String,
    leases: Api<Lease>,
    clusters: Api<CardanoForgeCluster>,
    leaders: Api<CardanoLeader>,
    timeout: Duration,
    dates: DateSlot,
    mono: MonoFn,
    sample: Arc<Mutex<Option<ServerClockSample>>>,
    /// Leases kept by watches, by name (see [`super::watch_cache`]).
    lease_caches: Arc<Caches<Lease>>,
    /// CardanoForgeCluster lists kept by watches, by label selector.
    cluster_caches: Arc<Caches<CardanoForgeCluster>>,
    /// Varies how long each watch asks to stay open (client-go spreads its watches too).
    spread: u64,
    /// Whether reads go through watch caches (off: every read is a request).
    cached: bool,
    /// How long a lease watch may stay silent (see [`KubeAdapter::with_lease_quiet_limit`]).
    lease_quiet_limit: Duration,
    /// What a failing watch calls: every watch of this adapter starts over. It holds the caches
    /// weakly (the watch tasks must not keep them alive).
    trouble: Trouble,
}

impl std::fmt::Debug for KubeAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeAdapter")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KubeAdapter {
    /// An adapter over `client` (whose stack should include a [`DateLayer`] writing `dates`) for
    /// `namespace`; every call is bounded by `timeout`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        timeout: Duration,
        dates: DateSlot,
        mono: MonoFn,
    ) -> Self {
        let spread = mono().0;
        let lease_caches: Arc<Caches<Lease>> = Arc::default();
        let cluster_caches: Arc<Caches<CardanoForgeCluster>> = Arc::default();
        let trouble: Trouble = {
            let leases = Arc::downgrade(&lease_caches);
            let clusters = Arc::downgrade(&cluster_caches);
            Arc::new(move || {
                if let Some(c) = leases.upgrade() {
                    c.restart_all();
                }
                if let Some(c) = clusters.upgrade() {
                    c.restart_all();
                }
            })
        };
        KubeAdapter {
            namespace: namespace.to_owned(),
            leases: Api::namespaced(client.clone(), namespace),
            clusters: Api::namespaced(client.clone(), namespace),
            leaders: Api::namespaced(client, namespace),
            timeout,
            dates,
            mono,
            sample: Arc::new(Mutex::new(None)),
            lease_caches,
            cluster_caches,
            spread,
            cached: true,
            lease_quiet_limit: DEFAULT_QUIET_LIMIT,
            trouble,
        }
    }

    /// How long a lease's watch may go without an event before it is opened again: a held lease
    /// is renewed every retry period, so a watch silent for two of them has most likely lost its
    /// connection without a word (a partition drops a stream silently), and a standby on it would
    /// miss a release. Opening it again from the version it reached costs one request and replays
    /// what was missed.
    pub fn with_lease_quiet_limit(mut self, limit: Duration) -> Self {
        self.lease_quiet_limit = limit;
        self
    }

    fn watch_settings(&self, quiet_limit: Duration) -> WatchSettings {
        WatchSettings {
            request_timeout: self.timeout,
            quiet_limit,
            spread: self.spread,
        }
    }

    /// The same adapter with every read sent to the API server, none kept by a watch: for tests
    /// of single requests, and tools that read once.
    pub fn without_watch_caches(mut self) -> Self {
        self.cached = false;
        self
    }

    /// The watch cache of lease `name`, started on first use (`None` without caches).
    fn lease_cache(&self, name: &str) -> Option<Arc<WatchCache<Lease>>> {
        self.cached.then(|| {
            self.lease_caches.get(
                &self.leases,
                &Scope::Named(name.to_owned()),
                self.watch_settings(self.lease_quiet_limit),
                &self.trouble,
            )
        })
    }

    /// A reader of the latest server-clock sample this adapter (and its clones) took, for the
    /// journal (records carry it so `journal timeline` can align pods' wall clocks).
    pub fn server_clock_reader(&self) -> impl Fn() -> Option<ServerClockSample> + 'static {
        let sample = Arc::clone(&self.sample);
        move || {
            *sample
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    /// A client as kube-rs tools build one: in-cluster configuration, else the kubeconfig
    /// (`KUBECONFIG`, `~/.kube/config`), or the kubeconfig at `kubeconfig` when given. Its stack
    /// records `Date` headers into the returned slot.
    pub async fn client(
        kubeconfig: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<(kube::Client, DateSlot), kube::Error> {
        let mut config = match kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(kube::Error::InferKubeconfig)?;
                kube::Config::from_custom_kubeconfig(
                    kc,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(kube::Error::InferKubeconfig)?
            }
            None => kube::Config::infer()
                .await
                .map_err(kube::Error::InferConfig)?,
        };
        config.connect_timeout = Some(timeout);
        // No read timeout on the connection: it would end every watch that has been quiet that
        // long (a standby's lease watch, open for minutes). Each request is bounded by `timeout`
        // in `call`, each watch by its own deadline.
        config.read_timeout = None;
        config.write_timeout = Some(timeout);
        let dates = DateSlot::default();
        let client = kube::client::ClientBuilder::try_from(config)?
            .with_layer(&DateLayer::new(dates.clone()))
            .build();
        Ok((client, dates))
    }

    /// Waits for lease `name` to move past `resource_version` by a watch of its own, for when the
    /// watch cache is out of sync (or there is none).
    async fn watch_once(
        &self,
        name: &str,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<Option<LeaseRecord>, KubeError> {
        // The server counts `timeoutSeconds` in whole seconds. Asking for more than the caller's
        // wait would move when a standby wakes; asking for less (a 1.9 s wait asks for 1 s) lets
        // the server end the watch early. So a watch the server ended without a change, after it
        // kept it open for what we asked, is opened again from the same resourceVersion for the
        // rest of the wait, as client-go's reflector does: otherwise the standby would take the
        // end for a failure and sleep out the rest blind (soak seed 2160, docs/chaos.md). A watch
        // that ends much sooner than asked is a failure (no loop against a server that closes at
        // once).
        let deadline = tokio::time::Instant::now() + timeout;
        let watch = async {
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let secs = u32::try_from(left.as_secs().max(1)).unwrap_or(u32::MAX);
                let params = watch_cache::watch_params(&Scope::Named(name.to_owned()), secs);
                let opened = tokio::time::Instant::now();
                let stream = self.leases.watch(&params, resource_version).await?;
                let mut stream = std::pin::pin!(stream.into_stream());
                while let Some(event) = stream.next().await {
                    match event? {
                        WatchEvent::Added(l) | WatchEvent::Modified(l) => {
                            if l.metadata.resource_version.as_deref() != Some(resource_version) {
                                return Ok(Some(record_of(&l)));
                            }
                        }
                        WatchEvent::Deleted(_) => return Ok(None),
                        WatchEvent::Bookmark(_) => {}
                        WatchEvent::Error(e) => {
                            return Err(kube::Error::Api(Box::new(
                                kube::core::Status::failure(&e.message, &e.reason)
                                    .with_code(e.code),
                            )));
                        }
                    }
                }
                // A tenth off for a server clock that runs a little fast.
                let honoured = opened.elapsed() >= Duration::from_secs(u64::from(secs)) * 9 / 10;
                if !honoured || tokio::time::Instant::now() >= deadline {
                    return Err(kube::Error::Service("watch ended without a change".into()));
                }
            }
        };
        let request = self.request("WATCH", "Lease", name);
        match tokio::time::timeout(timeout + self.timeout, watch).await {
            Ok(r) => r.map_err(|e| classify_request(&request, e)),
            Err(_) => Err(KubeError::new(
                ApiFailure::Unreachable,
                format!("{request}: watch timed out"),
            )),
        }
    }

    /// Keeps the lease's watch cache in step with a write of ours (`base`: the version it
    /// replaced, `None` for a create): taken at once when it follows the cached version; a
    /// refused (409) or vanished (404) base means the cache is behind.
    fn note_write(
        &self,
        name: &str,
        base: Option<&str>,
        result: Result<Lease, KubeError>,
    ) -> Result<LeaseRecord, KubeError> {
        let Some(cache) = self.lease_caches.existing(&Scope::Named(name.to_owned())) else {
            return result.map(|l| record_of(&l));
        };
        match &result {
            Ok(l) => {
                if cache.wrote(base, l) {
                    self.restart_watches();
                }
            }
            Err(e) if matches!(e.kind, ApiFailure::Conflict | ApiFailure::NotFound) => {
                cache.invalidate();
            }
            Err(_) => {}
        }
        result.map(|l| record_of(&l))
    }

    /// `VERB Kind namespace/name`, for the message of a failed request.
    fn request(&self, verb: &str, kind: &str, name: &str) -> String {
        format!("{verb} {kind} {}/{name}", self.namespace)
    }

    /// Runs one call under the timeout and records the server clock it revealed. A failure's
    /// message names `request` (see [`Self::request`]).
    async fn call<T>(
        &self,
        request: String,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, KubeError> {
        // A call abandoned by its caller's deadline got no answer either.
        let in_flight = InFlight(self);
        let result = tokio::time::timeout(self.timeout, fut).await;
        std::mem::forget(in_flight);
        if let Some((server_time, age)) = self.dates.take_with_age() {
            let received_at = (self.mono)() - age;
            *self
                .sample
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ServerClockSample {
                server_time,
                received_at,
            });
        }
        let result = match result {
            Ok(r) => r.map_err(|e| classify_request(&request, e)),
            Err(_) => Err(KubeError::new(
                ApiFailure::Unreachable,
                format!("{request}: no answer within {:?}", self.timeout),
            )),
        };
        if result
            .as_ref()
            .is_err_and(|e| e.kind == ApiFailure::Unreachable)
        {
            self.restart_watches();
        }
        result
    }

    /// The watches of this adapter share its connection to the API server: when a request gets no
    /// answer, or a write of ours does not come through a watch in time, they may be dead without a
    /// word (a partition drops a stream silently). Each starts over from a read; until then reads
    /// go to the API server.
    fn restart_watches(&self) {
        (self.trouble)();
    }
}

/// Restarts the adapter's watches if dropped: a call abandoned before its answer.
struct InFlight<'a>(&'a KubeAdapter);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.restart_watches();
    }
}

/// [`classify`], with a message that names the request and says what its failure was in an
/// operator's words (a proxy's HTML page is not "expected value at line 1").
pub fn classify_request(request: &str, e: kube::Error) -> KubeError {
    let what = describe(&e);
    let mut error = classify(e);
    error.message = format!("{request}: {what}");
    error
}

/// Longest part of a server's body quoted in a message.
const QUOTE_MAX: usize = 160;

/// What a client error says, in words.
pub fn describe(e: &kube::Error) -> String {
    let quote = |text: &str| {
        let text = text.trim();
        match text.char_indices().nth(QUOTE_MAX) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_owned(),
        }
    };
    match e {
        kube::Error::Api(s) if s.reason == "Failed to parse error data" => format!(
            "HTTP {} with a body that is not a Kubernetes Status (a proxy or load balancer \
             answering instead of the API server?): {}",
            s.code,
            quote(&s.message)
        ),
        kube::Error::Api(s) => {
            let reason = if s.reason.is_empty() {
                String::new()
            } else {
                format!(" {}", s.reason)
            };
            format!("HTTP {}{reason}: {}", s.code, quote(&s.message))
        }
        kube::Error::SerdeError(err) => format!(
            "an answer that is not the Kubernetes object asked for ({err}): a proxy or a broken \
             API server in between?"
        ),
        kube::Error::HyperError(err) => {
            format!("no answer (connection refused, reset or closed): {err}")
        }
        kube::Error::Service(err) => format!("no answer: {err}"),
        other => other.to_string(),
    }
}

/// Maps a client error to the port's kinds.
pub fn classify(e: kube::Error) -> KubeError {
    let kind = match &e {
        kube::Error::Api(s) => match s.code {
            409 => ApiFailure::Conflict,
            404 => ApiFailure::NotFound,
            400 | 422 => ApiFailure::Invalid,
            408 | 429 | 502..=504 => ApiFailure::Unreachable,
            _ => ApiFailure::Server,
        },
        kube::Error::SerdeError(_)
        | kube::Error::FromUtf8(_)
        | kube::Error::LinesCodecMaxLineLengthExceeded => ApiFailure::Invalid,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            ApiFailure::Unreachable
        }
        _ => ApiFailure::Server,
    };
    KubeError::caused_by(kind, e)
}

/// A Lease as the core sees it.
pub fn record_of(lease: &Lease) -> LeaseRecord {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseRecord {
        name: lease.metadata.name.clone().unwrap_or_default(),
        holder: spec.holder_identity.filter(|h| !h.is_empty()),
        lease_duration_seconds: spec.lease_duration_seconds,
        acquire_time: spec.acquire_time.map(|t| t.0.to_string()),
        renew_time: spec.renew_time.map(|t| t.0.to_string()),
        lease_transitions: spec.lease_transitions.unwrap_or(0),
        resource_version: lease.metadata.resource_version.clone().unwrap_or_default(),
        terminating: lease.metadata.deletion_timestamp.is_some(),
        finalizers: lease.metadata.finalizers.clone().unwrap_or_default(),
    }
}

/// The Lease object a write asks for.
pub fn lease_of(w: &LeaseWrite) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(w.name.clone()),
            resource_version: (!w.resource_version.is_empty()).then(|| w.resource_version.clone()),
            finalizers: (!w.finalizers.is_empty()).then(|| w.finalizers.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            // A released lease carries an empty holder, as client-go and the old sidecar read it.
            holder_identity: Some(w.holder.clone().unwrap_or_default()),
            lease_duration_seconds: Some(w.lease_duration_seconds),
            acquire_time: w.acquire_time.map(MicroTime),
            renew_time: w.renew_time.map(MicroTime),
            lease_transitions: Some(w.lease_transitions),
            ..LeaseSpec::default()
        }),
    }
}

impl Kube for KubeAdapter {
    async fn get_lease(&self, name: &str) -> Result<LeaseRecord, KubeError> {
        match self.lease_cache(name).and_then(|c| c.get(name)) {
            Some(Some(lease)) => return Ok(record_of(&lease)),
            Some(None) => {
                return Err(KubeError::new(
                    ApiFailure::NotFound,
                    format!(
                        "{}: not found (watched)",
                        self.request("GET", "Lease", name)
                    ),
                ));
            }
            None => {}
        }
        self.call(self.request("GET", "Lease", name), self.leases.get(name))
            .await
            .map(|l| record_of(&l))
    }

    async fn create_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        let obj = lease_of(lease);
        let result = self
            .call(
                self.request("POST", "Lease", &lease.name),
                self.leases.create(&PostParams::default(), &obj),
            )
            .await;
        self.note_write(&lease.name, None, result)
    }

    async fn replace_lease(&self, lease: &LeaseWrite) -> Result<LeaseRecord, KubeError> {
        let obj = lease_of(lease);
        let result = self
            .call(
                self.request("PUT", "Lease", &lease.name),
                self.leases
                    .replace(&lease.name, &PostParams::default(), &obj),
            )
            .await;
        self.note_write(&lease.name, Some(&lease.resource_version), result)
    }

    async fn watch_lease(
        &self,
        name: &str,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<Option<LeaseRecord>, KubeError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let Some(cache) = self.lease_cache(name) else {
            return self.watch_once(name, resource_version, timeout).await;
        };
        let mut changed = cache.subscribe();
        // A cache in sync answers (no request); one out of sync hands over to a watch of our own.
        while let Some(now) = cache.get(name) {
            match now {
                Some(l) if l.metadata.resource_version.as_deref() != Some(resource_version) => {
                    return Ok(Some(record_of(&l)));
                }
                Some(_) => {}
                None => return Ok(None),
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    return Err(KubeError::new(
                        ApiFailure::Unreachable,
                        format!(
                            "{}: no change within {timeout:?} (watched)",
                            self.request("WATCH", "Lease", name)
                        ),
                    ));
                }
            }
        }
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.watch_once(name, resource_version, timeout).await
    }

    async fn get_forge_cluster(&self, name: &str) -> Result<CardanoForgeCluster, KubeError> {
        self.call(
            self.request("GET", "CardanoForgeCluster", name),
            self.clusters.get(name),
        )
        .await
    }

    async fn list_forge_clusters(
        &self,
        label_selector: &str,
    ) -> Result<Vec<CardanoForgeCluster>, KubeError> {
        if self.cached {
            let scope = Scope::Labelled(label_selector.to_owned());
            let cache = self.cluster_caches.get(
                &self.clusters,
                &scope,
                self.watch_settings(DEFAULT_QUIET_LIMIT),
                &self.trouble,
            );
            if let Some(list) = cache.list() {
                return Ok(list);
            }
        }
        let params = if label_selector.is_empty() {
            ListParams::default()
        } else {
            ListParams::default().labels(label_selector)
        };
        let request = format!(
            "LIST CardanoForgeCluster {}/* (labels: {label_selector:?})",
            self.namespace
        );
        self.call(request, self.clusters.list(&params))
            .await
            .map(|l| l.items)
    }

    async fn patch_forge_cluster_status(
        &self,
        name: &str,
        status: &serde_json::Value,
    ) -> Result<(), KubeError> {
        let patch = Patch::Merge(serde_json::json!({ "status": status }));
        self.call(
            self.request("PATCH", "CardanoForgeCluster status", name),
            self.clusters
                .patch_status(name, &PatchParams::default(), &patch),
        )
        .await
        .map(|_| ())
    }

    async fn patch_leader_status(
        &self,
        name: &str,
        status: &CardanoLeaderStatus,
    ) -> Result<(), KubeError> {
        let patch = Patch::Merge(serde_json::json!({ "status": status }));
        self.call(
            self.request("PATCH", "CardanoLeader status", name),
            self.leaders
                .patch_status(name, &PatchParams::default(), &patch),
        )
        .await
        .map(|_| ())
    }

    fn server_clock(&self) -> Option<ServerClockSample> {
        *self
            .sample
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_error_is_classified_and_kept_as_the_source() {
        let cases = [
            (409, ApiFailure::Conflict),
            (404, ApiFailure::NotFound),
            (422, ApiFailure::Invalid),
            (503, ApiFailure::Unreachable),
            (500, ApiFailure::Server),
        ];
        for (code, want) in cases {
            let status = kube::core::Status::failure("refused", "Reason").with_code(code);
            let e = classify(kube::Error::Api(Box::new(status)));
            assert_eq!(e.kind, want, "{code}");
            let source = std::error::Error::source(&e).expect("the client's error is kept");
            assert!(source.to_string().contains("refused"), "{source}");
        }
        let timeout = KubeError::new(ApiFailure::Unreachable, "no answer within 2s");
        assert!(std::error::Error::source(&timeout).is_none());
    }

    /// A failure names the request and says what went wrong in words: a proxy's HTML page, a body
    /// that is not JSON, a Status, a dropped connection.
    #[test]
    fn a_failed_request_is_named_and_explained() {
        let request = "PUT Lease default/cardano-node-leader";
        let html =
            kube::core::Status::failure("<html>proxy error</html>", "Failed to parse error data")
                .with_code(502);
        let garbage = serde_json::from_str::<serde_json::Value>("<html>").expect_err("not JSON");
        let status =
            kube::core::Status::failure("the object has been modified", "Conflict").with_code(409);
        let cases = [
            (
                kube::Error::Api(Box::new(html)),
                ApiFailure::Unreachable,
                "HTTP 502 with a body that is not a Kubernetes Status",
            ),
            (
                kube::Error::SerdeError(garbage),
                ApiFailure::Invalid,
                "not the Kubernetes object asked for",
            ),
            (
                kube::Error::Api(Box::new(status)),
                ApiFailure::Conflict,
                "HTTP 409 Conflict: the object has been modified",
            ),
            (
                kube::Error::Service("connection reset".into()),
                ApiFailure::Unreachable,
                "no answer: connection reset",
            ),
        ];
        for (e, kind, words) in cases {
            let e = classify_request(request, e);
            assert_eq!(e.kind, kind, "{e}");
            assert!(e.message.starts_with(request), "{e}");
            assert!(e.message.contains(words), "{e}");
        }
        let long = kube::core::Status::failure(&"x".repeat(10_000), "").with_code(500);
        let e = classify_request(request, kube::Error::Api(Box::new(long)));
        assert!(
            e.message.len() < 400,
            "a long body is cut: {} bytes",
            e.message.len()
        );
    }
}
