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
//!
//! A code redemption hands over the code's redemption row: all redemptions of a batch are one
//! `INSERT … ON CONFLICT DO NOTHING RETURNING code_hash` in the batch's transaction, and a job whose
//! row was not inserted (the code was redeemed before) writes nothing ([`Written::CodeReplayed`]).
//! The row and the tokens commit together, so whoever finds the row finds the tokens too.
//!
//! On PostgreSQL several writers take batches from the one queue, so a batch's round trips overlap
//! with the next one's; two rotations of one token in parallel batches meet at its row lock, and
//! the second finds it rotated; two redemptions of one code meet at its key, and the second waits
//! for the first's commit and inserts nothing. On SQLite, whose writers serialise anyway, there is
//! one writer.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryTrait, TransactionTrait};
use std::collections::HashSet;
use std::sync::Arc;
use tessera_entity::{access_tokens, authorization_codes, refresh_tokens};
use tokio::sync::{Mutex, mpsc, oneshot};

/// The most rows of each kind one batch carries.
const MAX_BATCH: usize = 256;

/// Concurrent batches on PostgreSQL, at most; a small pool gets fewer (a third of its
/// connections, at least one), so writers never hold most of the connections requests read with.
const PG_WRITERS: usize = 3;

/// How many writers a PostgreSQL pool of `max_connections` gets.
fn pg_writers(max_connections: u32) -> usize {
    (max_connections as usize / 3).clamp(1, PG_WRITERS)
}

/// One request's rows.
#[derive(Default)]
pub struct TokenRows {
    pub access: Option<access_tokens::ActiveModel>,
    pub refresh: Option<refresh_tokens::ActiveModel>,
    /// The refresh token (row id) this exchange rotates, and when: the rows are written only if
    /// it is still current.
    pub rotate: Option<(String, DateTime<Utc>)>,
    /// The redemption of the authorization code these tokens are minted from: the rows are
    /// written only if this is the code's first redemption.
    pub redeem: Option<authorization_codes::ActiveModel>,
}

/// What became of one request's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Committed.
    Yes,
    /// The code to redeem was redeemed before: nothing was written, and the caller revokes what
    /// descends from it.
    CodeReplayed,
    /// The token to rotate was no longer current: nothing was written.
    RotationLost,
}

struct Job {
    rows: TokenRows,
    done: oneshot::Sender<Result<Written, String>>,
}

/// The handle requests write through (cheap to clone).
#[derive(Clone)]
pub struct TokenWriter {
    tx: mpsc::UnboundedSender<Job>,
}

impl TokenWriter {
    /// Starts the writer tasks on the current runtime: one for SQLite (its single writer lock
    /// serialises transactions anyway), up to [`PG_WRITERS`] for PostgreSQL, where batches of
    /// different writers commit in parallel (row locks order competing rotations of one token).
    pub fn start(db: DatabaseConnection) -> TokenWriter {
        let writers = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => pg_writers(db.get_postgres_connection_pool().options().get_max_connections()),
            _ => 1,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers {
            tokio::spawn(run(db.clone(), rx.clone()));
        }
        TokenWriter { tx }
    }

    /// Writes `rows`; resolves once they are committed (see [`Written`]).
    pub async fn write(&self, rows: TokenRows) -> Result<Written, DbErr> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job { rows, done }).map_err(|_| DbErr::Custom("the token writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(written)) => Ok(written),
            Ok(Err(e)) => Err(DbErr::Custom(e)),
            Err(_) => Err(DbErr::Custom("the token writer has stopped".into())),
        }
    }
}

