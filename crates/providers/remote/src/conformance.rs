//! The protocol conformance suite: what every provider implementation must do, checked
//! over the wire against a running provider (`erpbridge provider test ADDR`).
//!
//! The suite knows nothing about the catalog behind the address. It discovers articles,
//! a customer and warehouses through the protocol itself, then checks the contract the
//! hub relies on: catalog streams that page and resume by cursor, unary pages that agree
//! with the stream, lookups that leave unknown ids out, prices and stock for what exists,
//! writes that happen once per idempotency key, order state changes that are idempotent,
//! and errors that carry their kind — including for requests a sloppy implementation
//! would accept (a bad decimal, a missing message, an unspecified enum).
//!
//! Writes are real: the suite creates two orders (one confirmed, one cancelled), and if
//! declared, one BOM and one inventory adjustment of +1, all under `conformance-<uuid>`
//! keys. Run it against a test system, not a production ERP.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use erpbridge_model::{
    Article, ArticleId, Bom, BomMaterial, CatalogRecord, ChangeCursor, CustomerId, EntityKind,
    IdempotencyKey, InventoryAdjustment, Order, OrderLine, OrderState, WarehouseId,
};
use erpbridge_provider::{
    BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest, ErrorKind,
    InventoryAdjustRequest, Operation, OrderActionRequest, OrderLookup, PriceItem, PriceRequest,
    Provider, ProviderDescription, ProviderError, StockRequest,
};
use futures::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use tonic::{Code, Status};

use crate::client::{RemoteConfig, RemoteError, RemoteProvider};
use crate::proto as pb;
use crate::status::{detail_of, from_status};

/// How the suite runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline of each call.
    pub deadline: Duration,
    /// Records per catalog page the suite asks for.
    pub page_size: u32,
    /// The full-snapshot check reads at most this many pages (big catalogs are not
    /// read to the end; the delta check is then skipped).
    pub max_pages: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            page_size: 50,
            max_pages: 40,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub outcome: Outcome,
    /// What was seen (passed), what was wrong (failed), or why not run (skipped).
    pub detail: String,
    pub millis: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub address: String,
    /// `name version` from Describe, when it answered.
    pub provider: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// True when no check failed.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }

    /// A plain-text table, one line per check.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "provider protocol conformance: {} ({})\n",
            self.address,
            self.provider
                .as_deref()
                .unwrap_or("did not describe itself")
        );
        for check in &self.checks {
            let mark = match check.outcome {
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::Skipped => "SKIP",
            };
            out.push_str(&format!(
                "{mark}  {:<32} {:>6} ms  {}\n",
                check.name, check.millis, check.detail
            ));
        }
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped\n",
            self.passed, self.failed, self.skipped
        ));
        out
    }
}

/// A check's verdict; a failure is the `Err` of [`Check`].
enum Verdict {
    Pass(String),
    Skip(String),
}

type Check = Result<Verdict, String>;

fn pass(detail: impl Into<String>) -> Check {
    Ok(Verdict::Pass(detail.into()))
}

fn skip(detail: impl Into<String>) -> Check {
    Ok(Verdict::Skip(detail.into()))
}

/// `Err` fails the check with a message; used as `ensure(cond, || ...)?`.
fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

fn call_error(what: &str, err: ProviderError) -> String {
    format!("{what} failed: {err}")
}

/// What earlier checks discovered and later ones use.
#[derive(Default)]
struct Found {
    description: Option<ProviderDescription>,
    stream_pages: Vec<CatalogPage>,
    articles: Vec<Article>,
    snapshot_end: Option<ChangeCursor>,
    customer: Option<CustomerId>,
    warehouse: Option<WarehouseId>,
}

struct Suite {
    remote: RemoteProvider,
    options: Options,
    found: Found,
    run_id: String,
    report: Report,
}

/// Runs the suite against the provider at `address` (`http://host:port`).
pub async fn run(address: &str, options: Options) -> Result<Report, RemoteError> {
    let config = RemoteConfig {
        deadline: options.deadline,
        stream_resumes: 0,
        ..RemoteConfig::new(address)
    };
    let remote = RemoteProvider::connect_lazy(config)?;
    Ok(run_with(remote, options).await)
}

