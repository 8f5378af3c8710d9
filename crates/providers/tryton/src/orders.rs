//! Sales: created idempotently, quoted and confirmed, cancelled as compensation.
//!
//! The idempotency key goes into the sale's `reference`, and a create first searches for
//! it: a retry after a crash between Tryton's create and the hub's commit finds the sale
//! instead of making a second one. Two creates racing with the same key (a stuck worker
//! and the one that took over its expired lease) both search, both create, then both see
//! two sales: the one with the higher id deletes its own (still a draft) and answers
//! with the other, so one sale survives.

use erpbridge_model::{ErpOrderId, IdempotencyKey, OrderReceipt, OrderState, OrderStatus};
use erpbridge_provider::{CreateOrderRequest, OrderActionRequest, OrderLookup};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::calls::Record;
use crate::error::{Result, TrytonError};
use crate::live::Live;
use crate::provider::Tenant;
use crate::rpc::Rpc;
use crate::value;

const SALE_FIELDS: &[&str] = &[
    "id",
    "state",
    "shipment_state",
    "reference",
    "description",
    "write_date",
    "create_date",
];

pub(crate) struct Orders<'a> {
    pub rpc: &'a Rpc,
    pub tenant: &'a Tenant,
}

fn sale_id(id: &ErpOrderId) -> Result<i64> {
    id.as_str()
        .parse()
        .map_err(|_| TrytonError::NotFound(format!("sale `{id}` does not exist")))
}

fn state_of(sale: &Record) -> OrderState {
    let state = sale
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let shipment = sale
        .get("shipment_state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match state {
        "confirmed" => OrderState::Confirmed,
        "processing" if shipment == "sent" => OrderState::Shipped,
        "processing" => OrderState::Processing,
        "done" => OrderState::Done,
        "cancelled" => OrderState::Cancelled,
        // draft and quotation: not binding yet
        _ => OrderState::Draft,
    }
}

fn status_of(sale: &Record) -> OrderStatus {
    let id = sale.get("id").and_then(value::as_id).unwrap_or_default();
    let updated = ["write_date", "create_date"]
        .iter()
        .filter_map(|f| sale.get(*f).and_then(value::as_datetime))
        .max();
    OrderStatus {
        erp_order_id: ErpOrderId(id.to_string()),
        state: state_of(sale),
        shipment_state: sale
            .get("shipment_state")
            .and_then(value::as_str)
            .map(str::to_owned),
        external_reference: sale
            .get("description")
            .and_then(value::as_str)
            .map(str::to_owned),
        updated_at: updated.map(value::as_utc),
    }
}

