//! The subcommand families of the `erpbridge` binary, one module each, and what they
//! share.

pub mod agent;
pub mod bench;
pub mod config;
pub mod connector;
pub mod jobs;
pub mod provider;
pub mod providers;
pub mod release;
pub mod serve;
pub mod sim_erp;
pub mod sync;

/// How log lines look on stderr (`--log-format`, `ERPBRIDGE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, and the
    /// current span), for log collectors that should not parse text.
    Json,
}

/// Logs go to stderr (stdout is for a command's output: a schema, a report), filtered
/// by `RUST_LOG`, `info` when unset.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling in-process) is harmless; ignore it.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // Fields stay under `fields` (not flattened), so an event's own field named
        // `level` or `target` can never shadow the envelope's.
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}

/// The sim's own configuration from the tenant's `[provider]` section. One mapping for
/// every command that hosts a sim (`serve`, `sync`), so they can never disagree.
pub fn sim_config(s: &erpbridge_config::SimSettings) -> erpbridge_sim::SimConfig {
    erpbridge_sim::SimConfig {
        seed: s.seed,
        articles: s.articles,
        attributes_per_article: s.attributes_per_article,
        categories: s.categories,
        customers: s.customers,
        warehouses: s.warehouses,
        init_delay: s.init_delay,
        per_call_latency: s.per_call_latency,
        per_item_cost: s.per_item_cost,
        error_rate: s.error_rate,
        timeout_rate: s.timeout_rate,
        disconnect_rate: s.disconnect_rate,
        change_percent_per_tick: s.change_percent_per_tick,
        sessions: s.sessions,
        state_file: s.state_file.clone(),
        ..erpbridge_sim::SimConfig::default()
    }
}
