//! The key actor: owns signing-key generation and the rotation schedule.
//!
//! Generation (RSA-2048 especially) runs on a blocking thread, never on the event loop. Every change
//! goes through the cluster as a command carrying its own timestamp. The schedule runs only on the raft
//! leader and is derived from the replicated key set alone, so a leader change neither rotates twice
//! nor stalls: a new leader reads the same state and continues where the old one stopped.
//!
//! Lifecycle of a key: **published** (in every JWKS, signs nothing) → after at least the JWKS max-age,
//! **active** (the newest active key of an algorithm signs) → once superseded and every token it
//! signed has expired, **retired** (gone from the JWKS).

use crate::clock::SharedClock;
use crate::keygen;
use crate::keyring::{KeyRing, current_signers};
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tessera_cluster::{ClusterError, Command, KeyRecord, KeyState};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Generate(String),
}

/// What the schedule needs to know.
#[derive(Clone)]
pub struct KeyPolicy {
    /// Algorithms that must always have an active key (RS256 always, for ID tokens).
    pub algorithms: Vec<String>,
    /// The algorithm access tokens are signed with; rotation creates keys of every listed algorithm.
    pub jwks_max_age: Duration,
    /// Longest lifetime of anything a key signs (access and ID tokens).
    pub token_lifetime: Duration,
    /// Automatic rotation period; None = only on request.
    pub rotation_interval: Option<Duration>,
}

pub struct KeyActor {
    ring: Arc<KeyRing>,
    kek: [u8; 32],
    clock: SharedClock,
    policy: KeyPolicy,
    busy: bool,
}

/// Timestamps in the key set are whole seconds, and followers apply an entry a moment after the
/// leader: every wait of the schedule adds this much, so that it holds on every node (one second
/// for the truncation, one for replication).
pub const SLACK_SECS: i64 = 2;

/// Generates a key pair off the event loop and seals it under the KEK (not yet proposed).
async fn generate(kek: [u8; 32], alg: String) -> Result<KeyRecord, KeyError> {
    let generated = tokio::task::spawn_blocking(move || keygen::generate(&alg))
        .await
        .map_err(|e| KeyError::Generate(e.to_string()))?
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let sealed = crate::crypto::seal(&kek, generated.kid.as_bytes(), &generated.private_der);
    Ok(KeyRecord {
        kid: generated.kid,
        alg: generated.alg,
        public_jwk: generated.public_jwk,
        sealed_private_key: sealed,
        state: KeyState::Published,
        created_at: 0,
        activated_at: None,
        retired_at: None,
    })
}

/// Proposes a generated key as Published at `at`. `at` must be read after the generation (which
/// can take a second for RSA): the JWKS max-age wait before activation counts from it.
async fn publish(ring: &KeyRing, key: KeyRecord, at: i64) -> Result<String, KeyError> {
    let kid = key.kid.clone();
    ring.cluster().propose(Command::AddKey { key, at }).await?;
    ring.refresh();
    Ok(kid)
}

/// Generates a key and publishes it, stamped with the clock once the key exists.
async fn add_key(ring: Arc<KeyRing>, kek: [u8; 32], alg: String, clock: SharedClock) -> Result<String, KeyError> {
    let key = generate(kek, alg).await?;
    publish(&ring, key, clock.unix()).await
}

/// First start: make sure every required algorithm has an active key. A brand-new key set has never
/// been published anywhere, so its keys are activated at once.
pub async fn ensure_initial_keys(ring: &Arc<KeyRing>, kek: [u8; 32], algorithms: &[String], now: i64) -> Result<(), KeyError> {
    for alg in algorithms {
        let keys = ring.cluster().keys();
        if keys.iter().any(|k| &k.alg == alg && k.state == KeyState::Active) {
            continue;
        }
        let kid = match keys.iter().find(|k| &k.alg == alg && k.state == KeyState::Published) {
            Some(k) => k.kid.clone(),
            None => publish(ring, generate(kek, alg.clone()).await?, now).await?,
        };
        ring.cluster().propose(Command::ActivateKey { kid, at: now }).await?;
        tracing::info!(alg = %alg, "generated initial signing key");
    }
    ring.refresh();
    Ok(())
}

