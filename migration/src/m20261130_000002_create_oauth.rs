//! Migration 2: OAuth tables — `oauth_clients`, `authorization_codes`, `access_tokens`,
//! `refresh_tokens`, `consents`, `sessions`.
//!
//! Codes and tokens refer to clients and users by value, without foreign keys; consents and
//! sessions cascade from `users`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261130_000001_create_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `CREATE INDEX name ON table (cols...)`.
fn index<T: IntoIden, C: IntoIden>(name: &str, table: T, cols: Vec<C>) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(c);
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .col(string(OauthClients::Id).primary_key())
                    .col(string_uniq(OauthClients::ClientId))
                    .col(string(OauthClients::Name))
                    .col(text_null(OauthClients::Description))
                    .col(boolean(OauthClients::IsPublic).default(false))
                    .col(string_null(OauthClients::SecretHash))
                    .col(json_binary(OauthClients::RedirectUris))
                    .col(json_binary(OauthClients::PostLogoutRedirectUris))
                    .col(json_binary(OauthClients::GrantTypes))
                    .col(json_binary(OauthClients::Scopes))
                    .col(boolean(OauthClients::RequirePkce).default(true))
                    .col(boolean(OauthClients::RequireConsent).default(true))
                    .col(boolean(OauthClients::IsActive).default(true))
                    .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                    .col(timestamp_with_time_zone(OauthClients::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(string(AuthorizationCodes::CodeHash).primary_key())
                    .col(string(AuthorizationCodes::ClientId))
                    .col(string(AuthorizationCodes::UserId))
                    .col(text(AuthorizationCodes::RedirectUri))
                    .col(text(AuthorizationCodes::Scope))
                    .col(string(AuthorizationCodes::CodeChallenge))
                    .col(string(AuthorizationCodes::CodeChallengeMethod))
                    .col(text_null(AuthorizationCodes::Nonce))
                    .col(timestamp_with_time_zone(AuthorizationCodes::AuthTime))
                    .col(string_null(AuthorizationCodes::SessionId))
                    .col(timestamp_with_time_zone(AuthorizationCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        AuthorizationCodes::ConsumedAt,
                    ))
                    .col(timestamp_with_time_zone(AuthorizationCodes::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_authorization_codes_expires_at",
                AuthorizationCodes::Table,
                vec![AuthorizationCodes::ExpiresAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_authorization_codes_user_id",
                AuthorizationCodes::Table,
                vec![AuthorizationCodes::UserId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(string(AccessTokens::Jti).primary_key())
                    .col(string(AccessTokens::ClientId))
                    .col(string_null(AccessTokens::UserId))
                    .col(text(AccessTokens::Scope))
                    .col(string_null(AccessTokens::CodeHash))
                    .col(string_null(AccessTokens::RefreshFamilyId))
                    .col(timestamp_with_time_zone(AccessTokens::ExpiresAt))
                    .col(boolean(AccessTokens::Revoked).default(false))
                    .col(timestamp_with_time_zone(AccessTokens::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_access_tokens_code_hash", AccessTokens::CodeHash),
            (
                "idx_access_tokens_refresh_family_id",
                AccessTokens::RefreshFamilyId,
            ),
            ("idx_access_tokens_user_id", AccessTokens::UserId),
            ("idx_access_tokens_client_id", AccessTokens::ClientId),
            ("idx_access_tokens_expires_at", AccessTokens::ExpiresAt),
        ] {
            manager
                .create_index(index(name, AccessTokens::Table, vec![col]))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string(RefreshTokens::Id).primary_key())
                    .col(string_uniq(RefreshTokens::TokenHash))
                    .col(string(RefreshTokens::FamilyId))
                    .col(string_null(RefreshTokens::ParentId))
                    .col(string(RefreshTokens::ClientId))
                    .col(string(RefreshTokens::UserId))
                    .col(text(RefreshTokens::Scope))
                    .col(timestamp_with_time_zone(RefreshTokens::AuthTime))
                    .col(text_null(RefreshTokens::Nonce))
                    .col(string_null(RefreshTokens::CodeHash))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(boolean(RefreshTokens::Revoked).default(false))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_refresh_tokens_family_id", RefreshTokens::FamilyId),
            ("idx_refresh_tokens_user_id", RefreshTokens::UserId),
            ("idx_refresh_tokens_client_id", RefreshTokens::ClientId),
            ("idx_refresh_tokens_code_hash", RefreshTokens::CodeHash),
            ("idx_refresh_tokens_expires_at", RefreshTokens::ExpiresAt),
        ] {
            manager
                .create_index(index(name, RefreshTokens::Table, vec![col]))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(string(Consents::Id).primary_key())
                    .col(string(Consents::UserId))
                    .col(string(Consents::ClientId))
                    .col(text(Consents::Scopes))
                    .col(timestamp_with_time_zone(Consents::CreatedAt))
                    .col(timestamp_with_time_zone(Consents::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_user_id")
                            .from(Consents::Table, Consents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_consents_user_id_client_id",
                    Consents::Table,
                    vec![Consents::UserId, Consents::ClientId],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_consents_client_id",
                Consents::Table,
                vec![Consents::ClientId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(string(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::AuthTime))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(string_null(Sessions::IpAddress))
                    .col(text_null(Sessions::UserAgent))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user_id")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_sessions_user_id",
                Sessions::Table,
                vec![Sessions::UserId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_sessions_expires_at",
                Sessions::Table,
                vec![Sessions::ExpiresAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            Consents::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            AccessTokens::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            OauthClients::Table.into_iden(),
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
enum OauthClients {
    Table,
    Id,
    ClientId,
    Name,
    Description,
    IsPublic,
    SecretHash,
    RedirectUris,
    PostLogoutRedirectUris,
    GrantTypes,
    Scopes,
    RequirePkce,
    RequireConsent,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    UserId,
    RedirectUri,
    Scope,
    CodeChallenge,
    CodeChallengeMethod,
    Nonce,
    AuthTime,
    SessionId,
    ExpiresAt,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Jti,
    ClientId,
    UserId,
    Scope,
    CodeHash,
    RefreshFamilyId,
    ExpiresAt,
    Revoked,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    ParentId,
    ClientId,
    UserId,
    Scope,
    AuthTime,
    Nonce,
    CodeHash,
    ExpiresAt,
    Revoked,
    RevokedAt,
    RotatedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    UserId,
    ClientId,
    Scopes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    AuthTime,
    LastSeenAt,
    ExpiresAt,
    IpAddress,
    UserAgent,
    CreatedAt,
}
