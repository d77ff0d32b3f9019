//! Sealing private key material under the key-encryption key (AES-256-GCM), plus small hashing helpers.
//!
//! A sealed value is `base64(nonce || ciphertext+tag)`; the key id is bound as associated data, so a
//! sealed key cannot be swapped onto another kid.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed key is not valid base64")]
    Encoding,
    #[error("sealed key could not be opened (wrong key-encryption key or corrupted data)")]
    Open,
}

/// Encrypts `plaintext` under `kek`, binding `aad`; base64 of [`seal_raw`].
pub fn seal(kek: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> String {
    STANDARD.encode(seal_raw(kek, aad, plaintext))
}

/// Decrypts a value made by [`seal`].
pub fn open(kek: &[u8; 32], aad: &[u8], sealed: &str) -> Result<Vec<u8>, SealError> {
    open_raw(kek, aad, &STANDARD.decode(sealed).map_err(|_| SealError::Encoding)?)
}

/// AES-256-GCM under `key` with a random nonce, binding `aad`: `nonce || ciphertext+tag`.
fn seal_raw(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // Encryption with a valid key and a 12-byte nonce cannot fail for inputs of this size.
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    out
}

/// Decrypts a value made by [`seal_raw`].
fn open_raw(key: &[u8; 32], aad: &[u8], raw: &[u8]) -> Result<Vec<u8>, SealError> {
    if raw.len() < 12 + 16 {
        return Err(SealError::Open);
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::Open)?;
    Aes256Gcm::new(key.into())
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map_err(|_| SealError::Open)
}

/// A key for one purpose, derived from the key-encryption key: HMAC-SHA-256 of `label` under it.
pub fn derive_key(kek: &[u8; 32], label: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(kek).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// Values handed to clients to hold and give back (authorization codes, refresh tokens), sealed
/// with AES-256-GCM under a key derived from the key-encryption key for one purpose (HMAC-SHA-256
/// of the purpose under the KEK; the purpose is also the associated data). Every node of a cluster
/// shares the KEK, so any node opens what any node sealed; a value sealed for one purpose does not
/// open for another. Sealed values are base64url without padding.
pub struct Sealer {
    key: [u8; 32],
    purpose: &'static str,
}

impl Sealer {
    pub fn new(kek: &[u8; 32], purpose: &'static str) -> Sealer {
        Sealer { key: derive_key(kek, purpose.as_bytes()), purpose }
    }

    /// `value` as JSON, sealed.
    pub fn seal<T: serde::Serialize>(&self, value: &T) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(seal_raw(&self.key, self.purpose.as_bytes(), &json))
    }

    /// What [`Sealer::seal`] sealed; `None` for anything else (malformed, altered, sealed under another
    /// key or for another purpose).
    pub fn open<T: serde::de::DeserializeOwned>(&self, sealed: &str) -> Option<T> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = open_raw(&self.key, self.purpose.as_bytes(), &raw).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// Hex SHA-256, used to store codes, session ids and refresh tokens by hash only.
pub fn sha256_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(data);
    let mut out = String::with_capacity(2 * d.len());
    for b in d {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// `n` random bytes, base64url without padding (codes, tokens, CSRF tokens, session ids), from the
/// thread's CSPRNG (ChaCha, reseeded from the operating system): no system call per token.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Constant-time equality for secrets.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        // FIPS 180-2 test vector; stored hashes depend on this exact form.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn random_tokens_differ_and_have_the_requested_length() {
        let (a, b) = (random_token(32), random_token(32));
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_purpose() {
        let (a, b) = (Sealer::new(&[7u8; 32], "purpose a"), Sealer::new(&[7u8; 32], "purpose b"));
        let sealed = a.seal(&("alice", 42));
        assert!(sealed.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "URL-safe: {sealed}");
        assert_ne!(sealed, a.seal(&("alice", 42)), "a fresh nonce each time");
        assert_eq!(a.open::<(String, u32)>(&sealed), Some(("alice".to_string(), 42)));
        assert_eq!(b.open::<(String, u32)>(&sealed), None, "another purpose");
        assert_eq!(Sealer::new(&[8u8; 32], "purpose a").open::<(String, u32)>(&sealed), None, "another key");
        assert!(!URL_SAFE_NO_PAD.decode(&sealed).unwrap().windows(5).any(|w| w == b"alice"), "nothing readable");
        for bad in ["", "not sealed!", &sealed[..sealed.len() - 2]] {
            assert_eq!(a.open::<(String, u32)>(bad), None, "{bad}");
        }
    }

    #[test]
    fn seal_round_trips_and_binds_the_kid() {
        let kek = [7u8; 32];
        let sealed = seal(&kek, b"kid-1", b"secret key bytes");
        assert_eq!(open(&kek, b"kid-1", &sealed).unwrap(), b"secret key bytes");
        assert!(open(&kek, b"kid-2", &sealed).is_err());
        assert!(open(&[8u8; 32], b"kid-1", &sealed).is_err());
        assert!(!sealed.contains("secret"));
    }
}
