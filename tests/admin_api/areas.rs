//! Clients (secret regeneration), audit-log search and CSV, sessions, keys, configuration.

use crate::common::TestServer;
use crate::common::admin::*;
use chrono::Duration;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::json;
use tessera::clients::Client;
use tessera_entity::{audit_logs, sessions};

#[actix_web::test]
async fn clients_crud_and_secret_regeneration() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;

    let bad = post(&srv, "/api/v2/clients", &root, json!({ "name": "", "redirect_uris": ["http://evil.example/cb", "https://ok.example/cb#frag"], "grant_types": ["password"] })).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let f: Vec<&str> = bad.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(f, ["name", "redirect_uris[0]", "redirect_uris[1]", "grant_types[0]"]);
    let public_cc = post(&srv, "/api/v2/clients", &root, json!({ "name": "x", "is_public": true, "grant_types": ["client_credentials"] })).await;
    assert_eq!(public_cc.status, 400);

    let made = post(&srv, "/api/v2/clients", &root, json!({ "name": "Billing", "description": "billing app", "redirect_uris": ["https://billing.example/cb"] })).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["id"].as_str().unwrap().to_string();
    let client_id = made.body["client_id"].as_str().unwrap().to_string();
    let first = made.body["client_secret"].as_str().unwrap().to_string();
    assert_eq!(made.body["description"], "billing app");
    let stored = || async { tessera::clients::find(&srv.state.db, &client_id).await.unwrap().unwrap() };
    let c: Client = stored().await;
    assert!(c.secret_matches(&srv.state.pepper, &first));

    let shown = get(&srv, &format!("/api/v2/clients/{client_id}"), &root).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.get("client_secret").is_none() && !shown.text.contains(&first));
    assert!(!shown.text.contains(c.secret_hash.as_deref().unwrap()));

    let regen = post(&srv, &format!("/api/v2/clients/{id}/regenerate-secret"), &root, json!({})).await;
    assert_eq!(regen.status, 200, "{}", regen.text);
    let second = regen.body["client_secret"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    let c = stored().await;
    assert!(!c.secret_matches(&srv.state.pepper, &first), "the old secret stops working");
    assert!(c.secret_matches(&srv.state.pepper, &second));
    let audit = audit_rows(&srv, "CLIENT_SECRET_REGENERATED").await;
    assert_eq!(audit.len(), 1);
    let all_audit = format!("{:?}", audit_rows(&srv, "CLIENT_CREATED").await) + &format!("{audit:?}");
    assert!(!all_audit.contains(&first) && !all_audit.contains(&second), "secrets never reach the audit trail");

    let public = post(&srv, "/api/v2/clients", &root, json!({ "name": "SPA", "is_public": true, "redirect_uris": ["http://127.0.0.1/cb"] })).await;
    assert_eq!(public.status, 201);
    assert_eq!(public.body["client_secret"], serde_json::Value::Null);
    assert_eq!(post(&srv, &format!("/api/v2/clients/{}/regenerate-secret", public.body["id"].as_str().unwrap()), &root, json!({})).await.status, 409);

    let upd = patch(&srv, &format!("/api/v2/clients/{id}"), &root, json!({ "scopes": ["openid", "billing:read"], "is_active": false })).await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.body["scopes"], json!(["openid", "billing:read"]));
    assert_eq!(upd.body["is_active"], false);
    assert_eq!(patch(&srv, &format!("/api/v2/clients/{id}"), &root, json!({ "redirect_uris": [] })).await.status, 400);
    let list = get(&srv, "/api/v2/clients", &root).await;
    assert_eq!(list.body["pagination"]["total"], 2);
    assert_eq!(delete(&srv, &format!("/api/v2/clients/{id}"), &root).await.status, 204);
    assert_eq!(get(&srv, &format!("/api/v2/clients/{id}"), &root).await.status, 404);
    srv.stop().await;
}

async fn audit_row(srv: &TestServer, action: &str, severity: &str, user: Option<&str>, client: Option<&str>, minutes_ago: i64, details: serde_json::Value) {
    audit_logs::Entity::insert(audit_logs::ActiveModel {
        action: Set(action.into()),
        user_id: Set(user.map(str::to_string)),
        client_id: Set(client.map(str::to_string)),
        resource_type: Set(None),
        resource_id: Set(None),
        details: Set(Some(details)),
        ip_address: Set(Some("192.0.2.7".into())),
        user_agent: Set(Some("=HYPERLINK(\"x\")".into())),
        severity: Set(severity.into()),
        created_at: Set(now(srv) - Duration::minutes(minutes_ago)),
        ..Default::default()
    })
    .exec_without_returning(&srv.state.db)
    .await
    .unwrap();
}

