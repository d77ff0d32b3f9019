//! JSON Schemas of the admin API's bodies, as the route table names them. They describe what the
//! handlers (and `views`) produce and what `validate` accepts; the OpenAPI document embeds them.

use serde_json::{Map, Value, json};

fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    json!({ "type": "object", "properties": p, "required": required })
}
fn string() -> Value {
    json!({ "type": "string" })
}
fn text(min: u64, max: u64) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max })
}
fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}
fn nullable(mut v: Value) -> Value {
    if let Some(t) = v.get("type").cloned() {
        v["type"] = json!([t, "null"]);
    }
    v
}
fn boolean() -> Value {
    json!({ "type": "boolean" })
}
fn integer() -> Value {
    json!({ "type": "integer" })
}
fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}
fn strings() -> Value {
    array(string())
}
fn pagination() -> Value {
    obj(&[("page", integer()), ("limit", integer()), ("total", integer()), ("pages", integer())], &["page", "limit", "total", "pages"])
}
fn page(key: &str, item: Value) -> Value {
    obj(&[(key, array(item)), ("pagination", pagination())], &[key, "pagination"])
}

pub fn role_ref() -> Value {
    obj(&[("id", string()), ("name", string()), ("display_name", string()), ("expires_at", nullable(time()))], &["id", "name"])
}
pub fn user() -> Value {
    obj(
        &[
            ("id", string()),
            ("username", string()),
            ("email", nullable(string())),
            ("display_name", nullable(string())),
            ("is_active", boolean()),
            ("must_change_password", boolean()),
            ("email_verified", boolean()),
            ("locked_until", nullable(time())),
            ("last_login_at", nullable(time())),
            ("created_at", time()),
            ("updated_at", time()),
            ("roles", array(role_ref())),
        ],
        &["id", "username", "is_active", "roles"],
    )
}
pub fn user_page() -> Value {
    page("users", user())
}
pub fn user_create() -> Value {
    obj(
        &[
            ("username", json!({ "type": "string", "minLength": 3, "maxLength": 64, "pattern": "^[A-Za-z0-9._@-]+$" })),
            ("password", text(12, 128)),
            ("email", json!({ "type": "string", "format": "email", "maxLength": 254 })),
            ("display_name", text(1, 200)),
            ("is_active", boolean()),
            ("must_change_password", boolean()),
            ("email_verified", boolean()),
            ("roles", json!({ "type": "array", "items": { "type": "string" }, "description": "role ids or names" })),
        ],
        &["username", "password"],
    )
}
pub fn user_update() -> Value {
    obj(
        &[
            ("email", nullable(json!({ "type": "string", "format": "email", "maxLength": 254 }))),
            ("display_name", nullable(text(1, 200))),
            ("is_active", boolean()),
            ("must_change_password", boolean()),
            ("email_verified", boolean()),
        ],
        &[],
    )
}
pub fn password_reset() -> Value {
    obj(&[("password", text(12, 128)), ("must_change_password", boolean())], &[])
}
pub fn password_reset_result() -> Value {
    obj(&[("user", user()), ("temporary_password", nullable(string()))], &["user"])
}
pub fn assignment() -> Value {
    obj(
        &[("role", role_ref()), ("expires_at", nullable(time())), ("assigned_by", nullable(string())), ("created_at", time()), ("active", boolean())],
        &["role", "active"],
    )
}
pub fn assignments() -> Value {
    obj(&[("user_id", string()), ("roles", array(assignment()))], &["user_id", "roles"])
}
pub fn assign_role() -> Value {
    obj(&[("role", json!({ "type": "string", "description": "role id or name" })), ("expires_at", nullable(time()))], &["role"])
}

pub fn role() -> Value {
    obj(
        &[
            ("id", string()),
            ("name", json!({ "type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$" })),
            ("display_name", string()),
            ("description", nullable(string())),
            ("is_system", boolean()),
            ("is_active", boolean()),
            ("permissions", strings()),
            ("created_at", time()),
            ("updated_at", time()),
        ],
        &["id", "name", "display_name", "is_system", "is_active"],
    )
}
pub fn role_page() -> Value {
    page("roles", role())
}
pub fn role_create() -> Value {
    obj(
        &[
            ("name", json!({ "type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$" })),
            ("display_name", text(1, 200)),
            ("description", text(0, 1000)),
            ("is_active", boolean()),
            ("permissions", json!({ "type": "array", "items": { "type": "string" }, "description": "permission ids or names" })),
        ],
        &["name", "display_name"],
    )
}
pub fn role_update() -> Value {
    obj(&[("display_name", text(1, 200)), ("description", nullable(text(0, 1000))), ("is_active", boolean())], &[])
}

