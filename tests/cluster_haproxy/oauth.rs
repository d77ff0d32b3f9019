//! OAuth plumbing for the cluster tests, all over real HTTP: clients and users registered with the
//! `tessera` CLI against the shared database, a browser that walks the code flow through HAProxy
//! and notes which node served every hop, and small token/introspection/userinfo calls.

use crate::common::cluster::TestCluster;
use crate::common::flow::{input_value, pkce, query_param};
use base64::Engine;
use serde_json::Value;
use std::time::Duration;

pub const PASSWORD: &str = "Correct-Horse-9-cluster";
pub const REDIRECT_URI: &str = "https://rp.example/callback";

/// A registered confidential client.
#[derive(Clone, Debug)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

fn creds(out: &std::process::Output) -> Creds {
    let v: Value = serde_json::from_slice(&out.stdout).expect("client create --json");
    Creds { id: v["client_id"].as_str().expect("client_id").into(), secret: v["client_secret"].as_str().expect("client_secret").into() }
}

/// A machine client (client_credentials, scope `api`).
pub async fn worker_client(c: &TestCluster, name: &str) -> Creds {
    creds(&c.tool(&["client", "create", "--name", name, "--grant-type", "client_credentials", "--scope", "api", "--json"], None).await)
}

/// A web client (authorization_code + refresh_token, OIDC scopes, consent required).
pub async fn web_client(c: &TestCluster) -> Creds {
    creds(&c.tool(&["client", "create", "--name", "cluster rp", "--redirect-uri", REDIRECT_URI, "--json"], None).await)
}

/// Creates a user with [`PASSWORD`].
pub async fn user(c: &TestCluster, username: &str) {
    c.tool(&["user", "create", "--username", username, "--email", &format!("{username}@example.com"), "--password-stdin"], Some(&format!("{PASSWORD}\n"))).await;
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Where the browser connects from (another loopback address than HAProxy's own), so the
/// address the nodes record proves they took it from HAProxy's `X-Forwarded-For`.
pub const BROWSER_IP: &str = "127.0.0.2";
/// What the browser claims in its own `X-Forwarded-For`; HAProxy must drop it.
pub const SPOOFED_IP: &str = "203.0.113.9";

/// The browser: cookies, no redirects, a spoofed `X-Forwarded-For`, connecting from [`BROWSER_IP`].
fn browser() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", reqwest::header::HeaderValue::from_static(SPOOFED_IP));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .local_address(BROWSER_IP.parse::<std::net::IpAddr>().ok())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("browser")
}

/// The node that answered (`X-Tessera-Node`).
pub fn node_of(res: &reqwest::Response) -> String {
    res.headers().get("x-tessera-node").and_then(|v| v.to_str().ok()).unwrap_or("?").to_string()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no Location on {}", res.status())).to_string()
}

/// Tokens from a completed code flow.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub id_token: String,
}

/// Which node served each hop of a flow: (step, hop, node).
pub type Hops = Vec<(&'static str, &'static str, String)>;

