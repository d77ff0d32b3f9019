//! The token endpoint `POST /api/v2/oauth/token` (RFC 6749 §3.2, OAuth 2.1 §3.2), and the
//! registration of the whole token side (token, userinfo, introspection, revocation).
//!
//! The handler is thin: read the form (urlencoded only, no repeated parameters), parse the grant
//! (a tagged enum, one module per grant, each taking only its own parameters), authenticate the
//! client, check it may use the grant, run the grant. Every answer carries
//! `Cache-Control: no-store` and `Pragma: no-cache`.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use super::client_auth::{self, AuthenticatedClient, Params};
use super::error::{ErrorCode, OAuthError};
use super::refresh::{self, NewRefresh};
use super::token_store::{TokenRows, Written};
use super::{introspect, jwt, revoke, routes, userinfo};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_entity::users;

/// Registers the token-side endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let cors = || from_fn(crate::http::cors::cors);
    cfg.service(web::resource(routes::TOKEN.path).wrap(cors()).route(web::post().to(token)))
        .service(web::resource(routes::USERINFO.path).wrap(cors()).route(web::get().to(userinfo::userinfo)).route(web::post().to(userinfo::userinfo)))
        .service(web::resource(routes::INTROSPECT.path).route(web::post().to(introspect::introspect)))
        .service(web::resource(routes::REVOKE.path).wrap(cors()).route(web::post().to(revoke::revoke)));
}

/// The caller's address and user agent, for audit records.
pub type Origin = (Option<String>, Option<String>);

/// A token request, by `grant_type`. `password` and implicit do not exist in OAuth 2.1.
#[derive(Debug)]
pub enum Grant {
    AuthorizationCode(authorization_code::Request),
    RefreshToken(refresh_token::Request),
    ClientCredentials(client_credentials::Request),
}

/// Parameters that belong to one grant only; another grant refuses them.
const GRANT_SPECIFIC: [&str; 4] = ["code", "redirect_uri", "code_verifier", "refresh_token"];

/// Refuses grant-specific parameters of other grants (`own` lists this grant's).
fn only_own_parameters(p: &Params, own: &[&str]) -> Result<(), OAuthError> {
    match GRANT_SPECIFIC.iter().find(|n| !own.contains(n) && p.contains(n)) {
        Some(n) => Err(OAuthError::invalid_request(format!("parameter {n:?} does not belong to this grant"))),
        None => Ok(()),
    }
}

impl Grant {
    pub fn parse(p: &Params) -> Result<Grant, OAuthError> {
        match p.require("grant_type")? {
            "authorization_code" => {
                only_own_parameters(p, &["code", "redirect_uri", "code_verifier"])?;
                Ok(Grant::AuthorizationCode(authorization_code::Request::parse(p)?))
            }
            "refresh_token" => {
                only_own_parameters(p, &["refresh_token"])?;
                Ok(Grant::RefreshToken(refresh_token::Request::parse(p)?))
            }
            "client_credentials" => {
                only_own_parameters(p, &[])?;
                Ok(Grant::ClientCredentials(client_credentials::Request::parse(p)))
            }
            "password" | "implicit" => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "OAuth 2.1 has no password or implicit grant")),
            _ => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Grant::AuthorizationCode(_) => "authorization_code",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::ClientCredentials(_) => "client_credentials",
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What a grant produced, with the user it was for (audit).
pub struct Issued {
    pub response: TokenResponse,
    pub user_id: Option<String>,
}

pub fn has_scope(scope: &str, s: &str) -> bool {
    scope.split_ascii_whitespace().any(|x| x == s)
}

/// The user a grant acts for; missing or inactive is `invalid_grant`.
pub fn usable_user<U: std::borrow::Borrow<users::Model>>(found: Option<U>) -> Result<U, OAuthError> {
    match found {
        Some(u) if u.borrow().is_active => Ok(u),
        _ => Err(OAuthError::invalid_grant("the user is unknown or disabled")),
    }
}

/// [`usable_user`], read by id (through the user cache).
pub async fn active_user(state: &AppState, user_id: &str) -> Result<std::sync::Arc<users::Model>, OAuthError> {
    usable_user(state.users.find(&state.db, user_id).await?)
}

/// The refresh token to hand out alongside the access token.
pub enum RefreshPlan {
    None,
    /// A new family (from an authorization code).
    NewFamily,
    /// The successor of a rotated token: same family, parent named, original scope kept.
    Successor { family_id: String, parent_id: String, scope: String },
}

/// What user tokens are issued for.
pub struct UserTokens<'a> {
    pub client_id: &'a str,
    pub user: &'a users::Model,
    /// The access token's scope.
    pub scope: String,
    pub auth_time: DateTime<Utc>,
    /// For the ID token (only at code redemption) and to carry along the family.
    pub nonce: Option<String>,
    pub id_token_nonce: bool,
    pub code_hash: Option<String>,
    /// At code redemption: the code's redemption row, committed with the tokens (see `token_store`).
    pub redeem: Option<tessera_entity::authorization_codes::ActiveModel>,
    pub refresh: RefreshPlan,
}

