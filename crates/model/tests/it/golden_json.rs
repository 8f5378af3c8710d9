//! The JSON shapes of the domain types, pinned.
//!
//! These values travel over HTTP (the shop's API), over gRPC and the connector tunnel
//! (providers in other processes and languages), and sit in the store as JSON. This
//! module is that contract: each test writes the literal JSON a client sees and checks
//! that a representative value serialises to exactly it and that it deserialises back to
//! the same value. A failing test here means the wire format changed; that is a breaking
//! change for every client and provider, to be made on purpose, not by a rename.
//!
//! Money and quantities are decimal strings (never floats), timestamps RFC 3339 in UTC,
//! dates `YYYY-MM-DD`, enums `snake_case` strings, ids plain strings.

use chrono::{NaiveDate, TimeZone, Utc};
use erpbridge_model::{
    Article, ArticleReference, Attribute, Bom, BomMaterial, CatalogRecord, Category, Customer,
    EntityKind, Image, InventoryAdjustment, Order, OrderLine, OrderReceipt, OrderState,
    OrderStatus, PriceQuote, QuantityBreak, ReferenceKind, StockLevel,
};
use rust_decimal_macros::dec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

/// `value` serialises to exactly `expected`, and `expected` reads back as `value`.
#[track_caller]
fn golden<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let written = serde_json::to_value(value).unwrap();
    assert_eq!(
        written,
        expected,
        "serialised shape changed:\n{}",
        serde_json::to_string_pretty(&written).unwrap()
    );
    // Through text as well as through `Value`: clients send text, and a type that reads
    // only from one of them (number vs string decimals) would slip through otherwise.
    let text = serde_json::to_string(&expected).unwrap();
    let read: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&read, value);
}

fn sample_article() -> Article {
    Article {
        id: "A-1001".into(),
        number: "SKS-M8x40".into(),
        names: [
            ("de".to_owned(), "Sechskantschraube M8x40".to_owned()),
            ("en".to_owned(), "Hex bolt M8x40".to_owned()),
        ]
        .into(),
        descriptions: [("de".to_owned(), "DIN 933, verzinkt".to_owned())].into(),
        categories: vec!["C-10".into(), "C-11".into()],
        unit: Some("PCE".into()),
        attributes: vec![
            Attribute {
                key: "length".into(),
                value: "40.0".into(),
                unit: Some("mm".into()),
                lang: None,
            },
            Attribute {
                key: "surface".into(),
                value: "verzinkt".into(),
                unit: None,
                lang: Some("de".into()),
            },
        ],
        images: vec![Image {
            url: "https://cdn.example/a-1001.jpg".into(),
            caption: Some("front".into()),
            position: 1,
        }],
        references: vec![
            ArticleReference {
                kind: ReferenceKind::SparePart,
                target: "A-2002".into(),
            },
            ArticleReference {
                kind: ReferenceKind::Gtin,
                target: "4006381333931".into(),
            },
        ],
        row_version: 42,
        updated_at: Some(Utc.with_ymd_and_hms(2024, 5, 1, 10, 15, 0).unwrap()),
    }
}

fn article_json() -> Value {
    json!({
        "id": "A-1001",
        "number": "SKS-M8x40",
        "names": {"de": "Sechskantschraube M8x40", "en": "Hex bolt M8x40"},
        "descriptions": {"de": "DIN 933, verzinkt"},
        "categories": ["C-10", "C-11"],
        "unit": "PCE",
        "attributes": [
            {"key": "length", "value": "40.0", "unit": "mm"},
            {"key": "surface", "value": "verzinkt", "lang": "de"}
        ],
        "images": [{"url": "https://cdn.example/a-1001.jpg", "caption": "front", "position": 1}],
        "references": [
            {"kind": "spare_part", "target": "A-2002"},
            {"kind": "gtin", "target": "4006381333931"}
        ],
        "row_version": 42,
        "updated_at": "2024-05-01T10:15:00Z"
    })
}

#[test]
fn article() {
    golden(&sample_article(), article_json());
}

