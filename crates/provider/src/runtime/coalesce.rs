//! Request coalescing: many single-item lookups, one bulk call.
//!
//! A serial ERP answers "price of A for customer C" in about the time it answers "prices
//! of A..Z for C": the cost is the round trip, not the item. So while a session is busy,
//! lookups of the same kind and key (prices: the customer; stock: the warehouse set) do
//! not each queue a call. The first one opens a *batch* and queues one job; later ones
//! join that batch while it waits. When the executor picks the job up it *seals* the batch
//! and makes one bulk call for every item gathered so far, then hands each caller exactly
//! its own items (an item missing from the answer is "not found", as for a direct call).
//!
//! Sealing at the moment the job starts is what makes this free when idle: an idle
//! executor starts the job at once, with the one caller who opened it. Batches never grow
//! beyond the provider's [`BatchLimits`](crate::BatchLimits); a full batch makes the next
//! caller open a new one.

use parking_lot::Mutex;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

use super::executor::{Env, Job, Verdict, verdict_of};
use super::stats::Counters;
use crate::api::{PriceItem, PriceRequest, StockRequest};
use crate::error::{ProviderError, ProviderResult};
use crate::traits::BlockingSession;
use erpbridge_model::{ArticleId, CustomerId, PriceQuote, StockLevel, WarehouseId};

/// A bulk operation that can answer many requests with one call.
pub(crate) trait BulkLookup: Send + Sync + 'static {
    type Key: Eq + Hash + Clone + Send + Sync + 'static;
    type Item: Eq + Hash + Clone + Send + Sync + 'static;
    type Output: Clone + Send + 'static;

    fn call<S: BlockingSession>(
        session: &mut S,
        key: &Self::Key,
        items: Vec<Self::Item>,
    ) -> ProviderResult<Vec<Self::Output>>;

    /// Split a bulk answer among the `waiters` of a batch. `items` are the batch's
    /// distinct items, each with the indices of the waiters that asked for it.
    fn distribute(
        items: &[(Self::Item, Vec<usize>)],
        outputs: Vec<Self::Output>,
        waiters: usize,
    ) -> Vec<Vec<Self::Output>>;
}

/// One caller's share of a batch's outcome. Exactly one live caller per backend call gets
/// `report = true` and records the outcome with the circuit breaker, so one failed bulk
/// call counts as one failure, not fifty.
pub(crate) struct Delivery<T> {
    pub result: ProviderResult<Vec<T>>,
    pub report: bool,
}

struct Pending<L: BulkLookup> {
    index: HashMap<L::Item, usize>,
    items: Vec<(L::Item, Vec<usize>)>,
    waiters: Vec<oneshot::Sender<Delivery<L::Output>>>,
}

impl<L: BulkLookup> Pending<L> {
    fn new() -> Self {
        Self {
            index: HashMap::new(),
            items: Vec::new(),
            waiters: Vec::new(),
        }
    }

    fn room_for(&self, items: &[L::Item], limit: usize) -> bool {
        let new = items.iter().filter(|i| !self.index.contains_key(i)).count();
        self.items.len() + new <= limit
    }

    fn add(&mut self, items: Vec<L::Item>, tx: oneshot::Sender<Delivery<L::Output>>) {
        let waiter = self.waiters.len();
        self.waiters.push(tx);
        for item in items {
            let position = *self.index.entry(item.clone()).or_insert_with(|| {
                self.items.push((item, Vec::new()));
                self.items.len() - 1
            });
            let askers = &mut self.items[position].1;
            if askers.last() != Some(&waiter) {
                askers.push(waiter);
            }
        }
    }

    /// Send every waiter its share; the first one still listening reports.
    fn deliver(self, mut results: impl FnMut(usize) -> ProviderResult<Vec<L::Output>>) {
        let mut reported = false;
        for (i, tx) in self.waiters.into_iter().enumerate() {
            if tx.is_closed() {
                continue;
            }
            let report = !reported;
            reported = true;
            let _ = tx.send(Delivery {
                result: results(i),
                report,
            });
        }
    }
}

