//! Carrying out a decision's actions in order: promote (keys in, SIGHUP, verify), demote (keys out,
//! SIGHUP, verify), stage the standby set, and the lease writes; each reports its result.

use super::*;

impl<C: Clock, K: Kube, F: Fs, N: Node, R: Recorder, G: cluster::Coordinator>
    Runtime<C, K, F, N, R, G>
{
    pub(super) async fn act(
        &mut self,
        d: &Decision,
        process: Option<NodeProcess>,
    ) -> Vec<ActionResult> {
        let mut results = Vec::with_capacity(d.actions.len());
        for action in &d.actions {
            let (ok, detail, files_changed, sighup) = match action {
                Action::Promote => self.promote(process, true).await,
                Action::Reprovision => self.promote(process, false).await,
                Action::Demote { sighup } => self.demote(*sighup, process).await,
                Action::Standby => {
                    let (ok, detail) = self.standby(process.is_some()).await;
                    (ok, detail, ok, SighupOutcome::NotSent)
                }
                Action::Lease { write } => {
                    let (ok, detail) = self.write_lease(*write).await;
                    (ok, detail, false, SighupOutcome::NotSent)
                }
            };
            if !ok {
                lock(&self.status).last_error = Some(format!("{action:?}: {detail}"));
            }
            results.push(ActionResult {
                action: *action,
                ok,
                detail,
                files_changed,
                sighup,
            });
        }
        results
    }

    /// Writes the real set and SIGHUPs the node once. A promotion arms the dead-man switch first;
    /// a reprovision (key rotation on a verified forger) finds it armed already.
    pub(super) async fn promote(&mut self, process: Option<NodeProcess>, arm: bool) -> Outcome {
        let not_sent = SighupOutcome::NotSent;
        // Whatever confirms forging from here on did not answer an earlier SIGHUP.
        self.sighup_sent = None;
        // The dead-man switch is armed before the keys are in place, with the instant at which we
        // would fence ourselves: a sidecar that stalls from here on has its node demoted by then.
        if arm {
            // A promotion always rests on the holds `fence_at` reads (`decide` asserts it); were
            // one missing, the watchdog still fires a renew deadline from now.
            let fence_at = self
                .fence_at()
                .unwrap_or_else(|| self.clock.now_mono() + self.settings.timing.renew_deadline());
            if let Err(e) = self.write_heartbeat(true, Some(fence_at)).await {
                return (
                    false,
                    format!("not promoting: cannot arm the watchdog heartbeat: {e}"),
                    false,
                    not_sent,
                );
            }
        }
        let set = match credentials::read_set(&self.fs, &self.settings.source).await {
            Ok(s) => s,
            Err(e) => return (false, format!("not promoting: {e}"), false, not_sent),
        };
        if let Err(e) = credentials::write_set(&self.fs, &self.settings.target, &set).await {
            // A half-written set: the node keeps its old state on SIGHUP; do not send one.
            return (
                false,
                format!("writing credentials failed: {e}"),
                false,
                not_sent,
            );
        }
        let fp = set.fingerprint();
        // Recorded before the SIGHUP: a failed signal is reported, never repeated in a loop.
        self.provisioned = Some(fp.clone());
        // The SIGHUP is what makes the node forge. A sidecar stopped (paused, starved) after its
        // decision may resume here past the moment its holds needed an answer, after the watchdog
        // fired for the stall and disarmed: never complete such a stale promotion (chaos seed
        // 2135: a pause of 56 s between the decision and the SIGHUP). The next decision finds the
        // hold fenced and removes the keys; a node without a SIGHUP does not load them.
        if let Some(by) = self.answer_by()
            && self.clock.now_mono() >= by
        {
            return (
                false,
                format!(
                    "real credentials {fp} written but no SIGHUP sent: the lease needed an answer by {by}, before this step finished"
                ),
                true,
                not_sent,
            );
        }
        match process {
            Some(p) => match self.node.sighup(p).await {
                Ok(()) => {
                    // Planned: the end of a handover the sidecars timed (a hold taken after a
                    // release or a handoff waits out a slot), not a start-up, a takeover on
                    // expiry or a later promotion on the same hold, whose SIGHUP falls anywhere
                    // in a slot.
                    let now = self.clock.now_mono();
                    let timing = &self.settings.timing;
                    let planned = self
                        .state
                        .seat
                        .hold
                        .as_ref()
                        .is_some_and(|h| h.timed_by_settle(now, timing))
                        || self.coordinator.gate_settled_handover(now);
                    self.note_sighup(SighupKind::Enable, planned);
                    (
                        true,
                        format!(
                            "real credentials {fp} written; SIGHUP sent to pid {}{}",
                            p.pid,
                            self.slot_note()
                        ),
                        true,
                        SighupOutcome::Sent,
                    )
                }
                Err(e) => (
                    false,
                    format!("real credentials {fp} written; SIGHUP failed: {e}"),
                    true,
                    SighupOutcome::Failed,
                ),
            },
            None => (
                false,
                format!("real credentials {fp} written; no node to signal"),
                true,
                not_sent,
            ),
        }
    }

    pub(super) async fn demote(&mut self, sighup: bool, process: Option<NodeProcess>) -> Outcome {
        self.sighup_sent = None;
        let removed = credentials::remove_set(&self.fs, &self.settings.target).await;
        self.provisioned = None;
        let mut detail = match &removed {
            Ok(n) => format!("{n} credential files removed"),
            Err(e) => format!("removing credentials failed: {e}"),
        };
        // The node reads its keys only on SIGHUP: the files are gone already (a node restarted
        // meanwhile starts without them), and a planned demotion's SIGHUP waits for the slot.
        let planned = self.planned_demotion();
        if sighup
            && process.is_some()
            && let Some(waited) = self.align_to_slot(planned).await
        {
            detail.push_str(&format!(
                "; waited {} ms for the next slot to begin",
                waited.as_millis()
            ));
        }
        let mut ok = removed.is_ok();
        let mut outcome = SighupOutcome::NotSent;
        match (sighup, process) {
            (true, Some(p)) => match self.node.sighup(p).await {
                Ok(()) => {
                    outcome = SighupOutcome::Sent;
                    self.note_sighup(SighupKind::Disable, planned);
                    detail.push_str(&format!(
                        "; SIGHUP sent to pid {}{}",
                        p.pid,
                        self.slot_note()
                    ));
                }
                Err(e) => {
                    ok = false;
                    outcome = SighupOutcome::Failed;
                    detail.push_str(&format!("; SIGHUP failed: {e}"));
                }
            },
            (false, Some(_)) => {
                detail.push_str("; no SIGHUP (the node's handler is not installed yet)");
            }
            (_, None) => detail.push_str("; no node running"),
        }
        (ok, detail, removed.is_ok_and(|n| n > 0), outcome)
    }

    pub(super) async fn standby(&mut self, node_running: bool) -> (bool, String) {
        match &self.settings.mode {
            CredentialMode::Decoy(decoy) => {
                let set = match credentials::read_set(&self.fs, decoy).await {
                    Ok(s) => s,
                    Err(e) => return (false, format!("decoy set unreadable: {e}")),
                };
                match credentials::write_set(&self.fs, &self.settings.target, &set).await {
                    Ok(()) => (true, format!("decoy set {} in place", set.fingerprint())),
                    Err(e) => (false, format!("writing the decoy set failed: {e}")),
                }
            }
            CredentialMode::Copy if node_running => {
                match credentials::remove_set(&self.fs, &self.settings.target).await {
                    Ok(n) => (true, format!("{n} credential files removed from a standby")),
                    Err(e) => (false, e.to_string()),
                }
            }
            CredentialMode::Copy => {
                let set = match credentials::read_set(&self.fs, &self.settings.source).await {
                    Ok(s) => s,
                    Err(e) => return (false, format!("real set unreadable: {e}")),
                };
                match credentials::write_set(&self.fs, &self.settings.target, &set).await {
                    Ok(()) => (
                        true,
                        format!(
                            "copy mode: real set {} in place for the node's start",
                            set.fingerprint()
                        ),
                    ),
                    Err(e) => (false, e.to_string()),
                }
            }
        }
    }

    pub(super) async fn write_lease(&mut self, write: LeaseWriteKind) -> (bool, String) {
        let t = &self.settings.timing;
        let now_wall = self.clock.now_wall();
        let base = match write {
            LeaseWriteKind::Renew | LeaseWriteKind::Release | LeaseWriteKind::Finalize => {
                self.state.seat.hold.as_ref().map(|h| h.record.clone())
            }
            LeaseWriteKind::Acquire => self.state.seat.observer.record().cloned(),
            LeaseWriteKind::Create => None,
        };
        let holder = (write != LeaseWriteKind::Release).then_some(self.settings.identity.as_str());
        let Some(req) = lease_write(
            write,
            &self.settings.lease_name,
            base.as_ref(),
            holder,
            t.lease_duration(),
            now_wall,
            true,
        ) else {
            return (
                false,
                format!("{write:?}: no lease record to base the write on"),
            );
        };
        let budget = self.request_budget();
        let sent_at = self.clock.now_mono();
        let (event, result) = send_lease_write(&self.clock, &self.kube, write, &req, budget).await;
        self.pending = event;
        match result {
            Ok(record) => {
                if write == LeaseWriteKind::Release {
                    self.released_version = Some(record.resource_version.clone());
                    self.release_round_trip = self.clock.now_mono().since(sent_at);
                }
                let detail = format!("{write:?} ok: resourceVersion {}", record.resource_version);
                (true, detail)
            }
            Err(e) => {
                let means = failed_write_means(LeaseScope::Local, write);
                (false, format!("{write:?} failed: {e}: {means}"))
            }
        }
    }

    /// Whether a demotion now is planned: a graceful shutdown, or a policy moving forging
    /// elsewhere, while every hold our node forges on is held (the sidecar chooses the moment).
    fn planned_demotion(&self) -> bool {
        (self.shutting_down
            || self.gate == Gate::Deny(crate::core::reason::Reason::PolicyDisallows))
            && self.holds_fence_at().is_some()
    }

    /// A planned demotion waits for the next slot start before its SIGHUP, so the leaving node
    /// has checked the slot in progress and the rest of the handover runs inside it
    /// ([`crate::core::slots`]). Returns how long it waited.
    async fn align_to_slot(&mut self, planned: bool) -> Option<Duration> {
        let wait = crate::core::slots::planned_wait(
            self.settings.slot_clock.as_ref(),
            self.clock.now_wall().as_millisecond(),
            self.clock.now_mono(),
            self.answer_by(),
            planned,
        )?;
        self.clock.sleep(wait).await;
        Some(wait)
    }

    /// Remembers a SIGHUP just delivered, to measure how long the node takes to confirm it.
    fn note_sighup(&mut self, kind: SighupKind, planned: bool) {
        let wall_ms = self.clock.now_wall().as_millisecond();
        self.sighup_sent = Some(SentSighup {
            kind,
            planned,
            mono: self.clock.now_mono(),
            wall_ms,
            last_on_wall_ms: wall_ms,
        });
    }

    /// The SIGHUP decision `d` found confirmed (its forging belief moved from promoting to on,
    /// or from demoting to off), measured to the observation pass that read the confirming
    /// metrics. Called before the decision's actions. A SIGHUP given up on (a timeout, a new
    /// attempt) is forgotten unmeasured: the next promotion or demotion replaces its record.
    pub(super) fn sighup_confirmed(
        &mut self,
        before: Forging,
        d: &Decision,
        seen: &Seen,
    ) -> Option<SighupConfirmed> {
        let read_at = seen.observations.now;
        let read_wall_ms = self.wall_ms_at(read_at);
        if let Some(s) = self.sighup_sent.as_mut()
            && s.kind == SighupKind::Disable
            && seen.observations.node.forging_enabled == Some(true)
        {
            // Still forging at this read: it checked this slot itself.
            s.last_on_wall_ms = s.last_on_wall_ms.max(read_wall_ms);
        }
        if sighup_verdict(before, d.next.forging) != Some(true) {
            return None;
        }
        let kind = match before {
            Forging::Promoting { .. } => SighupKind::Enable,
            _ => SighupKind::Disable,
        };
        let sent = self.sighup_sent.take().filter(|s| s.kind == kind)?;
        let after = read_at.since(sent.mono);
        let clock = self.settings.slot_clock;
        Some(SighupConfirmed {
            sighup: kind,
            planned: sent.planned,
            after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            sent: clock.map(|c| c.describe(sent.wall_ms)),
            confirmed: clock.map(|c| c.describe(read_wall_ms)),
            late_slots: clock.map(|c| match kind {
                SighupKind::Enable => c.starts_between(sent.wall_ms, read_wall_ms),
                SighupKind::Disable => c.late_stop_slots(
                    sent.last_on_wall_ms,
                    read_wall_ms,
                    self.settings.timing.slot_settle(),
                ),
            }),
        })
    }

    /// The wall time (ms) at monotonic instant `at` of this run, from the monotonic distance to
    /// now: the wall clock may step, the monotonic one does not.
    fn wall_ms_at(&self, at: MonoTime) -> i64 {
        let ago = i64::try_from(self.clock.now_mono().since(at).as_millis()).unwrap_or(i64::MAX);
        self.clock.now_wall().as_millisecond().saturating_sub(ago)
    }

    /// ` in slot S +P ms` when the chain's slot clock is known: a handover's two SIGHUPs in one
    /// slot mean the successor's node checked the slot its predecessor had already checked
    /// (docs/safety.md, "Planned handovers and the slot clock").
    fn slot_note(&self) -> String {
        self.settings
            .slot_clock
            .map(|c| format!(" in {}", c.describe(self.clock.now_wall().as_millisecond())))
            .unwrap_or_default()
    }
}
