//! `ResilientCache` (seed 004): the permission cache. Redis when `REDIS_URL` is set, an in-process
//! map always; a Redis failure never fails a check.
//!
//! - With Redis, Redis is read first (it is what every node shares, so an invalidation made on one
//!   node is seen by all). The in-process copy is only a fallback: while Redis is failing, a local
//!   entry is trusted for at most [`FALLBACK_MAX_AGE`], which bounds how stale another node's view
//!   can be during an outage; older entries are reloaded from the database.
//! - Without Redis, the in-process map is the cache.
//! - Every Redis call has a short timeout; after a failure Redis is skipped for [`BREAKER_OPEN`]
//!   (a circuit breaker), so an outage costs one timeout, not one per request.
//! - Deletions that could not reach Redis are remembered and retried before the next Redis read,
//!   so an entry invalidated during an outage does not come back stale when Redis does.
//!
//! Expiry is judged against the caller's clock (`valid_until`), not Redis' TTL alone, so an entry
//! never outlives the earliest role-assignment expiry it was computed under.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a local entry is trusted while Redis is failing.
pub const FALLBACK_MAX_AGE: Duration = Duration::from_secs(30);
/// How long Redis is skipped after a failure.
pub const BREAKER_OPEN: Duration = Duration::from_secs(2);
/// Timeout of one Redis round trip.
const REDIS_TIMEOUT: Duration = Duration::from_millis(300);
/// Upper bound on in-process entries (expired ones are dropped first, then everything).
const LOCAL_CAP: usize = 10_000;
const KEY_PREFIX: &str = "tessera:rbac:perms:";

/// What is cached per user. Times are unix milliseconds by the server clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<T> {
    pub value: T,
    /// Not to be used at or after this instant.
    pub valid_until: i64,
    /// When the value was read from the database.
    pub loaded_at: i64,
}

/// Where a lookup was answered from (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Redis,
    Local,
    Miss,
}

struct RedisSide {
    conn: ConnectionManager,
    /// While `Some(t)` and `t` is in the future, Redis is not tried.
    open_until: Mutex<Option<Instant>>,
    /// Keys whose deletion did not reach Redis yet.
    pending_deletes: Mutex<HashSet<String>>,
}

pub struct ResilientCache<T> {
    redis: Option<RedisSide>,
    local: Mutex<HashMap<String, Arc<Entry<T>>>>,
}

fn lock<'a, V>(m: &'a Mutex<V>) -> std::sync::MutexGuard<'a, V> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn key(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

