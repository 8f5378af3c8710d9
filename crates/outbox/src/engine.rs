//! The workers: claim due sagas with a lease, run their steps against the tenant's
//! provider, and report every step back before the next one starts.
//!
//! * Each worker claims a batch and runs its sagas concurrently; a heartbeat task
//!   renews the batch's leases every third of the lease time. A saga whose lease was
//!   lost (the heartbeat found another token) stops before its next step.
//! * Reports go through one committer task per engine, which writes whatever has
//!   queued up in one transaction (group commit): with many sagas in flight the fsync
//!   cost is shared, and each saga still waits until its own report is durable.
//! * Graceful stop: no new claims; sagas in flight finish their current run.

use erpbridge_model::IdempotencyKey;
use erpbridge_provider::ProviderError;
use erpbridge_store::StoreError;
use erpbridge_store::outbox::{Claimed, OutboxStore, Phase, Settle, SettleAction};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::options::OutboxOptions;
use crate::registry::ProviderRegistry;
use crate::saga::{SagaCatalog, SagaState, SagaType, StepContext};

/// Counters of one engine, for tests, benchmarks and `/metrics`.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub claimed: AtomicU64,
    pub steps: AtomicU64,
    pub completed: AtomicU64,
    pub retried: AtomicU64,
    pub dead: AtomicU64,
    pub compensated: AtomicU64,
    pub lease_lost: AtomicU64,
    pub store_errors: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub claimed: u64,
    pub steps: u64,
    pub completed: u64,
    pub retried: u64,
    pub dead: u64,
    pub compensated: u64,
    pub lease_lost: u64,
    pub store_errors: u64,
}

impl EngineStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            claimed: get(&self.claimed),
            steps: get(&self.steps),
            completed: get(&self.completed),
            retried: get(&self.retried),
            dead: get(&self.dead),
            compensated: get(&self.compensated),
            lease_lost: get(&self.lease_lost),
            store_errors: get(&self.store_errors),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Why a report did not land.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SettleError {
    #[error("lease lost")]
    LeaseLost,
    #[error("store: {0}")]
    Store(String),
}

type Report = (Settle, oneshot::Sender<Result<(), SettleError>>);

struct Shared {
    store: OutboxStore,
    sagas: Arc<SagaCatalog>,
    providers: Arc<dyn ProviderRegistry>,
    options: OutboxOptions,
    stats: Arc<EngineStats>,
    reports: mpsc::Sender<Report>,
    stop: CancellationToken,
    wake: Arc<Notify>,
}

/// The saga engine of one process.
pub struct Engine {
    store: OutboxStore,
    sagas: Arc<SagaCatalog>,
    providers: Arc<dyn ProviderRegistry>,
    options: OutboxOptions,
}

/// A running engine.
pub struct EngineHandle {
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
    committer: JoinHandle<()>,
    stats: Arc<EngineStats>,
    wake: Arc<Notify>,
}

impl Engine {
    pub fn new(
        store: OutboxStore,
        sagas: SagaCatalog,
        providers: Arc<dyn ProviderRegistry>,
        options: OutboxOptions,
    ) -> Self {
        Self {
            store,
            sagas: Arc::new(sagas),
            providers,
            options,
        }
    }

    /// Spawns the workers and the committer on the current tokio runtime.
    pub fn start(self) -> EngineHandle {
        let stats = Arc::new(EngineStats::default());
        let stop = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let (reports, inbox) = mpsc::channel(8192);
        let committer = tokio::spawn(committer(
            self.store.clone(),
            inbox,
            self.options.settle_batch.max(1) as usize,
            stats.clone(),
        ));
        let shared = Arc::new(Shared {
            store: self.store,
            sagas: self.sagas,
            providers: self.providers,
            stats: stats.clone(),
            reports,
            stop: stop.clone(),
            wake: wake.clone(),
            options: self.options,
        });
        let workers = (0..shared.options.workers.max(1))
            .map(|index| tokio::spawn(worker(shared.clone(), index)))
            .collect();
        EngineHandle {
            stop,
            workers,
            committer,
            stats,
            wake,
        }
    }
}

impl EngineHandle {
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn stats_handle(&self) -> Arc<EngineStats> {
        self.stats.clone()
    }

