-- The durable outbox (seed 004's erp_outbox, made precise in DESIGN.md "Outbox semantics").
-- Times are Unix epoch milliseconds (UTC) taken from the application clock, in both
-- backends, so one code path computes due times, leases and metrics.
CREATE TABLE IF NOT EXISTS erp_outbox (
    saga_id               UUID PRIMARY KEY,            -- UUID v7 (time ordered)
    tenant_id             TEXT NOT NULL,
    idempotency_key       VARCHAR(128) NOT NULL,
    event_type            VARCHAR(64) NOT NULL,
    payload               JSONB NOT NULL,
    payload_sha256        TEXT NOT NULL,               -- hex digest of the canonical JSON
    payload_summary       TEXT NOT NULL DEFAULT '',
    status                VARCHAR(32) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'dead', 'compensating', 'compensated')),
    -- 'forward' runs steps 0..n; 'compensate' undoes completed steps in reverse.
    phase                 VARCHAR(16) NOT NULL DEFAULT 'forward' CHECK (phase IN ('forward', 'compensate')),
    -- Forward: steps completed so far. Compensate: steps still to undo.
    step                  INTEGER NOT NULL DEFAULT 0,
    saga_state            JSONB,                       -- outputs of completed steps
    attempts              INTEGER NOT NULL DEFAULT 0,  -- executions started (claims)
    -- When the row is next claimable: its due time, or while claimed, its lease expiry.
    next_run_at           BIGINT NOT NULL,
    lease_token           UUID,                        -- the current claim; fences late writers
    last_error            TEXT,
    backoff_ms            BIGINT,                      -- the delay chosen at the last failure
    result_payload        JSONB,
    processing_started_at BIGINT,
    processed_at          BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    CONSTRAINT uq_erp_outbox_idempotency UNIQUE (tenant_id, idempotency_key)
);

-- The claim query: active rows by due time.
CREATE INDEX IF NOT EXISTS erp_outbox_due ON erp_outbox (next_run_at)
    WHERE status IN ('pending', 'in_progress', 'compensating');
CREATE INDEX IF NOT EXISTS erp_outbox_status_created ON erp_outbox (status, created_at);
CREATE INDEX IF NOT EXISTS erp_outbox_processed ON erp_outbox (processed_at)
    WHERE processed_at IS NOT NULL;

-- Switches every process must see (the drain switch).
CREATE TABLE IF NOT EXISTS erp_outbox_control (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
