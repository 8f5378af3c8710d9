//! The Tryton provider: erpbridge's first real ERP, over Tryton's HTTP JSON-RPC.
//!
//! Tryton (PyPI `trytond`) is a complete open-source ERP with products, parties, stock,
//! price lists and sales. Its HTTP API is safe to call concurrently, so this crate
//! implements [`erpbridge_provider::Provider`] directly (no actor thread), with a
//! semaphore bounding the calls in flight.
//!
//! How it maps onto the SDK, module by module:
//! * `rpc`: sessions (`Authorization: Session ...`, re-login on 401,
//!   logins serialised, a refused login not retried for `login_retry_after`: the login
//!   circuit), gzip always (Tryton mislabels plain bodies as gzip, so bodies
//!   are sniffed), error classification into the SDK's kinds ([`error`]).
//! * `catalog` + `cursor`: articles are `product.product` variants joined with their
//!   templates, categories are `product.category` (minus accounting categories),
//!   customers are `party.party` (minus the company's own). Pages are keyset by id. A
//!   delta re-reads what was stamped (`write_date`/`create_date`, the template's too)
//!   since the previous pass's watermark, reports deactivated records as tombstones, and
//!   finds hard deletions by comparing id sets carried in the cursor.
//! * `domain`: query descriptors become Tryton domains that select a superset; each
//!   record is then re-checked with the hub's semantics, which makes the pushdown exact
//!   although Tryton's `ilike` and NULL handling differ from the hub's.
//! * `live`: prices through the customer's price list (`sale_price_uom` in context,
//!   with quantity breaks asked of Tryton at each threshold), stock per warehouse
//!   (`quantity`/`forecast_quantity` with `locations`).
//! * `orders`: sales created idempotently (the key is the sale's `reference`, searched
//!   before create, duplicates from a race resolved to the oldest), quoted, confirmed,
//!   cancelled.
//!
//! Known limits (deliberate, for now):
//! * Hard deletions are found by id-set difference: every delta pass lists all ids of
//!   the entity once (an ids-only `search`, about 40 ms per 10k) and the cursor carries
//!   the ids as ranges, so it grows with the number of holes deletions leave.
//! * Price, stock and price-list changes do not stamp products; they are live data and
//!   never synced, so the catalog delta does not need them.
//! * Attributes are the template code and list price; images and references (product
//!   identifiers) are not mapped yet. Names are read in one configured language.
//! * Cancelling a sale Tryton already processes (shipment created) is refused as fatal:
//!   that needs a person.
//!
//! Server facts this code relies on (observed on Tryton 8.2) are collected in the
//! project's shared Tryton reference notes; the test environment is `scripts/tryton/`.

pub mod bench;
mod calls;
mod catalog;
pub mod config;
mod cursor;
mod domain;
pub mod error;
mod idset;
mod live;
mod orders;
mod provider;
mod rpc;
mod value;

pub use config::TrytonConfig;
pub use domain::capabilities;
pub use error::TrytonError;
pub use provider::TrytonProvider;
