//! `forge-manager run`: the sidecar. Validates the configuration exactly as `check-config` does
//! (exit 2, one line per problem, before touching anything), refuses what this build cannot do
//! safely, then wires the production ports into the control loop on a current-thread tokio runtime
//! next to the HTTP server, and runs until SIGTERM/SIGINT has demoted, verified and released.
//!
//! Start order: logs → HTTP bind (a failure is fatal: no sidecar without probes and metrics) →
//! kube client → control loop and HTTP server together.

use std::rc::Rc;

use crate::adapters::HttpHealthProbe;
use crate::adapters::{KubeAdapter, LocalFs, ProcNode, SystemClock};
use crate::config::{ClusterConfig, Config, ValidConfig};
use crate::credentials::{Genesis, Network};
use crate::events::EventRecorder;
use crate::http::journal::JournalEndpoint;
use crate::http::{self, AppState};
use crate::journal::watchdog_log::log_path_for_heartbeat;
use crate::journal::{Journal, JournalConfig, JournalView, JournalWriter};
use crate::logging;
use crate::metrics::{Identity, Metrics, MetricsRecorder};
use crate::ports::Clock;
use crate::runtime::cluster::{ClusterLoop, ClusterSettings};
use crate::runtime::journal::{CoreSettings, Identity as JournalIdentity, JournalRecorder};
use crate::runtime::{CredentialMode, LogRecorder, Runtime, Settings, Tee};

use super::check_config::EXIT_INVALID;

/// Most threads in tokio's blocking pool.
const BLOCKING_THREADS: usize = 2;
/// How long an idle blocking-pool thread stays.
const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// Exit code of a sidecar that could not start (bind, kube configuration, tokio).
pub const EXIT_START_FAILED: i32 = 1;

/// What stopped the sidecar from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The tokio runtime could not be built.
    #[error("building the tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP port could not be bound.
    #[error("binding the HTTP server to 0.0.0.0:{port} (METRICS_PORT): {source}")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// No usable Kubernetes client configuration (in-cluster or kubeconfig).
    #[error("loading the Kubernetes client configuration (in-cluster, else KUBECONFIG): {0}")]
    KubeConfig(kube::Error),
    /// The node adapter refused its settings.
    #[error("NODE_METRICS_URL: {0}")]
    Node(#[from] crate::adapters::InvalidMetricsUrl),
    /// The decoy set cannot be for the configured network.
    #[error("{0}")]
    DecoyForAnotherNetwork(String),
}

/// Why the decoy set in `paths` cannot be for `network`: its certificate starts after the
/// network's current KES period (a mainnet set on preprod or preview starts hundreds of periods in
/// their future). `None` when the network is unknown, the set unreadable (the loop reports that
/// on its own) or its start is not in the future.
pub fn decoy_network_problem(
    paths: &crate::credentials::CredentialPaths,
    network: &str,
    now: jiff::Timestamp,
) -> Option<String> {
    use crate::credentials::{CredentialFile, CredentialSet, ProblemCode, validate_at};
    let genesis = genesis_of(network)?;
    let read = |f: CredentialFile| std::fs::read(paths.get(f)).ok();
    let set = CredentialSet {
        kes: read(CredentialFile::Kes)?,
        vrf: read(CredentialFile::Vrf)?,
        opcert: read(CredentialFile::Opcert)?,
    };
    let report = validate_at(&set, &genesis, now);
    report
        .problems
        .iter()
        .any(|p| p.code == ProblemCode::KesPeriodInFuture)
        .then(|| {
            format!(
                "SOURCE_DECOY_DIR: the decoy set's certificate starts at KES period {}, after \
                 {network}'s current period {}: it was made for another network (CARDANO_NETWORK \
                 is {network}; `forge-manager decoy-credentials --network {network}` makes one \
                 for it)",
                report.kes_period_start.unwrap_or_default(),
                report.current_kes_period
            )
        })
}

/// Validates `config` like `check-config`; `Err` holds the exit code after the problems were
/// printed to `err`.
pub fn preflight(config: &Config, err: &mut impl std::io::Write) -> Result<ValidConfig, i32> {
    config.validate().map_err(|problems| {
        for p in &problems {
            let _ = writeln!(err, "{p}");
        }
        EXIT_INVALID
    })
}

