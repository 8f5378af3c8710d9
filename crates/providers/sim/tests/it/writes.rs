use erpbridge_model::{
    Bom, BomMaterial, IdempotencyKey, InventoryAdjustment, Order, OrderLine, OrderState,
};
use erpbridge_provider::{
    BomSyncRequest, CreateOrderRequest, ErrorKind, InventoryAdjustRequest, OrderActionRequest,
    OrderLookup, StockRequest,
};
use erpbridge_sim::{Sim, SimConfig, load_journal};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::io::Write;

fn order(reference: &str) -> Order {
    Order {
        customer_id: "C0000007".into(),
        external_reference: Some(reference.to_owned()),
        lines: vec![OrderLine {
            article_id: "A00000003".into(),
            quantity: dec!(4),
            unit_price: None,
        }],
        currency: None,
        comment: None,
    }
}

fn create(key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: IdempotencyKey::new(key),
        order: order(&format!("shop-{key}")),
    }
}

#[test]
fn create_order_is_idempotent_by_key() {
    let sim = crate::sim(100);
    let first = sim.create_order(&create("k1")).unwrap();
    assert!(!first.already_existed);
    assert_eq!(first.state, OrderState::Draft);
    let again = sim.create_order(&create("k1")).unwrap();
    assert!(again.already_existed);
    assert_eq!(again.erp_order_id, first.erp_order_id);
    let other = sim.create_order(&create("k2")).unwrap();
    assert_ne!(other.erp_order_id, first.erp_order_id);
    assert_eq!(sim.order_count(&"k1".into()), 1);
    assert_eq!(sim.orders_by_key().len(), 2);

    let status = sim.order_status(&OrderLookup::ByKey("k1".into())).unwrap();
    assert_eq!(status.erp_order_id, first.erp_order_id);
    assert_eq!(status.external_reference.as_deref(), Some("shop-k1"));
}

#[test]
fn invalid_orders_are_fatal_and_create_nothing() {
    let sim = crate::sim(100);
    let mut bad = create("bad");
    bad.order.lines[0].article_id = "A99999999".into();
    let err = sim.create_order(&bad).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("A99999999"), "{}", err.message);
    let mut bad = create("bad2");
    bad.order.customer_id = "C9999999".into();
    assert_eq!(sim.create_order(&bad).unwrap_err().kind, ErrorKind::Fatal);
    let mut bad = create("bad3");
    bad.order.lines[0].quantity = dec!(0);
    assert_eq!(sim.create_order(&bad).unwrap_err().kind, ErrorKind::Fatal);
    assert!(sim.orders().is_empty());
    let missing = sim
        .order_status(&OrderLookup::ByKey("bad".into()))
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
}

#[test]
fn confirm_and_cancel_follow_the_order_life() {
    let sim = crate::sim(100);
    let receipt = sim.create_order(&create("k")).unwrap();
    let action = OrderActionRequest {
        idempotency_key: "k".into(),
        erp_order_id: receipt.erp_order_id.clone(),
    };
    assert_eq!(
        sim.confirm_order(&action).unwrap().state,
        OrderState::Confirmed
    );
    assert_eq!(
        sim.confirm_order(&action).unwrap().state,
        OrderState::Confirmed
    );
    assert_eq!(
        sim.cancel_order(&action).unwrap().state,
        OrderState::Cancelled
    );
    assert_eq!(
        sim.cancel_order(&action).unwrap().state,
        OrderState::Cancelled
    );
    let err = sim.confirm_order(&action).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::Fatal,
        "a cancelled order cannot be confirmed"
    );
    let unknown = OrderActionRequest {
        erp_order_id: "SO9999999".into(),
        ..action
    };
    assert_eq!(
        sim.cancel_order(&unknown).unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[test]
fn the_journal_survives_reopening_and_is_readable_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim-state.jsonl");
    let config = SimConfig {
        state_file: Some(path.clone()),
        ..SimConfig::fast(100)
    };
    let first_id = {
        let sim = Sim::new(config.clone()).unwrap();
        let receipt = sim.create_order(&create("k1")).unwrap();
        sim.confirm_order(&OrderActionRequest {
            idempotency_key: "k1".into(),
            erp_order_id: receipt.erp_order_id.clone(),
        })
        .unwrap();
        sim.create_order(&create("k2")).unwrap();
        receipt.erp_order_id
    };

    let reopened = Sim::new(config.clone()).unwrap();
    let again = reopened.create_order(&create("k1")).unwrap();
    assert!(again.already_existed, "the key is found after a restart");
    assert_eq!(again.erp_order_id, first_id);
    assert_eq!(again.state, OrderState::Confirmed);
    let third = reopened.create_order(&create("k3")).unwrap();
    assert_eq!(third.erp_order_id.0, "SO0000003", "numbering continues");

    let ledger = load_journal(&path).unwrap();
    assert_eq!(ledger.order_count(&"k1".into()), 1);
    assert_eq!(ledger.orders().len(), 3);
    assert_eq!(ledger.orders_by_key().len(), 3);

    // A crash mid-append leaves a torn last line: it was never acknowledged, so it is
    // ignored; garbage before the end is an error.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"{\"op\":\"order_created\",\"key\":\"k4\"")
        .unwrap();
    drop(file);
    assert_eq!(load_journal(&path).unwrap().orders().len(), 3);
    assert!(Sim::new(config.clone()).is_ok());
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"\n{\"op\":\"order_state_changed\"}\n")
        .unwrap();
    drop(file);
    let err = load_journal(&path).unwrap_err();
    assert!(err.to_string().contains("sim-state.jsonl"), "{err}");
}

