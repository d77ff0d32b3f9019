//! RP-initiated logout, `GET|POST /api/v2/oauth/logout` (OpenID Connect RP-Initiated Logout 1.0).
//!
//! `id_token_hint` is verified against our own keys (an expired ID token is accepted: logging out
//! late is normal); its `aud` names the client. `post_logout_redirect_uri` must be registered for
//! that client, by exact match — otherwise an error page, and nothing is ended. The browser session
//! ends and its cookie is cleared; then the browser goes to the redirect URI (with `state`) or sees
//! a "signed out" page. Audited as USER_LOGOUT.

use crate::clients::{self, Client};
use crate::oauth::authorize::flow::client_redirect;
use crate::oauth::authorize::request::Params;
use crate::oauth::error::OAuthError;
use crate::oauth::routes::LOGOUT;
use crate::pages::{self, session};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{Validation, decode, decode_header};
use tessera_actors::audit::{AuditEvent, Severity};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(LOGOUT.path).route(web::get().to(get)).route(web::post().to(post)));
}

async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    logout(&state, &req, Params::parse(req.query_string())).await
}

async fn post(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match std::str::from_utf8(&body) {
        Ok(text) => logout(&state, &req, Params::parse(text)).await,
        Err(_) => pages::error_page(&OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")),
    }
}

/// The claims of a verified `id_token_hint` that logout uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub sub: Option<String>,
    pub audiences: Vec<String>,
}

/// Verifies an ID token issued by this server: signature with our key of its `kid`, issuer;
/// expiry is deliberately not checked.
pub fn verify_id_token_hint(state: &AppState, token: &str) -> Result<Hint, OAuthError> {
    let bad = || OAuthError::invalid_request("id_token_hint is not a valid ID token from this server");
    let header = decode_header(token).map_err(|_| bad())?;
    let kid = header.kid.ok_or_else(bad)?;
    let verifier = state.ring.verifier(&kid).ok_or_else(bad)?;
    if verifier.alg != header.alg {
        return Err(bad());
    }
    let mut v = Validation::new(verifier.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[&*state.issuer]);
    let data = decode::<serde_json::Value>(token, &verifier.decoding, &v).map_err(|_| bad())?;
    let claims = data.claims;
    let audiences = match &claims["aud"] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    Ok(Hint { sub: claims["sub"].as_str().map(str::to_string), audiences })
}

/// Finds the client the request speaks for: `client_id`, or the ID token's audience.
async fn client_of(state: &AppState, params: &Params, hint: Option<&Hint>) -> Result<Option<Client>, OAuthError> {
    let from_hint = hint.and_then(|h| if h.audiences.len() == 1 { h.audiences.first().cloned() } else { None });
    let client_id = match (params.get("client_id"), hint) {
        (Some(id), Some(h)) if !h.audiences.iter().any(|a| a == id) => {
            return Err(OAuthError::invalid_request("client_id is not an audience of id_token_hint"));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, _) => from_hint,
    };
    match client_id {
        Some(id) => Ok(clients::find(&state.db, &id).await?.filter(|c| c.is_active)),
        None => Ok(None),
    }
}

/// The whole endpoint for parsed parameters.
pub async fn logout(state: &AppState, req: &HttpRequest, params: Params) -> HttpResponse {
    match plan(state, &params).await {
        Ok((client, redirect)) => finish(state, req, client, redirect, params.get("state")).await,
        Err(e) => pages::error_page(&e),
    }
}

/// Validates everything before anything is ended: returns the client and the redirect URI to use.
async fn plan(state: &AppState, params: &Params) -> Result<(Option<Client>, Option<String>), OAuthError> {
    if let Some(name) = params.repeated().first() {
        return Err(OAuthError::invalid_request(format!("parameter {name} is repeated")));
    }
    let hint = params.get("id_token_hint").map(|t| verify_id_token_hint(state, t)).transpose()?;
    let client = client_of(state, params, hint.as_ref()).await?;
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok((client, None));
    };
    match &client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Ok((client.clone(), Some(uri.to_string()))),
        Some(_) => Err(OAuthError::invalid_request("post_logout_redirect_uri is not registered for this client")),
        None => Err(OAuthError::invalid_request("post_logout_redirect_uri needs id_token_hint or client_id of a known client")),
    }
}

async fn finish(state: &AppState, req: &HttpRequest, client: Option<Client>, redirect: Option<String>, client_state: Option<&str>) -> HttpResponse {
    let user_id = match session::current(state, req).await {
        Ok(cur) => cur.map(|c| c.user.id),
        Err(e) => return pages::error_page(&e),
    };
    let clear = match session::end(state, req).await {
        Ok(c) => c,
        Err(e) => return pages::error_page(&e),
    };
    if let Some(uid) = &user_id {
        let from = pages::origin(state, req);
        let mut event = AuditEvent::new("USER_LOGOUT", Severity::Info, state.clock.now()).user(uid.as_str()).origin(from.ip, from.user_agent);
        if let Some(c) = &client {
            event = event.client(c.client_id.as_str());
        }
        state.audit.record(event);
    }
    match redirect {
        Some(uri) => pages::redirect_with(StatusCode::FOUND, &client_redirect(&uri, &[("state", client_state)]), [clear]),
        None => {
            let page = pages::templates::MessagePage { title: "Signed out", message: "You have been signed out.", is_error: false, code: None };
            pages::html(StatusCode::OK, pages::render(&page), [clear])
        }
    }
}
