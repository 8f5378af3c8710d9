-- One 16-byte digest per child part of an article (attributes, category links, images,
-- references), so a changed article rewrites only the parts whose digest differs
-- without reading the old rows. NULL (rows written before this migration): rewrite all.
ALTER TABLE catalog_articles ADD COLUMN part_digests BLOB;
