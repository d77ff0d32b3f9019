//! `GET|POST /login/password`: choosing a new password, required before continuing when the
//! account has `must_change_password` (the bootstrap administrator does).
//!
//! The current password is checked again; the new one must meet the policy. Every other session of
//! the user ends; this browser continues with a fresh session keeping its original `auth_time`.

use super::templates::{ChangePasswordPage, MessagePage};
use super::{CHANGE_PASSWORD_PAGE, csrf_failure, error_page, html, origin, redirect, redirect_with, render, session};
use crate::csrf;
use crate::oauth::authorize::request::local_return_to as local;
use crate::oauth::authorize::with_return_to;
use crate::oauth::routes::LOGIN_PAGE;
use crate::state::AppState;
use crate::users::{self, ChangePasswordError, LoginError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_actors::sessions::EndAllForUser;

#[derive(Deserialize)]
pub struct Query {
    #[serde(default)]
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    return_to: Option<String>,
}

fn form(state: &AppState, req: &HttpRequest, status: StatusCode, return_to: &str, error: Option<&str>) -> HttpResponse {
    let token = csrf::issue(state, req);
    let page = ChangePasswordPage { title: "Choose a new password", action: CHANGE_PASSWORD_PAGE, csrf: &token.field, return_to, error };
    html(status, render(&page), token.set_cookie)
}

fn to_login(return_to: &str) -> HttpResponse {
    if return_to.is_empty() { redirect(LOGIN_PAGE) } else { redirect(&with_return_to(LOGIN_PAGE, return_to)) }
}

pub async fn show(state: web::Data<AppState>, req: HttpRequest, q: web::Query<Query>) -> HttpResponse {
    let return_to = local(q.return_to.as_deref());
    match session::current(&state, &req).await {
        Ok(Some(_)) => form(&state, &req, StatusCode::OK, return_to, None),
        Ok(None) => to_login(return_to),
        Err(e) => error_page(&e),
    }
}

pub async fn submit(state: web::Data<AppState>, req: HttpRequest, f: web::Form<ChangeForm>) -> HttpResponse {
    if !csrf::verify(&state, &req, f.csrf_token.as_deref()) {
        return csrf_failure();
    }
    let return_to = local(f.return_to.as_deref());
    let cur = match session::current(&state, &req).await {
        Ok(Some(cur)) => cur,
        Ok(None) => return to_login(return_to),
        Err(e) => return error_page(&e),
    };
    match users::verify_login(&state, &cur.user.username, &f.current_password).await {
        Ok(_) => {}
        Err(LoginError::Unavailable(_)) => return error_page(&crate::oauth::error::OAuthError::unavailable("retry shortly")),
        Err(_) => return form(&state, &req, StatusCode::UNAUTHORIZED, return_to, Some("The current password is not correct.")),
    }
    if f.new_password != f.confirm_password {
        return form(&state, &req, StatusCode::BAD_REQUEST, return_to, Some("The two new passwords differ."));
    }
    if f.new_password == f.current_password {
        return form(&state, &req, StatusCode::BAD_REQUEST, return_to, Some(&ChangePasswordError::Unchanged.to_string()));
    }
    let now = state.clock.now();
    match users::set_password(&state.db, &cur.user.id, f.new_password.clone(), now).await {
        Ok(()) => {}
        Err(ChangePasswordError::Policy(msg)) => return form(&state, &req, StatusCode::BAD_REQUEST, return_to, Some(&msg)),
        Err(ChangePasswordError::Db(e)) => return error_page(&e.into()),
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            return error_page(&crate::oauth::error::OAuthError::server_error());
        }
    }
    match state.sessions.send(EndAllForUser(cur.user.id.clone())).await {
        Ok(Ok(_)) => {}
        _ => return error_page(&crate::oauth::error::OAuthError::unavailable("the session store is temporarily unavailable")),
    }
    let user = users::User { must_change_password: false, ..cur.user };
    let cookie = match session::begin(&state, &user, cur.session.auth_time, &origin(&state, &req)).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    state.audit.record(AuditEvent::new("USER_PASSWORD_CHANGED", Severity::Info, now).user(user.id.as_str()));
    if return_to.is_empty() {
        let page = MessagePage { title: "Password changed", message: "Your password has been changed.", is_error: false, code: None };
        return html(StatusCode::OK, render(&page), [cookie]);
    }
    redirect_with(StatusCode::SEE_OTHER, return_to, [cookie])
}
