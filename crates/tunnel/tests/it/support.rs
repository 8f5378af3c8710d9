//! Shared set-up: a hub tunnel endpoint, connectors, a raw tunnel client.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_sim::{Sim, SimConfig};
use erpbridge_tunnel::auth::digest;
use erpbridge_tunnel::proto::{self as pb, tunnel_service_client::TunnelServiceClient};
use erpbridge_tunnel::{
    Connector, ConnectorError, ConnectorOptions, ConnectorRegistry, ConnectorSettings,
    RunningTunnel,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

pub async fn hosted_sim(config: SimConfig) -> (Sim, Arc<dyn Provider>) {
    let sim = Sim::new(config).unwrap();
    let options = RuntimeOptions {
        breaker_enabled: false,
        ..RuntimeOptions::default()
    };
    let hosted = HostedProvider::start(sim.factory(), options).unwrap();
    hosted.wait_ready().await;
    (sim, Arc::new(hosted))
}

pub fn settings(tokens: &[&str]) -> ConnectorSettings {
    ConnectorSettings {
        tokens: tokens.iter().map(|t| digest(t)).collect(),
        deadline: Duration::from_secs(10),
        ..ConnectorSettings::default()
    }
}

pub async fn tunnel(tenants: Vec<(&str, ConnectorSettings)>) -> RunningTunnel {
    let registry = ConnectorRegistry::new(tenants.into_iter().map(|(t, s)| (t.to_owned(), s)));
    RunningTunnel::start(registry, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap()
}

/// A connector running as a task; `handle` ends with its result.
pub struct RunningConnector {
    pub connector: Arc<Connector>,
    pub handle: tokio::task::JoinHandle<Result<(), ConnectorError>>,
}

pub fn connect(
    url: &str,
    token: &str,
    tenant: &str,
    provider: Arc<dyn Provider>,
) -> RunningConnector {
    let mut options = ConnectorOptions::new(url, token, tenant);
    options.connector_id = format!("{tenant}-test");
    options.backoff_min = Duration::from_millis(20);
    options.backoff_max = Duration::from_millis(200);
    let connector = Arc::new(Connector::new(options, provider).unwrap());
    let handle = tokio::spawn(Arc::clone(&connector).run(std::future::pending()));
    RunningConnector { connector, handle }
}

/// Waits until `check` holds (the tunnel is asynchronous by nature), at most 10 s.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A hand-driven tunnel client: sends exactly the frames a test writes.
pub struct RawClient {
    pub tx: mpsc::Sender<pb::ConnectorFrame>,
    pub inbound: tonic::Streaming<pb::HubFrame>,
}

pub async fn raw_client(url: &str, token: &str, tenant: &str) -> Result<RawClient, tonic::Status> {
    let mut client = TunnelServiceClient::connect(url.to_owned()).await.unwrap();
    let (tx, rx) = mpsc::channel(64);
    tx.send(frame(pb::connector_frame::Frame::Register(pb::Register {
        tenant: tenant.to_owned(),
        connector_id: "raw".into(),
        version: "0".into(),
        capabilities: vec![],
    })))
    .await
    .unwrap();
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut inbound = client.open_tunnel(request).await?.into_inner();
    match inbound.message().await? {
        Some(pb::HubFrame {
            frame: Some(pb::hub_frame::Frame::Registered(_)),
        }) => Ok(RawClient { tx, inbound }),
        other => panic!("expected `registered`, got {other:?}"),
    }
}

pub fn frame(frame: pb::connector_frame::Frame) -> pb::ConnectorFrame {
    pb::ConnectorFrame { frame: Some(frame) }
}

impl RawClient {
    /// The next hub frame that is not a heartbeat ack.
    pub async fn next(&mut self) -> pb::hub_frame::Frame {
        loop {
            let f = tokio::time::timeout(Duration::from_secs(10), self.inbound.message())
                .await
                .expect("no frame from the hub within 10 s")
                .unwrap()
                .expect("the hub closed the tunnel")
                .frame
                .unwrap();
            if !matches!(f, pb::hub_frame::Frame::HeartbeatAck(_)) {
                return f;
            }
        }
    }
}