/// Runs the suite through an existing client (its TLS and address settings).
pub async fn run_with(remote: RemoteProvider, options: Options) -> Report {
    let address = remote.config().address.clone();
    let mut suite = Suite {
        remote,
        options,
        found: Found::default(),
        run_id: uuid::Uuid::new_v4().simple().to_string(),
        report: Report {
            address,
            provider: None,
            passed: 0,
            failed: 0,
            skipped: 0,
            checks: Vec::new(),
        },
    };
    suite.run_all().await;
    suite.report
}

impl Suite {
    async fn run_all(&mut self) {
        // Describe gates everything: without it nothing else is meaningful.
        if !self.check("describe", Self::describe).await {
            return;
        }
        self.check("describe.protocol_version", Self::protocol_version)
            .await;
        self.check("health", Self::health).await;
        if self
            .check("catalog.full_snapshot", Self::full_snapshot)
            .await
        {
            self.check("catalog.unary_pages_match_stream", Self::unary_pages)
                .await;
            self.check("catalog.resume_is_repeatable", Self::resume_twice)
                .await;
            self.check("catalog.delta_from_end", Self::delta_from_end)
                .await;
        }
        self.check("catalog.categories", Self::categories).await;
        self.check("catalog.customers", Self::customers).await;
        self.check("catalog.invalid_cursor_is_fatal", Self::invalid_cursor)
            .await;
        self.check("wire.unspecified_entity_rejected", Self::unspecified_entity)
            .await;
        self.check("wire.zero_limit_rejected", Self::zero_limit)
            .await;
        self.check("articles.by_ids", Self::articles_by_ids).await;
        self.check("prices.bulk", Self::prices).await;
        self.check("wire.bad_decimal_rejected", Self::bad_decimal)
            .await;
        self.check("stock.bulk", Self::stock).await;
        self.check("stock.warehouse_filter", Self::stock_filter)
            .await;
        self.check("orders.create_confirm_idempotent", Self::order_confirm)
            .await;
        self.check("orders.cancel_idempotent", Self::order_cancel)
            .await;
        self.check("orders.unknown_is_not_found", Self::order_not_found)
            .await;
        self.check("wire.missing_order_rejected", Self::missing_order)
            .await;
        self.check("bom.sync_idempotent", Self::bom).await;
        self.check("inventory.adjust_idempotent", Self::inventory)
            .await;
        self.check("query.page", Self::query).await;
    }

    /// Runs one check and records it; true if it passed.
    async fn check<F>(&mut self, name: &'static str, f: F) -> bool
    where
        F: for<'s> AsyncCheck<'s>,
    {
        let started = Instant::now();
        let verdict = f.call(self).await;
        let millis = started.elapsed().as_millis() as u64;
        let (outcome, detail) = match verdict {
            Ok(Verdict::Pass(d)) => (Outcome::Passed, d),
            Ok(Verdict::Skip(d)) => (Outcome::Skipped, d),
            Err(d) => (Outcome::Failed, d),
        };
        match outcome {
            Outcome::Passed => self.report.passed += 1,
            Outcome::Failed => self.report.failed += 1,
            Outcome::Skipped => self.report.skipped += 1,
        }
        self.report.checks.push(CheckResult {
            name,
            outcome,
            detail,
            millis,
        });
        outcome == Outcome::Passed
    }

    fn key(&self, what: &str) -> IdempotencyKey {
        IdempotencyKey(format!("conformance-{}-{what}", self.run_id))
    }

    fn supports(&self, operation: Operation) -> bool {
        self.found
            .description
            .as_ref()
            .is_some_and(|d| d.supports(operation))
    }

    fn page_size(&self) -> u32 {
        let max = self
            .found
            .description
            .as_ref()
            .map_or(u32::MAX, |d| d.limits.max_catalog_page);
        self.options.page_size.min(max).max(1)
    }

    fn articles(&self, n: usize) -> Result<Vec<Article>, String> {
        ensure(!self.found.articles.is_empty(), || {
            "no articles were found in the catalog snapshot".into()
        })?;
        Ok(self.found.articles.iter().take(n).cloned().collect())
    }

    /// Sends one hand-made request through the raw client and expects it to be refused
    /// with a fatal error (INVALID_ARGUMENT or another code that maps to fatal), ideally
    /// with the structured detail.
    async fn expect_rejected<T, Fut>(&self, what: &str, call: Fut) -> Check
    where
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let status = match tokio::time::timeout(self.options.deadline, call).await {
            Err(_) => return Err(format!("{what}: no answer within the deadline")),
            Ok(Ok(_)) => return Err(format!("{what}: the provider accepted it")),
            Ok(Err(status)) => status,
        };
        let err = from_status(what, &status);
        ensure(err.kind == ErrorKind::Fatal, || {
            format!(
                "{what}: expected a fatal error, got {:?} ({:?}: {})",
                err.kind,
                status.code(),
                status.message()
            )
        })?;
        ensure(detail_of(&status).is_some(), || {
            format!(
                "{what}: refused with {:?} but without the ErrorDetail in grpc-status-details-bin",
                status.code()
            )
        })?;
        pass(format!("refused with {:?}", status.code()))
    }

