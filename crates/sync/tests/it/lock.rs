use erpbridge_sync::{SyncError, SyncMode};

use crate::common::*;

async fn one_sync_per_tenant(backend: Backend) {
    let Some(env) = env(backend).await else {
        return;
    };
    let tenant = tenant("lock");
    let sim = sim(100, 9);
    let provider = provider(&sim);

    // Another holder (another process, as far as the store can tell) has the lock.
    let held = env
        .store()
        .try_lock_sync(&tenant)
        .await
        .unwrap()
        .expect("lock is free");
    assert!(env.store().try_lock_sync(&tenant).await.unwrap().is_none());
    let err = env
        .engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Busy(_)), "{err}");
    // Other tenants are not blocked.
    let other = tenant_other(&tenant);
    env.engine
        .run(&other, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .expect("another tenant syncs");

    held.release().await.unwrap();
    env.engine
        .run(&tenant, provider.clone(), "sim", SyncMode::Full, None)
        .await
        .expect("the lock is free again");
}

fn tenant_other(tenant: &str) -> String {
    format!("{tenant}-other")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_per_tenant_sqlite() {
    one_sync_per_tenant(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_per_tenant_postgres() {
    one_sync_per_tenant(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sqlite_lease_is_taken_over() {
    let env = env(Backend::Sqlite).await.unwrap();
    let tenant = tenant("lease");
    let short = std::time::Duration::from_millis(300);
    let first = env
        .store()
        .try_lock_sync_with_lease(&tenant, short)
        .await
        .unwrap()
        .unwrap();
    // The holder stops renewing (as a hung or dead process would) ...
    drop(first);
    assert!(
        env.store()
            .try_lock_sync_with_lease(&tenant, short)
            .await
            .unwrap()
            .is_none()
    );
    // ... and after the lease another may take it.
    tokio::time::sleep(short * 2).await;
    assert!(
        env.store()
            .try_lock_sync_with_lease(&tenant, short)
            .await
            .unwrap()
            .is_some()
    );
}
