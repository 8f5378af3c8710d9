//! Reconnects after the provider process dies, resumable streams, backpressure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use erpbridge_model::{CatalogRecord, EntityKind};
use erpbridge_provider::{CatalogPageRequest, PriceItem, PriceRequest, Provider};
use erpbridge_sim::SimConfig;
use futures::StreamExt;
use rust_decimal::Decimal;

use crate::fakes::FakeProvider;
use crate::support::{ServerThread, client, hosted_sim, loopback, serve};

fn one_price() -> PriceRequest {
    PriceRequest {
        customer_id: erpbridge_sim::generate::customer_id(0),
        items: vec![PriceItem {
            article_id: erpbridge_sim::generate::article_id(0),
            quantity: Decimal::ONE,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_the_server_is_killed_and_restarted() {
    let (_sim, provider) = hosted_sim(SimConfig::fast(200)).await;
    let server = ServerThread::start(provider.clone(), loopback());
    let addr = server.addr;
    let remote = client(&server.url(), Duration::from_secs(2));
    assert_eq!(remote.prices(one_price()).await.unwrap().len(), 1);

    server.kill();
    let err = remote.prices(one_price()).await.unwrap_err();
    assert!(
        err.is_retryable(),
        "a dead provider must be retryable: {err}"
    );

    let server = ServerThread::start(provider, addr);
    let mut answered = None;
    for _ in 0..50 {
        match remote.prices(one_price()).await {
            Ok(quotes) => {
                answered = Some(quotes);
                break;
            }
            Err(err) => {
                assert!(err.is_retryable(), "{err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(answered.expect("no answer after the restart").len(), 1);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_stream_resumes_from_its_cursor_when_the_server_restarts() {
    let (_sim, provider) = hosted_sim(SimConfig::fast(3_000)).await;
    let server = ServerThread::start(provider.clone(), loopback());
    let addr = server.addr;
    let remote = client(&server.url(), Duration::from_secs(5));

    let mut ids = Vec::new();
    let mut stream = remote.catalog_stream(CatalogPageRequest {
        entity: EntityKind::Article,
        from: None,
        // Small pages: many more than the flow-control windows hold, so the kill
        // lands while most of the catalog is still unsent.
        limit: 20,
    });
    let mut collect = |page: erpbridge_provider::CatalogPage| {
        for record in page.records {
            match record {
                CatalogRecord::Article(a) => ids.push(a.id),
                other => panic!("unexpected {other:?}"),
            }
        }
        page.has_more
    };
    for _ in 0..5 {
        assert!(collect(stream.next().await.unwrap().unwrap()));
    }
    server.kill();
    let server = ServerThread::start(provider.clone(), addr);
    while let Some(page) = stream.next().await {
        if !collect(page.expect("the stream must resume, not fail")) {
            break;
        }
    }
    drop(stream);
    server.kill();

    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a page was delivered twice");
    let expected: BTreeSet<_> = (0..3_000)
        .map(erpbridge_sim::generate::article_id)
        .collect();
    assert_eq!(unique, expected);
}

#[tokio::test]
async fn a_slow_reader_holds_the_provider_back() {
    let fake = Arc::new(FakeProvider::default());
    let produced = fake.pages_produced.clone();
    let server = serve(fake).await;
    let remote = client(&server.url(), Duration::from_secs(5));
    let mut stream = remote.catalog_stream(CatalogPageRequest {
        entity: EntityKind::Article,
        from: None,
        limit: 4,
    });
    // The fake catalog is endless (each page ~256 KiB); read two pages, then stop reading.
    for _ in 0..2 {
        stream.next().await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_pause = produced.load(Ordering::SeqCst);
    // Flow-control windows and the server's small page buffer hold a bounded number of
    // pages (a few MiB); without backpressure the producer would be in the thousands.
    assert!(
        after_pause < 64,
        "the provider produced {after_pause} pages for a reader that took 2"
    );
    drop(stream);
    server.abort();
}
