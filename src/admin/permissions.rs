//! `/api/v2/permissions`: permission CRUD. A new permission is granted to `super_admin` at once
//! (it holds every permission). Permissions the admin API itself requires cannot be deleted, and
//! `permissions:update` cannot be deactivated (that could never be undone).

use super::ctx::{Ctx, created, no_content, ok};
use super::error::{ApiError, unique_or_db};
use super::roles::SUPER_ADMIN;
use super::routes::required_permissions;
use super::validate::{DESCRIPTION, NAME, Text};
use super::views;
use actix_web::HttpResponse;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::json;
use tessera_actors::audit::Severity;
use tessera_entity::{permissions as perm, role_permissions, roles};

pub const CATEGORIES: [&str; 3] = ["menu", "api", "data"];

fn name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':')
}
const PERMISSION_NAME: Text = Text::chars(3, 100, name_char, "lowercase letters, digits, _, - and :");

/// `resource:action` with non-empty segments.
fn well_formed(name: &str) -> bool {
    name.contains(':') && name.split(':').all(|s| !s.is_empty())
}

/// (resource, action): the name up to its last `:`, and the rest (as the seed splits them).
pub fn parts(name: &str) -> (&str, &str) {
    name.rsplit_once(':').unwrap_or((name, name))
}

/// A permission by id or by name.
pub(super) async fn find<C: ConnectionTrait>(db: &C, key: &str) -> Result<perm::Model, ApiError> {
    if let Some(p) = perm::Entity::find_by_id(key.to_string()).one(db).await? {
        return Ok(p);
    }
    perm::Entity::find().filter(perm::Column::Name.eq(key)).one(db).await?.ok_or(ApiError::NotFound("permission"))
}

/// Resolves ids or names; unknown ones are field errors (`field[i]`).
pub(super) async fn resolve_many<C: ConnectionTrait>(db: &C, refs: &[String], field: &str) -> Result<Vec<perm::Model>, ApiError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = perm::Entity::find().filter(Condition::any().add(perm::Column::Id.is_in(refs.to_vec())).add(perm::Column::Name.is_in(refs.to_vec()))).all(db).await?;
    let mut out: Vec<perm::Model> = Vec::new();
    let mut errors = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        match rows.iter().find(|p| &p.id == r || &p.name == r) {
            Some(p) if !out.iter().any(|o| o.id == p.id) => out.push(p.clone()),
            Some(_) => {}
            None => errors.push(super::error::FieldError::new(format!("{field}[{i}]"), format!("no permission {r:?}"))),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(ApiError::Validation(errors)) }
}

fn audit_view(p: &perm::Model) -> serde_json::Value {
    json!({ "name": p.name, "display_name": p.display_name, "description": p.description, "category": p.category, "is_active": p.is_active })
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    let category = q.opt_one_of("category", &CATEGORIES);
    q.finish()?;
    let mut select = perm::Entity::find();
    if let Some(c) = category {
        select = select.filter(perm::Column::Category.eq(c));
    }
    let total = select.clone().count(ctx.db()).await?;
    let rows = select.order_by_asc(perm::Column::Name).offset(page.offset()).limit(page.limit).all(ctx.db()).await?;
    Ok(ok(json!({ "permissions": rows.iter().map(views::permission).collect::<Vec<_>>(), "pagination": page.describe(total) })))
}

