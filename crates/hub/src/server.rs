//! Serving the router on a listener with graceful shutdown.

use std::future::Future;
use tokio::net::TcpListener;

use crate::routes::router;
use crate::state::AppState;

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish, and returns. `/readyz` turns 503 as soon as shutdown
/// begins so a load balancer stops routing here first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let signal_state = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            signal_state.begin_shutdown();
            tracing::info!("shutdown requested: finishing in-flight requests");
        })
        .await
}
