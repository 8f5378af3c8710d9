//! The behaviours the agent must show with real processes.

use std::time::Duration;

use erpbridge_agent::keys;

use crate::harness::{Env, Opts, agent_status, healthy, http, service_version};

const LONG: Duration = Duration::from_secs(40);

#[test]
fn upgrade_waits_for_drain_and_loses_no_work() {
    let mut env = Env::new(Opts::default());
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);

    // A saga in flight for 2.5 s when the release appears.
    let (code, _) = http("POST", env.service_port, "/work?id=saga-1&ms=2500").unwrap();
    assert_eq!(code, 202);
    env.publish("2.0.0", "ok");

    // The drain switch is thrown while the saga runs: new work is refused, not lost.
    env.wait_for("drain requested", LONG, || {
        agent_status(env.status_port)
            .and_then(|s| s["phase"].as_str().map(|p| p == "drain"))
            .unwrap_or(false)
    });
    env.wait_for("service refuses new work while draining", LONG, || {
        matches!(
            http("POST", env.service_port, "/work?id=late&ms=1"),
            Some((503, _))
        )
    });
    assert_eq!(service_version(env.service_port).as_deref(), Some("1.0.0"));

    env.wait_version("2.0.0", LONG);
    env.wait_commit("2.0.0", LONG);
    assert!(healthy(env.service_port));

    // v2 came up drained (the switch persists) and the agent undrained it.
    assert!(matches!(
        http("POST", env.service_port, "/work?id=after&ms=1"),
        Some((202, _))
    ));

    // The saga completed, on v1, before the stop.
    let log = std::fs::read_to_string(env.path("work.log")).unwrap();
    assert!(log.contains("done saga-1 1.0.0"), "work log: {log}");
    assert!(
        !log.contains("late"),
        "refused work must not have run: {log}"
    );

    let audit = env.audit();
    let pos = |ev: &str| {
        audit
            .iter()
            .position(|r| r.event == ev && r.ok)
            .unwrap_or_else(|| panic!("no {ev}\n{}", env.logs()))
    };
    // Backup and staging happen before the drain: the drained (order-refusing)
    // window holds only the wait for in-flight work.
    assert!(pos("verify") < pos("backup"));
    assert!(pos("backup") < pos("drain"));
    assert!(pos("drain") < pos("stop"));
    assert!(pos("stop") < pos("replace"));
    assert!(pos("replace") < pos("start"));
    assert!(pos("start") < pos("health"));
    assert!(pos("health") < pos("commit"));
    let commit = &audit[pos("commit")];
    assert_eq!(commit.from.as_deref(), Some("1.0.0"));
    assert_eq!(commit.to.as_deref(), Some("2.0.0"));
    assert!(commit.duration_ms.is_some());

    // The swap put the published bytes in place, and one backup of v1 exists.
    let published = env.path("artifacts/2.0.0-ok/erpbridge");
    assert_eq!(
        env.installed_sha(),
        erpbridge_agent::fsutil::sha256_file(&published).unwrap().0
    );
    let backups: Vec<_> = std::fs::read_dir(env.path("state/backups"))
        .unwrap()
        .collect();
    assert_eq!(backups.len(), 1);

    env.wait_for("status shows 2.0.0", LONG, || {
        agent_status(env.status_port).is_some_and(|s| {
            s["current_version"] == "2.0.0" && s["last_result"] == "installed 2.0.0"
        })
    });
}

