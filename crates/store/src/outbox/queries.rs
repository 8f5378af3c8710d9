//! The SQL of the outbox, written once for both backends (see [`super::sql`]).

use chrono::{DateTime, Utc};
use erpbridge_model::TenantId;
use uuid::Uuid;

use super::canonical::{payload_sha256, to_canonical_string};
use super::sql::{Arg, Conn, RowRead, Sql, sql, static_sql};
use super::types::*;
use super::{OutboxStore, from_ms, to_ms};
use crate::error::StoreError;

/// The columns [`decode_saga`] reads, in its order.
macro_rules! saga_columns {
    () => {
        "saga_id::text, tenant_id, idempotency_key, event_type, payload::text, payload_summary, \
         status, phase, step::bigint, saga_state::text, attempts::bigint, next_run_at, last_error, \
         backoff_ms, result_payload::text, processing_started_at, processed_at, created_at, \
         updated_at, lease_token::text, payload_sha256"
    };
}

static_sql!(pub(super) BY_ID, concat!(
    "SELECT ",
    saga_columns!(),
    " FROM erp_outbox WHERE saga_id = $1::uuid"
));

static_sql!(pub(super) BY_KEY, concat!(
    "SELECT ",
    saga_columns!(),
    " FROM erp_outbox WHERE tenant_id = $1 AND idempotency_key = $2"
));

static_sql!(pub(super) SET_CONTROL,
    "INSERT INTO erp_outbox_control (name, value, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
);

static_sql!(pub(super) GET_CONTROL, "SELECT value FROM erp_outbox_control WHERE name = $1");

static_sql!(pub(super) PURGE,
    "DELETE FROM erp_outbox WHERE status IN ('completed', 'compensated') AND processed_at < $1"
);

fn parse_json(text: &str, column: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|err| StoreError::Corrupt(format!("column {column} is not JSON: {err}")))
}

fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|err| StoreError::Corrupt(format!("bad saga id `{text}`: {err}")))
}

fn to_u32(value: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

pub(super) fn decode_saga(row: &dyn RowRead) -> Result<SagaRecord, StoreError> {
    let opt_time = |index: usize| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.opt_i64(index)?.map(from_ms).transpose()
    };
    Ok(SagaRecord {
        saga_id: parse_uuid(&row.text(0)?)?,
        tenant_id: TenantId(row.text(1)?),
        idempotency_key: row.text(2)?,
        event_type: row.text(3)?,
        payload: parse_json(&row.text(4)?, "payload")?,
        payload_summary: row.text(5)?,
        status: row.text(6)?.parse()?,
        phase: row.text(7)?.parse()?,
        step: to_u32(row.i64(8)?, "step")?,
        saga_state: match row.opt_text(9)? {
            Some(text) => parse_json(&text, "saga_state")?,
            None => serde_json::Value::Null,
        },
        attempts: to_u32(row.i64(10)?, "attempts")?,
        next_run_at: from_ms(row.i64(11)?)?,
        last_error: row.opt_text(12)?,
        backoff_ms: row.opt_i64(13)?.map(|ms| ms.max(0) as u64),
        result_payload: row
            .opt_text(14)?
            .map(|text| parse_json(&text, "result_payload"))
            .transpose()?,
        processing_started_at: opt_time(15)?,
        processed_at: opt_time(16)?,
        created_at: from_ms(row.i64(17)?)?,
        updated_at: from_ms(row.i64(18)?)?,
    })
}

fn lease_token(row: &dyn RowRead) -> Result<Option<String>, StoreError> {
    row.opt_text(19)
}

fn stored_hash(row: &dyn RowRead) -> Result<String, StoreError> {
    row.text(20)
}

