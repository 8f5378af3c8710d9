use erpbridge_model::{IdempotencyKey, Order, OrderLine};
use erpbridge_provider::{BlockingSession, CreateOrderRequest, ErrorKind, OrderLookup};
use erpbridge_sim::{Sim, SimConfig};
use rust_decimal_macros::dec;
use std::time::Duration;

fn outcomes(config: SimConfig, calls: usize) -> Vec<Result<(), ErrorKind>> {
    let sim = Sim::new(config).unwrap();
    let mut session = sim.connect().unwrap();
    (0..calls)
        .map(|_| session.ping().map_err(|e| e.kind))
        .collect()
}

#[test]
fn injected_errors_are_transient_and_deterministic() {
    let config = SimConfig {
        error_rate: 0.3,
        ..SimConfig::fast(100)
    };
    let a = outcomes(config.clone(), 200);
    assert_eq!(a, outcomes(config, 200), "same seed, same faults");
    let failed = a.iter().filter(|r| r.is_err()).count();
    assert!((30..=90).contains(&failed), "about 30% fail: {failed}");
    assert!(
        a.iter()
            .all(|r| matches!(r, Ok(()) | Err(ErrorKind::Transient)))
    );
    assert!(
        outcomes(SimConfig::fast(100), 200)
            .iter()
            .all(Result::is_ok)
    );
}

#[test]
fn a_disconnect_kills_the_session_until_a_new_login() {
    let config = SimConfig {
        disconnect_rate: 0.1,
        ..SimConfig::fast(100)
    };
    let results = outcomes(config.clone(), 100);
    let first = results
        .iter()
        .position(Result::is_err)
        .expect("some call disconnects");
    assert!(
        results[first..]
            .iter()
            .all(|r| *r == Err(ErrorKind::Unavailable)),
        "dead from the first disconnect on: {results:?}"
    );
    let sim = Sim::new(config).unwrap();
    let mut dead = sim.connect().unwrap();
    while dead.ping().is_ok() {}
    assert!(dead.is_dead());
    let mut fresh = sim.connect().unwrap();
    assert!(!fresh.is_dead());
    // The new session has its own fault sequence; its first call usually succeeds.
    let _ = fresh.ping();
}

#[test]
fn a_timeout_hangs_then_fails_transient() {
    let sim = Sim::new(SimConfig {
        timeout_rate: 1.0,
        timeout_after: Duration::from_millis(30),
        ..SimConfig::fast(100)
    })
    .unwrap();
    let mut session = sim.connect().unwrap();
    let err = session.ping().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient);
    assert!(err.message.contains("timed out"), "{}", err.message);
}

#[test]
fn a_lost_reply_still_creates_the_order_once() {
    let sim = Sim::new(SimConfig {
        lost_reply_rate: 1.0,
        ..SimConfig::fast(100)
    })
    .unwrap();
    let mut session = sim.connect().unwrap();
    let request = CreateOrderRequest {
        idempotency_key: IdempotencyKey::new("lost"),
        order: Order {
            customer_id: "C0000001".into(),
            external_reference: None,
            lines: vec![OrderLine {
                article_id: "A00000001".into(),
                quantity: dec!(1),
                unit_price: None,
            }],
            currency: None,
            comment: None,
        },
    };
    for _ in 0..3 {
        let err = session.create_order(&request).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient);
    }
    assert_eq!(sim.order_count(&"lost".into()), 1);
    // Reads are not writes: their replies are never "lost".
    assert!(
        session
            .order_status(&OrderLookup::ByKey("lost".into()))
            .is_ok()
    );
}
