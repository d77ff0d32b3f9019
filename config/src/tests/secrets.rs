//! Tests that secrets never appear in Debug, Display, errors or `redacted()`.

use super::{KEK_HEX, env, errors, toml_file};
use crate::Settings;
use crate::redact::redact_url_password;

#[test]
fn secrets_never_print() {
    let file = toml_file("cluster_secret = \"cluster-secret-value-1234\"\n");
    let s = Settings::from_sources(
        Some(file.path()),
        &env(&[
            (
                "DATABASE_URL",
                "postgres://tessera:db-pass-9876@db.internal:5432/tessera?sslmode=require",
            ),
            ("REDIS_URL", "redis://:redis-pass-5555@cache:6379"),
            ("KEY_ENCRYPTION_KEY", KEK_HEX),
            ("NODE_ID", "1"),
            ("CLUSTER_BIND", "0.0.0.0:7001"),
        ]),
    )
    .expect("valid");
    let debug = format!("{s:?}");
    let pretty = format!("{s:#?}");
    let redacted = s.redacted();
    for text in [&debug, &pretty, &redacted] {
        for secret in [
            "db-pass-9876",
            "redis-pass-5555",
            "cluster-secret-value-1234",
            KEK_HEX,
            "[7, 7",
            "7, 7,",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
        }
    }
    assert!(redacted.contains("DATABASE_URL = postgres://tessera:[redacted]@db.internal:5432/tessera?sslmode=require\n"), "{redacted}");
    assert!(
        redacted.contains("KEY_ENCRYPTION_KEY = [redacted]\n"),
        "{redacted}"
    );
    assert!(
        redacted.contains("CLUSTER_SECRET = [redacted]\n")
            && redacted.contains("REDIS_URL = [redacted]\n"),
        "{redacted}"
    );
    assert!(
        redacted.contains("SERVER_PORT = 3001\n") && redacted.contains("ACCESS_TOKEN_TTL = 1h\n"),
        "{redacted}"
    );
    assert!(redacted.lines().all(|l| l.contains(" = ")), "{redacted}");
    assert_eq!(format!("{}", s.database_url), "[redacted]");

    // Invalid secrets are not echoed in error messages either.
    let errs = errors(&[
        ("CLUSTER_SECRET", "short-secret"),
        ("REDIS_URL", "http://:redis-pw@x"),
        ("DATABASE_URL", "pg://u:db-pw@x"),
    ]);
    assert_eq!(errs.len(), 3, "{errs}");
    let text = format!("{errs} {errs:?}");
    for secret in ["short-secret", "redis-pw", "db-pw"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn url_passwords_are_redacted() {
    let cases = [
        ("postgres://u:p@h/db", "postgres://u:[redacted]@h/db"),
        (
            "postgres://u:p/a?b@c@h:5432/db",
            "postgres://u:[redacted]@h:5432/db",
        ),
        (
            "postgres://u@h/db?password=x&sslmode=require",
            "postgres://u@h/db?password=[redacted]&sslmode=require",
        ),
        ("postgresql://h/db", "postgresql://h/db"),
        (
            "sqlite://./data/tessera.db?mode=rwc",
            "sqlite://./data/tessera.db?mode=rwc",
        ),
        ("sqlite::memory:", "sqlite::memory:"),
    ];
    for (input, expected) in cases {
        assert_eq!(redact_url_password(input), expected);
    }
}
