//! Browser-style helpers for the authorization flow: register a client, create a user, drive
//! GET authorize → login form → POST → consent → POST approve and return the code. The token-side
//! tests and the relying-party tests reuse [`login_and_get_code`].

#![allow(dead_code)]

use super::TestServer;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tessera::clients::{Client, NewClient, register};
use tessera::users::{NewUser, create_user};

/// A strong password every test account uses unless it says otherwise.
pub const PASSWORD: &str = "Correct-Horse-9";
/// The default redirect URI of test clients.
pub const REDIRECT_URI: &str = "https://rp.example/callback";

/// A PKCE pair (RFC 7636, S256).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = tessera_actors::crypto::random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

/// How to register a test client; `Default` is a confidential web client needing consent.
#[derive(Debug, Clone)]
pub struct ClientOpts {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub require_consent: bool,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            name: "Test RP".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec!["https://rp.example/signed-out".into()],
            public: false,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: ["openid", "profile", "email", "offline_access"].iter().map(|s| s.to_string()).collect(),
            require_consent: true,
        }
    }
}

/// Registers a client; returns it and its secret (confidential clients).
pub async fn client_with(srv: &TestServer, o: ClientOpts) -> (Client, Option<String>) {
    let new = NewClient {
        name: o.name,
        redirect_uris: o.redirect_uris,
        post_logout_redirect_uris: o.post_logout_redirect_uris,
        public: o.public,
        grant_types: o.grant_types,
        scopes: o.scopes,
        require_consent: o.require_consent,
    };
    register(&srv.state.db, &srv.state.pepper, new).await.expect("register client")
}

pub async fn default_client(srv: &TestServer) -> Client {
    client_with(srv, ClientOpts::default()).await.0
}

/// A user account and its password.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub password: String,
}

pub async fn account(srv: &TestServer, username: &str) -> Account {
    let new = NewUser {
        username: username.into(),
        email: Some(format!("{username}@example.com")),
        password: PASSWORD.into(),
        display_name: Some(format!("User {username}")),
        ..NewUser::default()
    };
    let u = create_user(&srv.state.db, new).await.expect("create user");
    Account { id: u.id, username: u.username, password: PASSWORD.into() }
}

/// The authorization request URL (path and query) for `client`.
pub fn authorize_path(client: &Client, scope: &str, state: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", &client.redirect_uris[0])
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/api/v2/oauth/authorize?{}", q.finish())
}

/// Reverses askama's HTML escaping of attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"").replace("&#39;", "'").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&")
}

/// The value of the form input named `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_else(|| panic!("no Location on {} response", res.status()))
}

/// Absolute URL for a Location that may be a local path.
pub fn absolute(srv: &TestServer, loc: &str) -> String {
    if loc.starts_with('/') { srv.url(loc) } else { loc.to_string() }
}

/// A query parameter of an absolute URL.
pub fn query_param(u: &str, name: &str) -> Option<String> {
    url::Url::parse(u).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Fetches the login page at `login_location` and submits `username`/`password`; returns the POST response.
pub async fn submit_login(srv: &TestServer, http: &reqwest::Client, login_location: &str, username: &str, password: &str) -> reqwest::Response {
    let page = http.get(absolute(srv, login_location)).send().await.unwrap();
    assert_eq!(page.status(), 200, "login page");
    let html = page.text().await.unwrap();
    let csrf = input_value(&html, "csrf_token").expect("csrf field on the login form");
    let return_to = input_value(&html, "return_to").unwrap_or_default();
    http.post(srv.url("/login"))
        .form(&[("username", username), ("password", password), ("csrf_token", &csrf), ("return_to", &return_to)])
        .send()
        .await
        .unwrap()
}

/// Fetches the consent page at `consent_location` and submits `decision`; returns (page HTML, POST response).
pub async fn submit_consent(srv: &TestServer, http: &reqwest::Client, consent_location: &str, decision: &str) -> (String, reqwest::Response) {
    let page = http.get(absolute(srv, consent_location)).send().await.unwrap();
    assert_eq!(page.status(), 200, "consent page");
    let html = page.text().await.unwrap();
    let csrf = input_value(&html, "csrf_token").expect("csrf field on the consent form");
    let request = input_value(&html, "request").expect("request field on the consent form");
    let res = http
        .post(srv.url("/oauth/consent"))
        .form(&[("csrf_token", csrf.as_str()), ("request", request.as_str()), ("decision", decision)])
        .send()
        .await
        .unwrap();
    (html, res)
}

/// What the client received on its redirect URI.
#[derive(Debug, Clone)]
pub struct CodeFlow {
    pub code: String,
    pub state: String,
    pub iss: String,
    pub verifier: String,
    pub redirect_uri: String,
    /// The browser (its cookie jar holds the session).
    pub http: reqwest::Client,
}

/// Drives the browser flow from the authorization request to the code: GET authorize → login form
/// → POST → (consent page → approve, when asked) → 302 to the redirect URI. Panics on any deviation.
pub async fn login_and_get_code(srv: &TestServer, client: &Client, scope: &str, user: &Account) -> CodeFlow {
    let http = super::client();
    code_with(srv, &http, client, scope, user, &[]).await
}

/// [`login_and_get_code`] with a given browser and extra authorization parameters (e.g. `nonce`).
pub async fn code_with(srv: &TestServer, http: &reqwest::Client, client: &Client, scope: &str, user: &Account, extra: &[(&str, &str)]) -> CodeFlow {
    let p = pkce();
    let state = tessera_actors::crypto::random_token(8);
    let mut res = http.get(srv.url(&authorize_path(client, scope, &state, &p.challenge, extra))).send().await.unwrap();
    for _hop in 0..6 {
        assert!(res.status().is_redirection(), "expected a redirect, got {}: {}", res.status(), res.text().await.unwrap_or_default());
        let loc = location(&res);
        if loc.starts_with("/login?") {
            res = submit_login(srv, http, &loc, &user.username, &user.password).await;
        } else if loc.starts_with("/oauth/consent?") {
            res = submit_consent(srv, http, &loc, "approve").await.1;
        } else if loc.starts_with("/api/v2/oauth/authorize") {
            res = http.get(srv.url(&loc)).send().await.unwrap();
        } else {
            assert!(loc.starts_with(&client.redirect_uris[0]), "unexpected redirect {loc}");
            let code = query_param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"));
            assert_eq!(query_param(&loc, "state").as_deref(), Some(state.as_str()));
            let iss = query_param(&loc, "iss").expect("iss");
            return CodeFlow { code, state, iss, verifier: p.verifier, redirect_uri: client.redirect_uris[0].clone(), http: http.clone() };
        }
    }
    panic!("too many redirects");
}
