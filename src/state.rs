//! The state every request handler shares: settings, database, cluster view, actors, clock.

use actix::Addr;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tessera_actors::clock::SharedClock;
use tessera_actors::keyring::KeyRing;
use tessera_actors::audit::Audit;
use tessera_actors::codes::{CodeActor, CodeSeal};
use tessera_actors::keys::KeyActor;
use tessera_config::Settings;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub ring: Arc<KeyRing>,
    pub keys: Addr<KeyActor>,
    pub codes: Addr<CodeActor>,
    /// Opens the codes the codes actor seals (the token endpoint).
    pub code_seal: Arc<CodeSeal>,
    /// Seals and opens refresh tokens (`oauth::refresh`).
    pub refresh_seal: Arc<tessera_actors::crypto::Sealer>,
    pub audit: Audit,
    pub sessions: Addr<tessera_actors::sessions::SessionActor>,
    /// The sessions actor's cache, read without a message when a lookup hits it.
    pub session_cache: tessera_actors::sessions::CachedSessions,
    pub clock: SharedClock,
    /// The name this node gives in `X-Tessera-Node`.
    pub node_name: Arc<str>,
    /// The issuer without a trailing slash, as it appears in tokens and discovery.
    pub issuer: Arc<str>,
    /// Derived from the key-encryption key; used to hash client secrets (HMAC-SHA-256).
    pub pepper: Arc<[u8; 32]>,
    /// Effective RBAC permissions, cached (Redis or in process).
    pub permissions: Arc<crate::rbac::PermissionService>,
    /// Client rows cached for a few seconds for the request path.
    pub clients: Arc<crate::clients::ClientCache>,
    /// User rows cached for a few seconds for the request path.
    pub users: Arc<crate::users::UserCache>,
    /// Remembered consents cached for a few seconds for the authorization endpoint.
    pub consents: Arc<crate::oauth::consent_store::ConsentCache>,
    /// Group commit of access- and refresh-token rows.
    pub tokens: crate::oauth::token_store::TokenWriter,
}
