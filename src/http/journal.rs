//! `/journal`: the running sidecar's decision journal, read-only, for `forge-manager journal …`
//! run in the pod (the sidecar's writer holds the file's lock, so the CLI cannot open it).
//!
//! - `GET /journal`: a consistent snapshot of the journal as a journal file (one redb read
//!   transaction copied into a new file, see `Journal::snapshot_to`), streamed. The CLI saves it
//!   and reads it like any journal file. Bounded: one snapshot at a time (`503` while another is
//!   taken), and at most [`MAX_SNAPSHOT_BYTES`] (`507` beyond; narrow the journal's retention).
//!   The temporary file lives next to the journal (the sidecar's root file system is read-only)
//!   and is unlinked before the first byte is sent, so it never outlives the request.
//! - `GET /journal/watchdog`: the watchdog's log of its firings (JSON lines, at most 1 MiB).
//!
//! Nothing here writes the journal: the snapshot reads it in one read transaction.

use crate::journal::ReadJournal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::{AppState, text};
use crate::journal::JournalView;
use crate::journal::watchdog_log;

/// Largest snapshot served (the journal's own `max_bytes` keeps it far below by default).
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// The `x-journal-records` header of a snapshot: how many records it holds.
pub const RECORDS_HEADER: &str = "x-journal-records";

/// What `/journal` serves.
#[derive(Clone)]
pub struct JournalEndpoint {
    view: JournalView,
    /// Where the temporary snapshot is written (the journal's directory).
    dir: PathBuf,
    /// The watchdog's log, if any.
    watchdog_log: Option<PathBuf>,
    busy: Arc<AtomicBool>,
}

impl JournalEndpoint {
    /// Serves snapshots of `view`, taken in `dir`, and the watchdog's log at `watchdog_log`.
    pub fn new(view: JournalView, dir: PathBuf, watchdog_log: Option<PathBuf>) -> Self {
        JournalEndpoint {
            view,
            dir,
            watchdog_log,
            busy: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Clears the busy flag when the snapshot step ends, however it ends.
struct Busy(Arc<AtomicBool>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn no_journal() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "this sidecar runs without a journal (JOURNAL_PATH could not be opened: see its log)"
            .into(),
    )
}

/// Takes the snapshot and opens it: the file is unlinked once open (the handle keeps its bytes).
fn take_snapshot(j: &JournalEndpoint) -> Result<(std::fs::File, u64, u64), String> {
    let _busy = Busy(Arc::clone(&j.busy));
    let tmp = j
        .dir
        .join(format!(".journal-snapshot-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let records = j.view.snapshot_to(&tmp).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let file = file.map_err(|e| format!("opening the snapshot: {e}"))?;
    let bytes = file
        .metadata()
        .map_err(|e| format!("reading the snapshot's size: {e}"))?
        .len();
    Ok((file, bytes, records))
}

/// `GET /journal`.
pub(super) async fn snapshot(State(s): State<AppState>) -> Response {
    let Some(j) = s.journal.clone() else {
        return no_journal();
    };
    if j.busy.swap(true, Ordering::AcqRel) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "another journal snapshot is being taken: try again in a moment".into(),
        );
    }
    let taken = tokio::task::spawn_blocking(move || take_snapshot(&j)).await;
    let (file, bytes, records) = match taken {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if bytes > MAX_SNAPSHOT_BYTES {
        return text(
            StatusCode::INSUFFICIENT_STORAGE,
            format!(
                "the snapshot is {bytes} bytes, more than the {MAX_SNAPSHOT_BYTES} this endpoint serves: lower JOURNAL_RETENTION or copy the file after the pod stopped"
            ),
        );
    }
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)),
                    Some(file),
                ))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, bytes.to_string()),
            (
                header::HeaderName::from_static(RECORDS_HEADER),
                records.to_string(),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// `GET /journal/watchdog`.
pub(super) async fn watchdog(State(s): State<AppState>) -> Response {
    let Some(j) = s.journal.clone() else {
        return no_journal();
    };
    let Some(path) = j.watchdog_log.clone() else {
        return text(StatusCode::OK, String::new());
    };
    let read = tokio::task::spawn_blocking(move || watchdog_log::read(&path)).await;
    match read {
        Ok(Ok(events)) => {
            let mut body = String::new();
            for e in &events {
                if let Ok(line) = serde_json::to_string(e) {
                    body.push_str(&line);
                    body.push('\n');
                }
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-ndjson")],
                body,
            )
                .into_response()
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