struct Batch<L: BulkLookup> {
    key: L::Key,
    /// `None` once sealed: the bulk call has started (or the batch was rejected).
    pending: Mutex<Option<Pending<L>>>,
}

/// Open batches of one operation, by key.
pub(crate) struct Coalescer<L: BulkLookup> {
    open: Mutex<HashMap<L::Key, Arc<Batch<L>>>>,
    limit: usize,
    env: Arc<Env>,
}

impl<L: BulkLookup> Coalescer<L> {
    pub fn new(limit: usize, env: Arc<Env>) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            limit: limit.max(1),
            env,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Join the open batch for `key`, or open one. `items` must be distinct and at most
    /// [`Self::limit`]. When a batch was opened, the returned job must be submitted (or
    /// rejected, which answers everyone who joined meanwhile).
    pub fn join(
        self: &Arc<Self>,
        key: L::Key,
        items: Vec<L::Item>,
    ) -> (oneshot::Receiver<Delivery<L::Output>>, Option<BatchJob<L>>) {
        let (tx, rx) = oneshot::channel();
        self.env
            .counters
            .coalescing_waiting
            .fetch_add(1, Ordering::Relaxed);
        let mut open = self.open.lock();
        if let Some(batch) = open.get(&key) {
            let mut pending = batch.pending.lock();
            if let Some(pending) = pending.as_mut().filter(|p| p.room_for(&items, self.limit)) {
                pending.add(items, tx);
                return (rx, None);
            }
        }
        let mut pending = Pending::new();
        pending.add(items, tx);
        let batch = Arc::new(Batch {
            key: key.clone(),
            pending: Mutex::new(Some(pending)),
        });
        open.insert(key, batch.clone());
        let job = BatchJob {
            coalescer: self.clone(),
            batch,
        };
        (rx, Some(job))
    }
}

/// The one executor job of a batch.
pub(crate) struct BatchJob<L: BulkLookup> {
    coalescer: Arc<Coalescer<L>>,
    batch: Arc<Batch<L>>,
}

impl<L: BulkLookup> BatchJob<L> {
    /// Close the batch to new joiners and take its requests.
    fn seal(&self) -> Option<Pending<L>> {
        let mut open = self.coalescer.open.lock();
        if open
            .get(&self.batch.key)
            .is_some_and(|b| Arc::ptr_eq(b, &self.batch))
        {
            open.remove(&self.batch.key);
        }
        let pending = self.batch.pending.lock().take();
        if let Some(pending) = &pending {
            self.coalescer
                .env
                .counters
                .coalescing_waiting
                .fetch_sub(pending.waiters.len(), Ordering::Relaxed);
        }
        pending
    }
}

impl<L: BulkLookup> Drop for BatchJob<L> {
    /// A batch job must never vanish with its batch still open: joiners would wait for a
    /// call that never comes until their deadline. Normally the batch is sealed by now.
    fn drop(&mut self) {
        if let Some(pending) = self.seal() {
            let error = ProviderError::transient("the batch was dropped before it ran");
            pending.deliver(|_| Err(error.clone()));
        }
    }
}

impl<S: BlockingSession, L: BulkLookup> Job<S> for BatchJob<L> {
    fn run(self: Box<Self>, session: &mut S) -> Verdict {
        let Some(pending) = self.seal() else {
            return Verdict::Healthy;
        };
        let counters = &self.coalescer.env.counters;
        if pending.waiters.iter().all(|tx| tx.is_closed()) {
            Counters::inc(&counters.abandoned);
            return Verdict::Healthy;
        }
        let waiters = pending.waiters.len();
        if waiters > 1 {
            Counters::inc(&counters.coalesced_batches);
            counters
                .coalesced_requests
                .fetch_add(waiters as u64, Ordering::Relaxed);
        }
        let items = pending.items.iter().map(|(item, _)| item.clone()).collect();
        let result = L::call(session, &self.batch.key, items);
        let verdict = verdict_of(&result);
        match result {
            Ok(outputs) => {
                let mut shares = L::distribute(&pending.items, outputs, waiters).into_iter();
                pending.deliver(|_| Ok(shares.next().unwrap_or_default()));
            }
            Err(error) => pending.deliver(|_| Err(error.clone())),
        }
        verdict
    }

