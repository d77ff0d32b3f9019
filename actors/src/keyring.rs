//! The key ring: a cheap, local view of the cluster's key set for the hot path.
//!
//! Rebuilt whenever the cluster applies an entry. Holds the parsed verifying keys (by kid), the
//! current signer per algorithm (decrypted from its sealed private key), and the rendered JWKS body.

use crate::crypto;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_cluster::{Cluster, KeyRecord, KeyState};

/// A key this node may sign with.
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
}

/// A key tokens may be verified with.
pub struct Verifier {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
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
            let (Some(alg), Some(dec)) = (parse_alg(&k.alg), decoding_key(&k.public_jwk)) else {
                tracing::warn!(kid = %k.kid, "unusable public key in key set");
                continue;
            };
            st.verifiers.insert(k.kid.clone(), Arc::new(Verifier { alg, decoding: dec }));
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
            let encoding = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_der(&der),
                Algorithm::ES256 => EncodingKey::from_ec_der(&der),
                _ => EncodingKey::from_ed_der(&der),
            };
            st.signers.insert(alg_name.to_string(), Arc::new(Signer { kid: k.kid.clone(), alg, encoding }));
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
