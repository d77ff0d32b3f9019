//! The admin console at `/admin`: server-rendered pages for administrators, signed in with the
//! same login session as the authorization pages (cookie `tessera_session`). No JavaScript
//! framework: plain forms, one small inline script (copy buttons, confirmations) allowed by its
//! hash in the Content-Security-Policy.
//!
//! Code map:
//! - `routes` — THE page table (method, path, required permissions, handler) and the menu.
//! - `dispatch` (here) — every page goes through it: the CSRF check of a POST, the session (none →
//!   the login page, returning here), the page's permissions (missing → 403 page and a
//!   `PERMISSION_DENIED` audit row), then the handler. Every answer carries `Cache-Control:
//!   no-store` and the console CSP (`assets`).
//! - `ctx` — what a handler receives and how it answers; `flash` — one-shot messages (and secrets
//!   shown exactly once) in a sealed cookie; `failure` — the console's error type; `form` — reading
//!   urlencoded forms and queries; `fmt` — display helpers; `templates` — the askama structs.
//! - one module per area: `dashboard`, `users` (+ `user_actions`), `roles`, `clients`, `audit`,
//!   `system`; `rules` — the administration rules the console enforces on mutations.
//!
//! Architecture invariant: no handler checks its own authorization; a page without an entry in
//! the table cannot exist, and every entry names the `menu:*` permission of its section.

pub mod assets;
pub mod audit;
pub mod clients;
pub mod ctx;
pub mod dashboard;
pub mod failure;
pub mod flash;
pub mod fmt;
pub mod form;
pub mod roles;
pub mod routes;
pub mod rules;
pub mod system;
pub mod templates;
pub mod user_actions;
pub mod users;

use crate::csrf;
use crate::oauth::authorize::with_return_to;
use crate::oauth::routes::LOGIN_PAGE;
use crate::pages::{CHANGE_PASSWORD_PAGE, csrf_failure, error_page, redirect, session};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use ctx::Ctx;
use failure::Failure;
use form::Form;
use routes::{PAGES, Page, Verb};

/// The console's root path.
pub const ROOT: &str = "/admin";

/// True for a console path the login page may send the browser back to: `/admin`, `/admin/…` or
/// `/admin?…`, made only of URL-safe characters (no scheme, host, fragment, `..` or `//`).
pub fn is_return_path(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(ROOT) else { return false };
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && s.len() <= 2048
        && !s.contains("//")
        && !s.contains("..")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.~?=&%+:,".contains(c))
}

/// Registers the stylesheet and every page of the table (one resource per path, in table order,
/// so fixed paths such as `/admin/users/new` come before `/admin/users/{id}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(assets::CSS_PATH).route(web::get().to(assets::stylesheet)));
    let mut paths: Vec<&'static str> = Vec::new();
    for p in PAGES {
        if !paths.contains(&p.path) {
            paths.push(p.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        for page in PAGES.iter().filter(|p| p.path == path) {
            let method = match page.verb {
                Verb::Get => actix_web::http::Method::GET,
                Verb::Post => actix_web::http::Method::POST,
            };
            resource = resource.route(web::method(method).to(move |req: HttpRequest, body: web::Bytes, state: web::Data<AppState>| dispatch(page, req, body, state)));
        }
        cfg.service(resource);
    }
}

async fn dispatch(page: &'static Page, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let mut res = run(page, req, body, state).await;
    assets::secure(res.headers_mut());
    res
}

/// Where to come back to after signing in: this page (a GET) or the console's home (a POST).
fn back_here(req: &HttpRequest, page: &Page) -> String {
    let here = match (page.verb, req.query_string()) {
        (Verb::Get, "") => req.path().to_string(),
        (Verb::Get, q) => format!("{}?{q}", req.path()),
        (Verb::Post, _) => ROOT.to_string(),
    };
    if is_return_path(&here) { here } else { ROOT.to_string() }
}

async fn run(page: &'static Page, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let form = Form::parse(&body);
    if page.verb == Verb::Post && !csrf::verify(&state, &req, form.raw(csrf::FIELD)) {
        return csrf_failure();
    }
    let cur = match session::current(&state, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return redirect(&with_return_to(LOGIN_PAGE, &back_here(&req, page))),
        Err(e) => return error_page(&e),
    };
    if cur.user.must_change_password {
        return redirect(&with_return_to(CHANGE_PASSWORD_PAGE, &back_here(&req, page)));
    }
    let perms = match state.permissions.effective(&cur.user.id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e.into()),
    };
    let ctx = Ctx::new(state, req, form, cur.user, perms, page);
    if let Some(missing) = page.needs.iter().find(|p| !ctx.can(p)) {
        ctx.audit_denied(missing).await;
        return ctx.failure(Failure::Forbidden(missing.to_string()));
    }
    let fallback = ctx.clone();
    match (page.handler)(ctx).await {
        Ok(res) => res,
        Err(f) => fallback.failure(f),
    }
}

#[cfg(test)]
mod tests {
    use super::is_return_path;

    #[test]
    fn return_paths_stay_in_the_console() {
        for ok in ["/admin", "/admin/users", "/admin/users?q=al&page=2", "/admin?x=1", "/admin/audit?from=2030-01-01T00%3A00"] {
            assert!(is_return_path(ok), "{ok}");
        }
        for bad in ["/administrator", "/admin//evil.example", "/admin/../login", "https://evil.example/admin", "/admin#x", "/admin\\x", "/admin/a b", "/admin\r\nX: y", ""] {
            assert!(!is_return_path(bad), "{bad}");
        }
    }
}
