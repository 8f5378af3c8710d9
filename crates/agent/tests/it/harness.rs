//! Test environment: a temp tree with a feed, keys, an installed service binary, an
//! agent config; helpers to start/kill the agent and to talk to the service.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use erpbridge_agent::audit::{AuditLog, Record};
use erpbridge_agent::keys;
use erpbridge_agent::publish::{PublishOptions, publish};

pub const FIXTURE: &str = env!("CARGO_BIN_EXE_erpbridge-agent-fixture-service");
pub const AGENT: &str = env!("CARGO_BIN_EXE_erpbridge-agent");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub key: SigningKey,
    pub service_port: u16,
    pub status_port: u16,
    pub agent: Option<Child>,
    pub agent_runs: usize,
}

pub struct Opts {
    pub initial_version: &'static str,
    pub poll: &'static str,
    pub max_wait: &'static str,
    pub health_timeout: &'static str,
    pub feed_location: Option<String>,
    /// The fixture answers this many drain requests with 503 first.
    pub drain_refusals: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            initial_version: "1.0.0",
            poll: "300ms",
            max_wait: "30s",
            health_timeout: "10s",
            feed_location: None,
            drain_refusals: 0,
        }
    }
}

/// Builds a fixture binary reporting `version`; `mode` is `ok`, `fail-start` or
/// `bad-health`. Each is a distinct file with its own sha256.
pub fn fixture_binary(dir: &Path, version: &str, mode: &str) -> PathBuf {
    let out_dir = dir.join("artifacts").join(format!("{version}-{mode}"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("erpbridge");
    std::fs::copy(FIXTURE, &out).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    write!(f, "\nFIXTURE-TRAILER version={version} mode={mode}\n").unwrap();
    out
}

impl Env {
    pub fn new(opts: Opts) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let key = keys::generate().unwrap();
        keys::write_keypair(&dir.path().join("keys"), &key).unwrap();
        std::fs::create_dir_all(dir.path().join("feed")).unwrap();
        std::fs::create_dir_all(dir.path().join("install")).unwrap();
        let v1 = fixture_binary(dir.path(), opts.initial_version, "ok");
        std::fs::copy(&v1, dir.path().join("install/erpbridge")).unwrap();
        let env = Env {
            dir,
            key,
            service_port: free_port(),
            status_port: free_port(),
            agent: None,
            agent_runs: 0,
        };
        let feed = opts
            .feed_location
            .unwrap_or_else(|| env.path("feed").display().to_string());
        let config = format!(
            r#"
state_dir = "state"
[feed]
location = "{feed}"
channel = "stable"
public_key = "keys/release.pub"
poll_interval = "{poll}"
jitter = "0s"
timeout = "2s"
[service]
mode = "process"
binary = "install/erpbridge"
base_url = "http://127.0.0.1:{port}"
stop_timeout = "10s"
[service.env]
FIXTURE_ADDR = "127.0.0.1:{port}"
FIXTURE_LOG = "{log}"
FIXTURE_DRAIN_FILE = "{drain}"
FIXTURE_DRAIN_REFUSE = "{refusals}"
[safe_window]
max_wait = "{max_wait}"
poll = "100ms"
retry_after = "1s"
[health]
timeout = "{health_timeout}"
interval = "50ms"
[backup]
keep = 2
[status]
listen = "127.0.0.1:{status}"
"#,
            poll = opts.poll,
            port = env.service_port,
            log = env.path("work.log").display(),
            drain = env.path("drain.flag").display(),
            max_wait = opts.max_wait,
            health_timeout = opts.health_timeout,
            status = env.status_port,
            refusals = opts.drain_refusals,
        );
        std::fs::write(env.path("agent.toml"), config).unwrap();
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn publish(&self, version: &str, mode: &str) -> PathBuf {
        self.publish_with(version, mode, &self.key)
    }

    pub fn publish_with(&self, version: &str, mode: &str, key: &SigningKey) -> PathBuf {
        let art = fixture_binary(self.dir.path(), version, mode);
        publish(
            &PublishOptions {
                artifact: art,
                version: version.into(),
                channel: "stable".into(),
                feed: self.path("feed"),
                notes: format!("test release {version} ({mode})"),
                min_agent_version: None,
            },
            key,
        )
        .unwrap()
        .dir
    }

    /// Starts the agent process; `hook` sets the kill-at test hook.
    pub fn start_agent(&mut self, hook: Option<&str>) {
        self.agent_runs += 1;
        let log =
            std::fs::File::create(self.path(&format!("agent-{}.log", self.agent_runs))).unwrap();
        let mut cmd = Command::new(AGENT);
        cmd.arg("--config")
            .arg(self.path("agent.toml"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        match hook {
            Some(h) => cmd.env(erpbridge_agent::TEST_KILL_AT_ENV, h),
            None => cmd.env_remove(erpbridge_agent::TEST_KILL_AT_ENV),
        };
        self.agent = Some(cmd.spawn().unwrap());
    }

    /// Waits for the agent process to exit by itself (e.g. the kill hook fired).
    pub fn wait_agent_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = self.agent.as_mut().unwrap();
        let t0 = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.agent = None;
                return status;
            }
            assert!(
                t0.elapsed() < timeout,
                "agent did not exit within {timeout:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn audit(&self) -> Vec<Record> {
        AuditLog::read_all(&self.path("state/audit.jsonl")).unwrap_or_default()
    }

    pub fn events(&self, event: &str, ok: bool) -> Vec<Record> {
        self.audit()
            .into_iter()
            .filter(|r| r.event == event && r.ok == ok)
            .collect()
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=self.agent_runs {
            out += &format!("--- agent run {i} ---\n");
            out +=
                &std::fs::read_to_string(self.path(&format!("agent-{i}.log"))).unwrap_or_default();
        }
        out += "--- audit ---\n";
        out += &std::fs::read_to_string(self.path("state/audit.jsonl")).unwrap_or_default();
        out
    }

    pub fn service_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path("state/service.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The service's pid once the agent has recorded it. The service can answer
    /// `/version` a moment before (or between a restart's removal and rewrite of) the
    /// pid file, so a test must not read it just once.
    pub fn wait_service_pid(&self, timeout: Duration) -> i32 {
        let mut pid = None;
        self.wait_for("the service pid file", timeout, || {
            pid = self.service_pid();
            pid.is_some()
        });
        pid.unwrap_or_default()
    }

    pub fn installed_sha(&self) -> [u8; 32] {
        erpbridge_agent::fsutil::sha256_file(&self.path("install/erpbridge"))
            .unwrap()
            .0
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !cond() {
            assert!(
                t0.elapsed() < timeout,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the audit log's commit of `version` (the service may answer with the
    /// new version a moment before the agent has written it down).
    pub fn wait_commit(&self, version: &str, timeout: Duration) {
        self.wait_for(&format!("commit of {version}"), timeout, || {
            self.events("commit", true)
                .iter()
                .any(|r| r.to.as_deref() == Some(version))
        });
    }

    pub fn wait_version(&self, version: &str, timeout: Duration) {
        self.wait_for(&format!("service version {version}"), timeout, || {
            service_version(self.service_port).as_deref() == Some(version)
        });
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
        if let Some(pid) = self.service_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A minimal blocking HTTP/1.0 client, so tests need no runtime of their own.
pub fn http(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

pub fn service_version(port: u16) -> Option<String> {
    let (code, body) = http("GET", port, "/version")?;
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v.get("version")?.as_str().map(str::to_owned)
}

pub fn healthy(port: u16) -> bool {
    matches!(http("GET", port, "/healthz"), Some((200, _)))
}

pub fn agent_status(port: u16) -> Option<serde_json::Value> {
    let (code, body) = http("GET", port, "/status")?;
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}
