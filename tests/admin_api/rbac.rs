//! Roles and permissions through the API, and the permission cache: invalidation on every change,
//! expiring assignments, and a Redis outage.

use crate::common::TestServer;
use crate::common::admin::*;
use serde_json::json;
use std::process::Command as Process;
use std::time::{Duration, Instant};
use tessera::rbac::Source;

/// The status of `GET /api/v2/users` with this token.
async fn list_users(srv: &TestServer, token: &str) -> u16 {
    get(srv, "/api/v2/users", token).await.status
}

#[actix_web::test]
async fn roles_and_permissions_crud() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (_, admin) = user_with_token(&srv, "adm", &["admin"]).await;

    let bad = post(&srv, "/api/v2/roles", &root, json!({ "name": "Bad Name", "permissions": ["nope:nope"] })).await;
    assert_eq!(bad.status, 400);
    let f: Vec<&str> = bad.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(f, ["name", "display_name"]);

    let made = post(&srv, "/api/v2/roles", &root, json!({ "name": "auditor", "display_name": "Auditor", "permissions": ["audit:list", "menu:audit"] })).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let rid = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(made.body["permissions"], json!(["audit:list", "menu:audit"]));
    assert_eq!(post(&srv, "/api/v2/roles", &root, json!({ "name": "auditor", "display_name": "Again" })).await.status, 409);
    // admin cannot build a role with a permission it lacks.
    assert_eq!(post(&srv, "/api/v2/roles", &admin, json!({ "name": "keyholder", "display_name": "K", "permissions": ["system:keys"] })).await.status, 403);

    let set = put(&srv, &format!("/api/v2/roles/{rid}/permissions"), &root, json!({ "permissions": ["audit:list", "users:list"] })).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let names: Vec<&str> = set.body["permissions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["audit:list", "users:list"]);
    let add = post(&srv, &format!("/api/v2/roles/{rid}/permissions"), &root, json!({ "permissions": ["clients:list"] })).await;
    assert_eq!(add.body["permissions"].as_array().unwrap().len(), 3);
    assert_eq!(post(&srv, &format!("/api/v2/roles/{rid}/permissions"), &root, json!({ "permissions": ["x:y"] })).await.status, 400);
    assert_eq!(delete(&srv, &format!("/api/v2/roles/{rid}/permissions/clients:list"), &root).await.status, 204);
    assert_eq!(delete(&srv, &format!("/api/v2/roles/{rid}/permissions/clients:list"), &root).await.status, 404);
    let changes = audit_rows(&srv, "ROLE_PERMISSIONS_CHANGED").await;
    assert_eq!(changes.len(), 3);

    let upd = patch(&srv, "/api/v2/roles/auditor", &root, json!({ "display_name": "Auditors", "description": "read the trail" })).await;
    assert_eq!((upd.status, upd.body["display_name"].as_str()), (200, Some("Auditors")));
    assert_eq!(patch(&srv, "/api/v2/roles/admin", &root, json!({ "is_active": false })).await.status, 409);
    assert_eq!(delete(&srv, "/api/v2/roles/user", &root).await.status, 409);
    assert_eq!(put(&srv, "/api/v2/roles/super_admin/permissions", &root, json!({ "permissions": [] })).await.status, 409);

    // Permissions: a new one goes to super_admin; route permissions cannot be deleted.
    let bad_p = post(&srv, "/api/v2/permissions", &root, json!({ "name": "reports", "display_name": "R", "category": "other" })).await;
    let f: Vec<&str> = bad_p.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!((bad_p.status, f), (400, vec!["name", "category"]));
    let p = post(&srv, "/api/v2/permissions", &root, json!({ "name": "reports:export", "display_name": "Export reports" })).await;
    assert_eq!(p.status, 201, "{}", p.text);
    assert_eq!((p.body["resource"].as_str(), p.body["action"].as_str(), p.body["category"].as_str()), (Some("reports"), Some("export"), Some("api")));
    let check = post(&srv, "/api/v2/me/permissions/check", &root, json!({ "permissions": ["reports:export", "nope:nope"] })).await;
    assert_eq!(check.body["results"], json!({ "reports:export": true, "nope:nope": false }));
    assert_eq!(delete(&srv, "/api/v2/permissions/users:list", &root).await.status, 409);
    assert_eq!(patch(&srv, "/api/v2/permissions/permissions:update", &root, json!({ "is_active": false })).await.status, 409);
    let pid = p.body["id"].as_str().unwrap();
    assert_eq!(get(&srv, &format!("/api/v2/permissions/{pid}"), &root).await.body["name"], "reports:export");
    assert_eq!(delete(&srv, &format!("/api/v2/permissions/{pid}"), &root).await.status, 204);
    let check = post(&srv, "/api/v2/me/permissions/check", &root, json!({ "permissions": ["reports:export"] })).await;
    assert_eq!(check.body["results"]["reports:export"], false, "deleting a permission invalidates its holders");

    assert_eq!(delete(&srv, &format!("/api/v2/roles/{rid}"), &root).await.status, 204);
    assert_eq!(get(&srv, &format!("/api/v2/roles/{rid}"), &root).await.status, 404);
    srv.stop().await;
}

