//! Validation of an authorization request as an ordered list of small named checks
//! (node-oidc-provider style).
//!
//! The first two — the client exists and is active, the redirect URI is registered for it — decide
//! whether errors may be sent to the redirect URI at all: until both pass, an error is shown as a
//! page and never redirected (RFC 9700 §4.1: no open redirector). Every later check reports its
//! error to the client's redirect URI with `state` and `iss`.

use super::request::Params;
use crate::clients::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: std::sync::Arc<Client>,
    pub redirect_uri: String,
    /// Requested scopes, de-duplicated, in request order.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    /// Seconds.
    pub max_age: Option<i64>,
    /// The parameters as received, to resume the request after login or consent.
    pub params: Params,
}

impl AuthorizeRequest {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// The OIDC `prompt` values Tessera acts on (`select_account` is accepted and ignored: one account
/// per browser session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Why a request was refused, and where the answer may go.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// Shown to the user as an HTML page; never redirected.
    Page(OAuthError),
    /// Sent to the (validated) redirect URI.
    Redirect { redirect_uri: String, state: Option<String>, error: OAuthError },
}

impl Rejection {
    /// The same error for a request that has already been validated.
    pub fn to_client(req: &AuthorizeRequest, error: OAuthError) -> Rejection {
        Rejection::Redirect { redirect_uri: req.redirect_uri.clone(), state: req.state.clone(), error }
    }
}

/// What the later checks read and fill in.
struct Ctx<'a> {
    params: &'a Params,
    client: &'a Client,
    scopes: Vec<String>,
    code_challenge: String,
    prompt: Prompt,
    max_age: Option<i64>,
}

type Check = fn(&mut Ctx) -> Result<(), OAuthError>;

/// The checks after the client and redirect URI are known, in the order they run.
const CHECKS: &[(&str, Check)] = &[
    ("no_repeated_parameters", no_repeated_parameters),
    ("no_request_objects", no_request_objects),
    ("response_type_is_code", response_type_is_code),
    ("response_mode_is_query", response_mode_is_query),
    ("client_may_use_code", client_may_use_code),
    ("pkce_s256_required", pkce_s256_required),
    ("scopes_allowed", scopes_allowed),
    ("prompt_understood", prompt_understood),
    ("max_age_is_a_number", max_age_is_a_number),
    ("sizes_bounded", sizes_bounded),
];

fn invalid(d: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(d)
}

/// Runs every check; on success returns the validated request.
pub async fn validate(state: &AppState, params: Params) -> Result<AuthorizeRequest, Rejection> {
    let client = client_is_known_and_active(state, &params).await?;
    let redirect_uri = redirect_uri_is_registered(&client, &params)?;
    let mut ctx = Ctx { params: &params, client: &client, scopes: vec![], code_challenge: String::new(), prompt: Prompt::default(), max_age: None };
    for (name, check) in CHECKS {
        if let Err(error) = check(&mut ctx) {
            tracing::debug!(check = name, error = error.code.as_str(), "authorization request refused");
            return Err(Rejection::Redirect { redirect_uri, state: params.get("state").map(str::to_string), error });
        }
    }
    let (scopes, code_challenge, prompt, max_age) = (ctx.scopes, ctx.code_challenge, ctx.prompt, ctx.max_age);
    Ok(AuthorizeRequest {
        state: params.get("state").map(str::to_string),
        nonce: params.get("nonce").map(str::to_string),
        client,
        redirect_uri,
        scopes,
        code_challenge,
        prompt,
        max_age,
        params,
    })
}

async fn client_is_known_and_active(state: &AppState, params: &Params) -> Result<std::sync::Arc<Client>, Rejection> {
    let page = |d: &str| Rejection::Page(invalid(d));
    if params.is_repeated("client_id") {
        return Err(page("client_id is repeated"));
    }
    let client_id = params.get("client_id").ok_or_else(|| page("client_id is missing"))?;
    match state.clients.find(&state.db, client_id).await {
        Ok(Some(c)) if c.is_active => Ok(c),
        Ok(_) => Err(Rejection::Page(invalid("unknown or inactive client"))),
        Err(e) => Err(Rejection::Page(e.into())),
    }
}

