//! The changes made from a user's page: profile, activation, password reset, role assignment
//! (with an optional expiry) and removal. Each is audited like its admin API counterpart, applies
//! the rules in `rules`, and answers with a redirect back to the user's page and a flash message.

use super::ctx::Ctx;
use super::failure::Failure;
use super::flash::Flash;
use super::fmt;
use super::rules::{self, Refusal};
use crate::admin::roles::SUPER_ADMIN;
use crate::admin::validate::looks_like_email;
use crate::admin::views::{opt_ts, user_audit};
use crate::users::Passwords;
use actix_web::HttpResponse;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tessera_actors::audit::Severity;
use tessera_entity::{roles, user_roles, users};

async fn target(ctx: &Ctx) -> Result<users::Model, Failure> {
    users::Entity::find_by_id(ctx.param("id")?).one(ctx.db()).await?.ok_or(Failure::NotFound("user"))
}

fn back(ctx: &Ctx, u: &users::Model, flash: Flash) -> Result<HttpResponse, Failure> {
    ctx.redirect(&format!("/admin/users/{}", u.id), Some(flash))
}

/// A refusal by the rules goes back as an error message; anything else is a failure page.
fn refused(ctx: &Ctx, u: &users::Model, r: Refusal) -> Result<HttpResponse, Failure> {
    match r {
        Refusal::Rule(m) => back(ctx, u, Flash::error(m)),
        Refusal::Failed(f) => Err(f),
    }
}

/// `POST /admin/users/{id}`: display name, e-mail, e-mail verified, password change required.
pub async fn update(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let before = target(&ctx).await?;
    let f = &ctx.form;
    let email = f.opt("email");
    let display_name = f.opt("display_name");
    let mut errors = Vec::new();
    if let Some(e) = &email
        && (!looks_like_email(e) || e.chars().count() > 254)
    {
        errors.push(format!("\u{201c}{e}\u{201d} is not an e-mail address."));
    }
    if display_name.as_ref().is_some_and(|d| d.chars().count() > 200 || d.chars().any(char::is_control)) {
        errors.push("The display name must be at most 200 characters.".to_string());
    }
    if let Some(e) = &email
        && before.email.as_ref() != Some(e)
        && users::Entity::find().filter(users::Column::Email.eq(e)).count(ctx.db()).await? > 0
    {
        errors.push("Another user has this e-mail address.".to_string());
    }
    if !errors.is_empty() {
        return back(&ctx, &before, Flash::error("The profile was not saved.").with_details(errors));
    }
    let mut am: users::ActiveModel = before.clone().into();
    am.email = Set(email);
    am.display_name = Set(display_name);
    am.email_verified = Set(f.checked("email_verified"));
    am.must_change_password = Set(f.checked("must_change_password"));
    am.updated_at = Set(ctx.now());
    let after = am.update(ctx.db()).await.map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Failure::BadRequest("Another user has this e-mail address.".into()),
        _ => e.into(),
    })?;
    ctx.record(ctx.event("USER_UPDATED", Severity::Info).resource("user", after.id.clone()).details(json!({ "before": user_audit(&before), "after": user_audit(&after) }))).await;
    back(&ctx, &after, Flash::success("Profile saved."))
}

/// `POST /admin/users/{id}/status` with `action` = `deactivate` or `activate`.
pub async fn set_status(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let user = target(&ctx).await?;
    let now = ctx.now();
    match ctx.form.get("action") {
        "deactivate" => {
            if user.id == ctx.user.id {
                return back(&ctx, &user, Flash::error("You cannot deactivate your own account."));
            }
            if let Err(r) = rules::ensure_not_last_super_admin(ctx.db(), &user.id, now).await {
                return refused(&ctx, &user, r);
            }
            crate::users::set_active(ctx.db(), &user.id, false, now).await?;
            ctx.state.permissions.invalidate_user(&user.id).await;
            let ended = rules::end_access(&ctx.state, &user.id, now, true).await?;
            ctx.record(ctx.event("USER_DEACTIVATED", Severity::Warning).resource("user", user.id.clone()).details(json!({ "was_active": user.is_active, "ended": ended }))).await;
            back(&ctx, &user, Flash::success(format!("{} is deactivated: their sessions have ended and their tokens are revoked.", user.username)))
        }
        "activate" => {
            crate::users::set_active(ctx.db(), &user.id, true, now).await?;
            ctx.state.permissions.invalidate_user(&user.id).await;
            let after = users::Model { is_active: true, ..user.clone() };
            ctx.record(ctx.event("USER_UPDATED", Severity::Info).resource("user", user.id.clone()).details(json!({ "before": user_audit(&user), "after": user_audit(&after) }))).await;
            back(&ctx, &user, Flash::success(format!("{} is active again.", user.username)))
        }
        _ => Err(Failure::BadRequest("Unknown status change.".into())),
    }
}

