//! What `kubectl forge status` shows, built from the objects read (pure): each pool's regions with
//! their policy, override and health, its global lease, and the pods that hold something; and the
//! rendering of that as tables. Ages are judged on the API server's clock, never the laptop's.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1::Lease;
use serde::Serialize;

use crate::config::duration::format_duration;
use crate::config::naming;
use crate::core::policy::{self, Health, RegionView};
use crate::crd::{CardanoForgeCluster, CardanoLeader, parse_spec, published_health};

/// Everything read in one pass, and the server's clock at the time.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Every CardanoForgeCluster of the namespace.
    pub clusters: Vec<CardanoForgeCluster>,
    /// Every Lease of the namespace.
    pub leases: Vec<Lease>,
    /// Every CardanoLeader of the namespace.
    pub leaders: Vec<CardanoLeader>,
    /// The API server's clock (its `Date` header) when they were read.
    pub server_now: jiff::Timestamp,
}

/// Which pools to show.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Network name (`spec.network.name`; clusters without one count as this network).
    pub network: Option<String>,
    /// Pool ticker, bech32 id, its short form, or its name.
    pub pool: Option<String>,
    /// The network of single-tenant clusters, which name none (the sidecar's `CARDANO_NETWORK`).
    pub default_network: String,
}

/// One pool, as `kubectl forge status` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolView {
    /// The network name.
    pub network: String,
    /// Bech32 pool id; empty for single-tenant clusters.
    pub pool_id: String,
    /// The pool's ticker, if its clusters name one.
    pub ticker: Option<String>,
    /// The global lease: which region may forge.
    pub global_lease: LeaseView,
    /// The region the policy prefers now (as the sidecars rank, from what is published).
    pub preferred: Option<String>,
    /// One row per CardanoForgeCluster, in priority order.
    pub regions: Vec<RegionRow>,
    /// One row per pod that holds a lease or forges.
    pub pods: Vec<PodRow>,
}

/// A Lease as the status shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseView {
    /// Its name.
    pub name: String,
    /// Whether it exists.
    pub exists: bool,
    /// Its holder, empty when released.
    pub holder: Option<String>,
    /// Seconds since its last renewal, on the server's clock.
    pub age_seconds: Option<i64>,
    /// Its `leaseDurationSeconds`.
    pub duration_seconds: Option<i32>,
    /// Held, and renewed within its duration.
    pub live: bool,
}

/// One region (one CardanoForgeCluster).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    /// The CardanoForgeCluster's name.
    pub name: String,
    /// `spec.region`.
    pub region: String,
    /// `spec.forgeState`.
    pub forge_state: String,
    /// `spec.priority`.
    pub priority: i32,
    /// State after the override, as the policy computes it now.
    pub effective_state: String,
    /// Priority after the override.
    pub effective_priority: i32,
    /// The override, if one is set.
    #[serde(rename = "override")]
    pub override_: Option<OverrideView>,
    /// The published health.
    pub healthy: Option<bool>,
    /// A live, eligible local leader holds its presence lease.
    pub present: bool,
    /// `status.forger`: the pod that forges for it, if any.
    pub forger: Option<String>,
    /// `status.activeLeader`.
    pub active_leader: Option<String>,
    /// Seconds since its leader last wrote the status.
    pub observed_seconds_ago: Option<i64>,
    /// Nobody of the region writes its status any more: no eligible leader holds its presence
    /// lease, and the status is older than a live leader would let it get (its health, forger
    /// and message are as old as `observedSecondsAgo`).
    pub stale: bool,
    /// `status.message`.
    pub message: Option<String>,
    /// Why the spec is refused, if it is (such a region never forges).
    pub invalid: Vec<String>,
}

/// An override as written and as judged now.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideView {
    /// Enabled and not expired on the server's clock.
    pub active: bool,
    /// `forceState`.
    pub force_state: Option<String>,
    /// `forcePriority`.
    pub force_priority: Option<i32>,
    /// `reason`.
    pub reason: Option<String>,
    /// `expiresAt`.
    pub expires_at: Option<String>,
    /// Seconds left (negative: expired that long ago).
    pub seconds_left: Option<i64>,
}

