//! `erpbridge agent --config FILE`: the update agent (see the `erpbridge-agent`
//! crate), and `erpbridge agent --schema` for its configuration's JSON Schema.

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The agent's TOML configuration.
    #[arg(long, required_unless_present = "schema")]
    config: Option<PathBuf>,
    /// Print the JSON Schema of the agent configuration and exit.
    #[arg(long, conflicts_with = "config")]
    schema: bool,
    /// Only validate the configuration (errors name the key) and exit.
    #[arg(long, requires = "config")]
    check: bool,
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    if args.schema {
        let schema = serde_json::to_string_pretty(&erpbridge_agent::config::schema())?;
        writeln!(std::io::stdout(), "{schema}").context("writing the schema")?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(config) = args.config else {
        anyhow::bail!("--config is required");
    };
    if args.check {
        erpbridge_agent::AgentConfig::load(&config)?;
        writeln!(std::io::stdout(), "ok: {}", config.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(erpbridge_agent::run(&config))?;
    Ok(ExitCode::SUCCESS)
}
