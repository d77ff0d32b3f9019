//! GDPR: export (admin and self) and erasure (admin and self).

use crate::common::TestServer;
use crate::common::admin::*;
use chrono::Duration;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tessera_entity::{access_tokens, audit_logs, consents, refresh_tokens, sessions, user_roles, users};

async fn give_data(srv: &TestServer, uid: &str) {
    let t = now(srv);
    consents::Entity::insert(consents::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(uid.into()),
        client_id: Set("tsr_app".into()),
        scopes: Set("openid email".into()),
        created_at: Set(t),
        updated_at: Set(t),
    })
    .exec_without_returning(&srv.state.db)
    .await
    .unwrap();
    sessions::Entity::insert(sessions::ActiveModel {
        id: Set(tessera_actors::crypto::sha256_hex(uid.as_bytes())),
        user_id: Set(uid.into()),
        auth_time: Set(t),
        last_seen_at: Set(t),
        expires_at: Set(t + Duration::hours(1)),
        ip_address: Set(Some("203.0.113.9".into())),
        user_agent: Set(Some("Firefox".into())),
        created_at: Set(t),
    })
    .exec_without_returning(&srv.state.db)
    .await
    .unwrap();
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        token_hash: Set(format!("{:0>64}", uid.len())),
        family_id: Set("fam-1".into()),
        parent_id: Set(None),
        client_id: Set("tsr_app".into()),
        user_id: Set(uid.into()),
        scope: Set("openid offline_access".into()),
        auth_time: Set(t),
        nonce: Set(None),
        code_hash: Set(None),
        expires_at: Set(t + Duration::days(30)),
        revoked: Set(false),
        revoked_at: Set(None),
        rotated_at: Set(None),
        created_at: Set(t),
    })
    .exec_without_returning(&srv.state.db)
    .await
    .unwrap();
}

#[actix_web::test]
async fn gdpr_export_and_erasure() {
    let srv = TestServer::start().await;
    let (_, root) = user_with_token(&srv, "root", &["super_admin"]).await;
    let (uid, _) = user_with_token(&srv, "frida", &["user"]).await;
    let frida_claims = claims(&srv, &uid);
    let frida = sign(&srv, &frida_claims, "at+jwt").await;
    give_data(&srv, &uid).await;
    // Audit history: an admin change about her, and her own denied request.
    assert_eq!(patch(&srv, &format!("/api/v2/users/{uid}"), &root, json!({ "display_name": "Frida K." })).await.status, 200);
    assert_eq!(get(&srv, "/api/v2/users", &frida).await.status, 403);

    let admin_view = get(&srv, &format!("/api/v2/users/{uid}/export"), &root).await;
    assert_eq!(admin_view.status, 200, "{}", admin_view.text);
    let mine = get(&srv, "/api/v2/me/export", &frida).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    for doc in [&admin_view, &mine] {
        let d = &doc.body;
        assert_eq!(d["user"]["username"], "frida");
        assert_eq!(d["roles"][0]["role"]["name"], "user");
        assert_eq!(d["consents"][0]["scopes"], json!(["openid", "email"]));
        assert_eq!(d["sessions"][0]["user_agent"], "Firefox");
        assert_eq!(d["refresh_tokens"][0]["family_id"], "fam-1");
        assert!(d["access_tokens"].as_array().unwrap().iter().any(|t| t["jti"] == frida_claims["jti"]));
        let actions: Vec<&str> = d["audit_logs"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"USER_UPDATED") && actions.contains(&"PERMISSION_DENIED"), "{actions:?}");
        for hidden in ["password_hash", "$argon2", "token_hash", "code_hash"] {
            assert!(!doc.text.contains(hidden), "{hidden} in the export");
        }
    }
    assert_eq!(get(&srv, &format!("/api/v2/users/{}/export", uuid::Uuid::new_v4()), &root).await.status, 404);

    let erased = delete(&srv, &format!("/api/v2/users/{uid}"), &root).await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    let alias = erased.body["pseudonym"].as_str().unwrap().to_string();
    assert!(alias.starts_with("erased:"));
    assert_eq!(erased.body["access_tokens_revoked"], 2);
    assert_eq!(erased.body["refresh_tokens_deleted"], 1);
    assert_eq!(erased.body["sessions_ended"], 1);

    assert_eq!(get(&srv, &format!("/api/v2/users/{uid}"), &root).await.status, 404);
    assert!(users::Entity::find_by_id(uid.clone()).one(&srv.state.db).await.unwrap().is_none());
    assert!(srv.state.ring.cluster().is_revoked(frida_claims["jti"].as_str().unwrap()), "revoked in the cluster");
    assert_eq!(get(&srv, "/api/v2/me/export", &frida).await.status, 401);
    let db = &srv.state.db;
    assert_eq!(consents::Entity::find().filter(consents::Column::UserId.eq(&uid)).count(db).await.unwrap(), 0);
    assert_eq!(refresh_tokens::Entity::find().filter(refresh_tokens::Column::UserId.eq(&uid)).count(db).await.unwrap(), 0);
    assert_eq!(access_tokens::Entity::find().filter(access_tokens::Column::UserId.eq(&uid)).count(db).await.unwrap(), 0);

    // The trail survives, pseudonymous: no id, no username, no address of hers anywhere.
    audit_rows(&srv, "USER_ERASED").await;
    let trail = audit_logs::Entity::find().all(db).await.unwrap();
    let text = format!("{trail:?}");
    for personal in [uid.as_str(), "frida", "Frida K.", "frida@example.test"] {
        assert!(!text.contains(personal), "{personal:?} survived in the audit trail");
    }
    assert!(trail.iter().any(|a| a.action == "PERMISSION_DENIED" && a.user_id.as_deref() == Some(alias.as_str()) && a.ip_address.is_none()));
    assert!(trail.iter().any(|a| a.action == "USER_UPDATED" && a.resource_id.as_deref() == Some(alias.as_str())));
    assert!(trail.iter().any(|a| a.action == "USER_ERASED" && a.resource_id.as_deref() == Some(alias.as_str())));

    // Self-erasure; assignments gus made for others keep only his pseudonym.
    let (gus, gus_token) = user_with_token(&srv, "gus", &["admin"]).await;
    let ida = create_user(&srv, "ida", &[]).await;
    assert_eq!(post(&srv, &format!("/api/v2/users/{ida}/roles"), &gus_token, json!({ "role": "user" })).await.status, 200);
    let me = delete(&srv, "/api/v2/me", &gus_token).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let made_by = user_roles::Entity::find().filter(user_roles::Column::UserId.eq(&ida)).one(db).await.unwrap().unwrap().assigned_by;
    assert_eq!(made_by.as_deref(), me.body["pseudonym"].as_str());
    assert!(users::Entity::find_by_id(gus.clone()).one(db).await.unwrap().is_none());
    assert_eq!(get(&srv, "/api/v2/me/permissions", &gus_token).await.status, 401);
    let rows = audit_rows(&srv, "USER_ERASED").await;
    assert!(!format!("{rows:?}").contains(&gus), "self-erasure is audited under the pseudonym");
    srv.stop().await;
}
