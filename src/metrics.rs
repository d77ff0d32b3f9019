//! Prometheus metrics with no dependency and almost no hot-path cost: fixed counters are atomics,
//! labelled series sit in small maps keyed by static strings, and everything else (raft, keys,
//! database pool) is read when `/metrics` is scraped. Served on `METRICS_PORT`.

use crate::state::AppState;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_cluster::KeyState;

/// A monotonically increasing counter.
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

/// A histogram with fixed buckets (upper bounds in the metric's unit).
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; 16],
    count: AtomicU64,
    /// Sum in millionths of the unit, to stay an integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub const fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, buckets: [const { AtomicU64::new(0) }; 16], count: AtomicU64::new(0), sum_micros: AtomicU64::new(0) }
    }
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }
    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Counters keyed by label values.
pub struct LabelledCounter(Mutex<BTreeMap<(&'static str, u16), u64>>);

impl LabelledCounter {
    pub const fn new() -> Self {
        LabelledCounter(Mutex::new(BTreeMap::new()))
    }
    pub fn inc(&self, label: &'static str, code: u16) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry((label, code)).or_default() += 1;
        }
    }
    fn snapshot(&self) -> Vec<((&'static str, u16), u64)> {
        self.0.lock().map(|m| m.iter().map(|(k, v)| (*k, *v)).collect()).unwrap_or_default()
    }
}

impl Default for LabelledCounter {
    fn default() -> Self {
        Self::new()
    }
}

const LATENCY_MS: [f64; 12] = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];
const LATENCY_S: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

pub static AUTHORIZATION_REQUESTS: Counter = Counter::new();
pub static TOKENS_ISSUED: LabelledCounter = LabelledCounter::new();
pub static TOKENS_REVOKED: Counter = Counter::new();
pub static LOGIN_ATTEMPTS: Counter = Counter::new();
pub static LOGIN_FAILURES: Counter = Counter::new();
pub static CACHE_HITS: Counter = Counter::new();
pub static CACHE_MISSES: Counter = Counter::new();
pub static AUTHORIZATION_LATENCY_MS: Histogram = Histogram::new(&LATENCY_MS);
pub static HTTP_REQUESTS: LabelledCounter = LabelledCounter::new();
pub static HTTP_DURATION_S: Histogram = Histogram::new(&LATENCY_S);

/// Counts a token issued for `grant_type` (a static grant name).
pub fn token_issued(grant_type: &'static str) {
    TOKENS_ISSUED.inc(grant_type, 0);
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
}

fn gauge(out: &mut String, name: &str, help: &str, v: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

/// The Prometheus text exposition.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(4096);
    counter(&mut out, "oauth_authorization_requests_total", "Authorization requests received.", AUTHORIZATION_REQUESTS.get());
    let _ = writeln!(out, "# HELP oauth_token_issued_total Tokens issued by grant type.\n# TYPE oauth_token_issued_total counter");
    for ((grant, _), v) in TOKENS_ISSUED.snapshot() {
        let _ = writeln!(out, "oauth_token_issued_total{{grant_type=\"{grant}\"}} {v}");
    }
    counter(&mut out, "oauth_token_revoked_total", "Tokens revoked.", TOKENS_REVOKED.get());
    counter(&mut out, "oauth_login_attempts_total", "Password login attempts.", LOGIN_ATTEMPTS.get());
    counter(&mut out, "oauth_login_failures_total", "Failed password logins.", LOGIN_FAILURES.get());
    counter(&mut out, "oauth_cache_hits_total", "Cache hits.", CACHE_HITS.get());
    counter(&mut out, "oauth_cache_misses_total", "Cache misses.", CACHE_MISSES.get());
    AUTHORIZATION_LATENCY_MS.render(&mut out, "oauth_authorization_latency_ms", "Authorization endpoint latency in milliseconds.", "");
    let pool = database_connections(state);
    gauge(&mut out, "oauth_database_connections_active", "Database connections in use.", pool);
    gauge(&mut out, "oauth_database_connections_max", "Database pool size limit (DB_MAX_CONNECTIONS).", state.settings.db_max_connections);
    let _ = writeln!(out, "# HELP http_requests_total HTTP requests by route and status.\n# TYPE http_requests_total counter");
    for ((route, status), v) in HTTP_REQUESTS.snapshot() {
        let _ = writeln!(out, "http_requests_total{{route=\"{route}\",status=\"{status}\"}} {v}");
    }
    HTTP_DURATION_S.render(&mut out, "http_request_duration_seconds", "HTTP request duration in seconds.", "");
    let st = state.ring.cluster().status();
    gauge(&mut out, "tessera_raft_term", "Current raft term.", st.term);
    gauge(&mut out, "tessera_raft_leader", "Raft leader node id (0 when none).", st.leader.unwrap_or(0));
    gauge(&mut out, "tessera_raft_is_leader", "1 when this node leads.", u8::from(st.leader == Some(st.node_id)));
    gauge(&mut out, "tessera_raft_applied_index", "Last applied raft log index.", st.last_applied.unwrap_or(0));
    gauge(&mut out, "tessera_revocations", "Entries in the replicated revocation set.", state.ring.cluster().revocation_count());
    let _ = writeln!(out, "# HELP tessera_signing_keys Signing keys by algorithm and state.\n# TYPE tessera_signing_keys gauge");
    let mut keys: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for k in state.ring.cluster().keys().iter() {
        let s = match k.state {
            KeyState::Published => "published",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        };
        *keys.entry((k.alg.clone(), s)).or_default() += 1;
    }
    for ((alg, s), v) in keys {
        let _ = writeln!(out, "tessera_signing_keys{{alg=\"{alg}\",state=\"{s}\"}} {v}");
    }
    let _ = writeln!(out, "# HELP tessera_signing_key One series per key this node knows, labelled with its state.\n# TYPE tessera_signing_key gauge");
    for k in state.ring.cluster().keys().iter() {
        let s = format!("{:?}", k.state).to_lowercase();
        let _ = writeln!(out, "tessera_signing_key{{kid=\"{}\",alg=\"{}\",state=\"{s}\"}} 1", k.kid, k.alg);
    }
    out
}

fn database_connections(state: &AppState) -> u32 {
    use sea_orm::DbBackend;
    // The backend is checked first, so the pool getters cannot panic.
    match state.db.get_database_backend() {
        DbBackend::Postgres => {
            let p = state.db.get_postgres_connection_pool();
            p.size().saturating_sub(p.num_idle() as u32)
        }
        DbBackend::Sqlite => {
            let p = state.db.get_sqlite_connection_pool();
            p.size().saturating_sub(p.num_idle() as u32)
        }
        _ => 0,
    }
}