#[test]
fn article_optional_fields_are_left_out_and_may_be_omitted() {
    let bare = Article {
        id: "A-1".into(),
        number: "1".into(),
        names: Default::default(),
        descriptions: Default::default(),
        categories: vec![],
        unit: None,
        attributes: vec![],
        images: vec![],
        references: vec![],
        row_version: 1,
        updated_at: None,
    };
    golden(
        &bare,
        json!({
            "id": "A-1",
            "number": "1",
            "names": {},
            "descriptions": {},
            "categories": [],
            "attributes": [],
            "images": [],
            "references": [],
            "row_version": 1
        }),
    );
    // A provider in another language may send only what it has.
    let minimal: Article =
        serde_json::from_value(json!({"id": "A-1", "number": "1", "row_version": 1})).unwrap();
    assert_eq!(minimal, bare);
}

#[test]
fn every_reference_kind() {
    use ReferenceKind::*;
    let kinds = [
        (Accessory, "accessory"),
        (SparePart, "spare_part"),
        (Successor, "successor"),
        (Alternative, "alternative"),
        (Manufacturer, "manufacturer"),
        (Customer, "customer"),
        (Gtin, "gtin"),
    ];
    for (kind, name) in kinds {
        golden(&kind, json!(name));
    }
}

#[test]
fn catalog_record_is_internally_tagged_by_type() {
    let mut tagged = article_json();
    tagged["type"] = json!("article");
    golden(&CatalogRecord::Article(sample_article()), tagged);

    golden(
        &CatalogRecord::Category(Category {
            id: "C-11".into(),
            parent: Some("C-10".into()),
            names: [("de".to_owned(), "Schrauben".to_owned())].into(),
            row_version: 7,
        }),
        json!({
            "type": "category",
            "id": "C-11",
            "parent": "C-10",
            "names": {"de": "Schrauben"},
            "row_version": 7
        }),
    );

    golden(
        &CatalogRecord::Customer(Customer {
            id: "K-500".into(),
            number: "10500".into(),
            name: "Muster GmbH".into(),
            email: Some("einkauf@muster.example".into()),
            currency: "EUR".into(),
            row_version: 3,
        }),
        json!({
            "type": "customer",
            "id": "K-500",
            "number": "10500",
            "name": "Muster GmbH",
            "email": "einkauf@muster.example",
            "currency": "EUR",
            "row_version": 3
        }),
    );

    for (entity, name) in [
        (EntityKind::Article, "article"),
        (EntityKind::Category, "category"),
        (EntityKind::Customer, "customer"),
    ] {
        golden(
            &CatalogRecord::Deleted {
                entity,
                id: "X-9".into(),
            },
            json!({"type": "deleted", "entity": name, "id": "X-9"}),
        );
    }
}

