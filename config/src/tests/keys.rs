//! Tests for the key-encryption key: encodings, key file, production requirement.

use std::io::Write as _;

use base64::Engine as _;

use super::{KEK_HEX, error_for, errors, load};
use crate::Environment;

#[test]
fn production_requires_a_key_encryption_key() {
    let msg = error_for(
        &errors(&[("TESSERA_ENV", "production")]),
        "KEY_ENCRYPTION_KEY",
    );
    assert!(
        msg.contains("KEY_ENCRYPTION_KEY") && msg.contains("production"),
        "{msg}"
    );
    let s = load(&[
        ("TESSERA_ENV", "production"),
        ("KEY_ENCRYPTION_KEY", KEK_HEX),
    ])
    .expect("valid");
    assert_eq!(s.environment, Environment::Production);
    assert_eq!(
        s.key_encryption_key.as_ref().map(|k| *k.expose()),
        Some([7u8; 32])
    );
    error_for(&errors(&[("TESSERA_ENV", "staging")]), "TESSERA_ENV");
}

#[test]
fn key_encryption_key_encodings() {
    let key = [0xfbu8; 32];
    let encodings = [
        base64::engine::general_purpose::STANDARD.encode(key),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(key),
        base64::engine::general_purpose::URL_SAFE.encode(key),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
        "fb".repeat(32),
        "FB".repeat(32),
    ];
    for text in &encodings {
        let s = load(&[("KEY_ENCRYPTION_KEY", text)]).expect(text);
        assert_eq!(
            s.key_encryption_key.as_ref().map(|k| *k.expose()),
            Some(key),
            "{text}"
        );
    }
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
    for bad in [short.as_str(), "not base64 at all!", "abcd"] {
        let msg = error_for(
            &errors(&[("KEY_ENCRYPTION_KEY", bad)]),
            "KEY_ENCRYPTION_KEY",
        );
        assert!(!msg.contains(bad), "the secret leaked: {msg}");
    }
}

#[test]
fn key_encryption_key_file_is_read() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(file, "  {KEK_HEX}  \n").expect("write");
    let path = file.path().to_string_lossy().into_owned();
    let s = load(&[
        ("TESSERA_ENV", "production"),
        ("KEY_ENCRYPTION_KEY_FILE", &path),
    ])
    .expect("valid");
    assert_eq!(
        s.key_encryption_key.as_ref().map(|k| *k.expose()),
        Some([7u8; 32])
    );

    let errs = errors(&[("KEY_ENCRYPTION_KEY_FILE", "/nonexistent/tessera.kek")]);
    assert!(error_for(&errs, "KEY_ENCRYPTION_KEY_FILE").contains("/nonexistent/tessera.kek"));

    let errs = errors(&[
        ("KEY_ENCRYPTION_KEY", KEK_HEX),
        ("KEY_ENCRYPTION_KEY_FILE", &path),
    ]);
    let msg = error_for(&errs, "KEY_ENCRYPTION_KEY");
    assert!(
        msg.contains("KEY_ENCRYPTION_KEY_FILE") && !msg.contains(KEK_HEX),
        "{msg}"
    );
}
