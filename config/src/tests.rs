//! Unit tests for loading, validation and redaction.

mod files;
mod keys;
mod secrets;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::{ConfigErrors, Environment, JwtAlgorithm, LogFormat, Settings, parse_duration};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigErrors> {
    Settings::from_sources(None, &env(pairs))
}

fn errors(pairs: &[(&str, &str)]) -> ConfigErrors {
    load(pairs).expect_err("configuration should be rejected")
}

/// The single error for `key`, asserting there is exactly one.
fn error_for(errs: &ConfigErrors, key: &str) -> String {
    let found: Vec<_> = errs.iter().filter(|e| e.key == key).collect();
    assert_eq!(found.len(), 1, "expected one error for {key}, got: {errs}");
    found[0].to_string()
}

fn toml_file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    f.write_all(contents.as_bytes()).expect("write");
    f
}

const KEK_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

#[test]
fn defaults_with_an_empty_environment() {
    let s = load(&[]).expect("defaults are valid");
    assert_eq!(s.environment, Environment::Development);
    assert_eq!(s.server_port, 3001);
    assert_eq!(s.server_host, "127.0.0.1");
    assert_eq!(s.bind_addr(), "127.0.0.1:3001");
    assert_eq!(s.issuer_str(), "http://localhost:3001");
    assert!(!s.is_https());
    assert_eq!(s.jwt_algorithm, JwtAlgorithm::RS256);
    assert_eq!(s.jwt_algorithm.as_str(), "RS256");
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.rust_log, "info");
    assert_eq!(s.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(s.id_token_ttl, Duration::from_secs(3600));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(s.authorization_code_ttl, Duration::from_secs(600));
    assert_eq!(s.session_timeout, Duration::from_secs(30 * 60));
    assert_eq!(s.session_absolute_lifetime, Duration::from_secs(12 * 3600));
    assert_eq!(s.jwks_max_age, Duration::from_secs(300));
    assert_eq!(s.db_max_connections, 10);
    assert_eq!(s.data_dir, Path::new("./data"));
    assert_eq!(
        s.database_url.expose(),
        "sqlite://./data/tessera.db?mode=rwc"
    );
    assert_eq!(s.bootstrap_admin_username, "admin");
    assert!(!s.skip_db_init);
    assert!(
        s.redis_url.is_none()
            && s.key_encryption_key.is_none()
            && s.key_rotation_interval.is_none()
    );
    assert!(s.metrics_port.is_none() && s.node_id.is_none() && s.cluster_bind.is_none());
    assert!(s.cluster_secret.is_none() && s.cluster_join.is_none());
    assert!(s.allowed_origins.is_empty() && s.trusted_proxies.is_empty());
}

#[test]
fn issuer_default_follows_port_and_data_dir_moves_the_database() {
    let s = load(&[("SERVER_PORT", "8080"), ("DATA_DIR", "/var/lib/tessera")]).expect("valid");
    assert_eq!(s.issuer_str(), "http://localhost:8080");
    assert_eq!(
        s.database_url.expose(),
        "sqlite:///var/lib/tessera/tessera.db?mode=rwc"
    );
}

#[test]
fn bad_url_names_the_variable() {
    let errs = errors(&[("ISSUER", "not a url")]);
    let msg = error_for(&errs, "ISSUER");
    assert!(msg.starts_with("ISSUER: "), "{msg}");
    assert!(msg.contains("not a url"), "{msg}");

    let errs = errors(&[("DATABASE_URL", "mysql://root:hunter2@db/oauth")]);
    let msg = error_for(&errs, "DATABASE_URL");
    assert!(msg.contains("mysql"), "{msg}");
    assert!(!msg.contains("hunter2"), "the secret leaked: {msg}");

    for bad in [
        "ftp://example.com",
        "https://example.com/?a=b",
        "https://example.com/#x",
    ] {
        error_for(&errors(&[("ISSUER", bad)]), "ISSUER");
    }
    error_for(&errors(&[("REDIS_URL", "http://cache:6379")]), "REDIS_URL");
}

#[test]
fn accepted_database_and_redis_urls() {
    for url in [
        "sqlite::memory:",
        "sqlite:/app/data/oauth.db",
        "postgres://u:p@db:5432/oauth",
        "postgresql://db/oauth",
    ] {
        let s = load(&[("DATABASE_URL", url)]).expect(url);
        assert_eq!(s.database_url.expose(), url);
    }
    let s = load(&[("REDIS_URL", "rediss://:pw@cache:6380/0")]).expect("valid");
    assert_eq!(
        s.redis_url.as_ref().map(|r| r.expose().as_str()),
        Some("rediss://:pw@cache:6380/0")
    );
}

#[test]
fn bad_duration_names_the_variable() {
    let errs = errors(&[("ACCESS_TOKEN_TTL", "ten")]);
    let msg = error_for(&errs, "ACCESS_TOKEN_TTL");
    assert!(msg.starts_with("ACCESS_TOKEN_TTL: "), "{msg}");
    assert!(
        msg.contains("\"ten\""),
        "the bad value should be shown: {msg}"
    );
}

#[test]
fn zero_ttls_are_rejected_but_jwks_max_age_may_be_zero() {
    for key in [
        "ACCESS_TOKEN_TTL",
        "ID_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "OAUTH2_AUTHORIZATION_CODE_TTL",
        "SESSION_ABSOLUTE_LIFETIME",
        "KEY_ROTATION_INTERVAL",
        "SESSION_TIMEOUT_MINUTES",
    ] {
        error_for(&errors(&[(key, "0")]), key);
    }
    assert_eq!(
        load(&[("JWKS_MAX_AGE", "0")]).expect("valid").jwks_max_age,
        Duration::ZERO
    );
}

