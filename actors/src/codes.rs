//! Authorization codes: sealed at issuance, redeemed exactly once.
//!
//! A code carries its own grant (client, user, redirect URI, scope, PKCE challenge, nonce, auth
//! time, session, expiry), sealed with AES-256-GCM under a key derived from the key-encryption key
//! ([`CodeSeal`]). Every node of a cluster shares that key, so any node opens a code any node
//! issued, and issuing one writes nothing: the authorization endpoint answers without waiting for
//! the database. Nobody can forge or alter a code, or read what it carries, without the key.
//!
//! A code's identity is its SHA-256. Redeeming it is a row: the token endpoint inserts
//! `authorization_codes(code_hash, …)` with `ON CONFLICT DO NOTHING` in the same transaction as the
//! tokens it mints (`token_store` in the server crate). Of any number of redemptions on any number
//! of nodes exactly one inserts the row; every other one finds it, and the tokens it would revoke
//! are already committed, because they commit with the row. The codes actor issues codes and
//! purges redemption records an hour past their code's expiry (a replay that late is refused as
//! expired anyway).

use crate::clock::SharedClock;
use crate::crypto::{Sealer, sha256_hex};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tessera_entity::authorization_codes as codes;

/// What a code is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub nonce: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub session_id: Option<String>,
}

/// A code opened at the token endpoint: its grant and when it expires.
#[derive(Debug, Clone)]
pub struct OpenedCode {
    pub grant: CodeGrant,
    pub expires_at: DateTime<Utc>,
}

impl OpenedCode {
    /// The redemption record the token endpoint commits with the tokens.
    pub fn redemption(&self, now: DateTime<Utc>) -> codes::ActiveModel {
        let g = &self.grant;
        codes::ActiveModel {
            code_hash: Set(g.code_hash.clone()),
            client_id: Set(g.client_id.clone()),
            user_id: Set(g.user_id.clone()),
            redirect_uri: Set(g.redirect_uri.clone()),
            scope: Set(g.scope.clone()),
            code_challenge: Set(g.code_challenge.clone()),
            code_challenge_method: Set(g.code_challenge_method.clone()),
            nonce: Set(g.nonce.clone()),
            auth_time: Set(g.auth_time),
            session_id: Set(g.session_id.clone()),
            expires_at: Set(self.expires_at),
            consumed_at: Set(Some(now)),
            created_at: Set(now),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not a code this deployment issued (malformed, altered, or sealed under another key).
    #[error("unknown authorization code")]
    Unknown,
    #[error("authorization code expired")]
    Expired(Box<OpenedCode>),
}

/// What a code seals (short names: it travels in a URL).
#[derive(Serialize, Deserialize)]
struct Sealed {
    c: String,
    u: String,
    r: String,
    s: String,
    pc: String,
    pm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    /// auth_time, µs since the epoch.
    at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Expiry, µs since the epoch.
    exp: i64,
}

/// Seals and opens codes under a key derived from the key-encryption key.
pub struct CodeSeal {
    sealer: Sealer,
    ttl: Duration,
}

impl CodeSeal {
    pub fn new(kek: &[u8; 32], ttl: Duration) -> CodeSeal {
        CodeSeal { sealer: Sealer::new(kek, "tessera authorization code v1"), ttl }
    }

    /// A code for `g` (its `code_hash` is ignored), valid for the TTL from `now`.
    pub fn seal(&self, g: &CodeGrant, now: DateTime<Utc>) -> String {
        let exp = now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(10));
        let sealed = Sealed {
            c: g.client_id.clone(),
            u: g.user_id.clone(),
            r: g.redirect_uri.clone(),
            s: g.scope.clone(),
            pc: g.code_challenge.clone(),
            pm: g.code_challenge_method.clone(),
            n: g.nonce.clone(),
            at: g.auth_time.timestamp_micros(),
            sid: g.session_id.clone(),
            exp: exp.timestamp_micros(),
        };
        self.sealer.seal(&sealed)
    }

    /// Opens `code`: its grant, or why it cannot be redeemed. Says nothing about whether it was
    /// redeemed before (that is the redemption row's job).
    pub fn open(&self, code: &str, now: DateTime<Utc>) -> Result<OpenedCode, OpenError> {
        let s: Sealed = self.sealer.open(code).ok_or(OpenError::Unknown)?;
        let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).ok_or(OpenError::Unknown);
        let (auth_time, expires_at) = (time(s.at)?, time(s.exp)?);
        let grant = CodeGrant {
            code_hash: sha256_hex(code.as_bytes()),
            client_id: s.c,
            user_id: s.u,
            redirect_uri: s.r,
            scope: s.s,
            code_challenge: s.pc,
            code_challenge_method: s.pm,
            nonce: s.n,
            auth_time,
            session_id: s.sid,
        };
        let code = OpenedCode { grant, expires_at };
        if expires_at <= now {
            return Err(OpenError::Expired(Box::new(code)));
        }
        Ok(code)
    }
}

