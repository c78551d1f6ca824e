//! [`MetricsRecorder`]: the control loop's decisions → the metrics. Everything here is derived from
//! one [`TickRecord`] and the previous one, so the runtime stays generic over its recorders.

use crate::core::election::{Action, Forging, LeaseEvent, LeaseWriteKind};
use crate::core::lease::ApiFailure;
use crate::report::{Recorder, SighupOutcome, TickRecord, sighup_verdict};

use super::Metrics;

/// The server label of the local API server's requests (the global one comes with cluster-wide
/// forging).
pub const LOCAL_SERVER: &str = "local";

/// Feeds [`Metrics`] from every decision.
#[derive(Debug)]
pub struct MetricsRecorder {
    metrics: Metrics,
    /// The forging belief after the previous decision (to see a SIGHUP verified or time out).
    previous_forging: Forging,
    /// Whether we held the lease after the previous decision.
    was_holding: bool,
    /// The lease holder last observed (`None`: not observed yet).
    previous_holder: Option<Option<String>>,
}

impl MetricsRecorder {
    /// A recorder feeding `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        MetricsRecorder {
            metrics,
            previous_forging: Forging::Unknown,
            was_holding: false,
            previous_holder: None,
        }
    }
}

fn failure_kind(f: ApiFailure) -> &'static str {
    match f {
        ApiFailure::Conflict => "conflict",
        ApiFailure::NotFound => "not_found",
        ApiFailure::Unreachable => "unreachable",
        ApiFailure::Invalid => "invalid",
        ApiFailure::Server => "server",
    }
}

fn verb(w: LeaseWriteKind) -> &'static str {
    match w {
        LeaseWriteKind::Create => "create",
        LeaseWriteKind::Acquire
        | LeaseWriteKind::Renew
        | LeaseWriteKind::Release
        | LeaseWriteKind::Finalize => "update",
    }
}

impl Recorder for MetricsRecorder {
    fn record(&mut self, t: &TickRecord<'_>) {
        let m = &self.metrics;
        let d = t.decision;
        let next = &d.next;

        match &t.observations.lease {
            LeaseEvent::Nothing => {}
            LeaseEvent::Read(_) => m.api_request(LOCAL_SERVER, "get"),
            LeaseEvent::ReadFailed(f) => m.api_error(LOCAL_SERVER, failure_kind(*f)),
            LeaseEvent::Wrote { write, .. } => m.api_request(LOCAL_SERVER, verb(*write)),
            LeaseEvent::WriteFailed { failure, .. } => {
                m.api_error(LOCAL_SERVER, failure_kind(*failure));
            }
        }

        let holding = next.seat.hold.is_some();
        if holding != self.was_holding {
            m.leadership_changed();
        }
        self.was_holding = holding;

        if let Some(record) = next.seat.observer.record() {
            let holder = record.holder().map(str::to_owned);
            if let Some(previous) = &self.previous_holder
                && *previous != holder
            {
                m.lease_transition();
            }
            self.previous_holder = Some(holder);
        }

        let forging = holding && matches!(next.forging, Forging::Promoting { .. } | Forging::On);
        let node_forging = t.observations.node.forging_enabled == Some(true);
        m.set_roles(forging, holding, node_forging);
        m.set_demotion_stuck(matches!(next.forging, Forging::Stuck { .. }));

        for r in t.results {
            let (operation, reason) = match r.action {
                Action::Promote => ("copy", "enable_forging"),
                Action::Reprovision => ("copy", "reprovision"),
                Action::Demote { .. } => ("remove", "disable_forging"),
                Action::Standby => ("standby", ""),
                Action::Lease { .. } => continue,
            };
            if r.files_changed {
                m.credential_operation(operation);
            }
            match r.sighup {
                SighupOutcome::Sent => m.sighup(reason),
                SighupOutcome::Failed => m.sighup(&format!("{reason}_failed")),
                SighupOutcome::NotSent => {}
            }
        }
        // The forging belief before this decision is the previous decision's; the decision itself
        // may already have moved on (a timed-out promotion is demoted in the same step).
        if let Some(verified) = sighup_verdict(self.previous_forging, next.forging) {
            m.sighup_result(verified);
        }
        if let Some(c) = t.confirmed {
            m.sighup_confirmed(c);
        }
        self.previous_forging = next.forging;
        m.decision(d.reason.as_str(), t.wall);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::MonoTime;

    #[test]
    fn a_confirmed_promotion_or_demotion_is_verified_and_a_timeout_is_not() {
        let since = MonoTime(0);
        let promoting = Forging::Promoting { since };
        let demoting = |attempt| Forging::Demoting { since, attempt };
        assert_eq!(sighup_verdict(promoting, Forging::On), Some(true));
        assert_eq!(sighup_verdict(demoting(1), Forging::Off), Some(true));
        // Learned off and promoted again in the same step (no slot settle).
        assert_eq!(sighup_verdict(demoting(2), promoting), Some(true));
        assert_eq!(
            sighup_verdict(Forging::Stuck { since }, promoting),
            Some(true)
        );
        assert_eq!(sighup_verdict(promoting, demoting(1)), Some(false));
        assert_eq!(sighup_verdict(demoting(1), demoting(2)), Some(false));
        assert_eq!(
            sighup_verdict(demoting(3), Forging::Stuck { since }),
            Some(false)
        );
        assert_eq!(sighup_verdict(Forging::On, Forging::On), None);
        assert_eq!(sighup_verdict(demoting(1), demoting(1)), None);
    }
}
