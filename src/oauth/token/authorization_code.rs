//! The `authorization_code` grant (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636).
//!
//! The code is redeemed once through the codes actor. A replay is refused and every token the
//! first redemption produced is revoked (access tokens cluster-wide, refresh families), with the
//! event committed to the audit log first. That record doubles as the replay marker: a first
//! redemption still minting learns of it from the token writer once its rows have committed
//! (`Written::CodeReplayed`) and revokes its own tokens. Then: same client, identical
//! redirect_uri, PKCE S256, an active user.

use super::{Issued, Origin, RefreshPlan, UserTokens, active_user, has_scope, issue_user_tokens};
use crate::oauth::client_auth::{AuthenticatedClient, Params};
use crate::oauth::error::OAuthError;
use crate::oauth::token_store::{CODE_REPLAY as REPLAY, Written};
use crate::oauth::{pkce, refresh};
use crate::state::AppState;
use serde_json::json;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_actors::codes::{CodeGrant, RedeemCode, RedeemError};

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

/// Refuses a replayed code: records the replay (committed first: it is also the marker a racing
/// first redemption looks for), then revokes what the first redemption produced.
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

pub async fn exchange(state: &AppState, client: &AuthenticatedClient, r: Request, origin: &Origin) -> Result<Issued, OAuthError> {
    let redeemed = state.codes.send(RedeemCode(r.code)).await.map_err(|e| {
        tracing::error!(error = %e, "codes actor unreachable");
        OAuthError::unavailable("the service is temporarily unavailable; retry shortly")
    })?;
    let g = match redeemed {
        Ok(g) => g,
        Err(RedeemError::NotFound) => return Err(OAuthError::invalid_grant("unknown authorization code")),
        Err(RedeemError::Expired) => return Err(OAuthError::invalid_grant("the authorization code has expired")),
        Err(RedeemError::Replayed(g)) => return Err(replayed(state, client, &g, origin).await),
        Err(RedeemError::Db(e)) => return Err(e.into()),
    };
    let c = &client.client;
    if g.client_id != c.client_id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    if g.redirect_uri != r.redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    pkce::verify(&g.code_challenge_method, &g.code_challenge, &r.code_verifier)?;
    let user = active_user(state, &g.user_id).await?;
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
            refresh,
        },
    )
    .await?;
    // A replay racing with this redemption may have looked for descendants before these tokens
    // existed. It records itself before looking, so either it saw them or the token writer's
    // check after the commit sees its record, and the tokens are revoked here: the outcome is the
    // same as a replay arriving just after this answer.
    match written {
        Written::Yes => {}
        Written::CodeReplayed => refresh::revoke_code_descendants(state, &g.code_hash).await?,
        Written::RotationLost => return Err(OAuthError::server_error()),
    }
    Ok(Issued { response, user_id: Some(user.id.clone()) })
}
