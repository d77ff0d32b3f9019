//! Login sessions and logout: idle and absolute expiry on the pinned clock, Redis storage, cookie
//! attributes, deactivated users, and RP-initiated logout.

use crate::common::flow::*;
use crate::common::{TestServer, client};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::io::{Read, Write};
use std::time::Duration;
use tessera_entity::sessions;

const MIN: u64 = 60;

/// prompt=none authorization: `Some(code)` while the session is valid, `None` on login_required.
async fn silent(srv: &TestServer, http: &reqwest::Client, c: &tessera::clients::Client) -> Option<String> {
    let res = http.get(srv.url(&authorize_path(c, "openid", "s", &pkce().challenge, &[("prompt", "none")]))).send().await.unwrap();
    let loc = location(&res);
    match query_param(&loc, "error") {
        Some(e) => {
            assert_eq!(e, "login_required", "{loc}");
            None
        }
        None => Some(query_param(&loc, "code").expect("code")),
    }
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

fn cookie_value(set_cookie: &[String], name: &str) -> Option<String> {
    set_cookie.iter().find_map(|c| c.strip_prefix(&format!("{name}="))).map(|rest| rest.split(';').next().unwrap().to_string())
}

#[actix_web::test]
async fn idle_session_expires_with_the_pinned_clock() {
    let srv = TestServer::start_with(|env| {
        env.insert("SESSION_TIMEOUT_MINUTES".into(), "30".into());
    })
    .await;
    let c = default_client(&srv).await;
    let user = account(&srv, "kim").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    // Activity every 20 minutes keeps the session alive well past 30 minutes in total.
    for _ in 0..3 {
        srv.clock.advance(Duration::from_secs(20 * MIN));
        assert!(silent(&srv, &http, &c).await.is_some(), "active session stays valid");
    }
    srv.clock.advance(Duration::from_secs(31 * MIN));
    assert!(silent(&srv, &http, &c).await.is_none(), "31 idle minutes end the session");
    srv.stop().await;
}

#[actix_web::test]
async fn absolute_session_lifetime_ends_an_active_session() {
    let srv = TestServer::start_with(|env| {
        env.insert("SESSION_ABSOLUTE_LIFETIME".into(), "1h".into());
    })
    .await;
    let c = default_client(&srv).await;
    let user = account(&srv, "lee").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    for _ in 0..2 {
        srv.clock.advance(Duration::from_secs(25 * MIN));
        assert!(silent(&srv, &http, &c).await.is_some());
    }
    srv.clock.advance(Duration::from_secs(11 * MIN));
    assert!(silent(&srv, &http, &c).await.is_none(), "61 minutes after login, however active");
    srv.stop().await;
}

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").expect("TESSERA_TEST_REDIS_URL (bash .ci/services.sh start; source /tmp/tessera-svc/env)")
}

