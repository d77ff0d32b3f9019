//! The HTTP layer: routes, middleware, and the mapping of every error to a protocol-shaped body.
//! Only `src` knows HTTP; handlers are thin and call plain functions.

pub mod client_ip;
pub mod cors;
pub mod form;
pub mod health;
pub mod jwks;
pub mod middleware;

use crate::oauth::error::OAuthError;
use crate::oauth::{discovery, routes};
use actix_web::middleware::from_fn;
use actix_web::web;

/// Malformed, oversized or wrongly typed bodies and queries become RFC 6749 `invalid_request`.
fn extractor_errors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::FormConfig::default().limit(16 * 1024).error_handler(|e, _| OAuthError::invalid_request(format!("malformed form body: {e}")).into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| OAuthError::invalid_request(format!("malformed query: {e}")).into()))
        .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| OAuthError::invalid_request(format!("malformed JSON body: {e}")).into()))
        .app_data(web::PayloadConfig::default().limit(64 * 1024));
}

/// JWKS and discovery, one static resource per path: a resource with several paths is matched by
/// a regular expression, for every request that reaches it.
fn well_known(cfg: &mut web::ServiceConfig) {
    for path in [routes::JWKS.path, "/.well-known/jwks.json"] {
        cfg.service(web::resource(path).wrap(from_fn(cors::cors)).route(web::get().to(jwks::jwks)));
    }
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        cfg.service(web::resource(path).wrap(from_fn(cors::cors)).route(web::get().to(discovery::openid_configuration)));
    }
}

/// Registers every route. Used by the server and by tests alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    extractor_errors(cfg);
    cfg.service(
        web::scope("")
            .wrap(from_fn(middleware::common))
            .route("/health", web::get().to(health::health))
            .route("/ready", web::get().to(health::ready))
            .configure(crate::oauth::configure)
            .configure(well_known)
            .configure(crate::admin::configure)
            .configure(crate::console::configure),
    );
}
