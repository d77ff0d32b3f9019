//! The client registry: lookup, registration, redirect-URI matching, and client secrets.
//!
//! Secrets are server-generated (256 bits) and stored as HMAC-SHA-256 under a server pepper: a
//! high-entropy secret needs no slow hash, and a fast keyed hash keeps client authentication cheap.
//! Comparison is constant-time.

use chrono::Utc;
use hmac::{Hmac, Mac};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde_json::json;
use crate::read_cache::ReadCache;
use std::sync::Arc;
use std::time::Duration;
use tessera_actors::crypto::{ct_eq, random_token};
use tessera_entity::oauth_clients as entity;

pub const DEFAULT_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
pub const KNOWN_GRANTS: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub is_public: bool,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub require_pkce: bool,
    pub require_consent: bool,
    pub is_active: bool,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

impl From<entity::Model> for Client {
    fn from(m: entity::Model) -> Self {
        Client {
            redirect_uris: strings(&m.redirect_uris),
            post_logout_redirect_uris: strings(&m.post_logout_redirect_uris),
            grant_types: strings(&m.grant_types),
            scopes: strings(&m.scopes),
            id: m.id,
            client_id: m.client_id,
            name: m.name,
            is_public: m.is_public,
            secret_hash: m.secret_hash,
            require_pkce: m.require_pkce,
            require_consent: m.require_consent,
            is_active: m.is_active,
        }
    }
}

fn is_loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]"))
}

impl Client {
    /// Exact string match, except the RFC 8252 §7.3 rule: for a registered loopback redirect URI of a
    /// native (public) client, any port is accepted.
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return true;
        }
        let Ok(asked) = url::Url::parse(uri) else { return false };
        self.is_public
            && is_loopback_http(&asked)
            && self.redirect_uris.iter().filter_map(|r| url::Url::parse(r).ok()).any(|mut reg| {
                if !is_loopback_http(&reg) {
                    return false;
                }
                let _ = reg.set_port(asked.port());
                reg == asked
            })
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Constant-time check of a presented secret.
    pub fn secret_matches(&self, pepper: &[u8; 32], presented: &str) -> bool {
        match &self.secret_hash {
            Some(stored) => ct_eq(hash_secret(pepper, presented).as_bytes(), stored.as_bytes()),
            None => false,
        }
    }
}

pub fn hash_secret(pepper: &[u8; 32], secret: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(pepper).expect("HMAC takes any key length");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn find(db: &DatabaseConnection, client_id: &str) -> Result<Option<Client>, DbErr> {
    Ok(entity::Entity::find().filter(entity::Column::ClientId.eq(client_id)).one(db).await?.map(Client::from))
}

/// How long a client row read for a request may be reused by later requests of this process.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(5);

/// Client rows for the request path (client authentication and authorization requests read the
/// same few clients thousands of times a second). Every client write made in this process through
/// an `ActiveModel` (admin API, console) bumps `oauth_clients::generation()`, which empties it;
/// writes elsewhere (the CLI, another node) are seen within [`CLIENT_CACHE_TTL`].
pub struct ClientCache(ReadCache<Client>);

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache(ReadCache::new(CLIENT_CACHE_TTL, entity::generation))
    }
}

impl ClientCache {
    /// The client `client_id`, from the cache when fresh, else from the database.
    pub async fn find(&self, db: &DatabaseConnection, client_id: &str) -> Result<Option<Arc<Client>>, DbErr> {
        self.0.get(client_id, find(db, client_id)).await
    }

    /// Drops every cached client (after a write that bypasses `ActiveModel`).
    pub fn invalidate() {
        entity::bump_generation();
    }
}

/// What registration needs; defaults as the CLI documents them.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub require_consent: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> RegisterError {
    RegisterError::Invalid { field, message: message.into() }
}

/// Checks a redirect URI for registration: absolute, no fragment, https unless loopback or a
/// private-use scheme of a native app.
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI ({e})"))?;
    if u.fragment().is_some() {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    let loopback = u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]") | Some("localhost"));
    if u.scheme() == "http" && !loopback {
        return Err(format!("{uri:?} must use https (http is allowed only for loopback)"));
    }
    if matches!(u.scheme(), "javascript" | "data" | "file") {
        return Err(format!("{uri:?} uses a forbidden scheme"));
    }
    Ok(())
}

