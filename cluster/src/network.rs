//! Outbound raft RPC. For now every Tessera node is a one-member raft group, so there is no
//! peer to talk to: every RPC fails with `Unreachable`, which openraft treats as "back off and
//! retry later". Multi-node clusters replace this with an HTTP client to the peers' internal
//! raft listener (authenticated); the rest of the crate does not change.

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

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
