//! Why the core decided what it decided: a machine-readable reason and a sentence for people.
//! Every decision carries one; logs, status, metrics and the journal all use the same values.

use serde::{Deserialize, Serialize};

/// The machine-readable reason of a decision (stable names: they appear in metrics and the journal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// cardano-node is not running.
    NodeNotRunning,
    /// cardano-node runs but its socket does not accept connections yet (startup or replay).
    SocketNotAccepting,
    /// The node's metrics endpoint did not answer usable forging metrics: no SIGHUP can be verified.
    MetricsUnavailable,
    /// The real credentials failed validation.
    CredentialsInvalid,
    /// The node is behind the chain tip (a configured tip check failed).
    BehindTip,
    /// The sidecar is shutting down.
    ShuttingDown,
    /// cardano-node restarted (new pid or start time) while we held the lease.
    NodeRestarted,
    /// The lease could not be read or written: the API server did not answer.
    ApiUnreachable,
    /// Another pod holds the lease and renews it.
    LeaseHeldByOther,
    /// The lease is free, expired or absent and we try to take it.
    LeaseAvailable,
    /// Someone wrote the lease between our read and our write (409).
    LeaseConflict,
    /// We took a lease that did not exist: its last holder may still forge, so we wait a lease
    /// duration before promoting.
    LeaseNewWaiting,
    /// Entitled, waiting out a slot before the promotion's SIGHUP: another node (or ours) may have
    /// checked leadership in the slot in progress, and a node enabled part-way through a slot
    /// checks that slot at once.
    SlotSettling,
    /// We hold the lease and renewed it.
    LeaseRenewed,
    /// Our last successful renewal is older than the renew deadline: we fence ourselves.
    RenewDeadlineExceeded,
    /// The lease now names another holder.
    LeaseLost,
    /// Cluster policy (or the global lease) does not let this region forge.
    PolicyDisallows,
    /// Our region's hold of the global lease passed its renew deadline: the gate shut by itself
    /// (the runtime shuts it before any round trip; the core drops the hold in that step).
    GlobalLeaseFenced,
    /// We are promoting: real credentials written, SIGHUP sent, awaiting the node's confirmation.
    Promoting,
    /// The node confirmed it forges.
    Forging,
    /// The node did not confirm a promotion in time.
    PromotionUnverified,
    /// We are demoting: credentials removed, SIGHUP sent, awaiting the node's confirmation.
    Demoting,
    /// The node did not confirm a demotion in time; the demotion path is retried.
    DemotionUnverified,
    /// The demotion is verified and the lease is released for a successor.
    Released,
    /// The demotion could not be verified after every retry: we keep the lease so that no other pod
    /// forges while this node might, and ask for an operator.
    DemotionStuck,
    /// Standing by: not holding the lease, node not forging.
    Standby,
    /// An operator deleted a lease we hold. Our finalizer keeps the record (and with it the
    /// node's cover) until the node is verifiably off; then we let the deletion complete and
    /// create the lease again.
    LeaseDeleted,
}

impl Reason {
    /// Every reason, for tests and documentation.
    pub const ALL: [Reason; 27] = [
        Reason::NodeNotRunning,
        Reason::SocketNotAccepting,
        Reason::MetricsUnavailable,
        Reason::CredentialsInvalid,
        Reason::BehindTip,
        Reason::ShuttingDown,
        Reason::NodeRestarted,
        Reason::ApiUnreachable,
        Reason::LeaseHeldByOther,
        Reason::LeaseAvailable,
        Reason::LeaseConflict,
        Reason::LeaseNewWaiting,
        Reason::SlotSettling,
        Reason::LeaseRenewed,
        Reason::RenewDeadlineExceeded,
        Reason::LeaseLost,
        Reason::PolicyDisallows,
        Reason::GlobalLeaseFenced,
        Reason::Promoting,
        Reason::Forging,
        Reason::PromotionUnverified,
        Reason::Demoting,
        Reason::DemotionUnverified,
        Reason::Released,
        Reason::DemotionStuck,
        Reason::Standby,
        Reason::LeaseDeleted,
    ];

