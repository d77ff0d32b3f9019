//! How rows look on the wire. Never a password hash, a secret hash or a token hash.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tessera_actors::sessions::Session;
use tessera_entity::{audit_logs, oauth_clients, permissions, roles, user_roles, users};

pub fn ts(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub fn opt_ts(t: Option<DateTime<Utc>>) -> Value {
    t.map(ts).unwrap_or(Value::Null)
}

pub fn role_ref(r: &roles::Model, expires_at: Option<DateTime<Utc>>) -> Value {
    json!({ "id": r.id, "name": r.name, "display_name": r.display_name, "expires_at": opt_ts(expires_at) })
}

/// A user with the roles they hold now (`roles`: the live assignments, already filtered).
pub fn user(u: &users::Model, roles: &[(user_roles::Model, roles::Model)]) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "display_name": u.display_name,
        "is_active": u.is_active,
        "must_change_password": u.must_change_password,
        "email_verified": u.email_verified,
        "locked_until": opt_ts(u.locked_until),
        "last_login_at": opt_ts(u.last_login_at),
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
        "roles": roles.iter().map(|(a, r)| role_ref(r, a.expires_at)).collect::<Vec<_>>(),
    })
}

/// The audit "before/after" of a user: the profile without secrets.
pub fn user_audit(u: &users::Model) -> Value {
    json!({
        "username": u.username,
        "email": u.email,
        "display_name": u.display_name,
        "is_active": u.is_active,
        "must_change_password": u.must_change_password,
        "email_verified": u.email_verified,
    })
}

pub fn assignment(a: &user_roles::Model, r: &roles::Model, now: DateTime<Utc>) -> Value {
    json!({
        "role": role_ref(r, a.expires_at),
        "expires_at": opt_ts(a.expires_at),
        "assigned_by": a.assigned_by,
        "created_at": ts(a.created_at),
        "active": r.is_active && a.expires_at.is_none_or(|t| t > now),
    })
}

pub fn role(r: &roles::Model, permissions: Option<&[String]>) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "display_name": r.display_name,
        "description": r.description,
        "is_system": r.is_system,
        "is_active": r.is_active,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
    });
    if let Some(p) = permissions {
        v["permissions"] = json!(p);
    }
    v
}

pub fn permission(p: &permissions::Model) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "display_name": p.display_name,
        "description": p.description,
        "category": p.category,
        "resource": p.resource,
        "action": p.action,
        "is_active": p.is_active,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
    })
}

pub fn client(c: &oauth_clients::Model) -> Value {
    json!({
        "id": c.id,
        "client_id": c.client_id,
        "name": c.name,
        "description": c.description,
        "is_public": c.is_public,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "scopes": c.scopes,
        "require_pkce": c.require_pkce,
        "require_consent": c.require_consent,
        "is_active": c.is_active,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    })
}

pub fn audit(a: &audit_logs::Model) -> Value {
    json!({
        "id": a.id,
        "created_at": ts(a.created_at),
        "action": a.action,
        "severity": a.severity,
        "user_id": a.user_id,
        "client_id": a.client_id,
        "resource_type": a.resource_type,
        "resource_id": a.resource_id,
        "details": a.details,
        "ip_address": a.ip_address,
        "user_agent": a.user_agent,
    })
}

pub fn session(s: &Session, username: Option<&str>) -> Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "username": username,
        "auth_time": ts(s.auth_time),
        "last_seen_at": ts(s.last_seen_at),
        "expires_at": ts(s.expires_at),
        "ip_address": s.ip_address,
        "user_agent": s.user_agent,
        "created_at": ts(s.created_at),
    })
}
