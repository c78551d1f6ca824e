//! The HTTP handlers: one axum fallback ([`dispatch`]) that applies the fault hooks, stamps the
//! `Date` header, parses the Kubernetes path grammar and runs the verb (get, list, watch, create,
//! update, patch, delete, and the `/status` and `/scale` subresources).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiServer;
use super::discovery;
use super::faults::Injected;
use super::paging::{self, ListOptions, Version};
use super::request::{Params, Target, selectors};
use super::resources::{self, CRD_GROUP, CRD_PLURAL, ResourceType};
use super::schema;
use super::status::{self, ApiError, FieldError};
use super::store::{self, EventType, ObjectKey};
use super::table::{self, IncludeObject};
use super::watch;
use super::workloads;

mod writes;

use writes::*;

/// The single handler behind every path.
pub async fn dispatch(
    State(server): State<ApiServer>,
    method: Method,
    uri: Uri,
    query: Result<Query<Params>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = server.faults();
    let injected = faults.on_request();
    let latency = faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = match injected {
        Injected::Fail => error_response(&ApiError::internal("fault injected: request failed")),
        Injected::Throttle { retry_after_s } => {
            let mut r = error_response(&ApiError::too_many_requests(retry_after_s));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            r
        }
        Injected::Nothing => {
            let is_watch = query
                .as_ref()
                .is_ok_and(|Query(p)| query_bool(p, "watch").unwrap_or(false));
            faults.count_route(route_key(&method, uri.path(), is_watch));
            let routed = match query {
                Ok(Query(params)) => route(&server, &method, uri.path(), &params, &headers, body),
                Err(rejection) => Err(ApiError::bad_request(format!(
                    "invalid query string: {rejection}"
                ))),
            };
            let response = routed.unwrap_or_else(|err| error_response(&err));
            if !is_watch && faults.take_cut() {
                cut_off(response).await
            } else {
                response
            }
        }
    };
    let date =
        jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&server.now());
    if let Ok(date) = date
        && let Ok(value) = HeaderValue::from_str(&date)
    {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// What a request was, for the per-route counts: `VERB resource[/name][/subresource]`, the verb as
/// Kubernetes' audit log names it (`get`, `list`, `watch`, `create`, `update`, `patch`,
/// `delete`). Lease names are kept (a sidecar's local, presence and global leases are different
/// loads); other objects' names are not. A path outside the resource tree (discovery) is kept
/// whole.
pub fn route_key(method: &Method, path: &str, watch: bool) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/..., /apis/{group}/{version}/...; then namespaces/{ns}/ for namespaced resources.
    let rest = match parts.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return format!("{} {path}", method.as_str().to_lowercase()),
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (resource, name, sub) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub, ..] => (*resource, Some(*name), Some(*sub)),
        [] => return format!("{} {path}", method.as_str().to_lowercase()),
    };
    let verb = match (method.as_str(), name, watch) {
        ("GET", _, true) => "watch",
        ("GET", None, false) => "list",
        ("GET", Some(_), false) => "get",
        ("POST", ..) => "create",
        ("PUT", ..) => "update",
        ("PATCH", ..) => "patch",
        ("DELETE", ..) => "delete",
        (other, ..) => return format!("{} {path}", other.to_lowercase()),
    };
    let mut key = format!("{verb} {resource}");
    if resource == "leases"
        && let Some(name) = name
    {
        key.push('/');
        key.push_str(name);
    }
    if let Some(sub) = sub {
        key.push('/');
        key.push_str(sub);
    }
    key
}

fn json_response(code: StatusCode, content_type: &str, body: &Value) -> Response {
    let mut response = (code, body.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// An `application/json` answer whose body is already rendered.
fn json_bytes(code: StatusCode, body: Bytes) -> Response {
    let mut response = (code, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, "application/json", body)
}

/// A `Status` answer for `err`.
/// `response` with its body broken off halfway: the status line, the headers (without a
/// length) and the first half of the body go out, then the stream fails and the server resets
/// the connection, as when an API server or a proxy dies mid-answer.
async fn cut_off(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: answer cut off",
        )),
    ];
    Response::from_parts(
        parts,
        axum::body::Body::from_stream(futures::stream::iter(chunks)),
    )
}

