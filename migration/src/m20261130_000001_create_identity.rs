//! Migration 1: identity and RBAC tables — `users`, `roles`, `permissions`, `user_roles`,
//! `role_permissions`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string_uniq(Users::Username))
                    .col(string_null(Users::Email).unique_key())
                    .col(string_null(Users::DisplayName))
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::IsActive).default(true))
                    .col(boolean(Users::MustChangePassword).default(false))
                    .col(boolean(Users::EmailVerified).default(false))
                    .col(integer(Users::FailedLoginCount).default(0))
                    .col(timestamp_with_time_zone_null(Users::LockedUntil))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(string(Roles::Id).primary_key())
                    .col(string_uniq(Roles::Name))
                    .col(string(Roles::DisplayName))
                    .col(text_null(Roles::Description))
                    .col(boolean(Roles::IsSystem).default(false))
                    .col(boolean(Roles::IsActive).default(true))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .col(timestamp_with_time_zone(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Permissions::Table)
                    .col(string(Permissions::Id).primary_key())
                    .col(string_uniq(Permissions::Name))
                    .col(string(Permissions::DisplayName))
                    .col(text_null(Permissions::Description))
                    .col(string(Permissions::Category))
                    .col(string(Permissions::Resource))
                    .col(string(Permissions::Action))
                    .col(boolean(Permissions::IsActive).default(true))
                    .col(timestamp_with_time_zone(Permissions::CreatedAt))
                    .col(timestamp_with_time_zone(Permissions::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserRoles::Table)
                    .col(string(UserRoles::UserId))
                    .col(string(UserRoles::RoleId))
                    .col(timestamp_with_time_zone_null(UserRoles::ExpiresAt))
                    .col(string_null(UserRoles::AssignedBy))
                    .col(timestamp_with_time_zone(UserRoles::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_user_roles")
                            .col(UserRoles::UserId)
                            .col(UserRoles::RoleId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_roles_user_id")
                            .from(UserRoles::Table, UserRoles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_roles_role_id")
                            .from(UserRoles::Table, UserRoles::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key covers lookups by user; this one serves "who holds role X".
        manager
            .create_index(
                Index::create()
                    .name("idx_user_roles_role_id")
                    .table(UserRoles::Table)
                    .col(UserRoles::RoleId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RolePermissions::Table)
                    .col(string(RolePermissions::RoleId))
                    .col(string(RolePermissions::PermissionId))
                    .col(timestamp_with_time_zone(RolePermissions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_role_permissions")
                            .col(RolePermissions::RoleId)
                            .col(RolePermissions::PermissionId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_role_permissions_role_id")
                            .from(RolePermissions::Table, RolePermissions::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_role_permissions_permission_id")
                            .from(RolePermissions::Table, RolePermissions::PermissionId)
                            .to(Permissions::Table, Permissions::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_role_permissions_permission_id")
                    .table(RolePermissions::Table)
                    .col(RolePermissions::PermissionId)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so foreign keys never point at a dropped table.
        for table in [
            RolePermissions::Table.into_iden(),
            UserRoles::Table.into_iden(),
            Permissions::Table.into_iden(),
            Roles::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// Run atomically on every backend (SQLite DDL is transactional too).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Username,
    Email,
    DisplayName,
    PasswordHash,
    IsActive,
    MustChangePassword,
    EmailVerified,
    FailedLoginCount,
    LockedUntil,
    LastLoginAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Roles {
    Table,
    Id,
    Name,
    DisplayName,
    Description,
    IsSystem,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Permissions {
    Table,
    Id,
    Name,
    DisplayName,
    Description,
    Category,
    Resource,
    Action,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum UserRoles {
    Table,
    UserId,
    RoleId,
    ExpiresAt,
    AssignedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum RolePermissions {
    Table,
    RoleId,
    PermissionId,
    CreatedAt,
}
