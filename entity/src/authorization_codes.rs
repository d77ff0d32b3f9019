//! `authorization_codes`: redeemed authorization codes, keyed by the hex SHA-256 of the code. A code
//! carries its grant sealed until it is redeemed (`tessera_actors::codes`); its row is written when it
//! is redeemed (or refused), in the same transaction as the tokens minted from it, and the key makes
//! that happen once.
//!
//! `client_id` and `user_id` are stored by value without foreign keys.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    /// Hex SHA-256 of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// Space-separated scopes.
    pub scope: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub nonce: Option<String>,
    pub auth_time: DateTimeUtc,
    pub session_id: Option<String>,
    #[sea_orm(indexed)]
    pub expires_at: DateTimeUtc,
    /// When the code was redeemed (always set; nullable since rows used to be written at issuance).
    pub consumed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
