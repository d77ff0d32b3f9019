//! `/api/v2/users`: accounts, their roles, password resets, deactivation, GDPR export and erasure.
//!
//! Rules: a role can be assigned or removed only by a caller holding every permission it grants;
//! the last active super administrator cannot be deactivated, erased or demoted; deactivation and
//! password resets end the user's sessions and refresh tokens (and deactivation their access tokens).

use crate::rbac::rules::{self, live};
use super::ctx::{Ctx, created, no_content, ok};
use super::error::{ApiError, unique_or_db};
use super::roles::{self as roles_api, REF, SUPER_ADMIN};
use super::validate::{Body, NAME, Text, looks_like_email};
use super::views;
use crate::state::AppState;
use crate::users::password::{self, Passwords};
use crate::users::UserRow;
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::{Value, json};
use std::collections::HashMap;
use tessera_actors::audit::Severity;
use tessera_entity::{roles, user_roles, users};

const USERNAME: Text = Text::chars(3, 64, crate::users::username_char, "letters, digits, ., _, @ and -");
/// Any text: the password rules are `crate::users::password::check_policy`'s, applied by [`password_field`].
const PASSWORD: Text = Text::len(0, usize::MAX);
const EMAIL: Text = Text::len(3, 254);

/// The `password` field (required or not), checked against the one password policy.
fn password_field(b: &mut Body, required: bool) -> Option<String> {
    let password = if required { b.required_str("password", PASSWORD) } else { b.opt_str("password", PASSWORD) }?;
    match password::check_policy(&password) {
        Ok(()) => Some(password),
        Err(message) => {
            b.error("password", message);
            None
        }
    }
}

/// Argon2id PHC string of `password`, on the bounded hashing pool.
async fn hash_password(password: String) -> Result<String, ApiError> {
    Passwords::global().hash(password).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::Internal
    })
}

pub(super) async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<users::Model, ApiError> {
    users::Entity::find_by_id(id.to_string()).one(db).await?.ok_or(ApiError::NotFound("user"))
}

/// Unexpired assignments of these users, with their roles.
async fn live_roles<C: ConnectionTrait>(db: &C, user_ids: &[String], now: DateTime<Utc>) -> Result<HashMap<String, Vec<(user_roles::Model, roles::Model)>>, ApiError> {
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows = user_roles::Entity::find()
        .filter(user_roles::Column::UserId.is_in(user_ids.to_vec()))
        .filter(live(now))
        .find_also_related(roles::Entity)
        .order_by_asc(user_roles::Column::CreatedAt)
        .all(db)
        .await?;
    for (a, r) in rows {
        if let Some(r) = r {
            out.entry(a.user_id.clone()).or_default().push((a, r));
        }
    }
    Ok(out)
}

async fn view(ctx: &Ctx, u: &users::Model) -> Result<Value, ApiError> {
    let roles = live_roles(ctx.db(), std::slice::from_ref(&u.id), ctx.now()).await?;
    Ok(views::user(u, roles.get(&u.id).map(Vec::as_slice).unwrap_or_default()))
}

async fn ensure_not_last_super_admin<C: ConnectionTrait>(db: &C, user_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    Ok(rules::ensure_not_last_super_admin(db, user_id, now).await?)
}

async fn end_access(state: &AppState, user_id: &str, now: DateTime<Utc>, access: bool) -> Result<Value, ApiError> {
    Ok(rules::end_access(state, user_id, now, access).await?)
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    let search = q.opt_str("search", 100);
    let active = q.opt_bool("is_active");
    q.finish()?;
    let mut select = users::Entity::find();
    if let Some(s) = search {
        let escaped: String = s.to_lowercase().chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
        let pattern = format!("%{escaped}%");
        let like = |col: users::Column| Expr::expr(Func::lower(Expr::col((users::Entity, col)))).like(LikeExpr::new(pattern.clone()).escape('\\'));
        select = select.filter(Condition::any().add(like(users::Column::Username)).add(like(users::Column::Email)).add(like(users::Column::DisplayName)));
    }
    if let Some(a) = active {
        select = select.filter(users::Column::IsActive.eq(a));
    }
    let total = select.clone().count(ctx.db()).await?;
    let rows = select.order_by_asc(users::Column::CreatedAt).order_by_asc(users::Column::Id).offset(page.offset()).limit(page.limit).all(ctx.db()).await?;
    let ids: Vec<String> = rows.iter().map(|u| u.id.clone()).collect();
    let roles = live_roles(ctx.db(), &ids, ctx.now()).await?;
    let items: Vec<Value> = rows.iter().map(|u| views::user(u, roles.get(&u.id).map(Vec::as_slice).unwrap_or_default())).collect();
    Ok(ok(json!({ "users": items, "pagination": page.describe(total) })))
}