/// One writer: takes the queue, gathers a batch, lets the queue go (to the next writer) and writes.
async fn run(db: DatabaseConnection, rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    loop {
        let mut jobs = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH
                && let Ok(job) = rx.try_recv()
            {
                jobs.push(job);
            }
            jobs
        };
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

/// Writes a batch; returns what became of each job's rows.
async fn write_batch(db: &DatabaseConnection, jobs: &mut [Job]) -> Result<Vec<Written>, DbErr> {
    if jobs.iter().all(|j| j.rows.rotate.is_none() && j.rows.redeem.is_none()) {
        let access: Vec<_> = jobs.iter_mut().filter_map(|j| j.rows.access.take()).collect();
        let refresh: Vec<_> = jobs.iter_mut().filter_map(|j| j.rows.refresh.take()).collect();
        insert_rows(db, access, refresh).await?;
        return Ok(vec![Written::Yes; jobs.len()]);
    }
    let txn = db.begin().await?;
    let rotated = rotate(&txn, jobs).await?;
    let redeemed = redeem(&txn, jobs).await?;
    // Concurrent uses of one token or code can meet in one batch: the first of them wins, the
    // rest lose.
    let (mut tokens_taken, mut codes_taken) = (HashSet::new(), HashSet::new());
    let mut written = Vec::with_capacity(jobs.len());
    let mut access = Vec::new();
    let mut refresh = Vec::new();
    for job in jobs.iter_mut() {
        let rotation_lost = job.rows.rotate.as_ref().is_some_and(|(id, _)| !(rotated.contains(id) && tokens_taken.insert(id.clone())));
        let replayed = job.rows.redeem.as_ref().and_then(|r| r.code_hash.try_as_ref()).is_some_and(|h| !(redeemed.contains(h) && codes_taken.insert(h.clone())));
        let w = if rotation_lost {
            Written::RotationLost
        } else if replayed {
            Written::CodeReplayed
        } else {
            access.extend(job.rows.access.take());
            refresh.extend(job.rows.refresh.take());
            Written::Yes
        };
        written.push(w);
    }
    insert_chunked(&txn, access).await?;
    insert_chunked(&txn, refresh).await?;
    txn.commit().await?;
    Ok(written)
}

/// Rotates every token the batch's refresh exchanges present, with one conditional update; returns
/// the ids it rotated (still current: not rotated, not revoked).
async fn rotate(txn: &DatabaseTransaction, jobs: &[Job]) -> Result<HashSet<String>, DbErr> {
    let rotations: Vec<&(String, DateTime<Utc>)> = jobs.iter().filter_map(|j| j.rows.rotate.as_ref()).collect();
    let Some(now) = rotations.iter().map(|(_, at)| *at).max() else { return Ok(HashSet::new()) };
    let mut update = Query::update();
    update
        .table(refresh_tokens::Entity)
        .value(refresh_tokens::Column::RotatedAt, Some(now))
        .and_where(refresh_tokens::Column::Id.is_in(rotations.iter().map(|(id, _)| id.clone())))
        .and_where(refresh_tokens::Column::RotatedAt.is_null())
        .and_where(refresh_tokens::Column::Revoked.eq(false))
        .returning_col(refresh_tokens::Column::Id);
    let stmt = txn.get_database_backend().build(&update);
    txn.query_all_raw(stmt).await?.iter().map(|r| r.try_get::<String>("", "id")).collect()
}

/// Inserts the redemption rows of the batch's code redemptions (each code once), skipping codes
/// already redeemed; returns the hashes it inserted: the codes redeemed for the first time.
async fn redeem(txn: &DatabaseTransaction, jobs: &[Job]) -> Result<HashSet<String>, DbErr> {
    let mut seen = HashSet::new();
    let rows: Vec<authorization_codes::ActiveModel> = jobs
        .iter()
        .filter_map(|j| j.rows.redeem.as_ref())
        .filter(|r| r.code_hash.try_as_ref().is_some_and(|h| seen.insert(h.clone())))
        .cloned()
        .collect();
    let mut inserted = HashSet::new();
    for chunk in tessera_actors::batch::chunks(rows) {
        let mut insert = authorization_codes::Entity::insert_many(chunk)
            .on_conflict(OnConflict::column(authorization_codes::Column::CodeHash).do_nothing().to_owned())
            .into_query();
        insert.returning_col(authorization_codes::Column::CodeHash);
        let stmt = txn.get_database_backend().build(&insert);
        for r in txn.query_all_raw(stmt).await? {
            inserted.insert(r.try_get::<String>("", "code_hash")?);
        }
    }
    Ok(inserted)
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

#[cfg(test)]
mod tests {
    #[test]
    fn small_pools_get_fewer_writers() {
        assert_eq!([1, 2, 3, 5, 6, 9, 10, 100].map(super::pg_writers), [1, 1, 1, 1, 2, 3, 3, 3]);
    }
}
