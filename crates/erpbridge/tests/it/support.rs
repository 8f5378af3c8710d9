//! What the process tests share: ports, child processes (the `erpbridge` binary and
//! the example Python provider), polling, HTTP helpers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Sends `signal` (e.g. "HUP") with the system's `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (off the async workers) for the process to end; its exit status.
    pub async fn exit(mut self) -> std::process::ExitStatus {
        tokio::task::spawn_blocking(move || {
            let status = self.0.wait().unwrap();
            std::mem::forget(self);
            status
        })
        .await
        .unwrap()
    }
}

/// Runs the `erpbridge` binary with `args`, stderr (its log) into `log`.
pub fn erpbridge(args: &[&str], log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    Proc(
        Command::new(env!("CARGO_BIN_EXE_erpbridge"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Polls `check` every 50 ms until it holds; panics after `secs`.
pub async fn until<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 20 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs}s waiting for: {what}");
}

pub async fn get(client: &reqwest::Client, url: String, key: &str) -> (u16, Value) {
    let r = client.get(url).bearer_auth(key).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A POST; its status, content type and JSON body.
pub async fn post_json(
    client: &reqwest::Client,
    url: String,
    key: &str,
    idempotency_key: Option<&str>,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut request = client.post(url).bearer_auth(key);
    if let Some(k) = idempotency_key {
        request = request.header("Idempotency-Key", k);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, r.json().await.unwrap_or(Value::Null))
}

/// Waits until the hub at `base` answers `/healthz`.
pub async fn hub_up(client: &reqwest::Client, base: &str) {
    until("hub up", 60, || async {
        client.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
}

/// `sha256:<hex>` of a token, as a hub configuration lists it.
pub fn token_digest(token: &str) -> String {
    let hex: String = erpbridge_tunnel::auth::digest(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The example Python provider (`examples/python-provider/run.sh PORT`), in its own
/// process group so that stopping it stops python too, not only the script.
pub struct PythonProvider {
    child: Child,
    pub port: u16,
}

impl PythonProvider {
    fn run_sh() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/python-provider/run.sh")
    }

    /// Prepares the venv (cached; `scripts/test` prepares it before the tests) and
    /// starts the provider. A provider that cannot be prepared or started fails the
    /// test: the hub's end-to-end check against another language is required, not
    /// optional.
    pub async fn start(articles: u32) -> Self {
        let run = Self::run_sh();
        let prepared = Command::new("bash")
            .arg(&run)
            .arg("--prepare-only")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("running examples/python-provider/run.sh --prepare-only");
        assert!(
            prepared.status.success(),
            "the Python provider's venv cannot be prepared: {}",
            String::from_utf8_lossy(&prepared.stderr)
        );
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new("bash")
                .arg(&run)
                .arg(port.to_string())
                .arg("--articles")
                .arg(articles.to_string())
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("starting run.sh")
        };
        let mut provider = Self { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = provider.child.try_wait() {
                panic!("the Python provider exited early: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the Python provider did not listen on {port} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        provider
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
    }
}

impl Drop for PythonProvider {
    fn drop(&mut self) {
        self.signal_group("TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("KILL");
        let _ = self.child.wait();
    }
}

/// Asserts the store holds exactly what `provider` serves for `tenant`: same count and
/// content checksum for articles, categories and customers.
pub async fn assert_catalog_equals(
    store: &erpbridge_store::catalog::CatalogStore,
    tenant: &str,
    provider: &dyn erpbridge_provider::Provider,
) {
    use erpbridge_model::EntityKind;
    for entity in [
        EntityKind::Article,
        EntityKind::Category,
        EntityKind::Customer,
    ] {
        let want = erpbridge_sync::checksum::provider_checksum(provider, entity)
            .await
            .unwrap();
        let got = erpbridge_sync::checksum::store_checksum(store, tenant, entity)
            .await
            .unwrap();
        assert_eq!(got, want, "{entity:?}: the store differs from the provider");
    }
}
