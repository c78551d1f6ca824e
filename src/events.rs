//! Kubernetes Events: what an operator sees in `kubectl describe pod` and `kubectl describe cfc`
//! (and `kubectl get events`) when forging moves.
//!
//! It owns three things, kept apart so the first two are pure and tested with tables:
//! - **which** decisions are worth an Event ([`events_of`]): a promotion, a demotion, self-fencing,
//!   rejected credentials, a handover, an override applied or ended;
//! - **how many** reach the API server ([`SpamFilter`]): client-go's event recorder rule, a token
//!   bucket per object (burst 25, one more every 5 minutes), so a flapping pod cannot flood etcd;
//! - **sending** them off the control loop ([`EventRecorder`] queues without waiting; [`publish`]
//!   sends in the background through kube-runtime's recorder, `events.k8s.io/v1` with series
//!   aggregation). A lost Event costs nothing but the Event: forging never waits on one.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::cluster::ClusterAction;
use crate::core::election::{Action, Role};
use crate::core::reason::Reason;
use crate::core::time::MonoTime;
use crate::report::{ClusterStep, Recorder, TickRecord};

/// Normal or Warning, as Kubernetes shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Expected operation: a promotion, a planned handover.
    Normal,
    /// Needs a look: self-fencing, rejected credentials, a demotion forced by a fault.
    Warning,
}

/// Which object an Event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Regarding {
    /// This pod.
    Pod,
    /// Our region's CardanoForgeCluster.
    Cluster,
}

/// One Event to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// Normal or Warning.
    pub severity: Severity,
    /// `PascalCase` reason (`kubectl describe`'s Reason column).
    pub reason: &'static str,
    /// What was done (`events.k8s.io` `action`).
    pub action: &'static str,
    /// The decision's sentence.
    pub note: String,
    /// The object it is about.
    pub regarding: Regarding,
}

impl EventSpec {
    fn new(
        severity: Severity,
        reason: &'static str,
        action: &'static str,
        note: &str,
        regarding: Regarding,
    ) -> Self {
        EventSpec {
            severity,
            reason,
            action,
            note: note.to_owned(),
            regarding,
        }
    }
}

/// What the recorder remembers between decisions to see transitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// The last decision's reason.
    reason: Option<Reason>,
    /// Whether an override decided our region's policy at the last round.
    override_active: Option<bool>,
}

/// The Events one decision (and the cross-region rounds before it) is worth. `cluster`: whether
/// a CardanoForgeCluster exists to attach region-level Events to.
pub fn events_of(t: &TickRecord<'_>, seen: &mut Seen, cluster: bool) -> Vec<EventSpec> {
    let d = t.decision;
    let mut out = Vec::new();
    let both = |out: &mut Vec<EventSpec>, e: EventSpec| {
        if cluster {
            out.push(EventSpec {
                regarding: Regarding::Cluster,
                ..e.clone()
            });
        }
        out.push(e);
    };
    for step in t.cluster {
        cluster_events(step, seen, &mut out);
    }
    for r in t.results.iter().filter(|r| r.ok) {
        match r.action {
            Action::Promote => both(
                &mut out,
                EventSpec::new(
                    Severity::Normal,
                    "Promoted",
                    "Promote",
                    &d.message,
                    Regarding::Pod,
                ),
            ),
            Action::Demote { .. } => {
                // A demotion forced by a fault (a lost or unrenewable lease, a node or credential
                // problem) needs a look; a planned one (policy, shutdown) does not.
                let planned = matches!(
                    d.reason,
                    Reason::Demoting | Reason::PolicyDisallows | Reason::ShuttingDown
                ) && d.role != Role::Fenced;
                let severity = if planned {
                    Severity::Normal
                } else {
                    Severity::Warning
                };
                both(
                    &mut out,
                    EventSpec::new(severity, "Demoted", "Demote", &d.message, Regarding::Pod),
                );
            }
            _ => {}
        }
    }
    let changed = seen.reason != Some(d.reason);
    if changed {
        match d.reason {
            Reason::RenewDeadlineExceeded | Reason::GlobalLeaseFenced => out.push(EventSpec::new(
                Severity::Warning,
                "SelfFenced",
                "Fence",
                &d.message,
                Regarding::Pod,
            )),
            Reason::CredentialsInvalid => out.push(EventSpec::new(
                Severity::Warning,
                "CredentialsRejected",
                "ValidateCredentials",
                &d.message,
                Regarding::Pod,
            )),
            _ => {}
        }
    }
    seen.reason = Some(d.reason);
    out
}

