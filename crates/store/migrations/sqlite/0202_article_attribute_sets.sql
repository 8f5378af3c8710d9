-- An article's attributes in one row: a JSON array of [key, value, unit, lang] arrays,
-- trailing nulls left out, in the ERP's order (see catalog/attribute_sets.rs for why).
-- A rowid table, not WITHOUT ROWID: a row of 20 attributes is ~700 bytes and an ERP
-- with 100 attributes per article writes several KB, which a rowid table keeps on the
-- leaf page (up to ~4 KB) while an index B-tree would spill past ~1 KB into overflow
-- pages. Updating an article's attributes rewrites its row in place and leaves the
-- primary-key index alone.
CREATE TABLE catalog_article_attributes (
    tenant     TEXT NOT NULL,
    local_id   INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (tenant, local_id)
);

INSERT INTO catalog_article_attributes (tenant, local_id, attributes)
SELECT tenant, local_id, json_group_array(
           CASE
               WHEN lang IS NOT NULL THEN json_array(key, value, unit, lang)
               WHEN unit IS NOT NULL THEN json_array(key, value, unit)
               ELSE json_array(key, value)
           END ORDER BY ord)
FROM catalog_attributes
GROUP BY tenant, local_id
ORDER BY tenant, local_id;

DROP TABLE catalog_attributes;
