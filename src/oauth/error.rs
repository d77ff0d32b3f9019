//! The one protocol error type (RFC 6749 §5.2, RFC 6750 §3, RFC 7009, OIDC Core §3.1.2.6), mapped to
//! HTTP in exactly one place. Protocol logic returns `OAuthError`; it never builds responses itself.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// RFC error codes used by Tessera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    UnsupportedTokenType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            UnsupportedResponseType => "unsupported_response_type",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

/// How the client authenticated, so `invalid_client` can answer with the right challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    None,
    /// RFC 6749 §5.2: 401 with `WWW-Authenticate: Basic` when the client used HTTP Basic.
    Basic,
    /// RFC 6750 §3: resource requests answer with a `Bearer` challenge.
    Bearer,
}

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Public text: never internals, never secrets.
    pub description: String,
    pub challenge: Challenge,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError { code, description: description.into(), challenge: Challenge::None }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        OAuthError { challenge: if basic { Challenge::Basic } else { Challenge::None }, ..Self::new(ErrorCode::InvalidClient, d) }
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        OAuthError { challenge: Challenge::Bearer, ..Self::new(ErrorCode::InvalidToken, d) }
    }
    pub fn insufficient_scope(d: impl Into<String>) -> Self {
        OAuthError { challenge: Challenge::Bearer, ..Self::new(ErrorCode::InsufficientScope, d) }
    }
    /// An internal failure: logged by the caller, answered without detail.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }
    /// A dependency (database, quorum) is down: 503, the client may retry.
    pub fn unavailable(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, d)
    }
    pub fn with_bearer(mut self) -> Self {
        self.challenge = Challenge::Bearer;
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<sea_orm::DbErr> for OAuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error");
        OAuthError::unavailable("the service is temporarily unavailable; retry shortly")
    }
}

impl From<tessera_cluster::ClusterError> for OAuthError {
    fn from(e: tessera_cluster::ClusterError) -> Self {
        tracing::error!(error = %e, "cluster error");
        OAuthError::unavailable(format!("the cluster cannot commit this change now: {e}"))
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        use ErrorCode::*;
        match self.code {
            InvalidClient | InvalidToken => StatusCode::UNAUTHORIZED,
            InsufficientScope | AccessDenied => StatusCode::FORBIDDEN,
            ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
        match self.challenge {
            Challenge::None => {}
            Challenge::Basic => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\"")));
            }
            Challenge::Bearer => {
                let desc = self.description.replace(['"', '\\'], "'");
                let v = format!("Bearer realm=\"tessera\", error=\"{}\", error_description=\"{}\"", self.code.as_str(), desc);
                if let Ok(v) = HeaderValue::from_str(&v) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
        }
        res.json(json!({ "error": self.code.as_str(), "error_description": self.description }))
    }
}
