//! `kubectl forge`: the operations guide as commands. The `forge-manager` binary runs this when it
//! is invoked as `kubectl-forge` (a link or copy of that name on PATH is a kubectl plugin).
//!
//! - `status` reads CardanoForgeClusters, Leases and CardanoLeaders and shows, per pool, who
//!   forges, each region's policy (override and time left on the API server's clock), health and
//!   presence, and the pods that hold leases.
//! - `maintenance`, `handover`, `disable`, `enable`, `clear-override` write one JSON merge patch to
//!   one CardanoForgeCluster (docs/operations.md shows each), after ranking the pool with the
//!   change applied the way the sidecars will (a handover that would not move is refused), then
//!   wait until the statuses show the move.
//!
//! Exit codes: 0 done, 1 error or refused, 2 usage, 3 patched but the move was not seen before
//! `--timeout`.

pub mod change;
pub mod view;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams, Patch, PatchParams};

use crate::adapters::kube::{DateLayer, DateSlot};
use crate::config::duration::{format_duration, parse_duration};
use crate::crd::{CardanoForgeCluster, CardanoLeader};

use change::{Change, ChangeError};
use view::{Filter, Snapshot};

/// Exit code: the patch was written but the statuses did not show the move in time.
pub const EXIT_TIMEOUT: i32 = 3;

/// The `kubectl forge` command line.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-forge",
    bin_name = "kubectl forge",
    version,
    about = "Status and planned moves of Cardano block producers managed by forge-manager",
    after_help = "Exit codes: 0 done, 1 error or refused, 2 usage, 3 patched but the move was not \
                  seen before --timeout."
)]
pub struct Plugin {
    /// How to reach the API server.
    #[command(flatten)]
    pub connection: Connection,
    /// Which pools.
    #[command(flatten)]
    pub select: Select,
    /// What to do.
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// kubectl's connection flags.
#[derive(Debug, Args)]
pub struct Connection {
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace of the CardanoForgeClusters (default: the context's).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// How long one request may take.
    #[arg(long, global = true, default_value = "10s", value_parser = duration_arg)]
    pub request_timeout: Duration,
}

/// Which pools a command looks at.
#[derive(Debug, Args)]
pub struct Select {
    /// Only this network (`spec.network.name`).
    #[arg(long, global = true)]
    pub network: Option<String>,
    /// Only this pool: ticker, bech32 id, its first 10 characters, or name.
    #[arg(long, global = true)]
    pub pool: Option<String>,
    /// The network of single-tenant clusters, which name none (the sidecars' CARDANO_NETWORK).
    #[arg(
        long,
        global = true,
        env = "CARDANO_NETWORK",
        default_value = "mainnet",
        hide_env_values = true
    )]
    pub default_network: String,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// One screen per pool: who forges, each region's policy, override, health and presence, the
    /// global lease, and the pods that hold leases.
    Status(StatusArgs),
    /// Keep REGION from forging for a while: an override forcing Disabled, expiring --for from the
    /// API server's clock. Forging moves to the next region by priority.
    Maintenance(MaintenanceArgs),
    /// Move forging to a region for a while: an override forcing priority 1 there (and Enabled
    /// when another region is Enabled), expiring --for from the API server's clock.
    Handover(HandoverArgs),
    /// Set REGION's forgeState to Disabled (until `enable`).
    Disable(RegionArgs),
    /// Set REGION's forgeState to Priority-based.
    Enable(RegionArgs),
    /// Remove REGION's override (maintenance or handover) before it expires.
    ClearOverride(RegionArgs),
}

/// `status` flags.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Output>,
}

/// `-o` values.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// More columns: object name, active leader, status message.
    Wide,
    /// Machine-readable.
    Json,
    /// Machine-readable.
    Yaml,
}

/// `maintenance` arguments.
#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    /// Region (`spec.region`) or CardanoForgeCluster name.
    pub region: String,
    /// How long, e.g. `2h`, `90m`.
    #[arg(long = "for", value_parser = duration_arg)]
    pub for_: Duration,
    /// Why; shown in the region's status message.
    #[arg(long)]
    pub reason: String,
    /// Dry run, wait and force.
    #[command(flatten)]
    pub apply: Apply,
}

/// `handover` arguments.
#[derive(Debug, Args)]
pub struct HandoverArgs {
    /// The region (`spec.region`) or CardanoForgeCluster name that should forge.
    #[arg(long)]
    pub to: String,
    /// How long, e.g. `2h`.
    #[arg(long = "for", value_parser = duration_arg)]
    pub for_: Duration,
    /// Why; shown in the region's status message.
    #[arg(long, default_value = "planned handover (kubectl forge)")]
    pub reason: String,
    /// Dry run, wait and force.
    #[command(flatten)]
    pub apply: Apply,
}

