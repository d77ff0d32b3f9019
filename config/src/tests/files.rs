//! Tests for the TOML configuration file and its interplay with the environment.

use std::path::Path;
use std::time::Duration;

use super::{env, error_for, toml_file};
use crate::{JwtAlgorithm, LogFormat, Settings};

#[test]
fn toml_values_are_overridden_by_env() {
    let file = toml_file(
        "server_port = 4000\nissuer = \"https://auth.example.com/\"\naccess_token_ttl = \"15m\"\n\
         id_token_ttl = 120\nallowed_origins = [\"https://a.example.com\", \"http://localhost:5173\"]\n\
         jwt_algorithm = \"ES256\"\nskip_db_init = true\nlog_format = \"json\"\n",
    );
    let s = Settings::from_sources(
        Some(file.path()),
        &env(&[
            ("SERVER_PORT", "5000"),
            ("ACCESS_TOKEN_TTL", "30m"),
            ("LOG_FORMAT", ""),
        ]),
    )
    .expect("valid");
    assert_eq!(s.server_port, 5000, "env wins");
    assert_eq!(s.access_token_ttl, Duration::from_secs(1800), "env wins");
    assert_eq!(
        s.log_format,
        LogFormat::Json,
        "an empty variable does not hide the file value"
    );
    assert_eq!(s.issuer_str(), "https://auth.example.com");
    assert!(s.is_https());
    assert_eq!(s.id_token_ttl, Duration::from_secs(120));
    assert_eq!(
        s.allowed_origins,
        ["https://a.example.com", "http://localhost:5173"]
    );
    assert_eq!(s.jwt_algorithm, JwtAlgorithm::ES256);
    assert!(s.skip_db_init);
}

#[test]
fn bad_toml_value_names_the_setting_and_the_file() {
    let file = toml_file("access_token_ttl = \"ten\"\nserver_port = [1, 2]\n");
    let errs = Settings::from_sources(Some(file.path()), &env(&[])).expect_err("invalid");
    let msg = error_for(&errs, "ACCESS_TOKEN_TTL");
    assert!(
        msg.contains("access_token_ttl") && msg.contains(&file.path().display().to_string()),
        "{msg}"
    );
    error_for(&errs, "SERVER_PORT");
}

#[test]
fn unknown_toml_key_is_rejected() {
    let file =
        toml_file("server_port = 3001\nlisten_port = 80\nDATABASE_URL = \"sqlite::memory:\"\n");
    let errs = Settings::from_sources(Some(file.path()), &env(&[])).expect_err("invalid");
    assert!(
        error_for(&errs, "listen_port").contains("unknown key"),
        "{errs}"
    );
    assert!(
        error_for(&errs, "DATABASE_URL").contains("database_url"),
        "hint expected: {errs}"
    );
    let file = toml_file("acess_token_ttl = 60\n");
    let errs = Settings::from_sources(Some(file.path()), &env(&[])).expect_err("invalid");
    assert!(
        error_for(&errs, "acess_token_ttl").contains("did you mean `access_token_ttl`?"),
        "{errs}"
    );
}

#[test]
fn unparseable_toml_is_one_error_naming_the_file() {
    let file = toml_file("cluster_secret = hunter2-hunter2-hunter2\n");
    let errs = Settings::from_sources(Some(file.path()), &env(&[])).expect_err("invalid");
    assert_eq!(errs.len(), 1, "{errs}");
    let msg = errs.to_string();
    assert!(
        msg.contains(&file.path().display().to_string()) && msg.contains("line 1"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "the secret leaked: {msg}");

    let missing = Settings::from_sources(Some(Path::new("/nonexistent/tessera.toml")), &env(&[]))
        .expect_err("missing");
    assert!(missing.mentions("/nonexistent/tessera.toml"), "{missing}");
}