impl Orders<'_> {
    async fn by_key(&self, key: &IdempotencyKey) -> Result<Vec<Record>> {
        self.rpc
            .search_read(
                "sale.sale",
                json!([["reference", "=", key.as_str()]]),
                None,
                json!([["id", "ASC"]]),
                SALE_FIELDS,
                None,
            )
            .await
    }

    async fn by_id(&self, id: i64) -> Result<Record> {
        self.rpc
            .search_read(
                "sale.sale",
                json!([["id", "=", id]]),
                Some(1),
                Value::Null,
                SALE_FIELDS,
                None,
            )
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| TrytonError::NotFound(format!("sale {id} does not exist")))
    }

    pub(crate) async fn status(&self, lookup: &OrderLookup) -> Result<OrderStatus> {
        let sale = match lookup {
            OrderLookup::ById(id) => self.by_id(sale_id(id)?).await?,
            OrderLookup::ByKey(key) => {
                self.by_key(key).await?.into_iter().next().ok_or_else(|| {
                    TrytonError::NotFound(format!("no sale has the idempotency key `{key}`"))
                })?
            }
        };
        Ok(status_of(&sale))
    }

    pub(crate) async fn create(&self, request: &CreateOrderRequest) -> Result<OrderReceipt> {
        let key = &request.idempotency_key;
        if key.as_str().is_empty() {
            return Err(TrytonError::Invalid("the idempotency key is empty".into()));
        }
        if let Some(existing) = self.by_key(key).await?.first() {
            return Ok(receipt(existing, key, true));
        }
        let order = &request.order;
        order
            .validate()
            .map_err(|err| TrytonError::Invalid(err.to_string()))?;
        if let Some(currency) = &order.currency
            && currency != &self.tenant.currency
        {
            return Err(TrytonError::Invalid(format!(
                "order currency {currency} differs from the company currency {}",
                self.tenant.currency
            )));
        }
        let party: i64 = order.customer_id.as_str().parse().map_err(|_| {
            TrytonError::Invalid(format!("customer `{}` does not exist", order.customer_id))
        })?;
        let live = Live {
            rpc: self.rpc,
            tenant: self.tenant,
        };
        let price_list = live.price_list_of(party).await?;
        let address = self
            .rpc
            .search(
                "party.address",
                json!([["party", "=", party]]),
                Some(1),
                json!([["id", "ASC"]]),
                None,
            )
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                TrytonError::Invalid(format!("customer {party} has no address to ship to"))
            })?;
        let warehouse = *self.tenant.warehouses.first().ok_or_else(|| {
            TrytonError::Config("the company has no warehouse to ship from".into())
        })?;

        let mut lines = Vec::with_capacity(order.lines.len());
        for (index, line) in order.lines.iter().enumerate() {
            let product: i64 = line.article_id.as_str().parse().map_err(|_| {
                TrytonError::Invalid(format!(
                    "line {}: article `{}` does not exist",
                    index + 1,
                    line.article_id
                ))
            })?;
            let rows = self
                .rpc
                .search_read(
                    "product.product",
                    json!([["id", "=", product], ["salable", "=", true]]),
                    Some(1),
                    Value::Null,
                    &["id", "sale_uom"],
                    None,
                )
                .await?;
            let unit = rows
                .first()
                .and_then(|r| r.get("sale_uom"))
                .and_then(value::as_id)
                .ok_or_else(|| {
                    TrytonError::Invalid(format!(
                        "line {}: article {product} does not exist or is not salable",
                        index + 1
                    ))
                })?;
            // A raw create runs no on_change: the price must be supplied. Tryton's own
            // price for the customer when the shop sent none.
            let unit_price = match line.unit_price {
                Some(price) => price,
                None => live
                    .price_at(&[product], line.quantity, party, price_list)
                    .await?
                    .first()
                    .map(|(_, price)| *price)
                    .unwrap_or(Decimal::ZERO),
            };
            lines.push(json!({
                "type": "line",
                "product": product,
                "quantity": f64::try_from(line.quantity).map_err(|_| {
                    TrytonError::Invalid(format!("line {}: quantity out of range", index + 1))
                })?,
                "unit": unit,
                "unit_price": value::decimal(unit_price),
            }));
        }

        let mut sale = json!({
            "party": party,
            "reference": key.as_str(),
            "invoice_address": address,
            "shipment_address": address,
            "company": self.tenant.company,
            "currency": self.tenant.currency_id,
            "warehouse": warehouse,
            "lines": [["create", lines]],
        });
        if let Some(list) = price_list {
            sale["price_list"] = json!(list);
        }
        if let Some(reference) = &order.external_reference {
            sale["description"] = json!(reference);
        }
        if let Some(comment) = &order.comment {
            sale["comment"] = json!(comment);
        }
        let created = self
            .rpc
            .create("sale.sale", vec![sale], None)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| TrytonError::protocol("model.sale.sale.create", "no id returned"))?;

        // Lost a race with another create of the same key? Keep the oldest sale.
        let all = self.by_key(key).await?;
        match all.first().and_then(|s| s.get("id")).and_then(value::as_id) {
            Some(first) if first != created => {
                tracing::warn!(%key, created, kept = first, "duplicate sale for one key; deleting ours");
                self.rpc
                    .model("sale.sale", "delete", vec![json!([created])], None)
                    .await?;
                Ok(receipt(&all[0], key, true))
            }
            _ => {
                let sale = self.by_id(created).await?;
                Ok(receipt(&sale, key, false))
            }
        }
    }

    async fn checked(&self, request: &OrderActionRequest) -> Result<Record> {
        let sale = self.by_id(sale_id(&request.erp_order_id)?).await?;
        let reference = sale.get("reference").and_then(Value::as_str).unwrap_or("");
        if reference != request.idempotency_key.as_str() {
            return Err(TrytonError::Invalid(format!(
                "sale {} has reference `{reference}`, not the idempotency key `{}`",
                request.erp_order_id, request.idempotency_key
            )));
        }
        Ok(sale)
    }

    pub(crate) async fn confirm(&self, request: &OrderActionRequest) -> Result<OrderStatus> {
        let sale = self.checked(request).await?;
        let id = sale.get("id").and_then(value::as_id).unwrap_or_default();
        match sale
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "draft" => {
                self.rpc.button("sale.sale", "quote", &[id]).await?;
                self.rpc.button("sale.sale", "confirm", &[id]).await?;
            }
            "quotation" => self.rpc.button("sale.sale", "confirm", &[id]).await?,
            "cancelled" => {
                return Err(TrytonError::Invalid(format!(
                    "sale {id} is cancelled and cannot be confirmed"
                )));
            }
            _ => {} // confirmed, processing, done: confirming again is a success
        }
        Ok(status_of(&self.by_id(id).await?))
    }

    pub(crate) async fn cancel(&self, request: &OrderActionRequest) -> Result<OrderStatus> {
        let sale = self.checked(request).await?;
        let id = sale.get("id").and_then(value::as_id).unwrap_or_default();
        match sale
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "draft" | "quotation" => self.rpc.button("sale.sale", "cancel", &[id]).await?,
            "confirmed" => {
                // Tryton only cancels drafts and quotations; a confirmed sale that is not
                // processing yet can go back to draft first.
                self.rpc.button("sale.sale", "draft", &[id]).await?;
                self.rpc.button("sale.sale", "cancel", &[id]).await?;
            }
            "cancelled" => {}
            other => {
                return Err(TrytonError::Invalid(format!(
                    "sale {id} is {other}: Tryton has started shipping or invoicing it, so it \
                     cannot be cancelled automatically"
                )));
            }
        }
        Ok(status_of(&self.by_id(id).await?))
    }
}

fn receipt(sale: &Record, key: &IdempotencyKey, already_existed: bool) -> OrderReceipt {
    OrderReceipt {
        erp_order_id: ErpOrderId(
            sale.get("id")
                .and_then(value::as_id)
                .unwrap_or_default()
                .to_string(),
        ),
        idempotency_key: key.clone(),
        state: state_of(sale),
        already_existed,
    }
}
