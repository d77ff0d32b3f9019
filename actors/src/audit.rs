//! The audit actor: batches audit events and writes them with one insert per batch (group commit).
//!
//! Requests record through an [`Audit`] handle. A fire-and-forget event ([`Audit::record`]) is
//! pushed onto a queue the actor drains every 50 ms: no message and no wake-up per event, which
//! matters at thousands of token responses a second. A waited-for event ([`Audit::record_and_wait`])
//! is a message: it is written at once, together with everything queued, or — while a write is in
//! flight — with the next write, which starts as soon as that one ends; it resolves only once its
//! batch has committed, so a response that reports a security event is sent after the event is
//! durable. `Flush` (used at shutdown and by tests) writes everything pending.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_entity::audit_logs;
use tokio::sync::oneshot;

const FLUSH_EVERY: Duration = Duration::from_millis(50);

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

/// Record an event and resolve once it is committed.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct RecordAndWait(pub AuditEvent);

/// Write everything pending now and resolve when done (shutdown).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Flush;

type Queue = Arc<Mutex<Vec<AuditEvent>>>;

fn drain(queue: &Queue) -> Vec<AuditEvent> {
    std::mem::take(&mut *queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// How requests record audit events (cheap to clone).
#[derive(Clone)]
pub struct Audit {
    addr: Addr<AuditActor>,
    queue: Queue,
}

impl Audit {
    /// Starts the audit actor on the current arbiter.
    pub fn start(db: DatabaseConnection) -> Audit {
        let queue = Queue::default();
        let addr = AuditActor { db, queue: Arc::clone(&queue), pending: Vec::new(), waiters: Vec::new(), writing: false }.start();
        Audit { addr, queue }
    }

    /// Records `event` with the next batch (within 50 ms); does not wait.
    pub fn record(&self, event: AuditEvent) {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(event);
    }

    /// Records `event` and resolves once it is committed.
    pub async fn record_and_wait(&self, event: AuditEvent) -> Result<(), String> {
        self.addr.send(RecordAndWait(event)).await.unwrap_or_else(|_| Err("audit actor stopped".into()))
    }

    /// Writes everything recorded so far; resolves once it is committed.
    pub async fn flush(&self) -> Result<(), String> {
        self.addr.send(Flush).await.unwrap_or_else(|_| Err("audit actor stopped".into()))
    }
}

pub struct AuditActor {
    db: DatabaseConnection,
    queue: Queue,
    /// Waited-for events (and everything queued before them) not yet handed to a write.
    pending: Vec<AuditEvent>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    /// A write is in flight: the next one starts when it ends.
    writing: bool,
}

impl AuditActor {
    /// Writes the queue and everything pending, unless a write is in flight (then the waiters are
    /// served by the write that follows it).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        let mut batch = std::mem::take(&mut self.pending);
        batch.extend(drain(&self.queue));
        let waiters = std::mem::take(&mut self.waiters);
        if batch.is_empty() {
            for w in waiters {
                let _ = w.send(Ok(()));
            }
            return;
        }
        self.writing = true;
        let db = self.db.clone();
        let write = async move {
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
        };
        ctx.spawn(write.into_actor(self).map(|(), act, ctx| {
            act.writing = false;
            if !act.waiters.is_empty() {
                act.flush(ctx);
            }
        }));
    }
}

async fn write_batch(db: &DatabaseConnection, batch: &[AuditEvent]) -> Result<(), String> {
    fn row(e: &AuditEvent) -> audit_logs::ActiveModel {
        audit_logs::ActiveModel {
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
        }
    }
    // Fixed chunk sizes (see `batch`): at most 256 rows of 10 columns, well under both databases'
    // parameter limits.
    for chunk in crate::batch::chunks(batch.iter().collect()) {
        let mut last = None;
        for attempt in 0..3u64 {
            match audit_logs::Entity::insert_many(chunk.iter().copied().map(row)).exec_without_returning(db).await {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    last = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
                }
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(())
}

impl Actor for AuditActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(FLUSH_EVERY, |act, ctx| act.flush(ctx));
    }
}

impl Handler<RecordAndWait> for AuditActor {
    type Result = ResponseFuture<Result<(), String>>;
    fn handle(&mut self, msg: RecordAndWait, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.extend(drain(&self.queue));
        self.pending.push(msg.0);
        self.waiters.push(tx);
        self.flush(ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err("audit actor stopped".into())) })
    }
}

impl Handler<Flush> for AuditActor {
    type Result = ResponseFuture<Result<(), String>>;
    fn handle(&mut self, _: Flush, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.extend(drain(&self.queue));
        self.waiters.push(tx);
        self.flush(ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err("audit actor stopped".into())) })
    }
}