pub(super) async fn enqueue(
    conn: &mut Conn<'_>,
    saga: &NewSaga,
    now: i64,
) -> Result<Enqueued, StoreError> {
    static_sql!(
        INSERT,
        concat!(
            "INSERT INTO erp_outbox (saga_id, tenant_id, idempotency_key, event_type, payload, \
         payload_sha256, payload_summary, status, next_run_at, created_at, updated_at) \
         VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6, $7, 'pending', $8, $9, $9) \
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING ",
            saga_columns!()
        )
    );
    let canonical = to_canonical_string(&saga.payload);
    let hash = payload_sha256(&canonical);
    let run_at = saga.run_at.map(to_ms).unwrap_or(now);
    let inserted = conn
        .fetch_optional(
            &INSERT,
            &[
                Uuid::now_v7().to_string().into(),
                saga.tenant_id.as_str().into(),
                saga.idempotency_key.as_str().into(),
                saga.event_type.as_str().into(),
                canonical.into(),
                hash.clone().into(),
                saga.payload_summary.as_str().into(),
                run_at.into(),
                now.into(),
            ],
            decode_saga,
        )
        .await?;
    if let Some(saga) = inserted {
        return Ok(Enqueued {
            saga,
            created: true,
        });
    }
    let (existing, existing_hash) = conn
        .fetch_one(
            &BY_KEY,
            &[
                saga.tenant_id.as_str().into(),
                saga.idempotency_key.as_str().into(),
            ],
            |row| Ok((decode_saga(row)?, stored_hash(row)?)),
        )
        .await?;
    if existing_hash == hash {
        Ok(Enqueued {
            saga: existing,
            created: false,
        })
    } else {
        Err(StoreError::IdempotencyConflict {
            tenant_id: saga.tenant_id.to_string(),
            idempotency_key: saga.idempotency_key.clone(),
            saga_id: existing.saga_id,
        })
    }
}

/// Claimable: pending or compensating and due, or claimed with an expired lease (for
/// claimed rows `next_run_at` is the lease expiry).
pub(super) async fn claim(
    conn: &mut Conn<'_>,
    limit: u32,
    now: i64,
    lease_until: i64,
    token: Uuid,
) -> Result<Vec<SagaRecord>, StoreError> {
    const SET: &str = "SET status = CASE WHEN status = 'pending' THEN 'in_progress' ELSE status END, \
         lease_token = $3::uuid, next_run_at = $2, attempts = attempts + 1, \
         processing_started_at = $1, updated_at = $1 ";
    const DUE: &str = "SELECT saga_id FROM erp_outbox \
         WHERE status IN ('pending', 'in_progress', 'compensating') AND next_run_at <= $1 \
         ORDER BY next_run_at LIMIT $4";
    // PostgreSQL: ARRAY(...) evaluates the locking subquery exactly once; SKIP LOCKED
    // lets concurrent claimers take disjoint rows instead of queueing on each other.
    static CLAIM: std::sync::LazyLock<Sql> = std::sync::LazyLock::new(|| Sql {
        postgres: Box::leak(
            format!(
                "UPDATE erp_outbox {SET} WHERE saga_id = ANY(ARRAY({DUE} FOR UPDATE SKIP LOCKED)) \
                 RETURNING {}",
                saga_columns!()
            )
            .into_boxed_str(),
        ),
        sqlite: format!(
            "UPDATE erp_outbox {} WHERE saga_id IN ({DUE}) RETURNING {}",
            SET.replace("$3::uuid", "$3"),
            Sql::new(saga_columns!()).sqlite
        ),
    });
    let mut sagas = conn
        .fetch_all(
            &CLAIM,
            &[
                now.into(),
                lease_until.into(),
                token.to_string().into(),
                i64::from(limit).into(),
            ],
            decode_saga,
        )
        .await?;
    // RETURNING order is unspecified; hand work out oldest-due first.
    sagas.sort_by_key(|saga| (saga.created_at, saga.saga_id));
    Ok(sagas)
}

pub(super) async fn extend(
    conn: &mut Conn<'_>,
    saga_id: Uuid,
    token: Uuid,
    until: i64,
) -> Result<u64, StoreError> {
    static_sql!(
        EXTEND,
        "UPDATE erp_outbox SET next_run_at = $3 WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    conn.execute(
        &EXTEND,
        &[
            saga_id.to_string().into(),
            token.to_string().into(),
            until.into(),
        ],
    )
    .await
}

