//! The admin REST API: authorization generated from the route table (every route needs a valid
//! token; every permission route checks its permission and audits denials), the OpenAPI document,
//! the seeded RBAC data. Areas, the permission cache and GDPR are in the submodules.

mod areas;
mod gdpr;
mod rbac;
mod sessions;
mod users;

use crate::common::TestServer;
use crate::common::admin::*;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tessera::admin::routes::{Access, ROUTES};
use tessera_cluster::Command;

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

fn protected() -> impl Iterator<Item = &'static tessera::admin::routes::Route> {
    ROUTES.iter().filter(|r| r.access != Access::Public)
}

/// Routes a sweep must not run with a working token: self-erasure, key rotation.
fn destructive(r: &tessera::admin::routes::Route) -> bool {
    r.path == "/api/v2/me" || r.path == "/api/v2/keys/rotate"
}

async fn expect_401(srv: &TestServer, token: Option<&str>, case: &str) {
    for r in protected() {
        let body = (r.request.is_some()).then(|| json!({}));
        let res = call(srv, method(r.verb), &fill(r.path, NO_SUCH_ID), token, body).await;
        let what = format!("{case}: {} {}", r.verb.as_str(), r.path);
        assert_eq!(res.status, 401, "{what}: {}", res.text);
        assert_eq!(res.body["error"], "invalid_token", "{what}");
        let challenge = res.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
        assert_eq!(res.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{what}");
    }
}

#[actix_web::test]
async fn every_route_needs_a_valid_token() {
    let srv = TestServer::start().await;
    let (admin, good) = user_with_token(&srv, "root", &["super_admin"]).await;

    expect_401(&srv, None, "no token").await;
    expect_401(&srv, Some("not-a-jwt"), "garbage").await;

    let mut expired = claims(&srv, &admin);
    expired["exp"] = json!(now(&srv).timestamp() - 1);
    expect_401(&srv, Some(&sign(&srv, &expired, "at+jwt").await), "expired").await;

    let id_token_typ = sign(&srv, &claims(&srv, &admin), "JWT").await;
    expect_401(&srv, Some(&id_token_typ), "typ JWT").await;

    let mut other_issuer = claims(&srv, &admin);
    other_issuer["iss"] = json!("https://evil.example");
    expect_401(&srv, Some(&sign(&srv, &other_issuer, "at+jwt").await), "foreign issuer").await;

    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    expect_401(&srv, Some(&tampered), "bad signature").await;

    let ghost = mint_token(&srv, NO_SUCH_ID).await;
    expect_401(&srv, Some(&ghost), "unknown user").await;

    let revoked_claims = claims(&srv, &admin);
    let revoked = sign(&srv, &revoked_claims, "at+jwt").await;
    assert_eq!(get(&srv, "/api/v2/users", &revoked).await.status, 200);
    let at = now(&srv).timestamp();
    let jti = revoked_claims["jti"].as_str().unwrap().to_string();
    srv.state.ring.cluster().propose(Command::Revoke { jti, expires_at: at + 3600, at }).await.unwrap();
    expect_401(&srv, Some(&revoked), "revoked").await;

    // The valid token still passes authentication everywhere (skipping self-erasure and rotation).
    for r in protected().filter(|r| !destructive(r)) {
        let res = call(&srv, method(r.verb), &fill(r.path, NO_SUCH_ID), Some(&good), r.request.map(|_| json!({}))).await;
        assert_ne!(res.status, 401, "{} {}: {}", r.verb.as_str(), r.path, res.text);
    }
    srv.stop().await;
}

#[actix_web::test]
async fn the_admin_api_needs_a_user_token_with_the_admin_scope() {
    use crate::common::tokens::{register, token, tokens_for};
    let srv = TestServer::start().await;
    let (root_id, _) = user_with_token(&srv, "root", &["super_admin"]).await;

    // A super administrator's token for some other application: valid, but not for this API.
    let mut other_app = claims(&srv, &root_id);
    other_app["scope"] = json!("openid profile");
    let other_app = sign(&srv, &other_app, "at+jwt").await;
    for r in protected() {
        let res = call(&srv, method(r.verb), &fill(r.path, NO_SUCH_ID), Some(&other_app), r.request.map(|_| json!({}))).await;
        let what = format!("{} {}", r.verb.as_str(), r.path);
        assert_eq!(res.status, 403, "{what}: {}", res.text);
        assert_eq!(res.body["error"], "insufficient_scope", "{what}");
        let challenge = res.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"admin\""), "{what}: {challenge:?}");
    }

    // Clients can ask for it: discovery lists it.
    let discovery: Value = crate::common::client().get(srv.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(discovery["scopes_supported"].as_array().unwrap().contains(&json!("admin")), "{discovery}");

    // Through the token endpoint: the same user's token works with the admin scope only.
    let user = tessera_entity::users::Entity::find_by_id(root_id.clone()).one(&srv.state.db).await.unwrap().unwrap();
    let console = register(&srv, false, &["authorization_code", "refresh_token", "client_credentials"], &["openid", "profile", "admin"]).await;
    let with_admin = tokens_for(&srv, &console, &user, "openid admin").await;
    assert_eq!(get(&srv, "/api/v2/users", with_admin["access_token"].as_str().unwrap()).await.status, 200);
    let without = tokens_for(&srv, &console, &user, "openid profile").await;
    let res = get(&srv, "/api/v2/users", without["access_token"].as_str().unwrap()).await;
    assert_eq!((res.status, res.body["error"].as_str()), (403, Some("insufficient_scope")), "{}", res.text);

    // A client-credentials token (no user; sub is the client) is refused even with the scope.
    let cc = token(&srv, &console, &[("grant_type", "client_credentials"), ("scope", "admin")]).await;
    assert_eq!(cc.status(), 200);
    let cc: Value = cc.json().await.unwrap();
    assert_eq!(cc["scope"], "admin");
    let res = get(&srv, "/api/v2/users", cc["access_token"].as_str().unwrap()).await;
    assert_eq!((res.status, res.body["error"].as_str()), (401, Some("invalid_token")), "{}", res.text);
    srv.stop().await;
}

