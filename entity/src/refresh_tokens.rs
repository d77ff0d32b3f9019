//! `refresh_tokens`: rotating refresh tokens, grouped into families for reuse detection.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// UUID text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Hex SHA-256 of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    #[sea_orm(indexed)]
    pub family_id: String,
    /// The token this one was rotated from.
    pub parent_id: Option<String>,
    #[sea_orm(indexed)]
    pub client_id: String,
    #[sea_orm(indexed)]
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    pub auth_time: DateTimeUtc,
    pub nonce: Option<String>,
    /// The authorization code the family started from, if any.
    pub code_hash: Option<String>,
    pub expires_at: DateTimeUtc,
    pub revoked: bool,
    pub revoked_at: Option<DateTimeUtc>,
    /// Set when this token has been exchanged for a successor.
    pub rotated_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user the token was issued for (read together with the token on refresh).
    #[sea_orm(belongs_to = "super::users::Entity", from = "Column::UserId", to = "super::users::Column::Id")]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