fn redirect_uri_is_registered(client: &Client, params: &Params) -> Result<String, Rejection> {
    let page = |d: &str| Rejection::Page(invalid(d));
    if params.is_repeated("redirect_uri") {
        return Err(page("redirect_uri is repeated"));
    }
    let uri = params.get("redirect_uri").ok_or_else(|| page("redirect_uri is missing"))?;
    if !client.redirect_uri_allowed(uri) {
        return Err(page("redirect_uri is not registered for this client"));
    }
    Ok(uri.to_string())
}

fn no_repeated_parameters(c: &mut Ctx) -> Result<(), OAuthError> {
    match c.params.repeated().first() {
        Some(name) => Err(invalid(format!("parameter {name} is repeated"))),
        None => Ok(()),
    }
}

fn no_request_objects(c: &mut Ctx) -> Result<(), OAuthError> {
    if c.params.get("request").is_some() || c.params.get("request_uri").is_some() {
        return Err(invalid("request objects (request, request_uri) are not supported"));
    }
    Ok(())
}

fn response_type_is_code(c: &mut Ctx) -> Result<(), OAuthError> {
    match c.params.get("response_type") {
        None => Err(invalid("response_type is missing")),
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported")),
    }
}

fn response_mode_is_query(c: &mut Ctx) -> Result<(), OAuthError> {
    match c.params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(invalid("only response_mode=query is supported")),
    }
}

fn client_may_use_code(c: &mut Ctx) -> Result<(), OAuthError> {
    if c.client.allows_grant("authorization_code") {
        Ok(())
    } else {
        Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use the authorization code grant"))
    }
}

fn pkce_s256_required(c: &mut Ctx) -> Result<(), OAuthError> {
    let challenge = c.params.get("code_challenge").ok_or_else(|| invalid("code_challenge is required (PKCE)"))?;
    match c.params.get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") => return Err(invalid("code_challenge_method=plain is not allowed; use S256")),
        Some(_) => return Err(invalid("code_challenge_method must be S256")),
        None => return Err(invalid("code_challenge_method is required and must be S256")),
    }
    // RFC 7636 §4.2: the challenge has the verifier's syntax (43-128 unreserved characters).
    if !crate::oauth::pkce::verifier_is_well_formed(challenge) {
        return Err(invalid("code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~"));
    }
    c.code_challenge = challenge.to_string();
    Ok(())
}

fn scopes_allowed(c: &mut Ctx) -> Result<(), OAuthError> {
    let raw = c.params.get("scope").ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "scope is required"))?;
    let mut scopes: Vec<String> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !c.client.allows_scope(s) {
            return Err(OAuthError::new(ErrorCode::InvalidScope, format!("scope {s:?} is not allowed for this client")));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    if scopes.is_empty() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is required"));
    }
    c.scopes = scopes;
    Ok(())
}

fn prompt_understood(c: &mut Ctx) -> Result<(), OAuthError> {
    let mut p = Prompt::default();
    let values: Vec<&str> = c.params.get("prompt").unwrap_or("").split(' ').filter(|v| !v.is_empty()).collect();
    for v in &values {
        match *v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => {}
            other => return Err(invalid(format!("unsupported prompt value {other:?}"))),
        }
    }
    if p.none && values.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    c.prompt = p;
    Ok(())
}

fn max_age_is_a_number(c: &mut Ctx) -> Result<(), OAuthError> {
    if let Some(v) = c.params.get("max_age") {
        let n: i64 = v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| invalid("max_age must be a non-negative integer"))?;
        if n == 0 {
            // OIDC Core §3.1.2.1: max_age=0 asks for a fresh authentication, like prompt=login.
            c.prompt.login = true;
        }
        c.max_age = Some(n);
    }
    Ok(())
}

fn sizes_bounded(c: &mut Ctx) -> Result<(), OAuthError> {
    for (name, max) in [("state", 2048), ("nonce", 512), ("scope", 2048)] {
        if c.params.get(name).is_some_and(|v| v.len() > max) {
            return Err(invalid(format!("{name} is longer than {max} characters")));
        }
    }
    Ok(())
}
