//! Users: create/list/search/update/reset/deactivate, role assignment rules, validation.

use crate::common::TestServer;
use crate::common::admin::*;
use sea_orm::EntityTrait;
use serde_json::json;
use tessera_entity::users;

fn fields(body: &serde_json::Value) -> Vec<String> {
    body["details"].as_array().map(|d| d.iter().map(|e| e["field"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
}

#[actix_web::test]
async fn users_crud_search_and_validation() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;

    let bad = post(&srv, "/api/v2/users", &root, json!({ "username": "a", "password": "short", "email": "nope", "colour": "red", "roles": ["no_such_role"] })).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.body["error"], "validation_failed");
    assert_eq!(fields(&bad.body), ["username", "password", "email", "colour"]);
    let not_json = crate::common::client().post(srv.url("/api/v2/users")).bearer_auth(&root).body("{oops").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    // The one password policy (crate::users::password): long enough is not enough.
    let weak = post(&srv, "/api/v2/users", &root, json!({ "username": "weak", "password": "correct horse battery" })).await;
    assert_eq!((weak.status, fields(&weak.body)), (400, vec!["password".to_string()]), "{}", weak.text);
    assert!(weak.text.contains("three of"), "{}", weak.text);
    let unknown_role = post(&srv, "/api/v2/users", &root, json!({ "username": "alice", "password": "Correct horse battery", "roles": ["no_such_role"] })).await;
    assert_eq!((unknown_role.status, fields(&unknown_role.body)), (400, vec!["roles[0]".to_string()]));

    let made = post(&srv, "/api/v2/users", &root, json!({ "username": "alice", "password": "Correct horse battery", "email": "alice@example.test", "display_name": "Alice Liddell", "roles": ["admin"] })).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let alice = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(made.body["roles"][0]["name"], "admin");
    assert_eq!(made.body["must_change_password"], true);
    assert!(made.body.get("password_hash").is_none() && !made.text.contains("argon2"));
    let row = users::Entity::find_by_id(alice.clone()).one(&srv.state.db).await.unwrap().unwrap();
    assert!(row.password_hash.starts_with("$argon2id$"));
    let dup = post(&srv, "/api/v2/users", &root, json!({ "username": "alice", "password": "Correct horse battery" })).await;
    assert_eq!(dup.status, 409);

    for i in 0..3 {
        create_user(&srv, &format!("bob{i}"), &[]).await;
    }
    let page = get(&srv, "/api/v2/users?search=BOB&limit=2&page=2", &root).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["pagination"], json!({ "page": 2, "limit": 2, "total": 3, "pages": 2 }));
    assert_eq!(page.body["users"].as_array().unwrap().len(), 1);
    let wild = get(&srv, "/api/v2/users?search=%25", &root).await;
    assert_eq!(wild.body["pagination"]["total"], 0, "% is matched literally");
    let by_mail = get(&srv, "/api/v2/users?search=liddell", &root).await;
    assert_eq!(by_mail.body["users"][0]["id"], alice.as_str());

    let upd = patch(&srv, &format!("/api/v2/users/{alice}"), &root, json!({ "display_name": null, "email_verified": true })).await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.body["display_name"], serde_json::Value::Null);
    assert_eq!(upd.body["email_verified"], true);
    let bad_patch = patch(&srv, &format!("/api/v2/users/{alice}"), &root, json!({ "is_active": "yes" })).await;
    assert_eq!((bad_patch.status, fields(&bad_patch.body)), (400, vec!["is_active".to_string()]));
    let audit = audit_rows(&srv, "USER_UPDATED").await;
    assert_eq!(audit.len(), 1);
    let d = audit[0].details.as_ref().unwrap();
    assert_eq!(d["before"]["display_name"], "Alice Liddell");
    assert_eq!(d["after"]["display_name"], serde_json::Value::Null);
    let created = audit_rows(&srv, "USER_CREATED").await;
    assert!(!format!("{:?}", created).contains("orrect horse"), "no password in the audit trail");

    let reset = post(&srv, &format!("/api/v2/users/{alice}/reset-password"), &root, json!({})).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let temp = reset.body["temporary_password"].as_str().unwrap();
    assert!(temp.len() >= 20);
    assert!(tessera::users::check_password_policy(temp).is_ok(), "{temp}");
    let after = users::Entity::find_by_id(alice.clone()).one(&srv.state.db).await.unwrap().unwrap();
    assert_ne!(after.password_hash, row.password_hash);
    assert_eq!(post(&srv, &format!("/api/v2/users/{alice}/reset-password"), &root, json!({ "password": "x" })).await.status, 400);
    assert_eq!(post(&srv, &format!("/api/v2/users/{alice}/reset-password"), &root, json!({ "password": "Short-1x" })).await.status, 200);

    assert_eq!(get(&srv, &format!("/api/v2/users/{}", uuid::Uuid::new_v4()), &root).await.status, 404);
    srv.stop().await;
}

