//! Lease requests shared by the local and the cluster loops: building a write from the record it
//! replaces, reading and sending within a budget, and waiting for a region-mate to take a released
//! lease.

use super::*;

/// Which lease a write was for, for the words of its failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseScope {
    /// Our region's local lease (which pod of the region may forge).
    Local,
    /// The global lease (which region may forge).
    Global,
    /// Our region's presence lease (that the region is alive, for the others' ranking).
    Presence,
}

/// What a failed lease write means for forging, for the log line that reports it: a failure
/// is never taken for a success, and the line says what happens next.
pub fn failed_write_means(scope: LeaseScope, write: LeaseWriteKind) -> &'static str {
    use LeaseScope::*;
    use LeaseWriteKind::*;
    match (scope, write) {
        (Local, Create | Acquire) => "this pod does not lead its region, so it does not forge",
        (Local, Renew) => {
            "the hold stands until its renew deadline; without a renewal by then this pod stops \
             forging"
        }
        (Local, Release | Finalize) => {
            "the lease is left to expire (the write may not have been applied); nobody of our \
             region forges on it meanwhile"
        }
        (Global, Create | Acquire) => {
            "our region does not hold the global lease, so it does not forge"
        }
        (Global, Renew) => {
            "our region keeps the global lease until its renew deadline; without a renewal by then \
             its forger stops"
        }
        (Global, Release | Finalize) => {
            "the global lease is left to expire (the write may not have been applied); our node is \
             off, and no other region forges on it until it expires"
        }
        (Presence, _) => {
            "our region's presence lease is not refreshed: when it lapses, other regions count us \
             absent; forging is not affected"
        }
    }
}

/// The write `write` of lease `name` giving it to `holder` (`None` releases it), based on `base`,
/// the record it replaces (`None` only for a create). A new holder gets a fresh `acquireTime` and
/// counts one more `leaseTransitions`; a renewal or release keeps both. `renewTime` always moves
/// forward, because the API server keeps the resourceVersion of a no-op update and the core must
/// never take such a write for a renewal. Shared by the local and the cluster loops.
pub fn lease_write(
    write: LeaseWriteKind,
    name: &str,
    base: Option<&LeaseRecord>,
    holder: Option<&str>,
    lease_duration: Duration,
    now_wall: jiff::Timestamp,
    protect: bool,
) -> Option<LeaseWrite> {
    let lease_duration_seconds = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
    let holder_owned = holder.map(str::to_owned);
    let finalizers = finalizers_of(write, base, holder.is_some() && protect);
    match (write, base) {
        (LeaseWriteKind::Create, _) => Some(LeaseWrite {
            name: name.to_owned(),
            holder: holder_owned,
            lease_duration_seconds,
            acquire_time: Some(now_wall),
            renew_time: Some(now_wall),
            lease_transitions: 0,
            resource_version: String::new(),
            finalizers,
        }),
        (_, None) => None,
        (_, Some(r)) => {
            let taking_over = holder.is_some_and(|h| !r.is_held_by(h));
            Some(LeaseWrite {
                name: name.to_owned(),
                holder: holder_owned,
                lease_duration_seconds,
                acquire_time: if taking_over {
                    Some(now_wall)
                } else {
                    r.acquire_time.as_deref().and_then(|s| s.parse().ok())
                },
                renew_time: Some(later_than(now_wall, r.renew_time.as_deref())),
                lease_transitions: r.lease_transitions + i32::from(taking_over),
                resource_version: r.resource_version.clone(),
                finalizers,
            })
        }
    }
}

