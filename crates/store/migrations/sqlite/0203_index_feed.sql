-- The search index's to-do list: one entry per article write or delete, appended in
-- change-sequence order and pruned once the index has committed past it.
--
-- It replaces the index on catalog_articles (tenant, seq) and catalog_index_deletions.
-- That index moved every rewritten article's entry from a random page to the end of
-- the index, one more scattered page per changed article for each delta's commit and
-- checkpoint; feed entries only ever go at the end and leave from the front.
CREATE TABLE catalog_index_feed (
    tenant   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    local_id INTEGER NOT NULL,
    -- 0: (re)index the article as stored; 1: remove it from the index.
    deleted  INTEGER NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;

-- The store does not know how far each index got: every article goes in with its last
-- sequence. The index reads only the entries past its own commit, and the first sync
-- prunes the rest.
INSERT INTO catalog_index_feed (tenant, seq, local_id, deleted)
SELECT tenant, seq, local_id, 0 FROM catalog_articles
UNION ALL
SELECT tenant, seq, local_id, 1 FROM catalog_index_deletions
ORDER BY 1, 2;

-- The feed holds every entry after this sequence: an index that committed less than it
-- (a lost directory, a second index) cannot catch up from the feed and is rebuilt from
-- the articles instead. 0: the feed above is complete.
ALTER TABLE catalog_tenant_state ADD COLUMN index_feed_start INTEGER NOT NULL DEFAULT 0;

DROP INDEX catalog_articles_seq;
DROP TABLE catalog_index_deletions;
