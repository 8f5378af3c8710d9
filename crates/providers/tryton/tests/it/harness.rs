//! A real Tryton server for the tests, and a minimal raw JSON-RPC client that asks
//! Tryton directly, so that every assertion compares the provider with Tryton's own
//! answer (never with a number written into the test).
//!
//! The server: `ERPBRIDGE_TRYTON_URL` when set (a server CI or a developer started);
//! otherwise `scripts/tryton/start.sh` starts one per test process, with its own copy of
//! the cached seeded database, and a watchdog that stops it when the process exits.
//! Under nextest every test is its own process, so tests never share a database; under
//! `cargo test`, or with a URL, they do, and each test only mutates records it created.
//!
//! If Tryton cannot be set up: with `CI` set the test FAILS with the reason; without it,
//! the test is skipped with a loud message on stderr.

use erpbridge_tryton::{TrytonConfig, TrytonProvider};
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub const ADMIN_PASSWORD_DEFAULT: &str = "admin-pass-1";

/// What `seed.py` printed: the ids the seed created.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Seed {
    pub company: i64,
    pub currency_code: String,
    pub products: usize,
    pub product_ids: Vec<i64>,
    pub categories: Vec<i64>,
    pub warehouses: Vec<Warehouse>,
    pub price_lists: PriceLists,
    pub customers: Vec<SeedCustomer>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Warehouse {
    pub id: i64,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct PriceLists {
    pub default: i64,
    pub gold: i64,
    pub silver: i64,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct SeedCustomer {
    pub id: i64,
    pub code: String,
    pub price_list: Option<String>,
}

pub struct Server {
    pub url: String,
    pub database: String,
    pub password: String,
    pub seed: Seed,
    /// The run dir when this process started the server (restartable); `None` for a URL.
    pub run_dir: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .expect("repository root")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("scripts/tryton").join(name)
}

static SERVER: OnceLock<Result<Arc<Server>, String>> = OnceLock::new();

/// The server for this test, or `None` (skip) when Tryton cannot run here outside CI.
pub fn server() -> Option<Arc<Server>> {
    match SERVER.get_or_init(start).clone() {
        Ok(server) => Some(server),
        Err(reason) => skip_or_fail(reason),
    }
}

fn skip_or_fail<T>(reason: String) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("Tryton could not be set up, and CI must run the Tryton tests: {reason}")
    }
    eprintln!(
        "\n!!!!! SKIPPING a Tryton test: Tryton could not be set up: {reason}\n\
         !!!!! (with CI set this is a failure; see scripts/tryton/README.md)\n"
    );
    None
}

fn password() -> String {
    std::env::var("ERPBRIDGE_TRYTON_ADMIN_PASSWORD")
        .unwrap_or_else(|_| ADMIN_PASSWORD_DEFAULT.to_owned())
}

fn start() -> Result<Arc<Server>, String> {
    if let Ok(url) = std::env::var("ERPBRIDGE_TRYTON_URL") {
        let database =
            std::env::var("ERPBRIDGE_TRYTON_DATABASE").unwrap_or_else(|_| "erp".to_owned());
        let seed_path = std::env::var("ERPBRIDGE_TRYTON_SEED_JSON").map_err(|_| {
            "ERPBRIDGE_TRYTON_URL is set but ERPBRIDGE_TRYTON_SEED_JSON (the seed summary) is not"
                .to_owned()
        })?;
        return Ok(Arc::new(Server {
            url,
            database,
            password: password(),
            seed: read_seed(Path::new(&seed_path))?,
            run_dir: None,
        }));
    }
    let run_dir = std::env::temp_dir().join(format!("erpbridge-tryton-it-{}", std::process::id()));
    let url = run_start(&run_dir, &[])?;
    Ok(Arc::new(Server {
        url,
        database: "erp".to_owned(),
        password: password(),
        seed: read_seed(&run_dir.join("seed.json"))?,
        run_dir: Some(run_dir),
    }))
}

