//! The crate's error type, and its mapping from openraft and I/O errors.

use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::{BasicNode, StorageError};

use crate::types::NodeId;

/// Errors surfaced by [`crate::Cluster`].
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No leader or no quorum (or raft stopped): the caller should retry later (HTTP 503).
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The durable raft store failed (I/O, corruption).
    #[error("cluster storage error: {0}")]
    Storage(String),
    /// A peer refused our signature (wrong or missing `CLUSTER_SECRET`, or clocks > 5 min apart).
    #[error("cluster peer refused authentication: {0}")]
    Unauthorized(String),
    /// The request can never succeed as asked (e.g. joining while leading another cluster,
    /// removing an unknown node or the last voter, a node id already in use).
    #[error("cluster request rejected: {0}")]
    Rejected(String),
    /// Multi-node operation on a node started without a cluster listener (`CLUSTER_BIND`).
    #[error("no cluster listener configured (set CLUSTER_BIND and CLUSTER_SECRET)")]
    NotNetworked,
    #[error("cluster error: {0}")]
    Other(String),
}

impl From<std::io::Error> for ClusterError {
    fn from(e: std::io::Error) -> Self {
        ClusterError::Storage(e.to_string())
    }
}

impl From<StorageError<NodeId>> for ClusterError {
    fn from(e: StorageError<NodeId>) -> Self {
        ClusterError::Storage(e.to_string())
    }
}

impl From<Fatal<NodeId>> for ClusterError {
    fn from(e: Fatal<NodeId>) -> Self {
        match e {
            Fatal::StorageError(e) => ClusterError::Storage(e.to_string()),
            Fatal::Stopped => ClusterError::Unavailable("raft stopped".into()),
            Fatal::Panicked => ClusterError::Other("raft core panicked".into()),
        }
    }
}

impl From<RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>> for ClusterError {
    fn from(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                ClusterError::Unavailable(match f.leader_id {
                    Some(id) => format!("this node is not the leader (leader is node {id})"),
                    None => "no leader".into(),
                })
            }
            RaftError::APIError(e) => ClusterError::Other(e.to_string()),
            RaftError::Fatal(f) => f.into(),
        }
    }
}
