//! Login sessions kept in Redis (`REDIS_URL`): the admin API lists and terminates them, the GDPR
//! export carries them and deactivation ends them — all through the sessions actor, never the
//! `sessions` table.

use crate::common::admin::*;
use crate::common::flow::{PASSWORD, account, submit_login};
use crate::common::{TestServer, client};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tessera_entity::sessions;

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").expect("TESSERA_TEST_REDIS_URL (bash .ci/services.sh start; source /tmp/tessera-svc/env)")
}

fn ids(list: &Value) -> Vec<String> {
    list["sessions"].as_array().map(|a| a.iter().filter_map(|s| s["id"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Every session id the unfiltered listing shows, page by page (the Redis may hold other tests'
/// sessions too).
async fn all_ids(srv: &TestServer, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for page in 1.. {
        let res = get(srv, &format!("/api/v2/sessions?limit=100&page={page}"), token).await;
        assert_eq!(res.status, 200, "{}", res.text);
        out.extend(ids(&res.body));
        if page >= res.body["pagination"]["pages"].as_u64().unwrap_or(0) {
            break;
        }
    }
    out
}

#[actix_web::test]
async fn redis_sessions_are_listed_terminated_exported_and_ended() {
    let srv = TestServer::start_with(|env| {
        env.insert("REDIS_URL".into(), redis_url());
    })
    .await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let rita = account(&srv, "rita").await;
    for _ in 0..2 {
        let res = submit_login(&srv, &client(), "/login", &rita.username, PASSWORD).await;
        assert_eq!(res.status(), 200, "signed in");
    }
    assert_eq!(sessions::Entity::find().count(&srv.state.db).await.unwrap(), 0, "the sessions live in Redis, not the table");

    let mine = get(&srv, &format!("/api/v2/sessions?user_id={}", rita.id), &root).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.body["pagination"]["total"], 2, "{}", mine.text);
    assert_eq!(mine.body["sessions"][0]["username"], "rita");
    assert_eq!(mine.body["sessions"][0]["user_id"], rita.id.as_str());
    let rita_sessions = ids(&mine.body);
    let everyone = all_ids(&srv, &root).await;
    assert!(rita_sessions.iter().all(|id| everyone.contains(id)), "the unfiltered list shows them too");

    let export = get(&srv, &format!("/api/v2/users/{}/export", rita.id), &root).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.body["sessions"].as_array().map(Vec::len), Some(2), "{}", export.text);

    let first = &rita_sessions[0];
    assert_eq!(delete(&srv, &format!("/api/v2/sessions/{first}"), &root).await.status, 204);
    assert_eq!(delete(&srv, &format!("/api/v2/sessions/{first}"), &root).await.status, 404);
    let left = get(&srv, &format!("/api/v2/sessions?user_id={}", rita.id), &root).await;
    assert_eq!(ids(&left.body), vec![rita_sessions[1].clone()]);
    let ev = audit_rows(&srv, "SESSION_TERMINATED").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].details.as_ref().unwrap()["session_id"], json!(first));

    let off = post(&srv, &format!("/api/v2/users/{}/deactivate", rita.id), &root, json!({})).await;
    assert_eq!(off.status, 200, "{}", off.text);
    let ev = audit_rows(&srv, "USER_DEACTIVATED").await;
    assert_eq!(ev[0].details.as_ref().unwrap()["ended"]["sessions_ended"], 1);
    let none = get(&srv, &format!("/api/v2/sessions?user_id={}&include_expired=true", rita.id), &root).await;
    assert_eq!(none.body["pagination"]["total"], 0, "{}", none.text);
    assert!(!all_ids(&srv, &root).await.contains(&rita_sessions[1]));
    srv.stop().await;
}
