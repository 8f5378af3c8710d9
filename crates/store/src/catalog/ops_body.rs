// Included by `ops.rs` once per backend, with `DB` set to the backend's database type.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use erpbridge_model::{
    Article, ArticleReference, CatalogRecord, Category, CategoryId, ChangeCursor,
    Customer, CustomerId, EntityKind, Image, LocalizedText, ReferenceKind,
};
use sqlx::{Arguments as _, AssertSqlSafe, Row as _};

use crate::catalog::attribute_sets;
use crate::catalog::parts::{ArticlePart, PartDigests, kind_text, part_digests};
use crate::catalog::types::*;
use crate::error::StoreError;

type Pool = sqlx::Pool<DB>;
type Conn = <DB as sqlx::Database>::Connection;
type Args = <DB as sqlx::Database>::Arguments;
/// A write transaction and, on SQLite, the writer turn held until it ends.
type WriteTx = (
    Option<tokio::sync::OwnedMutexGuard<()>>,
    sqlx::Transaction<'static, DB>,
);

/// Bound values per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;
/// Rows per multi-row statement. Fixed, so full chunks reuse one prepared statement.
const ROWS_PER_STATEMENT: usize = 1_000;
/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 1_000;

fn encode_err(err: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(sqlx::Error::Encode(err))
}

/// `head VALUES (p, p, ...), (p, ...) suffix` with `width + 1` placeholders per row:
/// the tenant first, then the row's own values. Placeholders follow bind order and none
/// is reused, so SQLite can use anonymous `?` (see [`push_placeholder`]).
fn values_sql(head: &str, width: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::with_capacity(head.len() + suffix.len() + rows * (width * 7 + 6));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    let mut n = 1;
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for col in 0..=width {
            if col > 0 {
                sql.push(',');
            }
            push_placeholder(&mut sql, n);
            n += 1;
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    sql
}

/// The `n`th placeholder (1-based) as a string, for statements assembled with `format!`.
fn ph(n: usize) -> String {
    let mut out = String::with_capacity(6);
    push_placeholder(&mut out, n);
    out
}

/// `(p{first}, p{first+1}, ...)` with `count` placeholders.
fn in_list(first: usize, count: usize) -> String {
    let mut list = String::with_capacity(count * 7 + 2);
    list.push('(');
    for i in 0..count {
        if i > 0 {
            list.push(',');
        }
        push_placeholder(&mut list, first + i);
    }
    list.push(')');
    list
}

/// Arguments for `tenant = p1 AND col IN (p2, ...)`: the tenant, then `ids`.
fn tenant_and<'t, T>(tenant: &str, ids: &'t [T]) -> Result<Args, StoreError>
where
    &'t T: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut args = Args::default();
    args.add(tenant).map_err(encode_err)?;
    for id in ids {
        args.add(id).map_err(encode_err)?;
    }
    Ok(args)
}

/// Multi-row insert of `rows`, `width` values each, bound by `bind`.
async fn insert_rows<T>(
    conn: &mut Conn,
    tenant: &str,
    head: &str,
    width: usize,
    suffix: &str,
    rows: &[T],
    mut bind: impl FnMut(&mut Args, &T) -> Result<(), sqlx::error::BoxDynError>,
) -> Result<(), StoreError> {
    let per = (MAX_PARAMS / (width + 1)).min(ROWS_PER_STATEMENT);
    for chunk in rows.chunks(per) {
        let sql = values_sql(head, width, chunk.len(), suffix);
        let mut args = Args::default();
        for row in chunk {
            args.add(tenant).map_err(encode_err)?;
            bind(&mut args, row).map_err(encode_err)?;
        }
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `DELETE FROM table WHERE tenant = ? AND local_id IN (...)`.
async fn delete_local(
    conn: &mut Conn,
    table: &str,
    tenant: &str,
    local_ids: &[i64],
) -> Result<(), StoreError> {
    for chunk in local_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "DELETE FROM {table} WHERE tenant = {} AND local_id IN {}",
            ph(1),
            in_list(2, chunk.len())
        );
        let args = tenant_and(tenant, chunk)?;
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Appends `(seq, local_id)` entries to the search index's feed: articles to (re)index
/// as stored, or with `deleted` to remove.
async fn feed_index(
    conn: &mut Conn,
    tenant: &str,
    entries: &[(i64, i64)],
    deleted: bool,
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        tenant,
        "INSERT INTO catalog_index_feed (tenant, seq, local_id, deleted)",
        3,
        "",
        entries,
        |args, (seq, local_id)| {
            args.add(*seq)?;
            args.add(*local_id)?;
            args.add(deleted)
        },
    )
    .await
}

fn entity_table(entity: EntityKind) -> &'static str {
    match entity {
        EntityKind::Article => "catalog_articles",
        EntityKind::Category => "catalog_categories",
        EntityKind::Customer => "catalog_customers",
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn texts_json(texts: &LocalizedText) -> String {
    serde_json::to_string(texts).unwrap_or_else(|_| "{}".to_owned())
}

fn texts_parse(value: &str) -> Result<LocalizedText, StoreError> {
    serde_json::from_str(value).map_err(|err| StoreError::Corrupt(format!("texts: {err}")))
}

fn time_text(value: &Option<DateTime<Utc>>) -> Option<String> {
    value
        .as_ref()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn time_parse(value: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    value
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|err| StoreError::Corrupt(format!("timestamp `{text}`: {err}")))
        })
        .transpose()
}

