//! Liveness probes: one fault (or operator change) at a time in a healthy world, each with the
//! promise the design makes about it written as expectations in its window.

use super::*;

/// The kinds of liveness probe: one fault (or one operator change) in an otherwise healthy world,
/// with the promise the design makes about it written as ordinary expectations in its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeKind {
    /// The forger's pod crashes; restarted 30–90 s later.
    Crash,
    /// The forger's sidecar gets SIGTERM; the pod is restarted 30–90 s later.
    Shutdown,
    /// The forger's cardano-node restarts.
    NodeRestart,
    /// A maintenance override (`forcePriority` worst, or `forceState = "Disabled"`) on the most
    /// preferred region, with an `expiresAt` 1–2 min ahead.
    Override,
    /// A region's `forgeState` set to `Disabled`, and back 1–2 min later.
    Disable,
    /// The most preferred region's priority made the worst, and back 1–2 min later.
    Priority,
    /// A region's health endpoint fails long enough to be detected, then recovers.
    Health,
    /// Every pod of the most preferred region crashes; restarted 1–2 min later.
    RegionLoss,
    /// The coordination API (or the forger's regional API) refuses connections for 2–3 s.
    ApiBlip,
}

impl ProbeKind {
    /// Every kind.
    pub const ALL: [ProbeKind; 9] = [
        ProbeKind::Crash,
        ProbeKind::Shutdown,
        ProbeKind::NodeRestart,
        ProbeKind::Override,
        ProbeKind::Disable,
        ProbeKind::Priority,
        ProbeKind::Health,
        ProbeKind::RegionLoss,
        ProbeKind::ApiBlip,
    ];

    /// Its name in descriptions and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Crash => "crash",
            ProbeKind::Shutdown => "shutdown",
            ProbeKind::NodeRestart => "node-restart",
            ProbeKind::Override => "override",
            ProbeKind::Disable => "disable",
            ProbeKind::Priority => "priority",
            ProbeKind::Health => "health",
            ProbeKind::RegionLoss => "region-loss",
            ProbeKind::ApiBlip => "api-blip",
        }
    }

    /// The kinds that apply to a world: those acting on policy need cluster management, a crash
    /// or shutdown needs somewhere to fail over to.
    pub fn applicable(s: &Scenario) -> Vec<ProbeKind> {
        let multi = s.cluster_management && s.regions.len() > 1;
        let preferred_pods = s.regions.first().map_or(0, |r| r.pods);
        ProbeKind::ALL
            .into_iter()
            .filter(|k| match k {
                ProbeKind::NodeRestart | ProbeKind::ApiBlip => true,
                ProbeKind::Crash | ProbeKind::Shutdown => multi || preferred_pods >= 2,
                _ => multi,
            })
            .collect()
    }
}

/// One probe of a seed: its kind and its window `[from, to)`, which holds its faults and its
/// expectations; no other fault of the seed lands in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeWindow {
    /// The kind.
    pub kind: ProbeKind,
    /// Its first fault.
    pub from: Duration,
    /// The end of its last expectation.
    pub to: Duration,
}

/// A probe that moves forging away from the preferred region and back (see
/// [`ProbeGen::moved_and_back`]).
pub(super) struct Move {
    /// The probe's first fault.
    pub(super) t: Duration,
    /// From when the next region forges.
    pub(super) away: Duration,
    /// Until when it does (and the preferred region does not).
    pub(super) until: Duration,
    /// By when the preferred region forges again.
    pub(super) by: Duration,
    /// The window's end.
    pub(super) end: Duration,
    /// The longest gap allowed until `until` (the planned bound from then on).
    pub(super) gap_away: Duration,
    /// When the holding region's leader shuts down inside the wait, if it does.
    pub(super) holder_change: Option<Duration>,
}

