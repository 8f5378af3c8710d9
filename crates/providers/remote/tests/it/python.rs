//! The example Python provider (`examples/python-provider`) passes the same conformance
//! suite as the sim: the protocol is language-neutral.
//!
//! It needs Python packages from PyPI, installed by the example's own `run.sh` into a
//! cached venv. If they cannot be installed, the test fails when `CI` is set and skips
//! with the reason otherwise.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use erpbridge_remote::conformance;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../examples/python-provider")
}

/// Skips (no CI) or fails (CI) with the reason.
fn unavailable(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("the Python provider is required in CI: {reason}");
    }
    eprintln!("SKIPPED: the Python provider is unavailable: {reason}");
}

/// The provider's process group, stopped on drop (run.sh and python both).
struct ProviderProcess(Child);

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.0.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_python_provider_passes_the_conformance_suite() {
    let run = example_dir().join("run.sh");
    // Installing the venv may take a while on first use; it is cached afterwards.
    let prepared = Command::new("bash")
        .arg(&run)
        .arg("--prepare-only")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match prepared {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return unavailable(&format!(
                "run.sh --prepare-only failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Err(err) => return unavailable(&format!("cannot run bash: {err}")),
    }

    let port = free_port();
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new("bash")
            .arg(&run)
            .arg(port.to_string())
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting run.sh")
    };
    let mut process = ProviderProcess(child);

    // Wait until it listens (stub generation and imports take a moment).
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("the Python provider exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the Python provider did not listen on {port} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let report = conformance::run(
        &format!("http://127.0.0.1:{port}"),
        conformance::Options::default(),
    )
    .await
    .unwrap();
    eprintln!("{}", report.to_text());
    assert!(report.ok(), "{}", report.to_text());
    // The language-neutral parts really ran, not just skipped.
    for name in [
        "catalog.full_snapshot",
        "catalog.delta_from_end",
        "prices.bulk",
        "orders.create_confirm_idempotent",
        "wire.bad_decimal_rejected",
        "bom.sync_idempotent",
    ] {
        let check = report.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(
            check.outcome,
            conformance::Outcome::Passed,
            "{}",
            report.to_text()
        );
    }
}
