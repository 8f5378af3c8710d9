//! `erpbridge bench agent [--json]`: the update agent's figures with the real hub on
//! the embedded default (SQLite + sim, the embedded settings with a free port and a
//! temp data directory), feed poll interval 1 s, no jitter.
//!
//! The run: this very binary is installed as v1 and `erpbridge agent` supervises
//! `erpbridge serve` from it. v2 is published: the same binary reporting the next
//! minor version (a release script exec'ing it with `ERPBRIDGE_VERSION_OVERRIDE`,
//! padded to the binary's size; the agent replaces the installed file with it). Then v3, which exits at start
//! (the real binary handed an argument it rejects), so the agent rolls back to v2.
//!
//! Figures: publish to new version healthy (seen by a client); downtime of the swap
//! from the audit log (stop began to health confirmed) and from a client polling
//! `/healthz` every 20 ms (longest run of failed polls); the same client's view of
//! `/readyz` (the sim's login makes readiness later than liveness); publish to rollback
//! done and the rollback step itself.

use anyhow::{Context, bail};
use clap::Args;
use erpbridge_agent::audit::{AuditLog, Record};
use erpbridge_agent::keys;
use erpbridge_agent::publish::{PublishOptions, publish};
use serde::Serialize;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const OPERATOR_KEY: &str = "bench-operator-key";
const CLIENT_POLL: Duration = Duration::from_millis(20);
const LONG: Duration = Duration::from_secs(180);

#[derive(Debug, Args)]
pub struct AgentBenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep the work directory (binaries, feed, state, audit log, logs) and print it.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Serialize)]
pub struct AgentReport {
    pub poll_interval_ms: u64,
    pub client_poll_ms: u64,
    pub from_version: String,
    pub to_version: String,
    pub bad_version: String,
    /// Publish to `/version` reporting the new version (client view).
    pub publish_to_healthy_ms: u64,
    /// Stop began to the agent's health check passing (audit log).
    pub downtime_audit_ms: u64,
    /// The agent's own `commit` figure (stop to committed, undrain included).
    pub commit_ms: u64,
    /// Longest run of failed `/healthz` polls during the swap (client view).
    pub downtime_client_healthz_ms: u64,
    /// Longest run of non-200 `/readyz` polls during the swap (client view).
    pub unready_client_readyz_ms: u64,
    /// Publish of the failing release to the rollback done (old version healthy).
    pub publish_to_rollback_ms: u64,
    /// The rollback step: restore, start, old version healthy (audit log).
    pub rollback_step_ms: u64,
    /// Longest run of failed `/healthz` polls during the failed update and rollback.
    pub rollback_downtime_client_ms: u64,
}

pub fn run(args: AgentBenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let dir = tempfile::Builder::new()
        .prefix("erpbridge-bench-agent")
        .tempdir()
        .context("creating the work directory")?;
    let mut site = Site::create(dir.path(), &exe)?;
    let result = site.measure();
    site.stop();
    if args.keep {
        let kept = dir.keep();
        eprintln!("work directory kept: {}", kept.display());
    }
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &AgentReport) {
    println!(
        "update agent, real hub (embedded default: SQLite + sim), feed poll {} ms, client poll {} ms",
        r.poll_interval_ms, r.client_poll_ms
    );
    println!("  {} -> {}:", r.from_version, r.to_version);
    println!(
        "    publish -> new version healthy:      {:>6} ms",
        r.publish_to_healthy_ms
    );
    println!(
        "    downtime, audit (stop -> healthy):   {:>6} ms   (commit record: {} ms)",
        r.downtime_audit_ms, r.commit_ms
    );
    println!(
        "    downtime, client polling /healthz:   {:>6} ms",
        r.downtime_client_healthz_ms
    );
    println!(
        "    not ready, client polling /readyz:   {:>6} ms",
        r.unready_client_readyz_ms
    );
    println!("  {} (exits at start) -> rollback:", r.bad_version);
    println!(
        "    publish -> rollback done:            {:>6} ms",
        r.publish_to_rollback_ms
    );
    println!(
        "    rollback step (restore+start+health):{:>6} ms",
        r.rollback_step_ms
    );
    println!(
        "    downtime, client polling /healthz:   {:>6} ms",
        r.rollback_downtime_client_ms
    );
}

/// The work directory: installed binary, feed, keys, hub and agent configs, state.
struct Site {
    root: PathBuf,
    exe: PathBuf,
    port: u16,
    agent: Option<Child>,
}

