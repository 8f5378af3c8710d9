//! The `remote` provider: the SDK's [`Provider`] over the gRPC protocol.
//!
//! * **Lazy channel, automatic reconnects.** The channel connects on first use; when the
//!   provider process dies, calls fail `unavailable` and the channel reconnects on the
//!   next call. The hub's retry and circuit machinery decides when to call again.
//! * **Deadlines.** Every unary call has the configured deadline, sent to the provider as
//!   `grpc-timeout` (so it can give up too) and enforced here, so a provider that hangs
//!   costs the caller the deadline, never more. A missed deadline is `transient`.
//! * **Streaming with backpressure.** The catalog stream reads the next page only when
//!   the consumer asks for it; HTTP/2 flow control carries that back to the provider.
//!   The deadline applies per page (a full sync of a big catalog takes minutes). A
//!   stream that breaks with a retryable error is reopened from the cursor of the last
//!   page delivered — cursors are resumable by contract — a few times before the error
//!   is passed on, so the consumer sees every page exactly once.
//! * **TLS** (optional) with rustls, verifying against a given CA or the system roots.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use erpbridge_model::query::Query;
use erpbridge_model::{
    Article, ArticleId, BomReceipt, InventoryReceipt, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest, HealthReport,
    InventoryAdjustRequest, OrderActionRequest, OrderLookup, PriceRequest, Provider,
    ProviderDescription, ProviderError, ProviderResult, StockRequest,
};
use futures::stream::BoxStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status, Streaming};

use crate::convert::{self, WireError};
use crate::proto as pb;
use crate::proto::provider_service_client::ProviderServiceClient;
use crate::server::MAX_MESSAGE_BYTES;
use crate::status::from_status;

/// How to reach a remote provider.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `http://host:port`, or `https://host:port` with [`RemoteConfig::tls`].
    pub address: String,
    pub tls: Option<ClientTls>,
    /// Deadline of one unary call, and of waiting for one page of a stream.
    pub deadline: Duration,
    pub connect_timeout: Duration,
    /// How often a broken catalog stream is reopened from its last cursor before the
    /// error reaches the consumer (counted per break, reset by every page delivered).
    pub stream_resumes: u32,
}

impl RemoteConfig {
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            tls: None,
            deadline: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            stream_resumes: 3,
        }
    }
}

/// Client-side TLS.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM of the CA that signed the provider's certificate; the system roots if `None`.
    pub ca_pem: Option<Vec<u8>>,
    /// The name to verify the certificate against; the address's host if `None`.
    pub domain: Option<String>,
}

/// Why a remote provider could not be set up (nothing here touches the network).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("invalid provider address `{address}`: {reason}")]
    Address { address: String, reason: String },
    #[error("TLS configuration for `{address}`: {reason}")]
    Tls { address: String, reason: String },
    #[error("a remote provider must be created inside a Tokio runtime (its channel runs a task)")]
    NoRuntime,
}

/// A provider in another process, reached over gRPC.
#[derive(Clone)]
pub struct RemoteProvider {
    client: ProviderServiceClient<Channel>,
    config: RemoteConfig,
}

impl std::fmt::Debug for RemoteProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProvider")
            .field("address", &self.config.address)
            .finish_non_exhaustive()
    }
}

impl RemoteProvider {
    /// Sets up the channel without connecting: a provider that is down at start-up is a
    /// failed call later, not a failed start.
    /// Must be called inside a Tokio runtime.
    pub fn connect_lazy(config: RemoteConfig) -> Result<Self, RemoteError> {
        // tonic spawns the channel's worker here and would panic outside a runtime.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RemoteError::NoRuntime);
        }
        let address_error = |reason: String| RemoteError::Address {
            address: config.address.clone(),
            reason,
        };
        if !(config.address.starts_with("http://") || config.address.starts_with("https://")) {
            return Err(address_error("must start with http:// or https://".into()));
        }
        let mut endpoint = Endpoint::from_shared(config.address.clone())
            .map_err(|e| address_error(e.to_string()))?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(false);
        if let Some(tls) = &config.tls {
            let mut tls_config = ClientTlsConfig::new();
            tls_config = match &tls.ca_pem {
                Some(pem) => tls_config.ca_certificate(Certificate::from_pem(pem)),
                None => tls_config.with_native_roots(),
            };
            if let Some(domain) = &tls.domain {
                tls_config = tls_config.domain_name(domain.clone());
            }
            endpoint = endpoint
                .tls_config(tls_config)
                .map_err(|e| RemoteError::Tls {
                    address: config.address.clone(),
                    reason: e.to_string(),
                })?;
        }
        let client = ProviderServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// The raw generated client on this provider's channel (the conformance suite sends
    /// hand-made, deliberately invalid requests through it).
    pub fn raw_client(&self) -> ProviderServiceClient<Channel> {
        self.client.clone()
    }

