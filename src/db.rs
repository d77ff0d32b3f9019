//! Database connection: one SeaORM pool for SQLite or PostgreSQL, and migrations.

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;
use tessera_config::Settings;
use tessera_migration::{Migrator, MigratorTrait};

/// Connects with the configured pool size. Every SQLite connection gets foreign keys, WAL and
/// `synchronous=NORMAL`, and waits on a busy database instead of failing.
///
/// The pool does not ping a connection on every checkout (sqlx's default): that is one more round
/// trip (PostgreSQL) or thread hand-off (SQLite) before every query. Only a connection idle for
/// [`PING_IF_IDLE_FOR`] is pinged first, where a server restart or a proxy's idle timeout would have
/// broken it. A busy connection that breaks fails its query with an I/O error (503), and sqlx's
/// ping on release closes it instead of returning it to the pool.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    connect_url(settings.database_url.expose(), settings.db_max_connections).await
}

/// A pooled connection idle this long is pinged before it is handed out.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

pub async fn connect_url(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .map_sqlx_sqlite_opts(|o| {
            o.foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    Database::connect(opts).await
}

/// The connection the write-heavy parts (codes, token rows, audit batches, sessions) write
/// through. On SQLite it is a second pool of one connection: SQLite has one writer at a time, and
/// writers on separate connections meet at the file lock, where the losers sleep in SQLite's busy
/// handler (milliseconds at a time) while the CPU idles; on one connection they queue in process
/// and run back to back. Reads keep the main pool. On PostgreSQL (and in-memory SQLite, where
/// another pool would be another database) it is the main pool.
pub async fn writer(settings: &Settings, db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    writer_for(settings.database_url.expose(), db).await
}

async fn writer_for(url: &str, db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    let sqlite_file = db.get_database_backend() == sea_orm::DbBackend::Sqlite && !url.contains(":memory:") && !url.contains("mode=memory");
    if sqlite_file { connect_url(url, 1).await } else { Ok(db.clone()) }
}

/// Applies pending migrations. Several nodes starting together against one database may race:
/// the losers retry until the schema is complete.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut last = None;
    for attempt in 0..5u64 {
        match Migrator::up(db, None).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "migration attempt failed; retrying");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| DbErr::Custom("migration failed".into())))
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    #[tokio::test]
    async fn sqlite_writes_get_one_connection_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = super::connect_url(&url, 5).await.unwrap();
        let writes = super::writer_for(&url, &db).await.unwrap();
        assert_eq!(writes.get_sqlite_connection_pool().options().get_max_connections(), 1);
        assert_eq!(db.get_sqlite_connection_pool().options().get_max_connections(), 5);
        // No ping before every query: only connections idle for PING_IF_IDLE_FOR are pinged.
        assert!(!db.get_sqlite_connection_pool().options().get_test_before_acquire());
        // Both pools are the same database file.
        writes.execute_unprepared("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7)").await.unwrap();
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT x FROM t")).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i32>("", "x").unwrap(), 7);
    }

    #[tokio::test]
    async fn in_memory_sqlite_writes_through_the_main_pool() {
        // Another pool on an in-memory URL would be another, empty database.
        let db = super::connect_url("sqlite::memory:", 1).await.unwrap();
        let writes = super::writer_for("sqlite::memory:", &db).await.unwrap();
        writes.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        db.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
    }
}
