//! Token-side tests beyond the grants' failure modes: RFC 9068 access tokens for each algorithm,
//! ID tokens, userinfo by scope, introspection of refresh tokens, revocation ownership, the
//! `client create` CLI, secrets at rest, and a database outage.

use super::helpers::*;
use super::{audit_count, wait_for_audit};
use crate::common::{TestServer, client};
use crate::process::tessera;
use chrono::Utc;
use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tessera_entity::{oauth_clients, refresh_tokens, user_roles, users};

/// Verifies `token` against the server's published JWKS; returns its claims.
async fn verify_with_jwks(srv: &TestServer, token: &str) -> Value {
    let jwks: JwkSet = client().get(srv.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published in the JWKS");
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[srv.base.as_str()]);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v).expect("verifies against the JWKS").claims
}

#[actix_web::test]
async fn client_credentials_issues_rfc9068_tokens_for_each_algorithm() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let srv = TestServer::start_with(|env| {
            env.insert("JWT_ALGORITHM".into(), alg.into());
        })
        .await;
        let c = register(&srv, false, &["client_credentials"], &["api.read", "api.write", "openid"]).await;
        let res = token(&srv, &c, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200, "{alg}");
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
        assert_eq!(res.headers().get("pragma").unwrap(), "no-cache");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "api.read api.write", "default: the client's scopes minus openid");
        assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");
        let at = body["access_token"].as_str().unwrap();
        let (header, _) = jwt_parts(at);
        assert_eq!(header["typ"], "at+jwt", "{alg}");
        assert_eq!(header["alg"], alg);
        let claims = verify_with_jwks(&srv, at).await;
        for k in ["iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp"] {
            assert!(claims.get(k).is_some(), "{alg}: claim {k} missing in {claims}");
        }
        assert_eq!(claims["sub"], c.client_id.as_str());
        assert_eq!(claims["client_id"], c.client_id.as_str());
        assert_eq!(claims["aud"], c.client_id.as_str());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
        assert!(claims.get("auth_time").is_none(), "no user, no auth_time");
        assert_eq!(introspect(&srv, &c, at).await["active"], true);
        // Narrower scope on request; user-only scopes are refused.
        let narrow: Value = token(&srv, &c, &[("grant_type", "client_credentials"), ("scope", "api.read")]).await.json().await.unwrap();
        assert_eq!(narrow["scope"], "api.read");
        expect_error(token(&srv, &c, &[("grant_type", "client_credentials"), ("scope", "openid")]).await, 400, "invalid_scope").await;
        expect_error(token(&srv, &c, &[("grant_type", "client_credentials"), ("scope", "admin")]).await, 400, "invalid_scope").await;
        srv.stop().await;
    }
}

#[actix_web::test]
async fn code_flow_issues_access_id_and_refresh_tokens() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "alice").await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid profile email offline_access", Some("n-42")).await;
    let res = redeem(&srv, &c, &code, &verifier).await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let t: Value = res.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let access = verify_with_jwks(&srv, at).await;
    assert_eq!(access["sub"], user.id.as_str());
    assert!(access["auth_time"].is_i64());
    let id_token = t["id_token"].as_str().unwrap();
    let (h, _) = jwt_parts(id_token);
    assert_eq!(h["alg"], "RS256", "ID tokens are always RS256");
    let id = verify_with_jwks(&srv, id_token).await;
    assert_eq!(id["aud"], json!([c.client_id]));
    assert_eq!(id["azp"], c.client_id.as_str());
    assert_eq!(id["nonce"], "n-42");
    assert_eq!(id["at_hash"], tessera::oauth::jwt::at_hash(at).as_str());
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["email"], "alice@example.test");
    assert!(t["refresh_token"].as_str().unwrap().len() >= 43, "≥ 256 bits");
    // Without offline_access: no refresh token; without openid: no ID token.
    let t = tokens_for(&srv, &c, &user, "profile").await;
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none(), "{t}");
    // A client not allowed refresh_token gets none even with offline_access.
    let no_refresh = register(&srv, false, &["authorization_code"], &["openid", "offline_access"]).await;
    let t = tokens_for(&srv, &no_refresh, &user, "openid offline_access").await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    // Another client cannot redeem the code.
    let other = confidential(&srv).await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    expect_error(redeem(&srv, &other, &code, &verifier).await, 400, "invalid_grant").await;
    srv.stop().await;
}

