//! The token side of the protocol core: the token endpoint and its three grants, client
//! authentication, JWT access and ID tokens, refresh rotation, userinfo, introspection,
//! revocation, and the `client create` CLI.

use crate::common::tokens as helpers;
mod more;
mod wire;

use crate::common::{TestServer, client};
use helpers::*;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use std::time::Duration;
use tessera_entity::{access_tokens, audit_logs, refresh_tokens};

const CODE_TTL_PLUS: Duration = Duration::from_secs(11 * 60);

pub async fn audit_count(srv: &TestServer, action: &str) -> u64 {
    audit_logs::Entity::find().filter(audit_logs::Column::Action.eq(action)).count(&srv.state.db).await.unwrap()
}

/// Waits (up to 5 s) until `n` fire-and-forget audit events of `action` are committed.
pub async fn wait_for_audit(srv: &TestServer, action: &str, n: u64) {
    for _ in 0..250 {
        if audit_count(srv, action).await >= n {
            assert_eq!(audit_count(srv, action).await, n);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{action} not audited {n} time(s)");
}

#[actix_web::test]
async fn wrong_verifier_is_rejected() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (code, _) = issue_code(&srv, &c, &user, "openid", None).await;
    let (other_verifier, _) = pkce_pair();
    expect_error(redeem(&srv, &c, &code, &other_verifier).await, 400, "invalid_grant").await;
    // A malformed verifier (too short) is refused too.
    let (code, _) = issue_code(&srv, &c, &user, "openid", None).await;
    expect_error(redeem(&srv, &c, &code, "short").await, 400, "invalid_grant").await;
    // A missing verifier is a malformed request.
    let (code, _) = issue_code(&srv, &c, &user, "openid", None).await;
    let res = token(&srv, &c, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    expect_error(res, 400, "invalid_request").await;
    assert_eq!(access_tokens::Entity::find().count(&srv.state.db).await.unwrap(), 0, "no token issued");
    srv.stop().await;
}

#[actix_web::test]
async fn plain_pkce_verifier_cannot_redeem_s256() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (verifier, challenge) = pkce_pair();
    let grant = tessera_actors::codes::CodeGrant {
        code_hash: String::new(),
        client_id: c.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: REDIRECT.into(),
        scope: "openid".into(),
        code_challenge: challenge.clone(),
        code_challenge_method: "S256".into(),
        nonce: None,
        auth_time: chrono::Utc::now(),
        session_id: None,
    };
    let code = srv.state.codes.send(tessera_actors::codes::IssueCode(grant)).await.unwrap();
    // `plain` would accept the challenge itself as the verifier; S256 must not.
    expect_error(redeem(&srv, &c, &code, &challenge).await, 400, "invalid_grant").await;
    // The code is single-use even after a failed attempt.
    expect_error(redeem(&srv, &c, &code, &verifier).await, 400, "invalid_grant").await;
    srv.stop().await;
}

#[actix_web::test]
async fn code_replay_revokes_tokens_from_first_redemption() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid profile offline_access", None).await;
    let first: Value = redeem(&srv, &c, &code, &verifier).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&srv, &c, access).await["active"], true);
    assert_eq!(userinfo(&srv, access).await.status(), 200);

    expect_error(redeem(&srv, &c, &code, &verifier).await, 400, "invalid_grant").await;
    // The audit record is committed before the answer.
    assert_eq!(audit_count(&srv, "AUTHORIZATION_CODE_REPLAY").await, 1);
    assert_eq!(introspect(&srv, &c, access).await, serde_json::json!({ "active": false }));
    assert_eq!(introspect(&srv, &c, refresh_token).await, serde_json::json!({ "active": false }));
    assert_eq!(userinfo(&srv, access).await.status(), 401);
    expect_error(refresh(&srv, &c, refresh_token, None).await, 400, "invalid_grant").await;
    let (_, claims) = jwt_parts(access);
    assert!(srv.state.ring.cluster().is_revoked(claims["jti"].as_str().unwrap()), "jti in the cluster revocation set");
    srv.stop().await;
}

