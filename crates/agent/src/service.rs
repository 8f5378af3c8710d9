//! Control of the managed service: start/stop (as the agent's child, or through
//! systemd) and its HTTP surface (health, version, drain switch, in-flight count).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::config::{
    AgentConfig, HealthConfig, SafeWindowConfig, ServiceConfig, ServiceMode, UndrainMethod,
};
use crate::error::{Error, Result};

const PID_FILE: &str = "service.pid";

pub struct Service {
    cfg: ServiceConfig,
    health: HealthConfig,
    window: SafeWindowConfig,
    state_dir: PathBuf,
    child: Option<tokio::process::Child>,
    http: reqwest::Client,
    token: Option<String>,
}

impl Service {
    pub fn new(cfg: &AgentConfig) -> Result<Self> {
        let token = match &cfg.service.token_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| Error::io(p, e))?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Service(format!("HTTP client: {e}")))?;
        Ok(Self {
            cfg: cfg.service.clone(),
            health: cfg.health.clone(),
            window: cfg.safe_window.clone(),
            state_dir: cfg.state_dir.clone(),
            child: None,
            http,
            token,
        })
    }

    pub fn mode(&self) -> ServiceMode {
        self.cfg.mode
    }

    pub async fn start(&mut self) -> Result<()> {
        match self.cfg.mode {
            ServiceMode::Process => {
                if self.child.is_some() {
                    return Ok(());
                }
                let mut cmd = tokio::process::Command::new(&self.cfg.binary);
                cmd.args(&self.cfg.args)
                    .envs(&self.cfg.env)
                    .current_dir(self.cfg.workdir.as_ref().unwrap_or(&self.state_dir))
                    .stdin(Stdio::null())
                    // Its own process group: a Ctrl-C aimed at the agent's terminal
                    // must not take the service down outside a controlled stop.
                    .process_group(0);
                let child = cmd.spawn().map_err(|e| {
                    Error::Service(format!("starting {}: {e}", self.cfg.binary.display()))
                })?;
                if let Some(pid) = child.id() {
                    crate::fsutil::atomic_write(
                        &self.state_dir.join(PID_FILE),
                        pid.to_string().as_bytes(),
                    )?;
                }
                self.child = Some(child);
                Ok(())
            }
            ServiceMode::Systemd => self.systemctl("start").await,
        }
    }

    pub async fn stop(&mut self) -> Result<()> {
        match self.cfg.mode {
            ServiceMode::Process => {
                if let Some(mut child) = self.child.take() {
                    if let Some(pid) = child.id() {
                        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
                    }
                    match tokio::time::timeout(self.cfg.stop_timeout, child.wait()).await {
                        Ok(_) => {}
                        Err(_) => {
                            tracing::warn!("service did not stop in time; killing it");
                            let _ = child.kill().await;
                        }
                    }
                }
                let _ = std::fs::remove_file(self.state_dir.join(PID_FILE));
                Ok(())
            }
            ServiceMode::Systemd => self.systemctl("stop").await,
        }
    }

    async fn systemctl(&self, verb: &str) -> Result<()> {
        let unit = self.cfg.unit.as_deref().unwrap_or_default();
        let out = tokio::process::Command::new("systemctl")
            .args([verb, unit])
            .output()
            .await
            .map_err(|e| Error::Service(format!("systemctl {verb} {unit}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Service(format!(
                "systemctl {verb} {unit}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// A service process left behind by an earlier life of the agent (it was killed)
    /// is stopped, so the fresh start does not find its port taken. Only a process
    /// whose command line starts with the configured binary is touched.
    pub async fn stop_stale(&self) {
        if self.cfg.mode != ServiceMode::Process {
            return;
        }
        let pid_path = self.state_dir.join(PID_FILE);
        let Ok(text) = std::fs::read_to_string(&pid_path) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            return;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if argv0 != self.cfg.binary.as_os_str().as_encoded_bytes() {
            let _ = std::fs::remove_file(&pid_path);
            return;
        }
        tracing::warn!(pid, "stopping a service process left by an earlier agent");
        let pid = Pid::from_raw(pid);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + self.cfg.stop_timeout;
        while kill(pid, None).is_ok() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = kill(pid, Signal::SIGKILL);
        let _ = std::fs::remove_file(&pid_path);
    }

    /// Waits until the supervised child exits (process mode); never returns in
    /// systemd mode or when no child runs (systemd supervises then).
    pub async fn exited(&mut self) -> String {
        match self.child.as_mut() {
            Some(child) => {
                let status = child.wait().await;
                self.child = None;
                let _ = std::fs::remove_file(self.state_dir.join(PID_FILE));
                match status {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Non-blocking: has the child exited? (Fails a health wait early.)
    fn child_exit(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status.to_string())
            }
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    pub fn is_child_running(&self) -> bool {
        self.child.is_some()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url.trim_end_matches('/'), path)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub async fn healthz_ok(&self) -> bool {
        matches!(
            self.http.get(self.url(&self.health.healthz_path)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// The version the service reports at `/version` (`{"version": "..."}`).
    pub async fn version(&self) -> Option<String> {
        let resp = self
            .http
            .get(self.url(&self.health.version_path))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: serde_json::Value = resp.json().await.ok()?;
        v.get("version")?.as_str().map(str::to_owned)
    }

    pub async fn set_drain(&self, on: bool) -> Result<()> {
        let (method, path) = if on {
            (reqwest::Method::POST, &self.window.drain_path)
        } else {
            let m = match self.window.undrain_method {
                UndrainMethod::Delete => reqwest::Method::DELETE,
                UndrainMethod::Post => reqwest::Method::POST,
            };
            (m, &self.window.undrain_path)
        };
        let resp = self
            .authed(self.http.request(method.clone(), self.url(path)))
            .timeout(self.window.switch_timeout)
            .send()
            .await
            .map_err(|e| Error::Service(format!("{method} {path}: {e}")))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Error::Service(format!(
                "{method} {path}: {}",
                resp.status()
            )))
        }
    }

    pub async fn in_flight(&self) -> Result<u64> {
        let path = &self.window.status_path;
        let resp = self
            .authed(self.http.get(self.url(path)))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::Service(format!("GET {path}: {e}")))?;
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| Error::Service(format!("GET {path}: {e}")))?;
        v.pointer(&self.window.in_flight_pointer)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                Error::Service(format!(
                    "GET {path}: no count at {}",
                    self.window.in_flight_pointer
                ))
            })
    }

    /// Waits until `/healthz` is ok and `/version` equals `expected` (semver
    /// equality). Fails early if the supervised child exits.
    pub async fn wait_healthy(&mut self, expected: &str, timeout: Duration) -> Result<Duration> {
        let t0 = Instant::now();
        let want = semver::Version::parse(expected).ok();
        let mut last = String::from("no answer");
        while t0.elapsed() < timeout {
            if let Some(status) = self.child_exit() {
                return Err(Error::Service(format!("the service exited: {status}")));
            }
            if self.healthz_ok().await {
                match self.version().await {
                    Some(v) => {
                        let same = match (&want, semver::Version::parse(&v)) {
                            (Some(w), Ok(got)) => *w == got,
                            _ => v == expected,
                        };
                        if same {
                            return Ok(t0.elapsed());
                        }
                        last = format!("reports version {v}");
                    }
                    None => last = "healthz ok, no version".into(),
                }
            }
            tokio::time::sleep(self.health.interval).await;
        }
        Err(Error::Service(format!(
            "not healthy at version {expected} within {timeout:?} ({last})"
        )))
    }
}
