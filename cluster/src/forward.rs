//! Leader-only operations and how any node reaches the leader with them.
//!
//! A [`LeaderOp`] runs on the leader (`run`); anywhere else `run` answers `NotLeader` with the
//! leader's address when known. [`Cluster::leader_call`] tries locally (or at a given peer),
//! follows `NotLeader` to the named leader over the internal listener, and retries — while
//! nothing can have been committed — until the deadline: no leader, leader unreachable, or a
//! leader change in between.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::api::{self, AddLearner, AdminError, AdminReply, MembershipChange};
use crate::error::ClusterError;
use crate::handle::Cluster;
use crate::peers::TransportError;
use crate::types::{Command, CommandResponse, NodeId};

/// Pause between attempts while no leader is known or reachable.
const RETRY_DELAY: Duration = Duration::from_millis(100);
/// Redirects followed back to back before pausing (guards against stale leader pointers).
const MAX_HOPS: u32 = 3;
/// How long removal waits for a demoted voter to hear of its demotion.
const DEMOTE_WAIT: Duration = Duration::from_secs(2);

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An operation that must run on the leader.
pub(crate) trait LeaderOp: Serialize + Sync {
    /// The admin path that runs it on a remote leader.
    const PATH: &'static str;
    type Reply: Serialize + DeserializeOwned + Send;
    fn run<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, AdminReply<Self::Reply>>;
}

impl LeaderOp for Command {
    const PATH: &'static str = api::FORWARD_PROPOSE;
    type Reply = CommandResponse;
    fn run<'a>(&'a self, c: &'a Cluster) -> BoxFuture<'a, AdminReply<CommandResponse>> {
        Box::pin(async move {
            c.inner
                .raft
                .client_write(self.clone())
                .await
                .map(|r| r.data)
                .map_err(write_error)
        })
    }
}

impl LeaderOp for AddLearner {
    const PATH: &'static str = api::ADD_LEARNER;
    type Reply = u64;
    fn run<'a>(&'a self, c: &'a Cluster) -> BoxFuture<'a, AdminReply<u64>> {
        Box::pin(c.add_learner_on_leader(self))
    }
}

impl LeaderOp for MembershipChange {
    const PATH: &'static str = api::CHANGE_MEMBERSHIP;
    type Reply = u64;
    fn run<'a>(&'a self, c: &'a Cluster) -> BoxFuture<'a, AdminReply<u64>> {
        Box::pin(c.change_on_leader(self))
    }
}

/// Maps a failed leader write to the wire error.
pub(crate) fn write_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> AdminError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => AdminError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        // Another membership change is still committing (e.g. two nodes joining at once).
        RaftError::APIError(ClientWriteError::ChangeMembershipError(
            e @ ChangeMembershipError::InProgress(_),
        )) => AdminError::Unavailable(e.to_string()),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            AdminError::Rejected(e.to_string())
        }
        RaftError::Fatal(f) => AdminError::Unavailable(f.to_string()),
    }
}

/// The membership as the leader sees it, or `NotLeader`.
struct LeaderView {
    voters: BTreeSet<NodeId>,
    nodes: std::collections::BTreeMap<NodeId, String>,
    log_index: u64,
}

impl Cluster {
    fn leader_view(&self) -> AdminReply<LeaderView> {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        if m.current_leader != Some(m.id) || m.state != openraft::ServerState::Leader {
            return Err(AdminError::NotLeader {
                leader_id: m.current_leader,
                leader_addr: m
                    .current_leader
                    .and_then(|l| membership.get_node(&l))
                    .map(|n| n.addr.clone()),
            });
        }
        Ok(LeaderView {
            voters: membership.voter_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect(),
            log_index: m.membership_config.log_id().map_or(0, |l| l.index),
        })
    }

    /// Adds a learner; returns the index of the membership entry that holds it. Re-adding the
    /// same id at the same address changes nothing (a join resumed after a restart).
    async fn add_learner_on_leader(&self, req: &AddLearner) -> AdminReply<u64> {
        let view = self.leader_view()?;
        if let Some(addr) = view.nodes.get(&req.node_id) {
            return if *addr == req.addr {
                Ok(view.log_index)
            } else {
                Err(AdminError::Rejected(format!(
                    "node id {} is already in use by {addr}",
                    req.node_id
                )))
            };
        }
        if let Some((id, _)) = view.nodes.iter().find(|(_, a)| **a == req.addr) {
            return Err(AdminError::Rejected(format!(
                "{} already belongs to node {id}; remove it first",
                req.addr
            )));
        }
        let node = BasicNode {
            addr: req.addr.clone(),
        };
        tracing::info!(node_id = req.node_id, addr = %req.addr, "adding learner");
        self.inner
            .raft
            .add_learner(req.node_id, node, false)
            .await
            .map(|r| r.log_id.index)
            .map_err(write_error)
    }

