//! The dead-man switch (docs/safety.md §8): a second, tiny process in every pod that demotes the
//! node when the sidecar has stalled.
//!
//! The sidecar arms a heartbeat before it promotes, refreshes it after every successful renewal and
//! disarms it after a verified demotion (`crate::runtime::Heartbeat`). When an armed heartbeat is
//! older than `renew_deadline` (the same bound at which a live sidecar fences itself), the watchdog
//! removes the credential files, SIGHUPs the node once, puts the standby set back and disarms the
//! heartbeat, so it fires once per stall.

use std::path::PathBuf;
use std::time::Duration;

use crate::core::time::MonoTime;
use crate::credentials::{self, CredentialPaths};
use crate::ports::{Clock, Fs, Node};
use crate::runtime::Heartbeat;

/// How often the watchdog looks at the heartbeat: a small fraction of the renew deadline.
pub const DEFAULT_CHECK_PERIOD: Duration = Duration::from_millis(500);

/// What the watchdog needs.
#[derive(Clone, Debug)]
pub struct WatchdogSettings {
    /// The sidecar's heartbeat file.
    pub heartbeat: PathBuf,
    /// Where cardano-node reads its credentials.
    pub target: CredentialPaths,
    /// The standby set to put back, if any (decoy mode).
    pub standby: Option<CredentialPaths>,
    /// The sidecar's renew deadline.
    pub renew_deadline: Duration,
    /// How often to look.
    pub check_period: Duration,
}

/// The verdict on one heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No heartbeat, or disarmed: nothing to guard.
    Disarmed,
    /// Armed and fresh.
    Alive,
    /// Armed and older than the renew deadline: demote now.
    Stalled,
}

/// Judges a heartbeat at `now` (pure). An armed heartbeat is stalled from the instant its sidecar
/// would have fenced itself (`fence_at_ms`); a heartbeat without one (an older sidecar) from
/// `renew_deadline` after it was written.
pub fn judge(heartbeat: Option<Heartbeat>, now: MonoTime, renew_deadline: Duration) -> Verdict {
    match heartbeat {
        Some(h) if h.armed => {
            let fence_at = h
                .fence_at_ms
                .map_or(MonoTime(h.mono_ms) + renew_deadline, MonoTime);
            if now >= fence_at {
                Verdict::Stalled
            } else {
                Verdict::Alive
            }
        }
        _ => Verdict::Disarmed,
    }
}

/// What one firing did, for logs and the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    /// Credential files removed.
    pub removed: usize,
    /// Whether the SIGHUP was delivered.
    pub sighup: bool,
    /// Whether the standby set was put back.
    pub standby: bool,
    /// Whether the node then reported forging disabled (or was gone).
    pub confirmed: bool,
    /// The sidecar rewrote the heartbeat while the watchdog acted (it came back): the disarm was
    /// left to it, and so was the standby set unless `standby` says it went in first.
    pub superseded: bool,
    /// When the watchdog fired, on the pod's monotonic clock (ms).
    pub at_mono_ms: u64,
}

/// One look at the heartbeat; demotes the node if it is stalled.
pub async fn check_once(
    clock: &impl Clock,
    fs: &impl Fs,
    node: &impl Node,
    s: &WatchdogSettings,
) -> Option<Firing> {
    let judged = fs.read(&s.heartbeat).await.ok();
    let heartbeat = judged
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Heartbeat>(b).ok());
    let at = clock.now_mono();
    if judge(heartbeat, at, s.renew_deadline) != Verdict::Stalled {
        return None;
    }
    let removed = credentials::remove_set(fs, &s.target).await.unwrap_or(0);
    let mut sighup = false;
    if let Some(p) = node.find().await
        && node.socket_accepts().await
    {
        sighup = node.sighup(p).await.is_ok();
    }
    // The decoys go back only once the node confirms forging is off: written while it is still
    // handling the SIGHUP, they would be what it loads (and its demotion could never be verified).
    let mut standby = false;
    let confirmed = if sighup {
        wait_disabled(clock, node).await
    } else {
        node.find().await.is_none()
    };
    // A sidecar that came back meanwhile (a frozen pod thaws sidecar and watchdog together) has
    // rewritten the heartbeat: it owns the files and the heartbeat again. Decoys written now would
    // land over the real keys of its new promotion, and its node would load them and report forging
    // enabled (decoys count) while it forges nothing (chaos seed 6604: no forger for the rest of the
    // run); a disarm would leave that promotion unguarded. The removal and the SIGHUP above are
    // safe whatever the sidecar does: they can only stop forging.
    // Looked at again after the refill, which takes a while (three files, each synced).
    let mut superseded = fs.read(&s.heartbeat).await.ok() != judged;
    if confirmed
        && !superseded
        && let Some(paths) = &s.standby
        && let Ok(set) = credentials::read_set(fs, paths).await
    {
        standby = credentials::write_set(fs, &s.target, &set).await.is_ok();
        superseded = fs.read(&s.heartbeat).await.ok() != judged;
    }
    if !superseded {
        let disarmed = Heartbeat {
            mono_ms: clock.now_mono().as_ms(),
            armed: false,
            fence_at_ms: None,
        };
        let _ = fs
            .write_atomic(
                &s.heartbeat,
                &serde_json::to_vec(&disarmed).unwrap_or_default(),
                0o644,
            )
            .await;
    }
    tracing::warn!(
        removed,
        sighup,
        standby,
        superseded,
        "watchdog: the sidecar's heartbeat is older than the renew deadline: node demoted"
    );
    Some(Firing {
        removed,
        sighup,
        standby,
        confirmed,
        superseded,
        at_mono_ms: at.as_ms(),
    })
}