/// Region-level Events of one cross-region round: a handover, an override applied or ended.
fn cluster_events(step: &ClusterStep, seen: &mut Seen, out: &mut Vec<EventSpec>) {
    let d = &step.decision;
    if d.actions
        .iter()
        .any(|a| matches!(a, ClusterAction::Handoff { .. }))
    {
        out.push(EventSpec::new(
            Severity::Normal,
            "HandedOver",
            "Handoff",
            &d.message,
            Regarding::Cluster,
        ));
    }
    let active = d
        .ranking
        .effective
        .get(&step.obs.region)
        .map(|e| e.override_active);
    if let (Some(before), Some(now)) = (seen.override_active, active)
        && before != now
    {
        let (reason, note) = if now {
            (
                "OverrideApplied",
                "an override now decides this region's policy",
            )
        } else {
            (
                "OverrideEnded",
                "the override no longer applies (expired or removed)",
            )
        };
        out.push(EventSpec::new(
            Severity::Normal,
            reason,
            "Override",
            &format!("{note}: {}", d.message),
            Regarding::Cluster,
        ));
    }
    if active.is_some() {
        seen.override_active = active;
    }
}

/// client-go's `EventSourceObjectSpamFilter`: per object, a bucket of [`SpamFilter::BURST`]
/// tokens refilled one every [`SpamFilter::REFILL`]. An Event without a token is dropped (and
/// counted).
#[derive(Clone, Debug, Default)]
pub struct SpamFilter {
    buckets: BTreeMap<Regarding, (f64, MonoTime)>,
    /// Events dropped so far.
    pub dropped: u64,
}

impl SpamFilter {
    /// Tokens a fresh object has (client-go: 25).
    pub const BURST: f64 = 25.0;
    /// One token back per this long (client-go: 5 minutes).
    pub const REFILL: Duration = Duration::from_secs(300);

