//! Lease records and expiry judged the client-go way: by how long *this* observer has seen the same
//! record unchanged on its own monotonic clock. The holder's `renewTime` is never compared with
//! anyone's wall clock: clocks differ between pods and regions.

use std::time::Duration;

use super::time::MonoTime;

/// What kind of failure an API call met: the core treats each differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFailure {
    /// 409: someone wrote the object since we read it (stale resourceVersion) or it already exists.
    Conflict,
    /// 404: the object (or its type) does not exist.
    NotFound,
    /// No answer in time, connection refused or reset: we do not know whether a write happened.
    Unreachable,
    /// The request or the response made no sense: 400/422, or a body that does not decode.
    Invalid,
    /// Anything else the server said no to: 401/403, 5xx.
    Server,
}

/// What the core needs of a coordination.k8s.io/v1 Lease, independent of any client library.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseRecord {
    /// Object name.
    pub name: String,
    /// `spec.holderIdentity`; `None` or empty means free (released).
    pub holder: Option<String>,
    /// `spec.leaseDurationSeconds` as the holder wrote it.
    pub lease_duration_seconds: Option<i32>,
    /// `spec.acquireTime` (informational wall time, RFC 3339).
    pub acquire_time: Option<String>,
    /// `spec.renewTime` (informational wall time, RFC 3339): never used to judge expiry.
    pub renew_time: Option<String>,
    /// `spec.leaseTransitions`.
    pub lease_transitions: i32,
    /// `metadata.resourceVersion`: changes on every write, the basis of optimistic concurrency.
    pub resource_version: String,
    /// `metadata.deletionTimestamp` is set: someone deleted the object and a finalizer keeps it.
    #[serde(default)]
    pub terminating: bool,
    /// `metadata.finalizers`, kept by every write of ours (see [`LEASE_FINALIZER`]).
    #[serde(default)]
    pub finalizers: Vec<String>,
}

/// Our finalizer on the leases a node forges under. A lease object is what entitles its holder,
/// so deleting it must not leave a forging node without one: with the finalizer, an operator's
/// delete only marks the record, which keeps naming the holder until its node is verifiably off;
/// the holder then removes the finalizer (the deletion completes) and creates the lease again.
pub const LEASE_FINALIZER: &str = "cardano.io/forge-manager";

impl LeaseRecord {
    /// The holder, with the empty string read as "nobody".
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref().filter(|h| !h.is_empty())
    }

    /// Whether our finalizer is on the record.
    pub fn protected(&self) -> bool {
        self.finalizers.iter().any(|f| f == LEASE_FINALIZER)
    }

    /// Whether `identity` holds this record.
    pub fn is_held_by(&self, identity: &str) -> bool {
        self.holder() == Some(identity)
    }

    /// The lease duration an observer must wait: the longer of what the holder wrote and our own
    /// configuration (a holder may have been configured with a longer lease than ours).
    pub fn effective_duration(&self, configured: Duration) -> Duration {
        let written = self
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::ZERO);
        std::cmp::max(written, configured)
    }
}

/// What one observer remembers of a lease: the record it last saw change, and when (its own clock).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseObserver {
    /// The last record seen, and the instant it was first seen in this version.
    seen: Option<Seen>,
    /// The held record last seen before the object was deleted. Its holder may still be renewing
    /// (it learns of the deletion only at its next write), so until that record would have
    /// expired by observation the lease counts as held by it: a pod that created the lease at once
    /// would leave that holder forging on a record that no longer names it.
    #[serde(default)]
    deleted: Option<Seen>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Seen {
    holder: Option<String>,
    resource_version: String,
    record: LeaseRecord,
    first_seen_at: MonoTime,
    /// When the current tenure (same holder, acquireTime and leaseTransitions: renewals of one
    /// acquisition) was first seen.
    #[serde(default)]
    tenure_since: MonoTime,
}

impl Seen {
    /// When this record stops being live by observation: first seen unchanged plus its duration.
    fn live_until(&self, configured: Duration) -> MonoTime {
        self.first_seen_at + self.record.effective_duration(configured)
    }

    fn same_tenure(&self, r: &LeaseRecord) -> bool {
        self.holder.as_deref() == r.holder()
            && self.record.acquire_time == r.acquire_time
            && self.record.lease_transitions == r.lease_transitions
    }
}

