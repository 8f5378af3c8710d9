//! Bad wire data in both directions is a typed error, never a panic.

use std::pin::Pin;
use std::time::Duration;

use erpbridge_model::{ArticleId, EntityKind};
use erpbridge_provider::{
    CatalogPageRequest, ErrorKind, OrderLookup, PriceItem, PriceRequest, Provider,
};
use erpbridge_remote::proto as pb;
use erpbridge_remote::proto::provider_service_server::{ProviderService, ProviderServiceServer};
use erpbridge_remote::status::detail_of;
use erpbridge_sim::SimConfig;
use futures::{Stream, StreamExt};
use rust_decimal::Decimal;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

use crate::support::{client, hosted_sim, serve};

/// A fake provider server written against the raw protocol, answering every call with
/// data a conforming provider would never send.
struct FakeHostileServer;

type PageStream = Pin<Box<dyn Stream<Item = Result<pb::CatalogPage, Status>> + Send>>;

fn nope<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("fake"))
}

#[tonic::async_trait]
impl ProviderService for FakeHostileServer {
    async fn describe(
        &self,
        _: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::ProviderDescription>, Status> {
        // No limits, no concurrency, no protocol version.
        Ok(Response::new(pb::ProviderDescription {
            name: "hostile".into(),
            ..Default::default()
        }))
    }
    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthReport>, Status> {
        nope()
    }
    async fn get_catalog_page(
        &self,
        _: Request<pb::CatalogPageRequest>,
    ) -> Result<Response<pb::CatalogPage>, Status> {
        // A record with no content and an empty cursor.
        Ok(Response::new(pb::CatalogPage {
            records: vec![pb::CatalogRecord { record: None }],
            next_cursor: String::new(),
            has_more: false,
        }))
    }
    type CatalogStreamStream = PageStream;
    async fn catalog_stream(
        &self,
        _: Request<pb::CatalogPageRequest>,
    ) -> Result<Response<PageStream>, Status> {
        let page = pb::CatalogPage {
            records: vec![pb::CatalogRecord {
                record: Some(pb::catalog_record::Record::Article(pb::Article {
                    id: "A1".into(),
                    number: "1".into(),
                    updated_at: Some("last tuesday".into()),
                    ..Default::default()
                })),
            }],
            next_cursor: "c1".into(),
            has_more: true,
        };
        Ok(Response::new(Box::pin(futures::stream::iter(vec![Ok(
            page,
        )]))))
    }
    async fn run_query(
        &self,
        _: Request<pb::QueryPageRequest>,
    ) -> Result<Response<pb::QueryPage>, Status> {
        Ok(Response::new(pb::QueryPage {
            records_json: vec!["[1, 2]".into()],
            next_cursor: None,
        }))
    }
    async fn get_articles(
        &self,
        _: Request<pb::GetArticlesRequest>,
    ) -> Result<Response<pb::GetArticlesResponse>, Status> {
        Ok(Response::new(pb::GetArticlesResponse {
            articles: vec![pb::Article::default()],
        }))
    }
    async fn bulk_prices(
        &self,
        _: Request<pb::PriceRequest>,
    ) -> Result<Response<pb::PriceResponse>, Status> {
        Ok(Response::new(pb::PriceResponse {
            quotes: vec![pb::PriceQuote {
                article_id: "A1".into(),
                customer_id: "C1".into(),
                unit_price: "12,50".into(),
                currency: "EUR".into(),
                quantity: "1".into(),
                ..Default::default()
            }],
        }))
    }
    async fn bulk_stock(
        &self,
        _: Request<pb::StockRequest>,
    ) -> Result<Response<pb::StockResponse>, Status> {
        Ok(Response::new(pb::StockResponse {
            levels: vec![pb::StockLevel {
                article_id: "A1".into(),
                warehouse_id: "W1".into(),
                available: "NaN".into(),
                reserved: "0".into(),
            }],
        }))
    }
    async fn get_order_status(
        &self,
        _: Request<pb::OrderStatusRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        Ok(Response::new(pb::OrderStatus {
            erp_order_id: "O1".into(),
            state: 42,
            ..Default::default()
        }))
    }
    async fn create_order(
        &self,
        _: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::OrderReceipt>, Status> {
        nope()
    }
    async fn confirm_order(
        &self,
        _: Request<pb::OrderActionRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        nope()
    }
    async fn cancel_order(
        &self,
        _: Request<pb::OrderActionRequest>,
    ) -> Result<Response<pb::OrderStatus>, Status> {
        nope()
    }
    async fn bom_sync(
        &self,
        _: Request<pb::BomSyncRequest>,
    ) -> Result<Response<pb::BomReceipt>, Status> {
        nope()
    }
    async fn inventory_adjust(
        &self,
        _: Request<pb::InventoryAdjustRequest>,
    ) -> Result<Response<pb::InventoryReceipt>, Status> {
        nope()
    }
}

fn assert_invalid_reply(err: erpbridge_provider::ProviderError, field: &str) {
    assert_eq!(err.kind, ErrorKind::Fatal, "{err}");
    assert!(
        err.message.contains("invalid reply") && err.message.contains(field),
        "the error should name the field `{field}`: {err}"
    );
}

#[tokio::test]
async fn hostile_replies_are_typed_errors_naming_the_field() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ProviderServiceServer::new(FakeHostileServer))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let remote = client(&url, Duration::from_secs(5));

