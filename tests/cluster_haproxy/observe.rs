//! Watching the cluster from outside: each node's signing-key states from its Prometheus
//! listener (`tessera_signing_key{kid,alg,state} 1`), and a relying party that verifies tokens
//! locally against a JWKS it caches for exactly the max-age the server announces.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// kid → state ("published" | "active" | "retired"), as one node's metrics show it.
pub async fn key_states(http: &reqwest::Client, metrics_url: &str) -> Option<BTreeMap<String, String>> {
    let text = http.get(metrics_url).send().await.ok()?.text().await.ok()?;
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("tessera_signing_key{")) {
        let label = |name: &str| {
            let start = line.find(&format!("{name}=\""))? + name.len() + 2;
            let end = line[start..].find('"')? + start;
            Some(line[start..end].to_string())
        };
        if let (Some(kid), Some(state)) = (label("kid"), label("state")) {
            out.insert(kid, state);
        }
    }
    Some(out)
}

/// A gauge of one node's metrics (`name value` lines without labels).
pub async fn gauge(http: &reqwest::Client, metrics_url: &str, name: &str) -> Option<f64> {
    let text = http.get(metrics_url).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn rank(state: &str) -> u8 {
    match state {
        "published" => 0,
        "active" => 1,
        "retired" => 2,
        _ => 9,
    }
}

/// Every state each node has been seen to give each key, in the order seen (no repeats).
#[derive(Default, Debug)]
pub struct KeyHistory {
    /// node → kid → states.
    pub seen: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl KeyHistory {
    pub fn record(&mut self, node: &str, states: &BTreeMap<String, String>) {
        let per_node = self.seen.entry(node.to_string()).or_default();
        for (kid, state) in states {
            let h = per_node.entry(kid.clone()).or_default();
            if h.last() != Some(state) {
                h.push(state.clone());
            }
        }
    }

    /// Panics if any node ever moved a key backwards (e.g. retired → active).
    pub fn assert_never_backwards(&self) {
        for (node, kids) in &self.seen {
            for (kid, states) in kids {
                assert!(states.windows(2).all(|w| rank(&w[0]) < rank(&w[1])), "{node}: key {kid} went {states:?}");
            }
        }
    }

    /// Keys `node` saw pass through published → active → retired.
    pub fn full_passes(&self, node: &str) -> Vec<String> {
        let full = ["published", "active", "retired"];
        self.seen.get(node).map(|k| k.iter().filter(|(_, s)| s.as_slice() == full).map(|(kid, _)| kid.clone()).collect()).unwrap_or_default()
    }
}

/// Why a token failed local verification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    UnknownKid(String),
    BadToken(String),
}

/// A relying party with a JWKS cache: refetches only when its copy is older than the max-age
/// the JWKS response announced (never because a kid is unknown — that would hide a server that
/// signs with a key before caches can know it).
pub struct RelyingParty {
    http: reqwest::Client,
    jwks_url: String,
    issuer: String,
    cache: Option<(Instant, Duration, HashMap<String, DecodingKey>)>,
    pub fetches: u32,
}

impl RelyingParty {
    pub fn new(jwks_url: String, issuer: String) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        RelyingParty { http, jwks_url, issuer, cache: None, fetches: 0 }
    }

    async fn fetch(&mut self) -> Result<(), String> {
        let res = self.http.get(&self.jwks_url).send().await.map_err(|e| format!("jwks: {e}"))?;
        let max_age = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok()))
            .ok_or("jwks without max-age")?;
        let set: JwkSet = res.json().await.map_err(|e| format!("jwks json: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, key);
            }
        }
        self.cache = Some((Instant::now(), Duration::from_secs(max_age), keys));
        self.fetches += 1;
        Ok(())
    }

    /// Verifies `token` (signature, issuer, expiry) against the cached JWKS.
    pub async fn verify(&mut self, token: &str) -> Result<String, Failure> {
        let stale = self.cache.as_ref().is_none_or(|(at, max_age, _)| at.elapsed() >= *max_age);
        if stale {
            self.fetch().await.map_err(Failure::BadToken)?;
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| Failure::BadToken(e.to_string()))?;
        let kid = header.kid.ok_or(Failure::BadToken("no kid".into()))?;
        let Some((_, _, keys)) = &self.cache else { return Err(Failure::BadToken("no jwks".into())) };
        let key = keys.get(&kid).ok_or_else(|| Failure::UnknownKid(kid.clone()))?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[self.issuer.as_str()]);
        v.validate_aud = false;
        v.leeway = 0;
        jsonwebtoken::decode::<serde_json::Value>(token, key, &v).map_err(|e| Failure::BadToken(e.to_string()))?;
        Ok(kid)
    }
}
