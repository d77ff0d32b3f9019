//! The OAuth 2.1 / OpenID Connect protocol endpoints.

pub mod authorize;
pub mod consent_store;
pub mod discovery;
pub mod error;
pub mod logout;
pub mod routes;
pub mod client_auth;
pub mod introspect;
pub mod jwt;
pub mod pkce;
pub mod refresh;
pub mod revoke;
pub mod token;
pub mod token_store;
pub mod userinfo;

use actix_web::web;

/// Registers the protocol endpoints (each area adds its own `configure`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::pages::configure);
    cfg.configure(token::configure);
}