/// The finalizers a write leaves on the lease: whatever others put there, and ours while it names
/// a holder (`protect`), except when we finalize a deletion. A released lease carries none of
/// ours, so a namespace whose pods left cleanly deletes without help. An object being deleted
/// takes no new finalizer (the API server would refuse the write).
pub(super) fn finalizers_of(
    write: LeaseWriteKind,
    base: Option<&LeaseRecord>,
    protect: bool,
) -> Vec<String> {
    let mut finalizers: Vec<String> = base
        .map(|r| {
            r.finalizers
                .iter()
                .filter(|f| *f != LEASE_FINALIZER)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let allowed = base.is_none_or(|r| !r.terminating || r.protected());
    if protect && allowed && write != LeaseWriteKind::Finalize {
        finalizers.push(LEASE_FINALIZER.to_owned());
    }
    finalizers
}

/// `now`, or one millisecond after `previous` if our clock is not past it: every renewal must change
/// the object, or the API server keeps its resourceVersion and observers see no renewal.
pub(super) fn later_than(now: jiff::Timestamp, previous: Option<&str>) -> jiff::Timestamp {
    let previous: Option<jiff::Timestamp> = previous.and_then(|p| p.parse().ok());
    match previous {
        Some(p) if p >= now => p
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap_or(now),
        _ => now,
    }
}

/// Whether a pod other than `identity` takes lease `name` within `grace` of the write that left
/// it at resourceVersion `rv` (watched).
pub(super) async fn local_successor_within(
    clock: &impl Clock,
    kube: &impl Kube,
    name: &str,
    identity: &str,
    mut rv: String,
    grace: Duration,
) -> bool {
    let start = clock.now_mono();
    let taken = |r: &LeaseRecord| r.holder().is_some_and(|h| h != identity);
    loop {
        let left = grace.saturating_sub(clock.now_mono().since(start));
        // A sliver of the grace left is not worth another watch: a timer rounds up.
        if left < Duration::from_millis(10) {
            return false;
        }
        match with_timeout(clock, left, kube.watch_lease(name, &rv, left)).await {
            Some(Ok(Some(r))) if taken(&r) => return true,
            Some(Ok(Some(r))) => rv = r.resource_version,
            Some(Ok(None)) | None => return false,
            // A failed watch: look once more by a read, then decide.
            Some(Err(_)) => {
                return matches!(
                    read_lease(clock, kube, name, left).await,
                    LeaseEvent::Read(Some(r)) if taken(&r)
                );
            }
        }
    }
}

/// Reads lease `name` within `budget`, as the core sees the answer: 404 is an absent lease, no
/// answer in time is `Unreachable`.
pub async fn read_lease(
    clock: &impl Clock,
    kube: &impl Kube,
    name: &str,
    budget: Duration,
) -> LeaseEvent {
    match with_timeout(clock, budget, kube.get_lease(name)).await {
        Some(Ok(r)) => LeaseEvent::Read(Some(r)),
        Some(Err(e)) if e.kind == ApiFailure::NotFound => LeaseEvent::Read(None),
        Some(Err(e)) => LeaseEvent::ReadFailed(e.kind),
        None => LeaseEvent::ReadFailed(ApiFailure::Unreachable),
    }
}

/// Sends a lease write (create, or replace with the request's resourceVersion) within `budget`.
/// Returns the answer as the core sees it (`sent_at` = now, before sending: counting a renewal from
/// the send is conservative) and the raw result.
pub async fn send_lease_write(
    clock: &impl Clock,
    kube: &impl Kube,
    write: LeaseWriteKind,
    req: &LeaseWrite,
    budget: Duration,
) -> (LeaseEvent, Result<LeaseRecord, KubeError>) {
    let sent_at = clock.now_mono();
    let answer = if write == LeaseWriteKind::Create {
        with_timeout(clock, budget, kube.create_lease(req)).await
    } else {
        with_timeout(clock, budget, kube.replace_lease(req)).await
    };
    let result = answer.unwrap_or_else(|| {
        Err(KubeError::new(
            ApiFailure::Unreachable,
            format!("no answer within {budget:?}"),
        ))
    });
    let event = match &result {
        Ok(record) => LeaseEvent::Wrote {
            write,
            record: record.clone(),
            sent_at,
        },
        Err(e) => LeaseEvent::WriteFailed {
            write,
            failure: e.kind,
        },
    };
    (event, result)
}

/// Runs `fut` for at most `limit` of `clock`'s time; `None` on timeout.
pub async fn with_timeout<T>(
    clock: &impl Clock,
    limit: Duration,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    let fut = std::pin::pin!(fut);
    let timer = std::pin::pin!(clock.sleep(limit));
    match select(fut, timer).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed release never reads as a release, and every failure says what happens next.
    #[test]
    fn a_failed_write_says_what_it_means_for_forging() {
        for scope in [LeaseScope::Local, LeaseScope::Global, LeaseScope::Presence] {
            for write in [
                LeaseWriteKind::Create,
                LeaseWriteKind::Acquire,
                LeaseWriteKind::Renew,
                LeaseWriteKind::Release,
                LeaseWriteKind::Finalize,
            ] {
                let means = failed_write_means(scope, write);
                assert!(means.contains("forg"), "{scope:?} {write:?}: {means}");
                if scope != LeaseScope::Presence
                    && matches!(write, LeaseWriteKind::Release | LeaseWriteKind::Finalize)
                {
                    assert!(
                        means.contains("left to expire"),
                        "{scope:?} {write:?}: {means}"
                    );
                }
            }
        }
    }
}