#[test]
fn price_quote() {
    golden(
        &PriceQuote {
            article_id: "A-1001".into(),
            customer_id: "K-500".into(),
            unit_price: dec!(12.50),
            currency: "EUR".into(),
            quantity: dec!(10),
            breaks: vec![
                QuantityBreak {
                    min_quantity: dec!(1),
                    unit_price: dec!(12.50),
                },
                QuantityBreak {
                    min_quantity: dec!(100),
                    unit_price: dec!(11.125),
                },
            ],
            valid_from: Some(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            valid_until: Some(NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()),
        },
        json!({
            "article_id": "A-1001",
            "customer_id": "K-500",
            "unit_price": "12.50",
            "currency": "EUR",
            "quantity": "10",
            "breaks": [
                {"min_quantity": "1", "unit_price": "12.50"},
                {"min_quantity": "100", "unit_price": "11.125"}
            ],
            "valid_from": "2024-01-01",
            "valid_until": "2024-12-31"
        }),
    );
}

#[test]
fn stock_level() {
    golden(
        &StockLevel {
            article_id: "A-1001".into(),
            warehouse_id: "WH-1".into(),
            available: dec!(120.5),
            reserved: dec!(4),
        },
        json!({
            "article_id": "A-1001",
            "warehouse_id": "WH-1",
            "available": "120.5",
            "reserved": "4"
        }),
    );
}

#[test]
fn order() {
    golden(
        &Order {
            customer_id: "K-500".into(),
            external_reference: Some("SHOP-2024-0001".into()),
            lines: vec![
                OrderLine {
                    article_id: "A-1001".into(),
                    quantity: dec!(10),
                    unit_price: Some(dec!(12.50)),
                },
                OrderLine {
                    article_id: "A-2002".into(),
                    quantity: dec!(0.5),
                    unit_price: None,
                },
            ],
            currency: Some("EUR".into()),
            comment: Some("Rampe 3".into()),
        },
        json!({
            "customer_id": "K-500",
            "external_reference": "SHOP-2024-0001",
            "lines": [
                {"article_id": "A-1001", "quantity": "10", "unit_price": "12.50"},
                {"article_id": "A-2002", "quantity": "0.5"}
            ],
            "currency": "EUR",
            "comment": "Rampe 3"
        }),
    );
}

#[test]
fn order_receipt() {
    golden(
        &OrderReceipt {
            erp_order_id: "SO-77".into(),
            idempotency_key: "order-7f3a".into(),
            state: OrderState::Draft,
            already_existed: true,
        },
        json!({
            "erp_order_id": "SO-77",
            "idempotency_key": "order-7f3a",
            "state": "draft",
            "already_existed": true
        }),
    );
}

#[test]
fn order_status_and_every_state() {
    golden(
        &OrderStatus {
            erp_order_id: "SO-77".into(),
            state: OrderState::Shipped,
            shipment_state: Some("partially shipped".into()),
            external_reference: Some("SHOP-2024-0001".into()),
            updated_at: Some(Utc.with_ymd_and_hms(2024, 5, 2, 8, 0, 30).unwrap()),
        },
        json!({
            "erp_order_id": "SO-77",
            "state": "shipped",
            "shipment_state": "partially shipped",
            "external_reference": "SHOP-2024-0001",
            "updated_at": "2024-05-02T08:00:30Z"
        }),
    );
    golden(
        &OrderStatus {
            erp_order_id: "SO-78".into(),
            state: OrderState::Confirmed,
            shipment_state: None,
            external_reference: None,
            updated_at: None,
        },
        json!({"erp_order_id": "SO-78", "state": "confirmed"}),
    );
    use OrderState::*;
    for (state, name) in [
        (Draft, "draft"),
        (Confirmed, "confirmed"),
        (Processing, "processing"),
        (Shipped, "shipped"),
        (Done, "done"),
        (Cancelled, "cancelled"),
    ] {
        golden(&state, json!(name));
    }
}

#[test]
fn bom() {
    golden(
        &Bom {
            bom_id: Some("BOM-3".into()),
            product: "A-9000".into(),
            name: "Montageset M8".into(),
            output_quantity: dec!(1),
            materials: vec![
                BomMaterial {
                    article_id: "A-1001".into(),
                    quantity: dec!(4),
                    unit: Some("PCE".into()),
                },
                BomMaterial {
                    article_id: "A-3003".into(),
                    quantity: dec!(0.25),
                    unit: None,
                },
            ],
        },
        json!({
            "bom_id": "BOM-3",
            "product": "A-9000",
            "name": "Montageset M8",
            "output_quantity": "1",
            "materials": [
                {"article_id": "A-1001", "quantity": "4", "unit": "PCE"},
                {"article_id": "A-3003", "quantity": "0.25"}
            ]
        }),
    );
}

#[test]
fn inventory_adjustment() {
    golden(
        &InventoryAdjustment {
            article_id: "A-1001".into(),
            warehouse_id: "WH-1".into(),
            delta: dec!(-3),
            reason: Some("breakage".into()),
        },
        json!({
            "article_id": "A-1001",
            "warehouse_id": "WH-1",
            "delta": "-3",
            "reason": "breakage"
        }),
    );
}
