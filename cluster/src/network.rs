//! Outbound raft RPC. [`HttpNetwork`] sends append-entries, vote and install-snapshot as signed
//! JSON to the peer's internal listener (its `BasicNode::addr`), reusing one keep-alive client
//! per peer. [`NoNetwork`] is the embedded one-member default (no `CLUSTER_BIND`): there is no
//! peer, so every RPC fails with `Unreachable`, which openraft treats as "back off, retry later".

use std::sync::Arc;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{RAFT_APPEND, RAFT_SNAPSHOT, RAFT_VOTE};
use crate::peers::{Peers, TransportError};
use crate::types::{NodeId, TypeConfig};

/// Why an RPC could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("raft networking is not implemented yet: node {0} is unreachable")]
pub struct NotConnected(NodeId);

/// Creates a `NoPeers` connection (every RPC fails `Unreachable`) for any target.
#[derive(Clone, Debug, Default)]
pub struct NoNetwork;

/// A connection to a peer that cannot be reached.
#[derive(Debug)]
pub struct NoPeers {
    target: NodeId,
}

impl NoPeers {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, E> {
        RPCError::Unreachable(Unreachable::new(&NotConnected(self.target)))
    }
}

impl RaftNetworkFactory<TypeConfig> for NoNetwork {
    type Network = NoPeers;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Self::Network {
        NoPeers { target }
    }
}

impl RaftNetwork<TypeConfig> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}

/// Creates an [`HttpPeer`] per replication target; all share the per-address client pool.
#[derive(Clone)]
pub struct HttpNetwork {
    peers: Arc<Peers>,
}

impl HttpNetwork {
    pub(crate) fn new(peers: Arc<Peers>) -> HttpNetwork {
        HttpNetwork { peers }
    }
}

/// The raft connection to one peer.
pub struct HttpPeer {
    peers: Arc<Peers>,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        HttpPeer {
            peers: self.peers.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl HttpPeer {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let reply: Result<Resp, RaftError<NodeId, E>> = self
            .peers
            .post(&self.addr, path, req, option.hard_ttl())
            .await
            .map_err(|e| match e {
                // Nothing was delivered: openraft backs off before retrying.
                TransportError::Connect { .. } | TransportError::Unauthorized { .. } => {
                    if let TransportError::Unauthorized { .. } = e {
                        tracing::warn!(target_node = self.target, error = %e, "raft peer refused our signature");
                    }
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                _ => RPCError::Network(NetworkError::new(&e)),
            })?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_APPEND, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(RAFT_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_VOTE, &rpc, &option).await
    }
}
