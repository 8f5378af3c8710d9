//! Keep-alive pings and idle eviction, on Tokio's paused clock.

use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_provider::{Provider, StockRequest};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::fake::{FakeErp, price_request};
use crate::support::{options, settle, until, until_stats};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn idle_sessions_above_min_are_evicted_and_the_rest_kept_alive() {
    let erp = FakeErp::pooled(2);
    let options = RuntimeOptions {
        min_sessions: 1,
        keepalive_interval: 5 * MINUTE,
        idle_timeout: 30 * MINUTE,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    settle(provider.wait_ready()).await;
    assert_eq!(provider.stats().sessions, 1);

    // Two calls at once: the second finds the only session busy and grows the pool.
    let gate = erp.hold_calls();
    let first = {
        let p = provider.clone();
        tokio::spawn(async move { p.prices(price_request("C1", "A-1")).await })
    };
    until("the first call to block", || gate.waiting.load(SeqCst) == 1).await;
    let second = {
        let p = provider.clone();
        tokio::spawn(async move { p.prices(price_request("C2", "A-2")).await })
    };
    until_stats(&provider, "a second session", |s| s.sessions_warm == 2).await;
    gate.open();
    settle(first).await.unwrap().unwrap();
    settle(second).await.unwrap().unwrap();
    assert_eq!(erp.shared.connects.load(SeqCst), 2);

    // 29 idle minutes: both sessions stay, each pinged at 5, 10, 15, 20 and 25 minutes.
    tokio::time::sleep(29 * MINUTE).await;
    until("ten pings", || erp.shared.pings.load(SeqCst) >= 10).await;
    assert_eq!(erp.shared.pings.load(SeqCst), 10);
    let stats = provider.stats();
    assert_eq!((stats.sessions, stats.evictions), (2, 0));

    // Past 30 idle minutes the session above min is logged out; min stays.
    tokio::time::sleep(2 * MINUTE).await;
    until("the evicted session to log out", || {
        erp.shared.sessions_dropped.load(SeqCst) == 1
    })
    .await;
    until_stats(&provider, "one warm session", |s| s.sessions_warm == 1).await;
    let stats = provider.stats();
    assert_eq!((stats.sessions, stats.evictions), (1, 1));
    assert!(stats.ready);

    // Two more hours: the min session is pinged and never dropped or re-logged in.
    let pings_before = erp.shared.pings.load(SeqCst);
    tokio::time::sleep(120 * MINUTE).await;
    until("keep-alive pings", || {
        erp.shared.pings.load(SeqCst) >= pings_before + 23
    })
    .await;
    let stats = provider.stats();
    assert_eq!((stats.sessions, stats.evictions), (1, 1));
    assert_eq!(erp.shared.connects.load(SeqCst), 2);
    assert_eq!(erp.shared.sessions_dropped.load(SeqCst), 1);
    assert_eq!(stats.ping_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn use_postpones_keep_alive_and_eviction() {
    let erp = FakeErp::pooled(2);
    let options = RuntimeOptions {
        min_sessions: 0,
        keepalive_interval: 5 * MINUTE,
        idle_timeout: 30 * MINUTE,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    // Busy every 4 minutes for an hour: no ping is needed and nothing is evicted.
    for _ in 0..15 {
        settle(provider.stock(StockRequest {
            article_ids: vec!["A-1".into()],
            warehouse_ids: vec![],
        }))
        .await
        .unwrap();
        tokio::time::sleep(4 * MINUTE).await;
    }
    assert_eq!(erp.shared.pings.load(SeqCst), 0);
    assert_eq!(provider.stats().evictions, 0);
    // With min_sessions = 0, a fully idle tenant releases its session.
    tokio::time::sleep(31 * MINUTE).await;
    until("the session to log out", || {
        erp.shared.sessions_dropped.load(SeqCst) == 1
    })
    .await;
    assert_eq!(provider.stats().sessions, 0);
    // And the next call logs in again.
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap();
    assert_eq!(erp.shared.connects.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_keep_alive_ping_replaces_the_session() {
    let erp = FakeErp::serial();
    let options = RuntimeOptions {
        keepalive_interval: 5 * MINUTE,
        ..options()
    };
    let provider = HostedProvider::start(erp.clone(), options).unwrap();
    settle(provider.wait_ready()).await;
    erp.shared.ping_fails.store(true, SeqCst);
    tokio::time::sleep(5 * MINUTE + Duration::from_secs(10)).await;
    until("the session to be replaced", || {
        erp.shared.connects.load(SeqCst) == 2
    })
    .await;
    erp.shared.ping_fails.store(false, SeqCst);
    let stats = provider.stats();
    assert_eq!((stats.ping_failures, stats.sessions_recycled), (1, 1));
    until_stats(&provider, "readiness", |s| s.ready).await;
    settle(provider.prices(price_request("C1", "A-1")))
        .await
        .unwrap();
}
