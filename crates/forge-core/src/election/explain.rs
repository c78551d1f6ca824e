//! The reason and the sentence of a local decision, phase by phase: each phase answers for one
//! cause (losing the lease, an unfinished demotion, ineligibility, our hold, someone else's lease),
//! so a message cannot disagree with its cause.

use std::time::Duration;

use super::{
    ElectionState, Forging, Gate, HoldLost, LeaseEvent, MAX_DEMOTION_ATTEMPTS, Observations,
};
use crate::lease::{ApiFailure, LeaseState};
use crate::reason::Reason;
use crate::timing::Timing;

/// The reason and sentence of a decision: the first phase that has something to say.
#[allow(clippy::too_many_arguments)] // The decision's parts, each read by one phase or another.
pub(super) fn explain(
    s: &ElectionState,
    obs: &Observations,
    lost: Option<HoldLost>,
    restarted: bool,
    stopped: bool,
    entitled: bool,
    eligible: Result<(), Reason>,
    identity: &str,
    timing: &Timing,
) -> (Reason, String) {
    let now = obs.now;
    let holder = s
        .seat
        .observer
        .holder(timing.lease_duration(), now)
        .map(str::to_owned)
        .unwrap_or_default();
    lease_gone(s, lost, restarted, &holder, timing)
        .or_else(|| unfinished_demotion(s, eligible))
        .or_else(|| ineligible(s, eligible))
        .or_else(|| our_hold(s, obs, entitled, stopped, timing))
        .unwrap_or_else(|| lease_of_others(s, obs, &holder, identity, timing))
}

/// Our lease is going or gone: deleted by an operator, fenced, lost, or given up after a node
/// restart.
fn lease_gone(
    s: &ElectionState,
    lost: Option<HoldLost>,
    restarted: bool,
    holder: &str,
    timing: &Timing,
) -> Option<(Reason, String)> {
    if s.seat.deleting() {
        return Some((
            Reason::LeaseDeleted,
            "an operator deleted the lease: our finalizer keeps it while the node steps down, \
             then we let it go and create it again"
                .into(),
        ));
    }
    match lost {
        Some(HoldLost::Fenced) => Some((
            Reason::RenewDeadlineExceeded,
            format!(
                "no successful lease renewal within the renew deadline ({}s): stopped forging and \
                 dropped the lease",
                secs(timing.renew_deadline())
            ),
        )),
        Some(HoldLost::Lost) => Some((
            Reason::LeaseLost,
            format!("the lease now names {holder}: stopped forging"),
        )),
        None if restarted && s.seat.hold.is_some() => Some((
            Reason::NodeRestarted,
            "cardano-node restarted: it starts non-producing; releasing the lease to an eligible standby".into(),
        )),
        None => None,
    }
}

/// A demotion that is under way, repeated, or given up on.
fn unfinished_demotion(
    s: &ElectionState,
    eligible: Result<(), Reason>,
) -> Option<(Reason, String)> {
    match s.forging {
        Forging::Stuck { .. } => Some((
            Reason::DemotionStuck,
            format!(
                "{MAX_DEMOTION_ATTEMPTS} demotions went unverified: the node may still forge; keeping the lease so no other pod forges; operator action needed"
            ),
        )),
        Forging::Demoting { attempt, .. } if attempt > 1 => Some((
            Reason::DemotionUnverified,
            format!(
                "demotion not confirmed by the node's metrics: attempt {attempt} of {MAX_DEMOTION_ATTEMPTS}"
            ),
        )),
        Forging::Demoting { .. } => {
            let why = eligible
                .err()
                .map(super::super::reason::Reason::as_str)
                .unwrap_or("not entitled to forge");
            Some((
                Reason::Demoting,
                format!("demoting ({why}): real keys removed, waiting for the node to confirm"),
            ))
        }
        _ => None,
    }
}

/// What a pod holding nothing any more left of its lease, in words that claim no more than the
/// API server's answer told.
pub fn left_behind(released: Option<super::Released>) -> &'static str {
    match released {
        Some(super::Released::Accepted) => "lease released",
        Some(super::Released::Unanswered) => {
            "lease left to expire (the release got no answer; it may not have been applied)"
        }
        None => "holding no lease",
    }
}

/// This pod may not take part: the eligibility check's reason, in words.
fn ineligible(s: &ElectionState, eligible: Result<(), Reason>) -> Option<(Reason, String)> {
    let reason = eligible.err()?;
    let sentence = match reason {
        Reason::ShuttingDown if s.seat.hold.is_none() => {
            format!(
                "shutting down: not forging, {}",
                left_behind(s.seat.released)
            )
        }
        Reason::ShuttingDown => "shutting down: demoting, then releasing the lease".to_string(),
        Reason::NodeNotRunning => "cardano-node is not running".to_string(),
        Reason::SocketNotAccepting => {
            "cardano-node's socket does not accept connections yet (startup or replay)".to_string()
        }
        Reason::MetricsUnavailable => {
            "cardano-node's metrics are unreadable: a SIGHUP could not be verified".to_string()
        }
        Reason::CredentialsInvalid => "the real credentials failed validation".to_string(),
        Reason::BehindTip => "cardano-node is behind the chain tip".to_string(),
        other => other.as_str().to_string(),
    };
    Some((reason, format!("not eligible: {sentence}")))
}

