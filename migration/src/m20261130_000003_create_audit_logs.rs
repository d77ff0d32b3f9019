//! Migration 3: the `audit_logs` table.
//!
//! `user_id` is not a foreign key, so audit records survive the deletion of their user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(big_pk_auto(AuditLogs::Id))
                    .col(string(AuditLogs::Action))
                    .col(string_null(AuditLogs::UserId))
                    .col(string_null(AuditLogs::ClientId))
                    .col(string_null(AuditLogs::ResourceType))
                    .col(string_null(AuditLogs::ResourceId))
                    .col(json_binary_null(AuditLogs::Details))
                    .col(string_null(AuditLogs::IpAddress))
                    .col(text_null(AuditLogs::UserAgent))
                    .col(string(AuditLogs::Severity).default("info"))
                    .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_audit_logs_created_at", AuditLogs::CreatedAt),
            ("idx_audit_logs_action", AuditLogs::Action),
            ("idx_audit_logs_user_id", AuditLogs::UserId),
            ("idx_audit_logs_client_id", AuditLogs::ClientId),
            ("idx_audit_logs_severity", AuditLogs::Severity),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditLogs::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogs::Table).to_owned())
            .await
    }

    /// Run atomically on every backend (SQLite DDL is transactional too).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    Action,
    UserId,
    ClientId,
    ResourceType,
    ResourceId,
    Details,
    IpAddress,
    UserAgent,
    Severity,
    CreatedAt,
}
