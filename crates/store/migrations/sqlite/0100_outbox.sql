-- The durable outbox (seed 004's erp_outbox, made precise in DESIGN.md "Outbox semantics").
-- Times are Unix epoch milliseconds (UTC) taken from the application clock, in both
-- backends, so one code path computes due times, leases and metrics.
CREATE TABLE IF NOT EXISTS erp_outbox (
    saga_id               TEXT PRIMARY KEY,            -- UUID v7 (time ordered)
    tenant_id             TEXT NOT NULL,
    idempotency_key       TEXT NOT NULL,
    event_type            TEXT NOT NULL,
    payload               TEXT NOT NULL,               -- canonical JSON
    payload_sha256        TEXT NOT NULL,               -- hex digest of `payload`
    payload_summary       TEXT NOT NULL DEFAULT '',
    status                TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'dead', 'compensating', 'compensated')),
    -- 'forward' runs steps 0..n; 'compensate' undoes completed steps in reverse.
    phase                 TEXT NOT NULL DEFAULT 'forward' CHECK (phase IN ('forward', 'compensate')),
    -- Forward: steps completed so far. Compensate: steps still to undo.
    step                  INTEGER NOT NULL DEFAULT 0,
    saga_state            TEXT,                        -- JSON outputs of completed steps
    attempts              INTEGER NOT NULL DEFAULT 0,  -- executions started (claims)
    -- When the row is next claimable: its due time, or while claimed, its lease expiry.
    next_run_at           INTEGER NOT NULL,
    lease_token           TEXT,                        -- the current claim; fences late writers
    last_error            TEXT,
    backoff_ms            INTEGER,                     -- the delay chosen at the last failure
    result_payload        TEXT,
    processing_started_at INTEGER,
    processed_at          INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
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
    updated_at INTEGER NOT NULL
);
