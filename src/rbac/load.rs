//! Reading RBAC state from the database: a user's effective permissions, and which users a
//! change to a role or a permission affects (so exactly their cache entries are dropped).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait};
use std::collections::BTreeSet;
use tessera_entity::{permissions, role_permissions, roles, user_roles, users};

/// A user's effective permissions at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Effective {
    /// The user row exists.
    pub exists: bool,
    /// The user exists and is active. An inactive user holds no permission.
    pub active: bool,
    /// Names of active permissions granted by active roles through unexpired assignments.
    pub permissions: BTreeSet<String>,
}

impl Effective {
    pub fn has(&self, permission: &str) -> bool {
        self.active && self.permissions.contains(permission)
    }
}

/// Loads the effective permissions of `user_id` at `now`, and the earliest instant at which
/// they change by themselves (the first expiry among the assignments that count).
pub async fn effective<C: ConnectionTrait>(db: &C, user_id: &str, now: DateTime<Utc>) -> Result<(Effective, Option<DateTime<Utc>>), DbErr> {
    let Some(user) = users::Entity::find_by_id(user_id.to_string()).one(db).await? else {
        return Ok((Effective::default(), None));
    };
    if !user.is_active {
        return Ok((Effective { exists: true, active: false, permissions: BTreeSet::new() }, None));
    }
    let assignments = user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user_id))
        .find_also_related(roles::Entity)
        .all(db)
        .await?;
    let mut role_ids = Vec::new();
    let mut earliest: Option<DateTime<Utc>> = None;
    for (a, role) in assignments {
        let live = a.expires_at.is_none_or(|t| t > now);
        if !live || !role.is_some_and(|r| r.is_active) {
            continue;
        }
        if let Some(t) = a.expires_at {
            earliest = Some(earliest.map_or(t, |e| Ord::min(e, t)));
        }
        role_ids.push(a.role_id);
    }
    let mut names = BTreeSet::new();
    if !role_ids.is_empty() {
        let rows: Vec<String> = permissions::Entity::find()
            .select_only()
            .column(permissions::Column::Name)
            .join(JoinType::InnerJoin, permissions::Relation::RolePermissions.def())
            .filter(role_permissions::Column::RoleId.is_in(role_ids))
            .filter(permissions::Column::IsActive.eq(true))
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        names.extend(rows);
    }
    Ok((Effective { exists: true, active: true, permissions: names }, earliest))
}

/// Users holding the role (whatever the assignment's expiry).
pub async fn users_with_role<C: ConnectionTrait>(db: &C, role_id: &str) -> Result<Vec<String>, DbErr> {
    user_roles::Entity::find()
        .select_only()
        .column(user_roles::Column::UserId)
        .filter(user_roles::Column::RoleId.eq(role_id))
        .into_tuple()
        .all(db)
        .await
}

/// Users holding any role that grants the permission.
pub async fn users_with_permission<C: ConnectionTrait>(db: &C, permission_id: &str) -> Result<Vec<String>, DbErr> {
    let roles_granting = Query::select()
        .column(role_permissions::Column::RoleId)
        .from(role_permissions::Entity)
        .and_where(Expr::col(role_permissions::Column::PermissionId).eq(permission_id))
        .to_owned();
    user_roles::Entity::find()
        .select_only()
        .column(user_roles::Column::UserId)
        .filter(user_roles::Column::RoleId.in_subquery(roles_granting))
        .distinct()
        .into_tuple()
        .all(db)
        .await
}
