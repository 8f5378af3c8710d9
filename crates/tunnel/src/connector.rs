//! The connector's side: host a provider, dial out to the hub, answer its calls.
//!
//! [`Connector::run`] loops for the life of the process: connect, register, serve the
//! session, and after it ends wait with exponential backoff and full jitter (so a
//! hub restart is not met by every connector at the same instant) before the next try.
//! Only a refused token ends the loop: retrying cannot fix it, an operator must.
//!
//! Within a session every call runs on its own task, so a slow catalog page never
//! holds up a live price; the local provider (its runtime's serial executor, for a
//! non-thread-safe ERP) decides what really runs at once. A `cancel` aborts the call's
//! task. Catalog streams send a page only with credit from the hub.
//!
//! Configuration reload: the hub's `registered` and `heartbeat_ack` frames carry the
//! tenant's configuration version. When it differs from the version this process last
//! saw, the reload hook (re-reading the config file, in `erpbridge connector`) builds a
//! fresh provider; calls already running finish on the old one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use erpbridge_provider::{CatalogPageRequest, Provider, ProviderError};
use erpbridge_remote::proto as ppb;
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Uri};
use tonic::{Code, Request};

use crate::auth::is_loopback_host;
use crate::hub::service::MAX_FRAME_BYTES;
use crate::proto::{
    self as pb, call::Request as Q, connector_frame::Frame as C, hub_frame::Frame as H,
    reply::Result as R, tunnel_service_client::TunnelServiceClient,
};
use crate::wire::{answer, error_detail};

/// Features this connector implements, sent in `register`.
pub const CAPABILITIES: &[&str] = &["catalog_stream", "cancel", "credit", "config_reload"];

/// How to reach the hub and who this connector is.
#[derive(Debug, Clone)]
pub struct ConnectorOptions {
    /// `https://hub.example.com:7443`, or `http://127.0.0.1:7443` on loopback.
    pub hub_url: String,
    pub token: String,
    pub tenant: String,
    pub connector_id: String,
    pub version: String,
    /// Allow plain HTTP/2 to a hub that is not on loopback (the token and ERP data then
    /// cross the network unencrypted: only behind a TLS-terminating proxy or a VPN).
    pub allow_insecure: bool,
    /// PEM of the CA that signed the hub's certificate; the system roots if `None`.
    pub ca_pem: Option<Vec<u8>>,
    /// Name to verify the hub's certificate against; the URL's host if `None`.
    pub tls_domain: Option<String>,
    pub connect_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl ConnectorOptions {
    pub fn new(
        hub_url: impl Into<String>,
        token: impl Into<String>,
        tenant: impl Into<String>,
    ) -> Self {
        Self {
            hub_url: hub_url.into(),
            token: token.into(),
            tenant: tenant.into(),
            connector_id: "connector".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            allow_insecure: false,
            ca_pem: None,
            tls_domain: None,
            connect_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid hub URL `{url}`: {reason}")]
    HubUrl { url: String, reason: String },
    #[error(
        "refusing plain HTTP/2 to `{url}`: the hub is not on loopback; use https:// or, behind a TLS-terminating proxy, allow it explicitly (--insecure-plaintext)"
    )]
    Plaintext { url: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("the hub refused this connector: {0}")]
    Rejected(String),
}

/// Builds a fresh provider from the (re-read) configuration.
pub type Reload = Box<dyn Fn() -> Result<Arc<dyn Provider>, String> + Send + Sync>;

#[derive(Default)]
struct Counters {
    calls_total: AtomicU64,
    calls_failed: AtomicU64,
    in_flight: AtomicU32,
    sessions: AtomicU64,
}

/// One connector process's state.
pub struct Connector {
    options: ConnectorOptions,
    endpoint: Endpoint,
    provider: RwLock<Arc<dyn Provider>>,
    reload: Option<Reload>,
    config_version: Mutex<Option<String>>,
    /// Why the last attempt or session ended, for operators and tests.
    last_error: Mutex<Option<String>>,
    counters: Counters,
    started: Instant,
}

/// Why one session ended.
enum SessionEnd {
    /// Try again after backoff; `registered` says whether it got as far as serving.
    Retry {
        registered: bool,
        why: String,
    },
    Rejected(String),
}

impl Connector {
    /// Checks the hub URL against the transport policy; connects nothing yet.
    pub fn new(
        options: ConnectorOptions,
        provider: Arc<dyn Provider>,
    ) -> Result<Self, ConnectorError> {
        let endpoint = endpoint(&options)?;
        Ok(Self {
            options,
            endpoint,
            provider: RwLock::new(provider),
            reload: None,
            config_version: Mutex::new(None),
            last_error: Mutex::new(None),
            counters: Counters::default(),
            started: Instant::now(),
        })
    }

    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = Some(reload);
        self
    }

