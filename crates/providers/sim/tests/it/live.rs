use erpbridge_model::ArticleId;
use erpbridge_provider::{ErrorKind, PriceItem, PriceRequest, StockRequest};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn ask(
    sim: &erpbridge_sim::Sim,
    customer: &str,
    article: &str,
    quantity: Decimal,
) -> erpbridge_model::PriceQuote {
    sim.prices(&PriceRequest {
        customer_id: customer.into(),
        items: vec![PriceItem {
            article_id: ArticleId::new(article),
            quantity,
        }],
    })
    .unwrap()
    .pop()
    .unwrap()
}

#[test]
fn quantity_breaks_are_applied() {
    let sim = crate::sim(500);
    let mut with_breaks = 0;
    for n in 1..=60 {
        let article = format!("A{n:08}");
        let base = ask(&sim, "C0000005", &article, dec!(1));
        let breaks = base.breaks.clone();
        assert_eq!(base.unit_price, breaks[0].unit_price);
        assert_eq!(breaks[0].min_quantity, dec!(1));
        for (i, b) in breaks.iter().enumerate() {
            // Exactly at a break, just below the next one, and far above the last.
            let at = ask(&sim, "C0000005", &article, b.min_quantity);
            assert_eq!(
                at.unit_price, b.unit_price,
                "{article} at {}",
                b.min_quantity
            );
            if let Some(next) = breaks.get(i + 1) {
                let below = ask(&sim, "C0000005", &article, next.min_quantity - dec!(0.5));
                assert_eq!(below.unit_price, b.unit_price);
                assert!(next.unit_price < b.unit_price || b.unit_price == Decimal::ZERO);
            }
        }
        let bulk = ask(&sim, "C0000005", &article, dec!(100000));
        assert_eq!(bulk.unit_price, breaks.last().unwrap().unit_price);
        if breaks.len() > 1 {
            with_breaks += 1;
            assert!(bulk.unit_price < base.unit_price);
        }
    }
    assert!(with_breaks > 10, "most articles have breaks: {with_breaks}");
}

#[test]
fn prices_depend_on_the_customer_and_skip_unknown_articles() {
    let sim = crate::sim(200);
    let prices: std::collections::BTreeSet<Decimal> = (1..=40)
        .map(|c| ask(&sim, &format!("C{c:07}"), "A00000042", dec!(1)).unit_price)
        .collect();
    assert!(
        prices.len() > 3,
        "discount groups and currencies differ: {prices:?}"
    );
    let quotes = sim
        .prices(&PriceRequest {
            customer_id: "C0000001".into(),
            items: vec![
                PriceItem {
                    article_id: "A00000001".into(),
                    quantity: dec!(1),
                },
                PriceItem {
                    article_id: "A00009999".into(),
                    quantity: dec!(1),
                },
                PriceItem {
                    article_id: "nonsense".into(),
                    quantity: dec!(1),
                },
            ],
        })
        .unwrap();
    assert_eq!(quotes.len(), 1);
    let err = sim
        .prices(&PriceRequest {
            customer_id: "C9999999".into(),
            items: vec![],
        })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[test]
fn stock_has_one_line_per_article_and_warehouse() {
    let sim = crate::sim(100);
    let all = sim
        .stock(&StockRequest {
            article_ids: vec!["A00000001".into(), "A00000002".into(), "A00000500".into()],
            warehouse_ids: vec![],
        })
        .unwrap();
    assert_eq!(all.len(), 2 * 3);
    assert!(
        all.iter()
            .all(|s| s.reserved <= s.available && s.available >= Decimal::ZERO)
    );
    let one = sim
        .stock(&StockRequest {
            article_ids: vec!["A00000001".into()],
            warehouse_ids: vec!["W3".into(), "W9".into()],
        })
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].warehouse_id.0, "W3");
    assert_eq!(one[0], all[2]);
}

#[test]
fn deleted_articles_disappear_from_live_answers() {
    let sim = crate::sim(300);
    sim.advance(4);
    let deleted: Vec<ArticleId> = sim
        .changed_article_ids(0, 4)
        .into_iter()
        .filter(|id| sim.article(id).is_none())
        .collect();
    assert!(
        (1..=8).contains(&deleted.len()),
        "up to 2 per tick: {deleted:?}"
    );
    let quotes = sim
        .prices(&PriceRequest {
            customer_id: "C0000001".into(),
            items: deleted
                .iter()
                .map(|id| PriceItem {
                    article_id: id.clone(),
                    quantity: dec!(1),
                })
                .collect(),
        })
        .unwrap();
    assert!(quotes.is_empty());
    assert!(sim.articles(&deleted).is_empty());
    assert_eq!(sim.article_count(), 300 + 20 - deleted.len() as u64);
}
