//! `erpbridge config check FILE` and `erpbridge config schema`.

use anyhow::Context;
use clap::{Args, Subcommand};
use erpbridge_config::{Config, ProviderConfig, StoreConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status of `config check` when the file has errors: distinct from 1 (the command
/// itself failed) so scripts can tell "bad config" from "could not run".
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and report every error with its key and line.
    /// `${VAR}` is taken from the environment. Exit status 2 when there are errors.
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
    /// Print the JSON Schema of the configuration file.
    Schema,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Check { file } => check(&file),
        ConfigCommand::Schema => {
            let schema = serde_json::to_string_pretty(&Config::json_schema())?;
            writeln!(std::io::stdout(), "{schema}").context("writing the schema")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    match Config::load(file) {
        Ok(config) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ok: {}", file.display())?;
            write!(out, "{}", summary(&config))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "{errors}")?;
            let n = errors.len();
            writeln!(
                err,
                "{}: {n} error{}",
                file.display(),
                if n == 1 { "" } else { "s" }
            )?;
            Ok(ExitCode::from(EXIT_INVALID))
        }
    }
}

/// What the file configures, in a few lines: enough to see it is the file you meant.
fn summary(config: &Config) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "  server: {}", config.server.listen);
    let _ = match &config.store {
        StoreConfig::Sqlite { path, .. } => writeln!(s, "  store: sqlite {}", path.display()),
        StoreConfig::Postgres { .. } => writeln!(s, "  store: postgres"),
    };
    let _ = writeln!(s, "  tenants: {}", config.tenants.len());
    for tenant in &config.tenants {
        let detail = match &tenant.provider {
            ProviderConfig::Sim(sim) => format!("sim, {} articles", sim.articles),
            ProviderConfig::Tryton(t) => format!("tryton, {} database {}", t.url, t.database),
            ProviderConfig::Remote(r) => format!("remote, {}", r.address),
            ProviderConfig::Connector(c) => format!(
                "connector, {} token{}",
                c.tokens.len(),
                if c.tokens.len() == 1 { "" } else { "s" }
            ),
        };
        let _ = writeln!(
            s,
            "    {}: {detail}; {} API key{}",
            tenant.id,
            tenant.api_keys.len(),
            if tenant.api_keys.len() == 1 { "" } else { "s" }
        );
    }
    s
}
