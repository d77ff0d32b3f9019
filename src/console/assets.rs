//! The console's stylesheet and script (embedded from `static/` at build time), and the headers
//! every console answer carries.
//!
//! The stylesheet is a cacheable file (its URL names a hash of its content); the script is inline
//! and allowed by its SHA-256 hash in the Content-Security-Policy — no inline event handlers, no
//! `unsafe-inline`, nothing loaded from elsewhere.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub const CSS_PATH: &str = "/admin/assets/console.css";
pub const CSS: &str = include_str!("../../static/console.css");
/// The console's only script: copy buttons and confirmations.
pub const SCRIPT: &str = include_str!("../../static/console.js");

fn b64_sha256(s: &str) -> String {
    STANDARD.encode(Sha256::digest(s.as_bytes()))
}

/// The stylesheet's URL, with a content hash so a new build is never served a stale copy.
pub static CSS_URL: LazyLock<String> = LazyLock::new(|| {
    let hex: String = Sha256::digest(CSS.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{CSS_PATH}?v={hex}")
});

/// The policy of every console page.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        b64_sha256(SCRIPT)
    )
});

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")))
        .body(CSS)
}

/// `Cache-Control: no-store` on everything; the console CSP unless the answer already has a policy
/// of its own (the shared login and error pages bring theirs).
pub fn secure(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY)
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_embedded_script() {
        let csp = &*CONTENT_SECURITY_POLICY;
        assert!(csp.contains(&format!("'sha256-{}'", b64_sha256(SCRIPT))));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(!SCRIPT.contains("</script"));
    }
}
