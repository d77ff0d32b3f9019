//! The OAuth 2.1 / OpenID Connect protocol endpoints.

pub mod authorize;
pub mod consent_store;
pub mod discovery;
pub mod error;
pub mod logout;
pub mod routes;

use actix_web::web;

/// Registers the protocol endpoints (each area adds its own `configure`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::pages::configure);
}
