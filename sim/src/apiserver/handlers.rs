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
use super::request::{Params, Target, selectors};
use super::resources::{self, CRD_GROUP, CRD_PLURAL, ResourceType};
use super::schema;
use super::status::{self, ApiError, FieldError};
use super::store::{self, EventType, ObjectKey};
use super::table::{self, IncludeObject};
use super::watch;
use super::workloads;

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
    let fail = faults.on_request();
    let latency = faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = if fail {
        error_response(&ApiError::internal("fault injected: request failed"))
    } else {
        let routed = match query {
            Ok(Query(params)) => route(&server, &method, uri.path(), &params, &headers, body),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "invalid query string: {rejection}"
            ))),
        };
        routed.unwrap_or_else(|err| error_response(&err))
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
    match (method.clone(), target.name.is_some()) {
        (Method::GET, false) if is_true(params.get("watch")) => {
            watch::watch(server, &target, params, wants_table)
        }
        (Method::GET, false) => list(server, &target, params, wants_table),
        (Method::GET, true) => get(server, &target, params, wants_table),
        (Method::POST, false) => create(server, &target, params, &body),
        (Method::PUT, true) => update(server, &target, params, &body),
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

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1"))
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

fn create(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let rt = &target.rt;
    let mut object = parse_object(body)?;
    check_type_meta(rt, &mut object)?;
    if rt.namespaced {
        let ns = target
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        match object["metadata"]["namespace"].as_str() {
            Some(n) if n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => object["metadata"]["namespace"] = json!(ns),
        }
    } else if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("namespace");
    }
    if rt.status_subresource
        && let Some(o) = object.as_object_mut()
    {
        o.remove("status");
    }
    let mut store = server.store();
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        match object["metadata"]["generateName"].as_str() {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", store.next_name_suffix());
                object["metadata"]["name"] = json!(name);
            }
            _ => {
                let error = FieldError {
                    reason: "FieldValueRequired",
                    field: "metadata.name".into(),
                    detail: "Required value: name or generateName is required".into(),
                };
                return Err(ApiError::invalid(&rt.kind, &rt.group, "", &[error]));
            }
        }
    }
    let warnings = admit(rt, &mut object, params)?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = store::key_of(&rt.group, &rt.plural, &object);
    if store.get(&key).is_some() {
        return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
    }
    let rv = store.next_resource_version();
    let uid = store.next_uid();
    let meta = &mut object["metadata"];
    meta["uid"] = json!(uid);
    meta["resourceVersion"] = json!(rv.to_string());
    meta["creationTimestamp"] = json!(timestamp(server));
    meta["generation"] = json!(1);
    if let Some(m) = meta.as_object_mut() {
        m.remove("deletionTimestamp");
        m.remove("managedFields");
    }
    if workloads::is_statefulset(rt) {
        workloads::observe(&mut object);
    }
    let event = store
        .put(key, object.clone(), EventType::Added)
        .map_err(|e| ApiError::internal(format!("{e}")))?;
    server.publish(event);
    drop(store);
    Ok(with_warnings(
        json_response(StatusCode::CREATED, "application/json", &object),
        &warnings,
    ))
}

