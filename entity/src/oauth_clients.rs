//! `oauth_clients`: registered OAuth 2.1 / OIDC relying parties.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "oauth_clients")]
pub struct Model {
    /// UUID text (internal id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The public `client_id` sent in OAuth requests.
    #[sea_orm(unique)]
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Public clients have no secret and must use PKCE.
    pub is_public: bool,
    /// Hash of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// JSON array of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub redirect_uris: Json,
    /// JSON array of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub post_logout_redirect_uris: Json,
    /// JSON array of strings, e.g. `["authorization_code","refresh_token"]`.
    #[sea_orm(column_type = "JsonBinary")]
    pub grant_types: Json,
    /// JSON array of strings: the scopes this client may request.
    #[sea_orm(column_type = "JsonBinary")]
    pub scopes: Json,
    /// Defaults to `true` in the schema.
    pub require_pkce: bool,
    /// Defaults to `true` in the schema.
    pub require_consent: bool,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::write_generation!();
