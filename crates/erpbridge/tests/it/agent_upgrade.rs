//! The update agent with the REAL `erpbridge` binary (issue 8), and the hub surface it
//! relies on: drain switch, in-flight count, `/healthz`, `/version`, graceful SIGTERM.
//!
//! Everything is a real process on real files: `erpbridge serve` on SQLite with the
//! simulated ERP (its writes journalled to a file, so effects can be counted across
//! restarts), `erpbridge agent` supervising it, releases made with `erpbridge release
//! keygen|publish`. The sim answers every call after a fixed latency, so an order saga
//! (create + confirm) stays in flight long enough to be caught by a drain or a SIGTERM
//! without timing anything.
//!
//! "v2" is the same build: a release artifact that is a two-line script exec'ing the
//! real binary with `ERPBRIDGE_VERSION_OVERRIDE` set, which is what `/version` then
//! reports (the compiled version stays visible in its `build` field). v1 is the real
//! binary file itself, so the agent backs up and replaces the real executable.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ERPBRIDGE: &str = env!("CARGO_BIN_EXE_erpbridge");
const OPERATOR_KEY: &str = "agent-test-operator-key";
const TENANT_KEY: &str = "agent-test-tenant-key";
/// Per sim call; a saga makes two calls (create, confirm).
const SIM_LATENCY: &str = "1s";
const LONG: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal blocking HTTP/1.0 client (one request per connection, never chunked).
fn http(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req += "Content-Type: application/json\r\n";
    }
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    req += &body;
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let text = buf.split_once("\r\n\r\n").map(|(_, b)| b)?;
    Some((status, serde_json::from_str(text).unwrap_or(Value::Null)))
}

fn operator(method: &str, port: u16, path: &str) -> Option<(u16, Value)> {
    let auth = format!("Bearer {OPERATOR_KEY}");
    http(
        method,
        port,
        path,
        &[("Authorization", auth.as_str())],
        None,
    )
}

fn version(port: u16) -> Option<String> {
    match http("GET", port, "/version", &[], None)? {
        (200, v) => v["version"].as_str().map(str::to_owned),
        _ => None,
    }
}

fn wait_for(
    what: &str,
    timeout: Duration,
    logs: &dyn Fn() -> String,
    mut ok: impl FnMut() -> bool,
) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The next minor version after the compiled one: what "v2" reports.
fn next_minor(version: &str) -> String {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    format!("{major}.{}.0", minor + 1)
}