fn run_start(run_dir: &Path, extra: &[&str]) -> Result<String, String> {
    let pid = std::process::id().to_string();
    let output = Command::new("bash")
        .arg(script("start.sh"))
        .arg("--run-dir")
        .arg(run_dir)
        .args(["--watch-pid", &pid])
        .args(extra)
        .output()
        .map_err(|err| format!("cannot run scripts/tryton/start.sh: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/tryton/start.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if url.is_empty() {
        return Err("scripts/tryton/start.sh printed no URL".into());
    }
    Ok(url)
}

fn read_seed(path: &Path) -> Result<Seed, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read the seed summary {}: {err}", path.display()))?;
    serde_json::from_str(&text).map_err(|err| format!("bad seed summary: {err}"))
}

static PRIVATE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A server of the test's own, for tests that stop it or expire its sessions and so must
/// not share it (under `cargo test` all tests of the binary share [`server`]). Stopped
/// and removed on drop. `None` when the tests run against `ERPBRIDGE_TRYTON_URL`, or
/// (outside CI) when Tryton cannot be set up.
pub fn own_server() -> Option<OwnServer> {
    if std::env::var_os("ERPBRIDGE_TRYTON_URL").is_some() {
        eprintln!("tests run against ERPBRIDGE_TRYTON_URL: no private server for this test");
        return None;
    }
    let n = PRIVATE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let run_dir =
        std::env::temp_dir().join(format!("erpbridge-tryton-it-{}-own{n}", std::process::id()));
    let url = match run_start(&run_dir, &[]) {
        Ok(url) => url,
        Err(reason) => return skip_or_fail(reason),
    };
    Some(OwnServer(Server {
        url,
        database: "erp".to_owned(),
        password: password(),
        seed: read_seed(&run_dir.join("seed.json")).expect("seed summary"),
        run_dir: Some(run_dir),
    }))
}

pub struct OwnServer(pub Server);

impl std::ops::Deref for OwnServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(run_dir) = &self.0.run_dir {
            let _ = Command::new("bash")
                .arg(script("stop.sh"))
                .arg("--run-dir")
                .arg(run_dir)
                .arg("--clean")
                .status();
        }
    }
}

/// Serialises stop/start of one server between tests of one process.
static RESTART: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Server {
    pub fn config(&self) -> TrytonConfig {
        let mut config = TrytonConfig::new(&self.url, &self.database, "admin", &self.password);
        config.request_timeout = Duration::from_secs(120);
        config
    }

    pub async fn provider(&self) -> TrytonProvider {
        TrytonProvider::connect(self.config())
            .await
            .expect("connect to Tryton")
    }

    pub async fn client(&self) -> Client {
        Client::login(&self.url, &self.database, &self.password, self.seed.company).await
    }

    /// Stops the server, runs `during` while it is down, and starts it again on the same
    /// port with the same database. `None` when the server is not ours to restart.
    pub async fn with_server_stopped<F, Fut>(&self, during: F) -> Option<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let run_dir = self.run_dir.as_ref()?;
        let _guard = RESTART.lock().await;
        let port = std::fs::read_to_string(run_dir.join("port")).ok()?;
        let status = Command::new("bash")
            .arg(script("stop.sh"))
            .arg("--run-dir")
            .arg(run_dir)
            .status()
            .expect("run stop.sh");
        assert!(status.success(), "stop.sh failed");
        during().await;
        run_start(run_dir, &["--keep-db", "--port", port.trim()]).expect("restart Tryton");
        Some(())
    }
}

impl Server {
    /// Deletes every session row of the server's database (what Tryton's inactivity
    /// timeout amounts to), with the venv's Python. `false` when the server is not ours.
    pub fn expire_sessions(&self) -> bool {
        let Some(run_dir) = &self.run_dir else {
            return false;
        };
        let python = std::env::var("ERPBRIDGE_TRYTON_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default())
                    .join(".cache/erpbridge-tryton")
            })
            .join("venv/bin/python");
        let status = Command::new(python)
            .arg("-c")
            .arg(
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); \
                 c.execute('DELETE FROM ir_session'); c.commit()",
            )
            .arg(run_dir.join("db/erp.sqlite"))
            .status()
            .expect("run python");
        assert!(status.success(), "could not delete the sessions");
        true
    }
}

