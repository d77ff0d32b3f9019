//! Migration tests on SQLite (a file database in a temp dir) and PostgreSQL (a fresh database
//! per test, created through `TESSERA_TEST_POSTGRES_URL`): up/down/up, the seed rows, unique
//! constraints, delete cascades, and a round trip of every entity through its table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};
use tessera_entity::{
    access_tokens, audit_logs, authorization_codes, consents, oauth_clients, permissions,
    refresh_tokens, role_permissions, roles, sessions, user_roles, users,
};
use tessera_migration::m20261130_000004_seed_rbac::{DEFAULT_PERMISSIONS, seed_id};
use tessera_migration::{Migrator, run_up, status};

const TABLES: &[&str] = &[
    "users",
    "roles",
    "permissions",
    "user_roles",
    "role_permissions",
    "oauth_clients",
    "authorization_codes",
    "access_tokens",
    "refresh_tokens",
    "consents",
    "sessions",
    "audit_logs",
];

// ---------------------------------------------------------------------------------------------
// Databases

async fn sqlite_db() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("tessera.db").display()
    );
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    let db = Database::connect(opts).await.expect("connect sqlite");
    // Every pooled connection gets the pragma from the options; check it took.
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA foreign_keys",
        ))
        .await
        .unwrap()
        .unwrap();
    let on: i32 = row.try_get_by_index(0).unwrap();
    assert_eq!(on, 1, "PRAGMA foreign_keys must be ON");
    (dir, db)
}

/// A fresh PostgreSQL database, dropped by [`PgDb::drop_db`] at the end of a passing test.
struct PgDb {
    admin: DatabaseConnection,
    name: String,
    db: DatabaseConnection,
}

fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn pg_db() -> PgDb {
    let admin_url = std::env::var("TESSERA_TEST_POSTGRES_URL").expect(
        "TESSERA_TEST_POSTGRES_URL is not set: start PostgreSQL with \
         `bash .ci/services.sh start && source /tmp/tessera-svc/env`",
    );
    let mut opts = ConnectOptions::new(admin_url.clone());
    opts.sqlx_logging(false).max_connections(2);
    let admin = Database::connect(opts)
        .await
        .expect("connect to TESSERA_TEST_POSTGRES_URL");
    let name = format!("tessera_mig_{}", unique_suffix());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("database URL has a path");
    let mut opts = ConnectOptions::new(format!("{server}/{name}{query}"));
    opts.sqlx_logging(false).max_connections(4);
    let db = Database::connect(opts)
        .await
        .expect("connect to test database");
    PgDb { admin, name, db }
}

impl PgDb {
    async fn drop_db(self) {
        self.db.close().await.ok();
        self.admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop test database");
    }
}

/// Now, truncated to microseconds (PostgreSQL's timestamp precision) so round trips compare equal.
fn now_us() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn uuidish(tag: &str) -> String {
    format!("{tag}-{}", unique_suffix())
}

// ---------------------------------------------------------------------------------------------
// Checks shared by both backends

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = SchemaManager::new(db);
    for t in TABLES {
        assert_eq!(
            manager.has_table(*t).await.unwrap(),
            present,
            "table {t} should {}exist",
            if present { "" } else { "not " }
        );
    }
}

async fn assert_status(db: &DatabaseConnection, applied: bool) {
    let st = status(db).await.unwrap();
    let names: Vec<&str> = st.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "m20261130_000001_create_identity",
            "m20261130_000002_create_oauth",
            "m20261130_000003_create_audit_logs",
            "m20261130_000004_seed_rbac",
        ]
    );
    assert!(st.iter().all(|(_, a)| *a == applied), "status: {st:?}");
}

