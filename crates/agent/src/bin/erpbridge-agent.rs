//! The update agent as a standalone binary: `erpbridge-agent --config agent.toml`.
//! Same code as `erpbridge agent`; exists so the agent can be deployed without the
//! binary it manages, and so tests can kill and restart it as a real process.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut args = std::env::args().skip(1);
    let config = match (args.next().as_deref(), args.next()) {
        (Some("--config"), Some(path)) => PathBuf::from(path),
        _ => {
            eprintln!("usage: erpbridge-agent --config FILE");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("erpbridge-agent: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(erpbridge_agent::run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erpbridge-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
