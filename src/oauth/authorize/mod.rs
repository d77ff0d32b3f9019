//! The authorization endpoint, `GET|POST /api/v2/oauth/authorize` (RFC 6749 §4.1, OAuth 2.1,
//! OIDC Core §3.1.2). Thin handlers: parse the parameters, validate them ([`checks`]), look at the
//! session, and follow [`flow::next_step`] to the login page, the consent page, or a code.

pub mod checks;
pub mod flow;
pub mod request;

use crate::metrics;
use crate::oauth::routes::{AUTHORIZE, CONSENT_PAGE, LOGIN_PAGE};
use crate::pages::{self, CHANGE_PASSWORD_PAGE, session};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use checks::Rejection;
use flow::Step;
use request::Params;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(AUTHORIZE.path).route(web::get().to(get)).route(web::post().to(post)));
}

async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    measured(authorize(&state, &req, Params::parse(req.query_string()))).await
}

async fn post(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    measured(async {
        match std::str::from_utf8(&body) {
            Ok(text) if crate::http::form::is_urlencoded(&req) => authorize(&state, &req, Params::parse(text)).await,
            _ => pages::error_page(&crate::oauth::error::OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")),
        }
    })
    .await
}

/// Counts an authorization request and observes how long the endpoint took to answer it.
async fn measured(answer: impl Future<Output = HttpResponse>) -> HttpResponse {
    let started = std::time::Instant::now();
    metrics::AUTHORIZATION_REQUESTS.inc();
    let res = answer.await;
    metrics::AUTHORIZATION_LATENCY_MS.observe(started.elapsed().as_secs_f64() * 1000.0);
    res
}

/// `path?return_to=<local path>`.
pub fn with_return_to(path: &str, return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("return_to", return_to).finish();
    format!("{path}?{q}")
}

/// Runs the whole endpoint for already-parsed parameters.
pub async fn authorize(state: &AppState, req: &HttpRequest, params: Params) -> HttpResponse {
    let areq = match checks::validate(state, params).await {
        Ok(r) => r,
        Err(rejection) => return respond(state, rejection),
    };
    let current = match session::current(state, req).await {
        Ok(c) => c,
        Err(e) => return pages::error_page(&e),
    };
    match flow::next_step(state, &areq, current.as_ref(), false).await {
        Ok(Step::Login) => pages::redirect(&with_return_to(LOGIN_PAGE, &areq.params.return_to())),
        Ok(Step::ChangePassword) => pages::redirect(&with_return_to(CHANGE_PASSWORD_PAGE, &areq.params.return_to())),
        Ok(Step::Consent { .. }) => pages::redirect(&format!("{CONSENT_PAGE}?{}", areq.params.encode())),
        Ok(Step::Issue { consent }) => match current.as_ref() {
            Some(cur) => match flow::issue_code(state, &areq, cur, consent).await {
                Ok(location) => pages::redirect(&location),
                Err(rejection) => respond(state, rejection),
            },
            None => pages::error_page(&crate::oauth::error::OAuthError::server_error()),
        },
        Err(rejection) => respond(state, rejection),
    }
}

/// A page for errors that must not be redirected; a redirect to the client for the others.
pub fn respond(state: &AppState, rejection: Rejection) -> HttpResponse {
    match rejection {
        Rejection::Page(e) => pages::error_page(&e),
        Rejection::Redirect { redirect_uri, state: client_state, error } => {
            pages::redirect(&flow::error_redirect(state, &redirect_uri, client_state.as_deref(), &error))
        }
    }
}