#[test]
fn tampered_foreign_signed_and_unsigned_releases_are_rejected() {
    let mut env = Env::new(Opts::default());
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    let pid = env.wait_service_pid(LONG);
    let v1_sha = env.installed_sha();

    // 2.0.0: correctly signed, then the artifact is changed after publishing.
    let dir = env.publish("2.0.0", "ok");
    // Same size, one byte different: only the digest can tell.
    let mut bytes = std::fs::read(dir.join("erpbridge")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(dir.join("erpbridge"), bytes).unwrap();
    // 3.0.0: signed by a key the agent does not pin.
    let other = keys::generate().unwrap();
    env.publish_with("3.0.0", "ok", &other);
    // 4.0.0: the signature file is missing.
    let dir4 = env.publish("4.0.0", "ok");
    std::fs::remove_file(dir4.join("manifest.json.sig")).unwrap();

    env.wait_for("three rejections", LONG, || {
        env.events("verify", false).len() >= 3
    });
    let rejects = env.events("verify", false);
    let reason = |v: &str| {
        rejects
            .iter()
            .find(|r| r.to.as_deref() == Some(v))
            .and_then(|r| r.detail.clone())
            .unwrap_or_else(|| panic!("no rejection of {v}\n{}", env.logs()))
    };
    assert!(
        reason("2.0.0").contains("does not match the signed manifest"),
        "{}",
        reason("2.0.0")
    );
    assert!(
        reason("3.0.0").contains("bad signature"),
        "{}",
        reason("3.0.0")
    );
    assert!(reason("4.0.0").contains("unsigned"), "{}", reason("4.0.0"));

    // Nothing was touched: same process, same binary, no drain, no stop.
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(env.service_pid(), Some(pid));
    assert_eq!(service_version(env.service_port).as_deref(), Some("1.0.0"));
    assert_eq!(env.installed_sha(), v1_sha);
    assert!(
        env.audit()
            .iter()
            .all(|r| r.event != "drain" && r.event != "stop")
    );
    // Rejections are not repeated every poll (reject backoff).
    assert_eq!(env.events("verify", false).len(), 3);
}

#[test]
fn failed_health_rolls_back_is_not_retried_and_later_release_installs() {
    let mut env = Env::new(Opts {
        initial_version: "2.0.0",
        health_timeout: "5s",
        ..Opts::default()
    });
    env.start_agent(None);
    env.wait_version("2.0.0", LONG);
    let v2_sha = env.installed_sha();

    env.publish("3.0.0", "fail-start");
    env.wait_for("rollback", LONG, || {
        !env.events("rollback", true).is_empty()
    });
    let rb = &env.events("rollback", true)[0];
    assert_eq!(rb.from.as_deref(), Some("2.0.0"));
    assert_eq!(rb.to.as_deref(), Some("3.0.0"));
    // Within the health timeout plus the restart of v2.
    assert!(rb.duration_ms.unwrap() < 10_000, "{rb:?}");
    assert_eq!(service_version(env.service_port).as_deref(), Some("2.0.0"));
    assert!(healthy(env.service_port));
    assert_eq!(env.installed_sha(), v2_sha);
    // The ready copy of v2 was renamed back into place, not left beside it.
    assert!(!env.path("install/erpbridge.rollback").exists());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("state/state.json")).unwrap()).unwrap();
    assert_eq!(state["bad_versions"], serde_json::json!(["3.0.0"]));

    // Several polls later, 3.0.0 has not been tried again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        env.events("stop", true).len(),
        1,
        "only the one attempt at 3.0.0\n{}",
        env.logs()
    );

    env.publish("4.0.0", "ok");
    env.wait_version("4.0.0", LONG);
    env.wait_commit("4.0.0", LONG);
    assert_eq!(env.events("commit", true).len(), 1);
    assert!(
        !env.path("install/erpbridge.rollback").exists(),
        "a commit drops the ready rollback copy"
    );
}

fn killed_at(point: &str) {
    let mut env = Env::new(Opts::default());
    env.start_agent(Some(point));
    env.wait_version("1.0.0", LONG);
    env.publish("2.0.0", "ok");
    let status = env.wait_agent_exit(LONG);
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        status.signal(),
        Some(9),
        "the hook must SIGKILL the agent\n{}",
        env.logs()
    );
    // The agent died with the journal on disk; after the stop, the service is down.
    assert!(env.path("state/journal.json").exists());
    if point != "after-backup" {
        assert!(!healthy(env.service_port));
    }
    // The installed path holds a complete binary at every instant: old or new.
    let v1 = erpbridge_agent::fsutil::sha256_file(&env.path("artifacts/1.0.0-ok/erpbridge"))
        .unwrap()
        .0;
    let v2 = erpbridge_agent::fsutil::sha256_file(&env.path("artifacts/2.0.0-ok/erpbridge"))
        .unwrap()
        .0;
    let installed = env.installed_sha();
    match point {
        "after-backup" | "after-stop" => assert_eq!(installed, v1),
        _ => assert_eq!(installed, v2),
    }

    env.start_agent(None);
    env.wait_version("2.0.0", LONG);
    env.wait_commit("2.0.0", LONG);
    assert!(healthy(env.service_port));
    assert!(!env.path("state/journal.json").exists());
    assert!(matches!(
        http("POST", env.service_port, "/work?id=after&ms=1"),
        Some((202, _))
    ));
    // No half-written or staged file is left beside the binary.
    let names: Vec<String> = std::fs::read_dir(env.path("install"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["erpbridge".to_owned()]);
    let recover = env.events("recover", true);
    assert_eq!(recover.len(), 1, "{}", env.logs());
    assert_eq!(env.events("commit", true).len(), 1);
}

