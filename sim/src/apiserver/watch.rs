//! Watch: a streamed answer of JSON lines `{"type":"ADDED|MODIFIED|DELETED","object":...}`, first
//! the replay (current objects, or the kept history after a resourceVersion), then live events;
//! a resourceVersion older than the history gets one `ERROR` event with a 410 `Expired` Status.
//! A watch that allows bookmarks gets a `BOOKMARK` (the kind and the current resourceVersion,
//! nothing else) every bookmark interval.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::ApiServer;
use super::request::{Params, Target, selectors};
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{Event, EventType, Selector};
use super::table::{self, IncludeObject};

/// Longest a watch stays open without `timeoutSeconds` (Kubernetes picks 30 to 60 minutes).
const DEFAULT_WATCH_TIMEOUT_S: u64 = 1800;

/// What a watch passes on.
struct WatchFilter {
    group: String,
    plural: String,
    namespace: Option<String>,
    labels: Selector,
    fields: Selector,
}

impl WatchFilter {
    fn accepts(&self, e: &Event) -> bool {
        e.group == self.group
            && e.plural == self.plural
            && self.namespace.as_ref().is_none_or(|n| *n == e.namespace)
            && self.labels.matches_labels(&e.object)
            && self.fields.matches_fields(&e.object)
    }
}

struct WatchState {
    pending: VecDeque<(&'static str, Value)>,
    /// `BOOKMARK` ticks, when the client allowed them, and the object kind they name.
    bookmarks: Option<(tokio::time::Interval, Value)>,
    server: ApiServer,
    renderer: Renderer,
    rx: tokio::sync::broadcast::Receiver<Event>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    filter: WatchFilter,
    after: u64,
    done: bool,
}

/// Turns events into lines: plain objects, or one-row Tables when kubectl asked for Tables
/// (`kubectl get -w`), with column definitions only in the first, as Kubernetes does.
struct Renderer {
    table: Option<(ResourceType, IncludeObject)>,
    server: ApiServer,
    headers_sent: bool,
}

impl Renderer {
    fn line(&mut self, type_: &str, object: &Value) -> Bytes {
        let rendered = match &self.table {
            Some((rt, include)) if type_ != "ERROR" => {
                let rv = object["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_default();
                let mut t = table::build(
                    rt,
                    std::slice::from_ref(object),
                    rv,
                    *include,
                    self.server.now(),
                );
                if self.headers_sent {
                    t["columnDefinitions"] = json!([]);
                }
                self.headers_sent = true;
                t
            }
            _ => object.clone(),
        };
        let mut line = json!({"type": type_, "object": rendered}).to_string();
        line.push('\n');
        Bytes::from(line)
    }
}

fn type_name(t: EventType) -> &'static str {
    match t {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    }
}

/// Serves a watch of `target`'s collection.
pub(crate) fn watch(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    wants_table: bool,
) -> Result<Response, ApiError> {
    let include = IncludeObject::parse(params.get("includeObject").map(String::as_str));
    let renderer = Renderer {
        table: wants_table.then(|| (target.rt.clone(), include)),
        server: server.clone(),
        headers_sent: false,
    };
    let (labels, fields) = selectors(params)?;
    let filter = WatchFilter {
        group: target.rt.group.clone(),
        plural: target.rt.plural.clone(),
        namespace: target.namespace.clone(),
        labels,
        fields,
    };
    let timeout_s = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(DEFAULT_WATCH_TIMEOUT_S);
    let requested = params
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let mut pending = VecDeque::new();
    let mut done = false;
    // History read and subscription under one lock: events are published under the same lock,
    // so none falls between the replay and the live stream.
    let store = server.store();
    let after = match requested {
        None => {
            for object in store.list(&filter.group, &filter.plural, filter.namespace.as_deref()) {
                if filter.labels.matches_labels(&object) && filter.fields.matches_fields(&object) {
                    pending.push_back(("ADDED", object));
                }
            }
            store.resource_version()
        }
        Some(rv) => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            match store.events_since(
                rv,
                &filter.group,
                &filter.plural,
                filter.namespace.as_deref(),
            ) {
                Ok(events) => {
                    for e in events.iter().filter(|e| filter.accepts(e)) {
                        pending.push_back((type_name(e.type_), e.object.clone()));
                    }
                    store.resource_version()
                }
                Err(oldest) => {
                    pending.push_back(("ERROR", ApiError::expired(rv, oldest).to_status()));
                    done = true;
                    store.resource_version()
                }
            }
        }
    };
    let rx = server.subscribe();
    drop(store);
    let bookmarks = super::handlers::query_bool(params, "allowWatchBookmarks")?.then(|| {
        let every = server.bookmark_interval();
        let api_version = if target.rt.group.is_empty() {
            target.rt.version.clone()
        } else {
            format!("{}/{}", target.rt.group, target.rt.version)
        };
        (
            tokio::time::interval_at(tokio::time::Instant::now() + every, every),
            json!({"kind": target.rt.kind, "apiVersion": api_version}),
        )
    });
    let state = WatchState {
        pending,
        bookmarks,
        server: server.clone(),
        renderer,
        rx,
        deadline: Box::pin(tokio::time::sleep(std::time::Duration::from_secs(
            timeout_s,
        ))),
        filter,
        after,
        done,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        if let Some((type_, object)) = st.pending.pop_front() {
            let line = st.renderer.line(type_, &object);
            return Some((Ok::<Bytes, Infallible>(line), st));
        }
        if st.done {
            return None;
        }
        loop {
            // `biased`: tokio's random branch choice is not seeded without `tokio_unstable`, so
            // an unbiased select made simulated runs differ when both were ready at once.
            let bookmark = async {
                match st.bookmarks.as_mut() {
                    Some((tick, _)) => {
                        tick.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut st.deadline => return None,
                () = bookmark => {
                    // The object is the kind with only the resourceVersion the watch has
                    // reached: a client may resume from it, and must not take it for a change.
                    let rv = st.server.store().resource_version().max(st.after);
                    let mut object = st.bookmarks.as_ref().map(|(_, o)| o.clone()).unwrap_or_default();
                    object["metadata"] = json!({"resourceVersion": rv.to_string()});
                    let line = st.renderer.line("BOOKMARK", &object);
                    return Some((Ok(line), st));
                }
                msg = st.rx.recv() => match msg {
                    Ok(e) if e.resource_version > st.after && st.filter.accepts(&e) => {
                        let line = st.renderer.line(type_name(e.type_), &e.object);
                        return Some((Ok(line), st));
                    }
                    Ok(_) => {}
                    // Lagged or closed: end the watch; the client re-watches from its last version.
                    Err(_) => return None,
                },
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