/// `POST /admin/users/{id}/password`: `mode` = `generate` (a temporary password, shown once) or
/// `set` (`password`); `must_change_password` asks for a new one at the next sign-in.
pub async fn reset_password(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let user = target(&ctx).await?;
    if user.id == ctx.user.id {
        return back(&ctx, &user, Flash::error("Change your own password from the sign-in pages, not here: a reset would end this session."));
    }
    let f = &ctx.form;
    let generated = f.get("mode") != "set";
    let password = if generated { crate::users::password::generate() } else { f.raw("password").unwrap_or("").to_string() };
    if let Err(m) = crate::users::check_password_policy(&password) {
        return back(&ctx, &user, Flash::error("The password was not changed.").with_details(vec![m]));
    }
    let must_change = f.checked("must_change_password");
    let hash = Passwords::global().hash(password.clone()).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        Failure::Internal
    })?;
    let now = ctx.now();
    let mut am: users::ActiveModel = user.clone().into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(must_change);
    am.failed_login_count = Set(0);
    am.locked_until = Set(None);
    am.updated_at = Set(now);
    am.update(ctx.db()).await?;
    let ended = rules::end_access(&ctx.state, &user.id, now, false).await?;
    ctx.record(
        ctx.event("USER_PASSWORD_RESET", Severity::Warning)
            .resource("user", user.id.clone())
            .details(json!({ "generated": generated, "must_change_password": must_change, "ended": ended, "via": "console" })),
    )
    .await;
    let path = format!("/admin/users/{}", user.id);
    let mut flash = Flash::success(format!("The password of {} was reset and their sessions have ended.", user.username));
    if generated {
        flash = flash.with_reveal("Temporary password", password, path.clone());
    }
    ctx.redirect(&path, Some(flash))
}

/// `POST /admin/users/{id}/roles`: `role` (id), `expires_at` (optional, `datetime-local`, UTC).
pub async fn assign_role(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let user = target(&ctx).await?;
    let now = ctx.now();
    let f = &ctx.form;
    let Some(role) = roles::Entity::find_by_id(f.get("role").to_string()).one(ctx.db()).await? else {
        return back(&ctx, &user, Flash::error("Choose a role to assign."));
    };
    let expires_at = match f.opt("expires_at") {
        None => None,
        Some(s) => match fmt::parse_datetime(&s) {
            Some(t) if t > now => Some(t),
            Some(_) => return back(&ctx, &user, Flash::error("The expiry must be in the future.")),
            None => return back(&ctx, &user, Flash::error("The expiry is not a date and time.")),
        },
    };
    if let Err(r) = rules::ensure_can_assign(ctx.db(), &ctx.perms, std::slice::from_ref(&role.id)).await {
        return refused(&ctx, &user, r);
    }
    let existing = user_roles::Entity::find_by_id((user.id.clone(), role.id.clone())).one(ctx.db()).await?;
    let previous = existing.as_ref().map(|a| opt_ts(a.expires_at));
    match existing {
        Some(a) => {
            let mut am: user_roles::ActiveModel = a.into();
            am.expires_at = Set(expires_at);
            am.assigned_by = Set(Some(ctx.user.id.clone()));
            am.update(ctx.db()).await?;
        }
        None => {
            user_roles::Entity::insert(user_roles::ActiveModel {
                user_id: Set(user.id.clone()),
                role_id: Set(role.id.clone()),
                expires_at: Set(expires_at),
                assigned_by: Set(Some(ctx.user.id.clone())),
                created_at: Set(now),
            })
            .exec_without_returning(ctx.db())
            .await?;
        }
    }
    ctx.state.permissions.invalidate_user(&user.id).await;
    ctx.record(
        ctx.event("ROLE_ASSIGNED", Severity::Warning)
            .resource("user", user.id.clone())
            .details(json!({ "role": role.name, "role_id": role.id, "expires_at": opt_ts(expires_at), "previous_expires_at": previous })),
    )
    .await;
    let until = expires_at.map(|t| format!(" until {}", fmt::when(t))).unwrap_or_default();
    back(&ctx, &user, Flash::success(format!("{} assigned to {}{until}.", role.display_name, user.username)))
}

/// `POST /admin/users/{id}/roles/{role_id}/remove`.
pub async fn unassign_role(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let user = target(&ctx).await?;
    let role = roles::Entity::find_by_id(ctx.param("role_id")?).one(ctx.db()).await?.ok_or(Failure::NotFound("role"))?;
    if let Err(r) = rules::ensure_can_assign(ctx.db(), &ctx.perms, std::slice::from_ref(&role.id)).await {
        return refused(&ctx, &user, r);
    }
    if role.name == SUPER_ADMIN
        && let Err(r) = rules::ensure_not_last_super_admin(ctx.db(), &user.id, ctx.now()).await
    {
        return refused(&ctx, &user, r);
    }
    let res = user_roles::Entity::delete_many().filter(user_roles::Column::UserId.eq(&user.id)).filter(user_roles::Column::RoleId.eq(&role.id)).exec(ctx.db()).await?;
    if res.rows_affected == 0 {
        return back(&ctx, &user, Flash::info(format!("{} did not hold {}.", user.username, role.display_name)));
    }
    ctx.state.permissions.invalidate_user(&user.id).await;
    ctx.record(ctx.event("ROLE_UNASSIGNED", Severity::Warning).resource("user", user.id.clone()).details(json!({ "role": role.name, "role_id": role.id }))).await;
    back(&ctx, &user, Flash::success(format!("{} removed from {}.", role.display_name, user.username)))
}
