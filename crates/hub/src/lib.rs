//! The hub's HTTP API (`erpbridge serve`).
//!
//! ```text
//!             ┌──────────── axum router ────────────┐
//!  request ─► │ request id · trace span · body limit │
//!             │ problemize (every error is RFC 9457) │
//!             ├──────────────────────────────────────┤
//!             │ /v1/tenants/{t}/…  tenant auth ─► rate limit ─► handler
//!             │ /api/erp/…         operator auth ─► handler
//!             │ /healthz /readyz /version /metrics /openapi.json (open)
//!             └──────────────────────────────────────┘
//!                     │ live                │ catalog / orders
//!                     ▼                     ▼
//!          per-tenant TTL cache      store · index · outbox
//!          (single-flight, bulk)     (services, optional)
//!                     │
//!                     ▼
//!          MeteredProvider ─► the tenant's provider (runtime: actor, breaker, coalescing)
//! ```
//!
//! Design rules:
//! * **Tenancy is decided once**, in [`routes::tenant_auth`]: it resolves the tenant from
//!   the path, checks the Bearer key against *that tenant's* key hashes, and puts the
//!   [`TenantContext`] into the request. Handlers only ever see that context, so they
//!   cannot reach another tenant's provider, cache or rows.
//! * **Errors are data**: every failure is a [`Problem`]; provider error kinds map to
//!   status codes in one place (`From<ProviderError> for Problem`).
//! * **Nothing unbounded**: bodies are limited, bulk lookups are capped, streams pull the
//!   next provider page only when the client has taken the previous one.

// `Problem` is the HTTP error answer itself (RFC 9457 fields), built once per failed
// request on a cold path; boxing it everywhere would add noise for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod cache;
pub mod connectors;
pub mod live;
pub mod metered;
pub mod metrics;
pub mod problem;
pub mod registry;
pub mod reload;
pub mod routes;
pub mod server;
pub mod services;
pub mod state;

pub use auth::KeyHash;
pub use connectors::{ConnectorDirectory, ConnectorView};
pub use metrics::Metrics;
pub use problem::Problem;
pub use registry::HubProviders;
pub use reload::{ConfigIssue, ConfigReloader, ReloadError, ReloadReport};
pub use routes::router;
pub use server::serve;
pub use services::Services;
pub use state::{AppState, CacheTtls, HubOptions, RateLimit, TenantContext, TenantSpec};
