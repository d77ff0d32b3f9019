//! CSRF protection for every form: a signed double-submit token.
//!
//! The browser holds a random `tessera_csrf` cookie (HttpOnly, SameSite=Strict); each form carries
//! a hidden field `csrf_token` = HMAC-SHA-256(key, cookie value), the key derived from the server
//! pepper. A submission is accepted only when the field matches the cookie (constant-time
//! comparison). An attacker on another site can neither read the cookie nor compute the field.

use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use tessera_actors::crypto::{ct_eq, random_token};

pub const COOKIE: &str = "tessera_csrf";
/// The hidden form field.
pub const FIELD: &str = "csrf_token";

/// A token for a form: the field value to embed, and the cookie to set when the browser had none.
pub struct CsrfToken {
    pub field: String,
    pub set_cookie: Option<Cookie<'static>>,
}

fn well_formed(v: &str) -> bool {
    v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn sign(state: &AppState, cookie_value: &str) -> String {
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&state.pepper[..]) else {
        return String::new();
    };
    mac.update(b"tessera csrf v1\0");
    mac.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The token for a form on this response: reuses the browser's cookie when it has a valid one.
pub fn issue(state: &AppState, req: &HttpRequest) -> CsrfToken {
    if let Some(existing) = req.cookie(COOKIE).map(|c| c.value().to_string()).filter(|v| well_formed(v)) {
        return CsrfToken { field: sign(state, &existing), set_cookie: None };
    }
    let value = random_token(32);
    let cookie = Cookie::build(COOKIE, value.clone())
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.settings.is_https())
        .finish();
    CsrfToken { field: sign(state, &value), set_cookie: Some(cookie) }
}

/// True when `submitted` is the field value bound to the request's CSRF cookie.
pub fn verify(state: &AppState, req: &HttpRequest, submitted: Option<&str>) -> bool {
    let (Some(cookie), Some(submitted)) = (req.cookie(COOKIE), submitted) else {
        return false;
    };
    let value = cookie.value();
    well_formed(value) && ct_eq(sign(state, value).as_bytes(), submitted.as_bytes())
}