pub fn error_response(err: &ApiError) -> Response {
    json_response(err.code, "application/json", &err.to_status())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// All resource types served right now. Built from the CRDs only when one changed since the
/// last request: rebuilding means cloning every CRD's schema, which was most of the simulator's
/// time when done per request.
fn served_types(server: &ApiServer) -> Arc<Vec<ResourceType>> {
    let store = server.store();
    let generation = store.crd_generation();
    let mut cache = server.types_cache();
    if let Some((g, types)) = cache.as_ref()
        && *g == generation
    {
        return Arc::clone(types);
    }
    let mut types = resources::builtins();
    for crd in store.list(CRD_GROUP, CRD_PLURAL, None) {
        types.extend(resources::from_crd(&crd));
    }
    let types = Arc::new(types);
    *cache = Some((generation, Arc::clone(&types)));
    types
}

fn route(
    server: &ApiServer,
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // A server-side dry run must change nothing. Updates and patches run every check and stop
    // before the store (`writes::store_update`); this server cannot simulate a create or a
    // delete without making it, so it refuses those instead of silently persisting them.
    if ![Method::GET, Method::PUT, Method::PATCH].contains(method) && params.contains_key("dryRun")
    {
        return Err(ApiError::bad_request(
            "dry run (dryRun) of a create or delete is not supported by this test API server; \
             nothing was changed",
        ));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let accept = header_str(headers, header::ACCEPT);
    let types = served_types(server);
    let read_only = |r: Result<Response, ApiError>| {
        if method == Method::GET {
            r
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match segments.as_slice() {
        ["version"] => return read_only(Ok(ok(&discovery::version()))),
        ["healthz" | "readyz" | "livez"] => {
            return read_only(Ok((StatusCode::OK, "ok").into_response()));
        }
        ["api"] => {
            return read_only(Ok(if discovery::wants_aggregated(accept) {
                json_response(
                    StatusCode::OK,
                    discovery::AGGREGATED_CONTENT_TYPE,
                    &discovery::aggregated(&types, true),
                )
            } else {
                ok(&discovery::legacy_core_versions())
            }));
        }
        ["apis"] => {
            return read_only(Ok(if discovery::wants_aggregated(accept) {
                json_response(
                    StatusCode::OK,
                    discovery::AGGREGATED_CONTENT_TYPE,
                    &discovery::aggregated(&types, false),
                )
            } else {
                ok(&discovery::legacy_groups(&types))
            }));
        }
        ["api", version] => {
            return read_only(
                discovery::resource_list(&types, "", version)
                    .map(|v| ok(&v))
                    .ok_or_else(ApiError::no_route),
            );
        }
        ["apis", group] => {
            return read_only(
                discovery::legacy_group(&types, group)
                    .map(|v| ok(&v))
                    .ok_or_else(ApiError::no_route),
            );
        }
        ["apis", group, version] => {
            return read_only(
                discovery::resource_list(&types, group, version)
                    .map(|v| ok(&v))
                    .ok_or_else(ApiError::no_route),
            );
        }
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews" | "subjectaccessreviews",
        ] if method == Method::POST => {
            return access_review(&body);
        }
        ["openapi", "v3"] => return read_only(Ok(ok(&discovery::openapi_index(&types)))),
        ["openapi", "v3", rest @ ..] => {
            return read_only(
                discovery::openapi_document(&types, &rest.join("/"))
                    .map(|v| ok(&v))
                    .ok_or_else(ApiError::no_route),
            );
        }
        _ => {}
    }
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if *plural != "status" => (
            Some(*ns),
            *plural,
            tail.first().copied(),
            tail.get(1).copied(),
        ),
        [plural, tail @ ..] => (None, *plural, tail.first().copied(), tail.get(1).copied()),
        [] => return Err(ApiError::no_route()),
    };
    let rest_len = if namespace.is_some() {
        rest.len() - 2
    } else {
        rest.len()
    };
    if rest_len > 3 || sub.is_some_and(|s| s != "status" && s != "scale") {
        return Err(ApiError::no_route());
    }
    let rt = types
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    if namespace.is_some() && !rt.namespaced
        || name.is_some() && rt.namespaced && namespace.is_none()
    {
        return Err(ApiError::no_route());
    }
    let status = sub == Some("status");
    let scale = sub == Some("scale");
    if status && !rt.status_subresource || scale && !rt.scale_subresource {
        return Err(ApiError::no_route());
    }
    let target = Target {
        rt,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        status,
        scale,
    };
    if scale {
        return match method.clone() {
            Method::GET | Method::PUT | Method::PATCH => scale_request(
                server,
                &target,
                method,
                params,
                header_str(headers, header::CONTENT_TYPE),
                &body,
            ),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let wants_table = accept.contains("as=Table");
    let watching = query_bool(params, "watch")?;
    match (method.clone(), target.name.is_some()) {
        (Method::GET, false) if watching => watch::watch(server, &target, params, wants_table),
        (Method::GET, false) => list(server, &target, params, wants_table),
        (Method::GET, true) => get(server, &target, params, wants_table),
        (Method::POST, false) => create(
            server,
            &target,
            params,
            request_object(header_str(headers, header::CONTENT_TYPE), &body)?,
        ),
        (Method::PUT, true) => update(
            server,
            &target,
            params,
            request_object(header_str(headers, header::CONTENT_TYPE), &body)?,
        ),
        (Method::PATCH, true) => patch(
            server,
            &target,
            params,
            header_str(headers, header::CONTENT_TYPE),
            &body,
        ),
        (Method::DELETE, true) => delete(server, &target, &body),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// `kubectl auth can-i`: this server has no authorisation, so every review is allowed.
/// kubectl may send the review as protobuf; the answer is JSON either way (kubectl accepts it).
fn access_review(body: &[u8]) -> Result<Response, ApiError> {
    let mut review = parse_object(body).unwrap_or_else(|_| {
        json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {}, "spec": {}})
    });
    review["status"] = json!({"allowed": true, "reason": "forge-sim authorises every request"});
    Ok(json_response(
        StatusCode::CREATED,
        "application/json",
        &review,
    ))
}

/// A boolean query parameter as the API server converts one, with Go's `strconv.ParseBool` (the
/// Python client sends `watch=True`); absent is false, anything else is a 400.
pub(crate) fn query_bool(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(String::as_str) {
        None => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid value for query parameter {name}: strconv.ParseBool: parsing {other:?}: \
             invalid syntax"
        ))),
    }
}

fn key(target: &Target, name: &str) -> ObjectKey {
    (
        target.rt.group.clone(),
        target.rt.plural.clone(),
        target.namespace.clone().unwrap_or_default(),
        name.to_owned(),
    )
}

fn list(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    wants_table: bool,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(params)?;
    let keep = |o: &Value| labels.matches_labels(o) && fields.matches_fields(o);
    let options = ListOptions::parse(params)?;
    if !options.is_plain() {
        return paged_list(server, target, params, &options, wants_table, keep);
    }
    if let Version::NotOlderThan(n) = options.version {
        let current = server.store().resource_version();
        if n > current {
            return Err(ApiError::too_large_resource_version(n, current));
        }
    }
    if !wants_table {
        // The items' JSON as stored, joined: no copy or rendering of the objects per read.
        let (items, rv) = {
            let store = server.store();
            let items = store.list_rendered(
                &target.rt.group,
                &target.rt.plural,
                target.namespace.as_deref(),
                keep,
            );
            (items, store.resource_version())
        };
        let head = json!({
            "apiVersion": target.rt.api_version(),
            "kind": target.rt.list_kind,
            "metadata": {"resourceVersion": rv.to_string()},
        })
        .to_string();
        // `head` is an object: its text ends with `}`.
        let mut body =
            Vec::with_capacity(head.len() + 16 + items.iter().map(|i| i.len() + 1).sum::<usize>());
        body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
        body.extend_from_slice(b",\"items\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item);
        }
        body.extend_from_slice(b"]}");
        return Ok(json_bytes(StatusCode::OK, Bytes::from(body)));
    }
    let (items, rv) = {
        let store = server.store();
        let items: Vec<Value> = store
            .list(
                &target.rt.group,
                &target.rt.plural,
                target.namespace.as_deref(),
            )
            .into_iter()
            .filter(|o| keep(o))
            .collect();
        (items, store.resource_version())
    };
    let include = IncludeObject::parse(params.get("includeObject").map(String::as_str));
    let t = table::build(&target.rt, &items, rv, include, server.now());
    Ok(json_response(StatusCode::OK, table::TABLE_CONTENT_TYPE, &t))
}

/// A list with a page size, a continue token or an exact resourceVersion (`paging`).
fn paged_list(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    options: &ListOptions,
    wants_table: bool,
    keep: impl Fn(&Value) -> bool,
) -> Result<Response, ApiError> {
    let filtered = ["labelSelector", "fieldSelector"]
        .iter()
        .any(|k| params.get(*k).is_some_and(|v| !v.is_empty()));
    let page = {
        let store = server.store();
        let snapshots = StoreSnapshots {
            store: &store,
            target,
        };
        paging::page(
            &snapshots,
            options,
            |json| serde_json::from_slice::<Value>(json).is_ok_and(|o| keep(&o)),
            filtered,
        )?
    };
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(n) = page.remaining {
        metadata["remainingItemCount"] = json!(n);
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .filter_map(|json| serde_json::from_slice(json).ok())
        .collect();
    if wants_table {
        let include = IncludeObject::parse(params.get("includeObject").map(String::as_str));
        let mut t = table::build(
            &target.rt,
            &items,
            page.resource_version,
            include,
            server.now(),
        );
        t["metadata"] = metadata;
        return Ok(json_response(StatusCode::OK, table::TABLE_CONTENT_TYPE, &t));
    }
    Ok(ok(&json!({
        "apiVersion": target.rt.api_version(),
        "kind": target.rt.list_kind,
        "metadata": metadata,
        "items": items,
    })))
}

/// The store's versions of one resource, for [`paging::page`].
struct StoreSnapshots<'a> {
    store: &'a store::Store,
    target: &'a Target,
}

impl paging::Snapshots for StoreSnapshots<'_> {
    fn current(&self) -> u64 {
        self.store.resource_version()
    }

    fn at(&self, resource_version: u64) -> Result<std::collections::BTreeMap<String, Bytes>, u64> {
        self.store.list_at(
            resource_version,
            &self.target.rt.group,
            &self.target.rt.plural,
            self.target.namespace.as_deref(),
        )
    }
}