/// One pod that holds something.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRow {
    /// The pod's name.
    pub pod: String,
    /// Its region, when a status or presence lease says.
    pub region: Option<String>,
    /// `forger` or `leader`.
    pub role: String,
    /// Whether its node forges, as its status says.
    pub forging: bool,
    /// The leases it holds: name and seconds since renewal.
    pub leases: Vec<(String, Option<i64>)>,
    /// Seconds since its last leadership transition (CardanoLeader status).
    pub transition_seconds_ago: Option<i64>,
    /// Reason of that transition.
    pub reason: Option<String>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The network a cluster belongs to.
pub fn network_of(c: &CardanoForgeCluster, default_network: &str) -> String {
    match &c.spec.network {
        Some(n) => lower(
            serde_json::to_value(n.name)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref()
                .unwrap_or(default_network),
        ),
        None => default_network.to_owned(),
    }
}

/// The pool id of a cluster, empty for single-tenant ones.
pub fn pool_of(c: &CardanoForgeCluster) -> String {
    c.spec
        .pool
        .as_ref()
        .map(|p| p.id.clone())
        .unwrap_or_default()
}

/// Whether a cluster is one of the pools the filter names.
pub fn selected(c: &CardanoForgeCluster, f: &Filter) -> bool {
    let network_ok = f
        .network
        .as_deref()
        .is_none_or(|n| lower(n) == network_of(c, &f.default_network));
    let pool_ok = f.pool.as_deref().is_none_or(|want| {
        let want = lower(want);
        c.spec.pool.as_ref().is_some_and(|p| {
            lower(&p.id) == want
                || lower(naming::pool_short(&p.id)) == want
                || p.ticker.as_deref().is_some_and(|t| lower(t) == want)
                || p.name.as_deref().is_some_and(|n| lower(n) == want)
        })
    });
    network_ok && pool_ok
}

/// `{network, pool id}` → its clusters, in name order.
pub fn pools<'a>(
    clusters: &'a [CardanoForgeCluster],
    f: &Filter,
) -> BTreeMap<(String, String), Vec<&'a CardanoForgeCluster>> {
    let mut out: BTreeMap<(String, String), Vec<&CardanoForgeCluster>> = BTreeMap::new();
    for c in clusters.iter().filter(|c| selected(c, f)) {
        out.entry((network_of(c, &f.default_network), pool_of(c)))
            .or_default()
            .push(c);
    }
    out
}

/// The presence lease name of a region of this pool (the sidecar's `presence_prefix` + region).
pub fn presence_lease_name(network: &str, pool_id: &str, region: &str) -> String {
    let short = if pool_id.is_empty() {
        "legacy".to_owned()
    } else {
        lower(naming::pool_short(pool_id))
    };
    format!("cardano-forge-presence-{network}-{short}-{region}")
}

fn seconds_since(t: &str, now: jiff::Timestamp) -> Option<i64> {
    let t: jiff::Timestamp = t.parse().ok()?;
    Some(now.as_second() - t.as_second())
}

/// A lease by name, judged on the server's clock.
pub fn lease_view(leases: &[Lease], name: &str, now: jiff::Timestamp) -> LeaseView {
    let found = leases
        .iter()
        .find(|l| l.metadata.name.as_deref() == Some(name));
    let spec = found.and_then(|l| l.spec.as_ref());
    let holder = spec
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty());
    let age_seconds = found.and_then(|l| renewed_seconds_ago(l, now));
    let duration_seconds = spec.and_then(|s| s.lease_duration_seconds);
    let live = holder.is_some()
        && matches!((age_seconds, duration_seconds), (Some(a), Some(d)) if a < i64::from(d));
    LeaseView {
        name: name.to_owned(),
        exists: found.is_some(),
        holder,
        age_seconds,
        duration_seconds,
        live,
    }
}

/// Seconds since a lease's last renewal (its acquisition when never renewed), on `now`'s clock.
fn renewed_seconds_ago(lease: &Lease, now: jiff::Timestamp) -> Option<i64> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    Some(now.as_second() - renewed.0.as_second())
}

