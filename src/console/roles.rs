//! `/admin/roles`: the roles and the role × permission assignment matrix (saved in one form, one
//! transaction); `/admin/permissions`: the permission catalogue and which roles grant each.
//! `super_admin` always holds every permission, so its column is fixed; nobody adds a permission
//! they do not hold themselves.

use super::ctx::Ctx;
use super::failure::Failure;
use super::flash::Flash;
use super::rules::{self, Refusal, live};
use super::templates::{Badge, Chrome};
use crate::admin::roles::SUPER_ADMIN;
use actix_web::HttpResponse;
use askama::Template;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use tessera_actors::audit::Severity;
use tessera_entity::{permissions as perm, role_permissions, roles, user_roles};

pub struct RoleRow {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub badges: Vec<Badge>,
    pub users: usize,
    pub permissions: usize,
}

/// One cell of the matrix.
pub struct Cell {
    pub value: String,
    pub checked: bool,
    pub editable: bool,
    pub label: String,
}

pub struct MatrixRow {
    /// The first row of a category carries its name.
    pub group: Option<String>,
    pub name: String,
    pub display_name: String,
    pub active: bool,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
pub struct RolesPage {
    pub c: Chrome,
    pub roles: Vec<RoleRow>,
    pub columns: Vec<String>,
    pub matrix: Vec<MatrixRow>,
    pub can_edit: bool,
}

pub struct PermissionRow {
    pub group: Option<String>,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub active: bool,
    pub roles: Vec<Badge>,
}

#[derive(Template)]
#[template(path = "console/permissions.html")]
pub struct PermissionsPage {
    pub c: Chrome,
    pub rows: Vec<PermissionRow>,
    /// Any permission has a description (else the column is left out).
    pub described: bool,
}

fn category_title(c: &str) -> String {
    match c {
        "menu" => "Console menu".into(),
        "api" => "Administration API".into(),
        "data" => "Data".into(),
        other => other.to_string(),
    }
}

/// Permissions by category (menu first), then name.
async fn catalogue(ctx: &Ctx) -> Result<Vec<perm::Model>, Failure> {
    let mut all = perm::Entity::find().order_by_asc(perm::Column::Name).all(ctx.db()).await?;
    let rank = |c: &str| match c {
        "menu" => 0,
        "api" => 1,
        _ => 2,
    };
    all.sort_by(|a, b| (rank(&a.category), &a.category, &a.name).cmp(&(rank(&b.category), &b.category, &b.name)));
    Ok(all)
}

/// (role id, permission id) pairs granted now.
async fn grants(ctx: &Ctx) -> Result<HashSet<(String, String)>, Failure> {
    let pairs: Vec<(String, String)> = role_permissions::Entity::find().select_only().column(role_permissions::Column::RoleId).column(role_permissions::Column::PermissionId).into_tuple().all(ctx.db()).await?;
    Ok(pairs.into_iter().collect())
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let all_roles = roles::Entity::find().order_by_asc(roles::Column::Name).all(ctx.db()).await?;
    let perms = catalogue(&ctx).await?;
    let granted = grants(&ctx).await?;
    let holders: Vec<String> = user_roles::Entity::find().select_only().column(user_roles::Column::RoleId).filter(live(ctx.now())).into_tuple().all(ctx.db()).await?;
    let mut users_by_role: HashMap<&str, usize> = HashMap::new();
    for r in &holders {
        *users_by_role.entry(r.as_str()).or_default() += 1;
    }
    let can_edit = ctx.can("roles:update");
    let roles = all_roles
        .iter()
        .map(|r| {
            let mut badges = Vec::new();
            if r.is_system {
                badges.push(Badge::new("System", "info"));
            }
            if !r.is_active {
                badges.push(Badge::new("Inactive", "neutral"));
            }
            RoleRow {
                name: r.name.clone(),
                display_name: r.display_name.clone(),
                description: r.description.clone().unwrap_or_default(),
                badges,
                users: users_by_role.get(r.id.as_str()).copied().unwrap_or(0),
                permissions: granted.iter().filter(|(role, _)| role == &r.id).count(),
            }
        })
        .collect();
    let mut matrix = Vec::with_capacity(perms.len());
    let mut last_group = String::new();
    for p in &perms {
        let group = (p.category != last_group).then(|| category_title(&p.category));
        last_group = p.category.clone();
        let cells = all_roles
            .iter()
            .map(|r| {
                let is_super = r.name == SUPER_ADMIN;
                Cell {
                    value: format!("{}|{}", r.id, p.id),
                    checked: is_super || granted.contains(&(r.id.clone(), p.id.clone())),
                    editable: can_edit && !is_super,
                    label: format!("{} grants {}", r.display_name, p.name),
                }
            })
            .collect();
        matrix.push(MatrixRow { group, name: p.name.clone(), display_name: p.display_name.clone(), active: p.is_active, cells });
    }
    let columns = all_roles.iter().map(|r| r.display_name.clone()).collect();
    let c = ctx.chrome("roles", "Roles");
    ctx.ok(&RolesPage { c, roles, columns, matrix, can_edit })
}

/// `POST /admin/roles/matrix`: each editable role gets exactly the permissions ticked in its column.
pub async fn save_matrix(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let back = "/admin/roles";
    let all_roles = roles::Entity::find().all(ctx.db()).await?;
    let perms: HashMap<String, perm::Model> = perm::Entity::find().all(ctx.db()).await?.into_iter().map(|p| (p.id.clone(), p)).collect();
    let current = grants(&ctx).await?;
    let mut wanted: HashSet<(String, String)> = HashSet::new();
    for v in ctx.form.all("grant") {
        let Some((role, p)) = v.split_once('|') else { return Err(Failure::BadRequest("Malformed matrix cell.".into())) };
        if !perms.contains_key(p) || !all_roles.iter().any(|r| r.id == role) {
            return ctx.redirect(back, Some(Flash::error("The matrix changed while you edited it. Review it and save again.")));
        }
        wanted.insert((role.to_string(), p.to_string()));
    }
    let editable: Vec<&roles::Model> = all_roles.iter().filter(|r| r.name != SUPER_ADMIN).collect();
    let mut added: Vec<(String, String)> = Vec::new();
    let mut removed: Vec<(String, String)> = Vec::new();
    for r in &editable {
        for p in perms.keys() {
            let key = (r.id.clone(), p.clone());
            match (current.contains(&key), wanted.contains(&key)) {
                (false, true) => added.push(key),
                (true, false) => removed.push(key),
                _ => {}
            }
        }
    }
    if added.is_empty() && removed.is_empty() {
        return ctx.redirect(back, Some(Flash::info("No changes to save.")));
    }
    let added_names: BTreeSet<String> = added.iter().filter_map(|(_, p)| perms.get(p).map(|m| m.name.clone())).collect();
    match rules::ensure_holds(&ctx.perms, added_names) {
        Ok(()) => {}
        Err(Refusal::Rule(m)) => return ctx.redirect(back, Some(Flash::error(m))),
        Err(Refusal::Failed(f)) => return Err(f),
    }
    let changed_roles: BTreeSet<String> = added.iter().chain(&removed).map(|(r, _)| r.clone()).collect();
    let mut affected: Vec<String> = Vec::new();
    for r in &changed_roles {
        affected.extend(ctx.state.permissions.users_with_role(r).await?);
    }
    let now = ctx.now();
    let txn = ctx.db().begin().await?;
    for (r, p) in &removed {
        role_permissions::Entity::delete_many().filter(role_permissions::Column::RoleId.eq(r)).filter(role_permissions::Column::PermissionId.eq(p)).exec(&txn).await?;
    }
    if !added.is_empty() {
        let rows = added.iter().map(|(r, p)| role_permissions::ActiveModel { role_id: Set(r.clone()), permission_id: Set(p.clone()), created_at: Set(now) });
        role_permissions::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    affected.sort_unstable();
    affected.dedup();
    ctx.state.permissions.invalidate_users(&affected).await;
    for r in editable.iter().filter(|r| changed_roles.contains(&r.id)) {
        let names = |list: &[(String, String)]| -> Vec<String> { list.iter().filter(|(role, _)| role == &r.id).filter_map(|(_, p)| perms.get(p).map(|m| m.name.clone())).collect() };
        ctx.record(
            ctx.event("ROLE_PERMISSIONS_CHANGED", Severity::Warning)
                .resource("role", r.id.clone())
                .details(json!({ "role": r.name, "added": names(&added), "removed": names(&removed), "via": "console" })),
        )
        .await;
    }
    let text = format!("Saved: {} permission{} granted, {} revoked across {} role{}.", added.len(), if added.len() == 1 { "" } else { "s" }, removed.len(), changed_roles.len(), if changed_roles.len() == 1 { "" } else { "s" });
    ctx.redirect(back, Some(Flash::success(text)))
}

pub async fn permissions(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let perms = catalogue(&ctx).await?;
    let all_roles = roles::Entity::find().order_by_asc(roles::Column::Name).all(ctx.db()).await?;
    let granted = grants(&ctx).await?;
    let mut rows = Vec::with_capacity(perms.len());
    let mut last_group = String::new();
    for p in &perms {
        let group = (p.category != last_group).then(|| category_title(&p.category));
        last_group = p.category.clone();
        let roles = all_roles
            .iter()
            .filter(|r| r.name == SUPER_ADMIN || granted.contains(&(r.id.clone(), p.id.clone())))
            .map(|r| Badge::new(r.display_name.clone(), if r.name == SUPER_ADMIN { "accent" } else { "neutral" }))
            .collect();
        rows.push(PermissionRow { group, name: p.name.clone(), display_name: p.display_name.clone(), description: p.description.clone().unwrap_or_default(), active: p.is_active, roles });
    }
    let described = rows.iter().any(|r| !r.description.is_empty());
    let c = ctx.chrome("permissions", "Permissions");
    ctx.ok(&PermissionsPage { c, rows, described })
}