pub fn permission() -> Value {
    obj(
        &[
            ("id", string()),
            ("name", json!({ "type": "string", "pattern": "^[a-z0-9_-]+(:[a-z0-9_-]+)+$" })),
            ("display_name", string()),
            ("description", nullable(string())),
            ("category", json!({ "enum": ["menu", "api", "data"] })),
            ("resource", string()),
            ("action", string()),
            ("is_active", boolean()),
            ("created_at", time()),
            ("updated_at", time()),
        ],
        &["id", "name", "category", "resource", "action", "is_active"],
    )
}
pub fn permission_page() -> Value {
    page("permissions", permission())
}
pub fn permission_list() -> Value {
    obj(&[("role_id", string()), ("permissions", array(permission()))], &["role_id", "permissions"])
}
pub fn permission_create() -> Value {
    obj(
        &[
            ("name", json!({ "type": "string", "pattern": "^[a-z0-9_-]+(:[a-z0-9_-]+)+$" })),
            ("display_name", text(1, 200)),
            ("description", text(0, 1000)),
            ("category", json!({ "enum": ["menu", "api", "data"], "description": "default: menu for menu:*, else api" })),
            ("is_active", boolean()),
        ],
        &["name", "display_name"],
    )
}
pub fn permission_update() -> Value {
    obj(&[("display_name", text(1, 200)), ("description", nullable(text(0, 1000))), ("is_active", boolean())], &[])
}
pub fn permission_names() -> Value {
    obj(&[("permissions", json!({ "type": "array", "items": { "type": "string" }, "maxItems": 500 }))], &["permissions"])
}
pub fn my_permissions() -> Value {
    obj(&[("user_id", string()), ("permissions", strings()), ("menu", strings())], &["user_id", "permissions", "menu"])
}
pub fn permission_check() -> Value {
    obj(&[("user_id", string()), ("results", json!({ "type": "object", "additionalProperties": { "type": "boolean" } }))], &["user_id", "results"])
}

pub fn client() -> Value {
    obj(
        &[
            ("id", string()),
            ("client_id", string()),
            ("name", string()),
            ("description", nullable(string())),
            ("is_public", boolean()),
            ("redirect_uris", strings()),
            ("post_logout_redirect_uris", strings()),
            ("grant_types", strings()),
            ("scopes", strings()),
            ("require_pkce", boolean()),
            ("require_consent", boolean()),
            ("is_active", boolean()),
            ("created_at", time()),
            ("updated_at", time()),
        ],
        &["id", "client_id", "name", "is_public"],
    )
}
pub fn client_with_secret() -> Value {
    let mut c = client();
    c["properties"]["client_secret"] = json!({ "type": ["string", "null"], "description": "shown only in this response" });
    c
}
pub fn client_page() -> Value {
    page("clients", client())
}
fn client_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("name", text(1, 200)),
        ("description", nullable(text(0, 1000))),
        ("redirect_uris", strings()),
        ("post_logout_redirect_uris", strings()),
        ("grant_types", json!({ "type": "array", "items": { "enum": ["authorization_code", "refresh_token", "client_credentials"] } })),
        ("scopes", strings()),
        ("require_consent", boolean()),
    ]
}
pub fn client_create() -> Value {
    let mut f = client_fields();
    f.push(("is_public", boolean()));
    obj(&f, &["name"])
}
pub fn client_update() -> Value {
    let mut f = client_fields();
    f.push(("is_active", boolean()));
    obj(&f, &[])
}

pub fn audit_entry() -> Value {
    obj(
        &[
            ("id", integer()),
            ("created_at", time()),
            ("action", string()),
            ("severity", json!({ "enum": ["info", "warning", "critical"] })),
            ("user_id", nullable(string())),
            ("client_id", nullable(string())),
            ("resource_type", nullable(string())),
            ("resource_id", nullable(string())),
            ("details", json!({})),
            ("ip_address", nullable(string())),
            ("user_agent", nullable(string())),
        ],
        &["id", "created_at", "action", "severity"],
    )
}
pub fn audit_page() -> Value {
    page("audit_logs", audit_entry())
}

pub fn session() -> Value {
    obj(
        &[
            ("id", string()),
            ("user_id", string()),
            ("username", nullable(string())),
            ("auth_time", time()),
            ("last_seen_at", time()),
            ("expires_at", time()),
            ("ip_address", nullable(string())),
            ("user_agent", nullable(string())),
            ("created_at", time()),
        ],
        &["id", "user_id", "expires_at"],
    )
}
pub fn session_page() -> Value {
    page("sessions", session())
}

pub fn keys() -> Value {
    let key = obj(
        &[("kid", string()), ("alg", string()), ("state", json!({ "enum": ["published", "active", "retired"] })), ("created_at", time()), ("activated_at", nullable(time())), ("retired_at", nullable(time()))],
        &["kid", "alg", "state"],
    );
    obj(&[("keys", array(key))], &["keys"])
}
pub fn rotation() -> Value {
    obj(&[("published", strings()), ("note", string())], &["published"])
}
pub fn config() -> Value {
    obj(&[("config", json!({ "type": "object", "additionalProperties": { "type": "string" } }))], &["config"])
}

pub fn export() -> Value {
    obj(
        &[
            ("exported_at", time()),
            ("user", user()),
            ("roles", array(assignment())),
            ("consents", array(json!({ "type": "object" }))),
            ("sessions", array(json!({ "type": "object" }))),
            ("access_tokens", array(json!({ "type": "object" }))),
            ("refresh_tokens", array(json!({ "type": "object" }))),
            ("audit_logs", array(audit_entry())),
        ],
        &["exported_at", "user", "roles", "consents", "sessions", "access_tokens", "refresh_tokens", "audit_logs"],
    )
}
pub fn erasure() -> Value {
    obj(
        &[
            ("erased", boolean()),
            ("pseudonym", string()),
            ("access_tokens_revoked", integer()),
            ("refresh_tokens_deleted", integer()),
            ("sessions_ended", integer()),
            ("audit_rows_pseudonymised", integer()),
        ],
        &["erased", "pseudonym"],
    )
}
