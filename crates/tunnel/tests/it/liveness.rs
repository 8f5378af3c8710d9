//! Offline detection, deadlines, cancellation and credit.

use std::sync::Arc;
use std::time::Duration;

use erpbridge_model::EntityKind;
use erpbridge_provider::{CatalogPageRequest, ErrorKind, PriceRequest, Provider};
use erpbridge_remote::proto as ppb;
use erpbridge_sim::SimConfig;
use erpbridge_sim::generate::customer_id;
use erpbridge_tunnel::proto::{self as pb, connector_frame::Frame as C, hub_frame::Frame as H};
use erpbridge_tunnel::{ConnectorSettings, ConnectorStatus, TunnelProvider};
use futures::StreamExt;

use crate::support::{connect, frame, hosted_sim, raw_client, settings, tunnel, until};

fn empty_prices() -> PriceRequest {
    PriceRequest {
        customer_id: customer_id(1),
        items: vec![],
    }
}

#[tokio::test]
async fn a_dead_connector_is_offline_at_once_and_a_new_one_takes_over() {
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let tunnel = tunnel(vec![("acme", settings(&["t"]))]).await;
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    let first = connect(&tunnel.url(), "t", "acme", Arc::clone(&local));
    until("online", || tunnel.registry.is_online("acme")).await;
    remote.health().await.unwrap();

    first.handle.abort();
    until("offline", || !tunnel.registry.is_online("acme")).await;
    let err = remote.health().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.retry_after.is_some());
    let info = &tunnel.registry.list()[0];
    assert_eq!(info.status, ConnectorStatus::Offline);
    assert!(info.disconnected_at.is_some() && info.last_error.is_some());

    let second = connect(&tunnel.url(), "t", "acme", local);
    until("online again", || tunnel.registry.is_online("acme")).await;
    assert_eq!(second.connector.sessions(), 1);
    assert!(remote.health().await.unwrap().ok);
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 2);
}

#[tokio::test]
async fn missed_heartbeats_make_a_connector_offline() {
    let settings = ConnectorSettings {
        heartbeat_interval: Duration::from_millis(100),
        missed_heartbeats: 2,
        ..settings(&["t"])
    };
    let tunnel = tunnel(vec![("acme", settings)]).await;
    // A raw client registers and then stays silent, like a connector behind a cut
    // network whose TCP connection still looks open.
    let _silent = raw_client(&tunnel.url(), "t", "acme").await.unwrap();
    assert!(tunnel.registry.is_online("acme"));
    until("offline", || !tunnel.registry.is_online("acme")).await;
    let info = &tunnel.registry.list()[0];
    assert!(
        info.last_error
            .as_deref()
            .unwrap_or("")
            .contains("heartbeats missed"),
        "{info:?}"
    );
}

#[tokio::test]
async fn heartbeats_keep_a_connector_online_and_carry_its_metrics() {
    let settings = ConnectorSettings {
        heartbeat_interval: Duration::from_millis(100),
        missed_heartbeats: 2,
        ..settings(&["t"])
    };
    let (_sim, local) = hosted_sim(SimConfig::fast(100)).await;
    let tunnel = tunnel(vec![("acme", settings)]).await;
    let _c = connect(&tunnel.url(), "t", "acme", local);
    until("online", || tunnel.registry.is_online("acme")).await;
    TunnelProvider::new(tunnel.registry.clone(), "acme")
        .health()
        .await
        .unwrap();
    until("metrics reported", || {
        tunnel.registry.list()[0]
            .metrics
            .as_ref()
            .is_some_and(|m| m.calls_total >= 1)
    })
    .await;
    // Well past interval x missed: still the same session.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(tunnel.registry.is_online("acme"));
    assert_eq!(tunnel.registry.sessions_accepted("acme"), 1);
}

#[tokio::test]
async fn a_call_past_its_deadline_is_transient_and_cancelled_on_the_connector() {
    let settings = ConnectorSettings {
        deadline: Duration::from_millis(200),
        ..settings(&["t"])
    };
    let tunnel = tunnel(vec![("acme", settings)]).await;
    let mut raw = raw_client(&tunnel.url(), "t", "acme").await.unwrap();
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    let call = tokio::spawn(async move { remote.prices(empty_prices()).await });
    let H::Call(sent) = raw.next().await else {
        panic!("expected a call")
    };
    assert!(matches!(sent.request, Some(pb::call::Request::Prices(_))));
    // No answer: the caller gets a transient error and the connector a cancel.
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient);
    let H::Cancel(cancel) = raw.next().await else {
        panic!("expected a cancel")
    };
    assert_eq!(cancel.call_id, sent.call_id);
}

