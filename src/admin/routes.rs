//! The one route table of the admin API. The actix registration (`super::configure`), the
//! authorization every route gets (`super::dispatch`), the OpenAPI document (`super::openapi`) and
//! the tests are all generated from it, so they cannot disagree.

use super::ctx::Ctx;
use super::error::ApiError;
use super::schema as s;
use super::{audit_logs, clients, me, openapi, permissions, roles, sessions, system, users};
use actix_web::HttpResponse;
use futures::future::LocalBoxFuture;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the OpenAPI document).
    Public,
    /// Any active user with a valid access token (self-service: `/me`).
    User,
    /// An active user holding this permission.
    Permission(&'static str),
}

impl Access {
    pub fn permission(self) -> Option<&'static str> {
        match self {
            Access::Permission(p) => Some(p),
            _ => None,
        }
    }
}

pub type Handler = fn(Ctx) -> LocalBoxFuture<'static, Result<HttpResponse, ApiError>>;

pub struct Route {
    pub verb: Verb,
    /// actix path syntax, `{name}` for a parameter (also OpenAPI's).
    pub path: &'static str,
    pub access: Access,
    /// OpenAPI tag.
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// JSON Schema of the request body, if it takes one.
    pub request: Option<fn() -> Value>,
    /// Success status and the JSON Schema of its body (`None`: no body, e.g. 204).
    pub status: u16,
    pub response: Option<fn() -> Value>,
    pub handler: Handler,
}

macro_rules! h {
    ($f:path) => {
        |c| Box::pin($f(c))
    };
}

const PAGING: &[(&str, &str)] = &[("page", "Page number, from 1 (default 1)"), ("limit", "Page size, 1-100 (default 20)")];
const USER_LIST_Q: &[(&str, &str)] = &[
    ("page", "Page number, from 1"),
    ("limit", "Page size, 1-100"),
    ("search", "Case-insensitive substring of username, e-mail or display name"),
    ("is_active", "true or false"),
];
const AUDIT_Q: &[(&str, &str)] = &[
    ("page", "Page number, from 1"),
    ("limit", "Page size, 1-100"),
    ("from", "RFC 3339 instant: entries at or after"),
    ("to", "RFC 3339 instant: entries before"),
    ("action", "Exact action, e.g. PERMISSION_DENIED"),
    ("user_id", "Acting or affected user id"),
    ("client_id", "OAuth client_id"),
    ("severity", "info, warning or critical"),
    ("format", "json (default) or csv"),
];
const AUDIT_EXPORT_Q: &[(&str, &str)] = &[
    ("from", "RFC 3339 instant: entries at or after"),
    ("to", "RFC 3339 instant: entries before"),
    ("action", "Exact action"),
    ("user_id", "Acting or affected user id"),
    ("client_id", "OAuth client_id"),
    ("severity", "info, warning or critical"),
];
const SESSION_Q: &[(&str, &str)] = &[("page", "Page number, from 1"), ("limit", "Page size, 1-100"), ("user_id", "Only this user's sessions"), ("include_expired", "true to include ended sessions")];
const NONE: &[(&str, &str)] = &[];

use Access::{Permission as P, Public, User};
use Verb::*;

