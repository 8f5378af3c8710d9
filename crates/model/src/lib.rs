//! The domain of erpbridge as plain data.
//!
//! Everything here crosses a boundary: it is stored in SQLite/PostgreSQL, sent over HTTP as
//! JSON, over gRPC to out-of-process providers, and through the connector tunnel. So the
//! types are owned, `serde`-stable and free of I/O. Field names are part of the public
//! contract: renaming one is a breaking change of the wire format.
//!
//! Money is `rust_decimal::Decimal`, serialised as a string (`"12.50"`), never a float: a
//! price that drifts by a cent between ERP and shop is a support ticket.

pub mod catalog;
pub mod commerce;
pub mod ids;
pub mod query;

pub use catalog::*;
pub use commerce::*;
pub use ids::*;