/// How old a status may get while its region lives: a leader rewrites it at least every
/// `STATUS_REFRESH_LEASES` lease durations (the presence lease's, 15 s when unknown).
fn stale_after(
    leases: &[Lease],
    network: &str,
    pool_id: &str,
    region: &str,
    now: jiff::Timestamp,
) -> i64 {
    let lease = lease_view(leases, &presence_lease_name(network, pool_id, region), now);
    i64::from(lease.duration_seconds.unwrap_or(15))
        * i64::from(crate::runtime::cluster::STATUS_REFRESH_LEASES)
}

/// The region of a cluster (`spec.region`, else its name).
pub fn region_of(c: &CardanoForgeCluster) -> String {
    c.spec
        .region
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| c.metadata.name.clone())
        .unwrap_or_default()
}

/// The core's view of each region of a pool: its parsed spec, published health and presence.
pub fn region_views(
    clusters: &[&CardanoForgeCluster],
    leases: &[Lease],
    network: &str,
    pool_id: &str,
    now: jiff::Timestamp,
) -> BTreeMap<String, RegionView> {
    clusters
        .iter()
        .map(|c| {
            let region = region_of(c);
            let presence = lease_view(leases, &presence_lease_name(network, pool_id, &region), now);
            let view = RegionView {
                policy: parse_spec(&c.spec),
                health: published_health(c).unwrap_or(Health::UNCHECKED),
                present: presence.live,
            };
            (region, view)
        })
        .collect()
}

