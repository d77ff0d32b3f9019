//! The authorization endpoint and its pages: request validation (what may and may not be
//! redirected), PKCE, CSRF on every form, escaping and frame-busting, prompt/max_age, consent
//! memory and the full browser flow up to the code.

use crate::common::flow::*;
use crate::common::{TestServer, client};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tessera_entity::{audit_logs, authorization_codes, consents};

async fn audit_count(srv: &TestServer, action: &str) -> u64 {
    let _ = srv.state.audit.flush().await;
    audit_logs::Entity::find().filter(audit_logs::Column::Action.eq(action)).count(&srv.state.db).await.unwrap()
}

/// Asserts a redirect to the client carrying `error`, the request's `state` and our `iss`.
fn assert_error_redirect(srv: &TestServer, res: &reqwest::Response, error: &str, state: &str) {
    assert_eq!(res.status(), 302, "expected a redirect to the client");
    let loc = location(res);
    assert!(loc.starts_with(REDIRECT_URI), "{loc}");
    assert_eq!(query_param(&loc, "error").as_deref(), Some(error), "{loc}");
    assert!(query_param(&loc, "error_description").is_some(), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some(state), "{loc}");
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(&*srv.state.issuer), "{loc}");
    assert!(query_param(&loc, "code").is_none());
}

fn assert_error_page(res: &reqwest::Response, status: u16) {
    assert_eq!(res.status(), status);
    assert!(res.headers().get("location").is_none(), "an error page must never redirect");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[actix_web::test]
async fn no_pkce_is_rejected() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let path = authorize_path(&c, "openid", "st1", "x", &[]);
    // Drop both PKCE parameters.
    let path: String = path.split('&').filter(|p| !p.starts_with("code_challenge")).collect::<Vec<_>>().join("&");
    let res = client().get(srv.url(&path)).send().await.unwrap();
    assert_error_redirect(&srv, &res, "invalid_request", "st1");
    assert!(query_param(&location(&res), "error_description").unwrap().contains("code_challenge"));
    srv.stop().await;
}

#[actix_web::test]
async fn plain_pkce_is_rejected() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let verifier = pkce().verifier;
    // plain: the challenge is the verifier itself.
    let plain = authorize_path(&c, "openid", "st2", &verifier, &[]).replace("code_challenge_method=S256", "code_challenge_method=plain");
    let res = client().get(srv.url(&plain)).send().await.unwrap();
    assert_error_redirect(&srv, &res, "invalid_request", "st2");
    // A missing method is not taken to mean plain either.
    let missing = authorize_path(&c, "openid", "st3", &pkce().challenge, &[]).replace("&code_challenge_method=S256", "");
    let res = client().get(srv.url(&missing)).send().await.unwrap();
    assert_error_redirect(&srv, &res, "invalid_request", "st3");
    // A malformed challenge (too short) is refused.
    let res = client().get(srv.url(&authorize_path(&c, "openid", "st4", "short", &[]))).send().await.unwrap();
    assert_error_redirect(&srv, &res, "invalid_request", "st4");
    srv.stop().await;
}

#[actix_web::test]
async fn redirect_uri_mismatch_never_redirects() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let good = authorize_path(&c, "openid", "s", &pkce().challenge, &[]);
    let enc = |u: &str| url::form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>();
    for bad in ["https://evil.example/callback", "https://rp.example/callback/", "https://rp.example/callback?x=1", "https://rp.example/Callback"] {
        let path = good.replace(&enc(REDIRECT_URI), &enc(bad));
        assert_ne!(path, good);
        let res = client().get(srv.url(&path)).send().await.unwrap();
        assert_error_page(&res, 400);
        let body = res.text().await.unwrap();
        assert!(body.contains("redirect_uri"), "{body}");
    }
    // Missing, or repeated, redirect_uri: a page too — even with other errors present.
    let missing = good.replace(&format!("&redirect_uri={}", enc(REDIRECT_URI)), "").replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_error_page(&client().get(srv.url(&missing)).send().await.unwrap(), 400);
    let repeated = format!("{good}&redirect_uri={}", enc("https://evil.example/cb"));
    assert_error_page(&client().get(srv.url(&repeated)).send().await.unwrap(), 400);
    srv.stop().await;
}

