//! Content checksums of a catalog, on the provider side and on the store side, to prove
//! that a sync copied everything exactly (tests, `bench sync`, operators comparing).
//!
//! The checksum is a multiset hash (count, and the wrapping sum of each record's SHA-256
//! prefix over its canonical JSON), so it does not depend on the order records are read
//! in: the provider's stream order and the store's key order need not agree.

use erpbridge_model::{CatalogRecord, EntityKind};
use erpbridge_provider::{CatalogPageRequest, Provider, ProviderError};
use erpbridge_store::StoreError;
use erpbridge_store::catalog::CatalogStore;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checksum {
    pub count: u64,
    pub sum: u128,
}

impl Checksum {
    pub fn add<T: Serialize>(&mut self, value: &T) {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&digest[..16]);
        self.count += 1;
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(prefix));
    }

    pub fn hex(&self) -> String {
        format!("{}:{:032x}", self.count, self.sum)
    }
}

/// The checksum of the provider's current full snapshot of `entity`.
pub async fn provider_checksum(
    provider: &dyn Provider,
    entity: EntityKind,
) -> Result<Checksum, ProviderError> {
    let mut sum = Checksum::default();
    let mut from = None;
    loop {
        let page = provider
            .catalog_page(CatalogPageRequest {
                entity,
                from,
                limit: 1_000,
            })
            .await?;
        for record in &page.records {
            match record {
                CatalogRecord::Article(a) => sum.add(a),
                CatalogRecord::Category(c) => sum.add(c),
                CatalogRecord::Customer(c) => sum.add(c),
                CatalogRecord::Deleted { .. } => {}
            }
        }
        if !page.has_more {
            return Ok(sum);
        }
        from = Some(page.next);
    }
}

/// The checksum of what the store holds for `entity` of `tenant`.
pub async fn store_checksum(
    store: &CatalogStore,
    tenant: &str,
    entity: EntityKind,
) -> Result<Checksum, StoreError> {
    let mut sum = Checksum::default();
    match entity {
        EntityKind::Category => {
            for category in store.categories(tenant).await? {
                sum.add(&category);
            }
        }
        EntityKind::Article => {
            let mut after: Option<String> = None;
            loop {
                let page = store.articles_page(tenant, after.as_deref(), 1_000).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.0.clone());
                for article in &page {
                    sum.add(article);
                }
            }
        }
        EntityKind::Customer => {
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .customers_page(tenant, after.as_deref(), 1_000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.0.clone());
                for customer in &page {
                    sum.add(customer);
                }
            }
        }
    }
    Ok(sum)
}
