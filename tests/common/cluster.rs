//! A real cluster for the acceptance tests: `tessera serve` child processes on loopback forming one
//! raft group (the first initialises it, the others join with `CLUSTER_JOIN`), all sharing ONE
//! PostgreSQL database, one key-encryption key, one cluster secret and one Redis, with a real
//! HAProxy in front whose configuration is generated from `deploy/haproxy.cfg`.
//!
//! The database is always PostgreSQL (`TESSERA_TEST_POSTGRES_URL`), whatever `TESSERA_TEST_DB` says:
//! several server processes cannot realistically share one SQLite file (a single writer behind a
//! file lock, no network access), and a cluster whose nodes had separate databases would not be
//! the product. Redis comes from `TESSERA_TEST_REDIS_URL`; both are started by `.ci/services.sh`.
//!
//! Every child process (nodes and HAProxy) stays in the test's process group and is killed when
//! the [`TestCluster`] is dropped, panics included. A process-wide lock keeps two clusters from
//! running at once even under plain `cargo test` (nextest runs them one at a time by itself,
//! see `.config/nextest.toml`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;

/// The server binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");
/// How long a node may take to become ready (joiners wait for replicated keys).
pub const READY_TIMEOUT: Duration = Duration::from_secs(45);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("the cluster acceptance tests need {name}: run `bash .ci/services.sh start && source /tmp/tessera-svc/env`")
    })
}

/// A fresh, empty PostgreSQL database; its URL.
pub async fn fresh_postgres_url() -> String {
    let admin = required_env("TESSERA_TEST_POSTGRES_URL");
    let name = format!("tessera_c_{}", uuid::Uuid::new_v4().simple());
    let conn = sea_orm::Database::connect(&admin).await.expect("connect to PostgreSQL");
    use sea_orm::ConnectionTrait;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    conn.close().await.ok();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
    format!("{base}/{name}")
}

/// `n` distinct free loopback ports, held together while they are picked.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    held.iter().map(|l| l.local_addr().expect("addr").port()).collect()
}

fn random_b64(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::STANDARD.encode(v)
}

/// The `tessera` binary with exactly `env` (plus PATH).
pub fn tessera_cmd(env: &BTreeMap<String, String>, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).envs(env).args(args).kill_on_drop(true);
    cmd
}

/// One `tessera serve` process (or its slot while stopped).
pub struct ClusterNode {
    /// `n1`, `n2`, …: also the HAProxy server name.
    pub name: String,
    /// NODE_ID.
    pub id: u64,
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub port: u16,
    pub cluster_port: u16,
    pub metrics_port: u16,
    child: Option<Child>,
}

impl ClusterNode {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.metrics_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Spawns the process (stderr appended to `server.log`); does not wait for readiness.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        std::fs::create_dir_all(&self.dir).expect("node dir");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).expect("server.log");
        let out = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("stdout.log")).expect("stdout.log");
        let child = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("spawn tessera");
        self.child = Some(child);
    }

    /// Sends `sig` (`-KILL`, `-TERM`) and waits (≤ 30 s) for the process to exit.
    pub fn signal_and_wait(&mut self, sig: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap_or_else(|| panic!("{} is not running", self.name));
        let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "kill {sig} {} failed", self.name);
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within 30 s of {sig}", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls `GET /ready` until 200; returns how long it took.
    pub async fn wait_ready(&mut self) -> Duration {
        let start = Instant::now();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        while start.elapsed() < READY_TIMEOUT {
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited while starting ({st}):\n{}", self.name, self.log_tail());
            }
            if let Ok(r) = http.get(self.url("/ready")).send().await
                && r.status() == 200
            {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} not ready within {READY_TIMEOUT:?}:\n{}", self.name, self.log_tail());
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs a `tessera` CLI command against this node's configuration.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        tessera_cmd(&self.env, args).output().await.expect("run tessera")
    }

    /// `tessera cluster status --json` through this node's cluster listener.
    pub async fn status(&self) -> Option<serde_json::Value> {
        let out = tokio::time::timeout(Duration::from_secs(10), self.cli(&["cluster", "status", "--json"])).await.ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One server line of HAProxy's `show stat`.
#[derive(Debug, Clone)]
pub struct BackendServer {
    pub name: String,
    /// `UP`, `DOWN`, `UP 1/2`, `DOWN 1/2`, `no check`, …
    pub status: String,
    pub check_status: String,
}

/// The cluster and its load balancer.
pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    /// The environment every node shares (database, KEK, secret, Redis, issuer, overrides).
    pub shared: BTreeMap<String, String>,
    pub nodes: Vec<ClusterNode>,
    pub lb_port: u16,
    /// Holds the load balancer's port until HAProxy starts, so nothing else takes it meanwhile.
    lb_hold: Option<std::net::TcpListener>,
    haproxy: Option<Child>,
    _serial: MutexGuard<'static, ()>,
}

