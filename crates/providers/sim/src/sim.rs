//! [`Sim`]: the simulated ERP itself, shared by all its sessions. Its operations are the
//! "server side": no latency, no faults, no concurrency checks — those belong to a
//! session ([`crate::SimSession`]), as in a real ERP where the SDK session is the fragile
//! part.

use erpbridge_model::{
    Article, ArticleId, BomReceipt, CatalogRecord, EntityKind, ErpOrderId, IdempotencyKey,
    InventoryReceipt, OrderReceipt, OrderState, OrderStatus, PriceQuote, StockLevel,
};
use erpbridge_provider::{
    BomSyncRequest, CatalogPage, CatalogPageRequest, CreateOrderRequest, InventoryAdjustRequest,
    OrderActionRequest, OrderLookup, PriceRequest, ProviderError, ProviderResult, StockRequest,
};
use parking_lot::{Mutex, RwLock};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::SimConfig;
use crate::cursor::{self, Position};
use crate::feed::{Feed, FeedRates, RecordState};
use crate::generate::{self, Generator};
use crate::journal::{Journal, JournalEntry, Ledger, SimOrder};
use crate::rng::hash;
use crate::{SimError, SimSession};

const SALT_FEED_ARTICLE: u64 = 0xF1;
const SALT_FEED_CUSTOMER: u64 = 0xF2;
const SALT_FEED_CATEGORY: u64 = 0xF3;

/// The simulated ERP: a cheap-to-clone handle. Clones share one catalog, clock, ledger
/// and set of counters.
#[derive(Clone)]
pub struct Sim {
    pub(crate) inner: Arc<SimInner>,
}

pub(crate) struct SimInner {
    pub(crate) config: SimConfig,
    pub(crate) generator: Generator,
    fingerprint: String,
    feeds: RwLock<Feeds>,
    journal: Mutex<Journal>,
    delta_cache: Mutex<Option<DeltaCache>>,
    pub(crate) stats: Counters,
    pub(crate) logging_in: AtomicBool,
}

struct Feeds {
    articles: Feed,
    customers: Feed,
    categories: Feed,
}

impl Feeds {
    fn get(&self, entity: EntityKind) -> &Feed {
        match entity {
            EntityKind::Article => &self.articles,
            EntityKind::Customer => &self.customers,
            EntityKind::Category => &self.categories,
        }
    }
}

struct DeltaCache {
    entity: EntityKind,
    from: u32,
    to: u32,
    ids: Arc<Vec<u64>>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) violations: AtomicU64,
    pub(crate) login_violations: AtomicU64,
    pub(crate) logins: AtomicU64,
    pub(crate) calls: AtomicU64,
}