fn kind_parse(value: &str) -> Result<ReferenceKind, StoreError> {
    Ok(match value {
        "accessory" => ReferenceKind::Accessory,
        "spare_part" => ReferenceKind::SparePart,
        "successor" => ReferenceKind::Successor,
        "alternative" => ReferenceKind::Alternative,
        "manufacturer" => ReferenceKind::Manufacturer,
        "customer" => ReferenceKind::Customer,
        "gtin" => ReferenceKind::Gtin,
        other => return Err(StoreError::Corrupt(format!("reference kind `{other}`"))),
    })
}

fn entity_parse(value: &str) -> Result<EntityKind, StoreError> {
    Ok(match value {
        "article" => EntityKind::Article,
        "category" => EntityKind::Category,
        "customer" => EntityKind::Customer,
        other => return Err(StoreError::Corrupt(format!("entity `{other}`"))),
    })
}

fn record_key(record: &CatalogRecord) -> (EntityKind, &str, Option<u64>) {
    match record {
        CatalogRecord::Article(a) => (EntityKind::Article, a.id.as_str(), Some(a.row_version)),
        CatalogRecord::Category(c) => (EntityKind::Category, c.id.as_str(), Some(c.row_version)),
        CatalogRecord::Customer(c) => (EntityKind::Customer, c.id.as_str(), Some(c.row_version)),
        CatalogRecord::Deleted { entity, id } => (*entity, id.as_str(), None),
    }
}

/// Takes `n` local ids and `n` change sequence numbers; returns the first of each.
async fn reserve(conn: &mut Conn, tenant: &str, n: i64) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "INSERT INTO catalog_tenant_state (tenant, next_local_id, next_seq)
         VALUES ($1, 1 + $2, 1 + $2)
         ON CONFLICT (tenant) DO UPDATE SET
             next_local_id = catalog_tenant_state.next_local_id + $2,
             next_seq = catalog_tenant_state.next_seq + $2
         RETURNING next_local_id, next_seq",
    )
    .bind(tenant)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    let next_local: i64 = row.try_get(0)?;
    let next_seq: i64 = row.try_get(1)?;
    Ok((next_local - n, next_seq - n))
}

/// Existing mappings of `ids`: erp id -> (local id, row version).
async fn existing(
    conn: &mut Conn,
    tenant: &str,
    entity: EntityKind,
    ids: &[&str],
) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT erp_id, local_id, erp_row_version FROM catalog_ids
             WHERE tenant = {} AND entity = {} AND erp_id IN {}",
            ph(1),
            ph(2),
            in_list(3, chunk.len())
        );
        let mut args = Args::default();
        args.add(tenant).map_err(encode_err)?;
        args.add(entity_name(entity)).map_err(encode_err)?;
        for id in chunk {
            args.add(*id).map_err(encode_err)?;
        }
        let rows = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            found.insert(row.try_get::<String, _>(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
    }
    Ok(found)
}

async fn write_checkpoint(
    conn: &mut Conn,
    tenant: &str,
    stage: EntityKind,
    checkpoint: &Checkpoint,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_checkpoints (tenant, stage, phase, cursor, generation, run_id, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, stage) DO UPDATE SET
             phase = excluded.phase, cursor = excluded.cursor, generation = excluded.generation,
             run_id = excluded.run_id, updated_ms = excluded.updated_ms",
    )
    .bind(tenant)
    .bind(entity_name(stage))
    .bind(checkpoint.phase.as_str())
    .bind(checkpoint.cursor.as_ref().map(|c| c.0.as_str()))
    .bind(checkpoint.generation)
    .bind(checkpoint.run_id.as_deref())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes records (content, children, mapping); articles are queued for the index.
