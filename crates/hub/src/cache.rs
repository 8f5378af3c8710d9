//! The live-data cache of one tenant: short TTLs per data kind (seed 002 "Local
//! Caching": prices and stock 30 s–5 min, order status 1–2 min), single-flight, and bulk
//! lookups that fetch only the misses.
//!
//! ```text
//!  lookup(keys) ─► fresh in cache? ── yes ─► hit
//!                        │ no
//!                        ▼
//!                 already being fetched? ── yes ─► await that fetch (shared)
//!                        │ no
//!                        ▼
//!                 one provider call for all remaining misses, registered as
//!                 in flight for each of its keys, stored in the cache when done
//! ```
//!
//! * **Freshness is explicit.** Every entry keeps the wall-clock time it was fetched
//!   (`fetched_at`, shown to clients) and a monotonic load instant on the Tokio clock.
//!   An entry older than the TTL is a miss even if moka has not evicted it yet; moka's own
//!   TTL only bounds memory. Because the check uses `tokio::time::Instant`, tests drive
//!   expiry with paused time instead of sleeping.
//! * **Single-flight per key.** An in-flight fetch is a `Shared` future stored under
//!   each of its keys. Whoever polls it (the caller that started it or any follower)
//!   drives it to completion, and the future itself writes the cache and clears its
//!   in-flight entries, so a caller that disconnects does not strand its followers.
//! * **Negative entries.** An article the ERP does not know is cached as absent
//!   (`V::default()`), so a shop that keeps asking for a deleted article does not hit the
//!   ERP on every page view.
//! * **Tenancy.** One [`LiveCache`] per tenant; keys never carry a tenant because
//!   caches are never shared.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::ProviderError;

/// A cached value with its provenance.
#[derive(Debug)]
pub struct Entry<V> {
    pub value: V,
    /// When the ERP produced the value (wall clock, for clients).
    pub fetched_at: DateTime<Utc>,
    loaded: tokio::time::Instant,
}

type Batch<K, V> = Arc<HashMap<K, Arc<Entry<V>>>>;
type Flight<K, V> = Shared<BoxFuture<'static, Result<Batch<K, V>, ProviderError>>>;

/// How one lookup was answered, for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LookupStats {
    pub hits: u64,
    pub misses: u64,
    /// Misses answered by a fetch another caller had started.
    pub joined: u64,
    /// Provider calls this lookup started (0 or 1).
    pub fetches: u64,
}

/// A TTL cache of one data kind with single-flight bulk loading.
pub struct KindCache<K, V> {
    cache: moka::future::Cache<K, Arc<Entry<V>>>,
    ttl: Duration,
    inflight: Arc<Mutex<HashMap<K, Flight<K, V>>>>,
}

