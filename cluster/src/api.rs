//! The internal listener's wire format: paths, request bodies and replies, shared by the server
//! side (`listener`) and the client side (`peers`, [`crate::AdminClient`]).
//!
//! Every request is a signed JSON `POST` (see `auth`). Raft RPCs reply `Result<T, RaftError>`
//! as openraft defines it; admin calls reply `Result<T, AdminError>`. Transport-level refusals
//! use HTTP statuses: 401 bad or missing signature, 400 unreadable body.

use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::types::NodeId;

pub(crate) const RAFT_APPEND: &str = "/raft/append";
pub(crate) const RAFT_VOTE: &str = "/raft/vote";
pub(crate) const RAFT_SNAPSHOT: &str = "/raft/snapshot";

/// Leader-only: add a node as a learner (replication starts at once).
pub(crate) const ADD_LEARNER: &str = "/admin/add-learner";
/// Leader-only: promote a learner to voter, or remove a member.
pub(crate) const CHANGE_MEMBERSHIP: &str = "/admin/change-membership";
/// Leader-only: commit a command proposed on a follower.
pub(crate) const FORWARD_PROPOSE: &str = "/admin/forward-propose";
/// The receiving node's status (with the leader's replication lag).
pub(crate) const STATUS: &str = "/admin/status";
/// Local: initialise a one-member group with the receiving node.
pub(crate) const INIT: &str = "/admin/init";
/// Local: make the receiving node join the cluster of `peer`.
pub(crate) const JOIN: &str = "/admin/join";
/// Local: remove a member (the receiving node asks the leader).
pub(crate) const REMOVE: &str = "/admin/remove";

/// Body of [`ADD_LEARNER`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AddLearner {
    pub node_id: NodeId,
    /// The learner's cluster address (`host:port`).
    pub addr: String,
}

/// Body of [`CHANGE_MEMBERSHIP`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum MembershipChange {
    /// Learner → voter. A node that already votes is left as it is.
    Promote(NodeId),
    /// Voter or learner → gone.
    Remove(NodeId),
}

/// Body of [`JOIN`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Join {
    pub peer: String,
}

/// Body of [`REMOVE`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Remove {
    pub node_id: NodeId,
}

/// Body of [`STATUS`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StatusQuery {
    /// Fill in the replication lag from the leader when the receiving node is a follower.
    #[serde(default)]
    pub with_leader_lag: bool,
}

/// Body of requests without parameters ([`INIT`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Empty {}

/// Why an admin call failed on the node that handled it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// This node is not the leader; retry on `leader_addr` when known.
    #[error("not the leader (leader: {leader_id:?} at {leader_addr:?})")]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// No quorum, timed out, or shutting down: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request can never succeed as asked (unknown node, id clash, last voter, …).
    #[error("rejected: {0}")]
    Rejected(String),
}

impl From<AdminError> for ClusterError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotLeader { .. } => ClusterError::Unavailable(e.to_string()),
            AdminError::Unavailable(m) => ClusterError::Unavailable(m),
            AdminError::Rejected(m) => ClusterError::Rejected(m),
        }
    }
}

impl From<ClusterError> for AdminError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Rejected(m) => AdminError::Rejected(m),
            e @ (ClusterError::Unauthorized(_) | ClusterError::NotNetworked) => {
                AdminError::Rejected(e.to_string())
            }
            other => AdminError::Unavailable(other.to_string()),
        }
    }
}

/// An admin call's reply.
pub(crate) type AdminReply<T> = Result<T, AdminError>;