fn state_text(state: &serde_json::Value) -> Option<String> {
    (!state.is_null()).then(|| state.to_string())
}

pub(super) async fn settle(
    conn: &mut Conn<'_>,
    report: &Settle,
    now: i64,
) -> Result<u64, StoreError> {
    static_sql!(
        PROGRESS,
        "UPDATE erp_outbox SET phase = $3::text, step = $4, saga_state = $5::jsonb,
            status = CASE WHEN $3::text = 'compensate' THEN 'compensating' ELSE 'in_progress' END,
            updated_at = $6
         WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    static_sql!(
        COMPLETE,
        "UPDATE erp_outbox SET status = 'completed', result_payload = $3::jsonb,
            processed_at = $4, updated_at = $4, next_run_at = $4, lease_token = NULL,
            backoff_ms = NULL
         WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    static_sql!(
        RETRY,
        "UPDATE erp_outbox SET phase = $3::text, step = $4, saga_state = $5::jsonb,
            status = CASE WHEN $3::text = 'compensate' THEN 'compensating' ELSE 'pending' END,
            last_error = $6, backoff_ms = $7, next_run_at = $8, lease_token = NULL, updated_at = $9
         WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    static_sql!(DEAD,
        "UPDATE erp_outbox SET status = 'dead', phase = $3::text, step = $4, saga_state = $5::jsonb,
            last_error = $6, backoff_ms = NULL, next_run_at = $7, processed_at = $7,
            lease_token = NULL, updated_at = $7
         WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    static_sql!(
        COMPENSATED,
        "UPDATE erp_outbox SET status = 'compensated', phase = 'compensate', step = 0,
            saga_state = $3::jsonb, last_error = $4, backoff_ms = NULL, next_run_at = $5,
            processed_at = $5, lease_token = NULL, updated_at = $5
         WHERE saga_id = $1::uuid AND lease_token = $2::uuid"
    );
    let id: Arg = report.saga_id.to_string().into();
    let token: Arg = report.lease_token.to_string().into();
    match &report.action {
        SettleAction::Progress { phase, step, state } => {
            conn.execute(
                &PROGRESS,
                &[
                    id,
                    token,
                    phase.as_str().into(),
                    i64::from(*step).into(),
                    state_text(state).into(),
                    now.into(),
                ],
            )
            .await
        }
        SettleAction::Complete { result } => {
            conn.execute(
                &COMPLETE,
                &[id, token, result.to_string().into(), now.into()],
            )
            .await
        }
        SettleAction::Retry {
            phase,
            step,
            state,
            error,
            delay,
        } => {
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            conn.execute(
                &RETRY,
                &[
                    id,
                    token,
                    phase.as_str().into(),
                    i64::from(*step).into(),
                    state_text(state).into(),
                    error.as_str().into(),
                    delay_ms.into(),
                    now.saturating_add(delay_ms).into(),
                    now.into(),
                ],
            )
            .await
        }
        SettleAction::Dead {
            phase,
            step,
            state,
            error,
        } => {
            conn.execute(
                &DEAD,
                &[
                    id,
                    token,
                    phase.as_str().into(),
                    i64::from(*step).into(),
                    state_text(state).into(),
                    error.as_str().into(),
                    now.into(),
                ],
            )
            .await
        }
        SettleAction::Compensated { state, error } => {
            conn.execute(
                &COMPENSATED,
                &[
                    id,
                    token,
                    state_text(state).into(),
                    error.as_str().into(),
                    now.into(),
                ],
            )
            .await
        }
    }
}

pub(super) fn detail(saga: SagaRecord, now: DateTime<Utc>) -> SagaDetail {
    let end = saga.processed_at.unwrap_or(now);
    let in_queue = (end - saga.created_at).num_milliseconds().max(0) as f64 / 1000.0;
    let waiting = matches!(saga.status, SagaStatus::Pending | SagaStatus::Compensating);
    SagaDetail {
        saga_id: saga.saga_id,
        tenant_id: saga.tenant_id.0,
        idempotency_key: saga.idempotency_key,
        event_type: saga.event_type,
        status: saga.status,
        phase: saga.phase,
        step: saga.step,
        attempts: saga.attempts,
        next_run_at: saga.next_run_at,
        last_error: saga.last_error,
        payload: saga.payload,
        payload_summary: saga.payload_summary,
        saga_state: saga.saga_state,
        result_payload: saga.result_payload,
        processing_started_at: saga.processing_started_at,
        processed_at: saga.processed_at,
        created_at: saga.created_at,
        updated_at: saga.updated_at,
        backoff_seconds: if waiting {
            saga.backoff_ms.map(|ms| ms / 1000)
        } else {
            None
        },
        time_in_queue_seconds: Some(in_queue),
    }
}

fn count(value: Option<i64>) -> u64 {
    value.unwrap_or(0).max(0) as u64
}

pub(super) async fn status(
    store: &OutboxStore,
    now: DateTime<Utc>,
) -> Result<OutboxStatus, StoreError> {
    static_sql!(
        COUNTS,
        "SELECT status, count(*)::bigint FROM erp_outbox GROUP BY status"
    );
    static_sql!(
        PENDING_RANGE,
        "SELECT min(created_at), max(created_at) FROM erp_outbox WHERE status = 'pending'"
    );
    let counts = store
        .read(&COUNTS, &[], |row| Ok((row.text(0)?, row.i64(1)?)))
        .await?;
    let of = |status: SagaStatus| {
        counts
            .iter()
            .find(|(name, _)| name == status.as_str())
            .map_or(0, |(_, n)| (*n).max(0) as u64)
    };
    let (oldest, newest) = store
        .read_one(&PENDING_RANGE, &[], |row| {
            Ok((row.opt_i64(0)?, row.opt_i64(1)?))
        })
        .await?;
    let oldest_pending_at = oldest.map(from_ms).transpose()?;
    let backlog_hours = oldest_pending_at.map_or(0.0, |oldest| {
        (now - oldest).num_milliseconds().max(0) as f64 / 3_600_000.0
    });
    let pending = of(SagaStatus::Pending);
    let in_progress = of(SagaStatus::InProgress);
    let compensating = of(SagaStatus::Compensating);
    Ok(OutboxStatus {
        pending_count: pending,
        in_progress_count: in_progress,
        completed_count: of(SagaStatus::Completed),
        dead_count: of(SagaStatus::Dead),
        compensating_count: compensating,
        compensated_count: of(SagaStatus::Compensated),
        oldest_pending_at,
        newest_pending_at: newest.map(from_ms).transpose()?,
        total_queue_size: pending + in_progress + compensating,
        backlog_hours: (backlog_hours * 100.0).round() / 100.0,
        draining: store.draining().await?,
    })
}

pub(super) async fn metrics(
    store: &OutboxStore,
    hours: u32,
    now: DateTime<Utc>,
) -> Result<OutboxMetrics, StoreError> {
    static_sql!(
        FINISHED,
        "SELECT sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END)::bigint,
                sum(CASE WHEN status IN ('dead', 'compensated') THEN 1 ELSE 0 END)::bigint,
                avg(CASE WHEN status = 'completed' THEN processed_at - created_at END)::float8
         FROM erp_outbox WHERE processed_at >= $1 AND processed_at <= $2"
    );
    static_sql!(
        RETRIES,
        "SELECT sum(attempts - 1)::bigint, count(*)::bigint,
                sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)::bigint
         FROM erp_outbox WHERE attempts > 0 AND updated_at >= $1 AND updated_at <= $2"
    );
    static_sql!(
        MOST_RETRIED,
        "SELECT saga_id::text, attempts::bigint FROM erp_outbox
         WHERE attempts > 1 AND updated_at >= $1 AND updated_at <= $2
         ORDER BY attempts DESC, saga_id LIMIT 1"
    );
    static_sql!(
        DEAD,
        "SELECT count(*)::bigint FROM erp_outbox WHERE status = 'dead'"
    );

    let start = now - chrono::Duration::hours(i64::from(hours));
    let window: [Arg; 2] = [to_ms(start).into(), to_ms(now).into()];
    let (succeeded, failed, avg_ms) = store
        .read_one(&FINISHED, &window, |row| {
            Ok((
                count(row.opt_i64(0)?),
                count(row.opt_i64(1)?),
                row.opt_f64(2)?,
            ))
        })
        .await?;
    let (total_retries, touched, with_retries) = store
        .read_one(&RETRIES, &window, |row| {
            Ok((
                count(row.opt_i64(0)?),
                count(row.opt_i64(1)?),
                count(row.opt_i64(2)?),
            ))
        })
        .await?;
    let most = store
        .read(&MOST_RETRIED, &window, |row| {
            Ok((parse_uuid(&row.text(0)?)?, row.i64(1)?))
        })
        .await?
        .into_iter()
        .next();
    let dead = store.read_one(&DEAD, &[], |row| row.i64(0)).await?;
    let processed = succeeded + failed;
    let round = |value: f64, places: i32| {
        let factor = 10f64.powi(places);
        (value * factor).round() / factor
    };
    Ok(OutboxMetrics {
        success_rate: if processed == 0 {
            100.0
        } else {
            round(succeeded as f64 * 100.0 / processed as f64, 2)
        },
        avg_latency_seconds: round(avg_ms.unwrap_or(0.0) / 1000.0, 3),
        total_processed: processed,
        total_succeeded: succeeded,
        total_failed: failed,
        retry_metrics: RetryMetrics {
            total_retries,
            avg_retries_per_saga: if touched == 0 {
                0.0
            } else {
                round(total_retries as f64 / touched as f64, 3)
            },
            max_retries_saga_id: most.map(|(id, _)| id),
            max_retries_count: most.map_or(0, |(_, attempts)| (attempts - 1).max(0) as u64),
            sagas_with_retries: with_retries,
        },
        dead_letter_queue_size: dead.max(0) as u64,
        period_start: start,
        period_end: now,
    })
}

pub(super) async fn failed(
    store: &OutboxStore,
    query: FailedQuery,
) -> Result<FailedPage, StoreError> {
    macro_rules! failed_where {
        (retrying) => {
            "status IN ('pending', 'in_progress', 'compensating') AND last_error IS NOT NULL"
        };
        (all) => {
            "((status IN ('pending', 'in_progress', 'compensating') AND last_error IS NOT NULL)
              OR status IN ('dead', 'compensated'))"
        };
    }
    macro_rules! failed_page {
        ($which:tt) => {
            sql!(concat!(
                "SELECT ",
                saga_columns!(),
                " FROM erp_outbox WHERE ",
                failed_where!($which),
                " ORDER BY updated_at DESC, saga_id LIMIT $1 OFFSET $2"
            ))
        };
    }
    macro_rules! failed_count {
        ($which:tt) => {
            sql!(concat!(
                "SELECT count(*)::bigint FROM erp_outbox WHERE ",
                failed_where!($which)
            ))
        };
    }
    let page = query.page.max(1);
    let page_size = query.page_size.clamp(1, FailedQuery::MAX_PAGE_SIZE);
    let (list, total): (&Sql, &Sql) = if query.include_dead {
        (failed_page!(all), failed_count!(all))
    } else {
        (failed_page!(retrying), failed_count!(retrying))
    };
    let offset = i64::from(page - 1) * i64::from(page_size);
    let items = store
        .read(
            list,
            &[i64::from(page_size).into(), offset.into()],
            decode_saga,
        )
        .await?
        .into_iter()
        .map(|saga| FailedItem {
            saga_id: saga.saga_id,
            tenant_id: saga.tenant_id.0,
            event_type: saga.event_type,
            idempotency_key: saga.idempotency_key,
            attempts: saga.attempts,
            last_error: saga.last_error,
            next_run_at: saga.next_run_at,
            created_at: saga.created_at,
            updated_at: saga.updated_at,
            status: saga.status,
            payload_summary: saga.payload_summary,
        })
        .collect();
    let total_count = store.read_one(total, &[], |row| row.i64(0)).await?;
    Ok(FailedPage {
        items,
        total_count: total_count.max(0) as u64,
        page,
        page_size,
    })
}

pub(super) async fn retry_one(
    conn: &mut Conn<'_>,
    saga_id: Uuid,
    now: i64,
) -> Result<SagaRecord, StoreError> {
    static_sql!(RESURRECT, concat!(
        "UPDATE erp_outbox SET status = CASE WHEN phase = 'compensate' THEN 'compensating' ELSE 'pending' END,
            attempts = 0, next_run_at = $2, processed_at = NULL, backoff_ms = NULL, updated_at = $2
         WHERE saga_id = $1::uuid AND status = 'dead' RETURNING ",
        saga_columns!()
    ));
    static_sql!(
        HURRY,
        concat!(
            "UPDATE erp_outbox SET next_run_at = $2, backoff_ms = NULL, updated_at = $2
         WHERE saga_id = $1::uuid AND status IN ('pending', 'compensating') AND lease_token IS NULL
         RETURNING ",
            saga_columns!()
        )
    );
    let id: Arg = saga_id.to_string().into();
    let (saga, token) = conn
        .fetch_optional(&BY_ID, std::slice::from_ref(&id), |row| {
            Ok((decode_saga(row)?, lease_token(row)?))
        })
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("saga {saga_id}")))?;
    let update = match saga.status {
        SagaStatus::Dead => &RESURRECT,
        SagaStatus::Pending | SagaStatus::Compensating if token.is_none() => &HURRY,
        SagaStatus::Pending | SagaStatus::Compensating | SagaStatus::InProgress => {
            return Err(StoreError::Conflict(format!(
                "saga {saga_id} is running in a worker right now"
            )));
        }
        SagaStatus::Completed | SagaStatus::Compensated => {
            return Err(StoreError::Conflict(format!(
                "saga {saga_id} is {} and cannot be retried",
                saga.status
            )));
        }
    };
    conn.fetch_optional(update, &[id, now.into()], decode_saga)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("saga {saga_id} changed while retrying")))
}

