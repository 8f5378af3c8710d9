//! The database handle: which backend, how to open it, how to bring its schema up to date.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use crate::error::StoreError;
use crate::migrations::MIGRATIONS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How hard SQLite works to keep a committed transaction across a power cut.
///
/// `Full` syncs the WAL on every commit. `Normal` (with WAL) survives a crash of the
/// process (SIGKILL) but may lose the last commits on power loss; it is several times
/// faster. The outbox's promise ("nothing is lost") needs `Full` in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    #[default]
    Full,
    Normal,
}

/// The in-process queue of writers to one SQLite file.
///
/// SQLite lets one writer in at a time and makes the others poll with sleeps (the busy
/// handler), which is not fair: a writer that commits and begins again at once (a sync
/// writing batch after batch) can starve a waiting one past any busy timeout. Seen here:
/// one tenant's sync failing with "database is locked" while another tenant's sync
/// committed, and an operator's drain switch blocked for the length of a catalog sync.
/// Every write transaction of this crate on SQLite first takes this lock; tokio's mutex
/// is FIFO, so writers in this process take turns and wait in a queue, not in a poll
/// loop. Writers in other processes still meet SQLite's busy timeout.
pub(crate) fn sqlite_writer(pool: &SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    static WRITERS: OnceLock<StdMutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    // Two spellings of one file must share a queue; a file not there yet keeps its own.
    let key = std::fs::canonicalize(&file).unwrap_or(file);
    let mut writers = WRITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(writers.entry(key).or_default())
}

/// The one connection catalog write transactions of a SQLite file run on.
///
/// In WAL mode a connection throws its whole page cache away when another connection has
/// written since its last transaction, and the pool hands each transaction whichever
/// connection is idle, so consecutive catalog batches kept starting cold and re-read their
/// pages with `pread` (a quarter of a delta sync's SQLite time at 1.5M articles). Writers
/// take turns anyway ([`sqlite_writer`]); giving the catalog's turns one connection keeps
/// its cache warm from batch to batch. A pool of one, not a held connection, so that it
/// closes by itself when idle and never keeps the main pool from closing.
pub(crate) fn sqlite_write_pool(pool: &SqlitePool) -> SqlitePool {
    static POOLS: OnceLock<StdMutex<HashMap<PathBuf, SqlitePool>>> = OnceLock::new();
    let options = pool.connect_options();
    let file = options.get_filename().to_path_buf();
    let key = std::fs::canonicalize(&file).unwrap_or(file);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pools
        .entry(key)
        .or_insert_with(|| {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(30))
                .connect_lazy_with(options.as_ref().clone())
        })
        .clone()
}

/// Connections of a SQLite pool when the caller does not say.
pub const DEFAULT_SQLITE_POOL_SIZE: u32 = 8;

