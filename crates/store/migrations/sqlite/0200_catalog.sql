-- Catalog store, id mappings and sync state. Every key starts with the tenant.
--
-- Child tables (attributes, images, references, category links) are WITHOUT ROWID and
-- clustered on (tenant, article local id, ordinal): a full sync appends them in key
-- order, a changed article rewrites one contiguous key range, and no secondary index
-- has to be maintained for 30 million attribute rows.

-- Per-tenant counters: local ids for new records, and the change sequence the search
-- index follows (every article write or delete takes the next value).
CREATE TABLE IF NOT EXISTS catalog_tenant_state (
    tenant        TEXT PRIMARY KEY,
    next_local_id INTEGER NOT NULL,
    next_seq      INTEGER NOT NULL
);

-- The id mapping (seed 002's SyncRecord): which local id an ERP record has, its ERP row
-- version, when it was last synced, and the full-sync generation that last saw it
-- (the sweep deletes what the latest full sync did not see).
CREATE TABLE IF NOT EXISTS catalog_ids (
    tenant          TEXT NOT NULL,
    entity          TEXT NOT NULL,
    erp_id          TEXT NOT NULL,
    local_id        INTEGER NOT NULL,
    provider        TEXT NOT NULL,
    erp_row_version INTEGER NOT NULL,
    last_synced_ms  INTEGER NOT NULL,
    seen_gen        INTEGER NOT NULL,
    PRIMARY KEY (tenant, entity, erp_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_articles (
    tenant       TEXT NOT NULL,
    local_id     INTEGER NOT NULL,
    erp_id       TEXT NOT NULL,
    number       TEXT NOT NULL,
    names        TEXT NOT NULL,
    descriptions TEXT NOT NULL,
    unit         TEXT,
    row_version  INTEGER NOT NULL,
    updated_at   TEXT,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (tenant, local_id)
) WITHOUT ROWID;
-- The search index catches up by change sequence.
CREATE INDEX IF NOT EXISTS catalog_articles_seq ON catalog_articles (tenant, seq);

CREATE TABLE IF NOT EXISTS catalog_attributes (
    tenant   TEXT NOT NULL,
    local_id INTEGER NOT NULL,
    ord      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    unit     TEXT,
    lang     TEXT,
    PRIMARY KEY (tenant, local_id, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_article_categories (
    tenant      TEXT NOT NULL,
    local_id    INTEGER NOT NULL,
    ord         INTEGER NOT NULL,
    category_id TEXT NOT NULL,
    PRIMARY KEY (tenant, local_id, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_images (
    tenant   TEXT NOT NULL,
    local_id INTEGER NOT NULL,
    ord      INTEGER NOT NULL,
    url      TEXT NOT NULL,
    caption  TEXT,
    display_order INTEGER NOT NULL,
    PRIMARY KEY (tenant, local_id, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_references (
    tenant   TEXT NOT NULL,
    local_id INTEGER NOT NULL,
    ord      INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    target   TEXT NOT NULL,
    PRIMARY KEY (tenant, local_id, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_categories (
    tenant      TEXT NOT NULL,
    local_id    INTEGER NOT NULL,
    erp_id      TEXT NOT NULL,
    parent      TEXT,
    names       TEXT NOT NULL,
    row_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, local_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS catalog_customers (
    tenant      TEXT NOT NULL,
    local_id    INTEGER NOT NULL,
    erp_id      TEXT NOT NULL,
    number      TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT,
    currency    TEXT NOT NULL,
    row_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, local_id)
) WITHOUT ROWID;

-- Articles deleted from the store, by change sequence, until the search index has
-- committed past them.
CREATE TABLE IF NOT EXISTS catalog_index_deletions (
    tenant   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    local_id INTEGER NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;

-- Where each stage of a tenant's sync stands. Written in the same transaction as the
-- batch it follows, so it can never run ahead of (or behind) committed data.
CREATE TABLE IF NOT EXISTS sync_checkpoints (
    tenant      TEXT NOT NULL,
    stage       TEXT NOT NULL,
    phase       TEXT NOT NULL,
    cursor      TEXT,
    generation  INTEGER NOT NULL,
    run_id      TEXT,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant, stage)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sync_runs (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    status      TEXT NOT NULL,
    upserted    INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS sync_runs_tenant ON sync_runs (tenant, started_ms);

-- SQLite has no advisory locks: a lease row per tenant. A holder renews it while it
-- works; a crashed holder's lease expires.
CREATE TABLE IF NOT EXISTS sync_locks (
    tenant     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