#[actix_web::test]
async fn refresh_reuse_revokes_family() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let t0 = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let r0 = t0["refresh_token"].as_str().unwrap();
    let res = refresh(&srv, &c, r0, None).await;
    assert_eq!(res.status(), 200);
    let t1: Value = res.json().await.unwrap();
    let r1 = t1["refresh_token"].as_str().unwrap();
    assert_ne!(r0, r1, "rotated");
    let a1 = t1["access_token"].as_str().unwrap();
    assert_eq!(introspect(&srv, &c, a1).await["active"], true);
    let rows = refresh_tokens::Entity::find().all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].family_id, rows[1].family_id, "the successor shares the family");

    // Reuse of the rotated token: refused, and the whole family dies.
    expect_error(refresh(&srv, &c, r0, None).await, 400, "invalid_grant").await;
    assert_eq!(audit_count(&srv, "REFRESH_TOKEN_REUSE").await, 1);
    expect_error(refresh(&srv, &c, r1, None).await, 400, "invalid_grant").await;
    for t in [a1, t0["access_token"].as_str().unwrap(), r1] {
        assert_eq!(introspect(&srv, &c, t).await, serde_json::json!({ "active": false }));
    }
    assert_eq!(userinfo(&srv, a1).await.status(), 401);
    assert!(refresh_tokens::Entity::find().all(&srv.state.db).await.unwrap().iter().all(|r| r.revoked && r.revoked_at.is_some()));
    srv.stop().await;
}

#[actix_web::test]
async fn redirect_uri_mismatch_at_token_endpoint() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    for wrong in ["https://app.example/cb/", "https://app.example/cb?x=1", "https://evil.example/cb"] {
        let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
        let res = token(&srv, &c, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", wrong), ("code_verifier", &verifier)]).await;
        expect_error(res, 400, "invalid_grant").await;
    }
    srv.stop().await;
}