async fn delete_records(
    conn: &mut Conn,
    tenant: &str,
    entity: EntityKind,
    victims: &[(String, i64)],
    first_seq: i64,
) -> Result<(), StoreError> {
    if victims.is_empty() {
        return Ok(());
    }
    let local_ids: Vec<i64> = victims.iter().map(|(_, id)| *id).collect();
    if entity == EntityKind::Article {
        for part in ArticlePart::ALL {
            delete_local(conn, part.table(), tenant, &local_ids).await?;
        }
        let queued: Vec<(i64, i64)> = local_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (first_seq + i as i64, *id))
            .collect();
        feed_index(conn, tenant, &queued, true).await?;
    }
    delete_local(conn, entity_table(entity), tenant, &local_ids).await?;
    for chunk in victims.chunks(IN_CHUNK) {
        let sql = format!(
            "DELETE FROM catalog_ids WHERE tenant = {} AND entity = {} AND erp_id IN {}",
            ph(1),
            ph(2),
            in_list(3, chunk.len())
        );
        let mut args = Args::default();
        args.add(tenant).map_err(encode_err)?;
        args.add(entity_name(entity)).map_err(encode_err)?;
        for (erp_id, _) in chunk {
            args.add(erp_id.as_str()).map_err(encode_err)?;
        }
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn apply_batch(pool: &Pool, batch: &Batch<'_>) -> Result<BatchOutcome, StoreError> {
    let tenant = batch.tenant;
    let entity = batch.stage;
    // Later records win over earlier ones with the same id, as they would if applied one
    // by one; keeping one per id also keeps multi-row inserts free of self-conflicts.
    let mut last_index: HashMap<&str, usize> = HashMap::with_capacity(batch.records.len());
    for (i, record) in batch.records.iter().enumerate() {
        let (kind, id, _) = record_key(record);
        if kind != entity {
            return Err(StoreError::Conflict(format!(
                "a {} record in the {} stage",
                entity_name(kind),
                entity_name(entity)
            )));
        }
        last_index.insert(id, i);
    }
    let (_turn, mut tx) = begin_write(pool).await?;
    plan_bulk_statements(&mut tx).await?;
    let n = batch.records.len() as i64;
    // A write first, so SQLite takes the write lock now instead of upgrading later.
    let (first_local, first_seq) = reserve(&mut tx, tenant, n.max(1)).await?;
    let ids: Vec<&str> = last_index.keys().copied().collect();
    let known = existing(&mut tx, tenant, entity, &ids).await?;

    let mut outcome = BatchOutcome::default();
    let mut mappings: Vec<(&str, i64, i64)> = Vec::new();
    let mut changed_local: Vec<i64> = Vec::new();
    let mut writes: Vec<(usize, i64, i64)> = Vec::new(); // (record index, local id, seq)
    let mut victims: Vec<(String, i64)> = Vec::new();
    let mut next_local = first_local;
    let mut next_seq = first_seq;
    for (i, record) in batch.records.iter().enumerate() {
        let (_, id, version) = record_key(record);
        if last_index.get(id) != Some(&i) {
            continue;
        }
        let old = known.get(id).copied();
        match (version, old) {
            (None, Some((local, _))) => victims.push((id.to_owned(), local)),
            (None, None) => {}
            (Some(version), Some((local, old_version))) if old_version == to_i64(version) => {
                outcome.skipped += 1;
                mappings.push((id, local, old_version));
            }
            (Some(version), old) => {
                let local = match old {
                    Some((local, _)) => {
                        changed_local.push(local);
                        local
                    }
                    None => {
                        next_local += 1;
                        next_local - 1
                    }
                };
                mappings.push((id, local, to_i64(version)));
                writes.push((i, local, next_seq));
                next_seq += 1;
            }
        }
    }
    let delete_seq = next_seq;
    delete_records(&mut tx, tenant, entity, &victims, delete_seq).await?;
    outcome.deleted = victims.iter().map(|(_, id)| *id).collect();

    insert_rows(
        &mut tx,
        tenant,
        "INSERT INTO catalog_ids (tenant, entity, erp_id, local_id, provider, erp_row_version, last_synced_ms, seen_gen)",
        7,
        "ON CONFLICT (tenant, entity, erp_id) DO UPDATE SET
             provider = excluded.provider, erp_row_version = excluded.erp_row_version,
             last_synced_ms = excluded.last_synced_ms, seen_gen = excluded.seen_gen",
        &mappings,
        |args, (id, local, version)| {
            args.add(entity_name(entity))?;
            args.add(*id)?;
            args.add(*local)?;
            args.add(batch.provider)?;
            args.add(*version)?;
            args.add(batch.now_ms)?;
            args.add(batch.generation)
        },
    )
    .await?;

    let mut seq = delete_seq + victims.len() as i64 - 1;
    match entity {
        EntityKind::Article => write_articles(&mut tx, batch, &writes, &changed_local).await?,
        EntityKind::Category => {
            write_categories(&mut tx, batch, &writes).await?;
            let renamed: std::collections::HashSet<i64> = changed_local.iter().copied().collect();
            let changed: Vec<&str> = writes
                .iter()
                .filter(|(_, local, _)| renamed.contains(local))
                .filter_map(|(i, _, _)| batch.records.get(*i).map(|r| record_key(r).1))
                .chain(victims.iter().map(|(id, _)| id.as_str()))
                .collect();
            seq = seq.max(touch_category_articles(&mut tx, tenant, &changed).await?);
        }
        EntityKind::Customer => write_customers(&mut tx, batch, &writes).await?,
    }
    write_checkpoint(&mut tx, tenant, entity, &batch.checkpoint, batch.now_ms).await?;
    tx.commit().await?;

    outcome.upserted = writes.iter().map(|(i, local, _)| (*i, *local)).collect();
    outcome.replaced = changed_local;
    outcome.seq = seq;
    Ok(outcome)
}

/// Gives every article linked to one of `categories` (erp ids) a new change sequence,
/// so the index feed hands them to the indexer again: their documents carry the
/// category names, which a renamed or deleted category has just changed. Returns the
/// last sequence used (0 when nothing was touched).
///
/// The link table has no index by category (it would slow every full sync for an
/// event that is rare), so this scans the tenant's links: fine for a rename.
async fn touch_category_articles(
    conn: &mut Conn,
    tenant: &str,
    categories: &[&str],
) -> Result<i64, StoreError> {
    let mut articles: Vec<i64> = Vec::new();
    for chunk in categories.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT DISTINCT local_id FROM catalog_article_categories
             WHERE tenant = {} AND category_id IN {}",
            ph(1),
            in_list(2, chunk.len())
        );
        let args = tenant_and(tenant, chunk)?;
        let found: Vec<i64> = sqlx::query_scalar_with(AssertSqlSafe(sql), args)
            .fetch_all(&mut *conn)
            .await?;
        articles.extend(found);
    }
    articles.sort_unstable();
    articles.dedup();
    if articles.is_empty() {
        return Ok(0);
    }
    let (_, first_seq) = reserve(conn, tenant, articles.len() as i64).await?;
    let entries: Vec<(i64, i64)> = (first_seq..).zip(articles.iter().copied()).collect();
    feed_index(conn, tenant, &entries, false).await?;
    Ok(first_seq + articles.len() as i64 - 1)
}