/// The probe phase's generator. Every bound is derived from the scenario's timing (docs/chaos.md
/// "Liveness probes" explains each one); `slow`/`fast` allow the pods' clock-rate margin (drift up
/// to ±20 000 ppm, 2 %).
pub(super) struct ProbeGen<'a> {
    pub(super) rng: SplitMix64,
    pub(super) s: &'a Scenario,
    pub(super) faults: Vec<Fault>,
    pub(super) expects: Vec<Expect>,
    pub(super) windows: Vec<ProbeWindow>,
    /// What the clock set-up did, for the description.
    pub(super) setup: String,
    /// No pod's clock is skewed or drifting: planned moves are judged on missed slots too (a
    /// leaving pod aligns its demotion on its own wall clock; a wrong one costs a slot, never a
    /// second check, see docs/safety.md).
    pub(super) true_clocks: bool,
}

/// A duration lengthened by the clock-rate margin (2 %).
pub(super) fn slow(d: Duration) -> Duration {
    d * 51 / 50
}

/// A duration shortened by the clock-rate margin (2 %).
pub(super) fn fast(d: Duration) -> Duration {
    d * 49 / 50
}

pub(super) fn window(from: Duration, to: Duration) -> Window {
    Window {
        from: Some(from),
        to: Some(to),
    }
}

impl<'a> ProbeGen<'a> {
    pub(super) fn new(rng: SplitMix64, s: &'a Scenario) -> Self {
        ProbeGen {
            rng,
            s,
            faults: Vec::new(),
            expects: Vec::new(),
            windows: Vec::new(),
            setup: String::new(),
            // Skews and drifts of the safety phase stay (only partitions and the like heal).
            true_clocks: !s.faults.iter().any(|f| {
                matches!(
                    f.action,
                    FaultAction::Skew { .. } | FaultAction::Drift { .. }
                )
            }),
        }
    }

    pub(super) fn push(&mut self, at: Duration, action: FaultAction) {
        self.faults.push(Fault { at, action });
    }

    pub(super) fn expect(&mut self, e: Expect) {
        self.expects.push(e);
    }

    /// The most preferred region (priority 1) and the next one (where forging goes without it).
    pub(super) fn preferred(&self) -> String {
        preferred_region(self.s)
    }

    pub(super) fn second(&self) -> String {
        let p = self.preferred();
        self.s
            .regions
            .iter()
            .filter(|r| r.name != p)
            .min_by_key(|r| r.priority)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }

    pub(super) fn others(&self) -> Vec<String> {
        let p = self.preferred();
        self.s
            .regions
            .iter()
            .filter(|r| r.name != p)
            .map(|r| r.name.clone())
            .collect()
    }

    pub(super) fn multi(&self) -> bool {
        self.s.cluster_management && self.s.regions.len() > 1
    }

    /// The longest gap of an unplanned failover (the holder died): its lease must expire on the
    /// candidates' clocks (`lease_duration`), the next attempt comes within a retry period, and
    /// one more retry period plus a second covers the promotion (keys, SIGHUP, verification).
    pub(super) fn unplanned_gap(&self) -> Duration {
        let t = &self.s.timing;
        t.lease_duration + 2 * t.retry_period + Duration::from_secs(1)
    }

    /// The longest gap of a planned move (the holder hands over after a verified demotion): 1 s
    /// for the chain (the leaving node's demotion and its verification, the handoff or release,
    /// the successor's acquire) and the successor's slot settle (a slot and 5 %: its first
    /// leadership check falls in the slot after the leaving node's last), measured at the world's
    /// resolution. Every timer and message of the world is rounded up to its tick, so a gap of
    /// exactly the bound can read one tick longer.
    pub(super) fn planned_gap(&self) -> Duration {
        Duration::from_secs(1) + self.s.slot_length.mul_f64(1.05) + self.s.tick
    }

    /// The gap a lost forger may leave: a shutdown is a planned move, a crash is not.
    fn expect_gap_of(&mut self, kind: ProbeKind, window: Window) {
        if kind == ProbeKind::Shutdown {
            self.expect_planned(window);
        } else {
            self.expect(Expect::MaxGap {
                value: self.unplanned_gap(),
                window,
            });
        }
    }

    /// A planned move's window: no gap above [`ProbeGen::planned_gap`], and with true clocks no
    /// missed slot.
    fn expect_planned(&mut self, window: Window) {
        self.expect(Expect::MaxGap {
            value: self.planned_gap(),
            window,
        });
        if self.true_clocks {
            self.expect(Expect::MaxMissedSlots { value: 0, window });
        }
    }

