//! A minimal headless "browser" for the server-rendered pages: follows redirects by hand, keeps
//! cookies, and submits the real HTML forms (every hidden input is sent back as rendered).

use reqwest::Client;
use std::collections::BTreeMap;

/// One parsed `<form>`: its action and the hidden inputs it carries.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: BTreeMap<String, String>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(html_unescape(&tag[start..end]))
}

pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every form in `html`, in order.
pub fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let after = &rest[i..];
        let end = after.find("</form>").unwrap_or(after.len());
        let body = &after[..end];
        let open_end = body.find('>').unwrap_or(body.len());
        let action = attr(&body[..open_end], "action").unwrap_or_default();
        let mut fields = BTreeMap::new();
        let mut inputs = body;
        while let Some(j) = inputs.find("<input") {
            let t = &inputs[j..];
            let close = t.find('>').unwrap_or(t.len());
            let tag = &t[..close];
            if attr(tag, "type").as_deref() == Some("hidden")
                && let Some(n) = attr(tag, "name")
            {
                fields.insert(n, attr(tag, "value").unwrap_or_default());
            }
            inputs = &t[close..];
        }
        out.push(Form { action, fields });
        rest = &after[end..];
    }
    out
}

/// Resolves a Location or form action against the page URL.
pub fn resolve(base: &str, target: &str) -> String {
    url::Url::parse(base).and_then(|b| b.join(target)).map(|u| u.to_string()).unwrap_or_else(|_| target.to_string())
}

/// Follows redirects until a page (non-3xx) or a URL outside `server_base` (the client's redirect URI).
/// Returns (final URL, status, body).
pub async fn follow(client: &Client, server_base: &str, mut url: String, mut resp: reqwest::Response) -> (String, u16, String) {
    for _ in 0..10 {
        if !resp.status().is_redirection() {
            break;
        }
        let loc = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        url = resolve(&url, &loc);
        if !url.starts_with(server_base) {
            return (url, resp.status().as_u16(), String::new());
        }
        resp = client.get(&url).send().await.expect("follow redirect");
    }
    let status = resp.status().as_u16();
    (url, status, resp.text().await.unwrap_or_default())
}

/// Submits the first form of `html` with `extra` fields added.
pub async fn submit(client: &Client, page_url: &str, html: &str, extra: &[(&str, &str)]) -> (String, reqwest::Response) {
    let form = forms(html).into_iter().next().unwrap_or_else(|| panic!("no form on page:\n{html}"));
    let mut fields = form.fields.clone();
    for (k, v) in extra {
        fields.insert(k.to_string(), v.to_string());
    }
    let action = if form.action.is_empty() { page_url.to_string() } else { resolve(page_url, &form.action) };
    let resp = client.post(&action).form(&fields).send().await.expect("submit form");
    (action, resp)
}

/// Logs in (if asked) and approves consent (if asked), starting at an authorization URL; returns the
/// redirect back to the client (the URL carrying `code` or `error`).
pub async fn authorize_through_pages(client: &Client, server_base: &str, authorize_url: &str, username: &str, password: &str) -> String {
    let resp = client.get(authorize_url).send().await.expect("authorize");
    let (mut url, mut status, mut body) = follow(client, server_base, authorize_url.to_string(), resp).await;
    for _ in 0..4 {
        if !url.starts_with(server_base) {
            return url;
        }
        assert_eq!(status, 200, "unexpected page at {url}:\n{body}");
        let extra: Vec<(&str, &str)> = if body.contains("name=\"password\"") {
            vec![("username", username), ("password", password)]
        } else if body.contains("data-action=\"approve\"") {
            vec![("decision", "approve")]
        } else {
            panic!("neither login nor consent page at {url}:\n{body}");
        };
        let (action, resp) = submit(client, &url, &body, &extra).await;
        (url, status, body) = follow(client, server_base, action, resp).await;
    }
    panic!("authorization did not finish: at {url}");
}
