//! The key ring: a cheap, local view of the cluster's key set for the hot path.
//!
//! Rebuilt whenever the cluster applies an entry. Holds the parsed verifying keys (by kid), the
//! current signer per algorithm (decrypted from its sealed private key), and the rendered JWKS body.
//!
//! Keys are parsed once here, into aws-lc key pairs and parsed public keys, so signing and
//! verifying a token does no DER or JWK parsing on the request path.

use crate::crypto;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_cluster::{Cluster, KeyRecord, KeyState};

/// A parsed private key.
enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// Signing failed (aws-lc reported an error; never expected with a parsed key).
#[derive(Debug, thiserror::Error)]
#[error("signing failed")]
pub struct SignError;

/// A key this node may sign with: the private key parsed once, used for every token by
/// [`Signer::sign`]; `encoding` is the same key for code that signs through jsonwebtoken.
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    key: SigningKey,
    rng: SystemRandom,
}

impl Signer {
    /// Parses `der` (PKCS#1 for RS256, PKCS#8 for ES256 and EdDSA).
    pub fn from_der(kid: &str, alg: Algorithm, der: &[u8]) -> Result<Signer, String> {
        let (key, encoding) = match alg {
            Algorithm::RS256 => (SigningKey::Rsa(RsaKeyPair::from_der(der).map_err(|e| e.to_string())?), EncodingKey::from_rsa_der(der)),
            Algorithm::ES256 => (
                SigningKey::Ec(
                    EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| e.to_string())?,
                ),
                EncodingKey::from_ec_der(der),
            ),
            Algorithm::EdDSA => {
                (SigningKey::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?), EncodingKey::from_ed_der(der))
            }
            other => return Err(format!("unsupported algorithm {other:?}")),
        };
        Ok(Signer { kid: kid.to_string(), alg, encoding, key, rng: SystemRandom::new() })
    }

    /// The JWS signature of `input` (the ASCII `header.payload`), as raw bytes.
    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.key {
            SigningKey::Rsa(k) => {
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(&sig::RSA_PKCS1_SHA256, &self.rng, input, &mut out).map_err(|_| SignError)?;
                Ok(out)
            }
            SigningKey::Ec(k) => Ok(k.sign(&self.rng, input).map_err(|_| SignError)?.as_ref().to_vec()),
            SigningKey::Ed(k) => Ok(k.sign(input).as_ref().to_vec()),
        }
    }

    /// The public key's raw bytes (for tests and diagnostics).
    pub fn public_key(&self) -> Vec<u8> {
        match &self.key {
            SigningKey::Rsa(k) => k.public_key().as_ref().to_vec(),
            SigningKey::Ec(k) => k.public_key().as_ref().to_vec(),
            SigningKey::Ed(k) => k.public_key().as_ref().to_vec(),
        }
    }
}

/// A key tokens may be verified with: `key` is parsed once and checks compact JWS signatures;
/// `decoding` is the same key for code that verifies through jsonwebtoken.
pub struct Verifier {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
    key: ParsedPublicKey,
}

impl Verifier {
    /// Whether `signature` (raw bytes) is a valid signature of `input` by this key.
    pub fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(input, signature).is_ok()
    }
}

