//! `audit_logs`: append-only security audit trail.
//!
//! `user_id` is deliberately not a foreign key, so the trail survives user deletion.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    /// Auto-increment big integer.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Event name, e.g. `USER_LOGIN_FAILED`.
    #[sea_orm(indexed)]
    pub action: String,
    #[sea_orm(indexed)]
    pub user_id: Option<String>,
    #[sea_orm(indexed)]
    pub client_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub details: Option<Json>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// `info`, `warning` or `critical`.
    #[sea_orm(indexed)]
    pub severity: String,
    #[sea_orm(indexed)]
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