#[actix_web::test]
async fn public_client_uses_pkce_and_client_secret_post_works() {
    let srv = TestServer::start().await;
    let public = register(&srv, true, &["authorization_code", "refresh_token"], &["openid", "offline_access"]).await;
    assert!(public.secret.is_none());
    let user = create_user(&srv, "bob").await;
    let t = tokens_for(&srv, &public, &user, "openid offline_access").await;
    let r = refresh(&srv, &public, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200);
    // client_secret_post for a confidential client.
    let c = confidential(&srv).await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    let res = client()
        .post(srv.url("/api/v2/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &c.client_id),
            ("client_secret", c.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn userinfo_releases_claims_by_scope() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "carol").await;
    let now = Utc::now();
    let role = |name: &str, expires: Option<chrono::DateTime<Utc>>| user_roles::ActiveModel {
        user_id: Set(user.id.clone()),
        role_id: Set(tessera_migration::m20261130_000004_seed_rbac::seed_id("role", name)),
        expires_at: Set(expires),
        assigned_by: Set(None),
        created_at: Set(now),
    };
    user_roles::Entity::insert(role("super_admin", None)).exec_without_returning(&srv.state.db).await.unwrap();
    user_roles::Entity::insert(role("admin", Some(now - chrono::Duration::hours(1)))).exec_without_returning(&srv.state.db).await.unwrap();

    let t = tokens_for(&srv, &c, &user, "openid profile email groups").await;
    let res = userinfo(&srv, t["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["sub"], user.id.as_str());
    assert_eq!(info["name"], "carol Example");
    assert_eq!(info["preferred_username"], "carol");
    assert!(info["updated_at"].is_i64());
    assert_eq!(info["email"], "carol@example.test");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["groups"], json!(["super_admin"]), "the expired assignment is not a group");

    let t = tokens_for(&srv, &c, &user, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    let info: Value = userinfo(&srv, at).await.json().await.unwrap();
    assert_eq!(info, json!({ "sub": user.id }));
    // POST with the token in the form body (RFC 6750 §2.2); not in both places.
    let res = client().post(srv.url("/api/v2/oauth/userinfo")).form(&[("access_token", at)]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = client().post(srv.url("/api/v2/oauth/userinfo")).bearer_auth(at).form(&[("access_token", at)]).send().await.unwrap();
    expect_error(res, 400, "invalid_request").await;

    let t = tokens_for(&srv, &c, &user, "profile email").await;
    let res = userinfo(&srv, t["access_token"].as_str().unwrap()).await;
    let challenge = res.headers().get("www-authenticate").unwrap().to_str().unwrap().to_string();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    expect_error(res, 403, "insufficient_scope").await;
    expect_error(client().get(srv.url("/api/v2/oauth/userinfo")).send().await.unwrap(), 401, "invalid_token").await;
    expect_error(userinfo(&srv, "not.a.token").await, 401, "invalid_token").await;

    // Expired (pinned clock) and disabled user.
    srv.clock.advance(std::time::Duration::from_secs(3601));
    expect_error(userinfo(&srv, at).await, 401, "invalid_token").await;
    let t = tokens_for(&srv, &c, &user, "openid offline_access").await;
    // Through the `ActiveModel`, as the admin API and console write (a write there empties the
    // node's user cache, which the redemption above filled).
    let mut m: users::ActiveModel = user.clone().into();
    m.is_active = Set(false);
    sea_orm::ActiveModelTrait::update(m, &srv.state.db).await.unwrap();
    expect_error(userinfo(&srv, t["access_token"].as_str().unwrap()).await, 401, "invalid_token").await;
    expect_error(refresh(&srv, &c, t["refresh_token"].as_str().unwrap(), None).await, 400, "invalid_grant").await;
    srv.stop().await;
}

#[actix_web::test]
async fn introspection_of_refresh_tokens() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "dave").await;
    let t = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let r0 = t["refresh_token"].as_str().unwrap();
    let info = introspect(&srv, &c, r0).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["client_id"], c.client_id.as_str());
    assert_eq!(info["username"], "dave");
    assert_eq!(info["sub"], user.id.as_str());
    assert_eq!(info["scope"], "openid offline_access");
    assert!(info["exp"].as_i64().unwrap() > Utc::now().timestamp());
    let with_hint = post_as(&srv, "/api/v2/oauth/introspect", &c, &[("token", r0), ("token_type_hint", "access_token")]).await;
    assert_eq!(with_hint.json::<Value>().await.unwrap()["active"], true, "a wrong hint does not matter");
    let r1: Value = refresh(&srv, &c, r0, None).await.json().await.unwrap();
    assert_eq!(introspect(&srv, &c, r0).await, json!({ "active": false }), "rotated");
    assert_eq!(introspect(&srv, &c, r1["refresh_token"].as_str().unwrap()).await["active"], true);
    assert_eq!(introspect(&srv, &c, "garbage").await, json!({ "active": false }));
    // Expired by the pinned clock.
    srv.clock.advance(std::time::Duration::from_secs(31 * 24 * 3600));
    assert_eq!(introspect(&srv, &c, r1["refresh_token"].as_str().unwrap()).await, json!({ "active": false }));
    expect_error(refresh(&srv, &c, r1["refresh_token"].as_str().unwrap(), None).await, 400, "invalid_grant").await;
    // Unauthenticated callers and public clients may not introspect.
    let res = client().post(srv.url("/api/v2/oauth/introspect")).form(&[("token", r0)]).send().await.unwrap();
    expect_error(res, 401, "invalid_client").await;
    let public = register(&srv, true, &["authorization_code"], &["openid"]).await;
    expect_error(post_as(&srv, "/api/v2/oauth/introspect", &public, &[("token", r0)]).await, 401, "invalid_client").await;
    srv.stop().await;
}

#[actix_web::test]
async fn revocation_by_another_client_is_a_noop() {
    let srv = TestServer::start().await;
    let owner = confidential(&srv).await;
    let other = confidential(&srv).await;
    let user = create_user(&srv, "erin").await;
    let t = tokens_for(&srv, &owner, &user, "openid offline_access").await;
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    for tok in [at, rt, "unknown-token", "a.b.c"] {
        assert_eq!(post_as(&srv, "/api/v2/oauth/revoke", &other, &[("token", tok)]).await.status(), 200);
    }
    assert_eq!(introspect(&srv, &owner, at).await["active"], true);
    assert_eq!(introspect(&srv, &owner, rt).await["active"], true);
    // The owner revokes its refresh token: the family and its access tokens go.
    assert_eq!(post_as(&srv, "/api/v2/oauth/revoke", &owner, &[("token", rt), ("token_type_hint", "refresh_token")]).await.status(), 200);
    assert_eq!(introspect(&srv, &owner, rt).await, json!({ "active": false }));
    assert_eq!(introspect(&srv, &owner, at).await, json!({ "active": false }));
    wait_for_audit(&srv, "TOKEN_REVOKED", 1).await;
    // A public client revokes with its client_id; a missing token is a malformed request.
    let public = register(&srv, true, &["authorization_code", "refresh_token"], &["openid", "offline_access"]).await;
    let t = tokens_for(&srv, &public, &user, "openid offline_access").await;
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(post_as(&srv, "/api/v2/oauth/revoke", &public, &[("token", rt)]).await.status(), 200);
    expect_error(refresh(&srv, &public, rt, None).await, 400, "invalid_grant").await;
    expect_error(post_as(&srv, "/api/v2/oauth/revoke", &public, &[]).await, 400, "invalid_request").await;
    srv.stop().await;
}

fn cli_env(srv: &TestServer, dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("DATA_DIR".into(), dir.display().to_string());
    env.insert("DATABASE_URL".into(), srv.state.settings.database_url.expose().clone());
    env.insert("KEY_ENCRYPTION_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    env.insert("RUST_LOG".into(), "warn".into());
    env
}

async fn client_row(srv: &TestServer, client_id: &str) -> oauth_clients::Model {
    oauth_clients::Entity::find().filter(oauth_clients::Column::ClientId.eq(client_id)).one(&srv.state.db).await.unwrap().unwrap()
}

#[actix_web::test]
async fn client_create_cli_defaults_and_json() {
    let srv = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = cli_env(&srv, dir.path());
    let run = |args: &[&str]| {
        let out = tessera(&env, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (out, err) = run(&["client", "create", "--name", "CLI app", "--redirect-uri", "https://cli.example/cb", "--json"]);
    let created: Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    assert!(!err.contains(secret), "the secret is printed once, on stdout only");
    let row = client_row(&srv, id).await;
    assert!(!row.is_public);
    assert_eq!(row.grant_types, json!(["authorization_code", "refresh_token"]));
    assert_eq!(row.scopes, json!(["openid", "profile", "email", "offline_access"]));
    assert_eq!(row.redirect_uris, json!(["https://cli.example/cb"]));

    let (out, _) = run(&["client", "create", "--name", "SPA", "--redirect-uri", "http://127.0.0.1/cb", "--public", "--json"]);
    let created: Value = serde_json::from_str(&out).unwrap();
    assert!(created["client_secret"].is_null());
    assert!(client_row(&srv, created["client_id"].as_str().unwrap()).await.is_public);

    // Text output, and a secret that really authenticates against the server.
    let (out, _) = run(&[
        "client", "create", "--name", "Worker", "--redirect-uri", "https://w.example/cb", "--grant-type", "client_credentials", "--scope", "api.read",
        "--scope", "api.write", "--post-logout-redirect-uri", "https://w.example/bye",
    ]);
    let field = |name: &str| out.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_else(|| panic!("{name} in {out}"));
    let c = TestClient { client_id: field("client_id:"), secret: Some(field("client_secret:")) };
    let res = token(&srv, &c, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "api.read api.write");
    assert_eq!(client_row(&srv, &c.client_id).await.post_logout_redirect_uris, json!(["https://w.example/bye"]));

    let out = tessera(&env, &["client", "create", "--name", "Bad", "--redirect-uri", "http://evil.example/cb"]).output().unwrap();
    assert!(!out.status.success(), "an http redirect URI off loopback is refused");
    srv.stop().await;
}

#[actix_web::test]
async fn client_secret_is_never_stored_in_clear() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let secret = c.secret.clone().unwrap();
    assert!(secret.len() >= 43, "256-bit secret");
    let row = client_row(&srv, &c.client_id).await;
    let stored = row.secret_hash.clone().unwrap();
    assert_ne!(stored, secret);
    assert_eq!(stored.len(), 64);
    assert!(!serde_json::to_string(&row).unwrap().contains(&secret));
    // Refresh tokens too are kept only as their SHA-256.
    let user = create_user(&srv, "frank").await;
    let t = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let rows = refresh_tokens::Entity::find().all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, tessera_actors::crypto::sha256_hex(rt.as_bytes()));
    assert!(!serde_json::to_string(&rows).unwrap().contains(rt));
    srv.stop().await;
}

#[actix_web::test]
async fn database_outage_gives_503_not_500() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "gina").await;
    let t = tokens_for(&srv, &c, &user, "openid").await;
    let (code, verifier) = issue_code(&srv, &c, &user, "openid", None).await;
    // The redemption cached the user: drop it, so userinfo and the next redemption have to read
    // the database.
    users::bump_generation();
    srv.state.db.clone().close().await.unwrap();
    let res = token(&srv, &c, &[("grant_type", "refresh_token"), ("refresh_token", "x")]).await;
    let body = expect_error(res, 503, "temporarily_unavailable").await;
    assert!(!body["error_description"].as_str().unwrap().contains("pool"), "no internals: {body}");
    expect_error(userinfo(&srv, t["access_token"].as_str().unwrap()).await, 503, "temporarily_unavailable").await;
    expect_error(post_as(&srv, "/api/v2/oauth/introspect", &c, &[("token", "x")]).await, 503, "temporarily_unavailable").await;
    // A redemption that fails on our side does not use the code up: the client may retry it. (On
    // SQLite the token writer's connection is still open, so only this rule keeps the row out.)
    expect_error(redeem(&srv, &c, &code, &verifier).await, 503, "temporarily_unavailable").await;
    let db = tessera::db::connect_url(srv.state.settings.database_url.expose(), 1).await.unwrap();
    let hash = tessera_actors::crypto::sha256_hex(code.as_bytes());
    assert!(tessera_entity::authorization_codes::Entity::find_by_id(hash).one(&db).await.unwrap().is_none(), "the code is still unused");
    srv.stop().await;
}

/// Redemptions that arrive together are written in one batch (`token_store`): each still gets its
/// own answer. Of five concurrent redemptions of one code exactly one gets tokens and four are
/// replays, which revoke what the one got; five other codes redeemed at the same time each get
/// their own tokens; an unknown code and an expired one are refused.
#[actix_web::test]
async fn concurrent_redemptions_each_get_their_own_answer() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "judy").await;
    let old = issue_code(&srv, &c, &user, "openid", None).await;
    srv.clock.advance(srv.state.settings.authorization_code_ttl + std::time::Duration::from_secs(1));
    let issued = futures::future::join_all((0..6).map(|i| issue_code(&srv, &c, &user, "openid", Some(["n0", "n1", "n2", "n3", "n4", "n5"][i])))).await;
    let mut asks: Vec<(&str, &(String, String))> = vec![("old", &old)];
    let unknown = ("no-such-code".to_string(), old.1.clone());
    asks.push(("unknown", &unknown));
    asks.extend((0..5).map(|_| ("twice", &issued[0])));
    asks.extend(issued[1..].iter().map(|code| ("once", code)));
    let answers = futures::future::join_all(asks.iter().map(|(_, (code, verifier))| redeem(&srv, &c, code, verifier))).await;
    let (mut won, mut refused) = (Vec::new(), 0);
    let mut nonces = Vec::new();
    for ((kind, _), res) in asks.iter().zip(answers) {
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        match (*kind, status.as_u16()) {
            ("old" | "unknown", 400) => assert_eq!(body["error"], "invalid_grant", "{kind}: {body}"),
            ("twice", 200) => won.push(body),
            ("twice", 400) => {
                assert_eq!(body["error"], "invalid_grant");
                refused += 1;
            }
            ("once", 200) => {
                let (_, claims) = jwt_parts(body["id_token"].as_str().unwrap());
                nonces.push(claims["nonce"].as_str().unwrap().to_string());
                assert_eq!(introspect(&srv, &c, body["access_token"].as_str().unwrap()).await["active"], true);
            }
            (kind, status) => panic!("{kind}: {status} {body}"),
        }
    }
    assert_eq!((won.len(), refused), (1, 4), "one redemption of the code wins");
    assert_eq!(introspect(&srv, &c, won[0]["access_token"].as_str().unwrap()).await, json!({ "active": false }), "the replays revoked it");
    assert_eq!(audit_count(&srv, "AUTHORIZATION_CODE_REPLAY").await, 4);
    nonces.sort();
    assert_eq!(nonces, ["n1", "n2", "n3", "n4", "n5"], "each code carries its own grant");
    // Each is used now; the redemptions are on record, one row per code (the expired code's too:
    // a refused presentation uses a code up).
    for (code, verifier) in &issued {
        expect_error(redeem(&srv, &c, code, verifier).await, 400, "invalid_grant").await;
    }
    assert_eq!(tessera_entity::authorization_codes::Entity::find().count(&srv.state.db).await.unwrap(), 7);
    srv.stop().await;
}

