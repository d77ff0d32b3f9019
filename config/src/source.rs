//! Raw configuration sources: the TOML file and the environment, merged into
//! one map of setting name → text, remembering where each value came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;

/// Every setting, by environment variable name. The TOML key is the same
/// name in lower case.
pub(crate) const KEYS: &[&str] = &[
    "TESSERA_ENV",
    "DATABASE_URL",
    "ISSUER",
    "SERVER_HOST",
    "SERVER_PORT",
    "RUST_LOG",
    "LOG_FORMAT",
    "ACCESS_TOKEN_TTL",
    "ID_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "OAUTH2_AUTHORIZATION_CODE_TTL",
    "JWT_ALGORITHM",
    "REDIS_URL",
    "ALLOWED_ORIGINS",
    "DB_MAX_CONNECTIONS",
    "SESSION_TIMEOUT_MINUTES",
    "SESSION_ABSOLUTE_LIFETIME",
    "SKIP_DB_INIT",
    "DATA_DIR",
    "KEY_ENCRYPTION_KEY",
    "KEY_ENCRYPTION_KEY_FILE",
    "JWKS_MAX_AGE",
    "KEY_ROTATION_INTERVAL",
    "METRICS_PORT",
    "TRUSTED_PROXIES",
    "NODE_ID",
    "CLUSTER_BIND",
    "CLUSTER_SECRET",
    "CLUSTER_JOIN",
    "BOOTSTRAP_ADMIN_USERNAME",
];

/// Where a raw value came from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Env,
    File(PathBuf),
}

/// A setting's text before parsing.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub value: String,
    pub origin: Origin,
}

/// Reads the file (if any) and then the environment; the environment wins.
/// Empty or all-whitespace values count as not set. Problems with the file are
/// appended to `errors`.
pub(crate) fn collect(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<&'static str, Raw> {
    let mut values = BTreeMap::new();
    if let Some(path) = file {
        for (key, value) in read_file(path, errors) {
            values.insert(
                key,
                Raw {
                    value,
                    origin: Origin::File(path.to_path_buf()),
                },
            );
        }
    }
    for &key in KEYS {
        if let Some(value) = env.get(key) {
            // An empty variable counts as not set, so it does not hide a
            // value from the file (`FOO=` from a compose file is common).
            if !value.trim().is_empty() {
                values.insert(
                    key,
                    Raw {
                        value: value.clone(),
                        origin: Origin::Env,
                    },
                );
            }
        }
    }
    values
}

/// Parses the TOML file into (env name, text) pairs.
fn read_file(path: &Path, errors: &mut Vec<ConfigError>) -> Vec<(&'static str, String)> {
    let label = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(ConfigError::new(
                label,
                format!("cannot read configuration file: {e}"),
            ));
            return Vec::new();
        }
    };
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            // Only the message and position: the default rendering quotes the
            // offending line, which could contain a secret.
            let position = match e.span() {
                Some(span) => {
                    let (line, column) = line_column(&text, span.start);
                    format!(" at line {line}, column {column}")
                }
                None => String::new(),
            };
            let message = e.message().trim_end();
            errors.push(ConfigError::new(
                label,
                format!("not valid TOML{position}: {message}"),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (toml_key, value) in &table {
        let Some(&env_key) = KEYS.iter().find(|k| k.to_ascii_lowercase() == *toml_key) else {
            errors.push(ConfigError::new(
                toml_key.clone(),
                unknown_key_message(toml_key, &label),
            ));
            continue;
        };
        match value_text(value) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => out.push((env_key, text)),
            Err(message) => errors.push(ConfigError::new(
                env_key,
                format!("{message} (set as `{toml_key}` in {label})"),
            )),
        }
    }
    out
}

fn unknown_key_message(toml_key: &str, label: &str) -> String {
    let lower = toml_key.to_ascii_lowercase();
    let closest = KEYS
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .map(|k| (edit_distance(&lower, &k), k))
        .min();
    let hint = match closest {
        Some((distance, key)) if distance <= 2 => format!("; did you mean `{key}`?"),
        _ => String::new(),
    };
    format!(
        "unknown key in {label} (keys are lower-case setting names such as `server_port`){hint}"
    )
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Converts a TOML value to the same text an environment variable would hold.
fn value_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    toml::Value::String(s) => parts.push(s.clone()),
                    toml::Value::Integer(i) => parts.push(i.to_string()),
                    _ => return Err("array items must be strings".to_string()),
                }
            }
            Ok(parts.join(","))
        }
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            Err("expected a string, number, boolean or array of strings".to_string())
        }
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
