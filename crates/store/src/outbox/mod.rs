//! The durable outbox: one row per saga in `erp_outbox`, on SQLite or PostgreSQL.
//!
//! This module owns the *state machine on disk*; the engine that runs sagas lives in
//! the `erpbridge-outbox` crate and talks to the database only through [`OutboxStore`].
//!
//! How the pieces fit:
//!
//! * **Enqueue** is one transaction: `INSERT .. ON CONFLICT (tenant_id, idempotency_key)
//!   DO NOTHING`, then, if the key existed, a compare of the SHA-256 of the canonical
//!   payload ([`canonical`]): same payload → the existing saga, different payload →
//!   [`StoreError::IdempotencyConflict`].
//! * **Claim** hands a worker a batch of due sagas with a *lease*: the row's
//!   `next_run_at` becomes the lease expiry and a fresh `lease_token` is written. A
//!   crashed worker's rows therefore become due again by themselves when the lease runs
//!   out; nobody has to sweep for them. PostgreSQL claims with `FOR UPDATE SKIP LOCKED`
//!   so many workers in many processes take disjoint batches without waiting on each
//!   other; SQLite claims inside `BEGIN IMMEDIATE`, serialised in-process by the file's writer
//!   queue ([`crate::db::sqlite_writer`]) so concurrent writers, the catalog's included,
//!   wait their turn instead of polling in SQLite's busy handler.
//! * **Settle** reports progress, completion, a retry or death, always fenced by the
//!   lease token: a worker that lost its lease gets [`StoreError::LeaseLost`] and cannot
//!   overwrite what the new owner did. Settles come in batches so the engine can commit
//!   many sagas with one fsync (group commit).
//! * **Operator queries** are the data behind seed 004's monitoring API, serialised with
//!   its field names.
//!
//! Time comes from a [`Clock`] (the system clock, or a manual one in tests) and is
//! stored as epoch milliseconds; PostgreSQL deployments with workers on several hosts
//! rely on NTP-synchronised clocks, with leases far longer than any plausible skew.

mod canonical;
mod clock;
mod queries;
mod sql;
pub mod testing;
mod types;

pub use canonical::{payload_sha256, to_canonical_string};
pub use clock::Clock;
pub use types::*;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite, Transaction};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};
use uuid::Uuid;

use crate::db::Db;
use crate::error::StoreError;
use sql::{Arg, Conn, RowRead};

/// The outbox on one database. Cheap to clone; clones share the SQLite write lock, so a
/// process should make one and clone it.
#[derive(Debug, Clone)]
pub struct OutboxStore {
    db: Db,
    clock: Clock,
    /// SQLite group commit of single enqueues, started on first use.
    intake: Arc<OnceLock<mpsc::UnboundedSender<EnqueueJob>>>,
}

#[derive(Debug)]
struct EnqueueJob {
    saga: NewSaga,
    reply: oneshot::Sender<Result<Enqueued, StoreError>>,
}

/// Most enqueues one SQLite transaction takes from the intake queue.
const INTAKE_BATCH: usize = 256;

/// An open write transaction on either backend.
enum Tx {
    // Field order matters: the transaction ends before the writer lock is released.
    Sqlite(Transaction<'static, Sqlite>, OwnedMutexGuard<()>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx, _) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, guard) => {
                tx.commit().await?;
                drop(guard);
            }
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms is out of range")))
}

