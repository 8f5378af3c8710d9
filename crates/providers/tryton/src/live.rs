//! Live data: customer prices (Tryton's price lists, with quantity breaks) and stock per
//! warehouse. Always asked of Tryton, never of the synced copy.
//!
//! Prices: the customer's `sale_price_list` (company-dependent) is read first, because
//! the context `{"customer": id}` alone does *not* apply it; then
//! `product.product.sale_price_uom` is read in the context `{price_list, quantity}`, one
//! call per distinct quantity. Quantity breaks are Tryton's own numbers too: the price at
//! every quantity threshold of the list's lines.

use erpbridge_model::{ArticleId, PriceQuote, QuantityBreak, StockLevel, WarehouseId};
use erpbridge_provider::{PriceRequest, StockRequest};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::calls::ctx;
use crate::error::{Result, TrytonError};
use crate::provider::Tenant;
use crate::rpc::Rpc;
use crate::value;

pub(crate) struct Live<'a> {
    pub rpc: &'a Rpc,
    pub tenant: &'a Tenant,
}

/// Tryton's prices at the thresholds, as breaks: one where the price changes,
/// ascending from quantity 1. A single step is just the price, not a break.
fn breaks_from(
    table: &HashMap<(i64, Decimal), Decimal>,
    ids: &[i64],
    thresholds: &BTreeSet<Decimal>,
) -> HashMap<i64, Vec<QuantityBreak>> {
    let mut out = HashMap::new();
    for id in ids {
        let mut steps: Vec<QuantityBreak> = Vec::new();
        for threshold in thresholds {
            let Some(price) = table.get(&(*id, *threshold)) else {
                continue;
            };
            if steps.last().is_none_or(|last| last.unit_price != *price) {
                steps.push(QuantityBreak {
                    min_quantity: *threshold,
                    unit_price: *price,
                });
            }
        }
        if steps.len() > 1 {
            out.insert(*id, steps);
        }
    }
    out
}

/// Ids that are Tryton integers; anything else cannot exist there.
pub(crate) fn numeric_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<i64> {
    ids.into_iter().filter_map(|id| id.parse().ok()).collect()
}

