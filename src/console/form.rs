//! Reading `application/x-www-form-urlencoded` text — a POSTed form or a query string — the way
//! HTML forms send it: repeated names for checkboxes and multi-selects, empty strings for empty
//! fields, nothing at all for unchecked boxes.

/// The name/value pairs in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(encoded: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The first value exactly as sent.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.raw(name).map(str::trim).unwrap_or("")
    }

    /// The first value, trimmed, if not empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// Every non-empty value sent under `name` (checkbox groups), without repeats.
    pub fn all(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in self.0.iter().filter(|(k, _)| k == name) {
            let v = v.trim();
            if !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
        out
    }

    /// A checkbox: present and not explicitly off.
    pub fn checked(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|v| !matches!(v, "" | "0" | "false" | "off"))
    }

    /// A textarea with one item per line (blank lines and repeats dropped).
    pub fn lines(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in self.raw(name).unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !out.iter().any(|o| o == l) {
                out.push(l.to_string());
            }
        }
        out
    }

    /// Words separated by spaces or commas (scope lists), without repeats.
    pub fn words(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in self.raw(name).unwrap_or("").split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()) {
            if !out.iter().any(|o| o == w) {
                out.push(w.to_string());
            }
        }
        out
    }

    /// `page` from a query: a number from 1, else 1.
    pub fn page(&self) -> u64 {
        self.get("page").parse::<u64>().ok().filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1)
    }
}

/// Builds a query string from the non-empty pairs (for links that keep filters).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_like_a_browser_sends_them() {
        let f = Form::parse(b"name=+Web+App+&grant=authorization_code&grant=refresh_token&grant=authorization_code&consent=on&uris=https%3A%2F%2Fa%2Fcb%0D%0A%0D%0Ahttps%3A%2F%2Fb%2Fcb&scopes=openid+profile,email");
        assert_eq!(f.get("name"), "Web App");
        assert_eq!(f.opt("missing"), None);
        assert_eq!(f.all("grant"), ["authorization_code", "refresh_token"]);
        assert!(f.checked("consent") && !f.checked("public"));
        assert_eq!(f.lines("uris"), ["https://a/cb", "https://b/cb"]);
        assert_eq!(f.words("scopes"), ["openid", "profile", "email"]);
        assert_eq!(Form::parse(b"page=0").page(), 1);
        assert_eq!(Form::parse(b"page=3").page(), 3);
        assert_eq!(query(&[("q", "a b"), ("page", ""), ("x", "1")]), "q=a+b&x=1");
    }
}
