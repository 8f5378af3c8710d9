//! Query passthrough: planning, post-filtering, NDJSON streaming with backpressure.

use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{ACME_KEY, Hub, Options, problem};

async fn query(hub: &Hub, body: Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/v1/tenants/acme/query"))
        .bearer_auth(ACME_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn pushed_and_residual_filters_give_the_evaluators_answer() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    // `number like` is pushed to the sim; `unit eq` is not, the hub post-filters it.
    let filter = json!({"and": [
        {"field": "row_version", "op": "ge", "value": 1},
        {"field": "unit", "op": "eq", "value": "PCE"}
    ]});
    let r = query(
        &hub,
        json!({"entity": "article", "filter": filter, "page_size": 50}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let got = lines(&r.text().await.unwrap());

    // The reference answer: every article of the ERP, filtered by the model's evaluator.
    let filter: erpbridge_model::query::Filter = serde_json::from_value(filter).unwrap();
    let mut expected = Vec::new();
    let mut cursor = None;
    loop {
        let page = erpbridge_sim::query::query_page(
            &hub.acme,
            &erpbridge_model::query::Query {
                entity: erpbridge_model::query::QueryEntity::Article,
                filter: None,
                sort: vec![],
                page_size: Some(1000),
                cursor: cursor.clone(),
                include: vec![],
            },
        )
        .unwrap();
        for record in page.records {
            if erpbridge_model::query::eval::eval(&filter, &record).unwrap() {
                expected.push(record);
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(
        !expected.is_empty() && expected.len() < 500,
        "the filter selects some: {}",
        expected.len()
    );
    assert_eq!(got, expected);
    hub.stop().await;
}

#[tokio::test]
async fn invalid_or_unplannable_queries_are_422() {
    let hub = Hub::start(Options::default()).await;
    hub.wait_ready().await;
    let p = problem(
        query(
            &hub,
            json!({"entity": "article", "filter": {"field": "", "op": "eq", "value": 1}}),
        )
        .await,
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("field path"), "{p}");
    problem(
        query(&hub, json!({"entity": "article", "page_size": 0})).await,
        422,
    )
    .await;
    let p = problem(
        query(
            &hub,
            json!({"entity": "article", "sort": [{"field": "number"}]}),
        )
        .await,
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("sort"), "{p}");
    problem(query(&hub, json!({"entity": "spaceship"})).await, 422).await;
    hub.stop().await;
}

#[tokio::test]
async fn a_slow_client_does_not_make_the_hub_fetch_everything() {
    let hub = Hub::start(Options {
        articles: 10_000,
        sim: erpbridge_sim::SimConfig::fast(10_000),
        ..Options::default()
    })
    .await;
    hub.wait_ready().await;
    let addr = hub.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    // 10 records per page: 1,000 provider pages in all.
    let body = json!({"entity": "article", "page_size": 10}).to_string();
    let request = format!(
        "POST /v1/tenants/acme/query HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ACME_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let calls_before = hub.acme.stats().calls;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // Stop reading. The hub may fill the socket buffers, then it must stop asking the ERP.
    let mut last = hub.acme.stats().calls;
    let mut stable = 0;
    while stable < 5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = hub.acme.stats().calls;
        if now == last {
            stable += 1;
        } else {
            stable = 0;
            last = now;
        }
    }
    let fetched = last - calls_before;
    assert!(
        fetched < 500,
        "a stalled client made the hub fetch {fetched} of 1000 pages"
    );

    // Reading on resumes the stream up to the end.
    let mut total = 0usize;
    let mut tail = Vec::new();
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 16 {
            tail.drain(..tail.len() - 16);
        }
        if tail.ends_with(b"0\r\n\r\n") {
            break;
        }
    }
    assert!(total > 1_000_000);
    assert_eq!(hub.acme.stats().calls - calls_before, 1000);
    hub.stop().await;
}