fn article_at<'a>(batch: &'a Batch<'_>, index: usize) -> Option<&'a Article> {
    match batch.records.get(index) {
        Some(CatalogRecord::Article(article)) => Some(article),
        _ => None,
    }
}

/// Writes new and changed articles. A changed article's child rows are rewritten only
/// for the parts whose digest differs from the stored one (see [`crate::catalog::parts`]).
async fn write_articles(
    conn: &mut Conn,
    batch: &Batch<'_>,
    writes: &[(usize, i64, i64)],
    changed_local: &[i64],
) -> Result<(), StoreError> {
    let tenant = batch.tenant;
    let stored = stored_digests(conn, tenant, changed_local).await?;
    let rows: Vec<(&Article, i64, i64, PartDigests)> = writes
        .iter()
        .filter_map(|(i, local, seq)| {
            article_at(batch, *i).map(|a| (a, *local, *seq, part_digests(a)))
        })
        .collect();
    // Per part: the articles whose rows of that part are (re)written.
    let mut changed_parts: Vec<(ArticlePart, Vec<(&Article, i64)>)> = Vec::with_capacity(3);
    for part in ArticlePart::ALL {
        let mut rewrite: Vec<i64> = Vec::new();
        let mut write: Vec<(&Article, i64)> = Vec::with_capacity(rows.len());
        for (article, local, _, digests) in &rows {
            match stored.get(local) {
                Some(old) if part.unchanged(old.as_deref(), digests) => {}
                Some(_) => {
                    rewrite.push(*local);
                    write.push((article, *local));
                }
                None => write.push((article, *local)),
            }
        }
        if part == ArticlePart::Attributes {
            let sets: Vec<(i64, String)> = write
                .iter()
                .filter(|(a, _)| !a.attributes.is_empty())
                .map(|(a, local)| (*local, attribute_sets::encode(&a.attributes)))
                .collect();
            write_attribute_sets(conn, tenant, &rewrite, &sets).await?;
            continue;
        }
        delete_local(conn, part.table(), tenant, &rewrite).await?;
        changed_parts.push((part, write));
    }
    insert_rows(
        conn,
        tenant,
        "INSERT INTO catalog_articles (tenant, local_id, erp_id, number, names, descriptions, unit, row_version, updated_at, seq, part_digests)",
        10,
        "ON CONFLICT (tenant, local_id) DO UPDATE SET
             erp_id = excluded.erp_id, number = excluded.number, names = excluded.names,
             descriptions = excluded.descriptions, unit = excluded.unit,
             row_version = excluded.row_version, updated_at = excluded.updated_at,
             seq = excluded.seq, part_digests = excluded.part_digests",
        &rows,
        |args, (a, local, seq, digests)| {
            args.add(*local)?;
            args.add(a.id.as_str())?;
            args.add(a.number.as_str())?;
            args.add(texts_json(&a.names))?;
            args.add(texts_json(&a.descriptions))?;
            args.add(a.unit.as_deref())?;
            args.add(to_i64(a.row_version))?;
            args.add(time_text(&a.updated_at))?;
            args.add(*seq)?;
            args.add(&digests[..])
        },
    )
    .await?;
    for (part, articles) in &changed_parts {
        write_part(conn, tenant, *part, articles).await?;
    }
    let entries: Vec<(i64, i64)> = rows.iter().map(|(_, local, seq, _)| (*seq, *local)).collect();
    feed_index(conn, tenant, &entries, false).await
}

/// The stored part digests of `local_ids`: every id is in the map, with `None` when the
/// row has no digests (written before they existed) or is missing.
async fn stored_digests(
    conn: &mut Conn,
    tenant: &str,
    local_ids: &[i64],
) -> Result<HashMap<i64, Option<Vec<u8>>>, StoreError> {
    let mut out: HashMap<i64, Option<Vec<u8>>> =
        local_ids.iter().map(|id| (*id, None)).collect();
    for chunk in local_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT local_id, part_digests FROM catalog_articles
             WHERE tenant = {} AND local_id IN {}",
            ph(1),
            in_list(2, chunk.len())
        );
        let args = tenant_and(tenant, chunk)?;
        for row in sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(&mut *conn)
            .await?
        {
            out.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(out)
}