#[actix_web::test]
async fn unknown_client_gets_an_error_page() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let path = authorize_path(&c, "openid", "s", &pkce().challenge, &[]).replace(&c.client_id, "tsr_nobody");
    let res = client().get(srv.url(&path)).send().await.unwrap();
    assert_error_page(&res, 400);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let body = res.text().await.unwrap();
    assert!(body.contains("<html") && body.contains("unknown or inactive client"), "{body}");
    // No client_id at all.
    let res = client().get(srv.url("/api/v2/oauth/authorize?response_type=code")).send().await.unwrap();
    assert_error_page(&res, 400);
    srv.stop().await;
}

#[actix_web::test]
async fn request_errors_redirect_with_state_and_iss() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let (no_code_client, _) = client_with(&srv, ClientOpts { grant_types: vec!["client_credentials".into()], ..ClientOpts::default() }).await;
    let ch = pkce().challenge;
    let base = authorize_path(&c, "openid", "s", &ch, &[]);
    let cases: Vec<(String, &str)> = vec![
        (base.replace("response_type=code", "response_type=token"), "unsupported_response_type"),
        (format!("{base}&scope=email"), "invalid_request"),
        (authorize_path(&c, "openid admin", "s", &ch, &[]), "invalid_scope"),
        (authorize_path(&no_code_client, "openid", "s", &ch, &[]), "unauthorized_client"),
        (authorize_path(&c, "openid", "s", &ch, &[("prompt", "none login")]), "invalid_request"),
        (authorize_path(&c, "openid", "s", &ch, &[("max_age", "-1")]), "invalid_request"),
    ];
    for (path, error) in cases {
        let res = client().get(srv.url(&path)).send().await.unwrap();
        assert_error_redirect(&srv, &res, error, "s");
    }
    srv.stop().await;
}

#[actix_web::test]
async fn post_to_authorize_works_like_get() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let path = authorize_path(&c, "openid", "po", &pkce().challenge, &[]);
    let (_, query) = path.split_once('?').unwrap();
    let res = client()
        .post(srv.url("/api/v2/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to_login = location(&res);
    assert!(to_login.starts_with("/login?return_to="), "{to_login}");
    // The pending request travels as a local GET URL.
    let return_to = query_param(&srv.url(&to_login), "return_to").unwrap();
    assert_eq!(return_to, path);
    srv.stop().await;
}

#[actix_web::test]
async fn prompt_none_without_session_is_login_required() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let res = client().get(srv.url(&authorize_path(&c, "openid", "pn", &pkce().challenge, &[("prompt", "none")]))).send().await.unwrap();
    assert_error_redirect(&srv, &res, "login_required", "pn");
    srv.stop().await;
}

#[actix_web::test]
async fn prompt_none_without_consent_is_consent_required() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "carol").await;
    let flow = login_and_get_code(&srv, &c, "openid", &user).await;
    // Signed in, consented to openid only: asking for email silently must fail.
    let res = flow.http.get(srv.url(&authorize_path(&c, "openid email", "pc", &pkce().challenge, &[("prompt", "none")]))).send().await.unwrap();
    assert_error_redirect(&srv, &res, "consent_required", "pc");
    // ...while the consented scope goes through silently.
    let res = flow.http.get(srv.url(&authorize_path(&c, "openid", "ok", &pkce().challenge, &[("prompt", "none")]))).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert!(query_param(&location(&res), "code").is_some());
    srv.stop().await;
}