    /// How long an operator change may take to move forging: the next round reads the spec (a
    /// retry period), a second round for the handoff, and 2 s for demotion and promotion.
    pub(super) fn react(&self) -> Duration {
        2 * self.s.timing.retry_period + Duration::from_secs(2)
    }

    /// The earliest instant a region that became eligible again at `at` (restarted pods) may
    /// forge: the failback delay, less the clock-rate margin and 2 s.
    pub(super) fn no_failback_before(&self, at: Duration) -> Duration {
        (at + fast(self.s.timing.failback_delay)).saturating_sub(Duration::from_secs(2))
    }

    /// By when a region restarted at `at` has forging back: node startup, then a new pod waits
    /// out the old local lease and the presence record on its own clock (at most
    /// `lease_duration` + 2 retry periods each), then the failback delay; 15 s margin.
    pub(super) fn failback_by(&self, at: Duration) -> Duration {
        let t = &self.s.timing;
        at + self.s.node.startup
            + 2 * (t.lease_duration + 2 * t.retry_period)
            + slow(t.failback_delay)
            + Duration::from_secs(15)
    }

    /// Skew (minutes either way) and drift (within ±20 000 ppm) of the pods' clocks before the
    /// first probe, on some seeds: promises judged on a wall clock must hold in such worlds.
    pub(super) fn clocks(&mut self, at: Duration) {
        let skew = self.rng.chance(40);
        let drift = self.rng.chance(40);
        for pod in self.s.pods() {
            if skew {
                let magnitude = i64::try_from(self.rng.range(60_000, 600_000)).unwrap_or(60_000);
                let offset_ms = self.rng.either_sign(magnitude);
                self.push(
                    at,
                    FaultAction::Skew {
                        target: PodRef::Pod(pod.clone()),
                        offset_ms,
                    },
                );
            }
            if drift {
                let magnitude = i64::try_from(self.rng.range(100, 20_000)).unwrap_or(100);
                let ppm = self.rng.either_sign(magnitude);
                self.push(
                    at,
                    FaultAction::Drift {
                        target: PodRef::Pod(pod),
                        ppm,
                    },
                );
            }
        }
        self.true_clocks &= !skew && !drift;
        self.setup = match (skew, drift) {
            (true, true) => " (every pod's clock skewed by minutes and drifting)",
            (true, false) => " (every pod's clock skewed by minutes)",
            (false, true) => " (every pod's clock drifting)",
            (false, false) => "",
        }
        .into();
    }

    /// Draws probes from `start` until `budget` is used (at least one); returns the phase's end.
    pub(super) fn run(&mut self, start: Duration, budget: Duration) -> Duration {
        let kinds = ProbeKind::applicable(self.s);
        self.clocks(start);
        // The clock faults land at `start`; the first probe waits for nothing they might stir.
        let mut t = start + Duration::from_secs(30);
        loop {
            let kind = *self.rng.pick(&kinds);
            let end = self.probe(kind, t);
            self.windows.push(ProbeWindow {
                kind,
                from: t,
                to: end,
            });
            // The next probe starts 10 s after this window: every fault of it is undone and its
            // last expectation had the forger back in the preferred region for 30 s.
            t = end + Duration::from_secs(10);
            if t >= start + budget {
                return t;
            }
        }
    }

    /// One probe at `t`; returns its window's end.
    pub(super) fn probe(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        match kind {
            ProbeKind::Crash | ProbeKind::Shutdown | ProbeKind::RegionLoss => self.lose(kind, t),
            ProbeKind::NodeRestart => self.node_restart(t),
            ProbeKind::Override | ProbeKind::Disable | ProbeKind::Priority => {
                self.operator(kind, t)
            }
            ProbeKind::Health => self.health(t),
            ProbeKind::ApiBlip => self.api_blip(t),
        }
    }