impl<K, V> KindCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Default + Send + Sync + 'static,
{
    pub fn new(ttl: Duration, max_entries: u64) -> Self {
        KindCache {
            cache: moka::future::Cache::builder()
                .max_capacity(max_entries)
                // Memory bound only; freshness is decided on the Tokio clock below.
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            ttl,
            inflight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Entries for all `keys` (duplicates collapse), fetching only what is missing or
    /// stale with one call of `fetch`. `fetch` returns values for the keys it knows;
    /// keys it leaves out are cached as `V::default()`.
    pub async fn get_many<F, Fut>(
        &self,
        keys: &[K],
        fetch: F,
    ) -> Result<(HashMap<K, Arc<Entry<V>>>, LookupStats), ProviderError>
    where
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = Result<HashMap<K, V>, ProviderError>> + Send + 'static,
    {
        let mut stats = LookupStats::default();
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        let now = tokio::time::Instant::now();
        for key in keys {
            if found.contains_key(key) || missing.contains(key) {
                continue;
            }
            match self.cache.get(key).await {
                Some(entry) if now.duration_since(entry.loaded) < self.ttl => {
                    stats.hits += 1;
                    found.insert(key.clone(), entry);
                }
                _ => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok((found, stats));
        }
        stats.misses = missing.len() as u64;

        // Split the misses into fetches already in flight and keys this call fetches,
        // under one lock so no key is fetched twice.
        let mut flights: Vec<Flight<K, V>> = Vec::new();
        let mut mine = Vec::new();
        {
            let inflight = self.inflight.lock();
            for key in missing {
                match inflight.get(&key) {
                    Some(flight) => {
                        stats.joined += 1;
                        if !flights.iter().any(|f| f.ptr_eq(flight)) {
                            flights.push(flight.clone());
                        }
                    }
                    None => mine.push(key),
                }
            }
        }
        if !mine.is_empty() {
            stats.fetches = 1;
            let flight = self.start_flight(mine, fetch);
            flights.push(flight);
        }
        for flight in flights {
            let batch = flight.await?;
            for key in keys {
                if !found.contains_key(key)
                    && let Some(entry) = batch.get(key)
                {
                    found.insert(key.clone(), entry.clone());
                }
            }
        }
        Ok((found, stats))
    }

    fn start_flight<F, Fut>(&self, keys: Vec<K>, fetch: F) -> Flight<K, V>
    where
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = Result<HashMap<K, V>, ProviderError>> + Send + 'static,
    {
        let call = fetch(keys.clone());
        let cache = self.cache.clone();
        let inflight = Arc::clone(&self.inflight);
        let flight_keys = keys.clone();
        let future: BoxFuture<'static, Result<Batch<K, V>, ProviderError>> = async move {
            let result = call.await;
            let batch = match result {
                Ok(mut values) => {
                    let fetched_at = Utc::now();
                    let loaded = tokio::time::Instant::now();
                    let mut batch = HashMap::with_capacity(flight_keys.len());
                    for key in &flight_keys {
                        let entry = Arc::new(Entry {
                            value: values.remove(key).unwrap_or_default(),
                            fetched_at,
                            loaded,
                        });
                        cache.insert(key.clone(), entry.clone()).await;
                        batch.insert(key.clone(), entry);
                    }
                    Ok(Arc::new(batch))
                }
                Err(error) => Err(error),
            };
            // Only this flight ever owns these keys, so removing them is safe.
            let mut map = inflight.lock();
            for key in &flight_keys {
                map.remove(key);
            }
            batch
        }
        .boxed();
        let flight = future.shared();
        let mut map = self.inflight.lock();
        for key in keys {
            map.insert(key, flight.clone());
        }
        flight
    }

    /// Drops every entry (e.g. after an order changed stock).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    type FetchResult = BoxFuture<'static, Result<HashMap<u32, Option<u32>>, ProviderError>>;

    fn counting_fetch(
        calls: &Arc<AtomicU64>,
        seen: &Arc<Mutex<Vec<Vec<u32>>>>,
    ) -> impl FnOnce(Vec<u32>) -> FetchResult {
        let calls = Arc::clone(calls);
        let seen = Arc::clone(seen);
        move |keys: Vec<u32>| {
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                seen.lock().push(keys.clone());
                tokio::task::yield_now().await;
                // Keys above 100 do not exist in this "ERP".
                Ok(keys
                    .into_iter()
                    .filter(|k| *k <= 100)
                    .map(|k| (k, Some(k * 10)))
                    .collect())
            }
            .boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bulk_lookups_fetch_only_misses_and_expire_after_ttl() {
        let cache: KindCache<u32, Option<u32>> = KindCache::new(Duration::from_secs(30), 1000);
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));

        let (got, stats) = cache
            .get_many(&[1, 2, 2, 101], counting_fetch(&calls, &seen))
            .await
            .unwrap();
        assert_eq!(got[&1].value, Some(10));
        assert_eq!(got[&101].value, None, "unknown keys are cached as absent");
        assert_eq!(stats.misses, 3);

        let (_, stats) = cache
            .get_many(&[1, 2, 3, 101], counting_fetch(&calls, &seen))
            .await
            .unwrap();
        assert_eq!((stats.hits, stats.misses), (3, 1));
        assert_eq!(
            seen.lock().last().unwrap(),
            &vec![3],
            "only the miss is fetched"
        );

        tokio::time::advance(Duration::from_secs(31)).await;
        let (_, stats) = cache
            .get_many(&[1], counting_fetch(&calls, &seen))
            .await
            .unwrap();
        assert_eq!((stats.hits, stats.misses), (0, 1), "stale after the TTL");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_identical_lookups_share_one_fetch() {
        let cache: Arc<KindCache<u32, Option<u32>>> =
            Arc::new(KindCache::new(Duration::from_secs(30), 1000));
        let calls = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let cache = Arc::clone(&cache);
            let calls = Arc::clone(&calls);
            let gate = Arc::clone(&gate);
            tasks.push(tokio::spawn(async move {
                cache
                    .get_many(&[7, 8], move |keys| {
                        async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            Ok(keys.into_iter().map(|k| (k, Some(k))).collect())
                        }
                        .boxed()
                    })
                    .await
                    .unwrap()
            }));
        }
        // Let every task register or join, then release the one fetch.
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        let mut joined = 0;
        for task in tasks {
            let (got, stats) = task.await.unwrap();
            assert_eq!(got[&8].value, Some(8));
            joined += stats.joined;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(joined > 0);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_cached() {
        let cache: KindCache<u32, Option<u32>> = KindCache::new(Duration::from_secs(30), 1000);
        let err = cache
            .get_many(&[1], |_| {
                async { Err(ProviderError::unavailable("down")) }.boxed()
            })
            .await
            .unwrap_err();
        assert_eq!(err.message, "down");
        let (got, stats) = cache
            .get_many(&[1], |keys| {
                async move { Ok(keys.into_iter().map(|k| (k, Some(k))).collect()) }.boxed()
            })
            .await
            .unwrap();
        assert_eq!(stats.fetches, 1);
        assert_eq!(got[&1].value, Some(1));
    }
}
