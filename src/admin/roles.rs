//! `/api/v2/roles`: role CRUD and a role's permissions. Nobody grants what they do not hold: adding
//! permissions to a role, like assigning a role (see `users`), needs the caller to hold them all.
//! `super_admin` always holds every permission; system roles are never deleted or deactivated.

use crate::rbac::rules;
use super::ctx::{Ctx, created, no_content, ok};
use super::error::{ApiError, unique_or_db};
use super::validate::{Body, DESCRIPTION, NAME, Text};
use super::{permissions, views};
use crate::admin::auth::Caller;
use actix_web::HttpResponse;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait,
};
use serde_json::json;
use std::collections::HashMap;
use tessera_actors::audit::Severity;
use tessera_entity::{permissions as perm, role_permissions, roles, user_roles};

pub use crate::rbac::rules::SUPER_ADMIN;

fn role_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}
const ROLE_NAME: Text = Text::chars(2, 64, role_name_char, "lowercase letters, digits and _");
/// A role or permission reference: its id or its name.
pub(super) const REF: Text = Text::len(1, 100);

/// A role by id or by name.
pub(super) async fn find<C: ConnectionTrait>(db: &C, key: &str) -> Result<roles::Model, ApiError> {
    if let Some(r) = roles::Entity::find_by_id(key.to_string()).one(db).await? {
        return Ok(r);
    }
    roles::Entity::find().filter(roles::Column::Name.eq(key)).one(db).await?.ok_or(ApiError::NotFound("role"))
}

/// Names of the permissions the roles grant (`active_only`: only active permissions).
pub(super) async fn permission_names<C: ConnectionTrait>(db: &C, role_ids: &[String], active_only: bool) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if role_ids.is_empty() {
        return Ok(out);
    }
    let mut q = role_permissions::Entity::find()
        .select_only()
        .column(role_permissions::Column::RoleId)
        .column(perm::Column::Name)
        .join(JoinType::InnerJoin, role_permissions::Relation::Permissions.def())
        .filter(role_permissions::Column::RoleId.is_in(role_ids.to_vec()))
        .order_by_asc(perm::Column::Name);
    if active_only {
        q = q.filter(perm::Column::IsActive.eq(true));
    }
    let rows: Vec<(String, String)> = q.into_tuple().all(db).await?;
    for (role, name) in rows {
        out.entry(role).or_default().push(name);
    }
    Ok(out)
}

/// Refuses to grant any permission the caller does not hold.
pub(super) fn ensure_holds(caller: &Caller, names: impl IntoIterator<Item = String>) -> Result<(), ApiError> {
    Ok(rules::ensure_holds(&caller.permissions, names)?)
}

/// Refuses to assign roles granting permissions the caller does not hold.
pub(super) async fn ensure_can_assign<C: ConnectionTrait>(db: &C, caller: &Caller, role_ids: &[String]) -> Result<(), ApiError> {
    Ok(rules::ensure_can_assign(db, &caller.permissions, role_ids).await?)
}

fn audit_view(r: &roles::Model) -> serde_json::Value {
    json!({ "name": r.name, "display_name": r.display_name, "description": r.description, "is_active": r.is_active })
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    q.finish()?;
    let db = ctx.db();
    let total = roles::Entity::find().count(db).await?;
    let rows = roles::Entity::find().order_by_asc(roles::Column::Name).offset(page.offset()).limit(page.limit).all(db).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let perms = permission_names(db, &ids, false).await?;
    let items: Vec<_> = rows.iter().map(|r| views::role(r, Some(perms.get(&r.id).map(Vec::as_slice).unwrap_or_default()))).collect();
    Ok(ok(json!({ "roles": items, "pagination": page.describe(total) })))
}

