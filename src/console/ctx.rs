//! What a console handler receives — the state, the request, its form, the signed-in user and
//! their effective permissions — and the ways it answers: a page, a redirect with a flash
//! message, or a failure page. Cookies the answer must carry (a new CSRF cookie, clearing a shown
//! flash) are added here, so handlers never think about them.

use super::failure::Failure;
use super::flash::{self, Flash};
use super::form::Form;
use super::routes::{MENU, Page};
use super::templates::{Chrome, ErrorPage, FlashView, NavLink};
use super::{assets, fmt};
use crate::csrf;
use crate::rbac::Effective;
use crate::state::AppState;
use crate::users::User;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use std::sync::Arc;
use tessera_actors::audit::{AuditEvent, Severity};

#[derive(Clone)]
pub struct Ctx {
    pub state: web::Data<AppState>,
    pub req: HttpRequest,
    /// The POSTed form (empty for a GET).
    pub form: Form,
    pub user: User,
    pub perms: Arc<Effective>,
    pub page: &'static Page,
    csrf: String,
    csrf_cookie: Option<Cookie<'static>>,
    flash: Option<Flash>,
}

impl Ctx {
    pub(super) fn new(state: web::Data<AppState>, req: HttpRequest, form: Form, user: User, perms: Arc<Effective>, page: &'static Page) -> Ctx {
        let token = csrf::issue(&state, &req);
        let flash = flash::read(&state, &req, &user.id);
        Ctx { state, req, form, user, perms, page, csrf: token.field, csrf_cookie: token.set_cookie, flash }
    }

    pub fn can(&self, permission: &str) -> bool {
        self.perms.has(permission)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// A path parameter of the page (`{id}`).
    pub fn param(&self, name: &str) -> Result<String, Failure> {
        let v = self.req.match_info().get(name).ok_or(Failure::Internal)?;
        if v.is_empty() || v.len() > 200 {
            return Err(Failure::NotFound("page"));
        }
        Ok(v.to_string())
    }

    /// The query string as a form.
    pub fn query(&self) -> Form {
        Form::parse(self.req.query_string().as_bytes())
    }

    /// The frame of every page: navigation filtered by `menu:*` permissions, the user, the flash.
    pub fn chrome(&self, section: &str, title: impl Into<String>) -> Chrome {
        let nav = MENU
            .iter()
            .filter(|m| self.can(m.permission))
            .map(|m| NavLink { key: m.key, label: m.label, href: m.path, current: m.key == section, icon: super::templates::icon(m.key) })
            .collect();
        let display_name = self.user.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| self.user.username.clone());
        let here = self.req.path();
        let flash = self.flash.clone().map(|f| FlashView {
            kind: f.kind.as_str(),
            text: f.text,
            details: f.details,
            // A secret is shown only on the page it was made for.
            reveal: f.reveal.filter(|r| r.path == here),
        });
        Chrome {
            title: title.into(),
            nav,
            initials: fmt::initials(&display_name),
            display_name,
            username: self.user.username.clone(),
            csrf: self.csrf.clone(),
            flash,
            css: assets::CSS_URL.as_str(),
            script: assets::SCRIPT,
            node: self.state.node_name.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            crumbs: Vec::new(),
        }
    }

    /// An HTML page: the CSRF cookie when new, and the shown flash cleared.
    pub fn render(&self, status: StatusCode, page: &impl Template) -> HttpResponse {
        let body = match page.render() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "console template rendering failed");
                return HttpResponse::InternalServerError().content_type("text/plain; charset=utf-8").body("The page could not be rendered.");
            }
        };
        let mut b = HttpResponse::build(status);
        b.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")));
        if let Some(c) = &self.csrf_cookie {
            b.cookie(c.clone());
        }
        if flash::present(&self.req) {
            b.cookie(flash::removal(&self.state));
        }
        b.body(body)
    }

    pub fn ok(&self, page: &impl Template) -> Result<HttpResponse, Failure> {
        Ok(self.render(StatusCode::OK, page))
    }

    /// 303 See Other to a console path, carrying `flash` to the page there.
    pub fn redirect(&self, location: &str, flash: Option<Flash>) -> Result<HttpResponse, Failure> {
        let loc = HeaderValue::from_str(location).map_err(|_| Failure::Internal)?;
        let mut b = HttpResponse::SeeOther();
        b.insert_header((header::LOCATION, loc));
        if let Some(f) = flash {
            b.cookie(flash::cookie(&self.state, &self.user.id, &f));
        }
        Ok(b.finish())
    }

    /// The failure page, with the navigation (so the user can go elsewhere).
    pub fn failure(&self, f: Failure) -> HttpResponse {
        let mut res = self.render(f.status(), &ErrorPage { c: self.chrome("", f.title()), message: f.message(), code: f.status().as_u16() });
        if f.status() == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res
    }

    /// An audit event by the signed-in user, from this request's origin.
    pub fn event(&self, action: &'static str, severity: Severity) -> AuditEvent {
        let o = crate::pages::origin(&self.state, &self.req);
        AuditEvent::new(action, severity, self.now()).user(self.user.id.as_str()).origin(o.ip, o.user_agent)
    }

    /// Records `ev` and waits until it is committed (the page that follows may list it).
    pub async fn record(&self, ev: AuditEvent) {
        crate::admin::ctx::record(&self.state, ev).await;
    }

    /// The `PERMISSION_DENIED` row of a refused page, committed before the 403 leaves.
    pub(super) async fn audit_denied(&self, permission: &str) {
        let route = format!("{} {}", self.page.verb.as_str(), self.page.path);
        let ev = self
            .event("PERMISSION_DENIED", Severity::Warning)
            .resource("route", route)
            .details(json!({ "permission": permission, "method": self.page.verb.as_str(), "path": self.req.path(), "via": "console" }));
        self.record(ev).await;
    }
}
