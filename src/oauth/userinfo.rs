//! The OpenID Connect UserInfo endpoint `GET|POST /api/v2/oauth/userinfo` (OIDC Core §5.3).
//!
//! The access token comes from the `Authorization: Bearer` header or an `access_token` form
//! parameter (RFC 6750 §2.1–2.2), never both. It needs the `openid` scope (else 403
//! `insufficient_scope`); claims are released by scope: `sub` always, `profile`, `email`, and
//! `groups` (the names of the user's active, unexpired roles).

use super::client_auth;
use super::error::OAuthError;
use super::jwt;
use crate::state::AppState;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value, json};
use tessera_entity::{roles, user_roles};

/// The bearer token in the Authorization header, if any.
fn header_token(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let v = v.to_str().map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(Some(token.trim().to_string())),
        _ => Err(OAuthError::invalid_token("the Authorization header must carry a Bearer token")),
    }
}

/// Names of the roles `user_id` holds now: active roles whose assignment has not expired.
pub async fn groups(db: &DatabaseConnection, user_id: &str, now: DateTime<Utc>) -> Result<Vec<String>, DbErr> {
    let rows = roles::Entity::find()
        .inner_join(user_roles::Entity)
        .filter(user_roles::Column::UserId.eq(user_id))
        .filter(roles::Column::IsActive.eq(true))
        .filter(Condition::any().add(user_roles::Column::ExpiresAt.is_null()).add(user_roles::Column::ExpiresAt.gt(now)))
        .order_by_asc(roles::Column::Name)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// The claims an access token releases, or the protocol error.
pub async fn claims_for(state: &AppState, token: &str) -> Result<Value, OAuthError> {
    let claims = jwt::verify_access_token(state, token)?;
    if !claims.has_scope("openid") {
        return Err(OAuthError::insufficient_scope("the access token lacks the openid scope"));
    }
    let user = match state.users.find(&state.db, claims.sub.as_str()).await? {
        Some(u) if u.is_active => u,
        _ => return Err(OAuthError::invalid_token("the user of this token is unknown or disabled")),
    };
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    jwt::user_claims(&user, &claims.scope, &mut out);
    if claims.has_scope("groups") {
        out.insert("groups".into(), json!(groups(&state.db, &user.id, state.clock.now()).await?));
    }
    Ok(Value::Object(out))
}

/// `GET|POST /api/v2/oauth/userinfo`.
pub async fn userinfo(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, OAuthError> {
    let from_header = header_token(&req)?;
    let from_body = if req.method() == Method::POST && crate::http::form::is_urlencoded(&req) {
        client_auth::read_form(&req, payload).await.map_err(OAuthError::with_bearer)?.get("access_token").map(str::to_string)
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("send the access token in one place only").with_bearer()),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(OAuthError::invalid_token("an access token is required")),
    };
    let body = claims_for(&state, &token).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache")).json(body))
}
