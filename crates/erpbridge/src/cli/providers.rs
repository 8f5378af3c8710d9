//! From a tenant's `[provider]` section to a running [`Provider`]: the one place that
//! knows every provider kind, so `serve`, `sync` and the benches can never host a tenant
//! differently.

use std::sync::Arc;

use anyhow::Context;
use erpbridge_config::{ProviderConfig, RemoteSettings, TenantConfig, TrytonSettings};
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{
    GuardedProvider, HostedProvider, RuntimeMonitor, RuntimeOptions,
};
use erpbridge_tryton::{TrytonConfig, TrytonProvider};

/// A tenant's provider, and the runtime monitor when the provider is hosted by the
/// runtime (serial executors, pool): the hub reports its sessions and circuit.
pub struct TenantProvider {
    pub provider: Arc<dyn Provider>,
    pub monitor: Option<RuntimeMonitor>,
}

/// Starts the tenant's provider. Nothing here waits for the ERP: a provider that is down
/// at start-up shows as not ready, and the hub still serves what it has locally.
pub fn provider_for(tenant: &TenantConfig) -> anyhow::Result<TenantProvider> {
    let context = || format!("tenant `{}`", tenant.id);
    match &tenant.provider {
        ProviderConfig::Sim(settings) => {
            let sim = erpbridge_sim::Sim::new(super::sim_config(settings)).with_context(context)?;
            let hosted = HostedProvider::start(sim.factory(), runtime_options(tenant))
                .with_context(context)?;
            let monitor = hosted.monitor();
            Ok(TenantProvider {
                provider: Arc::new(hosted),
                monitor: Some(monitor),
            })
        }
        ProviderConfig::Tryton(settings) => {
            // Tryton's HTTP API is safe to call concurrently: no session threads (it is
            // not a SessionFactory, so HostedProvider cannot host it); the provider
            // bounds its own concurrency and serialises its logins. The runtime's
            // breaker and readiness still apply, through GuardedProvider.
            let provider = TrytonProvider::new(tryton_config(settings)).with_context(context)?;
            provider.spawn_keepalive();
            let guarded = GuardedProvider::start(Arc::new(provider), runtime_options(tenant))
                .with_context(context)?;
            Ok(TenantProvider {
                monitor: Some(guarded.monitor()),
                provider: Arc::new(guarded),
            })
        }
        ProviderConfig::Remote(settings) => {
            // An out-of-process provider over gRPC; it serialises its own backend, so
            // no executor here. The channel connects lazily: a provider that is down
            // at start-up is a failed (retryable) call later, not a failed start.
            let provider = erpbridge_remote::RemoteProvider::connect_lazy(remote_config(settings)?)
                .with_context(context)?;
            Ok(TenantProvider {
                provider: Arc::new(provider),
                monitor: None,
            })
        }
        // The connector dials in to `serve`'s tunnel endpoint; only the hub process can
        // host such a tenant (`super::connector::hub_provider_for`).
        ProviderConfig::Connector(_) => anyhow::bail!(
            "tenant `{}`: a connector tenant is served only by `erpbridge serve`, through its connector",
            tenant.id
        ),
    }
}

/// The Tryton provider's configuration from the tenant's section (every knob of the
/// provider is in the config file).
pub fn tryton_config(s: &TrytonSettings) -> TrytonConfig {
    TrytonConfig {
        company: s.company,
        warehouses: s.warehouses.clone(),
        default_price_list: s.default_price_list,
        language: s.language.clone(),
        request_timeout: s.request_timeout,
        max_concurrency: s.max_concurrency,
        connect_timeout: s.connect_timeout,
        tcp_keepalive: s.tcp_keepalive,
        keepalive: s.keepalive,
        delta_overlap: s.delta_overlap,
        salable_only: s.salable_only,
        quote_breaks: s.quote_breaks,
        login_retry_after: s.login_retry_after,
        ..TrytonConfig::new(&s.url, &s.database, &s.user, s.password.expose())
    }
}

/// The remote provider's client settings from the tenant's section.
pub fn remote_config(s: &RemoteSettings) -> anyhow::Result<erpbridge_remote::RemoteConfig> {
    let tls = match &s.tls {
        Some(tls) => Some(erpbridge_remote::ClientTls {
            ca_pem: tls
                .ca_file
                .as_ref()
                .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
                .transpose()?,
            domain: tls.domain.clone(),
        }),
        None => None,
    };
    Ok(erpbridge_remote::RemoteConfig {
        tls,
        deadline: s.deadline,
        connect_timeout: s.connect_timeout,
        ..erpbridge_remote::RemoteConfig::new(&s.address)
    })
}