    /// The preferred region loses its forger (crash, shutdown) or every pod (region loss); the
    /// pods come back later.
    pub(super) fn lose(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let pods = self.s.pods_of(&p);
        match kind {
            ProbeKind::Crash => self.push(
                t,
                FaultAction::Crash {
                    target: PodRef::Forger,
                },
            ),
            ProbeKind::Shutdown => self.push(
                t,
                FaultAction::Shutdown {
                    target: PodRef::Forger,
                },
            ),
            _ => {
                for pod in &pods {
                    self.push(
                        t,
                        FaultAction::Crash {
                            target: PodRef::Pod(pod.clone()),
                        },
                    );
                }
            }
        }
        let region_lost = kind == ProbeKind::RegionLoss || pods.len() < 2;
        let back = t + if region_lost {
            self.rng.duration(secs(60), secs(120))
        } else {
            self.rng.duration(secs(30), secs(90))
        };
        // Every region: when an earlier probe failed and the forger was elsewhere, `forger` was
        // not in `p`, and a pod left down would make every later probe fail too (restarting a
        // region with no pod down is a no-op).
        for r in &self.s.regions {
            self.push(
                back,
                FaultAction::Restart {
                    target: Target::Region(r.name.clone()),
                },
            );
        }
        let settled = t + self.unplanned_gap();
        if !region_lost {
            // A pod of the preferred region takes over; forging never leaves the region.
            let end = back + self.s.node.startup + secs(35);
            self.expect_gap_of(kind, window(t, end));
            for q in self.others() {
                self.expect(Expect::NoForgerIn {
                    region: q,
                    from: t,
                    to: end,
                });
            }
            self.expect(Expect::ForgerBy {
                by: settled,
                who: Placement::Region(p),
                to: Some(end),
            });
            self.expect(Expect::MaxHandovers {
                value: 1,
                window: window(t, end),
            });
            return end;
        }
        // The region is gone: the next one takes over, and forging returns only after the
        // failback delay once the region is back.
        let quiet_until = self.no_failback_before(back);
        let by = self.failback_by(back);
        let end = by + secs(30);
        let change = self.holder_change(back);
        self.expect_gap_of(kind, window(t, end));
        // Taking forging back is a planned move.
        self.expect_planned(window(quiet_until, end));
        self.held_by_second(settled, quiet_until, change);
        self.expect(Expect::NoForgerIn {
            region: p.clone(),
            // A planned demotion (a shutdown) first waits for the next slot start.
            from: t + secs(1) + self.s.slot_length,
            to: quiet_until,
        });
        self.expect(Expect::ForgerBy {
            by,
            who: Placement::Region(p),
            to: Some(end),
        });
        self.expect(Expect::MaxHandovers {
            value: 2 + u64::from(change.is_some()),
            window: window(t, end),
        });
        end
    }

    /// The forger's cardano-node restarts (unplanned: the node comes back non-producing).
    pub(super) fn node_restart(&mut self, t: Duration) -> Duration {
        let p = self.preferred();
        let end = t + Duration::from_secs(90);
        self.push(
            t,
            FaultAction::NodeRestart {
                target: PodRef::Forger,
            },
        );
        self.expect(Expect::MaxGap {
            value: self.unplanned_gap(),
            window: window(t, end),
        });
        // With another pod in the region, or no other region, forging stays in the region.
        if !self.multi() || self.s.pods_of(&p).len() >= 2 {
            for q in self.others() {
                self.expect(Expect::NoForgerIn {
                    region: q,
                    from: t,
                    to: end,
                });
            }
            self.expect(Expect::ForgerBy {
                by: t + self.unplanned_gap(),
                who: Placement::Region(p),
                to: Some(end),
            });
            self.expect(Expect::MaxHandovers {
                value: 1,
                window: window(t, end),
            });
        }
        end
    }

