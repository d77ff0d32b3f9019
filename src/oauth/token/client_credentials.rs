//! The `client_credentials` grant (RFC 6749 §4.4): confidential clients only, an access token
//! whose `sub` is the client itself; no refresh token, no ID token.

use super::Issued;
use super::TokenResponse;
use crate::oauth::client_auth::{AuthenticatedClient, Params};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::jwt;
use crate::state::AppState;

/// Scopes that only make sense with a user.
const USER_ONLY: [&str; 2] = ["openid", "offline_access"];

/// `scope` (optional).
#[derive(Debug)]
pub struct Request {
    pub scope: Option<String>,
}

impl Request {
    pub fn parse(p: &Params) -> Request {
        Request { scope: p.get("scope").map(str::to_string) }
    }
}

/// The granted scope: the requested scopes if the client holds them all (never the user-only
/// ones), else by default every scope of the client except the user-only ones.
pub fn granted_scope(client_scopes: &[String], requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(req) = requested else {
        return Ok(client_scopes.iter().filter(|s| !USER_ONLY.contains(&s.as_str())).cloned().collect::<Vec<_>>().join(" "));
    };
    let mut out: Vec<&str> = Vec::new();
    for s in req.split_ascii_whitespace() {
        if USER_ONLY.contains(&s) || !client_scopes.iter().any(|c| c == s) {
            return Err(OAuthError::new(ErrorCode::InvalidScope, format!("scope {s:?} is not available to this client")));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out.join(" "))
}

pub fn exchange(state: &AppState, client: &AuthenticatedClient, r: Request) -> Result<Issued, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client_credentials needs a confidential client"));
    }
    let scope = granted_scope(&client.client.scopes, r.scope.as_deref())?;
    let grant = jwt::AccessGrant {
        client_id: client.client.client_id.clone(),
        user_id: None,
        scope: scope.clone(),
        auth_time: None,
        code_hash: None,
        refresh_family_id: None,
    };
    let access = jwt::issue_client_token(state, grant)?;
    let response = TokenResponse { access_token: access.token, token_type: "Bearer", expires_in: access.expires_in, scope, refresh_token: None, id_token: None };
    Ok(Issued { response, user_id: None })
}

#[cfg(test)]
mod tests {
    use super::granted_scope;

    #[test]
    fn scopes_are_a_subset_of_the_clients_without_user_scopes() {
        let cs: Vec<String> = ["openid", "api.read", "api.write", "offline_access"].iter().map(|s| s.to_string()).collect();
        assert_eq!(granted_scope(&cs, None).unwrap(), "api.read api.write");
        assert_eq!(granted_scope(&cs, Some("api.read")).unwrap(), "api.read");
        assert!(granted_scope(&cs, Some("openid")).is_err());
        assert!(granted_scope(&cs, Some("admin")).is_err());
    }
}
