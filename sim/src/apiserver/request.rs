//! What one request names, shared by the verbs (`handlers`) and watches (`watch`): its target
//! resource, its query parameters, and the label and field selectors they carry.

use std::collections::BTreeMap;

use super::resources::ResourceType;
use super::status::ApiError;
use super::store::Selector;

/// A request's query parameters, by name.
pub(crate) type Params = BTreeMap<String, String>;

/// A resource request, parsed from the path.
pub(crate) struct Target {
    pub(crate) rt: ResourceType,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) status: bool,
    /// The `/scale` subresource (an `autoscaling/v1` Scale view of the object).
    pub(crate) scale: bool,
}

/// The label and field selectors of a list or watch (empty: everything).
pub(crate) fn selectors(params: &Params) -> Result<(Selector, Selector), ApiError> {
    let labels = Selector::parse(params.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fields = Selector::parse(params.get("fieldSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}
