//! Between the SDK's types (`erpbridge_model`, `erpbridge_provider::api`) and the wire
//! types of [`crate::proto`].
//!
//! Outbound (model → wire) is `From`: every model value has a wire form. Inbound (wire →
//! model) is `TryFrom<wire> for model` with [`WireError`], because the other side may be
//! written in any language, by anyone, and may send anything protobuf can encode: an
//! unspecified enum, a missing message, `"1e3"` or `"abc"` where a decimal belongs, a
//! timestamp that is not RFC 3339. Each of those is a typed error naming the field,
//! never a panic and never a silently defaulted value.
//!
//! Proto3 cannot tell an empty string from a missing one, so required ids and keys must
//! be non-empty on the wire.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use erpbridge_model::query::plan::{EntityPushdown, PushdownCapabilities};
use erpbridge_model::query::{Condition, Filter, Operator, Query, QueryEntity, SortKey};
use erpbridge_model::{
    Article, ArticleId, ArticleReference, Attribute, Bom, BomMaterial, BomReceipt, CatalogRecord,
    Category, CategoryId, ChangeCursor, Customer, CustomerId, EntityKind, ErpOrderId,
    IdempotencyKey, Image, InventoryAdjustment, InventoryReceipt, Order, OrderLine, OrderReceipt,
    OrderState, OrderStatus, PriceQuote, QuantityBreak, ReferenceKind, StockLevel, WarehouseId,
};
use erpbridge_provider::{
    BatchLimits, BomSyncRequest, CatalogPage, CatalogPageRequest, ConcurrencyModel,
    CreateOrderRequest, ErrorKind, HealthReport, InventoryAdjustRequest, Operation,
    OrderActionRequest, OrderLookup, PriceItem, PriceRequest, ProviderDescription, ProviderError,
    QueryPage, StockRequest,
};
use rust_decimal::Decimal;

use crate::proto as pb;

/// Wire data that does not make a valid SDK value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{field}: required but missing or empty")]
    Missing { field: &'static str },
    #[error("{field}: `{value}` is not a plain decimal (digits, optional '-' and '.')")]
    Decimal { field: &'static str, value: String },
    #[error("{field}: `{value}` is not an RFC 3339 timestamp")]
    Timestamp { field: &'static str, value: String },
    #[error("{field}: `{value}` is not a YYYY-MM-DD date")]
    Date { field: &'static str, value: String },
    #[error("{field}: enum value {value} is unspecified or unknown")]
    Enum { field: &'static str, value: i32 },
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
}

impl From<WireError> for ProviderError {
    /// Bad wire data is fatal: the same bytes sent again would fail the same way.
    fn from(err: WireError) -> Self {
        ProviderError::fatal(format!("invalid protocol data: {err}"))
    }
}

type Result<T> = std::result::Result<T, WireError>;

// ---------------------------------------------------------------------------------------
// Scalars.

fn required(field: &'static str, value: String) -> Result<String> {
    if value.is_empty() {
        Err(WireError::Missing { field })
    } else {
        Ok(value)
    }
}

fn message<T>(field: &'static str, value: Option<T>) -> Result<T> {
    value.ok_or(WireError::Missing { field })
}

/// A decimal in plain notation. Stricter than `Decimal::from_str` (which also takes
/// `1_000` and rounds excess digits): a price must mean exactly what the text says.
pub fn decimal(field: &'static str, value: &str) -> Result<Decimal> {
    let bad = || WireError::Decimal {
        field,
        value: value.chars().take(64).collect(),
    };
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(bad());
    }
    Decimal::from_str_exact(value).map_err(|_| bad())
}

fn opt_decimal(field: &'static str, value: Option<String>) -> Result<Option<Decimal>> {
    value.map(|v| decimal(field, &v)).transpose()
}

fn timestamp(field: &'static str, value: Option<String>) -> Result<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| WireError::Timestamp {
                    field,
                    value: v.chars().take(64).collect(),
                })
        })
        .transpose()
}

fn timestamp_to_wire(value: Option<DateTime<Utc>>) -> Option<String> {
    value.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn date(field: &'static str, value: Option<String>) -> Result<Option<NaiveDate>> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| WireError::Date {
                field,
                value: v.chars().take(64).collect(),
            })
        })
        .transpose()
}

fn date_to_wire(value: Option<NaiveDate>) -> Option<String> {
    value.map(|d| d.format("%Y-%m-%d").to_string())
}

