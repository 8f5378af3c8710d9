//! The gRPC endpoint connectors dial into.
//!
//! A stream is accepted in three steps, each refusing with a distinct status so a
//! connector's log says what to fix: the bearer token must hash to a digest configured
//! for some tenant (`UNAUTHENTICATED`), the first frame must be `register` within a few
//! seconds (`INVALID_ARGUMENT` / `DEADLINE_EXCEEDED`), and it must name the token's own
//! tenant (`PERMISSION_DENIED`). Only then does the session exist and the tenant's calls
//! flow to it. A connector can therefore never see another tenant's calls: calls are
//! routed by the tenant the *token* proves, not by anything the connector says.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use super::registry::ConnectorRegistry;
use super::session::{OUTBOUND_FRAMES, Session};
use crate::auth;
use crate::proto::{
    self as pb,
    connector_frame::Frame as C,
    hub_frame::Frame as H,
    tunnel_service_server::{TunnelService, TunnelServiceServer},
};

/// Largest frame either side accepts (a catalog page of big articles).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// How long a new stream may take to send its `register` frame.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Tunnel {
    registry: ConnectorRegistry,
}

type HubStream = Pin<Box<dyn Stream<Item = Result<pb::HubFrame, Status>> + Send>>;

#[tonic::async_trait]
impl TunnelService for Tunnel {
    type OpenTunnelStream = HubStream;

