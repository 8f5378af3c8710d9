//! Figures, not assertions: run with
//! `cargo test -p erpbridge-agent --test it -- --ignored --nocapture bench_agent_figures`.
//! Poll interval 1 s. Prints publish→healthy, downtime (audit and an outside client
//! polling /healthz every 5 ms) and publish→rollback-done.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{Env, Opts, healthy, service_version};

const LONG: Duration = Duration::from_secs(60);

/// Longest stretch during which /healthz did not answer 200, seen from outside.
fn watch_health(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        let mut down_since: Option<Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            let up = healthy(port);
            match (up, down_since) {
                (false, None) => down_since = Some(Instant::now()),
                (true, Some(t)) => {
                    worst = worst.max(t.elapsed());
                    down_since = None;
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        worst
    })
}

#[test]
#[ignore = "benchmark: prints figures"]
fn bench_agent_figures() {
    let mut env = Env::new(Opts {
        poll: "1s",
        ..Opts::default()
    });
    env.start_agent(None);
    env.wait_version("1.0.0", LONG);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_health(env.service_port, stop.clone());
    let t0 = Instant::now();
    env.publish("2.0.0", "ok");
    env.wait_for("v2", LONG, || {
        service_version(env.service_port).as_deref() == Some("2.0.0")
    });
    let publish_to_healthy = t0.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let client_downtime = watcher.join().unwrap();
    let commit = env.events("commit", true).pop().unwrap();

    let t1 = Instant::now();
    env.publish("3.0.0", "fail-start");
    env.wait_for("rollback", LONG, || {
        !env.events("rollback", true).is_empty()
    });
    let publish_to_rollback = t1.elapsed();
    let rollback = env.events("rollback", true).pop().unwrap();
    let health_fail = env.events("health", false).pop();

    println!("agent figures (fixture service, poll interval 1 s, jitter 0):");
    println!(
        "  publish -> new version healthy:        {:>6} ms",
        publish_to_healthy.as_millis()
    );
    println!(
        "  downtime, audit (stop -> healthy):     {:>6} ms",
        commit.duration_ms.unwrap_or(0)
    );
    println!(
        "  downtime, client polling /healthz:     {:>6} ms",
        client_downtime.as_millis()
    );
    println!(
        "  publish -> rollback done (v3 exits):   {:>6} ms",
        publish_to_rollback.as_millis()
    );
    println!(
        "  rollback step (restore+start+healthy): {:>6} ms (health check of v3 failed after {} ms)",
        rollback.duration_ms.unwrap_or(0),
        health_fail.and_then(|h| h.duration_ms).unwrap_or(0)
    );
}
