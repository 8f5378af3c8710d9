-- An article's attributes in one row: a JSON array of [key, value, unit, lang] arrays,
-- trailing nulls left out, in the ERP's order (see catalog/attribute_sets.rs for why).
-- JSONB, so attribute filters can get a GIN index later without another migration.
CREATE TABLE catalog_article_attributes (
    tenant     TEXT NOT NULL,
    local_id   BIGINT NOT NULL,
    attributes JSONB NOT NULL,
    PRIMARY KEY (tenant, local_id)
);

INSERT INTO catalog_article_attributes (tenant, local_id, attributes)
SELECT tenant, local_id, jsonb_agg(
           CASE
               WHEN lang IS NOT NULL THEN jsonb_build_array(key, value, unit, lang)
               WHEN unit IS NOT NULL THEN jsonb_build_array(key, value, unit)
               ELSE jsonb_build_array(key, value)
           END ORDER BY ord)
FROM catalog_attributes
GROUP BY tenant, local_id;

DROP TABLE catalog_attributes;