#[tokio::test]
async fn a_caller_that_gives_up_cancels_its_call_and_late_replies_are_dropped() {
    let tunnel = tunnel(vec![("acme", settings(&["t"]))]).await;
    let mut raw = raw_client(&tunnel.url(), "t", "acme").await.unwrap();
    let remote = Arc::new(TunnelProvider::new(tunnel.registry.clone(), "acme"));
    let r = Arc::clone(&remote);
    let call = tokio::spawn(async move { r.prices(empty_prices()).await });
    let H::Call(sent) = raw.next().await else {
        panic!("expected a call")
    };
    call.abort();
    let H::Cancel(cancel) = raw.next().await else {
        panic!("expected a cancel")
    };
    assert_eq!(cancel.call_id, sent.call_id);
    // A reply after the cancel reaches nobody and breaks nothing.
    raw.tx
        .send(frame(C::Reply(pb::Reply {
            call_id: sent.call_id,
            result: Some(pb::reply::Result::Prices(ppb::PriceResponse {
                quotes: vec![],
            })),
        })))
        .await
        .unwrap();
    let r = Arc::clone(&remote);
    let next = tokio::spawn(async move { r.prices(empty_prices()).await });
    let H::Call(second) = raw.next().await else {
        panic!("expected a call")
    };
    assert_ne!(second.call_id, sent.call_id);
    raw.tx
        .send(frame(C::Reply(pb::Reply {
            call_id: second.call_id,
            result: Some(pb::reply::Result::Prices(ppb::PriceResponse {
                quotes: vec![],
            })),
        })))
        .await
        .unwrap();
    assert_eq!(next.await.unwrap().unwrap(), vec![]);
}

fn page(n: u64, has_more: bool) -> ppb::CatalogPage {
    ppb::CatalogPage {
        records: vec![],
        next_cursor: format!("c{n}"),
        has_more,
    }
}

#[tokio::test]
async fn a_connector_sending_beyond_its_credit_fails_the_stream() {
    let settings = ConnectorSettings {
        stream_credit: 2,
        ..settings(&["t"])
    };
    let tunnel = tunnel(vec![("acme", settings)]).await;
    let mut raw = raw_client(&tunnel.url(), "t", "acme").await.unwrap();
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    let consumer = tokio::spawn(async move {
        let mut pages = remote.catalog_stream(CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: 10,
        });
        // Read nothing until the connector has sent; then drain.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut results = Vec::new();
        while let Some(p) = pages.next().await {
            results.push(p);
        }
        results
    });
    let H::Call(call) = raw.next().await else {
        panic!("expected a call")
    };
    let Some(pb::call::Request::CatalogStream(stream)) = call.request else {
        panic!("expected a catalog stream")
    };
    assert_eq!(stream.initial_credit, 2);
    for n in 0..3 {
        raw.tx
            .send(frame(C::Chunk(pb::StreamChunk {
                call_id: call.call_id,
                page: Some(page(n, true)),
            })))
            .await
            .unwrap();
    }
    let H::Cancel(cancel) = raw.next().await else {
        panic!("expected a cancel")
    };
    assert_eq!(cancel.call_id, call.call_id);
    let results = consumer.await.unwrap();
    assert_eq!(results.len(), 3, "two pages then the error: {results:?}");
    assert!(results[0].is_ok() && results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("credit"), "{err}");
}

#[tokio::test]
async fn credit_is_granted_page_by_page_as_the_consumer_reads() {
    let settings = ConnectorSettings {
        stream_credit: 1,
        ..settings(&["t"])
    };
    let tunnel = tunnel(vec![("acme", settings)]).await;
    let mut raw = raw_client(&tunnel.url(), "t", "acme").await.unwrap();
    let remote = TunnelProvider::new(tunnel.registry.clone(), "acme");
    let (took_tx, mut took) = tokio::sync::mpsc::channel(8);
    let consumer = tokio::spawn(async move {
        let mut pages = remote.catalog_stream(CatalogPageRequest {
            entity: EntityKind::Article,
            from: None,
            limit: 10,
        });
        let mut n = 0;
        while let Some(p) = pages.next().await {
            p.unwrap();
            n += 1;
            took_tx.send(n).await.unwrap();
        }
        n
    });
    let H::Call(call) = raw.next().await else {
        panic!("expected a call")
    };
    for n in 0..3u64 {
        raw.tx
            .send(frame(C::Chunk(pb::StreamChunk {
                call_id: call.call_id,
                page: Some(page(n, n < 2)),
            })))
            .await
            .unwrap();
        assert_eq!(took.recv().await, Some(n + 1));
        if n < 2 {
            // Taking a page that has more grants exactly one more page.
            let H::Credit(credit) = raw.next().await else {
                panic!("expected credit")
            };
            assert_eq!((credit.call_id, credit.pages), (call.call_id, 1));
        }
    }
    raw.tx
        .send(frame(C::End(pb::StreamEnd {
            call_id: call.call_id,
            error: None,
        })))
        .await
        .unwrap();
    assert_eq!(consumer.await.unwrap(), 3);
}