pub async fn get(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let u = find(ctx.db(), &ctx.param("id")?).await?;
    Ok(ok(view(&ctx, &u).await?))
}

fn check_email(b: &mut Body, email: &Option<String>) {
    if let Some(e) = email
        && !looks_like_email(e)
    {
        b.error("email", "is not an e-mail address");
    }
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let username = b.required_str("username", USERNAME);
    let password = password_field(&mut b, true);
    let email = b.opt_str("email", EMAIL);
    let display_name = b.opt_str("display_name", NAME);
    let is_active = b.opt_bool("is_active").unwrap_or(true);
    let must_change = b.opt_bool("must_change_password").unwrap_or(true);
    let email_verified = b.opt_bool("email_verified").unwrap_or(false);
    let role_refs = b.opt_str_list("roles", REF, 50).unwrap_or_default();
    check_email(&mut b, &email);
    b.finish()?;
    let (Some(username), Some(password)) = (username, password) else { return Err(ApiError::Internal) };
    let db = ctx.db();
    let mut grant = Vec::new();
    let mut errors = Vec::new();
    for (i, r) in role_refs.iter().enumerate() {
        match roles_api::find(db, r).await {
            Ok(role) => grant.push(role),
            Err(ApiError::NotFound(_)) => errors.push(super::error::FieldError::new(format!("roles[{i}]"), format!("no role {r:?}"))),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let role_ids: Vec<String> = grant.iter().map(|r| r.id.clone()).collect();
    roles_api::ensure_can_assign(db, ctx.caller()?, &role_ids).await?;
    if users::Entity::find().filter(users::Column::Username.eq(&username)).count(db).await? > 0 {
        return Err(ApiError::Conflict("the username is taken".into()));
    }
    if let Some(e) = &email
        && users::Entity::find().filter(users::Column::Email.eq(e)).count(db).await? > 0
    {
        return Err(ApiError::Conflict("the e-mail address is in use".into()));
    }
    let password_hash = hash_password(password).await?;
    let now = ctx.now();
    let caller = ctx.caller()?.user_id.clone();
    let row = UserRow { username, email, display_name, password_hash, is_active, must_change_password: must_change, email_verified };
    let txn = db.begin().await?;
    let user = crate::users::insert_user(&txn, row, &role_ids, Some(&caller), now).await.map_err(|e| unique_or_db(e, "the username or e-mail address is taken"))?;
    txn.commit().await?;
    let names: Vec<&str> = grant.iter().map(|r| r.name.as_str()).collect();
    ctx.record(ctx.event("USER_CREATED", Severity::Info).resource("user", user.id.clone()).details(json!({ "after": views::user_audit(&user), "roles": names }))).await;
    Ok(created(view(&ctx, &user).await?))
}

pub async fn update(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let email = b.nullable_str("email", EMAIL);
    let display_name = b.nullable_str("display_name", NAME);
    let is_active = b.opt_bool("is_active");
    let must_change = b.opt_bool("must_change_password");
    let email_verified = b.opt_bool("email_verified");
    check_email(&mut b, &email.clone().flatten());
    b.finish()?;
    let db = ctx.db();
    let before = find(db, &ctx.param("id")?).await?;
    let now = ctx.now();
    let deactivating = is_active == Some(false) && before.is_active;
    if deactivating {
        ensure_not_last_super_admin(db, &before.id, now).await?;
    }
    if let Some(Some(e)) = &email
        && before.email.as_ref() != Some(e)
        && users::Entity::find().filter(users::Column::Email.eq(e)).count(db).await? > 0
    {
        return Err(ApiError::Conflict("the e-mail address is in use".into()));
    }
    let mut am: users::ActiveModel = before.clone().into();
    if let Some(e) = email {
        am.email = Set(e);
    }
    if let Some(d) = display_name {
        am.display_name = Set(d);
    }
    if let Some(a) = is_active {
        am.is_active = Set(a);
    }
    if let Some(m) = must_change {
        am.must_change_password = Set(m);
    }
    if let Some(v) = email_verified {
        am.email_verified = Set(v);
    }
    am.updated_at = Set(now);
    let after = am.update(db).await.map_err(|e| unique_or_db(e, "the e-mail address is in use"))?;
    let mut ended = Value::Null;
    if before.is_active != after.is_active {
        ctx.state.permissions.invalidate_user(&after.id).await;
        if deactivating {
            ended = end_access(&ctx.state, &after.id, now, true).await?;
        }
    }
    ctx.record(
        ctx.event("USER_UPDATED", if deactivating { Severity::Warning } else { Severity::Info })
            .resource("user", after.id.clone())
            .details(json!({ "before": views::user_audit(&before), "after": views::user_audit(&after), "ended": ended })),
    )
    .await;
    Ok(ok(view(&ctx, &after).await?))
}

pub async fn deactivate(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let db = ctx.db();
    let user = find(db, &ctx.param("id")?).await?;
    let now = ctx.now();
    ensure_not_last_super_admin(db, &user.id, now).await?;
    let mut am: users::ActiveModel = user.clone().into();
    am.is_active = Set(false);
    am.updated_at = Set(now);
    let after = am.update(db).await?;
    ctx.state.permissions.invalidate_user(&after.id).await;
    let ended = end_access(&ctx.state, &after.id, now, true).await?;
    ctx.record(ctx.event("USER_DEACTIVATED", Severity::Warning).resource("user", after.id.clone()).details(json!({ "was_active": user.is_active, "ended": ended }))).await;
    Ok(ok(view(&ctx, &after).await?))
}

pub async fn reset_password(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let password = password_field(&mut b, false);
    let must_change = b.opt_bool("must_change_password").unwrap_or(true);
    b.finish()?;
    let db = ctx.db();
    let user = find(db, &ctx.param("id")?).await?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(password::generate);
    let hash = hash_password(password.clone()).await?;
    let now = ctx.now();
    let mut am: users::ActiveModel = user.clone().into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(must_change);
    am.failed_login_count = Set(0);
    am.locked_until = Set(None);
    am.updated_at = Set(now);
    let after = am.update(db).await?;
    let ended = end_access(&ctx.state, &after.id, now, false).await?;
    ctx.record(
        ctx.event("USER_PASSWORD_RESET", Severity::Warning)
            .resource("user", after.id.clone())
            .details(json!({ "generated": generated, "must_change_password": must_change, "ended": ended })),
    )
    .await;
    Ok(ok(json!({ "user": view(&ctx, &after).await?, "temporary_password": generated.then_some(password) })))
}

async fn assignments_body(ctx: &Ctx, user_id: &str) -> Result<Value, ApiError> {
    let now = ctx.now();
    let rows = user_roles::Entity::find().filter(user_roles::Column::UserId.eq(user_id)).find_also_related(roles::Entity).order_by_asc(user_roles::Column::CreatedAt).all(ctx.db()).await?;
    let items: Vec<Value> = rows.iter().filter_map(|(a, r)| r.as_ref().map(|r| views::assignment(a, r, now))).collect();
    Ok(json!({ "user_id": user_id, "roles": items }))
}

pub async fn roles(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let user = find(ctx.db(), &ctx.param("id")?).await?;
    Ok(ok(assignments_body(&ctx, &user.id).await?))
}

pub async fn assign_role(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let role_ref = b.required_str("role", REF);
    let expires_at = b.nullable_time("expires_at").flatten();
    let now = ctx.now();
    if expires_at.is_some_and(|t| t <= now) {
        b.error("expires_at", "must be in the future");
    }
    b.finish()?;
    let Some(role_ref) = role_ref else { return Err(ApiError::Internal) };
    let db = ctx.db();
    let user = find(db, &ctx.param("id")?).await?;
    let role = match roles_api::find(db, &role_ref).await {
        Err(ApiError::NotFound(_)) => return Err(ApiError::field("role", format!("no role {role_ref:?}"))),
        other => other?,
    };
    let caller = ctx.caller()?;
    roles_api::ensure_can_assign(db, caller, std::slice::from_ref(&role.id)).await?;
    let existing = user_roles::Entity::find_by_id((user.id.clone(), role.id.clone())).one(db).await?;
    let previous = existing.as_ref().map(|a| views::opt_ts(a.expires_at));
    match existing {
        Some(a) => {
            let mut am: user_roles::ActiveModel = a.into();
            am.expires_at = Set(expires_at);
            am.assigned_by = Set(Some(caller.user_id.clone()));
            am.update(db).await?;
        }
        None => {
            user_roles::Entity::insert(user_roles::ActiveModel {
                user_id: Set(user.id.clone()),
                role_id: Set(role.id.clone()),
                expires_at: Set(expires_at),
                assigned_by: Set(Some(caller.user_id.clone())),
                created_at: Set(now),
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    ctx.state.permissions.invalidate_user(&user.id).await;
    ctx.record(
        ctx.event("ROLE_ASSIGNED", Severity::Warning)
            .resource("user", user.id.clone())
            .details(json!({ "role": role.name, "role_id": role.id, "expires_at": views::opt_ts(expires_at), "previous_expires_at": previous })),
    )
    .await;
    Ok(ok(assignments_body(&ctx, &user.id).await?))
}

pub async fn unassign_role(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let db = ctx.db();
    let user = find(db, &ctx.param("id")?).await?;
    let role = roles_api::find(db, &ctx.param("role_id")?).await?;
    roles_api::ensure_can_assign(db, ctx.caller()?, std::slice::from_ref(&role.id)).await?;
    if role.name == SUPER_ADMIN {
        ensure_not_last_super_admin(db, &user.id, ctx.now()).await?;
    }
    let res = user_roles::Entity::delete_many().filter(user_roles::Column::UserId.eq(&user.id)).filter(user_roles::Column::RoleId.eq(&role.id)).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound("role assignment"));
    }
    ctx.state.permissions.invalidate_user(&user.id).await;
    ctx.record(ctx.event("ROLE_UNASSIGNED", Severity::Warning).resource("user", user.id.clone()).details(json!({ "role": role.name, "role_id": role.id }))).await;
    Ok(no_content())
}

pub async fn export(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.param("id")?;
    let doc = crate::gdpr::export(&ctx.state, &id).await?.ok_or(ApiError::NotFound("user"))?;
    ctx.record(ctx.event("USER_DATA_EXPORTED", Severity::Info).resource("user", id)).await;
    Ok(ok(doc))
}

/// Erases `user_id` (admin or self). The audit record names the erased user by pseudonym only.
pub(super) async fn erase_user(ctx: &Ctx, user_id: &str) -> Result<HttpResponse, ApiError> {
    ensure_not_last_super_admin(ctx.db(), user_id, ctx.now()).await?;
    let erasure = crate::gdpr::erase(&ctx.state, user_id).await?;
    let mut ev = ctx.event("USER_ERASED", Severity::Warning).resource("user", erasure.pseudonym.clone()).details(json!(erasure));
    if ctx.caller()?.user_id == user_id {
        ev.user_id = Some(erasure.pseudonym.clone());
        ev.ip_address = None;
        ev.user_agent = None;
    }
    ctx.record(ev).await;
    Ok(ok(json!(erasure)))
}

pub async fn erase(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.param("id")?;
    find(ctx.db(), &id).await?;
    erase_user(&ctx, &id).await
}
