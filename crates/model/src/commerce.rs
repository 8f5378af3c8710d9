//! Live and transactional data: prices, stock, orders, BOMs. Prices and stock are always
//! asked of the ERP (never served from the synced copy); orders and BOMs are written to it
//! through the outbox.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ArticleId, CustomerId, ErpOrderId, IdempotencyKey, WarehouseId};

/// The price a given customer pays for an article, as the ERP computed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PriceQuote {
    pub article_id: ArticleId,
    pub customer_id: CustomerId,
    /// Net unit price for `quantity` units, in `currency`.
    #[schemars(with = "String")]
    pub unit_price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The quantity this price was computed for (the smallest break applies at 1).
    #[schemars(with = "String")]
    pub quantity: Decimal,
    /// Quantity breaks (Staffelpreise), ascending by `min_quantity`.
    #[serde(default)]
    pub breaks: Vec<QuantityBreak>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuantityBreak {
    #[schemars(with = "String")]
    pub min_quantity: Decimal,
    #[schemars(with = "String")]
    pub unit_price: Decimal,
}

/// Stock of one article in one warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StockLevel {
    pub article_id: ArticleId,
    pub warehouse_id: WarehouseId,
    /// Physically on hand and not reserved.
    #[schemars(with = "String")]
    pub available: Decimal,
    /// Promised to confirmed orders but not shipped yet.
    #[schemars(with = "String")]
    pub reserved: Decimal,
}

/// An order as the shop submits it. The hub validates it, then the outbox writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Order {
    pub customer_id: CustomerId,
    /// The shop's own order number; stored with the ERP order for support look-ups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    pub lines: Vec<OrderLine>,
    /// ISO 4217; the customer's currency when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderLine {
    pub article_id: ArticleId,
    #[schemars(with = "String")]
    pub quantity: Decimal,
    /// A price the shop showed the customer; the ERP may reprice when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub unit_price: Option<Decimal>,
}

/// Why an order is not acceptable, found before anything is enqueued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderValidationError {
    #[error("an order needs at least one line")]
    NoLines,
    #[error("line {line}: quantity must be greater than zero, got {quantity}")]
    NonPositiveQuantity { line: usize, quantity: Decimal },
    #[error("line {line}: unit price must not be negative, got {price}")]
    NegativePrice { line: usize, price: Decimal },
    #[error("line {line}: article id is empty")]
    EmptyArticleId { line: usize },
    #[error("customer id is empty")]
    EmptyCustomerId,
    #[error("an order may have at most {max} lines, got {got}")]
    TooManyLines { max: usize, got: usize },
}

impl Order {
    /// The most lines one order may carry; ERPs choke well before unbounded sizes.
    pub const MAX_LINES: usize = 1000;

    /// Checks what can be checked without the ERP. Line numbers in errors are 1-based,
    /// as a person reading the order would count them.
    pub fn validate(&self) -> Result<(), OrderValidationError> {
        if self.customer_id.as_str().trim().is_empty() {
            return Err(OrderValidationError::EmptyCustomerId);
        }
        if self.lines.is_empty() {
            return Err(OrderValidationError::NoLines);
        }
        if self.lines.len() > Self::MAX_LINES {
            return Err(OrderValidationError::TooManyLines {
                max: Self::MAX_LINES,
                got: self.lines.len(),
            });
        }
        for (index, line) in self.lines.iter().enumerate() {
            let line_no = index + 1;
            if line.article_id.as_str().trim().is_empty() {
                return Err(OrderValidationError::EmptyArticleId { line: line_no });
            }
            if line.quantity <= Decimal::ZERO {
                return Err(OrderValidationError::NonPositiveQuantity {
                    line: line_no,
                    quantity: line.quantity,
                });
            }
            if let Some(price) = line.unit_price
                && price < Decimal::ZERO
            {
                return Err(OrderValidationError::NegativePrice {
                    line: line_no,
                    price,
                });
            }
        }
        Ok(())
    }
}

/// What the ERP answered when an order was created (or found by its idempotency key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderReceipt {
    pub erp_order_id: ErpOrderId,
    pub idempotency_key: IdempotencyKey,
    pub state: OrderState,
    /// True when the provider found an existing order for the key instead of creating one.
    pub already_existed: bool,
}

/// The life of an order in the ERP, reduced to what every ERP can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Created, not confirmed (Tryton: draft/quotation).
    Draft,
    Confirmed,
    Processing,
    Shipped,
    Done,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrderStatus {
    pub erp_order_id: ErpOrderId,
    pub state: OrderState,
    /// The ERP's own words for shipment progress, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A bill of materials / recipe (seed 004): what goes into one unit of `product`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bom {
    /// The ERP's id of the BOM, when updating an existing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bom_id: Option<String>,
    pub product: ArticleId,
    pub name: String,
    /// How many units of `product` the materials below make.
    #[schemars(with = "String")]
    pub output_quantity: Decimal,
    pub materials: Vec<BomMaterial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BomMaterial {
    pub article_id: ArticleId,
    #[schemars(with = "String")]
    pub quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BomReceipt {
    pub bom_id: String,
    pub idempotency_key: IdempotencyKey,
    pub already_existed: bool,
}

/// A booked change of stock (seed 004 `inventory.adjust`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InventoryAdjustment {
    pub article_id: ArticleId,
    pub warehouse_id: WarehouseId,
    /// Positive adds stock, negative removes it.
    #[schemars(with = "String")]
    pub delta: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InventoryReceipt {
    pub document_id: String,
    pub idempotency_key: IdempotencyKey,
    pub already_existed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(lines: Vec<OrderLine>) -> Order {
        Order {
            customer_id: "C1".into(),
            external_reference: None,
            lines,
            currency: None,
            comment: None,
        }
    }

    fn line(quantity: Decimal) -> OrderLine {
        OrderLine {
            article_id: "A1".into(),
            quantity,
            unit_price: None,
        }
    }

    #[test]
    fn validation_names_the_offending_line() {
        let err = order(vec![line(dec!(1)), line(dec!(0))])
            .validate()
            .unwrap_err();
        assert_eq!(
            err,
            OrderValidationError::NonPositiveQuantity {
                line: 2,
                quantity: dec!(0)
            }
        );
        assert_eq!(
            order(vec![]).validate().unwrap_err(),
            OrderValidationError::NoLines
        );
        assert!(order(vec![line(dec!(2.5))]).validate().is_ok());
    }

    #[test]
    fn prices_travel_as_exact_strings() {
        let quote = PriceQuote {
            article_id: "A1".into(),
            customer_id: "C1".into(),
            unit_price: dec!(12.50),
            currency: "EUR".into(),
            quantity: dec!(1),
            breaks: vec![],
            valid_from: None,
            valid_until: None,
        };
        let json = serde_json::to_value(&quote).unwrap();
        assert_eq!(json["unit_price"], "12.50");
        let back: PriceQuote = serde_json::from_value(json).unwrap();
        assert_eq!(back.unit_price, dec!(12.50));
    }
}
