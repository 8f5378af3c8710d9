//! The catalog stream: categories, articles (product variants with their templates) and
//! customers, in keyset pages by id, with delta passes and tombstones (see [`crate::cursor`]).

use erpbridge_model::{
    Article, ArticleId, Attribute, CatalogRecord, Category, CategoryId, Customer, CustomerId,
    EntityKind,
};
use erpbridge_provider::{CatalogPage, CatalogPageRequest};
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::calls::{Record, ctx, dotted};
use crate::cursor::{Cursor, Pass, Stage, from_micros, to_micros};
use crate::error::{Result, TrytonError};
use crate::idset::IdSet;
use crate::provider::Tenant;
use crate::rpc::Rpc;
use crate::value;

/// The largest page we ask Tryton for: bigger pages are slower per row on its side.
pub(crate) const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 500;

pub(crate) const ARTICLE_FIELDS: &[&str] = &[
    "id",
    "code",
    "name",
    "description",
    "active",
    "categories",
    "write_date",
    "create_date",
    "template.active",
    "template.code",
    "template.list_price",
    "template.write_date",
    "template.create_date",
    "sale_uom.symbol",
];
const CATEGORY_FIELDS: &[&str] = &["id", "name", "parent", "write_date", "create_date"];
const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "code",
    "name",
    "email",
    "active",
    "write_date",
    "create_date",
];

pub(crate) fn model_of(entity: EntityKind) -> &'static str {
    match entity {
        EntityKind::Article => "product.product",
        EntityKind::Category => "product.category",
        EntityKind::Customer => "party.party",
    }
}

/// The date fields whose maximum is an entity's watermark, per model. Articles include
/// their templates: changing a template (its list price, say) does not touch the
/// variant's own `write_date`.
fn stamped(entity: EntityKind) -> &'static [(&'static str, &'static str)] {
    match entity {
        EntityKind::Article => &[
            ("product.product", "write_date"),
            ("product.product", "create_date"),
            ("product.template", "write_date"),
            ("product.template", "create_date"),
        ],
        EntityKind::Category => &[
            ("product.category", "write_date"),
            ("product.category", "create_date"),
        ],
        EntityKind::Customer => &[
            ("party.party", "write_date"),
            ("party.party", "create_date"),
        ],
    }
}

pub(crate) struct Catalog<'a> {
    pub rpc: &'a Rpc,
    pub tenant: &'a Tenant,
}

