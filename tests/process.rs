//! The real binary as a child process: the CLI, the embedded default, SIGTERM and SIGKILL, and what
//! reaches the disk and the logs.

use crate::common::{base_env, free_listener};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

pub fn tessera(env: &BTreeMap<String, String>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).envs(env).args(args);
    cmd
}

/// Spawns `tessera serve` with stderr captured to `dir/server.log`.
pub fn spawn_server(env: &BTreeMap<String, String>, dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
    tessera(env, &["serve"]).stdout(Stdio::null()).stderr(log).spawn().expect("spawn tessera")
}

pub fn wait_ready(port: u16) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                return start.elapsed();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server on port {port} not ready in 30 s");
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {sig} failed");
}

pub fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(start.elapsed() < within, "process did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free port and the base environment of a node on it, in `dir`.
async fn env_on_free_port(dir: &Path) -> (u16, BTreeMap<String, String>) {
    let (l, port) = free_listener();
    drop(l);
    (port, base_env(dir, port).await)
}

fn keys_json(env: &BTreeMap<String, String>) -> serde_json::Value {
    let out = tessera(env, &["keys", "list", "--json"]).output().unwrap();
    assert!(out.status.success(), "keys list failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[actix_web::test]
async fn config_check_prints_redacted_and_fails_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(dir.path(), 1).await;
    env.insert("DATABASE_URL".into(), "postgres://tessera:hunter2secret@db:5432/tessera".into());
    let out = tessera(&env, &["config", "check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SERVER_PORT"), "{text}");
    assert!(!text.contains("hunter2secret"), "password leaked: {text}");
    assert!(!text.contains("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), "KEK leaked: {text}");
    env.insert("ACCESS_TOKEN_TTL".into(), "soon".into());
    env.insert("JWT_ALGORITHM".into(), "HS256".into());
    let out = tessera(&env, &["config", "check"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("ACCESS_TOKEN_TTL") && err.contains("JWT_ALGORITHM"), "{err}");
}

#[actix_web::test]
async fn migrate_cli_goes_up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(dir.path(), 1).await;
    for (args, expect) in [
        (&["migrate", "up"][..], "applied"),
        (&["migrate", "status"][..], "applied"),
        (&["migrate", "down"][..], "rolled back"),
        (&["migrate", "status"][..], "pending"),
        (&["migrate", "up"][..], "applied"),
    ] {
        let out = tessera(&env, args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(expect), "{args:?}: {text}");
    }
    let status = String::from_utf8_lossy(&tessera(&env, &["migrate", "status"]).output().unwrap().stdout).to_string();
    assert!(!status.contains("pending"), "{status}");
}

#[actix_web::test]
async fn keys_cli_rotates_against_a_running_server_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (port, env) = env_on_free_port(dir.path()).await;
    // Offline: no server holds the data directory.
    let first = tessera(&env, &["keys", "rotate"]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let offline_kids = keys_json(&env);
    assert_eq!(offline_kids.as_array().unwrap().len(), 4, "two initial keys and two published: {offline_kids}");
    // Online: through the control socket of the running server.
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    let out = tessera(&env, &["keys", "rotate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let new_kid = text.lines().next().unwrap().trim_start_matches("published ").to_string();
    let jwks: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == new_kid.as_str()), "{new_kid} not in {jwks}");
    let table = String::from_utf8_lossy(&tessera(&env, &["keys", "list"]).output().unwrap().stdout).to_string();
    assert!(table.contains(&new_kid) && table.contains("published") && table.contains("active"), "{table}");
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

#[actix_web::test]
async fn sigkill_and_restart_keeps_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (port, env) = env_on_free_port(dir.path()).await;
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    let jwks = || async { reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json")).await.unwrap().text().await.unwrap() };
    let before = jwks().await;
    signal(&child, "-KILL");
    wait_exit(&mut child, Duration::from_secs(10));
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    assert_eq!(jwks().await, before, "same keys after SIGKILL and restart");
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (port, env) = env_on_free_port(dir.path()).await;
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    // Three requests in flight: head sent, body only half sent when the signal arrives.
    let body = b"grant_type=client_credentials&client_id=nobody&client_secret=nothing";
    let mut streams: Vec<_> = (0..3)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let head = format!(
                "POST /api/v2/oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body[..10]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut streams {
        s.write_all(&body[10..]).unwrap();
    }
    for s in &mut streams {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        // The request completes with a protocol answer (the client is unknown), not a dropped connection.
        assert!(buf.starts_with("HTTP/1.1 401") && buf.contains("invalid_client"), "in-flight request answered: {buf:?}");
    }
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    // New connections are refused once it has stopped.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[actix_web::test]
async fn embedded_default_starts_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_ready(3001);
    eprintln!("embedded default ready in {:?}", start.elapsed());
    let data = dir.path().join("data");
    assert!(data.join("tessera.db").exists());
    assert!(data.join("raft").is_dir());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(data.join("kek")).unwrap().permissions().mode() & 0o777, 0o600);
    let disco = reqwest::get("http://127.0.0.1:3001/health").await.unwrap();
    assert_eq!(disco.status(), 200);
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let logs = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(logs.contains("Production must supply its own"), "loud KEK warning: {logs}");
}

#[actix_web::test]
async fn sigkill_and_restart_keeps_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let (port, env) = env_on_free_port(dir.path()).await;
    let out = tessera(&env, &["client", "create", "--name", "worker", "--grant-type", "client_credentials", "--scope", "api", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (created["client_id"].as_str().unwrap().to_string(), created["client_secret"].as_str().unwrap().to_string());
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let tok: serde_json::Value = http
        .post(format!("{base}/api/v2/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = tok["access_token"].as_str().expect("access token").to_string();
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = at.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let jti = claims["jti"].as_str().unwrap().to_string();
    let revoked = http.post(format!("{base}/api/v2/oauth/revoke")).basic_auth(&id, Some(&secret)).form(&[("token", at.as_str())]).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    signal(&child, "-KILL");
    wait_exit(&mut child, Duration::from_secs(10));

    // The revocation survived in the raft store itself (not only in the database).
    let node_id: u64 = std::fs::read_to_string(dir.path().join("node_id")).unwrap().trim().parse().unwrap();
    let cluster = tessera_cluster::Cluster::start(tessera_cluster::ClusterConfig { node_id, data_dir: dir.path().join("raft"), ..Default::default() }).await.unwrap();
    assert!(cluster.is_revoked(&jti), "revocation lost after SIGKILL");
    cluster.shutdown().await.unwrap();

    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    let v: serde_json::Value = http
        .post(format!("{base}/api/v2/oauth/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}
