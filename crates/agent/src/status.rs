//! The loopback status endpoint: `GET /status` answers the agent's [`Status`] as JSON.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::agent::{SharedStatus, Status};
use crate::error::{Error, Result};

async fn status(State(s): State<SharedStatus>) -> Json<Status> {
    let snapshot = match s.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    Json(snapshot)
}

/// Binds `addr` and serves in the background; a bind failure is an error at start,
/// not a silent absence.
pub async fn serve(addr: SocketAddr, shared: SharedStatus) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Service(format!("status endpoint {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Service(format!("status endpoint {addr}: {e}")))?;
    let app = Router::new()
        .route("/status", get(status))
        .with_state(shared);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "status endpoint stopped");
        }
    });
    Ok(local)
}