impl Catalog<'_> {
    /// What makes a record of the model part of the entity at all.
    pub(crate) fn base_domain(&self, entity: EntityKind) -> Vec<Value> {
        match entity {
            EntityKind::Article if self.rpc.config().salable_only => {
                vec![json!(["salable", "=", true])]
            }
            EntityKind::Article => Vec::new(),
            EntityKind::Category if self.tenant.category_accounting => {
                vec![json!(["accounting", "=", false])]
            }
            EntityKind::Category => Vec::new(),
            EntityKind::Customer => vec![json!(["id", "not in", self.tenant.company_parties])],
        }
    }

    fn changed_since(&self, entity: EntityKind, since: Option<i64>) -> Option<Value> {
        let overlap = i64::try_from(self.rpc.config().delta_overlap.as_micros()).unwrap_or(0);
        let ts = from_micros(since? - overlap)?;
        let ts = value::datetime(ts);
        let mut or = vec![
            json!("OR"),
            json!(["write_date", ">", ts]),
            json!(["create_date", ">", ts]),
        ];
        if entity == EntityKind::Article {
            or.push(json!(["template.write_date", ">", ts]));
            or.push(json!(["template.create_date", ">", ts]));
        }
        Some(Value::Array(or))
    }

    /// The newest stamp of the entity, from the data (Tryton's clock, not ours).
    async fn watermark(&self, entity: EntityKind) -> Result<Option<i64>> {
        let all = ctx(json!({"active_test": false}));
        let mut mark = None;
        for (model, field) in stamped(entity) {
            let rows = self
                .rpc
                .search_read(
                    model,
                    json!([[field, "!=", null]]),
                    Some(1),
                    json!([[field, "DESC"]]),
                    &[field],
                    Some(&all),
                )
                .await?;
            let newest = rows
                .first()
                .and_then(|row| row.get(*field))
                .and_then(value::as_datetime)
                .map(to_micros);
            mark = mark.max(newest);
        }
        Ok(mark)
    }

    /// Every id of the entity, active or not: the ids-only `search` is the cheap call
    /// (10k ids in 40 ms).
    async fn present_ids(&self, entity: EntityKind) -> Result<IdSet> {
        let all = ctx(json!({"active_test": false}));
        let ids = self
            .rpc
            .search(
                model_of(entity),
                Value::Array(self.base_domain(entity)),
                None,
                json!([["id", "ASC"]]),
                Some(&all),
            )
            .await?;
        Ok(IdSet::from_ids(ids))
    }

    pub(crate) async fn page(&self, request: CatalogPageRequest) -> Result<CatalogPage> {
        let entity = request.entity;
        let limit = if request.limit == 0 {
            DEFAULT_PAGE
        } else {
            request.limit.min(MAX_PAGE)
        } as usize;
        let mut cursor = match &request.from {
            None => Cursor::full(entity),
            Some(from) => Cursor::decode(from, entity)?,
        };
        if cursor.present.is_none() {
            // A pass starts: watermark first, so anything stamped while we list ids or
            // read pages is re-read by the next delta rather than missed.
            cursor.mark = self.watermark(entity).await?;
            cursor.present = Some(self.present_ids(entity).await?.to_string());
        }
        let present = cursor.present().unwrap_or_default();

        let mut records = Vec::new();
        if cursor.stage == Stage::Tombstones {
            let gone = cursor.known().missing_from(&present, cursor.after, limit);
            if let Some(last) = gone.last() {
                cursor.after = *last;
            }
            let exhausted = gone.len() < limit;
            records.extend(gone.into_iter().map(|id| CatalogRecord::Deleted {
                entity,
                id: id.to_string(),
            }));
            if exhausted {
                cursor.stage = Stage::Records;
                cursor.after = 0;
            }
        }

        let mut finished = false;
        if cursor.stage == Stage::Records && records.len() < limit {
            let want = limit - records.len();
            let mut domain = self.base_domain(entity);
            domain.push(json!(["id", ">", cursor.after]));
            let delta = cursor.pass == Pass::Delta;
            if delta && let Some(changed) = self.changed_since(entity, cursor.since) {
                domain.push(changed);
            }
            // Deltas read inactive rows too: a deactivation is a change to report.
            let extra = ctx(json!({"active_test": !delta}));
            let rows = self
                .rpc
                .search_read(
                    model_of(entity),
                    Value::Array(domain),
                    Some(u32::try_from(want).unwrap_or(MAX_PAGE)),
                    json!([["id", "ASC"]]),
                    fields_of(entity),
                    Some(&extra),
                )
                .await?;
            finished = rows.len() < want;
            for row in &rows {
                let id = row.get("id").and_then(value::as_id).ok_or_else(|| {
                    TrytonError::protocol("search_read", "a record without an id")
                })?;
                cursor.after = id;
                records.push(self.to_record(entity, row));
            }
        }

        if finished {
            // Ids present at the start or at the end of the pass: the consumer may hold
            // either, and the next delta tombstones whichever of them disappear.
            let known = present.union(&self.present_ids(entity).await?);
            let next = Cursor::next_delta(entity, cursor.mark.or(cursor.since), &known);
            Ok(CatalogPage {
                records,
                next: next.encode(),
                has_more: false,
            })
        } else {
            Ok(CatalogPage {
                records,
                next: cursor.encode(),
                has_more: true,
            })
        }
    }

    pub(crate) fn to_record(&self, entity: EntityKind, row: &Record) -> CatalogRecord {
        let id = row.get("id").and_then(value::as_id).unwrap_or_default();
        let active = row.get("active").and_then(value::as_bool).unwrap_or(true)
            && dotted(row, "template.active")
                .and_then(value::as_bool)
                .unwrap_or(true);
        if !active {
            return CatalogRecord::Deleted {
                entity,
                id: id.to_string(),
            };
        }
        match entity {
            EntityKind::Article => CatalogRecord::Article(self.article(row)),
            EntityKind::Category => CatalogRecord::Category(self.category(row)),
            EntityKind::Customer => CatalogRecord::Customer(self.customer(row)),
        }
    }

    pub(crate) fn article(&self, row: &Record) -> Article {
        let id = row.get("id").and_then(value::as_id).unwrap_or_default();
        let lang = self.rpc.config().language.clone();
        let text = |key: &str| row.get(key).and_then(value::as_str).map(str::to_owned);
        let (row_version, updated_at) = version(
            row,
            &[
                "write_date",
                "create_date",
                "template.write_date",
                "template.create_date",
            ],
        );
        let mut attributes = Vec::new();
        if let Some(template_code) = dotted(row, "template.code").and_then(value::as_str) {
            attributes.push(Attribute {
                key: "template_code".into(),
                value: template_code.to_owned(),
                unit: None,
                lang: None,
            });
        }
        if let Some(price) = dotted(row, "template.list_price").and_then(value::as_decimal) {
            attributes.push(Attribute {
                key: "list_price".into(),
                value: price.to_string(),
                unit: Some(self.tenant.currency.clone()),
                lang: None,
            });
        }
        Article {
            id: ArticleId(id.to_string()),
            number: text("code").unwrap_or_else(|| format!("#{id}")),
            names: text("name")
                .map(|name| BTreeMap::from([(lang.clone(), name)]))
                .unwrap_or_default(),
            descriptions: text("description")
                .map(|d| BTreeMap::from([(lang, d)]))
                .unwrap_or_default(),
            categories: row
                .get("categories")
                .map(value::as_ids)
                .unwrap_or_default()
                .into_iter()
                .map(|c| CategoryId(c.to_string()))
                .collect(),
            unit: dotted(row, "sale_uom.symbol")
                .and_then(value::as_str)
                .map(str::to_owned),
            attributes,
            images: Vec::new(),
            references: Vec::new(),
            row_version,
            updated_at,
        }
    }

    fn category(&self, row: &Record) -> Category {
        let id = row.get("id").and_then(value::as_id).unwrap_or_default();
        let (row_version, _) = version(row, &["write_date", "create_date"]);
        Category {
            id: CategoryId(id.to_string()),
            parent: row
                .get("parent")
                .and_then(value::as_id)
                .map(|p| CategoryId(p.to_string())),
            names: row
                .get("name")
                .and_then(value::as_str)
                .map(|n| BTreeMap::from([(self.rpc.config().language.clone(), n.to_owned())]))
                .unwrap_or_default(),
            row_version,
        }
    }

    fn customer(&self, row: &Record) -> Customer {
        let id = row.get("id").and_then(value::as_id).unwrap_or_default();
        let (row_version, _) = version(row, &["write_date", "create_date"]);
        let text = |key: &str| row.get(key).and_then(value::as_str).map(str::to_owned);
        Customer {
            id: CustomerId(id.to_string()),
            number: text("code").unwrap_or_else(|| format!("#{id}")),
            name: text("name").unwrap_or_default(),
            email: text("email"),
            currency: self.tenant.currency.clone(),
            row_version,
        }
    }
}

pub(crate) fn fields_of(entity: EntityKind) -> &'static [&'static str] {
    match entity {
        EntityKind::Article => ARTICLE_FIELDS,
        EntityKind::Category => CATEGORY_FIELDS,
        EntityKind::Customer => CUSTOMER_FIELDS,
    }
}

/// The newest of the given stamps, as a row version (micro-seconds) and a time. A new
/// record's `write_date` is NULL, so `create_date` counts too.
fn version(row: &Record, fields: &[&str]) -> (u64, Option<chrono::DateTime<chrono::Utc>>) {
    let newest = fields
        .iter()
        .filter_map(|f| dotted(row, f).and_then(value::as_datetime))
        .max();
    (
        newest.map(value::micros).unwrap_or(0),
        newest.map(value::as_utc),
    )
}
