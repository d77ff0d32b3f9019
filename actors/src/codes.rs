//! The codes actor: issues authorization codes and redeems them exactly once.
//!
//! Codes are 256-bit random strings stored only as their SHA-256. Redemption is a conditional
//! update (`consumed_at IS NULL`), so of any number of concurrent redemptions on any number of
//! nodes exactly one wins; a later one learns it is a replay and gets the grant back, so the
//! caller can revoke every token the first redemption produced. Expired codes are purged
//! periodically.

use crate::clock::SharedClock;
use crate::crypto::{random_token, sha256_hex};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter};
use std::time::Duration;
use tessera_entity::authorization_codes as codes;

/// What a code is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub nonce: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub session_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("unknown authorization code")]
    NotFound,
    #[error("authorization code expired")]
    Expired,
    /// The code was already used: the grant is returned so its tokens can be revoked.
    #[error("authorization code already used")]
    Replayed(Box<CodeGrant>),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Issue a code for `grant` (its `code_hash` is ignored); returns the code itself.
#[derive(Message)]
#[rtype(result = "Result<String, DbErr>")]
pub struct IssueCode(pub CodeGrant);

/// Redeem a code once.
#[derive(Message)]
#[rtype(result = "Result<CodeGrant, RedeemError>")]
pub struct RedeemCode(pub String);

pub struct CodeActor {
    db: DatabaseConnection,
    clock: SharedClock,
    ttl: Duration,
}

impl CodeActor {
    pub fn new(db: DatabaseConnection, clock: SharedClock, ttl: Duration) -> Self {
        CodeActor { db, clock, ttl }
    }
}

impl Actor for CodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_secs(60), |act, ctx| {
            let (db, now) = (act.db.clone(), act.clock.now());
            ctx.spawn(
                async move {
                    // Keep consumed codes a while past expiry so late replays are still recognised.
                    let horizon = now - chrono::Duration::hours(1);
                    if let Err(e) = codes::Entity::delete_many().filter(codes::Column::ExpiresAt.lt(horizon)).exec(&db).await {
                        tracing::warn!(error = %e, "purging expired codes failed");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Handler<IssueCode> for CodeActor {
    type Result = ResponseFuture<Result<String, DbErr>>;

    fn handle(&mut self, IssueCode(g): IssueCode, _: &mut Self::Context) -> Self::Result {
        let (db, now) = (self.db.clone(), self.clock.now());
        let expires_at = now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(10));
        Box::pin(async move {
            let code = random_token(32);
            codes::Entity::insert(codes::ActiveModel {
                code_hash: Set(sha256_hex(code.as_bytes())),
                client_id: Set(g.client_id),
                user_id: Set(g.user_id),
                redirect_uri: Set(g.redirect_uri),
                scope: Set(g.scope),
                code_challenge: Set(g.code_challenge),
                code_challenge_method: Set(g.code_challenge_method),
                nonce: Set(g.nonce),
                auth_time: Set(g.auth_time),
                session_id: Set(g.session_id),
                expires_at: Set(expires_at),
                consumed_at: Set(None),
                created_at: Set(now),
            })
            .exec_without_returning(&db)
            .await?;
            Ok(code)
        })
    }
}

impl Handler<RedeemCode> for CodeActor {
    type Result = ResponseFuture<Result<CodeGrant, RedeemError>>;

    fn handle(&mut self, RedeemCode(code): RedeemCode, _: &mut Self::Context) -> Self::Result {
        let (db, now) = (self.db.clone(), self.clock.now());
        Box::pin(async move {
            let hash = sha256_hex(code.as_bytes());
            // One statement claims the code and returns it; only a code that was not claimed
            // (unknown or already used) costs a second read, to tell the two apart.
            let mut claim = Query::update();
            claim
                .table(codes::Entity)
                .value(codes::Column::ConsumedAt, now)
                .and_where(codes::Column::CodeHash.eq(hash.as_str()))
                .and_where(codes::Column::ConsumedAt.is_null())
                .returning_all();
            let stmt = db.get_database_backend().build(&claim);
            let claimed = match db.query_one_raw(stmt).await? {
                Some(r) => Some(codes::Model::from_query_result(&r, "")?),
                None => None,
            };
            let won = claimed.is_some();
            let row = match claimed {
                Some(row) => row,
                None => codes::Entity::find_by_id(hash).one(&db).await?.ok_or(RedeemError::NotFound)?,
            };
            let grant = CodeGrant {
                code_hash: row.code_hash,
                client_id: row.client_id,
                user_id: row.user_id,
                redirect_uri: row.redirect_uri,
                scope: row.scope,
                code_challenge: row.code_challenge,
                code_challenge_method: row.code_challenge_method,
                nonce: row.nonce,
                auth_time: row.auth_time,
                session_id: row.session_id,
            };
            if !won {
                return Err(RedeemError::Replayed(Box::new(grant)));
            }
            if row.expires_at <= now {
                return Err(RedeemError::Expired);
            }
            Ok(grant)
        })
    }
}
