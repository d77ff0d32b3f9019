//! The refresh-token store: opaque 256-bit tokens kept only as their SHA-256, grouped in families.
//!
//! A family starts at an authorization code; each use rotates the token (the old row gets
//! `rotated_at`, the successor shares the family and names its parent). Rotation is one
//! conditional UPDATE (`rotated_at IS NULL AND revoked = false`), committed with the successor by
//! `token_store`, so of concurrent uses exactly one wins. Revoking a family revokes its refresh tokens and every access token issued with it.

use super::error::OAuthError;
use super::revoke::revoke_access_tokens;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use tessera_actors::crypto::{random_token, sha256_hex};
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

/// A new refresh token: the token (shown once), its family id and the row the caller writes
/// (through `state.tokens`) before answering.
pub fn mint(state: &AppState, new: NewRefresh) -> (String, String, refresh_tokens::ActiveModel) {
    let now = state.clock.now();
    let ttl = chrono::Duration::from_std(state.settings.refresh_token_ttl).unwrap_or(chrono::Duration::days(30));
    let token = random_token(32);
    let family = new.family_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let row = refresh_tokens::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        token_hash: Set(sha256_hex(token.as_bytes())),
        family_id: Set(family.clone()),
        parent_id: Set(new.parent_id),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id),
        scope: Set(new.scope),
        auth_time: Set(new.auth_time),
        nonce: Set(new.nonce),
        code_hash: Set(new.code_hash),
        expires_at: Set(now + ttl),
        revoked: Set(false),
        revoked_at: Set(None),
        rotated_at: Set(None),
        created_at: Set(now),
    };
    (token, family, row)
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
