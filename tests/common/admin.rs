//! Admin API test helpers: users and role assignments written straight to the database, RFC 9068
//! access tokens minted with the node's own signing key (with the `admin` scope the API requires),
//! and a small JSON client.

use super::{TestServer, client};
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tessera_entity::{access_tokens, audit_logs, roles, user_roles};

pub fn now(srv: &TestServer) -> DateTime<Utc> {
    use tessera_actors::clock::Clock;
    srv.clock.now()
}

/// Inserts an active user holding the named roles (no expiry); returns the user id.
pub async fn create_user(srv: &TestServer, username: &str, role_names: &[&str]) -> String {
    let id = super::tokens::create_user(srv, username).await.id;
    for r in role_names {
        assign(srv, &id, r, None).await;
    }
    id
}

pub async fn role_id(srv: &TestServer, name: &str) -> String {
    roles::Entity::find().filter(roles::Column::Name.eq(name)).one(&srv.state.db).await.expect("query role").unwrap_or_else(|| panic!("no role {name}")).id
}

/// Inserts a role assignment directly (bypassing the API and its cache invalidation).
pub async fn assign(srv: &TestServer, user_id: &str, role: &str, expires_at: Option<DateTime<Utc>>) {
    let rid = role_id(srv, role).await;
    user_roles::Entity::insert(user_roles::ActiveModel {
        user_id: Set(user_id.to_string()),
        role_id: Set(rid),
        expires_at: Set(expires_at),
        assigned_by: Set(None),
        created_at: Set(now(srv)),
    })
    .exec_without_returning(&srv.state.db)
    .await
    .expect("insert user_role");
}

/// The claims of a test access token; tweak them before signing.
pub fn claims(srv: &TestServer, user_id: &str) -> Value {
    let t = now(srv).timestamp();
    json!({
        "iss": &*srv.state.issuer,
        "sub": user_id,
        "aud": "tessera-admin",
        "client_id": "tessera-test-console",
        "scope": "openid profile admin",
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": t,
        "exp": t + 3600,
    })
}

/// Signs `claims` as an RFC 9068 access token (`typ` given, RS256, current kid) and records its
/// metadata in `access_tokens` as the token endpoint would.
pub async fn sign(srv: &TestServer, claims: &Value, typ: &str) -> String {
    let signer = srv.state.ring.signer("RS256").expect("RS256 signer");
    let mut header = jsonwebtoken::Header::new(signer.alg);
    header.typ = Some(typ.to_string());
    header.kid = Some(signer.kid.clone());
    let token = jsonwebtoken::encode(&header, claims, &signer.encoding).expect("sign");
    if let (Some(sub), Some(jti), Some(exp)) = (claims["sub"].as_str(), claims["jti"].as_str(), claims["exp"].as_i64()) {
        let t = now(srv);
        access_tokens::Entity::insert(access_tokens::ActiveModel {
            jti: Set(jti.to_string()),
            client_id: Set(claims["client_id"].as_str().unwrap_or("tessera-test-console").to_string()),
            user_id: Set(Some(sub.to_string())),
            scope: Set(claims["scope"].as_str().unwrap_or("").to_string()),
            code_hash: Set(None),
            refresh_family_id: Set(None),
            expires_at: Set(DateTime::from_timestamp(exp, 0).unwrap_or(t)),
            revoked: Set(false),
            created_at: Set(t),
        })
        .exec_without_returning(&srv.state.db)
        .await
        .expect("insert access token row");
    }
    token
}

/// A valid access token for the user.
pub async fn mint_token(srv: &TestServer, user_id: &str) -> String {
    sign(srv, &claims(srv, user_id), "at+jwt").await
}

/// A fresh user holding `roles`, and a token for them.
pub async fn user_with_token(srv: &TestServer, username: &str, roles: &[&str]) -> (String, String) {
    let id = create_user(srv, username, roles).await;
    let token = mint_token(srv, &id).await;
    (id, token)
}

/// A call to the admin API: status, headers, and the body as JSON (`Value::Null` if not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

pub async fn call(srv: &TestServer, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut req = client().request(method, srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, text, body }
}

pub async fn get(srv: &TestServer, path: &str, token: &str) -> Reply {
    call(srv, Method::GET, path, Some(token), None).await
}
pub async fn post(srv: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    call(srv, Method::POST, path, Some(token), Some(body)).await
}
pub async fn put(srv: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    call(srv, Method::PUT, path, Some(token), Some(body)).await
}
pub async fn patch(srv: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    call(srv, Method::PATCH, path, Some(token), Some(body)).await
}
pub async fn delete(srv: &TestServer, path: &str, token: &str) -> Reply {
    call(srv, Method::DELETE, path, Some(token), None).await
}

/// Audit rows with this action, after flushing whatever the audit actor still holds.
pub async fn audit_rows(srv: &TestServer, action: &str) -> Vec<audit_logs::Model> {
    srv.state.audit.flush().await.expect("flush");
    audit_logs::Entity::find().filter(audit_logs::Column::Action.eq(action)).all(&srv.state.db).await.expect("audit query")
}

/// A route path with every `{param}` replaced by `value`.
pub fn fill(path: &str, value: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') && seg.ends_with('}') { value } else { seg }).collect::<Vec<_>>().join("/")
}

pub fn method(verb: tessera::admin::routes::Verb) -> Method {
    Method::from_bytes(verb.as_str().as_bytes()).expect("method")
}

pub fn hours(h: i64) -> Duration {
    Duration::hours(h)
}
