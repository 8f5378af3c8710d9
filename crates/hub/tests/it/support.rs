//! A hub on a loopback port over real simulated ERPs (in-process `sim` behind the
//! provider runtime), with two tenants and an operator key.

use erpbridge_hub::{AppState, CacheTtls, HubOptions, KeyHash, RateLimit, TenantSpec};
use erpbridge_model::TenantId;
use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_sim::{Sim, SimConfig, SimFactory};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ACME_KEY: &str = "acme-secret-key";
pub const GLOBEX_KEY: &str = "globex-secret-key";
pub const OPERATOR_KEY: &str = "operator-secret-key";

pub struct Options {
    pub articles: u64,
    /// The search index's `track_total_hits` (of a [`FullHub`]).
    pub track_total_hits: u64,
    pub rate_limit: Option<RateLimit>,
    pub hub: HubOptions,
    pub cache: CacheTtls,
    pub sim: SimConfig,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            articles: 500,
            track_total_hits: erpbridge_search::IndexOptions::default().track_total_hits,
            rate_limit: None,
            hub: HubOptions::default(),
            cache: CacheTtls::default(),
            sim: SimConfig::fast(500),
        }
    }
}

pub struct Hub {
    pub base: String,
    pub client: reqwest::Client,
    /// The ERP behind tenant `acme` (its counters show what reached it).
    pub acme: Sim,
    pub globex: Sim,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn hosted(
    sim: &Sim,
) -> (
    Arc<dyn Provider>,
    erpbridge_provider::runtime::RuntimeMonitor,
) {
    let provider =
        HostedProvider::start(SimFactory::from_sim(sim.clone()), RuntimeOptions::default())
            .expect("runtime starts");
    let monitor = provider.monitor();
    (Arc::new(provider), monitor)
}

pub fn spec(id: &str, key: &str, sim: &Sim, options: &Options) -> TenantSpec {
    let (provider, monitor) = hosted(sim);
    TenantSpec {
        id: TenantId::new(id),
        provider,
        monitor: Some(monitor),
        provider_kind: "sim".into(),
        api_keys: vec![KeyHash::of(key)],
        cache: options.cache.clone(),
        rate_limit: options.rate_limit,
    }
}

impl Hub {
    pub async fn start(options: Options) -> Hub {
        let mut sim_config = options.sim.clone();
        sim_config.articles = options.articles;
        let acme = Sim::new(sim_config.clone()).expect("sim");
        let globex = Sim::new(SimConfig {
            seed: 7,
            ..sim_config
        })
        .expect("sim");
        let state = AppState::builder()
            .tenant(spec("acme", ACME_KEY, &acme, &options))
            .tenant(spec("globex", GLOBEX_KEY, &globex, &options))
            .operator_key(KeyHash::of(OPERATOR_KEY))
            .options(options.hub.clone())
            .build()
            .expect("state");
        Self::serve(state, acme, globex).await
    }

    pub async fn serve(state: AppState, acme: Sim, globex: Sim) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(erpbridge_hub::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Hub {
            base,
            client: reqwest::Client::new(),
            acme,
            globex,
            state,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn wait_ready(&self) {
        for tenant in self.state.tenants() {
            if let Some(m) = &tenant.monitor {
                m.wait_ready().await;
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("serve");
        }
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type was {content_type:?}"
    );
    let body: serde_json::Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"))
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// A hub with every service: SQLite store in a temp dir, outbox engine (workers in this
/// process), search indexes and the sync engine.
pub struct FullHub {
    pub hub: Hub,
    pub engine: Option<erpbridge_outbox::EngineHandle>,
    _dir: tempfile::TempDir,
}

impl FullHub {
    pub async fn start(options: Options) -> FullHub {
        use erpbridge_outbox::{Engine, Outbox, OutboxOptions, SagaCatalog};
        use erpbridge_search::{IndexOptions, SearchIndexes};
        use erpbridge_store::catalog::CatalogStore;
        use erpbridge_store::outbox::OutboxStore;
        use erpbridge_store::{Db, SqliteDurability};
        use erpbridge_sync::{SyncEngine, SyncOptions};

        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open_sqlite(&dir.path().join("hub.sqlite"), SqliteDurability::Normal)
            .await
            .expect("sqlite");
        db.migrate().await.expect("migrate");
        let catalog = CatalogStore::new(db.clone());
        let outbox_store = OutboxStore::new(db.clone());
        let indexes = Arc::new(SearchIndexes::new(
            dir.path().join("search"),
            IndexOptions {
                track_total_hits: options.track_total_hits,
                ..IndexOptions::default()
            },
        ));
        let sync = Arc::new(SyncEngine::new(
            catalog.clone(),
            Arc::clone(&indexes),
            SyncOptions::default(),
        ));
        let registry = erpbridge_hub::HubProviders::new();
        let engine = Engine::new(
            outbox_store.clone(),
            SagaCatalog::standard(),
            Arc::new(registry.clone()),
            OutboxOptions {
                workers: 2,
                poll_interval: std::time::Duration::from_millis(50),
                ..OutboxOptions::default()
            },
        )
        .start();
        let outbox =
            Outbox::new(outbox_store.clone(), SagaCatalog::standard()).with_waker(engine.waker());

        let mut sim_config = options.sim.clone();
        sim_config.articles = options.articles;
        let acme = Sim::new(sim_config.clone()).expect("sim");
        let globex = Sim::new(SimConfig {
            seed: 7,
            ..sim_config
        })
        .expect("sim");
        let state = AppState::builder()
            .tenant(spec("acme", ACME_KEY, &acme, &options))
            .tenant(spec("globex", GLOBEX_KEY, &globex, &options))
            .operator_key(KeyHash::of(OPERATOR_KEY))
            .options(options.hub.clone())
            .services(erpbridge_hub::Services {
                outbox: Some(outbox),
                catalog: Some(catalog),
                search: Some(indexes),
                sync: Some(sync),
                syncs: Default::default(),
            })
            .build()
            .expect("state");
        registry.bind(&state);
        let hub = Hub::serve(state, acme, globex).await;
        hub.wait_ready().await;
        FullHub {
            hub,
            engine: Some(engine),
            _dir: dir,
        }
    }

    /// Syncs a tenant's catalog through the API and waits until it finished.
    pub async fn sync(&self, tenant: &str, key: &str) {
        let r = self
            .hub
            .client
            .post(self.hub.url(&format!("/v1/tenants/{tenant}/sync")))
            .bearer_auth(key)
            .json(&serde_json::json!({"mode": "full"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        loop {
            let state: serde_json::Value = self
                .hub
                .client
                .get(self.hub.url(&format!("/v1/tenants/{tenant}/sync")))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match state["current"]["status"].as_str() {
                Some("succeeded") => return,
                Some("failed") => panic!("sync failed: {state}"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    pub async fn stop(mut self) {
        let engine = self.engine.take();
        self.hub.stop().await;
        if let Some(engine) = engine {
            engine.shutdown().await;
        }
    }
}