pub static ROUTES: &[Route] = &[
    // Users
    Route { verb: Get, path: "/api/v2/users", access: P("users:list"), tag: "users", summary: "List users (paginated, searchable)", query: USER_LIST_Q, request: None, status: 200, response: Some(s::user_page), handler: h!(users::list) },
    Route { verb: Post, path: "/api/v2/users", access: P("users:create"), tag: "users", summary: "Create a user", query: NONE, request: Some(s::user_create), status: 201, response: Some(s::user), handler: h!(users::create) },
    Route { verb: Get, path: "/api/v2/users/{id}", access: P("users:list"), tag: "users", summary: "Get a user", query: NONE, request: None, status: 200, response: Some(s::user), handler: h!(users::get) },
    Route { verb: Patch, path: "/api/v2/users/{id}", access: P("users:update"), tag: "users", summary: "Update a user's profile or status", query: NONE, request: Some(s::user_update), status: 200, response: Some(s::user), handler: h!(users::update) },
    Route { verb: Delete, path: "/api/v2/users/{id}", access: P("users:delete"), tag: "users", summary: "Erase a user (GDPR art. 17): account, tokens revoked, audit pseudonymised", query: NONE, request: None, status: 200, response: Some(s::erasure), handler: h!(users::erase) },
    Route { verb: Post, path: "/api/v2/users/{id}/deactivate", access: P("users:update"), tag: "users", summary: "Deactivate a user: sessions ended, tokens revoked", query: NONE, request: None, status: 200, response: Some(s::user), handler: h!(users::deactivate) },
    Route { verb: Post, path: "/api/v2/users/{id}/reset-password", access: P("users:update"), tag: "users", summary: "Set a new password (or generate a temporary one, shown once)", query: NONE, request: Some(s::password_reset), status: 200, response: Some(s::password_reset_result), handler: h!(users::reset_password) },
    Route { verb: Get, path: "/api/v2/users/{id}/roles", access: P("users:list"), tag: "users", summary: "List a user's role assignments", query: NONE, request: None, status: 200, response: Some(s::assignments), handler: h!(users::roles) },
    Route { verb: Post, path: "/api/v2/users/{id}/roles", access: P("users:update"), tag: "users", summary: "Assign a role (optionally until expires_at)", query: NONE, request: Some(s::assign_role), status: 200, response: Some(s::assignments), handler: h!(users::assign_role) },
    Route { verb: Delete, path: "/api/v2/users/{id}/roles/{role_id}", access: P("users:update"), tag: "users", summary: "Unassign a role", query: NONE, request: None, status: 204, response: None, handler: h!(users::unassign_role) },
    Route { verb: Get, path: "/api/v2/users/{id}/export", access: P("users:list"), tag: "gdpr", summary: "Export everything held about a user (GDPR art. 15/20)", query: NONE, request: None, status: 200, response: Some(s::export), handler: h!(users::export) },
    // Roles
    Route { verb: Get, path: "/api/v2/roles", access: P("roles:list"), tag: "roles", summary: "List roles", query: PAGING, request: None, status: 200, response: Some(s::role_page), handler: h!(roles::list) },
    Route { verb: Post, path: "/api/v2/roles", access: P("roles:create"), tag: "roles", summary: "Create a role", query: NONE, request: Some(s::role_create), status: 201, response: Some(s::role), handler: h!(roles::create) },
    Route { verb: Get, path: "/api/v2/roles/{id}", access: P("roles:list"), tag: "roles", summary: "Get a role", query: NONE, request: None, status: 200, response: Some(s::role), handler: h!(roles::get) },
    Route { verb: Patch, path: "/api/v2/roles/{id}", access: P("roles:update"), tag: "roles", summary: "Update a role", query: NONE, request: Some(s::role_update), status: 200, response: Some(s::role), handler: h!(roles::update) },
    Route { verb: Delete, path: "/api/v2/roles/{id}", access: P("roles:delete"), tag: "roles", summary: "Delete a role (not a system role)", query: NONE, request: None, status: 204, response: None, handler: h!(roles::delete) },
    Route { verb: Get, path: "/api/v2/roles/{id}/permissions", access: P("roles:list"), tag: "roles", summary: "List a role's permissions", query: NONE, request: None, status: 200, response: Some(s::permission_list), handler: h!(roles::permissions) },
    Route { verb: Put, path: "/api/v2/roles/{id}/permissions", access: P("roles:update"), tag: "roles", summary: "Replace a role's permissions", query: NONE, request: Some(s::permission_names), status: 200, response: Some(s::permission_list), handler: h!(roles::set_permissions) },
    Route { verb: Post, path: "/api/v2/roles/{id}/permissions", access: P("roles:update"), tag: "roles", summary: "Add permissions to a role", query: NONE, request: Some(s::permission_names), status: 200, response: Some(s::permission_list), handler: h!(roles::add_permissions) },
    Route { verb: Delete, path: "/api/v2/roles/{id}/permissions/{permission_id}", access: P("roles:update"), tag: "roles", summary: "Remove a permission from a role", query: NONE, request: None, status: 204, response: None, handler: h!(roles::remove_permission) },
    // Permissions
    Route { verb: Get, path: "/api/v2/permissions", access: P("permissions:list"), tag: "permissions", summary: "List permissions", query: &[("page", "Page number, from 1"), ("limit", "Page size, 1-100"), ("category", "menu, api or data")], request: None, status: 200, response: Some(s::permission_page), handler: h!(permissions::list) },
    Route { verb: Post, path: "/api/v2/permissions", access: P("permissions:create"), tag: "permissions", summary: "Create a permission (super_admin is granted it)", query: NONE, request: Some(s::permission_create), status: 201, response: Some(s::permission), handler: h!(permissions::create) },
    Route { verb: Get, path: "/api/v2/permissions/{id}", access: P("permissions:list"), tag: "permissions", summary: "Get a permission", query: NONE, request: None, status: 200, response: Some(s::permission), handler: h!(permissions::get) },
    Route { verb: Patch, path: "/api/v2/permissions/{id}", access: P("permissions:update"), tag: "permissions", summary: "Update a permission", query: NONE, request: Some(s::permission_update), status: 200, response: Some(s::permission), handler: h!(permissions::update) },
    Route { verb: Delete, path: "/api/v2/permissions/{id}", access: P("permissions:delete"), tag: "permissions", summary: "Delete a permission (not one this API requires)", query: NONE, request: None, status: 204, response: None, handler: h!(permissions::delete) },
    // OAuth clients
    Route { verb: Get, path: "/api/v2/clients", access: P("clients:list"), tag: "clients", summary: "List OAuth clients", query: PAGING, request: None, status: 200, response: Some(s::client_page), handler: h!(clients::list) },
    Route { verb: Post, path: "/api/v2/clients", access: P("clients:create"), tag: "clients", summary: "Register a client (the secret is shown once)", query: NONE, request: Some(s::client_create), status: 201, response: Some(s::client_with_secret), handler: h!(clients::create) },
    Route { verb: Get, path: "/api/v2/clients/{id}", access: P("clients:list"), tag: "clients", summary: "Get a client (by id or client_id)", query: NONE, request: None, status: 200, response: Some(s::client), handler: h!(clients::get) },
    Route { verb: Patch, path: "/api/v2/clients/{id}", access: P("clients:update"), tag: "clients", summary: "Update a client", query: NONE, request: Some(s::client_update), status: 200, response: Some(s::client), handler: h!(clients::update) },
    Route { verb: Delete, path: "/api/v2/clients/{id}", access: P("clients:delete"), tag: "clients", summary: "Delete a client; its tokens are revoked", query: NONE, request: None, status: 204, response: None, handler: h!(clients::delete) },
    Route { verb: Post, path: "/api/v2/clients/{id}/regenerate-secret", access: P("clients:secret:regenerate"), tag: "clients", summary: "Replace a confidential client's secret (shown once; the old one stops working)", query: NONE, request: None, status: 200, response: Some(s::client_with_secret), handler: h!(clients::regenerate_secret) },
    // Audit
    Route { verb: Get, path: "/api/v2/audit-logs", access: P("audit:list"), tag: "audit", summary: "Search the audit trail (format=csv for CSV)", query: AUDIT_Q, request: None, status: 200, response: Some(s::audit_page), handler: h!(audit_logs::list) },
    Route { verb: Get, path: "/api/v2/audit-logs/export", access: P("audit:list"), tag: "audit", summary: "Export the audit trail as CSV", query: AUDIT_EXPORT_Q, request: None, status: 200, response: None, handler: h!(audit_logs::export) },
    // Sessions, keys, configuration
    Route { verb: Get, path: "/api/v2/sessions", access: P("system:sessions"), tag: "system", summary: "List login sessions", query: SESSION_Q, request: None, status: 200, response: Some(s::session_page), handler: h!(sessions::list) },
    Route { verb: Delete, path: "/api/v2/sessions/{id}", access: P("system:sessions"), tag: "system", summary: "Terminate a login session", query: NONE, request: None, status: 204, response: None, handler: h!(sessions::terminate) },
    Route { verb: Get, path: "/api/v2/keys", access: P("system:keys"), tag: "system", summary: "List signing keys (public metadata only)", query: NONE, request: None, status: 200, response: Some(s::keys), handler: h!(system::keys) },
    Route { verb: Post, path: "/api/v2/keys/rotate", access: P("system:keys"), tag: "system", summary: "Start a key rotation (new keys are published, then activated)", query: NONE, request: None, status: 202, response: Some(s::rotation), handler: h!(system::rotate_keys) },
    Route { verb: Get, path: "/api/v2/system/config", access: P("system:config"), tag: "system", summary: "Effective configuration, secrets redacted", query: NONE, request: None, status: 200, response: Some(s::config), handler: h!(system::config) },
    // Self-service
    Route { verb: Get, path: "/api/v2/me/permissions", access: User, tag: "me", summary: "The caller's effective permissions (for the console menu)", query: NONE, request: None, status: 200, response: Some(s::my_permissions), handler: h!(me::permissions) },
    Route { verb: Post, path: "/api/v2/me/permissions/check", access: User, tag: "me", summary: "Check many permissions at once", query: NONE, request: Some(s::permission_names), status: 200, response: Some(s::permission_check), handler: h!(me::check_permissions) },
    Route { verb: Get, path: "/api/v2/me/export", access: User, tag: "gdpr", summary: "Export everything held about me (GDPR art. 15/20)", query: NONE, request: None, status: 200, response: Some(s::export), handler: h!(me::export) },
    Route { verb: Delete, path: "/api/v2/me", access: User, tag: "gdpr", summary: "Erase my account (GDPR art. 17)", query: NONE, request: None, status: 200, response: Some(s::erasure), handler: h!(me::erase) },
    // The description of all the above.
    Route { verb: Get, path: "/api/v2/openapi.json", access: Public, tag: "meta", summary: "This API's OpenAPI 3.1 document", query: NONE, request: None, status: 200, response: None, handler: h!(openapi::document) },
];

/// Every permission some route requires.
pub fn required_permissions() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = ROUTES.iter().filter_map(|r| r.access.permission()).collect();
    v.sort_unstable();
    v.dedup();
    v
}
