//! Client authentication (RFC 6749 §2.3) for the token, introspection and revocation endpoints,
//! and the form body those endpoints share.
//!
//! Methods: `client_secret_basic` (HTTP Basic with form-urlencoded id and secret, §2.3.1),
//! `client_secret_post` (id and secret in the body) and `none` (a public client names itself with
//! `client_id`). Using two methods at once is `invalid_request`; every failure to authenticate is
//! `invalid_client` (401, with a `Basic` challenge when Basic was tried) and is audited before the
//! answer. Secrets are compared in constant time by `Client::secret_matches`.

use super::error::OAuthError;
use crate::clients::Client;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use futures::StreamExt;
use serde_json::json;
use std::collections::BTreeMap;
use tessera_actors::audit::{AuditEvent, Severity};

/// The largest form body the token-side endpoints read.
pub const MAX_BODY: usize = 16 * 1024;

/// A parsed `application/x-www-form-urlencoded` body: each name at most once; a parameter sent
/// without a value counts as omitted (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses a raw body; a repeated parameter is `invalid_request` (RFC 6749 §3.1).
    pub fn parse(raw: &[u8]) -> Result<Params, OAuthError> {
        let mut map = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if !seen.insert(k.to_string()) {
                return Err(OAuthError::invalid_request(format!("parameter {k:?} is repeated")));
            }
            if !v.is_empty() {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name:?}")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Reads a form body: `application/x-www-form-urlencoded` only, at most [`MAX_BODY`] bytes.
/// Wrong type, oversized or unreadable bodies are `invalid_request`, never a panic or a 413.
pub async fn read_form(req: &HttpRequest, mut payload: web::Payload) -> Result<Params, OAuthError> {
    if !crate::http::form::is_urlencoded(req) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(OAuthError::invalid_request(format!("the body exceeds {MAX_BODY} bytes")));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(OAuthError::invalid_request(format!("the body exceeds {MAX_BODY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Params::parse(&body)
}

/// How a client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client that only named itself.
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
        }
    }
}

/// A client whose identity the request has proven (or, for a public client, asserted).
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// Shared with the client cache (not copied per request).
    pub client: std::sync::Arc<Client>,
    pub method: AuthMethod,
}

impl AuthenticatedClient {
    /// True when the client proved possession of a secret.
    pub fn is_confidential(&self) -> bool {
        self.method != AuthMethod::None && !self.client.is_public
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, `%XX` a byte).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `Some((id, secret))` when the request carries HTTP Basic credentials.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::invalid_client("malformed HTTP Basic credentials", true);
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request("the token endpoint accepts only HTTP Basic client authentication in the Authorization header"));
    }
    let rest = rest.trim();
    let raw = STANDARD.decode(rest).or_else(|_| STANDARD_NO_PAD.decode(rest)).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    Ok(Some((form_decode(id).ok_or_else(bad)?, form_decode(secret).ok_or_else(bad)?)))
}

/// Audits a failed authentication (committed before the answer) and builds the error.
async fn refuse(state: &AppState, req: &HttpRequest, client_id: Option<&str>, method: AuthMethod, reason: &'static str) -> OAuthError {
    let (ip, ua) = crate::http::client_ip::origin(state, req).into();
    let remote_addr = ip.clone().unwrap_or_default();
    let mut ev = AuditEvent::new("CLIENT_AUTH_FAILED", Severity::Warning, state.clock.now())
        .details(json!({ "method": method.as_str(), "reason": reason, "endpoint": req.path() }))
        .origin(ip, ua);
    if let Some(id) = client_id {
        ev = ev.client(id.chars().take(128).collect::<String>());
    }
    match state.audit.record_and_wait(ev).await {
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "audit of a failed client authentication not committed"),
    }
    tracing::warn!(target: "tessera::auth", error = "invalid_client", remote_addr = %remote_addr, reason, method = method.as_str(), "client authentication failed");
    OAuthError::invalid_client(reason, method == AuthMethod::ClientSecretBasic)
}

/// Authenticates the client of a token-side request.
pub async fn authenticate(state: &AppState, req: &HttpRequest, params: &Params) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(req)?;
    let (client_id, secret, method) = match basic {
        Some((id, secret)) => {
            if params.contains("client_secret") {
                return Err(OAuthError::invalid_request("use one client authentication method, not both Basic and client_secret"));
            }
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"));
            }
            (id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        None => match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), Some(secret)) => (id.to_string(), Some(secret.to_string()), AuthMethod::ClientSecretPost),
            (Some(id), None) => (id.to_string(), None, AuthMethod::None),
            (None, Some(_)) => return Err(OAuthError::invalid_request("client_secret without client_id")),
            (None, None) => return Err(refuse(state, req, None, AuthMethod::None, "client authentication is required").await),
        },
    };
    let Some(client) = state.clients.find(&state.db, &client_id).await? else {
        return Err(refuse(state, req, Some(&client_id), method, "unknown client").await);
    };
    if !client.is_active {
        return Err(refuse(state, req, Some(&client_id), method, "the client is disabled").await);
    }
    match (&secret, client.is_public) {
        (Some(s), false) if client.secret_matches(&state.pepper, s) => {}
        (Some(_), false) => return Err(refuse(state, req, Some(&client_id), method, "wrong client secret").await),
        (Some(_), true) => return Err(refuse(state, req, Some(&client_id), method, "a public client has no secret").await),
        (None, false) => return Err(refuse(state, req, Some(&client_id), method, "this client must authenticate with its secret").await),
        (None, true) => {}
    }
    Ok(AuthenticatedClient { client, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_omitted() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn basic_components_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