    /// An operator moves forging away from the preferred region (override with an expiry,
    /// `Disabled`, a worse priority) and back; or disables another region (nothing moves).
    pub(super) fn operator(&mut self, kind: ProbeKind, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let back = t + self.rng.duration(secs(60), secs(120));
        let worst = u64::try_from(self.s.regions.len()).unwrap_or(u64::MAX) + 1;
        let end = back + self.react() + secs(40);
        let (target, spec) = match kind {
            ProbeKind::Override => {
                let mut o = serde_json::json!({
                    "enabled": true,
                    "reason": "maintenance",
                    "expiresAt": format_duration(back),
                });
                // A merge patch cannot remove a key, and a TOML file has no null: a `forceState`
                // an earlier patch left in this region's override (say "Enabled") would stay in
                // force beside our `forcePriority`. Then force the state instead.
                let left_state = self.s.faults.iter().chain(&self.faults).any(|f| {
                    matches!(&f.action, FaultAction::Patch { region, spec }
                        if *region == p && spec.get("override").and_then(|o| o.get("forceState")).is_some())
                });
                if self.rng.chance(50) && !left_state {
                    o["forcePriority"] = worst.into();
                } else {
                    o["forceState"] = "Disabled".into();
                }
                (p.clone(), serde_json::json!({ "override": o }))
            }
            ProbeKind::Priority => (p.clone(), serde_json::json!({ "priority": worst })),
            _ => {
                let target = if self.rng.chance(70) {
                    p.clone()
                } else {
                    let others = self.others();
                    self.rng.pick(&others).clone()
                };
                (target, serde_json::json!({ "forgeState": "Disabled" }))
            }
        };
        self.push(
            t,
            FaultAction::Patch {
                region: target.clone(),
                spec,
            },
        );
        // The override ends by its expiry (judged on the API server's clock, which the pods
        // know to a second); the other changes are undone by the operator.
        let undo_margin = if kind == ProbeKind::Override {
            secs(2)
        } else {
            if let Some(r) = self.s.region(&target) {
                self.push(
                    back,
                    FaultAction::Patch {
                        region: target.clone(),
                        spec: restore_spec(r),
                    },
                );
            }
            Duration::ZERO
        };
        if target != p {
            // Disabling another region changes nothing.
            self.no_move(t, end);
            return end;
        }
        self.moved_and_back(Move {
            t,
            away: t + self.react(),
            until: back.saturating_sub(undo_margin),
            by: back + undo_margin + self.react(),
            end,
            gap_away: self.planned_gap(),
            holder_change: None,
        });
        end
    }

    /// Forging stays where it is in `[t, end)`, with no handover.
    pub(super) fn no_move(&mut self, t: Duration, end: Duration) {
        self.expect(Expect::ForgerBy {
            by: t,
            who: Placement::Region(self.preferred()),
            to: Some(end),
        });
        self.expect(Expect::MaxHandovers {
            value: 0,
            window: window(t, end),
        });
    }

    /// A planned move (see [`Move`]): forging leaves the preferred region for the next one by
    /// `away`, stays there until `until`, and is back by `by`; no gap above `gap_away` until
    /// `until`, and none above the planned bound from then to `end`.
    pub(super) fn moved_and_back(&mut self, m: Move) {
        let p = self.preferred();
        if m.gap_away == self.planned_gap() {
            self.expect_planned(window(m.t, m.end));
        } else {
            self.expect(Expect::MaxGap {
                value: m.gap_away,
                window: window(m.t, m.until),
            });
            self.expect_planned(window(m.until, m.end));
        }
        self.held_by_second(m.away, m.until, m.holder_change);
        self.expect(Expect::NoForgerIn {
            region: p.clone(),
            from: m.away,
            to: m.until,
        });
        self.expect(Expect::ForgerBy {
            by: m.by,
            who: Placement::Region(p),
            to: Some(m.end),
        });
        self.expect(Expect::MaxHandovers {
            value: 2 + u64::from(m.holder_change.is_some()),
            window: window(m.t, m.end),
        });
    }

    /// `forger-by r2` in `[from, until)`, leaving out the holder's own leader change (a graceful
    /// local handover in `r2`, judged by the probe's `max-gap`).
    pub(super) fn held_by_second(
        &mut self,
        from: Duration,
        until: Duration,
        change: Option<Duration>,
    ) {
        let who = Placement::Region(self.second());
        match change {
            Some(at) => {
                self.expect(Expect::ForgerBy {
                    by: from,
                    who: who.clone(),
                    to: Some(at),
                });
                self.expect(Expect::ForgerBy {
                    by: at + self.unplanned_gap(),
                    who,
                    to: Some(until),
                });
            }
            None => self.expect(Expect::ForgerBy {
                by: from,
                who,
                to: Some(until),
            }),
        }
    }

