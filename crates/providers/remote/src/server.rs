//! The protocol's server side for any [`Provider`]: `erpbridge sim-erp serve` puts the
//! sim behind it, tests put fakes behind it, and the on-prem connector reuses it.
//!
//! Requests are decoded strictly ([`crate::convert`]); one that does not decode is
//! answered `INVALID_ARGUMENT` with a fatal [`crate::proto::ErrorDetail`] and never
//! reaches the provider. Provider errors leave as statuses ([`crate::status`]).
//!
//! The catalog stream runs the provider's own `catalog_stream` on a task that feeds a
//! small bounded channel: when the hub stops reading, HTTP/2 flow control stops tonic
//! from draining the channel, the channel fills, and the task waits — so a slow consumer
//! holds at most a few pages in memory. When the hub goes away the send fails and the
//! task stops asking the ERP for pages.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use erpbridge_provider::{
    BomSyncRequest, CatalogPageRequest, CreateOrderRequest, InventoryAdjustRequest,
    OrderActionRequest, OrderLookup, PriceRequest, Provider, ProviderError, StockRequest,
};
use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};

use crate::convert::{self, WireError};
use crate::proto as pb;
use crate::proto::provider_service_server::{ProviderService, ProviderServiceServer};
use crate::status::{to_status, to_status_with_code};

/// Largest message either side accepts. A catalog page of 1,000 articles with 20
/// attributes is about 1 MiB; the gRPC default of 4 MiB would fail bigger pages.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Pages buffered between the provider and the wire per catalog stream.
const STREAM_BUFFER_PAGES: usize = 2;

/// The tonic service around one provider.
#[derive(Clone)]
pub struct ProviderGrpc {
    provider: Arc<dyn Provider>,
}