/// Issue a code for `grant` (its `code_hash` is ignored); returns the code itself.
#[derive(Message)]
#[rtype(result = "String")]
pub struct IssueCode(pub CodeGrant);

pub struct CodeActor {
    db: DatabaseConnection,
    clock: SharedClock,
    seal: Arc<CodeSeal>,
}

impl CodeActor {
    pub fn new(db: DatabaseConnection, clock: SharedClock, seal: Arc<CodeSeal>) -> Self {
        CodeActor { db, clock, seal }
    }
}

impl Actor for CodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_secs(60), |act, ctx| {
            let (db, now) = (act.db.clone(), act.clock.now());
            ctx.spawn(
                async move {
                    // Keep redemptions a while past expiry so late replays are still recognised.
                    let horizon = now - chrono::Duration::hours(1);
                    if let Err(e) = codes::Entity::delete_many().filter(codes::Column::ExpiresAt.lt(horizon)).exec(&db).await {
                        tracing::warn!(error = %e, "purging redeemed codes failed");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Handler<IssueCode> for CodeActor {
    type Result = String;

    fn handle(&mut self, IssueCode(g): IssueCode, _: &mut Self::Context) -> String {
        self.seal.seal(&g, self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn grant() -> CodeGrant {
        CodeGrant {
            code_hash: String::new(),
            client_id: "client-1".into(),
            user_id: "user-1".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: "openid profile".into(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            code_challenge_method: "S256".into(),
            nonce: Some("n-0S6".into()),
            auth_time: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            session_id: Some("s-1".into()),
        }
    }

    #[test]
    fn codes_open_to_their_grant_until_they_expire() {
        let seal = CodeSeal::new(&[3u8; 32], Duration::from_secs(600));
        let now = DateTime::from_timestamp(1_764_000_100, 0).unwrap();
        let code = seal.seal(&grant(), now);
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "URL-safe: {code}");
        assert_ne!(code, seal.seal(&grant(), now), "every code is distinct");
        let opened = seal.open(&code, now).unwrap();
        assert_eq!(opened.grant, CodeGrant { code_hash: sha256_hex(code.as_bytes()), ..grant() });
        assert_eq!(opened.expires_at, now + chrono::Duration::seconds(600));
        assert!(!code.contains("client-1") && !URL_SAFE_NO_PAD.decode(&code).unwrap().windows(6).any(|w| w == b"user-1"));
        match seal.open(&code, now + chrono::Duration::seconds(600)) {
            Err(OpenError::Expired(c)) => assert_eq!(c.grant.user_id, "user-1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn altered_foreign_and_malformed_codes_are_unknown() {
        let seal = CodeSeal::new(&[3u8; 32], Duration::from_secs(600));
        let now = DateTime::from_timestamp(1_764_000_100, 0).unwrap();
        let code = seal.seal(&grant(), now);
        let mut raw = URL_SAFE_NO_PAD.decode(&code).unwrap();
        raw[20] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(raw);
        let foreign = CodeSeal::new(&[4u8; 32], Duration::from_secs(600)).seal(&grant(), now);
        for bad in [altered.as_str(), foreign.as_str(), "", "not a code!", &code[..code.len() - 1]] {
            assert!(matches!(seal.open(bad, now), Err(OpenError::Unknown)), "{bad}");
        }
    }
}
