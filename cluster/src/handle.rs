//! The `Cluster` handle: opens the durable store, starts raft (initialising a one-member group
//! on first start), proposes commands, and serves cheap local reads of the applied state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::metrics::WaitError;
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use tokio::sync::watch;

use crate::error::ClusterError;
use crate::fsutil::blocking;
use crate::log_store::LogStore;
use crate::network::NoNetwork;
use crate::state_machine::{Shared, StateMachine};
use crate::types::{ClusterStatus, Command, CommandResponse, KeyRecord, NodeId, TypeConfig};

/// How long `start` waits for leadership and a caught-up state machine.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `propose` (and `snapshot`) wait before reporting the cluster unavailable.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom this node runs.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    /// The raft directory, e.g. `data/raft`.
    pub data_dir: PathBuf,
}

/// A running raft node and the local view of its applied state. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    node_id: NodeId,
    raft: Raft<TypeConfig>,
    state: Arc<Shared>,
}

fn raft_config() -> Result<Config, ClusterError> {
    Config {
        cluster_name: "tessera".into(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
        max_in_snapshot_log_to_keep: 1000,
        purge_batch_size: 256,
        ..Default::default()
    }
    .validate()
    .map_err(|e| ClusterError::Other(format!("invalid raft config: {e}")))
}

fn wait_error(e: WaitError, what: &str) -> ClusterError {
    ClusterError::Unavailable(format!("{what}: {e}"))
}

impl Cluster {
    /// Opens (or creates) the durable store in `data_dir`, starts raft, and on first start
    /// initialises a one-member group with this node. Returns once the node is leader and has
    /// applied its whole log (waits up to 5 s), so reads are current.
    pub async fn start(cfg: ClusterConfig) -> Result<Cluster, ClusterError> {
        let dir = cfg.data_dir.clone();
        let (log_store, sm) =
            blocking(move || Ok((LogStore::open(&dir)?, StateMachine::open(&dir)?))).await?;
        let state = sm.shared();
        let raft = Raft::new(
            cfg.node_id,
            Arc::new(raft_config()?),
            NoNetwork,
            log_store,
            sm,
        )
        .await?;
        let cluster = Cluster {
            inner: Arc::new(Inner {
                node_id: cfg.node_id,
                raft,
                state,
            }),
        };
        if let Err(e) = cluster.bring_up().await {
            let _ = cluster.shutdown().await;
            return Err(e);
        }
        tracing::info!(node_id = cfg.node_id, dir = %cfg.data_dir.display(), "raft node ready");
        Ok(cluster)
    }

    /// Initialises the group if pristine, elects this node if it is the only voter, then waits
    /// until a leader is known and every log entry is applied.
    async fn bring_up(&self) -> Result<(), ClusterError> {
        let raft = &self.inner.raft;
        let id = self.inner.node_id;
        if raft.is_initialized().await? {
            let voters = raft
                .with_raft_state(|st| {
                    st.membership_state
                        .effective()
                        .voter_ids()
                        .collect::<Vec<_>>()
                })
                .await?;
            // A lone voter need not wait out an election timeout after a restart.
            if voters == [id] {
                raft.trigger().elect().await?;
            }
        } else {
            let members = BTreeMap::from([(id, BasicNode::default())]);
            match raft.initialize(members).await {
                Ok(()) => tracing::info!(node_id = id, "initialised a one-member raft group"),
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(ClusterError::Other(format!("raft initialise failed: {e}"))),
            }
        }
        raft.wait(Some(START_TIMEOUT))
            .metrics(
                // After a restart the metrics may name this node leader (from its saved vote)
                // before it has won the new term: require the Leader state too.
                |m| {
                    let leader_ready = match m.current_leader {
                        Some(leader) if leader == m.id => m.state == ServerState::Leader,
                        Some(_) => true,
                        None => false,
                    };
                    leader_ready && m.last_applied.map(|l| l.index) >= m.last_log_index
                },
                "leader elected and log applied",
            )
            .await
            .map_err(|e| wait_error(e, "raft did not become ready"))?;
        Ok(())
    }

    /// Returns once the command is committed and applied on this node. `Unavailable` when
    /// there is no leader or no quorum within 5 s (the command may still commit later).
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse, ClusterError> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.inner.raft.client_write(cmd)).await {
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ClusterError::Unavailable(format!(
                "command not committed within {} s (no quorum?)",
                WRITE_TIMEOUT.as_secs()
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

    /// The node's raft status, from its metrics — except `last_applied`, which is read from the
    /// state machine itself so it always matches what `keys()` / `is_revoked()` see (raft's
    /// metrics are published a moment after each apply).
    pub fn status(&self) -> ClusterStatus {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        ClusterStatus {
            node_id: m.id,
            leader: m.current_leader,
            term: m.current_term,
            last_applied: self.inner.state.last_applied(),
            members: m.membership_config.membership().voter_ids().collect(),
            state: format!("{:?}", m.state),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
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

    /// The underlying openraft node, for the future inbound raft RPC listener and admin tools.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Stops raft and waits for it; the store is closed (and its directory lock released) once
    /// this returns. Idempotent.
    pub async fn shutdown(&self) -> Result<(), ClusterError> {
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| ClusterError::Other(format!("raft shutdown failed: {e}")))
    }
}
