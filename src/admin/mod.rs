//! The admin REST API under `/api/v2` (seed 003 §2.2, §3–4): users, roles, permissions, OAuth
//! clients, audit logs, sessions, signing keys, configuration, and GDPR export/erasure.
//!
//! Code map:
//! - `routes` — THE route table: method, path, required permission, summary, schemas, handler.
//! - `dispatch` (here) — the one actix handler every route goes through: authenticate the bearer
//!   token, check the route's permission (denials audited as `PERMISSION_DENIED`), run the handler.
//! - `auth` — bearer-token verification and the caller; `ctx` — what handlers receive.
//! - `error` — `ApiError` and its one mapping to HTTP; `validate` — body/query readers.
//! - `openapi`, `schema` — the OpenAPI 3.1 document generated from the route table.
//! - one module per area: `users`, `roles`, `permissions`, `clients`, `audit_logs`, `sessions`,
//!   `system` (keys, config), `me` (self-service); `views` renders rows as JSON.
//!
//! Architecture invariant: no handler checks authorization itself; a route without an `Access`
//! in the table cannot exist, and nothing here builds an error response but `error`.

pub mod audit_logs;
pub mod auth;
pub mod clients;
pub mod ctx;
pub mod error;
pub mod me;
pub mod openapi;
pub mod permissions;
pub mod roles;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod system;
pub mod users;
pub mod validate;
pub mod views;

use crate::state::AppState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use error::ApiError;
use routes::{Access, ROUTES, Route, Verb};
use serde_json::json;
use tessera_actors::audit::Severity;

fn method(v: Verb) -> Method {
    match v {
        Verb::Get => Method::GET,
        Verb::Post => Method::POST,
        Verb::Put => Method::PUT,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
    }
}

/// Registers every route of the table: one resource per path, one route per method.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    for r in ROUTES {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        for route in ROUTES.iter().filter(|r| r.path == path) {
            resource = resource.route(web::method(method(route.verb)).to(move |req: HttpRequest, body: web::Bytes, state: web::Data<AppState>| dispatch(route, req, body, state)));
        }
        cfg.service(resource);
    }
}

async fn dispatch(route: &'static Route, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let mut res = match run(route, req, body, state).await {
        Ok(res) => res,
        Err(e) => e.error_response(),
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn run(route: &'static Route, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let caller = match route.access {
        Access::Public => None,
        Access::User | Access::Permission(_) => Some(auth::authenticate(&state, &req).await?),
    };
    if let (Access::Permission(p), Some(c)) = (route.access, &caller)
        && !c.permissions.has(p)
    {
        let ev = ctx::event(&state, &req, Some(c), "PERMISSION_DENIED", Severity::Warning)
            .resource("route", format!("{} {}", route.verb.as_str(), route.path))
            .details(json!({ "permission": p, "method": route.verb.as_str(), "path": req.path() }));
        // Reported in the response, so durable before it.
        ctx::record(&state, ev).await;
        return Err(ApiError::Forbidden { permission: p.to_string() });
    }
    (route.handler)(ctx::Ctx::new(state, req, body, caller)).await
}
