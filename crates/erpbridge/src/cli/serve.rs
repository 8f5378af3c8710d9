//! `erpbridge serve [--config FILE]`: the hub, with its outbox workers and sync
//! scheduler in the same process.
//!
//! Without `--config` it runs the embedded default (SQLite under `./erpbridge-data`,
//! tenant `demo` on the simulated ERP with 10,000 articles, API on 127.0.0.1:8080) and
//! prints the demo keys. Start-up order matters:
//!
//! 1. store (migrated), search indexes, sync engine;
//! 2. one hosted provider per tenant (logins start warming in the background; `/readyz`
//!    says 503 until they are warm);
//! 3. the outbox engine, bound to the hub's metered providers through
//!    [`HubProviders`] once the state exists;
//! 4. the HTTP server, then the sync scheduler (whose first delta run on an empty
//!    catalog is a full sync).
//!
//! SIGTERM or Ctrl-C: stop accepting, finish in-flight requests, stop the scheduler
//! (an in-flight sync rolls back to its last committed page), then let the outbox
//! workers finish the step they are in. Sagas are durable either way: a saga whose
//! worker is killed is reclaimed after its lease.
//!
//! SIGHUP or `POST /api/erp/config/reload` (with `--config`): re-read the file and
//! apply what can change live ([`reload`]); an invalid file changes nothing.

mod reload;

use anyhow::Context;
use clap::Args;
use erpbridge_config::{Config, DEMO_API_KEY, DEMO_OPERATOR_KEY, StoreConfig, TenantConfig};
use erpbridge_hub::{
    AppState, CacheTtls, HubOptions, HubProviders, KeyHash, Metrics, RateLimit, Services,
    TenantSpec,
};
use erpbridge_outbox::{Engine, Outbox, OutboxOptions, SagaCatalog};
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::RuntimeMonitor;
use erpbridge_search::{IndexOptions, SearchIndexes};
use erpbridge_store::catalog::CatalogStore;
use erpbridge_store::outbox::OutboxStore;
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_sync::{Schedule, ScheduledSync, Scheduler, SyncEngine, SyncMode, SyncOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML). Without it the embedded demo configuration runs.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Listen on this address instead of the configured one (e.g. `127.0.0.1:0`).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let embedded = args.config.is_none();
    let config = match &args.config {
        Some(file) => Config::load(file).map_err(|errors| anyhow::anyhow!("{errors}"))?,
        None => Config::embedded_default(),
    };
    let listen = args.listen.unwrap_or(config.server.listen);
    let hub = start(&config, listen).await?;
    if let Some(file) = &args.config {
        hub.enable_reload(file.clone(), config.clone());
        reload_on_sighup(&hub);
    }
    print_banner(&config, embedded, hub.addr, &config.index_dir());
    shutdown_signal().await;
    hub.stop().await
}

/// SIGHUP runs the same reload as `POST /api/erp/config/reload`; the outcome goes to
/// the log.
fn reload_on_sighup(hub: &RunningHub) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGHUP; reload through the API only");
                return;
            }
        };
        let state = hub.state.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let for_reload = state.clone();
                match tokio::task::spawn_blocking(move || {
                    erpbridge_hub::reload::reload(&for_reload)
                })
                .await
                {
                    Ok(None) => {}
                    Ok(Some(Ok(report))) => tracing::info!(
                        applied = ?report.applied,
                        restart_required = ?report.restart_required,
                        disconnected = ?report.connectors_disconnected,
                        "SIGHUP: configuration reloaded: {}", report.message
                    ),
                    Ok(Some(Err(erpbridge_hub::ReloadError::Invalid { file, errors }))) => {
                        for e in &errors {
                            tracing::error!(
                                "SIGHUP: {file}:{}: {}: {}",
                                e.line.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                                e.path,
                                e.message
                            );
                        }
                        tracing::error!(
                            "SIGHUP: {file} is invalid; keeping the running configuration"
                        );
                    }
                    Ok(Some(Err(err))) => {
                        tracing::error!("SIGHUP: configuration reload refused: {err}")
                    }
                    Err(err) => tracing::error!(%err, "SIGHUP: configuration reload failed"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = hub;
}

/// A hub running in this process: HTTP server, outbox workers and sync scheduler.
pub struct RunningHub {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    scheduler: Scheduler,
    engine: erpbridge_outbox::EngineHandle,
    tunnel: Option<erpbridge_tunnel::RunningTunnel>,
    connectors: erpbridge_tunnel::ConnectorRegistry,
}

impl RunningHub {
    /// Lets `POST /api/erp/config/reload` (and SIGHUP in `serve`) re-read `file`;
    /// `running` is the configuration the hub was started with.
    pub fn enable_reload(&self, file: PathBuf, running: Config) {
        self.state.set_reloader(Arc::new(reload::Reloader::new(
            file,
            running,
            self.connectors.clone(),
        )));
    }

    /// Graceful stop: stop accepting, finish in-flight requests, stop the scheduler (an
    /// in-flight sync rolls back to its last committed page), then let the outbox
    /// workers finish the step they are in.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let result = self.server.await;
        tracing::info!("HTTP server stopped; stopping sync scheduler and outbox workers");
        self.scheduler.stop();
        self.engine.shutdown().await;
        if let Some(tunnel) = self.tunnel
            && let Err(err) = tunnel.stop().await
        {
            tracing::warn!(%err, "stopping the connector tunnel endpoint");
        }
        result
            .context("the HTTP server task failed")?
            .context("serving HTTP")
    }
}

