//! The test harness: real Tessera nodes in this process (or as child processes), on loopback, backed
//! by SQLite or PostgreSQL as `TESSERA_TEST_DB` says (`sqlite` by default, `postgres` needs
//! `TESSERA_TEST_POSTGRES_URL`; every test gets its own fresh database).

#![allow(dead_code)]

pub mod browser;
pub mod flow;
pub mod tokens;
pub mod admin;
pub mod cluster;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use tessera::server::Node;
use tessera::state::AppState;
use tessera_actors::clock::{Clock, ManualClock};
use tessera_config::Settings;

pub fn db_kind() -> String {
    std::env::var("TESSERA_TEST_DB").unwrap_or_else(|_| "sqlite".into())
}

/// A database URL for a fresh, empty database of the configured kind.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    if db_kind() == "postgres" {
        let admin = std::env::var("TESSERA_TEST_POSTGRES_URL")
            .expect("TESSERA_TEST_DB=postgres needs TESSERA_TEST_POSTGRES_URL (run .ci/test-all, which starts PostgreSQL)");
        let name = format!("tessera_t_{}", uuid::Uuid::new_v4().simple());
        let conn = sea_orm::Database::connect(&admin).await.expect("connect to PostgreSQL");
        use sea_orm::ConnectionTrait;
        conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        conn.close().await.ok();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}/tessera.db?mode=rwc", dir.display())
    }
}

/// Base environment for a test node: its own data dir, database, KEK and port.
pub async fn base_env(dir: &std::path::Path, port: u16) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("DATA_DIR".into(), dir.display().to_string());
    env.insert("DATABASE_URL".into(), fresh_database_url(dir).await);
    env.insert("ISSUER".into(), format!("http://127.0.0.1:{port}"));
    env.insert("SERVER_HOST".into(), "127.0.0.1".into());
    env.insert("SERVER_PORT".into(), port.to_string());
    env.insert("KEY_ENCRYPTION_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    env.insert("RUST_LOG".into(), "warn".into());
    env
}

pub fn free_listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// A node running inside the test process.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    node: Option<Node>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a node; `tweak` may change its environment first.
    pub async fn start_with(tweak: impl FnOnce(&mut BTreeMap<String, String>)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let (listener, port) = free_listener();
        let mut env = base_env(dir.path(), port).await;
        tweak(&mut env);
        let settings = Settings::from_sources(None, &env).expect("test settings");
        let clock = Arc::new(ManualClock::default());
        let shared: Arc<dyn Clock> = clock.clone();
        let node = tessera::server::prepare(settings, shared).await.expect("prepare node");
        let server = node.serve(listener).expect("serve");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestServer { base: format!("http://127.0.0.1:{port}"), state: node.state.clone(), clock, dir, handle, node: Some(node) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node running")
    }

    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }
}

/// An HTTP client that does not follow redirects (tests look at each hop) and keeps cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}
