//! Foundation: health, readiness, JWKS shape, key rotation through the actor.

use crate::common::{TestServer, client};
use serde_json::Value;

#[actix_web::test]
async fn health_reports_dependencies_and_ready_answers() {
    let srv = TestServer::start().await;
    let res = client().get(srv.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-tessera-node").is_some());
    assert!(res.headers().get("x-request-id").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "tessera");
    assert_eq!(body["dependencies"]["database"], "up");
    assert_eq!(body["dependencies"]["cluster"], "leader");
    assert!(body["timestamp"].as_str().is_some());
    let ready = client().get(srv.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    srv.stop().await;
}

fn check_jwk(k: &Value) {
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(k.get(private).is_none(), "private member {private} in JWKS: {k}");
    }
    assert_eq!(k["use"], "sig");
    assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
    match k["kty"].as_str().unwrap() {
        "RSA" => {
            assert_eq!(k["alg"], "RS256");
            assert!(k["n"].as_str().unwrap().len() > 300);
            assert_eq!(k["e"], "AQAB");
        }
        "EC" => {
            assert_eq!(k["alg"], "ES256");
            assert_eq!(k["crv"], "P-256");
            assert!(k["x"].is_string() && k["y"].is_string());
        }
        "OKP" => {
            assert_eq!(k["alg"], "EdDSA");
            assert_eq!(k["crv"], "Ed25519");
            assert!(k["x"].is_string());
        }
        other => panic!("unexpected kty {other}"),
    }
}

#[actix_web::test]
async fn jwks_serves_public_keys_with_cache_control_at_both_paths() {
    let srv = TestServer::start().await;
    for path in ["/api/v2/oauth/jwks", "/.well-known/jwks.json"] {
        let res = client().get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
        assert!(cc.contains("max-age=300"), "{cc}");
        let body: Value = res.json().await.unwrap();
        let keys = body["keys"].as_array().unwrap();
        let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "{algs:?}");
        keys.iter().for_each(check_jwk);
    }
    srv.stop().await;
}

#[actix_web::test]
async fn eddsa_key_is_generated_when_configured() {
    let srv = TestServer::start_with(|env| {
        env.insert("JWT_ALGORITHM".into(), "EdDSA".into());
    })
    .await;
    let body: Value = client().get(srv.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["alg"] == "EdDSA"));
    keys.iter().for_each(check_jwk);
    srv.stop().await;
}

#[actix_web::test]
async fn rotation_publishes_then_activates_after_max_age() {
    let srv = TestServer::start_with(|env| {
        env.insert("JWKS_MAX_AGE".into(), "2".into());
    })
    .await;
    let before = srv.state.ring.signer("RS256").unwrap().kid.clone();
    let kids = srv.state.keys.send(tessera_actors::keys::Rotate).await.unwrap().unwrap();
    assert_eq!(kids.len(), 2, "one new key per algorithm");
    let jwks: Value = client().get(srv.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let listed: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    for kid in &kids {
        assert!(listed.contains(&kid.as_str()), "new key published at once");
    }
    // Published keys do not sign until the JWKS max-age has passed.
    assert_eq!(srv.state.ring.signer("RS256").unwrap().kid, before);
    let mut activated = false;
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if srv.state.ring.signer("RS256").unwrap().kid != before {
            activated = true;
            break;
        }
    }
    assert!(activated, "new key activated after max-age");
    assert!(kids.contains(&srv.state.ring.signer("RS256").unwrap().kid));
    srv.stop().await;
}

#[actix_web::test]
async fn metrics_listener_exposes_the_seed_metric_names() {
    let srv = TestServer::start().await;
    let (l, port) = crate::common::free_listener();
    actix_web::rt::spawn(srv.node().serve_metrics(l).unwrap());
    assert_eq!(client().get(srv.url("/health")).send().await.unwrap().status(), 200);
    let text = client().get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "oauth_authorization_requests_total",
        "oauth_token_issued_total",
        "oauth_token_revoked_total",
        "oauth_login_attempts_total",
        "oauth_login_failures_total",
        "oauth_authorization_latency_ms_bucket",
        "oauth_database_connections_active",
        "oauth_cache_hits_total",
        "oauth_cache_misses_total",
        "http_request_duration_seconds_bucket",
        "tessera_raft_term",
        "tessera_raft_applied_index",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("http_requests_total{route=\"/health\",status=\"200\"}"), "{text}");
    assert!(text.contains("tessera_signing_keys{alg=\"RS256\",state=\"active\"} 1"), "{text}");
    assert!(text.contains("tessera_raft_is_leader 1"), "{text}");
    // The public listener does not serve metrics.
    assert_eq!(client().get(srv.url("/metrics")).send().await.unwrap().status(), 404);
    srv.stop().await;
}
