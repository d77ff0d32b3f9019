//! The `authorization_code` grant (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636).
//!
//! The code opens to its grant (see `tessera_actors::codes`); then: same client, identical
//! redirect_uri, PKCE S256, an active user. The tokens are minted and committed together with the
//! code's redemption row, so a code is redeemed once: a second redemption, here or on any node,
//! writes nothing and is a replay. A replay is refused and every token the first redemption
//! produced is revoked (access tokens cluster-wide, refresh families), after the event is
//! committed to the audit log. A presentation that fails a check uses the code up as well, and is
//! a replay if the code was redeemed before (RFC 6749 §4.1.2: a code used more than once).

use super::{Issued, Origin, RefreshPlan, UserTokens, active_user, has_scope, issue_user_tokens};
use crate::oauth::client_auth::{AuthenticatedClient, Params};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::token_store::{TokenRows, Written};
use crate::oauth::{pkce, refresh};
use crate::state::AppState;
use serde_json::json;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_actors::codes::{CodeGrant, OpenError, OpenedCode};

/// The audit action a code replay is recorded under.
const REPLAY: &str = "AUTHORIZATION_CODE_REPLAY";

/// `code`, `redirect_uri`, `code_verifier` (all required).
#[derive(Debug)]
pub struct Request {
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: String,
}

impl Request {
    pub fn parse(p: &Params) -> Result<Request, OAuthError> {
        Ok(Request {
            code: p.require("code")?.to_string(),
            redirect_uri: p.require("redirect_uri")?.to_string(),
            code_verifier: p.require("code_verifier")?.to_string(),
        })
    }
}

/// Refuses a replayed code: records the replay, then revokes what the first redemption produced
/// (committed, with the redemption row).
async fn replayed(state: &AppState, client: &AuthenticatedClient, g: &CodeGrant, origin: &Origin) -> OAuthError {
    let ev = AuditEvent::new(REPLAY, Severity::Critical, state.clock.now())
        .user(g.user_id.clone())
        .client(client.client.client_id.clone())
        .resource("authorization_code", g.code_hash.clone())
        .details(json!({ "code_client_id": g.client_id }))
        .origin(origin.0.clone(), origin.1.clone());
    match state.audit.record_and_wait(ev).await {
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "audit of a code replay not committed"),
    }
    tracing::warn!(target: "tessera::auth", error = "code_replay", client_id = %client.client.client_id, "authorization code replayed; descendant tokens revoked");
    match refresh::revoke_code_descendants(state, &g.code_hash).await {
        Ok(()) => OAuthError::invalid_grant("the authorization code has already been used"),
        Err(e) => e,
    }
}

/// Refuses a presentation of a code that failed a check with `err`. The code is used up all the
/// same (its redemption row is written, with no tokens); if it was redeemed before, this is a
/// replay. A failure of ours (the database unavailable) leaves the code for a retry.
async fn refuse(state: &AppState, client: &AuthenticatedClient, code: &OpenedCode, origin: &Origin, err: OAuthError) -> OAuthError {
    if matches!(err.code, ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable) {
        return err;
    }
    let rows = TokenRows { redeem: Some(code.redemption(state.clock.now())), ..Default::default() };
    match state.tokens.write(rows).await {
        Ok(Written::CodeReplayed) => replayed(state, client, &code.grant, origin).await,
        Ok(_) => err,
        Err(e) => e.into(),
    }
}

pub async fn exchange(state: &AppState, client: &AuthenticatedClient, r: Request, origin: &Origin) -> Result<Issued, OAuthError> {
    let code = match state.code_seal.open(&r.code, state.clock.now()) {
        Ok(code) => code,
        Err(OpenError::Unknown) => return Err(OAuthError::invalid_grant("unknown authorization code")),
        Err(OpenError::Expired(code)) => return Err(refuse(state, client, &code, origin, OAuthError::invalid_grant("the authorization code has expired")).await),
    };
    let g = &code.grant;
    let c = &client.client;
    let checked = if g.client_id != c.client_id {
        Err(OAuthError::invalid_grant("the authorization code was issued to another client"))
    } else if g.redirect_uri != r.redirect_uri {
        Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"))
    } else {
        match pkce::verify(&g.code_challenge_method, &g.code_challenge, &r.code_verifier) {
            Ok(()) => active_user(state, &g.user_id).await,
            Err(e) => Err(e),
        }
    };
    let user = match checked {
        Ok(user) => user,
        Err(e) => return Err(refuse(state, client, &code, origin, e).await),
    };
    let refresh = if has_scope(&g.scope, "offline_access") && c.allows_grant("refresh_token") { RefreshPlan::NewFamily } else { RefreshPlan::None };
    let (response, written) = issue_user_tokens(
        state,
        UserTokens {
            client_id: &c.client_id,
            user: &user,
            scope: g.scope.clone(),
            auth_time: g.auth_time,
            nonce: g.nonce.clone(),
            id_token_nonce: true,
            code_hash: Some(g.code_hash.clone()),
            redeem: Some(code.redemption(state.clock.now())),
            refresh,
        },
    )
    .await?;
    match written {
        Written::Yes => Ok(Issued { response, user_id: Some(user.id.clone()) }),
        Written::CodeReplayed => Err(replayed(state, client, g, origin).await),
        Written::RotationLost => Err(OAuthError::server_error()),
    }
}
