//! [`TrytonProvider`]: the SDK's [`Provider`] over one Tryton database.

use async_trait::async_trait;
use erpbridge_model::query::{Query, QueryEntity};
use erpbridge_model::{
    Article, ArticleId, CatalogRecord, EntityKind, OrderReceipt, OrderStatus, PriceQuote,
    StockLevel,
};
use erpbridge_provider::{
    BatchLimits, CatalogPage, CatalogPageRequest, ConcurrencyModel, CreateOrderRequest,
    HealthReport, Operation, OrderActionRequest, OrderLookup, PriceRequest, Provider,
    ProviderDescription, ProviderResult, QueryPage, StockRequest,
};
use serde_json::{Value, json};
use std::sync::{Arc, Weak};
use tokio::sync::OnceCell;

use crate::calls::ctx;
use crate::catalog::{Catalog, MAX_PAGE, fields_of, model_of};
use crate::config::TrytonConfig;
use crate::domain;
use crate::error::{Result, TrytonError};
use crate::live::{Live, numeric_ids};
use crate::orders::Orders;
use crate::rpc::Rpc;
use crate::value;

/// What the provider learns about the database once, at the first call.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub company: i64,
    pub currency_id: i64,
    /// ISO code of the company currency: every price and customer is in it.
    pub currency: String,
    /// The company's own parties, which are not customers.
    pub company_parties: Vec<i64>,
    pub warehouses: Vec<i64>,
    pub default_price_list: Option<i64>,
    /// Whether `product.category` has `accounting` (account_product is activated):
    /// accounting categories are not catalog categories.
    pub category_accounting: bool,
    pub server_version: String,
}

struct Inner {
    rpc: Rpc,
    tenant: OnceCell<Tenant>,
}

/// A Tryton database as an erpbridge provider. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct TrytonProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TrytonProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = self.inner.rpc.config();
        f.debug_struct("TrytonProvider")
            .field("url", &config.url)
            .field("database", &config.database)
            .field("user", &config.user)
            .finish_non_exhaustive()
    }
}