#[actix_web::test]
async fn every_route_checks_its_permission_and_audits_denials() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (nobody_id, nobody) = user_with_token(&srv, "nobody", &["user"]).await;

    let mut denied = 0;
    for r in ROUTES.iter().filter(|r| r.path != "/api/v2/me") {
        let res = call(&srv, method(r.verb), &fill(r.path, NO_SUCH_ID), Some(&nobody), r.request.map(|_| json!({}))).await;
        let what = format!("{} {}", r.verb.as_str(), r.path);
        match r.access.permission() {
            Some(p) => {
                denied += 1;
                assert_eq!(res.status, 403, "{what}: {}", res.text);
                assert_eq!(res.body["error"], "forbidden", "{what}");
                assert_eq!(res.body["required_permission"], p, "{what}");
            }
            None => assert!(res.status != 401 && res.status != 403, "{what} is open to any user: {} {}", res.status, res.text),
        }
    }
    let rows = audit_rows(&srv, "PERMISSION_DENIED").await;
    assert_eq!(rows.len(), denied, "one PERMISSION_DENIED per denial");
    for r in ROUTES.iter().filter(|r| r.access.permission().is_some()) {
        let route = format!("{} {}", r.verb.as_str(), r.path);
        let row = rows.iter().find(|a| a.resource_id.as_deref() == Some(route.as_str())).unwrap_or_else(|| panic!("no audit row for {route}"));
        assert_eq!(row.severity, "warning");
        assert_eq!(row.user_id.as_deref(), Some(nobody_id.as_str()));
        assert_eq!(row.details.as_ref().unwrap()["permission"], r.access.permission().unwrap());
    }

    // Holding exactly the route's permission is enough: a role per permission.
    for p in tessera::admin::routes::required_permissions() {
        let role = format!("only_{}", p.replace([':', '-'], "_"));
        let res = post(&srv, "/api/v2/roles", &root, json!({ "name": role, "display_name": p, "permissions": [p] })).await;
        assert_eq!(res.status, 201, "{}", res.text);
        let (_, token) = user_with_token(&srv, &format!("holder-{role}"), &[&role]).await;
        for r in ROUTES.iter().filter(|r| r.access.permission() == Some(p)) {
            if destructive(r) {
                continue; // covered in areas::keys_list_and_rotate
            }
            let res = call(&srv, method(r.verb), &fill(r.path, NO_SUCH_ID), Some(&token), r.request.map(|_| json!({}))).await;
            assert!(res.status != 401 && res.status != 403, "{} {} with {p}: {} {}", r.verb.as_str(), r.path, res.status, res.text);
        }
    }
    srv.stop().await;
}

