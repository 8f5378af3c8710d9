//! `erpbridge connector --hub URL --token-file F [--config FILE]`: the on-premise
//! connector, and the hub's side of hosting connector tenants.
//!
//! The connector reads the same configuration format as the hub and hosts one
//! tenant's provider from it (the only tenant, or `--tenant`), exactly as `serve` would
//! (through [`super::providers::provider_for`]: sim, Tryton or remote). The tenant's
//! `api_keys` are not used by the connector. It dials out to the hub's tunnel endpoint
//! (`[server] connector_listen` there) and serves the hub's calls until SIGTERM/Ctrl-C.
//!
//! Reload: when the hub's configuration version for the tenant changes, the connector
//! re-reads `--config` and replaces its provider; calls already running finish on the
//! old one. A file that no longer loads keeps the running provider (logged).
//!
//! Exit status: 0 on SIGTERM/Ctrl-C; 1 when the hub refuses the token (retrying cannot
//! help) or the options are invalid (a plaintext URL off loopback, a missing file).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use erpbridge_config::{Config, ConnectorSettings, ProviderConfig, ServerConfig, TenantConfig};
use erpbridge_provider::Provider;
use erpbridge_tunnel::hub::HubTls;
use erpbridge_tunnel::{
    Connector, ConnectorOptions, ConnectorRegistry, RunningTunnel, TunnelProvider,
};

use super::providers::TenantProvider;

#[derive(Debug, Args)]
pub struct ConnectorArgs {
    /// The hub's tunnel endpoint: `https://hub.example.com:7443` (`http://` on loopback).
    #[arg(long)]
    pub hub: String,
    /// File holding this connector's token (bound to one tenant at the hub).
    #[arg(long)]
    pub token_file: PathBuf,
    /// Configuration (TOML, the hub's format) with the tenant's `[provider]`; the
    /// embedded demo (tenant `demo` on the sim) without it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The tenant to serve when the configuration has several.
    #[arg(long)]
    pub tenant: Option<String>,
    /// This installation's name as operators see it. Default: $HOSTNAME, or "connector".
    #[arg(long)]
    pub id: Option<String>,
    /// PEM of the CA that signed the hub's certificate (default: the system roots).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Allow plain HTTP/2 to a hub that is not on loopback (only behind a
    /// TLS-terminating proxy or a VPN: the token and ERP data cross it unencrypted).
    #[arg(long)]
    pub insecure_plaintext: bool,
}

pub fn run(args: ConnectorArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(connector(args))?;
    Ok(ExitCode::SUCCESS)
}

fn load(config: Option<&PathBuf>) -> anyhow::Result<Config> {
    match config {
        Some(file) => Config::load(file).map_err(|errors| anyhow::anyhow!("{errors}")),
        None => Ok(Config::embedded_default()),
    }
}

fn pick_tenant(config: &Config, wanted: Option<&str>) -> anyhow::Result<TenantConfig> {
    let tenant = match wanted {
        Some(id) => config
            .tenant(id)
            .with_context(|| format!("the configuration has no tenant `{id}`"))?,
        None => match config.tenants.as_slice() {
            [only] => only,
            _ => bail!("the configuration has several tenants: name one with --tenant"),
        },
    };
    if matches!(tenant.provider, ProviderConfig::Connector(_)) {
        bail!(
            "tenant `{}`: a connector hosts the ERP's own provider (sim, tryton, remote), not `type = \"connector\"`",
            tenant.id
        );
    }
    Ok(tenant.clone())
}

fn local_provider(config: &Config, wanted: Option<&str>) -> anyhow::Result<Arc<dyn Provider>> {
    let tenant = pick_tenant(config, wanted)?;
    Ok(super::providers::provider_for(&tenant)?.provider)
}