/// Issues an access token, an ID token when `openid` is in scope, and a refresh token per plan.
/// With `RefreshPlan::Successor`, the parent is rotated in the same commit as the new rows, and
/// `Written::RotationLost` means nothing was written (the response must not be sent); with a
/// redemption row, so does `Written::CodeReplayed` (the code was redeemed before).
pub async fn issue_user_tokens(state: &AppState, t: UserTokens<'_>) -> Result<(TokenResponse, Written), OAuthError> {
    let (family_id, parent_id, refresh_scope) = match &t.refresh {
        RefreshPlan::None => (None, None, None),
        RefreshPlan::NewFamily => (Some(uuid::Uuid::new_v4().to_string()), None, Some(t.scope.clone())),
        RefreshPlan::Successor { family_id, parent_id, scope } => (Some(family_id.clone()), Some(parent_id.clone()), Some(scope.clone())),
    };
    let (access, access_row) = jwt::mint_access_token(
        state,
        jwt::AccessGrant {
            client_id: t.client_id.to_string(),
            user_id: Some(t.user.id.clone()),
            scope: t.scope.clone(),
            auth_time: Some(t.auth_time),
            code_hash: t.code_hash.clone(),
            refresh_family_id: family_id.clone(),
        },
    )?;
    let id_token = if has_scope(&t.scope, "openid") {
        let nonce = if t.id_token_nonce { t.nonce.as_deref() } else { None };
        let input = jwt::IdTokenInput { client_id: t.client_id, user: t.user, scope: &t.scope, auth_time: t.auth_time, nonce, access_token: &access.token };
        Some(jwt::issue_id_token(state, input)?)
    } else {
        None
    };
    let rotate = match &t.refresh {
        RefreshPlan::Successor { parent_id, .. } => Some((parent_id.clone(), state.clock.now())),
        _ => None,
    };
    let mut rows = TokenRows { access: Some(access_row), refresh: None, rotate, redeem: t.redeem };
    let refresh_token = match refresh_scope {
        Some(scope) => {
            let new = NewRefresh {
                family_id,
                parent_id,
                client_id: t.client_id.to_string(),
                user_id: t.user.id.clone(),
                scope,
                auth_time: t.auth_time,
                nonce: t.nonce.clone(),
                code_hash: t.code_hash.clone(),
            };
            let (token, _family, row) = refresh::mint(state, new);
            rows.refresh = Some(row);
            Some(token)
        }
        None => None,
    };
    // Both rows (and the rotation) in one group-committed batch (see `token_store`).
    let written = state.tokens.write(rows).await?;
    Ok((TokenResponse { access_token: access.token, token_type: "Bearer", expires_in: access.expires_in, scope: t.scope, refresh_token, id_token }, written))
}

/// `POST /api/v2/oauth/token`.
pub async fn token(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = client_auth::read_form(&req, payload).await?;
    let grant = Grant::parse(&params)?;
    let client = client_auth::authenticate(&state, &req, &params).await?;
    let name = grant.name();
    if !client.client.allows_grant(name) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, format!("this client may not use the {name} grant")));
    }
    let origin: Origin = crate::http::client_ip::origin(&state, &req).into();
    let issued = run(&state, &client, grant, &origin).await?;
    crate::metrics::token_issued(name);
    let mut ev = AuditEvent::new("TOKEN_ISSUED", Severity::Info, state.clock.now())
        .client(client.client.client_id.clone())
        .details(json!({ "grant_type": name, "scope": issued.response.scope, "refresh_token": issued.response.refresh_token.is_some() }))
        .origin(origin.0, origin.1);
    if let Some(u) = issued.user_id {
        ev = ev.user(u);
    }
    state.audit.record(ev);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(issued.response))
}

/// The exhaustive dispatch over grants.
pub async fn run(state: &AppState, client: &AuthenticatedClient, grant: Grant, origin: &Origin) -> Result<Issued, OAuthError> {
    match grant {
        Grant::AuthorizationCode(r) => authorization_code::exchange(state, client, r, origin).await,
        Grant::RefreshToken(r) => refresh_token::exchange(state, client, r, origin).await,
        Grant::ClientCredentials(r) => client_credentials::exchange(state, client, r),
    }
}
