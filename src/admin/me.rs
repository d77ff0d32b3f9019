//! `/api/v2/me`: self-service for any active user with a valid token — effective permissions
//! (one lookup answers many; the console builds its menu from it), GDPR export and erasure.

use super::ctx::{Ctx, ok};
use super::error::ApiError;
use super::roles::REF;
use super::users;
use actix_web::HttpResponse;
use serde_json::json;
use tessera_actors::audit::Severity;

pub async fn permissions(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let caller = ctx.caller()?;
    let all: Vec<&String> = caller.permissions.permissions.iter().collect();
    let menu: Vec<&String> = all.iter().copied().filter(|p| p.starts_with("menu:")).collect();
    Ok(ok(json!({ "user_id": caller.user_id, "permissions": all, "menu": menu })))
}

pub async fn check_permissions(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let names = b.required_str_list("permissions", REF, 500);
    b.finish()?;
    let caller = ctx.caller()?;
    let results = ctx.state.permissions.check_many(&caller.user_id, &names.unwrap_or_default()).await?;
    Ok(ok(json!({ "user_id": caller.user_id, "results": results })))
}

pub async fn export(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.caller()?.user_id.clone();
    let doc = crate::gdpr::export(&ctx.state, &id).await?.ok_or(ApiError::NotFound("user"))?;
    ctx.record(ctx.event("USER_DATA_EXPORTED", Severity::Info).resource("user", id)).await;
    Ok(ok(doc))
}

pub async fn erase(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.caller()?.user_id.clone();
    users::erase_user(&ctx, &id).await
}