fn texts(map: std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

fn texts_to_wire(map: BTreeMap<String, String>) -> std::collections::HashMap<String, String> {
    map.into_iter().collect()
}

fn collect<W, M>(items: Vec<W>) -> Result<Vec<M>>
where
    M: TryFrom<W, Error = WireError>,
{
    items.into_iter().map(M::try_from).collect()
}

fn to_wire<M, W: From<M>>(items: Vec<M>) -> Vec<W> {
    items.into_iter().map(W::from).collect()
}

// ---------------------------------------------------------------------------------------
// Enums. Each maps both ways; an unspecified or unknown inbound value is an error.

macro_rules! enum_map {
    ($fn_in:ident, $fn_out:ident, $model:ty, $wire:ty, $field:literal, { $($m:path => $w:path),+ $(,)? }) => {
        pub fn $fn_in(value: i32) -> Result<$model> {
            match <$wire>::try_from(value) {
                $(Ok($w) => Ok($m),)+
                _ => Err(WireError::Enum { field: $field, value }),
            }
        }
        pub fn $fn_out(value: $model) -> i32 {
            match value {
                $($m => $w as i32,)+
            }
        }
    };
}

enum_map!(entity_kind, entity_kind_to_wire, EntityKind, pb::EntityKind, "entity", {
    EntityKind::Category => pb::EntityKind::Category,
    EntityKind::Article => pb::EntityKind::Article,
    EntityKind::Customer => pb::EntityKind::Customer,
});

enum_map!(reference_kind, reference_kind_to_wire, ReferenceKind, pb::ReferenceKind, "ArticleReference.kind", {
    ReferenceKind::Accessory => pb::ReferenceKind::Accessory,
    ReferenceKind::SparePart => pb::ReferenceKind::SparePart,
    ReferenceKind::Successor => pb::ReferenceKind::Successor,
    ReferenceKind::Alternative => pb::ReferenceKind::Alternative,
    ReferenceKind::Manufacturer => pb::ReferenceKind::Manufacturer,
    ReferenceKind::Customer => pb::ReferenceKind::Customer,
    ReferenceKind::Gtin => pb::ReferenceKind::Gtin,
});

enum_map!(order_state, order_state_to_wire, OrderState, pb::OrderState, "state", {
    OrderState::Draft => pb::OrderState::Draft,
    OrderState::Confirmed => pb::OrderState::Confirmed,
    OrderState::Processing => pb::OrderState::Processing,
    OrderState::Shipped => pb::OrderState::Shipped,
    OrderState::Done => pb::OrderState::Done,
    OrderState::Cancelled => pb::OrderState::Cancelled,
});

enum_map!(query_entity, query_entity_to_wire, QueryEntity, pb::QueryEntity, "Query.entity", {
    QueryEntity::Article => pb::QueryEntity::Article,
    QueryEntity::Category => pb::QueryEntity::Category,
    QueryEntity::Customer => pb::QueryEntity::Customer,
});

enum_map!(operator, operator_to_wire, Operator, pb::Operator, "Condition.op", {
    Operator::Eq => pb::Operator::Eq,
    Operator::Ne => pb::Operator::Ne,
    Operator::Gt => pb::Operator::Gt,
    Operator::Ge => pb::Operator::Ge,
    Operator::Lt => pb::Operator::Lt,
    Operator::Le => pb::Operator::Le,
    Operator::Like => pb::Operator::Like,
    Operator::In => pb::Operator::In,
});

enum_map!(operation, operation_to_wire, Operation, pb::Operation, "ProviderDescription.operations", {
    Operation::Health => pb::Operation::Health,
    Operation::Catalog => pb::Operation::Catalog,
    Operation::Query => pb::Operation::Query,
    Operation::ArticlesByIds => pb::Operation::ArticlesByIds,
    Operation::Prices => pb::Operation::Prices,
    Operation::Stock => pb::Operation::Stock,
    Operation::OrderStatus => pb::Operation::OrderStatus,
    Operation::CreateOrder => pb::Operation::CreateOrder,
    Operation::ConfirmOrder => pb::Operation::ConfirmOrder,
    Operation::CancelOrder => pb::Operation::CancelOrder,
    Operation::SyncBom => pb::Operation::SyncBom,
    Operation::AdjustInventory => pb::Operation::AdjustInventory,
});

enum_map!(error_kind, error_kind_to_wire, ErrorKind, pb::ErrorKind, "ErrorDetail.kind", {
    ErrorKind::Transient => pb::ErrorKind::Transient,
    ErrorKind::Fatal => pb::ErrorKind::Fatal,
    ErrorKind::NotFound => pb::ErrorKind::NotFound,
    ErrorKind::Unavailable => pb::ErrorKind::Unavailable,
});

// ---------------------------------------------------------------------------------------
// Describe and health.

/// The protocol version this build speaks; see `ProtocolVersion` in the .proto.
pub const PROTOCOL_VERSION: pb::ProtocolVersion = pb::ProtocolVersion::ProtocolVersion10;

impl From<ProviderDescription> for pb::ProviderDescription {
    fn from(d: ProviderDescription) -> Self {
        let (kind, sessions) = match d.concurrency {
            ConcurrencyModel::Serial => (pb::ConcurrencyKind::Serial, 0),
            ConcurrencyModel::Pooled { sessions } => (pb::ConcurrencyKind::Pooled, sessions),
            ConcurrencyModel::Concurrent => (pb::ConcurrencyKind::Concurrent, 0),
        };
        pb::ProviderDescription {
            name: d.name,
            version: d.version,
            operations: d.operations.into_iter().map(operation_to_wire).collect(),
            pushdown: Some(d.pushdown.into()),
            concurrency: Some(pb::ConcurrencyModel {
                kind: kind as i32,
                sessions,
            }),
            limits: Some(pb::BatchLimits {
                max_articles_per_call: d.limits.max_articles_per_call,
                max_prices_per_call: d.limits.max_prices_per_call,
                max_stock_per_call: d.limits.max_stock_per_call,
                max_catalog_page: d.limits.max_catalog_page,
            }),
            protocol_version: PROTOCOL_VERSION as i32,
        }
    }
}

impl TryFrom<pb::ProviderDescription> for ProviderDescription {
    type Error = WireError;
    /// Forward-compatible where it is safe: operations and pushdown entries this build
    /// does not know (from a newer provider) are ignored, so the hub only uses less.
    fn try_from(d: pb::ProviderDescription) -> Result<Self> {
        // Any version above 0 is v1 (a newer minor version only adds); 0 means the
        // provider did not say, which a conforming provider never does.
        if d.protocol_version <= pb::ProtocolVersion::Unspecified as i32 {
            return Err(WireError::Missing {
                field: "ProviderDescription.protocol_version",
            });
        }
        let concurrency = message("ProviderDescription.concurrency", d.concurrency)?;
        let concurrency = match pb::ConcurrencyKind::try_from(concurrency.kind) {
            Ok(pb::ConcurrencyKind::Serial) => ConcurrencyModel::Serial,
            Ok(pb::ConcurrencyKind::Concurrent) => ConcurrencyModel::Concurrent,
            Ok(pb::ConcurrencyKind::Pooled) if concurrency.sessions >= 1 => {
                ConcurrencyModel::Pooled {
                    sessions: concurrency.sessions,
                }
            }
            Ok(pb::ConcurrencyKind::Pooled) => {
                return Err(WireError::Invalid {
                    field: "ConcurrencyModel.sessions",
                    why: "a pooled provider needs at least 1 session".into(),
                });
            }
            _ => {
                return Err(WireError::Enum {
                    field: "ConcurrencyModel.kind",
                    value: concurrency.kind,
                });
            }
        };
        let limits = message("ProviderDescription.limits", d.limits)?;
        for (field, value) in [
            (
                "BatchLimits.max_articles_per_call",
                limits.max_articles_per_call,
            ),
            (
                "BatchLimits.max_prices_per_call",
                limits.max_prices_per_call,
            ),
            ("BatchLimits.max_stock_per_call", limits.max_stock_per_call),
            ("BatchLimits.max_catalog_page", limits.max_catalog_page),
        ] {
            if value == 0 {
                return Err(WireError::Invalid {
                    field,
                    why: "must be at least 1".into(),
                });
            }
        }
        let mut operations: Vec<Operation> = d
            .operations
            .into_iter()
            .filter_map(|op| operation(op).ok())
            .collect();
        operations.dedup();
        Ok(ProviderDescription {
            name: required("ProviderDescription.name", d.name)?,
            version: d.version,
            operations,
            pushdown: d
                .pushdown
                .map(PushdownCapabilities::from)
                .unwrap_or_default(),
            concurrency,
            limits: BatchLimits {
                max_articles_per_call: limits.max_articles_per_call,
                max_prices_per_call: limits.max_prices_per_call,
                max_stock_per_call: limits.max_stock_per_call,
                max_catalog_page: limits.max_catalog_page,
            },
        })
    }
}

impl From<PushdownCapabilities> for pb::PushdownCapabilities {
    fn from(p: PushdownCapabilities) -> Self {
        pb::PushdownCapabilities {
            entities: p
                .entities
                .into_iter()
                .map(|(entity, e)| pb::EntityPushdown {
                    entity: query_entity_to_wire(entity),
                    fields: e
                        .fields
                        .into_iter()
                        .map(|(field, ops)| pb::FieldOperators {
                            field,
                            operators: ops.into_iter().map(operator_to_wire).collect(),
                        })
                        .collect(),
                    supports_or: e.or,
                    supports_not: e.not,
                    sortable: e.sortable.into_iter().collect(),
                    exact: e.exact,
                })
                .collect(),
        }
    }
}

/// Infallible on purpose: what cannot be understood (an unknown entity or operator) is
/// dropped, which only means the hub filters more itself — always correct.
impl From<pb::PushdownCapabilities> for PushdownCapabilities {
    fn from(p: pb::PushdownCapabilities) -> Self {
        let mut entities = BTreeMap::new();
        for e in p.entities {
            let Ok(entity) = query_entity(e.entity) else {
                continue;
            };
            let mut fields = BTreeMap::new();
            for f in e.fields {
                let ops: std::collections::BTreeSet<Operator> = f
                    .operators
                    .into_iter()
                    .filter_map(|op| operator(op).ok())
                    .collect();
                if !f.field.is_empty() && !ops.is_empty() {
                    fields.insert(f.field, ops);
                }
            }
            entities.insert(
                entity,
                EntityPushdown {
                    fields,
                    or: e.supports_or,
                    not: e.supports_not,
                    sortable: e.sortable.into_iter().collect(),
                    exact: e.exact,
                },
            );
        }
        PushdownCapabilities { entities }
    }
}

impl From<HealthReport> for pb::HealthReport {
    fn from(h: HealthReport) -> Self {
        pb::HealthReport {
            ok: h.ok,
            detail: h.detail,
        }
    }
}

impl From<pb::HealthReport> for HealthReport {
    fn from(h: pb::HealthReport) -> Self {
        HealthReport {
            ok: h.ok,
            detail: h.detail,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Catalog.

impl From<CatalogPageRequest> for pb::CatalogPageRequest {
    fn from(r: CatalogPageRequest) -> Self {
        pb::CatalogPageRequest {
            entity: entity_kind_to_wire(r.entity),
            from_cursor: r.from.map(|c| c.0),
            limit: r.limit,
        }
    }
}

impl TryFrom<pb::CatalogPageRequest> for CatalogPageRequest {
    type Error = WireError;
    fn try_from(r: pb::CatalogPageRequest) -> Result<Self> {
        if r.limit == 0 {
            return Err(WireError::Invalid {
                field: "CatalogPageRequest.limit",
                why: "must be at least 1".into(),
            });
        }
        Ok(CatalogPageRequest {
            entity: entity_kind(r.entity)?,
            from: r
                .from_cursor
                .map(|c| required("CatalogPageRequest.from_cursor", c).map(ChangeCursor))
                .transpose()?,
            limit: r.limit,
        })
    }
}

impl From<CatalogPage> for pb::CatalogPage {
    fn from(p: CatalogPage) -> Self {
        pb::CatalogPage {
            records: to_wire(p.records),
            next_cursor: p.next.0,
            has_more: p.has_more,
        }
    }
}

impl TryFrom<pb::CatalogPage> for CatalogPage {
    type Error = WireError;
    fn try_from(p: pb::CatalogPage) -> Result<Self> {
        Ok(CatalogPage {
            records: collect(p.records)?,
            next: ChangeCursor(required("CatalogPage.next_cursor", p.next_cursor)?),
            has_more: p.has_more,
        })
    }
}

impl From<CatalogRecord> for pb::CatalogRecord {
    fn from(r: CatalogRecord) -> Self {
        use pb::catalog_record::Record;
        let record = match r {
            CatalogRecord::Article(a) => Record::Article(a.into()),
            CatalogRecord::Category(c) => Record::Category(c.into()),
            CatalogRecord::Customer(c) => Record::Customer(c.into()),
            CatalogRecord::Deleted { entity, id } => Record::Deleted(pb::Tombstone {
                entity: entity_kind_to_wire(entity),
                id,
            }),
        };
        pb::CatalogRecord {
            record: Some(record),
        }
    }
}

impl TryFrom<pb::CatalogRecord> for CatalogRecord {
    type Error = WireError;
    fn try_from(r: pb::CatalogRecord) -> Result<Self> {
        use pb::catalog_record::Record;
        Ok(match message("CatalogRecord.record", r.record)? {
            Record::Article(a) => CatalogRecord::Article(a.try_into()?),
            Record::Category(c) => CatalogRecord::Category(c.try_into()?),
            Record::Customer(c) => CatalogRecord::Customer(c.try_into()?),
            Record::Deleted(t) => CatalogRecord::Deleted {
                entity: entity_kind(t.entity)?,
                id: required("Tombstone.id", t.id)?,
            },
        })
    }
}

impl From<Article> for pb::Article {
    fn from(a: Article) -> Self {
        pb::Article {
            id: a.id.0,
            number: a.number,
            names: texts_to_wire(a.names),
            descriptions: texts_to_wire(a.descriptions),
            categories: a.categories.into_iter().map(|c| c.0).collect(),
            unit: a.unit,
            attributes: a
                .attributes
                .into_iter()
                .map(|x| pb::Attribute {
                    key: x.key,
                    value: x.value,
                    unit: x.unit,
                    lang: x.lang,
                })
                .collect(),
            images: a
                .images
                .into_iter()
                .map(|i| pb::Image {
                    url: i.url,
                    caption: i.caption,
                    position: i.position,
                })
                .collect(),
            references: a
                .references
                .into_iter()
                .map(|r| pb::ArticleReference {
                    kind: reference_kind_to_wire(r.kind),
                    target: r.target,
                })
                .collect(),
            row_version: a.row_version,
            updated_at: timestamp_to_wire(a.updated_at),
        }
    }
}

impl TryFrom<pb::Article> for Article {
    type Error = WireError;
    fn try_from(a: pb::Article) -> Result<Self> {
        Ok(Article {
            id: ArticleId(required("Article.id", a.id)?),
            number: required("Article.number", a.number)?,
            names: texts(a.names),
            descriptions: texts(a.descriptions),
            categories: a.categories.into_iter().map(CategoryId).collect(),
            unit: a.unit,
            attributes: a
                .attributes
                .into_iter()
                .map(|x| {
                    Ok(Attribute {
                        key: required("Attribute.key", x.key)?,
                        value: x.value,
                        unit: x.unit,
                        lang: x.lang,
                    })
                })
                .collect::<Result<_>>()?,
            images: a
                .images
                .into_iter()
                .map(|i| {
                    Ok(Image {
                        url: required("Image.url", i.url)?,
                        caption: i.caption,
                        position: i.position,
                    })
                })
                .collect::<Result<_>>()?,
            references: a
                .references
                .into_iter()
                .map(|r| {
                    Ok(ArticleReference {
                        kind: reference_kind(r.kind)?,
                        target: required("ArticleReference.target", r.target)?,
                    })
                })
                .collect::<Result<_>>()?,
            row_version: a.row_version,
            updated_at: timestamp("Article.updated_at", a.updated_at)?,
        })
    }
}

impl From<Category> for pb::Category {
    fn from(c: Category) -> Self {
        pb::Category {
            id: c.id.0,
            parent: c.parent.map(|p| p.0),
            names: texts_to_wire(c.names),
            row_version: c.row_version,
        }
    }
}

impl TryFrom<pb::Category> for Category {
    type Error = WireError;
    fn try_from(c: pb::Category) -> Result<Self> {
        Ok(Category {
            id: CategoryId(required("Category.id", c.id)?),
            parent: c
                .parent
                .map(|p| required("Category.parent", p).map(CategoryId))
                .transpose()?,
            names: texts(c.names),
            row_version: c.row_version,
        })
    }
}

impl From<Customer> for pb::Customer {
    fn from(c: Customer) -> Self {
        pb::Customer {
            id: c.id.0,
            number: c.number,
            name: c.name,
            email: c.email,
            currency: c.currency,
            row_version: c.row_version,
        }
    }
}

impl TryFrom<pb::Customer> for Customer {
    type Error = WireError;
    fn try_from(c: pb::Customer) -> Result<Self> {
        Ok(Customer {
            id: CustomerId(required("Customer.id", c.id)?),
            number: c.number,
            name: c.name,
            email: c.email,
            currency: required("Customer.currency", c.currency)?,
            row_version: c.row_version,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Query descriptor.

impl TryFrom<Query> for pb::Query {
    type Error = WireError;
    /// Fallible outbound too: a condition value may be a JSON object, which the
    /// protocol's scalars cannot carry (and no provider could evaluate).
    fn try_from(q: Query) -> Result<Self> {
        Ok(pb::Query {
            entity: query_entity_to_wire(q.entity),
            filter: q.filter.map(filter_to_wire).transpose()?,
            sort: q
                .sort
                .into_iter()
                .map(|s| pb::SortKey {
                    field: s.field,
                    descending: s.descending,
                })
                .collect(),
            page_size: q.page_size,
            cursor: q.cursor,
            include: q.include,
        })
    }
}

impl TryFrom<pb::Query> for Query {
    type Error = WireError;
    fn try_from(q: pb::Query) -> Result<Self> {
        Ok(Query {
            entity: query_entity(q.entity)?,
            filter: q.filter.map(filter_from_wire).transpose()?,
            sort: q
                .sort
                .into_iter()
                .map(|s| {
                    Ok(SortKey {
                        field: required("SortKey.field", s.field)?,
                        descending: s.descending,
                    })
                })
                .collect::<Result<_>>()?,
            page_size: q.page_size,
            cursor: q.cursor,
            include: q.include,
        })
    }
}

fn filter_to_wire(f: Filter) -> Result<pb::Filter> {
    use pb::filter::Node;
    let list = |filters: Vec<Filter>| -> Result<pb::FilterList> {
        Ok(pb::FilterList {
            filters: filters
                .into_iter()
                .map(filter_to_wire)
                .collect::<Result<_>>()?,
        })
    };
    let node = match f {
        Filter::And { and } => Node::AllOf(list(and)?),
        Filter::Or { or } => Node::AnyOf(list(or)?),
        Filter::Not { not } => Node::Negation(Box::new(filter_to_wire(*not)?)),
        Filter::Condition(c) => {
            use pb::condition::Operand;
            let operand = match c.value {
                serde_json::Value::Array(items) => Operand::Values(pb::ScalarList {
                    items: items
                        .into_iter()
                        .map(scalar_to_wire)
                        .collect::<Result<_>>()?,
                }),
                other => Operand::Value(scalar_to_wire(other)?),
            };
            Node::Condition(pb::Condition {
                field: c.field,
                op: operator_to_wire(c.op),
                operand: Some(operand),
            })
        }
    };
    Ok(pb::Filter { node: Some(node) })
}

/// Recursion is bounded by prost's decoding depth limit (100), so a hostile deeply
/// nested filter cannot exhaust the stack here; the evaluator enforces its own
/// smaller depth limit later.
fn filter_from_wire(f: pb::Filter) -> Result<Filter> {
    use pb::filter::Node;
    let list = |l: pb::FilterList| -> Result<Vec<Filter>> {
        l.filters.into_iter().map(filter_from_wire).collect()
    };
    Ok(match message("Filter.node", f.node)? {
        Node::AllOf(l) => Filter::And { and: list(l)? },
        Node::AnyOf(l) => Filter::Or { or: list(l)? },
        Node::Negation(inner) => Filter::Not {
            not: Box::new(filter_from_wire(*inner)?),
        },
        Node::Condition(c) => {
            use pb::condition::Operand;
            let value = match message("Condition.operand", c.operand)? {
                Operand::Value(s) => scalar_from_wire(s)?,
                Operand::Values(l) => serde_json::Value::Array(
                    l.items
                        .into_iter()
                        .map(scalar_from_wire)
                        .collect::<Result<_>>()?,
                ),
            };
            Filter::Condition(Condition {
                field: required("Condition.field", c.field)?,
                op: operator(c.op)?,
                value,
            })
        }
    })
}

fn scalar_to_wire(v: serde_json::Value) -> Result<pb::Scalar> {
    use pb::scalar::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(true),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Number(n) => Kind::NumberValue(n.to_string()),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(WireError::Invalid {
                field: "Condition.value",
                why: "only JSON scalars (and, for `in`, one array of them) can be sent".into(),
            });
        }
    };
    Ok(pb::Scalar { kind: Some(kind) })
}

fn scalar_from_wire(s: pb::Scalar) -> Result<serde_json::Value> {
    use pb::scalar::Kind;
    Ok(match message("Scalar.kind", s.kind)? {
        Kind::NullValue(_) => serde_json::Value::Null,
        Kind::BoolValue(b) => serde_json::Value::Bool(b),
        Kind::StringValue(s) => serde_json::Value::String(s),
        Kind::NumberValue(text) => {
            let n = serde_json::Number::from_str(&text).map_err(|_| WireError::Invalid {
                field: "Scalar.number_value",
                why: format!(
                    "`{}` is not a JSON number",
                    text.chars().take(64).collect::<String>()
                ),
            })?;
            serde_json::Value::Number(n)
        }
    })
}

impl TryFrom<QueryPage> for pb::QueryPage {
    type Error = WireError;
    fn try_from(p: QueryPage) -> Result<Self> {
        Ok(pb::QueryPage {
            records_json: p
                .records
                .iter()
                .map(|r| {
                    serde_json::to_string(r).map_err(|e| WireError::Invalid {
                        field: "QueryPage.records_json",
                        why: e.to_string(),
                    })
                })
                .collect::<Result<_>>()?,
            next_cursor: p.next_cursor,
        })
    }
}

impl TryFrom<pb::QueryPage> for QueryPage {
    type Error = WireError;
    fn try_from(p: pb::QueryPage) -> Result<Self> {
        let records = p
            .records_json
            .iter()
            .map(|text| match serde_json::from_str(text) {
                Ok(value @ serde_json::Value::Object(_)) => Ok(value),
                Ok(_) => Err(WireError::Invalid {
                    field: "QueryPage.records_json",
                    why: "each record must be a JSON object".into(),
                }),
                Err(e) => Err(WireError::Invalid {
                    field: "QueryPage.records_json",
                    why: format!("not JSON: {e}"),
                }),
            })
            .collect::<Result<_>>()?;
        Ok(QueryPage {
            records,
            next_cursor: p
                .next_cursor
                .map(|c| required("QueryPage.next_cursor", c))
                .transpose()?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Live prices and stock.

impl From<PriceRequest> for pb::PriceRequest {
    fn from(r: PriceRequest) -> Self {
        pb::PriceRequest {
            customer_id: r.customer_id.0,
            items: r
                .items
                .into_iter()
                .map(|i| pb::PriceItem {
                    article_id: i.article_id.0,
                    quantity: i.quantity.to_string(),
                })
                .collect(),
        }
    }
}

impl TryFrom<pb::PriceRequest> for PriceRequest {
    type Error = WireError;
    fn try_from(r: pb::PriceRequest) -> Result<Self> {
        Ok(PriceRequest {
            customer_id: CustomerId(required("PriceRequest.customer_id", r.customer_id)?),
            items: r
                .items
                .into_iter()
                .map(|i| {
                    Ok(PriceItem {
                        article_id: ArticleId(required("PriceItem.article_id", i.article_id)?),
                        quantity: decimal("PriceItem.quantity", &i.quantity)?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

impl From<PriceQuote> for pb::PriceQuote {
    fn from(q: PriceQuote) -> Self {
        pb::PriceQuote {
            article_id: q.article_id.0,
            customer_id: q.customer_id.0,
            unit_price: q.unit_price.to_string(),
            currency: q.currency,
            quantity: q.quantity.to_string(),
            breaks: q
                .breaks
                .into_iter()
                .map(|b| pb::QuantityBreak {
                    min_quantity: b.min_quantity.to_string(),
                    unit_price: b.unit_price.to_string(),
                })
                .collect(),
            valid_from: date_to_wire(q.valid_from),
            valid_until: date_to_wire(q.valid_until),
        }
    }
}

impl TryFrom<pb::PriceQuote> for PriceQuote {
    type Error = WireError;
    fn try_from(q: pb::PriceQuote) -> Result<Self> {
        Ok(PriceQuote {
            article_id: ArticleId(required("PriceQuote.article_id", q.article_id)?),
            customer_id: CustomerId(required("PriceQuote.customer_id", q.customer_id)?),
            unit_price: decimal("PriceQuote.unit_price", &q.unit_price)?,
            currency: required("PriceQuote.currency", q.currency)?,
            quantity: decimal("PriceQuote.quantity", &q.quantity)?,
            breaks: q
                .breaks
                .into_iter()
                .map(|b| {
                    Ok(QuantityBreak {
                        min_quantity: decimal("QuantityBreak.min_quantity", &b.min_quantity)?,
                        unit_price: decimal("QuantityBreak.unit_price", &b.unit_price)?,
                    })
                })
                .collect::<Result<_>>()?,
            valid_from: date("PriceQuote.valid_from", q.valid_from)?,
            valid_until: date("PriceQuote.valid_until", q.valid_until)?,
        })
    }
}

impl From<StockRequest> for pb::StockRequest {
    fn from(r: StockRequest) -> Self {
        pb::StockRequest {
            article_ids: r.article_ids.into_iter().map(|a| a.0).collect(),
            warehouse_ids: r.warehouse_ids.into_iter().map(|w| w.0).collect(),
        }
    }
}

impl TryFrom<pb::StockRequest> for StockRequest {
    type Error = WireError;
    fn try_from(r: pb::StockRequest) -> Result<Self> {
        Ok(StockRequest {
            article_ids: r
                .article_ids
                .into_iter()
                .map(|a| required("StockRequest.article_ids", a).map(ArticleId))
                .collect::<Result<_>>()?,
            warehouse_ids: r
                .warehouse_ids
                .into_iter()
                .map(|w| required("StockRequest.warehouse_ids", w).map(WarehouseId))
                .collect::<Result<_>>()?,
        })
    }
}

impl From<StockLevel> for pb::StockLevel {
    fn from(s: StockLevel) -> Self {
        pb::StockLevel {
            article_id: s.article_id.0,
            warehouse_id: s.warehouse_id.0,
            available: s.available.to_string(),
            reserved: s.reserved.to_string(),
        }
    }
}

impl TryFrom<pb::StockLevel> for StockLevel {
    type Error = WireError;
    fn try_from(s: pb::StockLevel) -> Result<Self> {
        Ok(StockLevel {
            article_id: ArticleId(required("StockLevel.article_id", s.article_id)?),
            warehouse_id: WarehouseId(required("StockLevel.warehouse_id", s.warehouse_id)?),
            available: decimal("StockLevel.available", &s.available)?,
            reserved: decimal("StockLevel.reserved", &s.reserved)?,
        })
    }
}

/// Article ids of a `GetArticles` request; empty ids are rejected.
pub fn article_ids(ids: Vec<String>) -> Result<Vec<ArticleId>> {
    ids.into_iter()
        .map(|id| required("GetArticlesRequest.ids", id).map(ArticleId))
        .collect()
}

/// Decodes a list of wire values (articles, quotes, stock levels) into model values.
pub fn from_wire_list<W, M>(items: Vec<W>) -> Result<Vec<M>>
where
    M: TryFrom<W, Error = WireError>,
{
    collect(items)
}

/// Encodes a list of model values into wire values.
pub fn to_wire_list<M, W: From<M>>(items: Vec<M>) -> Vec<W> {
    to_wire(items)
}

// ---------------------------------------------------------------------------------------
// Orders.

impl From<OrderLookup> for pb::OrderStatusRequest {
    fn from(l: OrderLookup) -> Self {
        use pb::order_status_request::Lookup;
        pb::OrderStatusRequest {
            lookup: Some(match l {
                OrderLookup::ById(id) => Lookup::ErpOrderId(id.0),
                OrderLookup::ByKey(key) => Lookup::IdempotencyKey(key.0),
            }),
        }
    }
}

impl TryFrom<pb::OrderStatusRequest> for OrderLookup {
    type Error = WireError;
    fn try_from(r: pb::OrderStatusRequest) -> Result<Self> {
        use pb::order_status_request::Lookup;
        Ok(match message("OrderStatusRequest.lookup", r.lookup)? {
            Lookup::ErpOrderId(id) => {
                OrderLookup::ById(ErpOrderId(required("OrderStatusRequest.erp_order_id", id)?))
            }
            Lookup::IdempotencyKey(key) => OrderLookup::ByKey(IdempotencyKey(required(
                "OrderStatusRequest.idempotency_key",
                key,
            )?)),
        })
    }
}

impl From<OrderStatus> for pb::OrderStatus {
    fn from(s: OrderStatus) -> Self {
        pb::OrderStatus {
            erp_order_id: s.erp_order_id.0,
            state: order_state_to_wire(s.state),
            shipment_state: s.shipment_state,
            external_reference: s.external_reference,
            updated_at: timestamp_to_wire(s.updated_at),
        }
    }
}

impl TryFrom<pb::OrderStatus> for OrderStatus {
    type Error = WireError;
    fn try_from(s: pb::OrderStatus) -> Result<Self> {
        Ok(OrderStatus {
            erp_order_id: ErpOrderId(required("OrderStatus.erp_order_id", s.erp_order_id)?),
            state: order_state(s.state)?,
            shipment_state: s.shipment_state,
            external_reference: s.external_reference,
            updated_at: timestamp("OrderStatus.updated_at", s.updated_at)?,
        })
    }
}

impl From<Order> for pb::Order {
    fn from(o: Order) -> Self {
        pb::Order {
            customer_id: o.customer_id.0,
            external_reference: o.external_reference,
            lines: o
                .lines
                .into_iter()
                .map(|l| pb::OrderLine {
                    article_id: l.article_id.0,
                    quantity: l.quantity.to_string(),
                    unit_price: l.unit_price.map(|p| p.to_string()),
                })
                .collect(),
            currency: o.currency,
            comment: o.comment,
        }
    }
}

impl TryFrom<pb::Order> for Order {
    type Error = WireError;
    fn try_from(o: pb::Order) -> Result<Self> {
        Ok(Order {
            customer_id: CustomerId(required("Order.customer_id", o.customer_id)?),
            external_reference: o.external_reference,
            lines: o
                .lines
                .into_iter()
                .map(|l| {
                    Ok(OrderLine {
                        article_id: ArticleId(required("OrderLine.article_id", l.article_id)?),
                        quantity: decimal("OrderLine.quantity", &l.quantity)?,
                        unit_price: opt_decimal("OrderLine.unit_price", l.unit_price)?,
                    })
                })
                .collect::<Result<_>>()?,
            currency: o.currency,
            comment: o.comment,
        })
    }
}

impl From<CreateOrderRequest> for pb::CreateOrderRequest {
    fn from(r: CreateOrderRequest) -> Self {
        pb::CreateOrderRequest {
            idempotency_key: r.idempotency_key.0,
            order: Some(r.order.into()),
        }
    }
}

impl TryFrom<pb::CreateOrderRequest> for CreateOrderRequest {
    type Error = WireError;
    fn try_from(r: pb::CreateOrderRequest) -> Result<Self> {
        Ok(CreateOrderRequest {
            idempotency_key: IdempotencyKey(required(
                "CreateOrderRequest.idempotency_key",
                r.idempotency_key,
            )?),
            order: message("CreateOrderRequest.order", r.order)?.try_into()?,
        })
    }
}

impl From<OrderReceipt> for pb::OrderReceipt {
    fn from(r: OrderReceipt) -> Self {
        pb::OrderReceipt {
            erp_order_id: r.erp_order_id.0,
            idempotency_key: r.idempotency_key.0,
            state: order_state_to_wire(r.state),
            already_existed: r.already_existed,
        }
    }
}

impl TryFrom<pb::OrderReceipt> for OrderReceipt {
    type Error = WireError;
    fn try_from(r: pb::OrderReceipt) -> Result<Self> {
        Ok(OrderReceipt {
            erp_order_id: ErpOrderId(required("OrderReceipt.erp_order_id", r.erp_order_id)?),
            idempotency_key: IdempotencyKey(required(
                "OrderReceipt.idempotency_key",
                r.idempotency_key,
            )?),
            state: order_state(r.state)?,
            already_existed: r.already_existed,
        })
    }
}

impl From<OrderActionRequest> for pb::OrderActionRequest {
    fn from(r: OrderActionRequest) -> Self {
        pb::OrderActionRequest {
            idempotency_key: r.idempotency_key.0,
            erp_order_id: r.erp_order_id.0,
        }
    }
}

impl TryFrom<pb::OrderActionRequest> for OrderActionRequest {
    type Error = WireError;
    fn try_from(r: pb::OrderActionRequest) -> Result<Self> {
        Ok(OrderActionRequest {
            idempotency_key: IdempotencyKey(required(
                "OrderActionRequest.idempotency_key",
                r.idempotency_key,
            )?),
            erp_order_id: ErpOrderId(required("OrderActionRequest.erp_order_id", r.erp_order_id)?),
        })
    }
}

// ---------------------------------------------------------------------------------------
// BOMs and inventory.

impl From<BomSyncRequest> for pb::BomSyncRequest {
    fn from(r: BomSyncRequest) -> Self {
        let b = r.bom;
        pb::BomSyncRequest {
            idempotency_key: r.idempotency_key.0,
            bom: Some(pb::Bom {
                bom_id: b.bom_id,
                product: b.product.0,
                name: b.name,
                output_quantity: b.output_quantity.to_string(),
                materials: b
                    .materials
                    .into_iter()
                    .map(|m| pb::BomMaterial {
                        article_id: m.article_id.0,
                        quantity: m.quantity.to_string(),
                        unit: m.unit,
                    })
                    .collect(),
            }),
        }
    }
}

impl TryFrom<pb::BomSyncRequest> for BomSyncRequest {
    type Error = WireError;
    fn try_from(r: pb::BomSyncRequest) -> Result<Self> {
        let b = message("BomSyncRequest.bom", r.bom)?;
        Ok(BomSyncRequest {
            idempotency_key: IdempotencyKey(required(
                "BomSyncRequest.idempotency_key",
                r.idempotency_key,
            )?),
            bom: Bom {
                bom_id: b.bom_id,
                product: ArticleId(required("Bom.product", b.product)?),
                name: b.name,
                output_quantity: decimal("Bom.output_quantity", &b.output_quantity)?,
                materials: b
                    .materials
                    .into_iter()
                    .map(|m| {
                        Ok(BomMaterial {
                            article_id: ArticleId(required(
                                "BomMaterial.article_id",
                                m.article_id,
                            )?),
                            quantity: decimal("BomMaterial.quantity", &m.quantity)?,
                            unit: m.unit,
                        })
                    })
                    .collect::<Result<_>>()?,
            },
        })
    }
}

impl From<BomReceipt> for pb::BomReceipt {
    fn from(r: BomReceipt) -> Self {
        pb::BomReceipt {
            bom_id: r.bom_id,
            idempotency_key: r.idempotency_key.0,
            already_existed: r.already_existed,
        }
    }
}

impl TryFrom<pb::BomReceipt> for BomReceipt {
    type Error = WireError;
    fn try_from(r: pb::BomReceipt) -> Result<Self> {
        Ok(BomReceipt {
            bom_id: required("BomReceipt.bom_id", r.bom_id)?,
            idempotency_key: IdempotencyKey(required(
                "BomReceipt.idempotency_key",
                r.idempotency_key,
            )?),
            already_existed: r.already_existed,
        })
    }
}

impl From<InventoryAdjustRequest> for pb::InventoryAdjustRequest {
    fn from(r: InventoryAdjustRequest) -> Self {
        pb::InventoryAdjustRequest {
            idempotency_key: r.idempotency_key.0,
            adjustments: r
                .adjustments
                .into_iter()
                .map(|a| pb::InventoryAdjustment {
                    article_id: a.article_id.0,
                    warehouse_id: a.warehouse_id.0,
                    delta: a.delta.to_string(),
                    reason: a.reason,
                })
                .collect(),
        }
    }
}

impl TryFrom<pb::InventoryAdjustRequest> for InventoryAdjustRequest {
    type Error = WireError;
    fn try_from(r: pb::InventoryAdjustRequest) -> Result<Self> {
        Ok(InventoryAdjustRequest {
            idempotency_key: IdempotencyKey(required(
                "InventoryAdjustRequest.idempotency_key",
                r.idempotency_key,
            )?),
            adjustments: r
                .adjustments
                .into_iter()
                .map(|a| {
                    Ok(InventoryAdjustment {
                        article_id: ArticleId(required(
                            "InventoryAdjustment.article_id",
                            a.article_id,
                        )?),
                        warehouse_id: WarehouseId(required(
                            "InventoryAdjustment.warehouse_id",
                            a.warehouse_id,
                        )?),
                        delta: decimal("InventoryAdjustment.delta", &a.delta)?,
                        reason: a.reason,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

impl From<InventoryReceipt> for pb::InventoryReceipt {
    fn from(r: InventoryReceipt) -> Self {
        pb::InventoryReceipt {
            document_id: r.document_id,
            idempotency_key: r.idempotency_key.0,
            already_existed: r.already_existed,
        }
    }
}

impl TryFrom<pb::InventoryReceipt> for InventoryReceipt {
    type Error = WireError;
    fn try_from(r: pb::InventoryReceipt) -> Result<Self> {
        Ok(InventoryReceipt {
            document_id: required("InventoryReceipt.document_id", r.document_id)?,
            idempotency_key: IdempotencyKey(required(
                "InventoryReceipt.idempotency_key",
                r.idempotency_key,
            )?),
            already_existed: r.already_existed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_strict() {
        assert_eq!(decimal("f", "12.50").unwrap().to_string(), "12.50");
        assert_eq!(decimal("f", "-3").unwrap().to_string(), "-3");
        for bad in [
            "",
            "-",
            "1e3",
            "1_000",
            "abc",
            " 1",
            "1.",
            ".5",
            "+1",
            "1.2.3",
            "NaN",
            // more digits than a Decimal holds: rounding would change the value
            "1.00000000000000000000000000001",
        ] {
            assert!(
                matches!(decimal("f", bad), Err(WireError::Decimal { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn unspecified_enums_and_missing_messages_are_errors() {
        assert_eq!(
            entity_kind(0),
            Err(WireError::Enum {
                field: "entity",
                value: 0
            })
        );
        assert!(entity_kind(99).is_err());
        let request = pb::CreateOrderRequest {
            idempotency_key: "k".into(),
            order: None,
        };
        assert_eq!(
            CreateOrderRequest::try_from(request),
            Err(WireError::Missing {
                field: "CreateOrderRequest.order"
            })
        );
    }

    #[test]
    fn filters_round_trip_with_exact_numbers() {
        let filter: Filter = serde_json::from_value(serde_json::json!({
            "and": [
                {"field": "number", "op": "like", "value": "A1%"},
                {"not": {"or": [
                    {"field": "row_version", "op": "ge", "value": 12.5},
                    {"field": "categories", "op": "in", "value": ["c1", 7, null, true]}
                ]}}
            ]
        }))
        .unwrap();
        let wire = filter_to_wire(filter.clone()).unwrap();
        assert_eq!(filter_from_wire(wire).unwrap(), filter);
    }

    #[test]
    fn timestamps_and_dates_are_checked() {
        assert!(timestamp("t", Some("2026-11-25T09:30:00Z".into())).is_ok());
        assert!(timestamp("t", Some("yesterday".into())).is_err());
        assert!(date("d", Some("2026-02-30".into())).is_err());
    }
}
