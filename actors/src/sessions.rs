//! The sessions actor: owns browser login sessions.
//!
//! A session is identified by a random 256-bit cookie value; only its SHA-256 is stored, in the
//! `sessions` table or — when `REDIS_URL` is set — in Redis under `tessera:session:<sha256>` (with a
//! TTL) plus a per-user set `tessera:user-sessions:<user_id>` (see [`crate::session_store`]). The
//! admin API and GDPR export list and end sessions through this actor too, so both stores answer. Lookups enforce the idle timeout
//! (from `last_seen_at`) and the absolute lifetime (`expires_at`), both against the shared clock, and
//! touch `last_seen_at`. Lookups are cached on this node for a few seconds; ending a session clears
//! it from this node's cache at once (another node may still accept it for up to [`CACHE_FOR`]).
//! A store failure (database or Redis down) is reported as [`SessionError::Unavailable`], never a panic.

use crate::clock::SharedClock;
use crate::crypto::{random_token, sha256_hex};
use actix::dev::ToEnvelope;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::session_store::{SessionPage, SessionStore};

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

    /// A read-only view of this actor's cache for request handlers.
    pub fn cached(&self) -> CachedSessions {
        CachedSessions { cache: Arc::clone(&self.cache), clock: Arc::clone(&self.clock), policy: self.policy }
    }
}

/// A read-only view of the sessions actor's cache: a lookup the actor would answer from its cache
/// (fresh, and the session still valid) is answered in the caller's thread, without a message to
/// the actor. Anything else (a miss, a stale entry, an expired session) goes to the actor, which
/// reads the store, touches or deletes, and fills the cache.
#[derive(Clone)]
pub struct CachedSessions {
    cache: Cache,
    clock: SharedClock,
    policy: SessionPolicy,
}

impl CachedSessions {
    pub fn get(&self, cookie: &str) -> Option<Session> {
        if !well_formed(cookie) {
            return None;
        }
        let now = self.clock.now();
        fresh_in_cache(&self.cache, &sha256_hex(cookie.as_bytes()), now).filter(|s| !expired(s, self.policy, now))
    }
}

/// The cached session `id`, if it was cached less than [`CACHE_FOR`] before `now`.
fn fresh_in_cache(cache: &Cache, id: &str, now: DateTime<Utc>) -> Option<Session> {
    let fresh = chrono::Duration::from_std(CACHE_FOR).unwrap_or_default();
    with_cache(cache, |c| c.get(id).filter(|(_, at)| now - *at < fresh).map(|(s, _)| s.clone()))
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
            let (store, policy, now) = (act.store.clone(), act.policy, act.clock.now());
            ctx.spawn(
                async move {
                    if let Err(e) = store.purge(policy, now).await {
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

/// End every session of a user (deactivation, password change, erasure); resolves to how many
/// were ended.
#[derive(Message)]
#[rtype(result = "Result<u64, SessionError>")]
pub struct EndAllForUser(pub String);

/// End a session by its id (the SHA-256 of the cookie, as listed); resolves to the ended session,
/// `None` when there was none.
#[derive(Message)]
#[rtype(result = "Result<Option<Session>, SessionError>")]
pub struct EndById(pub String);

/// The sessions of one user, newest activity first; with `include_expired`, also those idle too
/// long or past their end that the store still holds.
#[derive(Message)]
#[rtype(result = "Result<Vec<Session>, SessionError>")]
pub struct ListForUser {
    pub user_id: String,
    pub include_expired: bool,
}

/// A page of every user's sessions, newest activity first, with the total.
#[derive(Message)]
#[rtype(result = "Result<SessionPage, SessionError>")]
pub struct ListAll {
    pub include_expired: bool,
    pub limit: u64,
    pub offset: u64,
}

/// Sends `msg` to the sessions actor; an unreachable actor is [`SessionError::Unavailable`] too.
pub async fn ask<M, R>(sessions: &Addr<SessionActor>, msg: M) -> Result<R, SessionError>
where
    M: Message<Result = Result<R, SessionError>> + Send + 'static,
    R: Send + 'static,
    SessionActor: Handler<M>,
    <SessionActor as Actor>::Context: ToEnvelope<SessionActor, M>,
{
    sessions.send(msg).await.map_err(|e| SessionError::Unavailable(format!("sessions actor: {e}")))?
}

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
            let cached = fresh_in_cache(&cache, &id, now);
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
            store.delete(&id).await.map(|_| ())
        })
    }
}

