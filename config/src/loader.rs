//! Turns raw sources into a validated [`Settings`], collecting every problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::{ConfigError, ConfigErrors};
use crate::parse;
use crate::secret::Secret;
use crate::settings::{Environment, Settings};
use crate::source::{self, Origin, Raw};

/// Merged raw values plus the problems found so far.
struct Loader {
    values: BTreeMap<&'static str, Raw>,
    errors: Vec<ConfigError>,
}

impl Loader {
    fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Records a problem with `key`, noting the file when the value came
    /// from one.
    fn fail(&mut self, key: &'static str, message: String) {
        let message = match self.values.get(key).map(|r| &r.origin) {
            Some(Origin::File(path)) => {
                format!(
                    "{message} (set as `{}` in {})",
                    key.to_ascii_lowercase(),
                    path.display()
                )
            }
            _ => message,
        };
        self.errors.push(ConfigError::new(key, message));
    }

    /// Parses `key` if set; records the problem and returns `None` otherwise.
    fn optional<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let result = parse(&self.values.get(key)?.value);
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.fail(key, message);
                None
            }
        }
    }

    /// Parses `key`, falling back to `default` when unset or invalid.
    fn value<T>(
        &mut self,
        key: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        self.optional(key, parse).unwrap_or(default)
    }
}

pub(crate) fn build(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Settings, ConfigErrors> {
    let mut errors = Vec::new();
    let values = source::collect(file, env, &mut errors);
    let mut l = Loader { values, errors };

    let environment = l.value(
        "TESSERA_ENV",
        Environment::Development,
        Environment::from_str,
    );
    let server_host = l.value("SERVER_HOST", "127.0.0.1".to_string(), parse::server_host);
    let server_port = l.value("SERVER_PORT", 3001, parse::port);
    let rust_log = l.value("RUST_LOG", "info".to_string(), |v| Ok(v.trim().to_string()));
    let log_format = l.value("LOG_FORMAT", Default::default(), FromStr::from_str);
    let issuer = match l.optional("ISSUER", parse::issuer) {
        Some(url) => Some(url),
        None if l.is_set("ISSUER") => None,
        None => default_issuer(&mut l, server_port),
    };

    let hour = Duration::from_secs(3_600);
    let access_token_ttl = l.value("ACCESS_TOKEN_TTL", hour, parse::ttl);
    let id_token_ttl = l.value("ID_TOKEN_TTL", hour, parse::ttl);
    let refresh_token_ttl = l.value(
        "REFRESH_TOKEN_TTL",
        Duration::from_secs(30 * 86_400),
        parse::ttl,
    );
    let authorization_code_ttl = l.value(
        "OAUTH2_AUTHORIZATION_CODE_TTL",
        Duration::from_secs(600),
        parse::ttl,
    );
    let jwt_algorithm = l.value("JWT_ALGORITHM", Default::default(), FromStr::from_str);

    let data_dir = l.value("DATA_DIR", PathBuf::from("./data"), |v| {
        Ok(PathBuf::from(v.trim()))
    });
    let database_url = l
        .optional("DATABASE_URL", parse::database_url)
        .unwrap_or_else(|| default_database_url(&data_dir));
    let db_max_connections = l.value("DB_MAX_CONNECTIONS", 10, parse::max_connections);
    let skip_db_init = l.value("SKIP_DB_INIT", false, parse::boolean);
    let redis_url = l.optional("REDIS_URL", parse::redis_url).map(Secret::new);

    let allowed_origins = l.value("ALLOWED_ORIGINS", Vec::new(), parse::origins);
    let session_timeout = l.value(
        "SESSION_TIMEOUT_MINUTES",
        Duration::from_secs(30 * 60),
        parse::minutes,
    );
    let session_absolute_lifetime = l.value("SESSION_ABSOLUTE_LIFETIME", 12 * hour, parse::ttl);

    let key_encryption_key = key_encryption_key(&mut l, environment);
    let jwks_max_age = l.value("JWKS_MAX_AGE", Duration::from_secs(300), parse::duration);
    let key_rotation_interval = l.optional("KEY_ROTATION_INTERVAL", parse::ttl);

    let metrics_port = l.optional("METRICS_PORT", parse::port);
    if metrics_port.is_some_and(|p| p != 0 && p == server_port) {
        l.fail(
            "METRICS_PORT",
            format!("must differ from SERVER_PORT ({server_port})"),
        );
    }
    let trusted_proxies = l.value("TRUSTED_PROXIES", Vec::new(), parse::ip_list);

    let node_id = l.optional("NODE_ID", parse::node_id);
    let cluster_bind = l.optional("CLUSTER_BIND", parse::socket_addr);
    let cluster_secret = l
        .optional("CLUSTER_SECRET", parse::cluster_secret)
        .map(Secret::new);
    let cluster_join = l.optional("CLUSTER_JOIN", |v| Ok(v.trim().to_string()));
    let bootstrap_admin_username = l.value(
        "BOOTSTRAP_ADMIN_USERNAME",
        "admin".to_string(),
        parse::username,
    );

    let Loader { errors, .. } = l;
    let Some(issuer) = issuer else {
        return Err(ConfigErrors(errors));
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Settings {
        environment,
        database_url: Secret::new(database_url),
        issuer,
        server_host,
        server_port,
        rust_log,
        log_format,
        access_token_ttl,
        id_token_ttl,
        refresh_token_ttl,
        authorization_code_ttl,
        jwt_algorithm,
        redis_url,
        allowed_origins,
        db_max_connections,
        session_timeout,
        session_absolute_lifetime,
        skip_db_init,
        data_dir,
        key_encryption_key,
        jwks_max_age,
        key_rotation_interval,
        metrics_port,
        trusted_proxies,
        node_id,
        cluster_bind,
        cluster_secret,
        cluster_join,
        bootstrap_admin_username,
    })
}

fn default_issuer(l: &mut Loader, port: u16) -> Option<Url> {
    match Url::parse(&format!("http://localhost:{port}")) {
        Ok(url) => Some(url),
        Err(e) => {
            l.fail(
                "ISSUER",
                format!("cannot build the default issuer ({e}); set ISSUER"),
            );
            None
        }
    }
}

/// `sqlite://{data_dir}/tessera.db?mode=rwc`.
fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("tessera.db").display()
    )
}

/// `KEY_ENCRYPTION_KEY` or `KEY_ENCRYPTION_KEY_FILE` (not both); required in
/// production.
fn key_encryption_key(l: &mut Loader, environment: Environment) -> Option<Secret<[u8; 32]>> {
    const KEY: &str = "KEY_ENCRYPTION_KEY";
    const FILE: &str = "KEY_ENCRYPTION_KEY_FILE";
    match (l.is_set(KEY), l.is_set(FILE)) {
        (true, true) => {
            l.fail(KEY, format!("set both {KEY} and {FILE}; set only one"));
            None
        }
        (true, false) => l.optional(KEY, parse::key_bytes).map(Secret::new),
        (false, true) => l.optional(FILE, read_key_file).map(Secret::new),
        (false, false) => {
            if environment == Environment::Production {
                l.fail(
                    KEY,
                    format!(
                        "required when TESSERA_ENV=production: set {KEY} (32 bytes as base64 or 64 hex characters) or {FILE}"
                    ),
                );
            }
            None
        }
    }
}

fn read_key_file(path: &str) -> Result<[u8; 32], String> {
    let path = path.trim();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    parse::key_bytes(&text).map_err(|e| format!("the contents of {path:?} {e}"))
}