/// Inserts the rows of one part of `articles` (whose old rows, if any, are gone):
/// category links, images, references.
async fn write_part(
    conn: &mut Conn,
    tenant: &str,
    part: ArticlePart,
    articles: &[(&Article, i64)],
) -> Result<(), StoreError> {
    use Cell::{Int, Opt, Text};
    let mut cells: Vec<Cell<'_>> = Vec::new();
    let columns: &[&str] = match part {
        // One row per article, written by `write_attribute_sets`.
        ArticlePart::Attributes => return Ok(()),
        ArticlePart::Categories => {
            for (a, local) in articles {
                for (ord, category) in a.categories.iter().enumerate() {
                    cells.extend([Int(*local), Int(ord as i64), Text(category.as_str())]);
                }
            }
            &["local_id", "ord", "category_id"]
        }
        ArticlePart::Images => {
            for (a, local) in articles {
                for (ord, image) in a.images.iter().enumerate() {
                    cells.extend([
                        Int(*local),
                        Int(ord as i64),
                        Text(&image.url),
                        Opt(image.caption.as_deref()),
                        Int(i64::from(image.position)),
                    ]);
                }
            }
            &["local_id", "ord", "url", "caption", "display_order"]
        }
        ArticlePart::References => {
            for (a, local) in articles {
                for (ord, r) in a.references.iter().enumerate() {
                    cells.extend([
                        Int(*local),
                        Int(ord as i64),
                        Text(kind_text(r.kind)),
                        Text(&r.target),
                    ]);
                }
            }
            &["local_id", "ord", "kind", "target"]
        }
    };
    insert_children(conn, tenant, part.table(), columns, &cells).await
}