    // -----------------------------------------------------------------------------------

    async fn describe(&mut self) -> Check {
        let d = self
            .remote
            .describe()
            .await
            .map_err(|e| call_error("Describe", e))?;
        self.report.provider = Some(format!("{} {}", d.name, d.version));
        let required = [
            Operation::Health,
            Operation::Catalog,
            Operation::ArticlesByIds,
            Operation::Prices,
            Operation::Stock,
            Operation::OrderStatus,
            Operation::CreateOrder,
            Operation::ConfirmOrder,
            Operation::CancelOrder,
        ];
        let missing: Vec<_> = required.iter().filter(|op| !d.supports(**op)).collect();
        ensure(missing.is_empty(), || {
            format!("operations the hub needs are not declared: {missing:?}")
        })?;
        let detail = format!(
            "{} {}, {} operations, {:?}",
            d.name,
            d.version,
            d.operations.len(),
            d.concurrency
        );
        self.found.description = Some(d);
        pass(detail)
    }

    async fn protocol_version(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let reply = raw
            .describe(pb::DescribeRequest {})
            .await
            .map_err(|s| format!("Describe failed: {s}"))?
            .into_inner();
        ensure(
            reply.protocol_version == pb::ProtocolVersion::ProtocolVersion10 as i32,
            || {
                format!(
                    "protocol_version is {}, expected {} (PROTOCOL_VERSION_1_0)",
                    reply.protocol_version,
                    pb::ProtocolVersion::ProtocolVersion10 as i32
                )
            },
        )?;
        pass("1.0")
    }

    async fn health(&mut self) -> Check {
        let h = self
            .remote
            .health()
            .await
            .map_err(|e| call_error("Health", e))?;
        ensure(h.ok, || format!("Health says not ok: {}", h.detail))?;
        pass(h.detail)
    }