pub async fn get(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let role = find(ctx.db(), &ctx.param("id")?).await?;
    let perms = permission_names(ctx.db(), std::slice::from_ref(&role.id), false).await?;
    Ok(ok(views::role(&role, Some(perms.get(&role.id).map(Vec::as_slice).unwrap_or_default()))))
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b: Body = ctx.body()?;
    let name = b.required_str("name", ROLE_NAME);
    let display_name = b.required_str("display_name", NAME);
    let description = b.opt_str("description", DESCRIPTION);
    let is_active = b.opt_bool("is_active").unwrap_or(true);
    let perm_refs = b.opt_str_list("permissions", REF, 500).unwrap_or_default();
    if let Some(n) = &name
        && !n.starts_with(|c: char| c.is_ascii_lowercase())
    {
        b.error("name", "must start with a lowercase letter");
    }
    b.finish()?;
    let (Some(name), Some(display_name)) = (name, display_name) else { return Err(ApiError::Internal) };
    let caller = ctx.caller()?;
    let db = ctx.db();
    let grants = permissions::resolve_many(db, &perm_refs, "permissions").await?;
    ensure_holds(caller, grants.iter().map(|p| p.name.clone()))?;
    if roles::Entity::find().filter(roles::Column::Name.eq(&name)).one(db).await?.is_some() {
        return Err(ApiError::Conflict(format!("a role named {name} exists")));
    }
    let now = ctx.now();
    let txn = db.begin().await?;
    let role = roles::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        name: Set(name),
        display_name: Set(display_name),
        description: Set(description.filter(|d| !d.is_empty())),
        is_system: Set(false),
        is_active: Set(is_active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| unique_or_db(e, "a role with this name exists"))?;
    if !grants.is_empty() {
        let rows = grants.iter().map(|p| role_permissions::ActiveModel { role_id: Set(role.id.clone()), permission_id: Set(p.id.clone()), created_at: Set(now) });
        role_permissions::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    let names: Vec<String> = grants.iter().map(|p| p.name.clone()).collect();
    ctx.record(ctx.event("ROLE_CREATED", Severity::Info).resource("role", role.id.clone()).details(json!({ "after": audit_view(&role), "permissions": names }))).await;
    Ok(created(views::role(&role, Some(&names))))
}

pub async fn update(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let display_name = b.opt_str("display_name", NAME);
    let description = b.nullable_str("description", DESCRIPTION);
    let is_active = b.opt_bool("is_active");
    b.finish()?;
    let db = ctx.db();
    let before = find(db, &ctx.param("id")?).await?;
    if before.is_system && is_active == Some(false) {
        return Err(ApiError::Conflict(format!("{} is a system role and cannot be deactivated", before.name)));
    }
    let mut am: roles::ActiveModel = before.clone().into();
    if let Some(d) = display_name {
        am.display_name = Set(d);
    }
    if let Some(d) = description {
        am.description = Set(d);
    }
    if let Some(a) = is_active {
        am.is_active = Set(a);
    }
    am.updated_at = Set(ctx.now());
    let affected = if is_active.is_some_and(|a| a != before.is_active) { ctx.state.permissions.users_with_role(&before.id).await? } else { Vec::new() };
    let after = am.update(db).await?;
    ctx.state.permissions.invalidate_users(&affected).await;
    ctx.record(ctx.event("ROLE_UPDATED", Severity::Info).resource("role", after.id.clone()).details(json!({ "before": audit_view(&before), "after": audit_view(&after) }))).await;
    let perms = permission_names(db, std::slice::from_ref(&after.id), false).await?;
    Ok(ok(views::role(&after, Some(perms.get(&after.id).map(Vec::as_slice).unwrap_or_default()))))
}

pub async fn delete(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let db = ctx.db();
    let role = find(db, &ctx.param("id")?).await?;
    if role.is_system {
        return Err(ApiError::Conflict(format!("{} is a system role and cannot be deleted", role.name)));
    }
    let affected = ctx.state.permissions.users_with_role(&role.id).await?;
    let perms = permission_names(db, std::slice::from_ref(&role.id), false).await?.remove(&role.id).unwrap_or_default();
    let txn = db.begin().await?;
    user_roles::Entity::delete_many().filter(user_roles::Column::RoleId.eq(&role.id)).exec(&txn).await?;
    role_permissions::Entity::delete_many().filter(role_permissions::Column::RoleId.eq(&role.id)).exec(&txn).await?;
    roles::Entity::delete_by_id(role.id.clone()).exec(&txn).await?;
    txn.commit().await?;
    ctx.state.permissions.invalidate_users(&affected).await;
    ctx.record(
        ctx.event("ROLE_DELETED", Severity::Warning)
            .resource("role", role.id.clone())
            .details(json!({ "before": audit_view(&role), "permissions": perms, "users_affected": affected.len() })),
    )
    .await;
    Ok(no_content())
}

async fn permission_list(ctx: &Ctx, role: &roles::Model) -> Result<HttpResponse, ApiError> {
    let rows = perm::Entity::find()
        .join(JoinType::InnerJoin, perm::Relation::RolePermissions.def())
        .filter(role_permissions::Column::RoleId.eq(&role.id))
        .order_by_asc(perm::Column::Name)
        .all(ctx.db())
        .await?;
    Ok(ok(json!({ "role_id": role.id, "permissions": rows.iter().map(views::permission).collect::<Vec<_>>() })))
}

pub async fn permissions(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let role = find(ctx.db(), &ctx.param("id")?).await?;
    permission_list(&ctx, &role).await
}

/// Applies a change of the role's permission set: `replace` = the list is the new set.
async fn change_permissions(ctx: Ctx, replace: bool) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let refs = b.required_str_list("permissions", REF, 500);
    b.finish()?;
    let refs = refs.unwrap_or_default();
    let db = ctx.db();
    let role = find(db, &ctx.param("id")?).await?;
    if role.name == SUPER_ADMIN {
        return Err(ApiError::Conflict("super_admin always holds every permission; its set cannot be changed".into()));
    }
    let wanted = permissions::resolve_many(db, &refs, "permissions").await?;
    let current: Vec<String> = role_permissions::Entity::find()
        .select_only()
        .column(role_permissions::Column::PermissionId)
        .filter(role_permissions::Column::RoleId.eq(&role.id))
        .into_tuple()
        .all(db)
        .await?;
    let added: Vec<&perm::Model> = wanted.iter().filter(|p| !current.contains(&p.id)).collect();
    let removed: Vec<String> = if replace { current.iter().filter(|id| !wanted.iter().any(|p| &p.id == *id)).cloned().collect() } else { Vec::new() };
    ensure_holds(ctx.caller()?, added.iter().map(|p| p.name.clone()))?;
    if !added.is_empty() || !removed.is_empty() {
        let now = ctx.now();
        let affected = ctx.state.permissions.users_with_role(&role.id).await?;
        let removed_names: Vec<String> = perm::Entity::find().select_only().column(perm::Column::Name).filter(perm::Column::Id.is_in(removed.clone())).into_tuple().all(db).await?;
        let txn = db.begin().await?;
        if !removed.is_empty() {
            role_permissions::Entity::delete_many()
                .filter(role_permissions::Column::RoleId.eq(&role.id))
                .filter(role_permissions::Column::PermissionId.is_in(removed))
                .exec(&txn)
                .await?;
        }
        if !added.is_empty() {
            let rows = added.iter().map(|p| role_permissions::ActiveModel { role_id: Set(role.id.clone()), permission_id: Set(p.id.clone()), created_at: Set(now) });
            role_permissions::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        ctx.state.permissions.invalidate_users(&affected).await;
        let added_names: Vec<&str> = added.iter().map(|p| p.name.as_str()).collect();
        ctx.record(
            ctx.event("ROLE_PERMISSIONS_CHANGED", Severity::Warning)
                .resource("role", role.id.clone())
                .details(json!({ "role": role.name, "added": added_names, "removed": removed_names })),
        )
        .await;
    }
    permission_list(&ctx, &role).await
}

pub async fn set_permissions(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    change_permissions(ctx, true).await
}

pub async fn add_permissions(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    change_permissions(ctx, false).await
}

pub async fn remove_permission(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let db = ctx.db();
    let role = find(db, &ctx.param("id")?).await?;
    if role.name == SUPER_ADMIN {
        return Err(ApiError::Conflict("super_admin always holds every permission; its set cannot be changed".into()));
    }
    let p = permissions::find(db, &ctx.param("permission_id")?).await?;
    let affected = ctx.state.permissions.users_with_role(&role.id).await?;
    let res = role_permissions::Entity::delete_many()
        .filter(role_permissions::Column::RoleId.eq(&role.id))
        .filter(role_permissions::Column::PermissionId.eq(&p.id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound("permission on this role"));
    }
    ctx.state.permissions.invalidate_users(&affected).await;
    ctx.record(
        ctx.event("ROLE_PERMISSIONS_CHANGED", Severity::Warning)
            .resource("role", role.id.clone())
            .details(json!({ "role": role.name, "added": [], "removed": [p.name] })),
    )
    .await;
    Ok(no_content())
}
