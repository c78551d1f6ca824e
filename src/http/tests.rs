//! The routes over a hand-made status: wording, codes, content types.

use crate::journal::ReadJournal;
use std::path::Path;

use axum::body::Body;
use tower::ServiceExt;

use super::*;
use crate::metrics::Identity;

fn app(status: Status, limit: Duration) -> (AppState, Arc<Mutex<Status>>) {
    let shared = Arc::new(Mutex::new(status));
    let id = Identity {
        pod: "bp-0".into(),
        namespace: "default".into(),
        network: "mainnet".into(),
        pool_id_label: "unknown".into(),
        pool_id_full: "unknown".into(),
        pool_ticker: "unknown".into(),
        application: "block-producer".into(),
        cluster: None,
    };
    let state = AppState::new(
        Arc::clone(&shared),
        Metrics::new(&id),
        SystemClock::new(),
        limit,
        CredentialPaths::in_dir(Path::new("/nonexistent")),
        None,
    );
    (state, shared)
}

async fn get(state: &AppState, path: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .uri(path)
        .body(Body::empty())
        .unwrap_or_default();
    let resp = router(state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let code = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (code, ct, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_unknown_path_is_404_not_found() {
    let (s, _) = app(Status::default(), Duration::from_secs(10));
    let (code, ct, body) = get(&s, "/nope").await;
    assert_eq!(
        (code, ct.as_str(), body.as_str()),
        (StatusCode::NOT_FOUND, "text/plain", "Not Found")
    );
}

#[tokio::test]
async fn health_is_ok_while_the_loop_decides_and_503_once_it_stalls() {
    let (s, shared) = app(Status::default(), Duration::from_millis(200));
    assert_eq!(get(&s, "/health").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, _, body) = get(&s, "/health").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("no decision yet"), "{body}");
    {
        let mut st = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.decisions = 1;
        st.last_decision_mono_ms = s.clock.now_mono().as_ms();
    }
    let (code, _, body) = get(&s, "/health").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "OK"));
}

#[tokio::test]
async fn startup_status_has_the_old_shape_and_stays_ready_on_a_standby() {
    let (s, shared) = app(Status::default(), Duration::from_secs(10));
    let (code, ct, body) = get(&s, "/startup-status").await;
    assert_eq!(
        (code, ct.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "application/json")
    );
    assert!(body.starts_with(r#"{"status": "not_ready", "message": "Startup credentials not yet provisioned", "credentials_provisioned": false, "timestamp": ""#), "{body}");
    assert!(body.ends_with(r#"+00:00"}"#), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let ts = v["timestamp"].as_str().unwrap_or("");
    // e.g. 2025-10-13T01:15:00.123456+00:00
    assert_eq!(ts.len(), 32, "{ts}");
    {
        let mut st = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.decisions = 1;
        st.standby_ready = true;
    }
    let (code, _, body) = get(&s, "/startup-status").await;
    assert_eq!(code, StatusCode::OK);
    assert!(body.contains(r#""status": "ready", "message": "Startup credentials provisioned successfully", "credentials_provisioned": true"#), "{body}");
    assert_eq!(get(&s, "/ready").await.0, StatusCode::OK);
    // The standby set goes away for a while (e.g. a promotion in progress): still started.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .standby_ready = false;
    let (code, _, body) = get(&s, "/startup-status").await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        body.contains(r#""credentials_provisioned": false"#),
        "{body}"
    );
    assert_eq!(get(&s, "/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_are_text_0_0_4_and_status_is_json() {
    let (s, _) = app(Status::default(), Duration::from_secs(10));
    let (code, ct, body) = get(&s, "/metrics").await;
    assert_eq!(
        (code, ct.as_str()),
        (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(body.contains("cardano_forging_enabled{"), "{body}");
    let (code, ct, body) = get(&s, "/status").await;
    assert_eq!((code, ct.as_str()), (StatusCode::OK, "application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["alive"], serde_json::Value::Bool(true), "{body}");
}

#[tokio::test]
async fn journal_is_404_without_a_journal_and_a_readable_snapshot_with_one() {
    let (s, _) = app(Status::default(), Duration::from_secs(10));
    let (code, _, body) = get(&s, "/journal").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains("without a journal"), "{body}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut journal = crate::journal::Journal::open(
        dir.path().join("j.redb"),
        crate::journal::JournalConfig::default(),
    )
    .expect("journal");
    for i in 0..10 {
        journal
            .append(crate::journal::demo::stress_record(i, 1_795_600_800_000))
            .expect("append");
    }
    let s = s.with_journal(journal::JournalEndpoint::new(
        journal.view(),
        dir.path().to_owned(),
        None,
    ));
    let req = Request::builder()
        .uri("/journal")
        .body(Body::empty())
        .unwrap_or_default();
    let resp = router(s.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(resp.status(), StatusCode::OK);
    let records = resp
        .headers()
        .get(journal::RECORDS_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 30)
        .await
        .unwrap_or_default();
    let copy = dir.path().join("copy.redb");
    std::fs::write(&copy, &bytes).expect("write the copy");
    let read = crate::journal::JournalReader::open(&copy).expect("the snapshot opens");
    assert_eq!(read.stats().expect("stats").records.to_string(), records);
    // Nothing is left behind in the journal's directory but the journal and our copy.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["copy.redb", "j.redb"]);
    let (code, _, body) = get(&s, "/journal/watchdog").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, ""));
}
