//! Minting and verifying JWTs: RFC 9068 access tokens (signed with the configured
//! `JWT_ALGORITHM`) and OpenID Connect ID tokens (always RS256).
//!
//! Every access token issued for a user also gets a row in `access_tokens`, so it can be found
//! again by the user, code or refresh family it came from and revoked as part of a cascade. A
//! client-credentials token has no row: nothing cascades to it but its client's deletion, which
//! revokes the whole client in the cluster revocation set ([`client_revocation`]). Verification
//! checks the signature with the key named by `kid` (the algorithm must be that key's), `typ`,
//! `iss`, `exp` against `state.clock`, and the cluster's revocation set (the jti, and the client).

use super::error::OAuthError;
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tessera_actors::crypto::random_token;
use tessera_actors::keyring::Signer;
use tessera_entity::{access_tokens, users};

/// The JOSE `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of a Tessera access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user id, or the client id for client-credentials tokens.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl AccessClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes().any(|x| x == s)
    }
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub client_id: String,
    /// `None` for client-credentials tokens (then `sub` is the client id).
    pub user_id: Option<String>,
    pub scope: String,
    pub auth_time: Option<DateTime<Utc>>,
    /// The authorization code the token descends from (for replay revocation).
    pub code_hash: Option<String>,
    /// The refresh-token family the token was issued with (for reuse revocation).
    pub refresh_family_id: Option<String>,
}

/// A freshly minted access token.
#[derive(Debug, Clone)]
pub struct IssuedAccess {
    pub token: String,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
    pub expires_in: i64,
}

fn no_signer(alg: &str) -> OAuthError {
    tracing::error!(alg, "no active signing key");
    OAuthError::unavailable("no signing key is available; retry shortly")
}

/// The JOSE header Tessera signs with (RFC 7515 §4).
#[derive(Serialize)]
struct JoseHeader<'a> {
    typ: &'a str,
    alg: Algorithm,
    kid: &'a str,
}

/// Builds the compact JWS `base64url(header).base64url(claims).base64url(signature)` with the
/// signer's parsed key.
fn sign(signer: &Signer, typ: &str, claims: &impl Serialize) -> Result<String, OAuthError> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "signing a token failed");
        OAuthError::server_error()
    };
    let header = serde_json::to_vec(&JoseHeader { typ, alg: signer.alg, kid: &signer.kid }).map_err(|e| failed(&e))?;
    let payload = serde_json::to_vec(claims).map_err(|e| failed(&e))?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = signer.sign(token.as_bytes()).map_err(|e| failed(&e))?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// The revocation-set entry that revokes every token of a deleted client. Client ids are random
