//! The catalog SQL, written once and compiled for each backend.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders (sqlx binds SQLite's `$n` by
//! number), `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING` and multi-row `VALUES`,
//! so one body serves both; only the pool type, the placeholders of generated bulk
//! statements (`push_placeholder`) and the bulk path for child rows (`insert_children`:
//! multi-row inserts on SQLite, `COPY` on PostgreSQL) differ. `include!` instead of generics
//! because sqlx's generic executor bounds would have to be repeated on every function.

pub(crate) mod sqlite {
    type DB = sqlx::Sqlite;
    include!("ops_body.rs");

    /// Anonymous `?`, not `$n`: for every bound value sqlx asks SQLite for the
    /// parameter's name, and SQLite finds a name by walking the list of all named
    /// parameters of the statement. With thousands of `$n` in one multi-row insert that
    /// is quadratic and was 85 % of a full sync's CPU time; anonymous parameters have no
    /// names to walk. Callers bind in placeholder order and never reuse one.
    fn push_placeholder(sql: &mut String, _n: usize) {
        sql.push('?');
    }

    /// Appends child rows with multi-row `INSERT ... VALUES`: `cells` holds the rows one
    /// after the other, `columns.len()` values each (the tenant is added in front).
    async fn insert_children(
        conn: &mut Conn,
        tenant: &str,
        table: &str,
        columns: &[&str],
        cells: &[Cell<'_>],
    ) -> Result<(), StoreError> {
        let width = columns.len();
        if width == 0 || cells.is_empty() {
            return Ok(());
        }
        let head = format!("INSERT INTO {table} (tenant, {})", columns.join(", "));
        let rows: Vec<&[Cell<'_>]> = cells.chunks(width).collect();
        insert_rows(conn, tenant, &head, width, "", &rows, |args, row| {
            for cell in row.iter() {
                match cell {
                    Cell::Int(v) => args.add(*v)?,
                    Cell::Text(v) => args.add(*v)?,
                    Cell::Opt(v) => args.add(*v)?,
                }
            }
            Ok(())
        })
        .await
    }

    /// The stored attributes of an article as text (a SQLite TEXT column already is).
    const ATTRIBUTES_AS_TEXT: &str = "attributes";

    const ATTRIBUTE_COUNT: &str = "SELECT coalesce(sum(json_array_length(attributes)), 0)
         FROM catalog_article_attributes WHERE tenant = $1";

    /// Writes the attribute rows of `sets` over the old ones in place (`ON CONFLICT DO
    /// UPDATE`) and deletes those of `rewrite` that now have none. In place because the
    /// table has rowids: a delete and insert would move the row to the end of the table
    /// and dirty two scattered pages (old leaf, index entry) besides the new one.
    async fn write_attribute_sets(
        conn: &mut Conn,
        tenant: &str,
        rewrite: &[i64],
        sets: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let kept: std::collections::HashSet<i64> = sets.iter().map(|(id, _)| *id).collect();
        let emptied: Vec<i64> = rewrite
            .iter()
            .copied()
            .filter(|id| !kept.contains(id))
            .collect();
        delete_local(conn, "catalog_article_attributes", tenant, &emptied).await?;
        insert_rows(
            conn,
            tenant,
            "INSERT INTO catalog_article_attributes (tenant, local_id, attributes)",
            2,
            "ON CONFLICT (tenant, local_id) DO UPDATE SET attributes = excluded.attributes",
            sets,
            |args, (local, attributes)| {
                args.add(*local)?;
                args.add(attributes.as_str())
            },
        )
        .await
    }

    /// Ids per prewarm read, and reads in flight at once.
    const PREWARM_CHUNK: usize = 250;
    const PREWARM_READS: usize = 4;

    /// Reads the stored rows that writing `ids` will touch, on pooled read connections,
    /// so that their pages are in the OS page cache when the writer gets to them.
    ///
    /// Why: a delta scatters its articles over the whole file (2.4 GB at 1.5M
    /// articles), and once the file has gone cold each changed article costs the writer
    /// several synchronous random reads (id mapping, article row, attribute row and its
    /// key), one at a time: 4.2–6.2 s for 10k articles against 0.9–1.1 s warm. Read
    /// connections run beside the writer (WAL) and several at once keep the disk's
    /// queue full. Best effort: the writer reads whatever is still cold.
    pub(crate) async fn prewarm(
        pool: &Pool,
        tenant: &str,
        entity: EntityKind,
        ids: &[&str],
    ) -> Result<(), StoreError> {
        use futures::StreamExt as _;
        let sql_for = |count: usize| match entity {
            EntityKind::Article => format!(
                "SELECT a.seq, typeof(s.attributes) FROM catalog_ids i
                 LEFT JOIN catalog_articles a ON a.tenant = i.tenant AND a.local_id = i.local_id
                 LEFT JOIN catalog_article_attributes s
                     ON s.tenant = i.tenant AND s.local_id = i.local_id
                 WHERE i.tenant = ? AND i.entity = ? AND i.erp_id IN {}",
                in_list(3, count)
            ),
            _ => format!(
                "SELECT local_id FROM catalog_ids WHERE tenant = ? AND entity = ? AND erp_id IN {}",
                in_list(3, count)
            ),
        };
        // Collected first: a lazy `map` in the stream makes its futures' lifetimes
        // higher-ranked, which tokio::spawn's `Send` check cannot prove.
        let reads: Vec<_> = ids
            .chunks(PREWARM_CHUNK)
            .map(|chunk| {
                let sql = sql_for(chunk.len());
                async move {
                    let mut args = Args::default();
                    args.add(tenant).map_err(encode_err)?;
                    args.add(entity_name(entity)).map_err(encode_err)?;
                    for id in chunk {
                        args.add(*id).map_err(encode_err)?;
                    }
                    let mut conn = pool.acquire().await?;
                    sqlx::query_with(AssertSqlSafe(sql), args)
                        .fetch_all(&mut *conn)
                        .await?;
                    Ok::<(), StoreError>(())
                }
            })
            .collect();
        let mut reads = futures::stream::iter(reads).buffer_unordered(PREWARM_READS);
        while let Some(result) = reads.next().await {
            result?;
        }
        Ok(())
    }

    /// SQLite plans every statement for its values anyway.
    async fn plan_bulk_statements(_tx: &mut Conn) -> Result<(), StoreError> {
        Ok(())
    }

    /// Waits for this file's writer turn ([`crate::db::sqlite_writer`], held until the
    /// transaction ends) and begins the transaction on the file's one catalog writer
    /// connection ([`crate::db::sqlite_write_pool`]).
    async fn begin_write(pool: &Pool) -> Result<WriteTx, StoreError> {
        let turn = crate::db::sqlite_writer(pool).lock_owned().await;
        let tx = crate::db::sqlite_write_pool(pool).begin().await?;
        Ok((Some(turn), tx))
    }
}

pub(crate) mod postgres {
    type DB = sqlx::Postgres;
    include!("ops_body.rs");

    fn push_placeholder(sql: &mut String, n: usize) {
        use std::fmt::Write as _;
        let _ = write!(sql, "${n}");
    }

    /// `COPY ... FROM STDIN` instead of multi-row inserts: PostgreSQL's bulk path skips
    /// parsing, planning and binding a statement of thousands of parameters per chunk,
    /// which made the full sync's child tables (30M attribute rows at 1.5M articles) cost
    /// most of its time. Child rows never conflict (their article's old rows were deleted
    /// in the same transaction), so COPY's lack of `ON CONFLICT` does not matter.
    async fn insert_children(
        conn: &mut Conn,
        tenant: &str,
        table: &str,
        columns: &[&str],
        cells: &[Cell<'_>],
    ) -> Result<(), StoreError> {
        let width = columns.len();
        if width == 0 || cells.is_empty() {
            return Ok(());
        }
        let statement = format!("COPY {table} (tenant, {}) FROM STDIN", columns.join(", "));
        let mut copy = conn.copy_in_raw(&statement).await?;
        let mut buf: Vec<u8> = Vec::with_capacity(COPY_CHUNK + 4096);
        for row in cells.chunks(width) {
            copy_text(&mut buf, tenant);
            for cell in row {
                buf.push(b'\t');
                match cell {
                    Cell::Int(v) => {
                        use std::io::Write as _;
                        let _ = write!(buf, "{v}");
                    }
                    Cell::Text(v) | Cell::Opt(Some(v)) => copy_text(&mut buf, v),
                    Cell::Opt(None) => buf.extend_from_slice(b"\\N"),
                }
            }
            buf.push(b'\n');
            if buf.len() >= COPY_CHUNK {
                copy.send(std::mem::take(&mut buf)).await?;
                buf.reserve(COPY_CHUNK + 4096);
            }
        }
        if !buf.is_empty() {
            copy.send(buf).await?;
        }
        copy.finish().await?;
        Ok(())
    }

    /// Bytes per COPY data message.
    const COPY_CHUNK: usize = 1 << 20;

    /// A value in COPY's text format: backslash, tab, newline and carriage return are
    /// escaped; everything else (UTF-8 included) goes as it is.
    fn copy_text(buf: &mut Vec<u8>, value: &str) {
        for byte in value.bytes() {
            match byte {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                other => buf.push(other),
            }
        }
    }

    const ATTRIBUTES_AS_TEXT: &str = "attributes::text";

    const ATTRIBUTE_COUNT: &str = "SELECT coalesce(sum(jsonb_array_length(attributes)), 0)::bigint
         FROM catalog_article_attributes WHERE tenant = $1";

    /// Deletes the old attribute rows of `rewrite` and copies in `sets`. (An UPDATE
    /// writes a new row version in PostgreSQL too, and COPY is the cheaper writer.)
    async fn write_attribute_sets(
        conn: &mut Conn,
        tenant: &str,
        rewrite: &[i64],
        sets: &[(i64, String)],
    ) -> Result<(), StoreError> {
        delete_local(conn, "catalog_article_attributes", tenant, rewrite).await?;
        let cells: Vec<Cell<'_>> = sets
            .iter()
            .flat_map(|(local, attributes)| [Cell::Int(*local), Cell::Text(attributes)])
            .collect();
        insert_children(
            conn,
            tenant,
            "catalog_article_attributes",
            &["local_id", "attributes"],
            &cells,
        )
        .await
    }

    /// The server keeps its own buffer cache and shares the hub's cores here; reading
    /// ahead would compete with the writer for both.
    pub(crate) async fn prewarm(
        _pool: &Pool,
        _tenant: &str,
        _entity: EntityKind,
        _ids: &[&str],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Plans this transaction's statements for their actual values.
    ///
    /// After five runs of one prepared statement PostgreSQL may switch to a generic plan.
    /// For `col IN ($2, ..., $1001)` that plan cannot hash the list (its items are
    /// parameters, not constants), and while a table is young its statistics say "small",
    /// so the generic plan is a sequential scan comparing every row with up to 1,000
    /// values: 1 s per id lookup of a batch at 20k articles, most of a full sync. A custom
    /// plan costs a millisecond of planning and hashes the list or uses the index.
    async fn plan_bulk_statements(tx: &mut Conn) -> Result<(), StoreError> {
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// PostgreSQL queues writers by row locks itself.
    async fn begin_write(pool: &Pool) -> Result<WriteTx, StoreError> {
        Ok((None, pool.begin().await?))
    }
}