    /// One unary call under the deadline, its reply decoded.
    async fn call<Req, Resp, Out, F, Fut>(
        &self,
        operation: &'static str,
        request: Req,
        send: F,
    ) -> ProviderResult<Out>
    where
        F: FnOnce(ProviderServiceClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
        Out: TryFrom<Resp, Error = WireError>,
    {
        let reply = self.unary(operation, request, send).await?;
        Out::try_from(reply).map_err(|err| reply_error(operation, err))
    }

    async fn unary<Req, Resp, F, Fut>(
        &self,
        operation: &'static str,
        request: Req,
        send: F,
    ) -> ProviderResult<Resp>
    where
        F: FnOnce(ProviderServiceClient<Channel>, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let mut request = Request::new(request);
        request.set_timeout(self.config.deadline);
        match tokio::time::timeout(self.config.deadline, send(self.client.clone(), request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(from_status(operation, &status)),
            Err(_) => Err(deadline_error(operation, self.config.deadline)),
        }
    }
}

fn deadline_error(operation: &str, deadline: Duration) -> ProviderError {
    ProviderError::transient(format!(
        "remote provider `{operation}`: no answer within the deadline of {deadline:?}"
    ))
}

/// A reply that does not decode: the provider is broken, retrying will not fix it.
fn reply_error(operation: &str, err: WireError) -> ProviderError {
    ProviderError::fatal(format!(
        "remote provider `{operation}` sent an invalid reply: {err}"
    ))
}

#[async_trait]
impl Provider for RemoteProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        self.call("describe", pb::DescribeRequest {}, |mut c, r| async move {
            c.describe(r).await
        })
        .await
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        let report = self
            .unary("health", pb::HealthRequest {}, |mut c, r| async move {
                c.health(r).await
            })
            .await?;
        Ok(report.into())
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        self.call(
            "catalog_page",
            pb::CatalogPageRequest::from(request),
            |mut c, r| async move { c.get_catalog_page(r).await },
        )
        .await
    }

    fn catalog_stream(
        &self,
        request: CatalogPageRequest,
    ) -> BoxStream<'_, ProviderResult<CatalogPage>> {
        let state = StreamState {
            provider: self,
            request: Some(request),
            stream: None,
            resumes_left: self.config.stream_resumes,
        };
        Box::pin(futures::stream::unfold(state, StreamState::next_page))
    }

    async fn query_page(&self, query: Query) -> ProviderResult<erpbridge_provider::QueryPage> {
        // A query that cannot be expressed on the wire is the caller's mistake.
        let query = pb::Query::try_from(query).map_err(ProviderError::from)?;
        self.call(
            "query",
            pb::QueryPageRequest { query: Some(query) },
            |mut c, r| async move { c.run_query(r).await },
        )
        .await
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        let request = pb::GetArticlesRequest {
            ids: ids.into_iter().map(|id| id.0).collect(),
        };
        let reply = self
            .unary("articles", request, |mut c, r| async move {
                c.get_articles(r).await
            })
            .await?;
        convert::from_wire_list(reply.articles).map_err(|err| reply_error("articles", err))
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let reply = self
            .unary(
                "prices",
                pb::PriceRequest::from(request),
                |mut c, r| async move { c.bulk_prices(r).await },
            )
            .await?;
        convert::from_wire_list(reply.quotes).map_err(|err| reply_error("prices", err))
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        let reply = self
            .unary(
                "stock",
                pb::StockRequest::from(request),
                |mut c, r| async move { c.bulk_stock(r).await },
            )
            .await?;
        convert::from_wire_list(reply.levels).map_err(|err| reply_error("stock", err))
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.call(
            "order_status",
            pb::OrderStatusRequest::from(lookup),
            |mut c, r| async move { c.get_order_status(r).await },
        )
        .await
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.call(
            "create_order",
            pb::CreateOrderRequest::from(request),
            |mut c, r| async move { c.create_order(r).await },
        )
        .await
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.call(
            "confirm_order",
            pb::OrderActionRequest::from(request),
            |mut c, r| async move { c.confirm_order(r).await },
        )
        .await
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.call(
            "cancel_order",
            pb::OrderActionRequest::from(request),
            |mut c, r| async move { c.cancel_order(r).await },
        )
        .await
    }

    async fn sync_bom(&self, request: BomSyncRequest) -> ProviderResult<BomReceipt> {
        self.call(
            "sync_bom",
            pb::BomSyncRequest::from(request),
            |mut c, r| async move { c.bom_sync(r).await },
        )
        .await
    }

    async fn adjust_inventory(
        &self,
        request: InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        self.call(
            "adjust_inventory",
            pb::InventoryAdjustRequest::from(request),
            |mut c, r| async move { c.inventory_adjust(r).await },
        )
        .await
    }
}

