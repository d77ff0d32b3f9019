//! [`Settings::redacted`]: the effective configuration as `KEY = value`
//! lines, safe to log.

use std::fmt::Write as _;
use std::time::Duration;

use crate::duration::format_duration;
use crate::secret::REDACTED;
use crate::settings::Settings;

const UNSET: &str = "(unset)";

pub(crate) fn render(s: &Settings) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| UNSET.to_string());
    let dur = |d: Duration| format_duration(d);
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "(none)".to_string()
        } else {
            items.join(",")
        }
    };
    let lines: Vec<(&str, String)> = vec![
        ("TESSERA_ENV", s.environment.to_string()),
        ("DATABASE_URL", redact_url_password(s.database_url.expose())),
        ("ISSUER", s.issuer_str()),
        ("SERVER_HOST", s.server_host.clone()),
        ("SERVER_PORT", s.server_port.to_string()),
        ("RUST_LOG", s.rust_log.clone()),
        ("LOG_FORMAT", s.log_format.to_string()),
        ("ACCESS_TOKEN_TTL", dur(s.access_token_ttl)),
        ("ID_TOKEN_TTL", dur(s.id_token_ttl)),
        ("REFRESH_TOKEN_TTL", dur(s.refresh_token_ttl)),
        (
            "OAUTH2_AUTHORIZATION_CODE_TTL",
            dur(s.authorization_code_ttl),
        ),
        ("JWT_ALGORITHM", s.jwt_algorithm.to_string()),
        (
            "REDIS_URL",
            opt(s.redis_url.as_ref().map(|_| REDACTED.to_string())),
        ),
        ("ALLOWED_ORIGINS", list(s.allowed_origins.clone())),
        ("DB_MAX_CONNECTIONS", s.db_max_connections.to_string()),
        (
            "SESSION_TIMEOUT_MINUTES",
            (s.session_timeout.as_secs() / 60).to_string(),
        ),
        (
            "SESSION_ABSOLUTE_LIFETIME",
            dur(s.session_absolute_lifetime),
        ),
        ("SKIP_DB_INIT", s.skip_db_init.to_string()),
        ("DATA_DIR", s.data_dir.display().to_string()),
        (
            "KEY_ENCRYPTION_KEY",
            opt(s.key_encryption_key.as_ref().map(|_| REDACTED.to_string())),
        ),
        ("JWKS_MAX_AGE", dur(s.jwks_max_age)),
        (
            "KEY_ROTATION_INTERVAL",
            opt(s.key_rotation_interval.map(dur)),
        ),
        ("METRICS_PORT", opt(s.metrics_port.map(|p| p.to_string()))),
        (
            "TRUSTED_PROXIES",
            list(s.trusted_proxies.iter().map(|ip| ip.to_string()).collect()),
        ),
        ("NODE_ID", opt(s.node_id.map(|n| n.to_string()))),
        ("CLUSTER_BIND", opt(s.cluster_bind.map(|a| a.to_string()))),
        (
            "CLUSTER_SECRET",
            opt(s.cluster_secret.as_ref().map(|_| REDACTED.to_string())),
        ),
        ("CLUSTER_JOIN", opt(s.cluster_join.clone())),
        (
            "BOOTSTRAP_ADMIN_USERNAME",
            s.bootstrap_admin_username.clone(),
        ),
    ];
    let mut out = String::new();
    for (key, value) in lines {
        let _ = writeln!(out, "{key} = {value}");
    }
    out
}

/// Replaces the password of a URL (`scheme://user:password@host/...`) and
/// any `password=`-like query parameter with `[redacted]`. Errs on the side of
/// hiding: everything before the last `@` counts as user information, so a
/// password containing unescaped `/`, `?` or `@` is still hidden.
pub(crate) fn redact_url_password(url: &str) -> String {
    let (mut out, tail) = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, after)) => match userinfo.split_once(':') {
                Some((user, _)) => (format!("{scheme}://{user}:{REDACTED}@"), after),
                None => (format!("{scheme}://{userinfo}@"), after),
            },
            None => (format!("{scheme}://"), rest),
        },
        None => (String::new(), url),
    };
    match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("pass") => {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(path);
            out.push('?');
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}