impl Site {
    fn create(root: &Path, exe: &Path) -> anyhow::Result<Site> {
        let port = free_port()?;
        let status_port = free_port()?;
        for sub in ["install", "feed", "data"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        std::fs::copy(exe, root.join("install/erpbridge")).context("installing v1")?;
        keys::write_keypair(&root.join("keys"), &keys::generate()?)?;
        std::fs::write(root.join("operator.token"), OPERATOR_KEY)?;
        // The embedded default (`erpbridge serve` without --config) with only what a
        // bench must change: the port, the data directory, a known operator key.
        std::fs::write(
            root.join("hub.toml"),
            format!(
                r#"[server]
listen = "127.0.0.1:{port}"
operator_key = "{OPERATOR_KEY}"
[store]
type = "sqlite"
path = "{db}"
[[tenants]]
id = "demo"
api_keys = ["{tenant_key}"]
[tenants.provider]
type = "sim"
"#,
                db = root.join("data/erpbridge.sqlite").display(),
                tenant_key = erpbridge_config::DEMO_API_KEY,
            ),
        )?;
        std::fs::write(
            root.join("agent.toml"),
            format!(
                r#"state_dir = "state"
[feed]
location = "feed"
public_key = "keys/release.pub"
poll_interval = "1s"
jitter = "0s"
[service]
mode = "process"
binary = "install/erpbridge"
args = ["serve", "--config", "{hub}"]
base_url = "http://127.0.0.1:{port}"
token_file = "operator.token"
[safe_window]
poll = "100ms"
[health]
timeout = "60s"
interval = "50ms"
[status]
listen = "127.0.0.1:{status_port}"
"#,
                hub = root.join("hub.toml").display(),
            ),
        )?;
        Ok(Site {
            root: root.to_owned(),
            exe: exe.to_owned(),
            port,
            agent: None,
        })
    }

    fn start_agent(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.root.join("agent.log"))?;
        let child = Command::new(&self.exe)
            .args(["agent", "--config"])
            .arg(self.root.join("agent.toml"))
            .env_remove(erpbridge_hub::routes::health::VERSION_OVERRIDE_ENV)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the agent")?;
        self.agent = Some(child);
        Ok(())
    }

    /// SIGTERM: the agent stops the hub it supervises, then exits.
    fn stop(&mut self) {
        if let Some(mut child) = self.agent.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(40) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A release: this binary behind a script that sets the reported version and
    /// passes `extra` arguments (an unknown flag makes a release that exits at start).
    /// The binary's bytes follow the script as padding the shell never reads (it has
    /// exec'd by then), so download, digest, backup and staging handle an artifact of
    /// the real size.
    fn publish(&self, version: &str, extra: &str) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = self.root.join("artifacts").join(version);
        std::fs::create_dir_all(&dir)?;
        let artifact = dir.join("erpbridge");
        let mut file = std::fs::File::create(&artifact)?;
        write!(
            file,
            "#!/bin/sh\nERPBRIDGE_VERSION_OVERRIDE={version} exec '{}' \"$@\" {extra}\n",
            self.exe.display()
        )?;
        std::io::copy(&mut std::fs::File::open(&self.exe)?, &mut file)?;
        file.sync_all()?;
        drop(file);
        std::fs::set_permissions(&artifact, std::fs::Permissions::from_mode(0o755))?;
        let key = keys::read_signing_key(&self.root.join("keys/release.key"))?;
        publish(
            &PublishOptions {
                artifact,
                version: version.to_owned(),
                channel: "stable".into(),
                feed: self.root.join("feed"),
                notes: format!("bench release {version}"),
                min_agent_version: None,
            },
            &key,
        )?;
        Ok(())
    }

    fn audit(&self) -> Vec<Record> {
        AuditLog::read_all(&self.root.join("state/audit.jsonl")).unwrap_or_default()
    }

    fn record(&self, event: &str, to: &str) -> Option<Record> {
        self.audit()
            .into_iter()
            .find(|r| r.event == event && r.ok && r.to.as_deref() == Some(to))
    }