    /// Sessions opened so far (1 + reconnects).
    pub fn sessions(&self) -> u64 {
        self.counters.sessions.load(Ordering::Relaxed)
    }

    /// Why the last connection attempt or session ended (`None` before the first end).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// The configuration version the hub last announced (`None` before the first
    /// registration).
    pub fn config_version(&self) -> Option<String> {
        self.config_version.lock().clone()
    }

    /// Serves until `shutdown` completes; ends early only when the hub refuses the
    /// token or the tenant.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ConnectorError> {
        tokio::pin!(shutdown);
        let mut attempt: u32 = 0;
        loop {
            let end = tokio::select! {
                end = self.session() => end,
                () = &mut shutdown => return Ok(()),
            };
            match end {
                SessionEnd::Rejected(why) => {
                    *self.last_error.lock() = Some(why.clone());
                    return Err(ConnectorError::Rejected(why));
                }
                SessionEnd::Retry { registered, why } => {
                    *self.last_error.lock() = Some(why.clone());
                    if registered {
                        attempt = 0;
                    }
                    let wait = backoff(attempt, self.options.backoff_min, self.options.backoff_max);
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(hub = %self.options.hub_url, "tunnel down: {why}; reconnecting in {wait:?}");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut shutdown => return Ok(()),
                    }
                }
            }
        }
    }

    async fn session(self: &Arc<Self>) -> SessionEnd {
        let retry = |why: String| SessionEnd::Retry {
            registered: false,
            why,
        };
        let channel: Channel = match self.endpoint.connect().await {
            Ok(c) => c,
            Err(e) => return retry(format!("cannot connect: {}", chain(&e))),
        };
        let mut client = TunnelServiceClient::new(channel)
            .max_decoding_message_size(MAX_FRAME_BYTES)
            .max_encoding_message_size(MAX_FRAME_BYTES);
        let (tx, rx) = mpsc::channel::<pb::ConnectorFrame>(1024);
        let register = C::Register(pb::Register {
            tenant: self.options.tenant.clone(),
            connector_id: self.options.connector_id.clone(),
            version: self.options.version.clone(),
            capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
        });
        if tx.send(frame(register)).await.is_err() {
            return retry("internal: outbound queue closed".into());
        }
        let mut request = Request::new(ReceiverStream::new(rx));
        match format!("Bearer {}", self.options.token).parse() {
            Ok(value) => {
                request.metadata_mut().insert("authorization", value);
            }
            Err(_) => {
                return SessionEnd::Rejected(
                    "the token contains characters not allowed in a header".into(),
                );
            }
        }
        let mut inbound = match client.open_tunnel(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return self.refused_or_retry(status),
        };
        let registered = match inbound.message().await {
            Ok(Some(pb::HubFrame {
                frame: Some(H::Registered(r)),
            })) => r,
            Ok(_) => return retry("the hub did not acknowledge the registration".into()),
            Err(status) => return self.refused_or_retry(status),
        };
        self.counters.sessions.fetch_add(1, Ordering::Relaxed);
        tracing::info!(hub = %self.options.hub_url, tenant = %self.options.tenant, session = %registered.session_id, "connected to the hub");
        self.observe_config_version(&registered.config_version);

        let interval = Duration::from_millis(u64::from(registered.heartbeat_interval_ms.max(100)));
        let heartbeat = {
            let this = Arc::clone(self);
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    let hb = C::Heartbeat(pb::Heartbeat {
                        metrics: Some(this.metrics()),
                    });
                    if tx.send(frame(hb)).await.is_err() {
                        break;
                    }
                }
            })
        };

        let calls: Arc<Mutex<HashMap<u64, RunningCall>>> = Arc::default();
        // Whichever way the session ends (including this future being dropped), its
        // heartbeat and calls stop, so nothing keeps the dead stream open.
        let _cleanup = SessionTasks {
            connector: Arc::clone(self),
            heartbeat: heartbeat.abort_handle(),
            calls: Arc::clone(&calls),
        };
        let why = loop {
            let frame = match inbound.message().await {
                Ok(Some(frame)) => frame,
                Ok(None) => break "the hub closed the tunnel".to_owned(),
                Err(status) => break format!("{:?}: {}", status.code(), status.message()),
            };
            match frame.frame {
                Some(H::Call(call)) => self.start_call(call, &tx, &calls),
                Some(H::Cancel(cancel)) => {
                    if let Some(call) = calls.lock().remove(&cancel.call_id) {
                        call.abort.abort();
                        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                Some(H::Credit(credit)) => {
                    if let Some(RunningCall {
                        credit: Some(sem), ..
                    }) = calls.lock().get(&credit.call_id)
                    {
                        sem.add_permits(credit.pages as usize);
                    }
                }
                Some(H::HeartbeatAck(ack)) => self.observe_config_version(&ack.config_version),
                Some(H::Registered(_)) | None => {}
            }
        };
        SessionEnd::Retry {
            registered: true,
            why,
        }
    }

    fn refused_or_retry(&self, status: tonic::Status) -> SessionEnd {
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => {
                SessionEnd::Rejected(status.message().to_owned())
            }
            code => {
                let source = std::error::Error::source(&status);
                let mut why = with_sources(format!("{code:?}: {}", status.message()), source);
                if source.is_some() {
                    // Below gRPC on a plain URL, the usual cause is a hub endpoint that
                    // speaks TLS: it drops plain HTTP/2, and "transport error" alone
                    // does not tell anyone that.
                    if self.options.hub_url.starts_with("http://") {
                        why.push_str(
                            " (the hub dropped the connection: if its tunnel endpoint uses TLS, dial https:// instead of http://)",
                        );
                    }
                }
                SessionEnd::Retry {
                    registered: false,
                    why,
                }
            }
        }
    }

    fn metrics(&self) -> pb::ConnectorMetrics {
        pb::ConnectorMetrics {
            calls_total: self.counters.calls_total.load(Ordering::Relaxed),
            calls_failed: self.counters.calls_failed.load(Ordering::Relaxed),
            calls_in_flight: self.counters.in_flight.load(Ordering::Relaxed),
            uptime_seconds: self.started.elapsed().as_secs(),
            sessions: self.counters.sessions.load(Ordering::Relaxed),
        }
    }

    fn observe_config_version(&self, version: &str) {
        let changed = {
            let mut known = self.config_version.lock();
            let changed = known.as_deref().is_some_and(|k| k != version);
            *known = Some(version.to_owned());
            changed
        };
        if !changed {
            return;
        }
        let Some(reload) = &self.reload else {
            tracing::info!(
                version,
                "hub configuration version changed; nothing to reload"
            );
            return;
        };
        match reload() {
            Ok(provider) => {
                *self.provider.write() = provider;
                tracing::info!(version, "configuration reloaded");
            }
            Err(e) => {
                tracing::error!(
                    version,
                    "configuration reload failed, keeping the running provider: {e}"
                )
            }
        }
    }

    fn start_call(
        self: &Arc<Self>,
        call: pb::Call,
        tx: &mpsc::Sender<pb::ConnectorFrame>,
        calls: &Arc<Mutex<HashMap<u64, RunningCall>>>,
    ) {
        let call_id = call.call_id;
        let deadline = Duration::from_millis(u64::from(call.deadline_ms.max(1)));
        let provider = Arc::clone(&*self.provider.read());
        let this = Arc::clone(self);
        let tx = tx.clone();
        let registry = Arc::clone(calls);
        self.counters.calls_total.fetch_add(1, Ordering::Relaxed);
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let finish = move |failed: bool| {
            if registry.lock().remove(&call_id).is_some() {
                this.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            if failed {
                this.counters.calls_failed.fetch_add(1, Ordering::Relaxed);
            }
        };
        // The map entry goes in before the task can finish and remove it.
        let mut calls = calls.lock();
        let (abort, credit) = match call.request {
            Some(Q::CatalogStream(stream)) => {
                let credit = Arc::new(Semaphore::new(stream.initial_credit.max(1) as usize));
                let sem = Arc::clone(&credit);
                let task = tokio::spawn(async move {
                    let failed =
                        stream_catalog(&*provider, call_id, stream.request, sem, &tx).await;
                    finish(failed);
                });
                (task.abort_handle(), Some(credit))
            }
            Some(request) => {
                let task = tokio::spawn(async move {
                    let result =
                        match tokio::time::timeout(deadline, answer(&*provider, request)).await {
                            Ok(result) => result,
                            Err(_) => R::Error(error_detail(&ProviderError::transient(format!(
                                "the ERP did not answer within the deadline of {deadline:?}"
                            )))),
                        };
                    let failed = matches!(result, R::Error(_));
                    let reply = C::Reply(pb::Reply {
                        call_id,
                        result: Some(result),
                    });
                    let _ = tx.send(frame(reply)).await;
                    finish(failed);
                });
                (task.abort_handle(), None)
            }
            None => {
                let task = tokio::spawn(async move {
                    let err = ProviderError::fatal("call without a request (unknown operation?)");
                    let reply = C::Reply(pb::Reply {
                        call_id,
                        result: Some(R::Error(error_detail(&err))),
                    });
                    let _ = tx.send(frame(reply)).await;
                    finish(true);
                });
                (task.abort_handle(), None)
            }
        };
        calls.insert(call_id, RunningCall { abort, credit });
    }
}