/// Runs the sidecar; returns the process exit code.
pub fn run(config: &Config) -> i32 {
    let warnings = config.warnings(
        super::check_config::environment_names()
            .iter()
            .map(String::as_str),
    );
    let config = match preflight(config, &mut std::io::stderr().lock()) {
        Ok(valid) => valid,
        Err(code) => return code,
    };
    if let Err(e) = logging::init(config.log_format, config.log_level) {
        eprintln!("forge-manager run: {e}");
        return EXIT_START_FAILED;
    }
    for warning in warnings {
        tracing::warn!(variable = %warning.variable, "configuration: {}", warning.message);
    }
    let span = logging::root_span(&config);
    // Everything runs on this thread (current-thread runtime): the span stays entered for every line.
    let _entered = span.enter();
    // Blocking work (credential files, /proc scans, DNS) is a few short calls per retry period:
    // two threads are plenty, and they leave after a second idle instead of tokio's ten, so an
    // idle sidecar keeps no pool threads' stacks and malloc arenas resident (docs/performance.md,
    // "Sidecar binary size and idle memory").
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("{}", StartError::Runtime(e));
            return EXIT_START_FAILED;
        }
    };
    match rt.block_on(sidecar(&config)) {
        Ok(released) => {
            tracing::info!(
                "shut down: not forging, {}",
                crate::core::election::left_behind(released)
            );
            0
        }
        Err(e) => {
            tracing::error!("cannot start: {e}");
            eprintln!("forge-manager run: {e}");
            EXIT_START_FAILED
        }
    }
}

/// The genesis of a known network (for the KES window), by `CARDANO_NETWORK`.
pub fn genesis_of(network: &str) -> Option<Genesis> {
    [Network::Mainnet, Network::Preprod, Network::Preview]
        .into_iter()
        .find(|n| n.name() == network)
        .map(Network::genesis)
}

/// The control loop's settings from a validated configuration.
pub fn settings(c: &ValidConfig) -> Settings {
    let mode = match &c.standby {
        Some(decoy) => CredentialMode::Decoy(decoy.clone()),
        None => CredentialMode::Copy,
    };
    let now_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    Settings {
        identity: c.pod_name.clone(),
        lease_name: c.lease_name.clone(),
        leader_status_name: c.leader_status_name.clone(),
        timing: c.timing,
        source: c.source.clone(),
        target: c.target.clone(),
        mode,
        heartbeat: c.heartbeat_path.clone(),
        jitter_seed: now_nanos ^ (u64::from(std::process::id()) << 32),
        slot_clock: c.slot_clock,
    }
}

/// The production node adapter of a configuration.
pub fn node_of(c: &ValidConfig) -> Result<ProcNode, crate::adapters::InvalidMetricsUrl> {
    ProcNode::new(
        c.node_process_name.clone(),
        c.node_socket.clone(),
        &c.node_metrics_url,
    )
}

/// Resolves on SIGTERM or SIGINT (or at once if the handlers cannot be installed: a sidecar that
/// cannot hear SIGTERM must not keep forging through a pod deletion); logs the signal and `then`,
/// what the process does next.
pub async fn terminated(then: &'static str) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install the SIGTERM/SIGINT handlers: {then}");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: {then}"),
        _ = int.recv() => tracing::info!("SIGINT: {then}"),
    }
}

/// The kube adapter for the API server `kubeconfig` names (`None`: in-cluster or the default
/// kubeconfig), in our namespace, its `Date` samples timed on `clock`.
/// The adapter over one API server, and its client (cheap to clone: the Events share it).
async fn kube_adapter(
    kubeconfig: Option<&std::path::Path>,
    config: &ValidConfig,
    api_timeout: std::time::Duration,
    clock: SystemClock,
) -> Result<(KubeAdapter, kube::Client), StartError> {
    let (client, dates) = KubeAdapter::client(kubeconfig, api_timeout)
        .await
        .map_err(StartError::KubeConfig)?;
    let adapter = KubeAdapter::new(
        client.clone(),
        &config.namespace,
        api_timeout,
        dates,
        Rc::new(move || clock.now_mono()),
    )
    .with_lease_quiet_limit(config.timing.lease_quiet_limit());
    Ok((adapter, client))
}

