//! Remembered consent: the scopes a user has granted a client, one row per (user, client) in
//! `consents`. Approving stores the union of old and new scopes, so the user is asked again only
//! when a client requests a scope it was not granted before.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, SqlErr};
use crate::read_cache::ReadCache;
use std::sync::Arc;
use std::time::Duration;
use tessera_entity::consents;

async fn row(db: &DatabaseConnection, user_id: &str, client_id: &str) -> Result<Option<consents::Model>, DbErr> {
    consents::Entity::find()
        .filter(consents::Column::UserId.eq(user_id))
        .filter(consents::Column::ClientId.eq(client_id))
        .one(db)
        .await
}

/// The scopes `user_id` has granted `client_id` (the public client id).
async fn granted(db: &DatabaseConnection, user_id: &str, client_id: &str) -> Result<Vec<String>, DbErr> {
    Ok(row(db, user_id, client_id).await?.map(|r| r.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default())
}

/// How long the scopes read for a request may be reused by later requests of this process.
pub const CONSENT_CACHE_TTL: Duration = Duration::from_secs(5);

/// [`granted`] for the authorization endpoint, by (user, client). Every consent write made in this
/// process bumps `consents::generation()`, which empties it; a consent given or withdrawn
/// elsewhere (another node) is seen within [`CONSENT_CACHE_TTL`]. "Nothing granted" is cached too:
/// at worst the user is asked again.
pub struct ConsentCache(ReadCache<Vec<String>>);

impl Default for ConsentCache {
    fn default() -> Self {
        ConsentCache(ReadCache::new(CONSENT_CACHE_TTL, consents::generation))
    }
}

impl ConsentCache {
    pub async fn granted(&self, db: &DatabaseConnection, user_id: &str, client_id: &str) -> Result<Arc<Vec<String>>, DbErr> {
        let key = format!("{user_id} {client_id}");
        let found = self.0.get(&key, async { granted(db, user_id, client_id).await.map(Some) }).await?;
        Ok(found.unwrap_or_default())
    }
}

/// `old` followed by the scopes of `new` it lacks.
pub fn union(old: &[String], new: &[String]) -> Vec<String> {
    let mut out = old.to_vec();
    for s in new {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Records that `user_id` granted `scopes` to `client_id`, keeping what was granted before.
pub async fn remember(db: &DatabaseConnection, user_id: &str, client_id: &str, scopes: &[String], now: DateTime<Utc>) -> Result<(), DbErr> {
    for _attempt in 0..2 {
        match row(db, user_id, client_id).await? {
            Some(existing) => {
                let old: Vec<String> = existing.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
                let merged = union(&old, scopes).join(" ");
                if merged != existing.scopes {
                    consents::Entity::update(consents::ActiveModel { id: Set(existing.id), scopes: Set(merged), updated_at: Set(now), ..Default::default() })
                        .exec(db)
                        .await?;
                    consents::bump_generation();
                }
                return Ok(());
            }
            None => {
                let insert = consents::Entity::insert(consents::ActiveModel {
                    id: Set(uuid::Uuid::new_v4().to_string()),
                    user_id: Set(user_id.to_string()),
                    client_id: Set(client_id.to_string()),
                    scopes: Set(union(&[], scopes).join(" ")),
                    created_at: Set(now),
                    updated_at: Set(now),
                })
                .exec_without_returning(db)
                .await;
                match insert {
                    Ok(_) => {
                        consents::bump_generation();
                        return Ok(());
                    }
                    // A concurrent approval inserted the row first: merge into it.
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Forgets every scope `user_id` granted `client_id`.
pub async fn revoke(db: &DatabaseConnection, user_id: &str, client_id: &str) -> Result<(), DbErr> {
    consents::Entity::delete_many()
        .filter(consents::Column::UserId.eq(user_id))
        .filter(consents::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    consents::bump_generation();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_order_and_adds_only_new() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(union(&s(&["openid", "profile"]), &s(&["email", "openid"])), s(&["openid", "profile", "email"]));
        assert_eq!(union(&[], &s(&["a", "a"])), s(&["a"]));
    }
}
