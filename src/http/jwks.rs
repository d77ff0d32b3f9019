//! The JWKS: published and active public keys, cacheable for `JWKS_MAX_AGE`.

use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let body = state.ring.jwks();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={}", state.settings.jwks_max_age.as_secs())))
        .content_type("application/jwk-set+json")
        .body((*body).clone())
}
