//! Group commit for token rows: `access_tokens` and `refresh_tokens` inserts from concurrent
//! requests are written together, one transaction per batch.
//!
//! A request hands its rows to the writer task and waits until the batch holding them has
//! committed, so a token is never answered before its row is durable (revocation cascades and
//! introspection of refresh tokens find it at once, on every node). While one batch is being
//! written the next one gathers, so under load a batch holds about one row per concurrent request
//! and the database sees one commit instead of dozens; alone, a request waits for one transaction
//! as it did before.

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, TransactionTrait};
use tessera_entity::{access_tokens, refresh_tokens};
use tokio::sync::{mpsc, oneshot};

/// The most rows of each kind one batch carries.
const MAX_BATCH: usize = 256;

/// One request's rows.
#[derive(Default)]
pub struct TokenRows {
    pub access: Option<access_tokens::ActiveModel>,
    pub refresh: Option<refresh_tokens::ActiveModel>,
}

struct Job {
    rows: TokenRows,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle requests write through (cheap to clone).
#[derive(Clone)]
pub struct TokenWriter {
    tx: mpsc::UnboundedSender<Job>,
}

impl TokenWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(db: DatabaseConnection) -> TokenWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, rx));
        TokenWriter { tx }
    }

    /// Writes `rows`; resolves once they are committed.
    pub async fn write(&self, rows: TokenRows) -> Result<(), DbErr> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job { rows, done }).map_err(|_| DbErr::Custom("the token writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DbErr::Custom(e)),
            Err(_) => Err(DbErr::Custom("the token writer has stopped".into())),
        }
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH
            && let Ok(job) = rx.try_recv()
        {
            jobs.push(job);
        }
        let mut access = Vec::new();
        let mut refresh = Vec::new();
        let mut waiters = Vec::with_capacity(jobs.len());
        for job in jobs {
            access.extend(job.rows.access);
            refresh.extend(job.rows.refresh);
            waiters.push(job.done);
        }
        let res = write_batch(&db, access, refresh).await.map_err(|e| {
            tracing::error!(error = %e, "writing a batch of token rows failed");
            e.to_string()
        });
        for w in waiters {
            let _ = w.send(res.clone());
        }
    }
}

async fn write_batch(
    db: &DatabaseConnection,
    access: Vec<access_tokens::ActiveModel>,
    refresh: Vec<refresh_tokens::ActiveModel>,
) -> Result<(), DbErr> {
    let single = usize::from(!access.is_empty()) + usize::from(!refresh.is_empty()) == 1;
    if single {
        // One statement commits atomically by itself: no BEGIN/COMMIT round trips.
        if !access.is_empty() {
            access_tokens::Entity::insert_many(access).exec_without_returning(db).await?;
        } else {
            refresh_tokens::Entity::insert_many(refresh).exec_without_returning(db).await?;
        }
        return Ok(());
    }
    let txn = db.begin().await?;
    if !access.is_empty() {
        access_tokens::Entity::insert_many(access).exec_without_returning(&txn).await?;
    }
    if !refresh.is_empty() {
        refresh_tokens::Entity::insert_many(refresh).exec_without_returning(&txn).await?;
    }
    txn.commit().await
}
