//! How the engine finds a tenant's provider. The hub implements [`ProviderRegistry`]
//! over its tenant table (hosted runtimes, remote connectors); tests and the benchmark
//! use [`StaticProviders`].

use async_trait::async_trait;
use erpbridge_model::TenantId;
use erpbridge_provider::{Provider, ProviderError};
use std::collections::HashMap;
use std::sync::Arc;

#[async_trait]
pub trait ProviderRegistry: Send + Sync + 'static {
    /// The provider of `tenant`. An unknown tenant should be `fatal` (the saga dies with
    /// the message); a tenant whose backend is not up yet `unavailable` (retried).
    async fn provider(&self, tenant: &TenantId) -> Result<Arc<dyn Provider>, ProviderError>;
}

/// A fixed map from tenant to provider.
#[derive(Clone, Default)]
pub struct StaticProviders {
    providers: HashMap<TenantId, Arc<dyn Provider>>,
}

impl StaticProviders {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, tenant: impl Into<TenantId>, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(tenant.into(), provider);
        self
    }
}

#[async_trait]
impl ProviderRegistry for StaticProviders {
    async fn provider(&self, tenant: &TenantId) -> Result<Arc<dyn Provider>, ProviderError> {
        self.providers
            .get(tenant)
            .cloned()
            .ok_or_else(|| ProviderError::fatal(format!("tenant `{tenant}` is not configured")))
    }
}
