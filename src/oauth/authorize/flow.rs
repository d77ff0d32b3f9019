//! What happens to a validated authorization request given the browser's session: send the user to
//! log in, to change a password, to the consent page, or issue the code. Also builds the responses
//! sent to the client's redirect URI (RFC 6749 §4.1.2, RFC 9207 `iss`).

use super::checks::{AuthorizeRequest, Rejection};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::pages::session::Current;
use crate::state::AppState;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_actors::codes::{CodeGrant, IssueCode};

/// The next step for the browser.
#[derive(Debug)]
pub enum Step {
    /// Authenticate (again): show the login page, then resume the request.
    Login,
    /// The user must choose a new password first.
    ChangePassword,
    /// Ask for consent to these scopes (`new` are the ones not granted before).
    Consent { new: Vec<String> },
    /// Everything is in order: issue a code.
    Issue { consent: &'static str },
}

/// Decides the next step. `consented` is true when the user has just approved on the consent page.
pub async fn next_step(state: &AppState, req: &AuthorizeRequest, current: Option<&Current>, consented: bool) -> Result<Step, Rejection> {
    let to_client = |code: ErrorCode, d: &str| Rejection::to_client(req, OAuthError::new(code, d));
    let Some(cur) = current else {
        return if req.prompt.none { Err(to_client(ErrorCode::LoginRequired, "the user is not signed in")) } else { Ok(Step::Login) };
    };
    let age = (state.clock.now() - cur.session.auth_time).num_seconds();
    let too_old = req.max_age.is_some_and(|max| age > max);
    if req.prompt.login || too_old {
        return if req.prompt.none {
            Err(to_client(ErrorCode::LoginRequired, "the authentication is older than max_age"))
        } else {
            Ok(Step::Login)
        };
    }
    if cur.user.must_change_password {
        return if req.prompt.none { Err(to_client(ErrorCode::InteractionRequired, "the user must change the password")) } else { Ok(Step::ChangePassword) };
    }
    if consented || !req.client.require_consent {
        return Ok(Step::Issue { consent: if consented { "approved" } else { "not_required" } });
    }
    let granted = state.consents.granted(&state.db, &cur.user.id, &req.client.client_id).await.map_err(|e| Rejection::Page(e.into()))?;
    let new: Vec<String> = req.scopes.iter().filter(|s| !granted.contains(s)).cloned().collect();
    if new.is_empty() && !req.prompt.consent {
        return Ok(Step::Issue { consent: "remembered" });
    }
    if req.prompt.none {
        return Err(to_client(ErrorCode::ConsentRequired, "the user has not consented to every requested scope"));
    }
    Ok(Step::Consent { new })
}

/// Issues a code bound to the session and returns the redirect URI carrying it.
pub async fn issue_code(state: &AppState, req: &AuthorizeRequest, cur: &Current, consent: &'static str) -> Result<String, Rejection> {
    let grant = CodeGrant {
        code_hash: String::new(),
        client_id: req.client.client_id.clone(),
        user_id: cur.user.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope(),
        code_challenge: req.code_challenge.clone(),
        code_challenge_method: "S256".into(),
        nonce: req.nonce.clone(),
        auth_time: cur.session.auth_time,
        session_id: Some(cur.session.id.clone()),
    };
    let code = match state.codes.send(IssueCode(grant)).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "codes actor unreachable");
            return Err(Rejection::to_client(req, OAuthError::server_error()));
        }
    };
    state.audit.record(
        AuditEvent::new("OAUTH_AUTHORIZATION_GRANTED", Severity::Info, state.clock.now())
            .user(cur.user.id.as_str())
            .client(req.client.client_id.as_str())
            .details(serde_json::json!({ "scope": req.scope(), "consent": consent, "granted": true })),
    );
    Ok(client_redirect(&req.redirect_uri, &[("code", Some(&code)), ("state", req.state.as_deref()), ("iss", Some(&state.issuer))]))
}

/// `redirect_uri` with the given parameters appended to its query (keeping any it already has).
pub fn client_redirect(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    if pairs.iter().all(|(_, v)| v.is_none()) {
        return redirect_uri.to_string();
    }
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            u.to_string()
        }
        // Registered URIs are validated absolute URIs; keep a safe fallback anyway.
        Err(_) => redirect_uri.to_string(),
    }
}

/// The error response to the client: `error`, `error_description`, `state`, `iss`.
pub fn error_redirect(state: &AppState, redirect_uri: &str, client_state: Option<&str>, error: &OAuthError) -> String {
    client_redirect(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", Some(&error.description)),
            ("state", client_state),
            ("iss", Some(&state.issuer)),
        ],
    )
}
