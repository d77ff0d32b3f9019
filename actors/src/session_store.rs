//! Where login sessions live: the `sessions` table, or Redis when `REDIS_URL` is set. Only the
//! sessions actor ([`crate::sessions`]) calls this.
//!
//! Redis layout: `tessera:session:<sha256>` holds the JSON session with a TTL (the idle timeout,
//! capped by the absolute end), and the set `tessera:user-sessions:<user_id>` lists a user's ids.
//! Members whose key has expired are harmless and pruned when the set is read. Listing every
//! session scans `tessera:session:*` (admin use only; bounded by the number of live sessions).

use crate::sessions::{Session, SessionError, SessionPolicy, expired};
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use std::time::Duration;
use tessera_entity::sessions as table;

const SESSION_PREFIX: &str = "tessera:session:";
/// Keys read per `MGET` and returned per `SCAN` step.
const BATCH: usize = 500;

/// Where sessions live.
#[derive(Clone)]
pub enum SessionStore {
    Database(DatabaseConnection),
    Redis(ConnectionManager),
}

/// One page of sessions, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub total: u64,
}

fn session_key(id: &str) -> String {
    format!("{SESSION_PREFIX}{id}")
}

fn user_key(user_id: &str) -> String {
    format!("tessera:user-sessions:{user_id}")
}

fn secs(d: chrono::Duration) -> u64 {
    d.num_seconds().max(1) as u64
}

fn from_row(m: table::Model) -> Session {
    Session {
        id: m.id,
        user_id: m.user_id,
        auth_time: m.auth_time,
        last_seen_at: m.last_seen_at,
        expires_at: m.expires_at,
        created_at: m.created_at,
        ip_address: m.ip_address,
        user_agent: m.user_agent,
    }
}

fn to_json(s: &Session) -> Result<String, SessionError> {
    serde_json::to_string(s).map_err(|e| SessionError::Unavailable(e.to_string()))
}

/// Rows that are still valid at `now` (same rule as [`expired`]).
fn live(policy: SessionPolicy, now: DateTime<Utc>) -> Condition {
    let idle = chrono::Duration::from_std(policy.idle).unwrap_or(chrono::Duration::MAX);
    let mut c = Condition::all().add(table::Column::ExpiresAt.gt(now));
    if let Some(horizon) = now.checked_sub_signed(idle) {
        c = c.add(table::Column::LastSeenAt.gte(horizon));
    }
    c
}