/// PostgreSQL drops every connection the node holds (a restart, a failover, a proxy's idle
/// timeout): requests answer 503 while the pool finds its connections dead, never 500, and the
/// node recovers by itself. The pool pings only idle connections before a checkout (`db.rs`), so a
/// dead busy connection is found by the query that fails on it.
#[actix_web::test]
async fn dropped_database_connections_give_503_then_recover() {
    use sea_orm::ConnectionTrait;
    if crate::common::db_kind() != "postgres" {
        return; // an SQLite connection lives in this process: nothing outside can cut it
    }
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "ivan").await;
    let t = tokens_for(&srv, &c, &user, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    // Userinfo reads the user from the database when the node's user cache is empty.
    let read_user = || {
        users::bump_generation();
        userinfo(&srv, at)
    };
    // Warm several pooled connections, then cut them all from the server side.
    futures::future::join_all((0..8).map(|_| read_user())).await;
    let cut = "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let killed = srv.state.db.query_one_raw(sea_orm::Statement::from_string(srv.state.db.get_database_backend(), cut)).await.unwrap().unwrap();
    assert!(killed.try_get::<i64>("", "n").unwrap() >= 1, "the node held connections");
    let (mut failed, mut ok_in_a_row) = (0, 0);
    for _ in 0..60 {
        let res = read_user().await;
        if res.status() == 200 {
            ok_in_a_row += 1;
            if ok_in_a_row == 10 {
                break;
            }
        } else {
            expect_error(res, 503, "temporarily_unavailable").await;
            failed += 1;
            ok_in_a_row = 0;
        }
    }
    assert_eq!(ok_in_a_row, 10, "the node recovered by itself ({failed} requests answered 503 on the way)");
    // Writes recover too: a new token is issued and verifies.
    let t = tokens_for(&srv, &c, &user, "openid").await;
    assert_eq!(userinfo(&srv, t["access_token"].as_str().unwrap()).await.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn concurrent_refresh_reuse_leaves_no_live_tokens() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "hank").await;
    let t = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let results = futures::future::join_all((0..20).map(|_| refresh(&srv, &c, rt, None))).await;
    let mut issued = Vec::new();
    for r in results {
        if r.status() == 200 {
            issued.push(r.json::<Value>().await.unwrap());
        } else {
            assert_eq!(r.status(), 400);
        }
    }
    assert_eq!(issued.len(), 1, "exactly one rotation wins");
    // Reuse was detected, so what the winner got is dead too.
    for body in &issued {
        for k in ["access_token", "refresh_token"] {
            assert_eq!(introspect(&srv, &c, body[k].as_str().unwrap()).await, json!({ "active": false }), "{k}");
        }
    }
    let rows = refresh_tokens::Entity::find().all(&srv.state.db).await.unwrap();
    assert!(rows.iter().all(|r| r.revoked), "the whole family is revoked");
    srv.stop().await;
}