/// Arguments of the commands that take only a region.
#[derive(Debug, Args)]
pub struct RegionArgs {
    /// Region (`spec.region`) or CardanoForgeCluster name.
    pub region: String,
    /// Dry run, wait and force.
    #[command(flatten)]
    pub apply: Apply,
}

/// How a change is applied.
#[derive(Debug, Args)]
pub struct Apply {
    /// `client`: print the patch and send nothing; `server`: the API server checks it and
    /// changes nothing.
    #[arg(long, value_enum, num_args = 0..=1, default_value = "none", default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Wait until the statuses show the move.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait for the move.
    #[arg(long, default_value = "2m", value_parser = duration_arg)]
    pub timeout: Duration,
    /// Do it even when no region could forge afterwards.
    #[arg(long)]
    pub force: bool,
}

/// `--dry-run` values, as kubectl spells them.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DryRun {
    /// Write the patch.
    None,
    /// Print the patch; send nothing.
    Client,
    /// Send it with `dryRun=All`: validated, not stored.
    Server,
}

fn duration_arg(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Ok(d) if d.is_zero() => Err("a duration above zero, e.g. 90s, 2h, 1h30m".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (e.g. 90s, 2h, 1h30m)")),
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The kubeconfig could not be used.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// A request failed.
    #[error("{request}: {}", crate::adapters::kube::describe(.error))]
    Api {
        /// What was asked.
        request: String,
        /// The answer.
        error: kube::Error,
    },
    /// No CardanoForgeCluster matched.
    #[error("no CardanoForgeCluster in namespace {namespace}{within}")]
    NoClusters {
        /// Where.
        namespace: String,
        /// The filter, in words.
        within: String,
    },
    /// The change cannot be made.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// Output could not be written or encoded.
    #[error("output: {0}")]
    Output(String),
    /// The move was not seen in time.
    #[error("timed out after {after}: {line}")]
    Timeout {
        /// How long it waited.
        after: String,
        /// The last progress line.
        line: String,
    },
}

impl PluginError {
    fn exit_code(&self) -> i32 {
        match self {
            PluginError::Timeout { .. } => EXIT_TIMEOUT,
            _ => 1,
        }
    }
}

/// Whether argv[0] asks for the plugin (`kubectl-forge`, whatever its directory).
pub fn invoked_as_plugin(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "kubectl-forge" || n.starts_with("kubectl-forge."))
}

/// Parses `args` (argv[0] first) and runs the command; returns the exit code.
pub fn run_from(args: impl IntoIterator<Item = OsString>) -> i32 {
    let plugin = match Plugin::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(plugin.run()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// A connected client, its namespace, and the `Date` headers it sees.
struct Session {
    client: kube::Client,
    namespace: String,
    dates: DateSlot,
}

async fn connect(c: &Connection) -> Result<Session, PluginError> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions {
        context: c.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config_error = |e: &dyn std::fmt::Display| PluginError::Config(e.to_string());
    let mut config = match &c.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| PluginError::Config(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| config_error(&e))?
        }
        None if c.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| config_error(&e))?,
        None => kube::Config::infer().await.map_err(|e| config_error(&e))?,
    };
    config.connect_timeout = Some(c.request_timeout);
    config.read_timeout = Some(c.request_timeout);
    config.write_timeout = Some(c.request_timeout);
    let namespace = c
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let dates = DateSlot::default();
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| PluginError::Config(e.to_string()))?
        .with_layer(&DateLayer::new(dates.clone()))
        .build();
    Ok(Session {
        client,
        namespace,
        dates,
    })
}

impl Session {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn failed(&self, what: &str) -> impl FnOnce(kube::Error) -> PluginError {
        let request = format!("{what} in namespace {}", self.namespace);
        move |error| PluginError::Api { request, error }
    }

    async fn clusters(&self) -> Result<Vec<CardanoForgeCluster>, PluginError> {
        Ok(self
            .api::<CardanoForgeCluster>()
            .list(&ListParams::default())
            .await
            .map_err(self.failed("list cardanoforgeclusters"))?
            .items)
    }

