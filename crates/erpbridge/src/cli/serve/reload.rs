//! Configuration reload for a running `erpbridge serve` (SIGHUP, or
//! `POST /api/erp/config/reload`).
//!
//! What applies live is what is cheap and safe to swap while requests run:
//!
//! * `server.operator_key` and every tenant's `api_keys` (replaced as a whole, checked
//!   first: no key may open two tenants);
//! * a connector tenant's `provider.tokens` (a live session whose token is gone is
//!   closed at once, and its reconnect refused) and `provider.config_version`
//!   (connectors learn it with their next heartbeat and re-read their own file).
//!
//! Everything else (listen addresses, store, search, outbox, tenants added or removed,
//! a tenant's provider, runtime, cache, sync or rate limit) would need the component
//! that holds it rebuilt: the reload names those key paths under `restart_required`
//! and the hub keeps running them with their old values. The running configuration is
//! the old one with only the live parts patched in, so a change that needs a restart
//! keeps being reported until the restart happens.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use erpbridge_config::{Config, ProviderConfig, TenantConfig};
use erpbridge_hub::{AppState, ConfigIssue, ConfigReloader, KeyHash, ReloadError, ReloadReport};
use erpbridge_model::TenantId;
use erpbridge_tunnel::ConnectorRegistry;
use serde_json::Value;

pub struct Reloader {
    file: PathBuf,
    /// The configuration the hub runs now; the lock also serialises reloads.
    running: Mutex<Config>,
    connectors: ConnectorRegistry,
}

impl Reloader {
    pub fn new(file: PathBuf, running: Config, connectors: ConnectorRegistry) -> Self {
        Self {
            file,
            running: Mutex::new(running),
            connectors,
        }
    }
}

impl ConfigReloader for Reloader {
    fn reload(&self, state: &AppState) -> Result<ReloadReport, ReloadError> {
        // A reload that panicked half-way left keys applied as a whole or not at all
        // (replace_keys is atomic), so the running copy is still usable.
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let file = self.file.display().to_string();
        let next = Config::load(&self.file).map_err(|errors| ReloadError::Invalid {
            file: file.clone(),
            errors: errors
                .into_iter()
                .map(|e| ConfigIssue {
                    path: e.path.to_string(),
                    line: e.position.map(|p| p.line),
                    column: e.position.map(|p| p.column),
                    message: e.kind.to_string(),
                })
                .collect(),
        })?;
        let plan = Plan::new(&running, &next);

        // Keys first, as a whole: if they cannot apply, nothing does.
        let mut tenant_keys = BTreeMap::new();
        for (_, tenant) in &plan.common {
            let keys = tenant
                .api_keys
                .iter()
                .map(|k| KeyHash::from_digest(k.digest()))
                .collect();
            tenant_keys.insert(TenantId::new(tenant.id.as_str()), keys);
        }
        let operator = match &next.server.operator_key {
            Some(key) => vec![
                KeyHash::parse(key.expose())
                    .map_err(|e| ReloadError::Rejected(format!("server.operator_key: {e}")))?,
            ],
            None => Vec::new(),
        };
        state
            .replace_keys(&tenant_keys, operator)
            .map_err(|e| ReloadError::Rejected(e.to_string()))?;
        running.server.operator_key = next.server.operator_key.clone();

        let mut disconnected = Vec::new();
        for (_, tenant) in &plan.common {
            let Some(current) = running.tenants.iter_mut().find(|t| t.id == tenant.id) else {
                continue;
            };
            current.api_keys = tenant.api_keys.clone();
            if let (ProviderConfig::Connector(now), ProviderConfig::Connector(new)) =
                (&mut current.provider, &tenant.provider)
            {
                let id = tenant.id.as_str();
                let digests = new.tokens.iter().map(|k| k.digest()).collect();
                if self.connectors.set_tokens(id, digests) == Some(true) {
                    disconnected.push(id.to_owned());
                }
                if now.config_version != new.config_version {
                    self.connectors
                        .set_config_version(id, new.config_version.clone());
                }
                now.tokens = new.tokens.clone();
                now.config_version = new.config_version.clone();
            }
        }

        let message = match (plan.applied.len(), plan.restart.is_empty()) {
            (0, true) => "no changes".to_owned(),
            (n, true) => format!("{n} change(s) applied"),
            (n, false) => format!(
                "{n} change(s) applied; restart required for: {}",
                plan.restart.join(", ")
            ),
        };
        Ok(ReloadReport {
            file,
            applied: plan.applied,
            restart_required: plan.restart,
            connectors_disconnected: disconnected,
            message,
        })
    }
}

/// The difference between the running and the new configuration, as key paths.
struct Plan<'a> {
    /// Tenants in both, with their index in the new file.
    common: Vec<(usize, &'a TenantConfig)>,
    applied: Vec<String>,
    restart: Vec<String>,
}

