//! Authorization request parameters as they arrived (query string or form body), and the local
//! `return_to` path that carries a pending request through the login and consent pages.
//!
//! The pending request is never stored server-side: it travels as the authorize URL's own query
//! string, and every step (authorize, consent page, consent POST) validates it again from scratch.

use crate::oauth::routes::AUTHORIZE;
use std::collections::BTreeMap;

/// The raw parameters: first value of each name, plus the names that were repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// In arrival order, without repeats.
    pairs: Vec<(String, String)>,
    repeated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(encoded: &str) -> Params {
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        let mut p = Params::default();
        for (k, v) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if seen.insert(k.to_string(), ()).is_some() {
                if !p.repeated.iter().any(|r| r == &k) {
                    p.repeated.push(k.to_string());
                }
                continue;
            }
            p.pairs.push((k.into_owned(), v.into_owned()));
        }
        p
    }

    /// A present, non-empty value (RFC 6749 §3.1: empty parameters are treated as omitted).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    pub fn repeated(&self) -> &[String] {
        &self.repeated
    }

    /// Re-encodes the parameters (repeats dropped, so a validated request re-encodes to itself).
    pub fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// The local path that resumes this request at the authorization endpoint.
    pub fn return_to(&self) -> String {
        format!("{}?{}", AUTHORIZE.path, self.encode())
    }

    fn set(&mut self, name: &str, value: Option<String>) {
        self.pairs.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.pairs.push((name.to_string(), v));
        }
    }
}

/// True for a `return_to` this server will redirect to: a path into the authorization endpoint
/// or a console page (`crate::console::is_return_path`), nothing else (no other path, no scheme, no host, no fragment, no control characters).
pub fn is_local_return_to(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(AUTHORIZE.path) else { return crate::console::is_return_path(s) };
    (rest.is_empty() || rest.starts_with('?'))
        && s.len() <= 8 * 1024
        && !s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '#' || c == '\\')
}

/// A form's or query's `return_to` if it is local ([`is_local_return_to`]), else `""`.
pub fn local_return_to(return_to: Option<&str>) -> &str {
    return_to.filter(|r| is_local_return_to(r)).unwrap_or("")
}

/// The request to resume right after a successful login: a `prompt=login` has now been honoured
/// (and `max_age=0` with it), so they are dropped and the fresh session is not sent back to login.
pub fn resume_after_login(return_to: &str) -> Option<String> {
    if crate::console::is_return_path(return_to) {
        return Some(return_to.to_string());
    }
    if !is_local_return_to(return_to) {
        return None;
    }
    let query = return_to.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut p = Params::parse(query);
    let prompt: Vec<&str> = p.get("prompt").unwrap_or("").split(' ').filter(|v| !v.is_empty() && *v != "login").collect();
    let prompt = (!prompt.is_empty()).then(|| prompt.join(" "));
    p.set("prompt", prompt);
    if p.get("max_age") == Some("0") {
        p.set("max_age", None);
    }
    Some(p.return_to())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_recorded_and_empty_means_absent() {
        let p = Params::parse("a=1&b=&a=2&c=x%20y");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(p.is_repeated("a") && !p.is_repeated("c"));
        assert_eq!(p.encode(), "a=1&b=&c=x+y");
    }

    #[test]
    fn return_to_is_only_ever_the_authorize_endpoint() {
        assert!(is_local_return_to("/api/v2/oauth/authorize?client_id=x"));
        assert!(is_local_return_to("/api/v2/oauth/authorize"));
        for bad in [
            "https://evil.example/api/v2/oauth/authorize",
            "//evil.example/x",
            "/api/v2/oauth/authorizeX",
            "/api/v2/oauth/authorize/../../x",
            "/api/v2/oauth/authorize?x=1#frag",
            "/api/v2/oauth/authorize?x=\r\nSet-Cookie:a",
            "/login",
            "",
        ] {
            assert!(!is_local_return_to(bad), "{bad}");
        }
    }

    #[test]
    fn resuming_drops_prompt_login_once() {
        let r = resume_after_login("/api/v2/oauth/authorize?client_id=c&prompt=login+consent&max_age=0&state=s").unwrap();
        assert_eq!(r, "/api/v2/oauth/authorize?client_id=c&state=s&prompt=consent");
        let r = resume_after_login("/api/v2/oauth/authorize?prompt=login&max_age=60").unwrap();
        assert_eq!(r, "/api/v2/oauth/authorize?max_age=60");
        assert!(resume_after_login("https://evil.example/").is_none());
    }
}