    /// On some recoveries (40 %, when the next region has a second pod): the holding region's
    /// leader shuts down 20 s after `recovered` and its pod is restarted 30 s later, inside the
    /// failback wait. A new leader there must keep the delay the old one started, not hand
    /// forging back at once. Returns the shutdown's instant.
    pub(super) fn holder_change(&mut self, recovered: Duration) -> Option<Duration> {
        let r2 = self.second();
        if self.s.pods_of(&r2).len() < 2 || !self.rng.chance(40) {
            return None;
        }
        let at = recovered + Duration::from_secs(20);
        self.push(
            at,
            FaultAction::Shutdown {
                target: PodRef::Leader(r2.clone()),
            },
        );
        self.push(
            at + Duration::from_secs(30),
            FaultAction::Restart {
                target: Target::Region(r2),
            },
        );
        Some(at)
    }

    /// A region's health endpoint fails long enough to be detected, then recovers. The
    /// preferred region hands over once `health_failure_threshold` probes failed, and takes
    /// forging back only after `health_success_threshold` good probes and the failback delay.
    pub(super) fn health(&mut self, t: Duration) -> Duration {
        let secs = Duration::from_secs;
        let p = self.preferred();
        let target = if self.rng.chance(75) {
            p.clone()
        } else {
            let others = self.others();
            self.rng.pick(&others).clone()
        };
        let timing = self.s.timing.clone();
        let (interval, failures, successes) = (
            timing.health_interval,
            timing.health_failure_threshold,
            timing.health_success_threshold,
        );
        // The first failed probe may come at once: the third (of 3) no sooner than two intervals
        // later. It may come an interval late: the third within three intervals, plus half an
        // interval for the round that acts on it.
        let stays_until = (t + fast(interval * failures.saturating_sub(1))).saturating_sub(secs(2));
        let moved_by = t + slow(interval * failures) + interval / 2;
        let healthy_at = moved_by + self.rng.duration(secs(30), secs(90));
        let quiet_until = (healthy_at
            + fast(interval * successes.saturating_sub(1) + timing.failback_delay))
        .saturating_sub(secs(2));
        let back_by = healthy_at + slow(interval * successes + timing.failback_delay) + secs(15);
        let end = back_by + secs(30);
        self.push(
            t,
            FaultAction::Health {
                region: target.clone(),
                healthy: false,
            },
        );
        self.push(
            healthy_at,
            FaultAction::Health {
                region: target.clone(),
                healthy: true,
            },
        );
        if target != p {
            self.no_move(t, end);
            return end;
        }
        self.expect(Expect::ForgerBy {
            by: t,
            who: Placement::Region(p),
            to: Some(stays_until),
        });
        // Moving away is a graceful handover too, but no operator asked for it: the next region
        // may learn that it is preferred now only at its next round (a retry period). Taking
        // forging back after the failback delay is the holder's planned handover.
        let gap_away = self.s.timing.retry_period + self.planned_gap();
        let change = self.holder_change(healthy_at);
        self.moved_and_back(Move {
            t,
            away: moved_by,
            until: quiet_until,
            by: back_by,
            end,
            gap_away,
            holder_change: change,
        });
        end
    }

    /// The coordination API (or the forger's regional API) refuses connections for 2–3 s: far
    /// below the renew deadline, so nothing may change.
    pub(super) fn api_blip(&mut self, t: Duration) -> Duration {
        let p = self.preferred();
        let target = if self.multi() && self.rng.chance(70) {
            ApiServer::Global
        } else {
            self.s.local_api_of(&p)
        };
        let down = self
            .rng
            .duration(Duration::from_secs(2), Duration::from_secs(3));
        self.push(
            t,
            FaultAction::ApiDown {
                target: target.clone(),
            },
        );
        self.push(t + down, FaultAction::ApiUp { target });
        let end = t + Duration::from_secs(60);
        self.no_move(t, end);
        end
    }
}
