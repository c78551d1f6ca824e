//! The HTTP server on `METRICS_PORT`: probes, metrics and status, one port as the old sidecar had
//! (docs/compatibility.md §3), but concurrent (axum), with a timeout on every request, and with
//! probes that mean something (unsafe behaviours 20 and 21 fixed):
//!
//! - `/metrics`: Prometheus text 0.0.4 (`crate::metrics`).
//! - `/health`: `200 OK` only while the control loop is alive (its last decision is younger than
//!   [`liveness_limit`]); otherwise `503` with the reason.
//! - `/ready`: `200` once the first decision ran and the node's credential directory holds a
//!   bootable set (the standby set, or the real set on the forger); else `503`.
//! - `/startup-status`: the old JSON (`status`, `message`, `credentials_provisioned`,
//!   `timestamp`), `200`/`503`; once ready it stays ready (a non-leader is not "not started").
//! - `/status`: the loop's view as JSON, for operators.
//! - `/journal`, `/journal/watchdog`: a consistent snapshot of the decision journal and the
//!   watchdog's log, read-only and bounded (`journal` submodule), for `forge-manager journal …`
//!   run in the pod while the sidecar holds the journal's lock.
//! - anything else: `404 Not Found`.
//!
//! This module owns the routes and their wording; it reads the loop's shared [`Status`] and never
//! changes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::adapters::SystemClock;
use crate::core::election::Forging;
use crate::core::time::MonoTime;
use crate::core::timing::Timing;
use crate::credentials::{CredentialPaths, Genesis};
use crate::metrics::{self, Metrics};
use crate::ports::Clock;
use crate::runtime::Status;

/// Longest time one request may take before it is answered `503`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// `/startup-status` messages, as the old sidecar words them.
pub const READY_MESSAGE: &str = "Startup credentials provisioned successfully";
/// See [`READY_MESSAGE`].
pub const NOT_READY_MESSAGE: &str = "Startup credentials not yet provisioned";

/// How old the last decision may be before `/health` fails: three retry periods plus the renew
/// deadline (a loop that misses that many wake-ups has also fenced itself).
pub fn liveness_limit(t: &Timing) -> Duration {
    t.retry_period() * 3 + t.renew_deadline()
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    status: Arc<Mutex<Status>>,
    metrics: Metrics,
    clock: SystemClock,
    started: MonoTime,
    liveness_limit: Duration,
    ever_ready: Arc<AtomicBool>,
    source: CredentialPaths,
    genesis: Option<Genesis>,
    journal: Option<journal::JournalEndpoint>,
}

impl AppState {
    /// State over the loop's `status`; `clock` must be the loop's clock (the status holds its
    /// monotonic readings); `source` and `genesis` feed the KES-window gauge.
    pub fn new(
        status: Arc<Mutex<Status>>,
        metrics: Metrics,
        clock: SystemClock,
        liveness_limit: Duration,
        source: CredentialPaths,
        genesis: Option<Genesis>,
    ) -> Self {
        AppState {
            status,
            metrics,
            clock,
            started: clock.now_mono(),
            liveness_limit,
            ever_ready: Arc::new(AtomicBool::new(false)),
            source,
            genesis,
            journal: None,
        }
    }

    /// Serves the decision journal on `/journal` (without it, `/journal` answers `404`).
    pub fn with_journal(mut self, journal: journal::JournalEndpoint) -> Self {
        self.journal = Some(journal);
        self
    }

    fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/startup-status", get(startup_status))
        .route("/status", get(status_handler))
        .route("/journal", get(journal::snapshot))
        .route("/journal/watchdog", get(journal::watchdog))
        .fallback(not_found)
        .layer(middleware::from_fn(timeout))
        .with_state(state)
}

/// Binds `0.0.0.0:port` (the caller treats a failure as fatal: no silent run without probes).
pub async fn bind(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("0.0.0.0", port)).await
}

/// Serves `router(state)` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

async fn timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "request timed out".into()),
    }
}

fn text(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "Not Found".into())
}