#[actix_web::test]
async fn openapi_document_is_generated_from_the_route_table() {
    let srv = TestServer::start().await;
    let res = crate::common::client().get(srv.url("/api/v2/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], &*srv.state.issuer);
    let mut ops = 0;
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.verb.as_str().to_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.verb.as_str(), r.path);
        assert_eq!(op["summary"], r.summary);
        assert_eq!(op["x-required-permission"].as_str(), r.access.permission());
        assert!(op["responses"][r.status.to_string()].is_object());
        if r.access != Access::Public {
            assert_eq!(op["security"][0]["bearer"], json!([]));
            assert!(op["responses"]["401"].is_object());
        }
        if r.request.is_some() {
            assert_eq!(op["requestBody"]["content"]["application/json"]["schema"]["type"], "object");
        }
        for p in r.path.split('/').filter(|s| s.starts_with('{')) {
            let name = p.trim_matches(['{', '}']);
            assert!(op["parameters"].as_array().unwrap().iter().any(|x| x["name"] == name && x["in"] == "path"), "{} lacks {name}", r.path);
        }
        ops += 1;
    }
    let served: usize = doc["paths"].as_object().unwrap().values().map(|m| m.as_object().unwrap().len()).sum();
    assert_eq!(served, ops, "the document has exactly the table's operations");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    srv.stop().await;
}

#[actix_web::test]
async fn seeded_roles_and_permissions() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let roles = get(&srv, "/api/v2/roles?limit=100", &root).await;
    assert_eq!(roles.status, 200);
    let by_name = |n: &str| roles.body["roles"].as_array().unwrap().iter().find(|r| r["name"] == n).cloned().unwrap_or_else(|| panic!("role {n}"));
    let perms = get(&srv, "/api/v2/permissions?limit=100", &root).await;
    let names: Vec<&str> = perms.body["permissions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(perms.body["pagination"]["total"], 28);
    for p in tessera::admin::routes::required_permissions() {
        assert!(names.contains(&p), "route permission {p} is not seeded");
    }
    let sa = by_name("super_admin");
    assert_eq!(sa["is_system"], true);
    assert_eq!(sa["permissions"].as_array().unwrap().len(), 28);
    let admin = by_name("admin");
    let admin_perms: Vec<&str> = admin["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(admin_perms.len(), 25);
    for withheld in ["roles:delete", "permissions:delete", "system:keys"] {
        assert!(!admin_perms.contains(&withheld), "{withheld}");
    }
    assert_eq!(by_name("user")["permissions"], json!([]));
    let menu = get(&srv, "/api/v2/permissions?category=menu", &root).await;
    assert_eq!(menu.body["pagination"]["total"], 7);
    let bad = get(&srv, "/api/v2/permissions?category=nope&limit=0", &root).await;
    assert_eq!(bad.status, 400);
    let fields: Vec<&str> = bad.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["limit", "category"]);
    srv.stop().await;
}
