//! Master data: what the sync engine copies from the ERP into the local catalog store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{ArticleId, CategoryId, CustomerId};

/// A language tag such as `de` or `en`. Texts are keyed by it.
pub type Lang = String;

/// Texts per language. A `BTreeMap` so that serialisation (and content checksums over it)
/// is deterministic.
pub type LocalizedText = BTreeMap<Lang, String>;

/// An opaque, provider-defined position in the ERP's change history. The hub stores it
/// with a sync checkpoint and hands it back unchanged; only the provider interprets it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct ChangeCursor(pub String);

/// A sellable article with everything the catalog needs about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Article {
    pub id: ArticleId,
    /// The article number customers and sales staff use (unique per tenant).
    pub number: String,
    #[serde(default)]
    pub names: LocalizedText,
    #[serde(default)]
    pub descriptions: LocalizedText,
    #[serde(default)]
    pub categories: Vec<CategoryId>,
    /// The sales unit (e.g. `PCE`, `M`, `KG`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub references: Vec<ArticleReference>,
    /// The ERP's row version for this article; strictly increases on every change the
    /// provider can see. Used to skip unchanged rows and to detect lost updates.
    pub row_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A feature (Merkmal) of an article: `Länge = 120 mm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attribute {
    /// Stable key of the feature (e.g. `length`).
    pub key: String,
    /// The value as the ERP shows it; numeric features keep their textual form so no
    /// precision is lost ("0.10" stays "0.10").
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `None` for language-neutral values (numbers, codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Image {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Display order, lowest first.
    #[serde(default)]
    pub position: u32,
}

/// A link from one article to another thing: accessory, spare part, successor, or a
/// cross-reference to a manufacturer's or customer's own number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArticleReference {
    pub kind: ReferenceKind,
    /// The referenced article id or foreign number, depending on `kind`.
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    Accessory,
    SparePart,
    Successor,
    Alternative,
    /// The manufacturer's article number.
    Manufacturer,
    /// A customer's own number for this article.
    Customer,
    /// A GTIN/EAN barcode.
    Gtin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Category {
    pub id: CategoryId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<CategoryId>,
    #[serde(default)]
    pub names: LocalizedText,
    pub row_version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Customer {
    pub id: CustomerId,
    /// The customer number as printed on documents.
    pub number: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ISO 4217 currency the customer is invoiced in.
    pub currency: String,
    pub row_version: u64,
}

/// The kinds of master data a catalog stream carries, in the order a staged sync applies them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Category,
    Article,
    Customer,
}

/// One item of a catalog stream: a record that exists (now), or a tombstone for one the
/// ERP deleted since the cursor the stream started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CatalogRecord {
    Article(Article),
    Category(Category),
    Customer(Customer),
    Deleted { entity: EntityKind, id: String },
}
