//! One-shot messages after a change ("User alice created"), carried across the redirect that
//! follows every POST (post/redirect/get) in a cookie, and shown by the next console page, which
//! clears the cookie. A new secret (a client secret, a temporary password) travels the same way:
//! shown once, on the page it belongs to; a reload no longer has it.
//!
//! The cookie is sealed (AES-256-GCM under a key derived from the server pepper) with the signed-in
//! user's id as associated data: it cannot be read or forged, nor shown to another user of the
//! same browser. HttpOnly, SameSite=Strict, `Path=/admin`, five minutes at most.

use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use tessera_actors::crypto::{open, seal};

pub const COOKIE: &str = "tessera_console_flash";
const PATH: &str = super::ROOT;
const LIFETIME_S: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Success,
    Error,
    Info,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Success => "success",
            Kind::Error => "error",
            Kind::Info => "info",
        }
    }
}

/// A value to show exactly once, on the page at `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reveal {
    pub label: String,
    pub value: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: Kind,
    pub text: String,
    /// Further lines (e.g. every invalid field).
    #[serde(default)]
    pub details: Vec<String>,
    #[serde(default)]
    pub reveal: Option<Reveal>,
}

impl Flash {
    pub fn success(text: impl Into<String>) -> Flash {
        Flash { kind: Kind::Success, text: text.into(), details: Vec::new(), reveal: None }
    }
    pub fn error(text: impl Into<String>) -> Flash {
        Flash { kind: Kind::Error, text: text.into(), details: Vec::new(), reveal: None }
    }
    pub fn info(text: impl Into<String>) -> Flash {
        Flash { kind: Kind::Info, text: text.into(), details: Vec::new(), reveal: None }
    }
    pub fn with_details(mut self, details: Vec<String>) -> Flash {
        self.details = details;
        self
    }
    pub fn with_reveal(mut self, label: impl Into<String>, value: impl Into<String>, path: impl Into<String>) -> Flash {
        self.reveal = Some(Reveal { label: label.into(), value: value.into(), path: path.into() });
        self
    }
}

fn key(state: &AppState) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&state.pepper[..]) else { return [0u8; 32] };
    mac.update(b"tessera console flash v1");
    mac.finalize().into_bytes().into()
}

fn aad(user_id: &str) -> Vec<u8> {
    [b"console-flash\0".as_slice(), user_id.as_bytes()].concat()
}

fn build(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path(PATH)
        .secure(state.settings.is_https())
        .max_age(time::Duration::seconds(max_age))
        .finish()
}

/// The cookie carrying `flash` to the next page of `user_id`.
pub fn cookie(state: &AppState, user_id: &str, flash: &Flash) -> Cookie<'static> {
    let json = serde_json::to_vec(flash).unwrap_or_default();
    build(state, seal(&key(state), &aad(user_id), &json), LIFETIME_S)
}

/// The cookie that clears the flash.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut c = build(state, String::new(), 0);
    c.make_removal();
    c
}

/// The flash this request carries for `user_id`, if any (a tampered or foreign one counts as none).
pub fn read(state: &AppState, req: &HttpRequest, user_id: &str) -> Option<Flash> {
    let c = req.cookie(COOKIE)?;
    let plain = open(&key(state), &aad(user_id), c.value()).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// True when the request carries a flash cookie at all (so the page clears it).
pub fn present(req: &HttpRequest) -> bool {
    req.cookie(COOKIE).is_some_and(|c| !c.value().is_empty())
}
