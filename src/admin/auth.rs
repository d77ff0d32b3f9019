//! Who is calling: the bearer access token (RFC 6750 §2.1) of an RFC 9068 JWT, and the active user
//! behind it with their effective permissions.
//!
//! Audience decision: the admin API accepts a user's access token that carries the `admin` scope
//! (403 `insufficient_scope` without it), from whichever client it was issued to; tokens issued
//! to a client for itself (client credentials) are refused.

use super::error::ApiError;
use crate::oauth::jwt::{self, AccessClaims};
use crate::rbac::Effective;
use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::http::header;
use std::sync::Arc;

/// The authenticated caller of an admin request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    pub jti: String,
    /// Effective permissions at the time of the request.
    pub permissions: Arc<Effective>,
}

/// The scope an access token must carry to open the admin API. Without it, a token a super
/// administrator obtained for some third-party application would be an admin credential too.
pub const ADMIN_SCOPE: &str = "admin";

/// The token from `Authorization: Bearer <token>`; `Ok(None)` when there is no Authorization header.
fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(h) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let h = h.to_str().map_err(|_| ApiError::invalid_token("malformed Authorization header"))?;
    match h.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Err(ApiError::invalid_token("the Authorization header must be: Bearer <access token>")),
    }
}

/// The token's claims, if it is a user's access token for the admin API: valid by
/// [`jwt::verify_access_token`] (the one verifier), issued for a user (a client-credentials
/// token, whose `sub` is the client itself, is refused), and carrying [`ADMIN_SCOPE`].
pub fn admin_claims(state: &AppState, token: &str) -> Result<AccessClaims, ApiError> {
    let claims = jwt::verify_access_token(state, token).map_err(|e| ApiError::invalid_token(e.description))?;
    if claims.sub == claims.client_id {
        return Err(ApiError::invalid_token("the access token was issued to a client, not to a user"));
    }
    if !claims.has_scope(ADMIN_SCOPE) {
        return Err(ApiError::InsufficientScope { scope: ADMIN_SCOPE });
    }
    Ok(claims)
}

/// Authenticates the request: a valid token whose user exists and is active.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Caller, ApiError> {
    let token = bearer(req)?.ok_or(ApiError::Unauthorized { description: "an access token is required".into(), error_code: false })?;
    let claims = admin_claims(state, token)?;
    let permissions = state.permissions.effective(&claims.sub).await?;
    if !permissions.active {
        return Err(ApiError::invalid_token("the token's user does not exist or is not active"));
    }
    Ok(Caller { user_id: claims.sub, client_id: Some(claims.client_id), jti: claims.jti, permissions })
}