/// Counters of what happened to the simulator (for tests and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Calls that found their session already busy (concurrent use of one session).
    pub concurrency_violations: u64,
    /// Logins that overlapped another login.
    pub login_violations: u64,
    /// Sessions opened.
    pub logins: u64,
    /// Session calls made (including failed ones).
    pub calls: u64,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.inner.config.seed)
            .field("articles", &self.inner.config.articles)
            .field("tick", &self.tick())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Builds the simulator; with a `state_file`, replays its journal first.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let journal = match &config.state_file {
            Some(path) => Journal::open(path)?,
            None => Journal::in_memory(),
        };
        let generator = Generator {
            seed: config.seed,
            initial_articles: config.articles,
            attributes_per_article: config.attributes_per_article,
            categories: config.categories,
            customers: config.customers,
            warehouses: config.warehouses,
        };
        let rates = FeedRates {
            change_percent: config.change_percent_per_tick,
            deletes: config.deletes_per_tick as u64,
            inserts: config.inserts_per_tick as u64,
        };
        let customer_rates = FeedRates {
            deletes: 0,
            inserts: 0,
            ..rates
        };
        let static_rates = FeedRates {
            change_percent: 0.0,
            deletes: 0,
            inserts: 0,
        };
        let seed = config.seed;
        let feeds = Feeds {
            articles: Feed::new(seed, SALT_FEED_ARTICLE, config.articles, rates),
            customers: Feed::new(
                seed,
                SALT_FEED_CUSTOMER,
                config.customers as u64,
                customer_rates,
            ),
            categories: Feed::new(
                seed,
                SALT_FEED_CATEGORY,
                config.categories as u64,
                static_rates,
            ),
        };
        // Everything that shapes the change history goes into the fingerprint.
        let shape = format!(
            "{}/{}/{}/{}/{}/{}/{}/{}",
            config.seed,
            config.articles,
            config.attributes_per_article,
            config.categories,
            config.customers,
            config.change_percent_per_tick,
            config.deletes_per_tick,
            config.inserts_per_tick
        );
        let fingerprint = format!(
            "{:08x}",
            shape.bytes().fold(0u64, |h, b| hash(h, b as u64, 0x51)) as u32
        );
        let sim = Self {
            inner: Arc::new(SimInner {
                config,
                generator,
                fingerprint,
                feeds: RwLock::new(feeds),
                journal: Mutex::new(journal),
                delta_cache: Mutex::new(None),
                stats: Counters::default(),
                logging_in: AtomicBool::new(false),
            }),
        };
        if let Some(interval) = sim.inner.config.auto_tick {
            sim.start_ticker(interval)?;
        }
        Ok(sim)
    }

    /// The ticker holds only a weak reference, so it ends once the last handle is gone.
    fn start_ticker(&self, interval: std::time::Duration) -> Result<(), SimError> {
        let weak = Arc::downgrade(&self.inner);
        std::thread::Builder::new()
            .name("sim-ticker".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let Some(inner) = weak.upgrade() else { break };
                    Sim { inner }.advance(1);
                }
            })
            .map(|_| ())
            .map_err(|e| SimError::Config(format!("auto_tick: cannot start the ticker: {e}")))
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// A session factory for the provider runtime.
    pub fn factory(&self) -> crate::SimFactory {
        crate::SimFactory::from_sim(self.clone())
    }

    /// Opens a session right here, paying the init delay (what `SessionFactory::connect`
    /// does).
    pub fn connect(&self) -> ProviderResult<SimSession> {
        SimSession::connect(self.clone())
    }

    /// The logical clock of the change feed.
    pub fn tick(&self) -> u32 {
        self.inner.feeds.read().articles.tick()
    }

    /// Moves the change feed `ticks` ticks forward: per tick, `change_percent_per_tick`
    /// of articles and customers get a new version, `deletes_per_tick` articles are
    /// deleted and `inserts_per_tick` added.
    pub fn advance(&self, ticks: u32) {
        for _ in 0..ticks {
            {
                let mut feeds = self.inner.feeds.write();
                feeds.articles.advance();
                feeds.customers.advance();
                feeds.categories.advance();
            }
            // Lock order is journal → feeds (writes look articles up while holding the
            // journal), so the feeds lock must be released before the journal is taken.
            if self.inner.config.order_progress {
                self.progress_orders();
            }
        }
    }

    fn progress_orders(&self) {
        let mut journal = self.inner.journal.lock();
        let at = chrono::Utc::now();
        let entries: Vec<JournalEntry> = journal
            .ledger()
            .orders()
            .iter()
            .filter_map(|o| {
                let next = match o.state {
                    OrderState::Confirmed => OrderState::Processing,
                    OrderState::Processing => OrderState::Shipped,
                    OrderState::Shipped => OrderState::Done,
                    _ => return None,
                };
                Some(JournalEntry::OrderStateChanged {
                    erp_order_id: o.erp_order_id.clone(),
                    state: next,
                    at,
                })
            })
            .collect();
        // The clock must move even when the disk does not; the orders then simply
        // progress at a later tick.
        if let Err(e) = journal.record_all(entries) {
            tracing::error!(error = %e, "sim: could not journal order progress");
        }
    }

    /// Live articles now.
    pub fn article_count(&self) -> u64 {
        self.inner.feeds.read().articles.live_count()
    }

    /// Article ids changed, inserted or deleted in ticks `(from, to]`, ascending: what a
    /// delta over that window must deliver.
    pub fn changed_article_ids(&self, from: u32, to: u32) -> Vec<ArticleId> {
        let feeds = self.inner.feeds.read();
        feeds
            .articles
            .changed_between(from, to)
            .into_iter()
            .map(generate::article_id)
            .collect()
    }

    pub fn stats(&self) -> SimStats {
        let s = &self.inner.stats;
        SimStats {
            concurrency_violations: s.violations.load(Ordering::Relaxed),
            login_violations: s.login_violations.load(Ordering::Relaxed),
            logins: s.logins.load(Ordering::Relaxed),
            calls: s.calls.load(Ordering::Relaxed),
        }
    }

    /// Calls that found their session busy: must stay 0 behind a correct executor.
    pub fn concurrency_violations(&self) -> u64 {
        self.inner.stats.violations.load(Ordering::Relaxed)
    }

    /// Orders grouped by idempotency key (from this process's ledger).
    pub fn orders_by_key(&self) -> BTreeMap<IdempotencyKey, Vec<SimOrder>> {
        self.inner.journal.lock().ledger().orders_by_key()
    }

    /// Orders created for `key` (exactly 1 when idempotency held).
    pub fn order_count(&self, key: &IdempotencyKey) -> usize {
        self.inner.journal.lock().ledger().order_count(key)
    }

    /// All orders in creation order.
    pub fn orders(&self) -> Vec<SimOrder> {
        self.inner.journal.lock().ledger().orders().to_vec()
    }

    fn live_article(&self, id: &ArticleId) -> Option<(u64, u32)> {
        let index = generate::parse_article_id(id.as_str())?;
        match self.inner.feeds.read().articles.state_at(index, u32::MAX) {
            RecordState::Live(version) => Some((index, version)),
            _ => None,
        }
    }

    fn customer_index(&self, id: &str) -> Option<u64> {
        let index = generate::parse_customer_id(id)?;
        let feeds = self.inner.feeds.read();
        matches!(
            feeds.customers.state_at(index, u32::MAX),
            RecordState::Live(_)
        )
        .then_some(index)
    }

    /// One page of the catalog stream (see [`crate::cursor`] for the cursor forms).
    pub fn catalog_page(&self, request: &CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let entity = request.entity;
        let limit = request.limit.clamp(1, self.inner.config.max_catalog_page) as usize;
        let fp = &self.inner.fingerprint;
        let feeds = self.inner.feeds.read();
        let feed = feeds.get(entity);
        let now = feed.tick();
        let position = match &request.from {
            None => Position::Snapshot { tick: now, next: 0 },
            Some(c) => cursor::decode(fp, entity, c)?,
        };
        let position = match position {
            Position::HighWater { tick } if tick >= now => {
                return Ok(CatalogPage {
                    records: Vec::new(),
                    next: cursor::encode(fp, entity, Position::HighWater { tick }),
                    has_more: false,
                });
            }
            Position::HighWater { tick } => Position::Delta {
                from: tick,
                to: now,
                next: 0,
            },
            other => other,
        };
        // A cursor from the future (the simulator restarted and has not caught up) cannot
        // be served consistently.
        let horizon = match position {
            Position::Snapshot { tick, .. } => tick,
            Position::Delta { to, .. } => to,
            Position::HighWater { tick } => tick,
        };
        if horizon > now {
            return Err(ProviderError::transient(format!(
                "cursor is at tick {horizon} but the simulator is at tick {now}; advance it first"
            )));
        }
        // Decide membership and versions under the lock, build records outside it.
        let mut picked: Vec<(u64, Option<u32>)> = Vec::with_capacity(limit);
        let (next_position, has_more) = match position {
            Position::Snapshot { tick, next } => {
                let end = feed.allocated_at(tick);
                let mut index = next;
                while index < end && picked.len() < limit {
                    if let RecordState::Live(v) = feed.state_at(index, tick) {
                        picked.push((index, Some(v)));
                    }
                    index += 1;
                }
                if index < end {
                    (Position::Snapshot { tick, next: index }, true)
                } else {
                    (Position::HighWater { tick }, false)
                }
            }
            Position::Delta { from, to, next } => {
                let ids = self.delta_ids(feed, entity, from, to);
                let start = ids.partition_point(|&id| id < next);
                for &id in ids[start..].iter().take(limit) {
                    let version = match feed.state_at(id, to) {
                        RecordState::Live(v) => Some(v),
                        _ => None,
                    };
                    picked.push((id, version));
                }
                let consumed = start + picked.len();
                if consumed < ids.len() {
                    let next = ids[consumed];
                    (Position::Delta { from, to, next }, true)
                } else {
                    (Position::HighWater { tick: to }, false)
                }
            }
            Position::HighWater { .. } => unreachable_position()?,
        };
        drop(feeds);
        let g = &self.inner.generator;
        let records = picked
            .into_iter()
            .map(|(index, version)| match (entity, version) {
                (EntityKind::Article, Some(v)) => CatalogRecord::Article(g.article(index, v)),
                (EntityKind::Customer, Some(v)) => CatalogRecord::Customer(g.customer(index, v)),
                (EntityKind::Category, Some(_)) => CatalogRecord::Category(g.category(index)),
                (entity, None) => CatalogRecord::Deleted {
                    entity,
                    id: match entity {
                        EntityKind::Article => generate::article_id(index).0,
                        EntityKind::Customer => generate::customer_id(index).0,
                        EntityKind::Category => generate::category_id(index).0,
                    },
                },
            })
            .collect();
        Ok(CatalogPage {
            records,
            next: cursor::encode(fp, entity, next_position),
            has_more,
        })
    }

    /// The sorted ids of a delta window, cached because a consumer pages through the same
    /// window many times.
    fn delta_ids(&self, feed: &Feed, entity: EntityKind, from: u32, to: u32) -> Arc<Vec<u64>> {
        let mut cache = self.inner.delta_cache.lock();
        if let Some(c) = cache.as_ref()
            && c.entity == entity
            && c.from == from
            && c.to == to
        {
            return c.ids.clone();
        }
        let ids = Arc::new(feed.changed_between(from, to));
        *cache = Some(DeltaCache {
            entity,
            from,
            to,
            ids: ids.clone(),
        });
        ids
    }

    /// Current versions of the articles that exist, in request order.
    pub fn articles(&self, ids: &[ArticleId]) -> Vec<Article> {
        let found: Vec<(u64, u32)> = ids.iter().filter_map(|id| self.live_article(id)).collect();
        found
            .into_iter()
            .map(|(index, version)| self.inner.generator.article(index, version))
            .collect()
    }

    /// An article as of its current version, if it exists (generated, not stored).
    pub fn article(&self, id: &ArticleId) -> Option<Article> {
        self.articles(std::slice::from_ref(id)).pop()
    }

    pub fn prices(&self, request: &PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        let customer = self
            .customer_index(request.customer_id.as_str())
            .ok_or_else(|| {
                ProviderError::not_found(format!(
                    "customer `{}` does not exist",
                    request.customer_id
                ))
            })?;
        let g = &self.inner.generator;
        let currency = g.customer_currency(customer);
        let mut quotes = Vec::with_capacity(request.items.len());
        for item in &request.items {
            let Some((article, _)) = self.live_article(&item.article_id) else {
                continue;
            };
            let breaks = g.price_breaks(customer, article);
            let quantity = item.quantity.max(Decimal::ONE);
            let unit_price = breaks
                .iter()
                .rev()
                .find(|b| b.min_quantity <= quantity)
                .or(breaks.first())
                .map(|b| b.unit_price)
                .unwrap_or_default();
            quotes.push(PriceQuote {
                article_id: item.article_id.clone(),
                customer_id: request.customer_id.clone(),
                unit_price,
                currency: currency.to_owned(),
                quantity: item.quantity,
                breaks,
                valid_from: None,
                valid_until: None,
            });
        }
        Ok(quotes)
    }

    pub fn stock(&self, request: &StockRequest) -> ProviderResult<Vec<StockLevel>> {
        let warehouses = self.inner.config.warehouses;
        let wanted: Vec<u32> = if request.warehouse_ids.is_empty() {
            (0..warehouses).collect()
        } else {
            request
                .warehouse_ids
                .iter()
                .filter_map(|w| generate::parse_warehouse_id(w.as_str(), warehouses))
                .collect()
        };
        let journal = self.inner.journal.lock();
        let ledger = journal.ledger();
        let mut levels = Vec::new();
        for id in &request.article_ids {
            let Some((article, _)) = self.live_article(id) else {
                continue;
            };
            for &w in &wanted {
                let (available, reserved) = self.inner.generator.base_stock(article, w);
                levels.push(StockLevel {
                    article_id: id.clone(),
                    warehouse_id: generate::warehouse_id(w),
                    available: available.saturating_add(ledger.stock_delta(article, w)),
                    reserved,
                });
            }
        }
        Ok(levels)
    }

    fn status_of(order: &SimOrder) -> OrderStatus {
        OrderStatus {
            erp_order_id: order.erp_order_id.clone(),
            state: order.state,
            shipment_state: match order.state {
                OrderState::Processing => Some("picking".to_owned()),
                OrderState::Shipped => Some("in transit".to_owned()),
                OrderState::Done => Some("delivered".to_owned()),
                _ => None,
            },
            external_reference: order.order.external_reference.clone(),
            updated_at: Some(order.updated_at),
        }
    }

    pub fn order_status(&self, lookup: &OrderLookup) -> ProviderResult<OrderStatus> {
        let journal = self.inner.journal.lock();
        let ledger = journal.ledger();
        let order = match lookup {
            OrderLookup::ById(id) => ledger.order_by_id(id),
            OrderLookup::ByKey(key) => ledger.order_by_key(key),
        };
        order
            .map(Self::status_of)
            .ok_or_else(|| ProviderError::not_found(format!("no order for {lookup:?}")))
    }

    pub fn create_order(&self, request: &CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        let mut journal = self.inner.journal.lock();
        // The key is looked up before anything else, as a real provider must.
        if let Some(existing) = journal.ledger().order_by_key(&request.idempotency_key) {
            return Ok(OrderReceipt {
                erp_order_id: existing.erp_order_id.clone(),
                idempotency_key: request.idempotency_key.clone(),
                state: existing.state,
                already_existed: true,
            });
        }
        let order = &request.order;
        order
            .validate()
            .map_err(|e| ProviderError::fatal(format!("order rejected: {e}")))?;
        if self.customer_index(order.customer_id.as_str()).is_none() {
            return Err(ProviderError::fatal(format!(
                "order rejected: unknown customer `{}`",
                order.customer_id
            )));
        }
        for (n, line) in order.lines.iter().enumerate() {
            if self.live_article(&line.article_id).is_none() {
                return Err(ProviderError::fatal(format!(
                    "order rejected: line {}: unknown article `{}`",
                    n + 1,
                    line.article_id
                )));
            }
        }
        let erp_order_id = journal.ledger().next_order_id();
        journal
            .record(JournalEntry::OrderCreated {
                key: request.idempotency_key.clone(),
                erp_order_id: erp_order_id.clone(),
                order: order.clone(),
                at: chrono::Utc::now(),
            })
            .map_err(journal_error)?;
        Ok(OrderReceipt {
            erp_order_id,
            idempotency_key: request.idempotency_key.clone(),
            state: OrderState::Draft,
            already_existed: false,
        })
    }

    fn change_state(
        &self,
        id: &ErpOrderId,
        target: OrderState,
        allowed: &[OrderState],
    ) -> ProviderResult<OrderStatus> {
        let mut journal = self.inner.journal.lock();
        let order = journal
            .ledger()
            .order_by_id(id)
            .ok_or_else(|| ProviderError::not_found(format!("order `{id}` does not exist")))?;
        if order.state == target {
            return Ok(Self::status_of(order));
        }
        if !allowed.contains(&order.state) {
            return Err(ProviderError::fatal(format!(
                "order `{id}` is {:?} and cannot become {target:?}",
                order.state
            )));
        }
        journal
            .record(JournalEntry::OrderStateChanged {
                erp_order_id: id.clone(),
                state: target,
                at: chrono::Utc::now(),
            })
            .map_err(journal_error)?;
        journal
            .ledger()
            .order_by_id(id)
            .map(Self::status_of)
            .ok_or_else(|| ProviderError::fatal("order vanished from the ledger"))
    }

    pub fn confirm_order(&self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.change_state(
            &request.erp_order_id,
            OrderState::Confirmed,
            &[OrderState::Draft],
        )
    }

    pub fn cancel_order(&self, request: &OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.change_state(
            &request.erp_order_id,
            OrderState::Cancelled,
            &[
                OrderState::Draft,
                OrderState::Confirmed,
                OrderState::Processing,
            ],
        )
    }

    pub fn sync_bom(&self, request: &BomSyncRequest) -> ProviderResult<BomReceipt> {
        let mut journal = self.inner.journal.lock();
        if let Some(bom_id) = journal.ledger().bom_by_key(&request.idempotency_key) {
            return Ok(BomReceipt {
                bom_id: bom_id.to_owned(),
                idempotency_key: request.idempotency_key.clone(),
                already_existed: true,
            });
        }
        let bom = &request.bom;
        if bom.materials.is_empty() {
            return Err(ProviderError::fatal("BOM rejected: it has no materials"));
        }
        if bom.output_quantity <= Decimal::ZERO {
            return Err(ProviderError::fatal(
                "BOM rejected: output quantity must be positive",
            ));
        }
        for id in std::iter::once(&bom.product).chain(bom.materials.iter().map(|m| &m.article_id)) {
            if self.live_article(id).is_none() {
                return Err(ProviderError::fatal(format!(
                    "BOM rejected: unknown article `{id}`"
                )));
            }
        }
        let bom_id = bom
            .bom_id
            .clone()
            .unwrap_or_else(|| journal.ledger().next_bom_id());
        journal
            .record(JournalEntry::BomSynced {
                key: request.idempotency_key.clone(),
                bom_id: bom_id.clone(),
                bom: bom.clone(),
            })
            .map_err(journal_error)?;
        Ok(BomReceipt {
            bom_id,
            idempotency_key: request.idempotency_key.clone(),
            already_existed: false,
        })
    }

    pub fn adjust_inventory(
        &self,
        request: &InventoryAdjustRequest,
    ) -> ProviderResult<InventoryReceipt> {
        let mut journal = self.inner.journal.lock();
        if let Some(doc) = journal.ledger().document_by_key(&request.idempotency_key) {
            return Ok(InventoryReceipt {
                document_id: doc.to_owned(),
                idempotency_key: request.idempotency_key.clone(),
                already_existed: true,
            });
        }
        if request.adjustments.is_empty() {
            return Err(ProviderError::fatal("inventory adjustment has no lines"));
        }
        let warehouses = self.inner.config.warehouses;
        let mut lines = Vec::with_capacity(request.adjustments.len());
        let mut after: BTreeMap<(u64, u32), Decimal> = BTreeMap::new();
        for (n, adj) in request.adjustments.iter().enumerate() {
            let line = n + 1;
            let (article, _) = self.live_article(&adj.article_id).ok_or_else(|| {
                ProviderError::fatal(format!("line {line}: unknown article `{}`", adj.article_id))
            })?;
            let warehouse = generate::parse_warehouse_id(adj.warehouse_id.as_str(), warehouses)
                .ok_or_else(|| {
                    ProviderError::fatal(format!(
                        "line {line}: unknown warehouse `{}`",
                        adj.warehouse_id
                    ))
                })?;
            let current = after.entry((article, warehouse)).or_insert_with(|| {
                let base = self.inner.generator.base_stock(article, warehouse).0;
                base.saturating_add(journal.ledger().stock_delta(article, warehouse))
            });
            *current = current.checked_add(adj.delta).ok_or_else(|| {
                ProviderError::fatal(format!("line {line}: quantity out of range"))
            })?;
            if *current < Decimal::ZERO {
                return Err(ProviderError::fatal(format!(
                    "line {line}: stock of `{}` in `{}` would become negative",
                    adj.article_id, adj.warehouse_id
                )));
            }
            lines.push((article, warehouse, adj.delta));
        }
        let document_id = journal.ledger().next_document_id();
        journal
            .record(JournalEntry::InventoryAdjusted {
                key: request.idempotency_key.clone(),
                document_id: document_id.clone(),
                lines,
                adjustments: request.adjustments.clone(),
            })
            .map_err(journal_error)?;
        Ok(InventoryReceipt {
            document_id,
            idempotency_key: request.idempotency_key.clone(),
            already_existed: false,
        })
    }

    /// A copy of the ledger state (orders, BOMs, documents) of this process.
    pub fn with_ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        f(self.inner.journal.lock().ledger())
    }

    pub(crate) fn feed_state(&self, entity: EntityKind, index: u64) -> RecordState {
        self.inner
            .feeds
            .read()
            .get(entity)
            .state_at(index, u32::MAX)
    }

    pub(crate) fn allocated(&self, entity: EntityKind) -> u64 {
        let feeds = self.inner.feeds.read();
        let feed = feeds.get(entity);
        feed.allocated_at(feed.tick())
    }
}

fn unreachable_position() -> ProviderResult<(Position, bool)> {
    Err(ProviderError::fatal(
        "internal: unresolved high-water cursor",
    ))
}

/// A journal that cannot be written means the write did not happen durably: the caller
/// may retry (the key makes it safe).
fn journal_error(e: SimError) -> ProviderError {
    tracing::error!(error = %e, "sim journal write failed");
    ProviderError::transient(e.to_string())
}