/// The runtime's options from the tenant's `[runtime]` section. Every field is named, with
/// no `..RuntimeOptions::default()`: an option added to the runtime does not compile here
/// until someone decides where its value comes from.
pub fn runtime_options(tenant: &TenantConfig) -> RuntimeOptions {
    let r = &tenant.runtime;
    RuntimeOptions {
        queue_capacity: r.queue_capacity as usize,
        min_sessions: r.min_sessions,
        max_sessions: Some(r.max_sessions),
        idle_timeout: r.idle_timeout,
        keepalive_interval: r.keepalive,
        reconnect_interval: r.reconnect_interval,
        call_timeout: r.call_timeout,
        breaker_enabled: r.breaker.enabled,
        breaker_threshold: r.breaker.failure_threshold,
        breaker_cooldown: r.breaker.open_for,
        coalescing: r.coalescing.enabled,
        // Always set: left unset, the runtime would merge up to the provider's batch
        // limit, not the documented default of 100.
        coalescing_max_batch: Some(r.coalescing.max_batch),
        warm_up: r.warm_up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use erpbridge_config::Config;
    use std::time::Duration;

    /// Every Tryton knob of the config file reaches the provider (none is left at the
    /// provider's default by a forgotten line here): each is set off its default.
    #[test]
    fn every_tryton_setting_reaches_the_provider() {
        let text = r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]
[tenants.provider]
type = "tryton"
url = "http://tryton.internal:8000/"
database = "prod"
user = "bridge"
password = "pw-123456"
company = 3
warehouses = [7, 9]
default_price_list = 11
language = "de"
request_timeout = "90s"
max_concurrency = 2
connect_timeout = "3s"
tcp_keepalive = "0s"
keepalive = "4m"
delta_overlap = "15s"
salable_only = false
quote_breaks = false
login_retry_after = "10m"
"#;
        let config = Config::from_toml(text, "t.toml").expect("valid");
        let ProviderConfig::Tryton(settings) = &config.tenants[0].provider else {
            panic!("not tryton")
        };
        let c = tryton_config(settings);
        assert_eq!(c.url, "http://tryton.internal:8000/");
        assert_eq!((c.database.as_str(), c.user.as_str()), ("prod", "bridge"));
        assert_eq!(c.password, "pw-123456");
        assert_eq!(c.company, Some(3));
        assert_eq!(c.warehouses, vec![7, 9]);
        assert_eq!(c.default_price_list, Some(11));
        assert_eq!(c.language, "de");
        assert_eq!(c.request_timeout, Duration::from_secs(90));
        assert_eq!(c.max_concurrency, 2);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.tcp_keepalive, Duration::ZERO);
        assert_eq!(c.keepalive, Duration::from_secs(240));
        assert_eq!(c.delta_overlap, Duration::from_secs(15));
        assert!(!c.salable_only);
        assert!(!c.quote_breaks);
        assert_eq!(c.login_retry_after, Duration::from_secs(600));
        c.validate()
            .expect("the provider accepts what the config accepted");
    }

    /// Every `[tenants.runtime]` setting reaches the runtime: each is set off both the
    /// config's and the runtime's default, so a value left at either one shows.
    #[test]
    fn every_runtime_setting_reaches_the_runtime_options() {
        let text = r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]
provider = { type = "sim" }
[tenants.runtime]
queue_capacity = 77
min_sessions = 2
max_sessions = 3
warm_up = false
idle_timeout = "45m"
keepalive = "7m"
reconnect_interval = "12s"
call_timeout = "20s"
[tenants.runtime.breaker]
enabled = false
failure_threshold = 9
open_for = "75s"
[tenants.runtime.coalescing]
enabled = false
max_batch = 40
"#;
        let config = Config::from_toml(text, "t.toml").expect("valid");
        // Destructured without `..`: a new runtime option fails to compile here until
        // the test checks it.
        let RuntimeOptions {
            queue_capacity,
            min_sessions,
            max_sessions,
            idle_timeout,
            keepalive_interval,
            reconnect_interval,
            call_timeout,
            breaker_enabled,
            breaker_threshold,
            breaker_cooldown,
            coalescing,
            coalescing_max_batch,
            warm_up,
        } = runtime_options(&config.tenants[0]);
        assert_eq!(queue_capacity, 77);
        assert_eq!(min_sessions, 2);
        assert_eq!(max_sessions, Some(3));
        assert!(!warm_up);
        assert_eq!(idle_timeout, Duration::from_secs(45 * 60));
        assert_eq!(keepalive_interval, Duration::from_secs(7 * 60));
        assert_eq!(reconnect_interval, Duration::from_secs(12));
        assert_eq!(call_timeout, Duration::from_secs(20));
        assert!(!breaker_enabled);
        assert_eq!(breaker_threshold, 9);
        assert_eq!(breaker_cooldown, Duration::from_secs(75));
        assert!(!coalescing);
        assert_eq!(coalescing_max_batch, Some(40));
        runtime_options(&config.tenants[0])
            .validate()
            .expect("the runtime accepts what the config accepted");
    }

    /// An empty `[runtime]` section gives the documented defaults, notably a coalesced
    /// batch of at most 100 rather than the provider's own (larger) limit.
    #[test]
    fn runtime_defaults_are_the_documented_ones() {
        let text = r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]
provider = { type = "sim" }
"#;
        let config = Config::from_toml(text, "t.toml").expect("valid");
        let o = runtime_options(&config.tenants[0]);
        assert_eq!(o.coalescing_max_batch, Some(100));
        assert!(o.breaker_enabled);
        assert_eq!(o.breaker_threshold, 5);
        assert_eq!(o.reconnect_interval, Duration::from_secs(5));
        assert_eq!(o.queue_capacity, 1024);
        o.validate().expect("valid");
    }
}
