//! The `refresh_token` grant (RFC 6749 §6, OAuth 2.1 §4.3) with rotation and reuse detection.
//!
//! Every use rotates the token atomically; presenting a rotated or revoked token (or losing the
//! rotation race) is reuse: the whole family and its access tokens are revoked, the event is
//! committed to the audit log, and the answer is `invalid_grant`. `scope` may only narrow.

use super::{Issued, Origin, RefreshPlan, UserTokens, issue_user_tokens, usable_user};
use crate::oauth::client_auth::{AuthenticatedClient, Params};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::refresh::{self, RefreshToken};
use crate::oauth::token_store::Written;
use crate::state::AppState;
use serde_json::json;
use std::sync::Arc;
use tessera_actors::audit::{AuditEvent, Severity};

/// `refresh_token` (required), `scope` (optional, at most the original).
#[derive(Debug)]
pub struct Request {
    pub refresh_token: String,
    pub scope: Option<String>,
}

impl Request {
    pub fn parse(p: &Params) -> Result<Request, OAuthError> {
        Ok(Request { refresh_token: p.require("refresh_token")?.to_string(), scope: p.get("scope").map(str::to_string) })
    }
}

/// Revokes the family of a reused token, audits it, refuses.
async fn reused(state: &AppState, t: &RefreshToken, origin: &Origin) -> OAuthError {
    let revoked = refresh::revoke_family(state, &t.family_id).await;
    let ev = AuditEvent::new("REFRESH_TOKEN_REUSE", Severity::Critical, state.clock.now())
        .user(t.user_id.clone())
        .client(t.client_id.clone())
        .resource("refresh_token_family", t.family_id.clone())
        .details(json!({ "family_revoked": revoked.is_ok() }))
        .origin(origin.0.clone(), origin.1.clone());
    match state.audit.record_and_wait(ev).await {
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "audit of a refresh-token reuse not committed"),
    }
    tracing::warn!(target: "tessera::auth", error = "refresh_token_reuse", client_id = %t.client_id, family = %t.family_id, "refresh token reused; family revoked");
    match revoked {
        Ok(()) => OAuthError::invalid_grant("the refresh token is no longer valid"),
        Err(e) => e,
    }
}

/// The scope of the new access token: the requested one if it narrows the original.
fn narrowed(original: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(req) = requested else { return Ok(original.to_string()) };
    let orig: Vec<&str> = original.split_ascii_whitespace().collect();
    if let Some(extra) = req.split_ascii_whitespace().find(|s| !orig.contains(s)) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, format!("scope {extra:?} was not granted to this refresh token")));
    }
    let mut out: Vec<&str> = Vec::new();
    for s in req.split_ascii_whitespace() {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out.join(" "))
}

pub async fn exchange(state: &AppState, client: &AuthenticatedClient, r: Request, origin: &Origin) -> Result<Issued, OAuthError> {
    let now = state.clock.now();
    // A sealed token carries its row as minted, and its user comes from the user cache: no read.
    // Whether the token is still current (not rotated, not revoked) is for the rotation to find.
    let found = match refresh::open(state, &r.refresh_token) {
        Some(t) => {
            let user = state.users.find(&state.db, &t.user_id).await?;
            Some((t, user))
        }
        None => refresh::find_with_user(&state.db, &r.refresh_token).await?.map(|(t, u)| (t, u.map(Arc::new))),
    };
    let Some((t, user)) = found else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    if t.client_id != client.client.client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    if t.revoked || t.rotated_at.is_some() {
        return Err(reused(state, &t, origin).await);
    }
    if t.expires_at <= now {
        // A sealed token does not know whether it was rotated since: an expired one that was is
        // still reuse (its row says so; only expired tokens pay for the read).
        if let Some(row) = refresh::find(&state.db, &r.refresh_token).await?
            && (row.revoked || row.rotated_at.is_some())
        {
            return Err(reused(state, &row, origin).await);
        }
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let scope = narrowed(&t.scope, r.scope.as_deref())?;
    let user = usable_user(user)?;
    // The rotation (a conditional UPDATE: of concurrent uses exactly one wins) commits together
    // with the successor's rows; a lost rotation is reuse.
    let (response, written) = issue_user_tokens(
        state,
        UserTokens {
            client_id: &t.client_id,
            user: &user,
            scope,
            auth_time: t.auth_time,
            nonce: t.nonce.clone(),
            // OIDC Core §12.2: a refreshed ID token carries no nonce.
            id_token_nonce: false,
            code_hash: t.code_hash.clone(),
            redeem: None,
            refresh: RefreshPlan::Successor { family_id: t.family_id.clone(), parent_id: t.id.clone(), scope: t.scope.clone() },
        },
    )
    .await?;
    if written == Written::RotationLost {
        return Err(reused(state, &t, origin).await);
    }
    Ok(Issued { response, user_id: Some(user.id.clone()) })
}

#[cfg(test)]
mod tests {
    use super::narrowed;

    #[test]
    fn scope_may_only_narrow() {
        assert_eq!(narrowed("openid profile", None).unwrap(), "openid profile");
        assert_eq!(narrowed("openid profile", Some("profile")).unwrap(), "profile");
        assert!(narrowed("openid profile", Some("profile email")).is_err());
    }
}
