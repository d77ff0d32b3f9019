//! The `Cluster` handle: opens the durable store, starts raft (and, with a bind address, the
//! internal listener), brings the node up — one-member group, restart, or join — proposes
//! commands (forwarded to the leader from followers), and serves cheap local reads.
//!
//! Membership operations live in `membership`, leader forwarding in `forward`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use openraft::error::{InitializeError, RaftError};
use openraft::metrics::WaitError;
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::ClusterError;
use crate::fsutil::blocking;
use crate::log_store::LogStore;
use crate::network::{HttpNetwork, NoNetwork};
use crate::peers::Peers;
use crate::state_machine::{Shared, StateMachine};
use crate::types::{Command, CommandResponse, KeyRecord, NodeId, TypeConfig};

/// How long `start` waits for leadership and a caught-up state machine.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `propose` (and `snapshot`) wait before reporting the cluster unavailable.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest election timeout: a follower that has not heard from its leader for this long
/// stands for election.
pub(crate) const ELECTION_TIMEOUT_MAX_MS: u64 = 2000;

/// Where and as whom this node runs. Without `bind` the node is a one-member group with no
/// listener (the embedded default); with `bind` it serves raft RPC and admin calls there.
#[derive(Clone, Default)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    /// The raft directory, e.g. `data/raft`.
    pub data_dir: PathBuf,
    /// `CLUSTER_BIND`: the internal listener (port 0 picks a free port).
    pub bind: Option<SocketAddr>,
    /// The `host:port` peers use to reach this node. Default: the bound address, or
    /// `<hostname>:<port>` when bound to an unspecified address (0.0.0.0 / [::]).
    pub advertise: Option<String>,
    /// `CLUSTER_SECRET`: required with `bind`.
    pub secret: Option<String>,
    /// `CLUSTER_JOIN`: a member's cluster address; a node that is not yet a member joins there.
    pub join: Option<String>,
}

/// Redacts the secret.
impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("node_id", &self.node_id)
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("advertise", &self.advertise)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("join", &self.join)
            .finish()
    }
}

/// A running raft node and the local view of its applied state. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) inner: Arc<Inner>,
}

/// Where a background join (`CLUSTER_JOIN`) stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JoinState {
    NotJoining,
    Joining,
    Joined,
    Failed(String),
}

pub(crate) struct Inner {
    pub(crate) node_id: NodeId,
    pub(crate) raft: Raft<TypeConfig>,
    pub(crate) state: Arc<Shared>,
    pub(crate) net: Option<Net>,
    pub(crate) join_state: watch::Sender<JoinState>,
    server: Mutex<Option<ServerHandle>>,
    pub(crate) join_task: Mutex<Option<JoinHandle<()>>>,
}

/// The networked half of a node started with a bind address.
pub(crate) struct Net {
    pub(crate) peers: Arc<Peers>,
    pub(crate) advertise: String,
    pub(crate) local_addr: SocketAddr,
}

