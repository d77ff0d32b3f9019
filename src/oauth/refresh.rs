//! The refresh-token store: tokens grouped in families, kept in the database only as their SHA-256.
//!
//! A family starts at an authorization code; each use rotates the token (the old row gets
//! `rotated_at`, the successor shares the family and names its parent). Rotation is one
//! conditional UPDATE (`rotated_at IS NULL AND revoked = false`), committed with the successor by
//! `token_store`, so of concurrent uses exactly one wins. Revoking a family revokes its refresh tokens and every access token issued with it.
//!
//! A token carries what its row says at minting (id, family, client, user, scope, times, code),
//! sealed under a key derived from the key-encryption key ([`tessera_actors::crypto::Sealer`]), so
//! an exchange reads no row: the rotation is what finds out whether the token is still current.
//! Tokens minted before tokens were sealed (random strings) are still looked up by hash.

use super::error::OAuthError;
use super::revoke::revoke_access_tokens;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use tessera_actors::crypto::sha256_hex;
use tessera_entity::{access_tokens, refresh_tokens, users};

pub use refresh_tokens::Model as RefreshToken;

/// What a new refresh token is bound to.
#[derive(Debug, Clone)]
pub struct NewRefresh {
    /// `None` starts a new family.
    pub family_id: Option<String>,
    pub parent_id: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: DateTime<Utc>,
    pub nonce: Option<String>,
    pub code_hash: Option<String>,
}

/// What a refresh token seals (short names: clients store it).
#[derive(Serialize, Deserialize)]
struct Sealed {
    id: String,
    f: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    c: String,
    u: String,
    s: String,
    /// auth_time, issued at, expiry: µs since the epoch.
    at: i64,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    h: Option<String>,
}

/// The sealing purpose of refresh tokens (see `tessera_actors::crypto::Sealer`).
pub const SEAL_PURPOSE: &str = "tessera refresh token v1";

/// A new refresh token: the token (shown once), its family id and the row the caller writes
/// (through `state.tokens`) before answering.
pub fn mint(state: &AppState, new: NewRefresh) -> (String, String, refresh_tokens::ActiveModel) {
    let now = state.clock.now();
    let ttl = chrono::Duration::from_std(state.settings.refresh_token_ttl).unwrap_or(chrono::Duration::days(30));
    let id = uuid::Uuid::new_v4().to_string();
    let family = new.family_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let expires_at = now + ttl;
    let token = state.refresh_seal.seal(&Sealed {
        id: id.clone(),
        f: family.clone(),
        p: new.parent_id.clone(),
        c: new.client_id.clone(),
        u: new.user_id.clone(),
        s: new.scope.clone(),
        at: new.auth_time.timestamp_micros(),
        iat: now.timestamp_micros(),
        exp: expires_at.timestamp_micros(),
        n: new.nonce.clone(),
        h: new.code_hash.clone(),
    });
    let row = refresh_tokens::ActiveModel {
        id: Set(id),
        token_hash: Set(sha256_hex(token.as_bytes())),
        family_id: Set(family.clone()),
        parent_id: Set(new.parent_id),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id),
        scope: Set(new.scope),
        auth_time: Set(new.auth_time),
        nonce: Set(new.nonce),
        code_hash: Set(new.code_hash),
        expires_at: Set(expires_at),
        revoked: Set(false),
        revoked_at: Set(None),
        rotated_at: Set(None),
        created_at: Set(now),
    };
    (token, family, row)
}

/// The row `token` was minted with, opened from the token itself (no read): as written then, not
/// rotated and not revoked. `None` when the token was not sealed by this deployment (an older
/// random token, or not a token at all).
pub fn open(state: &AppState, token: &str) -> Option<RefreshToken> {
    let s: Sealed = state.refresh_seal.open(token)?;
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us);
    Some(RefreshToken {
        id: s.id,
        token_hash: sha256_hex(token.as_bytes()),
        family_id: s.f,
        parent_id: s.p,
        client_id: s.c,
        user_id: s.u,
        scope: s.s,
        auth_time: time(s.at)?,
        nonce: s.n,
        code_hash: s.h,
        expires_at: time(s.exp)?,
        revoked: false,
        revoked_at: None,
        rotated_at: None,
        created_at: time(s.iat)?,
    })
}

/// Looks a presented token up by its hash.
pub async fn find(db: &DatabaseConnection, token: &str) -> Result<Option<RefreshToken>, DbErr> {
    refresh_tokens::Entity::find().filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes()))).one(db).await
}

/// The token and, in the same query, its user (`None` when the user no longer exists).
pub async fn find_with_user(db: &DatabaseConnection, token: &str) -> Result<Option<(RefreshToken, Option<users::Model>)>, DbErr> {
    refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .find_also_related(users::Entity)
        .one(db)
        .await
}

/// True when the token may still be exchanged or reported active.
pub fn is_current(t: &RefreshToken, now: DateTime<Utc>) -> bool {
    !t.revoked && t.rotated_at.is_none() && t.expires_at > now
}

/// Revokes every refresh token of `family_id` and every access token issued with the family.
///
/// The refresh rows are revoked in two passes. A rotation commits together with its successor
/// (`token_store`): if the first pass revoked the parent first, the rotation fails; otherwise the
/// rotation committed before the first pass finished (it waited on the parent's row lock, or
/// SQLite serialised the writers), so the second pass sees the successor.
pub async fn revoke_family(state: &AppState, family_id: &str) -> Result<(), OAuthError> {
    let now = state.clock.now();
    for _pass in 0..2 {
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
            .filter(refresh_tokens::Column::FamilyId.eq(family_id))
            .filter(refresh_tokens::Column::Revoked.eq(false))
            .exec(&state.db)
            .await?;
    }
    revoke_access_tokens(state, access_tokens::Column::RefreshFamilyId.eq(family_id)).await
}

/// Revokes every family that started from the authorization code `code_hash`, and every access
/// token descending from the code.
pub async fn revoke_code_descendants(state: &AppState, code_hash: &str) -> Result<(), OAuthError> {
    let families: Vec<String> = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::CodeHash.eq(code_hash))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|t| t.family_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for family in &families {
        revoke_family(state, family).await?;
    }
    revoke_access_tokens(state, access_tokens::Column::CodeHash.eq(code_hash)).await
}