/// We hold the lease: promoting, held back by policy, waiting out a new lease, or forging.
fn our_hold(
    s: &ElectionState,
    obs: &Observations,
    entitled: bool,
    stopped: bool,
    timing: &Timing,
) -> Option<(Reason, String)> {
    let h = s.seat.hold.as_ref()?;
    let now = obs.now;
    Some(if let Forging::Promoting { .. } = s.forging {
        if stopped {
            return Some((
                Reason::Promoting,
                "the node stopped forging, or its credential files changed, without a demotion of \
                 ours (did the watchdog fire?): real keys written again and SIGHUP sent"
                    .into(),
            ));
        }
        (
            Reason::Promoting,
            "real keys written and SIGHUP sent: waiting for the node to confirm".into(),
        )
    } else if !super::answered(s, now, timing) {
        let what = if s.forging.maybe_on() {
            "demoting, so that the node is off by"
        } else {
            "not forging until a renewal succeeds; the hold lapses at"
        };
        (
            Reason::RenewDeadlineExceeded,
            format!(
                "no successful lease renewal for {}s: {what} the renew deadline ({}s)",
                secs(now.since(h.last_renew_sent_at)),
                secs(timing.renew_deadline())
            ),
        )
    } else if let Gate::Deny(r) = obs.gate {
        // A fenced global hold is no policy: the decision says so (metrics, status, journal).
        let reason = if r == Reason::GlobalLeaseFenced {
            r
        } else {
            Reason::PolicyDisallows
        };
        (
            reason,
            format!("holding the lease; this region may not forge ({r})"),
        )
    } else if now < h.promotable_at && h.settling {
        (
            Reason::SlotSettling,
            format!(
                "took a lease its holder released (or a handoff): waiting {} ms before forging, so \
                 that our node's first leadership check falls after the slot the last forger may have checked",
                h.promotable_at.since(now).as_millis()
            ),
        )
    } else if now < h.promotable_at {
        (
            Reason::LeaseNewWaiting,
            format!(
                "created a lease that did not exist: waiting {}s before forging in case its last holder still forges",
                secs(h.promotable_at.since(now))
            ),
        )
    } else if let Some(until) = super::settling_until(s, now, timing)
        && entitled
        && s.forging == Forging::Off
    {
        (
            Reason::SlotSettling,
            format!(
                "our node stopped forging {} ms ago: waiting {} ms before forging again, so that it \
                 does not check a slot it may have checked already",
                now.since(s.off_since.unwrap_or(now)).as_millis(),
                until.since(now).as_millis()
            ),
        )
    } else if s.forging == Forging::On && entitled {
        (
            Reason::Forging,
            "holding the lease; the node forges (verified)".into(),
        )
    } else {
        (Reason::LeaseRenewed, "holding the lease".into())
    })
}

/// We hold nothing: whose lease it is, or why we are taking it.
fn lease_of_others(
    s: &ElectionState,
    obs: &Observations,
    holder: &str,
    identity: &str,
    timing: &Timing,
) -> (Reason, String) {
    let now = obs.now;
    if s.seat.api_unreachable {
        return (
            Reason::ApiUnreachable,
            "the API server did not answer: not forging".into(),
        );
    }
    match s
        .seat
        .observer
        .state(identity, timing.lease_duration(), now)
    {
        LeaseState::HeldByOther if s.seat.observer.record().is_none() => (
            Reason::LeaseHeldByOther,
            format!(
                "the lease was deleted under {holder}: leaving it {}s to re-create it",
                secs(
                    s.seat
                        .observer
                        .expires_at(timing.lease_duration())
                        .map(|at| at.since(now))
                        .unwrap_or_default()
                )
            ),
        ),
        LeaseState::HeldByOther => (
            Reason::LeaseHeldByOther,
            format!(
                "{holder} holds the lease (record unchanged for {}s)",
                secs(s.seat.observer.unchanged_for(now).unwrap_or_default())
            ),
        ),
        LeaseState::Free | LeaseState::Expired | LeaseState::Absent | LeaseState::HeldByMe => {
            if let LeaseEvent::WriteFailed {
                failure: ApiFailure::Conflict,
                ..
            } = obs.lease
            {
                (
                    Reason::LeaseConflict,
                    "another pod wrote the lease first".into(),
                )
            } else if s.seat.observer.record().is_none() && matches!(obs.lease, LeaseEvent::Nothing)
            {
                (Reason::Standby, "standing by: lease not read yet".into())
            } else {
                (
                    Reason::LeaseAvailable,
                    "the lease is available: taking it".into(),
                )
            }
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