#[actix_web::test]
async fn full_browser_flow_reaches_the_code_with_state_and_iss() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "alice").await;
    let http = client();
    let p = pkce();
    let start = authorize_path(&c, "openid profile email", "xyz", &p.challenge, &[("nonce", "n-0S6")]);
    let res = http.get(srv.url(&start)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to_login = location(&res);
    assert!(to_login.starts_with("/login?return_to="), "{to_login}");
    let res = submit_login(&srv, &http, &to_login, &user.username, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with("/api/v2/oauth/authorize?"), "{back}");
    let set_cookie: Vec<String> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session_cookie = set_cookie.iter().find(|c| c.starts_with("tessera_session=")).expect("session cookie");
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax") && session_cookie.contains("Path=/"));
    assert!(!session_cookie.contains("Secure"), "http issuer: no Secure flag");
    let res = http.get(srv.url(&back)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to_consent = location(&res);
    assert!(to_consent.starts_with("/oauth/consent?"), "{to_consent}");
    let (html, res) = submit_consent(&srv, &http, &to_consent, "approve").await;
    assert!(html.contains("class=\"client-name\">Test RP<") && html.contains("scope-list"));
    for s in ["openid", "profile", "email"] {
        assert!(html.contains(&format!("<span class=\"scope\">{s}</span>")), "{s} listed");
    }
    assert!(html.contains(r#"data-action="approve""#) && html.contains(r#"data-action="deny""#));
    assert_eq!(res.status(), 302);
    let loc = location(&res);
    assert!(loc.starts_with(REDIRECT_URI));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(&*srv.state.issuer));
    let code = query_param(&loc, "code").unwrap();
    // The code seals everything the token endpoint checks; issuing it wrote no row (a row is
    // written when it is redeemed).
    assert_eq!(authorization_codes::Entity::find().count(&srv.state.db).await.unwrap(), 0);
    let grant = srv.state.code_seal.open(&code, srv.state.clock.now()).unwrap().grant;
    assert_eq!(grant.code_hash, tessera_actors::crypto::sha256_hex(code.as_bytes()));
    assert_eq!((grant.client_id.as_str(), grant.user_id.as_str()), (c.client_id.as_str(), user.id.as_str()));
    assert_eq!((grant.scope.as_str(), grant.redirect_uri.as_str()), ("openid profile email", REDIRECT_URI));
    assert_eq!((grant.code_challenge.as_str(), grant.code_challenge_method.as_str()), (p.challenge.as_str(), "S256"));
    assert_eq!(grant.nonce.as_deref(), Some("n-0S6"));
    assert!(grant.session_id.is_some());
    assert!((srv.state.clock.now() - grant.auth_time).num_seconds().abs() < 60);
    assert_eq!(audit_count(&srv, "USER_LOGIN_SUCCESS").await, 1);
    assert_eq!(audit_count(&srv, "OAUTH_AUTHORIZATION_GRANTED").await, 1);
    srv.stop().await;
}

#[actix_web::test]
async fn remembered_consent_asks_only_for_new_scopes() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "bob").await;
    let flow = login_and_get_code(&srv, &c, "openid profile", &user).await;
    let http = flow.http;
    // Same scopes again: no consent page, straight to the code.
    let res = http.get(srv.url(&authorize_path(&c, "profile openid", "a", &pkce().challenge, &[]))).send().await.unwrap();
    assert!(query_param(&location(&res), "code").is_some(), "{}", location(&res));
    // One new scope: asked again, with only email marked new.
    let res = http.get(srv.url(&authorize_path(&c, "openid profile email", "b", &pkce().challenge, &[]))).send().await.unwrap();
    let to_consent = location(&res);
    assert!(to_consent.starts_with("/oauth/consent?"), "{to_consent}");
    let (html, res) = submit_consent(&srv, &http, &to_consent, "approve").await;
    assert_eq!(html.matches("class=\"badge\">new<").count(), 1, "{html}");
    assert!(html.contains("<span class=\"scope\">email</span><span class=\"badge\">new</span>"));
    assert!(query_param(&location(&res), "code").is_some());
    let row = consents::Entity::find().filter(consents::Column::UserId.eq(user.id.as_str())).one(&srv.state.db).await.unwrap().unwrap();
    assert_eq!(row.scopes, "openid profile email");
    // A subset needs no consent; prompt=consent asks even so.
    let res = http.get(srv.url(&authorize_path(&c, "email", "c", &pkce().challenge, &[]))).send().await.unwrap();
    assert!(query_param(&location(&res), "code").is_some());
    let res = http.get(srv.url(&authorize_path(&c, "email", "d", &pkce().challenge, &[("prompt", "consent")]))).send().await.unwrap();
    assert!(location(&res).starts_with("/oauth/consent?"));
    // Consent is per client: another client asking for the same scopes is asked for all of them,
    // while the user stays signed in (the session user and this client's consent are one read).
    let other = default_client(&srv).await;
    let res = http.get(srv.url(&authorize_path(&other, "openid profile", "e", &pkce().challenge, &[]))).send().await.unwrap();
    let to_consent = location(&res);
    assert!(to_consent.starts_with("/oauth/consent?"), "{to_consent}");
    let (html, _) = submit_consent(&srv, &http, &to_consent, "approve").await;
    assert_eq!(html.matches("class=\"badge\">new<").count(), 2, "{html}");
    // And the first client's consent is untouched by the second's.
    let res = http.get(srv.url(&authorize_path(&c, "openid profile email", "f", &pkce().challenge, &[]))).send().await.unwrap();
    assert!(query_param(&location(&res), "code").is_some(), "{}", location(&res));
    srv.stop().await;
}

