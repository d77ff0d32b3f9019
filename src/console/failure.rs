//! What can stop a console page, and how each failure reads to an administrator. Rendering (with
//! the navigation) is `Ctx::failure`; this file only decides status, title and text. Internals —
//! database errors, cluster errors — are logged where they happen and never shown.

use actix_web::ResponseError;
use actix_web::http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The signed-in user lacks this permission.
    Forbidden(String),
    /// Nothing with this id (the kind of thing is named).
    NotFound(&'static str),
    /// A request no form of the console sends (malformed ids, unknown choices).
    BadRequest(String),
    /// A dependency (database, cluster quorum, session store) is down.
    Unavailable(String),
    Internal,
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Forbidden(_) => StatusCode::FORBIDDEN,
            Failure::NotFound(_) => StatusCode::NOT_FOUND,
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Failure::Forbidden(_) => "Access denied",
            Failure::NotFound(_) => "Not found",
            Failure::BadRequest(_) => "Bad request",
            Failure::Unavailable(_) => "Temporarily unavailable",
            Failure::Internal => "Something went wrong",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Forbidden(p) => format!("You do not have permission to open this page. It requires the permission \u{201c}{p}\u{201d}; ask an administrator to grant it to one of your roles."),
            Failure::NotFound(what) => format!("The {what} you are looking for does not exist, or it has been deleted."),
            Failure::BadRequest(m) => m.clone(),
            Failure::Unavailable(m) => format!("{m} Please try again in a moment."),
            Failure::Internal => "The server could not complete this request. The error has been logged.".into(),
        }
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error in the console");
        Failure::Unavailable("The database is unavailable.".into())
    }
}

impl From<tessera_cluster::ClusterError> for Failure {
    fn from(e: tessera_cluster::ClusterError) -> Self {
        tracing::error!(error = %e, "cluster error in the console");
        Failure::Unavailable("The cluster cannot commit this change now.".into())
    }
}

impl From<crate::gdpr::GdprError> for Failure {
    fn from(e: crate::gdpr::GdprError) -> Self {
        match e {
            crate::gdpr::GdprError::NotFound => Failure::NotFound("user"),
            crate::gdpr::GdprError::Db(e) => e.into(),
            crate::gdpr::GdprError::Cluster(e) => e.into(),
            crate::gdpr::GdprError::Sessions(e) => {
                tracing::error!(error = %e, "session store error in the console");
                Failure::Unavailable("The session store is unavailable.".into())
            }
        }
    }
}

impl From<crate::oauth::error::OAuthError> for Failure {
    fn from(e: crate::oauth::error::OAuthError) -> Self {
        if e.status_code().is_server_error() { Failure::Unavailable(e.description.clone()) } else { Failure::BadRequest(e.description.clone()) }
    }
}
