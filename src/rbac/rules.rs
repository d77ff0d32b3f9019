//! The administration rules, in one place for the admin REST API and the console:
//! - nobody grants permissions they do not hold (assigning a role, adding a permission to a role);
//! - the last active super administrator cannot be deactivated, erased or lose `super_admin`;
//! - deactivating a user ends their sessions (through the session actor, so Redis-held ones too)
//!   and refresh tokens and revokes their access tokens in the cluster; a password reset ends
//!   their sessions and refresh tokens.

use super::Effective;
use crate::gdpr::GdprError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect, RelationTrait};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tessera_actors::sessions::EndAllForUser;
use tessera_entity::{access_tokens, permissions as perm, refresh_tokens, role_permissions, roles, user_roles, users};

pub const SUPER_ADMIN: &str = "super_admin";

/// Why a rule refused a change.
#[derive(Debug)]
pub enum Refusal {
    /// The acting user does not hold these permissions.
    NotHeld(BTreeSet<String>),
    LastSuperAdmin,
    Db(DbErr),
}

impl From<DbErr> for Refusal {
    fn from(e: DbErr) -> Self {
        Refusal::Db(e)
    }
}

impl Refusal {
    /// The refusal in words for the administrator (`None` for a database failure).
    pub fn message(&self) -> Option<String> {
        match self {
            Refusal::NotHeld(m) => Some(format!("you cannot grant permissions you do not hold: {}", m.iter().cloned().collect::<Vec<_>>().join(", "))),
            Refusal::LastSuperAdmin => Some("this is the last active super administrator; appoint another first".into()),
            Refusal::Db(_) => None,
        }
    }
}

/// An assignment counts while it has no expiry or expires later.
pub fn live(now: DateTime<Utc>) -> Condition {
    Condition::any().add(user_roles::Column::ExpiresAt.is_null()).add(user_roles::Column::ExpiresAt.gt(now))
}

/// Names of the active permissions these roles grant.
pub async fn granted_by<C: ConnectionTrait>(db: &C, role_ids: &[String]) -> Result<BTreeSet<String>, DbErr> {
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
    if missing.is_empty() { Ok(()) } else { Err(Refusal::NotHeld(missing)) }
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
    if others == 0 { Err(Refusal::LastSuperAdmin) } else { Ok(()) }
}

/// Ends the user's sessions (through the session actor) and refresh tokens; with `access`, also
/// revokes their unexpired access tokens in the cluster. Returns the counts for the audit trail.
pub async fn end_access(state: &AppState, user_id: &str, now: DateTime<Utc>, access: bool) -> Result<Value, GdprError> {
    let sessions = state
        .sessions
        .send(EndAllForUser(user_id.to_string()))
        .await
        .map_err(|e| GdprError::Sessions(tessera_actors::sessions::SessionError::Unavailable(e.to_string())))??;
    let refresh = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::Revoked, Expr::value(true))
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::Revoked.eq(false))
        .exec(&state.db)
        .await?
        .rows_affected;
    let access = if access { crate::gdpr::revoke_access_tokens(state, Condition::all().add(access_tokens::Column::UserId.eq(user_id)), now).await? } else { 0 };
    Ok(json!({ "sessions_ended": sessions, "refresh_tokens_revoked": refresh, "access_tokens_revoked": access }))
}
