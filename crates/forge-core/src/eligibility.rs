//! The eligibility rule (safety rule, clause 3): may this pod's node take part in the election at all?
//!
//! An ineligible pod neither holds nor acquires a lease; a leader that becomes ineligible demotes
//! and releases at once so an eligible standby takes over within a second.

use serde::{Deserialize, Serialize};

use super::reason::Reason;

/// Facts about this pod's node and sidecar, observed this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// A cardano-node process was found.
    pub node_running: bool,
    /// Its socket accepted a connection (startup and ledger replay are over).
    pub socket_accepting: bool,
    /// Its metrics endpoint answered with parseable forging metrics: without them no SIGHUP can be
    /// verified, so we must not promote.
    pub metrics_readable: bool,
    /// The real credentials (the mounted secret) passed validation.
    pub credentials_valid: bool,
    /// The sidecar received SIGTERM.
    pub shutting_down: bool,
    /// The node is at the chain tip, when a tip check is configured (`None`: no check).
    pub at_tip: Option<bool>,
}

impl Eligibility {
    /// `Ok` when eligible, else the first failing clause, most fundamental first.
    pub fn verdict(&self) -> Result<(), Reason> {
        if self.shutting_down {
            Err(Reason::ShuttingDown)
        } else if !self.node_running {
            Err(Reason::NodeNotRunning)
        } else if !self.socket_accepting {
            Err(Reason::SocketNotAccepting)
        } else if !self.metrics_readable {
            Err(Reason::MetricsUnavailable)
        } else if !self.credentials_valid {
            Err(Reason::CredentialsInvalid)
        } else if self.at_tip == Some(false) {
            Err(Reason::BehindTip)
        } else {
            Ok(())
        }
    }

    /// An eligible pod (for tests and simulations).
    pub fn all_good() -> Self {
        Eligibility {
            node_running: true,
            socket_accepting: true,
            metrics_readable: true,
            credentials_valid: true,
            shutting_down: false,
            at_tip: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clause_is_required_and_named() {
        let ok = Eligibility::all_good();
        assert_eq!(ok.verdict(), Ok(()));
        type Break = fn(&mut Eligibility);
        let cases: [(Break, Reason); 6] = [
            (|e| e.shutting_down = true, Reason::ShuttingDown),
            (|e| e.node_running = false, Reason::NodeNotRunning),
            (|e| e.socket_accepting = false, Reason::SocketNotAccepting),
            (|e| e.metrics_readable = false, Reason::MetricsUnavailable),
            (|e| e.credentials_valid = false, Reason::CredentialsInvalid),
            (|e| e.at_tip = Some(false), Reason::BehindTip),
        ];
        for (break_it, want) in cases {
            let mut e = ok;
            break_it(&mut e);
            assert_eq!(e.verdict(), Err(want));
        }
        let mut e = ok;
        e.at_tip = Some(true);
        assert_eq!(e.verdict(), Ok(()));
    }
}
