//! `access_tokens`: metadata of issued JWT access tokens, for revocation cascades and GDPR.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    /// The JWT's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub client_id: String,
    /// `None` for client-credentials tokens.
    #[sea_orm(indexed)]
    pub user_id: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// The authorization code this token came from, if any.
    #[sea_orm(indexed)]
    pub code_hash: Option<String>,
    /// The refresh-token family this token came from, if any.
    #[sea_orm(indexed)]
    pub refresh_family_id: Option<String>,
    #[sea_orm(indexed)]
    pub expires_at: DateTimeUtc,
    pub revoked: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