fn parsed_key(jwk: &serde_json::Value) -> Option<ParsedPublicKey> {
    let b = |k: &str| jwk.get(k).and_then(|v| v.as_str()).and_then(|v| B64.decode(v).ok());
    match jwk.get("kty")?.as_str()? {
        "RSA" => sig::RsaPublicKeyComponents { n: b("n")?, e: b("e")? }
            .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
            .ok(),
        "EC" => {
            let (x, y) = (b("x")?, b("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(4u8);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).ok()
        }
        "OKP" => ParsedPublicKey::new(&sig::ED25519, b("x")?).ok(),
        _ => None,
    }
}

#[derive(Default)]
struct RingState {
    applied: u64,
    signers: HashMap<String, Arc<Signer>>,
    verifiers: HashMap<String, Arc<Verifier>>,
    jwks: Arc<String>,
}

pub struct KeyRing {
    kek: [u8; 32],
    cluster: Cluster,
    state: RwLock<Arc<RingState>>,
}

pub fn parse_alg(alg: &str) -> Option<Algorithm> {
    match alg {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

fn decoding_key(jwk: &serde_json::Value) -> Option<DecodingKey> {
    let s = |k: &str| jwk.get(k).and_then(|v| v.as_str());
    match s("kty")? {
        "RSA" => DecodingKey::from_rsa_components(s("n")?, s("e")?).ok(),
        "EC" => DecodingKey::from_ec_components(s("x")?, s("y")?).ok(),
        "OKP" => DecodingKey::from_ed_components(s("x")?).ok(),
        _ => None,
    }
}

/// The key of each algorithm that signs now: the most recently activated Active key.
pub fn current_signers(keys: &[KeyRecord]) -> HashMap<&str, &KeyRecord> {
    let mut out: HashMap<&str, &KeyRecord> = HashMap::new();
    for k in keys.iter().filter(|k| k.state == KeyState::Active) {
        let newer = match out.get(k.alg.as_str()) {
            Some(cur) => (k.activated_at, k.created_at) > (cur.activated_at, cur.created_at),
            None => true,
        };
        if newer {
            out.insert(k.alg.as_str(), k);
        }
    }
    out
}

impl KeyRing {
    pub fn new(kek: [u8; 32], cluster: Cluster) -> Arc<KeyRing> {
        let ring = Arc::new(KeyRing { kek, cluster, state: RwLock::new(Arc::default()) });
        ring.refresh();
        ring
    }

    /// Keeps the ring current: rebuilds after every applied raft entry.
    pub fn spawn_watcher(self: &Arc<Self>) {
        let ring = Arc::clone(self);
        let mut rx = ring.cluster.subscribe();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                ring.refresh();
            }
        });
    }

    fn snapshot(&self) -> Arc<RingState> {
        match self.state.read() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Rebuilds the ring from the cluster's key set.
    pub fn refresh(&self) {
        let applied = self.cluster.status().last_applied.unwrap_or(0);
        let keys = self.cluster.keys();
        let mut st = RingState { applied, ..RingState::default() };
        let mut jwks = Vec::new();
        for k in keys.iter().filter(|k| k.state != KeyState::Retired) {
            let (Some(alg), Some(dec), Some(key)) =
                (parse_alg(&k.alg), decoding_key(&k.public_jwk), parsed_key(&k.public_jwk))
            else {
                tracing::warn!(kid = %k.kid, "unusable public key in key set");
                continue;
            };
            st.verifiers.insert(k.kid.clone(), Arc::new(Verifier { alg, decoding: dec, key }));
            jwks.push(k.public_jwk.clone());
        }
        for (alg_name, k) in current_signers(&keys) {
            let Some(alg) = parse_alg(alg_name) else { continue };
            let der = match crypto::open(&self.kek, k.kid.as_bytes(), &k.sealed_private_key) {
                Ok(der) => der,
                Err(e) => {
                    tracing::error!(kid = %k.kid, error = %e, "cannot open signing key");
                    continue;
                }
            };
            match Signer::from_der(&k.kid, alg, &der) {
                Ok(signer) => {
                    st.signers.insert(alg_name.to_string(), Arc::new(signer));
                }
                Err(e) => tracing::error!(kid = %k.kid, error = %e, "cannot parse signing key"),
            }
        }
        st.jwks = Arc::new(serde_json::json!({ "keys": jwks }).to_string());
        let new = Arc::new(st);
        if let Ok(mut w) = self.state.write()
            && w.applied <= new.applied
        {
            *w = new;
        }
    }

    pub fn signer(&self, alg: &str) -> Option<Arc<Signer>> {
        self.snapshot().signers.get(alg).cloned()
    }

    pub fn verifier(&self, kid: &str) -> Option<Arc<Verifier>> {
        self.snapshot().verifiers.get(kid).cloned()
    }

    /// The JWKS document body (published and active keys, public members only).
    pub fn jwks(&self) -> Arc<String> {
        Arc::clone(&self.snapshot().jwks)
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_keys_sign_what_jsonwebtoken_and_the_jwk_verify() {
        for name in ["RS256", "ES256", "EdDSA"] {
            let k = crate::keygen::generate(name).unwrap();
            let alg = parse_alg(name).unwrap();
            let signer = Signer::from_der(&k.kid, alg, &k.private_der).unwrap();
            let input = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0";
            let sig = signer.sign(input).unwrap();
            let key = parsed_key(&k.public_jwk).unwrap();
            assert!(key.verify_sig(input, &sig).is_ok(), "{name}");
            assert!(key.verify_sig(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ5In0", &sig).is_err(), "{name}");
            let dec = decoding_key(&k.public_jwk).unwrap();
            let ok = jsonwebtoken::crypto::verify(&B64.encode(&sig), input, &dec, alg).unwrap();
            assert!(ok, "{name}: jsonwebtoken accepts the signature");
        }
    }
}