async fn metrics_handler(State(s): State<AppState>) -> Response {
    let st = s.status();
    s.metrics.observe_status(&st);
    let real = metrics::read_real_set(&s.source);
    s.metrics
        .observe_kes_window(real.as_ref(), s.genesis.as_ref());
    match s.metrics.render() {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, metrics::text::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error generating metrics".into(),
        ),
    }
}

/// The liveness verdict: `Ok` or the reason the loop counts as stalled.
fn liveness(s: &AppState, st: &Status) -> Result<(), String> {
    let now = s.clock.now_mono();
    let (age, since) = if st.decisions == 0 {
        (now.since(s.started), "start, and no decision yet")
    } else {
        (
            now.since(MonoTime(st.last_decision_mono_ms)),
            "the last decision",
        )
    };
    if age <= s.liveness_limit {
        Ok(())
    } else {
        Err(format!(
            "control loop stalled: {:.1}s since {since} (limit {:.1}s)",
            age.as_secs_f64(),
            s.liveness_limit.as_secs_f64()
        ))
    }
}

async fn health(State(s): State<AppState>) -> Response {
    match liveness(&s, &s.status()) {
        Ok(()) => text(StatusCode::OK, "OK".into()),
        Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

/// Whether the node's credential directory holds a set it can boot with right now.
fn bootable(st: &Status) -> bool {
    st.decisions > 0
        && (st.standby_ready || matches!(st.forging, Some(Forging::On | Forging::Promoting { .. })))
}

async fn ready(State(s): State<AppState>) -> Response {
    let st = s.status();
    if bootable(&st) {
        text(StatusCode::OK, "ready".into())
    } else if st.decisions == 0 {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no decision yet".into(),
        )
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no bootable credential set in place yet".into(),
        )
    }
}

/// The old sidecar's timestamp: `datetime.now(utc).isoformat()`.
fn python_utc_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// The `/startup-status` body, byte-compatible with Python's `json.dumps`.
pub fn startup_json(ready: bool, provisioned: bool, timestamp: &str) -> String {
    let (status, message) = if ready {
        ("ready", READY_MESSAGE)
    } else {
        ("not_ready", NOT_READY_MESSAGE)
    };
    format!(
        "{{\"status\": \"{status}\", \"message\": \"{message}\", \"credentials_provisioned\": {provisioned}, \"timestamp\": {}}}",
        serde_json::Value::String(timestamp.to_string())
    )
}

async fn startup_status(State(s): State<AppState>) -> Response {
    let st = s.status();
    let now_ok = bootable(&st);
    if now_ok {
        s.ever_ready.store(true, Ordering::Relaxed);
    }
    let ready = now_ok || s.ever_ready.load(Ordering::Relaxed);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        startup_json(ready, now_ok, &python_utc_now()),
    )
        .into_response()
}

/// `/status` as JSON.
pub fn status_json(st: &Status, live: Result<(), String>) -> serde_json::Value {
    serde_json::json!({
        "role": st.role.map(forge_core::election::Role::as_str),
        "reason": st.reason.map(forge_core::reason::Reason::as_str),
        "message": st.message,
        "entitled": st.entitled,
        "forging": st.forging,
        "lease": st.lease.as_ref().map(|l| serde_json::json!({
            "name": l.name,
            "holder": l.holder(),
            "resourceVersion": l.resource_version,
            "unchanged_ms": st.lease_unchanged_ms,
        })),
        "node": {
            "pid": st.node.map(|n| n.pid),
            "socket_accepting": st.socket_accepting,
            "forging_enabled": st.node_forging_enabled,
        },
        "credentials": {
            "real_fingerprint": st.real_fingerprint,
            "problem": st.credentials_problem,
            "standby_ready": st.standby_ready,
        },
        "decisions": st.decisions,
        "alive": live.is_ok(),
        "stalled_because": live.err(),
        "last_error": st.last_error,
    })
}

async fn status_handler(State(s): State<AppState>) -> Response {
    let st = s.status();
    let live = liveness(&s, &st);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        status_json(&st, live).to_string(),
    )
        .into_response()
}

pub mod journal;
#[cfg(test)]
mod tests;
