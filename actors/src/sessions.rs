//! The sessions actor: owns browser login sessions.
//!
//! A session is identified by a random 256-bit cookie value; only its SHA-256 is stored, in the
//! `sessions` table or — when `REDIS_URL` is set — in Redis under `tessera:session:<sha256>` (with a
//! TTL) plus a per-user set `tessera:user-sessions:<user_id>`. Lookups enforce the idle timeout
//! (from `last_seen_at`) and the absolute lifetime (`expires_at`), both against the shared clock, and
//! touch `last_seen_at`. Lookups are cached on this node for a few seconds; ending a session clears
//! it from this node's cache at once (another node may still accept it for up to [`CACHE_FOR`]).
//! A store failure (database or Redis down) is reported as [`SessionError::Unavailable`], never a panic.

use crate::clock::SharedClock;
use crate::crypto::{random_token, sha256_hex};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_entity::sessions as table;

/// How long a lookup is served from this node's cache.
pub const CACHE_FOR: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// One login session (the cookie value itself is never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Hex SHA-256 of the cookie value.
    pub id: String,
    pub user_id: String,
    pub auth_time: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of the session.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// The session store (database or Redis) cannot be reached.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

impl From<sea_orm::DbErr> for SessionError {
    fn from(e: sea_orm::DbErr) -> Self {
        SessionError::Unavailable(e.to_string())
    }
}

impl From<redis::RedisError> for SessionError {
    fn from(e: redis::RedisError) -> Self {
        SessionError::Unavailable(format!("redis: {e}"))
    }
}

/// Idle timeout and absolute lifetime.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

/// Where sessions live.
#[derive(Clone)]
pub enum SessionStore {
    Database(DatabaseConnection),
    Redis(ConnectionManager),
}

impl SessionStore {
    /// A Redis store that connects lazily (a Redis outage at start does not stop the server).
    pub fn redis(url: &str) -> Result<SessionStore, SessionError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        Ok(SessionStore::Redis(ConnectionManager::new_lazy_with_config(client, config)?))
    }
}

fn session_key(id: &str) -> String {
    format!("tessera:session:{id}")
}

fn user_key(user_id: &str) -> String {
    format!("tessera:user-sessions:{user_id}")
}

fn secs(d: chrono::Duration) -> u64 {
    d.num_seconds().max(1) as u64
}