    /// Everything `status` and the changes need, and the server's clock.
    async fn snapshot(&self) -> Result<Snapshot, PluginError> {
        let clusters = self.clusters().await?;
        let server_now = self.server_now();
        // Leases and CardanoLeaders add detail; without them (RBAC, no CRD) the rest still shows.
        let leases = match self.api::<Lease>().list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                eprintln!("warning: cannot list leases in {}: {e}", self.namespace);
                Vec::new()
            }
        };
        let leaders = match self
            .api::<CardanoLeader>()
            .list(&ListParams::default())
            .await
        {
            Ok(l) => l.items,
            Err(e) => {
                eprintln!(
                    "warning: cannot list cardanoleaders in {}: {e}",
                    self.namespace
                );
                Vec::new()
            }
        };
        Ok(Snapshot {
            clusters,
            leases,
            leaders,
            server_now,
        })
    }

    /// The API server's clock from the last response's `Date` header (whole seconds).
    fn server_now(&self) -> jiff::Timestamp {
        self.dates.take().unwrap_or_else(|| {
            eprintln!(
                "warning: the API server sent no Date header; using this machine's clock instead"
            );
            jiff::Timestamp::now()
        })
    }
}

impl Filter {
    fn from_select(s: &Select) -> Self {
        Filter {
            network: s.network.clone(),
            pool: s.pool.clone(),
            default_network: s.default_network.to_ascii_lowercase(),
        }
    }

