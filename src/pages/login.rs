//! `GET|POST /login`: the sign-in form.
//!
//! A failed login answers 401 with a generic message, after its USER_LOGIN_FAILED audit row is
//! committed, and writes one `tessera::auth` warning with `error="invalid_credentials"` and
//! `remote_addr` that fail2ban can match. The password is never logged. On success the old session
//! (if any) is ended, a new one starts, and the browser goes back to `return_to` — only ever a local
//! path into the authorization endpoint or the admin console.

use super::templates::LoginPage;
use super::{CHANGE_PASSWORD_PAGE, Origin, csrf_failure, error_page, html, origin, redirect_with, render, session};
use crate::metrics;
use crate::oauth::authorize::request::{local_return_to as local, resume_after_login};
use crate::oauth::authorize::with_return_to;
use crate::oauth::routes::LOGIN_PAGE;
use crate::state::AppState;
use crate::users::{self, LoginError};
use crate::csrf;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tessera_actors::audit::{AuditEvent, Severity};

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    return_to: Option<String>,
}

fn form(state: &AppState, req: &HttpRequest, status: StatusCode, return_to: &str, username: &str, error: Option<&str>) -> HttpResponse {
    let token = csrf::issue(state, req);
    let page = LoginPage { title: "Sign in", action: LOGIN_PAGE, csrf: &token.field, return_to, username, error };
    html(status, render(&page), token.set_cookie)
}

pub async fn show(state: web::Data<AppState>, req: HttpRequest, q: web::Query<LoginQuery>) -> HttpResponse {
    form(&state, &req, StatusCode::OK, local(q.return_to.as_deref()), "", None)
}

pub async fn submit(state: web::Data<AppState>, req: HttpRequest, f: web::Form<LoginForm>) -> HttpResponse {
    if !csrf::verify(&state, &req, f.csrf_token.as_deref()) {
        return csrf_failure();
    }
    metrics::LOGIN_ATTEMPTS.inc();
    let return_to = local(f.return_to.as_deref());
    let from = origin(&state, &req);
    let username: String = f.username.trim().chars().take(256).collect();
    let user = match users::verify_login(&state, &username, &f.password).await {
        Ok(user) => user,
        Err(LoginError::Unavailable(e)) => {
            tracing::error!(error = %e, "login could not be checked");
            return error_page(&crate::oauth::error::OAuthError::unavailable("sign-in is temporarily unavailable; retry shortly"));
        }
        Err(e) => return failed(&state, &req, &from, e, return_to, &username).await,
    };
    // A fresh session for every login (no session fixation); the old one ends.
    if let Err(e) = session::end(&state, &req).await {
        return error_page(&e);
    }
    let now = state.clock.now();
    let cookie = match session::begin(&state, &user, now, &from).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    state.audit.record(
        AuditEvent::new("USER_LOGIN_SUCCESS", Severity::Info, now).user(user.id.as_str()).origin(from.ip.clone(), from.user_agent.clone()),
    );
    tracing::info!(target: "tessera::auth", user_id = %user.id, remote_addr = from.ip.as_deref().unwrap_or("-"), "login succeeded");
    let next = resume_after_login(return_to);
    let location = match (&next, user.must_change_password) {
        (Some(n), true) => with_return_to(CHANGE_PASSWORD_PAGE, n),
        (None, true) => CHANGE_PASSWORD_PAGE.to_string(),
        (Some(n), false) => n.clone(),
        (None, false) => {
            return super::html(
                StatusCode::OK,
                render(&super::templates::MessagePage { title: "Signed in", message: "You are signed in. You can close this window.", is_error: false, code: None }),
                [cookie],
            );
        }
    };
    redirect_with(StatusCode::SEE_OTHER, &location, [cookie])
}

async fn failed(state: &AppState, req: &HttpRequest, from: &Origin, e: LoginError, return_to: &str, username: &str) -> HttpResponse {
    metrics::LOGIN_FAILURES.inc();
    let mut event = AuditEvent::new("USER_LOGIN_FAILED", Severity::Warning, state.clock.now())
        .origin(from.ip.clone(), from.user_agent.clone())
        .details(serde_json::json!({ "reason": e.reason() }));
    if let Some(id) = e.user_id() {
        event = event.user(id);
    }
    // The audit row is committed before the answer leaves.
    match state.audit.record_and_wait(event).await {
        Ok(()) => {}
        Err(err) => tracing::error!(error = %err, "failed-login audit row not written"),
    }
    tracing::warn!(
        target: "tessera::auth",
        error = "invalid_credentials",
        remote_addr = from.ip.as_deref().unwrap_or("-"),
        reason = e.reason(),
        "login failed"
    );
    form(state, req, StatusCode::UNAUTHORIZED, return_to, username, Some("Invalid username or password."))
}