async fn sidecar(
    config: &ValidConfig,
) -> Result<Option<crate::core::election::Released>, StartError> {
    if let Some(decoy) = &config.standby
        && let Some(problem) = decoy_network_problem(decoy, &config.network, jiff::Timestamp::now())
    {
        return Err(StartError::DecoyForAnotherNetwork(problem));
    }
    let timing = config.timing;
    let port = config.metrics_port;
    let listener = http::bind(port)
        .await
        .map_err(|source| StartError::Bind { port, source })?;

    let clock = SystemClock::since_boot();
    let node = node_of(config)?;
    let (kube, local_client) = kube_adapter(None, config, timing.api_timeout(), clock).await?;
    let metrics = Metrics::new(&Identity::from_config(config));
    let server_clock = kube.server_clock_reader();
    let journal = journal_recorder(config)
        .map(|(j, view)| (j.with_server_clock(Box::new(server_clock)), view));
    let endpoint = journal.as_ref().map(|(_, view)| {
        let path = config.journal_path.as_path();
        JournalEndpoint::new(
            view.clone(),
            path.parent()
                .map_or_else(|| ".".into(), std::path::Path::to_path_buf),
            Some(log_path_for_heartbeat(&config.heartbeat_path)),
        )
    });
    let count_event: crate::events::CountEvent = {
        let m = metrics.clone();
        std::sync::Arc::new(move |result| m.count_kubernetes_event(result))
    };
    let (events, event_queue) = EventRecorder::new(config.cluster.is_some());
    let events = events.counting(count_event.clone());
    // The watchdog cannot write Events; its firings reach the API through us.
    let watchdog_reporter = tokio::spawn(crate::events::report_watchdog_firings(
        log_path_for_heartbeat(&config.heartbeat_path),
        events.sender(),
        Some(count_event.clone()),
        jiff::Timestamp::now(),
    ));
    let recorder = Tee(
        Tee(
            Tee(MetricsRecorder::new(metrics.clone()), LogRecorder::new()),
            journal.map(|(j, _)| {
                let m = metrics.clone();
                j.on_failures(move |n| m.add_journal_write_failures(n))
            }),
        ),
        events,
    );
    let coordination = match &config.cluster {
        Some(_) => Some(
            kube_adapter(
                config.coordination_kubeconfig.as_deref(),
                config,
                timing.api_timeout(),
                clock,
            )
            .await?,
        ),
        None => None,
    };
    // Events go out in the background, over the clients the loop uses (no second TLS stack):
    // forging never waits on one.
    let targets = crate::events::Targets::new(
        local_client,
        &config.namespace,
        &config.pod_name,
        config.pod_uid.as_deref(),
        config
            .cluster
            .as_ref()
            .zip(coordination.as_ref())
            .map(|(c, (_, client))| (client.clone(), c.forge_cluster_name.as_str())),
    );
    let event_publisher = tokio::spawn(crate::events::publish(
        event_queue,
        targets,
        Some(count_event),
    ));
    let settings = settings(config);
    let source = settings.source.clone();
    let runtime = Runtime::new(clock, kube, LocalFs::new(), node, recorder, settings);

    let cluster_metrics = metrics.clone();
    let state = AppState::new(
        runtime.status(),
        metrics,
        clock,
        http::liveness_limit(&timing),
        source,
        genesis_of(&config.network),
    );
    let state = match endpoint {
        Some(e) => state.with_journal(e),
        None => state,
    };
    let server = tokio::spawn(http::serve(listener, state));
    tracing::info!(
        port,
        lease = %config.lease_name,
        namespace = %config.namespace,
        cluster_management = config.cluster.is_some(),
        "forge-manager {} started",
        crate::metrics::VERSION
    );
    let shutdown = terminated("demoting, verifying, then releasing the lease");
    let left = if let (Some(cluster), Some((coordination, _))) = (&config.cluster, coordination) {
        let coordinator = ClusterLoop::new(
            clock,
            coordination,
            HttpHealthProbe,
            cluster_settings(config, cluster),
        )
        .with_metrics(cluster_metrics);
        runtime.with_coordinator(coordinator).run(shutdown).await
    } else {
        let mut runtime = runtime;
        runtime.run(shutdown).await
    };
    server.abort();
    event_publisher.abort();
    watchdog_reporter.abort();
    Ok(left)
}

/// The cross-region settings of a validated configuration with cluster management on.
pub fn cluster_settings(c: &ValidConfig, cluster: &ClusterConfig) -> ClusterSettings {
    ClusterSettings {
        region: c.region.clone(),
        pod: c.pod_name.clone(),
        cluster_name: cluster.forge_cluster_name.clone(),
        global_lease: cluster.global_lease_name.clone(),
        presence_prefix: cluster.presence_prefix.clone(),
        selector: String::new(),
        name_prefix: cluster.name_prefix.clone(),
        failback_delay: cluster.failback_delay,
        health: cluster.health.clone(),
        timing: c.timing,
    }
}

