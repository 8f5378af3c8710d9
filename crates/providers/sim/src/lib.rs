//! The simulated ERP (`sim`): erpbridge's embedded default backend and its benchmark
//! workhorse.
//!
//! It behaves like the ERPs erpbridge exists for — slow logins, one call at a time per
//! session, faults — while staying deterministic and cheap:
//!
//! * **Generated, not stored.** Every article, category and customer is a pure function
//!   of (seed, index, version) ([`generate`]), so 1.5 million articles × 20 attributes
//!   cost nothing until streamed, and two processes with one seed agree byte for byte.
//! * **A change feed** ([`feed`]): a logical clock; [`Sim::advance`] changes a fixed
//!   percentage of articles and customers per tick, deletes and inserts a few. Each tick
//!   picks its changes through an invertible permutation, so a delta lists exactly the
//!   changed ids without scanning the catalog, and any past version can be rebuilt.
//!   Cursors ([`cursor`]) make full snapshots consistent and every page resumable.
//! * **Writes with a journal** ([`journal`]): orders, BOMs and inventory adjustments are
//!   idempotent by key and, with a `state_file`, fsynced to a JSON-lines journal before
//!   they are acknowledged, so crash tests can count effects across processes.
//! * **Fragile sessions** ([`session`]): `init_delay` per login, per-call latency and
//!   per-item cost, injected transient errors, timeouts, disconnects and lost replies —
//!   and a detector that fails loudly when two calls use one session at once.
//!
//! Entry points: [`Sim::new`] with a [`SimConfig`]; [`Sim::factory`] gives the
//! [`SimFactory`] (`SessionFactory`) the provider runtime hosts.

pub mod config;
pub mod cursor;
pub mod describe;
pub mod feed;
pub mod generate;
pub mod journal;
pub mod query;
mod rng;
mod session;
mod sim;
mod words;

pub use config::SimConfig;
pub use journal::{Ledger, SimOrder, load_journal};
pub use session::{RawSession, SimFactory, SimSession};
pub use sim::{Sim, SimStats};

/// Why the simulator could not start or persist.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid sim configuration: {0}")]
    Config(String),
    #[error("sim journal: {0}")]
    Journal(String),
}
