//! `/api/v2/sessions`: browser login sessions — list and terminate.
//!
//! MERGE: sessions are read from and ended in the `sessions` table; once the session actor
//! (branch `front`) owns them (possibly in Redis), route both operations through it.

use super::ctx::{Ctx, no_content, ok};
use super::error::ApiError;
use super::views;
use actix_web::HttpResponse;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use std::collections::HashMap;
use tessera_actors::audit::Severity;
use tessera_entity::{sessions, users};

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    let user = q.opt_str("user_id", 200);
    let include_expired = q.opt_bool("include_expired").unwrap_or(false);
    q.finish()?;
    let mut select = sessions::Entity::find();
    if let Some(u) = user {
        select = select.filter(sessions::Column::UserId.eq(u));
    }
    if !include_expired {
        select = select.filter(sessions::Column::ExpiresAt.gt(ctx.now()));
    }
    let total = select.clone().count(ctx.db()).await?;
    let rows = select.order_by_desc(sessions::Column::LastSeenAt).order_by_asc(sessions::Column::Id).offset(page.offset()).limit(page.limit).all(ctx.db()).await?;
    let ids: Vec<String> = rows.iter().map(|s| s.user_id.clone()).collect();
    let names: HashMap<String, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Username)
            .filter(users::Column::Id.is_in(ids))
            .into_tuple::<(String, String)>()
            .all(ctx.db())
            .await?
            .into_iter()
            .collect()
    };
    let items: Vec<_> = rows.iter().map(|s| views::session(s, names.get(&s.user_id).map(String::as_str))).collect();
    Ok(ok(json!({ "sessions": items, "pagination": page.describe(total) })))
}

pub async fn terminate(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.param("id")?;
    let session = sessions::Entity::find_by_id(id.clone()).one(ctx.db()).await?.ok_or(ApiError::NotFound("session"))?;
    sessions::Entity::delete_by_id(id).exec(ctx.db()).await?;
    // The session id is the hash of the cookie, not the cookie: safe to keep in the trail.
    ctx.record(ctx.event("SESSION_TERMINATED", Severity::Warning).resource("user", session.user_id.clone()).details(json!({ "session_id": session.id }))).await;
    Ok(no_content())
}
