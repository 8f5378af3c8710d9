//! The agent's main loop and the update procedure: check, download, verify, safe
//! window, swap, health, commit or roll back. See the crate docs for the order of
//! steps and [`crate::state`] for crash recovery.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike as _, Utc};
use ed25519_dalek::VerifyingKey;
use rand::Rng as _;
use serde::Serialize;

use crate::audit::{AuditLog, Record};
use crate::config::{AgentConfig, ServiceMode};
use crate::error::{Error, Result, parse_version};
use crate::feed::{self, MANIFEST_FILE, SIGNATURE_FILE};
use crate::manifest::{self, MAX_MANIFEST_BYTES, Manifest};
use crate::service::Service;
use crate::state::{Journal, Phase, State};
use crate::{fsutil, keys};

/// The agent's own version, compared with a manifest's `min_agent_version`.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// TEST HOOK: when this variable names a step (`after-backup`, `after-replace`,
/// `after-stop`), the agent SIGKILLs itself right after that step, so tests can prove
/// crash recovery with a real kill at a known point. Unset in production.
pub const TEST_KILL_AT_ENV: &str = "ERPBRIDGE_AGENT_TEST_KILL_AT";

fn test_hook_kill_at(point: &str) {
    if std::env::var(TEST_KILL_AT_ENV).is_ok_and(|v| v == point) {
        tracing::warn!(point, "test hook: killing the agent");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// What `GET /status` answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub agent_version: &'static str,
    pub current_version: Option<String>,
    pub last_check: Option<DateTime<Utc>>,
    pub last_result: Option<String>,
    /// A newer verified release waiting for its safe window, if any.
    pub pending: Option<String>,
    /// The step of a running update, if any.
    pub phase: Option<String>,
    pub bad_versions: Vec<String>,
}

pub type SharedStatus = Arc<Mutex<Status>>;

pub struct Agent {
    cfg: AgentConfig,
    key: VerifyingKey,
    feed: feed::Source,
    service: Service,
    audit: AuditLog,
    state: State,
    status: SharedStatus,
    /// Rejected releases are not looked at again until this instant.
    rejected: HashMap<String, Instant>,
    /// An abandoned safe-window wait defers the next attempt to this instant.
    deferred_until: Option<Instant>,
    last_feed_error: Option<String>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate,
    FeedError(String),
    Rejected(String),
    Deferred(String),
    Installed(String),
    RolledBack(String),
}

impl Agent {
    pub fn new(cfg: AgentConfig) -> Result<Self> {
        for dir in [
            cfg.state_dir.clone(),
            cfg.state_dir.join("staging"),
            cfg.state_dir.join("backups"),
        ] {
            fsutil::ensure_dir(&dir)?;
        }
        let key = keys::read_verifying_key(&cfg.feed.public_key)?;
        let feed = feed::Source::new(&cfg.feed.location, cfg.feed.timeout)?;
        let service = Service::new(&cfg)?;
        let audit = AuditLog::open(&cfg.audit_path())?;
        let state = State::load(&cfg.state_dir)?;
        let status = Arc::new(Mutex::new(Status {
            agent_version: AGENT_VERSION,
            current_version: state.current_version.clone(),
            bad_versions: state.bad_versions.clone(),
            ..Status::default()
        }));
        Ok(Self {
            cfg,
            key,
            feed,
            service,
            audit,
            state,
            status,
            rejected: HashMap::new(),
            deferred_until: None,
            last_feed_error: None,
        })
    }

    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        let mut s = match self.status.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        f(&mut s);
    }

    fn phase(&self, phase: Option<&str>) {
        self.set_status(|s| s.phase = phase.map(str::to_owned));
    }

    /// Runs until the process is stopped: recover, start the service, then poll.
    pub async fn run(mut self) -> Result<()> {
        if let Some(addr) = self.cfg.status.listen {
            crate::status::serve(addr, self.status.clone()).await?;
        }
        // Installed before anything else: a stop request that arrives during an update
        // waits until the loop comes round, so a swap is never cut short by SIGTERM.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::Service(format!("installing the SIGTERM handler: {e}")))?;
        self.startup().await?;
        let mut restart_backoff = Duration::from_secs(1);
        loop {
            let jitter = self.cfg.jitter();
            let extra = if jitter.is_zero() {
                Duration::ZERO
            } else {
                rand::rng().random_range(Duration::ZERO..=jitter)
            };
            let delay = self.cfg.feed.poll_interval + extra;
            tokio::select! {
                _ = term.recv() => return self.shutdown("SIGTERM").await,
                _ = tokio::signal::ctrl_c() => return self.shutdown("interrupt").await,
                () = tokio::time::sleep(delay) => {
                    let outcome = self.check_once().await;
                    tracing::debug!(?outcome, "check done");
                    restart_backoff = Duration::from_secs(1);
                }
                status = self.service.exited() => {
                    self.audit.write(Record::new("service-exit", false)
                        .versions(self.state.current_version.as_deref(), None)
                        .detail(format!("the service exited unexpectedly ({status}); restarting in {restart_backoff:?}")));
                    tokio::time::sleep(restart_backoff).await;
                    restart_backoff = (restart_backoff * 2).min(Duration::from_secs(30));
                    if let Err(e) = self.service.start().await {
                        self.audit.write(Record::new("start", false).detail(e.to_string()));
                    }
                }
            }
        }
    }

    /// The agent is the service's supervisor in process mode: when it is asked to
    /// stop, it stops the service too (gracefully) rather than orphaning it.
    async fn shutdown(&mut self, why: &str) -> Result<()> {
        let mut record = Record::new("agent-stop", true)
            .versions(self.state.current_version.as_deref(), None)
            .detail(format!("{why}; stopping the agent"));
        if self.service.mode() == ServiceMode::Process {
            let t = Instant::now();
            let stopped = self.service.stop().await;
            record = record.took(t.elapsed()).detail(format!(
                "{why}; service stopped ({}) and agent exits",
                match &stopped {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => e.to_string(),
                }
            ));
        }
        self.audit.write(record);
        Ok(())
    }

    /// Finishes or undoes a half-done update, starts the service, learns its version.
    pub async fn startup(&mut self) -> Result<()> {
        self.service.stop_stale().await;
        let aborted = match Journal::load(&self.cfg.state_dir)? {
            Some(journal) => self.recover(journal).await?,
            None => {
                // Left by an agent that died between committing and cleaning up.
                self.drop_rollback_copy();
                None
            }
        };
        if self.service.mode() == ServiceMode::Process && !self.service.is_child_running() {
            self.service.start().await?;
        } else if self.service.mode() == ServiceMode::Systemd {
            // `start` of a running unit is a no-op; of a stopped one (we died while it
            // was stopped) it is exactly what is needed.
            self.service.start().await?;
        }
        if let Some((from, to)) = aborted {
            // The old version runs again but may still be drained from the attempt.
            if self
                .service
                .wait_healthy(&from, self.cfg.health.timeout)
                .await
                .is_ok()
            {
                self.undrain(&from, &to).await;
            }
        }
        if self.state.current_version.is_none() {
            let timeout = self.cfg.health.timeout;
            let t0 = Instant::now();
            while t0.elapsed() < timeout {
                if let Some(v) = self.service.version().await {
                    self.state.current_version = Some(v.clone());
                    self.state.save(&self.cfg.state_dir)?;
                    self.set_status(|s| s.current_version = Some(v));
                    break;
                }
                tokio::time::sleep(self.cfg.health.interval).await;
            }
        }
        Ok(())
    }

    /// Returns (from, to) when the update was abandoned (old binary kept).
    async fn recover(&mut self, j: Journal) -> Result<Option<(String, String)>> {
        fsutil::remove_stale_temps(&self.cfg.service.binary);
        match j.phase {
            Phase::Prepared | Phase::Stopped | Phase::BackedUp => {
                self.audit.write(
                    Record::new("recover", true)
                        .versions(Some(&j.from), Some(&j.to))
                        .detail(format!(
                            "update interrupted at {:?}, before the binary was replaced; the old binary stays and the update is retried later",
                            j.phase
                        )),
                );
                self.drop_rollback_copy();
                Journal::clear(&self.cfg.state_dir)?;
                Ok(Some((j.from, j.to)))
            }
            Phase::Replaced | Phase::Started => {
                self.audit.write(
                    Record::new("recover", true)
                        .versions(Some(&j.from), Some(&j.to))
                        .detail(format!(
                            "update interrupted at {:?}, after the binary was replaced; completing it",
                            j.phase
                        )),
                );
                let started = Instant::now();
                self.finish_new(j, started).await;
                Ok(None)
            }
            Phase::RollingBack => {
                self.audit.write(
                    Record::new("recover", true)
                        .versions(Some(&j.from), Some(&j.to))
                        .detail("interrupted during rollback; rolling back again"),
                );
                let started = Instant::now();
                self.rollback(j, "interrupted rollback".into(), started)
                    .await;
                Ok(None)
            }
        }
    }

    fn in_maintenance_window(&self) -> bool {
        let windows = self.cfg.windows();
        if windows.is_empty() {
            return true;
        }
        let now = Utc::now();
        let minute = now.hour() * 60 + now.minute();
        windows.iter().any(|w| w.contains(minute))
    }

    fn finish_check(&mut self, outcome: Outcome) -> Outcome {
        let text = match &outcome {
            Outcome::UpToDate => "up to date".to_owned(),
            Outcome::FeedError(e) => format!("feed error: {e}"),
            Outcome::Rejected(e) => format!("rejected: {e}"),
            Outcome::Deferred(e) => format!("deferred: {e}"),
            Outcome::Installed(v) => format!("installed {v}"),
            Outcome::RolledBack(e) => format!("rolled back: {e}"),
        };
        let current = self.state.current_version.clone();
        let bad = self.state.bad_versions.clone();
        self.set_status(|s| {
            s.last_result = Some(text);
            s.current_version = current;
            s.bad_versions = bad;
            s.phase = None;
        });
        outcome
    }

    /// One poll of the feed and, if a newer good release is there, its installation.
    pub async fn check_once(&mut self) -> Outcome {
        self.set_status(|s| s.last_check = Some(Utc::now()));
        let current = match &self.state.current_version {
            Some(v) => v.clone(),
            None => match self.service.version().await {
                Some(v) => {
                    self.state.current_version = Some(v.clone());
                    let _ = self.state.save(&self.cfg.state_dir);
                    v
                }
                None => {
                    return self.finish_check(Outcome::FeedError(
                        "the installed version is unknown (service does not answer /version)"
                            .into(),
                    ));
                }
            },
        };
        let current_v = match parse_version(&current) {
            Ok(v) => v,
            Err(e) => return self.finish_check(Outcome::FeedError(e.to_string())),
        };
        let t0 = Instant::now();
        let index = match self.feed.index(&self.cfg.feed.channel).await {
            Ok(i) => i,
            Err(e) => {
                let msg = e.to_string();
                // One audit line per distinct failure, not one per poll.
                if self.last_feed_error.as_deref() != Some(&msg) {
                    self.audit.write(
                        Record::new("check", false)
                            .versions(Some(&current), None)
                            .took(t0.elapsed())
                            .detail(msg.clone()),
                    );
                    self.last_feed_error = Some(msg.clone());
                }
                return self.finish_check(Outcome::FeedError(msg));
            }
        };
        self.last_feed_error = None;
        let now = Instant::now();
        self.rejected.retain(|_, until| *until > now);
        let candidate = index
            .releases
            .iter()
            .filter_map(|v| parse_version(v).ok().map(|p| (p, v.clone())))
            .filter(|(p, v)| {
                *p > current_v && !self.state.is_bad(v) && !self.rejected.contains_key(v)
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        let Some((_, version)) = candidate else {
            self.set_status(|s| s.pending = None);
            return self.finish_check(Outcome::UpToDate);
        };
        self.set_status(|s| s.pending = Some(version.clone()));
        if let Some(until) = self.deferred_until
            && Instant::now() < until
        {
            return self.finish_check(Outcome::Deferred(format!(
                "{version}: waiting to retry the safe window"
            )));
        }
        if !self.in_maintenance_window() {
            return self.finish_check(Outcome::Deferred(format!(
                "{version}: outside the maintenance window"
            )));
        }
        self.audit.write(
            Record::new("check", true)
                .versions(Some(&current), Some(&version))
                .took(t0.elapsed())
                .detail(format!("newer release {version} found")),
        );

        self.phase(Some("download"));
        let (manifest, staged) = match self.fetch_and_verify(&current, &version).await {
            Ok(x) => x,
            Err(e) => {
                let msg = e.to_string();
                self.rejected.insert(
                    version.clone(),
                    Instant::now() + self.cfg.feed.reject_backoff,
                );
                self.set_status(|s| s.pending = None);
                return self.finish_check(match e {
                    Error::Rejected { .. } => Outcome::Rejected(msg),
                    _ => Outcome::FeedError(msg),
                });
            }
        };

        let journal = Journal {
            phase: Phase::Prepared,
            from: current.clone(),
            to: manifest.version.clone(),
            staged,
            backup: None,
            started_at: Utc::now(),
        };
        // Backup and staging first: they need no drain, and while the service is
        // drained it refuses new orders, so that window holds only the wait for
        // in-flight work. The journal also covers the drain wait now: an agent that
        // dies in it is recovered by an undrain.
        let (journal, staged_beside) = match self.prepare(journal) {
            Ok(x) => x,
            Err(outcome) => {
                self.set_status(|s| s.pending = None);
                return self.finish_check(outcome);
            }
        };

        self.phase(Some("drain"));
        if let Err(reason) = self.safe_window(&current, &version).await {
            let _ = std::fs::remove_file(&staged_beside);
            self.drop_rollback_copy();
            let _ = Journal::clear(&self.cfg.state_dir);
            self.deferred_until = Some(Instant::now() + self.cfg.safe_window.retry_after);
            return self.finish_check(Outcome::Deferred(reason));
        }
        self.deferred_until = None;
        let outcome = self.install(journal, staged_beside).await;
        self.set_status(|s| s.pending = None);
        self.finish_check(outcome)
    }

    /// Downloads the manifest, its signature and the artifact into staging and checks
    /// all of it. Nothing about the service changes before this succeeds.
    async fn fetch_and_verify(
        &mut self,
        current: &str,
        version: &str,
    ) -> Result<(Manifest, PathBuf)> {
        let channel = self.cfg.feed.channel.clone();
        let rel = feed::release_dir(&channel, version);
        let t0 = Instant::now();
        let reject = |audit: &AuditLog, e: Error| {
            audit.write(
                Record::new("verify", false)
                    .versions(Some(current), Some(version))
                    .detail(e.to_string()),
            );
            e
        };
        let bytes = self
            .feed
            .get(&format!("{rel}/{MANIFEST_FILE}"), MAX_MANIFEST_BYTES)
            .await
            .map_err(|e| reject(&self.audit, e))?;
        // A missing signature file is an unsigned release: rejected, like a bad one.
        let sig = self
            .feed
            .get(&format!("{rel}/{SIGNATURE_FILE}"), 1024)
            .await
            .unwrap_or_default();
        let m = manifest::verify(&bytes, &sig, &self.key, version, &channel)
            .map_err(|e| reject(&self.audit, e))?;
        if let Some(min) = &m.min_agent_version {
            let need = parse_version(min).map_err(|e| reject(&self.audit, e))?;
            let have = parse_version(AGENT_VERSION).map_err(|e| reject(&self.audit, e))?;
            if have < need {
                return Err(reject(
                    &self.audit,
                    Error::Rejected {
                        version: version.to_owned(),
                        reason: format!("needs agent {need}, this agent is {have}"),
                    },
                ));
            }
        }
        let dir = self.cfg.state_dir.join("staging").join(version);
        fsutil::ensure_dir(&dir)?;
        let part = dir.join("artifact.part");
        let downloaded = self
            .feed
            .download(&format!("{rel}/{}", m.artifact), &part, m.size)
            .await;
        let (digest, size) = match downloaded {
            Ok(x) => x,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                let e = Error::Rejected {
                    version: version.to_owned(),
                    reason: e.to_string(),
                };
                return Err(reject(&self.audit, e));
            }
        };
        self.audit.write(
            Record::new("download", true)
                .versions(Some(current), Some(version))
                .took(t0.elapsed())
                .detail(format!("{size} bytes")),
        );
        let digest_hex = hex::encode(digest);
        if size != m.size || digest_hex != m.sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(reject(
                &self.audit,
                Error::Rejected {
                    version: version.to_owned(),
                    reason: format!(
                        "artifact does not match the signed manifest (sha256 {digest_hex}, {size} bytes; manifest says {}, {} bytes)",
                        m.sha256, m.size
                    ),
                },
            ));
        }
        let staged = dir.join(&m.artifact);
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(&part, e))?;
        }
        std::fs::rename(&part, &staged).map_err(|e| Error::io(&staged, e))?;
        self.audit.write(
            Record::new("verify", true)
                .versions(Some(current), Some(version))
                .took(t0.elapsed())
                .detail(format!(
                    "signature by key {} and sha256 {digest_hex} ok",
                    keys::key_id(&self.key)
                )),
        );
        Ok((m, staged))
    }

    /// Drains the service and waits for in-flight work to reach 0, within bounds.
    async fn safe_window(
        &mut self,
        current: &str,
        version: &str,
    ) -> std::result::Result<(), String> {
        let t0 = Instant::now();
        let max = self.cfg.safe_window.max_wait;
        // A busy service (the hub's store behind a catalog sync) may refuse or time out
        // the switch for a while: keep asking within the wait, rather than putting the
        // update off by `retry_after` at the first refusal.
        loop {
            match self.service.set_drain(true).await {
                Ok(()) => break,
                Err(e) if t0.elapsed() >= max => {
                    // It may have landed after all; the service must not stay drained.
                    let _ = self.service.set_drain(false).await;
                    let msg = format!(
                        "cannot drain the service within {max:?}: {e}; retry in {:?}",
                        self.cfg.safe_window.retry_after
                    );
                    self.audit.write(
                        Record::new("drain", false)
                            .versions(Some(current), Some(version))
                            .took(t0.elapsed())
                            .detail(msg.clone()),
                    );
                    return Err(msg);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "drain request failed; asking again");
                    tokio::time::sleep(self.cfg.safe_window.poll).await;
                }
            }
        }
        let mut last = String::new();
        while t0.elapsed() < max {
            match self.service.in_flight().await {
                Ok(0) => {
                    self.audit.write(
                        Record::new("drain", true)
                            .versions(Some(current), Some(version))
                            .took(t0.elapsed())
                            .detail("drained: 0 in flight"),
                    );
                    return Ok(());
                }
                Ok(n) => last = format!("{n} in flight"),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(self.cfg.safe_window.poll).await;
        }
        let _ = self.service.set_drain(false).await;
        let msg = format!(
            "not drained within {max:?} ({last}); undrained, retry in {:?}",
            self.cfg.safe_window.retry_after
        );
        self.audit.write(
            Record::new("drain", false)
                .versions(Some(current), Some(version))
                .took(t0.elapsed())
                .detail(msg.clone()),
        );
        Err(msg)
    }

    fn save_journal(&self, j: &Journal) {
        if let Err(e) = j.save(&self.cfg.state_dir) {
            // Without a journal a crash in this step is recovered less precisely, but
            // the binary itself is still always complete; carry on.
            tracing::error!(error = %e, "writing the update journal failed");
        }
    }

    /// Backup and staging beside the installed binary, while the service runs
    /// undisturbed. Returns the journal and the staged file.
    fn prepare(&mut self, mut j: Journal) -> std::result::Result<(Journal, PathBuf), Outcome> {
        let binary = self.cfg.service.binary.clone();
        let (from, to) = (j.from.clone(), j.to.clone());
        let v = |r: Record| r.versions(Some(&from), Some(&to));
        self.save_journal(&j);

        // The old binary does not change until the rename, so its backup can be
        // taken while it still serves.
        self.phase(Some("backup"));
        let t = Instant::now();
        let backup = match self.backup(&from, &binary) {
            Ok(p) => p,
            Err(e) => {
                self.audit
                    .write(v(Record::new("backup", false)).detail(e.to_string()));
                let _ = Journal::clear(&self.cfg.state_dir);
                return Err(Outcome::Deferred(format!(
                    "backup failed, update abandoned: {e}"
                )));
            }
        };
        self.audit.write(
            v(Record::new("backup", true))
                .took(t.elapsed())
                .detail(backup.display().to_string()),
        );
        j.phase = Phase::BackedUp;
        j.backup = Some(backup);
        self.save_journal(&j);
        test_hook_kill_at("after-backup");

        match fsutil::stage_beside(&j.staged, &binary) {
            Ok((tmp, _)) => {
                // A ready copy of the old binary beside the installed one makes a
                // rollback a rename instead of a copy inside the downtime. Without
                // it (say, no space) the rollback copies from the backup.
                if let Some(b) = &j.backup
                    && let Err(e) = fsutil::atomic_copy(b, &self.rollback_copy())
                {
                    tracing::warn!(error = %e, "no ready rollback copy; a rollback copies the backup");
                }
                Ok((j, tmp))
            }
            Err(e) => {
                self.audit
                    .write(v(Record::new("replace", false)).detail(e.to_string()));
                let _ = Journal::clear(&self.cfg.state_dir);
                Err(Outcome::Deferred(format!("staging the binary failed: {e}")))
            }
        }
    }

    /// Stop, rename the staged binary into place, then [`Self::finish_new`]. Only
    /// stop, rename and start (and the health check) are inside the downtime.
    async fn install(&mut self, mut j: Journal, staged_beside: PathBuf) -> Outcome {
        let binary = self.cfg.service.binary.clone();
        let (from, to) = (j.from.clone(), j.to.clone());
        let v = |r: Record| r.versions(Some(&from), Some(&to));

        self.phase(Some("stop"));
        let swap_start = Instant::now();
        let t = Instant::now();
        if let Err(e) = self.service.stop().await {
            self.audit.write(
                v(Record::new("stop", false))
                    .took(t.elapsed())
                    .detail(e.to_string()),
            );
            let _ = std::fs::remove_file(&staged_beside);
            let _ = self.service.start().await;
            self.drop_rollback_copy();
            let _ = Journal::clear(&self.cfg.state_dir);
            return Outcome::Deferred(format!("stopping the service failed: {e}"));
        }
        self.audit
            .write(v(Record::new("stop", true)).took(t.elapsed()));
        j.phase = Phase::Stopped;
        self.save_journal(&j);
        test_hook_kill_at("after-stop");

        self.phase(Some("replace"));
        let t = Instant::now();
        if let Err(e) = fsutil::rename_into(&staged_beside, &binary) {
            self.audit
                .write(v(Record::new("replace", false)).detail(e.to_string()));
            let _ = self.service.start().await;
            self.drop_rollback_copy();
            let _ = Journal::clear(&self.cfg.state_dir);
            return Outcome::Deferred(format!("replacing the binary failed: {e}"));
        }
        self.audit
            .write(v(Record::new("replace", true)).took(t.elapsed()));
        j.phase = Phase::Replaced;
        self.save_journal(&j);
        test_hook_kill_at("after-replace");

        self.finish_new(j, swap_start).await
    }

    /// Starts the new binary and checks its health: commit, or roll back.
    async fn finish_new(&mut self, mut j: Journal, swap_start: Instant) -> Outcome {
        let (from, to) = (j.from.clone(), j.to.clone());
        let v = |r: Record| r.versions(Some(&from), Some(&to));
        self.phase(Some("start"));
        let t = Instant::now();
        if let Err(e) = self.service.start().await {
            self.audit
                .write(v(Record::new("start", false)).detail(e.to_string()));
            return self
                .rollback(j, format!("start failed: {e}"), swap_start)
                .await;
        }
        self.audit
            .write(v(Record::new("start", true)).took(t.elapsed()));
        j.phase = Phase::Started;
        self.save_journal(&j);

        self.phase(Some("health"));
        let t = Instant::now();
        match self
            .service
            .wait_healthy(&to, self.cfg.health.timeout)
            .await
        {
            Ok(_) => {
                self.audit
                    .write(v(Record::new("health", true)).took(t.elapsed()));
                self.undrain(&from, &to).await;
                self.state.current_version = Some(to.clone());
                if let Err(e) = self.state.save(&self.cfg.state_dir) {
                    tracing::error!(error = %e, "saving agent state failed");
                }
                let _ = Journal::clear(&self.cfg.state_dir);
                self.drop_rollback_copy();
                let _ = std::fs::remove_dir_all(self.cfg.state_dir.join("staging").join(&to));
                self.audit.write(
                    v(Record::new("commit", true))
                        .took(swap_start.elapsed())
                        .detail(format!(
                            "service down {} ms (stop to healthy)",
                            swap_start.elapsed().as_millis()
                        )),
                );
                Outcome::Installed(to)
            }
            Err(e) => {
                self.audit.write(
                    v(Record::new("health", false))
                        .took(t.elapsed())
                        .detail(e.to_string()),
                );
                self.rollback(j, e.to_string(), swap_start).await
            }
        }
    }

    /// Restores the backup, restarts, checks the old version, marks the new one bad.
    async fn rollback(&mut self, mut j: Journal, reason: String, swap_start: Instant) -> Outcome {
        let (from, to) = (j.from.clone(), j.to.clone());
        let v = |r: Record| r.versions(Some(&from), Some(&to));
        let t = Instant::now();
        self.phase(Some("rollback"));
        j.phase = Phase::RollingBack;
        self.save_journal(&j);
        // Marked bad first: whatever happens next, this version is not retried.
        if !self.state.is_bad(&to) {
            self.state.bad_versions.push(to.clone());
        }
        if let Err(e) = self.state.save(&self.cfg.state_dir) {
            tracing::error!(error = %e, "saving agent state failed");
        }
        let _ = self.service.stop().await;
        let ready = self.rollback_copy();
        let restored =
            if ready.exists() && fsutil::rename_into(&ready, &self.cfg.service.binary).is_ok() {
                Ok(())
            } else {
                match &j.backup {
                    Some(b) => fsutil::atomic_copy(b, &self.cfg.service.binary).map(|_| ()),
                    None => Ok(()),
                }
            };
        if let Err(e) = restored {
            self.audit.write(
                v(Record::new("rollback", false))
                    .detail(format!("restoring the backup failed: {e}")),
            );
        }
        let _ = self.service.start().await;
        let healthy = self
            .service
            .wait_healthy(&from, self.cfg.health.timeout)
            .await;
        let _ = Journal::clear(&self.cfg.state_dir);
        self.drop_rollback_copy();
        self.state.current_version = Some(from.clone());
        if let Err(e) = self.state.save(&self.cfg.state_dir) {
            tracing::error!(error = %e, "saving agent state failed");
        }
        if healthy.is_ok() {
            self.undrain(&from, &to).await;
        }
        match healthy {
            Ok(_) => self.audit.write(
                v(Record::new("rollback", true))
                    .took(t.elapsed())
                    .detail(format!(
                        "{to} failed ({reason}); {from} restored and healthy; {to} marked bad; {} ms since the swap began",
                        swap_start.elapsed().as_millis()
                    )),
            ),
            Err(e) => self.audit.write(
                v(Record::new("rollback", false))
                    .took(t.elapsed())
                    .detail(format!("{to} failed ({reason}); {from} restored but not healthy: {e}")),
            ),
        }
        Outcome::RolledBack(format!("{to}: {reason}"))
    }

    /// The drain switch may persist across restarts (the hub keeps it in its store),
    /// so whichever version runs after a swap or rollback is undrained explicitly.
    async fn undrain(&mut self, from: &str, to: &str) {
        let t = Instant::now();
        let mut last = None;
        for _ in 0..10 {
            match self.service.set_drain(false).await {
                Ok(()) => {
                    self.audit.write(
                        Record::new("undrain", true)
                            .versions(Some(from), Some(to))
                            .took(t.elapsed()),
                    );
                    return;
                }
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(self.cfg.health.interval).await;
        }
        self.audit.write(
            Record::new("undrain", false)
                .versions(Some(from), Some(to))
                .took(t.elapsed())
                .detail(last.unwrap_or_default()),
        );
    }

    /// `<binary>.rollback`: the old binary, ready to be renamed back.
    fn rollback_copy(&self) -> PathBuf {
        let binary = &self.cfg.service.binary;
        let mut name = binary
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_else(|| "binary".into());
        name.push(".rollback");
        binary.with_file_name(name)
    }

    fn drop_rollback_copy(&self) {
        let _ = std::fs::remove_file(self.rollback_copy());
    }

    fn backup(&self, from: &str, binary: &Path) -> Result<PathBuf> {
        let dir = self.cfg.state_dir.join("backups");
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "binary".into());
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let dest = dir.join(format!("{stamp}_{from}_{name}"));
        fsutil::atomic_copy(binary, &dest)?;
        self.prune_backups(&dir, &dest);
        Ok(dest)
    }

    /// Keeps the newest `backup.keep` backups (names sort by time); never the one
    /// just made.
    fn prune_backups(&self, dir: &Path, keep_this: &Path) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        let excess = names.len().saturating_sub(self.cfg.backup.keep);
        for p in names.into_iter().take(excess) {
            if p != keep_this {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}
