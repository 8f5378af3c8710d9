//! `erpbridge sim-erp serve` and `erpbridge provider test` as a user runs them: the sim in
//! its own process behind the gRPC provider protocol, checked by the conformance suite.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sim-erp serve` on a free loopback port and returns it with its address.
fn sim_erp(extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_erpbridge"))
        .args([
            "sim-erp",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--articles",
            "300",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run erpbridge sim-erp serve");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|a| a.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (server, addr)
}

#[test]
fn the_sim_in_its_own_process_passes_provider_test() {
    let (_server, addr) = sim_erp(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_erpbridge"))
        .args(["provider", "test", &addr, "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["failed"], 0, "{stdout}");
    assert!(report["passed"].as_u64().unwrap() >= 20, "{stdout}");
}

#[test]
fn provider_test_fails_against_a_broken_provider() {
    // Every call fails transient: the suite must fail and say so in its exit status.
    let (_server, addr) = sim_erp(&["--error-rate", "1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_erpbridge"))
        .args(["provider", "test", &format!("http://{addr}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
}
