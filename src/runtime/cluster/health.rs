//! Our region's health: the probe schedule and its thresholds, the settings in force (the spec's
//! `healthCheck` over the environment's), and the health other pods published.

use super::*;

/// The probe state of our region's health endpoint.
#[derive(Clone, Debug, Default)]
pub(super) struct Prober {
    pub(super) healthy: Option<bool>,
    pub(super) failures: u32,
    pub(super) successes: u32,
    pub(super) next_at: Option<MonoTime>,
    pub(super) last_message: String,
    pub(super) last_probe_wall: Option<String>,
}

impl<C: Clock, K: Kube, H: HealthProbe> ClusterLoop<C, K, H> {
    /// The health settings in force: our spec's `healthCheck`, else the environment's.
    pub(super) fn health_settings(&self, ours: Option<&CardanoForgeCluster>) -> HealthSettings {
        let mut h = self.settings.health.clone();
        if let Some(spec) = ours.and_then(|c| c.spec.health_check.as_ref()) {
            if !spec.enabled {
                h.endpoint = None;
                return h;
            }
            if let Some(e) = spec.endpoint.clone().filter(|e| !e.is_empty()) {
                h.endpoint = Some(e);
            }
            let dur = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|t| crate::config::duration::parse_duration(t).ok())
            };
            if let Some(d) = dur(&spec.interval) {
                h.interval = d;
            }
            if let Some(d) = dur(&spec.timeout) {
                h.timeout = d;
            }
            if let Some(n) = spec
                .failure_threshold
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
            {
                h.failure_threshold = n;
            }
            if let Some(n) = spec
                .success_threshold
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
            {
                h.success_threshold = n;
            }
        }
        h
    }

    /// Probes our region's endpoint when due (only our region's representative probes).
    pub(super) async fn probe(
        &mut self,
        settings: &HealthSettings,
        published: Option<Health>,
    ) -> Health {
        let Some(endpoint) = settings.endpoint.clone() else {
            return Health::UNCHECKED;
        };
        if self.prober.healthy.is_none() {
            // Start from what the region last published, so a new local leader does not flip it.
            let h = published.unwrap_or(Health::UNCHECKED);
            self.prober.healthy = Some(h.healthy);
            self.prober.failures = h.consecutive_failures;
        }
        let now = self.clock.now_mono();
        if self.prober.next_at.is_none_or(|at| now >= at) {
            self.prober.next_at = Some(now + settings.interval);
            // The probe's own timeout: HEALTH_CHECK_TIMEOUT, at most one API request (the probe
            // runs inside a round, like a request). A probe that runs into it has failed.
            let own = effective_probe_timeout(settings, &self.settings.timing);
            // It must not outlast the answer-by instant of a lease we hold either; one cut short
            // by that (not by its own timeout) says nothing about the region's health: it is not
            // counted and is tried again on the next round. That round comes about a retry period
            // after a renewal, when the instant is still far enough ahead for a whole probe (6.6 s
            // against 3 s with the defaults): a hung endpoint is counted, not retried forever.
            let limit = own.min(self.budget());
            let result =
                with_timeout(&self.clock, limit, self.health.probe(&endpoint, limit)).await;
            if result.is_none() && limit < own {
                self.prober.next_at = Some(now);
                tracing::debug!(?limit, "health probe cut short by a renew deadline");
                return Health {
                    healthy: self.prober.healthy.unwrap_or(true),
                    consecutive_failures: self.prober.failures,
                };
            }
            self.prober.last_probe_wall = Some(self.clock.now_wall().to_string());
            let took = self.clock.now_mono().since(now).as_secs_f64();
            let ok = matches!(result, Some(Ok(())));
            let was = self.prober.healthy.unwrap_or(true);
            if ok {
                self.prober.failures = 0;
                self.prober.successes += 1;
                self.prober.last_message = "All health checks passing".into();
                if !was && self.prober.successes >= settings.success_threshold {
                    self.prober.healthy = Some(true);
                }
            } else {
                self.prober.successes = 0;
                self.prober.failures += 1;
                self.prober.last_message = match result {
                    Some(Err(e)) => format!("health check failed: {e}"),
                    _ => format!("health check timed out after {own:?}"),
                };
                if was && self.prober.failures >= settings.failure_threshold {
                    self.prober.healthy = Some(false);
                }
            }
            if let Some(m) = &self.metrics {
                m.record_health_check(
                    self.prober.healthy.unwrap_or(true),
                    ok,
                    self.prober.failures,
                    took,
                );
            }
            if self.prober.healthy != Some(was) {
                tracing::info!(
                    healthy = self.prober.healthy,
                    failures = self.prober.failures,
                    "health check: region health changed"
                );
            }
        }
        Health {
            healthy: self.prober.healthy.unwrap_or(true),
            consecutive_failures: self.prober.failures,
        }
    }
}

/// How long one health probe may take before it counts as failed: `HEALTH_CHECK_TIMEOUT` (or the
/// spec's `healthCheck.timeout`), but never longer than `API_TIMEOUT`, the bound of every request
/// a coordination round makes.
pub fn effective_probe_timeout(health: &HealthSettings, timing: &Timing) -> Duration {
    health.timeout.min(timing.api_timeout())
}