#[test]
fn duration_syntax() {
    let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
    assert_eq!(secs("90"), Ok(90));
    assert_eq!(secs("90s"), Ok(90));
    assert_eq!(secs("15m"), Ok(900));
    assert_eq!(secs("12h"), Ok(43_200));
    assert_eq!(secs(" 7d "), Ok(604_800));
    for bad in [
        "",
        "ten",
        "1.5h",
        "-5",
        "5w",
        "h",
        "99999999999999999999",
        "100000d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
    let s = load(&[
        ("OAUTH2_AUTHORIZATION_CODE_TTL", "5m"),
        ("KEY_ROTATION_INTERVAL", "30d"),
        ("SESSION_TIMEOUT_MINUTES", "45"),
    ])
    .expect("valid");
    assert_eq!(s.authorization_code_ttl, Duration::from_secs(300));
    assert_eq!(
        s.key_rotation_interval,
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(s.session_timeout, Duration::from_secs(45 * 60));
}

#[test]
fn unknown_algorithm_names_the_variable() {
    let msg = error_for(&errors(&[("JWT_ALGORITHM", "HS256")]), "JWT_ALGORITHM");
    assert!(
        msg.starts_with("JWT_ALGORITHM: ") && msg.contains("HS256"),
        "{msg}"
    );
    error_for(&errors(&[("JWT_ALGORITHM", "none")]), "JWT_ALGORITHM");
    assert_eq!(
        load(&[("JWT_ALGORITHM", "ES256")])
            .expect("valid")
            .jwt_algorithm
            .as_str(),
        "ES256"
    );
    assert_eq!(
        load(&[("JWT_ALGORITHM", "EdDSA")])
            .expect("valid")
            .jwt_algorithm,
        JwtAlgorithm::EdDSA
    );
}

#[test]
fn several_errors_are_reported_together() {
    let errs = errors(&[
        ("ISSUER", "not a url"),
        ("ACCESS_TOKEN_TTL", "ten"),
        ("JWT_ALGORITHM", "HS256"),
        ("SERVER_PORT", "70000"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("SKIP_DB_INIT", "maybe"),
        ("TESSERA_ENV", "production"),
    ]);
    assert_eq!(errs.len(), 7, "{errs}");
    for key in [
        "ISSUER",
        "ACCESS_TOKEN_TTL",
        "JWT_ALGORITHM",
        "SERVER_PORT",
        "DB_MAX_CONNECTIONS",
        "SKIP_DB_INIT",
        "KEY_ENCRYPTION_KEY",
    ] {
        assert!(errs.mentions(key), "{key} missing from {errs}");
    }
    let text = errs.to_string();
    assert!(
        text.starts_with("invalid configuration (7 problems):\n  - "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(text.contains("\n  - ACCESS_TOKEN_TTL: "), "{text}");
}

#[test]
fn allowed_origins_are_explicit_origins() {
    let s = load(&[(
        "ALLOWED_ORIGINS",
        "https://Admin.Example.com, https://example.com:443/ ,,http://localhost:3000",
    )])
    .expect("valid");
    assert_eq!(
        s.allowed_origins,
        [
            "https://admin.example.com",
            "https://example.com",
            "http://localhost:3000"
        ]
    );
    for bad in [
        "*",
        "https://*.example.com",
        "https://example.com/app",
        "example.com",
        "ftp://example.com",
    ] {
        let msg = error_for(&errors(&[("ALLOWED_ORIGINS", bad)]), "ALLOWED_ORIGINS");
        assert!(msg.contains(bad), "{msg}");
    }
}

#[test]
fn network_and_cluster_settings() {
    let s = load(&[
        ("SERVER_HOST", "::"),
        ("TRUSTED_PROXIES", "10.0.0.1, ::1"),
        ("METRICS_PORT", "9091"),
        ("NODE_ID", "3"),
        ("CLUSTER_BIND", "[::]:7001"),
        ("CLUSTER_SECRET", "0123456789abcdef"),
        ("CLUSTER_JOIN", "10.0.0.2:7001"),
        ("DB_MAX_CONNECTIONS", "1000"),
        ("SKIP_DB_INIT", "1"),
    ])
    .expect("valid");
    assert_eq!(s.bind_addr(), "[::]:3001");
    assert_eq!(s.trusted_proxies.len(), 2);
    assert_eq!((s.metrics_port, s.node_id), (Some(9091), Some(3)));
    assert_eq!(s.cluster_bind.map(|a| a.port()), Some(7001));
    assert_eq!(s.cluster_join.as_deref(), Some("10.0.0.2:7001"));
    assert!(s.skip_db_init && s.db_max_connections == 1000);

    let errs = errors(&[
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ("CLUSTER_BIND", "localhost"),
        ("NODE_ID", "-1"),
        ("DB_MAX_CONNECTIONS", "1001"),
        ("METRICS_PORT", "3001"),
    ]);
    for key in [
        "TRUSTED_PROXIES",
        "CLUSTER_BIND",
        "NODE_ID",
        "DB_MAX_CONNECTIONS",
        "METRICS_PORT",
    ] {
        error_for(&errs, key);
    }
}
