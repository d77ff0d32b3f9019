//! The OAuth 2.1 / OpenID Connect protocol endpoints.

pub mod discovery;
pub mod error;
pub mod routes;

use actix_web::web;

/// Registers the protocol endpoints (each area adds its own `configure`).
pub fn configure(_cfg: &mut web::ServiceConfig) {}