#[actix_web::test]
async fn audit_log_filters_and_csv_export() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    audit_row(&srv, "USER_LOGIN_FAILED", "warning", Some("u1"), Some("app"), 120, json!({ "reason": "bad, \"password\"" })).await;
    audit_row(&srv, "USER_LOGIN_SUCCESS", "info", Some("u1"), Some("app"), 60, json!({})).await;
    audit_row(&srv, "USER_LOGIN_SUCCESS", "info", Some("u2"), Some("other"), 30, json!({})).await;
    audit_row(&srv, "KEYS_ROTATED", "critical", None, None, 10, json!({})).await;

    let total = |q: &str| {
        let q = q.to_string();
        let srv = &srv;
        let root = root.clone();
        async move {
            let r = get(srv, &format!("/api/v2/audit-logs?{q}"), &root).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            r.body["pagination"]["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total("action=USER_LOGIN_SUCCESS").await, 2);
    assert_eq!(total("severity=critical").await, 1);
    assert_eq!(total("user_id=u1").await, 2);
    assert_eq!(total("client_id=other").await, 1);
    let from = (now(&srv) - Duration::minutes(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (now(&srv) - Duration::minutes(20)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(total(&format!("from={from}&to={to}")).await, 2);
    assert_eq!(total(&format!("from={from}&to={to}&user_id=u2")).await, 1);
    let page = get(&srv, "/api/v2/audit-logs?action=USER_LOGIN_SUCCESS&limit=1&page=1", &root).await;
    assert_eq!(page.body["audit_logs"][0]["user_id"], "u2", "newest first");
    assert_eq!(page.body["pagination"]["pages"], 2);

    let bad = get(&srv, "/api/v2/audit-logs?severity=loud&from=yesterday&format=xml", &root).await;
    assert_eq!(bad.status, 400);
    let f: Vec<&str> = bad.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(f, ["format", "from", "severity"], "every error at once");

    for path in ["/api/v2/audit-logs?format=csv&user_id=u1", "/api/v2/audit-logs/export?user_id=u1"] {
        let res = crate::common::client().get(srv.url(path)).bearer_auth(&root).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let csv = res.text().await.unwrap();
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert_eq!(lines[0], "id,created_at,action,severity,user_id,client_id,resource_type,resource_id,ip_address,user_agent,details");
        assert!(lines[1].contains(",USER_LOGIN_SUCCESS,info,u1,app,"));
        assert!(lines[2].contains("\"'=HYPERLINK(\"\"x\"\")\""), "formula defused and quoted: {}", lines[2]);
        assert!(lines[2].contains("\"{\"\"reason\"\":\"\"bad, \\\"\"password\\\"\"\"\"}\""), "{}", lines[2]);
    }
    srv.stop().await;
}

#[actix_web::test]
async fn sessions_list_and_terminate() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let uid = create_user(&srv, "sam", &[]).await;
    let t = now(&srv);
    for (id, ends) in [("a".repeat(64), t + Duration::hours(1)), ("b".repeat(64), t + Duration::hours(2)), ("c".repeat(64), t - Duration::minutes(1))] {
        sessions::Entity::insert(sessions::ActiveModel {
            id: Set(id),
            user_id: Set(uid.clone()),
            auth_time: Set(t),
            last_seen_at: Set(t),
            expires_at: Set(ends),
            ip_address: Set(Some("198.51.100.1".into())),
            user_agent: Set(Some("test".into())),
            created_at: Set(t),
        })
        .exec_without_returning(&srv.state.db)
        .await
        .unwrap();
    }
    let list = get(&srv, &format!("/api/v2/sessions?user_id={uid}"), &root).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["pagination"]["total"], 2, "ended sessions are hidden by default");
    assert_eq!(list.body["sessions"][0]["username"], "sam");
    let all = get(&srv, &format!("/api/v2/sessions?user_id={uid}&include_expired=true"), &root).await;
    assert_eq!(all.body["pagination"]["total"], 3);
    assert_eq!(get(&srv, "/api/v2/sessions?include_expired=maybe", &root).await.status, 400);

    let sid = "a".repeat(64);
    assert_eq!(delete(&srv, &format!("/api/v2/sessions/{sid}"), &root).await.status, 204);
    assert_eq!(delete(&srv, &format!("/api/v2/sessions/{sid}"), &root).await.status, 404);
    assert!(sessions::Entity::find_by_id(sid).one(&srv.state.db).await.unwrap().is_none());
    let ev = audit_rows(&srv, "SESSION_TERMINATED").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].resource_id.as_deref(), Some(uid.as_str()));
    srv.stop().await;
}

#[actix_web::test]
async fn keys_list_and_rotate() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (_, admin) = user_with_token(&srv, "adm", &["admin"]).await;
    assert_eq!(get(&srv, "/api/v2/keys", &admin).await.status, 403, "admin does not manage keys");
    let keys = get(&srv, "/api/v2/keys", &root).await;
    assert_eq!(keys.status, 200);
    let list = keys.body["keys"].as_array().unwrap();
    assert!(list.iter().any(|k| k["alg"] == "RS256" && k["state"] == "active"));
    for private in ["\"d\"", "sealed", "private"] {
        assert!(!keys.text.contains(private), "{private} in {}", keys.text);
    }
    let rot = post(&srv, "/api/v2/keys/rotate", &root, json!({})).await;
    assert_eq!(rot.status, 202, "{}", rot.text);
    let published: Vec<String> = rot.body["published"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    assert!(!published.is_empty());
    let after = get(&srv, "/api/v2/keys", &root).await;
    for kid in &published {
        assert!(after.body["keys"].as_array().unwrap().iter().any(|k| &k["kid"] == kid && k["state"] == "published"), "{kid}");
    }
    assert_eq!(audit_rows(&srv, "KEYS_ROTATED").await[0].severity, "critical");
    srv.stop().await;
}

#[actix_web::test]
async fn system_config_has_no_secrets() {
    let srv = TestServer::start_with(|env| {
        env.insert("CLUSTER_SECRET".into(), "cluster-secret-0123456789".into());
    })
    .await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let res = get(&srv, "/api/v2/system/config", &root).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let cfg = &res.body["config"];
    assert_eq!(cfg["KEY_ENCRYPTION_KEY"], "[redacted]");
    assert_eq!(cfg["CLUSTER_SECRET"], "[redacted]");
    assert_eq!(cfg["ISSUER"], &*srv.state.issuer);
    assert!(cfg["DATABASE_URL"].as_str().is_some());
    for secret in ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "cluster-secret-0123456789"] {
        assert!(!res.text.contains(secret), "secret in the config view");
    }
    let pepper: String = srv.state.pepper.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!res.text.contains(&pepper));
    srv.stop().await;
}