    /// Tells idle workers to look for work now (e.g. right after an enqueue).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// A handle that wakes the workers, for whoever enqueues.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops claiming, lets in-flight sagas finish their current run, flushes reports.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for worker in self.workers {
            if let Err(err) = worker.await {
                tracing::error!(error = %err, "outbox worker ended abnormally");
            }
        }
        // The workers held the last report senders; the committer drains and ends.
        if let Err(err) = self.committer.await {
            tracing::error!(error = %err, "outbox committer ended abnormally");
        }
    }
}

async fn committer(
    store: OutboxStore,
    mut inbox: mpsc::Receiver<Report>,
    max_batch: usize,
    stats: Arc<EngineStats>,
) {
    let mut batch: Vec<Report> = Vec::new();
    while let Some(first) = inbox.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match inbox.try_recv() {
                Ok(report) => batch.push(report),
                Err(_) => break,
            }
        }
        let (reports, waiters): (Vec<Settle>, Vec<_>) = batch.drain(..).unzip();
        match store.settle(&reports).await {
            Ok(outcomes) => {
                for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                    let _ = waiter.send(match outcome {
                        Ok(()) => Ok(()),
                        Err(StoreError::LeaseLost { .. }) => Err(SettleError::LeaseLost),
                        Err(other) => Err(SettleError::Store(other.to_string())),
                    });
                }
            }
            Err(err) => {
                bump(&stats.store_errors);
                tracing::error!(error = %err, reports = reports.len(), "outbox: committing reports failed");
                let message = err.to_string();
                for waiter in waiters {
                    let _ = waiter.send(Err(SettleError::Store(message.clone())));
                }
            }
        }
    }
}

async fn worker(shared: Arc<Shared>, index: u32) {
    tracing::debug!(worker = index, "outbox worker started");
    let options = &shared.options;
    while !shared.stop.is_cancelled() {
        let claimed = match shared.store.claim(options.batch_size, options.lease).await {
            Ok(claimed) => claimed,
            Err(err) => {
                bump(&shared.stats.store_errors);
                tracing::warn!(worker = index, error = %err, "outbox: claim failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(options.poll_interval) => {}
                () = shared.wake.notified() => {}
                () = shared.stop.cancelled() => break,
            }
            continue;
        }
        shared
            .stats
            .claimed
            .fetch_add(claimed.len() as u64, Ordering::Relaxed);
        run_batch(&shared, claimed).await;
    }
    tracing::debug!(worker = index, "outbox worker stopped");
}

/// Sagas of one batch still running, and those whose lease the heartbeat lost.
#[derive(Default)]
struct Leases {
    held: Mutex<HashMap<Uuid, Uuid>>,
    lost: Mutex<HashSet<Uuid>>,
}

async fn run_batch(shared: &Arc<Shared>, claimed: Vec<Claimed>) {
    let leases = Arc::new(Leases::default());
    leases.held.lock().extend(
        claimed
            .iter()
            .map(|claim| (claim.saga.saga_id, claim.lease_token)),
    );
    let heartbeat = tokio::spawn(heartbeat(shared.clone(), leases.clone()));
    futures::future::join_all(claimed.into_iter().map(|claim| {
        let leases = leases.clone();
        async move {
            let saga_id = claim.saga.saga_id;
            Run::new(shared, &claim, &leases).execute().await;
            leases.held.lock().remove(&saga_id);
        }
    }))
    .await;
    heartbeat.abort();
}

async fn heartbeat(shared: Arc<Shared>, leases: Arc<Leases>) {
    let lease = shared.options.lease;
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let held: Vec<(Uuid, Uuid)> = leases.held.lock().iter().map(|(s, t)| (*s, *t)).collect();
        match shared.store.extend_leases(&held, lease).await {
            Ok(kept) => {
                let mut lost = leases.lost.lock();
                for ((saga_id, _), kept) in held.iter().zip(kept) {
                    if !kept {
                        tracing::warn!(%saga_id, "outbox: lease lost; stopping this saga");
                        lost.insert(*saga_id);
                    }
                }
            }
            Err(err) => {
                bump(&shared.stats.store_errors);
                tracing::warn!(error = %err, "outbox: renewing leases failed");
            }
        }
    }
}