/// Newest activity first; ties by id, so pages are stable.
fn sort(sessions: &mut [Session]) {
    sessions.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then_with(|| a.id.cmp(&b.id)));
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

    pub(crate) async fn insert(&self, s: &Session, policy: SessionPolicy) -> Result<(), SessionError> {
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
                let ttl = policy.idle.as_secs().clamp(1, secs(s.expires_at - s.last_seen_at));
                redis::pipe()
                    .atomic()
                    .cmd("SET").arg(session_key(&s.id)).arg(to_json(s)?).arg("EX").arg(ttl).ignore()
                    .cmd("SADD").arg(user_key(&s.user_id)).arg(&s.id).ignore()
                    .cmd("EXPIRE").arg(user_key(&s.user_id)).arg(policy.absolute.as_secs().max(1)).ignore()
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn load(&self, id: &str) -> Result<Option<Session>, SessionError> {
        match self {
            SessionStore::Database(db) => Ok(table::Entity::find_by_id(id).one(db).await?.map(from_row)),
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let body: Option<String> = redis::cmd("GET").arg(session_key(id)).query_async(&mut conn).await?;
                Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
            }
        }
    }

    /// Records activity; never resurrects a session ended meanwhile.
    pub(crate) async fn touch(&self, s: &Session, policy: SessionPolicy) -> Result<(), SessionError> {
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
                let ttl = policy.idle.as_secs().clamp(1, secs(s.expires_at - s.last_seen_at));
                redis::cmd("SET")
                    .arg(session_key(&s.id))
                    .arg(to_json(s)?)
                    .arg("XX")
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<Option<String>>(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Deletes a session; true if this call removed it. (In Redis the per-user set keeps the id
    /// until it is next read or expires; members whose key is gone are harmless.)
    pub(crate) async fn delete(&self, id: &str) -> Result<bool, SessionError> {
        let gone: u64 = match self {
            SessionStore::Database(db) => table::Entity::delete_by_id(id).exec(db).await?.rows_affected,
            SessionStore::Redis(conn) => redis::cmd("DEL").arg(session_key(id)).query_async(&mut conn.clone()).await?,
        };
        Ok(gone > 0)
    }

    /// Deletes every session of a user; returns how many there were.
    pub(crate) async fn delete_for_user(&self, user_id: &str) -> Result<u64, SessionError> {
        match self {
            SessionStore::Database(db) => Ok(table::Entity::delete_many().filter(table::Column::UserId.eq(user_id)).exec(db).await?.rows_affected),
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let ids: Vec<String> = redis::cmd("SMEMBERS").arg(user_key(user_id)).query_async(&mut conn).await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let mut pipe = redis::pipe();
                pipe.atomic();
                for id in &ids {
                    pipe.cmd("DEL").arg(session_key(id));
                }
                pipe.cmd("DEL").arg(user_key(user_id)).ignore();
                let deleted: Vec<u64> = pipe.query_async(&mut conn).await?;
                Ok(deleted.iter().sum())
            }
        }
    }

    /// Every stored session of a user (valid ones only unless `include_expired`), newest first.
    pub(crate) async fn list_for_user(&self, user_id: &str, include_expired: bool, policy: SessionPolicy, now: DateTime<Utc>) -> Result<Vec<Session>, SessionError> {
        let mut sessions = match self {
            SessionStore::Database(db) => {
                let mut select = table::Entity::find().filter(table::Column::UserId.eq(user_id));
                if !include_expired {
                    select = select.filter(live(policy, now));
                }
                return Ok(select.order_by_desc(table::Column::LastSeenAt).order_by_asc(table::Column::Id).all(db).await?.into_iter().map(from_row).collect());
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let ids: Vec<String> = redis::cmd("SMEMBERS").arg(user_key(user_id)).query_async(&mut conn).await?;
                let keys: Vec<String> = ids.iter().map(|id| session_key(id)).collect();
                let found = mget(&mut conn, &keys).await?;
                let stale: Vec<&String> = ids.iter().zip(&found).filter(|(_, s)| s.is_none()).map(|(id, _)| id).collect();
                if !stale.is_empty() {
                    redis::cmd("SREM").arg(user_key(user_id)).arg(stale).query_async::<()>(&mut conn).await?;
                }
                found.into_iter().flatten().filter(|s| s.user_id == user_id).collect::<Vec<_>>()
            }
        };
        if !include_expired {
            sessions.retain(|s| !expired(s, policy, now));
        }
        sort(&mut sessions);
        Ok(sessions)
    }

    /// A page of all sessions (valid ones only unless `include_expired`), newest first.
    pub(crate) async fn list_all(&self, include_expired: bool, limit: u64, offset: u64, policy: SessionPolicy, now: DateTime<Utc>) -> Result<SessionPage, SessionError> {
        match self {
            SessionStore::Database(db) => {
                let mut select = table::Entity::find();
                if !include_expired {
                    select = select.filter(live(policy, now));
                }
                let total = select.clone().count(db).await?;
                let rows = select.order_by_desc(table::Column::LastSeenAt).order_by_asc(table::Column::Id).offset(offset).limit(limit).all(db).await?;
                Ok(SessionPage { sessions: rows.into_iter().map(from_row).collect(), total })
            }
            SessionStore::Redis(conn) => {
                let mut conn = conn.clone();
                let mut keys: Vec<String> = Vec::new();
                let mut cursor: u64 = 0;
                loop {
                    let (next, batch): (u64, Vec<String>) =
                        redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{SESSION_PREFIX}*")).arg("COUNT").arg(BATCH).query_async(&mut conn).await?;
                    keys.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                keys.sort_unstable();
                keys.dedup(); // SCAN may return a key twice
                let mut sessions: Vec<Session> = mget(&mut conn, &keys).await?.into_iter().flatten().collect();
                if !include_expired {
                    sessions.retain(|s| !expired(s, policy, now));
                }
                sort(&mut sessions);
                let total = sessions.len() as u64;
                let sessions = sessions.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).take(usize::try_from(limit).unwrap_or(usize::MAX)).collect();
                Ok(SessionPage { sessions, total })
            }
        }
    }

    /// Deletes sessions past their absolute end or idle too long (the database only: Redis keys
    /// expire by themselves).
    pub(crate) async fn purge(&self, policy: SessionPolicy, now: DateTime<Utc>) -> Result<(), SessionError> {
        if let SessionStore::Database(db) = self {
            let idle = chrono::Duration::from_std(policy.idle).unwrap_or_default();
            let gone = Condition::any().add(table::Column::ExpiresAt.lte(now)).add(table::Column::LastSeenAt.lt(now - idle));
            table::Entity::delete_many().filter(gone).exec(db).await?;
        }
        Ok(())
    }
}

/// The sessions under `keys`, in order (`None` where a key is gone or unreadable).
async fn mget(conn: &mut ConnectionManager, keys: &[String]) -> Result<Vec<Option<Session>>, SessionError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH) {
        let bodies: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query_async(conn).await?;
        out.extend(bodies.into_iter().map(|b| b.and_then(|b| serde_json::from_str(&b).ok())));
    }
    Ok(out)
}