pub async fn get(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let p = find(ctx.db(), &ctx.param("id")?).await?;
    Ok(ok(views::permission(&p)))
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let name = b.required_str("name", PERMISSION_NAME);
    let display_name = b.required_str("display_name", NAME);
    let description = b.opt_str("description", DESCRIPTION);
    let category = b.opt_str("category", Text::len(1, 16));
    let is_active = b.opt_bool("is_active").unwrap_or(true);
    if let Some(n) = &name
        && !well_formed(n)
    {
        b.error("name", "must be resource:action, e.g. reports:export");
    }
    if let Some(c) = &category
        && !CATEGORIES.contains(&c.as_str())
    {
        b.error("category", "must be menu, api or data");
    }
    b.finish()?;
    let (Some(name), Some(display_name)) = (name, display_name) else { return Err(ApiError::Internal) };
    let category = category.unwrap_or_else(|| if name.starts_with("menu:") { "menu".into() } else { "api".into() });
    let db = ctx.db();
    if perm::Entity::find().filter(perm::Column::Name.eq(&name)).one(db).await?.is_some() {
        return Err(ApiError::Conflict(format!("a permission named {name} exists")));
    }
    let now = ctx.now();
    let (resource, action) = parts(&name);
    let (resource, action) = (resource.to_string(), action.to_string());
    let txn = db.begin().await?;
    let p = perm::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        name: Set(name),
        display_name: Set(display_name),
        description: Set(description.filter(|d| !d.is_empty())),
        category: Set(category),
        resource: Set(resource),
        action: Set(action),
        is_active: Set(is_active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| unique_or_db(e, "a permission with this name exists"))?;
    let super_admin = roles::Entity::find().filter(roles::Column::Name.eq(SUPER_ADMIN)).one(&txn).await?;
    if let Some(sa) = &super_admin {
        role_permissions::Entity::insert(role_permissions::ActiveModel { role_id: Set(sa.id.clone()), permission_id: Set(p.id.clone()), created_at: Set(now) })
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    if let Some(sa) = super_admin {
        let affected = ctx.state.permissions.users_with_role(&sa.id).await?;
        ctx.state.permissions.invalidate_users(&affected).await;
    }
    ctx.record(ctx.event("PERMISSION_CREATED", Severity::Info).resource("permission", p.id.clone()).details(json!({ "after": audit_view(&p) }))).await;
    Ok(created(views::permission(&p)))
}

pub async fn update(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let display_name = b.opt_str("display_name", NAME);
    let description = b.nullable_str("description", DESCRIPTION);
    let is_active = b.opt_bool("is_active");
    b.finish()?;
    let db = ctx.db();
    let before = find(db, &ctx.param("id")?).await?;
    if before.name == "permissions:update" && is_active == Some(false) {
        return Err(ApiError::Conflict("permissions:update cannot be deactivated: nobody could reactivate it".into()));
    }
    let affected = if is_active.is_some_and(|a| a != before.is_active) { ctx.state.permissions.users_with_permission(&before.id).await? } else { Vec::new() };
    let mut am: perm::ActiveModel = before.clone().into();
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
    let after = am.update(db).await?;
    ctx.state.permissions.invalidate_users(&affected).await;
    ctx.record(ctx.event("PERMISSION_UPDATED", Severity::Info).resource("permission", after.id.clone()).details(json!({ "before": audit_view(&before), "after": audit_view(&after) }))).await;
    Ok(ok(views::permission(&after)))
}

pub async fn delete(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let db = ctx.db();
    let p = find(db, &ctx.param("id")?).await?;
    if required_permissions().contains(&p.name.as_str()) {
        return Err(ApiError::Conflict(format!("{} is required by the admin API and cannot be deleted (it can be deactivated)", p.name)));
    }
    let affected = ctx.state.permissions.users_with_permission(&p.id).await?;
    let roles_holding: Vec<String> = role_permissions::Entity::find()
        .select_only()
        .column(role_permissions::Column::RoleId)
        .filter(role_permissions::Column::PermissionId.eq(&p.id))
        .into_tuple()
        .all(db)
        .await?;
    let txn = db.begin().await?;
    role_permissions::Entity::delete_many().filter(role_permissions::Column::PermissionId.eq(&p.id)).exec(&txn).await?;
    perm::Entity::delete_by_id(p.id.clone()).exec(&txn).await?;
    txn.commit().await?;
    ctx.state.permissions.invalidate_users(&affected).await;
    ctx.record(
        ctx.event("PERMISSION_DELETED", Severity::Warning)
            .resource("permission", p.id.clone())
            .details(json!({ "before": audit_view(&p), "roles": roles_holding, "users_affected": affected.len() })),
    )
    .await;
    Ok(no_content())
}
