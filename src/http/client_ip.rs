//! Where a request came from: the ONE place that decides the client's address (for audit records,
//! sessions and the fail2ban log lines) and reads its user agent.
//!
//! `X-Forwarded-For` is believed only when the TCP peer is listed in `TRUSTED_PROXIES`; then the
//! client is the nearest hop (read from the right) that is not itself a trusted proxy. Anything
//! else — no proxies configured, an untrusted peer, an unparsable hop — leaves the peer address.
//! A client cannot forge its address by sending the header itself.

use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::http::header;
use std::net::IpAddr;

/// Longest user agent kept (characters).
pub const MAX_USER_AGENT: usize = 512;

/// The caller's address and user agent, as audit records and sessions store them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<Origin> for (Option<String>, Option<String>) {
    fn from(o: Origin) -> Self {
        (o.ip, o.user_agent)
    }
}

/// The client address given the peer, the `X-Forwarded-For` value and the trusted proxies.
pub fn resolve(trusted: &[IpAddr], peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    for hop in forwarded_for.unwrap_or("").rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(addr) if trusted.contains(&addr) => continue,
            Ok(addr) => return Some(addr),
            Err(_) => break,
        }
    }
    Some(peer)
}

/// The client address of `req` under the configured `TRUSTED_PROXIES`.
pub fn client_ip(state: &AppState, req: &HttpRequest) -> Option<IpAddr> {
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    resolve(&state.settings.trusted_proxies, req.peer_addr().map(|a| a.ip()), forwarded)
}

/// The `User-Agent` header, cut to [`MAX_USER_AGENT`] characters.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(MAX_USER_AGENT).collect())
}

/// The client address and user agent of `req`.
pub fn origin(state: &AppState, req: &HttpRequest) -> Origin {
    Origin { ip: client_ip(state, req).map(|i| i.to_string()), user_agent: user_agent(req) }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let peer = Some(ip("198.51.100.7"));
        assert_eq!(resolve(&[], peer, Some("203.0.113.1")), peer);
        assert_eq!(resolve(&[ip("10.0.0.1")], peer, Some("203.0.113.1")), peer);
        assert_eq!(resolve(&[], None, Some("203.0.113.1")), None);
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_behind_trusted_proxies() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let peer = Some(ip("10.0.0.1"));
        // The leftmost entry was written by the client and is not believed.
        assert_eq!(resolve(&proxies, peer, Some("1.2.3.4, 203.0.113.9")), Some(ip("203.0.113.9")));
        assert_eq!(resolve(&proxies, peer, Some("203.0.113.9, 10.0.0.2")), Some(ip("203.0.113.9")));
        assert_eq!(resolve(&proxies, peer, Some(" 2001:db8::1 ")), Some(ip("2001:db8::1")));
        // Nothing usable: the peer.
        assert_eq!(resolve(&proxies, peer, None), peer);
        assert_eq!(resolve(&proxies, peer, Some("10.0.0.2")), peer);
        assert_eq!(resolve(&proxies, peer, Some("garbage, 10.0.0.2")), peer);
    }
}