/// One execution of one claimed saga.
struct Run<'a> {
    shared: &'a Shared,
    claim: &'a Claimed,
    leases: &'a Leases,
}

enum Flow {
    Continue,
    Stop,
}

impl<'a> Run<'a> {
    fn new(shared: &'a Shared, claim: &'a Claimed, leases: &'a Leases) -> Self {
        Self {
            shared,
            claim,
            leases,
        }
    }

    async fn settle(&self, action: SettleAction) -> Flow {
        let (reply, answer) = oneshot::channel();
        let report = Settle {
            saga_id: self.claim.saga.saga_id,
            lease_token: self.claim.lease_token,
            action,
        };
        if self.shared.reports.send((report, reply)).await.is_err() {
            return Flow::Stop;
        }
        match answer.await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(SettleError::LeaseLost)) => {
                bump(&self.shared.stats.lease_lost);
                tracing::warn!(saga_id = %self.claim.saga.saga_id, "outbox: lease lost before a report; another worker owns the saga");
                Flow::Stop
            }
            Ok(Err(SettleError::Store(message))) => {
                // The lease will run out and the saga resumes from its last durable step.
                tracing::error!(saga_id = %self.claim.saga.saga_id, error = %message, "outbox: report not stored");
                Flow::Stop
            }
            Err(_) => Flow::Stop,
        }
    }

    async fn dead(&self, phase: Phase, step: usize, state: &SagaState, error: String) {
        tracing::warn!(saga_id = %self.claim.saga.saga_id, event_type = %self.claim.saga.event_type, %error, "outbox: saga dead");
        if let Flow::Continue = self
            .settle(SettleAction::Dead {
                phase,
                step: step as u32,
                state: Value::Object(state.clone()),
                error,
            })
            .await
        {
            bump(&self.shared.stats.dead);
        }
    }

    /// A transient failure: retry after the policy's delay, or die when it is spent.
    async fn retry_or_dead(
        &self,
        phase: Phase,
        step: usize,
        state: &SagaState,
        error: String,
        retry_after: Option<Duration>,
    ) {
        let attempts = self.claim.saga.attempts;
        match self.shared.options.retry.delay_after(attempts) {
            Some(delay) => {
                let delay = retry_after.map_or(delay, |hint| hint.max(delay));
                tracing::info!(saga_id = %self.claim.saga.saga_id, attempts, ?delay, %error, "outbox: saga will retry");
                if let Flow::Continue = self
                    .settle(SettleAction::Retry {
                        phase,
                        step: step as u32,
                        state: Value::Object(state.clone()),
                        error,
                        delay,
                    })
                    .await
                {
                    bump(&self.shared.stats.retried);
                }
            }
            None => {
                let error = format!("{error} (gave up after {attempts} attempts)");
                self.dead(phase, step, state, error).await;
            }
        }
    }

    fn lease_lost(&self) -> bool {
        self.leases.lost.lock().contains(&self.claim.saga.saga_id)
    }

    async fn execute(&self) {
        let saga = &self.claim.saga;
        let mut phase = saga.phase;
        let mut step = saga.step as usize;
        let mut state: SagaState = match &saga.saga_state {
            Value::Object(map) => map.clone(),
            Value::Null => SagaState::new(),
            other => {
                let error = format!("saga_state is not a JSON object: {other}");
                return self.dead(phase, step, &SagaState::new(), error).await;
            }
        };
        let Some(saga_type) = self.shared.sagas.get(&saga.event_type).cloned() else {
            let error = format!("unknown saga type `{}`", saga.event_type);
            return self.dead(phase, step, &state, error).await;
        };
        let max_attempts = self.shared.options.retry.max_attempts();
        if saga.attempts > max_attempts {
            // Every earlier execution ended without a report: the worker crashed or
            // lost its lease each time. Stop before this saga takes more workers down.
            let error = format!(
                "gave up after {} executions that never finished (worker crashed or lost its lease); last error: {}",
                saga.attempts - 1,
                saga.last_error.as_deref().unwrap_or("none")
            );
            return self.dead(phase, step, &state, error).await;
        }
        if let Err(err) = saga_type.check(&saga.payload) {
            return self.dead(phase, step, &state, err.to_string()).await;
        }
        let provider = match self.shared.providers.provider(&saga.tenant_id).await {
            Ok(provider) => provider,
            Err(err) => {
                let error = format!(
                    "no provider for tenant `{}`: {}",
                    saga.tenant_id, err.message
                );
                return if err.is_retryable() {
                    self.retry_or_dead(phase, step, &state, error, err.retry_after)
                        .await
                } else {
                    self.dead(phase, step, &state, error).await
                };
            }
        };
        let key = IdempotencyKey::new(saga.idempotency_key.clone());
        let cx = StepContext {
            tenant_id: &saga.tenant_id,
            idempotency_key: &key,
            payload: &saga.payload,
            provider: provider.as_ref(),
        };
        let steps = saga_type.steps();
        loop {
            if self.lease_lost() {
                bump(&self.shared.stats.lease_lost);
                return;
            }
            match phase {
                Phase::Forward => {
                    if step >= steps.len() {
                        let result = saga_type.result(&state);
                        if let Flow::Continue = self.settle(SettleAction::Complete { result }).await
                        {
                            bump(&self.shared.stats.completed);
                        }
                        return;
                    }
                    match self
                        .run_step(saga_type.as_ref(), step, &cx, &mut state, false)
                        .await
                    {
                        Ok(()) => {
                            step += 1;
                            if step < steps.len() {
                                let progress = SettleAction::Progress {
                                    phase,
                                    step: step as u32,
                                    state: Value::Object(state.clone()),
                                };
                                if let Flow::Stop = self.settle(progress).await {
                                    return;
                                }
                            }
                        }
                        Err(err) => {
                            let error = format!(
                                "step `{}` failed ({:?}): {}",
                                steps[step].name, err.kind, err.message
                            );
                            if err.is_retryable() {
                                return self
                                    .retry_or_dead(phase, step, &state, error, err.retry_after)
                                    .await;
                            }
                            if !steps[..step].iter().any(|spec| spec.compensable) {
                                return self.dead(phase, step, &state, error).await;
                            }
                            tracing::warn!(saga_id = %saga.saga_id, %error, "outbox: compensating");
                            state.insert("compensating_for".into(), Value::String(error));
                            phase = Phase::Compensate;
                            let progress = SettleAction::Progress {
                                phase,
                                step: step as u32,
                                state: Value::Object(state.clone()),
                            };
                            if let Flow::Stop = self.settle(progress).await {
                                return;
                            }
                        }
                    }
                }
                Phase::Compensate => {
                    if step == 0 {
                        let error = state
                            .get("compensating_for")
                            .and_then(Value::as_str)
                            .unwrap_or("a step failed")
                            .to_owned();
                        let action = SettleAction::Compensated {
                            state: Value::Object(state.clone()),
                            error,
                        };
                        if let Flow::Continue = self.settle(action).await {
                            bump(&self.shared.stats.compensated);
                        }
                        return;
                    }
                    let index = step - 1;
                    if steps[index].compensable
                        && let Err(err) = self
                            .run_step(saga_type.as_ref(), index, &cx, &mut state, true)
                            .await
                    {
                        let error = format!(
                            "compensating step `{}` failed ({:?}): {}",
                            steps[index].name, err.kind, err.message
                        );
                        return if err.is_retryable() {
                            self.retry_or_dead(phase, step, &state, error, err.retry_after)
                                .await
                        } else {
                            self.dead(phase, step, &state, error).await
                        };
                    }
                    step = index;
                    if step > 0 {
                        let progress = SettleAction::Progress {
                            phase,
                            step: step as u32,
                            state: Value::Object(state.clone()),
                        };
                        if let Flow::Stop = self.settle(progress).await {
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn run_step(
        &self,
        saga_type: &dyn SagaType,
        step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
        compensate: bool,
    ) -> Result<(), ProviderError> {
        bump(&self.shared.stats.steps);
        let timeout = self.shared.options.step_timeout;
        let call = async {
            if compensate {
                saga_type.compensate(step, cx, state).await
            } else {
                saga_type.run(step, cx, state).await
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::transient(format!(
                "timed out after {timeout:?}"
            ))),
        }
    }
}
