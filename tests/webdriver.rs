//! A tiny W3C WebDriver client over reqwest, for the console's browser tests: starts
//! `chromedriver` on a free port, opens one headless Chromium session with its own profile, and
//! offers the few commands the tests use (navigate, find by CSS, type, click, read text and
//! attributes, run scripts, screenshots). Nothing is skipped: without Chromium the test fails and
//! says which Debian packages to install.

#![allow(dead_code)]

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_*` helpers poll before failing.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Element(pub String);

pub struct Browser {
    driver: Child,
    port: u16,
    http: reqwest::Client,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

/// Where screenshots go: `<target dir>/screenshots` (never committed).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1280×900).
    pub async fn start() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the console browser tests need the Debian packages `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let profile = tempfile::tempdir().expect("profile dir");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        let mut b = Browser { driver, port, http, session: None, _profile: profile };
        let started = Instant::now();
        loop {
            if let Ok(v) = b.call(Method::GET, "/status", None).await
                && v["ready"] == json!(true)
            {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not become ready on port {port}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            "--lang=en-US",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", b._profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "unhandledPromptBehavior": "dismiss and notify",
        }}});
        let created = b.call(Method::POST, "/session", Some(caps)).await.unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        b.session = Some(created["sessionId"].as_str().expect("sessionId").to_string());
        b
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One WebDriver call; `Err` carries the WebDriver error and message.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| format!("chromedriver unreachable: {e}"))?;
        let v: Value = res.json().await.map_err(|e| format!("chromedriver answered non-JSON: {e}"))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        match value.get("error").and_then(Value::as_str) {
            Some(err) => Err(format!("{err}: {}", value["message"].as_str().unwrap_or(""))),
            None => Ok(value),
        }
    }

    async fn session_call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let id = self.session.as_deref().expect("session open");
        self.call(method, &format!("/session/{id}{path}"), body).await
    }

    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        self.session_call(method, path, body).await.unwrap_or_else(|e| panic!("WebDriver {what} failed: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd(Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// The current URL's path and query (`/admin/users?q=a`).
    pub async fn path(&self) -> String {
        let u = url::Url::parse(&self.url().await).expect("current URL");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    pub async fn refresh(&self) {
        self.cmd(Method::POST, "/refresh", Some(json!({}))).await;
    }

    pub async fn source(&self) -> String {
        self.cmd(Method::GET, "/source", None).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let v = self.session_call(Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await.ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_string()))
    }

    /// The element matching `css`, waiting for it to appear (a page may still be loading).
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if started.elapsed() > PATIENCE {
                panic!("no element {css:?} on {}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd(Method::POST, "/elements", Some(json!({ "using": "css selector", "value": css }))).await;
        v.as_array().map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_string()))).collect()).unwrap_or_default()
    }

    pub async fn click(&self, e: &Element) {
        self.cmd(Method::POST, &format!("/element/{}/click", e.0), Some(json!({}))).await;
    }

    pub async fn click_css(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    pub async fn clear(&self, e: &Element) {
        self.cmd(Method::POST, &format!("/element/{}/clear", e.0), Some(json!({}))).await;
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.cmd(Method::POST, &format!("/element/{}/value", e.0), Some(json!({ "text": text }))).await;
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.clear(&e).await;
        self.type_into(&e, text).await;
    }

    pub async fn text(&self, e: &Element) -> String {
        self.cmd(Method::GET, &format!("/element/{}/text", e.0), None).await.as_str().unwrap_or_default().to_string()
    }

    /// The text of the element matching `css`. A page that is still being replaced (after a form
    /// submission that lands on the same path) can make a found element stale: find it again.
    pub async fn text_of(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let e = self.find(css).await;
            match self.session_call(Method::GET, &format!("/element/{}/text", e.0), None).await {
                Ok(v) => return v.as_str().unwrap_or_default().to_string(),
                Err(err) if err.starts_with("stale element") && started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("WebDriver text of {css:?} failed: {err}"),
            }
        }
    }

    pub async fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.cmd(Method::GET, &format!("/element/{}/attribute/{name}", e.0), None).await.as_str().map(str::to_string)
    }

    pub async fn selected(&self, e: &Element) -> bool {
        self.cmd(Method::GET, &format!("/element/{}/selected", e.0), None).await.as_bool().unwrap_or(false)
    }

    pub async fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    /// Runs an async script: it finishes by calling `arguments[arguments.length - 1](result)`.
    pub async fn exec_async(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.session_call(Method::POST, "/execute/async", Some(json!({ "script": script, "args": args }))).await
    }

    /// A Chrome DevTools command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, String> {
        self.session_call(Method::POST, "/goog/cdp/execute", Some(json!({ "cmd": cmd, "params": params }))).await
    }

    pub async fn set_window(&self, width: u32, height: u32) {
        self.cmd(Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    /// Waits until `pred(path and query)` holds; returns that path.
    pub async fn wait_path(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let p = self.path().await;
            if pred(&p) {
                return p;
            }
            assert!(started.elapsed() < PATIENCE, "waited for {what}; still at {p}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the page to `target/screenshots/<name>.png` (the full page height).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let height = self.exec("return Math.min(Math.max(document.documentElement.scrollHeight, 600), 4000);", vec![]).await.as_u64().unwrap_or(900);
        let rect = self.cmd(Method::GET, "/window/rect", None).await;
        let width = rect["width"].as_u64().unwrap_or(1280);
        let old_height = rect["height"].as_u64().unwrap_or(900);
        self.set_window(width as u32, height as u32 + 120).await;
        let b64 = self.cmd(Method::GET, "/screenshot", None).await;
        self.set_window(width as u32, old_height as u32).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default()).expect("screenshot is base64");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        if self.session.is_some() {
            let _ = self.session_call(Method::DELETE, "", None).await;
            self.session = None;
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// A failed test still closes Chromium: a blocking DELETE of the session, then chromedriver.
    fn drop(&mut self) {
        if let Some(id) = self.session.take()
            && let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(s, "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