/// A refresh-token row written directly (the tests that bypass minting).
fn refresh_row(id: &str, token_hash: String, family: &str, client_id: &str, user_id: &str, now: chrono::DateTime<Utc>) -> refresh_tokens::ActiveModel {
    refresh_tokens::ActiveModel {
        id: Set(id.into()),
        token_hash: Set(token_hash),
        family_id: Set(family.into()),
        parent_id: Set(None),
        client_id: Set(client_id.into()),
        user_id: Set(user_id.into()),
        scope: Set("openid offline_access".into()),
        auth_time: Set(now),
        nonce: Set(None),
        code_hash: Set(None),
        expires_at: Set(now + chrono::Duration::days(1)),
        revoked: Set(false),
        revoked_at: Set(None),
        rotated_at: Set(None),
        created_at: Set(now),
    }
}

/// The token writer commits a redemption row with the tokens, once per code: of concurrent writes
/// redeeming one code, one writes its rows and the others write nothing (`CodeReplayed`), in one
/// batch or across batches; rows without a redemption are written regardless.
#[actix_web::test]
async fn token_writer_redeems_each_code_once() {
    use tessera::oauth::token_store::{TokenRows, Written};
    use tessera_actors::codes::{CodeGrant, OpenedCode};
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "kate").await;
    let now = srv.state.clock.now();
    let opened = |hash: &str| OpenedCode {
        grant: CodeGrant {
            code_hash: hash.into(),
            client_id: c.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: REDIRECT.into(),
            scope: "openid".into(),
            code_challenge: "x".into(),
            code_challenge_method: "S256".into(),
            nonce: None,
            auth_time: now,
            session_id: None,
        },
        expires_at: now + chrono::Duration::minutes(10),
    };
    let (first, second) = (opened("code-a"), opened("code-b"));
    let rows = |code: Option<&OpenedCode>, id: &str| TokenRows { redeem: code.map(|c| c.redemption(now)), refresh: Some(refresh_row(id, format!("hash-{id}"), &format!("family-{id}"), &c.client_id, &user.id, now)), ..Default::default() };
    let w = &srv.state.tokens;
    let answers = futures::future::join_all([
        w.write(rows(Some(&first), "r1")),
        w.write(rows(Some(&first), "r2")),
        w.write(rows(Some(&second), "r3")),
        w.write(rows(None, "r4")),
        w.write(rows(Some(&first), "r5")),
    ])
    .await;
    let answers: Vec<Written> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers.iter().filter(|w| **w == Written::Yes).count(), 3, "{answers:?}");
    assert_eq!([answers[0], answers[1], answers[4]].iter().filter(|w| **w == Written::CodeReplayed).count(), 2, "{answers:?}");
    assert_eq!((answers[2], answers[3]), (Written::Yes, Written::Yes));
    // Only the winners' rows exist.
    let mut ids: Vec<String> = refresh_tokens::Entity::find().all(&srv.state.db).await.unwrap().into_iter().map(|r| r.id).collect();
    ids.sort();
    let winner = ["r1", "r2", "r5"][[answers[0], answers[1], answers[4]].iter().position(|w| *w == Written::Yes).unwrap()];
    let mut expected = vec![winner, "r3", "r4"];
    expected.sort();
    assert_eq!(ids, expected);
    // A later batch finds the code redeemed.
    assert_eq!(w.write(rows(Some(&second), "r6")).await.unwrap(), Written::CodeReplayed);
    srv.stop().await;
}