/// A connection pool to one of the two backends. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Opens (creating if needed) a SQLite database file with the settings the hub
    /// relies on: WAL so readers never block the writer, a busy timeout so concurrent
    /// writers queue instead of failing, and foreign keys on.
    pub async fn open_sqlite(
        path: &Path,
        durability: SqliteDurability,
    ) -> Result<Self, StoreError> {
        Self::open_sqlite_sized(path, durability, DEFAULT_SQLITE_POOL_SIZE).await
    }

    /// [`Self::open_sqlite`] with at most `pool_size` connections (`[store] pool_size`;
    /// 0 counts as 1). Writers take turns anyway (one writer queue per file), so more
    /// connections buy concurrent readers: search, live lookups, the operator API.
    pub async fn open_sqlite_sized(
        path: &Path,
        durability: SqliteDurability,
        pool_size: u32,
    ) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|err| StoreError::InvalidUrl {
                url: path.display().to_string(),
                reason: format!("cannot create directory {}: {err}", parent.display()),
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                SqliteDurability::Full => SqliteSynchronous::Full,
                SqliteDurability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536")
            // Checkpoints run in the background (`spawn_checkpointer`), not in commits.
            .pragma("wal_autocheckpoint", "0")
            // A WAL that grew during a burst is cut back to this size once checkpointed.
            .pragma("journal_size_limit", "67108864")
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_size.max(1))
            .min_connections(1)
            .connect_with(options)
            .await?;
        spawn_checkpointer(&pool, CHECKPOINTS);
        Ok(Db::Sqlite(pool))
    }

    /// Connects to PostgreSQL with a `postgres://` URL.
    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|err| StoreError::InvalidUrl {
                url: redact(url),
                reason: err.to_string(),
            })?
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        Ok(Db::Postgres(pool))
    }

    /// Opens either backend from a URL: `sqlite://PATH` / a plain path, or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url, 16).await
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Self::open_sqlite(Path::new(path), SqliteDurability::Full).await
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration this build knows and the database lacks, in order.
    /// Refuses to run against a database migrated by a newer build.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_up_to(i64::MAX).await
    }

    /// [`Db::migrate`], stopping after migration `last`: for tests of a migration's data
    /// conversion, which need rows written in the schema before it.
    #[doc(hidden)]
    pub async fn migrate_up_to(&self, last: i64) -> Result<(), StoreError> {
        let pending = |applied: &[i64]| {
            MIGRATIONS
                .iter()
                .filter(move |m| m.version <= last && !applied.contains(&m.version))
                .collect::<Vec<_>>()
        };
        match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // BEGIN IMMEDIATE takes the write lock up front, so two processes
                // migrating one file at once run one after the other.
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                )
                .execute(&mut *conn)
                .await?;
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                        .fetch_all(&mut *conn)
                        .await?;
                check_known(&applied)?;
                for migration in pending(&applied) {
                    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                    let result = async {
                        sqlx::raw_sql(migration.sqlite).execute(&mut *conn).await?;
                        sqlx::query(
                            "INSERT INTO schema_migrations (version, name, applied_at)
                             VALUES (?, ?, datetime('now'))",
                        )
                        .bind(migration.version)
                        .bind(migration.name)
                        .execute(&mut *conn)
                        .await?;
                        Ok::<_, sqlx::Error>(())
                    }
                    .await;
                    match result {
                        Ok(()) => {
                            sqlx::query("COMMIT").execute(&mut *conn).await?;
                        }
                        Err(source) => {
                            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                            return Err(StoreError::Migration {
                                version: migration.version,
                                name: migration.name,
                                source,
                            });
                        }
                    }
                }
                Ok(())
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin().await?;
                // One advisory lock for the whole migration run: hub processes starting
                // together against one database migrate one at a time.
                sqlx::query("SELECT pg_advisory_xact_lock(7262891)")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                )
                .execute(&mut *tx)
                .await?;
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                        .fetch_all(&mut *tx)
                        .await?;
                check_known(&applied)?;
                for migration in pending(&applied) {
                    sqlx::raw_sql(migration.postgres)
                        .execute(&mut *tx)
                        .await
                        .map_err(|source| StoreError::Migration {
                            version: migration.version,
                            name: migration.name,
                            source,
                        })?;
                    sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
                        .bind(migration.version)
                        .bind(migration.name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }
}

/// When the background checkpointer copies the WAL into the database file.
#[derive(Debug, Clone, Copy)]
struct CheckpointPolicy {
    /// How often it looks at the WAL.
    every: Duration,
    /// While writes go on, a non-blocking checkpoint at most this often (so that a
    /// busy hub's WAL keeps being copied and reused without a quiet moment).
    busy_every: Duration,
    /// A WAL this big is checkpointed and truncated at once, between two write
    /// transactions, even while writes go on.
    truncate_at: u64,
}

const CHECKPOINTS: CheckpointPolicy = CheckpointPolicy {
    every: Duration::from_secs(1),
    busy_every: Duration::from_secs(10),
    // A delta of 10,000 articles at 1.5M writes ~250 MB of WAL: let it finish first.
    truncate_at: 512 << 20,
};

