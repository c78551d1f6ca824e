//! Synthetic journals: a two-pod failover for the documentation and tests, and records for
//! stress tests and benchmarks. Not used by the sidecar's control loop.

use std::path::{Path, PathBuf};

use super::error::{AppendError, OpenError};
use super::record::{ActionRecord, JournalRecord, RecordKind};
use super::writer::{Journal, JournalConfig, SyncMode};
use crate::core::reason::Reason;

/// A record with plausible inputs, `mono_ms` and `wall` set from `t_ms` (ms since the epoch).
#[allow(clippy::too_many_arguments)]
pub fn record(
    pod: &str,
    region: &str,
    t_ms: i64,
    kind: RecordKind,
    role: &str,
    forging: bool,
    reason: Reason,
    message: &str,
) -> JournalRecord {
    let wall = jiff::Timestamp::from_millisecond(t_ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into());
    JournalRecord {
        seq: 0,
        mono_ms: u64::try_from(t_ms.rem_euclid(1_000_000_000)).unwrap_or(0),
        wall,
        pool: "pool1abc".into(),
        network: "preprod".into(),
        region: region.into(),
        pod: pod.into(),
        node_pid: Some(41),
        kind,
        role: role.into(),
        forging,
        reason,
        message: message.into(),
        inputs: serde_json::Value::Null,
        actions: Vec::new(),
    }
}

/// A record for stress tests and benchmarks, shaped like the sidecar's most common record (a
/// forging leader's heartbeat with its lease renewal, about 1.1 KB of JSON as the simulator's
/// journals show): the same keys, with numbers that change from record to record. `i` spreads
/// pods (4), kinds and times (one record per second from `start_ms`).
pub fn stress_record(i: u64, start_ms: i64) -> JournalRecord {
    let pods = ["bp-0", "bp-1", "bp-2", "bp-3"];
    let pod = pods[(i % 4) as usize];
    let kind = match i % 10 {
        0 => RecordKind::Decision,
        1 => RecordKind::Action,
        2 => RecordKind::LeaseChange,
        _ => RecordKind::Heartbeat,
    };
    let t = start_ms.saturating_add(i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(1000));
    let mut r = record(
        pod,
        "eu-west",
        t,
        kind,
        "leader",
        true,
        Reason::LeaseRenewed,
        "renewed the local lease",
    );
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| format!("{t:.3}"))
            .unwrap_or_default()
    };
    let rv = (1000 + i).to_string();
    let mono = r.mono_ms;
    let pid = 1000 + (i / 4_000) % 50;
    r.inputs = serde_json::json!({
        "eligibility": {"at_tip": true, "credentials_valid": true, "metrics_readable": true, "node_running": true, "shutting_down": false, "socket_accepting": true},
        "entitled": true,
        "forging_state": {"state": "on"},
        "gate": "Allow",
        "holding": {"last_renew_sent_at_ms": mono.saturating_sub(1700 + i % 300), "promotable_at_ms": 22_450 + (i / 4_000) * 15_000, "resource_version": rv},
        "lease": {"acquire_time": at(start_ms + 7_450), "holder": pod, "lease_duration_seconds": 15, "lease_transitions": i / 4_000, "name": "cardano-leader-preprod-pool1abc", "renew_time": at(t - 1_700 - (i % 300) as i64), "resource_version": rv},
        "lease_event": "Nothing",
        "lease_unchanged_ms": 1_500 + i % 700,
        "node": {"forging_enabled": true, "process": {"pid": pid, "start_ticks": 2_000 + pid}, "standby_ready": false},
        "server_clock": {"date_ms": t - t % 1000, "received_mono_ms": mono},
        // What the runtime records for `journal replay` (a forging leader's heartbeat, as the
        // simulator writes it): the bulk of a real record since issue 18.
        "core": stress_core(pod, mono, &rv, &at(start_ms + 7_450), &at(t - 1_700), pid),
    });
    r.actions = vec![ActionRecord {
        action: "lease".into(),
        result: "ok".into(),
        detail: format!("Renew ok: resourceVersion {}", 1001 + i),
    }];
    r
}