    /// Promotes a learner or removes a member; returns the index of the resulting membership.
    async fn change_on_leader(&self, change: &MembershipChange) -> AdminReply<u64> {
        let view = self.leader_view()?;
        let changes = match *change {
            MembershipChange::Promote(id) if view.voters.contains(&id) => {
                return Ok(view.log_index);
            }
            MembershipChange::Promote(id) if view.nodes.contains_key(&id) => {
                ChangeMembers::AddVoterIds(BTreeSet::from([id]))
            }
            // The leader's metrics can lag a just-committed add-learner by a moment: a joiner
            // retries, and a promote of a node never added times out as unavailable.
            MembershipChange::Promote(id) => {
                return Err(AdminError::Unavailable(format!(
                    "node {id} is not (yet) a learner: add it first"
                )));
            }
            MembershipChange::Remove(id) if view.voters.contains(&id) => {
                if view.voters.len() == 1 {
                    return Err(AdminError::Rejected(format!("node {id} is the last voter")));
                }
                // Demote first, so the node learns it no longer votes (a removed node never
                // hears of the config that drops it, and would otherwise keep campaigning).
                self.demote(id).await?;
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            }
            MembershipChange::Remove(id) if view.nodes.contains_key(&id) => {
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            }
            MembershipChange::Remove(id) => {
                return Err(AdminError::Rejected(format!("node {id} is not a member")));
            }
        };
        tracing::info!(?change, "changing raft membership");
        self.inner
            .raft
            .change_membership(changes, false)
            .await
            .map(|r| r.log_id.index)
            .map_err(write_error)
    }

    /// Voter → learner; waits (≤ 2 s, best effort: it may be down) until the node holds that
    /// config.
    async fn demote(&self, id: NodeId) -> AdminReply<()> {
        tracing::info!(node_id = id, "demoting voter to learner");
        let index = self
            .inner
            .raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), true)
            .await
            .map_err(write_error)?
            .log_id
            .index;
        let replicated = |m: &openraft::RaftMetrics<NodeId, BasicNode>| {
            let matched = m.replication.as_ref().and_then(|r| r.get(&id).copied());
            matched.flatten().is_some_and(|l| l.index >= index)
        };
        let _ = self
            .inner
            .raft
            .wait(Some(DEMOTE_WAIT))
            .metrics(replicated, "demoted node holds its new config")
            .await;
        Ok(())
    }

    /// Runs `op` on the leader: locally when `start` is None, else first at the peer `start`;
    /// follows `NotLeader` redirects and retries until `deadline` while no leader is known or
    /// reachable. A sent request that got no reply is not retried (it may have committed).
    pub(crate) async fn leader_call<Op: LeaderOp>(
        &self,
        op: &Op,
        start: Option<&str>,
        deadline: Instant,
    ) -> Result<Op::Reply, ClusterError> {
        let mut target = start.map(str::to_owned);
        let mut hops = 0;
        let mut last = String::from("no leader known");
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClusterError::Unavailable(format!(
                    "no leader could take {} within the deadline: {last}",
                    Op::PATH
                )));
            }
            let reply = match &target {
                None => tokio::time::timeout(remaining, op.run(self))
                    .await
                    .unwrap_or_else(|_| {
                        Err(AdminError::Unavailable(
                            "not committed in time (no quorum?)".into(),
                        ))
                    }),
                Some(addr) => {
                    let peers = &self.net()?.peers;
                    match peers
                        .post::<Op, AdminReply<Op::Reply>>(addr, Op::PATH, op, remaining)
                        .await
                    {
                        Ok(reply) => reply,
                        Err(e @ TransportError::Connect { .. }) => {
                            Err(AdminError::Unavailable(e.to_string()))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            match reply {
                Ok(reply) => return Ok(reply),
                Err(AdminError::NotLeader {
                    leader_addr: Some(addr),
                    ..
                }) if !addr.is_empty() && target.as_deref() != Some(&addr) && hops < MAX_HOPS => {
                    hops += 1;
                    target = Some(addr);
                    continue;
                }
                Err(e @ (AdminError::NotLeader { .. } | AdminError::Unavailable(_))) => {
                    last = e.to_string();
                    target = start.map(str::to_owned);
                }
                Err(e) => return Err(e.into()),
            }
            hops = 0;
            tokio::time::sleep(RETRY_DELAY.min(remaining)).await;
        }
    }
}