async fn connector(args: ConnectorArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading the token file {}", args.token_file.display()))?
        .trim()
        .to_owned();
    if token.is_empty() {
        bail!("the token file {} is empty", args.token_file.display());
    }
    let config = load(args.config.as_ref())?;
    let tenant = pick_tenant(&config, args.tenant.as_deref())?;
    let provider = local_provider(&config, Some(tenant.id.as_str()))?;

    let mut options = ConnectorOptions::new(&args.hub, token, tenant.id.as_str());
    options.connector_id = args
        .id
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "connector".to_owned());
    options.allow_insecure = args.insecure_plaintext;
    options.ca_pem = args
        .ca_file
        .as_ref()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .transpose()?;

    let config_file = args.config.clone();
    let tenant_id = tenant.id.to_string();
    let reload: erpbridge_tunnel::connector::Reload = Box::new(move || {
        let config = load(config_file.as_ref()).map_err(|e| format!("{e:#}"))?;
        local_provider(&config, Some(&tenant_id)).map_err(|e| format!("{e:#}"))
    });
    let connector = Arc::new(Connector::new(options, provider)?.with_reload(reload));
    tracing::info!(hub = %args.hub, tenant = %tenant.id, "connector starting");
    connector.run(shutdown_signal()).await?;
    tracing::info!("connector stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

// ---------------------------------------------------------------------------------------
// The hub's side.

/// The connector tenants of a hub configuration.
pub fn registry_for(config: &Config) -> ConnectorRegistry {
    ConnectorRegistry::new(config.tenants.iter().filter_map(|t| match &t.provider {
        ProviderConfig::Connector(s) => Some((t.id.to_string(), settings(s))),
        _ => None,
    }))
}

fn settings(s: &ConnectorSettings) -> erpbridge_tunnel::ConnectorSettings {
    erpbridge_tunnel::ConnectorSettings {
        tokens: s.tokens.iter().map(|k| k.digest()).collect(),
        heartbeat_interval: s.heartbeat_interval,
        missed_heartbeats: s.missed_heartbeats,
        deadline: s.deadline,
        stream_credit: s.stream_credit,
        config_version: s.config_version.clone(),
    }
}

/// Starts the tunnel endpoint when the configuration has one (`[server]
/// connector_listen`); its connectors serve the registry's tenants.
pub async fn start_tunnel(
    server: &ServerConfig,
    registry: &ConnectorRegistry,
) -> anyhow::Result<Option<RunningTunnel>> {
    let Some(listen) = server.connector_listen else {
        return Ok(None);
    };
    let tls = match &server.connector_tls {
        Some(tls) => Some(HubTls {
            cert_pem: std::fs::read(&tls.cert_file)
                .with_context(|| format!("reading {}", tls.cert_file.display()))?,
            key_pem: std::fs::read(&tls.key_file)
                .with_context(|| format!("reading {}", tls.key_file.display()))?,
        }),
        None => None,
    };
    let tunnel = RunningTunnel::start(registry.clone(), listen, tls)
        .await
        .with_context(|| format!("starting the connector tunnel on {listen}"))?;
    tracing::info!(addr = %tunnel.addr, "connector tunnel listening");
    Ok(Some(tunnel))
}

/// The hub's provider of a tenant: the tunnel for a connector tenant, otherwise the
/// one [`super::providers::provider_for`] hosts.
pub fn hub_provider_for(
    tenant: &TenantConfig,
    registry: &ConnectorRegistry,
) -> anyhow::Result<TenantProvider> {
    match &tenant.provider {
        ProviderConfig::Connector(_) => Ok(TenantProvider {
            provider: Arc::new(TunnelProvider::new(registry.clone(), tenant.id.as_str())),
            monitor: None,
        }),
        _ => super::providers::provider_for(tenant),
    }
}

/// The tunnel's registry as the hub's operator API reads it.
pub struct Directory(pub ConnectorRegistry);

impl erpbridge_hub::ConnectorDirectory for Directory {
    fn connectors(&self) -> Vec<erpbridge_hub::ConnectorView> {
        self.0
            .list()
            .into_iter()
            .map(|c| erpbridge_hub::ConnectorView {
                tenant: c.tenant,
                status: match c.status {
                    erpbridge_tunnel::ConnectorStatus::Online => "online",
                    erpbridge_tunnel::ConnectorStatus::Offline => "offline",
                }
                .to_owned(),
                connector_id: c.connector_id,
                version: c.version,
                address: c.address,
                last_heartbeat: c.last_heartbeat,
                connected_at: c.connected_at,
                disconnected_at: c.disconnected_at,
                last_error: c.last_error,
                calls_in_flight: c.calls_in_flight,
                sessions: c.sessions,
            })
            .collect()
    }
}