/// Checkpoints the WAL of `pool`'s file from a connection of its own, until the pool
/// is closed or dropped: once the WAL has been quiet for a tick (a burst of writes is
/// over), every `busy_every` while writes go on, and at once when it has grown past
/// `truncate_at`.
///
/// Why not SQLite's automatic checkpoint: it runs inside the commit that pushes the WAL
/// past 1,000 pages, so that commit also copies every page into the database file and
/// syncs it. A delta sync of 10,000 articles at 1.5M dirties ~60,000 scattered pages;
/// measured on the catalog at 1.5M, a 1,000-article batch spent 0.46 s in such commits,
/// 0.09 s without them. SQLite's documentation names this way out: turn the automatic
/// checkpoint off and checkpoint from another thread. Waiting for a quiet WAL also copies
/// a page written by many transactions (B-tree interior pages) once, not once per
/// checkpoint.
///
/// Why the size limit: a `PASSIVE` checkpoint never waits for writers, so under
/// continuous writes (a full sync) it never catches up with the end of the WAL, SQLite
/// never starts the WAL over, and the file grows (880 MB seen at 1.5M articles). Past
/// the limit the checkpointer takes its turn in the file's writer queue like any writer
/// and runs `TRUNCATE`, which copies everything and empties the WAL.
///
/// The WAL protects every commit until it is copied; when the last connection closes,
/// SQLite checkpoints what is left.
fn spawn_checkpointer(pool: &SqlitePool, policy: CheckpointPolicy) {
    let options = pool.connect_options().as_ref().clone();
    let mut closed = pool.close_event();
    let writer = sqlite_writer(pool);
    let file = options.get_filename().to_path_buf();
    let mut wal_name = file.clone().into_os_string();
    wal_name.push("-wal");
    let wal = PathBuf::from(wal_name);
    tokio::spawn(async move {
        let mut conn = match options.connect().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(%err, file = %file.display(), "cannot open the WAL checkpointer's connection; checkpoints wait for the last connection to close");
                return;
            }
        };
        let work = async {
            let mut tick = tokio::time::interval(policy.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The WAL's (length, mtime) at the last tick and at the last checkpoint.
            let mut last_seen = None;
            let mut last_checkpointed = None;
            // Since when the WAL has held writes not yet checkpointed.
            let mut unsaved_since: Option<tokio::time::Instant> = None;
            loop {
                tick.tick().await;
                let Ok(meta) = std::fs::metadata(&wal) else {
                    continue;
                };
                let now = Some((meta.len(), meta.modified().ok()));
                let unsaved = now != last_checkpointed && meta.len() > 0;
                let quiet = unsaved && now == last_seen;
                if !unsaved {
                    unsaved_since = None;
                }
                let busy_due = unsaved
                    && unsaved_since
                        .get_or_insert_with(tokio::time::Instant::now)
                        .elapsed()
                        >= policy.busy_every;
                last_seen = now;
                let result = if meta.len() >= policy.truncate_at {
                    let _turn = writer.lock().await;
                    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .execute(&mut conn)
                        .await
                } else if quiet || busy_due {
                    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&mut conn)
                        .await
                } else {
                    continue;
                };
                match result {
                    Ok(_) => {
                        last_checkpointed = now;
                        unsaved_since = None;
                    }
                    Err(err) => {
                        tracing::warn!(%err, file = %file.display(), "WAL checkpoint failed; retrying")
                    }
                }
            }
        };
        // `do_until` ends the loop when the pool is closed (or dropped).
        let _ = closed.do_until(work).await;
        let _ = conn.close().await;
    });
}

fn check_known(applied: &[i64]) -> Result<(), StoreError> {
    match applied
        .iter()
        .find(|version| !MIGRATIONS.iter().any(|m| m.version == **version))
    {
        Some(version) => Err(StoreError::UnknownMigration { version: *version }),
        None => Ok(()),
    }
}