/// Walks the whole authorization-code flow through HAProxy as a browser and an RP would:
/// authorize → login page → login → (RP refreshes discovery) → authorize again → consent page →
/// approve → token → userinfo → refresh. Returns the tokens after the refresh and every hop.
pub async fn code_flow(c: &TestCluster, rp: &Creds, username: &str) -> (Tokens, Hops) {
    let browser = browser();
    let mut hops: Hops = Vec::new();
    let p = pkce();
    let state = tessera_actors::crypto::random_token(8);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &rp.id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", &state)
        .append_pair("nonce", "n-0S6_WzA2Mj")
        .append_pair("code_challenge", &p.challenge)
        .append_pair("code_challenge_method", "S256");
    let res = browser.get(c.lb(&format!("/api/v2/oauth/authorize?{}", q.finish()))).send().await.expect("authorize");
    hops.push(("authorize", "GET authorize", node_of(&res)));
    assert_eq!(res.status(), 302, "authorize");
    let login_at = location(&res);
    assert!(login_at.starts_with("/login?"), "authorize should ask for a login: {login_at}");

    let res = browser.get(c.lb(&login_at)).send().await.expect("login page");
    hops.push(("login", "GET login page", node_of(&res)));
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("login html");
    let csrf = input_value(&html, "csrf_token").expect("csrf_token");
    let return_to = input_value(&html, "return_to").unwrap_or_default();
    let res = browser
        .post(c.lb("/login"))
        .form(&[("username", username), ("password", PASSWORD), ("csrf_token", &csrf), ("return_to", &return_to)])
        .send()
        .await
        .expect("login");
    hops.push(("login", "POST login", node_of(&res)));
    assert_eq!(res.status(), 303, "login accepted");
    let back = location(&res);

    // The relying party refreshes its discovery document meanwhile (ordinary traffic).
    let res = http().get(c.lb("/.well-known/openid-configuration")).send().await.expect("discovery");
    hops.push(("rp", "GET discovery", node_of(&res)));
    assert_eq!(res.status(), 200);

    let res = browser.get(c.lb(&back)).send().await.expect("authorize resumed");
    hops.push(("consent", "GET authorize (resumed)", node_of(&res)));
    assert_eq!(res.status(), 302);
    let consent_at = location(&res);
    assert!(consent_at.starts_with("/oauth/consent?"), "consent expected: {consent_at}");
    let res = browser.get(c.lb(&consent_at)).send().await.expect("consent page");
    hops.push(("consent", "GET consent page", node_of(&res)));
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("consent html");
    let csrf = input_value(&html, "csrf_token").expect("csrf_token");
    let request = input_value(&html, "request").expect("request");
    let res = browser
        .post(c.lb("/oauth/consent"))
        .form(&[("csrf_token", csrf.as_str()), ("request", request.as_str()), ("decision", "approve")])
        .send()
        .await
        .expect("consent");
    hops.push(("consent", "POST consent", node_of(&res)));
    assert!(res.status().is_redirection(), "consent answered {}", res.status());
    let cb = location(&res);
    assert!(cb.starts_with(REDIRECT_URI), "back to the client: {cb}");
    assert_eq!(query_param(&cb, "state").as_deref(), Some(state.as_str()));
    assert_eq!(query_param(&cb, "iss").as_deref(), Some(c.issuer().as_str()), "iss is the shared issuer");
    let code = query_param(&cb, "code").expect("code");

    let res = http()
        .post(c.lb("/api/v2/oauth/token"))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("code_verifier", &p.verifier)])
        .send()
        .await
        .expect("token");
    hops.push(("token", "POST token (code)", node_of(&res)));
    assert_eq!(res.status(), 200, "code redeemed");
    let t: Value = res.json().await.expect("token json");
    let access = t["access_token"].as_str().expect("access_token").to_string();
    let refresh = t["refresh_token"].as_str().expect("refresh_token").to_string();
    assert!(t["id_token"].is_string(), "{t}");

    let res = http().get(c.lb("/api/v2/oauth/userinfo")).bearer_auth(&access).send().await.expect("userinfo");
    hops.push(("userinfo", "GET userinfo", node_of(&res)));
    assert_eq!(res.status(), 200, "userinfo");
    let info: Value = res.json().await.expect("userinfo json");
    assert_eq!(info["email"], format!("{username}@example.com"), "{info}");

    let res = http()
        .post(c.lb("/api/v2/oauth/token"))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .expect("refresh");
    hops.push(("refresh", "POST token (refresh)", node_of(&res)));
    assert_eq!(res.status(), 200, "refresh");
    let t: Value = res.json().await.expect("refresh json");
    let tokens = Tokens {
        access_token: t["access_token"].as_str().expect("access_token").into(),
        refresh_token: t["refresh_token"].as_str().expect("refresh_token").into(),
        id_token: t["id_token"].as_str().unwrap_or_default().into(),
    };
    (tokens, hops)
}

/// A refresh through `base` (a node or HAProxy): the new tokens.
pub async fn refresh(base: &str, rp: &Creds, refresh_token: &str) -> Tokens {
    let res = http()
        .post(format!("{base}/api/v2/oauth/token"))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), 200, "refresh");
    let t: Value = res.json().await.expect("refresh json");
    Tokens {
        access_token: t["access_token"].as_str().expect("access_token").into(),
        refresh_token: t["refresh_token"].as_str().expect("refresh_token").into(),
        id_token: t["id_token"].as_str().unwrap_or_default().into(),
    }
}

/// A client_credentials access token from `base`, or the failure as text.
pub async fn client_token(http: &reqwest::Client, base: &str, w: &Creds) -> Result<String, String> {
    let res = http
        .post(format!("{base}/api/v2/oauth/token"))
        .basic_auth(&w.id, Some(&w.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| format!("{status}: {e}"))?;
    match body["access_token"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => Err(format!("{status}: {body}")),
    }
}

/// Revokes `token` at `base`: the HTTP status and error code (if any).
pub async fn revoke(http: &reqwest::Client, base: &str, w: &Creds, token: &str) -> Result<(u16, String), String> {
    let res = http
        .post(format!("{base}/api/v2/oauth/revoke"))
        .basic_auth(&w.id, Some(&w.secret))
        .form(&[("token", token)])
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or_default();
    Ok((status, code))
}

/// Introspection at `base`: the `active` member.
pub async fn is_active(http: &reqwest::Client, base: &str, w: &Creds, token: &str) -> bool {
    let res = http
        .post(format!("{base}/api/v2/oauth/introspect"))
        .basic_auth(&w.id, Some(&w.secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    assert_eq!(res.status(), 200, "introspection answers");
    let v: Value = res.json().await.expect("introspect json");
    v["active"].as_bool().expect("active")
}

/// The status of `GET userinfo` with `token` at `base`. For a token without `openid` the answer
/// tells the node's revocation set apart from everything else: 401 `invalid_token` when the
/// replicated set holds it, 403 `insufficient_scope` when it does not.
pub async fn userinfo_status(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/v2/oauth/userinfo")).bearer_auth(token).send().await.expect("userinfo").status().as_u16()
}

/// The `jti` claim of a JWT (not verified).
pub fn jti(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("jwt payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("claims");
    v["jti"].as_str().expect("jti").to_string()
}
