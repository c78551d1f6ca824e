//! The timing budget: how lease duration, renew deadline, retry period, request timeout and demotion
//! time must relate for the safety rule to hold, checked once at start (client-go and Patroni do the
//! same when an elector is built).

use std::time::Duration;

/// Every timing the safety rule depends on.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    /// How long an observer must see a lease record unchanged before it may take the lease over.
    pub lease_duration: Duration,
    /// How long a holder keeps forging without a successful renewal before it demotes itself.
    pub renew_deadline: Duration,
    /// How often candidates retry and holders renew.
    pub retry_period: Duration,
    /// Largest fraction by which one retry period may be stretched by jitter (0.2 = +20 %).
    pub retry_jitter: f64,
    /// Upper bound of one API request, after which it counts as failed.
    pub api_timeout: Duration,
    /// Upper bound of one demotion: remove the real keys, SIGHUP, the node stops forging.
    pub demotion_time: Duration,
    /// How long to wait for the node's metrics to confirm a SIGHUP took effect.
    pub sighup_verify_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            retry_jitter: 0.2,
            api_timeout: Duration::from_secs(3),
            demotion_time: Duration::from_secs(1),
            sighup_verify_timeout: Duration::from_secs(5),
        }
    }
}

/// One broken relation in the timing budget, phrased for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingProblem {
    /// The setting to change (its environment variable name).
    pub variable: &'static str,
    /// What was found and what is needed.
    pub message: String,
    /// Every setting the relation reads (`variable` among them): a caller whose value for one of
    /// them did not parse skips the relation instead of judging it on a stand-in.
    pub involves: &'static [&'static str],
}

/// Safety margin a renew deadline must leave before the lease can expire elsewhere, on top of the
/// demotion itself: covers clock-rate drift between pods and a late wake-up of the loop.
pub fn expiry_margin(lease_duration: Duration) -> Duration {
    // 10 % of the lease, at least one second: 1.5 s for the default 15 s lease.
    std::cmp::max(Duration::from_secs(1), lease_duration / 10)
}

impl Timing {
    /// The longest a holder may go between two renewal attempts: one jittered retry period plus one
    /// request that runs into its timeout.
    pub fn worst_renew_interval(&self) -> Duration {
        self.retry_period.mul_f64(1.0 + self.retry_jitter.max(0.0)) + self.api_timeout
    }

    /// Checks every relation the safety argument (docs/safety.md) relies on; all problems at once.
    pub fn problems(&self) -> Vec<TimingProblem> {
        let mut out = Vec::new();
        let secs = |d: Duration| format!("{}s", d.as_secs_f64());
        if self.retry_period.is_zero() {
            out.push(TimingProblem {
                variable: "RETRY_PERIOD",
                message: "must be greater than zero".into(),
                involves: &["RETRY_PERIOD"],
            });
        }
        if !(0.0..=1.0).contains(&self.retry_jitter) {
            out.push(TimingProblem {
                variable: "RETRY_PERIOD",
                message: format!("jitter fraction {} must be within 0..=1", self.retry_jitter),
                involves: &["RETRY_PERIOD"],
            });
        }
        if self.retry_period >= self.renew_deadline {
            out.push(TimingProblem {
                variable: "RETRY_PERIOD",
                message: format!(
                    "retry period {} must be shorter than RENEW_DEADLINE {}",
                    secs(self.retry_period),
                    secs(self.renew_deadline)
                ),
                involves: &["RETRY_PERIOD", "RENEW_DEADLINE"],
            });
        } else if self.worst_renew_interval() + self.demotion_time > self.renew_deadline {
            out.push(TimingProblem {
                variable: "RENEW_DEADLINE",
                message: format!(
                    "renew deadline {} must cover retry period with jitter + API timeout + demotion time = {}",
                    secs(self.renew_deadline),
                    secs(self.worst_renew_interval() + self.demotion_time)
                ),
                involves: &["RENEW_DEADLINE", "RETRY_PERIOD", "API_TIMEOUT"],
            });
        }
        if self.renew_deadline >= self.lease_duration {
            out.push(TimingProblem {
                variable: "RENEW_DEADLINE",
                message: format!(
                    "renew deadline {} must be shorter than LEASE_DURATION {}",
                    secs(self.renew_deadline),
                    secs(self.lease_duration)
                ),
                involves: &["RENEW_DEADLINE", "LEASE_DURATION"],
            });
        } else if self.renew_deadline + self.demotion_time + expiry_margin(self.lease_duration)
            > self.lease_duration
        {
            out.push(TimingProblem {
                variable: "LEASE_DURATION",
                message: format!(
                    "lease duration {} must exceed renew deadline + demotion time + margin = {}",
                    secs(self.lease_duration),
                    secs(
                        self.renew_deadline
                            + self.demotion_time
                            + expiry_margin(self.lease_duration)
                    )
                ),
                involves: &["LEASE_DURATION", "RENEW_DEADLINE"],
            });
        }
        if self.api_timeout.is_zero() {
            out.push(TimingProblem {
                variable: "API_TIMEOUT",
                message: "must be greater than zero".into(),
                involves: &["API_TIMEOUT"],
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(lease: u64, renew: u64, retry: u64) -> Timing {
        Timing {
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_secs(retry),
            ..Timing::default()
        }
    }

    #[test]
    fn defaults_fit_the_budget() {
        assert_eq!(Timing::default().problems(), vec![]);
    }

    #[test]
    fn each_problem_lists_its_own_variable_among_those_it_involves() {
        for timing in [
            t(15, 10, 10),
            t(10, 10, 2),
            t(11, 10, 2),
            t(15, 6, 2),
            t(15, 10, 0),
        ] {
            for p in timing.problems() {
                assert!(p.involves.contains(&p.variable), "{p:?}");
            }
        }
    }

    #[test]
    fn each_broken_relation_names_its_variable() {
        let cases: &[(Timing, &[&str])] = &[
            (t(15, 10, 10), &["RETRY_PERIOD"]),
            (t(15, 10, 12), &["RETRY_PERIOD"]),
            (t(10, 10, 2), &["RENEW_DEADLINE"]),
            (t(10, 12, 2), &["RENEW_DEADLINE"]),
            (t(11, 10, 2), &["LEASE_DURATION"]),
            (t(15, 6, 2), &["RENEW_DEADLINE"]),
            (t(15, 10, 0), &["RETRY_PERIOD"]),
        ];
        for (timing, want) in cases {
            let got: Vec<_> = timing.problems().iter().map(|p| p.variable).collect();
            assert_eq!(&got, want, "{timing:?}");
        }
    }
}