/// One value of a child-table row, for whichever bulk path the backend takes.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Int(i64),
    Text(&'a str),
    Opt(Option<&'a str>),
}

async fn write_categories(
    conn: &mut Conn,
    batch: &Batch<'_>,
    writes: &[(usize, i64, i64)],
) -> Result<(), StoreError> {
    let rows: Vec<(&Category, i64)> = writes
        .iter()
        .filter_map(|(i, local, _)| match batch.records.get(*i) {
            Some(CatalogRecord::Category(c)) => Some((c, *local)),
            _ => None,
        })
        .collect();
    insert_rows(
        conn,
        batch.tenant,
        "INSERT INTO catalog_categories (tenant, local_id, erp_id, parent, names, row_version)",
        5,
        "ON CONFLICT (tenant, local_id) DO UPDATE SET
             erp_id = excluded.erp_id, parent = excluded.parent, names = excluded.names,
             row_version = excluded.row_version",
        &rows,
        |args, (c, local)| {
            args.add(*local)?;
            args.add(c.id.as_str())?;
            args.add(c.parent.as_ref().map(|p| p.as_str()))?;
            args.add(texts_json(&c.names))?;
            args.add(to_i64(c.row_version))
        },
    )
    .await
}

async fn write_customers(
    conn: &mut Conn,
    batch: &Batch<'_>,
    writes: &[(usize, i64, i64)],
) -> Result<(), StoreError> {
    let rows: Vec<(&Customer, i64)> = writes
        .iter()
        .filter_map(|(i, local, _)| match batch.records.get(*i) {
            Some(CatalogRecord::Customer(c)) => Some((c, *local)),
            _ => None,
        })
        .collect();
    insert_rows(
        conn,
        batch.tenant,
        "INSERT INTO catalog_customers (tenant, local_id, erp_id, number, name, email, currency, row_version)",
        7,
        "ON CONFLICT (tenant, local_id) DO UPDATE SET
             erp_id = excluded.erp_id, number = excluded.number, name = excluded.name,
             email = excluded.email, currency = excluded.currency,
             row_version = excluded.row_version",
        &rows,
        |args, (c, local)| {
            args.add(*local)?;
            args.add(c.id.as_str())?;
            args.add(c.number.as_str())?;
            args.add(c.name.as_str())?;
            args.add(c.email.as_deref())?;
            args.add(c.currency.as_str())?;
            args.add(to_i64(c.row_version))
        },
    )
    .await
}

pub(crate) async fn sweep_step(
    pool: &Pool,
    tenant: &str,
    entity: EntityKind,
    generation: i64,
    limit: u32,
) -> Result<SweepOutcome, StoreError> {
    let (_turn, mut tx) = begin_write(pool).await?;
    plan_bulk_statements(&mut tx).await?;
    let (_, first_seq) = reserve(&mut tx, tenant, i64::from(limit.max(1))).await?;
    let rows = sqlx::query(
        "SELECT erp_id, local_id FROM catalog_ids
         WHERE tenant = $1 AND entity = $2 AND seen_gen < $3
         ORDER BY erp_id LIMIT $4",
    )
    .bind(tenant)
    .bind(entity_name(entity))
    .bind(generation)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let victims = rows
        .iter()
        .map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    delete_records(&mut tx, tenant, entity, &victims, first_seq).await?;
    let mut seq = first_seq + victims.len() as i64 - 1;
    if entity == EntityKind::Category {
        let gone: Vec<&str> = victims.iter().map(|(id, _)| id.as_str()).collect();
        seq = seq.max(touch_category_articles(&mut tx, tenant, &gone).await?);
    }
    tx.commit().await?;
    Ok(SweepOutcome {
        deleted: victims.iter().map(|(_, id)| *id).collect(),
        seq,
    })
}

pub(crate) async fn checkpoint(
    pool: &Pool,
    tenant: &str,
    stage: EntityKind,
) -> Result<Option<Checkpoint>, StoreError> {
    let row = sqlx::query(
        "SELECT phase, cursor, generation, run_id FROM sync_checkpoints
         WHERE tenant = $1 AND stage = $2",
    )
    .bind(tenant)
    .bind(entity_name(stage))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let phase: String = row.try_get(0)?;
    Ok(Some(Checkpoint {
        phase: Phase::parse(&phase)
            .ok_or_else(|| StoreError::Corrupt(format!("checkpoint phase `{phase}`")))?,
        cursor: row.try_get::<Option<String>, _>(1)?.map(ChangeCursor),
        generation: row.try_get(2)?,
        run_id: row.try_get(3)?,
    }))
}

pub(crate) async fn save_checkpoint(
    pool: &Pool,
    tenant: &str,
    stage: EntityKind,
    checkpoint: &Checkpoint,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    write_checkpoint(&mut conn, tenant, stage, checkpoint, Utc::now().timestamp_millis()).await
}

pub(crate) async fn max_generation(pool: &Pool, tenant: &str) -> Result<i64, StoreError> {
    let value: Option<i64> =
        sqlx::query_scalar("SELECT max(generation) FROM sync_checkpoints WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    Ok(value.unwrap_or(0))
}

/// Loads full articles by local id; the map is keyed by local id.
async fn load_articles(
    conn: &mut Conn,
    tenant: &str,
    local_ids: &[i64],
) -> Result<HashMap<i64, StoredArticle>, StoreError> {
    let mut out: HashMap<i64, StoredArticle> = HashMap::with_capacity(local_ids.len());
    for chunk in local_ids.chunks(IN_CHUNK) {
        let t = ph(1);
        let list = in_list(2, chunk.len());
        let bind = || -> Result<Args, StoreError> {
            let mut args = Args::default();
            args.add(tenant).map_err(encode_err)?;
            for id in chunk {
                args.add(*id).map_err(encode_err)?;
            }
            Ok(args)
        };
        let sql = format!(
            "SELECT local_id, erp_id, number, names, descriptions, unit, row_version, updated_at, seq
             FROM catalog_articles WHERE tenant = {t} AND local_id IN {list}"
        );
        for row in sqlx::query_with(AssertSqlSafe(sql), bind()?)
            .fetch_all(&mut *conn)
            .await?
        {
            let local_id: i64 = row.try_get(0)?;
            let article = Article {
                id: row.try_get::<String, _>(1)?.into(),
                number: row.try_get(2)?,
                names: texts_parse(&row.try_get::<String, _>(3)?)?,
                descriptions: texts_parse(&row.try_get::<String, _>(4)?)?,
                categories: Vec::new(),
                unit: row.try_get(5)?,
                attributes: Vec::new(),
                images: Vec::new(),
                references: Vec::new(),
                row_version: row.try_get::<i64, _>(6)?.max(0) as u64,
                updated_at: time_parse(row.try_get(7)?)?,
            };
            let seq = row.try_get(8)?;
            out.insert(local_id, StoredArticle { local_id, seq, article });
        }
        let sql = format!(
            "SELECT local_id, {ATTRIBUTES_AS_TEXT} FROM catalog_article_attributes
             WHERE tenant = {t} AND local_id IN {list}"
        );
        for row in sqlx::query_with(AssertSqlSafe(sql), bind()?)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some(a) = out.get_mut(&row.try_get::<i64, _>(0)?) {
                a.article.attributes = attribute_sets::decode(&row.try_get::<String, _>(1)?)?;
            }
        }
        let sql = format!(
            "SELECT local_id, category_id FROM catalog_article_categories
             WHERE tenant = {t} AND local_id IN {list} ORDER BY local_id, ord"
        );
        for row in sqlx::query_with(AssertSqlSafe(sql), bind()?)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some(a) = out.get_mut(&row.try_get::<i64, _>(0)?) {
                a.article
                    .categories
                    .push(CategoryId(row.try_get::<String, _>(1)?));
            }
        }
        let sql = format!(
            "SELECT local_id, url, caption, display_order FROM catalog_images
             WHERE tenant = {t} AND local_id IN {list} ORDER BY local_id, ord"
        );
        for row in sqlx::query_with(AssertSqlSafe(sql), bind()?)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some(a) = out.get_mut(&row.try_get::<i64, _>(0)?) {
                a.article.images.push(Image {
                    url: row.try_get(1)?,
                    caption: row.try_get(2)?,
                    position: u32::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0),
                });
            }
        }
        let sql = format!(
            "SELECT local_id, kind, target FROM catalog_references
             WHERE tenant = {t} AND local_id IN {list} ORDER BY local_id, ord"
        );
        for row in sqlx::query_with(AssertSqlSafe(sql), bind()?)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some(a) = out.get_mut(&row.try_get::<i64, _>(0)?) {
                a.article.references.push(ArticleReference {
                    kind: kind_parse(&row.try_get::<String, _>(1)?)?,
                    target: row.try_get(2)?,
                });
            }
        }
    }
    Ok(out)
}

fn in_order(mut found: HashMap<i64, StoredArticle>, order: &[i64]) -> Vec<StoredArticle> {
    order.iter().filter_map(|id| found.remove(id)).collect()
}

