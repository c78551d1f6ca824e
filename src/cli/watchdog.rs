//! `forge-manager watchdog`: the dead-man switch as its own process (`crate::watchdog`), configured
//! from the same environment as `run` (`HEARTBEAT_PATH`, `TARGET_*`, `SOURCE_DECOY_DIR`,
//! `RENEW_DEADLINE`, `CARDANO_NODE_PROCESS_NAME`, `NODE_SOCKET`), so a stalled or killed sidecar's
//! node is demoted within the renew deadline. Runs until SIGTERM/SIGINT. Every firing is logged to
//! `HEARTBEAT_PATH.log` (`crate::journal::watchdog_log`), which `journal timeline` reads.

use std::time::Duration;

use crate::adapters::{LocalFs, SystemClock};
use crate::config::{Config, ValidConfig};
use crate::journal::watchdog_log::{self, log_path_for_heartbeat};
use crate::logging;
use crate::ports::Clock;
use crate::watchdog::{self, DEFAULT_CHECK_PERIOD, WatchdogSettings};

use super::check_config::EXIT_INVALID;
use super::run::{EXIT_START_FAILED, node_of, terminated};

/// The watchdog's settings from a validated configuration: it looks at least four times per renew
/// deadline.
pub fn settings(c: &ValidConfig) -> WatchdogSettings {
    let renew_deadline = c.timing.renew_deadline();
    WatchdogSettings {
        heartbeat: c.heartbeat_path.clone(),
        target: c.target.clone(),
        standby: c.standby.clone(),
        renew_deadline,
        check_period: DEFAULT_CHECK_PERIOD
            .min(renew_deadline / 4)
            .max(Duration::from_millis(10)),
    }
}

/// Runs the watchdog; returns the process exit code.
pub fn run(config: &Config) -> i32 {
    let config = match config.validate() {
        Ok(valid) => valid,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return EXIT_INVALID;
        }
    };
    if let Err(e) = logging::init(config.log_format, config.log_level) {
        eprintln!("forge-manager watchdog: {e}");
        return EXIT_START_FAILED;
    }
    let span = logging::root_span(&config);
    let _entered = span.enter();
    let node = match node_of(&config) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("forge-manager watchdog: NODE_METRICS_URL: {e}");
            return EXIT_INVALID;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("forge-manager watchdog: building the tokio runtime: {e}");
            return EXIT_START_FAILED;
        }
    };
    let s = settings(&config);
    tracing::info!(
        heartbeat = %s.heartbeat.display(),
        renew_deadline_ms = s.renew_deadline.as_millis() as u64,
        "watchdog started"
    );
    rt.block_on(async {
        // The sidecar's clock: time since boot, shared by both processes of the pod.
        let clock = SystemClock::since_boot();
        let fs = LocalFs::new();
        // Each firing goes to the watchdog's own log next to the heartbeat (the journal is the
        // sidecar's, and locked by it): `journal timeline` reads it to know when the node stopped.
        let log = log_path_for_heartbeat(&s.heartbeat);
        let record = |f: &watchdog::Firing| {
            let event = f.log_event(format!("{:.3}", clock.now_wall()), config.pod_name.clone());
            if let Err(e) = watchdog_log::append(&log, &event) {
                tracing::error!("{e}");
            }
        };
        tokio::select! {
            _ = watchdog::run(&clock, &fs, &node, &s, record) => {}
            _ = terminated("stopping the watchdog") => {}
        }
    });
    tracing::info!("watchdog stopped");
    0
}