impl TestCluster {
    /// Starts `n` nodes (the first initialises the raft group, the others join it), waits until
    /// each is ready, then starts HAProxy over all of them and waits until its health checks pass.
    /// `tweak` may add or change shared settings (e.g. `KEY_ROTATION_INTERVAL`).
    // The serial guard is held on purpose for the cluster's whole life (each test has its own
    // thread and runtime; another cluster test waits for this one to finish).
    #[allow(clippy::await_holding_lock)]
    pub async fn start(n: usize, tweak: impl FnOnce(&mut BTreeMap<String, String>)) -> TestCluster {
        let guard = serial();
        let out = Command::new("haproxy").arg("-v").output();
        assert!(out.is_ok_and(|o| o.status.success()), "haproxy is not installed (apt-get install -y haproxy, or .ci/services.sh start)");
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = fresh_postgres_url().await;
        let lb_hold = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let lb_port = lb_hold.local_addr().expect("addr").port();
        let mut shared = BTreeMap::new();
        for (k, v) in [
            ("DATABASE_URL", db_url.clone()),
            ("ISSUER", format!("http://127.0.0.1:{lb_port}")),
            ("SERVER_HOST", "127.0.0.1".into()),
            ("KEY_ENCRYPTION_KEY", random_b64(32)),
            ("CLUSTER_SECRET", random_b64(24)),
            ("REDIS_URL", required_env("TESSERA_TEST_REDIS_URL")),
            ("TRUSTED_PROXIES", "127.0.0.1".into()),
            ("RUST_LOG", "warn".into()),
        ] {
            shared.insert(k.to_string(), v);
        }
        tweak(&mut shared);
        let mut cluster = TestCluster { dir, db_url, shared, nodes: Vec::new(), lb_port, lb_hold: Some(lb_hold), haproxy: None, _serial: guard };
        let first = cluster.add_node(None);
        let took = cluster.nodes[first].wait_ready().await;
        eprintln!("[cluster] n1 ready in {took:?}");
        let joiners: Vec<usize> = (1..n).map(|_| cluster.add_node(Some(first))).collect();
        for i in joiners {
            let took = cluster.nodes[i].wait_ready().await;
            eprintln!("[cluster] {} joined and ready in {took:?}", cluster.nodes[i].name);
        }
        cluster.start_haproxy().await;
        cluster
    }

    /// Adds a node slot and spawns it (joining through node `join` when given); returns its index.
    pub fn add_node(&mut self, join: Option<usize>) -> usize {
        let idx = self.nodes.len();
        let ports = free_ports(3);
        let name = format!("n{}", idx + 1);
        let dir = self.dir.path().join(&name);
        let mut env = self.shared.clone();
        env.insert("DATA_DIR".into(), dir.display().to_string());
        env.insert("NODE_ID".into(), (idx + 1).to_string());
        env.insert("SERVER_PORT".into(), ports[0].to_string());
        env.insert("CLUSTER_BIND".into(), format!("127.0.0.1:{}", ports[1]));
        env.insert("METRICS_PORT".into(), ports[2].to_string());
        if let Some(j) = join {
            env.insert("CLUSTER_JOIN".into(), format!("127.0.0.1:{}", self.nodes[j].cluster_port));
        }
        let mut node = ClusterNode { name, id: idx as u64 + 1, dir, env, port: ports[0], cluster_port: ports[1], metrics_port: ports[2], child: None };
        node.spawn();
        self.nodes.push(node);
        idx
    }