/// Client-credentials tokens have no `access_tokens` row; revoking one (RFC 7009) and deleting
/// their client still refuse them, through the cluster revocation set.
#[actix_web::test]
async fn client_credentials_tokens_have_no_row_and_die_with_their_client() {
    use crate::common::tokens::{introspect, post_as, register, token};
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    use tessera_entity::access_tokens;
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let service = register(&srv, false, &["client_credentials"], &["api.read"]).await;
    let resource_server = register(&srv, false, &["client_credentials"], &["api.read"]).await;
    let mut issued = Vec::new();
    for _ in 0..2 {
        let res = token(&srv, &service, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
        issued.push(res.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string());
    }
    let rows = access_tokens::Entity::find().filter(access_tokens::Column::ClientId.eq(&service.client_id)).count(&srv.state.db).await.unwrap();
    assert_eq!(rows, 0, "no row for client-credentials tokens");
    for t in &issued {
        assert_eq!(introspect(&srv, &resource_server, t).await["active"], true);
    }

    assert_eq!(post_as(&srv, "/api/v2/oauth/revoke", &service, &[("token", &issued[0])]).await.status(), 200);
    assert_eq!(introspect(&srv, &resource_server, &issued[0]).await, json!({ "active": false }), "revoked without a row");
    assert_eq!(introspect(&srv, &resource_server, &issued[1]).await["active"], true, "the other token lives on");

    assert_eq!(delete(&srv, &format!("/api/v2/clients/{}", service.client_id), &root).await.status, 204);
    assert_eq!(introspect(&srv, &resource_server, &issued[1]).await, json!({ "active": false }), "dies with its client");
    assert!(srv.state.ring.cluster().is_revoked(&tessera::oauth::jwt::client_revocation(&service.client_id)));
    assert_eq!(introspect(&srv, &resource_server, &issued[0]).await, json!({ "active": false }));
    srv.stop().await;
}