#[actix_web::test]
async fn deny_redirects_access_denied() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "dave").await;
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "den", &pkce().challenge, &[]))).send().await.unwrap();
    let res = submit_login(&srv, &http, &location(&res), &user.username, PASSWORD).await;
    let res = http.get(srv.url(&location(&res))).send().await.unwrap();
    let (_, res) = submit_consent(&srv, &http, &location(&res), "deny").await;
    assert_error_redirect(&srv, &res, "access_denied", "den");
    assert_eq!(audit_count(&srv, "OAUTH_AUTHORIZATION_DENIED").await, 1);
    assert_eq!(consents::Entity::find().count(&srv.state.db).await.unwrap(), 0);
    assert_eq!(authorization_codes::Entity::find().count(&srv.state.db).await.unwrap(), 0);
    srv.stop().await;
}

#[actix_web::test]
async fn missing_csrf_token_on_login_is_rejected() {
    let srv = TestServer::start().await;
    let user = account(&srv, "erin").await;
    let http = client();
    let page = http.get(srv.url("/login")).send().await.unwrap().text().await.unwrap();
    let token = input_value(&page, "csrf_token").unwrap();
    let forms: [&[(&str, &str)]; 3] = [
        &[("username", "erin"), ("password", PASSWORD)],
        &[("username", "erin"), ("password", PASSWORD), ("csrf_token", "forged")],
        &[("username", "erin"), ("password", PASSWORD), ("csrf_token", "")],
    ];
    for form in forms {
        let res = http.post(srv.url("/login")).form(form).send().await.unwrap();
        assert_error_page(&res, 400);
        assert!(res.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tessera_session=")));
    }
    // The right token from another browser (another CSRF cookie) does not help either.
    let res = client().post(srv.url("/login")).form(&[("username", "erin"), ("password", PASSWORD), ("csrf_token", token.as_str())]).send().await.unwrap();
    assert_error_page(&res, 400);
    assert_eq!(audit_count(&srv, "USER_LOGIN_SUCCESS").await + audit_count(&srv, "USER_LOGIN_FAILED").await, 0, "nothing else happened");
    // With the token it works, so the refusals above were about CSRF only.
    let res = http.post(srv.url("/login")).form(&[("username", "erin"), ("password", PASSWORD), ("csrf_token", token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let _ = user;
    srv.stop().await;
}

#[actix_web::test]
async fn missing_csrf_token_on_consent_is_rejected() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "frank").await;
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "s", &pkce().challenge, &[]))).send().await.unwrap();
    let res = submit_login(&srv, &http, &location(&res), &user.username, PASSWORD).await;
    let res = http.get(srv.url(&location(&res))).send().await.unwrap();
    let html = http.get(srv.url(&location(&res))).send().await.unwrap().text().await.unwrap();
    let request = input_value(&html, "request").unwrap();
    for form in [vec![("request", request.as_str()), ("decision", "approve")], vec![("request", request.as_str()), ("decision", "approve"), ("csrf_token", "x")]] {
        let res = http.post(srv.url("/oauth/consent")).form(&form).send().await.unwrap();
        assert_error_page(&res, 400);
    }
    assert_eq!(authorization_codes::Entity::find().count(&srv.state.db).await.unwrap(), 0);
    assert_eq!(consents::Entity::find().count(&srv.state.db).await.unwrap(), 0);
    srv.stop().await;
}