/// A URL with its password replaced, fit for error messages and logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_migrates_twice_without_harm() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("x.sqlite"), SqliteDurability::Normal)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            unreachable!()
        };
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(count, MIGRATIONS.len() as i64);
    }

    async fn sqlite_pool(path: &Path, pool_size: Option<u32>) -> SqlitePool {
        let db = match pool_size {
            Some(size) => Db::open_sqlite_sized(path, SqliteDurability::Normal, size).await,
            None => Db::open_sqlite(path, SqliteDurability::Normal).await,
        };
        match db.unwrap() {
            Db::Sqlite(pool) => pool,
            Db::Postgres(_) => unreachable!(),
        }
    }

    /// Commits leave checkpoints to the background checkpointer: the database file grows
    /// by what was committed while the pool stays open (automatic checkpoints are off,
    /// so nothing else would copy the WAL), and closing the pool stops the checkpointer
    /// so the last connection closes and SQLite removes the WAL.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background_until_the_pool_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.sqlite");
        let wal = dir.path().join("wal.sqlite-wal");
        let pool = sqlite_pool(&path, None).await;
        sqlx::query("CREATE TABLE blobs (b BLOB)")
            .execute(&pool)
            .await
            .unwrap();
        // ~8 MB in 2,000 pages: far past the 1,000 pages of SQLite's own default.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO blobs SELECT randomblob(4000) FROM n",
        )
        .execute(&pool)
        .await
        .unwrap();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while size(&path) < 8_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file never received the WAL's pages ({} bytes)",
                size(&path)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pool.close().await;
        // Its own deadline: on a loaded disk the first phase may use most of its own.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while wal.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the WAL outlived the closed pool: the checkpointer kept its connection"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Under writes that never pause, a quiet moment never comes; a WAL past the limit
    /// is checkpointed and truncated anyway (without it the file only ever grows: a
    /// reset WAL is reused from its start but keeps its length).
    #[tokio::test]
    async fn a_wal_past_the_limit_is_truncated_while_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sqlite");
        let wal = dir.path().join("busy.sqlite-wal");
        let pool = sqlite_pool(&path, None).await;
        spawn_checkpointer(
            &pool,
            CheckpointPolicy {
                every: Duration::from_millis(20),
                busy_every: Duration::from_secs(3600),
                truncate_at: 1 << 20,
            },
        );
        sqlx::query("CREATE TABLE blobs (b BLOB)")
            .execute(&pool)
            .await
            .unwrap();
        let mut peak = 0;
        for _ in 0..200 {
            // ~400 KB per transaction, one after the other.
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                 INSERT INTO blobs SELECT randomblob(4000) FROM n",
            )
            .execute(&pool)
            .await
            .unwrap();
            let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            if peak >= 1 << 20 && len < peak {
                return;
            }
            peak = peak.max(len);
        }
        panic!("the WAL grew to {peak} bytes and was never truncated");
    }

    /// `[store] pool_size` is the most connections the pool opens: with 2, two held
    /// connections make a third caller wait (here: past a deadline).
    #[tokio::test]
    async fn sqlite_pool_size_bounds_the_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite");
        let pool = sqlite_pool(&path, Some(2)).await;
        assert_eq!(pool.options().get_max_connections(), 2);
        let first = pool.acquire().await.unwrap();
        let second = pool.acquire().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(300), pool.acquire()).await;
        assert!(third.is_err(), "a third connection was opened");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(10), pool.acquire()).await;
        assert!(
            matches!(third, Ok(Ok(_))),
            "a freed connection is handed on"
        );
        drop(second);

        // The default, and 0 read as 1 rather than a pool that can never connect.
        let pool = sqlite_pool(&path, None).await;
        assert_eq!(
            pool.options().get_max_connections(),
            DEFAULT_SQLITE_POOL_SIZE
        );
        let pool = sqlite_pool(&path, Some(0)).await;
        assert_eq!(pool.options().get_max_connections(), 1);
        pool.acquire().await.unwrap();
    }

    /// The catalog's and the outbox's writers share one FIFO queue per file, also across
    /// two pools opened on the same file: while a writer holds its turn, the others wait
    /// for it instead of racing it in SQLite's busy handler; once it is done, they all run.
    #[tokio::test]
    async fn sqlite_writers_of_one_file_share_one_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        let db = Db::open_sqlite(&path, SqliteDurability::Normal)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let other = Db::open_sqlite(&path, SqliteDurability::Normal)
            .await
            .unwrap();
        let Db::Sqlite(pool) = &db else {
            unreachable!()
        };
        let turn = sqlite_writer(pool).lock_owned().await;

        let catalog = crate::catalog::CatalogStore::new(other.clone());
        let outbox = crate::outbox::OutboxStore::new(other.clone());
        let lock = tokio::spawn(async move { catalog.try_lock_sync("tenant-a").await });
        let drain = tokio::spawn(async move { outbox.set_draining(true).await });
        // Both are queued behind the held turn: give them every chance to run.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            !lock.is_finished(),
            "the sync lock write did not wait its turn"
        );
        assert!(
            !drain.is_finished(),
            "the outbox write did not wait its turn"
        );

        drop(turn);
        assert!(lock.await.unwrap().unwrap().is_some());
        drain.await.unwrap().unwrap();
        assert!(
            crate::outbox::OutboxStore::new(db)
                .draining()
                .await
                .unwrap()
        );
    }

    #[test]
    fn redaction_hides_the_password() {
        let shown = redact("postgres://app:s3cret@localhost:5432/erp");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