fn get(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    wants_table: bool,
) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let not_found = || ApiError::not_found(&target.rt.group, &target.rt.plural, name);
    if !wants_table {
        let rendered = server.store().get_rendered(&key(target, name));
        return rendered
            .map(|body| json_bytes(StatusCode::OK, body))
            .ok_or_else(not_found);
    }
    let (object, rv) = {
        let store = server.store();
        let object = store
            .get(&key(target, name))
            .cloned()
            .ok_or_else(not_found)?;
        (object, store.resource_version())
    };
    if !target.status && !target.scale {
        let include = IncludeObject::parse(params.get("includeObject").map(String::as_str));
        let t = table::build(
            &target.rt,
            std::slice::from_ref(&object),
            rv,
            include,
            server.now(),
        );
        return Ok(json_response(StatusCode::OK, table::TABLE_CONTENT_TYPE, &t));
    }
    Ok(ok(&object))
}

/// The object a create or update sends: JSON, or Kubernetes protobuf for the built-in kinds
/// `protobuf` decodes (kubectl's typed commands send those).
fn request_object(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == crate::apiserver::protobuf::PROTOBUF {
        return crate::apiserver::protobuf::decode_object(body).map_err(|e| {
            ApiError::unsupported_media_type_with(format!(
                "the body of the request was in protobuf and could not be read: {e}"
            ))
        });
    }
    parse_object(body)
}

fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "error decoding request body: json parse error: {e}"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "error decoding request body: expected a JSON object",
        ));
    }
    Ok(value)
}

fn check_type_meta(rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    let api_version = rt.api_version();
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            rt.kind
        )));
    }
    if let Some(av) = object.get("apiVersion").and_then(Value::as_str)
        && av != api_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version of the object ({av}) does not match the resource ({api_version})"
        )));
    }
    object["kind"] = json!(rt.kind);
    object["apiVersion"] = json!(api_version);
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    Ok(())
}

/// Schema checks, CRD checks and server-set fields, before an object is stored.
/// A 422 naming every `(field, detail)` problem, if there is any.
fn reject_invalid(
    rt: &ResourceType,
    name: &str,
    problems: Vec<(String, String)>,
) -> Result<(), ApiError> {
    if problems.is_empty() {
        return Ok(());
    }
    let errors: Vec<FieldError> = problems
        .into_iter()
        .map(|(field, detail)| FieldError {
            reason: "FieldValueInvalid",
            field,
            detail,
        })
        .collect();
    Err(ApiError::invalid(&rt.kind, &rt.group, name, &errors))
}

/// A Lease's MicroTimes as the API server stores them: decoded, then written back in UTC with six
/// fractional digits (`…15.695685Z`, whatever offset or precision was sent); one that does not
/// decode is a 400, as the real server's decoder answers.
fn normalize_micro_times(rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    for field in ["acquireTime", "renewTime"] {
        let Some(text) = object["spec"][field].as_str() else {
            continue;
        };
        let parsed: jiff::Timestamp = text.parse().map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: parsing spec.{field} {text:?}: {e}",
                rt.kind, rt.version, rt.kind
            ))
        })?;
        object["spec"][field] = Value::String(micro_time(parsed));
    }
    Ok(())
}