#[actix_web::test]
async fn removing_a_role_takes_effect_on_the_next_request() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (uid, token) = user_with_token(&srv, "dora", &["admin"]).await;

    // 1. Unassigning the role.
    assert_eq!(list_users(&srv, &token).await, 200, "warms the cache");
    assert_eq!(delete(&srv, &format!("/api/v2/users/{uid}/roles/admin"), &root).await.status, 204);
    assert_eq!(list_users(&srv, &token).await, 403);

    // 2. Removing the permission from a role the user holds.
    post(&srv, "/api/v2/roles", &root, json!({ "name": "lister", "display_name": "Lister", "permissions": ["users:list"] })).await;
    assert_eq!(post(&srv, &format!("/api/v2/users/{uid}/roles"), &root, json!({ "role": "lister" })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(delete(&srv, "/api/v2/roles/lister/permissions/users:list", &root).await.status, 204);
    assert_eq!(list_users(&srv, &token).await, 403);

    // 3. Deactivating the role; 4. deactivating the permission; 5. deleting the role.
    put(&srv, "/api/v2/roles/lister/permissions", &root, json!({ "permissions": ["users:list"] })).await;
    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(patch(&srv, "/api/v2/roles/lister", &root, json!({ "is_active": false })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 403);
    patch(&srv, "/api/v2/roles/lister", &root, json!({ "is_active": true })).await;
    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(patch(&srv, "/api/v2/permissions/users:list", &root, json!({ "is_active": false })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 403);
    assert_eq!(list_users(&srv, &root).await, 403, "even super_admin loses a deactivated permission");
    patch(&srv, "/api/v2/permissions/users:list", &root, json!({ "is_active": true })).await;
    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(delete(&srv, "/api/v2/roles/lister", &root).await.status, 204);
    assert_eq!(list_users(&srv, &token).await, 403);

    // 6. Deactivating the user: the token stops authenticating.
    assert_eq!(post(&srv, &format!("/api/v2/users/{uid}/roles"), &root, json!({ "role": "admin" })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(patch(&srv, &format!("/api/v2/users/{uid}"), &root, json!({ "is_active": false })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 401);
    srv.stop().await;
}

#[actix_web::test]
async fn an_expired_assignment_grants_nothing() {
    let srv = TestServer::start().await;
    let root_id = create_user(&srv, "root", &["super_admin"]).await;
    let mut root_claims = claims(&srv, &root_id);
    root_claims["exp"] = json!(now(&srv).timestamp() + 4 * 3600);
    let root = sign(&srv, &root_claims, "at+jwt").await;
    let (uid, _) = user_with_token(&srv, "temp", &[]).await;
    let until = now(&srv) + hours(1);
    let res = post(&srv, &format!("/api/v2/users/{uid}/roles"), &root, json!({ "role": "admin", "expires_at": until.to_rfc3339() })).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let mut c = claims(&srv, &uid);
    c["exp"] = json!(now(&srv).timestamp() + 4 * 3600);
    let token = sign(&srv, &c, "at+jwt").await;
    assert_eq!(get(&srv, "/api/v2/users", &token).await.status, 200, "granted before expiry (and cached)");
    let (_, src) = srv.state.permissions.effective_traced(&uid).await.unwrap();
    assert_eq!(src, Source::Local, "the answer is cached");

    srv.clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(get(&srv, "/api/v2/users", &token).await.status, 200, "still within the assignment");
    srv.clock.advance(Duration::from_secs(2 * 60));
    let res = get(&srv, "/api/v2/users", &token).await;
    assert_eq!(res.status, 403, "the cached entry must not outlive the assignment: {}", res.text);
    let roles = get(&srv, &format!("/api/v2/users/{uid}/roles"), &root).await;
    assert_eq!(roles.body["roles"][0]["active"], false);

    // An assignment stored already expired never grants.
    let (late, late_token) = user_with_token(&srv, "late", &[]).await;
    assign(&srv, &late, "admin", Some(now(&srv) - hours(1))).await;
    assert_eq!(get(&srv, "/api/v2/users", &late_token).await.status, 403);
    srv.stop().await;
}

/// A private redis-server on a free port, stopped (by its pid) when dropped.
struct Redis {
    pid: i32,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("redis.pid");
        let status = Process::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"])
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--dir")
            .arg(dir.path())
            .status()
            .expect("redis-server is installed");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pong = Process::new("redis-cli").args(["-p", &port.to_string(), "ping"]).output().map(|o| o.stdout.starts_with(b"PONG")).unwrap_or(false);
            if pong && pidfile.exists() {
                break;
            }
            assert!(Instant::now() < deadline, "redis did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        Redis { pid, port, _dir: dir }
    }
    fn signal(&self, sig: &str) {
        assert!(Process::new("kill").args([sig, &self.pid.to_string()]).status().unwrap().success());
    }
    fn keys(&self) -> String {
        String::from_utf8(Process::new("redis-cli").args(["-p", &self.port.to_string(), "--scan", "--pattern", "tessera:rbac:*"]).output().unwrap().stdout).unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = Process::new("kill").args(["-CONT", &self.pid.to_string()]).status();
        let _ = Process::new("kill").args(["-KILL", &self.pid.to_string()]).status();
    }
}

#[actix_web::test]
async fn permission_checks_survive_a_redis_outage() {
    let port = crate::common::free_listener().1;
    let redis = Redis::start(port);
    let srv = TestServer::start_with(|env| {
        env.insert("REDIS_URL".into(), format!("redis://127.0.0.1:{port}/"));
    })
    .await;
    assert!(srv.state.permissions.uses_redis());
    let (root_id, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (uid, token) = user_with_token(&srv, "eve", &["admin"]).await;

    assert_eq!(list_users(&srv, &token).await, 200);
    assert_eq!(list_users(&srv, &root).await, 200);
    assert!(redis.keys().contains(&uid), "entries live in Redis: {}", redis.keys());
    assert_eq!(srv.state.permissions.effective_traced(&uid).await.unwrap().1, Source::Redis);

    // Redis hangs: checks answer from the process; a change made meanwhile takes effect at once,
    // and the deletion Redis missed is replayed when it is back (no stale grant resurfaces).
    redis.signal("-STOP");
    assert_eq!(delete(&srv, &format!("/api/v2/users/{uid}/roles/admin"), &root).await.status, 204);
    assert_eq!(list_users(&srv, &token).await, 403);
    assert_eq!(list_users(&srv, &root).await, 200);
    redis.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.state.permissions.effective_traced(&root_id).await.unwrap().1 != Source::Redis {
        assert!(Instant::now() < deadline, "Redis is used again once it answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(list_users(&srv, &token).await, 403, "the stale Redis entry was deleted");

    // Redis dies: every check keeps answering correctly from the process and the database.
    redis.signal("-KILL");
    assert_eq!(list_users(&srv, &root).await, 200);
    assert_eq!(list_users(&srv, &token).await, 403);
    assert_eq!(post(&srv, &format!("/api/v2/users/{uid}/roles"), &root, json!({ "role": "admin" })).await.status, 200);
    assert_eq!(list_users(&srv, &token).await, 200);
    let check = post(&srv, "/api/v2/me/permissions/check", &token, json!({ "permissions": ["users:list", "system:keys"] })).await;
    assert_eq!(check.body["results"], json!({ "users:list": true, "system:keys": false }));
    srv.stop().await;
}