impl Live<'_> {
    /// The price list that applies to a customer: its own, else the configured default,
    /// else the company's (`sale.configuration`). `None` prices at list price.
    pub(crate) async fn price_list_of(&self, party: i64) -> Result<Option<i64>> {
        let rows = self
            .rpc
            .search_read(
                "party.party",
                json!([["id", "=", party]]),
                Some(1),
                Value::Null,
                &["sale_price_list"],
                Some(&ctx(json!({"active_test": false}))),
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| TrytonError::NotFound(format!("customer {party} does not exist")))?;
        Ok(row
            .get("sale_price_list")
            .and_then(value::as_id)
            .or(self.tenant.default_price_list))
    }

    pub(crate) async fn prices(&self, request: &PriceRequest) -> Result<Vec<PriceQuote>> {
        let party: i64 = request.customer_id.as_str().parse().map_err(|_| {
            TrytonError::NotFound(format!("customer `{}` does not exist", request.customer_id))
        })?;
        let price_list = self.price_list_of(party).await?;
        let mut by_quantity: BTreeMap<Decimal, Vec<i64>> = BTreeMap::new();
        for item in &request.items {
            if let Ok(id) = item.article_id.as_str().parse::<i64>() {
                by_quantity.entry(item.quantity).or_default().push(id);
            }
        }
        let all_ids: Vec<i64> = by_quantity
            .values()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();

        // One call per distinct quantity, asked ones and break thresholds together,
        // all in flight at once (the client's semaphore bounds them).
        let thresholds = match price_list {
            Some(list) if self.rpc.config().quote_breaks => self.thresholds(list).await?,
            _ => BTreeSet::new(),
        };
        let mut asks: BTreeMap<Decimal, BTreeSet<i64>> = by_quantity
            .iter()
            .map(|(q, ids)| (*q, ids.iter().copied().collect()))
            .collect();
        for threshold in &thresholds {
            asks.entry(*threshold)
                .or_default()
                .extend(all_ids.iter().copied());
        }
        let calls = asks.iter().map(|(quantity, ids)| {
            let ids: Vec<i64> = ids.iter().copied().collect();
            async move {
                let prices = self.price_at(&ids, *quantity, party, price_list).await?;
                Ok::<_, TrytonError>((*quantity, prices))
            }
        });
        let mut table: HashMap<(i64, Decimal), Decimal> = HashMap::new();
        for answer in futures::future::join_all(calls).await {
            let (quantity, prices) = answer?;
            for (id, price) in prices {
                table.insert((id, quantity), price);
            }
        }
        let unit_prices = &table;
        let breaks = breaks_from(&table, &all_ids, &thresholds);

        let mut quotes = Vec::new();
        for item in &request.items {
            let Ok(id) = item.article_id.as_str().parse::<i64>() else {
                continue;
            };
            let Some(unit_price) = unit_prices.get(&(id, item.quantity)) else {
                continue; // unknown or unsalable article: left out, as the SDK says
            };
            quotes.push(PriceQuote {
                article_id: item.article_id.clone(),
                customer_id: request.customer_id.clone(),
                unit_price: *unit_price,
                currency: self.tenant.currency.clone(),
                quantity: item.quantity,
                breaks: breaks.get(&id).cloned().unwrap_or_default(),
                valid_from: None,
                valid_until: None,
            });
        }
        Ok(quotes)
    }

    /// `sale_price_uom` of existing products at one quantity.
    pub(crate) async fn price_at(
        &self,
        ids: &[i64],
        quantity: Decimal,
        party: i64,
        price_list: Option<i64>,
    ) -> Result<Vec<(i64, Decimal)>> {
        let quantity = f64::try_from(quantity)
            .map_err(|_| TrytonError::Invalid(format!("quantity {quantity} is out of range")))?;
        let mut extra = ctx(json!({"quantity": quantity, "customer": party}));
        if let Some(list) = price_list {
            extra.insert("price_list".into(), json!(list));
        }
        let rows = self
            .rpc
            .search_read(
                "product.product",
                json!([["id", "in", ids]]),
                None,
                Value::Null,
                &["id", "sale_price_uom"],
                Some(&extra),
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some((
                    row.get("id").and_then(value::as_id)?,
                    row.get("sale_price_uom").and_then(value::as_decimal)?,
                ))
            })
            .collect())
    }

    /// The quantity thresholds of a price list's lines, plus 1: where breaks can be.
    /// Empty when the list has no threshold above 1 (no breaks to show).
    async fn thresholds(&self, list: i64) -> Result<BTreeSet<Decimal>> {
        let lines = self
            .rpc
            .search_read(
                "product.price_list.line",
                json!([["price_list", "=", list]]),
                None,
                Value::Null,
                &["quantity"],
                None,
            )
            .await?;
        let mut thresholds: BTreeSet<Decimal> = lines
            .iter()
            .filter_map(|l| l.get("quantity").and_then(value::as_decimal))
            .filter(|q| *q > Decimal::ONE)
            .map(|q| q.normalize())
            .collect();
        if thresholds.is_empty() {
            return Ok(thresholds);
        }
        thresholds.insert(Decimal::ONE);
        Ok(thresholds)
    }

    /// Stock per warehouse: `quantity` and `forecast_quantity` in the context
    /// `{"locations": [warehouse]}` (children included). Without `locations` Tryton
    /// answers 0 for everything, so a warehouse is always named.
    pub(crate) async fn stock(&self, request: &StockRequest) -> Result<Vec<StockLevel>> {
        let ids = numeric_ids(request.article_ids.iter().map(ArticleId::as_str));
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let warehouses: Vec<i64> = if request.warehouse_ids.is_empty() {
            self.tenant.warehouses.clone()
        } else {
            let asked = numeric_ids(request.warehouse_ids.iter().map(WarehouseId::as_str));
            asked
                .into_iter()
                .filter(|w| self.tenant.warehouses.contains(w))
                .collect()
        };
        let mut levels = Vec::new();
        for warehouse in warehouses {
            let extra = ctx(json!({"locations": [warehouse]}));
            let rows = self
                .rpc
                .search_read(
                    "product.product",
                    json!([["id", "in", ids]]),
                    None,
                    json!([["id", "ASC"]]),
                    &["id", "quantity", "forecast_quantity"],
                    Some(&extra),
                )
                .await?;
            for row in rows {
                let Some(id) = row.get("id").and_then(value::as_id) else {
                    continue;
                };
                let on_hand = row
                    .get("quantity")
                    .and_then(value::as_decimal)
                    .unwrap_or_default();
                let forecast = row
                    .get("forecast_quantity")
                    .and_then(value::as_decimal)
                    .unwrap_or(on_hand);
                let (available, reserved) = split_stock(on_hand, forecast);
                levels.push(StockLevel {
                    article_id: ArticleId(id.to_string()),
                    warehouse_id: WarehouseId(warehouse.to_string()),
                    available,
                    reserved,
                });
            }
        }
        // The order asked for, warehouse by warehouse.
        let position: HashMap<&str, usize> = request
            .article_ids
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();
        levels.sort_by_key(|l| position.get(l.article_id.as_str()).copied());
        Ok(levels)
    }
}

/// Tryton's on-hand `quantity` less what confirmed sales will take (`forecast_quantity`
/// subtracts planned outgoing moves): `reserved` is the difference when positive, and
/// `available` what is left on hand.
pub(crate) fn split_stock(on_hand: Decimal, forecast: Decimal) -> (Decimal, Decimal) {
    let reserved = (on_hand - forecast).max(Decimal::ZERO);
    ((on_hand - reserved).normalize(), reserved.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn stock_split_follows_forecast() {
        assert_eq!(split_stock(dec!(40), dec!(37)), (dec!(37), dec!(3)));
        // Incoming supply raises the forecast: nothing is reserved.
        assert_eq!(split_stock(dec!(10), dec!(15)), (dec!(10), dec!(0)));
        assert_eq!(split_stock(dec!(0), dec!(-2)), (dec!(-2), dec!(2)));
    }
}
