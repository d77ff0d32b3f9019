//! Group commit for token rows: `access_tokens` and `refresh_tokens` inserts from concurrent
//! requests are written together, one transaction per batch.
//!
//! A request hands its rows to the writer task and waits until the batch holding them has
//! committed, so a token is never answered before its row is durable (revocation cascades and
//! introspection of refresh tokens find it at once, on every node). While one batch is being
//! written the next one gathers, so under load a batch holds about one row per concurrent request
//! and the database sees one commit instead of dozens; alone, a request waits for one transaction
//! as it did before.
//!
//! A refresh exchange also hands over the rotation of the presented token: all rotations of a
//! batch are one conditional `UPDATE … RETURNING id` inside the batch's transaction, and a job whose
//! token was not rotated (rotated or revoked meanwhile: reuse) writes nothing. Rotation and the
//! successor's insert commit together, so a family revocation racing with a rotation either makes
//! the rotation fail or, in its second pass, sees the successor (see `refresh::revoke_family`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait};
use std::collections::HashSet;
use tessera_entity::{access_tokens, refresh_tokens};
use tokio::sync::{mpsc, oneshot};

/// The most rows of each kind one batch carries.
const MAX_BATCH: usize = 256;

/// One request's rows.
#[derive(Default)]
pub struct TokenRows {
    pub access: Option<access_tokens::ActiveModel>,
    pub refresh: Option<refresh_tokens::ActiveModel>,
    /// The refresh token (row id) this exchange rotates, and when: the rows are written only if
    /// it is still current.
    pub rotate: Option<(String, DateTime<Utc>)>,
}

struct Job {
    rows: TokenRows,
    done: oneshot::Sender<Result<bool, String>>,
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

    /// Writes `rows`; resolves once they are committed: `Ok(true)`, or `Ok(false)` when the token
    /// to rotate was no longer current (nothing was written).
    pub async fn write(&self, rows: TokenRows) -> Result<bool, DbErr> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job { rows, done }).map_err(|_| DbErr::Custom("the token writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(written)) => Ok(written),
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
        match write_batch(&db, &mut jobs).await {
            Ok(written) => {
                for (job, written) in jobs.into_iter().zip(written) {
                    let _ = job.done.send(Ok(written));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writing a batch of token rows failed");
                for job in jobs {
                    let _ = job.done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Writes a batch; returns, per job, whether its rows were written (false: its rotation lost).
async fn write_batch(db: &DatabaseConnection, jobs: &mut [Job]) -> Result<Vec<bool>, DbErr> {
    let rotations: Vec<(String, DateTime<Utc>)> = jobs.iter().filter_map(|j| j.rows.rotate.clone()).collect();
    if rotations.is_empty() {
        let access: Vec<_> = jobs.iter_mut().filter_map(|j| j.rows.access.take()).collect();
        let refresh: Vec<_> = jobs.iter_mut().filter_map(|j| j.rows.refresh.take()).collect();
        insert_rows(db, access, refresh).await?;
        return Ok(vec![true; jobs.len()]);
    }
    let txn = db.begin().await?;
    let now = rotations.iter().map(|(_, at)| *at).max().unwrap_or_else(Utc::now);
    let mut update = Query::update();
    update
        .table(refresh_tokens::Entity)
        .value(refresh_tokens::Column::RotatedAt, Some(now))
        .and_where(refresh_tokens::Column::Id.is_in(rotations.iter().map(|(id, _)| id.clone())))
        .and_where(refresh_tokens::Column::RotatedAt.is_null())
        .and_where(refresh_tokens::Column::Revoked.eq(false))
        .returning_col(refresh_tokens::Column::Id);
    let stmt = txn.get_database_backend().build(&update);
    let won: HashSet<String> =
        txn.query_all_raw(stmt).await?.iter().map(|r| r.try_get::<String>("", "id")).collect::<Result<_, _>>()?;
    // Concurrent uses of one token can meet in one batch: the first of them wins, the rest lose.
    let mut claimed = HashSet::new();
    let mut written = Vec::with_capacity(jobs.len());
    let mut access = Vec::new();
    let mut refresh = Vec::new();
    for job in jobs.iter_mut() {
        let wins = match &job.rows.rotate {
            None => true,
            Some((id, _)) => won.contains(id) && claimed.insert(id.clone()),
        };
        if wins {
            access.extend(job.rows.access.take());
            refresh.extend(job.rows.refresh.take());
        }
        written.push(wins);
    }
    insert_chunked(&txn, access).await?;
    insert_chunked(&txn, refresh).await?;
    txn.commit().await?;
    Ok(written)
}

/// Inserts rows outside a rotation: one statement when only one kind is present.
async fn insert_rows(
    db: &DatabaseConnection,
    access: Vec<access_tokens::ActiveModel>,
    refresh: Vec<refresh_tokens::ActiveModel>,
) -> Result<(), DbErr> {
    if access.is_empty() || refresh.is_empty() {
        // One kind: each job has one row, so no transaction is needed to keep a job's rows
        // together (and none costs BEGIN/COMMIT round trips).
        insert_chunked(db, access).await?;
        return insert_chunked(db, refresh).await;
    }
    let txn = db.begin().await?;
    insert_chunked(&txn, access).await?;
    insert_chunked(&txn, refresh).await?;
    txn.commit().await
}

/// Inserts `rows` in the fixed chunk sizes of `tessera_actors::batch` (a bounded set of statement
/// texts for the drivers' statement caches).
async fn insert_chunked<A, C>(c: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    for chunk in tessera_actors::batch::chunks(rows) {
        <A::Entity as EntityTrait>::insert_many(chunk).exec_without_returning(c).await?;
    }
    Ok(())
}