/// Killed with the backup made while v1 still runs: the orphaned v1 is stopped by the
/// restarted agent (pid file), the update is retried.
#[test]
fn agent_killed_after_backup_recovers_to_healthy_service() {
    killed_at("after-backup");
}

/// Killed between stop and replace: no service runs, v1 is installed.
#[test]
fn agent_killed_after_stop_recovers_to_healthy_service() {
    killed_at("after-stop");
}

#[test]
fn agent_killed_after_replace_completes_the_update() {
    killed_at("after-replace");
}

#[test]
fn garbage_feed_is_logged_and_retried_service_untouched() {
    let mut env = Env::new(Opts::default());
    std::fs::create_dir_all(env.path("feed/stable")).unwrap();
    std::fs::write(env.path("feed/stable/index.json"), b"\x00 this is not json").unwrap();
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    let pid = env.wait_service_pid(LONG);
    env.wait_for("feed error in status", LONG, || {
        agent_status(env.status_port).is_some_and(|s| {
            s["last_result"]
                .as_str()
                .is_some_and(|r| r.starts_with("feed error"))
        })
    });
    // Many polls, one audit line for the same failure.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(env.events("check", false).len(), 1, "{}", env.logs());
    assert_eq!(env.service_pid(), Some(pid));

    // The feed is repaired: the agent was retrying and now installs.
    std::fs::remove_file(env.path("feed/stable/index.json")).unwrap();
    env.publish("2.0.0", "ok");
    env.wait_version("2.0.0", LONG);
}

#[test]
fn unreachable_http_feed_is_retried_and_service_untouched() {
    let port = crate::harness::free_port();
    let mut env = Env::new(Opts {
        feed_location: Some(format!("http://127.0.0.1:{port}/feed")),
        ..Opts::default()
    });
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    let pid = env.wait_service_pid(LONG);
    env.wait_for("an unreachable-feed audit record", LONG, || {
        !env.events("check", false).is_empty()
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(env.service_pid(), Some(pid));
    assert_eq!(service_version(env.service_port).as_deref(), Some("1.0.0"));

    // Now a real static HTTP server serves the feed directory on that port.
    env.publish("2.0.0", "ok");
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(env.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 serves the feed over HTTP");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.wait_version("2.0.0", LONG)
    }));
    let _ = server.kill();
    let _ = server.wait();
    result.unwrap();
}

#[test]
fn drain_that_never_completes_is_abandoned_and_retried() {
    let mut env = Env::new(Opts {
        max_wait: "1s",
        ..Opts::default()
    });
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    let (code, _) = http("POST", env.service_port, "/work?id=long&ms=4000").unwrap();
    assert_eq!(code, 202);
    env.publish("2.0.0", "ok");
    env.wait_for("an abandoned drain", LONG, || {
        !env.events("drain", false).is_empty()
    });
    // Undrained: the service takes work again.
    env.wait_for("service accepts work again", LONG, || {
        matches!(
            http("POST", env.service_port, "/work?id=short&ms=1"),
            Some((202, _))
        )
    });
    assert_eq!(service_version(env.service_port).as_deref(), Some("1.0.0"));
    // Once the long job is done, a later attempt succeeds.
    env.wait_version("2.0.0", LONG);
    let log = std::fs::read_to_string(env.path("work.log")).unwrap();
    assert!(log.contains("done long 1.0.0"), "{log}");
}

/// The hub on SQLite may refuse the drain switch (503) or answer late while a catalog
/// sync holds the store: the agent asks again within `max_wait` instead of putting the
/// update off by `retry_after` (1 h here) at the first refusal.
#[test]
fn refused_drain_requests_are_retried_within_the_wait() {
    let mut env = Env::new(Opts {
        drain_refusals: 3,
        ..Opts::default()
    });
    std::fs::write(
        env.path("agent.toml"),
        std::fs::read_to_string(env.path("agent.toml"))
            .unwrap()
            .replace("retry_after = \"1s\"", "retry_after = \"1h\""),
    )
    .unwrap();
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    env.publish("2.0.0", "ok");
    env.wait_commit("2.0.0", LONG);
    assert!(env.events("drain", false).is_empty(), "{}", env.logs());
    assert_eq!(env.events("drain", true).len(), 1);
}

#[test]
fn sigterm_stops_agent_and_its_service_cleanly() {
    let mut env = Env::new(Opts::default());
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);
    let pid = env.agent.as_ref().unwrap().id();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = env.wait_agent_exit(LONG);
    assert!(status.success(), "{status:?}\n{}", env.logs());
    assert!(
        !healthy(env.service_port),
        "the service must not be orphaned"
    );
    assert_eq!(env.events("agent-stop", true).len(), 1);
}
