//! `/admin/users`: the user list (search, status filter, pages), the create form, and a user's
//! page (profile, roles with expiry, password reset, status, recent events). The changes made from
//! that page are in `user_actions`.

use super::audit::rows;
use super::ctx::Ctx;
use super::failure::Failure;
use super::flash::Flash;
use super::fmt;
use super::form::query;
use super::rules::{self, Refusal, live};
use super::templates::{AuditRow, Badge, Chrome, Choice, Pager};
use crate::users::{CreateUserError, NewUser, Passwords};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use std::collections::HashMap;
use tessera_actors::audit::Severity;
use tessera_entity::{audit_logs, roles, sessions, user_roles, users};

const PER_PAGE: u64 = 20;

pub struct UserRow {
    pub href: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<Badge>,
    pub status: Badge,
    pub last_login: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    pub c: Chrome,
    pub rows: Vec<UserRow>,
    pub pager: Pager,
    pub q: String,
    pub statuses: Vec<Choice>,
    pub can_create: bool,
}

/// A role as a checkbox or option: `allowed` when the acting user may assign it.
pub struct RoleOption {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub checked: bool,
    pub allowed: bool,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
pub struct NewUserPage {
    pub c: Chrome,
    pub errors: Vec<String>,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub must_change: bool,
    pub roles: Vec<RoleOption>,
}

pub struct AssignmentRow {
    pub role_id: String,
    pub display_name: String,
    pub name: String,
    pub expires: String,
    pub state: Badge,
    pub assigned_by: String,
    pub removable: bool,
}

#[derive(Template)]
#[template(path = "console/user.html")]
pub struct UserPage {
    pub c: Chrome,
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub email_verified: bool,
    pub must_change: bool,
    pub active: bool,
    pub status: Badge,
    pub facts: Vec<(&'static str, String)>,
    pub assignments: Vec<AssignmentRow>,
    pub role_choices: Vec<Choice>,
    pub min_expiry: String,
    pub can_update: bool,
    pub is_self: bool,
    pub events: Option<Vec<AuditRow>>,
}

pub fn status_badge(active: bool) -> Badge {
    if active { Badge::new("Active", "success") } else { Badge::new("Deactivated", "danger") }
}

/// Roles each user holds now (unexpired assignments), as badges with the expiry in the title.
async fn role_badges(ctx: &Ctx, ids: &[String]) -> Result<HashMap<String, Vec<Badge>>, Failure> {
    let mut out: HashMap<String, Vec<Badge>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = user_roles::Entity::find().filter(user_roles::Column::UserId.is_in(ids.to_vec())).filter(live(ctx.now())).find_also_related(roles::Entity).order_by_asc(user_roles::Column::CreatedAt).all(ctx.db()).await?;
    for (a, r) in rows {
        let Some(r) = r else { continue };
        let tone = if r.name == crate::admin::roles::SUPER_ADMIN { "accent" } else { "neutral" };
        let badge = match a.expires_at {
            Some(t) => Badge::new(format!("{} \u{00b7} until {}", r.display_name, t.format("%Y-%m-%d")), "warning").titled(format!("Expires {}", fmt::when(t))),
            None => Badge::new(r.display_name.clone(), tone),
        };
        out.entry(a.user_id).or_default().push(badge);
    }
    Ok(out)
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let qf = ctx.query();
    let search: String = qf.get("q").chars().take(100).collect();
    let status = qf.get("status").to_string();
    let mut select = users::Entity::find();
    if !search.is_empty() {
        let escaped: String = search.to_lowercase().chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
        let pattern = format!("%{escaped}%");
        let like = |col: users::Column| Expr::expr(Func::lower(Expr::col((users::Entity, col)))).like(LikeExpr::new(pattern.clone()).escape('\\'));
        select = select.filter(Condition::any().add(like(users::Column::Username)).add(like(users::Column::Email)).add(like(users::Column::DisplayName)));
    }
    match status.as_str() {
        "active" => select = select.filter(users::Column::IsActive.eq(true)),
        "inactive" => select = select.filter(users::Column::IsActive.eq(false)),
        _ => {}
    }
    let total = select.clone().count(ctx.db()).await?;
    let page = Ord::min(qf.page(), Ord::max(total.div_ceil(PER_PAGE), 1));
    let models = select.order_by_asc(users::Column::Username).offset((page - 1) * PER_PAGE).limit(PER_PAGE).all(ctx.db()).await?;
    let ids: Vec<String> = models.iter().map(|u| u.id.clone()).collect();
    let mut badges = role_badges(&ctx, &ids).await?;
    let now = ctx.now();
    let rows = models
        .iter()
        .map(|u| UserRow {
            href: format!("/admin/users/{}", u.id),
            username: u.username.clone(),
            display_name: u.display_name.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
            roles: badges.remove(&u.id).unwrap_or_default(),
            status: status_badge(u.is_active),
            last_login: u.last_login_at.map(|t| fmt::relative(now, t)).unwrap_or_else(|| "Never".into()),
            created: u.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let pager = Pager::new(page, PER_PAGE, total, |p| format!("/admin/users?{}", query(&[("q", &search), ("status", &status), ("page", &p.to_string())])));
    let statuses = [("", "All users"), ("active", "Active"), ("inactive", "Deactivated")]
        .iter()
        .map(|(v, l)| Choice { value: v.to_string(), label: l.to_string(), selected: status == *v, disabled: false })
        .collect();
    let c = ctx.chrome("users", "Users");
    let can_create = ctx.can("users:create");
    ctx.ok(&UsersPage { c, rows, pager, q: search, statuses, can_create })
}

/// Every role, marking the ones the acting user may assign and the `checked` ids.
pub async fn role_options(ctx: &Ctx, checked: &[String]) -> Result<Vec<RoleOption>, Failure> {
    let all = roles::Entity::find().filter(roles::Column::IsActive.eq(true)).order_by_asc(roles::Column::Name).all(ctx.db()).await?;
    let mut out = Vec::with_capacity(all.len());
    for r in all {
        let granted = rules::granted_by(ctx.db(), std::slice::from_ref(&r.id)).await?;
        out.push(RoleOption { allowed: granted.iter().all(|p| ctx.can(p)), checked: checked.contains(&r.id), id: r.id, name: r.name, display_name: r.display_name });
    }
    Ok(out)
}

fn new_page(ctx: &Ctx, errors: Vec<String>, roles: Vec<RoleOption>) -> NewUserPage {
    let f = &ctx.form;
    let posted = ctx.page.verb == super::routes::Verb::Post;
    NewUserPage {
        c: ctx.chrome("users", "Create user").crumb("Users", Some("/admin/users")).crumb("Create user", None),
        errors,
        username: f.get("username").to_string(),
        display_name: f.get("display_name").to_string(),
        email: f.get("email").to_string(),
        must_change: !posted || f.checked("must_change_password"),
        roles,
    }
}

pub async fn new_form(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let roles = role_options(&ctx, &[]).await?;
    ctx.ok(&new_page(&ctx, Vec::new(), roles))
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let f = &ctx.form;
    let role_ids = f.all("roles");
    let options = role_options(&ctx, &role_ids).await?;
    let again = |errors: Vec<String>, options| Ok(ctx.render(StatusCode::BAD_REQUEST, &new_page(&ctx, errors, options)));
    if let Some(bad) = role_ids.iter().find(|id| !options.iter().any(|o| &o.id == *id)) {
        return again(vec![format!("There is no active role with id {bad}.")], options);
    }
    match rules::ensure_can_assign(ctx.db(), &ctx.perms, &role_ids).await {
        Ok(()) => {}
        Err(Refusal::Rule(m)) => return again(vec![m], options),
        Err(Refusal::Failed(e)) => return Err(e),
    }
    let typed = f.raw("password").unwrap_or("").to_string();
    let generated = typed.is_empty();
    let password = if generated { crate::users::password::generate() } else { typed };
    let must_change = f.checked("must_change_password");
    let new = NewUser {
        username: f.get("username").to_string(),
        email: f.opt("email"),
        password: password.clone(),
        display_name: f.opt("display_name"),
        roles: Vec::new(),
        must_change_password: must_change,
    };
    let now = ctx.now();
    let user = match crate::users::create_user_at(ctx.db(), Passwords::global(), now, new).await {
        Ok(u) => u,
        Err(CreateUserError::Invalid { field, message }) => return again(vec![format!("{}: {message}", label(field))], options),
        Err(CreateUserError::Policy(m)) => return again(vec![m], options),
        Err(CreateUserError::Duplicate) => return again(vec!["A user with this username or e-mail address already exists.".into()], options),
        Err(CreateUserError::UnknownRole(r)) => return again(vec![format!("There is no role {r}.")], options),
        Err(CreateUserError::Db(e)) => return Err(e.into()),
        Err(CreateUserError::Hash(e)) => {
            tracing::error!(error = %e, "password hashing failed");
            return Err(Failure::Internal);
        }
    };
    for id in &role_ids {
        user_roles::Entity::insert(user_roles::ActiveModel { user_id: Set(user.id.clone()), role_id: Set(id.clone()), expires_at: Set(None), assigned_by: Set(Some(ctx.user.id.clone())), created_at: Set(now) })
            .exec_without_returning(ctx.db())
            .await?;
    }
    ctx.state.permissions.invalidate_user(&user.id).await;
    let model = users::Entity::find_by_id(user.id.clone()).one(ctx.db()).await?.ok_or(Failure::NotFound("user"))?;
    let names: Vec<&str> = options.iter().filter(|o| role_ids.contains(&o.id)).map(|o| o.name.as_str()).collect();
    ctx.record(ctx.event("USER_CREATED", Severity::Info).resource("user", user.id.clone()).details(json!({ "after": crate::admin::views::user_audit(&model), "roles": names }))).await;
    let path = format!("/admin/users/{}", user.id);
    let mut flash = Flash::success(format!("User {} created.", user.username));
    if generated {
        flash = flash.with_reveal("Temporary password", password, path.clone());
    }
    ctx.redirect(&path, Some(flash))
}

pub fn label(field: &str) -> &'static str {
    match field {
        "username" => "Username",
        "email" => "E-mail",
        "display_name" => "Display name",
        _ => "Field",
    }
}

pub async fn show(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let id = ctx.param("id")?;
    let u = users::Entity::find_by_id(id.clone()).one(ctx.db()).await?.ok_or(Failure::NotFound("user"))?;
    let now = ctx.now();
    let held = user_roles::Entity::find().filter(user_roles::Column::UserId.eq(&u.id)).find_also_related(roles::Entity).order_by_asc(user_roles::Column::CreatedAt).all(ctx.db()).await?;
    let by: Vec<String> = held.iter().filter_map(|(a, _)| a.assigned_by.clone()).collect();
    let names: HashMap<String, String> = crate::users::usernames(ctx.db(), by).await?;
    let can_update = ctx.can("users:update");
    let options = role_options(&ctx, &[]).await?;
    let mut assignments = Vec::new();
    for (a, r) in &held {
        let Some(r) = r else { continue };
        let expired = a.expires_at.is_some_and(|t| t <= now);
        let state = match (expired, r.is_active, a.expires_at) {
            (true, _, _) => Badge::new("Expired", "neutral"),
            (false, false, _) => Badge::new("Role inactive", "neutral"),
            (false, true, Some(t)) => Badge::new(format!("Expires {}", fmt::relative(now, t)), "warning"),
            (false, true, None) => Badge::new("Active", "success"),
        };
        assignments.push(AssignmentRow {
            role_id: r.id.clone(),
            display_name: r.display_name.clone(),
            name: r.name.clone(),
            expires: a.expires_at.map(fmt::when).unwrap_or_else(|| "Never".into()),
            state,
            assigned_by: a.assigned_by.as_ref().map(|b| names.get(b).cloned().unwrap_or_else(|| b.chars().take(12).collect())).unwrap_or_else(|| "the system".into()),
            removable: can_update && options.iter().any(|o| o.id == r.id && o.allowed),
        });
    }
    let role_choices = options.iter().map(|o| Choice { value: o.id.clone(), label: format!("{} ({})", o.display_name, o.name), selected: false, disabled: !o.allowed }).collect();
    let sessions = if ctx.state.settings.redis_url.is_some() {
        "kept in Redis".to_string()
    } else {
        sessions::Entity::find().filter(sessions::Column::UserId.eq(&u.id)).filter(sessions::Column::ExpiresAt.gt(now)).count(ctx.db()).await?.to_string()
    };
    let facts = vec![
        ("User id", u.id.clone()),
        ("Created", fmt::when(u.created_at)),
        ("Last updated", fmt::when(u.updated_at)),
        ("Last sign-in", u.last_login_at.map(|t| format!("{} ({})", fmt::when(t), fmt::relative(now, t))).unwrap_or_else(|| "Never".into())),
        ("Failed sign-ins", u.failed_login_count.to_string()),
        ("Locked until", u.locked_until.filter(|t| *t > now).map(fmt::when).unwrap_or_else(|| "Not locked".into())),
        ("Open sessions", sessions),
    ];
    let events = if ctx.can("audit:list") {
        let about = Condition::any().add(audit_logs::Column::UserId.eq(&u.id)).add(Condition::all().add(audit_logs::Column::ResourceType.eq("user")).add(audit_logs::Column::ResourceId.eq(&u.id)));
        let recent = audit_logs::Entity::find().filter(about).order_by_desc(audit_logs::Column::CreatedAt).order_by_desc(audit_logs::Column::Id).limit(10).all(ctx.db()).await?;
        Some(rows(&ctx, &recent).await?)
    } else {
        None
    };
    let c = ctx.chrome("users", u.username.clone()).crumb("Users", Some("/admin/users")).crumb(u.username.clone(), None);
    ctx.ok(&UserPage {
        c,
        is_self: u.id == ctx.user.id,
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        email_verified: u.email_verified,
        must_change: u.must_change_password,
        active: u.is_active,
        status: status_badge(u.is_active),
        facts,
        assignments,
        role_choices,
        min_expiry: fmt::datetime_local(now),
        can_update,
        events,
    })
}
