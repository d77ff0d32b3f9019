//! The codes actor: issues authorization codes and redeems them exactly once.
//!
//! Codes are 256-bit random strings stored only as their SHA-256. Redemption is a conditional
//! update (`consumed_at IS NULL`), so of any number of concurrent redemptions on any number of
//! nodes exactly one wins; a later one learns it is a replay and gets the grant back, so the
//! caller can revoke every token the first redemption produced. Expired codes are purged
//! periodically.
//!
//! Writes are grouped: the codes issued while an insert runs go in the next insert, one statement
//! for all of them, and the redemptions that arrive while a claim runs are claimed by the next
//! one. A code is handed out only once its row is committed, and each redemption gets its own
//! answer.

use crate::clock::SharedClock;
use crate::crypto::{random_token, sha256_hex};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter};
use std::collections::HashMap;
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

/// Most codes one statement inserts or claims. Batches hold what arrived while the previous statement
/// ran, so they are small; the cap bounds the number of distinct statement texts the drivers cache.
const MAX_BATCH: usize = 32;

type Reply<T> = tokio::sync::oneshot::Sender<T>;

pub struct CodeActor {
    db: DatabaseConnection,
    clock: SharedClock,
    ttl: Duration,
    /// Codes to insert, with who waits for each; written by the next insert.
    inserts: Vec<(codes::ActiveModel, Reply<Result<(), DbErr>>)>,
    inserting: bool,
    /// Code hashes to claim, in arrival order, with who waits for each.
    claims: Vec<(String, Reply<Result<CodeGrant, RedeemError>>)>,
    claiming: bool,
}

impl CodeActor {
    pub fn new(db: DatabaseConnection, clock: SharedClock, ttl: Duration) -> Self {
        CodeActor { db, clock, ttl, inserts: Vec::new(), inserting: false, claims: Vec::new(), claiming: false }
    }

    /// Inserts what is pending in one statement, unless an insert is in flight (its end starts
    /// the next). A code is handed out only after its row is committed.
    fn insert_pending(&mut self, ctx: &mut Context<Self>) {
        if self.inserting || self.inserts.is_empty() {
            return;
        }
        let n = self.inserts.len().min(MAX_BATCH);
        let (rows, replies): (Vec<_>, Vec<_>) = self.inserts.drain(..n).unzip();
        self.inserting = true;
        let db = self.db.clone();
        let write = async move {
            let res = codes::Entity::insert_many(rows).exec_without_returning(&db).await.map(|_| ());
            for r in replies {
                let _ = r.send(res.clone());
            }
        };
        ctx.spawn(write.into_actor(self).map(|(), act, ctx| {
            act.inserting = false;
            act.insert_pending(ctx);
        }));
    }

    /// Claims what is pending with one conditional update, unless a claim is in flight.
    fn claim_pending(&mut self, ctx: &mut Context<Self>) {
        if self.claiming || self.claims.is_empty() {
            return;
        }
        let n = self.claims.len().min(MAX_BATCH);
        let batch: Vec<_> = self.claims.drain(..n).collect();
        self.claiming = true;
        let (db, now) = (self.db.clone(), self.clock.now());
        let work = async move {
            let hashes: Vec<String> = batch.iter().map(|(h, _)| h.clone()).collect();
            match claim(&db, hashes, now).await {
                Ok(mut outcome) => {
                    for (hash, reply) in batch {
                        let _ = reply.send(outcome.take(&hash, now));
                    }
                }
                Err(e) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(RedeemError::Db(e.clone())));
                    }
                }
            }
        };
        ctx.spawn(work.into_actor(self).map(|(), act, ctx| {
            act.claiming = false;
            act.claim_pending(ctx);
        }));
    }
}

/// What one batch of claims found: the rows it claimed, and the rows of codes already used.
struct Claimed {
    won: HashMap<String, codes::Model>,
    used: HashMap<String, codes::Model>,
}

impl Claimed {
    /// The answer for one redemption of `hash`. The first redemption of a claimed code wins; any
    /// other redemption of it, in this batch or later, is a replay.
    fn take(&mut self, hash: &str, now: DateTime<Utc>) -> Result<CodeGrant, RedeemError> {
        if let Some(row) = self.won.remove(hash) {
            let expired = row.expires_at <= now;
            let grant = grant(&row);
            self.used.insert(hash.to_string(), row);
            return if expired { Err(RedeemError::Expired) } else { Ok(grant) };
        }
        match self.used.get(hash) {
            Some(row) => Err(RedeemError::Replayed(Box::new(grant(row)))),
            None => Err(RedeemError::NotFound),
        }
    }
}

fn grant(row: &codes::Model) -> CodeGrant {
    CodeGrant {
        code_hash: row.code_hash.clone(),
        client_id: row.client_id.clone(),
        user_id: row.user_id.clone(),
        redirect_uri: row.redirect_uri.clone(),
        scope: row.scope.clone(),
        code_challenge: row.code_challenge.clone(),
        code_challenge_method: row.code_challenge_method.clone(),
        nonce: row.nonce.clone(),
        auth_time: row.auth_time,
        session_id: row.session_id.clone(),
    }
}

/// One statement claims every unclaimed code of `hashes` and returns their rows; only codes it
/// did not claim (unknown or already used) cost a second read, to tell the two apart. The update
/// is conditional (`consumed_at IS NULL`), so of any number of redemptions on any number of nodes
/// exactly one claims a code.
async fn claim(db: &DatabaseConnection, mut hashes: Vec<String>, now: DateTime<Utc>) -> Result<Claimed, DbErr> {
    hashes.sort_unstable();
    hashes.dedup();
    let mut update = Query::update();
    update
        .table(codes::Entity)
        .value(codes::Column::ConsumedAt, now)
        .and_where(codes::Column::CodeHash.is_in(hashes.iter().cloned()))
        .and_where(codes::Column::ConsumedAt.is_null())
        .returning_all();
    let stmt = db.get_database_backend().build(&update);
    let mut won = HashMap::new();
    for r in db.query_all_raw(stmt).await? {
        let row = codes::Model::from_query_result(&r, "")?;
        won.insert(row.code_hash.clone(), row);
    }
    let others: Vec<String> = hashes.into_iter().filter(|h| !won.contains_key(h)).collect();
    let used = if others.is_empty() {
        HashMap::new()
    } else {
        codes::Entity::find().filter(codes::Column::CodeHash.is_in(others)).all(db).await?.into_iter().map(|r| (r.code_hash.clone(), r)).collect()
    };
    Ok(Claimed { won, used })
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

    fn handle(&mut self, IssueCode(g): IssueCode, ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        let expires_at = now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(10));
        let code = random_token(32);
        let row = codes::ActiveModel {
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
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inserts.push((row, tx));
        self.insert_pending(ctx);
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| Err(DbErr::Custom("codes actor stopped".into())))?;
            Ok(code)
        })
    }
}

impl Handler<RedeemCode> for CodeActor {
    type Result = ResponseFuture<Result<CodeGrant, RedeemError>>;

    fn handle(&mut self, RedeemCode(code): RedeemCode, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.claims.push((sha256_hex(code.as_bytes()), tx));
        self.claim_pending(ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(RedeemError::Db(DbErr::Custom("codes actor stopped".into())))) })
    }
}