impl Firing {
    /// The firing's line in the watchdog's log, at the pod's wall clock `wall`.
    pub fn log_event(
        &self,
        wall: String,
        pod: String,
    ) -> crate::journal::watchdog_log::WatchdogEvent {
        crate::journal::watchdog_log::WatchdogEvent {
            wall,
            mono_ms: self.at_mono_ms,
            pod,
            removed: self.removed,
            sighup: self.sighup,
            confirmed: self.confirmed,
            superseded: self.superseded,
        }
    }
}

/// Waits (bounded: 5 s) for the node's metrics to report forging disabled.
async fn wait_disabled(clock: &impl Clock, node: &impl Node) -> bool {
    for _ in 0..50 {
        if let Ok(m) = node.metrics().await
            && m.forging_enabled == Some(false)
        {
            return true;
        }
        clock.sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs forever, looking every `check_period`; `on_fire` sees every firing.
pub async fn run(
    clock: &impl Clock,
    fs: &impl Fs,
    node: &impl Node,
    s: &WatchdogSettings,
    mut on_fire: impl FnMut(&Firing),
) {
    loop {
        if let Some(f) = check_once(clock, fs, node, s).await {
            on_fire(&f);
        }
        clock.sleep(s.check_period).await;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use futures::executor::block_on;

    use super::*;
    use crate::credentials::{CredentialFile, sample_set};
    use crate::testing::{FakeClock, FakeFs, FakeNode};

    #[test]
    fn only_an_armed_heartbeat_older_than_the_deadline_is_a_stall() {
        let d = Duration::from_secs(10);
        let hb = |mono_ms, armed, fence_at_ms| {
            Some(Heartbeat {
                mono_ms,
                armed,
                fence_at_ms,
            })
        };
        // (heartbeat, now, verdict)
        let cases = [
            (None, 50_000, Verdict::Disarmed),
            (hb(0, false, None), 50_000, Verdict::Disarmed),
            (hb(0, false, Some(1)), 50_000, Verdict::Disarmed),
            // An older sidecar's heartbeat: written + renew deadline.
            (hb(1_000, true, None), 10_999, Verdict::Alive),
            (hb(1_000, true, None), 11_000, Verdict::Stalled),
            // The sidecar's own fencing instant, earlier than written + renew deadline (a
            // promotion or refresh long after the renewal its holds rest on).
            (hb(9_000, true, Some(10_000)), 9_999, Verdict::Alive),
            (hb(9_000, true, Some(10_000)), 10_000, Verdict::Stalled),
            (hb(9_000, true, Some(10_000)), 18_999, Verdict::Stalled),
        ];
        for (h, now, want) in cases {
            assert_eq!(judge(h, MonoTime(now), d), want, "{h:?} at {now}");
        }
    }

    /// A forging node reading real keys, a decoy set beside them, and an armed heartbeat written
    /// at 0 by a sidecar that has stalled since.
    struct Stalled {
        clock: FakeClock,
        fs: FakeFs,
        node: FakeNode,
        s: WatchdogSettings,
        target: CredentialPaths,
        real: crate::credentials::CredentialSet,
        decoys: crate::credentials::CredentialSet,
    }

    fn stalled() -> Stalled {
        let clock = FakeClock::new();
        let fs = FakeFs::new();
        let target = CredentialPaths::in_dir(Path::new("/opt/cardano/secrets"));
        let decoy = CredentialPaths::in_dir(Path::new("/decoy"));
        let (real, decoys) = (sample_set("real"), sample_set("decoy"));
        for f in CredentialFile::ALL {
            fs.put(target.get(f), real.get(f), 0o600);
            fs.put(decoy.get(f), decoys.get(f), 0o600);
        }
        let node = FakeNode::new(fs.clone(), target.clone());
        node.start(true);
        let pid = node.state().process.unwrap_or_else(|| unreachable!());
        block_on(node.sighup(pid)).ok();
        let s = WatchdogSettings {
            heartbeat: "/opt/cardano/secrets/.hb".into(),
            target: target.clone(),
            standby: Some(decoy),
            renew_deadline: Duration::from_secs(10),
            check_period: DEFAULT_CHECK_PERIOD,
        };
        let armed = serde_json::to_vec(&Heartbeat {
            mono_ms: 0,
            armed: true,
            fence_at_ms: None,
        })
        .unwrap_or_default();
        fs.put(&s.heartbeat, &armed, 0o644);
        Stalled {
            clock,
            fs,
            node,
            s,
            target,
            real,
            decoys,
        }
    }

    #[test]
    fn a_stalled_sidecars_node_is_demoted_once_and_gets_the_decoys_back() {
        let Stalled {
            clock,
            fs,
            node,
            s,
            target,
            real,
            decoys,
        } = stalled();
        assert!(node.forges_with(&real));

        clock.advance(Duration::from_secs(9));
        assert_eq!(block_on(check_once(&clock, &fs, &node, &s)), None);
        clock.advance(Duration::from_secs(1));
        let fired = block_on(check_once(&clock, &fs, &node, &s));
        assert_eq!(
            fired,
            Some(Firing {
                removed: 3,
                sighup: true,
                standby: true,
                confirmed: true,
                superseded: false,
                at_mono_ms: 10_000,
            })
        );
        // The node re-read the files on SIGHUP before the decoys came back: forging stopped.
        assert!(!node.forges_with(&real));
        assert_eq!(
            fs.get(&target.kes).map(|(b, _)| b),
            Some(decoys.kes.clone())
        );
        // Fires once per stall.
        clock.advance(Duration::from_secs(30));
        assert_eq!(block_on(check_once(&clock, &fs, &node, &s)), None);
        assert_eq!(node.state().sighups, 2);
    }

    /// A node whose first metrics read lets a thawed sidecar act first: it re-arms the heartbeat
    /// and writes its real keys, as the sidecar of a frozen pod does while its watchdog waits for
    /// the node to confirm (chaos seed 6604).
    struct SidecarComesBack {
        node: FakeNode,
        fs: FakeFs,
        heartbeat: std::path::PathBuf,
        target: CredentialPaths,
        real: crate::credentials::CredentialSet,
        done: std::cell::Cell<bool>,
    }

    impl Node for SidecarComesBack {
        async fn find(&self) -> Option<crate::ports::NodeProcess> {
            self.node.find().await
        }
        async fn socket_accepts(&self) -> bool {
            self.node.socket_accepts().await
        }
        async fn sighup(
            &self,
            p: crate::ports::NodeProcess,
        ) -> Result<(), crate::ports::NodeError> {
            self.node.sighup(p).await
        }
        async fn metrics(&self) -> Result<crate::ports::NodeMetrics, crate::ports::NodeError> {
            let m = self.node.metrics().await;
            if !self.done.replace(true) {
                let armed = serde_json::to_vec(&Heartbeat {
                    mono_ms: 10_050,
                    armed: true,
                    fence_at_ms: Some(20_050),
                })
                .unwrap_or_default();
                self.fs.put(&self.heartbeat, &armed, 0o644);
                for f in CredentialFile::ALL {
                    self.fs.put(self.target.get(f), self.real.get(f), 0o600);
                }
            }
            m
        }
    }

    #[test]
    fn a_sidecar_that_comes_back_while_the_watchdog_acts_keeps_its_keys_and_its_heartbeat() {
        let Stalled {
            clock,
            fs,
            node: inner,
            s,
            target,
            real,
            ..
        } = stalled();
        let node = SidecarComesBack {
            node: inner.clone(),
            fs: fs.clone(),
            heartbeat: s.heartbeat.clone(),
            target: target.clone(),
            real: real.clone(),
            done: std::cell::Cell::new(false),
        };

        clock.advance(Duration::from_secs(10));
        let fired = block_on(check_once(&clock, &fs, &node, &s));
        assert_eq!(
            fired,
            Some(Firing {
                removed: 3,
                sighup: true,
                standby: false,
                confirmed: true,
                superseded: true,
                at_mono_ms: 10_000,
            })
        );
        // The sidecar's new keys and armed heartbeat are untouched: no decoys over them, no disarm.
        assert_eq!(fs.get(&target.kes).map(|(b, _)| b), Some(real.kes.clone()));
        let hb = fs
            .get(&s.heartbeat)
            .and_then(|(b, _)| serde_json::from_slice::<Heartbeat>(&b).ok());
        assert_eq!(
            hb.map(|h| (h.armed, h.fence_at_ms)),
            Some((true, Some(20_050)))
        );
    }
}
