//! The token side on the wire: CORS on the browser-facing endpoints, and a real server process
//! whose logs never contain a client secret or a token.

use super::helpers::*;
use crate::common::{TestServer, base_env, client, free_listener};
use crate::process::{signal, spawn_server, tessera, wait_exit, wait_ready};
use serde_json::Value;
use std::time::Duration;

#[actix_web::test]
async fn token_userinfo_and_revoke_answer_cors_for_allowed_origins() {
    let srv = TestServer::start_with(|env| {
        env.insert("ALLOWED_ORIGINS".into(), "https://spa.example".into());
    })
    .await;
    for path in ["/api/v2/oauth/token", "/api/v2/oauth/userinfo", "/api/v2/oauth/revoke"] {
        let res = client()
            .request(reqwest::Method::OPTIONS, srv.url(path))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{path}");
        assert_eq!(res.headers().get("access-control-allow-origin").unwrap(), "https://spa.example", "{path}");
    }
    let res = client()
        .post(srv.url("/api/v2/oauth/token"))
        .header("origin", "https://evil.example")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    expect_error(res, 401, "invalid_client").await;
    srv.stop().await;
}

#[actix_web::test]
async fn server_logs_never_contain_secrets_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (l, port) = free_listener();
    drop(l);
    let mut env = base_env(dir.path(), port).await;
    env.insert("RUST_LOG".into(), "debug".into());
    let out = tessera(&env, &["client", "create", "--name", "Worker", "--grant-type", "client_credentials", "--scope", "api.read", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = TestClient { client_id: created["client_id"].as_str().unwrap().into(), secret: created["client_secret"].as_str().map(str::to_string) };
    let secret = c.secret.clone().unwrap();
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    let base = format!("http://127.0.0.1:{port}");
    let post = |path: &str, form: Vec<(&'static str, String)>, auth: String| client().post(format!("{base}{path}")).header("authorization", auth).form(&form).send();
    let good = basic(&c.client_id, &secret);
    let res = post("/api/v2/oauth/token", vec![("grant_type", "client_credentials".into())], good.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let at = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let wrong_secret = format!("{secret}-wrong");
    let res = post("/api/v2/oauth/token", vec![("grant_type", "client_credentials".into())], basic(&c.client_id, &wrong_secret)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(post("/api/v2/oauth/introspect", vec![("token", at.clone())], good.clone()).await.unwrap().status(), 200);
    assert_eq!(post("/api/v2/oauth/revoke", vec![("token", at.clone())], good.clone()).await.unwrap().status(), 200);
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let logs = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(logs.contains("client authentication failed"), "the failure is logged");
    let signature = at.rsplit('.').next().unwrap();
    let basic_value = good.trim_start_matches("Basic ");
    for (what, needle) in [("secret", secret.as_str()), ("wrong secret", wrong_secret.as_str()), ("access token", signature), ("Basic credentials", basic_value)] {
        assert!(!logs.contains(needle), "{what} leaked into the logs");
    }
}