impl TrytonProvider {
    /// A provider that logs in lazily, at its first call. No I/O here.
    pub fn new(config: TrytonConfig) -> Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                rpc: Rpc::new(config)?,
                tenant: OnceCell::new(),
            }),
        })
    }

    /// Logs in and reads the company, currency, warehouses and price list now (so the
    /// hub is warm before it reports ready), and starts the keep-alive ping.
    pub async fn connect(config: TrytonConfig) -> Result<Self> {
        let provider = Self::new(config)?;
        provider.tenant().await?;
        provider.spawn_keepalive();
        Ok(provider)
    }

    /// Pings Tryton whenever the session has been idle for `keepalive`, so its
    /// inactivity timeout never ends the session. Stops when the provider is dropped.
    pub fn spawn_keepalive(&self) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.inner.rpc.config().keepalive;
        if interval.is_zero() {
            return None;
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Some(handle.spawn(async move {
            loop {
                tokio::time::sleep(interval / 2).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.rpc.idle_for() >= interval
                    && let Err(err) = ping(&inner.rpc).await
                {
                    tracing::warn!(error = %err, "Tryton keep-alive ping failed");
                }
            }
        }))
    }

    /// HTTP requests this provider has sent to Tryton, logins and pings included.
    pub fn request_count(&self) -> u64 {
        self.inner.rpc.request_count()
    }

    /// How many times this provider has logged in (for tests of re-login).
    pub fn login_count(&self) -> u64 {
        self.inner.rpc.login_count()
    }

    /// Whether a refused login currently keeps every call from reaching Tryton
    /// (see `TrytonConfig::login_retry_after`).
    pub fn login_circuit_open(&self) -> bool {
        self.inner.rpc.login_circuit_open()
    }

    async fn tenant(&self) -> Result<&Tenant> {
        self.inner
            .tenant
            .get_or_try_init(|| resolve_tenant(&self.inner.rpc))
            .await
    }

    fn catalog<'a>(&'a self, tenant: &'a Tenant) -> Catalog<'a> {
        Catalog {
            rpc: &self.inner.rpc,
            tenant,
        }
    }

    async fn query(&self, query: Query) -> Result<QueryPage> {
        let tenant = self.tenant().await?;
        let entity = match query.entity {
            QueryEntity::Article => EntityKind::Article,
            QueryEntity::Category => EntityKind::Category,
            QueryEntity::Customer => EntityKind::Customer,
        };
        let language = self.inner.rpc.config().language.clone();
        let catalog = self.catalog(tenant);
        let mut domain = catalog.base_domain(entity);
        if let Some(filter) = &query.filter {
            domain.push(domain::to_domain(query.entity, &language, filter)?);
        }
        let after: i64 = match &query.cursor {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| TrytonError::Invalid(format!("malformed query cursor `{c}`")))?,
        };
        domain.push(json!(["id", ">", after]));
        let page_size = query.page_size.unwrap_or(100).clamp(1, MAX_PAGE);
        let rows = self
            .inner
            .rpc
            .search_read(
                model_of(entity),
                Value::Array(domain),
                Some(page_size),
                json!([["id", "ASC"]]),
                fields_of(entity),
                None,
            )
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in &rows {
            last = row.get("id").and_then(value::as_id);
            let json = match catalog.to_record(entity, row) {
                CatalogRecord::Article(a) => serde_json::to_value(a),
                CatalogRecord::Category(c) => serde_json::to_value(c),
                CatalogRecord::Customer(c) => serde_json::to_value(c),
                CatalogRecord::Deleted { .. } => continue,
            }
            .map_err(|err| TrytonError::Invalid(format!("cannot encode a record: {err}")))?;
            // The domain selected a superset; the hub's semantics decide.
            let keep = match &query.filter {
                Some(filter) => domain::matches(filter, &json)?,
                None => true,
            };
            if keep {
                records.push(json);
            }
        }
        let full = rows.len() == page_size as usize;
        Ok(QueryPage {
            records,
            next_cursor: if full {
                last.map(|id| id.to_string())
            } else {
                None
            },
        })
    }
}

async fn ping(rpc: &Rpc) -> Result<Value> {
    rpc.call(
        "model.res.user.get_preferences",
        vec![json!(true), json!({})],
    )
    .await
}

async fn resolve_tenant(rpc: &Rpc) -> Result<Tenant> {
    let config = rpc.config().clone();
    let server_version = rpc.server_version().await?;
    let company = match config.company {
        Some(company) => company,
        None => ping(rpc)
            .await?
            .get("company")
            .and_then(value::as_id)
            .ok_or_else(|| {
                TrytonError::Config(format!(
                    "user `{}` has no current company in Tryton; set `company`",
                    config.user
                ))
            })?,
    };
    // Without `company` in the context Tryton reads company-dependent fields (list
    // prices, a party's price list) as null.
    rpc.set_context(ctx(
        json!({"company": company, "companies": [company], "language": config.language}),
    ));
    let companies = rpc
        .search_read(
            "company.company",
            json!([]),
            None,
            Value::Null,
            &["id", "party", "currency", "currency.code"],
            None,
        )
        .await?;
    let ours = companies
        .iter()
        .find(|c| c.get("id").and_then(value::as_id) == Some(company))
        .ok_or_else(|| TrytonError::Config(format!("company {company} does not exist")))?;
    let currency_id = ours
        .get("currency")
        .and_then(value::as_id)
        .unwrap_or_default();
    let currency = crate::calls::dotted(ours, "currency.code")
        .and_then(value::as_str)
        .unwrap_or("XXX")
        .to_owned();
    let company_parties = companies
        .iter()
        .filter_map(|c| c.get("party").and_then(value::as_id))
        .collect();

    let all_warehouses = rpc
        .search(
            "stock.location",
            json!([["type", "=", "warehouse"]]),
            None,
            json!([["id", "ASC"]]),
            None,
        )
        .await?;
    let warehouses = if config.warehouses.is_empty() {
        all_warehouses
    } else {
        if let Some(missing) = config
            .warehouses
            .iter()
            .find(|w| !all_warehouses.contains(w))
        {
            return Err(TrytonError::Config(format!(
                "warehouse {missing} is not a stock.location of type warehouse"
            )));
        }
        config.warehouses.clone()
    };

    let default_price_list = match config.default_price_list {
        Some(list) => Some(list),
        None => rpc
            .search_read(
                "sale.configuration",
                json!([]),
                Some(1),
                Value::Null,
                &["sale_price_list"],
                None,
            )
            .await?
            .first()
            .and_then(|c| c.get("sale_price_list"))
            .and_then(value::as_id),
    };
    let category_fields = rpc
        .model(
            "product.category",
            "fields_get",
            vec![json!(["accounting"])],
            None,
        )
        .await?;
    Ok(Tenant {
        company,
        currency_id,
        currency,
        company_parties,
        warehouses,
        default_price_list,
        category_accounting: category_fields.get("accounting").is_some(),
        server_version,
    })
}