/// Builds one pool's view.
pub fn pool_view(
    snapshot: &Snapshot,
    network: &str,
    pool_id: &str,
    clusters: &[&CardanoForgeCluster],
) -> PoolView {
    let now = snapshot.server_now;
    let now_ms = Some(now.as_millisecond());
    let views = region_views(clusters, &snapshot.leases, network, pool_id, now);
    let ranking = policy::rank(&views, now_ms);
    let mut regions: Vec<RegionRow> = clusters
        .iter()
        .map(|c| {
            let region = region_of(c);
            let effective = ranking.effective.get(&region);
            let status = c.status.as_ref();
            let non_empty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
            RegionRow {
                name: c.metadata.name.clone().unwrap_or_default(),
                forge_state: serde_json::to_value(c.spec.forge_state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                priority: c.spec.priority,
                effective_state: effective
                    .map(|e| e.state.as_str().to_owned())
                    .unwrap_or_default(),
                effective_priority: effective.map(|e| e.priority).unwrap_or(c.spec.priority),
                override_: c.spec.override_.as_ref().map(|o| {
                    let seconds_left = o
                        .expires_at
                        .as_deref()
                        .and_then(|t| seconds_since(t, now))
                        .map(|s| -s);
                    OverrideView {
                        active: o.enabled && seconds_left.is_none_or(|s| s > 0),
                        force_state: o.force_state.map(|s| format!("{s:?}")),
                        force_priority: o.force_priority,
                        reason: o.reason.clone(),
                        expires_at: o.expires_at.clone(),
                        seconds_left,
                    }
                }),
                healthy: status
                    .and_then(|s| s.health_status.as_ref())
                    .and_then(|h| h.healthy),
                present: views.get(&region).is_some_and(|v| v.present),
                forger: non_empty(status.and_then(|s| s.forger.as_ref())),
                active_leader: non_empty(status.and_then(|s| s.active_leader.as_ref())),
                observed_seconds_ago: status
                    .and_then(|s| s.observed_at.as_deref())
                    .and_then(|t| seconds_since(t, now)),
                stale: !views.get(&region).is_some_and(|v| v.present)
                    && status
                        .and_then(|s| s.observed_at.as_deref())
                        .and_then(|t| seconds_since(t, now))
                        .is_none_or(|age| {
                            age > stale_after(&snapshot.leases, network, pool_id, &region, now)
                        }),
                message: non_empty(status.and_then(|s| s.message.as_ref())),
                invalid: views
                    .get(&region)
                    .and_then(|v| v.policy.as_ref().err().cloned())
                    .unwrap_or_default(),
                region,
            }
        })
        .collect();
    regions
        .sort_by(|a, b| (a.effective_priority, &a.region).cmp(&(b.effective_priority, &b.region)));
    let pods = pod_rows(snapshot, &regions);
    let ticker = clusters
        .iter()
        .find_map(|c| c.spec.pool.as_ref().and_then(|p| p.ticker.clone()));
    let global_name = naming::global_lease_name(network, Some(pool_id).filter(|p| !p.is_empty()));
    PoolView {
        network: network.to_owned(),
        pool_id: pool_id.to_owned(),
        ticker,
        global_lease: lease_view(&snapshot.leases, &global_name, now),
        preferred: ranking.preferred,
        regions,
        pods,
    }
}

/// The pods a region's status names (its active leader, its forger), forger first, with every
/// lease each holds (the global and presence leases are held by regions, not pods).
fn pod_rows(snapshot: &Snapshot, regions: &[RegionRow]) -> Vec<PodRow> {
    let now = snapshot.server_now;
    let mut region_of_pod: BTreeMap<String, String> = BTreeMap::new();
    for r in regions {
        for pod in [&r.active_leader, &r.forger].into_iter().flatten() {
            region_of_pod.insert(pod.clone(), r.region.clone());
        }
    }
    let forgers: BTreeSet<&String> = regions.iter().filter_map(|r| r.forger.as_ref()).collect();
    let global_prefix = "cardano-forge-global-";
    let mut rows = region_of_pod
        .into_iter()
        .map(|(pod, region)| {
            let mut leases: Vec<(String, Option<i64>)> = snapshot
                .leases
                .iter()
                .filter(|l| {
                    l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(pod.as_str())
                })
                .filter_map(|l| Some((l.metadata.name.clone()?, renewed_seconds_ago(l, now))))
                .filter(|(n, _)| !n.starts_with(global_prefix))
                .collect();
            leases.sort();
            let leader = snapshot
                .leaders
                .iter()
                .filter_map(|l| l.status.as_ref())
                .find(|s| s.leader_pod == pod);
            let forging = forgers.contains(&pod) || leader.is_some_and(|s| s.forging_enabled);
            PodRow {
                role: if forgers.contains(&pod) {
                    "forger"
                } else {
                    "leader"
                }
                .to_owned(),
                region: Some(region),
                forging,
                leases,
                transition_seconds_ago: leader
                    .and_then(|s| seconds_since(&s.last_transition_time, now)),
                reason: leader.and_then(|s| s.reason.clone()),
                pod,
            }
        })
        .collect::<Vec<_>>();
    rows.sort_by_key(|p| (p.role != "forger", p.pod.clone()));
    rows
}

/// An age for a table: `5s`, `3m12s`, `2h4m`; `-` when unknown; `in 5s` for the future.
pub fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".to_owned(),
        Some(s) if s < 0 => format!("in {}", age(Some(-s))),
        Some(s) => {
            let s = u64::try_from(s).unwrap_or(0);
            // Hours and minutes only past an hour, as kubectl shows ages.
            let shown = if s >= 3600 { s - s % 60 } else { s };
            format_duration(std::time::Duration::from_secs(shown))
        }
    }
}

/// A table with kubectl's look: upper-case headers, columns three spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}   "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| (*h).to_owned()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n") + "\n"
}

fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

fn override_text(o: &OverrideView) -> String {
    let mut what = Vec::new();
    if let Some(s) = &o.force_state {
        what.push(s.clone());
    }
    if let Some(p) = o.force_priority {
        what.push(format!("priority {p}"));
    }
    if what.is_empty() {
        what.push("no change".to_owned());
    }
    let when = match (o.active, o.seconds_left) {
        (false, Some(s)) if s <= 0 => format!("expired {} ago", age(Some(-s))),
        (false, _) => "disabled".to_owned(),
        (true, Some(s)) => format!("{} left", age(Some(s))),
        (true, None) => "no expiry".to_owned(),
    };
    format!("{} ({when})", what.join(", "))
}