    async fn open_tunnel(
        &self,
        request: Request<Streaming<pb::ConnectorFrame>>,
    ) -> Result<Response<HubStream>, Status> {
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(auth::bearer)
            .map(auth::digest)
            .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <token>`"))?;
        let tenant = self
            .registry
            .tenant_for_token(&presented)
            .ok_or_else(|| Status::unauthenticated("unknown or revoked connector token"))?;
        let address = request.remote_addr().map(|a| a.to_string());
        let mut inbound = request.into_inner();

        let first = tokio::time::timeout(REGISTER_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no `register` frame in time"))??;
        let Some(pb::ConnectorFrame {
            frame: Some(C::Register(register)),
        }) = first
        else {
            return Err(Status::invalid_argument(
                "the first frame of a tunnel must be `register`",
            ));
        };
        if register.tenant != tenant {
            tracing::warn!(token_tenant = %tenant, claimed = %register.tenant, "connector registered for a tenant its token is not for");
            return Err(Status::permission_denied(format!(
                "this token is not valid for tenant `{}`",
                register.tenant
            )));
        }
        let settings = self.registry.settings(&tenant).unwrap_or_default();

        let (tx, rx) = mpsc::channel(OUTBOUND_FRAMES);
        let session = Arc::new(Session::new(
            uuid::Uuid::now_v7().to_string(),
            tenant.clone(),
            presented,
            tx.clone(),
        ));
        let registered = pb::HubFrame {
            frame: Some(H::Registered(pb::Registered {
                session_id: session.id.clone(),
                heartbeat_interval_ms: u32::try_from(settings.heartbeat_interval.as_millis())
                    .unwrap_or(u32::MAX),
                config_version: self.registry.config_version(&tenant).unwrap_or_default(),
            })),
        };
        tx.send(Ok(registered))
            .await
            .map_err(|_| Status::internal("session closed during registration"))?;
        drop(tx);
        tracing::info!(tenant = %tenant, connector = %register.connector_id, version = %register.version, session = %session.id, address = ?address, "connector online");
        self.registry
            .attach(Arc::clone(&session), &register, address);

        let registry = self.registry.clone();
        let reader_session = Arc::clone(&session);
        let reader = tokio::spawn(async move {
            let why = read_frames(&registry, &reader_session, &mut inbound).await;
            registry.detach(&reader_session, &why);
        });
        // Offline after missed heartbeats: a cut network can leave the TCP connection
        // looking open for minutes; the heartbeat is what the hub trusts.
        let registry = self.registry.clone();
        tokio::spawn(async move {
            let limit = settings.heartbeat_interval * settings.missed_heartbeats.max(1);
            let tick = (settings.heartbeat_interval / 2).max(Duration::from_millis(10));
            loop {
                tokio::time::sleep(tick).await;
                if session.is_closed() {
                    break;
                }
                match registry.silence(&session) {
                    Some(silence) if silence > limit => {
                        registry.detach(
                            &session,
                            &format!(
                                "{} heartbeats missed (nothing for {silence:?})",
                                settings.missed_heartbeats
                            ),
                        );
                        reader.abort();
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Reads the connector's frames until the stream ends; returns why it ended.
async fn read_frames(
    registry: &ConnectorRegistry,
    session: &Arc<Session>,
    inbound: &mut Streaming<pb::ConnectorFrame>,
) -> String {
    loop {
        let frame = match inbound.message().await {
            Ok(Some(frame)) => frame,
            Ok(None) => return "the connector closed the tunnel".to_owned(),
            Err(status) => return format!("tunnel broken: {}", status.message()),
        };
        match frame.frame {
            Some(C::Reply(reply)) => session.on_reply(reply),
            Some(C::Chunk(chunk)) => session.on_chunk(chunk),
            Some(C::End(end)) => session.on_end(end),
            Some(C::Heartbeat(hb)) => {
                if let Some(config_version) = registry.heartbeat(session, hb.metrics) {
                    let ack = H::HeartbeatAck(pb::HeartbeatAck { config_version });
                    if session.send(ack).await.is_err() {
                        return "the session closed".to_owned();
                    }
                }
            }
            Some(C::Register(_)) => {
                return "protocol violation: a second `register` frame".to_owned();
            }
            // A newer connector's frame this hub does not know: ignore it.
            None => {}
        }
    }
}

/// The hub's TLS identity for the tunnel endpoint (PEM).
#[derive(Debug, Clone)]
pub struct HubTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TunnelServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("tunnel TLS configuration: {0}")]
    Tls(String),
    #[error("tunnel gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("tunnel server task ended abnormally: {0}")]
    Task(String),
}

/// Serves the tunnel endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    registry: ConnectorRegistry,
    listener: TcpListener,
    tls: Option<HubTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), TunnelServeError> {
    let mut builder = Server::builder()
        .tcp_nodelay(true)
        // Pings keep NAT and firewall state alive on the customer's side.
        .http2_keepalive_interval(Some(Duration::from_secs(20)));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(
                ServerTlsConfig::new().identity(Identity::from_pem(tls.cert_pem, tls.key_pem)),
            )
            .map_err(|e| TunnelServeError::Tls(e.to_string()))?;
    }
    let service = TunnelServiceServer::new(Tunnel { registry })
        .max_decoding_message_size(MAX_FRAME_BYTES)
        .max_encoding_message_size(MAX_FRAME_BYTES);
    builder
        .add_service(service)
        // Nagle off on accepted sockets too (tonic's flag covers only listeners it
        // binds): bulk calls through the tunnel had a 40 ms p99 of delayed ACKs.
        .serve_with_incoming_shutdown(erpbridge_remote::server::incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// The tunnel endpoint on a background task.
pub struct RunningTunnel {
    pub addr: SocketAddr,
    pub registry: ConnectorRegistry,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), TunnelServeError>>,
}

impl RunningTunnel {
    /// Binds `addr` (port 0 picks one) and serves the registry's tenants there.
    pub async fn start(
        registry: ConnectorRegistry,
        addr: SocketAddr,
        tls: Option<HubTls>,
    ) -> Result<Self, TunnelServeError> {
        let bind_error = |source| TunnelServeError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(registry.clone(), listener, tls, async {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            registry,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://ADDR`, what a connector dials on loopback.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and waits for the server to end.
    pub async fn stop(mut self) -> Result<(), TunnelServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(TunnelServeError::Task(join.to_string())),
        }
    }

    /// Leaves the server running until the async runtime ends (a hub process).
    pub fn detach(mut self) {
        if let Some(keep) = self.shutdown.take() {
            tokio::spawn(async move {
                let _keep = keep;
                std::future::pending::<()>().await;
            });
        }
    }

    /// Ends the server at once (tests: the hub crashed).
    pub fn abort(self) {
        self.task.abort();
    }
}
