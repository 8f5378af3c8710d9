//! Mode (c) of `erpbridge bench tunnel`: the provider figures of
//! `erpbridge_remote::bench` measured through a real tunnel on loopback — hub endpoint,
//! connector and provider in this process, every call crossing a TCP socket twice
//! (hub → connector → hub), exactly the frames production sends.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use erpbridge_remote::bench::{BenchError, PathFigures, Workload, measure};

use crate::connector::{Connector, ConnectorOptions};
use crate::hub::{ConnectorRegistry, ConnectorSettings, RunningTunnel, TunnelProvider};

const TENANT: &str = "bench";
const TOKEN: &str = "bench-connector-token";

/// A hub endpoint with one connector serving `provider`, ready for calls.
pub struct LoopbackTunnel {
    pub provider: TunnelProvider,
    tunnel: RunningTunnel,
    connector: tokio::task::JoinHandle<()>,
}

impl LoopbackTunnel {
    pub async fn start(provider: Arc<dyn Provider>) -> Result<Self, BenchError> {
        let unexpected = |what: String| BenchError::Unexpected {
            path: "tunnel".into(),
            what,
        };
        let settings = ConnectorSettings {
            tokens: vec![crate::auth::digest(TOKEN)],
            deadline: Duration::from_secs(60),
            ..ConnectorSettings::default()
        };
        let registry = ConnectorRegistry::new([(TENANT.to_owned(), settings)]);
        let tunnel = RunningTunnel::start(registry.clone(), ([127, 0, 0, 1], 0).into(), None)
            .await
            .map_err(|e| unexpected(e.to_string()))?;
        let connector =
            Connector::new(ConnectorOptions::new(tunnel.url(), TOKEN, TENANT), provider)
                .map_err(|e| unexpected(e.to_string()))?;
        let connector = tokio::spawn(async move {
            let _ = Arc::new(connector).run(std::future::pending()).await;
        });
        for _ in 0..500 {
            if registry.is_online(TENANT) {
                return Ok(Self {
                    provider: TunnelProvider::new(registry, TENANT),
                    tunnel,
                    connector,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        connector.abort();
        tunnel.abort();
        Err(unexpected(
            "the connector did not come online within 5 s".into(),
        ))
    }

    pub fn stop(self) {
        self.connector.abort();
        self.tunnel.abort();
    }
}

/// Live price (single and bulk) p50/p99 and catalog streaming rate of `provider`
/// reached through the tunnel, labelled `tunnel`. Compare with
/// `erpbridge_remote::bench::measure("in_process", provider, work)` from the same run.
pub async fn run_tunnel_mode(
    provider: Arc<dyn Provider>,
    work: &Workload,
) -> Result<PathFigures, BenchError> {
    let tunnel = LoopbackTunnel::start(provider).await?;
    let figures = measure("tunnel", &tunnel.provider, work).await;
    tunnel.stop();
    figures
}
