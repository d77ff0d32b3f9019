//! The permission service (seed 003 §3.1.2): a user's effective permissions — active roles,
//! unexpired assignments (judged by `state.clock`), active permissions — cached for five minutes,
//! and invalidated by every change that affects them.
//!
//! Callers change RBAC data, then call one of the `invalidate_*` functions (after the change has
//! committed, so a reload sees it). A cache entry never outlives the earliest expiry of the
//! assignments it was computed from. A load that raced with an invalidation is not cached: an
//! epoch counter, bumped by every invalidation, is compared before and after the write.
//!
//! Across nodes: with Redis every node reads the shared entry first, so an invalidation made on one
//! node holds on all of them at once; during a Redis outage a node trusts its own copy for at most
//! 30 s. Without Redis each node caches in process and invalidations reach only the node that made
//! the change (other nodes converge within the 5-minute TTL) — run Redis for a multi-node cluster.
//!
//! Code map: `load` reads the database, `cache` is the Redis + in-process `ResilientCache`.

pub mod cache;
pub mod load;
pub mod rules;

pub use cache::Source;
pub use load::Effective;

use cache::{Entry, ResilientCache};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_actors::clock::SharedClock;

/// How long effective permissions are cached.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

pub struct PermissionService {
    db: DatabaseConnection,
    clock: SharedClock,
    cache: ResilientCache<Effective>,
    epoch: AtomicU64,
}

impl PermissionService {
    /// `redis_url`: the exposed `REDIS_URL`, if set. Never connects here (lazy).
    pub fn new(db: DatabaseConnection, clock: SharedClock, redis_url: Option<&str>) -> Self {
        PermissionService { db, clock, cache: ResilientCache::new(redis_url), epoch: AtomicU64::new(0) }
    }

    pub fn uses_redis(&self) -> bool {
        self.cache.uses_redis()
    }

    /// The user's effective permissions now (cached).
    pub async fn effective(&self, user_id: &str) -> Result<Arc<Effective>, DbErr> {
        self.effective_traced(user_id).await.map(|(e, _)| e)
    }

    /// Like [`Self::effective`], also saying where the answer came from.
    pub async fn effective_traced(&self, user_id: &str) -> Result<(Arc<Effective>, Source), DbErr> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        if let (Some(hit), source) = self.cache.get(user_id, now_ms).await {
            return Ok((Arc::new(hit.value.clone()), source));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let (value, earliest_expiry) = load::effective(&self.db, user_id, now).await?;
        let ttl_end = now_ms + CACHE_TTL.as_millis() as i64;
        let valid_until = earliest_expiry.map_or(ttl_end, |t| t.timestamp_millis().min(ttl_end));
        let entry = Arc::new(Entry { value, valid_until, loaded_at: now_ms });
        if self.epoch.load(Ordering::SeqCst) == epoch {
            self.cache.put(user_id, Arc::clone(&entry), now_ms).await;
            // An invalidation that slipped in during the write must not leave this entry behind.
            if self.epoch.load(Ordering::SeqCst) != epoch {
                self.cache.remove(&[user_id.to_string()]).await;
            }
        }
        Ok((Arc::new(entry.value.clone()), Source::Miss))
    }

    /// Whether the user (active) holds `permission` now.
    pub async fn check(&self, user_id: &str, permission: &str) -> Result<bool, DbErr> {
        Ok(self.effective(user_id).await?.has(permission))
    }

    /// Answers many permissions at once from one lookup.
    pub async fn check_many<S: AsRef<str>>(&self, user_id: &str, permissions: &[S]) -> Result<BTreeMap<String, bool>, DbErr> {
        let eff = self.effective(user_id).await?;
        Ok(permissions.iter().map(|p| (p.as_ref().to_string(), eff.has(p.as_ref()))).collect())
    }

    /// Drops cached permissions of these users (role (un)assignment, user (de)activation, erasure).
    pub async fn invalidate_users(&self, user_ids: &[String]) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.remove(user_ids).await;
    }

    pub async fn invalidate_user(&self, user_id: &str) {
        self.invalidate_users(&[user_id.to_string()]).await;
    }

    /// Users a change of this role affects; call before the change (a deletion cascades the
    /// assignments away), invalidate them after it.
    pub async fn users_with_role(&self, role_id: &str) -> Result<Vec<String>, DbErr> {
        load::users_with_role(&self.db, role_id).await
    }

    /// Users a change of this permission affects; call before the change, invalidate after it.
    pub async fn users_with_permission(&self, permission_id: &str) -> Result<Vec<String>, DbErr> {
        load::users_with_permission(&self.db, permission_id).await
    }

    /// Drops every in-process entry (Redis entries are dropped by user).
    pub fn clear_local(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.clear_local();
    }
}
