//! Schema migrations for Tessera (SeaORM 2), identical on SQLite and PostgreSQL.
//!
//! Migrations, in order:
//! 1. [`m20261130_000001_create_identity`]: users, roles, permissions and their join tables.
//! 2. [`m20261130_000002_create_oauth`]: clients, codes, tokens, consents, sessions.
//! 3. [`m20261130_000003_create_audit_logs`]: the audit trail.
//! 4. [`m20261130_000004_seed_rbac`]: default system roles and permissions.
//!
//! SQLite enforces the `ON DELETE CASCADE` foreign keys only with `PRAGMA foreign_keys=ON`,
//! which the connection must set.

use sea_orm::DatabaseConnection;
pub use sea_orm_migration::prelude::*;

pub mod m20261130_000001_create_identity;
pub mod m20261130_000002_create_oauth;
pub mod m20261130_000003_create_audit_logs;
pub mod m20261130_000004_seed_rbac;

/// The ordered list of Tessera migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261130_000001_create_identity::Migration),
            Box::new(m20261130_000002_create_oauth::Migration),
            Box::new(m20261130_000003_create_audit_logs::Migration),
            Box::new(m20261130_000004_seed_rbac::Migration),
        ]
    }
}

/// Applies every pending migration.
pub async fn run_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Every known migration by name, in order, with whether it has been applied.
///
/// Read-only: it does not create the `seaql_migrations` table; on an empty database every
/// migration is reported as not applied.
pub async fn status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    Ok(Migrator::get_migration_with_status_read_only(db)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == sea_orm_migration::MigrationStatus::Applied,
            )
        })
        .collect())
}