    fn fail(self: Box<Self>, error: ProviderError) {
        if let Some(pending) = self.seal() {
            pending.deliver(|_| Err(error.clone()));
        }
    }

    fn reject(self: Box<Self>, error: ProviderError) {
        if let Some(pending) = self.seal() {
            // A refusal before the backend was reached is no verdict on the backend.
            for tx in pending.waiters {
                let _ = tx.send(Delivery {
                    result: Err(error.clone()),
                    report: false,
                });
            }
        }
    }
}

/// Live prices, batched per customer.
pub(crate) struct Prices;

impl BulkLookup for Prices {
    type Key = CustomerId;
    type Item = PriceItem;
    type Output = PriceQuote;

    fn call<S: BlockingSession>(
        session: &mut S,
        key: &CustomerId,
        items: Vec<PriceItem>,
    ) -> ProviderResult<Vec<PriceQuote>> {
        session.prices(&PriceRequest {
            customer_id: key.clone(),
            items,
        })
    }

    fn distribute(
        items: &[(PriceItem, Vec<usize>)],
        outputs: Vec<PriceQuote>,
        waiters: usize,
    ) -> Vec<Vec<PriceQuote>> {
        let mut exact: HashMap<(&ArticleId, Decimal), usize> = HashMap::new();
        let mut by_article: HashMap<&ArticleId, Vec<usize>> = HashMap::new();
        for (position, (item, _)) in items.iter().enumerate() {
            exact.insert((&item.article_id, item.quantity), position);
            by_article
                .entry(&item.article_id)
                .or_default()
                .push(position);
        }
        let mut shares = vec![Vec::new(); waiters];
        let mut askers = Vec::new();
        for quote in outputs {
            // A quote answers the item with its article and quantity. If the backend
            // normalised the quantity, it answers everyone who asked for that article.
            let positions: &[usize] = match exact.get(&(&quote.article_id, quote.quantity)) {
                Some(position) => std::slice::from_ref(position),
                None => by_article.get(&quote.article_id).map_or(&[], Vec::as_slice),
            };
            askers.clear();
            askers.extend(positions.iter().flat_map(|p| items[*p].1.iter().copied()));
            askers.sort_unstable();
            askers.dedup();
            for waiter in &askers {
                shares[*waiter].push(quote.clone());
            }
        }
        shares
    }
}

/// Live stock, batched per warehouse selection (sorted, deduplicated; empty = all).
pub(crate) struct Stock;

impl BulkLookup for Stock {
    type Key = Vec<WarehouseId>;
    type Item = ArticleId;
    type Output = StockLevel;

    fn call<S: BlockingSession>(
        session: &mut S,
        key: &Vec<WarehouseId>,
        items: Vec<ArticleId>,
    ) -> ProviderResult<Vec<StockLevel>> {
        session.stock(&StockRequest {
            article_ids: items,
            warehouse_ids: key.clone(),
        })
    }

    fn distribute(
        items: &[(ArticleId, Vec<usize>)],
        outputs: Vec<StockLevel>,
        waiters: usize,
    ) -> Vec<Vec<StockLevel>> {
        let by_article: HashMap<&ArticleId, &[usize]> = items
            .iter()
            .map(|(article, askers)| (article, askers.as_slice()))
            .collect();
        let mut shares = vec![Vec::new(); waiters];
        for level in outputs {
            if let Some(askers) = by_article.get(&level.article_id) {
                for waiter in *askers {
                    shares[*waiter].push(level.clone());
                }
            }
        }
        shares
    }
}