/// A temp tree with a hub configuration (SQLite + sim on a free port) and the
/// helpers both tests need.
struct Site {
    dir: tempfile::TempDir,
    port: u16,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let data = dir.path().join("data");
        let config = format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
operator_key = "{OPERATOR_KEY}"

[store]
type = "sqlite"
path = "{db}"

[outbox]
# One saga at a time, so later orders wait as pending while one is in flight.
workers = 1
batch_size = 1
poll_interval = "100ms"
lease = "30s"

[[tenants]]
id = "demo"
api_keys = ["{TENANT_KEY}"]

[tenants.provider]
type = "sim"
articles = 100
customers = 10
init_delay = "100ms"
per_call_latency = "{SIM_LATENCY}"
state_file = "{journal}"

[tenants.sync]
enabled = false
"#,
            db = data.join("erpbridge.sqlite").display(),
            journal = data.join("sim-journal.jsonl").display(),
        );
        std::fs::write(dir.path().join("hub.toml"), config).unwrap();
        std::fs::write(dir.path().join("operator.token"), OPERATOR_KEY).unwrap();
        Site { dir, port }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Every log file under the site, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for name in [
            "serve-1.log",
            "serve-2.log",
            "serve-3.log",
            "agent.log",
            "state/audit.jsonl",
        ] {
            if let Ok(text) = std::fs::read_to_string(self.path(name)) {
                let tail: String = text
                    .lines()
                    .rev()
                    .take(60)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                out += &format!("--- {name} (tail) ---\n{tail}\n");
            }
        }
        out
    }

    fn status(&self) -> Value {
        match operator("GET", self.port, "/api/erp/status") {
            Some((200, v)) => v,
            other => panic!("GET /api/erp/status: {other:?}\n{}", self.logs()),
        }
    }

    fn count(&self, field: &str) -> u64 {
        self.status()[field].as_u64().unwrap()
    }

    /// Posts an order with an Idempotency-Key; returns its saga id (202: enqueued).
    fn post_order(&self, key: &str) -> String {
        let auth = format!("Bearer {TENANT_KEY}");
        let order = json!({
            "customer_id": "C0000001",
            "external_reference": key,
            "lines": [{"article_id": "A00000001", "quantity": "2"}]
        });
        let (code, body) = http(
            "POST",
            self.port,
            "/v1/tenants/demo/orders",
            &[("Authorization", auth.as_str()), ("Idempotency-Key", key)],
            Some(&order),
        )
        .unwrap();
        assert_eq!(code, 202, "order {key}: {body}\n{}", self.logs());
        body["order_id"].as_str().unwrap().to_owned()
    }

    fn saga(&self, id: &str) -> Value {
        match operator("GET", self.port, &format!("/api/erp/saga/{id}")) {
            Some((200, v)) => v,
            other => panic!("GET saga {id}: {other:?}\n{}", self.logs()),
        }
    }

    fn wait_completed(&self, ids: &[String]) -> Vec<Value> {
        let logs = || self.logs();
        wait_for("every saga completed", LONG, &logs, || {
            ids.iter().all(|id| self.saga(id)["status"] == "completed")
        });
        ids.iter().map(|id| self.saga(id)).collect()
    }

    /// Orders the simulated ERP created, per idempotency key, from its journal.
    fn erp_orders_by_key(&self) -> HashMap<String, usize> {
        let text = std::fs::read_to_string(self.path("data/sim-journal.jsonl")).unwrap_or_default();
        let mut by_key = HashMap::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["op"] == "order_created" {
                *by_key
                    .entry(v["key"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        by_key
    }

    /// Sagas finished, none lost, none run twice, one ERP order per key.
    fn assert_exactly_once(&self, keys: &[&str], sagas: &[Value]) {
        for saga in sagas {
            assert_eq!(saga["status"], "completed", "{saga}");
            assert_eq!(
                saga["attempts"], 1,
                "a saga cut short and re-run would show 2 attempts: {saga}"
            );
        }
        let by_key = self.erp_orders_by_key();
        for key in keys {
            assert_eq!(
                by_key.get(*key),
                Some(&1),
                "ERP orders for {key}: {by_key:?}"
            );
        }
    }

    fn start_serve(&self, run: usize) -> Child {
        let log = std::fs::File::create(self.path(&format!("serve-{run}.log"))).unwrap();
        Command::new(ERPBRIDGE)
            .args(["serve", "--config"])
            .arg(self.path("hub.toml"))
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .env_remove("ERPBRIDGE_VERSION_OVERRIDE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn wait_ready(&self) {
        let logs = || self.logs();
        wait_for("/readyz 200", LONG, &logs, || {
            matches!(http("GET", self.port, "/readyz", &[], None), Some((200, _)))
        });
    }

    fn wait_in_progress(&self) {
        let logs = || self.logs();
        wait_for("a saga in progress", LONG, &logs, || {
            self.count("in_progress_count") >= 1
        });
    }
}

/// Stops a child left running by a failed assertion: SIGTERM first (an agent then
/// stops the hub it supervises), SIGKILL if it has not exited within 10 s.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGKILLs the service the agent recorded in its pid file, should the agent have
/// died without stopping it: a failed test must not leave a hub running.
struct ReapService(PathBuf);

impl Drop for ReapService {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

fn sigterm(child: &Child) {
    nix_kill(child.id(), "TERM");
}

fn nix_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(
    child: &mut Child,
    timeout: Duration,
    logs: &dyn Fn() -> String,
) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            t0.elapsed() < timeout,
            "process did not exit within {timeout:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hub side of a safe window, without the agent: the drain switch (operator key
/// required, persisted across restarts, refuses new orders, stops claims while the
/// in-flight saga finishes), and SIGTERM with a saga in flight (it finishes; pending
/// ones wait for the next start; nothing lost or done twice).
#[test]
fn serve_drain_switch_and_sigterm_keep_every_saga() {
    let site = Site::new();
    let logs = || site.logs();
    let mut serve = Reap(Some(site.start_serve(1)));
    site.wait_ready();

    // /healthz, /version (compiled version without the override).
    assert!(matches!(
        http("GET", site.port, "/healthz", &[], None),
        Some((200, _))
    ));
    let (_, v) = http("GET", site.port, "/version", &[], None).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["build"], env!("CARGO_PKG_VERSION"));

    // The switch needs the operator key; while on, orders are refused.
    let (code, _) = http("POST", site.port, "/api/erp/drain", &[], None).unwrap();
    assert_eq!(code, 401);
    let (code, body) = operator("POST", site.port, "/api/erp/drain").unwrap();
    assert_eq!((code, &body["draining"]), (200, &json!(true)));
    assert_eq!(site.status()["draining"], true);
    let auth = format!("Bearer {TENANT_KEY}");
    let (code, _) = http(
        "POST",
        site.port,
        "/v1/tenants/demo/orders",
        &[("Authorization", auth.as_str()), ("Idempotency-Key", "refused")],
        Some(&json!({"customer_id": "C0000001", "lines": [{"article_id": "A00000001", "quantity": "1"}]})),
    )
    .unwrap();
    assert_eq!(code, 503, "no new orders while draining");
    let (code, body) = operator("DELETE", site.port, "/api/erp/drain").unwrap();
    assert_eq!((code, &body["draining"]), (200, &json!(false)));

    // SIGTERM with one saga in flight and two pending.
    let first = ["term-1", "term-2", "term-3"];
    let first_ids: Vec<String> = first.iter().map(|k| site.post_order(k)).collect();
    site.wait_in_progress();
    let child = serve.0.as_mut().unwrap();
    sigterm(child);
    let status = wait_exit(child, Duration::from_secs(30), &logs);
    assert!(
        status.success(),
        "serve exits cleanly on SIGTERM: {status}\n{}",
        logs()
    );
    serve.0 = None;

    // The next start finishes what was left; the interrupted run was not repeated.
    let mut serve = Reap(Some(site.start_serve(2)));
    site.wait_ready();
    let sagas = site.wait_completed(&first_ids);
    site.assert_exactly_once(&first, &sagas);

    // Drain with a saga in flight: it finishes, nothing new is claimed, and the switch
    // survives a restart.
    let second = ["drain-1", "drain-2", "drain-3"];
    let second_ids: Vec<String> = second.iter().map(|k| site.post_order(k)).collect();
    site.wait_in_progress();
    let (code, _) = operator("POST", site.port, "/api/erp/drain").unwrap();
    assert_eq!(code, 200);
    wait_for("in flight 0 after the drain", LONG, &logs, || {
        site.count("in_progress_count") == 0
    });
    let pending = site.count("pending_count");
    assert!(pending >= 1, "the later orders wait: {}", site.status());
    // Several worker polls later still nothing was claimed.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(site.count("pending_count"), pending);
    assert_eq!(site.count("in_progress_count"), 0);
    let child = serve.0.as_mut().unwrap();
    sigterm(child);
    assert!(wait_exit(child, Duration::from_secs(30), &logs).success());
    serve.0 = None;

    let _serve = Reap(Some(site.start_serve(3)));
    site.wait_ready();
    let status = site.status();
    assert_eq!(
        status["draining"], true,
        "the switch is persisted: {status}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        site.count("pending_count"),
        pending,
        "drained hub claims nothing"
    );
    let (code, _) = operator("DELETE", site.port, "/api/erp/drain").unwrap();
    assert_eq!(code, 200);
    let sagas = site.wait_completed(&second_ids);
    site.assert_exactly_once(&second, &sagas);
}

/// Writes the release script for `version`: the real binary, reporting `version`.
fn wrapper_release(dir: &Path, version: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let out = dir.join("artifacts").join(version);
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("erpbridge");
    std::fs::write(
        &file,
        format!(
            "#!/bin/sh\n# erpbridge {version}: the test build, reporting another version\nERPBRIDGE_VERSION_OVERRIDE={version} exec '{ERPBRIDGE}' \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    file
}

fn cli(args: &[&str]) {
    let out = Command::new(ERPBRIDGE).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "erpbridge {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn audit(site: &Site) -> Vec<Value> {
    std::fs::read_to_string(site.path("state/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(records: &'a [Value], name: &str, to: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["event"] == name && r["ok"] == true && r["to"] == to)
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Issue 8's happy path with the real binary: v1 (`erpbridge serve`) runs under the
/// agent with a saga in flight and more queued when v2 is published; the agent drains,
/// waits for in-flight 0, swaps, v2 is healthy and reports v2, and every saga
/// completed exactly once — the in-flight one on v1 before the stop, the queued ones
/// on v2 after the swap.
#[test]
fn agent_upgrades_the_real_hub_with_a_saga_in_flight() {
    let site = Site::new();
    let logs = || site.logs();
    let v1 = env!("CARGO_PKG_VERSION");
    let v2 = next_minor(v1);
    std::fs::create_dir_all(site.path("install")).unwrap();
    std::fs::create_dir_all(site.path("feed")).unwrap();
    std::fs::copy(ERPBRIDGE, site.path("install/erpbridge")).unwrap();
    let keys = site.path("keys");
    cli(&["release", "keygen", "--out", keys.to_str().unwrap()]);
    let status_port = free_port();
    let agent_toml = format!(
        r#"
state_dir = "state"
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
stop_timeout = "30s"
[service.env]
RUST_LOG = "info"
[safe_window]
max_wait = "90s"
poll = "100ms"
[health]
timeout = "60s"
interval = "100ms"
[status]
listen = "127.0.0.1:{status_port}"
"#,
        hub = site.path("hub.toml").display(),
        port = site.port,
    );
    std::fs::write(site.path("agent.toml"), agent_toml).unwrap();
    cli(&[
        "agent",
        "--config",
        site.path("agent.toml").to_str().unwrap(),
        "--check",
    ]);

    let log = std::fs::File::create(site.path("agent.log")).unwrap();
    // Dropped after the agent's Reap (declared first, dropped last).
    let _service = ReapService(site.path("state/service.pid"));
    let mut agent = Reap(Some(
        Command::new(ERPBRIDGE)
            .args(["agent", "--config"])
            .arg(site.path("agent.toml"))
            .env("RUST_LOG", "info")
            .env_remove("ERPBRIDGE_VERSION_OVERRIDE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    ));
    wait_for("v1 healthy", LONG, &logs, || {
        version(site.port).as_deref() == Some(v1)
    });
    site.wait_ready();

    let keys_posted = ["up-1", "up-2", "up-3", "up-4"];
    let ids: Vec<String> = keys_posted.iter().map(|k| site.post_order(k)).collect();
    site.wait_in_progress();

    let artifact = wrapper_release(site.dir.path(), &v2);
    cli(&[
        "release",
        "publish",
        "--artifact",
        artifact.to_str().unwrap(),
        "--version",
        &v2,
        "--key",
        keys.join("release.key").to_str().unwrap(),
        "--feed",
        site.path("feed").to_str().unwrap(),
        "--notes",
        "v2 of the real hub",
    ]);

    wait_for("v2 healthy", LONG, &logs, || {
        version(site.port).as_deref() == Some(v2.as_str())
    });
    let (_, v) = http("GET", site.port, "/version", &[], None).unwrap();
    assert_eq!(v["build"], v1, "v2 is the same build under the override");
    wait_for("commit of v2 and undrain", LONG, &logs, || {
        let records = audit(&site);
        event(&records, "commit", &v2).is_some() && event(&records, "undrain", &v2).is_some()
    });
    assert!(matches!(
        http("GET", site.port, "/healthz", &[], None),
        Some((200, _))
    ));
    assert_eq!(
        site.status()["draining"],
        false,
        "undrained after the commit"
    );

    let sagas = site.wait_completed(&ids);
    site.assert_exactly_once(&keys_posted, &sagas);

    // The order of the update, and when each saga ran relative to it.
    let records = audit(&site);
    let order: Vec<&str> = [
        "verify", "backup", "drain", "stop", "replace", "start", "health", "commit", "undrain",
    ]
    .into_iter()
    .filter(|name| event(&records, name, &v2).is_some())
    .collect();
    assert_eq!(order.len(), 9, "every step audited ok: {records:#?}");
    let at = |name: &str| ts(&event(&records, name, &v2).unwrap()["ts"]);
    let names = [
        "verify", "backup", "drain", "stop", "replace", "start", "health", "commit",
    ];
    for pair in names.windows(2) {
        assert!(
            at(pair[0]) <= at(pair[1]),
            "{} before {}: {records:#?}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        records.iter().all(|r| r["event"] != "rollback"),
        "no rollback: {records:#?}"
    );
    // v2 starts drained (the switch is persisted) and is undrained only after its
    // health check, so nothing it ran can have started before that.
    let (stop, healthy) = (at("stop"), at("health"));
    let mut on_v1 = 0;
    let mut on_v2 = 0;
    for saga in &sagas {
        let started = ts(&saga["processing_started_at"]);
        let done = ts(&saga["processed_at"]);
        if done <= stop {
            on_v1 += 1;
        } else {
            // Nothing ran across the swap: what finished after the stop started after
            // v2 was up (drained v1 claimed nothing more).
            assert!(
                started >= healthy,
                "saga ran across the swap: {saga}\n{records:#?}"
            );
            on_v2 += 1;
        }
    }
    assert!(
        on_v1 >= 1,
        "the in-flight saga finished on v1 before the stop"
    );
    assert!(on_v2 >= 1, "queued sagas waited out the swap and ran on v2");

    // The agent's status endpoint agrees.
    let (code, st) = http("GET", status_port, "/status", &[], None).unwrap();
    assert_eq!(code, 200);
    assert_eq!(st["current_version"], v2.as_str());

    // SIGTERM to the agent stops the supervised hub too (no orphan keeps the port).
    let child = agent.0.as_mut().unwrap();
    sigterm(child);
    assert!(wait_exit(child, Duration::from_secs(40), &logs).success());
    agent.0 = None;
    wait_for(
        "the hub stopped with the agent",
        Duration::from_secs(10),
        &logs,
        || http("GET", site.port, "/healthz", &[], None).is_none(),
    );
}
