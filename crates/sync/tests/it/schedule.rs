use std::time::Duration;

use erpbridge_store::catalog::RunStatus;
use erpbridge_sync::{Schedule, ScheduledSync, Scheduler, SyncMode};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_schedule_runs_syncs_one_after_another() {
    let env = env(Backend::Sqlite).await.unwrap();
    let tenant = tenant("sched");
    let sim = sim(200, 4);
    let scheduler = Scheduler::start(
        env.engine.clone(),
        vec![ScheduledSync {
            tenant: tenant.clone(),
            provider: provider(&sim),
            provider_name: "sim".to_owned(),
            schedule: Schedule::Every(Duration::from_millis(50)),
            mode: SyncMode::Delta,
        }],
        None,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let runs = env.store().runs(&tenant, 100).await.unwrap();
        if runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count()
            >= 3
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "scheduled runs did not happen: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    scheduler.stop();
    let mut runs = env.store().runs(&tenant, 100).await.unwrap();
    runs.retain(|r| r.finished_ms.is_some());
    runs.sort_by_key(|r| r.started_ms);
    for pair in runs.windows(2) {
        assert!(
            pair[0].finished_ms.unwrap() <= pair[1].started_ms,
            "runs overlapped: {pair:?}"
        );
    }
    assert_eq!(
        runs[0].upserted,
        200 + 20 + 50,
        "the first run is a full sync"
    );
}
