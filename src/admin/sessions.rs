//! `/api/v2/sessions`: browser login sessions — list and terminate. Both go through the sessions
//! actor (`state.sessions`), so sessions stored in Redis are listed and ended like those in the
//! database.

use super::ctx::{Ctx, no_content, ok};
use super::error::ApiError;
use super::views;
use crate::state::AppState;
use actix_web::HttpResponse;
use serde_json::json;
use std::collections::HashMap;
use tessera_actors::audit::Severity;
use tessera_actors::sessions::{self as actor, EndAllForUser, EndById, ListAll, ListForUser, Session, SessionPage};

/// Every session of a user, valid ones only unless `include_expired`, newest activity first.
pub async fn of_user(state: &AppState, user_id: &str, include_expired: bool) -> Result<Vec<Session>, ApiError> {
    Ok(actor::ask(&state.sessions, ListForUser { user_id: user_id.to_string(), include_expired }).await?)
}

/// Ends every session of a user; returns how many were ended.
pub async fn end_all(state: &AppState, user_id: &str) -> Result<u64, ApiError> {
    Ok(actor::ask(&state.sessions, EndAllForUser(user_id.to_string())).await?)
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    let user = q.opt_str("user_id", 200);
    let include_expired = q.opt_bool("include_expired").unwrap_or(false);
    q.finish()?;
    let SessionPage { sessions, total } = match user {
        Some(u) => {
            let all = of_user(&ctx.state, &u, include_expired).await?;
            let total = all.len() as u64;
            let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
            SessionPage { sessions: all.into_iter().skip(skip).take(page.limit as usize).collect(), total }
        }
        None => actor::ask(&ctx.state.sessions, ListAll { include_expired, limit: page.limit, offset: page.offset() }).await?,
    };
    let ids: Vec<String> = sessions.iter().map(|s| s.user_id.clone()).collect();
    let names: HashMap<String, String> = crate::users::usernames(ctx.db(), ids).await?;
    let items: Vec<_> = sessions.iter().map(|s| views::session(s, names.get(&s.user_id).map(String::as_str))).collect();
    Ok(ok(json!({ "sessions": items, "pagination": page.describe(total) })))
}

pub async fn terminate(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let id = ctx.param("id")?;
    let session = actor::ask(&ctx.state.sessions, EndById(id)).await?.ok_or(ApiError::NotFound("session"))?;
    // The session id is the hash of the cookie, not the cookie: safe to keep in the trail.
    ctx.record(ctx.event("SESSION_TERMINATED", Severity::Warning).resource("user", session.user_id.clone()).details(json!({ "session_id": session.id }))).await;
    Ok(no_content())
}