    /// Whether an Event about `regarding` may go out at `now` (takes a token if so).
    pub fn allow(&mut self, regarding: Regarding, now: MonoTime) -> bool {
        let (tokens, at) = self.buckets.entry(regarding).or_insert((Self::BURST, now));
        let refilled = now.since(*at).as_secs_f64() / Self::REFILL.as_secs_f64();
        *tokens = (*tokens + refilled).min(Self::BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// Most Events waiting to be sent; beyond it new ones are dropped (an API server that does not
/// answer must not grow the sidecar's memory).
pub const QUEUE_MAX: usize = 64;

/// Where an Event ended: `queued`, `dropped_rate_limited` (the spam filter), `dropped_queue_full`
/// (the API server is not taking them), then `sent` or `failed` (the write was refused or
/// unanswered). Counted by `cardano_kubernetes_events_total{result}`.
pub type CountEvent = std::sync::Arc<dyn Fn(&'static str) + Send + Sync>;

/// A [`Recorder`] that turns decisions into Events and queues them, never waiting.
pub struct EventRecorder {
    queue: tokio::sync::mpsc::Sender<EventSpec>,
    seen: Seen,
    filter: SpamFilter,
    cluster: bool,
    count: Option<CountEvent>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("seen", &self.seen)
            .field("filter", &self.filter)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl EventRecorder {
    /// A recorder and the receiving end [`publish`] drains; `cluster`: whether region-level
    /// Events have a CardanoForgeCluster to go to.
    pub fn new(cluster: bool) -> (Self, tokio::sync::mpsc::Receiver<EventSpec>) {
        let (queue, rx) = tokio::sync::mpsc::channel(QUEUE_MAX);
        let recorder = EventRecorder {
            queue,
            seen: Seen::default(),
            filter: SpamFilter::default(),
            cluster,
            count: None,
        };
        (recorder, rx)
    }

    /// Counts every Event's fate through `count` (the metrics).
    pub fn counting(mut self, count: CountEvent) -> Self {
        self.count = Some(count);
        self
    }

    fn counted(&self, result: &'static str) {
        if let Some(count) = &self.count {
            count(result);
        }
    }

    /// A second way into the queue, for Events that do not come from decisions (the watchdog's
    /// firings, [`report_watchdog_firings`]).
    pub fn sender(&self) -> tokio::sync::mpsc::Sender<EventSpec> {
        self.queue.clone()
    }

    /// Events that the spam filter or a full queue dropped.
    pub fn dropped(&self) -> u64 {
        self.filter.dropped
    }

    fn send(&mut self, events: Vec<EventSpec>, wall: jiff::Timestamp) {
        // The filter's clock: wall milliseconds, as client-go's (a jump only refills early).
        let now = MonoTime(u64::try_from(wall.as_millisecond()).unwrap_or(0));
        for e in events {
            if !self.filter.allow(e.regarding, now) {
                self.counted("dropped_rate_limited");
            } else if self.queue.try_send(e).is_err() {
                self.filter.dropped += 1;
                self.counted("dropped_queue_full");
            } else {
                self.counted("queued");
            }
        }
    }
}

impl Recorder for EventRecorder {
    fn record(&mut self, t: &TickRecord<'_>) {
        let events = events_of(t, &mut self.seen, self.cluster);
        self.send(events, t.wall);
    }

    fn record_rounds(&mut self, wall: jiff::Timestamp, steps: &[ClusterStep]) {
        let mut events = Vec::new();
        for step in steps {
            cluster_events(step, &mut self.seen, &mut events);
        }
        self.send(events, wall);
    }
}

/// One object Events are written about, and the client that writes them.
pub type Target = (
    kube::runtime::events::Recorder,
    k8s_openapi::api::core::v1::ObjectReference,
);

/// Where Events go: the pod's on the local API server, the CardanoForgeCluster's on the
/// coordination API server.
pub struct Targets {
    /// The pod, on the local API server.
    pub pod: Target,
    /// Our region's CardanoForgeCluster, on the coordination API server; its UID is read from the
    /// server before the first Event (`kubectl describe` matches Events by UID).
    pub cluster: Option<(Target, kube::Api<crate::crd::CardanoForgeCluster>)>,
}

/// The reporting controller named in every Event.
pub const CONTROLLER: &str = "cardano.io/forge-manager";

impl Targets {
    /// Events about pod `pod` (with `uid` when known) in `namespace` through `client`, and, with
    /// `cluster` (its client and name), about our region's CardanoForgeCluster.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        pod: &str,
        uid: Option<&str>,
        cluster: Option<(kube::Client, &str)>,
    ) -> Self {
        use k8s_openapi::api::core::v1::ObjectReference;
        let reporter = || kube::runtime::events::Reporter {
            controller: CONTROLLER.into(),
            instance: Some(pod.to_owned()),
        };
        let pod_ref = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: uid.map(str::to_owned),
            ..ObjectReference::default()
        };
        let cluster = cluster.map(|(client, name)| {
            let reference = ObjectReference {
                api_version: Some("cardano.io/v1".into()),
                kind: Some("CardanoForgeCluster".into()),
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectReference::default()
            };
            let api = kube::Api::namespaced(client.clone(), namespace);
            (
                (
                    kube::runtime::events::Recorder::new(client, reporter()),
                    reference,
                ),
                api,
            )
        });
        Targets {
            pod: (
                kube::runtime::events::Recorder::new(client, reporter()),
                pod_ref,
            ),
            cluster,
        }
    }
}

/// Sends queued Events until every sender is gone. A failed send is logged at debug level and
/// never retried: the next Event goes on.
pub async fn publish(
    mut queue: tokio::sync::mpsc::Receiver<EventSpec>,
    mut targets: Targets,
    count: Option<CountEvent>,
) {
    let counted = |result: &'static str| {
        if let Some(count) = &count {
            count(result);
        }
    };
    use kube::runtime::events::{Event, EventType};
    while let Some(e) = queue.recv().await {
        let target = match e.regarding {
            Regarding::Pod => Some(&targets.pod),
            Regarding::Cluster => {
                if let Some(((_, reference), api)) = targets.cluster.as_mut()
                    && reference.uid.is_none()
                    && let Some(name) = reference.name.clone()
                    && let Ok(object) = api.get_metadata(&name).await
                {
                    reference.uid = object.metadata.uid;
                }
                targets.cluster.as_ref().map(|(t, _)| t)
            }
        };
        let Some((recorder, reference)) = target else {
            counted("failed");
            continue;
        };
        let event = Event {
            type_: match e.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: e.reason.into(),
            note: Some(truncate_note(&e.note)),
            action: e.action.into(),
            secondary: None,
        };
        match recorder.publish(&event, reference).await {
            Ok(()) => counted("sent"),
            Err(err) => {
                counted("failed");
                tracing::debug!(reason = e.reason, "Event not written: {err}");
            }
        }
    }
}

/// How often the watchdog's log is looked at (a stat and, when it changed, one small read).
pub const WATCHDOG_CHECK: Duration = Duration::from_secs(10);

/// Firings older than this before the sidecar started are not reported: a firing usually ends a
/// sidecar's previous life (killed, or stalled and restarted), so the new one reports the recent
/// ones, not the whole history of the log.
pub const WATCHDOG_RECENT: Duration = Duration::from_secs(15 * 60);

/// The watchdog's firings after `after_ms` (wall ms) as Warning Events on the pod, oldest first,
/// and the wall time to look after next.
pub fn watchdog_events(
    firings: &[crate::journal::watchdog_log::WatchdogEvent],
    after_ms: i64,
) -> (Vec<EventSpec>, i64) {
    let mut last = after_ms;
    let mut out = Vec::new();
    for f in firings {
        let Some(at) = f.wall_ms().filter(|at| *at > after_ms) else {
            continue;
        };
        last = last.max(at);
        out.push(EventSpec::new(
            Severity::Warning,
            "WatchdogFired",
            "Demote",
            &format!("at {}: {}", f.wall, f.to_record("").message),
            Regarding::Pod,
        ));
    }
    (out, last)
}

/// Reports the watchdog's firings as Kubernetes Events (it has no API access of its own, by
/// design): those of the last [`WATCHDOG_RECENT`] before `started`, then each new one, looked for
/// every [`WATCHDOG_CHECK`]. Never blocks the loop: a full queue drops (and counts) the Event.
pub async fn report_watchdog_firings(
    log: std::path::PathBuf,
    queue: tokio::sync::mpsc::Sender<EventSpec>,
    count: Option<CountEvent>,
    started: jiff::Timestamp,
) {
    let recent = i64::try_from(WATCHDOG_RECENT.as_millis()).unwrap_or(i64::MAX);
    let mut after = started.as_millisecond().saturating_sub(recent);
    let mut seen_len = None;
    loop {
        // Read only when the file changed (its length moves with every firing; the log is
        // rewritten whole, atomically).
        let len = std::fs::metadata(&log).map(|m| m.len()).ok();
        if len.is_some() && len != seen_len {
            seen_len = len;
            if let Ok(firings) = crate::journal::watchdog_log::read(&log) {
                let (events, next) = watchdog_events(&firings, after);
                after = next;
                for e in events {
                    let result = if queue.try_send(e).is_ok() {
                        "queued"
                    } else {
                        "dropped_queue_full"
                    };
                    if let Some(count) = &count {
                        count(result);
                    }
                }
            }
        }
        tokio::time::sleep(WATCHDOG_CHECK).await;
    }
}

/// An Event's note is at most 1 kB.
fn truncate_note(note: &str) -> String {
    const MAX: usize = 1000;
    if note.len() <= MAX {
        return note.to_owned();
    }
    let mut end = MAX;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &note[..end])
}

#[cfg(test)]
mod tests;
