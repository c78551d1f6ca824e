//! The fake node's HTTP endpoint: `/metrics` in both of cardano-node's naming schemes, and `/state`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::{NodeState, Shared};

/// Serves until the process ends; a failing server is logged, the node keeps running.
pub async fn serve(listener: tokio::net::TcpListener, shared: Shared) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/state", get(state))
        .with_state(shared);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("fake-node: metrics server failed: {e}");
    }
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let s = shared.lock().clone();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        exposition(&s),
    )
}

async fn state(State(shared): State<Shared>) -> impl IntoResponse {
    let s = shared.lock().clone();
    axum::Json(serde_json::json!({
        "forging": s.forging,
        "credentials": s.credentials,
        "pid": s.pid,
        "sighups": s.sighups,
        "leader_checks": s.leader_checks,
        "forging_changed_ms": s.forging_changed_ms,
        "ready": s.ready,
        "last_check_slot": s.last_check_slot,
        "enable_check_slot": s.enable_check_slot,
    }))
}

/// The forging series under the names both tracing systems use:
/// legacy iohk-monitoring `cardano_node_metrics_forging_enabled` and
/// `cardano_node_metrics_Forge_forge_about_to_lead_int`; new tracing
/// `cardano_node_metrics_forging_enabled_int` and `cardano_node_metrics_Forge_about_to_lead_counter`.
pub fn exposition(s: &NodeState) -> String {
    let on = u8::from(s.forging);
    let n = s.leader_checks;
    format!(
        "# TYPE cardano_node_metrics_forging_enabled gauge\n\
         cardano_node_metrics_forging_enabled {on}\n\
         # TYPE cardano_node_metrics_Forge_forge_about_to_lead_int gauge\n\
         cardano_node_metrics_Forge_forge_about_to_lead_int {n}\n\
         # TYPE cardano_node_metrics_forging_enabled_int gauge\n\
         cardano_node_metrics_forging_enabled_int {on}\n\
         # TYPE cardano_node_metrics_Forge_about_to_lead_counter counter\n\
         cardano_node_metrics_Forge_about_to_lead_counter {n}\n"
    )
}