    assert_invalid_reply(
        remote.describe().await.unwrap_err(),
        "ProviderDescription.protocol_version",
    );
    let price = PriceRequest {
        customer_id: "C1".into(),
        items: vec![PriceItem {
            article_id: ArticleId::new("A1"),
            quantity: Decimal::ONE,
        }],
    };
    assert_invalid_reply(
        remote.prices(price).await.unwrap_err(),
        "PriceQuote.unit_price",
    );
    assert_invalid_reply(
        remote
            .stock(erpbridge_provider::StockRequest {
                article_ids: vec!["A1".into()],
                warehouse_ids: vec![],
            })
            .await
            .unwrap_err(),
        "StockLevel.available",
    );
    assert_invalid_reply(
        remote.articles(vec!["A1".into()]).await.unwrap_err(),
        "Article.id",
    );
    assert_invalid_reply(
        remote
            .order_status(OrderLookup::ById("O1".into()))
            .await
            .unwrap_err(),
        "state",
    );
    let request = CatalogPageRequest {
        entity: EntityKind::Article,
        from: None,
        limit: 10,
    };
    assert_invalid_reply(
        remote.catalog_page(request.clone()).await.unwrap_err(),
        "CatalogRecord.record",
    );
    let mut stream = remote.catalog_stream(request);
    assert_invalid_reply(
        stream.next().await.unwrap().unwrap_err(),
        "Article.updated_at",
    );
    assert!(
        stream.next().await.is_none(),
        "a stream ends after its error"
    );
    drop(stream);
    let query = erpbridge_model::query::Query {
        entity: erpbridge_model::query::QueryEntity::Article,
        filter: None,
        sort: vec![],
        page_size: None,
        cursor: None,
        include: vec![],
    };
    assert_invalid_reply(
        remote.query_page(query).await.unwrap_err(),
        "QueryPage.records_json",
    );
    server.abort();
}

#[tokio::test]
async fn hostile_requests_are_refused_before_they_reach_the_provider() {
    let (sim, provider) = hosted_sim(SimConfig::fast(100)).await;
    let server = serve(provider).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    let calls_before = sim.stats().calls;
    let mut raw = remote.raw_client();

    let expect_invalid = |status: Status, field: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let detail = detail_of(&status).expect("a refused request carries the ErrorDetail");
        assert_eq!(detail.kind, pb::ErrorKind::Fatal as i32);
        assert!(detail.message.contains(field), "{}", detail.message);
    };
    let bad_decimal = raw
        .bulk_prices(pb::PriceRequest {
            customer_id: "C1".into(),
            items: vec![pb::PriceItem {
                article_id: "A1".into(),
                quantity: "1e3".into(),
            }],
        })
        .await
        .unwrap_err();
    expect_invalid(bad_decimal, "PriceItem.quantity");
    let no_order = raw
        .create_order(pb::CreateOrderRequest {
            idempotency_key: "k".into(),
            order: None,
        })
        .await
        .unwrap_err();
    expect_invalid(no_order, "CreateOrderRequest.order");
    let no_key = raw
        .create_order(pb::CreateOrderRequest {
            idempotency_key: String::new(),
            order: Some(pb::Order::default()),
        })
        .await
        .unwrap_err();
    expect_invalid(no_key, "CreateOrderRequest.idempotency_key");
    let unspecified = raw
        .get_catalog_page(pb::CatalogPageRequest {
            entity: 0,
            from_cursor: None,
            limit: 10,
        })
        .await
        .unwrap_err();
    expect_invalid(unspecified, "entity");
    let bad_filter = raw
        .run_query(pb::QueryPageRequest {
            query: Some(pb::Query {
                entity: pb::QueryEntity::Article as i32,
                filter: Some(pb::Filter {
                    node: Some(pb::filter::Node::Condition(pb::Condition {
                        field: "row_version".into(),
                        op: pb::Operator::Gt as i32,
                        operand: Some(pb::condition::Operand::Value(pb::Scalar {
                            kind: Some(pb::scalar::Kind::NumberValue("twelve".into())),
                        })),
                    })),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    expect_invalid(bad_filter, "Scalar.number_value");

    assert_eq!(
        sim.stats().calls,
        calls_before,
        "no refused request may reach the sim"
    );
    server.stop().await.unwrap();
}
