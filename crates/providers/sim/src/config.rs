//! The knobs of the simulated ERP. Every field has a default, so `SimConfig::default()`
//! is the embedded demo backend and a TOML table only names what it changes.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Configuration of one simulated ERP. Durations are humantime strings (`"2s"`, `"150ms"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of everything generated: same seed and sizes, same catalog. Default 42.
    pub seed: u64,
    /// Articles at tick 0 (100 to 1.5 million are sensible). Default 10,000.
    pub articles: u64,
    /// Attributes (Merkmale) per article, language variants included. Default 20.
    pub attributes_per_article: u32,
    /// Categories in the tree (roots are product families). Default 200.
    pub categories: u32,
    /// Customers. Default 1,000.
    pub customers: u32,
    /// Warehouses with stock. Default 3.
    pub warehouses: u32,
    /// Time a login takes (`connect`). Default 2 s, as enventa's business-unit init.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub init_delay: Duration,
    /// Fixed cost of every call, slept while the session is marked busy. Default 0.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub per_call_latency: Duration,
    /// Extra cost per item in a call (record, price, stock line). Default 0.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub per_item_cost: Duration,
    /// Probability (0..=1) that a call fails with a transient error before doing anything.
    /// Drawn from a deterministic per-session RNG. Default 0.
    pub error_rate: f64,
    /// Probability that a call hangs for `timeout_after` and then fails transient. Default 0.
    pub timeout_rate: f64,
    /// How long a timed-out call hangs. Default 5 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout_after: Duration,
    /// Probability that a call kills the session: it and every later call on that session
    /// fail `unavailable` until a new session is opened. Default 0.
    pub disconnect_rate: f64,
    /// Probability that a write (order create/confirm/cancel, BOM, inventory) takes effect
    /// but its reply is lost (the caller sees a transient error). This is the case
    /// idempotency keys exist for. Default 0.
    pub lost_reply_rate: f64,
    /// Percentage of live articles (and customers) that change per tick of the change
    /// feed. Default 1.0.
    pub change_percent_per_tick: f64,
    /// Articles deleted per tick. Default 2.
    pub deletes_per_tick: u32,
    /// Articles added per tick. Default 5.
    pub inserts_per_tick: u32,
    /// Advance the change feed by one tick this often, on a background thread (for a
    /// demo hub whose delta syncs should find changes). Unset: the clock moves only
    /// through `Sim::advance`. Default unset.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub auto_tick: Option<Duration>,
    /// Confirmed orders move one step per tick of the clock: processing, shipped, done
    /// (so order-status lookups have something to show). Default false.
    pub order_progress: bool,
    /// Sessions the backend allows at once: 1 declares `serial`, more `pooled`. Default 1.
    pub sessions: u32,
    /// Largest catalog page a call returns. Default 1,000.
    pub max_catalog_page: u32,
    /// JSON-lines journal of writes (orders, BOMs, inventory). Appended and fsynced before
    /// a write returns, replayed on start. None keeps writes in memory only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            articles: 10_000,
            attributes_per_article: 20,
            categories: 200,
            customers: 1_000,
            warehouses: 3,
            init_delay: Duration::from_secs(2),
            per_call_latency: Duration::ZERO,
            per_item_cost: Duration::ZERO,
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout_after: Duration::from_secs(5),
            disconnect_rate: 0.0,
            lost_reply_rate: 0.0,
            change_percent_per_tick: 1.0,
            deletes_per_tick: 2,
            inserts_per_tick: 5,
            auto_tick: None,
            order_progress: false,
            sessions: 1,
            max_catalog_page: 1_000,
            state_file: None,
        }
    }
}

impl SimConfig {
    /// A configuration for tests: no login delay, everything else default.
    pub fn fast(articles: u64) -> Self {
        Self {
            articles,
            init_delay: Duration::ZERO,
            ..Self::default()
        }
    }

    /// Rejects values the simulator cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let bad = |field: &str, why: &str| Err(crate::SimError::Config(format!("{field}: {why}")));
        for (field, rate) in [
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("disconnect_rate", self.disconnect_rate),
            ("lost_reply_rate", self.lost_reply_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(field, "must be between 0 and 1");
            }
        }
        if !(0.0..=100.0).contains(&self.change_percent_per_tick) {
            return bad("change_percent_per_tick", "must be between 0 and 100");
        }
        if self.articles == 0 || self.articles > 50_000_000 {
            return bad("articles", "must be between 1 and 50,000,000");
        }
        if self.categories == 0 {
            return bad("categories", "must be at least 1");
        }
        if self.customers == 0 {
            return bad("customers", "must be at least 1");
        }
        if self.warehouses == 0 || self.warehouses > 99 {
            return bad("warehouses", "must be between 1 and 99");
        }
        if self.sessions == 0 {
            return bad("sessions", "must be at least 1");
        }
        if self.auto_tick.is_some_and(|d| d.is_zero()) {
            return bad("auto_tick", "must be longer than 0");
        }
        if self.max_catalog_page == 0 {
            return bad("max_catalog_page", "must be at least 1");
        }
        Ok(())
    }
}