/// A raw JSON-RPC client for the tests' own questions to Tryton.
pub struct Client {
    http: reqwest::Client,
    url: String,
    auth: String,
    pub context: Value,
}

impl Client {
    pub async fn login(url: &str, database: &str, password: &str, company: i64) -> Self {
        let http = reqwest::Client::builder()
            .no_gzip()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let rpc = format!("{}/{database}/rpc/", url.trim_end_matches('/'));
        let mut client = Client {
            http,
            url: rpc,
            auth: String::new(),
            context: json!({"company": company, "companies": [company], "language": "en"}),
        };
        let result = client
            .raw(
                "common.db.login",
                json!(["admin", {"password": password}, "en"]),
            )
            .await
            .expect("test client login");
        let token = format!(
            "admin:{}:{}",
            result[0].as_i64().unwrap(),
            result[1].as_str().unwrap()
        );
        use base64::Engine as _;
        client.auth = format!(
            "Session {}",
            base64::engine::general_purpose::STANDARD.encode(token)
        );
        client
    }

    pub async fn raw(&self, method: &str, params: Value) -> Result<Value, Value> {
        let mut request = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept-Encoding", "gzip")
            .json(&json!({"id": 1, "method": method, "params": params}));
        if !self.auth.is_empty() {
            request = request.header("Authorization", &self.auth);
        }
        let response = request.send().await.expect("send");
        assert!(
            response.status().is_success(),
            "{method}: HTTP {}",
            response.status()
        );
        let bytes = response.bytes().await.expect("body");
        let mut body = Vec::new();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut body)
                .unwrap();
        } else {
            body = bytes.to_vec();
        }
        let answer: Value = serde_json::from_slice(&body).unwrap();
        match answer.get("error") {
            Some(error) if !error.is_null() => Err(error.clone()),
            _ => Ok(answer["result"].clone()),
        }
    }

    /// `model.<model>.<method>` with the company context (overlaid with `extra`).
    pub async fn call(
        &self,
        model: &str,
        method: &str,
        mut args: Vec<Value>,
        extra: Value,
    ) -> Value {
        let mut context = self.context.clone();
        if let (Some(ctx), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                ctx.insert(k.clone(), v.clone());
            }
        }
        args.push(context);
        self.raw(&format!("model.{model}.{method}"), Value::Array(args))
            .await
            .unwrap_or_else(|err| panic!("model.{model}.{method}: {err}"))
    }

    pub async fn search_read(
        &self,
        model: &str,
        domain: Value,
        fields: &[&str],
        extra: Value,
    ) -> Vec<Value> {
        self.call(
            model,
            "search_read",
            vec![
                domain,
                json!(0),
                Value::Null,
                json!([["id", "ASC"]]),
                json!(fields),
            ],
            extra,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    pub async fn search(&self, model: &str, domain: Value, extra: Value) -> Vec<i64> {
        self.call(
            model,
            "search",
            vec![domain, json!(0), Value::Null, json!([["id", "ASC"]])],
            extra,
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
    }
}

/// A Tryton Decimal (`{"__class__":"Decimal","decimal":"1.50"}`) as a Rust decimal.
pub fn decimal(value: &Value) -> rust_decimal::Decimal {
    value["decimal"]
        .as_str()
        .unwrap_or_else(|| panic!("not a Decimal: {value}"))
        .parse()
        .unwrap()
}

/// A stock float as a decimal, the way the provider converts it.
pub fn float_decimal(value: &Value) -> rust_decimal::Decimal {
    value.to_string().parse().unwrap()
}
