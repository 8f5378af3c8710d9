use erpbridge_model::ArticleId;
use erpbridge_provider::{BlockingSession, ErrorKind, PriceItem, PriceRequest};
use erpbridge_sim::{Sim, SimConfig};
use rust_decimal::Decimal;
use std::sync::Barrier;
use std::time::Duration;

fn slow_sim() -> Sim {
    Sim::new(SimConfig {
        per_call_latency: Duration::from_millis(300),
        ..SimConfig::fast(100)
    })
    .unwrap()
}

fn price_request() -> PriceRequest {
    PriceRequest {
        customer_id: "C0000001".into(),
        items: vec![PriceItem {
            article_id: ArticleId::new("A00000001"),
            quantity: Decimal::ONE,
        }],
    }
}

#[test]
fn two_threads_on_one_session_trip_the_detector() {
    let sim = slow_sim();
    let session = sim.connect().unwrap();
    let raw = session.raw();
    let barrier = Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let raw = raw.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    raw.prices(&price_request())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        failures.len(),
        1,
        "exactly the intruding call fails: {results:?}"
    );
    assert_eq!(failures[0].kind, ErrorKind::Fatal);
    assert!(
        failures[0].message.contains(&format!(
            "concurrent access to session {} detected",
            session.number()
        )),
        "{}",
        failures[0].message
    );
    assert_eq!(sim.concurrency_violations(), 1);
    assert_eq!(sim.stats().concurrency_violations, 1);
}

#[test]
fn sequential_use_and_separate_sessions_never_trip_it() {
    let sim = Sim::new(SimConfig {
        per_call_latency: Duration::from_millis(20),
        ..SimConfig::fast(100)
    })
    .unwrap();
    let mut one = sim.connect().unwrap();
    for _ in 0..3 {
        one.prices(&price_request()).unwrap();
    }
    // Two different sessions used at the same time is fine (a pool does this). They log
    // in one after the other, as a pool does: overlapping logins are a violation of
    // their own (see below), and connecting inside the threads made this test flaky.
    let sessions = [sim.connect().unwrap(), sim.connect().unwrap()];
    std::thread::scope(|s| {
        for mut session in sessions {
            s.spawn(move || {
                for _ in 0..3 {
                    session.ping().unwrap();
                }
            });
        }
    });
    assert_eq!(sim.concurrency_violations(), 0);
    assert_eq!(sim.stats().logins, 3);
}

#[test]
fn overlapping_logins_are_detected_too() {
    let sim = Sim::new(SimConfig {
        init_delay: Duration::from_millis(200),
        ..SimConfig::fast(100)
    })
    .unwrap();
    let barrier = Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (sim, barrier) = (&sim, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    sim.connect().map(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(sim.stats().login_violations, 1);
}