    fn in_words(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = &self.network {
            parts.push(format!("network {n}"));
        }
        if let Some(p) = &self.pool {
            parts.push(format!("pool {p}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" for {}", parts.join(" and "))
        }
    }
}

impl Plugin {
    async fn run(self) -> Result<(), PluginError> {
        let session = connect(&self.connection).await?;
        let filter = Filter::from_select(&self.select);
        match self.command {
            PluginCommand::Status(args) => status(&session, &filter, args.output).await,
            PluginCommand::Maintenance(a) => {
                let expires = |now| expiry(now, a.for_);
                apply(&session, &filter, &a.region, &a.apply, |now, _| {
                    Change::Maintenance {
                        reason: a.reason.clone(),
                        expires_at: expires(now),
                    }
                })
                .await
            }
            PluginCommand::Handover(a) => {
                apply(&session, &filter, &a.to, &a.apply, |now, force_enabled| {
                    Change::Handover {
                        reason: a.reason.clone(),
                        expires_at: expiry(now, a.for_),
                        force_enabled,
                    }
                })
                .await
            }
            PluginCommand::Disable(a) => {
                apply(&session, &filter, &a.region, &a.apply, |_, _| {
                    Change::Disable
                })
                .await
            }
            PluginCommand::Enable(a) => {
                apply(&session, &filter, &a.region, &a.apply, |_, _| {
                    Change::Enable
                })
                .await
            }
            PluginCommand::ClearOverride(a) => {
                apply(&session, &filter, &a.region, &a.apply, |_, _| {
                    Change::ClearOverride
                })
                .await
            }
        }
    }
}

/// `now + d`, RFC 3339 in whole seconds (the server's clock: the sidecars judge it on the same).
fn expiry(now: jiff::Timestamp, d: Duration) -> String {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
    jiff::Timestamp::from_second(now.as_second().saturating_add(secs))
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

fn write_out(text: &str) -> Result<(), PluginError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| PluginError::Output(e.to_string()))
}

async fn status(
    session: &Session,
    filter: &Filter,
    output: Option<Output>,
) -> Result<(), PluginError> {
    let snapshot = session.snapshot().await?;
    let pools = view::pools(&snapshot.clusters, filter);
    if pools.is_empty() {
        return Err(PluginError::NoClusters {
            namespace: session.namespace.clone(),
            within: filter.in_words(),
        });
    }
    let views: Vec<view::PoolView> = pools
        .iter()
        .map(|((network, pool), clusters)| view::pool_view(&snapshot, network, pool, clusters))
        .collect();
    let document = serde_json::json!({
        "serverTime": snapshot.server_now.to_string(),
        "namespace": session.namespace,
        "pools": views,
    });
    let text = match output {
        Some(Output::Json) => serde_json::to_string_pretty(&document)
            .map(|s| s + "\n")
            .map_err(|e| PluginError::Output(e.to_string()))?,
        Some(Output::Yaml) => {
            serde_yaml::to_string(&document).map_err(|e| PluginError::Output(e.to_string()))?
        }
        wide => views
            .iter()
            .map(|v| view::render(v, wide == Some(Output::Wide)))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    write_out(&text)
}

/// Resolves the region, builds the change on the server's clock, refuses what would not work,
/// patches (or dry-runs), then waits for the move.
async fn apply(
    session: &Session,
    filter: &Filter,
    region_arg: &str,
    how: &Apply,
    make: impl Fn(jiff::Timestamp, bool) -> Change,
) -> Result<(), PluginError> {
    let snapshot = session.snapshot().await?;
    let target = change::resolve(&snapshot.clusters, filter, region_arg)?;
    let name = target.metadata.name.clone().unwrap_or_default();
    let (network, pool_id) = (
        view::network_of(target, &filter.default_network),
        view::pool_of(target),
    );
    let pool_filter = Filter {
        network: Some(network.clone()),
        pool: None,
        default_network: filter.default_network.clone(),
    };
    let pool: Vec<&CardanoForgeCluster> = view::pools(&snapshot.clusters, &pool_filter)
        .remove(&(network.clone(), pool_id.clone()))
        .unwrap_or_default();
    let region = view::region_of(target);
    let change = make(
        snapshot.server_now,
        change::other_enabled(&pool, target, snapshot.server_now),
    );
    let patch = change.patch();
    let prediction = change::predict(
        &pool,
        &snapshot.leases,
        &network,
        &pool_id,
        target,
        &patch,
        snapshot.server_now,
    )?;
    change::check(&change, &region, &prediction, how.force)?;
    let plan = match (&prediction.before, &prediction.preferred) {
        (b, a) if b == a => format!("forging stays with {}", a.as_deref().unwrap_or("no region")),
        (b, a) => format!(
            "forging moves from {} to {}",
            b.as_deref().unwrap_or("no region"),
            a.as_deref().unwrap_or("NO REGION")
        ),
    };
    eprintln!(
        "{} {region}: merge patch to cardanoforgecluster/{name} in {}; {plan}",
        change.verb(),
        session.namespace
    );
    let pretty =
        serde_json::to_string_pretty(&patch).map_err(|e| PluginError::Output(e.to_string()))?;
    let api = session.api::<CardanoForgeCluster>();
    let mut params = PatchParams {
        field_manager: Some("kubectl-forge".into()),
        ..PatchParams::default()
    };
    match how.dry_run {
        DryRun::Client => return write_out(&(pretty + "\n")),
        DryRun::Server => {
            params.dry_run = true;
            api.patch(&name, &params, &Patch::Merge(&patch))
                .await
                .map_err(session.failed(&format!("patch cardanoforgecluster/{name} (dry run)")))?;
            eprintln!("the API server accepted the patch (dry run: nothing changed)");
            return write_out(&(pretty + "\n"));
        }
        DryRun::None => {}
    }
    let patched = api
        .patch(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(session.failed(&format!("patch cardanoforgecluster/{name}")))?;
    println!("cardanoforgecluster.cardano.io/{name} patched");
    if !how.wait {
        return Ok(());
    }
    let present = view::region_views(
        &pool,
        &snapshot.leases,
        &network,
        &pool_id,
        snapshot.server_now,
    )
    .get(&region)
    .is_some_and(|v| v.present);
    wait_for_move(
        session,
        &pool_filter,
        (&network, &pool_id),
        &region,
        patched.metadata.generation,
        present,
        prediction.preferred.as_deref(),
        how.timeout,
    )
    .await
}

/// Polls the pool's CardanoForgeClusters twice a second until [`change::progress`] says done,
/// printing a line whenever what it sees changes (in place on a terminal).
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
async fn wait_for_move(
    session: &Session,
    filter: &Filter,
    pool_key: (&str, &str),
    region: &str,
    generation: Option<i64>,
    present: bool,
    expected: Option<&str>,
    timeout: Duration,
) -> Result<(), PluginError> {
    let start = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    loop {
        let clusters = session.clusters().await?;
        let pools = view::pools(&clusters, filter);
        let pool = pools
            .get(&(pool_key.0.to_owned(), pool_key.1.to_owned()))
            .cloned()
            .unwrap_or_default();
        let p = change::progress(&pool, region, generation, present, expected);
        let elapsed = start.elapsed();
        if p.done {
            if tty {
                eprint!("\r\x1b[K");
            }
            println!("done in {:.1}s: {}", elapsed.as_secs_f64(), p.line);
            return Ok(());
        }
        if p.line != last {
            if tty {
                eprint!("\r\x1b[K{:>5.1}s  {}", elapsed.as_secs_f64(), p.line);
            } else {
                eprintln!("{:>5.1}s  {}", elapsed.as_secs_f64(), p.line);
            }
            last = p.line.clone();
        }
        if elapsed >= timeout {
            if tty {
                eprintln!();
            }
            return Err(PluginError::Timeout {
                after: format_duration(timeout),
                line: format!(
                    "{} (the patch is in place; `kubectl forge status` shows why nothing moved)",
                    p.line
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