pub(crate) async fn articles_by_local_ids(
    pool: &Pool,
    tenant: &str,
    local_ids: &[i64],
) -> Result<Vec<StoredArticle>, StoreError> {
    let mut conn = pool.acquire().await?;
    let found = load_articles(&mut conn, tenant, local_ids).await?;
    Ok(in_order(found, local_ids))
}

pub(crate) async fn article(
    pool: &Pool,
    tenant: &str,
    erp_id: &str,
) -> Result<Option<Article>, StoreError> {
    let mut conn = pool.acquire().await?;
    let local: Option<i64> = sqlx::query_scalar(
        "SELECT local_id FROM catalog_ids WHERE tenant = $1 AND entity = 'article' AND erp_id = $2",
    )
    .bind(tenant)
    .bind(erp_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(local) = local else { return Ok(None) };
    let found = load_articles(&mut conn, tenant, &[local]).await?;
    Ok(in_order(found, &[local]).pop().map(|s| s.article))
}

pub(crate) async fn articles_page(
    pool: &Pool,
    tenant: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Article>, StoreError> {
    let mut conn = pool.acquire().await?;
    let locals: Vec<i64> = match after {
        Some(after) => sqlx::query_scalar(
            "SELECT local_id FROM catalog_ids WHERE tenant = $1 AND entity = 'article' AND erp_id > $2
             ORDER BY erp_id LIMIT $3",
        )
        .bind(tenant)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?,
        None => sqlx::query_scalar(
            "SELECT local_id FROM catalog_ids WHERE tenant = $1 AND entity = 'article'
             ORDER BY erp_id LIMIT $2",
        )
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?,
    };
    let found = load_articles(&mut conn, tenant, &locals).await?;
    Ok(in_order(found, &locals).into_iter().map(|s| s.article).collect())
}

pub(crate) async fn categories(pool: &Pool, tenant: &str) -> Result<Vec<Category>, StoreError> {
    let rows = sqlx::query(
        "SELECT erp_id, parent, names, row_version FROM catalog_categories
         WHERE tenant = $1 ORDER BY erp_id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Category {
                id: row.try_get::<String, _>(0)?.into(),
                parent: row.try_get::<Option<String>, _>(1)?.map(CategoryId),
                names: texts_parse(&row.try_get::<String, _>(2)?)?,
                row_version: row.try_get::<i64, _>(3)?.max(0) as u64,
            })
        })
        .collect()
}

pub(crate) async fn customers_page(
    pool: &Pool,
    tenant: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Customer>, StoreError> {
    let rows = sqlx::query(
        "SELECT erp_id, number, name, email, currency, row_version FROM catalog_customers
         WHERE tenant = $1 AND erp_id > $2 ORDER BY erp_id LIMIT $3",
    )
    .bind(tenant)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Customer {
                id: CustomerId(row.try_get(0)?),
                number: row.try_get(1)?,
                name: row.try_get(2)?,
                email: row.try_get(3)?,
                currency: row.try_get(4)?,
                row_version: row.try_get::<i64, _>(5)?.max(0) as u64,
            })
        })
        .collect()
}

pub(crate) async fn counts(pool: &Pool, tenant: &str) -> Result<CatalogCounts, StoreError> {
    let mut conn = pool.acquire().await?;
    let mut get = async |sql: &'static str| -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql)
            .bind(tenant)
            .fetch_one(&mut *conn)
            .await?;
        Ok(n.max(0) as u64)
    };
    Ok(CatalogCounts {
        articles: get("SELECT count(*) FROM catalog_articles WHERE tenant = $1").await?,
        attributes: get(ATTRIBUTE_COUNT).await?,
        category_links: get("SELECT count(*) FROM catalog_article_categories WHERE tenant = $1")
            .await?,
        images: get("SELECT count(*) FROM catalog_images WHERE tenant = $1").await?,
        references: get("SELECT count(*) FROM catalog_references WHERE tenant = $1").await?,
        categories: get("SELECT count(*) FROM catalog_categories WHERE tenant = $1").await?,
        customers: get("SELECT count(*) FROM catalog_customers WHERE tenant = $1").await?,
        mappings: get("SELECT count(*) FROM catalog_ids WHERE tenant = $1").await?,
    })
}

pub(crate) async fn entity_count(
    pool: &Pool,
    tenant: &str,
    entity: EntityKind,
) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_ids WHERE tenant = $1 AND entity = $2")
        .bind(tenant)
        .bind(entity_name(entity))
        .fetch_one(pool)
        .await?;
    Ok(n.max(0) as u64)
}

pub(crate) async fn mapping(
    pool: &Pool,
    tenant: &str,
    entity: EntityKind,
    erp_id: &str,
) -> Result<Option<SyncMapping>, StoreError> {
    let row = sqlx::query(
        "SELECT provider, entity, local_id, erp_id, erp_row_version, last_synced_ms, seen_gen
         FROM catalog_ids WHERE tenant = $1 AND entity = $2 AND erp_id = $3",
    )
    .bind(tenant)
    .bind(entity_name(entity))
    .bind(erp_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(SyncMapping {
        tenant: tenant.to_owned(),
        provider: row.try_get(0)?,
        entity: entity_parse(&row.try_get::<String, _>(1)?)?,
        local_id: row.try_get(2)?,
        erp_id: row.try_get(3)?,
        erp_row_version: row.try_get::<i64, _>(4)?.max(0) as u64,
        last_synced_ms: row.try_get(5)?,
        seen_generation: row.try_get(6)?,
    }))
}