/// User rows are cached for the request path (`tessera::users::UserCache`); a change made in this
/// process, through an `ActiveModel` (as the admin API and console write) or `set_active`, is
/// seen by the next request.
#[actix_web::test]
async fn user_changes_are_seen_at_once_by_userinfo_and_the_token_endpoint() {
    use sea_orm::ActiveModelTrait;
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "dana").await;
    // The redemption, a refresh and userinfo read the user, and cache it.
    let t = tokens_for(&srv, &c, &user, "openid email offline_access").await;
    let access = t["access_token"].as_str().unwrap();
    let refreshed: Value = refresh(&srv, &c, t["refresh_token"].as_str().unwrap(), None).await.json().await.unwrap();
    let rt = refreshed["refresh_token"].as_str().unwrap();
    let info: Value = userinfo(&srv, access).await.json().await.unwrap();
    assert_eq!(info["email"], "dana@example.test");

    let mut am: users::ActiveModel = users::Entity::find_by_id(user.id.clone()).one(&srv.state.db).await.unwrap().unwrap().into();
    am.email = Set(Some("dana@new.example".into()));
    am.update(&srv.state.db).await.unwrap();
    let info: Value = userinfo(&srv, access).await.json().await.unwrap();
    assert_eq!(info["email"], "dana@new.example", "the profile change is released at once");

    // A code issued before the deactivation and redeemed after it.
    let (code, verifier) = issue_code(&srv, &c, &user, "openid email", None).await;
    tessera::users::set_active(&srv.state.db, &user.id, false, srv.state.clock.now()).await.unwrap();
    expect_error(redeem(&srv, &c, &code, &verifier).await, 400, "invalid_grant").await;
    assert_eq!(userinfo(&srv, access).await.status(), 401, "userinfo refuses the deactivated user");
    expect_error(refresh(&srv, &c, rt, None).await, 400, "invalid_grant").await;
    srv.stop().await;
}