    /// A URL through HAProxy.
    pub fn lb(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.lb_port)
    }

    pub fn issuer(&self) -> String {
        self.lb("")
    }

    /// The node index for a raft node id.
    pub fn index_of(&self, id: u64) -> usize {
        self.nodes.iter().position(|n| n.id == id).unwrap_or_else(|| panic!("no node with id {id}"))
    }

    /// The leader's index as the first running node that answers `cluster status` sees it.
    pub async fn leader(&self) -> Option<usize> {
        for n in self.nodes.iter().filter(|n| n.is_running()) {
            if let Some(s) = n.status().await {
                return s["leader"].as_u64().map(|id| self.index_of(id));
            }
        }
        None
    }

    /// Runs a CLI command with the shared settings and a scratch data directory (for commands
    /// that only touch the database: `client create`, `user create`).
    pub async fn tool(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut env = self.shared.clone();
        env.insert("DATA_DIR".into(), self.dir.path().join("tool").display().to_string());
        let mut cmd = tessera_cmd(&env, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tessera tool");
        if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            w.write_all(text.as_bytes()).await.expect("write stdin");
        }
        let out = child.wait_with_output().await.expect("tessera tool");
        assert!(out.status.success(), "tessera {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn haproxy_dir(&self) -> PathBuf {
        self.dir.path().join("haproxy")
    }

    /// `deploy/haproxy.cfg` turned into a local configuration: bound to the test port, logging to
    /// stderr, a private pidfile and stats socket, and one `server` line per node instead of the
    /// Docker DNS template. Balancing, health checks and forwarding stay exactly as deployed.
    pub fn haproxy_config(&self) -> String {
        let deploy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg")).expect("deploy/haproxy.cfg");
        for needle in ["balance roundrobin", "option httpchk GET /ready", "option forwardfor", "X-Forwarded-Proto", "pidfile", "option http-server-close"] {
            assert!(deploy.contains(needle), "deploy/haproxy.cfg no longer has `{needle}`");
        }
        let hd = self.haproxy_dir();
        let mut out = String::new();
        let mut in_resolvers = false;
        for line in deploy.lines() {
            let t = line.trim();
            if t.starts_with('#') && (t.contains("Docker's embedded DNS") || t.contains("replace the server-template")) {
                continue;
            }
            if t.starts_with("resolvers ") {
                in_resolvers = true;
                continue;
            }
            if in_resolvers {
                if t.is_empty() {
                    in_resolvers = false;
                }
                continue;
            }
            if t.starts_with("pidfile ") {
                out.push_str(&format!("    pidfile {}\n    stats socket {} mode 600 level admin\n", hd.join("haproxy.pid").display(), hd.join("stats.sock").display()));
            } else if t.starts_with("log stdout") {
                out.push_str("    log stderr format raw local0\n");
            } else if t.starts_with("bind :") {
                out.push_str(&format!("    bind 127.0.0.1:{}\n", self.lb_port));
            } else if t.starts_with("default-server ") {
                let kept: Vec<&str> = t.split_whitespace().take_while(|w| *w != "resolvers").collect();
                out.push_str(&format!("    {}\n", kept.join(" ")));
            } else if t.starts_with("server ") || t.starts_with("server-template ") {
                continue;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        for n in &self.nodes {
            out.push_str(&format!("    server {} 127.0.0.1:{} check\n", n.name, n.port));
        }
        out
    }

    async fn start_haproxy(&mut self) {
        let hd = self.haproxy_dir();
        std::fs::create_dir_all(&hd).expect("haproxy dir");
        let cfg = hd.join("haproxy.cfg");
        std::fs::write(&cfg, self.haproxy_config()).expect("write haproxy.cfg");
        let check = Command::new("haproxy").arg("-c").arg("-f").arg(&cfg).output().expect("haproxy -c");
        assert!(check.status.success(), "haproxy -c: {}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
        let log = std::fs::File::create(hd.join("haproxy.log")).expect("haproxy.log");
        drop(self.lb_hold.take());
        // Master-worker (-W, which writes the pidfile) in the foreground (-db): both processes
        // stay in our process group, so the guard (or nextest) can always stop them.
        let child = Command::new("haproxy").arg("-W").arg("-db").arg("-f").arg(&cfg).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("spawn haproxy");
        let pid = child.id();
        self.haproxy = Some(child);
        let start = Instant::now();
        let names: Vec<String> = self.nodes.iter().filter(|n| n.is_running()).map(|n| n.name.clone()).collect();
        loop {
            if let Some(st) = self.haproxy.as_mut().and_then(|h| h.try_wait().ok().flatten()) {
                panic!("haproxy exited ({st}):\n{}", read(&hd, "haproxy.log"));
            }
            let servers = self.backend();
            if names.iter().all(|name| servers.iter().any(|s| &s.name == name && s.status == "UP" && s.check_status == "L7OK")) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "haproxy health checks not all passing after 20 s: {servers:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pidfile = std::fs::read_to_string(hd.join("haproxy.pid")).unwrap_or_default();
        assert_eq!(pidfile.trim(), pid.to_string(), "haproxy wrote its pidfile");
        eprintln!("[cluster] haproxy on :{} with every health check passing after {:?}", self.lb_port, start.elapsed());
    }

    /// HAProxy's view of the backend (`show stat` on its stats socket).
    pub fn backend(&self) -> Vec<BackendServer> {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.haproxy_dir().join("stats.sock")) else { return Vec::new() };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"show stat\n").is_err() {
            return Vec::new();
        }
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().trim_start_matches("# ").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv), Some(st), Some(ck)) = (col("pxname"), col("svname"), col("status"), col("check_status")) else { return Vec::new() };
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > ck && f[px] == "tessera" && f[sv] != "BACKEND" && f[sv] != "FRONTEND")
            .map(|f| BackendServer { name: f[sv].to_string(), status: f[st].to_string(), check_status: f[ck].to_string() })
            .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(mut h) = self.haproxy.take() {
            // SIGTERM: the master stops its worker and exits at once.
            let _ = Command::new("kill").args(["-TERM", &h.id().to_string()]).status();
            let start = Instant::now();
            while h.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = h.kill();
            let _ = h.wait();
        }
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::env::var_os("TESSERA_KEEP_CLUSTER").is_some() {
            eprintln!("[cluster] database kept: {}", self.db_url);
        } else {
            drop_database(&self.db_url);
        }
        if std::thread::panicking() || std::env::var_os("TESSERA_KEEP_CLUSTER").is_some() {
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir")).keep();
            eprintln!("[cluster] logs kept in {}", kept.display());
        }
    }
}

/// Drops the cluster's database (its nodes are gone), on a thread of its own: `Drop` may run
/// inside the test's runtime. Best effort, bounded to 10 s.
fn drop_database(url: &str) {
    let (Ok(admin), Some((_, name))) = (std::env::var("TESSERA_TEST_POSTGRES_URL"), url.rsplit_once('/')) else { return };
    let name = name.to_string();
    let job = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async {
            use sea_orm::ConnectionTrait;
            let drop = async {
                let conn = sea_orm::Database::connect(&admin).await.ok()?;
                let res = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                conn.close().await.ok();
                res.ok()
            };
            if tokio::time::timeout(Duration::from_secs(10), drop).await.ok().flatten().is_none() {
                eprintln!("[cluster] could not drop database {name}");
            }
        });
    });
    let _ = job.join();
}

/// Reads `path` relative to a node's directory (e.g. `server.log`).
pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}
