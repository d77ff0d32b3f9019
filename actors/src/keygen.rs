//! Key-pair generation for the three signing algorithms, with RFC 7638 thumbprints as key ids.
//!
//! CPU-heavy (RSA-2048 takes tens to hundreds of milliseconds): callers run it on a blocking thread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A freshly generated key pair: the public JWK and the private key as DER
/// (PKCS#1 for RSA, PKCS#8 for EC and Ed25519 — what jsonwebtoken's `EncodingKey::from_*_der` expect).
pub struct GeneratedKey {
    pub kid: String,
    pub alg: String,
    pub public_jwk: Value,
    pub private_der: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("key generation failed: {0}")]
pub struct KeyGenError(String);

fn err(e: impl std::fmt::Display) -> KeyGenError {
    KeyGenError(e.to_string())
}

/// Generates a key pair for `alg` ("RS256", "ES256" or "EdDSA").
pub fn generate(alg: &str) -> Result<GeneratedKey, KeyGenError> {
    let (mut jwk, thumb_input, der) = match alg {
        "RS256" => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(err)?;
            let n = B64.encode(key.n().to_bytes_be());
            let e = B64.encode(key.e().to_bytes_be());
            let der = key.to_pkcs1_der().map_err(err)?.as_bytes().to_vec();
            let thumb = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            (json!({"kty": "RSA", "n": n, "e": e}), thumb, der)
        }
        "ES256" => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
            let point = key.verifying_key().to_encoded_point(false);
            let x = B64.encode(point.x().ok_or_else(|| err("no x"))?);
            let y = B64.encode(point.y().ok_or_else(|| err("no y"))?);
            let der = key.to_pkcs8_der().map_err(err)?.as_bytes().to_vec();
            let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            (json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}), thumb, der)
        }
        "EdDSA" => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let key = ed25519_dalek::SigningKey::generate(&mut rsa::rand_core::OsRng);
            let x = B64.encode(key.verifying_key().to_bytes());
            let der = key.to_pkcs8_der().map_err(err)?.as_bytes().to_vec();
            let thumb = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            (json!({"kty": "OKP", "crv": "Ed25519", "x": x}), thumb, der)
        }
        other => return Err(KeyGenError(format!("unsupported algorithm {other}"))),
    };
    let kid = B64.encode(Sha256::digest(thumb_input.as_bytes()));
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(alg);
    Ok(GeneratedKey { kid, alg: alg.to_string(), public_jwk: jwk, private_der: der })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_public_only_jwk() {
        for alg in ["RS256", "ES256", "EdDSA"] {
            let k = generate(alg).unwrap();
            assert_eq!(k.public_jwk["alg"], alg);
            assert_eq!(k.public_jwk["use"], "sig");
            assert_eq!(k.public_jwk["kid"], k.kid.as_str());
            assert!(k.public_jwk.get("d").is_none());
            assert!(!k.private_der.is_empty());
        }
    }
}
