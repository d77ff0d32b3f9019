//! The [`Settings`] struct and its small enums.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::ConfigErrors;
use crate::secret::Secret;

/// Deployment environment (`TESSERA_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Environment {
    /// Local development (the default).
    #[default]
    Development,
    /// Production: a key-encryption key is mandatory.
    Production,
}

impl Environment {
    /// `"development"` or `"production"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Environment::Development),
            "production" => Ok(Environment::Production),
            _ => Err(format!(
                "{s:?} is not an environment (use development or production)"
            )),
        }
    }
}

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text (the default).
    #[default]
    Text,
}

impl LogFormat {
    /// `"json"` or `"text"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(format!("{s:?} is not a log format (use json or text)")),
        }
    }
}

/// Signing algorithm for new JWTs (`JWT_ALGORITHM`). Only asymmetric
/// algorithms are offered, so that relying parties verify with the JWKS.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default).
    #[default]
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// The JOSE `alg` name: `"RS256"`, `"ES256"` or `"EdDSA"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        match t.to_ascii_uppercase().as_str() {
            "RS256" => Ok(JwtAlgorithm::RS256),
            "ES256" => Ok(JwtAlgorithm::ES256),
            "EDDSA" => Ok(JwtAlgorithm::EdDSA),
            "HS256" | "HS384" | "HS512" => Err(format!(
                "{s:?} is not supported: shared-secret algorithms cannot be verified through the JWKS; use RS256, ES256 or EdDSA"
            )),
            _ => Err(format!(
                "{s:?} is not a supported algorithm (use RS256, ES256 or EdDSA)"
            )),
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Environment, LogFormat, JwtAlgorithm);

/// The server's effective configuration. `Debug` is safe to log: secrets
/// print as `[redacted]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TESSERA_ENV`: development (default) or production.
    pub environment: Environment,
    /// `DATABASE_URL`: `sqlite:…`, `postgres:…` or `postgresql:…`.
    pub database_url: Secret<String>,
    /// `ISSUER`: absolute http(s) URL; see [`Settings::issuer_str`].
    pub issuer: Url,
    /// `SERVER_HOST`, default `127.0.0.1`.
    pub server_host: String,
    /// `SERVER_PORT`, default 3001.
    pub server_port: u16,
    /// `RUST_LOG`, default `info`.
    pub rust_log: String,
    /// `LOG_FORMAT`: json or text (default).
    pub log_format: LogFormat,
    /// `ACCESS_TOKEN_TTL`, default 1h.
    pub access_token_ttl: Duration,
    /// `ID_TOKEN_TTL`, default 1h.
    pub id_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL`, default 30d.
    pub refresh_token_ttl: Duration,
    /// `OAUTH2_AUTHORIZATION_CODE_TTL`, default 10m.
    pub authorization_code_ttl: Duration,
    /// `JWT_ALGORITHM`, default RS256.
    pub jwt_algorithm: JwtAlgorithm,
    /// `REDIS_URL`: `redis://` or `rediss://`; unset = no Redis.
    pub redis_url: Option<Secret<String>>,
    /// `ALLOWED_ORIGINS`: normalised origins (`https://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// `DB_MAX_CONNECTIONS`, default 10, 1..=1000.
    pub db_max_connections: u32,
    /// `SESSION_TIMEOUT_MINUTES` (idle timeout), default 30 minutes.
    pub session_timeout: Duration,
    /// `SESSION_ABSOLUTE_LIFETIME`, default 12h.
    pub session_absolute_lifetime: Duration,
    /// `SKIP_DB_INIT`, default false.
    pub skip_db_init: bool,
    /// `DATA_DIR`, default `./data`.
    pub data_dir: PathBuf,
    /// `KEY_ENCRYPTION_KEY` / `KEY_ENCRYPTION_KEY_FILE`: 32-byte key that
    /// encrypts signing keys at rest. Required in production.
    pub key_encryption_key: Option<Secret<[u8; 32]>>,
    /// `JWKS_MAX_AGE`, default 5m (`Cache-Control: max-age`).
    pub jwks_max_age: Duration,
    /// `KEY_ROTATION_INTERVAL`; unset = no automatic rotation.
    pub key_rotation_interval: Option<Duration>,
    /// `METRICS_PORT`; unset = no metrics listener.
    pub metrics_port: Option<u16>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `NODE_ID`: this node's cluster id.
    pub node_id: Option<u64>,
    /// `CLUSTER_BIND`: address for cluster RPC.
    pub cluster_bind: Option<SocketAddr>,
    /// `CLUSTER_SECRET`: shared secret for cluster RPC (≥ 16 characters).
    pub cluster_secret: Option<Secret<String>>,
    /// `CLUSTER_JOIN`: address of an existing member to join.
    pub cluster_join: Option<String>,
    /// `BOOTSTRAP_ADMIN_USERNAME`, default `admin`.
    pub bootstrap_admin_username: String,
}

impl Settings {
    /// Reads `path` (if `Some`) or `./tessera.toml` when it exists, then the
    /// process environment, which overrides the file.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigErrors> {
        let default_file = Path::new("tessera.toml");
        let file = match path {
            Some(p) => Some(p),
            None => default_file.is_file().then_some(default_file),
        };
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
            .collect();
        Self::from_sources(file, &env)
    }

    /// Like [`Settings::load`] with an explicit environment map and file
    /// (`None` = no file at all, not even `./tessera.toml`).
    pub fn from_sources(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigErrors> {
        crate::loader::build(file, env)
    }

    /// One `KEY = value` line per setting, with secrets shown as
    /// `[redacted]` and the database password replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        crate::redact::render(self)
    }

    /// `host:port` for binding the HTTP listener (IPv6 hosts in brackets).
    pub fn bind_addr(&self) -> String {
        let host = &self.server_host;
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.server_port)
        } else {
            format!("{host}:{}", self.server_port)
        }
    }

    /// True when the issuer is an `https://` URL.
    pub fn is_https(&self) -> bool {
        self.issuer.scheme() == "https"
    }

    /// The issuer without a trailing slash, as it appears in `iss` claims and
    /// discovery documents.
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_string()
    }

    /// True in production.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}