    fn wait(&self, what: &str, mut ok: impl FnMut() -> bool) -> anyhow::Result<()> {
        let t0 = Instant::now();
        while !ok() {
            if t0.elapsed() > LONG {
                let log = std::fs::read_to_string(self.root.join("agent.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                bail!(
                    "timed out waiting for {what}; agent log (last lines, newest first):\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(CLIENT_POLL);
        }
        Ok(())
    }

    fn measure(&mut self) -> anyhow::Result<AgentReport> {
        let port = self.port;
        let v1 = env!("CARGO_PKG_VERSION").to_owned();
        let v2 = bump_minor(&v1, 1)?;
        let v3 = bump_minor(&v1, 2)?;
        self.start_agent()?;
        self.wait("v1 ready", || {
            version(port).as_deref() == Some(v1.as_str()) && code(port, "/readyz") == Some(200)
        })?;
        // The first start syncs the catalog; an update should not race it here.
        self.wait("the first catalog sync", || {
            get_json(
                port,
                "/v1/tenants/demo/sync",
                erpbridge_config::DEMO_API_KEY,
            )
            .is_some_and(|v| !v["last_success"].is_null())
        })?;

        let watch = Watch::start(port);
        let t0 = Instant::now();
        self.publish(&v2, "")?;
        self.wait("v2 healthy", || {
            version(port).as_deref() == Some(v2.as_str())
        })?;
        let publish_to_healthy = t0.elapsed();
        self.wait("v2 committed", || self.record("commit", &v2).is_some())?;
        self.wait("v2 ready", || code(port, "/readyz") == Some(200))?;
        std::thread::sleep(Duration::from_millis(200));
        let swap = watch.finish();
        let stop = self.record("stop", &v2).context("no stop record for v2")?;
        let health = self
            .record("health", &v2)
            .context("no health record for v2")?;
        let commit = self
            .record("commit", &v2)
            .context("no commit record for v2")?;
        let stop_began = stop.ts - chrono::Duration::milliseconds(ms(stop.duration_ms) as i64);
        let downtime_audit = (health.ts - stop_began).num_milliseconds().max(0) as u64;

        let watch = Watch::start(port);
        let t1 = Instant::now();
        self.publish(&v3, "--no-such-flag")?;
        self.wait("the rollback of v3", || {
            self.audit()
                .iter()
                .any(|r| r.event == "rollback" && r.to.as_deref() == Some(v3.as_str()))
        })?;
        let publish_to_rollback = t1.elapsed();
        self.wait("v2 healthy again", || {
            version(port).as_deref() == Some(v2.as_str())
        })?;
        std::thread::sleep(Duration::from_millis(200));
        let failed = watch.finish();
        let rollback = self
            .record("rollback", &v3)
            .context("the rollback of v3 failed; see the audit log (--keep)")?;

        Ok(AgentReport {
            poll_interval_ms: 1000,
            client_poll_ms: CLIENT_POLL.as_millis() as u64,
            from_version: v1,
            to_version: v2,
            bad_version: v3,
            publish_to_healthy_ms: publish_to_healthy.as_millis() as u64,
            downtime_audit_ms: downtime_audit,
            commit_ms: ms(commit.duration_ms),
            downtime_client_healthz_ms: swap.healthz.as_millis() as u64,
            unready_client_readyz_ms: swap.readyz.as_millis() as u64,
            publish_to_rollback_ms: publish_to_rollback.as_millis() as u64,
            rollback_step_ms: ms(rollback.duration_ms),
            rollback_downtime_client_ms: failed.healthz.as_millis() as u64,
        })
    }
}

fn ms(v: Option<u64>) -> u64 {
    v.unwrap_or(0)
}

fn bump_minor(version: &str, by: u64) -> anyhow::Result<String> {
    let mut parts = version.split('.');
    let major: u64 = parts.next().unwrap_or("").parse()?;
    let minor: u64 = parts.next().unwrap_or("").parse()?;
    Ok(format!("{major}.{}.0", minor + by))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One HTTP/1.0 request (never chunked, one connection each, as a naive client does).
fn request(port: u16, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let auth = bearer
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

fn code(port: u16, path: &str) -> Option<u16> {
    request(port, path, None).map(|(c, _)| c)
}

fn get_json(port: u16, path: &str, bearer: &str) -> Option<serde_json::Value> {
    match request(port, path, Some(bearer))? {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

fn version(port: u16) -> Option<String> {
    let (code, body) = request(port, "/version", None)?;
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["version"].as_str().map(str::to_owned)
}

/// A client polling `/healthz` and `/readyz` every [`CLIENT_POLL`] on its own thread.
struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Outage>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Outage {
    healthz: Duration,
    readyz: Duration,
}

impl Watch {
    fn start(port: u16) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut worst = Outage::default();
            let (mut live_down, mut ready_down): (Option<Instant>, Option<Instant>) = (None, None);
            let track =
                |up: bool, since: &mut Option<Instant>, worst: &mut Duration| match (up, *since) {
                    (false, None) => *since = Some(Instant::now()),
                    (true, Some(t)) => {
                        *worst = (*worst).max(t.elapsed());
                        *since = None;
                    }
                    _ => {}
                };
            while !flag.load(Ordering::SeqCst) {
                let tick = Instant::now();
                track(
                    code(port, "/healthz") == Some(200),
                    &mut live_down,
                    &mut worst.healthz,
                );
                track(
                    code(port, "/readyz") == Some(200),
                    &mut ready_down,
                    &mut worst.readyz,
                );
                std::thread::sleep(CLIENT_POLL.saturating_sub(tick.elapsed()));
            }
            worst
        });
        Watch { stop, thread }
    }

    fn finish(self) -> Outage {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}