/// The catalog stream's state between pages.
struct StreamState<'a> {
    provider: &'a RemoteProvider,
    /// What to open (or reopen) the stream with; `None` once the last page was
    /// delivered or a final error was.
    request: Option<CatalogPageRequest>,
    stream: Option<Streaming<pb::CatalogPage>>,
    resumes_left: u32,
}

impl<'a> StreamState<'a> {
    async fn next_page(mut self) -> Option<(ProviderResult<CatalogPage>, Self)> {
        loop {
            let request = self.request.clone()?;
            let deadline = self.provider.config.deadline;
            let attempt = match self.stream.as_mut() {
                None => self.open(request.clone()).await.map(|()| None),
                Some(stream) => match tokio::time::timeout(deadline, stream.message()).await {
                    Ok(Ok(Some(page))) => Ok(Some(page)),
                    Ok(Ok(None)) => Err(ProviderError::transient(
                        "remote provider `catalog_stream`: stream ended before its last page",
                    )),
                    Ok(Err(status)) => Err(from_status("catalog_stream", &status)),
                    Err(_) => Err(deadline_error("catalog_stream", deadline)),
                },
            };
            match attempt {
                Ok(None) => continue,
                Ok(Some(page)) => {
                    let page = match CatalogPage::try_from(page) {
                        Ok(page) => page,
                        Err(err) => {
                            self.request = None;
                            return Some((Err(reply_error("catalog_stream", err)), self));
                        }
                    };
                    self.resumes_left = self.provider.config.stream_resumes;
                    self.request = page.has_more.then(|| CatalogPageRequest {
                        from: Some(page.next.clone()),
                        ..request
                    });
                    return Some((Ok(page), self));
                }
                Err(err) if err.is_retryable() && self.resumes_left > 0 => {
                    tracing::debug!(error = %err, "catalog stream broke; resuming from the last cursor");
                    self.stream = None;
                    let attempt = self.provider.config.stream_resumes - self.resumes_left;
                    self.resumes_left -= 1;
                    tokio::time::sleep(Duration::from_millis(100) * (attempt + 1)).await;
                }
                Err(err) => {
                    self.request = None;
                    self.stream = None;
                    return Some((Err(err), self));
                }
            }
        }
    }

    /// Opens the stream. No `grpc-timeout` is sent: servers apply it to the whole call,
    /// and a full catalog may take longer than any per-call deadline. The deadline
    /// bounds the wait for the stream to open here, and each page in `next_page`.
    async fn open(&mut self, request: CatalogPageRequest) -> ProviderResult<()> {
        let deadline = self.provider.config.deadline;
        let mut client = self.provider.client.clone();
        let opened = tokio::time::timeout(
            deadline,
            client.catalog_stream(Request::new(pb::CatalogPageRequest::from(request))),
        )
        .await;
        match opened {
            Ok(Ok(response)) => {
                self.stream = Some(response.into_inner());
                Ok(())
            }
            Ok(Err(status)) => Err(from_status("catalog_stream", &status)),
            Err(_) => Err(deadline_error("catalog_stream", deadline)),
        }
    }
}
