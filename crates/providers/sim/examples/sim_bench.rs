//! Generation and delta speed of the simulated ERP.
//!
//! `cargo run --release -p erpbridge-sim --example sim_bench -- [ARTICLES] [CHANGED]`
//! (defaults 1,500,000 articles, 10,000 changed per tick). Prints one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use erpbridge_model::{CatalogRecord, EntityKind};
use erpbridge_provider::CatalogPageRequest;
use erpbridge_sim::{Sim, SimConfig};
use std::time::Instant;

// The allocator the hub binary should use: generation is allocation-bound (about 100
// small strings per article), and glibc's malloc spends more time than the generator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let articles: u64 = args.next().map(|a| a.parse().unwrap()).unwrap_or(1_500_000);
    let changed: u64 = args.next().map(|a| a.parse().unwrap()).unwrap_or(10_000);
    let sim = Sim::new(SimConfig {
        change_percent_per_tick: changed as f64 * 100.0 / articles as f64,
        ..SimConfig::fast(articles)
    })
    .unwrap();

    let start = Instant::now();
    let (mut count, mut attributes, mut from) = (0u64, 0u64, None);
    let hwm = loop {
        let page = sim
            .catalog_page(&CatalogPageRequest {
                entity: EntityKind::Article,
                from,
                limit: 1000,
            })
            .unwrap();
        for r in &page.records {
            if let CatalogRecord::Article(a) = r {
                count += 1;
                attributes += a.attributes.len() as u64;
            }
        }
        if !page.has_more {
            break page.next;
        }
        from = Some(page.next);
    };
    let full = start.elapsed();

    let start = Instant::now();
    sim.advance(1);
    let advance = start.elapsed();

    let start = Instant::now();
    let (mut delta, mut from) = (0u64, Some(hwm));
    loop {
        let page = sim
            .catalog_page(&CatalogPageRequest {
                entity: EntityKind::Article,
                from,
                limit: 1000,
            })
            .unwrap();
        delta += page.records.len() as u64;
        if !page.has_more {
            break;
        }
        from = Some(page.next);
    }
    let delta_time = start.elapsed();

    println!(
        "{}",
        serde_json::json!({
            "articles": count,
            "attributes": attributes,
            "full_stream_seconds": full.as_secs_f64(),
            "articles_per_second": count as f64 / full.as_secs_f64(),
            "advance_one_tick_ms": advance.as_secs_f64() * 1e3,
            "delta_records": delta,
            "delta_seconds": delta_time.as_secs_f64(),
        })
    );
}
