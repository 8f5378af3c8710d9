//! `--log-format json` / `ERPBRIDGE_LOG_FORMAT=json`: every line the hub writes to stderr
//! is one JSON object a log collector can take as it is.

use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A hub with a sim tenant and a Tryton tenant whose server is down, so it logs at
/// `info` (start-up) and at `warn` with structured fields (the Tryton tenant's warm-up).
fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
[store]
type = "sqlite"
path = "{db}"
[[tenants]]
id = "demo"
api_keys = ["demo-key-1"]
[tenants.provider]
type = "sim"
articles = 20
init_delay = "0s"
[tenants.sync]
enabled = false
[[tenants]]
id = "down"
api_keys = ["down-key-1"]
[tenants.provider]
type = "tryton"
url = "http://127.0.0.1:{closed}/"
database = "erp"
user = "admin"
password = "pw-123456"
connect_timeout = "1s"
[tenants.sync]
enabled = false
"#,
        db = dir.join("hub.sqlite").display(),
        closed = free_port(),
    );
    let path = dir.join("hub.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Runs `serve` until it is listening and stderr holds the Tryton tenant's warning (or
/// 60 s passed), stops it with SIGTERM and returns its stderr.
fn serve_stderr(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let port = free_port();
    let config = write_config(dir, port);
    let log = dir.join(format!("stderr-{port}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_erpbridge"))
        .args(args)
        .args(["serve", "--config", config.to_str().unwrap()])
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("run erpbridge serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listening = TcpStream::connect(("127.0.0.1", port)).is_ok();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if listening && text.contains("not ready") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve ended early ({status}):\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not come up and warn within 60 s:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop: {status}");
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn json_logs_are_one_object_per_line_with_level_target_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = serve_stderr(dir.path(), &[], &[("ERPBRIDGE_LOG_FORMAT", "json")]);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    let mut warned = false;
    for line in &lines {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n--- all of stderr:\n{stderr}"));
        let level = event["level"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
        assert!(
            event["target"].as_str().is_some_and(|t| !t.is_empty()),
            "{line}"
        );
        assert!(event["fields"].is_object(), "{line}");
        assert!(event["timestamp"].is_string(), "{line}");
        // The Tryton tenant's warm-up failure: its error is a field, not text in a line.
        if level == "WARN" && event["fields"]["message"] == "provider not ready yet" {
            let error = event["fields"]["error"].as_str().unwrap_or_default();
            assert!(error.contains("cannot reach Tryton"), "{line}");
            warned = true;
        }
    }
    assert!(
        warned,
        "no structured warning of the Tryton tenant:\n{stderr}"
    );
    // The graceful stop is logged too, as JSON.
    assert!(stderr.contains("HTTP server stopped"), "{stderr}");
}

#[test]
fn the_flag_beats_the_environment_and_text_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = serve_stderr(
        dir.path(),
        &["--log-format", "text"],
        &[("ERPBRIDGE_LOG_FORMAT", "json")],
    );
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<Value>(first).is_err(),
        "text wanted: {stderr}"
    );
    assert!(stderr.contains("INFO"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_erpbridge"))
        .args(["--log-format", "yaml", "config", "schema"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("text") && err.contains("json"), "{err}");
}
