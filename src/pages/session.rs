//! The browser side of login sessions: starting the sessions actor, the `tessera_session` cookie,
//! and finding the signed-in user of a request.
//!
//! The cookie is HttpOnly, SameSite=Lax (it must accompany the top-level navigation from a client
//! to the authorization endpoint), Path=/, and Secure when the issuer is https.

use crate::oauth::error::OAuthError;
use crate::state::AppState;
use crate::users::{self, User};
use actix::{Actor, Addr, MailboxError};
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use sea_orm::DatabaseConnection;
use tessera_actors::clock::SharedClock;
use tessera_actors::sessions::{CachedSessions, CreateSession, EndSession, GetSession, Session, SessionActor, SessionError, SessionPolicy, SessionStore};
use tessera_config::Settings;

pub const COOKIE: &str = "tessera_session";

/// Starts the sessions actor on Redis when `REDIS_URL` is set, else on the database; returns it
/// and the read-only view of its cache.
pub fn start(settings: &Settings, db: DatabaseConnection, clock: SharedClock) -> anyhow::Result<(Addr<SessionActor>, CachedSessions)> {
    let store = match &settings.redis_url {
        Some(url) => SessionStore::redis(url.expose()).map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?,
        None => SessionStore::Database(db),
    };
    let policy = SessionPolicy { idle: settings.session_timeout, absolute: settings.session_absolute_lifetime };
    let actor = SessionActor::new(store, clock, policy);
    let cached = actor.cached();
    Ok((actor.start(), cached))
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Current {
    /// The cookie value (never logged).
    pub cookie: String,
    pub session: Session,
    pub user: User,
}

fn unavailable(e: SessionError) -> OAuthError {
    tracing::error!(error = %e, "session store");
    OAuthError::unavailable("the session store is temporarily unavailable; retry shortly")
}

fn mailbox(e: MailboxError) -> OAuthError {
    tracing::error!(error = %e, "sessions actor unreachable");
    OAuthError::server_error()
}

/// The session of this request and its user, if any. A session of a deactivated or deleted user
/// counts as none (and is ended).
pub async fn current(state: &AppState, req: &HttpRequest) -> Result<Option<Current>, OAuthError> {
    let Some(cookie) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    let session = match state.session_cache.get(&cookie) {
        Some(s) => s,
        None => match state.sessions.send(GetSession(cookie.clone())).await.map_err(mailbox)?.map_err(unavailable)? {
            Some(s) => s,
            None => return Ok(None),
        },
    };
    match state.users.find(&state.db, &session.user_id).await? {
        Some(user) if user.is_active => Ok(Some(Current { cookie, session, user: users::User::from(user.as_ref()) })),
        _ => {
            state.sessions.send(EndSession(cookie)).await.map_err(mailbox)?.map_err(unavailable)?;
            Ok(None)
        }
    }
}

/// Starts a session for `user` authenticated at `auth_time`; returns the cookie to set.
pub async fn begin(state: &AppState, user: &User, auth_time: chrono::DateTime<chrono::Utc>, origin: &crate::pages::Origin) -> Result<Cookie<'static>, OAuthError> {
    let msg = CreateSession { user_id: user.id.clone(), auth_time, ip_address: origin.ip.clone(), user_agent: origin.user_agent.clone() };
    let value = state.sessions.send(msg).await.map_err(mailbox)?.map_err(unavailable)?;
    let max_age = time::Duration::seconds(state.settings.session_absolute_lifetime.as_secs().min(i64::MAX as u64) as i64);
    Ok(Cookie::build(COOKIE, value).http_only(true).same_site(SameSite::Lax).path("/").secure(state.settings.is_https()).max_age(max_age).finish())
}

/// Ends the request's session, if any; returns the cookie that clears it in the browser.
pub async fn end(state: &AppState, req: &HttpRequest) -> Result<Cookie<'static>, OAuthError> {
    if let Some(c) = req.cookie(COOKIE) {
        state.sessions.send(EndSession(c.value().to_string())).await.map_err(mailbox)?.map_err(unavailable)?;
    }
    Ok(removal(state))
}

/// A cookie that deletes `tessera_session`.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "").http_only(true).same_site(SameSite::Lax).path("/").secure(state.settings.is_https()).finish();
    c.make_removal();
    c
}