/// The observer's verdict on a lease at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeaseState {
    /// No record has been seen (never read, or the object does not exist).
    Absent,
    /// Nobody holds it: released on purpose by its last holder.
    Free,
    /// Someone else holds it and we have seen the record change within the lease duration.
    HeldByOther,
    /// Someone else holds it but the record has not changed for at least the lease duration.
    Expired,
    /// We hold it (as far as the last record says).
    HeldByMe,
}

impl LeaseObserver {
    /// Records what a read returned at `now`; `None` means the object does not exist.
    ///
    /// The age restarts only when the record changes (another resourceVersion or holder), so a
    /// holder that renews resets it and one that stopped renewing does not.
    pub fn observe(&mut self, record: Option<&LeaseRecord>, now: MonoTime) {
        match record {
            None => {
                if let Some(s) = self.seen.take().filter(|s| s.record.holder().is_some()) {
                    self.deleted = Some(s);
                }
            }
            Some(r) => {
                self.deleted = None;
                let unchanged = self.seen.as_ref().is_some_and(|s| {
                    s.resource_version == r.resource_version && s.holder.as_deref() == r.holder()
                });
                if unchanged {
                    if let Some(s) = self.seen.as_mut() {
                        s.record = r.clone();
                    }
                } else {
                    let tenure_since = match &self.seen {
                        Some(s) if s.same_tenure(r) => s.tenure_since,
                        _ => now,
                    };
                    self.seen = Some(Seen {
                        holder: r.holder().map(str::to_owned),
                        resource_version: r.resource_version.clone(),
                        record: r.clone(),
                        first_seen_at: now,
                        tenure_since,
                    });
                }
            }
        }
    }

    /// Forgets everything: the next read starts a fresh observation (used after a restart).
    pub fn reset(&mut self) {
        self.seen = None;
        self.deleted = None;
    }

    /// The last record seen.
    pub fn record(&self) -> Option<&LeaseRecord> {
        self.seen.as_ref().map(|s| &s.record)
    }

    /// Since when the current tenure (one acquisition and its renewals) has been seen.
    pub fn tenure_since(&self) -> Option<MonoTime> {
        self.seen.as_ref().map(|s| s.tenure_since)
    }

    /// When the current record (this version) was first seen: after it was written.
    pub fn first_seen_at(&self) -> Option<MonoTime> {
        self.seen.as_ref().map(|s| s.first_seen_at)
    }

    /// How long the current record has been seen unchanged.
    pub fn unchanged_for(&self, now: MonoTime) -> Option<Duration> {
        self.seen.as_ref().map(|s| now.since(s.first_seen_at))
    }

    /// When a record held by someone stops being live by observation (first seen unchanged plus
    /// its duration), if one is held.
    pub fn expires_at(&self, configured: Duration) -> Option<MonoTime> {
        let s = self.seen.as_ref().or(self.deleted.as_ref())?;
        s.record.holder()?;
        Some(s.live_until(configured))
    }

    /// The holder of the record in force by observation: the current record's, or, until it would
    /// have expired, that of the held record deleted under its holder.
    pub fn holder(&self, configured: Duration, now: MonoTime) -> Option<&str> {
        match (&self.seen, &self.deleted) {
            (Some(s), _) => s.record.holder(),
            (None, Some(d)) if now < d.live_until(configured) => d.record.holder(),
            (None, _) => None,
        }
    }

