//! The timing budget: how lease duration, renew deadline, retry period, request timeout and demotion
//! time must relate for the safety rule to hold. A [`Timing`] can only be built through
//! [`Timing::new`], which checks every relation (client-go refuses an impossible elector in its
//! constructor the same way): configuration, scenario files and journal replays all pass through it,
//! so no decision ever runs on a budget the safety argument does not cover.

use std::time::Duration;

/// Every timing the safety rule depends on, as read from settings: not yet checked. [`Timing::new`]
/// turns it into a [`Timing`] or says what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimingParams {
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
    /// The chain's slot length, when known: a node whose forging is enabled part-way through a slot
    /// checks that slot at once, so a promotion waits out [`TimingParams::slot_settle`] after the
    /// moment another node (or ours) may last have forged. `None` (a network without a slot
    /// clock): no wait. Absent in older journals.
    #[serde(default)]
    pub slot_length: Option<Duration>,
}

impl Default for TimingParams {
    fn default() -> Self {
        TimingParams {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            retry_jitter: 0.2,
            api_timeout: Duration::from_secs(3),
            demotion_time: Duration::from_secs(1),
            sighup_verify_timeout: Duration::from_secs(5),
            slot_length: None,
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

/// How much longer than a slot a promotion waits after the last instant another node may have
/// forged: a monotonic clock that runs up to this fraction fast still waits out a whole slot of
/// real time (quartz drifts under 100 ppm; the simulator's chaos draws up to 2 %).
pub const SLOT_SETTLE_MARGIN: f64 = 0.05;

impl TimingParams {
    /// How long after the last instant another node (or our own, before a restart or a demotion)
    /// may have forged a promotion must wait, so that the new forger's first leadership check
    /// falls in a later slot than the last one's: one slot and [`SLOT_SETTLE_MARGIN`]. Zero without
    /// a slot clock.
    pub fn slot_settle(&self) -> Duration {
        self.slot_length
            .map_or(Duration::ZERO, |s| s.mul_f64(1.0 + SLOT_SETTLE_MARGIN))
    }

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
                    "lease duration {} must be at least renew deadline + demotion time + margin = {}",
                    secs(self.lease_duration),
                    secs(
                        self.renew_deadline
                            + self.demotion_time
                            + expiry_margin(self.lease_duration)
                    )
                ),
                involves: &["LEASE_DURATION", "RENEW_DEADLINE"],
            });
        } else if self.renew_deadline + self.demotion_time + self.slot_settle()
            > self.lease_duration
        {
            // A lease taken over on expiry is promoted at once: its fenced holder stopped forging
            // at least this long before, which must hold a whole slot.
            out.push(TimingProblem {
                variable: "SLOT_LENGTH",
                message: format!(
                    "slot length {} is too long: lease duration {} must be at least renew deadline + demotion time + {} (the slot and {} %)",
                    secs(self.slot_length.unwrap_or_default()),
                    secs(self.lease_duration),
                    secs(self.slot_settle()),
                    SLOT_SETTLE_MARGIN * 100.0
                ),
                involves: &["SLOT_LENGTH", "LEASE_DURATION", "RENEW_DEADLINE"],
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

/// A timing budget that satisfies every relation of [`TimingParams::problems`]. The fields are
/// private so that nothing can build or change one without the check; deserialising (a journal's
/// record) checks too.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "TimingParams", into = "TimingParams")]
pub struct Timing(TimingParams);

/// The problems of a timing that [`Timing::new`] refused, for callers that need an error type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTiming(pub Vec<TimingProblem>);

impl std::fmt::Display for InvalidTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{}: {}", p.variable, p.message))
            .collect();
        write!(f, "impossible timing budget: {}", lines.join("; "))
    }
}

impl std::error::Error for InvalidTiming {}

impl TryFrom<TimingParams> for Timing {
    type Error = InvalidTiming;
    fn try_from(p: TimingParams) -> Result<Timing, InvalidTiming> {
        Timing::new(p).map_err(InvalidTiming)
    }
}

impl From<Timing> for TimingParams {
    fn from(t: Timing) -> TimingParams {
        t.0
    }
}

impl Default for Timing {
    /// The sidecar's defaults (15 s lease, 10 s renew deadline, 2 s retry), which fit the budget
    /// (a unit test holds them to it).
    fn default() -> Self {
        Timing(TimingParams::default())
    }
}

impl Timing {
    /// The only way to a `Timing`: every broken relation of the budget, or the checked timing.
    pub fn new(params: TimingParams) -> Result<Timing, Vec<TimingProblem>> {
        let problems = params.problems();
        if problems.is_empty() {
            Ok(Timing(params))
        } else {
            Err(problems)
        }
    }

    /// The settings this timing was built from (to change one and build again).
    pub fn params(&self) -> TimingParams {
        self.0
    }

    /// How long an observer must see a lease record unchanged before it may take the lease over.
    pub fn lease_duration(&self) -> Duration {
        self.0.lease_duration
    }

    /// How long a holder keeps forging without a successful renewal before it demotes itself.
    pub fn renew_deadline(&self) -> Duration {
        self.0.renew_deadline
    }

    /// How often candidates retry and holders renew.
    pub fn retry_period(&self) -> Duration {
        self.0.retry_period
    }

    /// Largest fraction by which one retry period may be stretched by jitter (0.2 = +20 %).
    pub fn retry_jitter(&self) -> f64 {
        self.0.retry_jitter
    }

    /// How long a watch of a held lease may go without an event: its holder renews it every
    /// retry period, so twice that without a word means a lost connection more likely than a
    /// quiet lease (and a lease unrenewed that long is lapsing anyway: opening the watch again
    /// costs one request).
    pub fn lease_quiet_limit(&self) -> Duration {
        self.0.retry_period * 2
    }

    /// Upper bound of one API request, after which it counts as failed.
    pub fn api_timeout(&self) -> Duration {
        self.0.api_timeout
    }

    /// Upper bound of one demotion: remove the real keys, SIGHUP, the node stops forging.
    pub fn demotion_time(&self) -> Duration {
        self.0.demotion_time
    }

    /// How long to wait for the node's metrics to confirm a SIGHUP took effect.
    pub fn sighup_verify_timeout(&self) -> Duration {
        self.0.sighup_verify_timeout
    }

    /// See [`TimingParams::worst_renew_interval`].
    pub fn worst_renew_interval(&self) -> Duration {
        self.0.worst_renew_interval()
    }

    /// See [`TimingParams::slot_settle`].
    pub fn slot_settle(&self) -> Duration {
        self.0.slot_settle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(lease: u64, renew: u64, retry: u64) -> TimingParams {
        TimingParams {
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_secs(retry),
            ..TimingParams::default()
        }
    }

    #[test]
    fn defaults_fit_the_budget() {
        assert_eq!(TimingParams::default().problems(), vec![]);
        assert_eq!(Timing::new(TimingParams::default()), Ok(Timing::default()));
    }

    #[test]
    fn new_refuses_what_the_budget_refuses_and_keeps_what_it_accepts() {
        let bad = t(10, 12, 2);
        assert_eq!(Timing::new(bad).err(), Some(bad.problems()));
        let good = t(30, 20, 4);
        let timing = Timing::new(good).map(|t| t.params());
        assert_eq!(timing, Ok(good));
    }

    #[test]
    fn deserialising_checks_the_budget_too() {
        let good = serde_json::to_string(&Timing::default()).unwrap_or_default();
        let back: Result<Timing, _> = serde_json::from_str(&good);
        assert_eq!(back.ok(), Some(Timing::default()));
        let bad = serde_json::to_string(&t(10, 12, 2)).unwrap_or_default();
        let err = serde_json::from_str::<Timing>(&bad)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("RENEW_DEADLINE")),
            "{err:?}"
        );
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
        let cases: &[(TimingParams, &[&str])] = &[
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

    /// docs/safety.md §2 states both budget relations with `≤`: a budget used to the millisecond
    /// is safe and accepted; one more millisecond breaks it and names the variable to change.
    #[test]
    fn each_relation_accepts_its_exact_limit_and_refuses_beyond() {
        let ms = Duration::from_millis;
        // Renew deadline = retry period with jitter + API timeout + demotion time (2.5 + 3 + 1).
        let renew = |renew_deadline| TimingParams {
            retry_jitter: 0.25,
            renew_deadline,
            ..TimingParams::default()
        };
        // Lease duration = renew deadline + demotion time + margin (17 + 1 + 2).
        let lease = |renew_deadline| TimingParams {
            lease_duration: Duration::from_secs(20),
            renew_deadline,
            ..TimingParams::default()
        };
        let cases: [(TimingParams, &[&str]); 4] = [
            (renew(ms(6_500)), &[]),
            (renew(ms(6_499)), &["RENEW_DEADLINE"]),
            (lease(ms(17_000)), &[]),
            (lease(ms(17_001)), &["LEASE_DURATION"]),
        ];
        for (timing, want) in cases {
            let got: Vec<_> = timing.problems().iter().map(|p| p.variable).collect();
            assert_eq!(&got, want, "{timing:?}");
        }
    }

    /// A lease taken on expiry is promoted at once, so its fenced holder's last slot must lie a
    /// whole slot (and the margin) before: lease duration - renew deadline - demotion time.
    #[test]
    fn a_slot_must_fit_between_a_fenced_holder_and_a_takeover() {
        let with = |lease: u64, slot_ms: u64| TimingParams {
            lease_duration: Duration::from_secs(lease),
            slot_length: Some(Duration::from_millis(slot_ms)),
            ..TimingParams::default()
        };
        let variables =
            |p: TimingParams| -> Vec<&str> { p.problems().iter().map(|p| p.variable).collect() };
        // 15 s lease, 10 s deadline, 1 s demotion: 4 s for the slot.
        assert_eq!(variables(with(15, 1_000)), Vec::<&str>::new());
        assert_eq!(variables(with(15, 3_800)), Vec::<&str>::new());
        assert_eq!(variables(with(15, 3_900)), ["SLOT_LENGTH"]);
        // A lease too short for its own margin is reported once, under LEASE_DURATION.
        assert_eq!(variables(with(11, 1_000)), ["LEASE_DURATION"]);
        assert_eq!(with(15, 1_000).slot_settle(), Duration::from_millis(1_050));
        assert_eq!(TimingParams::default().slot_settle(), Duration::ZERO);
    }

    /// A checked timing gives back exactly the settings it was built from, through every
    /// accessor, `From` and its serialized form (the journal records it, a replay rebuilds it):
    /// a replay on other settings would judge every deadline differently.
    #[test]
    fn a_timing_gives_back_the_settings_it_was_built_from() {
        let params = TimingParams {
            lease_duration: Duration::from_secs(30),
            renew_deadline: Duration::from_secs(20),
            retry_period: Duration::from_secs(4),
            retry_jitter: 0.5,
            api_timeout: Duration::from_secs(5),
            demotion_time: Duration::from_secs(2),
            sighup_verify_timeout: Duration::from_secs(7),
            slot_length: Some(Duration::from_secs(2)),
        };
        let timing = Timing::new(params).expect("a valid budget");
        assert_eq!(TimingParams::from(timing), params);
        assert_eq!(timing.params(), params);
        let accessors = [
            (timing.lease_duration(), params.lease_duration),
            (timing.renew_deadline(), params.renew_deadline),
            (timing.retry_period(), params.retry_period),
            (timing.api_timeout(), params.api_timeout),
            (timing.demotion_time(), params.demotion_time),
            (timing.sighup_verify_timeout(), params.sighup_verify_timeout),
        ];
        for (got, want) in accessors {
            assert_eq!(got, want);
        }
        assert_eq!(timing.retry_jitter().to_bits(), 0.5_f64.to_bits());
        let json = serde_json::to_value(timing).expect("serializes");
        assert_eq!(json, serde_json::to_value(params).expect("serializes"));
        let back: Timing = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, timing);
    }

    /// The longest gap between two renewal attempts: one retry period stretched by the jitter,
    /// plus one request that runs into its timeout (4 × 1.5 + 5 = 11 s; the default 2 × 1.2 + 3
    /// = 5.4 s). The renew-deadline relation is built on it.
    #[test]
    fn the_worst_renew_interval_is_a_jittered_period_plus_a_timed_out_request() {
        let wide = Timing::new(TimingParams {
            lease_duration: Duration::from_secs(30),
            renew_deadline: Duration::from_secs(20),
            retry_period: Duration::from_secs(4),
            retry_jitter: 0.5,
            api_timeout: Duration::from_secs(5),
            ..TimingParams::default()
        })
        .expect("a valid budget");
        let cases = [
            (wide, Duration::from_secs(11)),
            (Timing::default(), Duration::from_millis(5_400)),
        ];
        for (timing, want) in cases {
            assert_eq!(timing.worst_renew_interval(), want, "{timing:?}");
            assert_eq!(timing.params().worst_renew_interval(), want, "{timing:?}");
        }
    }
}