impl Handler<EndById> for SessionActor {
    type Result = ResponseFuture<Result<Option<Session>, SessionError>>;

    fn handle(&mut self, EndById(id): EndById, _: &mut Self::Context) -> Self::Result {
        let (store, cache) = (self.store.clone(), Arc::clone(&self.cache));
        Box::pin(async move {
            with_cache(&cache, |c| c.remove(&id));
            let Some(session) = store.load(&id).await? else { return Ok(None) };
            Ok(store.delete(&id).await?.then_some(session))
        })
    }
}

impl Handler<ListForUser> for SessionActor {
    type Result = ResponseFuture<Result<Vec<Session>, SessionError>>;

    fn handle(&mut self, m: ListForUser, _: &mut Self::Context) -> Self::Result {
        let (store, policy, now) = (self.store.clone(), self.policy, self.clock.now());
        Box::pin(async move { store.list_for_user(&m.user_id, m.include_expired, policy, now).await })
    }
}

impl Handler<ListAll> for SessionActor {
    type Result = ResponseFuture<Result<SessionPage, SessionError>>;

    fn handle(&mut self, m: ListAll, _: &mut Self::Context) -> Self::Result {
        let (store, policy, now) = (self.store.clone(), self.policy, self.clock.now());
        Box::pin(async move { store.list_all(m.include_expired, m.limit, m.offset, policy, now).await })
    }
}

impl Handler<EndAllForUser> for SessionActor {
    type Result = ResponseFuture<Result<u64, SessionError>>;

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
    fn cached_view_answers_only_what_the_actor_would_answer_from_its_cache() {
        use crate::clock::Clock;
        let clock = Arc::new(crate::clock::ManualClock::default());
        let policy = SessionPolicy { idle: Duration::from_secs(600), absolute: Duration::from_secs(3600) };
        let view = CachedSessions { cache: Arc::default(), clock: clock.clone(), policy };
        let cookie = random_token(32);
        let id = sha256_hex(cookie.as_bytes());
        let now = clock.now();
        let s = Session { id: id.clone(), ..session(now) };
        with_cache(&view.cache, |c| c.insert(id.clone(), (s.clone(), now)));
        assert_eq!(view.get(&cookie), Some(s.clone()));
        assert_eq!(view.get(&random_token(32)), None, "another cookie");
        assert_eq!(view.get("short"), None, "a malformed cookie");
        // Older than CACHE_FOR: the actor reads the store again.
        clock.advance(CACHE_FOR + Duration::from_millis(1));
        assert_eq!(view.get(&cookie), None);
        // Fresh in the cache but past its idle limit: the actor ends it.
        let idle = Session { last_seen_at: now - chrono::Duration::minutes(11), ..s.clone() };
        with_cache(&view.cache, |c| c.insert(id.clone(), (idle, clock.now())));
        assert_eq!(view.get(&cookie), None);
        // Ended on this node (the actor removes it from the cache): gone at once.
        with_cache(&view.cache, |c| c.insert(id.clone(), (s.clone(), clock.now())));
        assert!(view.get(&cookie).is_some());
        with_cache(&view.cache, |c| c.remove(&id));
        assert_eq!(view.get(&cookie), None);
    }

    #[test]
    fn only_issued_cookie_shapes_are_looked_up() {
        assert!(well_formed(&random_token(32)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}/", "a".repeat(42))));
    }
}