/// Starts everything `serve` runs, listening on `listen` (port 0 picks a free one).
/// `erpbridge serve` and `erpbridge bench api` both come through here, so the benchmark
/// measures exactly what production runs.
pub async fn start(config: &Config, listen: SocketAddr) -> anyhow::Result<RunningHub> {
    let db = open_store(&config.store).await?;
    db.migrate().await.context("migrating the store")?;
    let catalog = CatalogStore::new(db.clone());
    let outbox_store = OutboxStore::new(db.clone());
    let index_dir = config.index_dir();
    let indexes = Arc::new(SearchIndexes::new(&index_dir, IndexOptions::default()));
    let sync_engine = Arc::new(SyncEngine::new(
        catalog.clone(),
        Arc::clone(&indexes),
        SyncOptions::default(),
    ));

    let metrics = Arc::new(Metrics::new());
    let registry = HubProviders::new();
    let engine = Engine::new(
        outbox_store.clone(),
        SagaCatalog::standard(),
        Arc::new(registry.clone()),
        outbox_options(config)?,
    )
    .start();
    let outbox =
        Outbox::new(outbox_store.clone(), SagaCatalog::standard()).with_waker(engine.waker());

    let mut builder = AppState::builder()
        .metrics(Arc::clone(&metrics))
        .options(HubOptions {
            body_limit: usize::try_from(config.server.body_limit).unwrap_or(usize::MAX),
            ..HubOptions::default()
        })
        .services(Services {
            outbox: Some(outbox),
            catalog: Some(catalog.clone()),
            search: Some(Arc::clone(&indexes)),
            sync: Some(Arc::clone(&sync_engine)),
            syncs: Default::default(),
        });
    if let Some(key) = &config.server.operator_key {
        builder =
            builder.operator_key(KeyHash::parse(key.expose()).context("server.operator_key")?);
    }
    // Connector tenants are served through the tunnel endpoint; it stops with the hub
    // (connectors reconnect to a restarted hub on their own).
    let connectors = super::connector::registry_for(config);
    let tunnel = super::connector::start_tunnel(&config.server, &connectors).await?;
    if tunnel.is_some() {
        builder = builder.connectors(Arc::new(super::connector::Directory(connectors.clone())));
    }
    for tenant in &config.tenants {
        let hosted = super::connector::hub_provider_for(tenant, &connectors)?;
        builder = builder.tenant(tenant_spec(tenant, hosted.provider, hosted.monitor));
    }
    let state = builder.build().context("building the hub")?;
    registry.bind(&state);
    // Providers without a runtime monitor (remote gRPC providers, connector tunnels)
    // are ready once they have described themselves: ask now and every 5 s until it
    // works, so /readyz does not wait for the first query. (Hosted and Tryton tenants
    // warm up inside their runtime.)
    for ctx in state.tenants().filter(|t| t.monitor.is_none()) {
        let ctx = Arc::clone(ctx);
        tokio::spawn(async move {
            while let Err(err) = ctx.describe().await {
                tracing::warn!(tenant = %ctx.id, error = %err, "provider not ready yet");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }
    if outbox_store.draining().await.unwrap_or(false) {
        state.set_draining(true);
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;

    // Scheduled syncs use the hub's metered providers, so their calls show in /metrics.
    let jobs: Vec<ScheduledSync> = config
        .tenants
        .iter()
        .filter(|t| t.sync.enabled)
        .filter_map(|t| {
            let ctx = state.tenant(t.id.as_str())?;
            let schedule = match t.sync.delta_schedule() {
                erpbridge_config::Schedule::Interval(every) => Schedule::Every(every),
                erpbridge_config::Schedule::Cron(expr) => Schedule::cron(&expr).ok()?,
            };
            Some(ScheduledSync {
                tenant: t.id.to_string(),
                provider: Arc::clone(&ctx.provider),
                provider_name: t.provider.kind().to_owned(),
                schedule,
                mode: SyncMode::Delta,
            })
        })
        .collect();
    let scheduled: Vec<String> = jobs.iter().map(|j| j.tenant.clone()).collect();
    let scheduler = Scheduler::start(Arc::clone(&sync_engine), jobs, None);
    // A tenant without scheduled syncs still gets its catalog on first start.
    for tenant in &config.tenants {
        if !scheduled.contains(&tenant.id.to_string())
            && catalog
                .entity_count(tenant.id.as_str(), erpbridge_model::EntityKind::Article)
                .await
                .unwrap_or(0)
                == 0
        {
            let _ = erpbridge_hub::services::start_sync(&state, tenant.id.as_str(), SyncMode::Full);
        }
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(erpbridge_hub::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(RunningHub {
        addr,
        state,
        stop,
        server,
        scheduler,
        engine,
        tunnel,
        connectors,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn print_banner(config: &Config, embedded: bool, addr: SocketAddr, index_dir: &Path) {
    let base = format!("http://{addr}");
    println!("erpbridge hub listening on {base}");
    match &config.store {
        StoreConfig::Sqlite { path, .. } => println!("  store:    SQLite {}", path.display()),
        StoreConfig::Postgres { .. } => println!("  store:    PostgreSQL"),
    }
    println!("  search:   {}", index_dir.display());
    for tenant in &config.tenants {
        println!(
            "  tenant:   {} ({} provider; catalog sync starts now, see GET /v1/tenants/{}/sync)",
            tenant.id,
            tenant.provider.kind(),
            tenant.id
        );
    }
    println!("  health:   {base}/readyz   metrics: {base}/metrics   OpenAPI: {base}/openapi.json");
    if embedded {
        println!();
        println!("  demo tenant key:  {DEMO_API_KEY}");
        println!("  operator key:     {DEMO_OPERATOR_KEY}");
        println!();
        println!("  try:");
        println!(
            "    curl -H 'Authorization: Bearer {DEMO_API_KEY}' '{base}/v1/tenants/demo/articles?q=sechskantschraube&page_size=5'"
        );
        println!(
            "    curl -H 'Authorization: Bearer {DEMO_API_KEY}' '{base}/v1/tenants/demo/articles/A00000001?customer=C0000001'"
        );
        println!("    curl -H 'Authorization: Bearer {DEMO_OPERATOR_KEY}' {base}/api/erp/status");
    }
}

/// Opens (creating the SQLite file's directory) the store the configuration names.
pub(crate) async fn open_store(store: &StoreConfig) -> anyhow::Result<Db> {
    match store {
        StoreConfig::Sqlite { path, pool_size } => {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            Db::open_sqlite_sized(path, SqliteDurability::Full, *pool_size)
                .await
                .with_context(|| format!("opening {}", path.display()))
        }
        StoreConfig::Postgres { url, pool_size } => Db::open_postgres(url.expose(), *pool_size)
            .await
            .context("connecting to PostgreSQL"),
    }
}

/// The outbox's options from `[outbox]`. The retry policy has the same shape in both
/// crates and the configuration was validated, so a mismatch is a bug between them: it
/// stops the start naming the key, rather than quietly running another schedule.
fn outbox_options(config: &Config) -> anyhow::Result<OutboxOptions> {
    let defaults = OutboxOptions::default();
    let retry = serde_json::to_value(&config.outbox.retry)
        .and_then(serde_json::from_value)
        .context("outbox.retry: the configured retry policy does not fit the outbox engine")?;
    Ok(OutboxOptions {
        workers: config.outbox.workers,
        batch_size: config.outbox.batch_size,
        lease: config.outbox.lease,
        poll_interval: config.outbox.poll_interval,
        retry,
        ..defaults
    })
}

fn tenant_spec(
    tenant: &TenantConfig,
    provider: Arc<dyn Provider>,
    monitor: Option<RuntimeMonitor>,
) -> TenantSpec {
    let cache = if tenant.cache.enabled {
        CacheTtls {
            prices: tenant.cache.prices,
            stock: tenant.cache.stock,
            order_status: tenant.cache.order_status,
            max_entries: tenant.cache.max_entries,
        }
    } else {
        CacheTtls {
            prices: Duration::ZERO,
            stock: Duration::ZERO,
            order_status: Duration::ZERO,
            max_entries: 1,
        }
    };
    let rate_limit = tenant.rate_limit.enabled.then(|| RateLimit {
        per_second: tenant.rate_limit.requests_per_second.ceil().max(1.0) as u32,
        burst: tenant.rate_limit.burst.max(1),
    });
    TenantSpec {
        id: tenant.id.clone(),
        provider,
        monitor,
        provider_kind: tenant.provider.kind().to_owned(),
        api_keys: tenant
            .api_keys
            .iter()
            .map(|k| KeyHash::from_digest(k.digest()))
            .collect(),
        cache,
        rate_limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_retry_policy_reaches_the_outbox_unchanged() {
        let text = r#"
[outbox]
workers = 3
[outbox.retry]
strategy = "exponential"
base_delay = "5s"
max_delay = "90s"
multiplier = 3.0
max_attempts = 4
jitter = 0.0

[[tenants]]
id = "t"
api_keys = ["k"]
[tenants.provider]
type = "sim"
"#;
        let config = Config::from_toml(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let options = outbox_options(&config).unwrap();
        assert_eq!(options.workers, 3);
        let got = serde_json::to_value(&options.retry).unwrap();
        let want = serde_json::to_value(&config.outbox.retry).unwrap();
        assert_eq!(got, want);
        assert_eq!(got["max_attempts"], 4);
        assert_ne!(
            got,
            serde_json::to_value(OutboxOptions::default().retry).unwrap()
        );
    }
}