    /// The verdict at `now` for `identity`, with `configured` as our own lease duration.
    pub fn state(&self, identity: &str, configured: Duration, now: MonoTime) -> LeaseState {
        let Some(s) = &self.seen else {
            // Deleted under a holder that may not know yet: held by it until it would have
            // expired, unless it is us (our previous incarnation, or our region on the global
            // lease), who re-create it and wait as any creator does.
            return match self.holder(configured, now) {
                Some(h) if h != identity => LeaseState::HeldByOther,
                _ => LeaseState::Absent,
            };
        };
        match s.record.holder() {
            None => LeaseState::Free,
            Some(h) if h == identity => LeaseState::HeldByMe,
            Some(_) => {
                if now >= s.live_until(configured) {
                    LeaseState::Expired
                } else {
                    LeaseState::HeldByOther
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(holder: &str, rv: &str, renew: &str) -> LeaseRecord {
        LeaseRecord {
            name: "l".into(),
            holder: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(renew.into()),
            resource_version: rv.into(),
            ..LeaseRecord::default()
        }
    }

    const D: Duration = Duration::from_secs(15);

    #[test]
    fn expiry_counts_from_when_this_observer_first_saw_the_record() {
        let mut o = LeaseObserver::default();
        // The renewTime says 1970: a wall-clock comparison would call it expired at once.
        let r = rec("pod-0", "7", "1970-01-01T00:00:00Z");
        o.observe(Some(&r), MonoTime(1_000));
        assert_eq!(
            o.state("pod-1", D, MonoTime(1_000)),
            LeaseState::HeldByOther
        );
        o.observe(Some(&r), MonoTime(15_999));
        assert_eq!(
            o.state("pod-1", D, MonoTime(15_999)),
            LeaseState::HeldByOther
        );
        assert_eq!(o.state("pod-1", D, MonoTime(16_000)), LeaseState::Expired);
        // The instant the cluster loop wakes for: exactly where the verdict turns.
        assert_eq!(o.expires_at(D), Some(MonoTime(16_000)));
        // A released lease never expires; nothing seen, nothing to wait for.
        let mut free = rec("pod-0", "8", "1970-01-01T00:00:00Z");
        free.holder = None;
        o.observe(Some(&free), MonoTime(17_000));
        assert_eq!(o.expires_at(D), None);
        assert_eq!(LeaseObserver::default().expires_at(D), None);
    }

    #[test]
    fn a_renewal_just_before_expiry_restarts_the_count() {
        let mut o = LeaseObserver::default();
        o.observe(Some(&rec("pod-0", "7", "x")), MonoTime(0));
        o.observe(Some(&rec("pod-0", "8", "x")), MonoTime(14_900));
        assert_eq!(
            o.state("pod-1", D, MonoTime(16_000)),
            LeaseState::HeldByOther
        );
        assert_eq!(o.state("pod-1", D, MonoTime(29_900)), LeaseState::Expired);
    }

    #[test]
    fn renew_time_far_in_the_future_changes_nothing() {
        // A holder whose wall clock runs an hour ahead writes renewTime +1h: irrelevant here.
        let mut o = LeaseObserver::default();
        o.observe(
            Some(&rec("pod-0", "7", "2999-01-01T00:00:00Z")),
            MonoTime(0),
        );
        assert_eq!(o.state("pod-1", D, MonoTime(15_000)), LeaseState::Expired);
    }

    #[test]
    fn the_longer_of_written_and_configured_duration_applies() {
        let mut o = LeaseObserver::default();
        let mut r = rec("pod-0", "7", "x");
        r.lease_duration_seconds = Some(30);
        o.observe(Some(&r), MonoTime(0));
        assert_eq!(
            o.state("pod-1", D, MonoTime(20_000)),
            LeaseState::HeldByOther
        );
        r.lease_duration_seconds = Some(5);
        let mut o = LeaseObserver::default();
        o.observe(Some(&r), MonoTime(0));
        assert_eq!(
            o.state("pod-1", D, MonoTime(10_000)),
            LeaseState::HeldByOther
        );
    }

    #[test]
    fn free_absent_and_mine_are_told_apart() {
        let mut o = LeaseObserver::default();
        assert_eq!(o.state("me", D, MonoTime(0)), LeaseState::Absent);
        let mut r = rec("", "1", "x");
        o.observe(Some(&r), MonoTime(0));
        assert_eq!(o.state("me", D, MonoTime(0)), LeaseState::Free);
        r.holder = Some("me".into());
        r.resource_version = "2".into();
        o.observe(Some(&r), MonoTime(1));
        assert_eq!(o.state("me", D, MonoTime(1)), LeaseState::HeldByMe);
        o.observe(None, MonoTime(2));
        assert_eq!(o.state("me", D, MonoTime(2)), LeaseState::Absent);
    }

    #[test]
    fn a_lease_deleted_under_its_holder_stays_held_until_it_would_have_expired() {
        let mut o = LeaseObserver::default();
        o.observe(Some(&rec("pod-0", "7", "x")), MonoTime(1_000));
        o.observe(None, MonoTime(5_000));
        // Others leave the holder its lease duration to re-create it; the holder's own identity
        // (a later incarnation) sees it absent and re-creates it as any creator does.
        assert_eq!(
            o.state("pod-1", D, MonoTime(5_000)),
            LeaseState::HeldByOther
        );
        assert_eq!(o.holder(D, MonoTime(15_999)), Some("pod-0"));
        assert_eq!(
            o.state("pod-1", D, MonoTime(15_999)),
            LeaseState::HeldByOther
        );
        assert_eq!(o.state("pod-0", D, MonoTime(5_000)), LeaseState::Absent);
        assert_eq!(o.expires_at(D), Some(MonoTime(16_000)));
        assert_eq!(o.record(), None);
        // Reading it absent again does not restart the count.
        o.observe(None, MonoTime(9_000));
        assert_eq!(o.state("pod-1", D, MonoTime(16_000)), LeaseState::Absent);
        assert_eq!(o.holder(D, MonoTime(16_000)), None);
        // Re-created (by anyone): an ordinary record again.
        o.observe(Some(&rec("pod-0", "9", "x")), MonoTime(10_000));
        assert_eq!(
            o.state("pod-1", D, MonoTime(24_000)),
            LeaseState::HeldByOther
        );
        o.observe(None, MonoTime(11_000));
        o.reset();
        assert_eq!(o.state("pod-1", D, MonoTime(11_000)), LeaseState::Absent);
        // A free record deleted leaves nothing to wait for.
        let mut free = rec("", "3", "x");
        free.holder = None;
        o.observe(Some(&free), MonoTime(12_000));
        o.observe(None, MonoTime(13_000));
        assert_eq!(o.state("pod-1", D, MonoTime(13_000)), LeaseState::Absent);
    }

    /// Our finalizer is recognised by its exact name among any others: a record being deleted
    /// may only keep our finalizer on a write if it already carries it (Kubernetes refuses new
    /// finalizers on a terminating object), so a miss would drop the node's cover.
    #[test]
    fn only_our_own_finalizer_protects_a_record() {
        let cases: [(&[&str], bool); 5] = [
            (&[], false),
            (&["example.com/other"], false),
            (&[LEASE_FINALIZER], true),
            (&["example.com/other", LEASE_FINALIZER], true),
            (&["cardano.io/forge-manager-old"], false),
        ];
        for (finalizers, want) in cases {
            let r = LeaseRecord {
                finalizers: finalizers.iter().map(|f| (*f).to_owned()).collect(),
                ..rec("pod-0", "1", "x")
            };
            assert_eq!(r.protected(), want, "{finalizers:?}");
        }
    }

    /// A tenure is one acquisition and its renewals: renewals (a new resourceVersion) keep its
    /// start, while a new holder, a new acquireTime or a counted transition starts a new one. A
    /// pod taking over a record its region created waits from this instant, so a tenure that
    /// started late must not inherit an earlier start.
    #[test]
    fn a_tenure_lasts_while_holder_acquire_time_and_transitions_stay() {
        let base = || LeaseRecord {
            acquire_time: Some("2026-01-01T00:00:00Z".into()),
            lease_transitions: 2,
            ..rec("pod-0", "7", "x")
        };
        type Change = fn(&mut LeaseRecord);
        let cases: [(&str, Change, MonoTime); 5] = [
            ("renewed", |_| {}, MonoTime(1_000)),
            (
                "new holder",
                |r| r.holder = Some("pod-1".into()),
                MonoTime(4_000),
            ),
            (
                "new acquire time",
                |r| r.acquire_time = Some("2026-01-01T00:00:03Z".into()),
                MonoTime(4_000),
            ),
            (
                "new transition",
                |r| r.lease_transitions = 3,
                MonoTime(4_000),
            ),
            ("released", |r| r.holder = None, MonoTime(4_000)),
        ];
        for (what, change, want) in cases {
            let mut o = LeaseObserver::default();
            o.observe(Some(&base()), MonoTime(1_000));
            let mut next = base();
            next.resource_version = "8".into();
            change(&mut next);
            o.observe(Some(&next), MonoTime(4_000));
            assert_eq!(o.tenure_since(), Some(want), "{what}");
        }
    }
}