/// Everything but metadata and status: what bumps `metadata.generation` when it changes.
fn spec_part(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

fn without_rv(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

/// Checks and stores `new` as the successor of `old` (the store is locked by the caller).
fn commit_update(
    server: &ApiServer,
    store: &mut store::Store,
    rt: &ResourceType,
    old: &Value,
    new: Value,
    params: &Params,
) -> Result<Response, ApiError> {
    let (stored, warnings) = store_update(server, store, rt, old, new, params)?;
    let response = match store.get_rendered(&store::key_of(&rt.group, &rt.plural, &stored)) {
        Some(body) => json_bytes(StatusCode::OK, body),
        None => ok(&stored),
    };
    Ok(with_warnings(response, &warnings))
}

/// [`commit_update`]'s work: the object as stored (or `old` for a no-op) and the warnings.
fn store_update(
    server: &ApiServer,
    store: &mut store::Store,
    rt: &ResourceType,
    old: &Value,
    mut new: Value,
    params: &Params,
) -> Result<(Value, Vec<String>), ApiError> {
    // Identity and server-set fields are the server's, whatever the request said: a deletion in
    // progress too, which a client can neither set nor clear.
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        match old["metadata"].get(field) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    let terminating = old["metadata"].get("deletionTimestamp").is_some();
    if terminating && !finalizers(&new).iter().all(|f| finalizers(old).contains(f)) {
        let name = old["metadata"]["name"].as_str().unwrap_or_default();
        let error = FieldError {
            reason: "FieldValueForbidden",
            field: "metadata.finalizers".into(),
            detail: "Forbidden: no new finalizers can be added if the object is being deleted"
                .into(),
        };
        return Err(ApiError::invalid(&rt.kind, &rt.group, name, &[error]));
    }
    new["kind"] = old["kind"].clone();
    new["apiVersion"] = old["apiVersion"].clone();
    let warnings = admit(rt, &mut new, params)?;
    if without_rv(&new) == without_rv(old) {
        // No change: no new resourceVersion, no event (kubectl prints "(no change)").
        return Ok((old.clone(), warnings));
    }
    if spec_part(&new) != spec_part(old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(generation);
    }
    if workloads::is_statefulset(rt) {
        workloads::observe(&mut new);
    }
    let rv = store.next_resource_version();
    new["metadata"]["resourceVersion"] = json!(rv.to_string());
    let key = store::key_of(&rt.group, &rt.plural, &new);
    // The last finalizer of an object being deleted removed: the deletion completes now.
    let event = if terminating && finalizers(&new).is_empty() {
        store.remove(&key, new.clone())
    } else {
        store.put(key, new.clone(), EventType::Modified)
    }
    .map_err(|e| ApiError::internal(format!("{e}")))?;
    server.publish(event);
    Ok((new, warnings))
}

/// `metadata.finalizers`: what must happen before a deleted object may go.
fn finalizers(object: &Value) -> Vec<&str> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn precondition(
    target: &Target,
    old: &Value,
    requested: &Value,
    name: &str,
) -> Result<(), ApiError> {
    match requested["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::conflict(
                &target.rt.group,
                &target.rt.plural,
                name,
            ))
        }
        _ => Ok(()),
    }
}

/// Applies the subresource rule: a write to the main resource keeps the old status; a write to
/// `/status` keeps everything but the status.
fn split_status(target: &Target, old: &Value, mut requested: Value) -> Value {
    if target.status {
        let mut new = old.clone();
        match requested.get_mut("status").map(Value::take) {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        new["metadata"]["resourceVersion"] = requested["metadata"]["resourceVersion"].clone();
        new
    } else {
        if target.rt.status_subresource
            && let Some(o) = requested.as_object_mut()
        {
            match old.get("status") {
                Some(s) => {
                    o.insert("status".into(), s.clone());
                }
                None => {
                    o.remove("status");
                }
            }
        }
        requested
    }
}

fn update(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let mut requested = parse_object(body)?;
    check_type_meta(&target.rt, &mut requested)?;
    if let Some(n) = requested["metadata"]["name"].as_str()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    let mut store = server.store();
    let old = store
        .get(&key(target, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&target.rt.group, &target.rt.plural, name))?;
    precondition(target, &old, &requested, name)?;
    let new = split_status(target, &old, requested);
    commit_update(server, &mut store, &target.rt, &old, new, params)
}

fn patch(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let patch_value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("error decoding patch: json parse error: {e}"))
    })?;
    let mut store = server.store();
    let old = store
        .get(&key(target, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&target.rt.group, &target.rt.plural, name))?;
    let mut patched = old.clone();
    apply_patch(&target.rt, &mut patched, media, patch_value)?;
    if !patched["metadata"].is_object() {
        patched["metadata"] = old["metadata"].clone();
    }
    precondition(target, &old, &patched, name)?;
    let new = split_status(target, &old, patched);
    commit_update(server, &mut store, &target.rt, &old, new, params)
}

