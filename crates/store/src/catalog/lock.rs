//! The per-tenant sync lock: two syncs of one tenant never run at once, in one process
//! or across processes.
//!
//! * PostgreSQL: a session-level advisory lock on a connection taken out of the pool
//!   (detached), so the lock lives exactly as long as that connection: released on
//!   [`SyncLock::release`], or by the server when the process dies.
//! * SQLite: a lease row (`sync_locks`) renewed by a background task. A holder that died
//!   leaves a row that expires after the lease; a holder on this host whose process no
//!   longer exists is taken over at once, so a sync restarted after SIGKILL does not
//!   wait out the lease.

use sqlx::Connection as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Db;
use crate::error::StoreError;

pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Holding one means this process may sync the tenant. Call [`SyncLock::release`] when
/// done; dropping it also ends it (PostgreSQL: connection closed; SQLite: renewal stops
/// and the lease runs out).
#[derive(Debug)]
pub struct SyncLock {
    tenant: String,
    held: Arc<AtomicBool>,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Sqlite {
        pool: sqlx::SqlitePool,
        owner: String,
        renewal: tokio::task::JoinHandle<()>,
    },
    Postgres {
        conn: Option<sqlx::PgConnection>,
        key: i64,
    },
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// A stable 64-bit key for the advisory lock (FNV-1a; `DefaultHasher` is not stable
/// across Rust releases, and two hub versions must agree on the key).
fn advisory_key(tenant: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"erpbridge-sync:".iter().chain(tenant.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// Whether the owner string names a process on this host that is gone.
fn owner_is_dead(owner: &str, host: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(owner_host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    owner_host == host
        && pid.parse::<u32>().is_ok()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl SyncLock {
    pub(crate) async fn try_acquire(
        db: &Db,
        tenant: &str,
        lease: Duration,
    ) -> Result<Option<SyncLock>, StoreError> {
        match db {
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let key = advisory_key(tenant);
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                if !got {
                    let _ = conn.close().await;
                    return Ok(None);
                }
                Ok(Some(SyncLock {
                    tenant: tenant.to_owned(),
                    held: Arc::new(AtomicBool::new(true)),
                    inner: Inner::Postgres {
                        conn: Some(conn),
                        key,
                    },
                }))
            }
            Db::Sqlite(pool) => {
                let host = hostname();
                let owner = format!("{host}:{}:{}", std::process::id(), uuid::Uuid::new_v4());
                let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4);
                let _turn = crate::db::sqlite_writer(pool).lock_owned().await;
                let now = now_ms();
                let taken = sqlx::query(
                    "INSERT INTO sync_locks (tenant, owner, expires_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant) DO UPDATE SET owner = excluded.owner,
                         expires_ms = excluded.expires_ms
                     WHERE sync_locks.expires_ms < $4",
                )
                .bind(tenant)
                .bind(owner.as_str())
                .bind(now + lease_ms)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
                    == 1;
                let taken = taken
                    || {
                        let holder: Option<String> =
                            sqlx::query_scalar("SELECT owner FROM sync_locks WHERE tenant = $1")
                                .bind(tenant)
                                .fetch_optional(pool)
                                .await?;
                        match holder {
                            Some(holder) if owner_is_dead(&holder, &host) => {
                                tracing::info!(tenant, holder = %holder, "taking over the sync lock of a dead process");
                                sqlx::query(
                                    "UPDATE sync_locks SET owner = $1, expires_ms = $2
                                 WHERE tenant = $3 AND owner = $4",
                                )
                                .bind(owner.as_str())
                                .bind(now + lease_ms)
                                .bind(tenant)
                                .bind(holder.as_str())
                                .execute(pool)
                                .await?
                                .rows_affected()
                                    == 1
                            }
                            _ => false,
                        }
                    };
                if !taken {
                    return Ok(None);
                }
                let held = Arc::new(AtomicBool::new(true));
                let renewal = tokio::spawn(renew(
                    pool.clone(),
                    tenant.to_owned(),
                    owner.clone(),
                    lease,
                    held.clone(),
                ));
                Ok(Some(SyncLock {
                    tenant: tenant.to_owned(),
                    held,
                    inner: Inner::Sqlite {
                        pool: pool.clone(),
                        owner,
                        renewal,
                    },
                }))
            }
        }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// False once the lease could not be renewed (another process may have taken over):
    /// the holder must stop writing.
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    pub async fn release(mut self) -> Result<(), StoreError> {
        self.held.store(false, Ordering::SeqCst);
        match &mut self.inner {
            Inner::Sqlite {
                pool,
                owner,
                renewal,
            } => {
                renewal.abort();
                sqlx::query("DELETE FROM sync_locks WHERE tenant = $1 AND owner = $2")
                    .bind(self.tenant.as_str())
                    .bind(owner.as_str())
                    .execute(&*pool)
                    .await?;
            }
            Inner::Postgres { conn, key } => {
                if let Some(mut conn) = conn.take() {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(*key)
                        .execute(&mut conn)
                        .await?;
                    conn.close().await?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for SyncLock {
    fn drop(&mut self) {
        if let Inner::Sqlite { renewal, .. } = &self.inner {
            renewal.abort();
        }
        // A PostgreSQL connection closes when dropped, which ends its advisory lock.
    }
}

async fn renew(
    pool: sqlx::SqlitePool,
    tenant: String,
    owner: String,
    lease: Duration,
    held: Arc<AtomicBool>,
) {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4);
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
    tick.tick().await;
    loop {
        tick.tick().await;
        // In the file's writer queue: behind another tenant's batches, not starved by them.
        let _turn = crate::db::sqlite_writer(&pool).lock_owned().await;
        let renewed =
            sqlx::query("UPDATE sync_locks SET expires_ms = $1 WHERE tenant = $2 AND owner = $3")
                .bind(now_ms() + lease_ms)
                .bind(tenant.as_str())
                .bind(owner.as_str())
                .execute(&pool)
                .await;
        match renewed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => {
                tracing::warn!(tenant, "sync lock lost: another process took it over");
                held.store(false, Ordering::SeqCst);
                return;
            }
            // A busy database is not a lost lock; the lease outlives a few missed renewals.
            Err(err) => tracing::warn!(tenant, %err, "could not renew the sync lock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_keys_differ_per_tenant_and_are_stable() {
        assert_ne!(advisory_key("a"), advisory_key("b"));
        assert_eq!(advisory_key("demo"), advisory_key("demo"));
    }

    #[test]
    fn a_live_owner_is_not_dead() {
        let me = format!("h:{}:x", std::process::id());
        assert!(!owner_is_dead(&me, "h"));
        assert!(!owner_is_dead("other:1:x", "h"));
        assert!(owner_is_dead("h:4000000000:x", "h"));
    }
}
