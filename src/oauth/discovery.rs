//! `/.well-known/openid-configuration` (OIDC Discovery) and `/.well-known/oauth-authorization-server`
//! (RFC 8414), built from the route table and `ISSUER`.

use super::routes::ENDPOINTS;
use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};
use serde_json::{Map, Value, json};

pub const SCOPES: [&str; 6] = ["openid", "profile", "email", "offline_access", "groups", crate::admin::auth::ADMIN_SCOPE];

pub fn document(state: &AppState) -> Value {
    let issuer = &*state.issuer;
    let mut doc = Map::new();
    doc.insert("issuer".into(), json!(issuer));
    for e in ENDPOINTS {
        doc.insert(e.metadata.into(), json!(format!("{issuer}{}", e.path)));
    }
    let mut algs = vec!["RS256"];
    let configured = state.settings.jwt_algorithm.as_str();
    if configured != "RS256" {
        algs.push(configured);
    }
    let auth_methods = json!(["client_secret_basic", "client_secret_post", "none"]);
    let extra = json!({
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "name", "preferred_username", "email", "email_verified", "groups"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
    });
    if let Value::Object(extra) = extra {
        doc.extend(extra);
    }
    Value::Object(doc)
}

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(document(&state))
}