/// (`tsr_…`) and never reused, and a jti never contains `:`, so the entry names only that client.
pub fn client_revocation(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// Signs a client-credentials access token (no `access_tokens` row: see the module comment).
pub fn issue_client_token(state: &AppState, grant: AccessGrant) -> Result<IssuedAccess, OAuthError> {
    debug_assert!(grant.user_id.is_none(), "a client token has no user");
    Ok(mint_access_token(state, grant)?.0)
}

/// Signs an access token and builds its `access_tokens` row; the caller writes the row (through
/// `state.tokens`) before answering.
pub fn mint_access_token(state: &AppState, grant: AccessGrant) -> Result<(IssuedAccess, access_tokens::ActiveModel), OAuthError> {
    let alg = state.settings.jwt_algorithm.as_str();
    let signer = state.ring.signer(alg).ok_or_else(|| no_signer(alg))?;
    let now = state.clock.now();
    let ttl = i64::try_from(state.settings.access_token_ttl.as_secs()).unwrap_or(3600);
    let expires_at = now + chrono::Duration::seconds(ttl);
    let jti = random_token(18);
    let claims = AccessClaims {
        iss: state.issuer.to_string(),
        sub: grant.user_id.clone().unwrap_or_else(|| grant.client_id.clone()),
        aud: grant.client_id.clone(),
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        jti: jti.clone(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
        auth_time: grant.auth_time.map(|t| t.timestamp()),
    };
    let token = sign(&signer, ACCESS_TOKEN_TYP, &claims)?;
    let row = access_tokens::ActiveModel {
        jti: Set(jti.clone()),
        client_id: Set(grant.client_id),
        user_id: Set(grant.user_id),
        scope: Set(grant.scope),
        code_hash: Set(grant.code_hash),
        refresh_family_id: Set(grant.refresh_family_id),
        expires_at: Set(expires_at),
        revoked: Set(false),
        created_at: Set(now),
    };
    Ok((IssuedAccess { token, jti, expires_at, expires_in: ttl }, row))
}

/// What an ID token is issued for.
pub struct IdTokenInput<'a> {
    pub client_id: &'a str,
    pub user: &'a users::Model,
    pub scope: &'a str,
    pub auth_time: DateTime<Utc>,
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for `at_hash`.
    pub access_token: &'a str,
}

/// OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The profile and email claims a scope set releases about a user (ID token and userinfo).
pub fn user_claims(user: &users::Model, scope: &str, out: &mut Map<String, Value>) {
    let has = |s: &str| scope.split_ascii_whitespace().any(|x| x == s);
    if has("profile") {
        out.insert("name".into(), json!(user.display_name.clone().unwrap_or_else(|| user.username.clone())));
        out.insert("preferred_username".into(), json!(user.username));
        out.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    }
    if has("email")
        && let Some(email) = &user.email
    {
        out.insert("email".into(), json!(email));
        out.insert("email_verified".into(), json!(user.email_verified));
    }
}

/// Signs an OpenID Connect ID token (OIDC Core §2), always with RS256.
pub fn issue_id_token(state: &AppState, input: IdTokenInput<'_>) -> Result<String, OAuthError> {
    let signer = state.ring.signer("RS256").ok_or_else(|| no_signer("RS256"))?;
    let now = state.clock.now().timestamp();
    let ttl = i64::try_from(state.settings.id_token_ttl.as_secs()).unwrap_or(3600);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(&*state.issuer));
    claims.insert("sub".into(), json!(input.user.id));
    claims.insert("aud".into(), json!([input.client_id]));
    claims.insert("azp".into(), json!(input.client_id));
    claims.insert("exp".into(), json!(now + ttl));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(input.auth_time.timestamp()));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("at_hash".into(), json!(at_hash(input.access_token)));
    user_claims(input.user, input.scope, &mut claims);
    sign(&signer, "JWT", &Value::Object(claims))
}

/// Verifies an access token: signature by its `kid` (algorithm bound to the key), `typ` at+jwt,
/// issuer, expiry (by `state.clock`) and the cluster revocation set. Every failure is
/// `invalid_token` with a Bearer challenge.
pub fn verify_access_token(state: &AppState, token: &str) -> Result<AccessClaims, OAuthError> {
    let bad = || OAuthError::invalid_token("the access token is invalid");
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad())?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
    if !typ_ok {
        return Err(bad());
    }
    let kid = header.kid.ok_or_else(bad)?;
    let verifier = state.ring.verifier(&kid).ok_or_else(bad)?;
    if header.alg != verifier.alg {
        return Err(bad());
    }
    // header.payload.signature, exactly three parts; the signature covers the first two as sent.
    let (input, signature) = token.rsplit_once('.').ok_or_else(bad)?;
    let (_, payload) = input.split_once('.').ok_or_else(bad)?;
    if payload.contains('.') {
        return Err(bad());
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad())?;
    if !verifier.verify(input.as_bytes(), &signature) {
        return Err(bad());
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    let claims: AccessClaims = serde_json::from_slice(&payload).map_err(|_| bad())?;
    if claims.iss != *state.issuer {
        return Err(bad());
    }
    if claims.exp <= state.clock.now().timestamp() {
        return Err(OAuthError::invalid_token("the access token has expired"));
    }
    let cluster = state.ring.cluster();
    if cluster.is_revoked(&claims.jti) || cluster.is_revoked(&client_revocation(&claims.client_id)) {
        return Err(OAuthError::invalid_token("the access token has been revoked"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_left_half_of_sha256() {
        // OIDC Core example token from §A.3 style: 16 bytes -> 22 base64url characters.
        let h = at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(h.len(), 22);
        assert_eq!(h, "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
