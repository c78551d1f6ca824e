//! The `HealthProbe` port over HTTP: one GET of the region's health endpoint, healthy only for a
//! 200 within the timeout (a hung or slow endpoint counts as failed). Only `http://` endpoints are
//! supported by the built-in client; HTTPS endpoints are reported as a failed probe with a clear
//! reason rather than silently passing.

use std::time::Duration;

use super::http_get::{Target, get};
use crate::ports::{HealthProbe, ProbeError};

/// Largest health response body read (the status code is all that matters).
const MAX_BODY: usize = 64 * 1024;

/// Probes health endpoints over plain HTTP.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpHealthProbe;

impl HealthProbe for HttpHealthProbe {
    async fn probe(&self, endpoint: &str, timeout: Duration) -> Result<(), ProbeError> {
        let target = Target::parse(endpoint).map_err(ProbeError::Endpoint)?;
        match get(&target, timeout, MAX_BODY).await {
            Ok((200, _)) => Ok(()),
            Ok((code, _)) => Err(ProbeError::Status(code)),
            Err(e) => Err(ProbeError::Transport(Box::new(e))),
        }
    }
}
