//! Start-up and shutdown: data directory, database and migrations, cluster, keys, actors, HTTP.
//!
//! `prepare` does everything but listening, so tests can run the same program in-process;
//! `run` is what `tessera serve` does.

use crate::{datadir, db, http, state::AppState};
use actix::Actor;
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use tessera_actors::audit::Audit;
use tessera_actors::clock::SharedClock;
use tessera_actors::codes::{CodeActor, CodeSeal};
use tessera_actors::keyring::KeyRing;
use tessera_actors::keys::{KeyActor, KeyPolicy, ensure_initial_keys};
use tessera_cluster::{Cluster, ClusterConfig};
use tessera_config::Settings;

/// A prepared node: state built, not yet listening.
pub struct Node {
    pub state: AppState,
    pub cluster: Cluster,
    _lock: std::fs::File,
}

pub async fn prepare(settings: Settings, clock: SharedClock) -> anyhow::Result<Node> {
    let started = std::time::Instant::now();
    datadir::ensure(&settings.data_dir)?;
    let lock = datadir::lock(&settings.data_dir)?
        .ok_or_else(|| anyhow::anyhow!("data directory {} is in use by another process", settings.data_dir.display()))?;
    let kek = datadir::key_encryption_key(&settings)?;
    let node_id = datadir::node_id(&settings)?;

    let db = db::connect(&settings).await?;
    if settings.skip_db_init {
        tracing::info!("SKIP_DB_INIT=true: not running migrations");
    } else {
        db::migrate_up(&db).await?;
    }

    let cluster = Cluster::start(ClusterConfig {
        node_id,
        data_dir: settings.data_dir.join("raft"),
        bind: settings.cluster_bind,
        advertise: None,
        secret: settings.cluster_secret.as_ref().map(|s| s.expose().clone()),
        join: settings.cluster_join.clone(),
    })
    .await?;
    // A node joining an existing cluster receives its keys by replication: it waits until it is
    // a voting member (retrying until the peer answers) and never generates initial keys.
    let joining = cluster.is_joining();
    if joining {
        tracing::info!(peer = settings.cluster_join.as_deref().unwrap_or(""), "joining the cluster");
        cluster.wait_joined().await?;
    }
    let ring = KeyRing::new(kek, cluster.clone());
    ring.spawn_watcher();
    let mut algorithms = vec!["RS256".to_string(), "ES256".to_string()];
    let configured = settings.jwt_algorithm.as_str().to_string();
    if !algorithms.contains(&configured) {
        algorithms.push(configured);
    }
    if !joining {
        ensure_initial_keys(&ring, kek, &algorithms, clock.unix()).await?;
    }
    let policy = KeyPolicy {
        algorithms,
        jwks_max_age: settings.jwks_max_age,
        token_lifetime: settings.access_token_ttl.max(settings.id_token_ttl),
        rotation_interval: settings.key_rotation_interval,
    };
    let keys = KeyActor::new(Arc::clone(&ring), kek, Arc::clone(&clock), policy).start();

    let pepper = crate::clients::derive_pepper(&kek);

    let writes = db::writer(&settings, &db).await?;
    let code_seal = Arc::new(CodeSeal::new(&kek, settings.authorization_code_ttl));
    let codes = CodeActor::new(writes.clone(), Arc::clone(&clock), Arc::clone(&code_seal)).start();
    let audit = Audit::start(writes.clone());
    let (sessions, session_cache) = crate::pages::session::start(&settings, writes.clone(), Arc::clone(&clock))?;
    let issuer: Arc<str> = settings.issuer_str().into();
    let permissions = Arc::new(crate::rbac::PermissionService::new(db.clone(), Arc::clone(&clock), settings.redis_url.as_ref().map(|u| u.expose().as_str())));
    let tokens = crate::oauth::token_store::TokenWriter::start(writes);
    let state = AppState {
        settings: Arc::new(settings),
        db,
        ring,
        keys,
        codes,
        code_seal,
        refresh_seal: Arc::new(tessera_actors::crypto::Sealer::new(&kek, crate::oauth::refresh::SEAL_PURPOSE)),
        audit,
        sessions,
        session_cache,
        clock,
        node_name: format!("node-{node_id}").into(),
        issuer,
        pepper: Arc::new(pepper),
        permissions,
        clients: Arc::default(),
        users: Arc::default(),
        consents: Arc::default(),
        tokens,
    };
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, node = %state.node_name, "node prepared");
    Ok(Node { state, cluster, _lock: lock })
}

impl Node {
    /// Starts serving HTTP on `listener`. The returned server stops gracefully on SIGTERM/SIGINT:
    /// it stops accepting, lets in-flight requests finish, then resolves.
    pub fn serve(&self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let state = self.state.clone();
        let server = HttpServer::new(move || App::new().app_data(web::Data::new(state.clone())).configure(http::configure))
            .workers(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
            .shutdown_timeout(30)
            .listen(listener)?
            .run();
        Ok(server)
    }

    /// The Prometheus listener (`METRICS_PORT`): `/metrics` only, apart from the public API.
    pub fn serve_metrics(&self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let state = self.state.clone();
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(state.clone())).route(
                "/metrics",
                web::get().to(|s: web::Data<AppState>| async move {
                    actix_web::HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::metrics::render(&s))
                }),
            )
        })
        .workers(1)
        .listen(listener)?
        .run();
        Ok(server)
    }

    /// Flushes actors and stops the cluster.
    pub async fn shutdown(self) {
        match self.state.audit.flush().await {
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, "audit flush at shutdown failed"),
        }
        if let Err(e) = self.cluster.shutdown().await {
            tracing::warn!(error = %e, "cluster shutdown");
        }
    }
}

/// `tessera serve`.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let addr = settings.bind_addr();
    let node = prepare(settings, Arc::new(tessera_actors::clock::SystemClock)).await?;
    crate::users::cli::bootstrap(&node.state).await?;
    let listener = TcpListener::bind(&addr).map_err(|e| anyhow::anyhow!("cannot bind {addr}: {e}"))?;
    let control = crate::control::spawn(&node)?;
    let server = node.serve(listener)?;
    let metrics = match node.state.settings.metrics_port {
        Some(port) => {
            let addr = format!("{}:{port}", node.state.settings.server_host);
            let l = TcpListener::bind(&addr).map_err(|e| anyhow::anyhow!("cannot bind metrics listener {addr}: {e}"))?;
            Some(node.serve_metrics(l)?)
        }
        None => None,
    };
    if let Some(m) = metrics {
        actix_web::rt::spawn(m);
    }
    tracing::info!(addr = %addr, issuer = %node.state.issuer, ready_ms = started.elapsed().as_millis() as u64, "tessera ready");
    server.await?;
    control.abort();
    tracing::info!("HTTP server stopped; flushing");
    node.shutdown().await;
    tracing::info!("shutdown complete");
    Ok(())
}
