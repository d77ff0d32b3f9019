//! Peer authentication on the internal cluster listener: every request carries
//! `X-Tessera-Cluster-Auth: v1 <unix-seconds> <hex HMAC-SHA256>` over the timestamp, the path and
//! the body, keyed with the shared `CLUSTER_SECRET`. The secret itself never travels.
//!
//! Verification is constant-time (`Mac::verify_slice`) and refuses timestamps more than
//! [`MAX_SKEW_SECS`] away from the receiver's clock, which bounds how long a captured request
//! could be replayed (raft RPCs and admin calls are idempotent, so a replay inside the window
//! changes nothing). This is transport-level plumbing: it reads the system clock, unlike `apply`.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The request header carrying the signature.
pub const AUTH_HEADER: &str = "x-tessera-cluster-auth";
/// Largest accepted difference between the sender's and the receiver's clocks.
pub const MAX_SKEW_SECS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a request was refused. Deliberately coarse: the reply never says which check failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing or malformed cluster auth header")]
    Malformed,
    #[error("cluster auth timestamp outside the allowed clock skew")]
    Stale,
    #[error("cluster auth signature mismatch")]
    BadSignature,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// HMAC takes keys of any length, so this never fails in practice; if it did, `sign` produces a
/// header that never verifies and `verify` refuses.
fn mac(secret: &[u8], ts: u64, path: &str, body: &[u8]) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    m.update(b"tessera-cluster v1\n");
    m.update(ts.to_string().as_bytes());
    m.update(b"\n");
    m.update(path.as_bytes());
    m.update(b"\n");
    m.update(body);
    Some(m)
}

/// The header value for a request to `path` with `body`, signed at `ts`.
pub(crate) fn sign(secret: &[u8], ts: u64, path: &str, body: &[u8]) -> String {
    let tag = mac(secret, ts, path, body).map(|m| hex(&m.finalize().into_bytes()));
    format!("v1 {ts} {}", tag.unwrap_or_default())
}

/// Checks `header` for a request to `path` with `body`, received at `now`.
pub(crate) fn verify(
    secret: &[u8],
    header: Option<&str>,
    path: &str,
    body: &[u8],
    now: u64,
) -> Result<(), AuthError> {
    let mut parts = header.ok_or(AuthError::Malformed)?.split(' ');
    let (Some("v1"), Some(ts), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let ts: u64 = ts.parse().map_err(|_| AuthError::Malformed)?;
    let tag = unhex(tag)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Malformed)?;
    if ts.abs_diff(now) > MAX_SKEW_SECS {
        return Err(AuthError::Stale);
    }
    mac(secret, ts, path, body)
        .ok_or(AuthError::BadSignature)?
        .verify_slice(&tag)
        .map_err(|_| AuthError::BadSignature)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xF) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef-shared";

    #[test]
    fn a_signed_request_verifies() {
        let h = sign(SECRET, 1000, "/raft/vote", b"{}");
        assert!(h.starts_with("v1 1000 "));
        assert_eq!(verify(SECRET, Some(&h), "/raft/vote", b"{}", 1010), Ok(()));
    }

    #[test]
    fn anything_changed_is_refused() {
        let h = sign(SECRET, 1000, "/raft/vote", b"{}");
        let bad = |secret: &[u8], path: &str, body: &[u8], now: u64| {
            verify(secret, Some(&h), path, body, now)
        };
        assert_eq!(
            bad(b"another-secret-16chars", "/raft/vote", b"{}", 1000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            bad(SECRET, "/raft/append", b"{}", 1000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            bad(SECRET, "/raft/vote", b"{ }", 1000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            bad(SECRET, "/raft/vote", b"{}", 1000 + MAX_SKEW_SECS + 1),
            Err(AuthError::Stale)
        );
        for h in [
            "",
            "v1 1000",
            "v2 1000 00",
            "v1 x 00",
            "v1 1000 zz",
            "v1 1000 0",
            "v1 1000 00 extra",
        ] {
            assert_eq!(
                verify(SECRET, Some(h), "/raft/vote", b"{}", 1000),
                Err(AuthError::Malformed),
                "{h:?}"
            );
        }
        assert_eq!(
            verify(SECRET, None, "/raft/vote", b"{}", 1000),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
    }
}
