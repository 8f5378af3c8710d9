//! TEST FIXTURE (not a product binary): a stand-in for the managed service.
//!
//! Its version is not compiled in: it is read from a trailer appended to its own
//! executable file (`\nFIXTURE-TRAILER version=2.0.0 mode=ok\n` at the very end), so
//! one build yields any number of distinct, really different binaries (different
//! sha256) for the agent to swap. `mode=fail-start` exits with status 3 at once,
//! `mode=bad-health` serves `/healthz` with 500.
//!
//! Environment: `FIXTURE_ADDR` (listen address), `FIXTURE_LOG` (file where work
//! completions are appended as `done <id> <version>`), `FIXTURE_DRAIN_FILE` (the drain
//! switch survives restarts in this file, as the hub's does in its store),
//! `FIXTURE_DRAIN_REFUSE=N` (the first N drain requests get 503, as the hub's do while
//! its SQLite store is locked by a catalog sync).
//!
//! HTTP: `GET /healthz`, `GET /version` (`{"name","version"}`), `GET /api/erp/status`
//! (`{"in_progress_count", "pending_count", "draining"}`, the hub's shape),
//! `POST`/`DELETE /api/erp/drain` (the hub's switch), `POST /work?id=ID&ms=N` (starts a
//! job that is in flight for N ms; 503 while draining). SIGTERM stops it gracefully:
//! jobs in flight are finished first.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

const TRAILER: &str = "FIXTURE-TRAILER ";

struct Fixture {
    version: String,
    bad_health: bool,
    draining: AtomicBool,
    in_flight: AtomicU64,
    log: Option<std::path::PathBuf>,
    drain_refusals: AtomicU64,
}

fn read_trailer() -> (String, String) {
    let exe = std::env::current_exe()
        .and_then(std::fs::read)
        .unwrap_or_default();
    let tail = &exe[exe.len().saturating_sub(256)..];
    let text = String::from_utf8_lossy(tail);
    let mut version = "0.0.0".to_owned();
    let mut mode = "ok".to_owned();
    if let Some(pos) = text.rfind(TRAILER) {
        for kv in text[pos + TRAILER.len()..].split_whitespace() {
            match kv.split_once('=') {
                Some(("version", v)) => version = v.to_owned(),
                Some(("mode", m)) => mode = m.to_owned(),
                _ => {}
            }
        }
    }
    (version, mode)
}

fn drain_file() -> Option<std::path::PathBuf> {
    std::env::var_os("FIXTURE_DRAIN_FILE").map(Into::into)
}

fn persist_drain(on: bool) {
    if let Some(f) = drain_file() {
        let _ = if on {
            std::fs::write(f, b"drained")
        } else {
            std::fs::remove_file(f).or(Ok(()))
        };
    }
}

#[derive(Deserialize)]
struct Work {
    id: String,
    ms: u64,
}

#[tokio::main]
async fn main() {
    let (version, mode) = read_trailer();
    if mode == "fail-start" {
        eprintln!("fixture {version}: failing at start (mode=fail-start)");
        std::process::exit(3);
    }
    let addr = std::env::var("FIXTURE_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let state = Arc::new(Fixture {
        version,
        bad_health: mode == "bad-health",
        // Like the hub, which keeps the switch in its store: a restart stays drained
        // until someone undrains.
        draining: AtomicBool::new(drain_file().is_some_and(|f| f.exists())),
        in_flight: AtomicU64::new(0),
        log: std::env::var_os("FIXTURE_LOG").map(Into::into),
        drain_refusals: AtomicU64::new(
            std::env::var("FIXTURE_DRAIN_REFUSE")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        ),
    });
    let app = Router::new()
        .route(
            "/healthz",
            get(|State(s): State<Arc<Fixture>>| async move {
                if s.bad_health {
                    (StatusCode::INTERNAL_SERVER_ERROR, "unhealthy")
                } else {
                    (StatusCode::OK, "ok")
                }
            }),
        )
        .route(
            "/version",
            get(|State(s): State<Arc<Fixture>>| async move {
                Json(serde_json::json!({"name": "fixture", "version": s.version}))
            }),
        )
        .route(
            "/api/erp/status",
            get(|State(s): State<Arc<Fixture>>| async move {
                Json(serde_json::json!({
                    "in_progress_count": s.in_flight.load(Ordering::SeqCst),
                    "pending_count": 0,
                    "draining": s.draining.load(Ordering::SeqCst),
                }))
            }),
        )
        .route(
            "/api/erp/drain",
            post(|State(s): State<Arc<Fixture>>| async move {
                let refuse = s
                    .drain_refusals
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refuse {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(serde_json::json!({"title": "store busy"})),
                    );
                }
                s.draining.store(true, Ordering::SeqCst);
                persist_drain(true);
                (StatusCode::OK, Json(serde_json::json!({"draining": true})))
            })
            .delete(|State(s): State<Arc<Fixture>>| async move {
                s.draining.store(false, Ordering::SeqCst);
                persist_drain(false);
                Json(serde_json::json!({"draining": false}))
            }),
        )
        .route(
            "/work",
            post(
                |State(s): State<Arc<Fixture>>, Query(w): Query<Work>| async move {
                    if s.draining.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    s.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(w.ms)).await;
                        if let Some(path) = &s.log
                            && let Ok(mut f) = std::fs::OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(path)
                        {
                            let _ = writeln!(f, "done {} {}", w.id, s.version);
                        }
                        s.in_flight.fetch_sub(1, Ordering::SeqCst);
                    });
                    StatusCode::ACCEPTED
                },
            ),
        )
        .with_state(state.clone());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fixture: bind {addr}: {e}");
            std::process::exit(2);
        }
    };
    let shutdown = async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        term.recv().await;
        // Graceful: finish the work in flight before going away.
        while state.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
}