/// The SQLite group-commit loop behind [`OutboxStore::enqueue`].
async fn intake(store: OutboxStore, mut queue: mpsc::UnboundedReceiver<EnqueueJob>) {
    let mut jobs = Vec::with_capacity(INTAKE_BATCH);
    while let Some(first) = queue.recv().await {
        jobs.push(first);
        while jobs.len() < INTAKE_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let sagas = jobs.iter().map(|job| job.saga.clone()).collect();
        match store.enqueue_many(sagas).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            // The shared transaction failed: give each its own, so every caller gets
            // the error that is really its own.
            Err(_) => {
                for job in jobs.drain(..) {
                    let outcome = store.enqueue_alone(job.saga).await;
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl OutboxStore {
    /// The outbox on `db`, whose migrations must have run.
    pub fn new(db: Db) -> Self {
        Self::with_clock(db, Clock::System)
    }

    pub fn with_clock(db: Db, clock: Clock) -> Self {
        Self {
            db,
            clock,
            intake: Arc::new(OnceLock::new()),
        }
    }

    /// This store without the intake queue, for the intake task itself (holding the
    /// queue's sender would keep the task alive forever).
    fn core(&self) -> Self {
        Self {
            db: self.db.clone(),
            clock: self.clock.clone(),
            intake: Arc::new(OnceLock::new()),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.db {
            Db::Sqlite(pool) => {
                let guard = crate::db::sqlite_writer(pool).lock_owned().await;
                // IMMEDIATE takes SQLite's write lock at BEGIN: a read-then-write
                // transaction can then never fail half-way with SQLITE_BUSY.
                let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                Tx::Sqlite(tx, guard)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs a read-only query on a pooled connection.
    async fn read<T>(
        &self,
        sql: &'static sql::Sql,
        args: &[Arg],
        decode: impl Fn(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match &self.db {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                Conn::Sqlite(&mut conn).fetch_all(sql, args, decode).await
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                Conn::Postgres(&mut conn).fetch_all(sql, args, decode).await
            }
        }
    }

    async fn read_one<T>(
        &self,
        sql: &'static sql::Sql,
        args: &[Arg],
        decode: impl Fn(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(sql, args, decode)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("query returned no row".into()))
    }

    // ----- intake -----

    /// Enqueues one saga; durable when this returns.
    ///
    /// On SQLite, enqueues that arrive while a commit is under way are committed
    /// together in the next transaction (group commit): each caller still waits for its
    /// own durable commit, but concurrent callers share one fsync instead of queueing
    /// for one each. PostgreSQL commits concurrent transactions in parallel anyway.
    pub async fn enqueue(&self, saga: NewSaga) -> Result<Enqueued, StoreError> {
        if let Db::Postgres(_) = self.db {
            return self.enqueue_alone(saga).await;
        }
        let intake = self.intake.get_or_init(|| {
            let (sender, queue) = mpsc::unbounded_channel();
            tokio::spawn(intake(self.core(), queue));
            sender
        });
        let (reply, answer) = oneshot::channel();
        intake
            .send(EnqueueJob { saga, reply })
            .map_err(|_| StoreError::Corrupt("the outbox intake task has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the outbox intake task dropped an enqueue".into()))?
    }

    async fn enqueue_alone(&self, saga: NewSaga) -> Result<Enqueued, StoreError> {
        let mut tx = self.begin().await?;
        let outcome = queries::enqueue(&mut tx.conn(), &saga, self.clock.now_ms()).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Enqueues many sagas in one transaction (one fsync). Each gets its own outcome; an
    /// idempotency conflict of one does not stop the others.
    pub async fn enqueue_many(
        &self,
        sagas: Vec<NewSaga>,
    ) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(sagas.len());
        for saga in &sagas {
            match queries::enqueue(&mut tx.conn(), saga, now).await {
                Err(StoreError::Database(err)) => return Err(StoreError::Database(err)),
                other => outcomes.push(other),
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    // ----- workers -----

    /// Claims up to `limit` due sagas for `lease`. Returns nothing while draining.
    pub async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<Claimed>, StoreError> {
        if limit == 0 || self.draining().await? {
            return Ok(Vec::new());
        }
        let now = self.clock.now_ms();
        let lease_until = now.saturating_add(duration_ms(lease));
        let token = Uuid::new_v4();
        let mut tx = self.begin().await?;
        let sagas = queries::claim(&mut tx.conn(), limit, now, lease_until, token).await?;
        tx.commit().await?;
        let lease_until = from_ms(lease_until)?;
        Ok(sagas
            .into_iter()
            .map(|saga| Claimed {
                saga,
                lease_token: token,
                lease_until,
            })
            .collect())
    }

    /// Moves the lease of each held saga to now + `lease`. Returns, per saga, whether the
    /// lease was still ours.
    pub async fn extend_leases(
        &self,
        held: &[(Uuid, Uuid)],
        lease: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let until = self.clock.now_ms().saturating_add(duration_ms(lease));
        let mut tx = self.begin().await?;
        let mut kept = Vec::with_capacity(held.len());
        for (saga_id, token) in held {
            kept.push(queries::extend(&mut tx.conn(), *saga_id, *token, until).await? == 1);
        }
        tx.commit().await?;
        Ok(kept)
    }

    /// Applies worker reports in one transaction. Each report gets its own outcome
    /// ([`StoreError::LeaseLost`] when the lease was no longer the worker's); the batch
    /// fails as a whole only when the database does.
    pub async fn settle(
        &self,
        reports: &[Settle],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            let changed = queries::settle(&mut tx.conn(), report, now).await?;
            outcomes.push(if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::LeaseLost {
                    saga_id: report.saga_id,
                })
            });
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Convenience for one report.
    pub async fn settle_one(&self, report: Settle) -> Result<(), StoreError> {
        self.settle(std::slice::from_ref(&report))
            .await?
            .into_iter()
            .next()
            .unwrap_or(Ok(()))
    }

    // ----- lookups -----

    pub async fn get(&self, saga_id: Uuid) -> Result<Option<SagaRecord>, StoreError> {
        Ok(self
            .read(
                &queries::BY_ID,
                &[saga_id.to_string().into()],
                queries::decode_saga,
            )
            .await?
            .into_iter()
            .next())
    }

    /// A saga by tenant and idempotency key (what an API caller knows).
    pub async fn find(
        &self,
        tenant_id: &erpbridge_model::TenantId,
        idempotency_key: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        Ok(self
            .read(
                &queries::BY_KEY,
                &[tenant_id.as_str().into(), idempotency_key.into()],
                queries::decode_saga,
            )
            .await?
            .into_iter()
            .next())
    }

    /// One saga in full, with its current backoff and time in queue.
    pub async fn detail(&self, saga_id: Uuid) -> Result<Option<SagaDetail>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .get(saga_id)
            .await?
            .map(|saga| queries::detail(saga, now)))
    }

    // ----- operator queries -----

    pub async fn status(&self) -> Result<OutboxStatus, StoreError> {
        queries::status(self, self.clock.now()).await
    }

    /// Metrics over the last `hours` hours (clamped to 1..=168, as seed 004's API).
    pub async fn metrics(&self, hours: u32) -> Result<OutboxMetrics, StoreError> {
        queries::metrics(self, hours.clamp(1, 168), self.clock.now()).await
    }

    pub async fn failed(&self, query: FailedQuery) -> Result<FailedPage, StoreError> {
        queries::failed(self, query).await
    }

    /// Makes one saga run again now: a dead saga resumes at the step that failed (with
    /// its attempts reset), a waiting one skips the rest of its backoff. A running or
    /// finished saga is a [`StoreError::Conflict`].
    pub async fn retry(&self, saga_id: Uuid) -> Result<SagaRecord, StoreError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let saga = queries::retry_one(&mut tx.conn(), saga_id, now).await?;
        tx.commit().await?;
        Ok(saga)
    }

    /// Retries every dead saga matching `filter`; returns how many.
    pub async fn retry_dead(&self, filter: &RetryFilter) -> Result<u64, StoreError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let count = queries::retry_dead(&mut tx.conn(), filter, now).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// The drain switch: while on, [`Self::claim`] hands out nothing, so in-flight sagas
    /// finish and the queue stops moving (before an upgrade). Persisted, so every
    /// process sharing the database sees it.
    pub async fn set_draining(&self, draining: bool) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        tx.conn()
            .execute(
                &queries::SET_CONTROL,
                &["draining".into(), draining.to_string().into(), now.into()],
            )
            .await?;
        tx.commit().await
    }

    pub async fn draining(&self) -> Result<bool, StoreError> {
        let value = self
            .read(&queries::GET_CONTROL, &["draining".into()], |row| {
                row.text(0)
            })
            .await?;
        Ok(value.first().is_some_and(|v| v == "true"))
    }

    /// Deletes completed and compensated sagas finished before `before`; returns how many.
    pub async fn purge_finished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let count = tx
            .conn()
            .execute(&queries::PURGE, &[to_ms(before).into()])
            .await?;
        tx.commit().await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests;