pub(crate) async fn current_seq(pool: &Pool, tenant: &str) -> Result<i64, StoreError> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT next_seq FROM catalog_tenant_state WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(pool)
            .await?;
    Ok(next.map_or(0, |n| n - 1))
}

pub(crate) async fn index_feed(
    pool: &Pool,
    tenant: &str,
    after: i64,
    limit: u32,
) -> Result<IndexFeedPage, StoreError> {
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query(
        "SELECT seq, local_id, deleted FROM catalog_index_feed
         WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(tenant)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: Vec<(i64, i64, bool)> = Vec::with_capacity(rows.len());
    for row in &rows {
        entries.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?));
    }
    let last_seq = entries.last().map(|(seq, _, _)| *seq);
    // An article written several times in this page is indexed once, at its last entry.
    let mut latest: HashMap<i64, i64> = HashMap::with_capacity(entries.len());
    for (seq, local_id, deleted) in &entries {
        if !deleted {
            latest.insert(*local_id, *seq);
        }
    }
    let mut order: Vec<(i64, i64)> = latest.into_iter().map(|(id, seq)| (seq, id)).collect();
    order.sort_unstable();
    let ids: Vec<i64> = order.iter().map(|(_, id)| *id).collect();
    let mut found = load_articles(&mut conn, tenant, &ids).await?;
    // Missing articles were deleted after their entry; a later entry says so.
    let articles = order
        .into_iter()
        .filter_map(|(seq, id)| {
            found.remove(&id).map(|mut stored| {
                stored.seq = seq;
                stored
            })
        })
        .collect();
    Ok(IndexFeedPage { articles, last_seq })
}

pub(crate) async fn index_deletions(
    pool: &Pool,
    tenant: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, local_id FROM catalog_index_feed WHERE tenant = $1 AND seq > $2 AND deleted
         ORDER BY seq LIMIT $3",
    )
    .bind(tenant)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub(crate) async fn prune_index_feed(
    pool: &Pool,
    tenant: &str,
    upto: i64,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM catalog_index_feed WHERE tenant = $1 AND seq <= $2")
        .bind(tenant)
        .bind(upto)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE catalog_tenant_state SET index_feed_start = $2
         WHERE tenant = $1 AND index_feed_start < $2",
    )
    .bind(tenant)
    .bind(upto)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn index_feed_start(pool: &Pool, tenant: &str) -> Result<i64, StoreError> {
    let start: Option<i64> = sqlx::query_scalar(
        "SELECT index_feed_start FROM catalog_tenant_state WHERE tenant = $1",
    )
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    Ok(start.unwrap_or(0))
}

pub(crate) async fn stored_articles_page(
    pool: &Pool,
    tenant: &str,
    after_local_id: i64,
    limit: u32,
) -> Result<Vec<StoredArticle>, StoreError> {
    let mut conn = pool.acquire().await?;
    let locals: Vec<i64> = sqlx::query_scalar(
        "SELECT local_id FROM catalog_articles WHERE tenant = $1 AND local_id > $2
         ORDER BY local_id LIMIT $3",
    )
    .bind(tenant)
    .bind(after_local_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let found = load_articles(&mut conn, tenant, &locals).await?;
    Ok(in_order(found, &locals))
}

pub(crate) async fn start_run(pool: &Pool, run: &SyncRun) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_runs (id, tenant, mode, started_ms, status) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(run.id.as_str())
    .bind(run.tenant.as_str())
    .bind(run.mode.as_str())
    .bind(run.started_ms)
    .bind(run.status.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn finish_run(pool: &Pool, run: &SyncRun) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_runs SET finished_ms = $1, status = $2, upserted = $3, deleted = $4,
             skipped = $5, error = $6
         WHERE id = $7 AND tenant = $8",
    )
    .bind(run.finished_ms)
    .bind(run.status.as_str())
    .bind(to_i64(run.upserted))
    .bind(to_i64(run.deleted))
    .bind(to_i64(run.skipped))
    .bind(run.error.as_deref())
    .bind(run.id.as_str())
    .bind(run.tenant.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn runs(pool: &Pool, tenant: &str, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, mode, started_ms, finished_ms, status, upserted, deleted, skipped, error
         FROM sync_runs WHERE tenant = $1 ORDER BY started_ms DESC, id DESC LIMIT $2",
    )
    .bind(tenant)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get(4)?;
            Ok(SyncRun {
                id: row.try_get(0)?,
                tenant: tenant.to_owned(),
                mode: row.try_get(1)?,
                started_ms: row.try_get(2)?,
                finished_ms: row.try_get(3)?,
                status: RunStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("run status `{status}`")))?,
                upserted: row.try_get::<i64, _>(5)?.max(0) as u64,
                deleted: row.try_get::<i64, _>(6)?.max(0) as u64,
                skipped: row.try_get::<i64, _>(7)?.max(0) as u64,
                error: row.try_get(8)?,
            })
        })
        .collect()
}