/// A refresh token carries its row as minted, sealed (`oauth::refresh`): the exchange reads no row,
/// and the rotation still decides whether the token is current. Tokens minted before tokens were
/// sealed (random strings, found by hash) still rotate, into sealed ones; an altered token is
/// unknown; a revoked sealed token is refused.
#[actix_web::test]
async fn refresh_tokens_are_sealed_and_older_ones_still_rotate() {
    let srv = TestServer::start().await;
    let c = confidential(&srv).await;
    let user = create_user(&srv, "lena").await;
    let t = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let row = refresh_tokens::Entity::find().one(&srv.state.db).await.unwrap().unwrap();
    let opened = tessera::oauth::refresh::open(&srv.state, rt).expect("a sealed token");
    assert_eq!((&opened.id, &opened.family_id, &opened.client_id, &opened.user_id), (&row.id, &row.family_id, &row.client_id, &row.user_id));
    assert_eq!((&opened.scope, &opened.code_hash, &opened.token_hash), (&row.scope, &row.code_hash, &row.token_hash));
    assert!((opened.expires_at - row.expires_at).num_seconds().abs() < 1);
    assert!(!rt.contains(&user.id) && !rt.contains(&c.client_id) && !rt.contains("offline_access"), "nothing readable");
    // Altered: not sealed by us and not on record.
    let mut altered = rt.to_string();
    altered.replace_range(10..11, if &rt[10..11] == "A" { "B" } else { "A" });
    expect_error(refresh(&srv, &c, &altered, None).await, 400, "invalid_grant").await;
    // A token of the previous format: random, on record by its hash.
    let legacy = "legacy-refresh-token-0123456789abcdefghijklmnopq";
    let now = srv.state.clock.now();
    let row = refresh_row("legacy-id", tessera_actors::crypto::sha256_hex(legacy.as_bytes()), "legacy-family", &c.client_id, &user.id, now);
    refresh_tokens::Entity::insert(row).exec(&srv.state.db).await.unwrap();
    let next: Value = refresh(&srv, &c, legacy, None).await.json().await.unwrap();
    let successor = next["refresh_token"].as_str().expect("the legacy token rotates");
    let opened = tessera::oauth::refresh::open(&srv.state, successor).expect("into a sealed one");
    assert_eq!((opened.family_id.as_str(), opened.parent_id.as_deref()), ("legacy-family", Some("legacy-id")));
    expect_error(refresh(&srv, &c, legacy, None).await, 400, "invalid_grant").await;
    assert!(refresh_tokens::Entity::find().filter(refresh_tokens::Column::FamilyId.eq("legacy-family")).all(&srv.state.db).await.unwrap().iter().all(|r| r.revoked), "reuse revoked the family");
    // A sealed token revoked at the revocation endpoint opens, but its rotation finds it revoked.
    assert_eq!(post_as(&srv, "/api/v2/oauth/revoke", &c, &[("token", rt)]).await.status(), 200);
    expect_error(refresh(&srv, &c, rt, None).await, 400, "invalid_grant").await;
    // A rotated token presented after it expired is still reuse: its family is revoked.
    let first = tokens_for(&srv, &c, &user, "openid offline_access").await;
    let first = first["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&srv, &c, first, None).await.status(), 200);
    let family = tessera::oauth::refresh::open(&srv.state, first).unwrap().family_id;
    srv.clock.advance(srv.state.settings.refresh_token_ttl + std::time::Duration::from_secs(1));
    expect_error(refresh(&srv, &c, first, None).await, 400, "invalid_grant").await;
    let rows = refresh_tokens::Entity::find().filter(refresh_tokens::Column::FamilyId.eq(family)).all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.revoked), "the successor is revoked too");
    srv.stop().await;
}