/// The human form of one pool: a header line, the regions, then the pods.
pub fn render(pool: &PoolView, wide: bool) -> String {
    let mut out = String::new();
    let who = match (&pool.ticker, pool.pool_id.is_empty()) {
        (Some(t), _) => format!("pool {t} ({})", pool.pool_id),
        (None, false) => format!("pool {}", pool.pool_id),
        (None, true) => "single-tenant clusters".to_owned(),
    };
    let g = &pool.global_lease;
    let global = match (&g.holder, g.exists) {
        (_, false) => format!("global lease {}: absent", g.name),
        (None, true) => format!("global lease {}: released", g.name),
        (Some(h), true) => format!(
            "global lease {}: held by {h}, renewed {} ago{}",
            g.name,
            age(g.age_seconds),
            if g.live { "" } else { " (EXPIRED)" }
        ),
    };
    out.push_str(&format!("{who} on {}\n{global}\n", pool.network));
    let forgers: Vec<String> = pool
        .regions
        .iter()
        .filter_map(|r| r.forger.as_ref().map(|f| format!("{f} ({})", r.region)))
        .collect();
    out.push_str(&match forgers.as_slice() {
        [] => "forging: NOBODY\n".to_owned(),
        [one] => format!("forging: {one}\n"),
        many => format!("forging: {} (MORE THAN ONE)\n", many.join(", ")),
    });
    out.push_str(&format!(
        "preferred by policy: {}\n\n",
        pool.preferred
            .as_deref()
            .unwrap_or("none (no eligible region)")
    ));
    let mut headers = vec![
        "REGION",
        "STATE",
        "PRIORITY",
        "EFFECTIVE",
        "OVERRIDE",
        "HEALTHY",
        "PRESENT",
        "FORGER",
        "OBSERVED",
    ];
    if wide {
        headers.extend(["NAME", "ACTIVE LEADER", "MESSAGE"]);
    }
    let rows: Vec<Vec<String>> = pool
        .regions
        .iter()
        .map(|r| {
            let mut row = vec![
                r.region.clone(),
                r.forge_state.clone(),
                r.priority.to_string(),
                if r.invalid.is_empty() {
                    format!("{} {}", r.effective_state, r.effective_priority)
                } else {
                    "INVALID SPEC".to_owned()
                },
                r.override_.as_ref().map_or("-".to_owned(), override_text),
                match (r.healthy, r.stale) {
                    (_, true) => "STALE".to_owned(),
                    (h, false) => h.map_or("-".to_owned(), |h| h.to_string()),
                },
                r.present.to_string(),
                or_dash(r.forger.as_deref()),
                r.observed_seconds_ago
                    .map_or("-".to_owned(), |s| format!("{} ago", age(Some(s)))),
            ];
            if wide {
                row.push(r.name.clone());
                row.push(or_dash(r.active_leader.as_deref()));
                row.push(or_dash(r.message.as_deref()));
            }
            row
        })
        .collect();
    out.push_str(&table(&headers, &rows));
    for r in pool.regions.iter().filter(|r| !r.invalid.is_empty()) {
        out.push_str(&format!(
            "{}: spec refused: {}\n",
            r.region,
            r.invalid.join("; ")
        ));
    }
    out.push('\n');
    if pool.pods.is_empty() {
        out.push_str("no pod holds a lease of this pool (standbys hold none)\n");
        return out;
    }
    let rows: Vec<Vec<String>> = pool
        .pods
        .iter()
        .map(|p| {
            vec![
                p.pod.clone(),
                or_dash(p.region.as_deref()),
                p.role.clone(),
                p.forging.to_string(),
                if p.leases.is_empty() {
                    "-".to_owned()
                } else {
                    p.leases
                        .iter()
                        .map(|(n, a)| format!("{n} ({})", age(*a)))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                p.transition_seconds_ago
                    .map_or("-".to_owned(), |s| format!("{} ago", age(Some(s)))),
                or_dash(p.reason.as_deref()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "POD",
            "REGION",
            "ROLE",
            "FORGING",
            "LEASES (AGE)",
            "TRANSITION",
            "REASON",
        ],
        &rows,
    ));
    out
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
