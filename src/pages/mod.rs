//! The browser-facing side: server-rendered pages (login, password change, consent, messages)
//! and their common response shape. Every page and every redirect here carries the frame-busting
//! and no-store headers; every value in a page is escaped by askama.
//!
//! [`configure`] registers the pages and the browser endpoints of the protocol (authorize, logout).

pub mod consent;
pub mod login;
pub mod password;
pub mod session;
pub mod templates;

use crate::oauth::error::OAuthError;
use crate::oauth::routes::{CONSENT_PAGE, LOGIN_PAGE};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError, web};
use askama::Template;
use templates::MessagePage;

/// The password change page shown when `must_change_password` is set.
pub const CHANGE_PASSWORD_PAGE: &str = "/login/password";

/// No `form-action`: browsers apply it to the redirects that follow a submission too, and the login
/// and consent forms end with a redirect to the client's `redirect_uri` (another origin), which
/// `form-action 'self'` blocks in Chromium (found by the console's browser test).
pub const CONTENT_SECURITY_POLICY: &str = "frame-ancestors 'none'; default-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'";

/// Registers the pages and the browser endpoints (authorization, logout).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(LOGIN_PAGE).route(web::get().to(login::show)).route(web::post().to(login::submit)))
        .service(web::resource(CHANGE_PASSWORD_PAGE).route(web::get().to(password::show)).route(web::post().to(password::submit)))
        .service(web::resource(CONSENT_PAGE).route(web::get().to(consent::show)).route(web::post().to(consent::submit)))
        .configure(crate::oauth::authorize::configure)
        .configure(crate::oauth::logout::configure);
}

fn secure(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    b
}

/// Renders a template; a rendering failure becomes a plain 500 (never a panic).
pub fn render(t: &impl Template) -> Result<String, OAuthError> {
    t.render().map_err(|e| {
        tracing::error!(error = %e, "template rendering failed");
        OAuthError::server_error()
    })
}

/// An HTML page with the security headers, setting `cookies`.
pub fn html(status: StatusCode, body: Result<String, OAuthError>, cookies: impl IntoIterator<Item = Cookie<'static>>) -> HttpResponse {
    let (status, body) = match body {
        Ok(b) => (status, b),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_string()),
    };
    let mut b = secure(HttpResponse::build(status));
    b.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")));
    for c in cookies {
        b.cookie(c);
    }
    b.body(body)
}

/// A message page (errors, "signed out").
pub fn message(status: StatusCode, title: &str, text: &str, code: Option<&str>) -> HttpResponse {
    let page = MessagePage { title, message: text, is_error: status.is_client_error() || status.is_server_error(), code };
    html(status, render(&page), [])
}

/// The friendly HTML form of a protocol error that must not be redirected; the status is the one
/// the protocol error maps to.
pub fn error_page(e: &OAuthError) -> HttpResponse {
    let status = e.status_code();
    let title = if status.is_server_error() { "Temporarily unavailable" } else { "This request cannot be completed" };
    let mut res = message(status, title, &e.description, Some(e.code.as_str()));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}

/// A 400 page for a missing or wrong CSRF token.
pub fn csrf_failure() -> HttpResponse {
    message(
        StatusCode::BAD_REQUEST,
        "Form expired",
        "This form could not be verified (missing or invalid security token). Go back, reload the page and try again.",
        Some("invalid_csrf_token"),
    )
}

/// 302 to `location` (a validated local path or a registered redirect URI).
pub fn redirect(location: &str) -> HttpResponse {
    redirect_with(StatusCode::FOUND, location, [])
}

/// A redirect with a status and cookies.
pub fn redirect_with(status: StatusCode, location: &str, cookies: impl IntoIterator<Item = Cookie<'static>>) -> HttpResponse {
    let mut b = secure(HttpResponse::build(status));
    match HeaderValue::from_str(location) {
        Ok(v) => b.insert_header((header::LOCATION, v)),
        Err(_) => return error_page(&OAuthError::server_error()),
    };
    for c in cookies {
        b.cookie(c);
    }
    b.finish()
}

/// Where a browser request came from (client address under `TRUSTED_PROXIES`, user agent).
pub use crate::http::client_ip::{Origin, origin};
