//! `POST /api/erp/config/reload`: operator-only, 409 without a configuration file, the
//! reloader's answers mapped to HTTP, and keys replaced live. The reloader here is a
//! scripted fake (the real one, reading a file, is tested with the `erpbridge` binary);
//! the key replacement it performs is the hub's real one.

use std::collections::BTreeMap;
use std::sync::Arc;

use erpbridge_hub::{AppState, ConfigIssue, ConfigReloader, KeyHash, ReloadError, ReloadReport};
use erpbridge_model::TenantId;
use parking_lot::Mutex;

use crate::support::{ACME_KEY, GLOBEX_KEY, Hub, OPERATOR_KEY, Options, problem};

/// One scripted reload: acme's new keys to apply through the hub (if any), then the
/// answer.
type Step = (Option<Vec<&'static str>>, Result<ReloadReport, ReloadError>);

/// Answers each reload with the next scripted step.
struct FakeReloader {
    script: Mutex<Vec<Step>>,
}

impl ConfigReloader for FakeReloader {
    fn reload(&self, state: &AppState) -> Result<ReloadReport, ReloadError> {
        let (keys, outcome) = self.script.lock().remove(0);
        if let Some(keys) = keys {
            let mut tenants = BTreeMap::new();
            tenants.insert(
                TenantId::new("acme"),
                keys.into_iter().map(KeyHash::of).collect(),
            );
            state
                .replace_keys(&tenants, vec![KeyHash::of(OPERATOR_KEY)])
                .map_err(|e| ReloadError::Rejected(e.to_string()))?;
        }
        outcome
    }
}

async fn reload(hub: &Hub, key: &str) -> reqwest::Response {
    hub.client
        .post(hub.url("/api/erp/config/reload"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn acme_status(hub: &Hub, key: &str) -> u16 {
    hub.client
        .get(hub.url("/v1/tenants/acme/sync"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn reload_is_operator_only_and_maps_the_reloaders_answers() {
    let hub = Hub::start(Options::default()).await;
    // Without a reloader (no configuration file) there is nothing to reload.
    let body = problem(reload(&hub, OPERATOR_KEY).await, 409).await;
    assert_eq!(body["type"], "/problems/not-reloadable");

    let invalid = ReloadError::Invalid {
        file: "hub.toml".into(),
        errors: vec![ConfigIssue {
            path: "tenants[0].api_keys[0]".into(),
            line: Some(7),
            column: Some(13),
            message: "must not be empty".into(),
        }],
    };
    let applied = ReloadReport {
        file: "hub.toml".into(),
        applied: vec!["tenants[0].api_keys".into()],
        restart_required: vec!["server.listen".into()],
        message: "restart required for: server.listen".into(),
        ..ReloadReport::default()
    };
    hub.state.set_reloader(Arc::new(FakeReloader {
        script: Mutex::new(vec![
            (None, Err(invalid)),
            // acme's new key is globex's: refused as a whole.
            (Some(vec!["acme-new-key", GLOBEX_KEY]), Ok(applied.clone())),
            (Some(vec!["acme-new-key"]), Ok(applied)),
        ]),
    }));

    // Tenant keys cannot reload.
    problem(reload(&hub, ACME_KEY).await, 403).await;
    problem(reload(&hub, "nobody").await, 401).await;

    let body = problem(reload(&hub, OPERATOR_KEY).await, 422).await;
    assert_eq!(body["type"], "/problems/invalid-config");
    assert_eq!(body["errors"][0]["path"], "tenants[0].api_keys[0]");
    assert_eq!(body["errors"][0]["line"], 7);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("tenants[0].api_keys[0] (line 7)"),
        "{body}"
    );
    assert_eq!(acme_status(&hub, ACME_KEY).await, 200);

    let body = problem(reload(&hub, OPERATOR_KEY).await, 422).await;
    assert_eq!(body["type"], "/problems/config-not-applicable");
    assert!(
        body["detail"].as_str().unwrap().contains("unique"),
        "{body}"
    );
    // Nothing changed: the old key still works, the new one does not.
    assert_eq!(acme_status(&hub, ACME_KEY).await, 200);
    assert_eq!(acme_status(&hub, "acme-new-key").await, 401);

    let r = reload(&hub, OPERATOR_KEY).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["restart_required"][0], "server.listen");
    assert_eq!(body["applied"][0], "tenants[0].api_keys");
    // The replaced key applies to the very next request.
    assert_eq!(acme_status(&hub, "acme-new-key").await, 200);
    assert_eq!(acme_status(&hub, ACME_KEY).await, 401);

    let metrics = hub
        .client
        .get(hub.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "erp_config_reloads_total{status=\"invalid\"} 1",
        "erp_config_reloads_total{status=\"rejected\"} 1",
        "erp_config_reloads_total{status=\"applied\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    hub.stop().await;
}
