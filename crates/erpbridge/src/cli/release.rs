//! `erpbridge release keygen|publish`: the publishing side of updates (what a CI
//! pipeline runs). Formats are documented in the `erpbridge-agent` crate: key files in
//! `keys`, the feed layout in `feed`, the signed bytes in `manifest`.

use anyhow::Context;
use clap::{Args, Subcommand};
use erpbridge_agent::keys;
use erpbridge_agent::publish::{PublishOptions, publish};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Create an ed25519 signing key pair: DIR/release.key (secret, mode 0600) and
    /// DIR/release.pub (to pin in every agent's config).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Copy an artifact into a feed directory with a signed manifest.
    // `--version` names the release here, so the binary's own `--version` flag (which
    // clap propagates to every subcommand) is turned off for this one.
    #[command(disable_version_flag = true)]
    Publish {
        /// The binary to publish.
        #[arg(long)]
        artifact: PathBuf,
        /// Its semantic version (what its `/version` reports).
        #[arg(long)]
        version: String,
        #[arg(long, default_value = "stable")]
        channel: String,
        /// The secret key (`release.key`).
        #[arg(long)]
        key: PathBuf,
        /// The feed directory (a share, or the root of a static HTTP site).
        #[arg(long)]
        feed: PathBuf,
        #[arg(long, default_value = "")]
        notes: String,
        /// Oldest agent version allowed to install this release.
        #[arg(long)]
        min_agent_version: Option<String>,
    },
}

pub fn run(args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.command {
        ReleaseCommand::Keygen { out: dir } => {
            let key = keys::generate()?;
            let (secret, public) = keys::write_keypair(&dir, &key)?;
            writeln!(out, "secret key: {}", secret.display())?;
            writeln!(out, "public key: {}", public.display())?;
            writeln!(out, "key id:     {}", keys::key_id(&key.verifying_key()))?;
        }
        ReleaseCommand::Publish {
            artifact,
            version,
            channel,
            key,
            feed,
            notes,
            min_agent_version,
        } => {
            let signing = keys::read_signing_key(&key)?;
            let published = publish(
                &PublishOptions {
                    artifact,
                    version,
                    channel,
                    feed,
                    notes,
                    min_agent_version,
                },
                &signing,
            )
            .context("publishing the release")?;
            let m = &published.manifest;
            writeln!(out, "published {} on channel {}", m.version, m.channel)?;
            writeln!(out, "  dir:    {}", published.dir.display())?;
            writeln!(out, "  sha256: {}", m.sha256)?;
            writeln!(out, "  size:   {}", m.size)?;
            writeln!(out, "  key id: {}", m.key_id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