/// The next step of the schedule for the given key set at time `now`, if any is due.
pub fn next_step(keys: &[KeyRecord], policy: &KeyPolicy, now: i64) -> Option<Step> {
    let max_age = policy.jwks_max_age.as_secs() as i64;
    // 1. Activate a published key once every JWKS cache has had time to see it.
    if let Some(k) = keys.iter().find(|k| k.state == KeyState::Published && now >= k.created_at + max_age + SLACK_SECS) {
        return Some(Step::Command(Command::ActivateKey { kid: k.kid.clone(), at: now }));
    }
    // 2. Retire a superseded key once every token it signed has expired.
    let signers = current_signers(keys);
    let lifetime = policy.token_lifetime.as_secs() as i64;
    for k in keys.iter().filter(|k| k.state == KeyState::Active) {
        let Some(cur) = signers.get(k.alg.as_str()) else { continue };
        if cur.kid == k.kid {
            continue;
        }
        let superseded_at = cur.activated_at.unwrap_or(cur.created_at);
        // A token signed just after the switch (by a node yet to apply it) must expire first.
        if now >= superseded_at + lifetime + SLACK_SECS {
            return Some(Step::Command(Command::RetireKey { kid: k.kid.clone(), at: now }));
        }
    }
    // 3. Start a rotation when the interval has passed and none is pending.
    let interval = policy.rotation_interval?.as_secs().max(1) as i64;
    for alg in &policy.algorithms {
        let pending = keys.iter().any(|k| &k.alg == alg && k.state == KeyState::Published);
        let due = signers.get(alg.as_str()).is_none_or(|s| now >= s.activated_at.unwrap_or(s.created_at) + interval);
        if !pending && due {
            return Some(Step::Generate(alg.clone()));
        }
    }
    None
}

#[derive(Debug, PartialEq)]
pub enum Step {
    Command(Command),
    Generate(String),
}

impl KeyActor {
    pub fn new(ring: Arc<KeyRing>, kek: [u8; 32], clock: SharedClock, policy: KeyPolicy) -> Self {
        KeyActor { ring, kek, clock, policy, busy: false }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let cluster = self.ring.cluster();
        if self.busy || cluster.status().leader != Some(cluster.node_id()) {
            return;
        }
        let now = self.clock.unix();
        let Some(step) = next_step(&cluster.keys(), &self.policy, now) else { return };
        self.busy = true;
        let (ring, kek, clock) = (Arc::clone(&self.ring), self.kek, Arc::clone(&self.clock));
        let fut = async move {
            let res = match step {
                Step::Command(cmd) => ring.cluster().propose(cmd).await.map(|_| ring.refresh()).map_err(KeyError::from),
                Step::Generate(alg) => add_key(ring, kek, alg, clock).await.map(|_| ()),
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, "key schedule step failed; will retry");
            }
        };
        ctx.spawn(fut.into_actor(self).map(|_, act, _| act.busy = false));
    }
}

impl Actor for KeyActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let period = (self.policy.jwks_max_age / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
        ctx.run_interval(period, |act, ctx| act.tick(ctx));
    }
}

/// Starts a rotation now: a new key of each configured algorithm is published; the schedule
/// activates it after the JWKS max-age. Returns the new kids.
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, KeyError>")]
pub struct Rotate;

impl Handler<Rotate> for KeyActor {
    type Result = ResponseFuture<Result<Vec<String>, KeyError>>;

    fn handle(&mut self, _: Rotate, _: &mut Self::Context) -> Self::Result {
        let (ring, kek, algs, clock) = (Arc::clone(&self.ring), self.kek, self.policy.algorithms.clone(), Arc::clone(&self.clock));
        Box::pin(async move {
            let mut kids = Vec::new();
            for alg in algs {
                kids.push(add_key(Arc::clone(&ring), kek, alg, Arc::clone(&clock)).await?);
            }
            Ok(kids)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, state: KeyState, created: i64, activated: Option<i64>) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            alg: "RS256".into(),
            public_jwk: serde_json::json!({}),
            sealed_private_key: String::new(),
            state,
            created_at: created,
            activated_at: activated,
            retired_at: None,
        }
    }

    fn policy() -> KeyPolicy {
        KeyPolicy {
            algorithms: vec!["RS256".into()],
            jwks_max_age: Duration::from_secs(10),
            token_lifetime: Duration::from_secs(60),
            rotation_interval: Some(Duration::from_secs(100)),
        }
    }

    #[test]
    fn published_key_waits_for_the_jwks_max_age() {
        let keys = vec![key("a", KeyState::Active, 0, Some(0)), key("b", KeyState::Published, 50, None)];
        assert_eq!(next_step(&keys, &policy(), 61), None);
        assert_eq!(next_step(&keys, &policy(), 62), Some(Step::Command(Command::ActivateKey { kid: "b".into(), at: 62 })));
    }

    #[test]
    fn superseded_key_retires_only_after_its_tokens_expire() {
        let keys = vec![key("a", KeyState::Active, 0, Some(0)), key("b", KeyState::Active, 50, Some(60))];
        assert_eq!(next_step(&keys, &policy(), 121), None);
        assert_eq!(next_step(&keys, &policy(), 122), Some(Step::Command(Command::RetireKey { kid: "a".into(), at: 122 })));
    }

    #[test]
    fn rotation_starts_after_the_interval_and_never_twice() {
        let keys = vec![key("a", KeyState::Active, 0, Some(0))];
        assert_eq!(next_step(&keys, &policy(), 99), None);
        assert_eq!(next_step(&keys, &policy(), 100), Some(Step::Generate("RS256".into())));
        let pending = vec![key("a", KeyState::Active, 0, Some(0)), key("b", KeyState::Published, 100, None)];
        assert_eq!(next_step(&pending, &policy(), 105), None);
    }
}