/// The `inputs.core` of a forging leader's heartbeat, shaped as the runtime writes it.
fn stress_core(
    pod: &str,
    mono: u64,
    rv: &str,
    acquired: &str,
    renewed: &str,
    pid: u64,
) -> serde_json::Value {
    let lease = serde_json::json!({"acquire_time": acquired, "finalizers": ["cardano.io/forge-manager"], "holder": pod, "lease_duration_seconds": 15, "lease_transitions": 0, "name": "cardano-leader-mainnet-pool1", "renew_time": renewed, "resource_version": rv, "terminating": false});
    let secs = |s: u64, nanos: u64| serde_json::json!({"secs": s, "nanos": nanos});
    serde_json::json!({
        "v": 1,
        "writer": "forge-manager 0.1.0",
        "identity": pod,
        "obs": {"eligibility": {"at_tip": null, "credentials_valid": true, "metrics_readable": true, "node_running": true, "shutting_down": false, "socket_accepting": true}, "gate": "Allow", "lease": "Nothing", "node": {"forging_enabled": true, "process": {"pid": pid, "start_ticks": 2_000 + pid}, "standby_ready": false}, "now": mono},
        "out": {"actions": [{"action": "lease", "write": "renew"}], "entitled": true, "next_digest": format!("{:016x}", mono.wrapping_mul(0x9e37_79b9_7f4a_7c15)), "reason": "forging", "role": "leader", "shutdown_complete": false, "wake_by": mono + 2_000},
        "prev": {"forging": {"state": "on"}, "node": {"pid": pid, "start_ticks": 2_000 + pid}, "node_observed": true, "node_ready": true, "role": "leader", "seat": {"absent_seen": false, "api_unreachable": false, "conflict": false, "fenced_at": null, "hold": {"last_renew_sent_at": mono.saturating_sub(2_150), "promotable_at": 22_750, "record": lease.clone()}, "observer": {"deleted": null, "seen": {"first_seen_at": mono.saturating_sub(2_050), "holder": pod, "record": lease, "resource_version": rv, "tenure_since": 7_850}}, "recreate_from": null, "trusts_own_record": false}},
        "timing": {"api_timeout": secs(2, 500_000_000), "demotion_time": secs(1, 0), "lease_duration": secs(15, 0), "renew_deadline": secs(10, 0), "retry_jitter": 0.2, "retry_period": secs(2, 0), "sighup_verify_timeout": secs(5, 0)},
    })
}