impl<'a> Plan<'a> {
    fn new(running: &Config, next: &'a Config) -> Self {
        let mut plan = Plan {
            common: Vec::new(),
            applied: Vec::new(),
            restart: Vec::new(),
        };
        let (mut old, mut new) = (json(running), json(next));
        if take(&mut old, &["server", "operator_key"])
            != take(&mut new, &["server", "operator_key"])
        {
            plan.applied.push("server.operator_key".to_owned());
        }
        for section in ["server", "store", "outbox", "search"] {
            diff(section, &old[section], &new[section], &mut plan.restart);
        }
        for (i, tenant) in running.tenants.iter().enumerate() {
            if next.tenant(tenant.id.as_str()).is_none() {
                plan.restart
                    .push(format!("tenants[{i}] (tenant `{}` removed)", tenant.id));
            }
        }
        for (i, tenant) in next.tenants.iter().enumerate() {
            let Some(before) = running.tenant(tenant.id.as_str()) else {
                plan.restart
                    .push(format!("tenants[{i}] (tenant `{}` added)", tenant.id));
                continue;
            };
            plan.common.push((i, tenant));
            let at = format!("tenants[{i}]");
            let (mut old, mut new) = (json(before), json(tenant));
            if take(&mut old, &["api_keys"]) != take(&mut new, &["api_keys"]) {
                plan.applied.push(format!("{at}.api_keys"));
            }
            let both_connectors = matches!(
                (&before.provider, &tenant.provider),
                (ProviderConfig::Connector(_), ProviderConfig::Connector(_))
            );
            if both_connectors {
                for key in ["tokens", "config_version"] {
                    if take(&mut old, &["provider", key]) != take(&mut new, &["provider", key]) {
                        plan.applied.push(format!("{at}.provider.{key}"));
                    }
                }
            }
            diff(&at, &old, &new, &mut plan.restart);
        }
        plan
    }
}

fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Removes and returns the value at `path` (`Null` when absent).
fn take(value: &mut Value, path: &[&str]) -> Value {
    let Some((last, parents)) = path.split_last() else {
        return Value::Null;
    };
    let mut at = value;
    for key in parents {
        match at.get_mut(*key) {
            Some(v) => at = v,
            None => return Value::Null,
        }
    }
    at.as_object_mut()
        .and_then(|o| o.remove(*last))
        .unwrap_or(Value::Null)
}

/// The deepest key paths where `a` and `b` differ (arrays count as one value).
fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let (va, vb) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                diff(&format!("{at}.{key}"), va, vb, out);
            }
        }
        _ if a != b => out.push(at.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
operator_key = "op"
connector_listen = "127.0.0.1:7443"

[[tenants]]
id = "acme"
api_keys = ["acme-key"]
[tenants.provider]
type = "connector"
tokens = ["t1"]
config_version = "1"

[[tenants]]
id = "beta"
api_keys = ["beta-key"]
[tenants.provider]
type = "sim"
articles = 100
"#;

    fn config(text: &str) -> Config {
        Config::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn live_changes_are_applied_and_the_rest_needs_a_restart() {
        let old = config(BASE);
        let new = config(
            &BASE
                .replace("\"op\"", "\"op2\"")
                .replace("[\"acme-key\"]", "[\"acme-key\", \"acme-key-2\"]")
                .replace("[\"t1\"]", "[\"t2\"]")
                .replace("config_version = \"1\"", "config_version = \"2\"")
                .replace("articles = 100", "articles = 200")
                .replace("127.0.0.1:8080", "127.0.0.1:9090"),
        );
        let plan = Plan::new(&old, &new);
        assert_eq!(
            plan.applied,
            [
                "server.operator_key",
                "tenants[0].api_keys",
                "tenants[0].provider.tokens",
                "tenants[0].provider.config_version"
            ]
        );
        assert_eq!(
            plan.restart,
            ["server.listen", "tenants[1].provider.articles"]
        );
        assert_eq!(plan.common.len(), 2);
    }

    #[test]
    fn tenants_added_removed_or_changing_provider_type_need_a_restart() {
        let old = config(BASE);
        let text = BASE.replace("id = \"beta\"", "id = \"gamma\"").replace(
            "type = \"connector\"\ntokens = [\"t1\"]\nconfig_version = \"1\"",
            "type = \"sim\"",
        );
        let new = config(&text);
        let plan = Plan::new(&old, &new);
        assert!(plan.applied.is_empty(), "{:?}", plan.applied);
        assert!(
            plan.restart
                .contains(&"tenants[1] (tenant `beta` removed)".to_owned())
        );
        assert!(
            plan.restart
                .contains(&"tenants[1] (tenant `gamma` added)".to_owned())
        );
        assert!(
            plan.restart.iter().any(|p| p == "tenants[0].provider.type"),
            "{:?}",
            plan.restart
        );
        assert!(Plan::new(&old, &old).restart.is_empty());
    }
}