#[async_trait]
impl Provider for TrytonProvider {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        let tenant = self.tenant().await?;
        Ok(ProviderDescription {
            name: "tryton".into(),
            version: format!(
                "{} (Tryton {})",
                env!("CARGO_PKG_VERSION"),
                tenant.server_version
            ),
            operations: vec![
                Operation::Health,
                Operation::Catalog,
                Operation::Query,
                Operation::ArticlesByIds,
                Operation::Prices,
                Operation::Stock,
                Operation::OrderStatus,
                Operation::CreateOrder,
                Operation::ConfirmOrder,
                Operation::CancelOrder,
            ],
            pushdown: domain::capabilities(&self.inner.rpc.config().language),
            concurrency: ConcurrencyModel::Concurrent,
            limits: BatchLimits {
                max_articles_per_call: 500,
                max_prices_per_call: 500,
                max_stock_per_call: 500,
                max_catalog_page: MAX_PAGE,
            },
        })
    }

    async fn health(&self) -> ProviderResult<HealthReport> {
        let tenant = self.tenant().await?;
        ping(&self.inner.rpc).await?;
        let config = self.inner.rpc.config();
        Ok(HealthReport {
            ok: true,
            detail: format!(
                "Tryton {} at {}, database {}, company {}",
                tenant.server_version, config.url, config.database, tenant.company
            ),
        })
    }

    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let tenant = self.tenant().await?;
        Ok(self.catalog(tenant).page(request).await?)
    }

    async fn query_page(&self, query: Query) -> ProviderResult<QueryPage> {
        Ok(self.query(query).await?)
    }

    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        let tenant = self.tenant().await?;
        let numeric = numeric_ids(ids.iter().map(ArticleId::as_str));
        if numeric.is_empty() {
            return Ok(Vec::new());
        }
        let catalog = self.catalog(tenant);
        let mut domain = catalog.base_domain(EntityKind::Article);
        domain.push(json!(["id", "in", numeric]));
        let rows = self
            .inner
            .rpc
            .search_read(
                model_of(EntityKind::Article),
                Value::Array(domain),
                None,
                json!([["id", "ASC"]]),
                fields_of(EntityKind::Article),
                None,
            )
            .await?;
        Ok(rows.iter().map(|row| catalog.article(row)).collect())
    }

    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let tenant = self.tenant().await?;
        let live = Live {
            rpc: &self.inner.rpc,
            tenant,
        };
        Ok(live.prices(&request).await?)
    }

    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        let tenant = self.tenant().await?;
        let live = Live {
            rpc: &self.inner.rpc,
            tenant,
        };
        Ok(live.stock(&request).await?)
    }

    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        Ok(self.orders().await?.status(&lookup).await?)
    }

    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        Ok(self.orders().await?.create(&request).await?)
    }

    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        Ok(self.orders().await?.confirm(&request).await?)
    }

    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        Ok(self.orders().await?.cancel(&request).await?)
    }
}

impl TrytonProvider {
    async fn orders(&self) -> Result<Orders<'_>> {
        let tenant = self.tenant().await?;
        Ok(Orders {
            rpc: &self.inner.rpc,
            tenant,
        })
    }
}
