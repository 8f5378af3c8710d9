#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("invalid database url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error(
        "the database has migration {version} applied, which this build does not know: it was written by a newer erpbridge"
    )]
    UnknownMigration { version: i64 },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(
        "idempotency key `{idempotency_key}` of tenant `{tenant_id}` is already used by saga {saga_id} with a different payload"
    )]
    IdempotencyConflict {
        tenant_id: String,
        idempotency_key: String,
        saga_id: uuid::Uuid,
    },
    #[error("saga {saga_id}: lease lost (the claim expired and another worker may hold it)")]
    LeaseLost { saga_id: uuid::Uuid },
}
