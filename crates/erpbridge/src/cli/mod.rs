//! The subcommand families of the `erpbridge` binary, one module each, and what they
//! share.

pub mod agent;
pub mod bench;
pub mod config;
pub mod jobs;
pub mod release;
pub mod serve;
pub mod sync;

/// Logs go to stderr (stdout is for a command's output: a schema, a report), filtered
/// by `RUST_LOG`, `info` when unset.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests calling in-process) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
