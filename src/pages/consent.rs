//! `GET|POST /oauth/consent`: asking the user to allow a client the requested scopes.
//!
//! The page is reached with the authorization request as its query string; the form sends that
//! request back in a hidden field, and the POST validates it again from scratch (client, redirect
//! URI, PKCE, scopes, session) before acting on the decision. Nothing about the pending request is
//! trusted from the form but its parameters.

use super::templates::{ConsentPage, ScopeLine};
use super::{csrf_failure, error_page, html, redirect, render, session, CHANGE_PASSWORD_PAGE};
use crate::csrf;
use crate::oauth::authorize::checks::{self, AuthorizeRequest, Rejection};
use crate::oauth::authorize::flow::{self, Step};
use crate::oauth::authorize::request::Params;
use crate::oauth::authorize::{respond, with_return_to};
use crate::oauth::consent_store;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::routes::{CONSENT_PAGE, LOGIN_PAGE};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tessera_actors::audit::{AuditEvent, Severity};

/// A human description of a scope for the consent page.
pub fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Confirm your identity (sign you in)".into(),
        "profile" => "See your profile: name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are not using it (stay signed in)".into(),
        "groups" | "roles" => "See your roles and groups".into(),
        "admin" => "Use the administration API with your permissions (manage users, roles, clients and settings as your roles allow)".into(),
        other => format!("Access \u{201c}{other}\u{201d}"),
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// Where the browser goes for steps other than the consent itself.
async fn elsewhere(state: &AppState, areq: &AuthorizeRequest, cur: &session::Current, step: Step) -> Option<HttpResponse> {
    Some(match step {
        Step::Login => redirect(&with_return_to(LOGIN_PAGE, &areq.params.return_to())),
        Step::ChangePassword => redirect(&with_return_to(CHANGE_PASSWORD_PAGE, &areq.params.return_to())),
        Step::Issue { consent } => {
            let remember = consent == "approved" && areq.client.require_consent;
            if remember && let Err(e) = consent_store::remember(&state.db, &cur.user.id, &areq.client.client_id, &areq.scopes, state.clock.now()).await {
                return Some(error_page(&e.into()));
            }
            match flow::issue_code(state, areq, cur, consent).await {
                Ok(location) => redirect(&location),
                Err(r) => respond(state, r),
            }
        }
        Step::Consent { .. } => return None,
    })
}

pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let params = Params::parse(req.query_string());
    let areq = match checks::validate(&state, params).await {
        Ok(r) => r,
        Err(r) => return respond(&state, r),
    };
    let cur = match session::current(&state, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return redirect(&with_return_to(LOGIN_PAGE, &areq.params.return_to())),
        Err(e) => return error_page(&e),
    };
    let step = match flow::next_step(&state, &areq, Some(&cur), false).await {
        Ok(s) => s,
        Err(r) => return respond(&state, r),
    };
    let new = match step {
        Step::Consent { new } => new,
        other => return elsewhere(&state, &areq, &cur, other).await.unwrap_or_else(|| error_page(&OAuthError::server_error())),
    };
    let token = csrf::issue(&state, &req);
    let scopes = areq.scopes.iter().map(|s| ScopeLine { name: s.clone(), description: describe(s), is_new: new.contains(s) }).collect();
    let host = url::Url::parse(&areq.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let encoded = areq.params.encode();
    let page = ConsentPage {
        title: "Allow access",
        action: CONSENT_PAGE,
        csrf: &token.field,
        client_name: &areq.client.name,
        username: &cur.user.username,
        scopes,
        request: &encoded,
        redirect_host: &host,
    };
    html(StatusCode::OK, render(&page), token.set_cookie)
}

pub async fn submit(state: web::Data<AppState>, req: HttpRequest, f: web::Form<ConsentForm>) -> HttpResponse {
    if !csrf::verify(&state, &req, f.csrf_token.as_deref()) {
        return csrf_failure();
    }
    let areq = match checks::validate(&state, Params::parse(&f.request)).await {
        Ok(r) => r,
        Err(r) => return respond(&state, r),
    };
    let cur = match session::current(&state, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return redirect(&with_return_to(LOGIN_PAGE, &areq.params.return_to())),
        Err(e) => return error_page(&e),
    };
    match f.decision.as_str() {
        "approve" => {}
        "deny" => {
            state.audit.record(
                AuditEvent::new("OAUTH_AUTHORIZATION_DENIED", Severity::Info, state.clock.now())
                    .user(cur.user.id.as_str())
                    .client(areq.client.client_id.as_str())
                    .details(serde_json::json!({ "scope": areq.scope(), "granted": false })),
            );
            let denied = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            return respond(&state, Rejection::to_client(&areq, denied));
        }
        _ => return error_page(&OAuthError::invalid_request("decision must be approve or deny")),
    }
    match flow::next_step(&state, &areq, Some(&cur), true).await {
        Ok(step) => elsewhere(&state, &areq, &cur, step).await.unwrap_or_else(|| error_page(&OAuthError::server_error())),
        Err(r) => respond(&state, r),
    }
}