/// Applies a patch of media type `media` to `object`: JSON merge, strategic merge (a real one for
/// StatefulSets, a JSON merge for custom resources) or JSON patch.
fn apply_patch(
    rt: &ResourceType,
    object: &mut Value,
    media: &str,
    patch_value: Value,
) -> Result<(), ApiError> {
    match media {
        "application/strategic-merge-patch+json" if workloads::is_statefulset(rt) => {
            workloads::strategic_merge(object, &patch_value);
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            json_patch::merge(object, &patch_value);
        }
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_value(patch_value)
                .map_err(|e| ApiError::bad_request(format!("error decoding json patch: {e}")))?;
            json_patch::patch(object, &ops).map_err(|e| {
                ApiError::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    Ok(())
}

/// `/scale`: GET answers the Scale view; PUT and PATCH change it, and only its `spec.replicas`
/// reaches the object (as in Kubernetes), under the Scale's resourceVersion precondition.
fn scale_request(
    server: &ApiServer,
    target: &Target,
    method: &Method,
    params: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let rt = &target.rt;
    let name = target.name.as_deref().unwrap_or_default();
    let mut store = server.store();
    let old = store
        .get(&key(target, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
    let view = workloads::scale_of(&old);
    let requested = match *method {
        Method::GET => return Ok(ok(&view)),
        Method::PUT => parse_object(body)?,
        _ => {
            let media = content_type.split(';').next().unwrap_or_default().trim();
            let patch_value: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error decoding patch: json parse error: {e}"))
            })?;
            let mut patched = view.clone();
            // The Scale has no lists: a strategic merge is a JSON merge here.
            let media = match media {
                "application/strategic-merge-patch+json" => "application/merge-patch+json",
                m => m,
            };
            apply_patch(rt, &mut patched, media, patch_value)?;
            patched
        }
    };
    precondition(target, &old, &requested, name)?;
    let replicas = requested["spec"]["replicas"].as_i64().unwrap_or(0);
    if replicas < 0 {
        let error = FieldError {
            reason: "FieldValueInvalid",
            field: "spec.replicas".into(),
            detail: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        };
        return Err(ApiError::invalid("Scale", "autoscaling", name, &[error]));
    }
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(replicas);
    let (stored, warnings) = store_update(server, &mut store, rt, &old, new, params)?;
    Ok(with_warnings(ok(&workloads::scale_of(&stored)), &warnings))
}

fn delete(server: &ApiServer, target: &Target, body: &[u8]) -> Result<Response, ApiError> {
    let rt = &target.rt;
    let name = target.name.as_deref().unwrap_or_default();
    let options: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    };
    let mut store = server.store();
    let k = key(target, name);
    let old = store
        .get(&k)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
    if let Some(rv) = options["preconditions"]["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&rt.group, &rt.plural, name));
    }
    if !finalizers(&old).is_empty() {
        // Kubernetes' graceful deletion: an object with finalizers is only marked (once) and
        // stays until the last finalizer is removed by an update. The mark is the server's
        // change, not a write by the object's holder, so the lease log does not record it.
        if old["metadata"].get("deletionTimestamp").is_some() {
            return Ok(ok(&old));
        }
        let mut marked = old.clone();
        marked["metadata"]["deletionTimestamp"] = json!(timestamp(server));
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        let rv = store.next_resource_version();
        marked["metadata"]["resourceVersion"] = json!(rv.to_string());
        let event = store
            .put(k, marked.clone(), EventType::Modified)
            .map_err(|e| ApiError::internal(format!("{e}")))?;
        server.publish_unlogged(event);
        return Ok(ok(&marked));
    }
    let mut doomed = vec![(k, old.clone())];
    if rt.group == CRD_GROUP
        && rt.plural == CRD_PLURAL
        && let (Some(g), Some(p)) = (
            old["spec"]["group"].as_str(),
            old["spec"]["names"]["plural"].as_str(),
        )
    {
        // Deleting a CRD deletes its custom resources (first, as Kubernetes does).
        let mut crs: Vec<(ObjectKey, Value)> = store
            .keys_of(g, p)
            .into_iter()
            .filter_map(|k| store.get(&k).cloned().map(|v| (k, v)))
            .collect();
        crs.append(&mut doomed);
        doomed = crs;
    }
    for (k, mut object) in doomed {
        let rv = store.next_resource_version();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let event = store
            .remove(&k, object)
            .map_err(|e| ApiError::internal(format!("{e}")))?;
        server.publish(event);
    }
    let uid = old["metadata"]["uid"].as_str().unwrap_or_default();
    Ok(ok(&status::deleted(&rt.group, &rt.plural, name, uid)))
}
