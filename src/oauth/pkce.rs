//! PKCE (RFC 7636) at the token endpoint: only `S256`. The verifier must be 43–128 characters of
//! the unreserved set, and `BASE64URL(SHA-256(verifier))` must equal the stored challenge, compared
//! in constant time.

use super::error::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tessera_actors::crypto::ct_eq;

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`, 43 to 128 characters.
pub fn verifier_is_well_formed(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA-256(ASCII(verifier)))`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks `verifier` against the challenge bound to the code. Any failure is `invalid_grant`
/// (RFC 7636 §4.6); a non-S256 method stored with the code is refused too.
pub fn verify(method: &str, challenge: &str, verifier: &str) -> Result<(), OAuthError> {
    if !verifier_is_well_formed(verifier) {
        return Err(OAuthError::invalid_grant("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]"));
    }
    if method != "S256" {
        return Err(OAuthError::invalid_grant("only the S256 code challenge method is supported"));
    }
    if !ct_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes()) {
        return Err(OAuthError::invalid_grant("code_verifier does not match the code challenge"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256_challenge(v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verify("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", v).is_ok());
        assert!(verify("plain", v, v).is_err());
        assert!(verify("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", v).is_err());
    }

    #[test]
    fn verifier_syntax() {
        assert!(!verifier_is_well_formed(&"a".repeat(42)));
        assert!(verifier_is_well_formed(&"a".repeat(43)));
        assert!(verifier_is_well_formed(&"a".repeat(128)));
        assert!(!verifier_is_well_formed(&"a".repeat(129)));
        assert!(!verifier_is_well_formed(&format!("{}+", "a".repeat(43))));
    }
}