impl ProviderGrpc {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Self { provider }
    }

    /// The service ready to add to a tonic router, with the protocol's message limits.
    pub fn into_service(self) -> ProviderServiceServer<Self> {
        ProviderServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

fn bad_request(err: WireError) -> Status {
    to_status_with_code(&ProviderError::from(err), Code::InvalidArgument)
}

fn decode<W, M: TryFrom<W, Error = WireError>>(request: Request<W>) -> Result<M, Status> {
    M::try_from(request.into_inner()).map_err(bad_request)
}

fn reply<M, W: From<M>>(result: Result<M, ProviderError>) -> Result<Response<W>, Status> {
    result
        .map(|value| Response::new(W::from(value)))
        .map_err(|err| to_status(&err))
}

type PageStream = Pin<Box<dyn Stream<Item = Result<pb::CatalogPage, Status>> + Send>>;

#[tonic::async_trait]
impl ProviderService for ProviderGrpc {
    async fn describe(
        &self,
        _request: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::ProviderDescription>, Status> {
        reply(self.provider.describe().await)
    }

    async fn health(
        &self,
        _request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthReport>, Status> {
        reply(self.provider.health().await)
    }

    async fn get_catalog_page(
        &self,
        request: Request<pb::CatalogPageRequest>,
    ) -> Result<Response<pb::CatalogPage>, Status> {
        let request: CatalogPageRequest = decode(request)?;
        reply(self.provider.catalog_page(request).await)
    }

    type CatalogStreamStream = PageStream;

    async fn catalog_stream(
        &self,
        request: Request<pb::CatalogPageRequest>,
    ) -> Result<Response<PageStream>, Status> {
        let request: CatalogPageRequest = decode(request)?;
        let provider = self.provider.clone();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER_PAGES);
        tokio::spawn(async move {
            let mut pages = provider.catalog_stream(request);
            while let Some(page) = pages.next().await {
                let failed = page.is_err();
                let item = page
                    .map(pb::CatalogPage::from)
                    .map_err(|err| to_status(&err));
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn run_query(
        &self,
        request: Request<pb::QueryPageRequest>,
    ) -> Result<Response<pb::QueryPage>, Status> {
        let query = request.into_inner().query.ok_or_else(|| {
            bad_request(WireError::Missing {
                field: "QueryPageRequest.query",
            })
        })?;
        let query = query.try_into().map_err(bad_request)?;
        let page = self
            .provider
            .query_page(query)
            .await
            .map_err(|err| to_status(&err))?;
        let page = pb::QueryPage::try_from(page)
            .map_err(|err| to_status_with_code(&ProviderError::from(err), Code::Internal))?;
        Ok(Response::new(page))
    }

    async fn get_articles(
        &self,
        request: Request<pb::GetArticlesRequest>,
    ) -> Result<Response<pb::GetArticlesResponse>, Status> {
        let ids = convert::article_ids(request.into_inner().ids).map_err(bad_request)?;
        let articles = self
            .provider
            .articles(ids)
            .await
            .map_err(|err| to_status(&err))?;
        Ok(Response::new(pb::GetArticlesResponse {
            articles: convert::to_wire_list(articles),
        }))
    }

    async fn bulk_prices(
        &self,
        request: Request<pb::PriceRequest>,
    ) -> Result<Response<pb::PriceResponse>, Status> {
        let request: PriceRequest = decode(request)?;
        let quotes = self
            .provider
            .prices(request)
            .await
            .map_err(|err| to_status(&err))?;
        Ok(Response::new(pb::PriceResponse {
            quotes: convert::to_wire_list(quotes),
        }))
    }

    async fn bulk_stock(
        &self,
        request: Request<pb::StockRequest>,
    ) -> Result<Response<pb::StockResponse>, Status> {
        let request: StockRequest = decode(request)?;
        let levels = self
            .provider
            .stock(request)
            .await
            .map_err(|err| to_status(&err))?;
        Ok(Response::new(pb::StockResponse {
            levels: convert::to_wire_list(levels),
        }))
    }

    async fn get_order_status(
        &self,
        request: Request<pb::OrderStatusRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        let lookup: OrderLookup = decode(request)?;
        reply(self.provider.order_status(lookup).await)
    }

    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::OrderReceipt>, Status> {
        let request: CreateOrderRequest = decode(request)?;
        reply(self.provider.create_order(request).await)
    }

    async fn confirm_order(
        &self,
        request: Request<pb::OrderActionRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        let request: OrderActionRequest = decode(request)?;
        reply(self.provider.confirm_order(request).await)
    }

    async fn cancel_order(
        &self,
        request: Request<pb::OrderActionRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        let request: OrderActionRequest = decode(request)?;
        reply(self.provider.cancel_order(request).await)
    }

    async fn bom_sync(
        &self,
        request: Request<pb::BomSyncRequest>,
    ) -> Result<Response<pb::BomReceipt>, Status> {
        let request: BomSyncRequest = decode(request)?;
        reply(self.provider.sync_bom(request).await)
    }

    async fn inventory_adjust(
        &self,
        request: Request<pb::InventoryAdjustRequest>,
    ) -> Result<Response<pb::InventoryReceipt>, Status> {
        let request: InventoryAdjustRequest = decode(request)?;
        reply(self.provider.adjust_inventory(request).await)
    }
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("server task ended abnormally: {0}")]
    Task(String),
}

/// Server-side TLS: a PEM certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Serves `provider` on `listener` until `shutdown` completes.
pub async fn serve(
    provider: Arc<dyn Provider>,
    listener: TcpListener,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let mut builder = Server::builder()
        .tcp_nodelay(true)
        // Detects a hub that vanished without closing (a cut network), so stream
        // tasks stop instead of waiting forever.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(
                ServerTlsConfig::new().identity(Identity::from_pem(tls.cert_pem, tls.key_pem)),
            )
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    builder
        .add_service(ProviderGrpc::new(provider).into_service())
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// Accepted connections with Nagle's algorithm off. tonic's own `tcp_nodelay` only
/// applies to listeners it binds itself; without this a reply that spans several TCP
/// segments waits for the peer's delayed ACK (~40 ms on Linux). Public for the other
/// gRPC listener of the hub, the connector tunnel.
pub fn incoming(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|conn| {
        conn.and_then(|stream| {
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    })
}

/// A server running on a background task (tests, benchmarks, `sim-erp serve`).
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl RunningServer {
    /// Binds `addr` (port 0 picks a free port) and serves `provider` there.
    pub async fn start(
        provider: Arc<dyn Provider>,
        addr: SocketAddr,
        tls: Option<ServerTls>,
    ) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(provider, listener, tls, async {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://ADDR`, what a client connects to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets calls in flight finish, and waits for the server to end.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(ServeError::Task(join.to_string())),
        }
    }

    /// Ends the server at once, dropping open connections (a crash, for tests).
    pub fn abort(self) {
        self.task.abort();
    }
}
