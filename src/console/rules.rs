//! The administration rules the console enforces on its changes — the same rules as the admin
//! REST API (`src/admin/users.rs`, `src/admin/roles.rs`):
//! - nobody grants permissions they do not hold (assigning a role, adding a permission to a role);
//! - the last active super administrator cannot be deactivated or lose `super_admin`;
//! - deactivating a user ends their sessions and refresh tokens and revokes their access tokens
//!   in the cluster; a password reset ends their sessions and refresh tokens.
//!
//! MERGE: these mirror `pub(super)` helpers of `crate::admin` (`roles::ensure_can_assign`,
//! `users::ensure_not_last_super_admin`, `users::end_access`); once that module exports them, call
//! those instead. Sessions are ended through the session actor here, so this also covers Redis.

use super::failure::Failure;
use crate::admin::roles::SUPER_ADMIN;
use crate::rbac::Effective;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect, RelationTrait};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tessera_actors::sessions::EndAllForUser;
use tessera_entity::{access_tokens, permissions as perm, refresh_tokens, role_permissions, roles, user_roles, users};

/// A change the rules refuse, in words for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Rule(String),
    Failed(Failure),
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Refusal::Failed(f)
    }
}

impl From<sea_orm::DbErr> for Refusal {
    fn from(e: sea_orm::DbErr) -> Self {
        Refusal::Failed(e.into())
    }
}

/// An assignment counts while it has no expiry or expires later.
pub fn live(now: DateTime<Utc>) -> Condition {
    Condition::any().add(user_roles::Column::ExpiresAt.is_null()).add(user_roles::Column::ExpiresAt.gt(now))
}

/// Names of the active permissions these roles grant.
pub async fn granted_by<C: ConnectionTrait>(db: &C, role_ids: &[String]) -> Result<BTreeSet<String>, sea_orm::DbErr> {
    if role_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let names: Vec<String> = role_permissions::Entity::find()
        .select_only()
        .column(perm::Column::Name)
        .join(JoinType::InnerJoin, role_permissions::Relation::Permissions.def())
        .filter(role_permissions::Column::RoleId.is_in(role_ids.to_vec()))
        .filter(perm::Column::IsActive.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    Ok(names.into_iter().collect())
}

/// Refuses when any of `names` is not held by the acting user.
pub fn ensure_holds(actor: &Effective, names: impl IntoIterator<Item = String>) -> Result<(), Refusal> {
    let missing: BTreeSet<String> = names.into_iter().filter(|n| !actor.has(n)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Refusal::Rule(format!("You cannot grant permissions you do not hold yourself: {}.", missing.into_iter().collect::<Vec<_>>().join(", "))))
}

/// Refuses to assign (or remove) roles granting permissions the acting user does not hold.
pub async fn ensure_can_assign<C: ConnectionTrait>(db: &C, actor: &Effective, role_ids: &[String]) -> Result<(), Refusal> {
    ensure_holds(actor, granted_by(db, role_ids).await?)
}

/// Refuses when `user_id` is the only active user holding `super_admin` now.
pub async fn ensure_not_last_super_admin<C: ConnectionTrait>(db: &C, user_id: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    let Some(sa) = roles::Entity::find().filter(roles::Column::Name.eq(SUPER_ADMIN)).one(db).await? else { return Ok(()) };
    let holds = user_roles::Entity::find().filter(user_roles::Column::RoleId.eq(&sa.id)).filter(user_roles::Column::UserId.eq(user_id)).filter(live(now)).count(db).await? > 0;
    if !holds {
        return Ok(());
    }
    let others = user_roles::Entity::find()
        .filter(user_roles::Column::RoleId.eq(&sa.id))
        .filter(user_roles::Column::UserId.ne(user_id))
        .filter(live(now))
        .inner_join(users::Entity)
        .filter(users::Column::IsActive.eq(true))
        .count(db)
        .await?;
    if others == 0 {
        return Err(Refusal::Rule("This is the last active super administrator. Appoint another one first.".into()));
    }
    Ok(())
}

/// Ends the user's sessions (through the session actor) and refresh tokens; with `access`, also
/// revokes their unexpired access tokens in the cluster. Returns the counts for the audit trail.
pub async fn end_access(state: &AppState, user_id: &str, now: DateTime<Utc>, access: bool) -> Result<Value, Failure> {
    match state.sessions.send(EndAllForUser(user_id.to_string())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sessions could not be ended");
            return Err(Failure::Unavailable("The session store is unavailable.".into()));
        }
        Err(e) => {
            tracing::error!(error = %e, "sessions actor unreachable");
            return Err(Failure::Internal);
        }
    }
    let refresh = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::Revoked.eq(false))
        .exec(&state.db)
        .await?
        .rows_affected;
    let access = if access { crate::gdpr::revoke_access_tokens(state, Condition::all().add(access_tokens::Column::UserId.eq(user_id)), now).await? } else { 0 };
    Ok(json!({ "sessions_ended": true, "refresh_tokens_revoked": refresh, "access_tokens_revoked": access }))
}