    /// The stable snake_case name of this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NodeNotRunning => "node_not_running",
            Reason::SocketNotAccepting => "socket_not_accepting",
            Reason::MetricsUnavailable => "metrics_unavailable",
            Reason::CredentialsInvalid => "credentials_invalid",
            Reason::BehindTip => "behind_tip",
            Reason::ShuttingDown => "shutting_down",
            Reason::NodeRestarted => "node_restarted",
            Reason::ApiUnreachable => "api_unreachable",
            Reason::LeaseHeldByOther => "lease_held_by_other",
            Reason::LeaseAvailable => "lease_available",
            Reason::LeaseConflict => "lease_conflict",
            Reason::LeaseNewWaiting => "lease_new_waiting",
            Reason::SlotSettling => "slot_settling",
            Reason::LeaseRenewed => "lease_renewed",
            Reason::RenewDeadlineExceeded => "renew_deadline_exceeded",
            Reason::LeaseLost => "lease_lost",
            Reason::PolicyDisallows => "policy_disallows",
            Reason::GlobalLeaseFenced => "global_lease_fenced",
            Reason::Promoting => "promoting",
            Reason::Forging => "forging",
            Reason::PromotionUnverified => "promotion_unverified",
            Reason::Demoting => "demoting",
            Reason::DemotionUnverified => "demotion_unverified",
            Reason::Released => "released",
            Reason::DemotionStuck => "demotion_stuck",
            Reason::Standby => "standby",
            Reason::LeaseDeleted => "lease_deleted",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_as_str() {
        for r in Reason::ALL {
            let json = serde_json::to_string(&r).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
    }

    /// Every reason's stable name, as metrics labels, the journal and status spell it (and as
    /// `Display` writes it into messages): renaming one breaks dashboards, alerts and old journals.
    #[test]
    fn every_reason_keeps_its_stable_name() {
        let cases: [(Reason, &str); 27] = [
            (Reason::NodeNotRunning, "node_not_running"),
            (Reason::SocketNotAccepting, "socket_not_accepting"),
            (Reason::MetricsUnavailable, "metrics_unavailable"),
            (Reason::CredentialsInvalid, "credentials_invalid"),
            (Reason::BehindTip, "behind_tip"),
            (Reason::ShuttingDown, "shutting_down"),
            (Reason::NodeRestarted, "node_restarted"),
            (Reason::ApiUnreachable, "api_unreachable"),
            (Reason::LeaseHeldByOther, "lease_held_by_other"),
            (Reason::LeaseAvailable, "lease_available"),
            (Reason::LeaseConflict, "lease_conflict"),
            (Reason::LeaseNewWaiting, "lease_new_waiting"),
            (Reason::SlotSettling, "slot_settling"),
            (Reason::LeaseRenewed, "lease_renewed"),
            (Reason::RenewDeadlineExceeded, "renew_deadline_exceeded"),
            (Reason::LeaseLost, "lease_lost"),
            (Reason::PolicyDisallows, "policy_disallows"),
            (Reason::GlobalLeaseFenced, "global_lease_fenced"),
            (Reason::Promoting, "promoting"),
            (Reason::Forging, "forging"),
            (Reason::PromotionUnverified, "promotion_unverified"),
            (Reason::Demoting, "demoting"),
            (Reason::DemotionUnverified, "demotion_unverified"),
            (Reason::Released, "released"),
            (Reason::DemotionStuck, "demotion_stuck"),
            (Reason::Standby, "standby"),
            (Reason::LeaseDeleted, "lease_deleted"),
        ];
        assert_eq!(
            cases.map(|(r, _)| r),
            Reason::ALL,
            "one row per reason, in order"
        );
        for (reason, name) in cases {
            assert_eq!(reason.as_str(), name);
            assert_eq!(reason.to_string(), name);
        }
    }
}
