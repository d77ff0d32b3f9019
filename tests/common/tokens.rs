//! Helpers for the token-side tests: users and clients written directly, codes issued through
//! the codes actor (no browser pages needed), PKCE pairs, and token-endpoint requests.

#![allow(dead_code)]

use crate::common::{TestServer, client};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera::clients::{self, NewClient};
use tessera_actors::codes::{CodeGrant, IssueCode};
use tessera_entity::users;

pub const REDIRECT: &str = "https://app.example/cb";

/// Inserts an active user, stamped by the server clock (the password hash is never checked on this
/// side). The admin tests' `create_user` builds on it.
pub async fn create_user(srv: &TestServer, username: &str) -> users::Model {
    let now = srv.state.clock.now();
    let m = users::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        username: Set(username.into()),
        email: Set(Some(format!("{username}@example.test"))),
        display_name: Set(Some(format!("{username} Example"))),
        password_hash: Set("$argon2id$unused".into()),
        is_active: Set(true),
        must_change_password: Set(false),
        email_verified: Set(true),
        failed_login_count: Set(0),
        locked_until: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    users::Entity::insert(m).exec_with_returning(&srv.state.db).await.expect("insert user")
}

/// A registered client and its secret (None for public clients).
#[derive(Clone)]
pub struct TestClient {
    pub client_id: String,
    pub secret: Option<String>,
}

pub async fn register(srv: &TestServer, public: bool, grants: &[&str], scopes: &[&str]) -> TestClient {
    let new = NewClient {
        name: "test app".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        public,
        grant_types: grants.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        require_consent: false,
    };
    let (c, secret) = clients::register(&srv.state.db, &srv.state.pepper, new).await.expect("register client");
    TestClient { client_id: c.client_id, secret }
}

/// A confidential client with the default grants and scopes plus `groups`.
pub async fn confidential(srv: &TestServer) -> TestClient {
    register(srv, false, &["authorization_code", "refresh_token"], &["openid", "profile", "email", "offline_access", "groups"]).await
}

/// `(verifier, S256 challenge)`.
pub fn pkce_pair() -> (String, String) {
    let verifier = tessera_actors::crypto::random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Issues a code as the authorization endpoint would; returns `(code, verifier)`.
pub async fn issue_code(srv: &TestServer, c: &TestClient, user: &users::Model, scope: &str, nonce: Option<&str>) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let grant = CodeGrant {
        code_hash: String::new(),
        client_id: c.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: REDIRECT.into(),
        scope: scope.into(),
        code_challenge: challenge,
        code_challenge_method: "S256".into(),
        nonce: nonce.map(str::to_string),
        auth_time: srv.state.clock.now(),
        session_id: None,
    };
    let code = srv.state.codes.send(IssueCode(grant)).await.expect("codes actor");
    (code, verifier)
}

pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

/// POSTs a form to `path`, authenticating `c` with HTTP Basic (confidential) or `client_id` (public).
pub async fn post_as(srv: &TestServer, path: &str, c: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut req = client().post(srv.url(path));
    match &c.secret {
        Some(s) => req = req.header("authorization", basic(&c.client_id, s)),
        None => form.push(("client_id", &c.client_id)),
    }
    req.form(&form).send().await.expect("request")
}

pub async fn token(srv: &TestServer, c: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    post_as(srv, "/api/v2/oauth/token", c, form).await
}

pub async fn redeem(srv: &TestServer, c: &TestClient, code: &str, verifier: &str) -> reqwest::Response {
    token(srv, c, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)]).await
}

/// The whole code flow for `scope`: a successful token response body.
pub async fn tokens_for(srv: &TestServer, c: &TestClient, user: &users::Model, scope: &str) -> Value {
    let (code, verifier) = issue_code(srv, c, user, scope, Some("n-0S6_WzA2Mj")).await;
    let res = redeem(srv, c, &code, &verifier).await;
    assert_eq!(res.status(), 200, "code redemption failed");
    res.json().await.expect("token json")
}

pub async fn refresh(srv: &TestServer, c: &TestClient, refresh_token: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token(srv, c, &form).await
}

pub async fn introspect(srv: &TestServer, c: &TestClient, token: &str) -> Value {
    let res = post_as(srv, "/api/v2/oauth/introspect", c, &[("token", token)]).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("introspection json")
}

pub async fn userinfo(srv: &TestServer, access_token: &str) -> reqwest::Response {
    client().get(srv.url("/api/v2/oauth/userinfo")).bearer_auth(access_token).send().await.expect("userinfo")
}

/// Asserts an RFC 6749 §5.2 error body with `status` and `error`.
pub async fn expect_error(res: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ctype.starts_with("application/json"), "JSON error body, got {ctype}");
    let body: Value = res.json().await.expect("json error");
    assert_eq!(body["error"], error, "{body}");
    body
}

/// Decodes a JWT's header and claims without verifying (tests verify separately).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut part = || -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().expect("jwt part")).expect("b64")).expect("json") };
    let h = part();
    let c = part();
    (h, c)
}