#[actix_web::test]
async fn client_name_with_script_is_rendered_escaped() {
    let srv = TestServer::start().await;
    let evil = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    let (c, _) = client_with(&srv, ClientOpts { name: evil.into(), ..ClientOpts::default() }).await;
    let user = account(&srv, "gina").await;
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "\"><script>s</script>", &pkce().challenge, &[]))).send().await.unwrap();
    let login_loc = location(&res);
    let login = http.get(srv.url(&login_loc)).send().await.unwrap();
    let h = login.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let login_html = login.text().await.unwrap();
    assert!(!login_html.contains("<script>"), "state echoed raw into the login page");
    let res = submit_login(&srv, &http, &login_loc, &user.username, PASSWORD).await;
    let res = http.get(srv.url(&location(&res))).send().await.unwrap();
    let consent = http.get(srv.url(&location(&res))).send().await.unwrap();
    let h = consent.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let html = consent.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;"), "{html}");
    srv.stop().await;
}

#[actix_web::test]
async fn prompt_login_reauthenticates_once_without_looping() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "hank").await;
    let flow = login_and_get_code(&srv, &c, "openid", &user).await;
    let http = flow.http;
    let res = http.get(srv.url(&authorize_path(&c, "openid", "pl", &pkce().challenge, &[("prompt", "login")]))).send().await.unwrap();
    let to_login = location(&res);
    assert!(to_login.starts_with("/login?"), "signed in, but prompt=login must ask again: {to_login}");
    let res = submit_login(&srv, &http, &to_login, &user.username, PASSWORD).await;
    let back = location(&res);
    assert!(!back.contains("prompt=login"), "{back}");
    let res = http.get(srv.url(&back)).send().await.unwrap();
    let loc = location(&res);
    assert!(loc.starts_with(REDIRECT_URI) && query_param(&loc, "code").is_some(), "no second login: {loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("pl"));
    assert_eq!(audit_count(&srv, "USER_LOGIN_SUCCESS").await, 2);
    srv.stop().await;
}

#[actix_web::test]
async fn max_age_older_session_must_log_in_again() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "ivy").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    srv.clock.advance(std::time::Duration::from_secs(120));
    // Younger than max_age: no login.
    let res = http.get(srv.url(&authorize_path(&c, "openid", "m", &pkce().challenge, &[("max_age", "600")]))).send().await.unwrap();
    assert!(query_param(&location(&res), "code").is_some());
    // Older than max_age: login again (prompt=none: login_required), then the code.
    let res = http.get(srv.url(&authorize_path(&c, "openid", "m", &pkce().challenge, &[("max_age", "60"), ("prompt", "none")]))).send().await.unwrap();
    assert_error_redirect(&srv, &res, "login_required", "m");
    let res = http.get(srv.url(&authorize_path(&c, "openid", "m", &pkce().challenge, &[("max_age", "60")]))).send().await.unwrap();
    let to_login = location(&res);
    assert!(to_login.starts_with("/login?"), "{to_login}");
    let res = submit_login(&srv, &http, &to_login, &user.username, PASSWORD).await;
    let res = http.get(srv.url(&location(&res))).send().await.unwrap();
    let loc = location(&res);
    assert!(query_param(&loc, "code").is_some(), "{loc}");
    srv.stop().await;
}

#[actix_web::test]
async fn login_return_to_is_never_an_open_redirect() {
    let srv = TestServer::start().await;
    let _user = account(&srv, "jack").await;
    let http = client();
    for evil in ["https://evil.example/", "//evil.example/", "/login", "/api/v2/oauth/authorize/../../x"] {
        let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("return_to", evil).finish();
        let res = submit_login(&srv, &http, &format!("/login?{q}"), "jack", PASSWORD).await;
        assert_eq!(res.status(), 200, "{evil}: signed in, but not sent anywhere");
        assert!(res.headers().get("location").is_none());
    }
    srv.stop().await;
}
