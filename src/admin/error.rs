//! The admin API's error type, mapped to HTTP in exactly this one place.
//!
//! The admin API is a resource server (RFC 6750) plus a management API, so its errors are not the
//! token endpoint's: 401 `invalid_token` with a `Bearer` challenge, 403 `insufficient_scope` (also
//! with a challenge) for a token without the `admin` scope, 403 `forbidden` naming the
//! permission, 400 `validation_failed` with per-field details, 404, 409, and 503 when a dependency
//! (database, cluster quorum) is down. Bodies are JSON and never carry internals.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

/// One rejected field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, Clone)]
pub enum ApiError {
    /// No usable bearer token. `error_code = false` when the request carried no credentials at
    /// all (RFC 6750 §3.1: the challenge then names no error).
    Unauthorized { description: String, error_code: bool },
    /// A valid token that lacks the scope the API needs (RFC 6750 §3.1).
    InsufficientScope { scope: &'static str },
    /// Authenticated, but lacking the named permission.
    Forbidden { permission: String },
    /// An action the caller may never take, whatever their permissions (e.g. granting what they
    /// do not hold themselves).
    NotAllowed(String),
    Validation(Vec<FieldError>),
    NotFound(&'static str),
    Conflict(String),
    Unavailable(String),
    Internal,
}

impl ApiError {
    pub fn invalid_token(d: impl Into<String>) -> Self {
        ApiError::Unauthorized { description: d.into(), error_code: true }
    }
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized { description, .. } => write!(f, "invalid_token: {description}"),
            ApiError::InsufficientScope { scope } => write!(f, "insufficient_scope: requires {scope}"),
            ApiError::Forbidden { permission } => write!(f, "forbidden: requires {permission}"),
            ApiError::NotAllowed(m) => write!(f, "forbidden: {m}"),
            ApiError::Validation(d) => write!(f, "validation_failed: {} field(s)", d.len()),
            ApiError::NotFound(what) => write!(f, "{what} not found"),
            ApiError::Conflict(m) => write!(f, "conflict: {m}"),
            ApiError::Unavailable(m) => write!(f, "unavailable: {m}"),
            ApiError::Internal => f.write_str("internal error"),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error in admin API");
        ApiError::Unavailable("the database is unavailable; retry shortly".into())
    }
}

impl From<tessera_actors::sessions::SessionError> for ApiError {
    fn from(e: tessera_actors::sessions::SessionError) -> Self {
        tracing::error!(error = %e, "session store error in admin API");
        ApiError::Unavailable("the session store is unavailable; retry shortly".into())
    }
}

impl From<tessera_cluster::ClusterError> for ApiError {
    fn from(e: tessera_cluster::ClusterError) -> Self {
        tracing::error!(error = %e, "cluster error in admin API");
        ApiError::Unavailable(format!("the cluster cannot commit this change now: {e}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope { .. } | ApiError::Forbidden { .. } | ApiError::NotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        let body = match self {
            ApiError::Unauthorized { description, error_code } => {
                let challenge = if *error_code {
                    let d = description.replace(['"', '\\'], "'");
                    format!("Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{d}\"")
                } else {
                    "Bearer realm=\"tessera\"".to_string()
                };
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
                json!({ "error": "invalid_token", "error_description": description })
            }
            ApiError::InsufficientScope { scope } => {
                let challenge = format!("Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scope}\"");
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
                json!({ "error": "insufficient_scope", "error_description": format!("the access token lacks the {scope} scope"), "scope": scope })
            }
            ApiError::Forbidden { permission } => json!({
                "error": "forbidden",
                "error_description": format!("this action requires the permission {permission}"),
                "required_permission": permission,
            }),
            ApiError::NotAllowed(m) => json!({ "error": "forbidden", "error_description": m }),
            ApiError::Validation(details) => json!({
                "error": "validation_failed",
                "error_description": "the request has invalid fields",
                "details": details,
            }),
            ApiError::NotFound(what) => json!({ "error": "not_found", "error_description": format!("{what} not found") }),
            ApiError::Conflict(m) => json!({ "error": "conflict", "error_description": m }),
            ApiError::Unavailable(m) => json!({ "error": "temporarily_unavailable", "error_description": m }),
            ApiError::Internal => json!({ "error": "server_error", "error_description": "the server could not complete the request" }),
        };
        res.json(body)
    }
}

/// A unique-constraint violation becomes 409 with `message` (a concurrent request won the race
/// the pre-check could not see); anything else is a database failure.
pub fn unique_or_db(e: sea_orm::DbErr, message: &str) -> ApiError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ApiError::Conflict(message.to_string()),
        _ => ApiError::from(e),
    }
}

impl From<crate::gdpr::GdprError> for ApiError {
    fn from(e: crate::gdpr::GdprError) -> Self {
        match e {
            crate::gdpr::GdprError::NotFound => ApiError::NotFound("user"),
            crate::gdpr::GdprError::Db(e) => e.into(),
            crate::gdpr::GdprError::Cluster(e) => e.into(),
            crate::gdpr::GdprError::Sessions(e) => e.into(),
        }
    }
}

impl From<crate::rbac::rules::Refusal> for ApiError {
    fn from(r: crate::rbac::rules::Refusal) -> Self {
        use crate::rbac::rules::Refusal;
        match r {
            Refusal::Db(e) => e.into(),
            Refusal::LastSuperAdmin => ApiError::Conflict(r.message().unwrap_or_default()),
            Refusal::NotHeld(_) => ApiError::NotAllowed(r.message().unwrap_or_default()),
        }
    }
}
