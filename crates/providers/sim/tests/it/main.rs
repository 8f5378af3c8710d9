//! Integration tests of the simulated ERP: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog;
mod config;
mod detector;
mod faults;
mod live;
mod query;
mod runtime;
mod writes;

use erpbridge_model::{CatalogRecord, ChangeCursor, EntityKind};
use erpbridge_provider::{CatalogPageRequest, ProviderResult};
use erpbridge_sim::{Sim, SimConfig};

pub fn sim(articles: u64) -> Sim {
    Sim::new(SimConfig::fast(articles)).unwrap()
}

/// Pages through a stream from `from` until `has_more` is false; returns the records and
/// the final cursor.
pub fn drain(
    sim: &Sim,
    entity: EntityKind,
    from: Option<ChangeCursor>,
    limit: u32,
) -> ProviderResult<(Vec<CatalogRecord>, ChangeCursor)> {
    let mut records = Vec::new();
    let mut request = CatalogPageRequest {
        entity,
        from,
        limit,
    };
    loop {
        let page = sim.catalog_page(&request)?;
        records.extend(page.records);
        if !page.has_more {
            return Ok((records, page.next));
        }
        request.from = Some(page.next);
    }
}

pub fn record_id(record: &CatalogRecord) -> String {
    match record {
        CatalogRecord::Article(a) => a.id.0.clone(),
        CatalogRecord::Category(c) => c.id.0.clone(),
        CatalogRecord::Customer(c) => c.id.0.clone(),
        CatalogRecord::Deleted { id, .. } => id.clone(),
    }
}