#[actix_web::test]
async fn role_assignment_rules_and_deactivation() {
    let srv = TestServer::start().await;
    let (root_id, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (_admin_id, admin) = user_with_token(&srv, "adm", &["admin"]).await;
    let (carol, carol_token) = user_with_token(&srv, "carol", &[]).await;

    // An admin cannot hand out super_admin (it grants what admin lacks), nor take it away.
    let escalate = post(&srv, &format!("/api/v2/users/{carol}/roles"), &admin, json!({ "role": "super_admin" })).await;
    assert_eq!(escalate.status, 403, "{}", escalate.text);
    assert!(escalate.body["error_description"].as_str().unwrap().contains("system:keys"));
    assert_eq!(delete(&srv, &format!("/api/v2/users/{root_id}/roles/super_admin"), &admin).await.status, 403);

    let past = post(&srv, &format!("/api/v2/users/{carol}/roles"), &admin, json!({ "role": "admin", "expires_at": "2001-01-01T00:00:00Z" })).await;
    assert_eq!((past.status, fields(&past.body)), (400, vec!["expires_at".to_string()]));
    let no_role = post(&srv, &format!("/api/v2/users/{carol}/roles"), &admin, json!({ "role": "ghost" })).await;
    assert_eq!((no_role.status, fields(&no_role.body)), (400, vec!["role".to_string()]));

    assert_eq!(get(&srv, "/api/v2/users", &carol_token).await.status, 403);
    let ok = post(&srv, &format!("/api/v2/users/{carol}/roles"), &admin, json!({ "role": "admin" })).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["roles"][0]["role"]["name"], "admin");
    assert_eq!(ok.body["roles"][0]["active"], true);
    assert_eq!(get(&srv, "/api/v2/users", &carol_token).await.status, 200);
    let listed = get(&srv, &format!("/api/v2/users/{carol}/roles"), &admin).await;
    assert_eq!(listed.body["roles"].as_array().unwrap().len(), 1);
    assert_eq!(audit_rows(&srv, "ROLE_ASSIGNED").await.len(), 1);

    // The last active super administrator cannot be removed, deactivated or erased.
    assert_eq!(delete(&srv, &format!("/api/v2/users/{root_id}/roles/super_admin"), &root).await.status, 409);
    assert_eq!(post(&srv, &format!("/api/v2/users/{root_id}/deactivate"), &root, json!({})).await.status, 409);
    assert_eq!(patch(&srv, &format!("/api/v2/users/{root_id}"), &root, json!({ "is_active": false })).await.status, 409);
    assert_eq!(delete(&srv, &format!("/api/v2/users/{root_id}"), &root).await.status, 409);

    // Deactivation: the user's token stops working at once; their access tokens are revoked.
    let deact = post(&srv, &format!("/api/v2/users/{carol}/deactivate"), &admin, json!({})).await;
    assert_eq!(deact.status, 200, "{}", deact.text);
    assert_eq!(deact.body["is_active"], false);
    let res = get(&srv, "/api/v2/users", &carol_token).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["error"], "invalid_token");
    let ev = audit_rows(&srv, "USER_DEACTIVATED").await;
    assert_eq!(ev[0].details.as_ref().unwrap()["ended"]["access_tokens_revoked"], 1);
    let reactivated = patch(&srv, &format!("/api/v2/users/{carol}"), &admin, json!({ "is_active": true })).await;
    assert_eq!(reactivated.body["is_active"], true);
    assert_eq!(get(&srv, "/api/v2/users", &carol_token).await.status, 401, "revoked tokens stay revoked");
    let fresh = mint_token(&srv, &carol).await;
    assert_eq!(get(&srv, "/api/v2/users", &fresh).await.status, 200);

    assert_eq!(delete(&srv, &format!("/api/v2/users/{carol}/roles/admin"), &admin).await.status, 204);
    assert_eq!(delete(&srv, &format!("/api/v2/users/{carol}/roles/admin"), &admin).await.status, 404);
    assert_eq!(get(&srv, "/api/v2/users", &fresh).await.status, 403);
    srv.stop().await;
}