async fn assert_seed(db: &DatabaseConnection) {
    let all = DEFAULT_PERMISSIONS.len() as u64;
    assert_eq!(roles::Entity::find().count(db).await.unwrap(), 3);
    assert_eq!(permissions::Entity::find().count(db).await.unwrap(), all);

    for (role, expected) in [("super_admin", all), ("admin", all - 3), ("user", 0)] {
        let r = roles::Entity::find()
            .filter(roles::Column::Name.eq(role))
            .one(db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("role {role} seeded"));
        assert!(
            r.is_system && r.is_active,
            "{role} is an active system role"
        );
        assert_eq!(r.id, seed_id("role", role));
        let n = r.find_related(permissions::Entity).count(db).await.unwrap();
        assert_eq!(n, expected, "{role} permission count");
    }

    let admin = roles::Entity::find()
        .filter(roles::Column::Name.eq("admin"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut denied: Vec<String> = Vec::new();
    let granted: Vec<String> = admin
        .find_related(permissions::Entity)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    for (p, _) in DEFAULT_PERMISSIONS {
        if !granted.iter().any(|g| g == p) {
            denied.push(p.to_string());
        }
    }
    assert_eq!(
        denied,
        ["roles:delete", "permissions:delete", "system:keys"]
    );

    let p = permissions::Entity::find()
        .filter(permissions::Column::Name.eq("clients:secret:regenerate"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.category.as_str(), p.resource.as_str(), p.action.as_str()),
        ("api", "clients:secret", "regenerate")
    );
    let m = permissions::Entity::find()
        .filter(permissions::Column::Name.eq("menu:dashboard"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.category.as_str(), m.resource.as_str(), m.action.as_str()),
        ("menu", "menu", "dashboard")
    );
    assert_eq!(
        permissions::Entity::find()
            .filter(permissions::Column::Category.eq("menu"))
            .count(db)
            .await
            .unwrap(),
        7
    );
}

async fn check_up_down_up(db: &DatabaseConnection) {
    assert_status(db, false).await;
    run_up(db).await.expect("migrate up");
    assert_status(db, true).await;
    assert_tables(db, true).await;
    assert_seed(db).await;
    // Running up again is a no-op.
    run_up(db).await.expect("migrate up twice");

    // Down one step removes only the seed rows.
    Migrator::down(db, Some(1)).await.expect("down seed");
    assert_eq!(roles::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(permissions::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(role_permissions::Entity::find().count(db).await.unwrap(), 0);
    assert_tables(db, true).await;

    Migrator::down(db, None).await.expect("migrate down");
    assert_tables(db, false).await;
    assert_status(db, false).await;

    run_up(db).await.expect("migrate up again");
    assert_tables(db, true).await;
    assert_seed(db).await;
}

fn user(id: &str, username: &str, email: Option<&str>) -> users::Model {
    let now = now_us();
    users::Model {
        id: id.to_owned(),
        username: username.to_owned(),
        email: email.map(str::to_owned),
        display_name: Some("Test User".into()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        is_active: true,
        must_change_password: false,
        email_verified: false,
        failed_login_count: 0,
        locked_until: None,
        last_login_at: None,
        created_at: now,
        updated_at: now,
    }
}

async fn check_unique_username(db: &DatabaseConnection) {
    run_up(db).await.unwrap();
    user("u1", "alice", Some("alice@example.com"))
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    let dup = user("u2", "alice", Some("other@example.com"))
        .into_active_model()
        .insert(db)
        .await;
    assert!(dup.is_err(), "duplicate username must be rejected");
    let dup_email = user("u3", "bob", Some("alice@example.com"))
        .into_active_model()
        .insert(db)
        .await;
    assert!(dup_email.is_err(), "duplicate email must be rejected");
    // NULL emails never collide.
    user("u4", "carol", None)
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    user("u5", "dave", None)
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    assert_eq!(users::Entity::find().count(db).await.unwrap(), 3);

    // One consent per (user, client).
    let now = now_us();
    let consent = |id: &str| consents::Model {
        id: id.into(),
        user_id: "u1".into(),
        client_id: "app".into(),
        scopes: "openid".into(),
        created_at: now,
        updated_at: now,
    };
    consent("c1").into_active_model().insert(db).await.unwrap();
    assert!(
        consent("c2").into_active_model().insert(db).await.is_err(),
        "duplicate consent must be rejected"
    );
}

async fn check_user_delete_cascades(db: &DatabaseConnection) {
    run_up(db).await.unwrap();
    let now = now_us();
    let u = user("u-cascade", "erin", None)
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    let keep = user("u-keep", "frank", None)
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    for who in [&u, &keep] {
        user_roles::Model {
            user_id: who.id.clone(),
            role_id: seed_id("role", "admin"),
            expires_at: None,
            assigned_by: None,
            created_at: now,
        }
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
        sessions::Model {
            id: format!("sess-{}", who.id),
            user_id: who.id.clone(),
            auth_time: now,
            last_seen_at: now,
            expires_at: now,
            ip_address: Some("127.0.0.1".into()),
            user_agent: None,
            created_at: now,
        }
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
        consents::Model {
            id: format!("consent-{}", who.id),
            user_id: who.id.clone(),
            client_id: "app".into(),
            scopes: "openid profile".into(),
            created_at: now,
            updated_at: now,
        }
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    }
    audit_logs::ActiveModel {
        action: sea_orm::Set("USER_LOGIN".into()),
        user_id: sea_orm::Set(Some(u.id.clone())),
        severity: sea_orm::Set("info".into()),
        created_at: sea_orm::Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    // Roles see their holders through the join table.
    let admin = roles::Entity::find_by_id(seed_id("role", "admin"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        admin.find_related(users::Entity).count(db).await.unwrap(),
        2
    );

    users::Entity::delete_by_id(u.id.clone())
        .exec(db)
        .await
        .unwrap();

    let count_ur = |id: String| {
        user_roles::Entity::find()
            .filter(user_roles::Column::UserId.eq(id))
            .count(db)
    };
    let count_s = |id: String| {
        sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(id))
            .count(db)
    };
    let count_c = |id: String| {
        consents::Entity::find()
            .filter(consents::Column::UserId.eq(id))
            .count(db)
    };
    assert_eq!(
        count_ur(u.id.clone()).await.unwrap(),
        0,
        "user_roles cascade"
    );
    assert_eq!(count_s(u.id.clone()).await.unwrap(), 0, "sessions cascade");
    assert_eq!(count_c(u.id.clone()).await.unwrap(), 0, "consents cascade");
    assert_eq!(count_ur(keep.id.clone()).await.unwrap(), 1);
    assert_eq!(count_s(keep.id.clone()).await.unwrap(), 1);
    assert_eq!(count_c(keep.id.clone()).await.unwrap(), 1);
    // The audit trail is not tied to the user row.
    assert_eq!(
        audit_logs::Entity::find()
            .filter(audit_logs::Column::UserId.eq(u.id.clone()))
            .count(db)
            .await
            .unwrap(),
        1
    );

    // Deleting a role cascades to its assignments and grants; the permissions stay.
    roles::Entity::delete_by_id(seed_id("role", "admin"))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        count_ur(keep.id.clone()).await.unwrap(),
        0,
        "user_roles cascade from roles"
    );
    assert_eq!(
        role_permissions::Entity::find()
            .filter(role_permissions::Column::RoleId.eq(seed_id("role", "admin")))
            .count(db)
            .await
            .unwrap(),
        0,
        "role_permissions cascade from roles"
    );
    assert_eq!(
        permissions::Entity::find().count(db).await.unwrap(),
        DEFAULT_PERMISSIONS.len() as u64
    );
}

/// Every entity inserts and reads back unchanged: the entities and the migrations agree on
/// names and types (JSON, timestamps, booleans, nullable columns, the big-integer id).
async fn check_entity_roundtrip(db: &DatabaseConnection) {
    run_up(db).await.unwrap();
    let now = now_us();

    let mut u = user(&uuidish("user"), "grace", Some("grace@example.com"));
    u.locked_until = Some(now);
    u.last_login_at = Some(now);
    u.failed_login_count = 3;
    u.must_change_password = true;
    assert_eq!(u.clone().into_active_model().insert(db).await.unwrap(), u);
    assert_eq!(
        users::Entity::find_by_id(u.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(u.clone())
    );

    let role = roles::Model {
        id: uuidish("role"),
        name: "auditor".into(),
        display_name: "Auditor".into(),
        description: None,
        is_system: false,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    role.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        roles::Entity::find_by_id(role.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(role.clone())
    );

    let perm = permissions::Model {
        id: uuidish("perm"),
        name: "reports:export".into(),
        display_name: "Export reports".into(),
        description: Some("d".into()),
        category: "data".into(),
        resource: "reports".into(),
        action: "export".into(),
        is_active: false,
        created_at: now,
        updated_at: now,
    };
    perm.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        permissions::Entity::find_by_id(perm.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(perm.clone())
    );

    let ur = user_roles::Model {
        user_id: u.id.clone(),
        role_id: role.id.clone(),
        expires_at: Some(now),
        assigned_by: Some(u.id.clone()),
        created_at: now,
    };
    ur.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        user_roles::Entity::find_by_id((u.id.clone(), role.id.clone()))
            .one(db)
            .await
            .unwrap(),
        Some(ur)
    );

    let rp = role_permissions::Model {
        role_id: role.id.clone(),
        permission_id: perm.id.clone(),
        created_at: now,
    };
    rp.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        role_permissions::Entity::find_by_id((role.id.clone(), perm.id.clone()))
            .one(db)
            .await
            .unwrap(),
        Some(rp)
    );

    let client = oauth_clients::Model {
        id: uuidish("client"),
        client_id: "web-app".into(),
        name: "Web app".into(),
        description: None,
        is_public: false,
        secret_hash: Some("$argon2id$...".into()),
        redirect_uris: serde_json::json!(["https://app.example/cb", "http://127.0.0.1:8080/cb"]),
        post_logout_redirect_uris: serde_json::json!([]),
        grant_types: serde_json::json!(["authorization_code", "refresh_token"]),
        scopes: serde_json::json!(["openid", "profile", "email"]),
        require_pkce: true,
        require_consent: false,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    client.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        oauth_clients::Entity::find_by_id(client.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(client.clone())
    );
    let by_client_id = oauth_clients::Entity::find()
        .filter(oauth_clients::Column::ClientId.eq("web-app"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_client_id.redirect_uris[0], "https://app.example/cb");

    let code = authorization_codes::Model {
        code_hash: "a".repeat(64),
        client_id: "web-app".into(),
        user_id: u.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid profile".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        code_challenge_method: "S256".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time: now,
        session_id: Some("b".repeat(64)),
        expires_at: now,
        consumed_at: None,
        created_at: now,
    };
    code.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        authorization_codes::Entity::find_by_id(code.code_hash.clone())
            .one(db)
            .await
            .unwrap(),
        Some(code.clone())
    );

    let at = access_tokens::Model {
        jti: uuidish("jti"),
        client_id: "web-app".into(),
        user_id: None,
        scope: "api".into(),
        code_hash: Some(code.code_hash.clone()),
        refresh_family_id: Some("fam".into()),
        expires_at: now,
        revoked: false,
        created_at: now,
    };
    at.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        access_tokens::Entity::find_by_id(at.jti.clone())
            .one(db)
            .await
            .unwrap(),
        Some(at.clone())
    );

    let rt = refresh_tokens::Model {
        id: uuidish("rt"),
        token_hash: "c".repeat(64),
        family_id: "fam".into(),
        parent_id: None,
        client_id: "web-app".into(),
        user_id: u.id.clone(),
        scope: "openid offline_access".into(),
        auth_time: now,
        nonce: None,
        code_hash: Some(code.code_hash.clone()),
        expires_at: now,
        revoked: true,
        revoked_at: Some(now),
        rotated_at: Some(now),
        created_at: now,
    };
    rt.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        refresh_tokens::Entity::find_by_id(rt.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(rt.clone())
    );
    let mut dup = rt.clone();
    dup.id = uuidish("rt2");
    assert!(
        dup.into_active_model().insert(db).await.is_err(),
        "token_hash is unique"
    );

    let consent = consents::Model {
        id: uuidish("consent"),
        user_id: u.id.clone(),
        client_id: "web-app".into(),
        scopes: "openid profile".into(),
        created_at: now,
        updated_at: now,
    };
    consent
        .clone()
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    assert_eq!(
        consents::Entity::find_by_id(consent.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(consent)
    );

    let sess = sessions::Model {
        id: "d".repeat(64),
        user_id: u.id.clone(),
        auth_time: now,
        last_seen_at: now,
        expires_at: now,
        ip_address: Some("::1".into()),
        user_agent: Some("Mozilla/5.0".into()),
        created_at: now,
    };
    sess.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(
        sessions::Entity::find_by_id(sess.id.clone())
            .one(db)
            .await
            .unwrap(),
        Some(sess)
    );

    let mut ids = Vec::new();
    for details in [
        Some(serde_json::json!({"reason": "bad_password", "attempt": 2})),
        None,
    ] {
        let log = audit_logs::ActiveModel {
            action: sea_orm::Set("USER_LOGIN_FAILED".into()),
            user_id: sea_orm::Set(Some(u.id.clone())),
            client_id: sea_orm::Set(Some("web-app".into())),
            resource_type: sea_orm::Set(Some("user".into())),
            resource_id: sea_orm::Set(Some(u.id.clone())),
            details: sea_orm::Set(details.clone()),
            ip_address: sea_orm::Set(Some("127.0.0.1".into())),
            user_agent: sea_orm::Set(None),
            severity: sea_orm::Set("warning".into()),
            created_at: sea_orm::Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        assert_eq!(log.details, details);
        assert_eq!(
            audit_logs::Entity::find_by_id(log.id)
                .one(db)
                .await
                .unwrap(),
            Some(log.clone())
        );
        ids.push(log.id);
    }
    assert!(ids[1] > ids[0], "audit ids increase: {ids:?}");

    // Timestamps compare correctly in SQL on both backends.
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(
        authorization_codes::Entity::find()
            .filter(authorization_codes::Column::ExpiresAt.lt(later))
            .count(db)
            .await
            .unwrap(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite

#[tokio::test]
async fn sqlite_up_down_up() {
    let (_dir, db) = sqlite_db().await;
    check_up_down_up(&db).await;
}

#[tokio::test]
async fn sqlite_unique_username() {
    let (_dir, db) = sqlite_db().await;
    check_unique_username(&db).await;
}

#[tokio::test]
async fn sqlite_user_delete_cascades() {
    let (_dir, db) = sqlite_db().await;
    check_user_delete_cascades(&db).await;
}

#[tokio::test]
async fn sqlite_entity_roundtrip() {
    let (_dir, db) = sqlite_db().await;
    check_entity_roundtrip(&db).await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

#[tokio::test]
async fn postgres_up_down_up() {
    let pg = pg_db().await;
    check_up_down_up(&pg.db).await;
    pg.drop_db().await;
}

#[tokio::test]
async fn postgres_unique_username() {
    let pg = pg_db().await;
    check_unique_username(&pg.db).await;
    pg.drop_db().await;
}

#[tokio::test]
async fn postgres_user_delete_cascades() {
    let pg = pg_db().await;
    check_user_delete_cascades(&pg.db).await;
    pg.drop_db().await;
}

#[tokio::test]
async fn postgres_entity_roundtrip() {
    let pg = pg_db().await;
    check_entity_roundtrip(&pg.db).await;
    pg.drop_db().await;
}
