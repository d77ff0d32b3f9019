//! Token introspection (RFC 7662) at `POST /api/v2/oauth/introspect`, for authenticated
//! confidential clients (resource servers).
//!
//! A JWT access token is active unless its signature is bad, or it has expired, or it is in the
//! cluster revocation set. Its `access_tokens` row is not read: every revocation (revoke endpoint,
//! code replay, refresh-family reuse, GDPR erasure, user deactivation, client deletion) puts the
//! jti into the cluster revocation set before or instead of touching the row, so the set alone decides. A refresh token (looked
//! up by hash) is active unless revoked, rotated or expired. Anything else is exactly
//! `{"active": false}`. `token_type_hint` is accepted and not needed: the two kinds are told apart
//! by their form.

use super::client_auth;
use super::error::OAuthError;
use super::{jwt, refresh};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::EntityTrait;
use serde_json::{Map, Value, json};
use tessera_entity::users;

fn inactive() -> Value {
    json!({ "active": false })
}

async fn username(state: &AppState, user_id: &str) -> Result<Option<String>, OAuthError> {
    Ok(users::Entity::find_by_id(user_id).one(&state.db).await?.map(|u| u.username))
}

async fn access_token(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    let Ok(c) = jwt::verify_access_token(state, token) else { return Ok(inactive()) };
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    out.insert("scope".into(), json!(c.scope));
    out.insert("client_id".into(), json!(c.client_id));
    // A client-credentials token's subject is its client; any other subject is a user id.
    if c.sub != c.client_id
        && let Some(name) = username(state, &c.sub).await?
    {
        out.insert("username".into(), json!(name));
    }
    out.insert("token_type".into(), json!("Bearer"));
    out.insert("sub".into(), json!(c.sub));
    out.insert("aud".into(), json!(c.aud));
    out.insert("iss".into(), json!(c.iss));
    out.insert("exp".into(), json!(c.exp));
    out.insert("iat".into(), json!(c.iat));
    out.insert("jti".into(), json!(c.jti));
    if let Some(t) = c.auth_time {
        out.insert("auth_time".into(), json!(t));
    }
    Ok(Value::Object(out))
}

async fn refresh_token(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    let Some(t) = refresh::find(&state.db, token).await? else { return Ok(inactive()) };
    if !refresh::is_current(&t, state.clock.now()) {
        return Ok(inactive());
    }
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    out.insert("scope".into(), json!(t.scope));
    out.insert("client_id".into(), json!(t.client_id));
    if let Some(name) = username(state, &t.user_id).await? {
        out.insert("username".into(), json!(name));
    }
    out.insert("token_type".into(), json!("refresh_token"));
    out.insert("sub".into(), json!(t.user_id));
    out.insert("aud".into(), json!(t.client_id));
    out.insert("iss".into(), json!(&*state.issuer));
    out.insert("exp".into(), json!(t.expires_at.timestamp()));
    out.insert("iat".into(), json!(t.created_at.timestamp()));
    out.insert("jti".into(), json!(t.id));
    Ok(Value::Object(out))
}

/// The introspection answer for `token`.
pub async fn introspect_token(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    if token.contains('.') { access_token(state, token).await } else { refresh_token(state, token).await }
}

/// `POST /api/v2/oauth/introspect`.
pub async fn introspect(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = client_auth::read_form(&req, payload).await?;
    let client = client_auth::authenticate(&state, &req, &params).await?;
    if !client.is_confidential() {
        return Err(OAuthError::invalid_client("introspection needs an authenticated confidential client", false));
    }
    let token = params.require("token")?;
    let body = introspect_token(&state, token).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache")).json(body))
}