fn raft_config() -> Result<Config, ClusterError> {
    Config {
        cluster_name: "tessera".into(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: ELECTION_TIMEOUT_MAX_MS,
        install_snapshot_timeout: 2000,
        snapshot_max_chunk_size: 1024 * 1024,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
        max_in_snapshot_log_to_keep: 1000,
        purge_batch_size: 256,
        ..Default::default()
    }
    .validate()
    .map_err(|e| ClusterError::Other(format!("invalid raft config: {e}")))
}

pub(crate) fn wait_error(e: WaitError, what: &str) -> ClusterError {
    ClusterError::Unavailable(format!("{what}: {e}"))
}

/// `<hostname>:<port>` for a wildcard bind (what peers in a container network resolve), else
/// the bound address itself.
fn default_advertise(local: SocketAddr) -> String {
    if !local.ip().is_unspecified() {
        return local.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(h) => format!("{h}:{}", local.port()),
        None => local.to_string(),
    }
}

impl Cluster {
    /// Opens (or creates) the durable store in `data_dir`, starts raft and, with `bind`, the
    /// internal listener. Then:
    /// - pristine, no `join`: initialises a one-member group and waits (≤ 5 s) until this node
    ///   leads and has applied its log — so reads are current;
    /// - pristine (or a learner) with `join`: returns at once and joins in the background,
    ///   retrying until the peer answers (see [`Cluster::is_joining`], [`Cluster::wait_joined`]);
    /// - already a member: restarts; a lone voter re-elects itself (strict 5 s wait), a member
    ///   of a larger group waits up to 5 s for a leader and continues without one (reads keep
    ///   working, writes report `Unavailable` until a quorum forms).
    pub async fn start(cfg: ClusterConfig) -> Result<Cluster, ClusterError> {
        let dir = cfg.data_dir.clone();
        let (log_store, sm) =
            blocking(move || Ok((LogStore::open(&dir)?, StateMachine::open(&dir)?))).await?;
        let state = sm.shared();
        let config = Arc::new(raft_config()?);
        let (raft, net, listener) = match cfg.bind {
            None => {
                let raft = Raft::new(cfg.node_id, config, NoNetwork, log_store, sm).await?;
                (raft, None, None)
            }
            Some(bind) => {
                let secret = cfg
                    .secret
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        ClusterError::Other("CLUSTER_SECRET is required with CLUSTER_BIND".into())
                    })?;
                let listener = std::net::TcpListener::bind(bind).map_err(|e| {
                    ClusterError::Other(format!("cannot bind the cluster listener {bind}: {e}"))
                })?;
                let local_addr = listener.local_addr()?;
                let advertise = cfg
                    .advertise
                    .clone()
                    .unwrap_or_else(|| default_advertise(local_addr));
                let peers = Arc::new(Peers::new(secret));
                let network = HttpNetwork::new(peers.clone());
                let raft = Raft::new(cfg.node_id, config, network, log_store, sm).await?;
                let net = Net {
                    peers,
                    advertise,
                    local_addr,
                };
                (raft, Some(net), Some(listener))
            }
        };
        let cluster = Cluster {
            inner: Arc::new(Inner {
                node_id: cfg.node_id,
                raft,
                state,
                net,
                join_state: watch::Sender::new(JoinState::NotJoining),
                server: Mutex::new(None),
                join_task: Mutex::new(None),
            }),
        };
        if let Some(listener) = listener {
            match crate::listener::serve(cluster.clone(), listener) {
                Ok(handle) => *cluster.lock_server() = Some(handle),
                Err(e) => {
                    let _ = cluster.shutdown().await;
                    return Err(ClusterError::Other(format!("cluster listener: {e}")));
                }
            }
        }
        if let Err(e) = cluster.bring_up(cfg.join.as_deref()).await {
            let _ = cluster.shutdown().await;
            return Err(e);
        }
        tracing::info!(
            node_id = cfg.node_id,
            dir = %cfg.data_dir.display(),
            listener = ?cluster.local_addr(),
            advertise = cluster.advertise(),
            "raft node ready"
        );
        Ok(cluster)
    }

    fn lock_server(&self) -> std::sync::MutexGuard<'_, Option<ServerHandle>> {
        self.inner.server.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides between initialise, restart and join (see [`Cluster::start`]).
    async fn bring_up(&self, join: Option<&str>) -> Result<(), ClusterError> {
        let raft = &self.inner.raft;
        let id = self.inner.node_id;
        let (voters, nodes) = raft
            .with_raft_state(|st| {
                let m = st.membership_state.effective().membership();
                (
                    m.voter_ids().collect::<Vec<_>>(),
                    m.nodes().map(|(id, _)| *id).collect::<Vec<_>>(),
                )
            })
            .await?;
        if voters == [id] {
            // A lone voter need not wait out an election timeout after a restart.
            raft.trigger().elect().await?;
            self.wait_leader_and_applied().await?;
            self.refresh_own_address().await;
            return Ok(());
        }
        if voters.contains(&id) {
            if !self.wait_for_leader(START_TIMEOUT).await {
                tracing::warn!(
                    node_id = id,
                    "no raft leader yet; serving reads from local state until a quorum forms"
                );
            }
            return Ok(());
        }
        match join {
            // Pristine, a learner whose promotion was cut short, or a removed member: (re)join.
            // Its log holds only committed entries of that cluster, so catching up is safe.
            Some(peer) => {
                self.net()?;
                self.spawn_join(peer.to_owned());
                Ok(())
            }
            None if nodes.is_empty() => {
                self.init().await?;
                Ok(())
            }
            None => {
                tracing::warn!(
                    node_id = id,
                    "this node is not a voting member of its cluster; set CLUSTER_JOIN or run `tessera cluster join` to rejoin"
                );
                Ok(())
            }
        }
    }

    /// Waits (≤ 5 s) until a leader is known — this node in the Leader state, if it is the
    /// one named — and every local log entry is applied.
    pub(crate) async fn wait_leader_and_applied(&self) -> Result<(), ClusterError> {
        self.inner
            .raft
            .wait(Some(START_TIMEOUT))
            .metrics(
                // After a restart the metrics may name this node leader (from its saved vote)
                // before it has won the new term: require the Leader state too.
                |m| leader_ready(m) && m.last_applied.map(|l| l.index) >= m.last_log_index,
                "leader elected and log applied",
            )
            .await
            .map_err(|e| wait_error(e, "raft did not become ready"))?;
        Ok(())
    }

    /// Whether a leader became known within `timeout`.
    pub(crate) async fn wait_for_leader(&self, timeout: Duration) -> bool {
        self.inner
            .raft
            .wait(Some(timeout))
            .metrics(leader_ready, "leader known")
            .await
            .is_ok()
    }

    /// Initialises a one-member group with this node (at its advertised address) if the node is
    /// pristine, then waits (≤ 5 s) until it leads. Already initialised: nothing to do.
    pub async fn init(&self) -> Result<(), ClusterError> {
        let id = self.inner.node_id;
        let addr = self.advertise().unwrap_or_default().to_owned();
        let members = BTreeMap::from([(id, BasicNode { addr })]);
        match self.inner.raft.initialize(members).await {
            Ok(()) => tracing::info!(node_id = id, "initialised a one-member raft group"),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                tracing::info!(node_id = id, "raft group already initialised");
                return Ok(());
            }
            Err(e) => return Err(ClusterError::Other(format!("raft initialise failed: {e}"))),
        }
        self.wait_leader_and_applied().await
    }

    /// Returns once the command is committed and applied on this node. A follower forwards it
    /// to the leader over the internal listener and then waits until it has applied the
    /// returned log index itself. `Unavailable` when there is no leader or no quorum within
    /// 5 s (the command may still commit later).
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse, ClusterError> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let resp = self.leader_call(&cmd, None, deadline).await?;
        self.wait_applied_until(resp.log_index, deadline).await?;
        Ok(resp)
    }

    /// Waits until this node has applied `index`, at the latest until `deadline`.
    pub(crate) async fn wait_applied_until(
        &self,
        index: u64,
        deadline: Instant,
    ) -> Result<(), ClusterError> {
        let mut rx = self.subscribe();
        match tokio::time::timeout_at(deadline, rx.wait_for(|applied| *applied >= index)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ClusterError::Unavailable("raft stopped".into())),
            Err(_) => Err(ClusterError::Unavailable(format!(
                "log index {index} committed but not yet applied on this node"
            ))),
        }
    }

    /// All keys, any state, ordered by `created_at`. No await, no raft round-trip.
    pub fn keys(&self) -> Arc<Vec<KeyRecord>> {
        self.inner.state.keys()
    }

    /// True while the revocation entry exists (the caller also checks the token's `exp`).
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.inner.state.is_revoked(jti)
    }

    pub fn revocation_count(&self) -> usize {
        self.inner.state.revocation_count()
    }

    /// A watch bumped after every apply or snapshot install; the value is the last applied
    /// log index.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.state.subscribe()
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// The internal listener's bound address (None without `bind`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.net.as_ref().map(|n| n.local_addr)
    }

    /// The address peers use to reach this node (None without `bind`).
    pub fn advertise(&self) -> Option<&str> {
        self.inner.net.as_ref().map(|n| n.advertise.as_str())
    }

    pub(crate) fn net(&self) -> Result<&Net, ClusterError> {
        self.inner.net.as_ref().ok_or(ClusterError::NotNetworked)
    }

    /// Builds a snapshot of the state machine now (persisted to `snapshot.json`) and waits for
    /// it; returns the log index it covers. Raft also snapshots by itself every 1000 entries.
    pub async fn snapshot(&self) -> Result<u64, ClusterError> {
        let raft = &self.inner.raft;
        let want = raft.metrics().borrow().last_applied.map_or(0, |l| l.index);
        raft.trigger().snapshot().await?;
        let m = raft
            .wait(Some(WRITE_TIMEOUT))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= want),
                "snapshot built",
            )
            .await
            .map_err(|e| wait_error(e, "snapshot not built"))?;
        Ok(m.snapshot.map_or(want, |s| s.index))
    }

    /// The underlying openraft node, for the inbound raft RPC listener and admin tools.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Stops the background join, the internal listener and raft, and waits for them; the
    /// store is closed (directory lock and port released) once this returns. Idempotent.
    pub async fn shutdown(&self) -> Result<(), ClusterError> {
        if let Some(task) = self
            .inner
            .join_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        let server = self.lock_server().take();
        if let Some(server) = server {
            server.stop(true).await;
        }
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| ClusterError::Other(format!("raft shutdown failed: {e}")))
    }
}

/// A leader is known; if it is this node, it is in the Leader state.
fn leader_ready(m: &openraft::RaftMetrics<NodeId, BasicNode>) -> bool {
    match m.current_leader {
        Some(leader) if leader == m.id => m.state == ServerState::Leader,
        Some(_) => true,
        None => false,
    }
}