/// Registers a client; returns it and, for a confidential client, its secret (shown once).
pub async fn register(db: &DatabaseConnection, pepper: &[u8; 32], new: NewClient) -> Result<(Client, Option<String>), RegisterError> {
    if new.name.trim().is_empty() || new.name.len() > 200 {
        return Err(invalid("name", "must be 1-200 characters"));
    }
    let uses_code = new.grant_types.iter().any(|g| g == "authorization_code");
    if uses_code && new.redirect_uris.is_empty() {
        return Err(invalid("redirect_uris", "at least one is required for authorization_code"));
    }
    for u in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
        validate_redirect_uri(u).map_err(|m| invalid("redirect_uris", m))?;
    }
    if let Some(g) = new.grant_types.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
        return Err(invalid("grant_types", format!("unsupported grant type {g:?} (OAuth 2.1 has no implicit or password grant)")));
    }
    if new.public && new.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(invalid("grant_types", "a public client cannot use client_credentials"));
    }
    if let Some(s) = new.scopes.iter().find(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')) {
        return Err(invalid("scopes", format!("invalid scope token {s:?}")));
    }
    let secret = (!new.public).then(|| random_token(32));
    let now = Utc::now();
    let model = entity::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        client_id: Set(format!("tsr_{}", random_token(12))),
        name: Set(new.name),
        description: Set(None),
        is_public: Set(new.public),
        secret_hash: Set(secret.as_deref().map(|s| hash_secret(pepper, s))),
        redirect_uris: Set(json!(new.redirect_uris)),
        post_logout_redirect_uris: Set(json!(new.post_logout_redirect_uris)),
        grant_types: Set(json!(new.grant_types)),
        scopes: Set(json!(new.scopes)),
        require_pkce: Set(true),
        require_consent: Set(new.require_consent),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let saved = entity::Entity::insert(model).exec_with_returning(db).await?;
    Ok((Client::from(saved), secret))
}

/// The client-secret pepper: HMAC-SHA-256 of a fixed label under the key-encryption key. The one
/// derivation: `server::prepare` and the CLI both call it, so they hash secrets alike.
pub fn derive_pepper(kek: &[u8; 32]) -> [u8; 32] {
    tessera_actors::crypto::derive_key(kek, b"tessera client-secret pepper v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool, uris: &[&str]) -> Client {
        Client {
            id: "x".into(),
            client_id: "c".into(),
            name: "n".into(),
            is_public: public,
            secret_hash: None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            scopes: vec![],
            require_pkce: true,
            require_consent: true,
            is_active: true,
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(false, &["https://app.example/cb"]);
        assert!(c.redirect_uri_allowed("https://app.example/cb"));
        for bad in ["https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/CB", "https://evil.example/cb", "https://app.example/cb#f"] {
            assert!(!c.redirect_uri_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_port_may_vary_for_native_clients_only() {
        let native = client(true, &["http://127.0.0.1/callback"]);
        assert!(native.redirect_uri_allowed("http://127.0.0.1:51234/callback"));
        assert!(!native.redirect_uri_allowed("http://127.0.0.1:51234/other"));
        assert!(!native.redirect_uri_allowed("http://localhost.evil:51234/callback"));
        let web = client(false, &["http://127.0.0.1/callback"]);
        assert!(!web.redirect_uri_allowed("http://127.0.0.1:51234/callback"));
    }

    #[test]
    fn secrets_compare_by_keyed_hash() {
        let pepper = [1u8; 32];
        let mut c = client(false, &[]);
        c.secret_hash = Some(hash_secret(&pepper, "s3cret"));
        assert!(c.secret_matches(&pepper, "s3cret"));
        assert!(!c.secret_matches(&pepper, "s3cre"));
        assert!(!c.secret_matches(&[2u8; 32], "s3cret"));
    }
}