impl<T> ResilientCache<T>
where
    T: Clone + Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static,
{
    /// `redis_url`: `None` = in-process only. A bad URL is logged and treated as no Redis. The
    /// connection is made lazily, so a Redis that is down at start-up does not stop the server.
    pub fn new(redis_url: Option<&str>) -> Self {
        let redis = redis_url.and_then(|url| {
            let cfg = ConnectionManagerConfig::new()
                .set_number_of_retries(1)
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT));
            let made = redis::Client::open(url).and_then(|c| ConnectionManager::new_lazy_with_config(c, cfg));
            match made {
                Ok(conn) => Some(RedisSide { conn, open_until: Mutex::new(None), pending_deletes: Mutex::new(HashSet::new()) }),
                Err(e) => {
                    tracing::error!(error = %e, "REDIS_URL unusable; permission cache stays in process");
                    None
                }
            }
        });
        ResilientCache { redis, local: Mutex::new(HashMap::new()) }
    }

    pub fn uses_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// A usable entry for `id` at `now_ms`, and where it came from; counted in the cache
    /// hit/miss metrics.
    pub async fn get(&self, id: &str, now_ms: i64) -> (Option<Arc<Entry<T>>>, Source) {
        let found = self.lookup(id, now_ms).await;
        match found.1 {
            Source::Miss => crate::metrics::CACHE_MISSES.inc(),
            Source::Redis | Source::Local => crate::metrics::CACHE_HITS.inc(),
        }
        found
    }

    async fn lookup(&self, id: &str, now_ms: i64) -> (Option<Arc<Entry<T>>>, Source) {
        if let Some(r) = &self.redis {
            match r.get(&key(id)).await {
                Ok(Some(raw)) => match serde_json::from_str::<Entry<T>>(&raw) {
                    Ok(e) if e.valid_until > now_ms => {
                        let e = Arc::new(e);
                        self.put_local(id, Arc::clone(&e), now_ms);
                        return (Some(e), Source::Redis);
                    }
                    Ok(_) => return (None, Source::Miss),
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable permission cache entry; reloading");
                        return (None, Source::Miss);
                    }
                },
                Ok(None) => return (None, Source::Miss),
                Err(()) => {
                    let fallback_floor = now_ms - FALLBACK_MAX_AGE.as_millis() as i64;
                    return match self.get_local(id, now_ms) {
                        Some(e) if e.loaded_at >= fallback_floor => (Some(e), Source::Local),
                        _ => (None, Source::Miss),
                    };
                }
            }
        }
        match self.get_local(id, now_ms) {
            Some(e) => (Some(e), Source::Local),
            None => (None, Source::Miss),
        }
    }

    fn get_local(&self, id: &str, now_ms: i64) -> Option<Arc<Entry<T>>> {
        lock(&self.local).get(id).filter(|e| e.valid_until > now_ms).cloned()
    }

    fn put_local(&self, id: &str, e: Arc<Entry<T>>, now_ms: i64) {
        let mut map = lock(&self.local);
        if map.len() >= LOCAL_CAP {
            map.retain(|_, v| v.valid_until > now_ms);
            if map.len() >= LOCAL_CAP {
                map.clear();
            }
        }
        map.insert(id.to_string(), e);
    }

    /// Stores an entry locally and, when configured, in Redis (best effort).
    pub async fn put(&self, id: &str, e: Arc<Entry<T>>, now_ms: i64) {
        self.put_local(id, Arc::clone(&e), now_ms);
        if let Some(r) = &self.redis {
            let ttl_secs = ((e.valid_until - now_ms).max(1) as u64).div_ceil(1000);
            if let Ok(raw) = serde_json::to_string(&*e) {
                let _ = r.set_ex(&key(id), raw, ttl_secs).await;
            }
        }
    }

    /// Drops the entries of `ids` everywhere. Redis deletions that fail are retried later.
    pub async fn remove(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        {
            let mut map = lock(&self.local);
            for id in ids {
                map.remove(id);
            }
        }
        if let Some(r) = &self.redis {
            let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
            if r.del(&keys).await.is_err() {
                lock(&r.pending_deletes).extend(keys);
            }
        }
    }

    /// Drops every in-process entry (Redis entries are removed by id).
    pub fn clear_local(&self) {
        lock(&self.local).clear();
    }
}

impl RedisSide {
    fn available(&self) -> bool {
        let mut open = lock(&self.open_until);
        match *open {
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                *open = None;
                true
            }
            None => true,
        }
    }

    fn trip(&self, what: &str, err: &str) {
        let mut open = lock(&self.open_until);
        if open.is_none() {
            tracing::warn!(op = what, error = err, "Redis unavailable; permission checks use the in-process cache and the database");
        }
        *open = Some(Instant::now() + BREAKER_OPEN);
    }

    async fn run<V: redis::FromRedisValue>(&self, what: &str, cmd: redis::Cmd) -> Result<V, ()> {
        if !self.available() {
            return Err(());
        }
        let mut conn = self.conn.clone();
        match tokio::time::timeout(REDIS_TIMEOUT, cmd.query_async::<V>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.trip(what, &e.to_string());
                Err(())
            }
            Err(_) => {
                self.trip(what, "timed out");
                Err(())
            }
        }
    }

    /// Retries deletions that failed earlier; `Err` while Redis is still failing.
    async fn flush_pending(&self) -> Result<(), ()> {
        let keys: Vec<String> = lock(&self.pending_deletes).iter().cloned().collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&keys);
        self.run::<i64>("del", cmd).await?;
        let mut pending = lock(&self.pending_deletes);
        for k in &keys {
            pending.remove(k);
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, ()> {
        self.flush_pending().await?;
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.run("get", cmd).await
    }

    async fn set_ex(&self, key: &str, value: String, ttl_secs: u64) -> Result<(), ()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("EX").arg(ttl_secs.max(1));
        self.run::<()>("set", cmd).await
    }

    async fn del(&self, keys: &[String]) -> Result<(), ()> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        self.run::<i64>("del", cmd).await.map(|_| ())
    }
}
