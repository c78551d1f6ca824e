//! The writing verbs: create, update (whole object or `/status`), patch (merge, strategic-merge,
//! JSON patch), `/scale`, and graceful delete with finalizers; each with Kubernetes' preconditions
//! and conflict rules.

use super::*;

pub(super) fn create(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    mut object: Value,
) -> Result<Response, ApiError> {
    let rt = &target.rt;
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
pub(super) fn spec_part(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

pub(super) fn without_rv(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

/// Checks and stores `new` as the successor of `old` (the store is locked by the caller).
pub(super) fn commit_update(
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
pub(super) fn store_update(
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
    if params.contains_key("dryRun") {
        // Checked and admitted as the write would be; nothing stored, no event, no new version.
        return Ok((new, warnings));
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
pub(super) fn finalizers(object: &Value) -> Vec<&str> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub(super) fn precondition(
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
pub(super) fn split_status(target: &Target, old: &Value, mut requested: Value) -> Value {
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

pub(super) fn update(
    server: &ApiServer,
    target: &Target,
    params: &Params,
    mut requested: Value,
) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
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

pub(super) fn patch(
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
pub(super) fn apply_patch(
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
pub(super) fn scale_request(
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

pub(super) fn delete(
    server: &ApiServer,
    target: &Target,
    body: &[u8],
) -> Result<Response, ApiError> {
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