/// The decision journal at `JOURNAL_PATH`, written by a background thread; `None` (logged) when
/// it cannot be opened: the journal explains decisions, it never gates them.
fn journal_recorder(c: &ValidConfig) -> Option<(JournalRecorder<JournalWriter>, JournalView)> {
    let path = c.journal_path.as_path();
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        tracing::error!("journal disabled: cannot create {}: {e}", dir.display());
        return None;
    }
    let config = JournalConfig {
        retention: Some(c.journal_retention),
        ..JournalConfig::default()
    };
    let journal = match Journal::open(path, config) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!("journal disabled: {e}");
            return None;
        }
    };
    let writer = match JournalWriter::spawn(journal, 4096) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("journal disabled: cannot start its writer thread: {e}");
            return None;
        }
    };
    let view = writer.view();
    let recorder = JournalRecorder::new(
        writer,
        JournalIdentity {
            pool: c.pool_id.clone().unwrap_or_default(),
            network: c.network.clone(),
            region: c.region.clone(),
            pod: c.pod_name.clone(),
        },
    )
    .with_core(CoreSettings {
        identity: c.pod_name.clone(),
        timing: c.timing,
        writer: crate::journal::replay::WRITER.to_owned(),
    });
    Some((recorder, view))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::credentials::CredentialPaths;

    /// A decoy is refused only when its certificate starts in the configured network's future:
    /// the network it was made for passes, and an unknown network or an unreadable set is left
    /// to the loop.
    #[test]
    fn a_decoy_is_refused_only_on_a_network_whose_current_period_is_before_its_start() {
        use crate::credentials::{Genesis, current_kes_period, generate_set};
        use rand::SeedableRng;
        let now: jiff::Timestamp = "2026-12-04T12:00:00Z".parse().expect("time");
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = CredentialPaths::in_dir(dir.path());
        assert_eq!(
            decoy_network_problem(&paths, "preprod", now),
            None,
            "unreadable"
        );
        let mut rng = rand::rngs::StdRng::from_seed([7; 32]);
        let start = current_kes_period(&Genesis::MAINNET, now);
        let g = generate_set(&Genesis::MAINNET, start, 0, &mut rng);
        for f in crate::credentials::CredentialFile::ALL {
            std::fs::write(paths.get(f), g.set.get(f)).expect("write");
        }
        assert_eq!(decoy_network_problem(&paths, "mainnet", now), None);
        assert_eq!(decoy_network_problem(&paths, "sanchonet", now), None);
        for network in ["preprod", "preview"] {
            let problem = decoy_network_problem(&paths, network, now).expect("refused");
            assert!(
                problem.contains(&format!("starts at KES period {start}")),
                "{problem}"
            );
        }
    }

    #[test]
    fn an_invalid_configuration_is_refused_with_one_line_per_problem() {
        let c = Config {
            pod_name: String::new(),
            lease_duration: "soon".into(),
            ..Config::default()
        };
        let mut err = Vec::new();
        assert_eq!(preflight(&c, &mut err).err(), Some(EXIT_INVALID));
        let text = String::from_utf8_lossy(&err);
        assert!(text.lines().count() >= 2, "{text}");
        assert!(text.contains("POD_NAME"), "{text}");
        assert!(text.contains("LEASE_DURATION"), "{text}");
    }

    #[test]
    fn cluster_management_settings_follow_the_old_naming() {
        let c = Config {
            pod_name: "bp-0".into(),
            enable_cluster_management: "true".into(),
            cluster_region: "eu-west-1".into(),
            pool_id: "pool1abcdefghij".into(),
            ..Config::default()
        };
        let mut err = Vec::new();
        let valid =
            preflight(&c, &mut err).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&err)));
        let cluster = valid.cluster.as_ref().expect("cluster management is on");
        let s = cluster_settings(&valid, cluster);
        assert_eq!(s.cluster_name, "mainnet-pool1abcde-eu-west-1");
        assert_eq!(s.name_prefix.as_deref(), Some("mainnet-pool1abcde-"));
        assert_eq!(s.region, "eu-west-1");
    }

    #[test]
    fn decoy_mode_takes_the_standby_set_from_the_decoy_directory() {
        let c = Config {
            pod_name: "bp-0".into(),
            source_decoy_dir: "/d".into(),
            ..Config::default()
        };
        let s = settings(&c.validate().expect("valid"));
        assert_eq!(
            s.mode,
            CredentialMode::Decoy(CredentialPaths::in_dir(Path::new("/d")))
        );
        assert_eq!(s.source.kes, PathBuf::from("/secrets/kes.skey"));
        assert_eq!(
            s.target.opcert,
            PathBuf::from("/opt/cardano/secrets/node.cert")
        );
        let copy = Config {
            credential_mode: "copy".into(),
            ..c
        };
        assert_eq!(
            settings(&copy.validate().expect("valid")).mode,
            CredentialMode::Copy
        );
    }
}
