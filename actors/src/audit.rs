//! The audit actor: batches audit events and writes them with one insert per batch (group commit).
//!
//! A batch is flushed every 50 ms or at 100 events, whichever comes first. `RecordAndWait` resolves
//! only once the batch holding its event has committed, so a response that reports a security
//! event is sent after the event is durable. `Flush` (used at shutdown) writes everything pending.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::Value;
use std::time::Duration;
use tessera_entity::audit_logs;
use tokio::sync::oneshot;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One audit record. Never put a secret or a token in `details`.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: &'static str,
    pub severity: Severity,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub details: Option<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
}

impl AuditEvent {
    pub fn new(action: &'static str, severity: Severity, at: DateTime<Utc>) -> Self {
        AuditEvent {
            action,
            severity,
            user_id: None,
            client_id: None,
            resource_type: None,
            resource_id: None,
            details: None,
            ip_address: None,
            user_agent: None,
            at,
        }
    }
    pub fn user(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }
    pub fn client(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }
    pub fn resource(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.resource_type = Some(kind.into());
        self.resource_id = Some(id.into());
        self
    }
    pub fn details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }
    pub fn origin(mut self, ip: Option<String>, user_agent: Option<String>) -> Self {
        self.ip_address = ip;
        self.user_agent = user_agent.map(|ua| ua.chars().take(512).collect());
        self
    }
}

/// Record an event; returns at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Record(pub AuditEvent);

/// Record an event and resolve once it is committed.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct RecordAndWait(pub AuditEvent);

/// Write everything pending now and resolve when done (shutdown).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Flush;

pub struct AuditActor {
    db: DatabaseConnection,
    pending: Vec<AuditEvent>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
}

impl AuditActor {
    pub fn new(db: DatabaseConnection) -> Self {
        AuditActor { db, pending: Vec::new(), waiters: Vec::new() }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let waiters = std::mem::take(&mut self.waiters);
        let db = self.db.clone();
        ctx.spawn(
            async move {
                let res = write_batch(&db, &batch).await;
                if let Err(e) = &res {
                    // Last resort: the events reach the log rather than vanish.
                    for ev in &batch {
                        tracing::error!(action = ev.action, severity = ev.severity.as_str(), user_id = ?ev.user_id, client_id = ?ev.client_id, error = %e, "audit event not persisted");
                    }
                }
                for w in waiters {
                    let _ = w.send(res.clone());
                }
            }
            .into_actor(self),
        );
    }
}

async fn write_batch(db: &DatabaseConnection, batch: &[AuditEvent]) -> Result<(), String> {
    let rows = || {
        batch.iter().map(|e| audit_logs::ActiveModel {
            action: Set(e.action.to_string()),
            user_id: Set(e.user_id.clone()),
            client_id: Set(e.client_id.clone()),
            resource_type: Set(e.resource_type.clone()),
            resource_id: Set(e.resource_id.clone()),
            details: Set(e.details.clone()),
            ip_address: Set(e.ip_address.clone()),
            user_agent: Set(e.user_agent.clone()),
            severity: Set(e.severity.as_str().to_string()),
            created_at: Set(e.at),
            ..Default::default()
        })
    };
    let mut last = String::new();
    for attempt in 0..3u64 {
        match audit_logs::Entity::insert_many(rows()).exec_without_returning(db).await {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
            }
        }
    }
    Err(last)
}

impl Actor for AuditActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(FLUSH_EVERY, |act, ctx| act.flush(ctx));
    }
}

impl Handler<Record> for AuditActor {
    type Result = ();
    fn handle(&mut self, msg: Record, ctx: &mut Self::Context) {
        self.pending.push(msg.0);
        if self.pending.len() >= MAX_BATCH {
            self.flush(ctx);
        }
    }
}

impl Handler<RecordAndWait> for AuditActor {
    type Result = ResponseFuture<Result<(), String>>;
    fn handle(&mut self, msg: RecordAndWait, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.push(msg.0);
        self.waiters.push(tx);
        if self.pending.len() >= MAX_BATCH {
            self.flush(ctx);
        }
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err("audit actor stopped".into())) })
    }
}

impl Handler<Flush> for AuditActor {
    type Result = ResponseFuture<Result<(), String>>;
    fn handle(&mut self, _: Flush, ctx: &mut Self::Context) -> Self::Result {
        if self.pending.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.flush(ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err("audit actor stopped".into())) })
    }
}
