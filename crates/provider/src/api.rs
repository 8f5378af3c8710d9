//! The requests and responses of the provider operations. Owned and serialisable, so the
//! same calls can go in-process, over gRPC to an out-of-process provider, or through the
//! connector tunnel without a second model.

use erpbridge_model::{
    ArticleId, Bom, CatalogRecord, ChangeCursor, CustomerId, EntityKind, ErpOrderId,
    IdempotencyKey, InventoryAdjustment, Order, WarehouseId,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Ask for one page of the catalog stream of one entity kind.
///
/// `from = None` starts a full snapshot; otherwise the provider continues from a cursor it
/// handed out earlier (within a full snapshot, or as a delta since the end of one). A
/// provider must make `from` resumable: a consumer that crashes after committing page N
/// asks again with page N's `next` and gets exactly the records after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPageRequest {
    pub entity: EntityKind,
    pub from: Option<ChangeCursor>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPage {
    /// Records in the provider's stable order; tombstones appear only in deltas.
    pub records: Vec<CatalogRecord>,
    /// Where to continue after this page. When `has_more` is false this is the
    /// high-water mark to start the next delta from.
    pub next: ChangeCursor,
    pub has_more: bool,
}

/// A page of a query descriptor's results (records as JSON objects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryPage {
    pub records: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

/// Live prices of several articles for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRequest {
    pub customer_id: CustomerId,
    pub items: Vec<PriceItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PriceItem {
    pub article_id: ArticleId,
    /// The quantity to price (quantity breaks); 1 when the shop does not say.
    pub quantity: Decimal,
}

/// Live stock of several articles. No warehouses means all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockRequest {
    pub article_ids: Vec<ArticleId>,
    #[serde(default)]
    pub warehouse_ids: Vec<WarehouseId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateOrderRequest {
    /// The provider looks this key up before creating, and stores it with the order.
    pub idempotency_key: IdempotencyKey,
    pub order: Order,
}

/// Confirm or cancel an order created earlier (saga steps and their compensation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderActionRequest {
    pub idempotency_key: IdempotencyKey,
    pub erp_order_id: ErpOrderId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderLookup {
    ById(ErpOrderId),
    ByKey(IdempotencyKey),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BomSyncRequest {
    pub idempotency_key: IdempotencyKey,
    pub bom: Bom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryAdjustRequest {
    pub idempotency_key: IdempotencyKey,
    pub adjustments: Vec<InventoryAdjustment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub ok: bool,
    /// Free text from the backend (version, session count...).
    #[serde(default)]
    pub detail: String,
}
