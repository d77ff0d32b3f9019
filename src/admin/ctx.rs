//! What a handler of the admin API receives: the shared state, the request, its body, and the
//! authenticated caller; plus small helpers for reading input, auditing and answering.

use super::auth::Caller;
use super::error::ApiError;
use super::validate::{Body, Query};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use tessera_actors::audit::{AuditEvent, Severity};

pub struct Ctx {
    pub state: web::Data<AppState>,
    pub req: HttpRequest,
    body: web::Bytes,
    caller: Option<Caller>,
}

impl Ctx {
    pub(super) fn new(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes, caller: Option<Caller>) -> Ctx {
        Ctx { state, req, body, caller }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// The authenticated caller (always present on routes that are not public).
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or(ApiError::Unauthorized { description: "an access token is required".into(), error_code: false })
    }

    /// A path parameter of the route (`{id}`).
    pub fn param(&self, name: &str) -> Result<String, ApiError> {
        self.req.match_info().get(name).map(str::to_string).ok_or(ApiError::Internal)
    }

    pub fn body(&self) -> Result<Body, ApiError> {
        Body::parse(&self.body)
    }

    pub fn query(&self) -> Query {
        Query::parse(self.req.query_string())
    }

    /// An audit event stamped with the caller, the client, the origin and the time.
    pub fn event(&self, action: &'static str, severity: Severity) -> AuditEvent {
        event(&self.state, &self.req, self.caller.as_ref(), action, severity)
    }

    /// Records an event and waits until it is committed (admin changes are rare; the response
    /// is sent only once the trail holds them). A failure is logged, never hidden in silence.
    pub async fn record(&self, ev: AuditEvent) {
        record(&self.state, ev).await;
    }
}

/// An audit event stamped with the caller (if any), its client, the request's origin (client
/// address under `TRUSTED_PROXIES`) and the time.
pub fn event(state: &AppState, req: &HttpRequest, caller: Option<&Caller>, action: &'static str, severity: Severity) -> AuditEvent {
    let (ip, ua) = crate::http::client_ip::origin(state, req).into();
    let mut ev = AuditEvent::new(action, severity, state.clock.now()).origin(ip, ua);
    if let Some(c) = caller {
        ev = ev.user(c.user_id.clone());
        if let Some(client) = &c.client_id {
            ev = ev.client(client.clone());
        }
    }
    ev
}

pub async fn record(state: &AppState, ev: AuditEvent) {
    let action = ev.action;
    match state.audit.record_and_wait(ev).await {
        Ok(()) => {}
        Err(e) => tracing::error!(action, error = %e, "audit event not committed"),
    }
}

pub fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

pub fn created(body: Value) -> HttpResponse {
    HttpResponse::Created().json(body)
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