/// Kubernetes' `RFC3339Micro` in UTC.
fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn admit(rt: &ResourceType, object: &mut Value, params: &Params) -> Result<Vec<String>, ApiError> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if rt.group == CRD_GROUP && rt.plural == CRD_PLURAL {
        reject_invalid(rt, &name, resources::crd_problems(object))?;
        let versions: Vec<Value> = object["spec"]["versions"]
            .as_array()
            .map(|vs| vs.iter().map(|v| v["name"].clone()).collect())
            .unwrap_or_default();
        object["status"] = json!({
            "acceptedNames": object["spec"]["names"].clone(),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
            ],
            "storedVersions": versions,
        });
    }
    if workloads::is_statefulset(rt) {
        reject_invalid(rt, &name, workloads::admit(object))?;
    }
    if rt.group == "coordination.k8s.io" && rt.plural == "leases" {
        normalize_micro_times(rt, object)?;
    }
    let mut warnings = Vec::new();
    if let Some(schema) = &rt.schema {
        let outcome = schema::check(object, schema);
        if !outcome.unknown_fields.is_empty() {
            let unknown = outcome
                .unknown_fields
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect::<Vec<_>>()
                .join(", ");
            match params.get("fieldValidation").map(String::as_str) {
                Some("Strict") => {
                    return Err(ApiError::bad_request(format!(
                        "strict decoding error: {unknown}"
                    )));
                }
                Some("Warn") => warnings.push(unknown),
                _ => {}
            }
        }
        if !outcome.errors.is_empty() {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                &name,
                &outcome.errors,
            ));
        }
    }
    Ok(warnings)
}

fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {w:?}")) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

fn timestamp(server: &ApiServer) -> String {
    // Whole seconds, as Kubernetes' metav1.Time serialises.
    jiff::Timestamp::from_second(server.now().as_second())
        .map_or_else(|_| server.now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod query_and_time_tests {
    use super::*;

    #[test]
    fn routes_are_named_by_verb_resource_lease_name_and_subresource() {
        let ns = "/apis/coordination.k8s.io/v1/namespaces/cardano";
        let cfc = "/apis/cardano.io/v1/namespaces/cardano/cardanoforgeclusters";
        let cases = [
            (
                Method::GET,
                format!("{ns}/leases/l1"),
                false,
                "get leases/l1",
            ),
            (Method::GET, format!("{ns}/leases"), true, "watch leases"),
            (Method::GET, format!("{ns}/leases"), false, "list leases"),
            (
                Method::PUT,
                format!("{ns}/leases/l1"),
                false,
                "update leases/l1",
            ),
            (Method::POST, format!("{ns}/leases"), false, "create leases"),
            (
                Method::DELETE,
                format!("{ns}/leases/l1"),
                false,
                "delete leases/l1",
            ),
            (
                Method::GET,
                cfc.to_owned(),
                false,
                "list cardanoforgeclusters",
            ),
            (
                Method::PATCH,
                format!("{cfc}/us-east-1/status"),
                false,
                "patch cardanoforgeclusters/status",
            ),
            (
                Method::POST,
                "/api/v1/namespaces/cardano/events".to_owned(),
                false,
                "create events",
            ),
            (
                Method::POST,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_owned(),
                false,
                "create customresourcedefinitions",
            ),
            (Method::GET, "/version".to_owned(), false, "get /version"),
            (Method::GET, "/apis".to_owned(), false, "get /apis"),
        ];
        for (method, path, watch, want) in cases {
            assert_eq!(route_key(&method, &path, watch), want, "{method} {path}");
        }
    }

    #[test]
    fn boolean_query_parameters_read_as_go_parses_them() {
        let cases = [
            (None, Some(false)),
            (Some("True"), Some(true)),
            (Some("true"), Some(true)),
            (Some("1"), Some(true)),
            (Some("t"), Some(true)),
            (Some("TRUE"), Some(true)),
            (Some("False"), Some(false)),
            (Some("0"), Some(false)),
            (Some("f"), Some(false)),
            (Some("yes"), None),
            (Some(""), None),
            (Some("tRUE"), None),
        ];
        for (value, expected) in cases {
            let mut params = Params::new();
            if let Some(v) = value {
                params.insert("watch".into(), v.into());
            }
            assert_eq!(query_bool(&params, "watch").ok(), expected, "{value:?}");
        }
    }

    #[test]
    fn lease_micro_times_are_stored_in_utc_with_six_digits() {
        let cases = [
            (
                "2026-12-02T10:49:15.695685+00:00",
                "2026-12-02T10:49:15.695685Z",
            ),
            ("2026-12-02T10:49:15.18Z", "2026-12-02T10:49:15.180000Z"),
            ("2026-12-02T10:49:15Z", "2026-12-02T10:49:15.000000Z"),
            ("2026-12-02T12:49:15.5+02:00", "2026-12-02T10:49:15.500000Z"),
        ];
        for (sent, stored) in cases {
            let t: jiff::Timestamp = sent.parse().expect("a timestamp");
            assert_eq!(micro_time(t), stored, "{sent}");
        }
    }
}
