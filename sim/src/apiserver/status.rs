//! Kubernetes `Status` objects: every error this API server returns, with the reason, code and
//! message shapes kubectl and kube-rs expect.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// One field problem of a 422 `Invalid` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Kubernetes cause reason, e.g. `FieldValueNotSupported`.
    pub reason: &'static str,
    /// Field path, e.g. `spec.forgeState`.
    pub field: String,
    /// Problem without the field prefix, e.g. `Unsupported value: "Off": supported values: ...`.
    pub detail: String,
}

impl FieldError {
    /// `field: detail`, as Kubernetes prints it.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.detail)
    }
}

/// An error answer: HTTP code plus a `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: StatusCode,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, or `Value::Null` for none.
    pub details: Value,
    /// `Status.metadata.continue`: the token a 410 on a compacted `continue` hands back.
    pub continue_token: Option<String>,
}

/// `plural.group` (or `plural` for the core group), as Kubernetes names a resource in messages.
pub fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    }
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: String, details: Value) -> Self {
        Self {
            code,
            reason,
            message,
            details,
            continue_token: None,
        }
    }

    /// 404 for an object that does not exist.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// 404 for a path that names no served resource.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource".into(),
            Value::Null,
        )
    }

    /// 409 on create of an existing name.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// 409 on a write carrying a stale `metadata.resourceVersion`.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
            json!({"name": name, "group": group, "kind": plural}),
        )
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            message.into(),
            Value::Null,
        )
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            Value::Null,
        )
    }

    /// 415 with its own message (a body in a known type that could not be read).
    pub fn unsupported_media_type_with(message: String) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
            Value::Null,
        )
    }

    /// 415 for a patch content type this server does not know.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"
            ),
            Value::Null,
        )
    }

    /// 422 with one cause per field problem.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let list = if errors.len() == 1 {
            errors[0].message()
        } else {
            format!(
                "[{}]",
                errors
                    .iter()
                    .map(FieldError::message)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason, "message": e.detail, "field": e.field}))
            .collect();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {list}"),
            json!({"name": name, "group": group, "kind": kind, "causes": causes}),
        )
    }

    /// 500, for injected failures and broken invariants.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            message.into(),
            Value::Null,
        )
    }

    /// 429, as API priority and fairness refuses a request it has no seat for (the caller
    /// adds `Retry-After`).
    pub fn too_many_requests(retry_after_s: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "fault injected: too many requests, please try again later".into(),
            json!({"retryAfterSeconds": retry_after_s}),
        )
    }

    /// 410 for a watch from a resourceVersion older than the kept history.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(
            StatusCode::GONE,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
            Value::Null,
        )
    }

    /// 410 for a list at an exact resourceVersion that is compacted (etcd3's `expiredList`).
    pub fn list_expired() -> Self {
        Self::new(
            StatusCode::GONE,
            "Expired",
            "The resourceVersion for the provided list is too old.".into(),
            Value::Null,
        )
    }

    /// 410 for a `continue` whose snapshot is compacted, with a token that continues at the
    /// current state (etcd3's `inconsistentContinue`).
    pub fn continue_expired(inconsistent_token: String) -> Self {
        let mut e = Self::new(
            StatusCode::GONE,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter, or use the continue token \
             in this response to retrieve the remainder of the results. Continuing with the \
             provided token results in an inconsistent list - objects that were created, \
             modified, or deleted between the time the first chunk was returned and now may \
             show up in the list."
                .into(),
            Value::Null,
        );
        e.continue_token = Some(inconsistent_token);
        e
    }

    /// 504 for a resourceVersion newer than the store's (`NewTooLargeResourceVersionError`).
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!("Too large resource version: {requested}, current: {current}"),
            json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            }),
        )
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if !self.details.is_null() {
            status["details"] = self.details.clone();
        }
        if let Some(token) = &self.continue_token {
            status["metadata"]["continue"] = json!(token);
        }
        status
    }
}

/// The `Status` a successful DELETE returns.
pub fn deleted(group: &str, plural: &str, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": group, "kind": plural, "uid": uid},
    })
}