#[actix_web::test]
async fn unknown_client_is_invalid_client() {
    let srv = TestServer::start().await;
    let ghost = TestClient { client_id: "tsr_nobody".into(), secret: Some("whatever".into()) };
    let res = token(&srv, &ghost, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(|v| v.starts_with("Basic")), Some(true));
    expect_error(res, 401, "invalid_client").await;
    // Through client_secret_post: 401 without a Basic challenge.
    let res = client()
        .post(srv.url("/api/v2/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "tsr_nobody"), ("client_secret", "x")])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("www-authenticate").is_none());
    expect_error(res, 401, "invalid_client").await;
    // A public-style request naming an unknown client, and no client at all.
    let public_ghost = TestClient { client_id: "tsr_nobody".into(), secret: None };
    expect_error(token(&srv, &public_ghost, &[("grant_type", "client_credentials")]).await, 401, "invalid_client").await;
    expect_error(client().post(srv.url("/api/v2/oauth/token")).form(&[("grant_type", "client_credentials")]).send().await.unwrap(), 401, "invalid_client").await;
    assert_eq!(audit_count(&srv, "CLIENT_AUTH_FAILED").await, 4);
    srv.stop().await;
}

#[actix_web::test]
async fn wrong_secret_gets_401_with_www_authenticate() {
    let srv = TestServer::start().await;
    let c = register(&srv, false, &["client_credentials"], &["api.read"]).await;
    let wrong = TestClient { client_id: c.client_id.clone(), secret: Some(format!("{}x", c.secret.as_deref().unwrap())) };
    let res = token(&srv, &wrong, &[("grant_type", "client_credentials")]).await;
    let challenge = res.headers().get("www-authenticate").unwrap().to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    expect_error(res, 401, "invalid_client").await;
    // A confidential client that sends no secret is refused as well.
    let no_secret = TestClient { client_id: c.client_id.clone(), secret: None };
    expect_error(token(&srv, &no_secret, &[("grant_type", "client_credentials")]).await, 401, "invalid_client").await;
    let failures = audit_logs::Entity::find().filter(audit_logs::Column::Action.eq("CLIENT_AUTH_FAILED")).all(&srv.state.db).await.unwrap();
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|f| f.client_id.as_deref() == Some(c.client_id.as_str())));
    let secret = c.secret.as_deref().unwrap();
    assert!(failures.iter().all(|f| !format!("{:?}", f.details).contains(secret)), "no secret in the audit trail");
    // The right secret works.
    assert_eq!(token(&srv, &c, &[("grant_type", "client_credentials")]).await.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn expired_code_is_rejected() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    srv.clock.advance(CODE_TTL_PLUS);
    expect_error(redeem(&srv, &c, &code, &verifier).await, 400, "invalid_grant").await;
    // A fresh code at the advanced time still works: the clock moved for every component.
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    assert_eq!(redeem(&srv, &c, &code, &verifier).await.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn scope_escalation_on_refresh_is_rejected() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let t0 = tokens_for(&srv, &c, &user, "openid profile offline_access").await;
    let r0 = t0["refresh_token"].as_str().unwrap();
    expect_error(refresh(&srv, &c, r0, Some("openid profile email offline_access")).await, 400, "invalid_scope").await;
    // Another client cannot use the token either.
    let other = confidential(&srv).await;
    expect_error(refresh(&srv, &other, r0, None).await, 400, "invalid_grant").await;
    // The refused requests did not consume the token; narrowing is allowed.
    let res = refresh(&srv, &c, r0, Some("profile")).await;
    assert_eq!(res.status(), 200);
    let t1: Value = res.json().await.unwrap();
    assert_eq!(t1["scope"], "profile");
    assert!(t1.get("id_token").is_none(), "no openid, no ID token");
    let (_, claims) = jwt_parts(t1["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "profile");
    // The successor keeps the original scope (RFC 6749 §6).
    let r1 = t1["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&srv, &c, r1).await["scope"], "openid profile offline_access");
    let t2: Value = refresh(&srv, &c, r1, None).await.json().await.unwrap();
    assert_eq!(t2["scope"], "openid profile offline_access");
    assert!(t2["id_token"].is_string());
    srv.stop().await;
}

#[actix_web::test]
async fn revoked_access_token_refused_by_userinfo_and_introspection() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let t = tokens_for(&srv, &c, &user, "openid profile").await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&srv, access).await.status(), 200);
    let res = post_as(&srv, "/api/v2/oauth/revoke", &c, &[("token", access), ("token_type_hint", "access_token")]).await;
    assert_eq!(res.status(), 200);
    let res = userinfo(&srv, access).await;
    let challenge = res.headers().get("www-authenticate").unwrap().to_str().unwrap().to_string();
    assert!(challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    expect_error(res, 401, "invalid_token").await;
    assert_eq!(introspect(&srv, &c, access).await, serde_json::json!({ "active": false }));
    let (_, claims) = jwt_parts(access);
    let jti = claims["jti"].as_str().unwrap();
    assert!(srv.state.ring.cluster().is_revoked(jti));
    assert!(access_tokens::Entity::find_by_id(jti).one(&srv.state.db).await.unwrap().unwrap().revoked);
    wait_for_audit(&srv, "TOKEN_REVOKED", 1).await;
    srv.stop().await;
}

#[actix_web::test]
async fn concurrent_redemption_exactly_one_succeeds() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    let attempts = (0..50).map(|_| redeem(&srv, &c, &code, &verifier));
    let results = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 49, "{statuses:?}");
    // The other 49 were replays: whatever the winner got has been revoked, however they interleaved.
    let winner = results.into_iter().find(|r| r.status() == 200).unwrap();
    let body: Value = winner.json().await.unwrap();
    assert_eq!(introspect(&srv, &c, body["access_token"].as_str().unwrap()).await, serde_json::json!({ "active": false }));
    srv.stop().await;
}

#[actix_web::test]
async fn token_errors_are_rfc6749_json() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let url = srv.url("/api/v2/oauth/token");
    let auth = basic(&c.client_id, c.secret.as_deref().unwrap());
    let post = |body: String, ctype: &'static str| client().post(&url).header("authorization", &auth).header("content-type", ctype).body(body).send();
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(String, &'static str, &str)> = vec![
        (r#"{"grant_type":"client_credentials"}"#.into(), "application/json", "invalid_request"),
        ("grant_type=refresh_token&grant_type=refresh_token&refresh_token=x".into(), form, "invalid_request"),
        (format!("grant_type=refresh_token&refresh_token={}", "a".repeat(20_000)), form, "invalid_request"),
        ("grant_type=urn:example:unknown".into(), form, "unsupported_grant_type"),
        ("grant_type=password&username=alice&password=secret".into(), form, "unsupported_grant_type"),
        ("grant_type=implicit".into(), form, "unsupported_grant_type"),
        ("grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb".into(), form, "invalid_request"),
        ("grant_type=refresh_token".into(), form, "invalid_request"),
        ("code=abc".into(), form, "invalid_request"),
        ("grant_type=refresh_token&refresh_token=x&code=y".into(), form, "invalid_request"),
        ("grant_type=client_credentials".into(), form, "unauthorized_client"),
        ("grant_type=refresh_token&refresh_token=unknown".into(), form, "invalid_grant"),
        ("%zz=%%".into(), form, "invalid_request"),
    ];
    for (body, ctype, error) in cases {
        let res = post(body.clone(), ctype).await.unwrap();
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store", "{body:.60}");
        assert_eq!(res.headers().get("pragma").unwrap(), "no-cache", "{body:.60}");
        assert_eq!(res.status(), 400, "{body:.60}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], error, "{body:.60}: {json}");
        assert!(json["error_description"].is_string());
    }
    // Two client authentication methods at once.
    let res = post(format!("grant_type=client_credentials&client_id={}&client_secret=x", c.client_id), form).await.unwrap();
    expect_error(res, 400, "invalid_request").await;
    // Not a POST.
    assert_eq!(client().get(&url).send().await.unwrap().status(), 405);
    srv.stop().await;
}
