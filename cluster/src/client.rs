//! [`AdminClient`]: what `tessera cluster …` uses to talk to a node's internal listener.

use std::time::Duration;

use serde::Serialize;

use crate::api::{self, AdminReply, Empty, Join, Remove, StatusQuery};
use crate::error::ClusterError;
use crate::peers::Peers;
use crate::types::{ClusterStatus, NodeId};

/// A join may wait for a learner to catch up (and a leader to commit twice).
const JOIN_TIMEOUT: Duration = Duration::from_secs(90);
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Signed admin calls to one node's cluster listener.
pub struct AdminClient {
    addr: String,
    peers: Peers,
}

impl AdminClient {
    /// `addr` is the node's cluster address (`host:port`), `secret` the shared `CLUSTER_SECRET`.
    pub fn new(addr: impl Into<String>, secret: &str) -> AdminClient {
        AdminClient {
            addr: addr.into(),
            peers: Peers::new(secret),
        }
    }

    async fn call<Req: Serialize>(
        &self,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<ClusterStatus, ClusterError> {
        let reply: AdminReply<ClusterStatus> =
            self.peers.post(&self.addr, path, req, timeout).await?;
        Ok(reply?)
    }

    /// The node's status, with the replication lag per member from the leader.
    pub async fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let q = StatusQuery {
            with_leader_lag: true,
        };
        self.call(api::STATUS, &q, CALL_TIMEOUT).await
    }

    /// Initialises a one-member group with the node (no-op if already initialised).
    pub async fn init(&self) -> Result<ClusterStatus, ClusterError> {
        self.call(api::INIT, &Empty {}, CALL_TIMEOUT).await
    }

    /// Makes the node join the cluster `peer` belongs to.
    pub async fn join(&self, peer: &str) -> Result<ClusterStatus, ClusterError> {
        let req = Join {
            peer: peer.to_owned(),
        };
        self.call(api::JOIN, &req, JOIN_TIMEOUT).await
    }

    /// Removes `node_id` from the cluster (through the leader).
    pub async fn remove(&self, node_id: NodeId) -> Result<ClusterStatus, ClusterError> {
        self.call(api::REMOVE, &Remove { node_id }, CALL_TIMEOUT)
            .await
    }
}