/// Writes the two-pod failover incident used by docs/journal.md into `dir` (`bp-0.journal`,
/// `bp-1.journal`) and returns their paths. bp-0 leads; its node restarts (replay) at 10:04:10;
/// it demotes, verifies and releases; bp-1 acquires the released lease and promotes.
pub fn write_failover(dir: &Path) -> Result<Vec<PathBuf>, DemoError> {
    let t0 = jiff::Timestamp::from_second(1_795_600_800) // 2026-11-25T10:00:00Z
        .map_err(|e| DemoError::Time(e.to_string()))?
        .as_millisecond();
    let at = |s: i64| t0 + s * 1000;
    let cfg = JournalConfig {
        sync: SyncMode::Buffered,
        ..JournalConfig::default()
    };
    let p0 = dir.join("bp-0.journal");
    let p1 = dir.join("bp-1.journal");
    let mut j0 = Journal::open(&p0, cfg.clone())?;
    let mut j1 = Journal::open(&p1, cfg)?;

    let lease = |holder: &str, rv: u64, age: u64| serde_json::json!({"local_lease": {"holder": holder, "resource_version": rv.to_string(), "observed_unchanged_ms": age}});
    // bp-0 starts, wins the lease, promotes.
    let mut r = record(
        "bp-0",
        "eu-west",
        at(0),
        RecordKind::Startup,
        "candidate",
        false,
        Reason::Standby,
        "forge-manager started; decoy credentials in place",
    );
    r.inputs = serde_json::json!({"node": {"running": true, "socket_accepting": true}});
    j0.append(r)?;
    let mut r = record(
        "bp-1",
        "eu-west",
        at(1),
        RecordKind::Startup,
        "candidate",
        false,
        Reason::Standby,
        "forge-manager started; decoy credentials in place",
    );
    r.node_pid = Some(52);
    j1.append(r)?;
    let mut r = record(
        "bp-0",
        "eu-west",
        at(2),
        RecordKind::LeaseChange,
        "acquiring",
        false,
        Reason::LeaseAvailable,
        "local lease expired (unchanged for 15 s): acquiring",
    );
    r.inputs = lease("", 311, 15_200);
    j0.append(r)?;
    let mut r = record(
        "bp-0",
        "eu-west",
        at(3),
        RecordKind::Action,
        "leader",
        true,
        Reason::Forging,
        "promoted: real credentials written, SIGHUP, node confirmed forging",
    );
    r.inputs = lease("bp-0", 312, 0);
    r.actions = vec![
        ActionRecord {
            action: "write_credentials".into(),
            result: "ok".into(),
            detail: "kes=9f2c41d0 vrf=1b7e00a3 opcert=c4d2e911".into(),
        },
        ActionRecord {
            action: "sighup".into(),
            result: "verified".into(),
            detail: "forging_enabled=1, about_to_lead rising".into(),
        },
    ];
    j0.append(r)?;
    let mut r = record(
        "bp-1",
        "eu-west",
        at(4),
        RecordKind::LeaseChange,
        "candidate",
        false,
        Reason::LeaseHeldByOther,
        "bp-0 holds the local lease and renews it",
    );
    r.node_pid = Some(52);
    r.inputs = lease("bp-0", 312, 900);
    j1.append(r)?;
    for s in (30..250).step_by(60) {
        let mut r = record(
            "bp-0",
            "eu-west",
            at(s),
            RecordKind::Heartbeat,
            "leader",
            true,
            Reason::LeaseRenewed,
            "leader, forging; lease renewed",
        );
        r.inputs = lease("bp-0", 312 + (s as u64), 0);
        j0.append(r)?;
        let mut r = record(
            "bp-1",
            "eu-west",
            at(s + 1),
            RecordKind::Heartbeat,
            "candidate",
            false,
            Reason::LeaseHeldByOther,
            "standby; bp-0 holds the lease",
        );
        r.node_pid = Some(52);
        r.inputs = lease("bp-0", 312 + (s as u64), 1_100);
        j1.append(r)?;
    }
    // 10:04:10: bp-0's cardano-node restarts and replays the ledger: it is not eligible.
    let mut r = record(
        "bp-0",
        "eu-west",
        at(250),
        RecordKind::HealthTransition,
        "demoting",
        true,
        Reason::NodeRestarted,
        "cardano-node restarted (pid 41 -> 97): not eligible while it replays; demoting",
    );
    r.node_pid = Some(97);
    r.inputs = serde_json::json!({"node": {"pid": 97, "previous_pid": 41, "running": true, "socket_accepting": false}});
    j0.append(r)?;
    let mut r = record(
        "bp-0",
        "eu-west",
        at(250) + 420,
        RecordKind::Action,
        "releasing",
        false,
        Reason::Demoting,
        "demoted: decoy credentials written atomically, SIGHUP, not forging",
    );
    r.node_pid = Some(97);
    r.actions = vec![
        ActionRecord {
            action: "write_decoys".into(),
            result: "ok".into(),
            detail: "kes=0d0d11aa vrf=0d0d22bb opcert=0d0d33cc".into(),
        },
        ActionRecord {
            action: "sighup".into(),
            result: "skipped".into(),
            detail: "socket not accepting: the restarted node reads the decoys at startup".into(),
        },
    ];
    j0.append(r)?;
    let mut r = record(
        "bp-0",
        "eu-west",
        at(250) + 610,
        RecordKind::LeaseChange,
        "candidate",
        false,
        Reason::Released,
        "local lease released (holder cleared) for a successor",
    );
    r.node_pid = Some(97);
    r.inputs = lease("", 560, 0);
    r.actions = vec![ActionRecord {
        action: "release_lease".into(),
        result: "ok".into(),
        detail: "resourceVersion 560".into(),
    }];
    j0.append(r)?;
    // bp-1 sees the release through its watch and takes over.
    let mut r = record(
        "bp-1",
        "eu-west",
        at(250) + 700,
        RecordKind::LeaseChange,
        "acquiring",
        false,
        Reason::LeaseAvailable,
        "local lease released by bp-0: acquiring",
    );
    r.node_pid = Some(52);
    r.inputs = lease("", 560, 90);
    j1.append(r)?;
    let mut r = record(
        "bp-1",
        "eu-west",
        at(251) + 300,
        RecordKind::Action,
        "leader",
        true,
        Reason::Forging,
        "promoted: real credentials written, SIGHUP, node confirmed forging",
    );
    r.node_pid = Some(52);
    r.inputs = lease("bp-1", 561, 0);
    r.actions = vec![
        ActionRecord {
            action: "write_credentials".into(),
            result: "ok".into(),
            detail: "kes=9f2c41d0 vrf=1b7e00a3 opcert=c4d2e911".into(),
        },
        ActionRecord {
            action: "sighup".into(),
            result: "verified".into(),
            detail: "forging_enabled=1 after 0.4 s".into(),
        },
    ];
    j1.append(r)?;
    for s in (280..400).step_by(60) {
        let mut r = record(
            "bp-1",
            "eu-west",
            at(s),
            RecordKind::Heartbeat,
            "leader",
            true,
            Reason::LeaseRenewed,
            "leader, forging; lease renewed",
        );
        r.node_pid = Some(52);
        r.inputs = lease("bp-1", 561 + (s as u64), 0);
        j1.append(r)?;
        let mut r = record(
            "bp-0",
            "eu-west",
            at(s + 2),
            RecordKind::Heartbeat,
            "candidate",
            false,
            Reason::SocketNotAccepting,
            "standby; node replaying (socket not accepting)",
        );
        r.node_pid = Some(97);
        j0.append(r)?;
    }
    j0.flush()?;
    j1.flush()?;
    Ok(vec![p0, p1])
}

/// Why writing a demo journal failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Opening a journal failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Appending failed.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// A timestamp was out of range.
    #[error("time out of range: {0}")]
    Time(String),
}