pub(super) async fn retry_dead(
    conn: &mut Conn<'_>,
    filter: &RetryFilter,
    now: i64,
) -> Result<u64, StoreError> {
    const SET: &str = "UPDATE erp_outbox SET \
         status = CASE WHEN phase = 'compensate' THEN 'compensating' ELSE 'pending' END, \
         attempts = 0, next_run_at = $1, processed_at = NULL, backoff_ms = NULL, updated_at = $1 \
         WHERE status = 'dead' \
         AND ($2::text IS NULL OR event_type = $2::text) \
         AND ($3::text IS NULL OR tenant_id = $3::text) \
         AND ($5::bigint IS NULL OR created_at >= $5::bigint) \
         AND ($6::bigint IS NULL OR created_at < $6::bigint) ";
    static RETRY: std::sync::LazyLock<Sql> = std::sync::LazyLock::new(|| {
        let postgres = format!(
            "{SET} AND ($4::text IS NULL OR strpos(coalesce(last_error, ''), $4::text) > 0)"
        );
        let sqlite = Sql::new(Box::leak(
            format!("{SET} AND ($4 IS NULL OR instr(coalesce(last_error, ''), $4) > 0)")
                .into_boxed_str(),
        ))
        .sqlite;
        Sql {
            postgres: Box::leak(postgres.into_boxed_str()),
            sqlite,
        }
    });
    conn.execute(
        &RETRY,
        &[
            now.into(),
            filter.event_type.clone().into(),
            filter.tenant_id.as_ref().map(|t| t.0.clone()).into(),
            filter.error_contains.clone().into(),
            filter.created_from.map(to_ms).into(),
            filter.created_to.map(to_ms).into(),
        ],
    )
    .await
}
