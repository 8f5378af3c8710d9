//! The outbox engine's view of the hub's tenants.
//!
//! The engine must exist before the hub state (the order intake needs its waker), while
//! the providers it should use — the *metered* ones — are made when the state is built.
//! [`HubProviders`] breaks the cycle: it is handed to the engine empty and bound to the
//! state once that exists. Until then a saga finds its tenant `unavailable` and is
//! retried, never dead-lettered.

use async_trait::async_trait;
use erpbridge_model::TenantId;
use erpbridge_outbox::ProviderRegistry;
use erpbridge_provider::{Provider, ProviderError};
use std::sync::{Arc, OnceLock};

use crate::state::AppState;

#[derive(Clone, Default)]
pub struct HubProviders {
    state: Arc<OnceLock<AppState>>,
}

impl HubProviders {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the registry to the hub's state; later calls are ignored.
    pub fn bind(&self, state: &AppState) {
        let _ = self.state.set(state.clone());
    }
}

#[async_trait]
impl ProviderRegistry for HubProviders {
    async fn provider(&self, tenant: &TenantId) -> Result<Arc<dyn Provider>, ProviderError> {
        let state = self
            .state
            .get()
            .ok_or_else(|| ProviderError::unavailable("the hub is still starting"))?;
        state
            .tenant(tenant.as_str())
            .map(|t| Arc::clone(&t.provider))
            .ok_or_else(|| ProviderError::fatal(format!("tenant `{tenant}` is not configured")))
    }
}
