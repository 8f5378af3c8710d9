//! A renamed or deleted category reaches the search documents of its articles.
//!
//! The simulated ERP's categories never change, so a thin wrapper renames and drops
//! categories in the pages the sim serves (a real sim underneath, only the category
//! records rewritten), as an ERP user editing the category tree would.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use erpbridge_model::*;
use erpbridge_provider::api::*;
use erpbridge_provider::describe::ProviderDescription;
use erpbridge_provider::{Provider, ProviderResult};
use erpbridge_sync::SyncMode;
use futures::StreamExt as _;

use crate::common::*;

/// The sim, with some categories renamed (new names, newer row version) or gone.
struct EditedCategories {
    inner: Arc<dyn Provider>,
    renamed: Mutex<HashMap<String, String>>,
    dropped: Mutex<HashSet<String>>,
}

impl EditedCategories {
    fn edit(&self, record: CatalogRecord) -> Option<CatalogRecord> {
        let CatalogRecord::Category(mut category) = record else {
            return Some(record);
        };
        if self.dropped.lock().unwrap().contains(category.id.as_str()) {
            return None;
        }
        if let Some(name) = self.renamed.lock().unwrap().get(category.id.as_str()) {
            category.names = [("de".to_owned(), name.clone())].into_iter().collect();
            category.row_version += 1;
        }
        Some(CatalogRecord::Category(category))
    }
}

#[async_trait]
impl Provider for EditedCategories {
    async fn describe(&self) -> ProviderResult<ProviderDescription> {
        self.inner.describe().await
    }
    async fn health(&self) -> ProviderResult<HealthReport> {
        self.inner.health().await
    }
    async fn catalog_page(&self, request: CatalogPageRequest) -> ProviderResult<CatalogPage> {
        let mut page = self.inner.catalog_page(request).await?;
        page.records = page
            .records
            .into_iter()
            .filter_map(|r| self.edit(r))
            .collect();
        Ok(page)
    }
    async fn articles(&self, ids: Vec<ArticleId>) -> ProviderResult<Vec<Article>> {
        self.inner.articles(ids).await
    }
    async fn prices(&self, request: PriceRequest) -> ProviderResult<Vec<PriceQuote>> {
        self.inner.prices(request).await
    }
    async fn stock(&self, request: StockRequest) -> ProviderResult<Vec<StockLevel>> {
        self.inner.stock(request).await
    }
    async fn order_status(&self, lookup: OrderLookup) -> ProviderResult<OrderStatus> {
        self.inner.order_status(lookup).await
    }
    async fn create_order(&self, request: CreateOrderRequest) -> ProviderResult<OrderReceipt> {
        self.inner.create_order(request).await
    }
    async fn confirm_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.inner.confirm_order(request).await
    }
    async fn cancel_order(&self, request: OrderActionRequest) -> ProviderResult<OrderStatus> {
        self.inner.cancel_order(request).await
    }
}

async fn category_edits_reach_the_index(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("categories");
    let sim = sim(800, 5);
    // Which categories hold which articles (the sim's own data).
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    let mut all = provider(&sim)
        .catalog_stream(CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: 500,
        })
        .collect::<Vec<_>>()
        .await;
    for page in all.drain(..) {
        for record in page.unwrap().records {
            if let CatalogRecord::Article(a) = record {
                for c in &a.categories {
                    members.entry(c.0.clone()).or_default().push(a.id.0.clone());
                }
            }
        }
    }
    let mut used: Vec<String> = members.keys().cloned().collect();
    used.sort();
    let (renamed, dropped) = (used[0].clone(), used[1].clone());
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };

    // The category to drop later carries a unique word from the start.
    let edited = Arc::new(EditedCategories {
        inner: provider(&sim),
        renamed: Mutex::new(HashMap::from([(dropped.clone(), "Kuckucksuhr".to_owned())])),
        dropped: Mutex::new(HashSet::new()),
    });
    let provider: Arc<dyn Provider> = edited.clone();
    env.engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .expect("first sync");
    assert_eq!(
        sorted(search_ids(&env.engine, &tenant, "Kuckucksuhr", 10_000)),
        sorted(members[&dropped].clone()),
        "the category's name finds exactly its articles"
    );
    assert!(search_ids(&env.engine, &tenant, "Zauberregal", 10).is_empty());

    // In the ERP: one category renamed, the other deleted. A full sync brings both.
    edited
        .renamed
        .lock()
        .unwrap()
        .insert(renamed.clone(), "Zauberregal".to_owned());
    edited.dropped.lock().unwrap().insert(dropped.clone());
    let report = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .expect("second sync");
    assert_eq!(report.stages[0].upserted, 1, "only the renamed category");
    assert_eq!(report.stages[0].swept, 1, "the dropped category is swept");
    assert_eq!(
        report.stages[1].upserted, 0,
        "no article changed in the ERP"
    );

    assert_eq!(
        sorted(search_ids(&env.engine, &tenant, "Zauberregal", 10_000)),
        sorted(members[&renamed].clone()),
        "the new name finds exactly the category's articles"
    );
    assert_eq!(
        search_ids(&env.engine, &tenant, "Kuckucksuhr", 10_000),
        Vec::<String>::new(),
        "the deleted category's name is gone from its articles"
    );
    // Nothing left for a catch-up: the run indexed the touched articles itself.
    assert_eq!(env.engine.catch_up_index(&tenant).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_edits_reach_the_index_sqlite() {
    category_edits_reach_the_index(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_edits_reach_the_index_postgres() {
    category_edits_reach_the_index(Backend::Postgres).await;
}