/// One Redis command over RESP, answer as raw text.
fn redis(cmd: &[&str]) -> String {
    let url = url::Url::parse(&redis_url()).unwrap();
    let mut s = std::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap_or(6379))).unwrap();
    let mut req = format!("*{}\r\n", cmd.len());
    for a in cmd {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[actix_web::test]
async fn sessions_live_in_redis_with_cookie_attributes() {
    let url = redis_url();
    let srv = TestServer::start_with(|env| {
        env.insert("REDIS_URL".into(), url);
    })
    .await;
    let c = default_client(&srv).await;
    let user = account(&srv, "mia").await;
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "s", &pkce().challenge, &[]))).send().await.unwrap();
    let res = submit_login(&srv, &http, &location(&res), &user.username, PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookies = set_cookies(&res);
    let line = cookies.iter().find(|c| c.starts_with("tessera_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(line.contains(attr), "{attr} missing: {line}");
    }
    let value = cookie_value(&cookies, "tessera_session").unwrap();
    let back = location(&res);
    assert_eq!(value.len(), 43, "256 random bits, base64url");
    let id = tessera_actors::crypto::sha256_hex(value.as_bytes());
    let key = format!("tessera:session:{id}");
    assert_eq!(redis(&["EXISTS", &key]), ":1\r\n");
    let ttl: i64 = redis(&["TTL", &key]).trim().trim_start_matches(':').parse().unwrap();
    assert!(ttl > 0 && ttl <= 30 * 60, "TTL is the idle timeout: {ttl}");
    assert!(!redis(&["GET", &key]).contains(&value), "the cookie value itself is not stored");
    assert_eq!(redis(&["SISMEMBER", &format!("tessera:user-sessions:{}", user.id), &id]), ":1\r\n");
    assert_eq!(sessions::Entity::find().count(&srv.state.db).await.unwrap(), 0, "nothing in the sessions table");
    let res = http.get(srv.url(&back)).send().await.unwrap();
    let (_, res) = submit_consent(&srv, &http, &location(&res), "approve").await;
    assert!(query_param(&location(&res), "code").is_some(), "the Redis session authorizes");
    assert!(silent(&srv, &http, &c).await.is_some());
    let res = http.get(srv.url("/api/v2/oauth/logout")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(redis(&["EXISTS", &key]), ":0\r\n", "logout deletes the key");
    assert!(silent(&srv, &http, &c).await.is_none());
    srv.stop().await;
}

#[actix_web::test]
async fn redis_down_is_a_503_page_not_a_panic() {
    let (l, port) = crate::common::free_listener();
    drop(l);
    let srv = TestServer::start_with(|env| {
        env.insert("REDIS_URL".into(), format!("redis://127.0.0.1:{port}/"));
    })
    .await;
    let c = default_client(&srv).await;
    let user = account(&srv, "ned").await;
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "s", &pkce().challenge, &[]))).send().await.unwrap();
    let res = submit_login(&srv, &http, &location(&res), &user.username, PASSWORD).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let fake = format!("tessera_session={}", "a".repeat(43));
    let res = client().get(srv.url(&authorize_path(&c, "openid", "s", &pkce().challenge, &[]))).header("cookie", fake).send().await.unwrap();
    assert_eq!(res.status(), 503);
    // The server is still answering.
    assert_eq!(client().get(srv.url("/health")).send().await.unwrap().status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn session_cookie_is_secure_under_an_https_issuer() {
    let srv = TestServer::start_with(|env| {
        env.insert("ISSUER".into(), "https://login.example".into());
    })
    .await;
    let _user = account(&srv, "ola").await;
    // Secure cookies are not sent back over plain http by a real cookie jar: carry them by hand.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(srv.url("/login")).send().await.unwrap();
    let cookies = set_cookies(&page);
    let csrf_line = cookies.iter().find(|c| c.starts_with("tessera_csrf=")).unwrap();
    assert!(csrf_line.contains("Secure") && csrf_line.contains("HttpOnly") && csrf_line.contains("SameSite=Strict"), "{csrf_line}");
    let csrf_cookie = cookie_value(&cookies, "tessera_csrf").unwrap();
    let field = input_value(&page.text().await.unwrap(), "csrf_token").unwrap();
    let res = http
        .post(srv.url("/login"))
        .header("cookie", format!("tessera_csrf={csrf_cookie}"))
        .form(&[("username", "ola"), ("password", PASSWORD), ("csrf_token", field.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = set_cookies(&res).into_iter().find(|c| c.starts_with("tessera_session=")).unwrap();
    assert!(line.contains("Secure") && line.contains("HttpOnly") && line.contains("SameSite=Lax"), "{line}");
    srv.stop().await;
}

#[actix_web::test]
async fn deactivated_users_session_no_longer_authorizes() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "pat").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    assert!(silent(&srv, &http, &c).await.is_some());
    tessera::users::set_active(&srv.state.db, &user.id, false, srv.state.clock.now()).await.unwrap();
    assert!(silent(&srv, &http, &c).await.is_none(), "the session of a deactivated user is dead");
    let res = submit_login(&srv, &http, "/login", &user.username, PASSWORD).await;
    assert_eq!(res.status(), 401, "and the user cannot sign in again");
    srv.stop().await;
}

/// An ID token for `aud` signed with the server's current RS256 key, long expired.
fn id_token(srv: &TestServer, sub: &str, aud: &str) -> String {
    let signer = srv.state.ring.signer("RS256").expect("RS256 signer");
    let mut header = jsonwebtoken::Header::new(signer.alg);
    header.kid = Some(signer.kid.clone());
    let now = srv.state.clock.unix();
    let claims = serde_json::json!({ "iss": &*srv.state.issuer, "sub": sub, "aud": aud, "iat": now - 7200, "exp": now - 3600 });
    jsonwebtoken::encode(&header, &claims, &signer.encoding).unwrap()
}

#[actix_web::test]
async fn logout_with_a_registered_post_logout_redirect_uri() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "quinn").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    let hint = id_token(&srv, &user.id, &c.client_id);
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &hint)
        .append_pair("post_logout_redirect_uri", "https://rp.example/signed-out")
        .append_pair("state", "bye")
        .finish();
    let res = http.get(srv.url(&format!("/api/v2/oauth/logout?{q}"))).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "https://rp.example/signed-out?state=bye");
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("tessera_session=;") && c.contains("Max-Age=0")), "cookie cleared");
    assert!(silent(&srv, &http, &c).await.is_none(), "session ended on the server too");
    let _ = srv.state.audit.flush().await;
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = tessera_entity::audit_logs::Entity::find().filter(tessera_entity::audit_logs::Column::Action.eq("USER_LOGOUT")).all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].user_id.as_deref(), rows[0].client_id.as_deref()), (Some(user.id.as_str()), Some(c.client_id.as_str())));
    // client_id instead of a hint works as well (POST form this time).
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    let res = http
        .post(srv.url("/api/v2/oauth/logout"))
        .form(&[("client_id", c.client_id.as_str()), ("post_logout_redirect_uri", "https://rp.example/signed-out")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "https://rp.example/signed-out");
    srv.stop().await;
}

#[actix_web::test]
async fn logout_with_an_unregistered_post_logout_redirect_uri_shows_an_error() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let user = account(&srv, "ray").await;
    let http = login_and_get_code(&srv, &c, "openid", &user).await.http;
    let hint = id_token(&srv, &user.id, &c.client_id);
    let mut forged = hint.clone();
    forged.truncate(hint.len() - 4);
    forged.push_str("AAAA");
    let cases = [
        vec![("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", "https://evil.example/")],
        vec![("client_id", c.client_id.as_str()), ("post_logout_redirect_uri", "https://rp.example/signed-out/")],
        vec![("post_logout_redirect_uri", "https://rp.example/signed-out")],
        vec![("id_token_hint", forged.as_str()), ("post_logout_redirect_uri", "https://rp.example/signed-out")],
    ];
    for case in cases {
        let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(case).finish();
        let res = http.get(srv.url(&format!("/api/v2/oauth/logout?{q}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "{q}");
        assert!(res.headers().get("location").is_none());
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    assert!(silent(&srv, &http, &c).await.is_some(), "a refused logout ends nothing");
    // Without any redirect: a "signed out" page.
    let res = http.get(srv.url("/api/v2/oauth/logout")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Signed out"));
    assert!(silent(&srv, &http, &c).await.is_none());
    srv.stop().await;
}