#[test]
fn bom_and_inventory_writes_are_idempotent_and_move_stock() {
    let sim = crate::sim(100);
    let bom = BomSyncRequest {
        idempotency_key: "b1".into(),
        bom: Bom {
            bom_id: None,
            product: "A00000010".into(),
            name: "Kit".into(),
            output_quantity: dec!(1),
            materials: vec![BomMaterial {
                article_id: "A00000011".into(),
                quantity: dec!(2),
                unit: None,
            }],
        },
    };
    let first = sim.sync_bom(&bom).unwrap();
    let again = sim.sync_bom(&bom).unwrap();
    assert!(!first.already_existed && again.already_existed);
    assert_eq!(first.bom_id, again.bom_id);

    let stock = |sim: &Sim| {
        sim.stock(&StockRequest {
            article_ids: vec!["A00000010".into()],
            warehouse_ids: vec!["W2".into()],
        })
        .unwrap()[0]
            .available
    };
    let before = stock(&sim);
    let adjust = InventoryAdjustRequest {
        idempotency_key: "i1".into(),
        adjustments: vec![InventoryAdjustment {
            article_id: "A00000010".into(),
            warehouse_id: "W2".into(),
            delta: dec!(25),
            reason: None,
        }],
    };
    let receipt = sim.adjust_inventory(&adjust).unwrap();
    assert!(!receipt.already_existed);
    assert!(sim.adjust_inventory(&adjust).unwrap().already_existed);
    assert_eq!(stock(&sim), before + dec!(25), "applied once");

    let too_much = InventoryAdjustRequest {
        idempotency_key: "i2".into(),
        adjustments: vec![InventoryAdjustment {
            delta: -(before + dec!(26)),
            ..adjust.adjustments[0].clone()
        }],
    };
    assert_eq!(
        sim.adjust_inventory(&too_much).unwrap_err().kind,
        ErrorKind::Fatal
    );
    assert_eq!(stock(&sim), before + dec!(25));
    assert!(before >= Decimal::ZERO);
}

#[test]
fn with_order_progress_confirmed_orders_move_on_with_the_clock() {
    let sim = Sim::new(SimConfig {
        order_progress: true,
        ..SimConfig::fast(100)
    })
    .unwrap();
    let draft = sim.create_order(&create("draft")).unwrap();
    let confirmed = sim.create_order(&create("confirmed")).unwrap();
    sim.confirm_order(&OrderActionRequest {
        idempotency_key: "confirmed".into(),
        erp_order_id: confirmed.erp_order_id.clone(),
    })
    .unwrap();
    let state = |id: &erpbridge_model::ErpOrderId| {
        sim.order_status(&OrderLookup::ById(id.clone())).unwrap()
    };
    let mut seen = Vec::new();
    for _ in 0..4 {
        sim.advance(1);
        seen.push(state(&confirmed.erp_order_id).state);
    }
    assert_eq!(
        seen,
        [
            OrderState::Processing,
            OrderState::Shipped,
            OrderState::Done,
            OrderState::Done
        ]
    );
    assert_eq!(
        state(&confirmed.erp_order_id).shipment_state.as_deref(),
        Some("delivered")
    );
    assert_eq!(
        state(&draft.erp_order_id).state,
        OrderState::Draft,
        "drafts wait"
    );
    let cancel = sim.cancel_order(&OrderActionRequest {
        idempotency_key: "confirmed".into(),
        erp_order_id: confirmed.erp_order_id.clone(),
    });
    assert_eq!(
        cancel.unwrap_err().kind,
        ErrorKind::Fatal,
        "a delivered order cannot be cancelled"
    );
}
