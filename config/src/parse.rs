//! Parsers for individual setting values.
//!
//! Each returns a complete, human-readable message on failure. Parsers for
//! secrets (database URL, Redis URL, key-encryption key, cluster secret) never
//! include the input in their messages; the others quote it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use url::Url;

use crate::duration::parse_duration;

/// A duration that may be zero (e.g. `JWKS_MAX_AGE`).
pub(crate) fn duration(v: &str) -> Result<Duration, String> {
    parse_duration(v).map_err(|e| format!("{v:?} is not a valid duration: {e}"))
}

/// A strictly positive duration (TTLs, lifetimes, intervals).
pub(crate) fn ttl(v: &str) -> Result<Duration, String> {
    let d = duration(v)?;
    if d.is_zero() {
        return Err(format!("{v:?} is not allowed: must be greater than zero"));
    }
    Ok(d)
}

/// A whole, positive number of minutes.
pub(crate) fn minutes(v: &str) -> Result<Duration, String> {
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a whole number of minutes"))?;
    if n == 0 {
        return Err("must be at least 1 minute".to_string());
    }
    let secs = n.saturating_mul(60);
    if secs > crate::duration::MAX_SECS {
        return Err(format!(
            "{v:?} is too long (at most {} minutes)",
            crate::duration::MAX_SECS / 60
        ));
    }
    Ok(Duration::from_secs(secs))
}

pub(crate) fn port(v: &str) -> Result<u16, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a port number (0-65535)"))
}

pub(crate) fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{v:?} is not a boolean (use true, false, 1 or 0)")),
    }
}

pub(crate) fn max_connections(v: &str) -> Result<u32, String> {
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a number between 1 and 1000")),
    }
}

pub(crate) fn node_id(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a non-negative integer"))
}

pub(crate) fn socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.trim().parse().map_err(|_| {
        format!("{v:?} is not an IP:port socket address (e.g. 0.0.0.0:7001 or [::]:7001)")
    })
}

/// A single-token string (host names, usernames): non-empty, no whitespace
/// or control characters.
pub(crate) fn token(v: &str, what: &str) -> Result<String, String> {
    let t = v.trim();
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{v:?} is not a valid {what}: must not contain spaces"
        ));
    }
    Ok(t.to_string())
}

pub(crate) fn server_host(v: &str) -> Result<String, String> {
    let host = token(v, "host")?;
    if host.contains('/') {
        return Err(format!(
            "{v:?} is not a host: give an address such as 0.0.0.0, not a URL"
        ));
    }
    Ok(host)
}

pub(crate) fn username(v: &str) -> Result<String, String> {
    let name = token(v, "username")?;
    if name.chars().count() > 64 {
        return Err(format!("{v:?} is too long (at most 64 characters)"));
    }
    Ok(name)
}

/// The issuer: an absolute http(s) URL without query or fragment.
pub(crate) fn issuer(v: &str) -> Result<Url, String> {
    let url = Url::parse(v.trim()).map_err(|e| format!("{v:?} is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{v:?} must be an http:// or https:// URL"));
    }
    if url.host().is_none() {
        return Err(format!("{v:?} must include a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".to_string());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{v:?} must not have a query (?) or fragment (#)"));
    }
    Ok(url)
}

/// The scheme of a URL-like string, lower-cased, without its colon.
fn scheme_of(v: &str) -> Option<String> {
    let (scheme, _) = v.trim().split_once(':')?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// Checks a database URL (a secret: the input is never echoed).
pub(crate) fn database_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    match scheme_of(v).as_deref() {
        Some("sqlite") => Ok(v.to_string()),
        Some("postgres" | "postgresql") => match Url::parse(v) {
            Ok(url) if url.has_host() || url.query().is_some_and(|q| q.contains("host=")) => {
                Ok(v.to_string())
            }
            Ok(_) => Err("is not a valid PostgreSQL URL: no host".to_string()),
            Err(e) => Err(format!("is not a valid PostgreSQL URL ({e})")),
        },
        Some(other) => Err(format!(
            "unsupported scheme {other:?}: must start with sqlite:, postgres: or postgresql:"
        )),
        None => Err(
            "is not a database URL: must start with sqlite:, postgres: or postgresql:".to_string(),
        ),
    }
}

/// Checks a Redis URL (a secret: the input is never echoed).
pub(crate) fn redis_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let url = Url::parse(v)
        .map_err(|e| format!("is not a valid URL ({e}); expected redis://host:port"))?;
    match url.scheme() {
        "redis" | "rediss" if url.has_host() => Ok(v.to_string()),
        "redis" | "rediss" => Err("must include a host (redis://host:port)".to_string()),
        other => Err(format!(
            "unsupported scheme {other:?}: must be redis:// or rediss://"
        )),
    }
}

/// Checks the cluster secret (never echoed).
pub(crate) fn cluster_secret(v: &str) -> Result<String, String> {
    let n = v.chars().count();
    if n < 16 {
        return Err(format!("too short ({n} characters): must be at least 16"));
    }
    Ok(v.to_string())
}

/// Comma-separated origins, each `scheme://host[:port]`, normalised to the
/// form browsers send in the `Origin` header. `*` is refused.
pub(crate) fn origins(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match origin(entry) {
            Ok(o) if !out.contains(&o) => out.push(o),
            Ok(_) => {}
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(bad.join("; "))
    }
}

fn origin(entry: &str) -> Result<String, String> {
    if entry == "*" || entry.contains('*') {
        return Err(format!(
            "{entry:?}: wildcards are not allowed; list each origin explicitly"
        ));
    }
    let url = Url::parse(entry)
        .map_err(|_| format!("{entry:?} is not an origin (expected scheme://host[:port])"))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.has_host()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(format!(
            "{entry:?} is not an origin (expected http(s)://host[:port] with no path)"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// Comma-separated IP addresses.
pub(crate) fn ip_list(v: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => bad.push(format!("{entry:?} is not an IP address")),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(bad.join("; "))
    }
}

const BASE64_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a 32-byte key given as 64 hex digits, base64 or base64url
/// (padding optional). The input is never echoed.
pub(crate) fn key_bytes(v: &str) -> Result<[u8; 32], String> {
    const EXPECTED: &str =
        "must be exactly 32 bytes encoded as base64, base64url or 64 hex characters";
    let text = v.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex(text)
    } else {
        BASE64_STD
            .decode(text)
            .or_else(|_| BASE64_URL.decode(text))
            .ok()
    };
    match bytes {
        None => Err(format!("is not valid base64, base64url or hex; {EXPECTED}")),
        Some(bytes) => {
            let n = bytes.len();
            <[u8; 32]>::try_from(bytes).map_err(|_| format!("decodes to {n} bytes; {EXPECTED}"))
        }
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}