struct SessionTasks {
    connector: Arc<Connector>,
    heartbeat: AbortHandle,
    calls: Arc<Mutex<HashMap<u64, RunningCall>>>,
}

impl Drop for SessionTasks {
    fn drop(&mut self) {
        self.heartbeat.abort();
        for (_, call) in self.calls.lock().drain() {
            call.abort.abort();
            self.connector
                .counters
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

struct RunningCall {
    abort: AbortHandle,
    credit: Option<Arc<Semaphore>>,
}

/// Sends the catalog as chunks, one page per unit of credit; returns whether it failed.
async fn stream_catalog(
    provider: &dyn Provider,
    call_id: u64,
    request: Option<ppb::CatalogPageRequest>,
    credit: Arc<Semaphore>,
    tx: &mpsc::Sender<pb::ConnectorFrame>,
) -> bool {
    let end = |error: Option<ppb::ErrorDetail>| C::End(pb::StreamEnd { call_id, error });
    let request = match request
        .ok_or(erpbridge_remote::convert::WireError::Missing {
            field: "CatalogStreamCall.request",
        })
        .and_then(CatalogPageRequest::try_from)
    {
        Ok(r) => r,
        Err(e) => {
            let _ = tx
                .send(frame(end(Some(error_detail(&ProviderError::from(e))))))
                .await;
            return true;
        }
    };
    let mut pages = provider.catalog_stream(request);
    loop {
        // Credit first: the ERP is not even asked for a page the hub has no room for.
        match credit.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        match pages.next().await {
            Some(Ok(page)) => {
                let last = !page.has_more;
                let chunk = C::Chunk(pb::StreamChunk {
                    call_id,
                    page: Some(page.into()),
                });
                if tx.send(frame(chunk)).await.is_err() {
                    return false;
                }
                if last {
                    break;
                }
            }
            Some(Err(err)) => {
                let _ = tx.send(frame(end(Some(error_detail(&err))))).await;
                return true;
            }
            None => break,
        }
    }
    let _ = tx.send(frame(end(None))).await;
    false
}

fn frame(frame: C) -> pb::ConnectorFrame {
    pb::ConnectorFrame { frame: Some(frame) }
}

/// An error with its sources: tonic's own messages ("transport error") say nothing of
/// the cause (an unknown certificate issuer, a connection reset) that sits below.
fn chain(error: &dyn std::error::Error) -> String {
    with_sources(error.to_string(), error.source())
}

/// `head`, then each source not already said.
fn with_sources(head: String, mut source: Option<&dyn std::error::Error>) -> String {
    let mut text = head;
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// Exponential backoff with full jitter in its upper half: `[d/2, d]` where
/// `d = min * 2^attempt`, capped at `max`.
fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let base = min.saturating_mul(1u32 << attempt.min(16)).min(max);
    let half = base / 2;
    let jitter = rand::random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter)
}

fn endpoint(options: &ConnectorOptions) -> Result<Endpoint, ConnectorError> {
    let url = &options.hub_url;
    let bad = |reason: String| ConnectorError::HubUrl {
        url: url.clone(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    let host = uri.host().ok_or_else(|| bad("no host".into()))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(bad(
                "must start with https:// (or http:// on loopback)".into()
            ));
        }
    };
    if !tls && !is_loopback_host(host) && !options.allow_insecure {
        return Err(ConnectorError::Plaintext { url: url.clone() });
    }
    let mut endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        // Keeps NAT state alive and notices a dead hub between heartbeats.
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if tls {
        let mut config = ClientTlsConfig::new();
        config = match &options.ca_pem {
            Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config.with_native_roots(),
        };
        if let Some(domain) = &options.tls_domain {
            config = config.domain_name(domain.clone());
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| ConnectorError::Tls(e.to_string()))?;
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for attempt in 0..40 {
            let d = backoff(attempt, min, max);
            let base = min.saturating_mul(1u32 << attempt.min(16)).min(max);
            assert!(
                d >= base / 2 && d <= base + Duration::from_millis(1),
                "{attempt}: {d:?}"
            );
        }
        assert!(backoff(30, min, max) >= max / 2);
    }

    #[test]
    fn plaintext_is_refused_off_loopback() {
        let mk = |url: &str, allow: bool| {
            let mut o = ConnectorOptions::new(url, "t", "a");
            o.allow_insecure = allow;
            endpoint(&o)
        };
        assert!(mk("http://127.0.0.1:7443", false).is_ok());
        assert!(mk("http://[::1]:7443", false).is_ok());
        assert!(mk("http://localhost:7443", false).is_ok());
        assert!(matches!(
            mk("http://hub.example.com:7443", false),
            Err(ConnectorError::Plaintext { .. })
        ));
        assert!(mk("http://hub.example.com:7443", true).is_ok());
        assert!(mk("https://hub.example.com:7443", false).is_ok());
        assert!(matches!(
            mk("ftp://hub.example.com", false),
            Err(ConnectorError::HubUrl { .. })
        ));
    }
}
