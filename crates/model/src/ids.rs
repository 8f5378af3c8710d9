//! Identifiers. They are strings on the wire because every ERP has its own idea of a key
//! (enventa: numeric article ids, SAP: 18-char material numbers, Tryton: integers).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// A tenant: one ERP connection context (a business unit). Every row, cache entry,
    /// index document and metric label carries one.
    TenantId
);
string_id!(
    /// An article's id as the ERP knows it.
    ArticleId
);
string_id!(
    /// A category's id as the ERP knows it.
    CategoryId
);
string_id!(
    /// A customer's id as the ERP knows it.
    CustomerId
);
string_id!(
    /// A warehouse's id as the ERP knows it.
    WarehouseId
);
string_id!(
    /// An order's id as the ERP knows it (assigned by the ERP on creation).
    ErpOrderId
);
string_id!(
    /// The caller-chosen key that makes a write happen once. Providers store it with the
    /// created record (e.g. a sale's reference) and look it up before creating.
    IdempotencyKey
);