    async fn full_snapshot(&mut self) -> Check {
        let limit = self.page_size();
        let request = CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit,
        };
        let mut stream = self.remote.catalog_stream(request);
        let mut pages = Vec::new();
        let mut ids = HashSet::new();
        let mut articles = Vec::new();
        let mut finished = false;
        while pages.len() < self.options.max_pages {
            let Some(page) = stream.next().await else {
                break;
            };
            let page = page
                .map_err(|e| call_error(&format!("CatalogStream page {}", pages.len() + 1), e))?;
            ensure(page.records.len() <= limit as usize, || {
                format!(
                    "page {} has {} records, more than the limit {limit}",
                    pages.len() + 1,
                    page.records.len()
                )
            })?;
            for record in &page.records {
                match record {
                    CatalogRecord::Article(a) => {
                        ensure(ids.insert(a.id.clone()), || {
                            format!("article `{}` appears twice in one snapshot", a.id)
                        })?;
                        if articles.len() < 200 {
                            articles.push(a.clone());
                        }
                    }
                    CatalogRecord::Deleted { .. } => {
                        return Err("a full snapshot contains a tombstone".into());
                    }
                    other => {
                        return Err(format!(
                            "an article stream contains another kind: {other:?}"
                        ));
                    }
                }
            }
            finished = !page.has_more;
            if finished {
                self.found.snapshot_end = Some(page.next.clone());
            }
            pages.push(page);
            if finished {
                break;
            }
        }
        drop(stream);
        ensure(!pages.is_empty(), || {
            "the stream ended without a page".into()
        })?;
        ensure(!articles.is_empty(), || {
            "the snapshot has no articles; the suite needs at least one".into()
        })?;
        let n_pages = pages.len();
        self.found.stream_pages = pages;
        self.found.articles = articles;
        pass(if finished {
            format!("{} articles in {n_pages} pages of ≤{limit}", ids.len())
        } else {
            format!(
                "{} articles in the first {n_pages} pages of ≤{limit} (not read to the end)",
                ids.len()
            )
        })
    }

    async fn unary_pages(&mut self) -> Check {
        let limit = self.page_size();
        let mut from = None;
        let compare = self.found.stream_pages.len().min(3);
        for n in 0..compare {
            let page = self
                .remote
                .catalog_page(CatalogPageRequest {
                    entity: EntityKind::Article,
                    from: from.clone(),
                    limit,
                })
                .await
                .map_err(|e| call_error(&format!("GetCatalogPage {}", n + 1), e))?;
            let expected = &self.found.stream_pages[n];
            ensure(page.records == expected.records, || {
                format!("GetCatalogPage page {} differs from CatalogStream's", n + 1)
            })?;
            ensure(page.has_more == expected.has_more, || {
                format!("page {}: has_more differs between unary and stream", n + 1)
            })?;
            from = Some(page.next);
        }
        pass(format!("{compare} pages identical"))
    }

    async fn resume_twice(&mut self) -> Check {
        let Some(first) = self.found.stream_pages.first() else {
            return skip("no page");
        };
        if !first.has_more {
            return skip("the catalog fits one page");
        }
        let request = CatalogPageRequest {
            entity: EntityKind::Article,
            from: Some(first.next.clone()),
            limit: self.page_size(),
        };
        let a = self
            .remote
            .catalog_page(request.clone())
            .await
            .map_err(|e| call_error("resume 1", e))?;
        let b = self
            .remote
            .catalog_page(request)
            .await
            .map_err(|e| call_error("resume 2", e))?;
        ensure(a == b, || {
            "two reads from the same cursor returned different pages".into()
        })?;
        if let Some(second) = self.found.stream_pages.get(1) {
            ensure(a.records == second.records, || {
                "resuming from page 1's cursor did not return page 2".into()
            })?;
        }
        pass(format!("{} records, same both times", a.records.len()))
    }

    async fn delta_from_end(&mut self) -> Check {
        let Some(end) = self.found.snapshot_end.clone() else {
            return skip("the snapshot was not read to the end");
        };
        let mut stream = self.remote.catalog_stream(CatalogPageRequest {
            entity: EntityKind::Article,
            from: Some(end),
            limit: self.page_size(),
        });
        let mut records = 0;
        let mut pages = 0;
        while let Some(page) = stream.next().await {
            let page = page.map_err(|e| call_error("delta stream", e))?;
            pages += 1;
            records += page.records.len();
            if !page.has_more {
                return pass(format!("{records} changes in {pages} pages"));
            }
            if pages >= self.options.max_pages {
                return pass(format!("{records} changes in the first {pages} pages"));
            }
        }
        Err("the delta stream ended without a final page".into())
    }

    async fn one_page(&self, entity: EntityKind) -> Result<CatalogPage, String> {
        self.remote
            .catalog_page(CatalogPageRequest {
                entity,
                from: None,
                limit: self.page_size(),
            })
            .await
            .map_err(|e| call_error(&format!("GetCatalogPage {entity:?}"), e))
    }

    async fn categories(&mut self) -> Check {
        let page = self.one_page(EntityKind::Category).await?;
        for record in &page.records {
            ensure(matches!(record, CatalogRecord::Category(_)), || {
                format!("a category page contains {record:?}")
            })?;
        }
        pass(format!(
            "{} categories on the first page",
            page.records.len()
        ))
    }

    async fn customers(&mut self) -> Check {
        let page = self.one_page(EntityKind::Customer).await?;
        for record in &page.records {
            match record {
                CatalogRecord::Customer(c) => {
                    if self.found.customer.is_none() {
                        self.found.customer = Some(c.id.clone());
                    }
                }
                other => return Err(format!("a customer page contains {other:?}")),
            }
        }
        ensure(self.found.customer.is_some(), || {
            "no customers; the suite needs one for prices and orders".into()
        })?;
        pass(format!(
            "{} customers on the first page",
            page.records.len()
        ))
    }

    async fn invalid_cursor(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let request = pb::CatalogPageRequest {
            entity: pb::EntityKind::Article as i32,
            from_cursor: Some("conformance:not-a-cursor-of-yours".into()),
            limit: self.page_size(),
        };
        self.expect_rejected(
            "GetCatalogPage with a foreign cursor",
            raw.get_catalog_page(request),
        )
        .await
    }

    async fn unspecified_entity(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let request = pb::CatalogPageRequest {
            entity: pb::EntityKind::Unspecified as i32,
            from_cursor: None,
            limit: 10,
        };
        self.expect_rejected(
            "GetCatalogPage with ENTITY_KIND_UNSPECIFIED",
            raw.get_catalog_page(request),
        )
        .await
    }

    async fn zero_limit(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let request = pb::CatalogPageRequest {
            entity: pb::EntityKind::Article as i32,
            from_cursor: None,
            limit: 0,
        };
        self.expect_rejected("GetCatalogPage with limit 0", raw.get_catalog_page(request))
            .await
    }

    async fn articles_by_ids(&mut self) -> Check {
        let known = self.articles(3)?;
        let mut ids: Vec<ArticleId> = known.iter().map(|a| a.id.clone()).collect();
        ids.push(ArticleId::new(format!(
            "conformance-no-such-article-{}",
            self.run_id
        )));
        let got = self
            .remote
            .articles(ids)
            .await
            .map_err(|e| call_error("GetArticles", e))?;
        ensure(got.len() == known.len(), || {
            format!(
                "asked for {} known and 1 unknown id, got {} articles (unknown ids must be left out)",
                known.len(),
                got.len()
            )
        })?;
        for want in &known {
            let found = got
                .iter()
                .find(|a| a.id == want.id)
                .ok_or_else(|| format!("article `{}` from the catalog is missing", want.id))?;
            ensure(
                found.number == want.number && found.row_version == want.row_version,
                || format!("article `{}` differs from its catalog record", want.id),
            )?;
        }
        pass(format!("{} articles, unknown id left out", got.len()))
    }

    async fn prices(&mut self) -> Check {
        let customer = self
            .found
            .customer
            .clone()
            .ok_or("no customer was found in the catalog")?;
        let known = self.articles(3)?;
        let mut items: Vec<PriceItem> = known
            .iter()
            .map(|a| PriceItem {
                article_id: a.id.clone(),
                quantity: Decimal::ONE,
            })
            .collect();
        items.push(PriceItem {
            article_id: ArticleId::new(format!("conformance-no-such-article-{}", self.run_id)),
            quantity: Decimal::ONE,
        });
        let quotes = self
            .remote
            .prices(PriceRequest {
                customer_id: customer.clone(),
                items,
            })
            .await
            .map_err(|e| call_error("BulkPrices", e))?;
        let mut seen = BTreeSet::new();
        for q in &quotes {
            ensure(known.iter().any(|a| a.id == q.article_id), || {
                format!(
                    "a quote for `{}`, which was not asked for or does not exist",
                    q.article_id
                )
            })?;
            ensure(seen.insert(q.article_id.clone()), || {
                format!("two quotes for `{}`", q.article_id)
            })?;
            ensure(q.customer_id == customer, || {
                format!(
                    "quote for `{}` names customer `{}`",
                    q.article_id, q.customer_id
                )
            })?;
            ensure(q.unit_price >= Decimal::ZERO, || {
                format!("negative price for `{}`", q.article_id)
            })?;
            ensure(q.currency.len() == 3, || {
                format!("currency `{}` is not an ISO 4217 code", q.currency)
            })?;
            ensure(
                q.breaks
                    .windows(2)
                    .all(|w| w[0].min_quantity < w[1].min_quantity),
                || format!("quantity breaks of `{}` are not ascending", q.article_id),
            )?;
        }
        ensure(quotes.len() == known.len(), || {
            format!("{} quotes for {} known articles", quotes.len(), known.len())
        })?;
        pass(format!("{} quotes, unknown article left out", quotes.len()))
    }

    async fn bad_decimal(&mut self) -> Check {
        let known = self.articles(1)?;
        let customer = self
            .found
            .customer
            .clone()
            .ok_or("no customer was found in the catalog")?;
        let mut raw = self.remote.raw_client();
        let request = pb::PriceRequest {
            customer_id: customer.0,
            items: vec![pb::PriceItem {
                article_id: known[0].id.0.clone(),
                quantity: "1e3".into(),
            }],
        };
        self.expect_rejected("BulkPrices with quantity \"1e3\"", raw.bulk_prices(request))
            .await
    }

    async fn stock(&mut self) -> Check {
        let known = self.articles(3)?;
        let mut ids: Vec<ArticleId> = known.iter().map(|a| a.id.clone()).collect();
        ids.push(ArticleId::new(format!(
            "conformance-no-such-article-{}",
            self.run_id
        )));
        let levels = self
            .remote
            .stock(StockRequest {
                article_ids: ids,
                warehouse_ids: vec![],
            })
            .await
            .map_err(|e| call_error("BulkStock", e))?;
        let mut pairs = BTreeSet::new();
        for level in &levels {
            ensure(known.iter().any(|a| a.id == level.article_id), || {
                format!(
                    "stock for `{}`, which was not asked for or does not exist",
                    level.article_id
                )
            })?;
            ensure(
                pairs.insert((level.article_id.clone(), level.warehouse_id.clone())),
                || {
                    format!(
                        "two entries for `{}` in `{}`",
                        level.article_id, level.warehouse_id
                    )
                },
            )?;
        }
        for article in &known {
            ensure(levels.iter().any(|l| l.article_id == article.id), || {
                format!("no stock entry for existing article `{}`", article.id)
            })?;
        }
        self.found.warehouse = levels.first().map(|l| l.warehouse_id.clone());
        pass(format!("{} entries", levels.len()))
    }

    async fn stock_filter(&mut self) -> Check {
        let Some(warehouse) = self.found.warehouse.clone() else {
            return skip("no warehouse seen");
        };
        let known = self.articles(3)?;
        let levels = self
            .remote
            .stock(StockRequest {
                article_ids: known.iter().map(|a| a.id.clone()).collect(),
                warehouse_ids: vec![warehouse.clone()],
            })
            .await
            .map_err(|e| call_error("BulkStock", e))?;
        ensure(!levels.is_empty(), || format!("no stock in `{warehouse}`"))?;
        ensure(levels.iter().all(|l| l.warehouse_id == warehouse), || {
            format!("asked for `{warehouse}` only, got other warehouses")
        })?;
        pass(format!("{} entries, all in `{warehouse}`", levels.len()))
    }

    fn order(&self) -> Result<Order, String> {
        let customer = self
            .found
            .customer
            .clone()
            .ok_or("no customer was found in the catalog")?;
        let article = self.articles(1)?.remove(0);
        Ok(Order {
            customer_id: customer,
            external_reference: Some(format!("conformance-{}", self.run_id)),
            lines: vec![OrderLine {
                article_id: article.id,
                quantity: Decimal::TWO,
                unit_price: None,
            }],
            currency: None,
            comment: Some("erpbridge protocol conformance test order".into()),
        })
    }

    async fn order_confirm(&mut self) -> Check {
        let key = self.key("confirm");
        let request = CreateOrderRequest {
            idempotency_key: key.clone(),
            order: self.order()?,
        };
        let first = self
            .remote
            .create_order(request.clone())
            .await
            .map_err(|e| call_error("CreateOrder", e))?;
        ensure(!first.already_existed, || {
            "a fresh idempotency key reported already_existed".into()
        })?;
        ensure(first.idempotency_key == key, || {
            "the receipt does not echo the idempotency key".into()
        })?;
        ensure(first.state == OrderState::Draft, || {
            format!("a new order is {:?}, expected DRAFT", first.state)
        })?;
        let again = self
            .remote
            .create_order(request)
            .await
            .map_err(|e| call_error("CreateOrder (repeat)", e))?;
        ensure(
            again.already_existed && again.erp_order_id == first.erp_order_id,
            || {
                format!(
                    "repeating CreateOrder with the same key made `{}` (already_existed {}), expected `{}`",
                    again.erp_order_id, again.already_existed, first.erp_order_id
                )
            },
        )?;
        for lookup in [
            OrderLookup::ById(first.erp_order_id.clone()),
            OrderLookup::ByKey(key.clone()),
        ] {
            let status = self
                .remote
                .order_status(lookup.clone())
                .await
                .map_err(|e| call_error(&format!("GetOrderStatus {lookup:?}"), e))?;
            ensure(status.erp_order_id == first.erp_order_id, || {
                format!("GetOrderStatus {lookup:?} found `{}`", status.erp_order_id)
            })?;
        }
        let action = OrderActionRequest {
            idempotency_key: key,
            erp_order_id: first.erp_order_id.clone(),
        };
        for attempt in ["ConfirmOrder", "ConfirmOrder (repeat)"] {
            let status = self
                .remote
                .confirm_order(action.clone())
                .await
                .map_err(|e| call_error(attempt, e))?;
            ensure(
                matches!(
                    status.state,
                    OrderState::Confirmed
                        | OrderState::Processing
                        | OrderState::Shipped
                        | OrderState::Done
                ),
                || format!("{attempt}: order is {:?}", status.state),
            )?;
        }
        pass(format!(
            "order `{}` created once, confirmed twice",
            first.erp_order_id
        ))
    }

    async fn order_cancel(&mut self) -> Check {
        let key = self.key("cancel");
        let receipt = self
            .remote
            .create_order(CreateOrderRequest {
                idempotency_key: key.clone(),
                order: self.order()?,
            })
            .await
            .map_err(|e| call_error("CreateOrder", e))?;
        let action = OrderActionRequest {
            idempotency_key: key,
            erp_order_id: receipt.erp_order_id.clone(),
        };
        for attempt in ["CancelOrder", "CancelOrder (repeat)"] {
            let status = self
                .remote
                .cancel_order(action.clone())
                .await
                .map_err(|e| call_error(attempt, e))?;
            ensure(status.state == OrderState::Cancelled, || {
                format!("{attempt}: order is {:?}", status.state)
            })?;
        }
        pass(format!("order `{}` cancelled twice", receipt.erp_order_id))
    }

    async fn order_not_found(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let request = pb::OrderStatusRequest {
            lookup: Some(pb::order_status_request::Lookup::ErpOrderId(format!(
                "conformance-no-such-order-{}",
                self.run_id
            ))),
        };
        let status = match tokio::time::timeout(
            self.options.deadline,
            raw.get_order_status(request),
        )
        .await
        {
            Err(_) => return Err("no answer within the deadline".into()),
            Ok(Ok(_)) => return Err("an unknown order id was found".into()),
            Ok(Err(status)) => status,
        };
        ensure(status.code() == Code::NotFound, || {
            format!(
                "expected NOT_FOUND, got {:?}: {}",
                status.code(),
                status.message()
            )
        })?;
        let detail = detail_of(&status)
            .ok_or("NOT_FOUND without the ErrorDetail in grpc-status-details-bin")?;
        ensure(detail.kind == pb::ErrorKind::NotFound as i32, || {
            format!(
                "ErrorDetail.kind is {}, expected ERROR_KIND_NOT_FOUND",
                detail.kind
            )
        })?;
        pass("NOT_FOUND with ErrorDetail")
    }

    async fn missing_order(&mut self) -> Check {
        let mut raw = self.remote.raw_client();
        let request = pb::CreateOrderRequest {
            idempotency_key: self.key("missing-order").0,
            order: None,
        };
        self.expect_rejected("CreateOrder without an order", raw.create_order(request))
            .await
    }

    async fn bom(&mut self) -> Check {
        if !self.supports(Operation::SyncBom) {
            return self.undeclared("BomSync", Operation::SyncBom).await;
        }
        let articles = self.articles(2)?;
        let material = articles.get(1).unwrap_or(&articles[0]);
        let request = BomSyncRequest {
            idempotency_key: self.key("bom"),
            bom: Bom {
                bom_id: None,
                product: articles[0].id.clone(),
                name: "conformance BOM".into(),
                output_quantity: Decimal::ONE,
                materials: vec![BomMaterial {
                    article_id: material.id.clone(),
                    quantity: Decimal::TWO,
                    unit: None,
                }],
            },
        };
        let first = self
            .remote
            .sync_bom(request.clone())
            .await
            .map_err(|e| call_error("BomSync", e))?;
        let again = self
            .remote
            .sync_bom(request)
            .await
            .map_err(|e| call_error("BomSync (repeat)", e))?;
        ensure(!first.already_existed, || {
            "a fresh key reported already_existed".into()
        })?;
        ensure(
            again.already_existed && again.bom_id == first.bom_id,
            || "repeating BomSync with the same key did not return the same BOM".into(),
        )?;
        pass(format!("BOM `{}` once", first.bom_id))
    }

    async fn inventory(&mut self) -> Check {
        if !self.supports(Operation::AdjustInventory) {
            return self
                .undeclared("InventoryAdjust", Operation::AdjustInventory)
                .await;
        }
        let Some(warehouse) = self.found.warehouse.clone() else {
            return skip("no warehouse seen in stock");
        };
        let article = self.articles(1)?.remove(0);
        let request = InventoryAdjustRequest {
            idempotency_key: self.key("inventory"),
            adjustments: vec![InventoryAdjustment {
                article_id: article.id,
                warehouse_id: warehouse,
                delta: Decimal::ONE,
                reason: Some("erpbridge protocol conformance".into()),
            }],
        };
        let first = self
            .remote
            .adjust_inventory(request.clone())
            .await
            .map_err(|e| call_error("InventoryAdjust", e))?;
        let again = self
            .remote
            .adjust_inventory(request)
            .await
            .map_err(|e| call_error("InventoryAdjust (repeat)", e))?;
        ensure(!first.already_existed, || {
            "a fresh key reported already_existed".into()
        })?;
        ensure(
            again.already_existed && again.document_id == first.document_id,
            || "repeating InventoryAdjust with the same key booked again".into(),
        )?;
        pass(format!("document `{}` once", first.document_id))
    }

    /// An operation the provider does not declare must fail fatally, not half-work.
    async fn undeclared(&self, rpc: &str, operation: Operation) -> Check {
        let result = match operation {
            Operation::SyncBom => self
                .remote
                .sync_bom(BomSyncRequest {
                    idempotency_key: self.key("undeclared-bom"),
                    bom: Bom {
                        bom_id: None,
                        product: ArticleId::new("x"),
                        name: "x".into(),
                        output_quantity: Decimal::ONE,
                        materials: vec![],
                    },
                })
                .await
                .map(|_| ()),
            _ => self
                .remote
                .adjust_inventory(InventoryAdjustRequest {
                    idempotency_key: self.key("undeclared-inventory"),
                    adjustments: vec![],
                })
                .await
                .map(|_| ()),
        };
        match result {
            Err(e) if e.kind == ErrorKind::Fatal => {
                skip(format!("{rpc} not declared; it fails fatally as it should"))
            }
            Err(e) => Err(format!(
                "{rpc} is not declared and fails {:?}, expected fatal",
                e.kind
            )),
            Ok(()) => Err(format!("{rpc} is not declared but succeeded")),
        }
    }

    async fn query(&mut self) -> Check {
        if !self.supports(Operation::Query) {
            return skip("Query not declared");
        }
        let query = erpbridge_model::query::Query {
            entity: erpbridge_model::query::QueryEntity::Article,
            filter: None,
            sort: vec![],
            page_size: Some(5),
            cursor: None,
            include: vec![],
        };
        let page = self
            .remote
            .query_page(query)
            .await
            .map_err(|e| call_error("RunQuery", e))?;
        ensure(page.records.len() <= 5, || {
            format!("asked for 5 records, got {}", page.records.len())
        })?;
        ensure(page.records.iter().all(|r| r.get("id").is_some()), || {
            "a query record has no `id`".into()
        })?;
        pass(format!("{} records", page.records.len()))
    }
}

/// An async method of [`Suite`] usable as a check (a named fn item, so the suite can
/// list its checks as `Self::name`).
trait AsyncCheck<'s> {
    type Fut: Future<Output = Check> + 's;
    fn call(self, suite: &'s mut Suite) -> Self::Fut;
}

impl<'s, F, Fut> AsyncCheck<'s> for F
where
    F: FnOnce(&'s mut Suite) -> Fut,
    Fut: Future<Output = Check> + 's,
{
    type Fut = Fut;
    fn call(self, suite: &'s mut Suite) -> Fut {
        self(suite)
    }
}