impl SessionStore {
    async fn insert(&self, s: &Session, policy: SessionPolicy) -> Result<(), SessionError> {
        match self {
            SessionStore::Database(db) => {
                table::Entity::insert(table::ActiveModel {
                    id: Set(s.id.clone()),
                    user_id: Set(s.user_id.clone()),
                    auth_time: Set(s.auth_time),
                    last_seen_at: Set(s.last_seen_at),
                    expires_at: Set(s.expires_at),
                    ip_address: Set(s.ip_address.clone()),
                    user_agent: Set(s.user_agent.clone()),
                    created_at: Set(s.created_at),
                })
                .exec_without_returning(db)
                .await?;
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let body = serde_json::to_string(s).map_err(|e| SessionError::Unavailable(e.to_string()))?;
                let ttl = policy.idle.as_secs().clamp(1, secs(s.expires_at - s.last_seen_at));
                redis::pipe()
                    .atomic()
                    .cmd("SET").arg(session_key(&s.id)).arg(body).arg("EX").arg(ttl).ignore()
                    .cmd("SADD").arg(user_key(&s.user_id)).arg(&s.id).ignore()
                    .cmd("EXPIRE").arg(user_key(&s.user_id)).arg(policy.absolute.as_secs().max(1)).ignore()
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, SessionError> {
        match self {
            SessionStore::Database(db) => Ok(table::Entity::find_by_id(id).one(db).await?.map(|m| Session {
                id: m.id,
                user_id: m.user_id,
                auth_time: m.auth_time,
                last_seen_at: m.last_seen_at,
                expires_at: m.expires_at,
                created_at: m.created_at,
                ip_address: m.ip_address,
                user_agent: m.user_agent,
            })),
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let body: Option<String> = redis::cmd("GET").arg(session_key(id)).query_async(&mut conn).await?;
                Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
            }
        }
    }

    /// Records activity; never resurrects a session ended meanwhile.
    async fn touch(&self, s: &Session, policy: SessionPolicy) -> Result<(), SessionError> {
        match self {
            SessionStore::Database(db) => {
                table::Entity::update_many()
                    .col_expr(table::Column::LastSeenAt, Expr::value(s.last_seen_at))
                    .filter(table::Column::Id.eq(s.id.as_str()))
                    .exec(db)
                    .await?;
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let body = serde_json::to_string(s).map_err(|e| SessionError::Unavailable(e.to_string()))?;
                let ttl = policy.idle.as_secs().clamp(1, secs(s.expires_at - s.last_seen_at));
                redis::cmd("SET")
                    .arg(session_key(&s.id))
                    .arg(body)
                    .arg("XX")
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<Option<String>>(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionError> {
        match self {
            SessionStore::Database(db) => {
                table::Entity::delete_by_id(id).exec(db).await?;
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                // The per-user set keeps the id until it expires; members whose key is gone are harmless.
                redis::cmd("DEL").arg(session_key(id)).query_async::<()>(&mut conn).await?;
            }
        }
        Ok(())
    }

    async fn delete_for_user(&self, user_id: &str) -> Result<(), SessionError> {
        match self {
            SessionStore::Database(db) => {
                table::Entity::delete_many().filter(table::Column::UserId.eq(user_id)).exec(db).await?;
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let ids: Vec<String> = redis::cmd("SMEMBERS").arg(user_key(user_id)).query_async(&mut conn).await?;
                let mut pipe = redis::pipe();
                pipe.atomic();
                for id in &ids {
                    pipe.cmd("DEL").arg(session_key(id)).ignore();
                }
                pipe.cmd("DEL").arg(user_key(user_id)).ignore();
                pipe.query_async::<()>(&mut conn).await?;
            }
        }
        Ok(())
    }
}

/// Whether a stored session is no longer valid at `now` (idle too long or past its absolute end).
pub fn expired(s: &Session, policy: SessionPolicy, now: DateTime<Utc>) -> bool {
    let idle = chrono::Duration::from_std(policy.idle).unwrap_or(chrono::Duration::MAX);
    now >= s.expires_at || now - s.last_seen_at > idle
}

/// Whether `cookie` looks like a value this actor issued (43 base64url characters).
fn well_formed(cookie: &str) -> bool {
    cookie.len() == 43 && cookie.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

type Cache = Arc<Mutex<HashMap<String, (Session, DateTime<Utc>)>>>;

pub struct SessionActor {
    store: SessionStore,
    clock: SharedClock,
    policy: SessionPolicy,
    cache: Cache,
}

impl SessionActor {
    pub fn new(store: SessionStore, clock: SharedClock, policy: SessionPolicy) -> Self {
        SessionActor { store, clock, policy, cache: Arc::default() }
    }
}

fn with_cache<R>(cache: &Cache, f: impl FnOnce(&mut HashMap<String, (Session, DateTime<Utc>)>) -> R) -> R {
    match cache.lock() {
        Ok(mut g) => f(&mut g),
        Err(p) => f(&mut p.into_inner()),
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_secs(30), |act, _| {
            let now = act.clock.now();
            let fresh = chrono::Duration::from_std(CACHE_FOR).unwrap_or_default();
            with_cache(&act.cache, |c| c.retain(|_, (_, at)| now - *at < fresh));
        });
        ctx.run_interval(Duration::from_secs(300), |act, ctx| {
            let SessionStore::Database(db) = act.store.clone() else { return };
            let now = act.clock.now();
            let idle_horizon = now - chrono::Duration::from_std(act.policy.idle).unwrap_or_default();
            ctx.spawn(
                async move {
                    let gone = Condition::any().add(table::Column::ExpiresAt.lte(now)).add(table::Column::LastSeenAt.lt(idle_horizon));
                    if let Err(e) = table::Entity::delete_many().filter(gone).exec(&db).await {
                        tracing::warn!(error = %e, "purging expired sessions failed");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

/// Start a session; resolves to the cookie value (shown to the browser only).
#[derive(Message)]
#[rtype(result = "Result<String, SessionError>")]
pub struct CreateSession {
    pub user_id: String,
    pub auth_time: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Look a cookie value up: `None` when unknown, ended, idle too long or past its absolute lifetime.
#[derive(Message)]
#[rtype(result = "Result<Option<Session>, SessionError>")]
pub struct GetSession(pub String);

/// End the session of a cookie value.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct EndSession(pub String);

/// End every session of a user (deactivation, password change).
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct EndAllForUser(pub String);

impl Handler<CreateSession> for SessionActor {
    type Result = ResponseFuture<Result<String, SessionError>>;

    fn handle(&mut self, m: CreateSession, _: &mut Self::Context) -> Self::Result {
        let (store, policy, now) = (self.store.clone(), self.policy, self.clock.now());
        Box::pin(async move {
            let cookie = random_token(32);
            let absolute = chrono::Duration::from_std(policy.absolute).unwrap_or(chrono::Duration::hours(12));
            let session = Session {
                id: sha256_hex(cookie.as_bytes()),
                user_id: m.user_id,
                auth_time: m.auth_time,
                last_seen_at: now,
                expires_at: now + absolute,
                created_at: now,
                ip_address: m.ip_address,
                user_agent: m.user_agent.map(|ua| ua.chars().take(512).collect()),
            };
            store.insert(&session, policy).await?;
            Ok(cookie)
        })
    }
}

impl Handler<GetSession> for SessionActor {
    type Result = ResponseFuture<Result<Option<Session>, SessionError>>;

    fn handle(&mut self, GetSession(cookie): GetSession, _: &mut Self::Context) -> Self::Result {
        let (store, policy, now, cache) = (self.store.clone(), self.policy, self.clock.now(), Arc::clone(&self.cache));
        Box::pin(async move {
            if !well_formed(&cookie) {
                return Ok(None);
            }
            let id = sha256_hex(cookie.as_bytes());
            let fresh = chrono::Duration::from_std(CACHE_FOR).unwrap_or_default();
            let cached = with_cache(&cache, |c| c.get(&id).filter(|(_, at)| now - *at < fresh).map(|(s, _)| s.clone()));
            let from_cache = cached.is_some();
            let session = match cached {
                Some(s) => s,
                None => match store.load(&id).await? {
                    Some(s) => s,
                    None => return Ok(None),
                },
            };
            if expired(&session, policy, now) {
                with_cache(&cache, |c| c.remove(&id));
                store.delete(&id).await?;
                return Ok(None);
            }
            if !from_cache {
                let touched = Session { last_seen_at: now, ..session };
                store.touch(&touched, policy).await?;
                with_cache(&cache, |c| {
                    if c.len() >= CACHE_MAX {
                        c.clear();
                    }
                    c.insert(id, (touched.clone(), now));
                });
                return Ok(Some(touched));
            }
            Ok(Some(session))
        })
    }
}

impl Handler<EndSession> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, EndSession(cookie): EndSession, _: &mut Self::Context) -> Self::Result {
        let (store, cache) = (self.store.clone(), Arc::clone(&self.cache));
        Box::pin(async move {
            if !well_formed(&cookie) {
                return Ok(());
            }
            let id = sha256_hex(cookie.as_bytes());
            with_cache(&cache, |c| c.remove(&id));
            store.delete(&id).await
        })
    }
}

impl Handler<EndAllForUser> for SessionActor {
    type Result = ResponseFuture<Result<(), SessionError>>;

    fn handle(&mut self, EndAllForUser(user_id): EndAllForUser, _: &mut Self::Context) -> Self::Result {
        let (store, cache) = (self.store.clone(), Arc::clone(&self.cache));
        Box::pin(async move {
            with_cache(&cache, |c| c.retain(|_, (s, _)| s.user_id != user_id));
            store.delete_for_user(&user_id).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            id: "x".into(),
            user_id: "u".into(),
            auth_time: now,
            last_seen_at: now,
            expires_at: now + chrono::Duration::hours(1),
            created_at: now,
            ip_address: None,
            user_agent: None,
        }
    }

    #[test]
    fn idle_and_absolute_limits() {
        let now = Utc::now();
        let policy = SessionPolicy { idle: Duration::from_secs(600), absolute: Duration::from_secs(3600) };
        let s = session(now);
        assert!(!expired(&s, policy, now + chrono::Duration::seconds(599)));
        assert!(expired(&s, policy, now + chrono::Duration::seconds(601)));
        let active = Session { last_seen_at: now + chrono::Duration::minutes(55), ..s };
        assert!(!expired(&active, policy, now + chrono::Duration::minutes(59)));
        assert!(expired(&active, policy, now + chrono::Duration::minutes(60)));
    }

    #[test]
    fn only_issued_cookie_shapes_are_looked_up() {
        assert!(well_formed(&random_token(32)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}/", "a".repeat(42))));
    }
}
